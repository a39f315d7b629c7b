"""Hosts layer against the real engine: sandbox VMs come up in parallel, answer over SSH, and go away."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import slots
from tests.e2e.pulumi_cli import REPO, PulumiCli, engine_env
from tests.e2e.site import docker_names

pytestmark = pytest.mark.e2e

STACK = slots.HOSTS_STACK
NAMES = ["alpha", "bravo", "charlie"]


@pytest.fixture()
def hosts_program(tmp_path: Path, sandbox_image: str) -> Iterator[PulumiCli]:
    project = tmp_path / "project"
    shutil.copytree(REPO / "tests" / "e2e" / "programs" / "hosts", project)
    (project / "Pulumi.yaml").write_text(
        f"name: wayshub-hosts\nruntime:\n  name: python\n  options:\n    virtualenv: {REPO / 'venv'}\n"
    )
    cli = PulumiCli(project, engine_env(tmp_path / "state", tmp_path / "home"))
    cli.init_stack(STACK)
    cli.set_config("image", sandbox_image)
    cli.set_config("subnetPrefix", slots.HOSTS_SUBNET_PREFIX)
    cli.set_config("sshPortBase", str(slots.HOSTS_SSH_PORT_BASE))
    cli.set_config("names[0]", NAMES[0], path=True)
    for index, name in enumerate(NAMES[1:], start=1):
        cli.set_config(f"names[{index}]", name, path=True)
    yield cli
    cli.destroy(check=False)
    for leftover in docker_names(f"label=wayshub.stack={STACK}"):
        subprocess.run(["docker", "rm", "--force", leftover], check=False)
    subprocess.run(["docker", "network", "rm", f"wayshub-{STACK}"], capture_output=True, check=False)


def test_three_vms_answer_over_ssh_with_their_own_names_and_go_away(hosts_program: PulumiCli) -> None:
    started = time.monotonic()
    summary = hosts_program.up_summary()
    took = time.monotonic() - started
    print(f"fresh up of {len(NAMES)} sandbox VMs: {took:.1f}s")
    assert summary.get("create", 0) >= 1 + 3 * len(NAMES), summary

    outputs = hosts_program.outputs()
    for name in NAMES:
        state, hostname = outputs[f"{name}_answer"].split()
        assert hostname == name
        assert state in {"running", "degraded"}, f"{name}: systemd is {state}"
    host_keys = {outputs[f"{name}_host_key"] for name in NAMES}
    assert len(host_keys) == len(NAMES), "every VM must have its own host key"
    assert sorted(docker_names(f"label=wayshub.stack={STACK}")) == sorted(f"wayshub-{STACK}-{n}" for n in NAMES)

    assert set(hosts_program.up_summary()) == {"same"}, "a second up must change nothing"

    hosts_program.destroy()
    assert docker_names(f"label=wayshub.stack={STACK}") == []
    networks = subprocess.run(["docker", "network", "ls", "--format", "{{.Name}}"], capture_output=True, text=True)
    assert f"wayshub-{STACK}" not in networks.stdout.split()
