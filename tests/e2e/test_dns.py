"""DNS records through the real engine, on the session's deployed site, against a real BIND 9.

The site's domain gets an A record on a BIND the harness starts (tests/e2e/bind_server.py), next to
its hosts-file entry. The module leaves the site as it found it: its last step removes ``wayshub:dns``
again (the engine deletes the records: the same provider step a ``destroy`` runs), and the fixture
restores the stack config whatever happened.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.resolver
import pytest

from components.names.dns_addresses import RecordSet
from tests.e2e.bind_server import ADDRESS, PORT, UNUSED_ADDRESS, Bind, bind_server
from tests.e2e.site import DOMAIN, HTTP_PORT, Site, get_http_headers, write_stack_config

pytestmark = pytest.mark.e2e

APP_SERVERS = ["app1", "app2"]
SECRET_SETTING = "wayshub:dnsTsigSecret"
TAKEN = f"taken.{DOMAIN}"


def configure(site: Site, bind: Bind, secret: str | None = None, **dns_changes: Any) -> None:
    """The site's usual config plus ``wayshub:dns`` for ``bind``, and the TSIG secret set with --secret."""
    write_stack_config(site, app_servers=APP_SERVERS, extra={"wayshub:dns": bind.stack_config(**dns_changes)})
    site.cli.set_config(SECRET_SETTING, secret or bind.secret, secret=True)


def up(site: Site, check: bool = True) -> str:
    result = site.cli.up(check=check)
    return result.stdout + result.stderr


