"""A server that is still booting (TCP open, sshd not yet speaking) while open_client retries: the retry
reports in one line itself, so paramiko's own log of each failed handshake ("Error reading SSH protocol
banner" with its traceback, at ERROR on its transport logger) must not reach stderr. Run in a fresh
interpreter with no logging set up, as the dynamic-provider process that `make up` runs is."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import sys
from components.shell.ssh import Connection, open_client
conn = Connection("127.0.0.1", int(sys.argv[1]), "wayshub", sys.stdin.read(), host_key="ssh-ed25519 AAAA",
                  dial_timeout_seconds=3)
try:
    open_client(conn)
except ConnectionError as err:
    print(err)
"""


def booting_server() -> tuple[socket.socket, int]:
    """Accepts each connection and closes it at once, before any SSH banner (sshd not up yet)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server, int(server.getsockname()[1])


def test_failed_handshakes_while_a_server_boots_print_no_traceback() -> None:
    key = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    server, port = booting_server()
    try:
        result = subprocess.run(
            [sys.executable, "-c", PROGRAM, str(port)],
            input=key.decode(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.close()
    assert result.stdout.startswith(f"cannot reach wayshub@127.0.0.1:{port} over SSH within 3s: "), result.stdout
    assert result.stderr == "", result.stderr
