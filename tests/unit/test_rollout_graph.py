"""The rolling order and the settle wait, read from the resource graph the real program declares.

``__main__.py`` runs under the shared Pulumi mocks with a sandbox stack of several app servers and a
pinned release (nothing is built). What the engine would receive is recorded per resource: its inputs
(the mocks keep them) and its dependencies (the URNs the SDK sends with each registration, recorded by
wrapping the mock monitor). So the order the engine must keep is checked where the engine reads it.
"""

from __future__ import annotations

import json
import runpy
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pulumi
import pytest
from pulumi.runtime import config as runtime_config
from pulumi.runtime import settings as runtime_settings

from components.app import rollout
from components.config import NAMESPACE
from components.hosts import Host
from components.site.inputs import Tuning
from components.site.program import main
from tests.unit.pulumi_mocks import MOCKS, pulumi_test

REPO = Path(__file__).resolve().parents[2]
PINNED = "0123456789ab"

# Resource name -> names of the resources its registration depends on (as the engine receives them).
DEPENDENCIES: dict[str, set[str]] = {}


def _record_dependencies() -> None:
    """Wrap the mock monitor's RegisterResource (once per process) to keep each request's dependencies."""
    monitor: Any = runtime_settings.get_monitor()
    if getattr(monitor, "wayshub_records_dependencies", False):
        return
    register = monitor.RegisterResource

    def recording(request: Any) -> Any:
        DEPENDENCIES[request.name] = {urn.rsplit("::", 1)[-1] for urn in request.dependencies}
        return register(request)

    monitor.RegisterResource = recording
    monitor.wayshub_records_dependencies = True


_record_dependencies()


def stack_settings(servers: list[str], batch_size: int, lb: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "domain": "wayshub.test",
        "hosts": {"provider": "sandbox", "appServers": [{"name": s} for s in servers], "lbServer": {"name": "lb"}},
        # A pinned release (already on the servers) needs no build, and apt's Node no registry.
        "app": {"releasePin": PINNED, "nodeInstall": "apt"},
        "rollout": {"batchSize": batch_size},
        "lb": lb or {},
        "hostsFile": {"enabled": False},
    }


@pytest.fixture()
def checkpoint() -> Iterator[set[str]]:
    """The resource names of the stack's last checkpoint, as the program reads them (empty: a new stack)."""
    names: set[str] = set()
    MOCKS.checkpoint = names
    yield names
    MOCKS.checkpoint = set()


def deployed_before(servers: list[str], checkpoint: set[str]) -> None:
    """These servers' release steps are in the stack's last checkpoint: an earlier up deployed them."""
    checkpoint.update(deploy_of(s) for s in servers)


@pytest.fixture()
def program_config() -> Iterator[dict[str, Any]]:
    """Stack settings for one program run, set as the mocks' config and removed afterwards."""
    settings: dict[str, Any] = {}
    yield settings
    for key in settings:
        runtime_config.CONFIG.get().pop(f"{NAMESPACE}:{key}", None)


def run_program(settings: dict[str, Any], values: dict[str, Any], tuning: Tuning | None = None) -> None:
    """Declare the program's resources with these stack settings; returns once every one is registered.
    ``tuning``: the bench's way in (its own __main__.py calls the program's ``main`` with one)."""
    settings.update(values)
    for key, value in values.items():
        runtime_config.set_config(f"{NAMESPACE}:{key}", value if isinstance(value, str) else json.dumps(value))

    @pulumi_test
    def declare() -> pulumi.Output[None]:
        if tuning is None:
            runpy.run_path(str(REPO / "__main__.py"), run_name="__main__")
        else:
            main(REPO, tuning)
        return pulumi.Output.from_input(None)

    declare()


def deploy_of(server: str) -> str:
    return f"{server}-app-release"


def deploy_input(server: str, name: str) -> str:
    """One single-line UPPER_CASE input the deploy command assigns before host/deploy.sh, unquoted."""
    create = MOCKS.registered[deploy_of(server)].inputs["create"]
    words = shlex.split(create)
    script = words[words.index("-c") + 1]
    (value,) = [line.removeprefix(f"{name}=") for line in script.splitlines() if line.startswith(f"{name}=")]
    (unquoted,) = shlex.split(value) or [""]
    return unquoted


def previous_deploys(server: str, all_servers: list[str]) -> set[str]:
    """The other hosts' deploy steps this host's deploy step waits for (directly)."""
    others = {deploy_of(s) for s in all_servers if s != server}
    return DEPENDENCIES[deploy_of(server)] & others


def test_batch_size_one_rolls_one_host_after_the_other(program_config: dict[str, Any], checkpoint: set[str]) -> None:
    servers = ["ra1", "ra2", "ra3", "ra4"]
    deployed_before(servers, checkpoint)
    run_program(program_config, stack_settings(servers, batch_size=1))

    waits = {s: previous_deploys(s, servers) for s in servers}
    assert waits == {"ra1": set(), "ra2": {"ra1-app-release"}, "ra3": {"ra2-app-release"}, "ra4": {"ra3-app-release"}}
    # Only the switch is ordered: installing Node and uploading run on every host at once.
    for server in servers:
        assert not DEPENDENCIES[f"{server}-app-node"] & {deploy_of(s) for s in servers}


