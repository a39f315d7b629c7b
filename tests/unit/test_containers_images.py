"""Containers mode's prune step (components/containers/images.py, host/prune-images.sh), without Docker: what
it keeps, its command, and the script's decisions against a fake ``docker`` on PATH that answers from a
table and records what would be removed. The real daemon: tests/e2e/test_containers_engine.py."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.containers import ContainerSite, ContainerSiteArgs
from components.containers.build_context import nginx_context
from components.containers.commands import HOST_SCRIPTS
from components.containers.images import PRUNE_SCRIPT, kept_refs, prune_command, prune_name, repositories
from tests.unit.pulumi_mocks import pulumi_test
from tests.unit.test_containers_mocks import REQUESTS, dependencies, inputs, site_args

REPO = Path(__file__).resolve().parents[2]
NGINX = f"wayshub/nginx:{nginx_context('nginx:1.27').digest}"
APP = "wayshub/app"


def args(**changes: Any) -> ContainerSiteArgs:
    values: dict[str, Any] = {
        "stack": "ui",
        "domain": "wayshub.test",
        "app_servers": ["app1"],
        "app_source": REPO / "app",
        "subnet": "172.31.99.0/24",
        **changes,
    }
    return ContainerSiteArgs(**values)


def test_it_keeps_the_release_images_the_declared_app_image_and_the_nginx_image_once_each() -> None:
    kept = kept_refs(args(), [f"{APP}:222222222222", f"{APP}:111111111111", f"{APP}:222222222222"])
    assert kept == sorted([f"{APP}:111111111111", f"{APP}:222222222222", NGINX])
    assert repositories(args()) == [APP, "wayshub/nginx"]
    assert repositories(args(nginx_image=APP)) == [APP], "one repository for both: listed once"


@pytest.mark.parametrize("value", ["x; rm -rf /", "$(id)", "it's"])
def test_the_command_quotes_every_input(value: str) -> None:
    argv = shlex.split(prune_command(args(), [f"{APP}:{value}"]))
    assert argv[:2] == ["bash", "-c"] and len(argv) == 3
    assert f"KEEP={shlex.quote(f'{APP}:{value}')}\n" in argv[2]
    assert f"REPOSITORIES='{APP}\nwayshub/nginx'\n" in argv[2] and "STACK=ui\n" in argv[2]
    assert "one_line()" in argv[2] and argv[2].endswith((HOST_SCRIPTS / PRUNE_SCRIPT).read_text())


@pulumi_test
def test_the_prune_step_runs_after_the_site_step_and_keeps_what_the_stack_needs() -> pulumi.Output[None]:
    site = ContainerSite("cs-i", site_args("ui"))

    def check(_: Any) -> None:
        name = prune_name("cs-i")
        assert REQUESTS[name].parent.endswith("wayshub:containers:ContainerSite::cs-i")
        assert "cs-i-site" in dependencies(name), "after every switch and the site step"
        command = shlex.split(inputs(name)["create"])[2]
        app = site.app_image_tag
        assert f"KEEP='{app}\n{NGINX}'\n" in command or f"KEEP='{NGINX}\n{app}'\n" in command, command
        assert site.release_images == {site.release: app}

    return pulumi.Output.all(site.site.id, site.prune.id).apply(check)


# A fake `docker`: answers `ps`, `inspect`, `image ls` and `image rm` from $FAKE_DOCKER (JSON), logs removals.
FAKE_DOCKER = r"""
import json, os, sys
state = json.load(open(os.environ["FAKE_DOCKER"]))
args = sys.argv[1:]
if args[:1] == ["ps"]:
    if state.get("ps_fails"):
        print("Cannot connect to the Docker daemon", file=sys.stderr); sys.exit(1)
    for c in state["containers"]:
        if "--filter" in args:
            if c.get("stack"):
                print(c["stack"], c["image"])
        else:
            print(c["id"])
elif args[:1] == ["inspect"]:
    by_id = {c["id"]: c for c in state["containers"]}
    for cid in args[3:]:
        print(state["images"].get(by_id[cid]["image"], by_id[cid]["image"]))
elif args[:2] == ["image", "ls"]:
    repo = args[-1]
    for ref, image_id in state["images"].items():
        if ref.rsplit(":", 1)[0] == repo:
            print(ref, image_id)
elif args[:2] == ["image", "rm"]:
    if args[2] in state.get("rm_fails", {}):
        print(state["rm_fails"][args[2]], file=sys.stderr); sys.exit(1)
    with open(os.environ["FAKE_DOCKER"] + ".removed", "a") as log:
        log.write(args[2] + "\n")
    print("Untagged: " + args[2])
