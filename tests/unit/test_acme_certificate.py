"""``AcmeCertificate`` (components/load_balancer/acme_certificate.py) without a CA: when it renews, what an update
keeps, how a failure reads; the HTTP-01 answer script on a temp webroot; and the program's graph under mocks
(the LB's port-80 server, then the DNS records, then the certificate, its files and the HTTPS site)."""

from __future__ import annotations

import datetime
import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.load_balancer import acme, acme_certificate
from components.load_balancer.acme_certificate import ANSWER_SCRIPT, AcmeCertificateProvider, due, when
from components.load_balancer.tls import self_signed
from components.shell import ssh
from components.shell.host_script import host_script
from components.shell.provider import OperationFailed
from tests.unit.test_command_backends import REPO, config_keys, is_secret, resource_name, run_program, to_python

__all__ = ["config_keys"]  # the fixture, used by name

NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)
NOT_AFTER = datetime.datetime(2027, 2, 26, 12, 0, tzinfo=datetime.UTC)  # 90 days on
CHAIN = self_signed("wayshub.test", "test")["certificate"]  # any real chain: the serial and issuer are read


def inputs(**changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "domain": "wayshub.test",
        "directory_url": "https://acme.test/dir",
        "email": "ops@wayshub.test",
        "challenge": "http-01",
        "ca_bundle": None,
        "renew_days_before": 30.0,  # numbers reach a provider as floats
        "timeout_seconds": 120.0,
        "connection": {"host": "127.0.0.1", "port": 22, "user": "root"},
        "other_lbs": None,
        "webroot": "/var/lib/wayshub/acme/wayshub-test",
        "dns": None,
        "tsig_secret": None,
        **{key: None for key in acme_certificate.ISSUED_KEYS},
    }
    return {**props, **changes}


def stored(**changes: Any) -> dict[str, Any]:
    """The outputs after an issuance: the inputs plus what was issued."""
    issued = {
        "certificate": CHAIN,
        "private_key": "old key",
        "account_key": "account key",
        "not_after": NOT_AFTER.isoformat(),
        "serial": "1",
        "issuer": "CN=test",
        "warnings": [],
    }
    return {**inputs(), **issued, **changes}


@pytest.mark.parametrize(
    ("days", "now", "expected"),
    [
        (30, NOT_AFTER - datetime.timedelta(days=31), False),
        (30, NOT_AFTER - datetime.timedelta(days=30), True),  # the window's first instant
        (30.0, NOT_AFTER - datetime.timedelta(days=29), True),
        (365, NOW, True),  # a window longer than the certificate's life: due at once
        (30, NOT_AFTER + datetime.timedelta(days=1), True),  # expired
    ],
)
def test_due_once_inside_the_window(days: float, now: datetime.datetime, expected: bool) -> None:
    assert due(stored(), inputs(renew_days_before=days), now) is expected


def test_due_without_a_stored_certificate_or_with_an_unknown_window() -> None:
    assert due(inputs(), inputs(), NOW), "nothing issued yet"
    assert due(stored(certificate=None), inputs(), NOW)
    assert due(stored(), inputs(renew_days_before="04da6b54-80e4-46f7-96ec-b56ff0331ba9"), NOW), "unknown: may renew"


def test_when_says_the_expiry_and_the_first_day_of_renewal() -> None:
    assert when(NOT_AFTER.isoformat(), 30, NOW) == (
        "expires 2027-02-26 12:00 UTC; `up` renews it from 2027-01-27 12:00 UTC (lb.acme.renewDaysBefore 30)"
    )
    assert "inside lb.acme.renewDaysBefore (100), `up` renews it" in when(NOT_AFTER.isoformat(), 100, NOW)