def test_batch_size_two_rolls_pairs_each_after_the_whole_previous_pair(
    program_config: dict[str, Any], checkpoint: set[str]
) -> None:
    servers = ["rb1", "rb2", "rb3", "rb4", "rb5"]
    deployed_before(servers, checkpoint)
    run_program(program_config, stack_settings(servers, batch_size=2))

    waits = {s: previous_deploys(s, servers) for s in servers}
    first, second = {"rb1-app-release", "rb2-app-release"}, {"rb3-app-release", "rb4-app-release"}
    assert waits == {"rb1": set(), "rb2": set(), "rb3": first, "rb4": first, "rb5": second}


def test_every_host_waits_fail_timeout_plus_a_second_before_the_next_batch(
    program_config: dict[str, Any],
) -> None:
    servers = ["rc1", "rc2", "rc3"]
    run_program(program_config, stack_settings(servers, batch_size=1, lb={"failTimeout": "7s"}))

    # deploy.sh sleeps SETTLE after the health gate only on a host that served a previous release
    # (a first deploy has nothing for nginx to have marked failed): the input is the same for all.
    assert {s: deploy_input(s, "SETTLE") for s in servers} == {s: "8" for s in servers}
    assert {s: deploy_input(s, "RID") for s in servers} == {s: PINNED for s in servers}


def test_the_default_fail_timeout_gives_four_seconds(program_config: dict[str, Any]) -> None:
    servers = ["rd1", "rd2"]
    run_program(program_config, stack_settings(servers, batch_size=1))

    assert [deploy_input(s, "SETTLE") for s in servers] == ["4", "4"]


def test_a_single_app_server_has_no_next_batch_to_settle_for(program_config: dict[str, Any]) -> None:
    run_program(program_config, stack_settings(["re1"], batch_size=1))

    assert deploy_input("re1", "SETTLE") == "0"


def test_the_bench_control_rolls_out_without_the_settle_wait(program_config: dict[str, Any]) -> None:
    """Tuning(settle=False), the rolling-update benchmark's control: no wait after a batch, nothing else changed."""
    servers = ["rt1", "rt2"]
    run_program(program_config, stack_settings(servers, batch_size=1), Tuning(settle=False))
    assert [deploy_input(s, "SETTLE") for s in servers] == ["0", "0"]


def test_the_bench_before_chains_even_a_first_deploy(program_config: dict[str, Any]) -> None:
    """Tuning(chain_first_deploy=True), the first-deploy benchmark's "before": a new stack's hosts in turn."""
    servers = ["ru1", "ru2", "ru3"]
    run_program(program_config, stack_settings(servers, batch_size=1), Tuning(chain_first_deploy=True))
    assert [previous_deploys(s, servers) for s in servers] == [set(), {"ru1-app-release"}, {"ru2-app-release"}]


def test_a_first_deploy_waits_for_no_other_host(program_config: dict[str, Any], checkpoint: set[str]) -> None:
    # A new stack: no host serves traffic yet, so every host's release step runs at once.
    servers = ["rf1", "rf2", "rf3", "rf4"]
    run_program(program_config, stack_settings(servers, batch_size=1))

    assert {s: previous_deploys(s, servers) for s in servers} == {s: set() for s in servers}


def test_hosts_added_to_a_deployed_stack_wait_for_nobody_and_nobody_waits_for_them(
    program_config: dict[str, Any], checkpoint: set[str]
) -> None:
    # rg2 and rg4 are new (say the stack grew from two app servers to five); the others roll in order,
    # each after the previous host that served, skipping the new ones.
    servers = ["rg1", "rg2", "rg3", "rg4", "rg5"]
    deployed_before(["rg1", "rg3", "rg5"], checkpoint)
    checkpoint.add("rg2-app-node")  # an earlier up that failed before rg2's first release: not serving
    run_program(program_config, stack_settings(servers, batch_size=1))

    waits = {s: previous_deploys(s, servers) for s in servers}
    assert waits == {
        "rg1": set(),
        "rg2": set(),
        "rg3": {"rg1-app-release"},
        "rg4": set(),
        "rg5": {"rg3-app-release"},
    }


def test_when_the_last_state_cannot_be_read_every_host_waits_its_turn(
    program_config: dict[str, Any], checkpoint: set[str]
) -> None:
    MOCKS.checkpoint = None
    servers = ["rh1", "rh2", "rh3"]
    run_program(program_config, stack_settings(servers, batch_size=1))

    waits = {s: previous_deploys(s, servers) for s in servers}
    assert waits == {"rh1": set(), "rh2": {"rh1-app-release"}, "rh3": {"rh2-app-release"}}


def test_a_takeover_rolls_every_host_in_order_even_on_a_new_stack(checkpoint: set[str]) -> None:
    # Someone else's app may be serving the hosts through their own nginx: no host is "new".
    hosts = [
        Host(name=n, connection=cast(Any, None), private_address=cast(Any, None), ready=cast(Any, None))
        for n in ("ti1", "ti2")
    ]
    assert [rollout.deployed_before(takeover=True)(h) for h in hosts] == [True, True]
    assert [rollout.deployed_before(takeover=False)(h) for h in hosts] == [False, False]
    deployed_before(["ti2"], checkpoint)
    assert [rollout.deployed_before(takeover=False)(h) for h in hosts] == [False, True]
