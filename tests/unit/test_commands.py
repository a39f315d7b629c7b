"""Shell command building: values arrive as literal text, whatever they contain."""

from __future__ import annotations

import subprocess

import pytest

from components.shell import cmd, fail, script, when

HOSTILE = ["; whoami", "$(id)", "`id`", "a b", "it's", '"quoted"', "line\nbreak", "*", "--flag"]


@pytest.mark.parametrize("value", HOSTILE)
def test_cmd_passes_hostile_values_through_as_one_literal_argument(value: str) -> None:
    line = cmd("printf", "%s", value)
    out = subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=True).stdout
    assert out == value


def test_cmd_output_for_a_plain_and_a_hostile_argument() -> None:
    assert cmd("docker", "rm", "--force", "vm; rm -rf /") == "docker rm --force 'vm; rm -rf /'"


def test_script_runs_with_errexit_and_pipefail() -> None:
    result = subprocess.run(["bash", "-c", script(["false | true", "echo after"])], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stdout == ""


def test_fail_prints_the_message_on_stderr_and_exits_1() -> None:
    result = subprocess.run(
        ["bash", "-c", fail("no $(id) here") + "; echo unreachable"], capture_output=True, text=True
    )
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "no $(id) here\n")


def test_when_runs_the_action_only_if_the_condition_holds() -> None:
    ran = subprocess.run(
        ["bash", "-c", when("true", "echo yes") + "; " + when("false", "echo no")], capture_output=True, text=True
    )
    assert ran.stdout == "yes\n"
