"""scripts/switch_commands/: which resources a backend switch re-types, and the state edit that keeps their deletes from running."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.layout import SITE_TYPE

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from switch_commands import (
    NOT_PURE,
    Plan,
    Refused,
    Step,
    config_with,
    describe,
    pending_operations,
    plan_switch,
    protected,
    retain_on_delete,
    stack_file_of,
)

PREFIX = "urn:pulumi:local::wayshub::"
OLD_REMOTE = "pulumi-python:dynamic/wayshub:RemoteCommand"
NEW_REMOTE = "command:remote:Command"
OLD_LOCAL = "pulumi-python:dynamic/wayshub:LocalCommand"
NEW_LOCAL = "command:local:Command"


def urn(qualified_type: str, name: str) -> str:
    return f"{PREFIX}{qualified_type}::{name}"


RELEASE_OLD = urn(f"wayshub:app:NodeApp${OLD_REMOTE}", "app1-app-release")
RELEASE_NEW = urn(f"wayshub:app:NodeApp${NEW_REMOTE}", "app1-app-release")
VM_OLD = urn(f"wayshub:hosts:SandboxVm${OLD_LOCAL}", "app1-container")
VM_NEW = urn(f"wayshub:hosts:SandboxVm${NEW_LOCAL}", "app1-container")
BUILD_OLD = urn(f"wayshub:app:NodeApp${OLD_LOCAL}", "app1-app-build")
BUILD_NEW = urn(f"wayshub:app:NodeApp${NEW_LOCAL}", "app1-app-build")
COMMAND_PROVIDER = urn("pulumi:providers:command", "default_1_2_1")
APP = urn("wayshub:app:NodeApp", "app1-app")


def switch_steps() -> list[Step]:
    """What a preview of the real program shows for a switch to pulumi-command (as the engine orders it)."""
    return [
        Step("same", urn("pulumi:pulumi:Stack", "wayshub-local"), custom=False),
        Step("create", COMMAND_PROVIDER),
        Step("create", BUILD_NEW),
        Step("same", APP, custom=False),
        Step("create", RELEASE_NEW),
        Step("delete", RELEASE_OLD),
        Step("delete", BUILD_OLD),
    ]


def test_every_delete_is_paired_with_its_twin_under_the_new_token() -> None:
    plan = plan_switch(switch_steps())
    assert plan == Plan(retyped={RELEASE_OLD: RELEASE_NEW, BUILD_OLD: BUILD_NEW}, creates=[COMMAND_PROVIDER])


def test_a_delete_with_no_twin_is_a_problem_because_its_delete_command_would_run() -> None:
    gone = urn(f"wayshub:app:NodeApp${OLD_REMOTE}", "app3-app-release")
    plan = plan_switch([*switch_steps(), Step("delete", gone)])
    assert plan.problems == [f"{gone} would be deleted with no new twin of that name (its delete would run){NOT_PURE}"]
    assert gone not in plan.retyped


def test_a_twin_of_the_same_type_is_no_twin() -> None:
    """Same name, same type: that is the program dropping one and adding another, not a re-typing."""
    plan = plan_switch([Step("create", RELEASE_OLD), Step("delete", RELEASE_OLD)])
    assert plan.retyped == {}
    assert len(plan.problems) == 1


def test_two_candidate_twins_are_a_problem_not_a_guess() -> None:
    other = urn(f"wayshub:load_balancer:NginxLoadBalancer${NEW_REMOTE}", "app1-app-release")
    plan = plan_switch([Step("create", RELEASE_NEW), Step("create", other), Step("delete", RELEASE_OLD)])
    assert plan.retyped == {}
    assert plan.problems == [
        f"{RELEASE_OLD} would be deleted with no new twin of that name (its delete would run){NOT_PURE}"
    ]


@pytest.mark.parametrize("op", ["replace", "create-replacement", "delete-replaced", "discard-replaced"])
def test_any_replacement_is_a_problem(op: str) -> None:
    plan = plan_switch([*switch_steps(), Step(op, RELEASE_NEW)])
    assert plan.problems == [f"{RELEASE_NEW} would be replaced (its delete command would run){NOT_PURE}"]


def test_providers_come_and_go_without_a_problem_and_updates_of_commands_are_listed() -> None:
    old_provider = urn("pulumi:providers:pulumi-python", "default")
    site = urn(f"wayshub:load_balancer:NginxLoadBalancer${OLD_REMOTE}", "lb-site")
    plan = plan_switch(
        [
            *switch_steps(),
            Step("delete", old_provider),
            Step("update", old_provider),
            Step("update", APP, custom=False),
            Step("update", site),
        ]
    )
    assert plan.problems == []
    assert plan.updates == [site]
    assert old_provider not in plan.retyped


def test_retain_on_delete_marks_exactly_the_retyped_resources_and_leaves_the_export_alone() -> None:
    deployment: dict[str, Any] = {
        "manifest": {"time": "t"},
        "resources": [
            {"urn": RELEASE_OLD, "type": OLD_REMOTE, "custom": True, "inputs": {"create": "x"}},
            {"urn": VM_OLD, "type": OLD_LOCAL, "custom": True, "protect": False},
            {"urn": APP, "type": "wayshub:app:NodeApp", "custom": False},
        ],
    }
    before = copy.deepcopy(deployment)
    marked = retain_on_delete(deployment, [RELEASE_OLD, VM_OLD])
    assert deployment == before
    assert marked == {
        "manifest": {"time": "t"},
        "resources": [
            {**before["resources"][0], "retainOnDelete": True},
            {**before["resources"][1], "retainOnDelete": True},
            before["resources"][2],
        ],
    }


def test_retain_on_delete_refuses_a_resource_the_state_no_longer_has() -> None:
    with pytest.raises(Refused) as refused:
        retain_on_delete({"resources": [{"urn": VM_OLD}]}, [VM_OLD, RELEASE_OLD])
    assert str(refused.value) == f"the state has no resource {RELEASE_OLD} (it changed while we looked): run again"


def test_pending_operations_and_protected_resources_are_named() -> None:
    deployment = {
        "resources": [{"urn": RELEASE_OLD, "protect": True}, {"urn": VM_OLD}],
        "pending_operations": [{"resource": {"urn": VM_OLD}, "type": "creating"}],
    }
    assert pending_operations(deployment) == [f"creating {VM_OLD}"]
    assert pending_operations({"resources": []}) == []
    assert protected(deployment, [RELEASE_OLD, VM_OLD]) == [RELEASE_OLD]


def test_the_preview_config_keeps_the_stack_file_and_sets_only_the_backend(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.local.yaml"
    original: dict[str, Any] = {
        "encryptionsalt": "v1:abc:def",
        "config": {"wayshub:domain": "wayshub.localhost", "wayshub:appSecrets": {"secure": "v1:xyz"}},
    }
    stack_file.write_text(yaml.safe_dump(original))
    text = config_with(stack_file, "wayshub:commands", "pulumi-command")
    assert yaml.safe_load(text) == {
        "encryptionsalt": "v1:abc:def",
        "config": {**original["config"], "wayshub:commands": "pulumi-command"},
    }
    assert yaml.safe_load(stack_file.read_text()) == original
    assert yaml.safe_load(config_with(tmp_path / "Pulumi.none.yaml", "wayshub:commands", "builtin")) == {
        "config": {"wayshub:commands": "builtin"}
    }


def test_the_stack_file_is_found_where_the_project_keeps_its_stack_config(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: wayshub\nruntime: python\nstackConfigDir: stacks\n")
    assert stack_file_of(tmp_path, "organization/wayshub/local") == tmp_path / "stacks" / "Pulumi.local.yaml"
    (tmp_path / "Pulumi.yaml").write_text("name: other\nruntime: python\n")
    assert stack_file_of(tmp_path, "dev") == tmp_path / "Pulumi.dev.yaml"


def test_the_plan_is_printed_one_resource_a_line() -> None:
    plan = Plan(retyped={RELEASE_OLD: RELEASE_NEW}, creates=[COMMAND_PROVIDER], updates=[])
    assert describe(plan, "local", "builtin", "pulumi-command") == [
        "switch-commands: stack local: wayshub:commands builtin -> pulumi-command",
        "  1 resources change type; the old ones leave the state, their delete never runs:",
        f"    app1-app-release: wayshub:app:NodeApp${OLD_REMOTE} -> wayshub:app:NodeApp${NEW_REMOTE}",
        "  1 further resources are created:",
        "    default_1_2_1: pulumi:providers:command",
    ]


@pytest.mark.parametrize("site", ["", f"{SITE_TYPE}$"], ids=["made before the Site", "under the Site"])
def test_a_sandbox_vm_or_network_is_not_switched_in_place(site: str) -> None:
    """Their create commands re-make the VM (docker rm + run): a twin created there would tear the VM down."""
    network_old = urn(f"{site}wayshub:hosts:SandboxNetwork${OLD_LOCAL}", "sandbox-network")
    network_new = urn(f"{site}wayshub:hosts:SandboxNetwork${NEW_LOCAL}", "sandbox-network")
    vm_old = urn(f"{site}wayshub:hosts:SandboxVm${OLD_LOCAL}", "app1-container")
    vm_new = urn(f"{site}wayshub:hosts:SandboxVm${NEW_LOCAL}", "app1-container")
    steps = [Step("create", vm_new), Step("create", network_new), Step("delete", vm_old), Step("delete", network_old)]
    plan = plan_switch([*switch_steps(), *steps])
    assert plan.retyped == {RELEASE_OLD: RELEASE_NEW, BUILD_OLD: BUILD_NEW}
    assert [p.split(": its create")[0] for p in plan.problems] == [vm_old, network_old]
    assert plan.problems[0].endswith(
        "so a sandbox stack cannot switch in place: destroy it and up it with the new setting"
    )