def test_diff_changes_only_for_a_due_renewal_or_a_real_input_change(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = AcmeCertificateProvider()
    monkeypatch.setattr(acme_certificate, "due", lambda olds, news, now=None: False)
    same = provider.diff("id", stored(), inputs())
    assert not same.changes, "a valid certificate and the same inputs: nothing to do"
    # When and how long to issue alone are no change; a wider window that is due is (via due()).
    assert not provider.diff("id", stored(), inputs(renew_days_before=60.0, timeout_seconds=300.0)).changes
    email = provider.diff("id", stored(), inputs(email="other@wayshub.test"))
    assert email.changes and email.replaces == []
    domain = provider.diff("id", stored(), inputs(domain="www.wayshub.test"))
    assert domain.changes and domain.replaces == ["domain"]
    ca = provider.diff("id", stored(), inputs(directory_url="https://other.test/dir"))
    assert ca.replaces == ["directory_url"] and ca.delete_before_replace is False
    monkeypatch.setattr(acme_certificate, "due", lambda olds, news, now=None: True)
    assert provider.diff("id", stored(), inputs()).changes, "due: the preview shows an update"


def fake_issue(calls: list[dict[str, Any]]) -> Any:
    def issue(*args: Any, **kwargs: Any) -> acme.Issued:
        calls.append({"args": args, **kwargs})
        return acme.Issued(CHAIN, "new key", kwargs.get("account_key_pem") or "new account", NOT_AFTER)

    return issue


def test_an_update_outside_the_window_keeps_the_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(acme, "issue", fake_issue(calls))
    monkeypatch.setattr(acme_certificate, "due", lambda olds, news, now=None: False)
    outs = AcmeCertificateProvider().update("id", stored(), inputs(email="new@wayshub.test")).outs
    assert calls == []
    assert outs["private_key"] == "old key" and outs["email"] == "new@wayshub.test"


def test_a_renewal_keeps_the_account_and_takes_the_new_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(acme, "issue", fake_issue(calls))
    monkeypatch.setattr(acme_certificate, "due", lambda olds, news, now=None: True)
    monkeypatch.setattr(acme_certificate, "answerer", lambda props: "answerer")
    outs = AcmeCertificateProvider().update("id", stored(), inputs()).outs
    assert [c["account_key_pem"] for c in calls] == ["account key"]
    assert outs["private_key"] == "new key" and outs["account_key"] == "account key"
    assert outs["not_after"] == NOT_AFTER.isoformat()


def test_a_failed_renewal_is_one_line_saying_the_old_certificate_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: Any, **kwargs: Any) -> acme.Issued:
        raise acme.AcmeError("ACME http-01 challenge for wayshub.test failed: connection refused")

    monkeypatch.setattr(acme, "issue", refused)
    monkeypatch.setattr(acme_certificate, "due", lambda olds, news, now=None: True)
    monkeypatch.setattr(acme_certificate, "answerer", lambda props: "answerer")
    with pytest.raises(OperationFailed) as caught:
        AcmeCertificateProvider().update("id", stored(), inputs())
    assert str(caught.value) == (
        "ACME http-01 challenge for wayshub.test failed: connection refused; "
        f"the LB keeps serving the certificate it has (expires {NOT_AFTER.isoformat()})"
    )


def test_dns01_answers_through_the_dns_settings_and_the_tsig_secret() -> None:
    dns = {"server": "192.0.2.53", "port": 53, "zone": "wayshub.test", "keyName": "k", "algorithm": "hmac-sha256"}
    answer = acme_certificate.answerer(inputs(challenge="dns-01", dns={**dns, "timeoutSeconds": 5}, tsig_secret="c2s="))
    assert isinstance(answer, acme.DnsAnswerer)
    assert (answer.server.address, answer.server.zone, answer.server.secret) == ("192.0.2.53", "wayshub.test", "c2s=")


def test_http01_answers_reach_every_lb_of_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """With two LBs the CA reaches whichever holds the shared address: each answer is put on (and removed
    from) both."""
    key = "the login key"
    lb1 = {"host": "10.0.0.10", "port": 22, "user": "deploy", "private_key": key}
    lb2 = {**lb1, "host": "10.0.0.9"}
    ran: list[tuple[str, str]] = []

    def run(connection: Any, script: str, stdin: str = "", timeout: float = 0) -> Any:
        ran.append((connection.host, "put" if "ACTION=put" in script else "remove"))
        return type("Result", (), {"exit_code": 0, "stderr": ""})()

    monkeypatch.setattr(ssh, "run", run)
    answerer = acme_certificate.answerer(inputs(connection=lb1, other_lbs=[lb2]))
    answerer.put("tok", "tok.print")
    answerer.remove("tok", "tok.print")
    assert ran == [("10.0.0.10", "put"), ("10.0.0.9", "put"), ("10.0.0.10", "remove"), ("10.0.0.9", "remove")]
    one = acme_certificate.answerer(inputs(connection=lb1))  # one LB (other_lbs None, as stacks from before hold)
    assert isinstance(one, acme_certificate.WebrootAnswerer) and len(one.connections) == 1


# --- host/acme-answer.sh, run as a file on a temp webroot (its sudo wrapper stubbed). ---


