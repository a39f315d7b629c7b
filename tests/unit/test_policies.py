"""The policy pack's rules (policies/rules.py) on settings made by the real model: each rule on a production
stack that breaks it (its one-line message naming the setting) and on one that keeps it (nothing), and
nothing at all for a stack not marked production. tests/e2e/test_policies.py runs the pack in the engine."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.config import StackConfig
from policies import rules
from policies.rules import RULES, SITE_TYPE, Props, Rule

REPO = Path(__file__).resolve().parents[2]
KEYS = {
    name: f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{letter * 43}"
    for name, letter in (("app1", "A"), ("app2", "B"), ("lb", "C"))
}

# A production stack as a team would write it: existing servers with pinned host keys, ACME certificates,
# an exact Node and a pinned release.
COMPLIANT: dict[str, Any] = {
    "domain": "shop.example.com",
    "hosts": {
        "provider": "existing",
        "user": "deploy",
        "appServers": [
            {"name": "app1", "address": "192.0.2.11", "hostKey": KEYS["app1"]},
            {"name": "app2", "address": "192.0.2.12", "hostKey": KEYS["app2"]},
        ],
        "lbServer": {"name": "lb", "address": "192.0.2.10", "hostKey": KEYS["lb"]},
    },
    "app": {"nodeVersion": "22.11.0", "releasePin": "0123456789ab"},
    "lb": {"tls": "acme", "acme": {"directoryUrl": "letsencrypt", "email": "ops@example.com"}},
}


def settings(raw: dict[str, Any], production: bool = True) -> dict[str, Any]:
    """What the program hands the Site component: the checked settings, dumped as the stack file spells them."""
    if "production" in StackConfig.model_fields:
        return StackConfig.model_validate({**raw, "production": production}).model_dump(mode="json", by_alias=True)
    dumped = StackConfig.model_validate(raw).model_dump(mode="json", by_alias=True)
    dumped["production"] = production  # until the model has the field (wayshub:production)
    return dumped


def props(raw: dict[str, Any], plain_secrets: list[str] | None = None, production: bool = True) -> Props:
    return {"settings": settings(raw, production), "plainSecrets": plain_secrets or []}


def changed(path: str, value: Any, base: dict[str, Any] = COMPLIANT) -> dict[str, Any]:
    """``base`` with the setting at ``path`` (``hosts.appServers.0.hostKey``) set; ``None`` removes it."""
    raw = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = raw
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    elif value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return raw


def rule(name: str) -> Rule:
    (found,) = [r for r in RULES if r.name == name]
    return found


def assert_one_line_each(messages: list[str], *starts: str) -> None:
    """Exactly these messages, in order, each one line starting with its setting's full name."""
    assert len(messages) == len(starts), messages
    for message, start in zip(messages, starts, strict=True):
        assert "\n" not in message
        assert message.startswith(f"{start}: production "), message


PLAIN_HTTP = changed("lb.acme", None, changed("lb.tls", "off"))
# One more site of wayshub:sites that keeps every rule (its app on a port of its own).
SITE: dict[str, Any] = {
    "name": "shop",
    "domain": "shop2.example.com",
    "tls": "acme",
    "app": {"port": 3001, "nodeVersion": "22.11.0", "releasePin": "ba9876543210"},
}


def with_site(path: str = "", value: Any = None) -> dict[str, Any]:
    """The compliant stack with ``SITE`` in ``sites``, the site's setting at ``path`` set (None: removed)."""
    site = changed(path, value, SITE) if path else copy.deepcopy(SITE)
    return changed("sites", [site])


CONTAINERS: dict[str, Any] = {
    "domain": "shop.example.com",
    "hosts": {"provider": "containers", "appServers": [{"name": "app1"}, {"name": "app2"}], "lbServer": {"name": "lb"}},
    "app": {"nodeVersion": "22.11.0", "releasePin": "0123456789ab"},
}


def test_a_compliant_production_stack_passes_every_rule() -> None:
    for each in RULES:
        assert each.check(props(COMPLIANT)) == [], each.name


def test_a_stack_not_marked_production_is_not_checked() -> None:
    breaking = changed("hosts.appServers", [{"name": "app1", "address": "192.0.2.11"}], PLAIN_HTTP)
    development = props(breaking, ["wayshub:appSecrets"], production=False)
    assert all(each.check(development) for each in RULES[:4]), "the rules themselves do not look at the mark"
    assert [rules.violations(each, SITE_TYPE, development) for each in RULES] == [[]] * len(RULES)


