"""Somebody else's servers, made by the tests (not by the program) for ``hosts.provider: existing``.

Each server is a container booting systemd from a plain Debian image (``other_servers/Dockerfile``):
sshd as a cloud image has it (keys only, no root login, host keys made at first boot), a non-root
user ``ubuntu`` with passwordless sudo, and nothing of ours: no node, no nginx. What cloud-init does
on a cloud VM the harness does after boot: it puts the test's public key in the users'
authorized_keys. The servers' host keys go into a known_hosts file with ``ssh-keyscan``, as a user
would pin them.

Names, ports and the subnet are this module's own (``wayshub-ext*``) and follow the e2e slot
(tests/e2e/slots.py), so other e2e sessions never collide with it. SSH is published on 127.0.0.1 only; the servers talk to each other on their network.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from components.hosts.ssh_key import generate_ed25519
from tests.e2e import slots
from tests.e2e.pulumi_cli import REPO

NETWORK = f"wayshub-{slots.EXT}"
SUBNET_PREFIX = slots.EXT_SUBNET_PREFIX
CONTAINER_PREFIX = f"{NETWORK}-"
IMAGE = "wayshub/ext-server:bookworm"  # shared by every slot: the same build, never removed by a test
LABEL = f"wayshub.test={slots.EXT}"
DEBIAN_BASE = "wayshub/debian-base:bookworm"  # made by scripts/sandbox-image where no registry answers
HTTP_PORT = slots.EXT_HTTP_PORT  # the LB's port 80 on 127.0.0.1
USER = "ubuntu"  # passwordless sudo
NO_SUDO_USER = "nosudo"  # no sudo rights at all
PASSWORD_SUDO_USER = "pwsudo"  # in group sudo: sudo asks for a password
USERS = (USER, NO_SUDO_USER, PASSWORD_SUDO_USER)
UNUSED_SSH_PORT = slots.EXT_SSH_PORT_BASE + 9  # nothing listens there: a server that is down
BOOT_SECONDS = 120


@dataclass(frozen=True)
class Server:
    name: str
    ssh_port: int
    index: int  # private address .<index>

    @property
    def container(self) -> str:
        return f"{CONTAINER_PREFIX}{self.name}"

    @property
    def private_address(self) -> str:
        return f"{SUBNET_PREFIX}.{self.index}"


SERVERS = tuple(
    Server(name, slots.EXT_SSH_PORT_BASE + 1 + index, 10 + index) for index, name in enumerate(("lb", "app1", "app2"))
)
# A second LB for two LBs sharing an address (tests/e2e/test_existing_failover.py): at .13.
LB2 = Server("lb2", slots.EXT_SSH_PORT_BASE + 4, 13)


@dataclass(frozen=True)
class OtherServers:
    """The running servers, the key pair they trust, and the known_hosts file that vouches for them."""

    servers: tuple[Server, ...]
    private_key: str
    public_key: str
    known_hosts: Path

    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)

    def sh(self, name: str, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A root shell on the server, for checks only (deployments go over SSH as ``ubuntu``)."""
        return subprocess.run(
            ["docker", "exec", self.server(name).container, "bash", "-c", command],
            capture_output=True,
            text=True,
            check=check,
        )


def _docker(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, check=check)


