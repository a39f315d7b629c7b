"""The stack files a user starts from (stacks/), each previewed by the real engine as shipped.

staging and prod are previewed against servers the tests make (tests/e2e/test_existing_hosts.py);
here the `local` stack (the embedded default `make up` deploys) is previewed exactly as committed, with
its own passphrase, in a throwaway state; `containers` where a docker provider plugin exists; and prod
the way a pull request previews it: scripts/preview-isolated, with no backend or secret of prod.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e.pulumi_cli import REPO, PulumiCli, copy_program, engine_env
from tests.e2e.test_containers_engine import Plugin, find_docker_plugin

pytestmark = pytest.mark.e2e

# The passphrase the Makefile uses by default: the local stack file's encryptionsalt was made with it.
LOCAL_PASSPHRASE = "wayshub-local"


def stack_as_shipped(tmp_path: Path, name: str, home: Path | None = None) -> PulumiCli:
    project = tmp_path / "project"
    copy_program(project)
    (project / "stacks").mkdir()
    shutil.copy(REPO / "stacks" / f"Pulumi.{name}.yaml", project / "stacks")
    env = engine_env(tmp_path / "state", home or tmp_path / "home")
    if name == "local":  # the program refuses the default passphrase for any other stack
        env["PULUMI_CONFIG_PASSPHRASE"] = LOCAL_PASSPHRASE
    cli = PulumiCli(project, env)
    cli.init_stack(name)
    return cli


def test_every_stack_file_is_covered() -> None:
    shipped = sorted(p.name.split(".")[1] for p in (REPO / "stacks").glob("Pulumi.*.yaml"))
    assert shipped == ["containers", "local", "prod", "staging"], "a new stack file needs a preview test"


def test_the_local_stack_previews_as_shipped(tmp_path: Path) -> None:
    cli = stack_as_shipped(tmp_path, "local")
    steps = cli.preview_steps()
    created = {s.name for s in steps if s.op == "create"}
    expected = {"sandbox-network", "lb-container", "app1-container", "app2-container", "app1-app-release", "lb-site"}
    assert expected <= created, sorted(created)
    config = yaml.safe_load((REPO / "stacks" / "Pulumi.local.yaml").read_text())["config"]
    site = next(s for s in steps if s.urn.endswith("::lb-site"))
    assert f"server_name {config['wayshub:domain']};" in str(site.inputs["stdin"])
    assert {s.op for s in steps} <= {"create", "same"}, "a preview of a new stack only plans creates"
    # The *.localhost domain needs no hosts entry, so a user without root or sudo can `make up` (issue 17).
    assert config["wayshub:domain"].endswith(".localhost")
    assert not [s.urn for s in steps if s.urn.endswith("::hosts-entry")], "the local stack writes no hosts file"


def test_the_containers_stack_previews_where_a_docker_plugin_exists(tmp_path: Path) -> None:
    plugin = find_docker_plugin(tmp_path / "probe-state")
    if not isinstance(plugin, Plugin):
        pytest.skip(f"no pulumi-docker plugin here: {plugin}")
    cli = stack_as_shipped(tmp_path, "containers", plugin.home)
    created = {s.name for s in cli.preview_steps() if s.op == "create"}
    assert {"containers-network", "containers-app-image", "containers-nginx-image"} <= created, sorted(created)


def test_prod_previews_as_pull_requests_do_without_any_prod_secret(tmp_path: Path) -> None:
    stack_file = REPO / "stacks" / "Pulumi.prod.yaml"
    before = stack_file.read_bytes()
    given_state = tmp_path / "given-state"
    given_state.mkdir()
    env = {
        **engine_env(tmp_path / "unused-state", tmp_path / "home"),
        # What a job might carry: the script must use none of it.
        "PULUMI_BACKEND_URL": f"file://{given_state}",
        "PULUMI_CONFIG_PASSPHRASE": "not-for-this-script",
        "TMPDIR": str(tmp_path),
    }
    done = subprocess.run(
        [str(REPO / "scripts" / "preview-isolated"), "prod"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    steps = json.loads(done.stdout)["steps"]
    created = {s["urn"].rsplit("::", 1)[-1]: s for s in steps if s["op"] == "create"}
    assert {"app1-probe", "app2-probe", "lb-probe", "app1-app-release", "lb-site"} <= set(created), sorted(created)
    assert {s["op"] for s in steps} <= {"create", "same"}
    assert "hosts-entry" not in created, "prod writes no hosts file"
    config = yaml.safe_load(before)["config"]
    site = json.dumps(created["lb-site"]["newState"]["inputs"])
    for server in config["wayshub:hosts"]["appServers"]:
        assert f"server {server['privateAddress']}:3000 " in site, "the site rendered from prod's stack file"
    assert list(given_state.iterdir()) == [], "the backend in the environment is never touched"
    assert stack_file.read_bytes() == before, "the checkout's stack file is left as it was"
    assert not list(tmp_path.glob("preview-isolated.*")), "its temp folder is removed"
