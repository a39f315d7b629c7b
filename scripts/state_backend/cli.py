"""`scripts/state-backend`: what `make` asks of the state backend before the engine runs (docs/team.md).

    state-backend check --stack S [--write | --recover]   reachable, table there, role may write, lock free
    state-backend move --stack S --to URL                    the stack's state to another backend, checked
    state-backend team-db ADMIN_URL [--writer-password-file F] [--reader-password-file F] [names...]

``check`` reads PULUMI_BACKEND_URL (as the Makefile sets it). A failure is ONE line on stderr and exit 1,
before the engine or any host is touched.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from state_backend.backend_url import Backend, BackendError
from state_backend.locks import Lock, file_locks

REPO = Path(__file__).resolve().parents[2]


def project_name(folder: Path) -> str:
    return str(yaml.safe_load((folder / "Pulumi.yaml").read_text())["name"])


def lock_line(stack: str, locks: list[Lock]) -> str:
    holders = "; ".join(lock.holder() for lock in locks)
    return (
        f"stack {stack} is locked by {holders}: another up, refresh or destroy of it is running; wait for it to "
        "end, or, if that run is gone (killed, its machine off), run `make recover`"
    )


def check(backend: Backend, project: str, stack: str, write: bool, recover: bool) -> list[str]:
    """What `make` says before it runs the engine: nothing, or the one line that stops it. Info lines for
    `make recover` (whose lock it clears) go to stderr too, prefixed so."""
    if backend.is_postgres:
        from state_backend.database import check_table, connected, stack_locks

        with connected(backend) as connection:
            check_table(connection, backend, write=write or recover)
            locks = stack_locks(connection, backend, project, stack) if write or recover else []
    elif backend.folder is not None:
        locks = file_locks(backend, project, stack) if write or recover else []
    else:
        return []  # s3://, Pulumi Cloud…: the engine's own messages
    if recover:
        if alive := [lock for lock in locks if lock.alive_here()]:
            raise BackendError(
                f"stack {stack}: its lock's run is still going here ({'; '.join(lock.holder() for lock in alive)}): "
                "let it end or stop it, then run `make recover`"
            )
        return [f"clearing the lock of {lock.holder()}" for lock in locks]
    if locks:
        raise BackendError(lock_line(stack, locks))
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="state-backend", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check", help="reachable, writable when it must be, the stack's lock free")
    checking.add_argument("--stack", required=True)
    checking.add_argument("--write", action="store_true", help="an up, refresh or destroy follows")
    checking.add_argument("--recover", action="store_true", help="make recover follows: the lock is to be cleared")
    moving = commands.add_parser("move", help="move the stack's state to another backend (TO), nothing deleted")
    moving.add_argument("--stack", required=True)
    moving.add_argument("--to", required=True, help="the target backend's URL")
    moving.add_argument("--project-dir", type=Path, default=REPO)
    team = commands.add_parser("team-db", help="make or mend a team's state database, its roles and grants")
    team.add_argument("admin_url", help="postgres://… of a role that may create roles and databases")
    for setting, default in (
        ("database", "wayshub_state"),
        ("owner", "wayshub_state_owner"),
        ("writer", "wayshub_deploy"),
        ("reader", "wayshub_preview"),
    ):
        team.add_argument(f"--{setting}", default=default)
    team.add_argument("--writer-password-file", type=Path)
    team.add_argument("--reader-password-file", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            backend = Backend(os.environ.get("PULUMI_BACKEND_URL") or "")
            for line in check(backend, project_name(REPO), args.stack, args.write, args.recover):
                print(f"state-backend: {line}", file=sys.stderr)
            return 0
        if args.command == "move":
            from state_backend.move import move

            source = os.environ.get("PULUMI_BACKEND_URL") or ""
            check(Backend(source), project_name(args.project_dir), args.stack, write=True, recover=False)
            for line in move(args.stack, source, args.to, args.project_dir):
                print(line)
            return 0
        from state_backend.database import TeamDatabase, setup

        names = TeamDatabase(database=args.database, owner=args.owner, writer=args.writer, reader=args.reader)
        passwords = {
            role: path
            for role, path in ((names.writer, args.writer_password_file), (names.reader, args.reader_password_file))
            if path is not None
        }
        admin = Backend(args.admin_url)
        for line in setup(admin, names, passwords):
            print(line)
        print(f"deploy URL:  {role_url(admin, names.writer, names.database)}")
        print(f"preview URL: {role_url(admin, names.reader, names.database)}")
        return 0
    except BackendError as error:
        print(f"state-backend: {error}", file=sys.stderr)
        return 1


def role_url(admin: Backend, role: str, database: str) -> str:
    """The admin's URL with another role and database, no password, its TLS settings kept (``table`` off)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(admin.url)
    host = parts.hostname or ""
    netloc = f"{role}@{f'[{host}]' if ':' in host else host}{f':{parts.port}' if parts.port else ''}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in ("table", "password")])
    return urlunsplit((parts.scheme, netloc, f"/{database}", query, ""))
