"""End-to-end test of the local sandbox "VM" image (systemd + sshd in Docker).

Uses the real scripts: scripts/ensure-docker, then scripts/sandbox-image (a cold build makes the base
image with debootstrap and takes a few minutes; warm it is seconds). Then boots TWO containers on the
dedicated network ``wayshub-test-img`` (its name and /24 follow the e2e slot: tests/e2e/slots.py) with SSH
published on 127.0.0.1 random ports and checks them over SSH with a freshly generated ed25519 key. Traffic goes only to 127.0.0.1 and to these
containers. Containers and network are removed afterwards, also on failure.

Needs Linux with root (or a running Docker engine) and the OpenSSH client.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import slots

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
ENSURE_DOCKER = REPO / "scripts" / "ensure-docker"
SANDBOX_IMAGE = REPO / "scripts" / "sandbox-image"

NETWORK = f"wayshub-{slots.IMAGE_TEST}"
SUBNET = f"{slots.IMAGE_SUBNET_PREFIX}.0/24"
LABEL = f"wayshub.test={slots.IMAGE_TEST}"
USER = "deploy"
BOOT_TIMEOUT = 90.0

# Works without --privileged and without the host's cgroups: a cgroup namespace of its own (systemd mounts
# its hierarchy there on a cgroup v1 host), SYS_ADMIN, fewer of Docker's default capabilities. The same
# flags as components/hosts/sandbox.py.
RUN_ARGS = [
    "--cap-add", "SYS_ADMIN",
    "--cap-drop", "NET_RAW",
    "--cap-drop", "MKNOD",
    "--cgroupns=private",
    "--tmpfs", "/run",
    "--tmpfs", "/run/lock",
]  # fmt: skip


def run(cmd: list[str], *, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; on failure raise with its output in the message."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["docker", *args], timeout=timeout, check=check)


@dataclass
class Vm:
    name: str
    port: int
    ip: str
    known_hosts: Path
    key: Path
    started: float
    ssh_ready_after: float = 0.0

    def ssh_cmd(self, command: str, *, connect_timeout: int = 5) -> list[str]:
        return [
            "ssh", "-F", "/dev/null",
            "-i", str(self.key),
            "-p", str(self.port),
            "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=accept-new",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", f"ConnectTimeout={connect_timeout}",
            "-o", "LogLevel=ERROR",
            f"{USER}@127.0.0.1",
            command,
        ]  # fmt: skip

    def ssh(self, command: str, *, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(self.ssh_cmd(command), timeout=timeout, check=check)


def _remove_test_resources() -> None:
    """Remove this test's containers (by label) and network; never touches anything else."""
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}", check=False).stdout.split()
    if ids:
        docker("rm", "-f", "-v", *ids, check=False, timeout=120)
    if docker("network", "inspect", NETWORK, check=False).returncode == 0:
        docker("network", "rm", NETWORK, check=False)


def _wait_for_ssh(vm: Vm) -> None:
    deadline = vm.started + BOOT_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        proc = run(vm.ssh_cmd("true", connect_timeout=2), timeout=15, check=False)
        if proc.returncode == 0:
            vm.ssh_ready_after = time.monotonic() - vm.started
            return
        last = proc.stderr.strip()
        time.sleep(0.5)
    logs = docker("logs", "--tail", "40", vm.name, check=False)
    pytest.fail(
        f"{vm.name}: no SSH login on 127.0.0.1:{vm.port} within {BOOT_TIMEOUT:.0f} s (last error: {last})\n"
        f"container output:\n{logs.stdout}{logs.stderr}"
    )


@pytest.fixture(scope="module")
def image() -> str:
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            pytest.skip(f"OpenSSH client tool {tool!r} not installed")
    run([str(ENSURE_DOCKER)], timeout=300)
    t0 = time.monotonic()
    proc = run([str(SANDBOX_IMAGE)], timeout=1800)
    name = proc.stdout.strip().splitlines()[-1]
    print(f"\nsandbox-image: {name} in {time.monotonic() - t0:.1f} s\n{proc.stderr}", file=sys.stderr)
    return name


