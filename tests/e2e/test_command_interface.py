"""The command interface (components/shell/command, docs/commands.md) against a real stack.

A site is deployed by the code as it was just before the interface existed (its own tree, from git), then
the current code takes the same stack over: it must see nothing to change (same URNs, same inputs: no
replacement, no command re-run), and a release that fails on a host must reach the user as our one line
(resource, host, step, exit code, output tail) with no Python traceback before it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.layout import SITE_TYPE
from tests.e2e import slots
from tests.e2e.old_code import code_before, export_tree, use_program
from tests.e2e.pulumi_cli import REPO, PulumiCli, engine_env
from tests.e2e.site import DOMAIN, SAMPLE_APP, docker_names

pytestmark = pytest.mark.e2e

STACK = slots.UPGRADE_STACK
INTERFACE = "components/shell/command/__init__.py"


def code_before_the_interface() -> str:
    """On main, the code just before the interface was merged: the two trees differ by the interface alone."""
    return code_before(INTERFACE)


@dataclass
class Upgrade:
    project: Path
    old_code: Path
    state: Path
    home: Path
    hosts_file: Path

    def cli(self, code: Path) -> PulumiCli:
        env = engine_env(self.state, self.home)
        use_program(self.project, code)
        return PulumiCli(self.project, {**env, "PYTHONPATH": str(code)})

    def write_config(self, app: dict[str, Any]) -> None:
        config = {
            "wayshub:domain": DOMAIN,
            "wayshub:app": app,
            # The login user the sandbox image makes (issue 28: never the app's user), for old and new code.
            "wayshub:hosts": {
                "provider": "sandbox",
                "user": "deploy",
                "appServers": [{"name": "app1"}],
                "lbServer": {"name": "lb"},
            },
            "wayshub:sandbox": {
                "image": self.image,
                "network": f"wayshub-{STACK}",
                "subnet": f"{slots.UPGRADE_SUBNET_PREFIX}.0/24",
                "sshPortBase": slots.UPGRADE_SSH_PORT_BASE,
                "httpPort": slots.UPGRADE_HTTP_PORT,
                "httpsPort": slots.UPGRADE_HTTP_PORT + 1,
            },
            "wayshub:hostsFile": {"path": str(self.hosts_file), "address": "127.0.0.1"},
        }
        stacks = self.project / "stacks"
        stacks.mkdir(exist_ok=True)
        # As the old code reads it (it knows no lb.limits; this stack carries no load).
        (stacks / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=True))

    image: str = ""


@pytest.fixture(scope="module")
def upgrade(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Iterator[Upgrade]:
    """A site (1 app server + LB) deployed by the code before the interface."""
    root = tmp_path_factory.mktemp("upgrade")
    old_code = root / "old-code"
    export_tree(code_before_the_interface(), old_code)
    project = root / "project"
    project.mkdir()
    shutil.copytree(REPO / "app", project / "app", ignore=shutil.ignore_patterns("node_modules"))
    hosts_file = root / "hosts"
    hosts_file.write_text("127.0.0.1\tlocalhost\n")
    made = Upgrade(project, old_code, root / "state", root / "home", hosts_file, image=sandbox_image)
    made.write_config(SAMPLE_APP)
    old = made.cli(old_code)
    old.init_stack(STACK)
    try:
        old.up()
        yield made
    finally:
        made.cli(REPO).destroy(check=False)
        for leftover in docker_names(f"label=wayshub.stack={STACK}"):
            subprocess.run(["docker", "rm", "--force", leftover], check=False)
        subprocess.run(["docker", "network", "rm", f"wayshub-{STACK}"], capture_output=True, check=False)


def test_the_current_code_finds_nothing_to_change_on_a_stack_the_old_code_made(upgrade: Upgrade) -> None:
    new = upgrade.cli(REPO)
    steps = new.preview_steps()
    # Nothing made anew or torn down (URNs, types and providers kept). An update re-runs a step in place;
    # later commits may change a step's script, so updates are allowed (and shown).
    # The one kind of resource added since (issue #21) runs nothing on a host when it is created.
    # Issue 28 added one step per upload (its private folder, upload-dir.sh) before the copy; issue 41 nginx's
    # capacity (nginx-capacity.sh: two lines of nginx.conf and a graceful reload); issue 38 the Site component
    # everything moves under (it runs nothing).
    added = [
        s.urn
        for s in steps
        if s.op == "create"
        and (
            s.urn.split("::")[-2].endswith(":HostState")
            or s.name.endswith(("upload-dir", "nginx-capacity"))
            or s.type == SITE_TYPE
        )
    ]
    assert sorted(u.rsplit("::", 1)[-1] for u in added) == [
        "app1-app-node-upload-dir",
        "app1-app-state",
        "app1-app-upload-dir",
        "lb-nginx-capacity",
        "lb-state",
        "site",
    ], added
    # Issue 28 also re-creates every sandbox VM (its `docker run` gained the login user and a cgroup
    # namespace of its own), and with it what runs on it: replacements are allowed; nothing may be
    # removed for good or made anew (URNs, types and providers kept).
    replacing = ("replace", "create-replacement", "delete-replaced")
    remade = [(s.op, s.name) for s in steps if s.op not in ("same", "update", *replacing) and s.urn not in added]
    assert remade == [], f"the interface re-made or removed resources of a deployed stack: {remade}"
    replaced = {s.name for s in steps if s.op in replacing}
    assert {"lb-container", "app1-container"} <= replaced, replaced
    state = new.state()["deployment"]["resources"]
    kinds = Counter(r["type"].rsplit(":", 1)[-1] for r in state if r["type"].startswith("pulumi-python:dynamic/"))
    assert kinds["RemoteCommand"] >= 8 and kinds["LocalCommand"] >= 3 and kinds["CopyFileToRemote"] >= 2, kinds
    summary = new.up_summary()
    assert set(summary) <= {"same", "update", "create", "replace"}, f"an up by the current code removed: {summary}"
    assert summary.get("create", 0) == len(added), summary


def test_a_failed_release_is_one_line_with_no_traceback(upgrade: Upgrade) -> None:
    new = upgrade.cli(REPO)
    broken = {"health": {"path": "/health", "bodyContains": "never-in-the-answer", "timeoutSeconds": 3}}
    upgrade.write_config(broken)
    failed = new.up(check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0, output[-3000:]
    assert "Traceback" not in output, output[-6000:]
    assert 'File "' not in output, output[-6000:]
    ours = re.search(
        r"^ *error: OperationFailed: app1-app-release@127\.0\.0\.1:\d+: update failed with exit code \d+:$",
        output,
        re.MULTILINE,
    )
    assert ours, f"no one-line failure for app1's release in:\n{output[-6000:]}"
    # The output tail follows our line: what deploy.sh said about the health check.
    assert "never-in-the-answer" in output[ours.end() :], output[-6000:]
    upgrade.write_config(SAMPLE_APP)
    new.up()
