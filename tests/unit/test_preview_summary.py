"""scripts/preview-summary on small hand-made previews: grouping, rolls, diffs, secrets, size limit.

A release's ``create`` is made by components/app/host_steps.py's own ``deploy_command``, so the summary reads
the unit and start script out of the same text a real preview carries."""

from __future__ import annotations

import copy
import json
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.app.host_steps import deploy_command
from components.layout import SITE_TYPE
from tests.unit.pulumi_mocks import fake_private_key_pem

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
SCRIPT = SCRIPTS / "preview-summary"
# As the executable does: scripts/ is a folder of tools, not a package (and mypy sees the module so).
sys.path.insert(0, str(SCRIPTS))
from preview_summary import (  # noqa: E402
    DEFAULT_MAX_CHARS,
    SECRET_SIGNATURE,
    UNKNOWN,
    changes,
    default_marker,
    main,
    summarize,
)

STACK = "staging"
REMOTE = "pulumi-python:dynamic/wayshub:RemoteCommand"
LOCAL = "pulumi-python:dynamic/wayshub:LocalCommand"
COPY = "pulumi-python:dynamic/wayshub:CopyFileToRemote"
HOSTS_ENTRY = "pulumi-python:dynamic/wayshub:HostsEntry"
NODE_APP = "wayshub:app:NodeApp"
VM = "wayshub:hosts:SandboxVm"
EXISTING = "wayshub:hosts:ExistingHost"
LB = "wayshub:load_balancer:NginxLoadBalancer"
STACK_URN = f"urn:pulumi:{STACK}::wayshub::pulumi:pulumi:Stack::wayshub-{STACK}"
# What `pulumi stack export --show-secrets` makes of a secret (never to be printed).
PLAINTEXT_SECRET = "hunter2-do-not-print"
KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
PRIVATE_KEY = fake_private_key_pem(KEY_BODY)

SITE = """upstream wayshub_staging {
    server 10.0.0.11:3000 max_fails=1 fail_timeout=3s;
    server 10.0.0.12:3000 max_fails=1 fail_timeout=3s;
    keepalive 32;
}
"""
UNIT = "[Unit]\nDescription=wayshub\n\n[Service]\nRestart=always\n"
START = "#!/bin/sh\nexec node server.js\n"
ENV = "NODE_ENV=production\nPORT=3000\n"


