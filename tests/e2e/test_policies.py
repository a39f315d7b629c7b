"""The policy pack (policies/, docs/policies.md) in the REAL engine: `pulumi preview --policy-pack policies`, as
`make preview` runs it, of a tiny program of its own that declares only the ``wayshub:index:Site`` component
with the settings the real model makes. No Docker, no servers, no ports: seconds.

A production stack that breaks every mandatory rule is refused with each rule's one-line message; a compliant
one passes; a stack not marked production is not checked; a policy pack config can lower a rule's level. Last,
the real program (its Site component says what the rules read) previewed as `make preview` does, for a new
production stack of one app server with a secret in plain text: refused before anything is made.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.config import StackConfig
from tests.e2e.pulumi_cli import REPO, PulumiCli, copy_program, engine_env, stack_file_text
from tests.e2e.slots import name

pytestmark = pytest.mark.e2e

PACK = REPO / "policies"
STACK = name("policies")  # in a throwaway state of its own; per slot all the same (tests/e2e/slots.py)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + "A" * 43

# The program: the Site component and nothing else, its outputs read from site.json beside it.
PROGRAM = """import json
from pathlib import Path

import pulumi

site = pulumi.ComponentResource("wayshub:index:Site", "site")
site.register_outputs(json.loads((Path(__file__).parent / "site.json").read_text()))
"""

COMPLIANT: dict[str, Any] = {
    "domain": "shop.example.com",
    "hosts": {
        "provider": "existing",
        "appServers": [
            {"name": "app1", "address": "192.0.2.11", "hostKey": KEY},
            {"name": "app2", "address": "192.0.2.12", "hostKey": KEY},
        ],
        "lbServer": {"name": "lb", "address": "192.0.2.10", "hostKey": KEY},
    },
    "app": {"nodeVersion": "22.11.0", "releasePin": "0123456789ab"},
    "lb": {"tls": "self-signed"},
}
# Breaks every mandatory rule the model lets a stack break (the app user is refused by the model itself).
VIOLATING: dict[str, Any] = {
    "domain": "shop.example.com",
    "hosts": {
        "provider": "existing",
        "appServers": [{"name": "app1", "address": "192.0.2.11"}],
        "lbServer": {"name": "lb", "address": "192.0.2.10", "hostKey": KEY},
    },
}
PLAIN_SECRETS = ["wayshub:appSecrets"]

MANDATORY = {
    "production-app-servers": "wayshub:hosts.appServers: production needs at least 2 app servers (has 1)",
    "production-https": "wayshub:lb.tls: production needs HTTPS with plain HTTP redirected to it",
    "production-host-keys": "wayshub:hosts.appServers[0].hostKey: production pins every server's host key",
    "production-encrypted-secrets": "wayshub:appSecrets: production keeps it encrypted, but it is in plain text",
}
ADVISORY = {
    "production-node-pinned": "wayshub:app.nodeVersion: production pins an exact Node release",
    "production-release-pinned": "wayshub:app.releasePin: production pins the release it runs",
}


def site_inputs(raw: dict[str, Any], production: bool, plain_secrets: list[str]) -> dict[str, Any]:
    """The Site's outputs the pack reads, as the program makes them: the checked settings, as the stack file spells them."""
    settings = StackConfig.model_validate({**raw, "production": production}).model_dump(mode="json", by_alias=True)
    return {"settings": settings, "plainSecrets": plain_secrets}


@pytest.fixture(scope="module")
def pack() -> Path:
    """The pack, its venv made (cached after the first time)."""
    subprocess.run(["make", "-s", "policy-venv"], cwd=REPO, check=True)
    return PACK


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory, pack: Path) -> PulumiCli:
    root = tmp_path_factory.mktemp("policies")
    project = root / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: policy-check\nruntime: python\n")
    (project / "__main__.py").write_text(PROGRAM)
    env = engine_env(root / "state", root / "home")
    # The engine we build runs a Python pack through the shim (docs/policies.md); for an official CLI it
    # hands every call to python3 unchanged.
    cli = PulumiCli(project, {**env, "PULUMI_PYTHON_CMD": str(PACK / "python-shim")})
    cli.init_stack(STACK)
    return cli


def preview(cli: PulumiCli, inputs: dict[str, Any], *flags: str) -> subprocess.CompletedProcess[str]:
    (cli.workdir / "site.json").write_text(json.dumps(inputs))
    return cli.run("preview", "--stack", STACK, "--policy-pack", str(PACK), *flags, check=False, timeout=300)


