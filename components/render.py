"""Render the repo's jinja2 templates (nginx site, systemd unit, hosts block).

Templates hold only guards, defaults and loops; every decision is made by the Python caller and
passed in as context. Rendering needs no Pulumi, so template tests import this module alone.
"""

from __future__ import annotations

import jinja2

from components.assets import asset_dir

TEMPLATES_DIR = asset_dir("templates")

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # noqa: S701 - renders config files, not HTML
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, **context: object) -> str:
    """Render ``templates/<name>`` with ``context`` and return the text.

    Any variable the template uses but ``context`` lacks raises ``jinja2.UndefinedError``, so a
    missing setting fails at render time instead of producing a half-empty config file. A name
    that is not a template raises ``jinja2.TemplateNotFound``.
    """
    return _ENV.get_template(name).render(**context)
