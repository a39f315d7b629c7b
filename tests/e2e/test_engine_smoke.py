"""The real Pulumi engine drives a trivial program through its whole life cycle."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.e2e import slots
from tests.e2e.pulumi_cli import REPO, PulumiCli, engine_env

sys.path.insert(0, str(REPO / "scripts"))  # scripts/ is a folder of tools, not a package
from torn_state import repair

STACK = slots.name("smoke")

pytestmark = pytest.mark.e2e


@pytest.fixture()
def smoke(tmp_path: Path) -> PulumiCli:
    project = tmp_path / "project"
    shutil.copytree(REPO / "tests" / "e2e" / "programs" / "smoke", project)
    (project / "Pulumi.yaml").write_text(
        "name: wayshub-smoke\n"
        "runtime:\n"
        "  name: python\n"
        "  options:\n"
        "    toolchain: pip\n"
        f"    virtualenv: {REPO / 'venv'}\n"
    )
    return PulumiCli(project, engine_env(tmp_path / "state", tmp_path / "home"))


def test_engine_version_is_a_3_2xx_release(smoke: PulumiCli) -> None:
    version = smoke.workspace.pulumi_version  # `pulumi version`, without its "v"
    assert version.startswith("3.2"), version


def test_stack_life_cycle_creates_keeps_and_removes_the_file(smoke: PulumiCli, tmp_path: Path) -> None:
    target = tmp_path / "made-by-pulumi.txt"
    smoke.init_stack(STACK)
    smoke.set_config("target", str(target))

    planned = smoke.preview_steps()
    assert [(s.op, s.name) for s in planned if s.op != "same"] == [
        ("create", f"wayshub-smoke-{STACK}"),
        ("create", "marker"),
    ]
    assert not target.exists(), "a preview must not run the command"

    first = smoke.up_summary()
    assert first.get("create") == 2, first
    assert target.read_text() == "hello from wayshub\n"
    assert smoke.outputs()["stdout"] == "hello from wayshub\n"

    second = smoke.up_summary()
    assert set(second) == {"same"}, f"a second up must change nothing, engine reported {second}"

    smoke.destroy()
    assert not target.exists(), "destroy must run the delete command"
    smoke.remove_stack()
    assert STACK not in [s.name for s in smoke.workspace.list_stacks()]


def test_torn_state_metadata_from_a_killed_engine_is_mended_by_recover(smoke: PulumiCli, tmp_path: Path) -> None:
    """A kill between writing a state file and its ``.attrs`` leaves the stack unreadable; recover's first
    step (scripts/torn_state.py) makes it readable again."""
    smoke.init_stack(STACK)
    smoke.set_config("target", str(tmp_path / "made-by-pulumi.txt"))
    smoke.up()
    state_dir = Path(smoke.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    (attrs,) = state_dir.glob(f".pulumi/stacks/*/{STACK}.json.attrs")
    attrs.write_text("")  # what os.Create leaves when the engine dies before the write
    broken = smoke.preview(check=False)
    assert broken.returncode != 0 and "failed to load checkpoint: EOF" in broken.output, broken.output
    assert attrs in repair(state_dir)
    smoke.preview(expect_no_changes=True)
    smoke.destroy()
    smoke.remove_stack()