def violation_lines(output: str) -> dict[str, list[str]]:
    """What the CLI's "Policies:" section reports: each violation's level and policy, and its message lines."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in output.splitlines():
        stripped = line.strip()
        if stripped.startswith(("- [mandatory]", "- [advisory]")):
            current = f"{stripped.split()[1]} {stripped.split()[2]}"
            found.setdefault(current, [])
        elif current and stripped and not stripped.startswith(("Diagnostics:", "pulumi:pulumi:Stack")):
            found[current].append(stripped)
        else:
            current = ""
    return found


def test_a_production_stack_that_breaks_the_mandatory_rules_is_refused_with_each_message(cli: PulumiCli) -> None:
    ran = preview(cli, site_inputs(VIOLATING, True, PLAIN_SECRETS))
    output = ran.stdout + ran.stderr
    assert ran.returncode != 0, output
    reported = violation_lines(output)
    for policy, message in MANDATORY.items():
        lines = reported.get(f"[mandatory] {policy}")
        assert lines is not None, f"{policy} not reported:\n{output}"
        assert any(line.startswith(message) for line in lines), f"{policy}: {lines}"
    for policy, message in ADVISORY.items():
        assert any(line.startswith(message) for line in reported.get(f"[advisory] {policy}", [])), output
    assert "production-app-user" not in output


def test_a_compliant_production_stack_passes(cli: PulumiCli) -> None:
    ran = preview(cli, site_inputs(COMPLIANT, True, []))
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    assert violation_lines(output) == {}, output
    assert "wayshub-production" in output, "the pack ran"


def test_a_stack_not_marked_production_is_not_checked(cli: PulumiCli) -> None:
    ran = preview(cli, site_inputs(VIOLATING, False, PLAIN_SECRETS))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert violation_lines(ran.stdout + ran.stderr) == {}


def test_a_policy_pack_config_lowers_a_rule_to_advisory(cli: PulumiCli, tmp_path: Path) -> None:
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"production-app-servers": "advisory"}))
    one_server = {**COMPLIANT, "hosts": {**COMPLIANT["hosts"], "appServers": COMPLIANT["hosts"]["appServers"][:1]}}
    ran = preview(cli, site_inputs(one_server, True, []), "--policy-pack-config", str(config))
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    assert list(violation_lines(output)) == ["[advisory] production-app-servers"], output


def test_the_real_program_marked_production_is_refused_at_preview_with_the_settings_to_change(
    tmp_path_factory: pytest.TempPathFactory, pack: Path
) -> None:
    root = tmp_path_factory.mktemp("policies-program")
    project = root / "project"
    copy_program(project)
    (project / "stacks").mkdir()
    stack = name("policyprog")
    config = {
        "wayshub:domain": "shop.example.com",
        "wayshub:production": True,
        "wayshub:hosts": {"provider": "sandbox", "appServers": [{"name": "app1"}], "lbServer": {"name": "lb"}},
        "wayshub:hostsFile": {"enabled": False},
        # Set as plain text, not with `pulumi config set --secret`.
        "wayshub:appSecrets": {"API_TOKEN": "not-so-secret"},
        "wayshub:releaseKey": "k" * 40,
    }
    (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(stack_file_text(config))
    env = engine_env(root / "state", root / "home")
    program = PulumiCli(project, {**env, "PULUMI_PYTHON_CMD": str(pack / "python-shim")})
    program.init_stack(stack)
    ran = program.run("preview", "--stack", stack, "--policy-pack", str(pack), check=False, timeout=600)
    output = ran.stdout + ran.stderr
    assert ran.returncode != 0, output
    reported = violation_lines(output)
    expected = {
        "production-app-servers": MANDATORY["production-app-servers"],
        "production-https": MANDATORY["production-https"],
        "production-encrypted-secrets": "wayshub:appSecrets: production keeps it encrypted",
    }
    for policy, message in expected.items():
        lines = reported.get(f"[mandatory] {policy}", [])
        assert any(line.startswith(message) for line in lines), f"{policy}: {lines}\n{output}"
    assert any("wayshub:releaseKey" in line for line in reported["[mandatory] production-encrypted-secrets"])
    assert not program.resources(), "a refused preview made nothing"
