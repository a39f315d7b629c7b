"""README's "Deploy your own app", followed word for word on the local stack: the stack file as shipped
(stacks/Pulumi.local.yaml), `pulumi config set --path wayshub:app.source ../my-api` for an app that keeps
the README's contract and nothing more (tests/fixtures/apps/esm: listens on PORT, answers /, exits on
SIGTERM, package.json with a `main`), then `up`: the site serves that app over HTTPS.

Only what must differ for a test slot differs from the shipped file: the stack's name, its Docker network,
subnet and published ports (tests/e2e/slots.py), and the sandbox image the tests built."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e import slots
from tests.e2e.pulumi_cli import REPO, PulumiCli, copy_program, engine_env
from tests.e2e.site import _LoopbackHttps, docker_names

pytestmark = pytest.mark.e2e

STACK = slots.README_STACK
NETWORK = f"wayshub-{STACK}"
SLOT_SANDBOX = {
    "network": NETWORK,
    "subnet": f"{slots.README_SUBNET_PREFIX}.0/24",
    "httpPort": slots.README_HTTP_PORT,
    "httpsPort": slots.README_HTTP_PORT + 1,
    "sshPortBase": slots.README_SSH_PORT_BASE,
}


@pytest.fixture
def readme_stack(tmp_path: Path, sandbox_image: str) -> Iterator[PulumiCli]:
    project = tmp_path / "project"
    copy_program(project)
    shutil.copytree(REPO / "tests" / "fixtures" / "apps" / "esm", tmp_path / "my-api")  # README's ../my-api
    shipped: dict[str, Any] = yaml.safe_load((REPO / "stacks" / "Pulumi.local.yaml").read_text())["config"]
    config = {**shipped, "wayshub:sandbox": {**shipped["wayshub:sandbox"], **SLOT_SANDBOX, "image": sandbox_image}}
    (project / "stacks").mkdir(exist_ok=True)
    (project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))
    cli = PulumiCli(project, engine_env(tmp_path / "state", tmp_path / "home"))
    cli.init_stack(STACK)
    try:
        yield cli
    finally:
        cli.destroy(check=False)
        for leftover in docker_names(f"label=wayshub.stack={STACK}"):
            subprocess.run(["docker", "rm", "--force", leftover], check=False)
        subprocess.run(["docker", "network", "rm", NETWORK], capture_output=True, check=False)


def get_https(domain: str, ca_pem: str) -> tuple[int, str]:
    context = ssl.create_default_context(cadata=ca_pem)
    conn = _LoopbackHttps(domain, slots.README_HTTP_PORT + 1, timeout=10.0, context=context)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_the_readme_own_app_steps_deploy_that_app_on_the_local_stack(readme_stack: PulumiCli) -> None:
    readme_stack.run("config", "set", "--path", "wayshub:app.source", "../my-api", "--stack", STACK)
    ran = readme_stack.up(check=False)
    assert ran.returncode == 0, ran.output[-4000:]
    outputs = readme_stack.outputs()
    domain = yaml.safe_load((REPO / "stacks" / "Pulumi.local.yaml").read_text())["config"]["wayshub:domain"]
    answers = [get_https(domain, outputs["ca_certificate"]) for _ in range(6)]
    assert {status for status, _ in answers} == {200}, answers
    bodies = [json.loads(body) for _, body in answers]
    assert {body["app"] for body in bodies} == {"esm"}, "the site serves the user's app"
    assert all(body["node"].startswith("v20.") for body in bodies), "on the Node its .nvmrc names"
    assert len({body["host"] for body in bodies}) == 2, "from both app servers"
