"""Containers mode's rollout decisions, without Docker: the release key, which slot a release goes to, and
what the stack's last checkpoint says serves (components/containers/rollout.py, spec.py), and the switch's
command (commands.py)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from components.config import LoadBalancerConfig
from components.containers import ContainerSiteArgs
from components.containers.args import secret_digest
from components.containers.commands import Switch, site_command, switch_command
from components.containers.rollout import (
    Serving,
    kept_images,
    previous_release,
    release_images_from,
    serving_from,
    target_slot,
)
from components.containers.spec import app_spec, release_key, slot_address

REPO = Path(__file__).resolve().parents[2]
IMAGE = "wayshub/app:0123456789ab"
K1, K2 = "0123456789ab", "abcdefabcdef"
R1, R2 = "111111111111", "222222222222"


def args(**changes: object) -> ContainerSiteArgs:
    values: dict[str, object] = {
        "stack": "ur",
        "domain": "wayshub.test",
        "app_servers": ["app1", "app2"],
        "app_source": REPO / "app",
        "subnet": "172.31.99.0/24",
        **changes,
    }
    return ContainerSiteArgs(**values)  # type: ignore[arg-type]


def key(site: ContainerSiteArgs, index: int = 0, slot: str = "a", image: str = IMAGE, secrets: str = "") -> str:
    return release_key(app_spec(site, index, "rel1", slot), image, secrets)


def test_the_key_is_what_the_container_runs_not_where() -> None:
    site = args()
    assert key(site) == key(site, slot="b"), "the slot is not part of the release"
    assert key(site) == key(site, index=0) and len(key(site)) == 12
    assert key(site, image="wayshub/app:ffffffffffff") != key(site), "a code or base change"
    assert key(args(env={"GREETING": "x"})) != key(site), "an env change"
    assert key(site, secrets=secret_digest({"TOKEN": "a"})) != key(site, secrets=secret_digest({"TOKEN": "b"}))
    assert release_key(app_spec(site, 0, "rel2"), IMAGE, "") != key(site), "another release id"


def test_spec_fields_added_later_changed_no_deployed_key() -> None:
    """The keys as they were before ContainerSpec had the LB checker's fields (spec.LATER_FIELDS): a new field left
    unset must not roll every deployed stack to its other slot."""
    assert (key(args()), key(args(env={"GREETING": "x"}))) == ("7440920890c3", "6fe115c53312")


def test_the_secret_digest_never_holds_the_values() -> None:
    digest = secret_digest({"TOKEN": "s3cr3t"})
    assert "s3cr3t" not in digest and len(digest) == 64
    assert secret_digest({}) == ""


def test_a_new_release_goes_to_the_other_slot_the_same_one_stays() -> None:
    assert target_slot(None, "k") == "a", "a new server"
    assert target_slot(Serving("a", "k"), "k") == "a"
    assert target_slot(Serving("a", "k"), "j") == "b"
    assert target_slot(Serving("b", "k"), "j") == "a"


def test_slots_have_fixed_addresses_of_their_own() -> None:
    site = args()
    assert [slot_address(site, i, s) for s in "ab" for i in (0, 1)] == [
        "172.31.99.11", "172.31.99.12", "172.31.99.133", "172.31.99.134",
    ]  # fmt: skip
    small = args(subnet="172.31.99.0/28")
    assert [slot_address(small, i, s) for s in "ab" for i in (0, 1)] == [
        "172.31.99.11", "172.31.99.12", "172.31.99.13", "172.31.99.14",
    ]  # fmt: skip


def urn(name: str) -> str:
    return f"urn:pulumi:s::wayshub::wayshub:containers:ContainerSite$x:y::{name}"


def test_the_serving_slot_is_the_last_switch_the_state_keeps() -> None:
    resources = {
        urn("containers-app1-switch"): {"outputs": {"stdout": f"nginx reloaded\nserving b {K1} {R2} {R1}\n"}},
        urn("containers-app2-switch"): {"outputs": {"stdout": f"serving a {K2} {R1} -"}},
        urn("containers-app3"): {"outputs": {}},  # a container from before slots
        urn("containers-app4-switch"): {"outputs": {"stdout": "nothing we know"}},
        "urn:pulumi:s::wayshub::pulumi:pulumi:Stack::wayshub-s": {
            "type": "pulumi:pulumi:Stack",
            "outputs": {"release_images": {R2: "wayshub/app:2", R1: "wayshub/app:1"}},
        },
    }
    found = serving_from(resources, "containers", ["app1", "app2", "app3", "app4", "app5"])
    assert found == {
        "app1": Serving("b", K1, R2, R1),
        "app2": Serving("a", K2, R1, ""),
        "app3": Serving("a", "legacy"),
    }
    assert release_images_from(resources) == {R2: "wayshub/app:2", R1: "wayshub/app:1"}
    assert release_images_from({}) == {}


def test_the_previous_release_is_what_the_server_ran_before() -> None:
    assert previous_release(None, "a", R1) == ""
    assert previous_release(Serving("a", K1, R1, ""), "b", R2) == R1, "a new release: the serving one"
    assert previous_release(Serving("a", K1, R2, R1), "a", R2) == R1, "no change: the same previous"
    assert previous_release(Serving("a", K1, R2, R1), "b", R2) == R1, "an env change: the same release id"


def test_the_images_of_recent_releases_are_kept() -> None:
    before = {R2: "img2", R1: "img1", "000000000000": "img0"}
    assert kept_images({"333333333333": "img3"}, before, 2) == {"333333333333": "img3", R2: "img2", R1: "img1"}
    assert kept_images({R1: "img1"}, before, 1) == {R1: "img1", R2: "img2"}


@pytest.mark.parametrize("value", ["x; rm -rf /", "$(id)", "it's"])
def test_switch_and_site_commands_quote_every_input(value: str) -> None:
    site = args(domain="wayshub.test", lb=LoadBalancerConfig())
    switch = Switch("app1", "wayshub-ur-app1-b", "b", "0123456789ab", value)
    argv = shlex.split(switch_command(site, switch))
    assert argv[:2] == ["bash", "-c"] and len(argv) == 3
    assert "PREVIOUS=-\n" in argv[2], "no previous release: a dash, so the output line keeps four fields"
    assert f"RELEASE={shlex.quote(value)}\n" in argv[2]
    assert "UPSTREAM_TEXT='server wayshub-ur-app1-b:3000 max_fails=1 fail_timeout=3s;\n'" in argv[2]
    assert "put_nginx_file()" in argv[2] and argv[2].rstrip().endswith('echo "serving $SLOT $KEY $RELEASE $PREVIOUS"')
    site_argv = shlex.split(site_command(site))
    assert "SITE_FILE=/etc/nginx/conf.d/wayshub_ur.conf\n" in site_argv[2]