def urn(types: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::wayshub::{types}::{name}"


def state(types: str, name: str, inputs: dict[str, Any] | None, parent: str | None) -> dict[str, Any] | None:
    if inputs is None:
        return None
    return {"urn": urn(types, name), "type": types.split("$")[-1], "inputs": inputs, "parent": parent or STACK_URN}


def step(
    op: str,
    types: str,
    name: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    parent: str | None = None,
) -> dict[str, Any]:
    """One engine step; ``types`` is the URN's type chain (``Parent$Type``)."""
    result: dict[str, Any] = {"op": op, "urn": urn(types, name), "detailedDiff": None}
    for key, inputs in (("oldState", old), ("newState", new)):
        made = state(types, name, inputs, parent)
        if made is not None:
            result[key] = made
    return result


def command(stdin: Any = None, **extra: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {"__provider": "[secret]", "connection": "[secret]", "create": "sudo -n bash -c 'true'"}
    if stdin is not None:
        inputs["stdin"] = stdin
    return {**inputs, **extra}


def app_step(op: str, host: str, role: str, old: Any = None, new: Any = None) -> dict[str, Any]:
    kind = COPY if role.endswith("upload") else REMOTE
    return step(op, f"{NODE_APP}${kind}", f"{host}-app-{role}", old, new, parent=urn(NODE_APP, f"{host}-app"))


def deploy(rid: str, unit: str = UNIT, start: str = START, health: str = "/") -> str:
    """A release's ``create``: host/deploy.sh after its inputs, as NodeApp makes it."""
    return deploy_command({"APP": "wayshub", "RID": rid, "START_TEXT": start, "UNIT_TEXT": unit, "HEALTH_PATH": health})


def release(rid: str, env: str = ENV, digest: str = "e1", **texts: str) -> dict[str, Any]:
    """The inputs of ``<host>-app-release``: deploy command, env file on stdin, rerun_on [release, env digest]."""
    return command(env, create=deploy(rid, **texts), rerun_on=[rid, digest])


def release_step(host: str, old_id: str, new_id: str, **new_texts: str) -> dict[str, Any]:
    return app_step("update", host, "release", release(old_id), release(new_id, **new_texts))


def preview(*steps: dict[str, Any], summary: dict[str, int] | None = None, **extra: Any) -> dict[str, Any]:
    stack_step = {"op": "same", "urn": STACK_URN, "oldState": {"urn": STACK_URN, "type": "pulumi:pulumi:Stack"}}
    return {"steps": [stack_step, *steps], "changeSummary": summary or {}, **extra}


def third_backend() -> dict[str, Any]:
    """Like change (a) of the e2e test: a new host app3 and one more upstream line."""
    new_site = SITE.replace(
        "fail_timeout=3s;\n    keepalive",
        "fail_timeout=3s;\n    server 10.0.0.13:3000 max_fails=1 fail_timeout=3s;\n    keepalive",
    )
    return preview(
        step("create", VM, "app3", {}, {}),
        step("create", f"{VM}${LOCAL}", "app3-container", None, {"create": "docker run"}, parent=urn(VM, "app3")),
        step("create", NODE_APP, "app3-app", None, {}),
        app_step("create", "app3", "base", None, command()),
        app_step("create", "app3", "arch", None, command()),
        app_step("create", "app3", "node-upload", None, {"remote_path": "/tmp/wayshub-node-22.11.0.tgz"}),
        app_step("create", "app3", "node", None, command()),
        app_step("create", "app3", "upload", None, {"remote_path": "/tmp/wayshub-abc.tar.gz", "sha256": "00"}),
        # The node path is known after up, so is the deploy command.
        app_step("create", "app3", "release", None, command(ENV, create=UNKNOWN, rerun_on=["abc", "e1"])),
        step("update", f"{LB}${REMOTE}", "lb-site", command(SITE), command(new_site), parent=urn(LB, "lb")),
        summary={"create": 9, "update": 1, "same": 27},
    )


def diff_titles(markdown: str) -> list[str]:
    """The files that get a diff block: the line before each ```diff."""
    lines = markdown.splitlines()
    return [lines[i - 2] for i, line in enumerate(lines) if re.match(r"^`{3,}diff$", line)]


# ---------------------------------------------------------------- no changes


@pytest.mark.parametrize(
    "data",
    [
        preview(summary={"same": 28}),
        {"steps": []},
        {},
        preview(step("same", f"{LB}${REMOTE}", "lb-site", command(SITE), command(SITE))),
    ],
    ids=["only-same", "no-steps", "empty-object", "same-step"],
)
def test_an_empty_preview_says_no_changes(data: dict[str, Any]) -> None:
    text = summarize(data, STACK, marker=default_marker(STACK))
    assert text.splitlines()[0] == "<!-- wayshub-preview:staging -->"
    assert "**No changes**" in text
    assert "| layer |" not in text


# ---------------------------------------------------------------- grouping and order


def test_rows_are_grouped_by_layer_then_host_in_the_programs_order() -> None:
    rows = changes(
        preview(
            step("create", HOSTS_ENTRY, "hosts-entry", None, {"block": "x"}),
            step("update", f"{LB}${REMOTE}", "lb-site", command(SITE), command(SITE + "#\n"), parent=urn(LB, "lb")),
            app_step("create", "app10", "release", None, command()),
            app_step("create", "app10", "node", None, command()),
            app_step("create", "app2", "node", None, command()),
            app_step("create", "app2", "node-upload", None, {"remote_path": "/tmp/n.tgz"}),
            app_step("create", "app2", "arch", None, command()),
            app_step("create", "app2", "base", None, command()),
            step("create", f"{VM}${LOCAL}", "app10-container", None, {}, parent=urn(VM, "app10")),
            step("create", f"{VM}${LOCAL}", "app2-container", None, {}, parent=urn(VM, "app2")),
        )
    )
    assert [(r.layer, r.host, r.name) for r in rows] == [
        ("hosts", "app2", "app2-container"),
        ("hosts", "app10", "app10-container"),
        ("app", "app2", "app2-app-base"),
        ("app", "app2", "app2-app-arch"),
        ("app", "app2", "app2-app-node-upload"),
        ("app", "app2", "app2-app-node"),
        ("app", "app10", "app10-app-node"),
        ("app", "app10", "app10-app-release"),
        ("load balancer", "lb", "lb-site"),
        ("names", "—", "hosts-entry"),
    ]


def test_the_comment_does_not_depend_on_the_order_of_the_engines_steps() -> None:
    data = third_backend()
    expected = summarize(data, STACK)
    stack_step, *rest = data["steps"]
    for seed in range(20):
        shuffled = list(rest)
        random.Random(seed).shuffle(shuffled)  # noqa: S311 (an order, not a key)
        assert summarize({**data, "steps": [stack_step, *shuffled]}, STACK) == expected


def test_components_and_providers_are_not_rows() -> None:
    data = third_backend()
    data["steps"].append(
        step("update", "pulumi:providers:pulumi-python", "default", {"version": "1"}, {"version": "2"})
    )
    names = {r.name for r in changes(data)}
    assert "app3" not in names and "app3-app" not in names and "default" not in names
    assert "app3-container" in names


def test_host_names_with_dashes_come_from_the_parent_component() -> None:
    rows = changes(
        preview(
            step(
                "create",
                f"{NODE_APP}${REMOTE}",
                "web-1-app-release",
                None,
                command("e"),
                parent=urn(NODE_APP, "web-1-app"),
            ),
            step("create", f"{EXISTING}${REMOTE}", "web-1-probe", None, command(), parent=urn(EXISTING, "web-1")),
            # Without a parent chain (hand-made or older JSON), the name's known suffix is dropped.
            step("create", f"{NODE_APP}${COPY}", "db-2-app-node-upload", None, {"remote_path": "/tmp/n.tgz"}),
        )
    )
    assert {(r.layer, r.host, r.name) for r in rows} == {
        ("hosts", "web-1", "web-1-probe"),
        ("app", "web-1", "web-1-app-release"),
        ("app", "db-2", "db-2-app-node-upload"),
    }


def test_a_new_backend_lists_its_host_and_app_and_diffs_only_the_nginx_site() -> None:
    text = summarize(third_backend(), STACK)
    assert "**9 to create, 1 to update**, 27 unchanged" in text
    assert "- **New hosts:** **app3**" in text
    assert re.search(r"^\| hosts \| app3 \| `app3-container` \| `\+` create \|", text, re.M)
    assert re.search(r"^\| app \| app3 \| `app3-app-base` \| `\+` create \| app user and folders \|$", text, re.M)
    assert "| `app3-app-node-upload` | `+` create | uploads `wayshub-node-22.11.0.tgz` |" in text
    assert (
        "| `app3-app-release` | `+` create | first deploy: make the release, switch to it, start, health check |"
        in text
    )
    assert "- **First deploy of the app:** **app3**" in text
    assert diff_titles(text) == ["nginx site on lb (`lb-site`):"]
    assert "+    server 10.0.0.13:3000 max_fails=1 fail_timeout=3s;" in text
    # The release's files: its env file (stdin) and the unit and start script of its deploy command.
    assert "- env file on app3 (`app3-app-release`): new, 2 lines" in text
    assert "- systemd unit on app3 (`app3-app-release`): new, content known after `pulumi up`" in text
    assert "- start script on app3 (`app3-app-release`): new, content known after `pulumi up`" in text
    assert "Hosts that roll" not in text
    assert "docker run" not in text and "sudo -n" not in text, "command strings are not for reviewers"


def test_a_replacement_is_one_row() -> None:
    types = f"{VM}${LOCAL}"
    old, new = {"triggers": ["a"]}, {"triggers": ["b"]}
    data = preview(
        step("create-replacement", types, "app1-container", old, new, parent=urn(VM, "app1")),
        step("replace", types, "app1-container", old, new, parent=urn(VM, "app1")),
        step("delete-replaced", types, "app1-container", old, None, parent=urn(VM, "app1")),
    )
    (row,) = changes(data)
    assert (row.op, row.changed) == ("replace", ["triggers"])
    assert "| hosts | app1 | `app1-container` | `+-` replace |" in summarize(data, STACK)


def test_a_removed_host_is_named() -> None:
    data = preview(
        step("delete", f"{VM}${LOCAL}", "app3-container", {"create": "x"}, None, parent=urn(VM, "app3")),
        app_step("delete", "app3", "release", release("aaa111"), None),
    )
    text = summarize(data, STACK)
    assert "- **Removed hosts:** **app3**" in text
    assert "| `app3-app-release` | `-` delete | stops serving |" in text
    assert "- env file on app3 (`app3-app-release`): removed, 2 lines" in text
    assert "- systemd unit on app3 (`app3-app-release`): removed, 5 lines" in text
    assert "- start script on app3 (`app3-app-release`): removed, 2 lines" in text


# ---------------------------------------------------------------- rolls and files


def test_a_release_change_rolls_the_hosts_and_diffs_no_file() -> None:
    data = preview(
        release_step("app2", "aaa111", "bbb222"),
        release_step("app1", "aaa111", "bbb222"),
        app_step(
            "update",
            "app1",
            "upload",
            {"remote_path": "/tmp/wayshub-aaa111.tar.gz"},
            {"remote_path": "/tmp/wayshub-bbb222.tar.gz"},
        ),
        summary={"update": 3, "same": 20},
    )
    text = summarize(data, STACK)
    assert (
        "- **Hosts that roll** (one batch at a time, each gated on its health check): **app1**, **app2** "
        "(release `aaa111` → `bbb222`)" in text
    )
    assert "| `app1-app-release` | `~` update | roll: release `aaa111` → `bbb222` (restart, health check) |" in text
    assert "uploads `wayshub-bbb222.tar.gz`" in text
    assert diff_titles(text) == [], "the env file, unit and start script are the same text"
    assert "Files that change" not in text


@pytest.mark.parametrize(
    ("texts", "title", "line"),
    [
        ({"unit": UNIT + "LimitNOFILE=65536\n"}, "systemd unit", "+LimitNOFILE=65536"),
        ({"start": START.replace("server.js", "dist/server.js")}, "start script", "+exec node dist/server.js"),
    ],
    ids=["unit", "start-script"],
)
def test_a_unit_or_start_script_change_shows_its_diff_and_rolls_for_it(
    texts: dict[str, str], title: str, line: str
) -> None:
    """They are variables of the release's deploy command; the release id hashes them, so it changes too."""
    text = summarize(preview(release_step("app1", "aaa111", "bbb222", **texts)), STACK)
    assert diff_titles(text) == [f"{title} on app1 (`app1-app-release`):"]
    assert line in text
    assert f"- **Files that change:** {title} on app1 (`app1-app-release`)" in text
    assert f"**app1** (release `aaa111` → `bbb222`; {title} changed)" in text
    assert f"roll: release `aaa111` → `bbb222`; {title} changed (restart, health check)" in text
    assert "sudo -n" not in text and "set -euo pipefail" not in text, "the command itself is not shown"


@pytest.mark.parametrize(
    ("new_create", "cause"),
    [
        (deploy("aaa111", health="/ready"), "deploy script changed"),
        (UNKNOWN, "deploy script may change (known after `pulumi up`)"),
    ],
    ids=["known", "unknown"],
)
def test_a_new_deploy_command_for_the_same_release_says_the_deploy_script_changed(new_create: str, cause: str) -> None:
    """E.g. another health check: the command changes, the release id, env file, unit and start script do not."""
    new = {**release("aaa111"), "create": new_create}
    text = summarize(preview(app_step("update", "app1", "release", release("aaa111"), new)), STACK)
    assert f"- **Hosts that roll** (one batch at a time, each gated on its health check): **app1** ({cause})" in text
    assert f"| `app1-app-release` | `~` update | roll: {cause} (restart, health check) |" in text
    assert diff_titles(text) == []


def test_an_env_file_change_shows_its_diff_and_rolls_for_the_env_file() -> None:
    """The env file is the release's stdin; a new value changes its digest in rerun_on, not the release id."""
    new = release("aaa111", env=ENV + "WORKERS=4\n", digest="e2")
    text = summarize(preview(app_step("update", "app1", "release", release("aaa111"), new)), STACK)
    assert diff_titles(text) == ["env file on app1 (`app1-app-release`):"]
    assert "+WORKERS=4" in text
    assert "**app1** (env file changed)" in text
    assert "| `app1-app-release` | `~` update | roll: env file changed (restart, health check) |" in text


def test_a_secret_env_file_rolls_for_a_secret_and_shows_no_text() -> None:
    """As the engine shows an env file that gets a secret: its text and the release's rerun_on become [secret]."""
    old = release("aaa111", env="PORT=3000\n")
    new = {**release("bbb222"), "stdin": "[secret]", "rerun_on": "[secret]"}
    text = summarize(preview(app_step("update", "app1", "release", old, new)), STACK)
    assert "env file on app1 (`app1-app-release`): [secret]: content hidden." in text
    assert "**app1** (a secret input changed)" in text
    assert (
        "| app | app1 | `app1-app-release` | `~` update | roll: a secret input changed (restart, health check) |"
        in text
    )
    assert "PORT=3000" not in text, "not even the old text of a file that becomes secret"


def test_with_secrets_a_new_release_is_read_from_the_deploy_command() -> None:
    """With wayshub:appSecrets the whole rerun_on is [secret]; the command still names the release."""
    old = {**release("aaa111"), "stdin": "[secret]", "rerun_on": "[secret]"}
    new = {**release("bbb222"), "stdin": "[secret]", "rerun_on": "[secret]"}
    text = summarize(preview(app_step("update", "app1", "release", old, new)), STACK)
    assert "**app1** (release `aaa111` → `bbb222`)" in text
    assert "roll: release `aaa111` → `bbb222` (restart, health check)" in text
    assert diff_titles(text) == []


def test_the_hosts_block_is_diffed() -> None:
    old = {
        "path": "/etc/hosts",
        "stack": STACK,
        "block": "# BEGIN wayshub-infra staging\n10.0.0.10\twayshub.example\n# END wayshub-infra staging\n",
    }
    new = {
        **old,
        "block": old["block"].replace("10.0.0.10", "10.0.0.20"),
        "entries": [["10.0.0.20", "wayshub.example"]],
    }
    text = summarize(preview(step("update", HOSTS_ENTRY, "hosts-entry", old, new)), STACK)
    assert diff_titles(text) == ["hosts block (`hosts-entry`):"]
    assert "-10.0.0.10\twayshub.example" in text and "+10.0.0.20\twayshub.example" in text
    assert "| names | — | `hosts-entry` | `~` update | hosts block changes (diff below); `entries` changed |" in text


def test_tls_files_are_named_but_not_diffed() -> None:
    cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"
    lb_file = f"{LB}${REMOTE}"
    data = preview(
        step("create", "pulumi-python:dynamic/wayshub:SelfSignedTls", "tls", None, {"domain": "wayshub.example"}),
        step("update", lb_file, "lb-tls-certificate", command(cert), command(cert + "\n"), parent=urn(LB, "lb")),
        step(
            "update",
            lb_file,
            "lb-tls-key",
            command("[secret]"),
            command(secret_object(PRIVATE_KEY)),
            parent=urn(LB, "lb"),
        ),
    )
    text = summarize(data, STACK)
    assert [(r.layer, r.host, r.name) for r in changes(data)] == [
        ("load balancer", "lb", "lb-tls-certificate"),
        ("load balancer", "lb", "lb-tls-key"),
        ("load balancer", "—", "tls"),
    ]
    assert "TLS certificate on lb (`lb-tls-certificate`): changes (not shown line by line)." in text
    assert "TLS private key on lb (`lb-tls-key`): [secret]: content hidden." in text
    assert "| `tls` | `+` create | self-signed CA and certificate (keys are secrets) |" in text
    assert diff_titles(text) == [] and "MIIBszCC" not in text and KEY_BODY not in text


def test_text_with_backticks_gets_a_longer_fence() -> None:
    data = preview(
        app_step("update", "app1", "release", release("aaa111", env="A=1\n"), release("aaa111", env="A=```\n"))
    )
    text = summarize(data, STACK)
    assert "````diff" in text and "+A=```" in text


# ---------------------------------------------------------------- secrets


def secret_object(plaintext: str) -> dict[str, str]:
    return {SECRET_SIGNATURE: "1b47061264138c4ac30d75fd1eb44270", "plaintext": json.dumps(plaintext)}


def test_secrets_are_shown_as_secret_and_never_printed() -> None:
    data = preview(
        # a secret file text, old as Pulumi prints it, new as an export with --show-secrets has it
        app_step(
            "update",
            "app1",
            "release",
            {**release("aaa111"), "stdin": "[secret]", "rerun_on": "[secret]"},
            {**release("aaa111"), "stdin": secret_object(PLAINTEXT_SECRET), "rerun_on": "[secret]"},
        ),
        app_step(
            "update",
            "app2",
            "release",
            {**release("aaa111", env="TOKEN=1\n"), "connection": secret_object(PRIVATE_KEY)},
            {**release("aaa111", env="TOKEN=2\n", digest="e2"), "connection": secret_object(PRIVATE_KEY + "x")},
        ),
        # an unmarked private key in a file text, and in an error message
        app_step(
            "update",
            "app3",
            "release",
            release("aaa111", env="A=1\n"),
            release("aaa111", env=f"A=1\nKEY={PRIVATE_KEY}"),
        ),
        # a file that is [secret] before and after
        step(
            "update",
            f"{LB}${REMOTE}",
            "lb-tls-key",
            command("[secret]", connection=secret_object(PRIVATE_KEY)),
            command(secret_object(PRIVATE_KEY + "y"), connection=secret_object(PRIVATE_KEY + "x")),
            parent=urn(LB, "lb"),
        ),
        diagnostics=[
            {"urn": urn(REMOTE, "app1-app-release"), "severity": "error", "message": f"failed:\n{PRIVATE_KEY}"}
        ],
    )
    text = summarize(data, STACK)
    assert PLAINTEXT_SECRET not in text
    assert KEY_BODY not in text and "PRIVATE KEY-----" not in text
    assert "env file on app1 (`app1-app-release`): [secret]: content hidden." in text
    assert "TLS private key on lb (`lb-tls-key`): [secret]: content hidden." in text
    # Secrets are compared only as Pulumi shows them: the engine saw a change, the JSON cannot say which.
    assert (
        "| app | app1 | `app1-app-release` | `~` update | roll: a secret input changed (restart, health check) |"
        in text
    )
    assert (
        "| load balancer | lb | `lb-tls-key` | `~` update | TLS private key: a secret changed (`connection` or `stdin`) |"
        in text
    )
    assert "-TOKEN=1" in text and "+TOKEN=2" in text
    assert "[private key hidden]" in text


# ---------------------------------------------------------------- size limit


def big_preview(hosts: int, lines: int) -> dict[str, Any]:
    steps = []
    for n in range(1, hosts + 1):
        old = "".join(f"SETTING_OLD_{i}=value-{n}\n" for i in range(lines))
        new = "".join(f"SETTING_NEW_{i}=value-{n}\n" for i in range(lines))
        steps.append(app_step("update", f"app{n}", "release", release("r1", env=old), release("r1", env=new)))
    return preview(*steps, summary={"update": hosts})


def test_a_long_comment_is_cut_under_the_limit_with_a_note() -> None:
    data = big_preview(hosts=30, lines=200)
    url = "https://example.invalid/artifact/1"
    full = summarize(data, STACK, max_chars=0, marker=default_marker(STACK), details_url=url)
    assert len(full) > 65_536
    text = summarize(data, STACK, marker=default_marker(STACK), details_url=url)
    assert len(text) <= DEFAULT_MAX_CHARS
    assert text.splitlines()[0] == default_marker(STACK)
    assert "> **Truncated:** the comment shows" in text
    assert f"of {len(full):,} characters" in text
    assert text.endswith(f"The full output: {url}\n")
    assert full.startswith(text[: text.index("\n> **Truncated:**")].rsplit("\n```", 1)[0])
    fences = [line for line in text.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0, "every code block is closed"
    assert "| app | app1 |" in text, "the table comes first and survives the cut"


@pytest.mark.parametrize("max_chars", [1_000, 1_234, 5_000, 9_999, 30_000, 59_999])
def test_the_limit_holds_at_any_size(max_chars: int) -> None:
    text = summarize(big_preview(hosts=12, lines=120), STACK, max_chars=max_chars)
    assert len(text) <= max_chars
    assert text.endswith("characters (GitHub's limit is 65,536). The full output is in the job's artifacts.\n")
    assert sum(1 for line in text.splitlines() if line.startswith("```")) % 2 == 0


def test_a_short_comment_is_not_cut() -> None:
    data = third_backend()
    assert summarize(data, STACK, max_chars=DEFAULT_MAX_CHARS) == summarize(data, STACK, max_chars=0)
    assert "Truncated" not in summarize(data, STACK)


# ---------------------------------------------------------------- errors and the command line


def test_a_failed_preview_shows_the_error() -> None:
    message = "<{%reset%}>error: wayshub:lb.keepalive: Input should be a valid integer<{%reset%}>\n"
    data = {
        "steps": [],
        "diagnostics": [{"message": message, "severity": "error"}, {"message": "hi", "severity": "info"}],
    }
    text = summarize(data, STACK)
    assert "### `staging`: Pulumi failed" in text
    assert "error: wayshub:lb.keepalive: Input should be a valid integer" in text
    assert "<{%" not in text and "hi" not in text.split("#### Errors", 1)[1]
    assert "No changes" not in text


def test_the_command_line_reads_a_file_or_stdin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "preview.json"
    source.write_text(json.dumps(third_backend()))
    assert main([str(source), "--stack", STACK, "--commit", "0123456789abcdef0123"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<!-- wayshub-preview:staging -->\n### `staging`: Pulumi preview")
    assert "commit `0123456789ab`" in out

    assert main([str(source), "--stack", STACK, "--marker", ""]) == 0
    assert capsys.readouterr().out.startswith("### `staging`")

    run = subprocess.run(
        [str(SCRIPT), "--stack", "prod", "--max-chars", "2000", "--marker", "<!-- x -->"],
        input=json.dumps(big_preview(hosts=3, lines=100)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.startswith("<!-- x -->\n### `prod`")
    assert len(run.stdout) <= 2000 and "Truncated" in run.stdout


@pytest.mark.parametrize(
    ("stdin", "args", "error"),
    [
        ("", [], "empty input"),
        ("{not json", [], "preview-summary: Expecting property name"),
        ("[]", [], "expected a JSON object"),
        ("{}", ["--max-chars", "10"], "--max-chars must be 0 (no limit) or at least 1000"),
    ],
)
def test_bad_input_is_refused_with_one_line(stdin: str, args: list[str], error: str) -> None:
    run = subprocess.run([str(SCRIPT), "--stack", STACK, *args], input=stdin, capture_output=True, text=True)
    assert run.returncode == 2
    assert error in run.stderr
    assert run.stdout == ""


def test_an_upload_by_pulumi_commands_copy_to_remote_names_its_file_too() -> None:
    copy = step(
        "create",
        f"{NODE_APP}$command:remote:CopyToRemote",
        "app3-app-upload",
        None,
        {"remotePath": "/tmp/wayshub-ccc333.tar.gz"},
        parent=urn(NODE_APP, "app3-app"),
    )
    text = summarize(preview(copy, summary={"create": 1}), STACK)
    assert "uploads `wayshub-ccc333.tar.gz`" in text


def test_a_host_state_resource_is_no_row_it_runs_nothing() -> None:
    """``<host>-app-state``/``lb-state`` (docs/drift.md) change along with the steps they expect: no row."""
    state_type = "pulumi-python:dynamic/wayshub:HostState"
    data = preview(
        release_step("app1", "aaa111", "bbb222"),
        step("update", f"{NODE_APP}${state_type}", "app1-app-state", {"expected": {}}, {"expected": {"a": "b"}}),
    )
    text = summarize(data, STACK)
    assert "app1-app-release" in text
    assert "app1-app-state" not in text
    assert [c.name for c in changes(data)] == ["app1-app-release"]


SITE_URN = urn(SITE_TYPE, "site")


def under_the_site(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as the program makes it since issue #38: every resource of ours under one Site component."""

    def moved(text: str) -> str:
        if text == STACK_URN:
            return SITE_URN
        head, chain, name = text.rsplit("::", 2)
        return f"{head}::{SITE_TYPE}${chain}::{name}"

    steps = [data["steps"][0], {"op": "same", "urn": SITE_URN, "newState": {"urn": SITE_URN, "type": SITE_TYPE}}]
    for one in data["steps"][1:]:
        one = copy.deepcopy(one)
        one["urn"] = moved(one["urn"])
        for key in ("oldState", "newState"):
            if key in one:
                one[key]["urn"] = moved(one[key]["urn"])
                one[key]["parent"] = moved(one[key]["parent"])
        steps.append(one)
    return {**data, "steps": steps}


def test_under_the_site_component_each_row_keeps_its_layer_and_host() -> None:
    data = third_backend()
    rows = [(r.layer, r.host, r.name, r.op) for r in changes(data)]
    assert rows and [(r.layer, r.host, r.name, r.op) for r in changes(under_the_site(data))] == rows
    assert summarize(under_the_site(data), STACK) == summarize(data, STACK)