def test_only_the_site_component_is_checked() -> None:
    breaking = props(PLAIN_HTTP)
    assert rules.violations(rule("production-https"), SITE_TYPE, breaking)
    assert rules.violations(rule("production-https"), "wayshub:index:Other", breaking) == []


def test_the_levels_are_what_docs_policies_md_says() -> None:
    levels = {each.name: each.level for each in RULES}
    assert levels == {
        "production-app-servers": "mandatory",
        "production-https": "mandatory",
        "production-host-keys": "mandatory",
        "production-encrypted-secrets": "mandatory",
        "production-app-user": "mandatory",
        "production-node-pinned": "advisory",
        "production-release-pinned": "advisory",
    }
    docs = (REPO / "docs" / "policies.md").read_text()
    for name, level in levels.items():
        assert re.search(rf"`{name}`.*\|\s*{level}\s*\|", docs), f"docs/policies.md: {name} as {level}"


def test_one_app_server_is_refused() -> None:
    one = changed("hosts.appServers", [COMPLIANT["hosts"]["appServers"][0]])
    found = rules.app_servers(props(one))
    assert found == ["wayshub:hosts.appServers: production needs at least 2 app servers (has 1)"]


def test_a_site_on_one_app_server_is_refused() -> None:
    found = rules.app_servers(props(with_site("servers", ["app1"])))
    assert_one_line_each(found, "wayshub:sites[0].servers")
    assert "site shop" in found[0]
    assert rules.app_servers(props(with_site("servers", ["app1", "app2"]))) == []
    assert rules.app_servers(props(with_site())) == []


def test_plain_http_is_refused() -> None:
    found = rules.https(props(PLAIN_HTTP))
    assert_one_line_each(found, "wayshub:lb.tls")
    assert "redirected" in found[0]


@pytest.mark.parametrize("tls", ["self-signed", "acme"])
def test_any_tls_passes_https(tls: str) -> None:
    raw = changed("lb.tls", tls) if tls == "acme" else changed("lb.acme", None, changed("lb.tls", tls))
    assert rules.https(props(raw)) == []


def test_a_site_without_tls_is_refused() -> None:
    found = rules.https(props(with_site("tls", "off")))
    assert_one_line_each(found, "wayshub:sites[0].tls")
    assert rules.https(props(with_site())) == []


def test_containers_mode_cannot_be_production() -> None:
    assert_one_line_each(rules.https(props(CONTAINERS)), "wayshub:hosts.provider")


@pytest.mark.parametrize(
    ("path", "setting"),
    [
        ("hosts.appServers.1.hostKey", "wayshub:hosts.appServers[1].hostKey"),
        ("hosts.lbServer.hostKey", "wayshub:hosts.lbServer.hostKey"),
    ],
)
def test_an_existing_server_without_a_pinned_host_key_is_refused(path: str, setting: str) -> None:
    found = rules.host_keys(props(changed(path, None)))
    assert_one_line_each(found, setting)


def test_two_load_balancers_each_need_a_pinned_host_key() -> None:
    raw = changed("hosts.lbServer", None)
    raw["hosts"]["lbServers"] = [
        {"name": "lb1", "address": "192.0.2.9", "hostKey": KEYS["lb"]},
        {"name": "lb2", "address": "192.0.2.8"},
    ]
    raw["lb"]["failover"] = {"virtualAddress": "192.0.2.5"}
    assert_one_line_each(rules.host_keys(props(raw)), "wayshub:hosts.lbServers[1].hostKey")


def test_sandbox_vms_and_containers_need_no_host_keys() -> None:
    sandbox = {**COMPLIANT, "hosts": {"appServers": [{"name": "app1"}, {"name": "app2"}], "lbServer": {"name": "lb"}}}
    assert rules.host_keys(props(sandbox)) == []
    assert rules.host_keys(props(CONTAINERS)) == []


def test_a_secret_in_plain_text_is_refused() -> None:
    found = rules.encrypted_secrets(props(COMPLIANT, ["wayshub:appSecrets", "wayshub:dnsTsigSecret"]))
    assert_one_line_each(found, "wayshub:appSecrets", "wayshub:dnsTsigSecret")
    assert "pulumi config set --secret wayshub:appSecrets" in found[0]
    assert rules.encrypted_secrets(props(COMPLIANT, [])) == []


@pytest.mark.parametrize(
    ("where", "setting"),
    [(("user",), "wayshub:hosts.user"), (("appServers", 1, "user"), "wayshub:hosts.appServers[1].user")],
)
def test_the_app_running_as_the_login_user_is_refused(where: tuple[str | int, ...], setting: str) -> None:
    # The program's own check refuses this before any resource (components/config/stack.py): the dict is
    # changed after the model, as any other program that declares the Site could hand it over.
    site_props = props(COMPLIANT)
    node: Any = site_props["settings"]["hosts"]
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = site_props["settings"]["app"]["name"]
    found = rules.app_user(site_props)
    assert_one_line_each(found, setting)
    assert "sudo" in found[0]