def state_text(site: Site) -> str:
    state_dir = Path(site.cli.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    return "\n".join(p.read_text(errors="replace") for p in state_dir.rglob("*") if p.is_file())


def dns_outputs(site: Site, name: str = DOMAIN) -> dict[str, Any]:
    state = site.cli.state()
    (resource,) = [r for r in state["deployment"]["resources"] if r["urn"].endswith(f"::dns-{name}")]
    return dict(resource["outputs"])


@pytest.fixture(scope="module")
def bind() -> Iterator[Bind]:
    with bind_server(DOMAIN) as server:
        yield server


@pytest.fixture(scope="module")
def dns_site(site: Site, bind: Bind) -> Iterator[Site]:
    configure(site, bind)
    yield site
    # Back to the config the other site tests expect (no DNS: the engine deletes our records while BIND runs).
    write_stack_config(site, app_servers=APP_SERVERS)
    site.cli.up()


def test_the_record_appears_and_the_site_answers_through_the_name_it_gives(dns_site: Site, bind: Bind) -> None:
    output = up(dns_site)
    assert bind.dig(DOMAIN, "A") == ["127.0.0.1"], "BIND's own dig sees our record"
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = ["127.0.0.1"], PORT
    (address,) = [record.to_text() for record in resolver.resolve(DOMAIN, "A")]
    status, headers = get_http_headers(port=HTTP_PORT) if address == "127.0.0.1" else (0, {})
    assert status == 200 and headers["x-wayshub-backend"] in APP_SERVERS
    assert f"127.0.0.1\t{DOMAIN}" in dns_site.hosts_file.read_text(), "the hosts entry is kept as well"
    assert bind.dig(f"ns.{DOMAIN}", "A") == [ADDRESS] and bind.dig(f"other.{DOMAIN}", "A") == ["192.0.2.10"]
    # A second up changes nothing, and the secret is nowhere in plain text.
    dns_site.cli.preview(expect_no_changes=True)
    assert bind.secret not in state_text(dns_site) + output
    assert dns_outputs(dns_site)["tsigSecret"].get("4dabf18193072939515e22adb298388d"), "a secret in the state"


def test_a_record_change_previews_as_zone_lines_and_up_applies_it(dns_site: Site, bind: Bind) -> None:
    configure(dns_site, bind, ttl=60, addresses=["127.0.0.1", "fd00::53"])
    preview = dns_site.cli.preview()
    shown = preview.stdout + preview.stderr
    for line in (
        f"- {DOMAIN}. 300 IN A 127.0.0.1",
        f"+ {DOMAIN}. 60 IN A 127.0.0.1",
        f"+ {DOMAIN}. 60 IN AAAA fd00::53",
    ):
        assert line in shown, shown
    assert "tsigSecret    : [secret]" in shown, shown
    assert bind.secret not in shown
    output = up(dns_site)
    assert bind.records(DOMAIN) == RecordSet(("127.0.0.1", "fd00::53"), 60)
    assert bind.secret not in output + state_text(dns_site)
    configure(dns_site, bind)
    up(dns_site)
    assert bind.records(DOMAIN) == RecordSet(("127.0.0.1",), 300)


def test_an_edit_elsewhere_is_drift_on_refresh_and_restored_on_up(dns_site: Site, bind: Bind) -> None:
    bind.edit_out_of_band(DOMAIN, "A", ["127.0.0.1"], ["192.0.2.99"])
    refresh = dns_site.cli.refresh()
    assert bind.secret not in refresh.stdout + refresh.stderr + state_text(dns_site)
    outputs = dns_outputs(dns_site)
    assert (outputs["addresses"], outputs["records"]) == (["192.0.2.99"], f"{DOMAIN}. 60 IN A 192.0.2.99\n")
    preview = dns_site.cli.preview().stdout
    assert f"{DOMAIN}. 60 IN A 192.0.2.99" in preview and f"{DOMAIN}. 300 IN A 127.0.0.1" in preview, preview
    assert bind.secret not in preview
    up(dns_site)
    assert bind.dig(DOMAIN, "A") == ["127.0.0.1"]


def test_a_wrong_tsig_key_fails_in_one_line_and_changes_nothing(dns_site: Site, bind: Bind) -> None:
    wrong = "A" * 43 + "="
    configure(dns_site, bind, secret=wrong, ttl=120)
    try:
        output = up(dns_site, check=False)
        assert (
            f"wayshub:dns: the server at 127.0.0.1:{PORT} rejected the TSIG signature of key 'wayshub-update'" in output
        )
        assert bind.records(DOMAIN) == RecordSet(("127.0.0.1",), 300), "nothing changed"
        assert wrong not in output and bind.secret not in output
    finally:
        configure(dns_site, bind)
    dns_site.cli.preview(expect_no_changes=True)


def test_an_unreachable_server_fails_within_its_timeout_and_the_old_records_stay(dns_site: Site, bind: Bind) -> None:
    configure(dns_site, bind, server=UNUSED_ADDRESS, port=53, timeoutSeconds=3)
    try:
        started = time.monotonic()
        output = up(dns_site, check=False)
        took = time.monotonic() - started
        assert "wayshub:dns: " in output and f"DNS server at {UNUSED_ADDRESS}:53" in output, output[-3000:]
        assert took < 300, f"the failing up took {took:.0f}s"
        assert bind.records(DOMAIN) == RecordSet(("127.0.0.1",), 300), "the records on the old server stay"
    finally:
        configure(dns_site, bind)
    up(dns_site)


def test_records_it_does_not_own_stop_the_up_unless_adopted(dns_site: Site, bind: Bind) -> None:
    configure(dns_site, bind, records=[DOMAIN, TAKEN])
    output = up(dns_site, check=False)
    assert (
        f"wayshub:dns: {TAKEN} already has records this stack does not own: {TAKEN}. 300 IN A 192.0.2.20 "
        "(set dns.adopt: true to take them over)"
    ) in output, output[-3000:]
    assert bind.dig(TAKEN, "A") == ["192.0.2.20"]
    configure(dns_site, bind, records=[DOMAIN, TAKEN], adopt=True)
    up(dns_site)
    assert bind.dig(TAKEN, "A") == ["127.0.0.1"] and bind.dig(DOMAIN, "A") == ["127.0.0.1"]


def test_removing_dns_deletes_only_our_records(dns_site: Site, bind: Bind) -> None:
    configure(dns_site, bind)  # taken.<domain> (adopted above) is dropped: the engine deletes it
    up(dns_site)
    assert bind.dig(TAKEN, "A") == []
    bind.edit_out_of_band(DOMAIN, "A", [], ["192.0.2.77"])  # someone adds an address under our name
    write_stack_config(dns_site, app_servers=APP_SERVERS)
    up(dns_site)
    assert bind.dig(DOMAIN, "A") == ["192.0.2.77"], "only our address went"
    assert bind.dig(f"other.{DOMAIN}", "A") == ["192.0.2.10"] and bind.dig(f"alias.{DOMAIN}", "CNAME")
    assert f"127.0.0.1\t{DOMAIN}" in dns_site.hosts_file.read_text(), "the hosts entry stays"