def build_on_debian_base(context: Path, image: str) -> str:
    """``image`` from the Dockerfile in ``context``, FROM the Debian base scripts/sandbox-image made
    where no registry answers (or Docker Hub's debian:bookworm on a laptop)."""
    has_base = _docker("image", "inspect", DEBIAN_BASE, check=False).returncode == 0
    base = DEBIAN_BASE if has_base else "debian:bookworm"
    result = subprocess.run(
        ["docker", "build", "--pull=false", "--build-arg", f"BASE={base}", "-t", image, str(context)],
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"docker build of {image} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return image


def build_image(sandbox_image: str) -> str:
    """The server image. ``sandbox_image`` only says scripts/sandbox-image ran: it leaves a base behind."""
    return build_on_debian_base(REPO / "tests" / "e2e" / "other_servers", IMAGE)


def remove_all() -> None:
    """Every container and the network of this harness (also what an interrupted run left)."""
    names = _docker("ps", "--all", "--filter", f"label={LABEL}", "--format", "{{.Names}}").stdout.split()
    for name in names:
        _docker("rm", "--force", name, check=False)
    _docker("network", "rm", NETWORK, check=False)


def _start(server: Server, image: str, vrrp: bool) -> None:
    published = ["--publish", f"127.0.0.1:{server.ssh_port}:22"]
    if server.name == "lb":
        published += ["--publish", f"127.0.0.1:{HTTP_PORT}:80"]
    # NET_ADMIN: an LB of two adds the shared address to its interface, as root on a real VM may (NET_RAW,
    # for VRRP's IP protocol 112, is in Docker's default set).
    vrrp_caps = ["--cap-add", "NET_ADMIN"] if vrrp and server.name.startswith("lb") else []
    _docker(
        "run", "--detach", "--name", server.container, "--hostname", server.name, "--label", LABEL,
        "--network", NETWORK, "--ip", server.private_address, *published,
        # SYS_PTRACE: root on a real VM may see every process's sockets (which process holds a port).
        "--cap-add", "SYS_ADMIN", "--cap-add", "SYS_PTRACE", *vrrp_caps, "--cgroupns", "host", "--tmpfs", "/run", "--tmpfs", "/run/lock",
        "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--stop-timeout", "10",
        image,
    )  # fmt: skip


def _authorize(server: Server, public_key: str) -> None:
    """What cloud-init does with the user-data's ssh_authorized_keys, for every login user."""
    for user in USERS:
        script = (
            f"install -d -m 0700 -o {user} -g {user} /home/{user}/.ssh && "
            f"cat > /home/{user}/.ssh/authorized_keys && "
            f"chown {user}:{user} /home/{user}/.ssh/authorized_keys && chmod 0600 /home/{user}/.ssh/authorized_keys"
        )
        _docker("exec", "-i", server.container, "bash", "-c", script, stdin=public_key + "\n")


def keyscan(server: Server) -> str:
    """The server's ed25519 host key as known_hosts lines, once sshd answers (what a user runs to pin it)."""
    deadline = time.monotonic() + BOOT_SECONDS
    while True:
        scan = subprocess.run(
            ["ssh-keyscan", "-T", "5", "-t", "ed25519", "-p", str(server.ssh_port), "127.0.0.1"],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [line for line in scan.stdout.splitlines() if line and not line.startswith("#")]
        if lines:
            return "\n".join(lines) + "\n"
        if time.monotonic() > deadline:
            state = _docker("exec", server.container, "systemctl", "is-system-running", check=False).stdout
            raise AssertionError(f"{server.container}: sshd did not answer within {BOOT_SECONDS}s (systemd: {state})")
        time.sleep(0.5)


@contextmanager
def other_servers(sandbox_image: str, workdir: Path, two_lbs: bool = False) -> Iterator[OtherServers]:
    """Start the servers on their own network; remove them (and the network) afterwards, whatever happens.
    ``two_lbs``: a second LB too (``LB2``), both LBs able to hold a shared address."""
    image = build_image(sandbox_image)
    private_key, public_key = generate_ed25519("wayshub-ext-test")
    servers = (*SERVERS, LB2) if two_lbs else SERVERS
    remove_all()
    try:
        _docker("network", "create", "--subnet", f"{SUBNET_PREFIX}.0/24", "--label", LABEL, NETWORK)
        for server in servers:
            _start(server, image, two_lbs)
        known_hosts = workdir / "known_hosts"
        known_hosts.write_text("".join(keyscan(server) for server in servers))
        for server in servers:
            _authorize(server, public_key)
        yield OtherServers(servers, private_key, public_key, known_hosts)
    finally:
        remove_all()
