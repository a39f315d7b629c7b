"""Two LBs sharing an address (``hosts.lbServers``, issue 30): the keepalived file each LB gets, where the
sandbox puts them, and the order the program declares (read from the graph under the Pulumi mocks, as
tests/unit/test_rollout_graph.py does). tests/e2e/test_failover.py runs it for real."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from components.config import FailoverConfig, parse
from components.hosts.sandbox import SandboxVmArgs, docker_run_argv
from components.load_balancer import holder
from components.load_balancer.failover import advert_text, mark, render_config
from components.load_balancer.holder import holds, publish_order
from tests.unit.pulumi_mocks import MOCKS
from tests.unit.test_rollout_graph import DEPENDENCIES, PINNED, checkpoint, program_config, run_program

__all__ = ["checkpoint", "program_config"]  # fixtures


def failover_settings(lb: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "domain": "wayshub.test",
        "hosts": {
            "provider": "sandbox",
            "appServers": [{"name": "fa1"}, {"name": "fa2"}],
            "lbServers": [{"name": "fl1"}, {"name": "fl2"}],
        },
        "app": {"releasePin": PINNED, "nodeInstall": "apt"},
        "lb": lb or {},
        "sandbox": {"subnet": "172.30.99.0/24"},
        "hostsFile": {"enabled": False},
    }


def config_text(**overrides: Any) -> str:
    args: dict[str, Any] = {
        "site_name": "wayshub-prod",
        "server": "lb1",
        "own_address": "10.0.0.10",
        "peers": ["10.0.0.9"],
        "virtual_address": "10.0.0.5",
        "priority": 150,
        "settings": FailoverConfig(),
        "listen_port": 80,
    }
    return render_config(**{**args, **overrides})


def test_the_file_starts_with_our_mark_and_names_peer_address_and_check() -> None:
    text = config_text()
    assert text.splitlines()[0] == mark("wayshub-prod")
    assert "    unicast_src_ip 10.0.0.10\n    unicast_peer {\n        10.0.0.9\n    }\n    check_unicast_src\n" in text
    assert "        10.0.0.5/32\n" in text and "    include /etc/keepalived/wayshub-prod-interface.conf\n" in text
    assert "    priority 150\n" in text and "    advert_int 0.25\n" in text and "    nopreempt\n" in text
    assert 'script "/usr/local/lib/wayshub/wayshub-prod-keepalived-check 80"' in text


def test_preempt_drops_nopreempt_and_the_interval_is_in_seconds() -> None:
    text = config_text(settings=FailoverConfig(preempt=True, advertInterval="1s"))
    assert "nopreempt" not in text
    assert "    advert_int 1\n" in text
    assert [advert_text(s) for s in (0.05, 0.25, 1.0, 2.5)] == ["0.05", "0.25", "1", "2.5"]


@pytest.mark.parametrize(
    "field", [{"own_address": "10.0.0.10\n}"}, {"peers": ["10.0.0.9 }"]}, {"virtual_address": "fe80::5%eth0"}]
)
def test_an_address_that_is_not_an_ip_address_never_reaches_the_file(field: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"not an IP address|zone ID"):
        config_text(**field)


def test_two_sandbox_lbs_are_at_10_and_9_share_5_and_may_speak_vrrp() -> None:
    config = parse(failover_settings())
    assert config.virtual_address == "172.30.99.5"
    assert [s.name for s in config.hosts.load_balancers] == ["fl1", "fl2"]
    assert config.hosts_entry_address == "172.30.99.5"
    network: Any = type("Net", (), {"network_name": "n"})()
    vrrp = docker_run_argv(
        SandboxVmArgs("fl2", "c", "img", network, "172.30.99.9", 2223, "s", vrrp=True), "ssh-ed25519 AAAA"
    )
    plain = docker_run_argv(SandboxVmArgs("fa1", "c", "img", network, "172.30.99.11", 2221, "s"), "ssh-ed25519 AAAA")
    assert "NET_ADMIN" in vrrp and "NET_RAW" not in vrrp
    assert "NET_ADMIN" not in plain and plain[plain.index("NET_RAW") - 1] == "--cap-drop"


def test_the_program_publishes_the_second_lb_first_and_starts_keepalived_on_the_first_first(
    program_config: dict[str, Any],
) -> None:
    run_program(program_config, failover_settings())

    # A site change reaches fl2 first, then fl1; each LB's keepalived starts once its site is published.
    assert "lb2-site" in DEPENDENCIES["lb-site"]
    assert "lb-site" not in DEPENDENCIES["lb2-site"]
    assert "lb-site" in DEPENDENCIES["lb-vrrp-keepalived"]
    assert {"lb2-site", "lb-vrrp-keepalived"} <= DEPENDENCIES["lb2-vrrp-keepalived"]
    assert {"lb-health-service", "lb2-health-service"} <= set(MOCKS.registered)

    first = MOCKS.registered["lb-vrrp-keepalived"].inputs
    second = MOCKS.registered["lb2-vrrp-keepalived"].inputs
    assert "priority 150" in first["stdin"] and "        172.30.99.9\n" in first["stdin"]
    assert "priority 100" in second["stdin"] and "        172.30.99.10\n" in second["stdin"]
    script = shlex.split(first["create"])[-1]
    assert "OWN_ADDRESS=172.30.99.10\n" in script
    assert "keepalived --config-test" in script
    # refresh reads the file back (byte for byte the rendered text), the script, the drop-in and the unit.
    checks = MOCKS.registered["lb-vrrp-state"].inputs["checks"]
    assert [c[0] for c in checks] == ["content", "mode", "content", "content", "active"]
    assert "lb-vrrp-state" in DEPENDENCIES["lb-vrrp-keepalived"]


def test_with_acme_the_first_lb_issues_one_certificate_for_both_once_the_address_is_held(
    program_config: dict[str, Any],
) -> None:
    run_program(program_config, failover_settings({"tls": "acme", "acme": {"directoryUrl": "https://acme.test/d"}}))

    assert "lb-certificate" in MOCKS.registered and "lb2-certificate" not in MOCKS.registered
    inputs = MOCKS.registered["lb-certificate"].inputs

    # Each HTTP-01 answer goes to both LBs' webroots: the CA reaches whichever holds the address.
    def plain(value: Any) -> Any:  # a connection holds a key: it arrives as a secret
        return value["value"] if isinstance(value, dict) and "value" in value else value

    def vm(connection: Any) -> str:
        return str(plain(connection)["gone_if"]).split()[4]  # the sandbox VM it reaches

    assert vm(inputs["connection"]) == "wayshub-test-fl1"
    assert [vm(c) for c in plain(inputs["other_lbs"])] == ["wayshub-test-fl2"]
    # Issued once both serve port 80 and keepalived runs (the address is held); both LBs' files wait for it.
    assert {"lb-acme-front", "lb2-acme-front", "lb-vrrp-keepalived"} <= DEPENDENCIES["lb-certificate"]
    for lb in ("lb", "lb2"):
        assert "lb-certificate" in DEPENDENCIES[f"{lb}-tls-certificate"]
        assert "lb-certificate" in DEPENDENCIES[f"{lb}-tls-key"]
        assert f"{lb}-acme-front" in DEPENDENCIES[f"{lb}-vrrp-keepalived"]
    assert "lb2-site" in DEPENDENCIES["lb-site"]


def test_with_one_lb_the_certificate_names_no_other_lb(program_config: dict[str, Any]) -> None:
    settings = failover_settings({"tls": "acme", "acme": {"directoryUrl": "https://acme.test/d"}})
    settings["hosts"] = {**settings["hosts"], "lbServers": None, "lbServer": {"name": "fl1"}}
    del settings["hosts"]["lbServers"]
    run_program(program_config, settings)
    assert MOCKS.registered["lb-certificate"].inputs.get("other_lbs") is None  # a stack from before: no change


def test_the_holder_is_read_from_ip_and_takes_a_site_change_last() -> None:
    shown = "2: eth0    inet 172.30.99.10/24 brd 172.30.99.255 scope global eth0\n"
    assert not holds(shown, "172.30.99.5")
    assert holds(shown + "2: eth0    inet 172.30.99.5/32 scope global eth0\n", "172.30.99.5")
    assert not holds("2: eth0    inet 172.30.99.50/32 scope global eth0\n", "172.30.99.5")
    assert publish_order(2, None) == [1, 0]  # nobody holds it (a first deploy): the second LB first
    assert publish_order(2, 0) == [1, 0]
    assert publish_order(2, 1) == [0, 1]  # after a failover without preempt: the first LB first


@pytest.mark.parametrize("tls", ["off", "acme"])
def test_when_the_second_lb_holds_the_address_the_first_takes_a_change_first(
    program_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tls: str
) -> None:
    monkeypatch.setattr(holder, "address_holder", lambda config, stack, private_key: 1)
    lb = {"tls": tls, **({"acme": {"directoryUrl": "https://acme.test/d"}} if tls == "acme" else {})}
    run_program(program_config, failover_settings(lb))
    assert "lb-site" in DEPENDENCIES["lb2-site"] and "lb2-site" not in DEPENDENCIES["lb-site"]
    if tls == "acme":  # declared first now, the issuer still waits for the other LB's port 80 and keepalived
        assert {"lb2-acme-front", "lb-vrrp-keepalived"} <= DEPENDENCIES["lb-certificate"]
        assert "lb-certificate" in DEPENDENCIES["lb2-tls-key"]
