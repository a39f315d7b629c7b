"""Bad stack config through the REAL engine: one error line naming the setting, non-zero exit, nothing created.

The program checks every setting before it declares any resource, so these need no VMs.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from components.load_balancer.tls import self_signed
from tests.e2e import slots
from tests.e2e.pulumi_cli import PulumiCli, copy_program, engine_env

pytestmark = pytest.mark.e2e

STACK = slots.name("badconfig")
GOOD: dict[str, Any] = {
    "wayshub:domain": "wayshub.test",
    "wayshub:hosts": {
        "provider": "sandbox",
        "appServers": [{"name": "app1"}, {"name": "app2"}],
        "lbServer": {"name": "lb"},
    },
}
EXISTING = {
    "wayshub:hosts": {
        "provider": "existing",
        "appServers": [{"name": "app1", "address": "127.0.0.21"}, {"name": "app2", "address": "127.0.0.22"}],
        "lbServer": {"name": "lb", "address": "127.0.0.20"},
    }
}
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

# The whole stack file for the malformed-YAML case (an unclosed flow mapping), written as is.
NOT_YAML = "config:\n  wayshub:domain: wayshub.test\n  wayshub:hosts: {appServers: [{name: app1}\n"
# The passphrase the Makefile gives the local stack; the harness's stacks have their own.
DEFAULT_PASSPHRASE_ENV = {"PULUMI_CONFIG_PASSPHRASE": "wayshub-local"}

# (case id, config changes (or the stack file's whole text), secrets, the start of the one error line).
# tests/unit/test_config_keys.py has a case for every key through the same loading path; these prove, through
# the real engine, that bad input stops the program before any resource is touched.
CASES: list[tuple[str, dict[str, Any] | str, dict[str, str], str]] = [
    # The engine reads the stack file, and checks a declared section's type, before the program runs.
    ("stack file not YAML", NOT_YAML, {}, "getting stack configuration: invalid YAML file: yaml: line 2:"),
    (
        "section of the wrong type",
        {"wayshub:lb": "fast"},
        {},
        f"validating stack config: Stack '{STACK}' with configuration key 'lb' must be of type 'object'",
    ),
    (
        "nested section of the wrong type",
        {"wayshub:app": {"health": "ok"}},
        {},
        "wayshub:app.health: must be a map of settings (docs/config.md lists them), not text",
    ),
    (
        "unknown top-level key",
        {"wayshub:hostFile": {"path": "/tmp/hosts"}},
        {},
        "wayshub:hostFile: unknown setting; did you mean wayshub:hostsFile?",
    ),
    # Pulumi.yaml declares domain without a default, so the engine itself names it.
    (
        "missing domain",
        {"wayshub:domain": None},
        {},
        f"validating stack config: Stack '{STACK}' is missing configuration value 'domain'",
    ),
    ("invalid domain", {"wayshub:domain": "not a domain"}, {}, "wayshub:domain: 'not a domain' is not a domain name"),
    ("domain injection", {"wayshub:domain": "x.com; return 500"}, {}, "wayshub:domain:"),
    (
        "duplicate names",
        {"wayshub:hosts": {"appServers": [{"name": "a"}, {"name": "a"}], "lbServer": {"name": "lb"}}},
        {},
        "wayshub:hosts: server names must be unique, a repeated",
    ),
    (
        "zero backends",
        {"wayshub:hosts": {"appServers": [], "lbServer": {"name": "lb"}}},
        {},
        "wayshub:hosts.appServers: List should have at least 1 item",
    ),
    (
        "unknown provider",
        {"wayshub:hosts": {"provider": "vmware", "appServers": [{"name": "a"}], "lbServer": {"name": "lb"}}},
        {},
        "wayshub:hosts.provider: Input should be",
    ),
    (
        "port 0",
        {"wayshub:hosts": {"appServers": [{"name": "a", "sshPort": 0}], "lbServer": {"name": "lb"}}},
        {},
        "wayshub:hosts.appServers[0].sshPort: Input should be greater than",
    ),
    ("port 70000", {"wayshub:sandbox": {"httpPort": 70000}}, {}, "wayshub:sandbox.httpPort: Input should be less than"),
    (
        "an app setting containers mode cannot honour",
        {
            "wayshub:hosts": {"provider": "containers", "appServers": [{"name": "app1"}], "lbServer": {"name": "lb"}},
            "wayshub:app": {"name": "shop"},
        },
        {},
        "wayshub: app.name does not apply with hosts.provider 'containers' (no unit, user or folders",
    ),
    ("port abc", {"wayshub:lb": {"listenPort": "abc"}}, {}, "wayshub:lb.listenPort: Input should be a valid integer"),
    (
        "unknown key",
        {"wayshub:lb": {"keepAlive": 3}},
        {},
        "wayshub:lb.keepAlive: unknown setting; did you mean wayshub:lb.keepalive?",
    ),
    (
        "negative timeout",
        {"wayshub:lb": {"connectTimeout": "-1s"}},
        {},
        "wayshub:lb.connectTimeout: '-1s' is not an nginx duration",
    ),
    (
        "negative health timeout",
        {"wayshub:app": {"health": {"timeoutSeconds": -5}}},
        {},
        "wayshub:app.health.timeoutSeconds: Input should be greater than",
    ),
    (
        "node version a YAML number with a point",
        {"wayshub:app": {"nodeVersion": 16.10}},
        {},
        "wayshub:app.nodeVersion: the number 16.1 in the stack file may not be what was typed (16.10 reads as 16.1)",
    ),
    (
        "bad node version",
        {"wayshub:app": {"nodeVersion": "lts"}},
        {},
        "wayshub:app.nodeVersion: 'lts' is not a Node version",
    ),
    ("empty start command", {"wayshub:app": {"start": " "}}, {}, "wayshub:app.start: must not be empty"),
    (
        "health path without /",
        {"wayshub:app": {"health": {"path": "healthz"}}},
        {},
        "wayshub:app.health.path: 'healthz' must be a URL path starting with '/'",
    ),
    (
        "build script missing",
        {"wayshub:app": {"build": "npm run compile"}},
        {},
        "wayshub:app.build: package.json has no 'compile' script (it has: start, test)",
    ),
    (
        "unparseable .nvmrc",
        {"wayshub:app": {"source": "bad-apps/nvmrc"}},
        {},
        "wayshub:app.nodeVersion: ",
    ),
    (
        "unparseable engines.node",
        {"wayshub:app": {"source": "bad-apps/engines"}},
        {},
        "wayshub:app.nodeVersion: package.json engines.node 'the newest one' is not a Node version or range",
    ),
    (
        "node version not in the registry",
        {"wayshub:app": {"nodeVersion": "21.99.0"}},
        {},
        "wayshub:app.nodeVersion: the npm registry has no Node 21.99.0 (app.nodeVersion); nearby: 21.",
    ),
    (
        "port variable not UPPER_SNAKE",
        {"wayshub:app": {"portEnv": "app-port"}},
        {},
        "wayshub:app.portEnv: variable name 'app-port' must be UPPER_SNAKE_CASE",
    ),
    ("nvm without version", {"wayshub:app": {"nodeInstall": "nvm"}}, {}, "wayshub:app: nodeVersion is required"),
    ("release path missing", {"wayshub:app": {"source": "no-such-app"}}, {}, "wayshub:app.source:"),
    (
        "hosts file is a directory",
        {"wayshub:hostsFile": {"path": "/tmp"}},
        {},
        "wayshub:hostsFile.path: /tmp is a directory",
    ),
    (
        "hosts file folder missing",
        {"wayshub:hostsFile": {"path": "/no/such/dir/hosts"}},
        {},
        "wayshub:hostsFile.path: folder /no/such/dir does not exist",
    ),
    (
        "public sandbox bind",
        {"wayshub:sandbox": {"bindAddress": "0.0.0.0"}},
        {},
        "wayshub:sandbox.bindAddress: must be a loopback address",
    ),
    (
        "public subnet",
        {"wayshub:sandbox": {"subnet": "8.8.8.0/24"}},
        {},
        "wayshub:sandbox.subnet: must be a private IPv4 network",
    ),
    ("existing without key", EXISTING, {}, "wayshub:sshPrivateKey: is required"),
    (
        "key that is not a private key",
        EXISTING,
        {"wayshub:sshPrivateKey": "ssh-ed25519 AAAAC3 not-private"},
        "wayshub:sshPrivateKey: is not an SSH private key",
    ),
    (
        "same address twice",
        {
            "wayshub:hosts": {
                **EXISTING["wayshub:hosts"],
                "appServers": [{"name": "a", "address": "127.0.0.21"}, {"name": "b", "address": "127.0.0.21"}],
            }
        },
        {},
        "wayshub:hosts: two app servers share the same address",
    ),
    (
        "LB on an app host",
        {"wayshub:hosts": {**EXISTING["wayshub:hosts"], "lbServer": {"name": "lb", "address": "127.0.0.21"}}},
        {},
        "wayshub:hosts: lbServer.address 127.0.0.21 is also an app server",
    ),
    (
        "bad host key",
        {"wayshub:hosts": {"appServers": [{"name": "a", "hostKey": "nope"}], "lbServer": {"name": "lb"}}},
        {},
        "wayshub:hosts.appServers[0].hostKey: must be",
    ),
    ("unknown tls mode", {"wayshub:lb": {"tls": "letsencrypt"}}, {}, "wayshub:lb.tls: Input should be"),
    ("acme without its settings", {"wayshub:lb": {"tls": "acme"}}, {}, "wayshub:lb: tls 'acme' needs lb.acme"),
    (
        "acme over plain http",
        {"wayshub:lb": {"tls": "acme", "acme": {"directoryUrl": "http://ca.internal/directory"}}},
        {},
        "wayshub:lb.acme.directoryUrl: 'http://ca.internal/directory' is not an https:// URL",
    ),
    (
        "TLS cert without key",
        {"wayshub:lb": {"tls": "provided"}, "wayshub:tlsCertificate": CERT},
        {},
        "wayshub:tlsPrivateKey: is required",
    ),
    # The certificate and a key of another pair are filled in by the test.
    (
        "TLS cert/key mismatch",
        {"wayshub:lb": {"tls": "provided"}},
        {},
        "wayshub:tlsPrivateKey: does not match the certificate (different key pair)",
    ),
    (
        "bad app secret name",
        {},
        {"wayshub:appSecrets": json.dumps({"api-key": "x"})},
        "wayshub:appSecrets: variable name 'api-key'",
    ),
    (
        "bad body size",
        {"wayshub:lb": {"clientMaxBodySize": "lots"}},
        {},
        "wayshub:lb.clientMaxBodySize: 'lots' is not an nginx size",
    ),
    ("bad pin", {"wayshub:app": {"releasePin": "HEAD"}}, {}, "wayshub:app.releasePin: 'HEAD' is not a release id"),
    # Issue #28's hostile inputs: a system user as the app, a line break or a zone ID in a value.
    ("app named ssh", {"wayshub:app": {"name": "ssh"}}, {}, "wayshub:app.name: 'ssh' is a system user or unit name"),
    ("domain with a newline", {"wayshub:domain": "site.example.com\n"}, {}, "wayshub:domain: contains a newline"),
    (
        "hosts file address injection",
        {"wayshub:hostsFile": {"address": "::1%x\n203.0.113.66 github.com registry.npmjs.org"}},
        {},
        "wayshub:hostsFile.address: contains a newline",
    ),
    (
        "zone ID in a private address",
        {
            "wayshub:hosts": {
                **EXISTING["wayshub:hosts"],
                "appServers": [{"name": "app1", "address": "127.0.0.21", "privateAddress": "fe80::1%eth0"}],
            }
        },
        {},
        "wayshub:hosts.appServers[0].privateAddress: 'fe80::1%eth0': an IPv6 zone ID",
    ),
    ("env name with a newline", {"wayshub:app": {"env": {"API_TOKEN\n": "x"}}}, {}, "wayshub:app.env: variable name"),
    ("node version with a newline", {"wayshub:app": {"nodeVersion": "20\n"}}, {}, "wayshub:app.nodeVersion: contains"),
    # Last: the engine runs it with the passphrase the Makefile gives the local stack.
    (
        "default passphrase on a stack other than local",
        {},
        {},
        f"PULUMI_CONFIG_PASSPHRASE: stack '{STACK}' uses the default passphrase, which only the local stack may use",
    ),
]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> PulumiCli:
    root = tmp_path_factory.mktemp("badconfig")
    copy_program(root / "project")
    bad_apps = {
        "nvmrc": ({"scripts": {"start": "node x.js"}}, {".nvmrc": "lts/iron\n"}),
        "engines": ({"scripts": {"start": "node x.js"}, "engines": {"node": "the newest one"}}, {}),
    }
    for name, (package, files) in bad_apps.items():
        folder = root / "project" / "bad-apps" / name
        folder.mkdir(parents=True)
        (folder / "package.json").write_text(json.dumps(package))
        for file_name, text in files.items():
            (folder / file_name).write_text(text)
    cli = PulumiCli(root / "project", engine_env(root / "state", root / "home"))
    cli.init_stack(STACK)
    return cli


def write_config(cli: PulumiCli, changes: dict[str, Any] | str) -> None:
    (cli.workdir / "stacks").mkdir(exist_ok=True)
    if isinstance(changes, str):
        (cli.workdir / "stacks" / f"Pulumi.{STACK}.yaml").write_text(changes)
        return
    config = {**GOOD, **changes}
    config["wayshub:hostsFile"] = config.get("wayshub:hostsFile", {"path": str(cli.workdir / "hosts")})
    config = {key: value for key, value in config.items() if value is not None}
    (cli.workdir / "stacks" / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))


def mismatched_pair() -> tuple[str, str]:
    return self_signed("wayshub.test", "a")["certificate"], self_signed("wayshub.test", "b")["private_key"]


@pytest.mark.parametrize(("case", "changes", "secrets", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_stops_before_any_resource(
    cli: PulumiCli, case: str, changes: dict[str, Any] | str, secrets: dict[str, str], expected: str
) -> None:
    secrets = dict(secrets)
    if case == "TLS cert/key mismatch":
        certificate, key = mismatched_pair()
        assert isinstance(changes, dict)
        changes = {**changes, "wayshub:tlsCertificate": certificate}
        secrets["wayshub:tlsPrivateKey"] = key
    if case.startswith("default passphrase"):
        cli = PulumiCli(cli.workdir, {**cli.env, **DEFAULT_PASSPHRASE_ENV})
    write_config(cli, changes)
    for key_name, value in secrets.items():
        cli.set_config(key_name, value, secret=True)

    result = cli.up(check=False)
    output = result.stdout + result.stderr
    errors = [line.strip() for line in output.splitlines() if re.match(r"^\s*error: ", line)]
    assert result.returncode != 0, output
    assert len(set(errors)) == 1, f"expected one error line, got {errors}"
    assert errors[0].removeprefix("error: ").startswith(expected), errors[0]
    for value in secrets.values():
        assert value not in output, "a secret appeared in the output"
    state = cli.state()
    created = [r["type"] for r in state["deployment"].get("resources") or [] if r["type"] != "pulumi:pulumi:Stack"]
    assert created == [], f"{case}: resources were created: {created}"


def test_text_settings_take_what_config_set_path_stores(cli: PulumiCli) -> None:
    """docs/app.md's `pulumi config set --path wayshub:app.nodeVersion 16`: the CLI stores 16, true and 3 as a
    number and a boolean (16.10 stays text), and the program takes each as the text typed: the preview plans
    the site."""
    write_config(cli, {})
    typed = {
        "wayshub:app.nodeVersion": "16",
        "wayshub:app.env.DEBUG": "true",
        "wayshub:app.env.LEVEL": "3",
        "wayshub:app.env.RATIO": "16.10",
    }
    for key, value in typed.items():
        cli.run("config", "set", "--path", key, value, "--stack", STACK)
    stored = yaml.safe_load((cli.workdir / "stacks" / f"Pulumi.{STACK}.yaml").read_text())["config"]["wayshub:app"]
    assert stored == {"nodeVersion": 16, "env": {"DEBUG": True, "LEVEL": 3, "RATIO": "16.10"}}, "how the CLI stores"
    result = cli.preview(check=False, diff=False)
    assert result.returncode == 0, result.output
    assert "create" in {step.op for step in result.steps}
