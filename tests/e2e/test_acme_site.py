"""``lb.tls: acme`` through the real engine, on the session's deployed site, against a real Pebble and BIND 9.

The stack keeps its DNS records on the tests' BIND (``wayshub:dns``), and Pebble resolves names there: the
domain points at 127.0.0.1, where the sandbox publishes the LB's port 80 (Pebble fetches HTTP-01 answers from
that port). Pebble validates every order again (no reused authorizations), so each renewal proves control.
The module leaves the site as it found it: its fixture puts the usual config back and runs ``up``.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator

import pytest
from cryptography import x509

from bench.loadgen import BackgroundLoad
from tests.e2e import slots
from tests.e2e.bind_server import Bind, bind_server
from tests.e2e.pebble import Pebble, pebble_binary, pebble_server
from tests.e2e.site import DOMAIN, HTTP_PORT, HTTPS_PORT, Site, get_http_headers, get_https, write_stack_config

pytestmark = pytest.mark.e2e

APP_SERVERS = ["app1", "app2"]
SECRET_SETTING = "wayshub:dnsTsigSecret"
CHALLENGE_PATH = "/.well-known/acme-challenge/"
WRONG_ADDRESS = slots.REFUSED_ADDRESS  # nothing listens there: Pebble's fetch is refused


@pytest.fixture(scope="module")
def pebble_bin() -> str:
    return pebble_binary()  # without Go and no cached build: skipped, before BIND starts


@pytest.fixture(scope="module")
def bind(pebble_bin: str) -> Iterator[Bind]:
    with bind_server(DOMAIN) as server:
        yield server


@pytest.fixture(scope="module")
def pebble(bind: Bind, pebble_bin: str) -> Iterator[Pebble]:
    with pebble_server(f"{bind.host}:{bind.port}", pebble_bin, http_port=HTTP_PORT, reuse_authorizations=False) as p:
        yield p


def configure(
    site: Site, bind: Bind, pebble: Pebble, sites: list[dict[str, object]] | None = None, **acme: object
) -> None:
    settings = {"directoryUrl": pebble.directory_url, "email": "ops@wayshub.test", "caBundle": pebble.ca_bundle}
    extra: dict[str, object] = {
        "wayshub:dns": bind.stack_config(),
        "wayshub:lb": {"tls": "acme", "acme": {**settings, **acme}},
    }
    if sites is not None:
        extra["wayshub:sites"] = sites
    write_stack_config(site, app_servers=APP_SERVERS, extra=extra)
    site.cli.set_config(SECRET_SETTING, bind.secret, secret=True)


@pytest.fixture(scope="module")
def acme_site(site: Site, bind: Bind, pebble: Pebble) -> Iterator[Site]:
    configure(site, bind, pebble)
    yield site
    # Back to the config the other site tests expect (plain HTTP, no DNS records, no TSIG secret) while BIND
    # still runs, whatever happened (the last test does it too, and checks what it leaves).
    write_stack_config(site, app_servers=APP_SERVERS)
    site.cli.up()


def served_leaf(root_pem: str, domain: str = DOMAIN) -> x509.Certificate:
    """The certificate the LB serves for ``domain``, verified against ``root_pem`` (Pebble's root) only."""
    context = ssl.create_default_context(cadata=root_pem)
    with (
        socket.create_connection(("127.0.0.1", HTTPS_PORT), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname=domain) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def up(site: Site, check: bool = True) -> str:
    return site.cli.up(check=check).output


def test_http01_first_issuance_serves_a_certificate_that_chains_to_the_cas_root(
    acme_site: Site, bind: Bind, pebble: Pebble
) -> None:
    output = up(acme_site)
    outputs = acme_site.cli.outputs()
    leaf = served_leaf(pebble.root_pem)
    assert outputs["certificate"]["expires"] == leaf.not_valid_after_utc.isoformat()
    assert f"{leaf.serial_number:x}" in json.dumps(acme_site.cli.state()), "the state's certificate is served"
    assert "certificate for wayshub.test expires" in output and "`up` renews it from" in output
    assert get_https(pebble.root_pem)[0] == 200, "the site answers over HTTPS, trusted through the CA's root only"
    # Port 80: the answers' location (empty now: the token was removed) and a redirect for the rest.
    assert get_http_headers(CHALLENGE_PATH + "x")[0] == 404
    status, headers = get_http_headers("/")
    assert status == 301 and headers["location"].startswith("https://wayshub.test")
    assert acme_site.sh("lb", f"ls -A /var/lib/wayshub/acme/*{CHALLENGE_PATH}").stdout == "", "tokens are removed"
    # The keys are secrets: never in the state in plain text.
    assert "PRIVATE KEY" not in json.dumps(acme_site.cli.state())
    # While the certificate is good for longer than renewDaysBefore, nothing changes (a wider window that
    # still ends before today included), and the preview says when it will be renewed.
    for days in (30, 60):
        configure(acme_site, bind, pebble, renewDaysBefore=days)
        preview = acme_site.cli.preview(expect_no_changes=True).output
        assert "`up` renews it from" in preview
        assert f"(lb.acme.renewDaysBefore {days})" in preview


def test_inside_the_renewal_window_up_renews_under_load_with_no_failed_gets(
    acme_site: Site, bind: Bind, pebble: Pebble
) -> None:
    before = served_leaf(pebble.root_pem)
    configure(acme_site, bind, pebble, renewDaysBefore=365)  # longer than Pebble's 90 days: due now
    steps = {s.name: s.op for s in acme_site.cli.preview_steps()}
    assert steps.get("lb-certificate") == "update", f"the preview shows the renewal: {steps}"
    with BackgroundLoad(HTTPS_PORT, DOMAIN, min_requests=1500, max_seconds=600, ca_pem=pebble.root_pem) as load:
        output = up(acme_site)
    after = served_leaf(pebble.root_pem)
    assert after.serial_number != before.serial_number, "the LB serves the renewed certificate"
    assert load.report.failed == 0, f"{load.report}\n{output[-3000:]}"
    assert load.report.total >= 1500


def test_a_refused_challenge_is_one_line_and_the_old_certificate_keeps_serving(
    acme_site: Site, bind: Bind, pebble: Pebble
) -> None:
    before = served_leaf(pebble.root_pem)
    bind.edit_out_of_band(DOMAIN, "A", ["127.0.0.1"], [WRONG_ADDRESS])  # the name points elsewhere now
    try:
        output = up(acme_site, check=False)
    finally:
        bind.edit_out_of_band(DOMAIN, "A", [WRONG_ADDRESS], ["127.0.0.1"])
    # One distinct line in the diagnostics (the progress repeats it after the resource's name).
    found = {line.strip() for line in output.splitlines() if "ACME http-01 challenge for wayshub.test failed" in line}
    lines = [line for line in found if line.startswith("error: ")]
    assert len(lines) == 1, output[-4000:]
    assert f"{WRONG_ADDRESS}:{HTTP_PORT}" in lines[0] and "connection refused" in lines[0]
    assert "the LB keeps serving the certificate it has" in lines[0]
    assert "Traceback" not in output
    assert served_leaf(pebble.root_pem).serial_number == before.serial_number
    assert get_https(pebble.root_pem)[0] == 200


def test_dns01_issues_through_the_dns_server_and_removes_its_txt_record(
    acme_site: Site, bind: Bind, pebble: Pebble
) -> None:
    before = served_leaf(pebble.root_pem)
    configure(acme_site, bind, pebble, challenge="dns-01", renewDaysBefore=365)
    # The name points nowhere while it runs: an HTTP-01 fetch would be refused, so only DNS-01 can pass.
    bind.edit_out_of_band(DOMAIN, "A", ["127.0.0.1"], [WRONG_ADDRESS])
    try:
        up(acme_site)
    finally:
        bind.edit_out_of_band(DOMAIN, "A", [WRONG_ADDRESS], ["127.0.0.1"])
    after = served_leaf(pebble.root_pem)
    assert after.serial_number != before.serial_number
    assert bind.dig(f"_acme-challenge.{DOMAIN}", "TXT") == [], "the challenge's TXT record is gone"


def test_a_second_site_gets_its_own_certificate_for_its_own_domain_from_the_same_ca(
    acme_site: Site, bind: Bind, pebble: Pebble
) -> None:
    """Issue 31: a site of ``wayshub:sites`` with ``tls: acme``, beside the first site's certificate."""
    shop = f"shop.{DOMAIN}"
    first = served_leaf(pebble.root_pem)
    configure(
        acme_site, bind, pebble, sites=[{"name": "shop", "domain": shop, "servers": ["app2"], "app": {"port": 3001}}]
    )
    output = up(acme_site)
    assert f"certificate for {shop} expires" in output
    leaf = served_leaf(pebble.root_pem, shop)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == [shop], names
    assert acme_site.cli.outputs()["sites"]["shop"]["certificate"]["expires"] == leaf.not_valid_after_utc.isoformat()
    assert served_leaf(pebble.root_pem).serial_number == first.serial_number, "the first site's certificate stays"
    assert bind.dig(shop, "A") == ["127.0.0.1"], "its name's record, before its certificate (HTTP-01)"


def test_back_to_plain_http_takes_the_port_80_file_and_the_webroot_off_the_lb(acme_site: Site) -> None:
    write_stack_config(acme_site, app_servers=APP_SERVERS)
    up(acme_site)
    left = acme_site.sh("lb", "ls /etc/nginx/conf.d/ /etc/nginx/tls/ /var/lib/wayshub/acme 2>&1; true").stdout
    assert "-acme.conf" not in left and ".crt" not in left and ".key" not in left, left
    assert "/var/lib/wayshub/acme': No such file" in left, left  # (its parent keeps nginx's capacity marks)
    status, headers = get_http_headers("/")
    assert status == 200 and headers["x-wayshub-backend"] in APP_SERVERS
