"""A throwaway PostgreSQL cluster for the team-state tests: Debian's server programs (scripts/ensure-postgres),
TLS with a CA made here, password (SCRAM) logins over TCP on 127.0.0.1 only, no plain-text connections.

As root the cluster runs as ``nobody`` (PostgreSQL refuses root), in a folder of its own under /tmp; as any
other user, as that user. It is stopped with ``pg_ctl stop`` (its own postmaster.pid): nothing else is killed.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from tests.e2e.pebble import api_certificate
from tests.e2e.pulumi_cli import REPO

NOBODY = pwd.getpwnam("nobody").pw_uid  # the cluster's user when we are root (PostgreSQL refuses root)
NOGROUP = pwd.getpwnam("nobody").pw_gid
SUPERUSER = "postgres"


@dataclass
class Postgres:
    bindir: Path
    root: Path
    port: int
    password: str  # the superuser's

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOGROUP}", "--clear-groups"] if os.getuid() == 0 else []
        return subprocess.run(
            [*prefix, *argv], capture_output=True, text=True, check=check, env={**os.environ, "HOME": str(self.root)}
        )

    def start(self) -> None:
        self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def url(self, role: str, database: str, password: str | None = None, port: int | None = None, **extra: str) -> str:
        """A ``postgres://`` URL over TLS that checks the server's certificate against our CA."""
        secret = f":{quote(password, safe='')}" if password else ""
        query = urlencode({"sslmode": "verify-full", "sslrootcert": str(self.ca), **extra})
        return f"postgres://{role}{secret}@127.0.0.1:{port or self.port}/{database}?{query}"

    def admin_url(self, database: str = "postgres") -> str:
        return self.url(SUPERUSER, database, self.password)

    def log(self) -> str:
        try:
            return (self.root / "log").read_text()[-4000:]
        except OSError:
            return ""


def write_tls(root: Path) -> None:
    """A throwaway CA (ca.pem) and the server's certificate for 127.0.0.1 and localhost, signed by it (the
    same pair Pebble's API gets: tests/e2e/pebble.py)."""
    ca, certificate, key = api_certificate()
    (root / "ca.pem").write_text(ca)
    (root / "server.crt").write_text(certificate)
    key_file = root / "server.key"
    key_file.write_text(key)
    key_file.chmod(0o600)


@contextmanager
def postgres_server(port: int) -> Iterator[Postgres]:
    bindir = Path(
        subprocess.run(
            [str(REPO / "scripts" / "ensure-postgres")], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    root = Path(tempfile.mkdtemp(prefix="wayshub-e2e-postgres."))
    root.chmod(0o755)
    server = Postgres(bindir, root, port, secrets.token_urlsafe(18))
    try:
        write_tls(root)
        (root / "pw").write_text(server.password + "\n")
        if os.getuid() == 0:
            for path in (root, root / "server.key", root / "server.crt", root / "pw"):
                os.chown(path, NOBODY, NOGROUP)
        server.run(
            str(bindir / "initdb"), "-D", str(server.data), "-U", SUPERUSER, f"--pwfile={root / 'pw'}",
            "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-instructions",
        )  # fmt: skip
        (root / "pw").unlink()
        # TLS only: no `host` line, so a connection without TLS is refused.
        hba = "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
        conf = (
            f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{root}'\n"
            f"ssl = on\nssl_cert_file = '{root / 'server.crt'}'\nssl_key_file = '{root / 'server.key'}'\n"
            "max_connections = 50\nfsync = on\n"
        )
        for name, text, mode in (("pg_hba.conf", hba, "w"), ("postgresql.conf", conf, "a")):
            with open(server.data / name, mode) as file:  # as root: root may write nobody's files
                file.write(text)
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