@pytest.fixture(scope="module")
def vms(image: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[list[Vm]]:
    tmp = tmp_path_factory.mktemp("sandbox-ssh")
    key = tmp / "id_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "wayshub-e2e", "-f", str(key)])
    pubkey = (tmp / "id_ed25519.pub").read_text().strip()

    # Leftovers of an interrupted earlier run would block the fixed network name/subnet.
    _remove_test_resources()
    request.addfinalizer(_remove_test_resources)

    docker("network", "create", "--driver", "bridge", "--subnet", SUBNET, "--label", LABEL, NETWORK)
    suffix = uuid.uuid4().hex[:8]
    vms: list[Vm] = []
    for letter in ("a", "b"):
        name = f"{NETWORK}-{letter}-{suffix}"
        started = time.monotonic()
        docker(
            "run", "-d",
            "--name", name,
            "--hostname", name,
            "--label", LABEL,
            "--network", NETWORK,
            "-p", "127.0.0.1::22",
            "-e", f"WAYSHUB_AUTHORIZED_KEY={pubkey}",
            *RUN_ARGS,
            image,
        )  # fmt: skip
        info = json.loads(docker("inspect", name).stdout)[0]
        port = int(info["NetworkSettings"]["Ports"]["22/tcp"][0]["HostPort"])
        ip = info["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
        vms.append(Vm(name, port, ip, tmp / f"known_hosts_{letter}", key, started))
    for vm in vms:
        _wait_for_ssh(vm)
        print(f"{vm.name}: ip {vm.ip}, ssh on 127.0.0.1:{vm.port} after {vm.ssh_ready_after:.1f} s", file=sys.stderr)
    yield vms


def test_image_has_no_baked_host_keys(image: str) -> None:
    proc = docker("run", "--rm", "--entrypoint", "sh", image, "-c", "ls /etc/ssh/ssh_host_* 2>/dev/null || true")
    assert proc.stdout.strip() == "", f"host keys baked into the image: {proc.stdout}"


def test_systemd_is_running(vms: list[Vm]) -> None:
    for vm in vms:
        state = vm.ssh("systemctl is-system-running --wait", timeout=120, check=False).stdout.strip()
        if state == "degraded":
            failed = vm.ssh("systemctl --failed --no-legend --plain", check=False).stdout
            print(f"{vm.name}: systemd is degraded; failed units:\n{failed}", file=sys.stderr)
        assert state in ("running", "degraded"), f"{vm.name}: systemctl is-system-running -> {state!r}"
        assert vm.ssh("systemctl is-active ssh.service wayshub-firstboot.service").stdout.split() == [
            "active",
            "active",
        ]


def test_hostnames_differ(vms: list[Vm]) -> None:
    names = [vm.ssh("hostname").stdout.strip() for vm in vms]
    assert names == [vm.name for vm in vms]
    assert len(set(names)) == len(names)


def test_passwordless_sudo(vms: list[Vm]) -> None:
    for vm in vms:
        assert vm.ssh("sudo -n true && id -un && sudo -n id -un").stdout.split() == [USER, "root"]


def test_root_and_password_logins_refused(vms: list[Vm]) -> None:
    config = vms[0].ssh("sudo -n sshd -T").stdout.lower().splitlines()
    assert "permitrootlogin no" in config
    assert "passwordauthentication no" in config
    assert "kbdinteractiveauthentication no" in config


def test_each_container_has_its_own_host_keys(vms: list[Vm]) -> None:
    seen = []
    for vm in vms:
        # The key the SSH client recorded on first contact must be the container's own ed25519 key.
        recorded = {line.split()[2] for line in vm.known_hosts.read_text().splitlines() if line.strip()}
        served = vm.ssh("cat /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1]
        assert served in recorded, f"{vm.name}: host key served over SSH is not /etc/ssh/ssh_host_ed25519_key"
        seen.append(served)
    assert len(set(seen)) == len(seen), "containers share an SSH host key"


def test_a_reaches_b_on_private_network(vms: list[Vm]) -> None:
    a, b = vms
    assert a.ip != b.ip
    assert all(vm.ip.startswith(f"{slots.IMAGE_SUBNET_PREFIX}.") for vm in vms)
    a.ssh(f"timeout 5 bash -c '</dev/tcp/{b.ip}/22'")
    banner = a.ssh(f"timeout 5 bash -c 'exec 3<>/dev/tcp/{b.ip}/22; head -c 8 <&3'").stdout
    assert banner.startswith("SSH-2.0-"), banner