def test_a_login_user_of_its_own_passes() -> None:
    assert rules.app_user(props(changed("hosts.appServers.0.user", "ubuntu"))) == []
    assert rules.app_user(props(CONTAINERS)) == []


@pytest.mark.parametrize("version", ["22", "22.11", None])
def test_a_node_version_line_is_advised_against(version: str | None) -> None:
    found = rules.node_pinned(props(changed("app.nodeVersion", version)))
    assert_one_line_each(found, "wayshub:app.nodeVersion")


@pytest.mark.parametrize("install", ["apt", "nodesource"])
def test_a_distro_or_nodesource_node_is_advised_against(install: str) -> None:
    found = rules.node_pinned(props(changed("app.nodeInstall", install)))
    assert_one_line_each(found, "wayshub:app.nodeInstall")


def test_an_exact_node_passes_also_for_each_site() -> None:
    assert rules.node_pinned(props(changed("app.nodeVersion", "v22.11.0"))) == []
    assert rules.node_pinned(props(with_site())) == []
    found = rules.node_pinned(props(with_site("app.nodeVersion", None)))
    assert_one_line_each(found, "wayshub:sites[0].app.nodeVersion")


def test_an_unpinned_release_is_advised_against() -> None:
    found = rules.release_pinned(props(changed("app.releasePin", None)))
    assert_one_line_each(found, "wayshub:app.releasePin")
    found = rules.release_pinned(props(with_site("app.releasePin", None)))
    assert_one_line_each(found, "wayshub:sites[0].app.releasePin")
    assert rules.release_pinned(props(with_site())) == []


def test_the_policy_proxies_become_plain_data() -> None:
    from collections.abc import Mapping, Sequence

    class Proxy(Mapping[str, Any]):
        def __init__(self, data: dict[str, Any]) -> None:
            self.data = data

        def __getitem__(self, key: str) -> Any:
            return self.data[key]

        def __iter__(self) -> Any:
            return iter(self.data)

        def __len__(self) -> int:
            return len(self.data)

    class ListProxy(Sequence[Any]):
        def __init__(self, data: list[Any]) -> None:
            self.data = data

        def __getitem__(self, index: Any) -> Any:
            return self.data[index]

        def __len__(self) -> int:
            return len(self.data)

    proxied = Proxy({"settings": Proxy({"hosts": Proxy({"appServers": ListProxy([Proxy({"name": "a"})])})})})
    assert rules.plain(proxied) == {"settings": {"hosts": {"appServers": [{"name": "a"}]}}}


def test_the_pack_requirements_are_pinned() -> None:
    lines = [line.split("#")[0].strip() for line in (REPO / "policies" / "requirements.txt").read_text().splitlines()]
    pins = [line for line in lines if line]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", pin) for pin in pins), pins
    assert "pulumi-policy==1.21.0" in pins
    program_sdk = [line for line in (REPO / "requirements.txt").read_text().splitlines() if line.startswith("pulumi==")]
    assert program_sdk and program_sdk[0].split()[0] in pins, "the pack runs the program's SDK version"


def test_the_shim_hands_the_program_to_python3_and_needs_the_pack_venv(tmp_path: Path) -> None:
    shim = REPO / "policies" / "python-shim"
    ran = subprocess.run([str(shim), "-c", "print('program')"], capture_output=True, text=True, check=True)
    assert ran.stdout == "program\n"
    lone = tmp_path / "pack"
    lone.mkdir()
    shutil.copy(shim, lone / "python-shim")
    ran = subprocess.run([str(lone / "python-shim"), "", "127.0.0.1:1"], capture_output=True, text=True, check=False)
    assert ran.returncode == 1
    assert ran.stderr.strip() == f"policy pack {lone}: no venv: run `make policy-venv`"


def test_the_pack_names_the_type_and_namespace_the_program_uses() -> None:
    """The pack stands alone (its own venv, no import of the program), so it spells these itself: the same."""
    from components.config import NAMESPACE, SECRET_SETTINGS
    from components.layout import SITE_TYPE as PROGRAM_SITE_TYPE

    assert (SITE_TYPE, rules.NAMESPACE) == (PROGRAM_SITE_TYPE, NAMESPACE)
    assert all(name.startswith(f"{rules.NAMESPACE}:") for name in SECRET_SETTINGS)
