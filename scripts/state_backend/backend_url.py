"""A state backend URL as the engine reads it: which kind, its libpq connection string, a redacted form.

The engine opens ``postgres://`` URLs with Go's lib/pq, which differs from libpq (psycopg) in two ways this
module evens out, so that what we check is what the engine will see: its ``table`` parameter (the state's
table) is not a libpq parameter, and lib/pq's default ``sslmode`` is ``require`` where libpq's is ``prefer``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_TABLE = "pulumi_state"  # the engine's, when the URL names none
LIB_PQ_DEFAULT_SSLMODE = "require"
# A PostgreSQL identifier we create or name: lower case, as `CREATE ROLE x` folds it; no quoting needed.
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Go's url.Parse refuses control characters, Python's urlsplit drops some (a newline): refused here first.
UNSAFE = re.compile(r"[\x00-\x20\x7f]")
TABLE_NAME = re.compile(r"(?:[a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}")


class BackendError(ValueError):
    """A backend URL or database that cannot be used: one line, saying which and why."""


@dataclass(frozen=True)
class Backend:
    url: str

    def __post_init__(self) -> None:
        if UNSAFE.search(self.url):
            raise BackendError("PULUMI_BACKEND_URL: holds a space or control character (a newline?): not a URL")

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def is_postgres(self) -> bool:
        return self.scheme in ("postgres", "postgresql")

    @property
    def folder(self) -> Path | None:
        """A ``file://`` backend's folder."""
        if self.scheme != "file":
            return None
        return Path(self.url.removeprefix("file://").split("?", 1)[0]).expanduser()

    @property
    def table(self) -> str:
        table = dict(parse_qsl(urlsplit(self.url).query)).get("table") or DEFAULT_TABLE
        if not TABLE_NAME.fullmatch(table):
            raise BackendError(f"PULUMI_BACKEND_URL: table {table!r} is not a plain table name ([schema.]name)")
        return table

    @property
    def key_prefix(self) -> str:
        """What the engine puts before every key in a bucket or database: the URL's path (a database's name)."""
        path = urlsplit(self.url).path.strip("/")
        return f"{path}/" if path and not self.folder else ""

    def conninfo(self, connect_timeout: int) -> str:
        """The URL for libpq: without ``table``, with lib/pq's default sslmode, a connect timeout."""
        parts = urlsplit(self.url)
        params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "table"]
        keys = {k for k, _ in params}
        if "sslmode" not in keys:
            params.append(("sslmode", LIB_PQ_DEFAULT_SSLMODE))
        if "connect_timeout" not in keys:
            params.append(("connect_timeout", str(connect_timeout)))
        return urlunsplit(parts._replace(scheme="postgresql", query=urlencode(params)))

    def redacted(self) -> str:
        """The URL without its password (and without any query): safe for a log line."""
        parts = urlsplit(self.url)
        if not self.is_postgres:
            return urlunsplit(parts._replace(query=""))
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
        if parts.username:
            netloc = f"{parts.username}@{netloc}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