else:
    sys.exit(f"fake docker: unexpected {args}")
"""


def run_prune(tmp_path: Path, state: dict[str, Any], keep: list[str]) -> tuple[str, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    docker = bin_dir / "docker"
    docker.write_text(f"#!{sys.executable}\n{FAKE_DOCKER}")
    docker.chmod(0o755)
    table = tmp_path / "docker.json"
    table.write_text(json.dumps(state))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_DOCKER": str(table)}
    argv = shlex.split(prune_command(args(), keep))
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    log = Path(f"{table}.removed")
    return result.stdout.strip(), log.read_text().split() if log.exists() else []


def image_id(n: int) -> str:
    return f"sha256:{n:064x}"


IMAGES = {
    f"{APP}:000000000001": image_id(1),  # kept (release_images)
    f"{APP}:000000000002": image_id(2),  # superseded
    f"{APP}:000000000003": image_id(3),  # superseded, but a container (of nobody) runs its image
    f"{APP}:000000000004": image_id(4),  # superseded
    "wayshub/nginx:000000000005": image_id(5),  # superseded nginx image
    NGINX: image_id(6),  # kept
    "someone/else:000000000007": image_id(7),  # not the stack's repository
}
CONTAINERS = [
    {"id": "c1", "image": f"{APP}:000000000001", "stack": "ui"},
    {"id": "c2", "image": "someone/else:000000000007"},
    {"id": "c3", "image": image_id(3)},  # made from the image's id, as the legacy builder does
]


def test_it_removes_the_stacks_tags_that_nothing_keeps_or_runs(tmp_path: Path) -> None:
    state = {"images": IMAGES, "containers": CONTAINERS}
    line, removed = run_prune(tmp_path, state, [f"{APP}:000000000001", NGINX])
    assert removed == [f"{APP}:000000000002", f"{APP}:000000000004", "wayshub/nginx:000000000005"]
    assert line == (
        f"images: removed 3 ({APP}:000000000002 {APP}:000000000004 wayshub/nginx:000000000005); "
        "kept 2; in use 1; left 0"
    )


def test_a_repository_another_stacks_containers_use_is_left_whole(tmp_path: Path) -> None:
    containers = [*CONTAINERS, {"id": "c4", "image": f"{APP}:000000000004", "stack": "prod"}]
    line, removed = run_prune(tmp_path, {"images": IMAGES, "containers": containers}, [f"{APP}:000000000001", NGINX])
    assert removed == ["wayshub/nginx:000000000005"], "the app repository is shared with stack prod"
    assert f"left 1: {APP} (also used by stack prod: give each stack its own" in line


def test_what_docker_refuses_to_remove_is_named_and_the_up_goes_on(tmp_path: Path) -> None:
    refusal = "Error response from daemon: conflict: unable to remove repository reference\n(must force)"
    state = {"images": IMAGES, "containers": CONTAINERS, "rm_fails": {f"{APP}:000000000002": refusal}}
    line, removed = run_prune(tmp_path, state, [f"{APP}:000000000001", NGINX])
    assert removed == [f"{APP}:000000000004", "wayshub/nginx:000000000005"]
    assert line.endswith(f"left 1: {APP}:000000000002 ({refusal.replace(chr(10), ' ')})"), line


def test_without_the_list_of_containers_nothing_is_removed(tmp_path: Path) -> None:
    line, removed = run_prune(tmp_path, {"images": IMAGES, "containers": [], "ps_fails": True}, [NGINX])
    assert removed == []
    assert line == "images: none removed (cannot list the containers: Cannot connect to the Docker daemon)"


def test_the_prune_script_is_shellcheck_clean_as_sent(tmp_path: Path) -> None:
    if shutil.which("shellcheck") is None:
        if os.environ.get("CI"):
            pytest.fail("shellcheck is not installed (.ci/run installs it)")
        pytest.skip("shellcheck is not installed")
    sent = tmp_path / "prune.sh"
    sent.write_text("#!/usr/bin/env bash\n" + shlex.split(prune_command(args(), [NGINX]))[2])
    result = subprocess.run(["shellcheck", "-S", "warning", "-s", "bash", str(sent)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(("text", "expected"), [("short\nerror\n", "short error"), ("x" * 450, "x" * 400)])
def test_one_line_joins_lines_and_keeps_the_last_400_characters(text: str, expected: str) -> None:
    """lib.sh's one_line (the prune line's and the switch's failure detail): a short text was once dropped."""
    snippet = (HOST_SCRIPTS / "lib.sh").read_text() + 'one_line "$1"'
    result = subprocess.run(["bash", "-c", snippet, "bash", text], capture_output=True, text=True, check=True)
    assert result.stdout == expected