def answer(tmp_path: Path, action: str, token: str, value: str = "") -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "sudo").write_text('#!/bin/bash\nshift; exec "$@"\n')  # `sudo -n bash -c ...` as this user
    (bin_dir / "sudo").chmod(0o755)
    script = host_script(ANSWER_SCRIPT, {"WEBROOT": str(tmp_path / "root"), "ACTION": action, "TOKEN": token})
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    return subprocess.run(["bash", "-c", script], input=value, env=env, capture_output=True, text=True, timeout=30)


def test_the_answer_is_put_where_nginx_serves_it_and_removed(tmp_path: Path) -> None:
    served = tmp_path / "root" / ".well-known" / "acme-challenge" / "tok_en-1"
    assert answer(tmp_path, "put", "tok_en-1", "tok_en-1.thumbprint").returncode == 0
    assert served.read_text() == "tok_en-1.thumbprint"
    assert stat.S_IMODE(served.stat().st_mode) == 0o644, "nginx's workers read it"
    assert sorted(p.name for p in served.parent.iterdir()) == ["tok_en-1"], "no temp file left"
    assert answer(tmp_path, "remove", "tok_en-1").returncode == 0
    assert not served.exists()
    assert answer(tmp_path, "remove", "tok_en-1").returncode == 0, "removing twice is fine"


@pytest.mark.parametrize("token", ["", "../etc/passwd", "a b", "a/b"])
def test_a_token_that_is_not_base64url_is_refused(tmp_path: Path, token: str) -> None:
    result = answer(tmp_path, "put", token, "x")
    assert result.returncode == 2 and "not an ACME token" in result.stderr
    assert not (tmp_path / "root").exists()


# --- The program under mocks with lb.tls acme. ---


def acme_stack(tmp_path: Path, challenge: str) -> Path:
    config = yaml.safe_load((REPO / "stacks" / "Pulumi.local.yaml").read_text())["config"]
    config["wayshub:lb"] = {"tls": "acme", "acme": {"directoryUrl": "letsencrypt-staging", "challenge": challenge}}
    config["wayshub:dns"] = {"server": "192.0.2.53", "zone": "wayshub.localhost", "keyName": "wayshub-update"}
    config["wayshub:dnsTsigSecret"] = "c2VjcmV0"
    path = tmp_path / "Pulumi.acme.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def graph(requests: dict[str, Any]) -> dict[str, set[str]]:
    return {resource_name(key): {d.rsplit("::", 1)[-1] for d in r.dependencies} for key, r in requests.items()}


def test_http01_orders_port_80_then_the_names_then_the_certificate_then_the_site(
    tmp_path: Path, config_keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = run_program(acme_stack(tmp_path, "http-01"), "builtin", config_keys, monkeypatch)
    deps = graph(requests)
    assert "lb-nginx" in deps["lb-acme-front"]
    assert {"lb-acme-front", "dns-wayshub.localhost"} <= deps["lb-certificate"], "the CA looks the name up"
    assert "lb-site" not in deps["dns-wayshub.localhost"], "the records come before the site, not after"
    assert "lb-certificate" in deps["lb-state"] and "lb-certificate" in deps["lb-tls-certificate"]
    assert {"lb-tls-certificate", "lb-tls-key"} <= deps["lb-site"]
    certificate = requests["lb-certificate"]
    assert {"private_key", "account_key"} <= set(certificate.additionalSecretOutputs)
    props = json.loads(json.dumps(dict(certificate.object), default=str))
    assert props["webroot"] == "/var/lib/wayshub/acme/wayshub-test" and props.get("dns") is None
    front = dict(requests["lb-acme-front"].object)["stdin"]
    assert "location ^~ /.well-known/acme-challenge/" in front and "root /var/lib/wayshub/acme/wayshub-test;" in front
    site = dict(requests["lb-site"].object)["stdin"]
    assert "listen 80;" not in site and "ssl_certificate /etc/nginx/tls/wayshub-test.crt;" in site


def test_dns01_sends_the_tsig_secret_as_a_secret_and_the_records_follow_the_site(
    tmp_path: Path, config_keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = run_program(acme_stack(tmp_path, "dns-01"), "builtin", config_keys, monkeypatch)
    deps = graph(requests)
    assert "dns-wayshub.localhost" not in deps["lb-certificate"]
    assert "lb-site" in deps["dns-wayshub.localhost"], "without HTTP-01 the records wait for the site as before"
    props = dict(requests["lb-certificate"].object)
    assert dict(props["dns"])["server"] == "192.0.2.53"
    assert is_secret(to_python(props["tsig_secret"])), "the TSIG secret goes to the engine as a secret"
