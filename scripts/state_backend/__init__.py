"""The stack's state backend as `make` sees it (docs/team.md): a local folder (``file://``) or a team's
PostgreSQL database (``postgres://``). ``backend_url`` reads and redacts the URL, ``locks`` names who holds a
stack's lock, ``database`` connects and sets a database up for a team, ``cli`` is `scripts/state-backend`."""
