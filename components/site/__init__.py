"""The whole site, the top floor: the stack's checked settings and secrets in (``inputs``), then the steps
that put the layers together — servers, each site's app on its app servers, nginx in front (``servers``, or
``containers``), the domain pointed at the LB (``domain``) — and what proves it out (``outputs``).
``program.main`` runs them in that order; ``__main__.py`` is just that call."""
