"""A team's state database on PostgreSQL (psycopg): reach it, read a stack's locks, set one up.

Every failure is a ``BackendError`` of one line that names the backend (its password never shown).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from state_backend.backend_url import IDENTIFIER, Backend, BackendError
from state_backend.locks import Lock, decode_row, lock_prefix

CONNECT_TIMEOUT_SECONDS = 10
# What each role may do with the state table; the owner (a role nobody logs in as) holds the rest.
WRITER_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
READER_PRIVILEGES = ("SELECT",)


def first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


@contextmanager
def connected(backend: Backend, timeout: int = CONNECT_TIMEOUT_SECONDS) -> Iterator[psycopg.Connection]:
    try:
        connection = psycopg.connect(backend.conninfo(timeout), autocommit=True)
    except psycopg.Error as error:
        raise BackendError(f"state backend {backend.redacted()}: cannot connect: {first_line(error)}") from error
    with connection:
        yield connection


def table_identifier(table: str) -> sql.Identifier:
    return sql.Identifier(*table.split("."))


def check_table(connection: psycopg.Connection, backend: Backend, write: bool) -> None:
    """The state table exists, and this role may write it when ``write`` (an up, refresh or destroy)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)::text, current_user", (backend.table,))
        found, role = cursor.fetchone() or (None, "?")
        if found is None:
            raise BackendError(
                f"state backend {backend.redacted()}: no table {backend.table}: set the database up first "
                "(make team-db, docs/team.md)"
            )
        cursor.execute(
            "SELECT has_table_privilege(%s, 'SELECT'), has_table_privilege(%s, 'INSERT')",
            (backend.table, backend.table),
        )
        may_read, may_write = cursor.fetchone() or (False, False)
    if not may_read:
        raise BackendError(f"state backend {backend.redacted()}: role {role} may not read table {backend.table}")
    if write and not may_write:
        raise BackendError(
            f"state backend {backend.redacted()}: role {role} may only read the state (a preview role): "
            "up, refresh, destroy and recover need the deploy role's URL (docs/team.md)"
        )


def stack_locks(connection: psycopg.Connection, backend: Backend, project: str, stack: str) -> list[Lock]:
    prefix = backend.key_prefix + lock_prefix(project, stack)
    query = sql.SQL("SELECT key, data::text FROM {} WHERE key LIKE %s ORDER BY key").format(
        table_identifier(backend.table)
    )
    with connection.cursor() as cursor:
        cursor.execute(query, (prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%",))
        return [decode_row(key, data) for key, data in cursor.fetchall()]


@dataclass(frozen=True)
class TeamDatabase:
    """A database for one team's state: its owner role (no login) owns the table; the deploy role reads and
    writes rows, never DDL; the preview role only reads."""

    database: str = "wayshub_state"
    owner: str = "wayshub_state_owner"
    writer: str = "wayshub_deploy"
    reader: str = "wayshub_preview"
    table: str = "pulumi_state"

    def __post_init__(self) -> None:
        for setting in ("database", "owner", "writer", "reader", "table"):
            value = getattr(self, setting)
            if not IDENTIFIER.fullmatch(value):
                raise BackendError(f"{setting}: {value!r} is not a plain lower-case PostgreSQL name ([a-z_][a-z0-9_]*)")
        if len({self.owner, self.writer, self.reader}) != 3:
            raise BackendError("owner, writer and reader: must be three different roles")


def setup(admin: Backend, team: TeamDatabase, passwords: dict[str, Path]) -> list[str]:
    """Make (or mend) the team's database, roles, table and grants as the admin role; set the passwords
    read from ``passwords`` (role -> file), hashed here (SCRAM) so no server log sees them. Returns what
    changed, one line each. Running it again changes nothing but passwords."""
    done: list[str] = []
    with connected(admin) as connection:
        for role, login in ((team.owner, False), (team.writer, True), (team.reader, True)):
            if not _exists(connection, "SELECT 1 FROM pg_roles WHERE rolname = %s", role):
                option = sql.SQL("LOGIN" if login else "NOLOGIN")
                connection.execute(sql.SQL("CREATE ROLE {} {}").format(sql.Identifier(role), option))
                done.append(f"role {role} created ({'login' if login else 'no login'})")
        for role, path in passwords.items():
            secret = path.read_text().rstrip("\n")
            if not secret or "\n" in secret:
                raise BackendError(f"password file {path}: must hold one line")
            hashed = connection.pgconn.encrypt_password(secret.encode(), role.encode(), b"scram-sha-256")
            connection.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(hashed.decode()))
            )
            done.append(f"role {role}: password set from {path}")
        if not _exists(connection, "SELECT 1 FROM pg_database WHERE datname = %s", team.database):
            connection.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(team.database), sql.Identifier(team.owner))
            )
            done.append(f"database {team.database} created")
        roles = sql.SQL(", ").join([sql.Identifier(team.writer), sql.Identifier(team.reader)])
        connection.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(team.database)))
        connection.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(team.database), roles))
    in_database = Backend(_with_database(admin.url, team.database))
    with connected(in_database) as connection:
        table = sql.Identifier(team.table)
        connection.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        connection.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(roles))
        if not _exists(connection, "SELECT 1 WHERE to_regclass(%s) IS NOT NULL", f"public.{team.table}"):
            # The columns the engine's PostgreSQL backend reads and writes (key, data as JSON, updated_at).
            connection.execute(
                sql.SQL(
                    "CREATE TABLE public.{} (key text PRIMARY KEY, data json NOT NULL,"
                    " updated_at timestamptz NOT NULL DEFAULT now())"
                ).format(table)
            )
            connection.execute(
                sql.SQL("CREATE INDEX {} ON public.{} (key text_pattern_ops)").format(
                    sql.Identifier(f"{team.table}_key_prefix_idx"), table
                )
            )
            done.append(f"table {team.table} created")
        connection.execute(sql.SQL("ALTER TABLE public.{} OWNER TO {}").format(table, sql.Identifier(team.owner)))
        connection.execute(sql.SQL("REVOKE ALL ON public.{} FROM PUBLIC").format(table))
        for role, privileges in ((team.writer, WRITER_PRIVILEGES), (team.reader, READER_PRIVILEGES)):
            connection.execute(sql.SQL("REVOKE ALL ON public.{} FROM {}").format(table, sql.Identifier(role)))
            connection.execute(
                sql.SQL("GRANT {} ON public.{} TO {}").format(
                    sql.SQL(", ").join(sql.SQL(p) for p in privileges), table, sql.Identifier(role)
                )
            )
    return done


def _exists(connection: psycopg.Connection, query: str, value: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(query, (value,))
        return cursor.fetchone() is not None


def _with_database(url: str, database: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))
