"""scripts/preview-summary on REAL previews: the engine's `pulumi preview --diff --json` of three changes to
the deployed site (nothing is applied), turned into the pull-request comment and read as a reviewer would.

(a) a third backend, (b) a new release, (c) an nginx setting; and a broken config, whose preview fails.
Each test puts the stack config and the app folder back as they were, whatever happens.

``WAYSHUB_WRITE_PREVIEW_EXAMPLE=1`` also writes docs/preview-example.md from the comment of (a).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.pulumi_cli import REPO
from tests.e2e.site import SITE_STACK, SUBNET, SUBNET_PREFIX, Site, write_stack_config

pytestmark = pytest.mark.e2e

SCRIPT = REPO / "scripts" / "preview-summary"
EXAMPLE = REPO / "docs" / "preview-example.md"
MARKER = f"<!-- wayshub-preview:{SITE_STACK} -->"
APP_SERVERS = ["app1", "app2"]


@pytest.fixture(scope="module")
def baseline(site: Site) -> Site:
    """The site as the session deployed it: 2 app servers, default settings. Test files that ran before
    may have deployed something else; then one `up` converges it, so every preview here starts from it."""
    write_stack_config(site, app_servers=APP_SERVERS)
    if any(step.op != "same" for step in site.cli.preview_steps()):
        site.cli.up()
    return site


@pytest.fixture
def restored(baseline: Site) -> Iterator[Site]:
    """The site; afterwards its config is the deployed one again and app/ has no VARIANT file."""
    try:
        yield baseline
    finally:
        (baseline.project / "app" / "VARIANT").unlink(missing_ok=True)
        write_stack_config(baseline, app_servers=APP_SERVERS)


@pytest.fixture(scope="module")
def key_lines(site: Site) -> list[str]:
    """The body lines of the stack's SSH private key (from the state, decrypted): never in a comment."""
    exported = site.cli.state(show_secrets=True)
    (key_pair,) = [r for r in exported["deployment"]["resources"] if r["urn"].endswith("::sandbox-key")]
    private_key = json.loads(key_pair["outputs"]["private_key"]["plaintext"])
    lines = [line for line in private_key.splitlines() if line and "PRIVATE KEY" not in line]
    assert lines, "the stack should hold a key pair"
    return lines


def preview(site: Site) -> tuple[str, int]:
    """The engine's preview as JSON text, and its exit code (nothing is applied)."""
    result = site.cli.preview(json_output=True, check=False)
    return result.stdout, result.returncode


def summary(site: Site, preview_json: str, *args: str) -> str:
    """The comment, made by the executable as the workflow runs it (JSON on stdin)."""
    result = subprocess.run(
        [str(SCRIPT), "--stack", SITE_STACK, *args],
        input=preview_json,
        capture_output=True,
        text=True,
        env=site.cli.env,
        check=True,
    )
    return result.stdout


def diff_titles(markdown: str) -> list[str]:
    lines = markdown.splitlines()
    return [lines[i - 2] for i, line in enumerate(lines) if re.match(r"^`{3,}diff$", line)]


def table_rows(markdown: str) -> list[tuple[str, str, str, str]]:
    """(layer, host, resource, op) per table row, with the grouped-away layer and host filled in."""
    rows: list[tuple[str, str, str, str]] = []
    layer = host = ""
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 5 or not cells[2].startswith("`"):
            continue
        layer = cells[0] or layer
        host = cells[1] or host
        rows.append((layer, host, cells[2].strip("`"), cells[3].split()[-1]))
    return rows


def assert_no_secrets(markdown: str, key_lines: list[str]) -> None:
    leaked = [line for line in key_lines if line in markdown]
    assert not leaked, "the comment holds private key material"
    assert "PRIVATE KEY" not in markdown


def test_a_third_backend_shows_its_host_its_app_and_the_new_upstream_line(restored: Site, key_lines: list[str]) -> None:
    write_stack_config(restored, app_servers=["app1", "app2", "app3"])
    preview_json, status = preview(restored)
    assert status == 0, preview_json[-3000:]
    markdown = summary(restored, preview_json)

    assert markdown.startswith(MARKER + "\n")
    rows = table_rows(markdown)
    created = [(layer, host, name) for layer, host, name, op in rows if op == "create"]
    assert {layer for layer, _, _ in created} == {"hosts", "app"}
    assert all(host == "app3" and name.startswith("app3-") for _, host, name in created), created
    assert ("hosts", "app3", "app3-container") in created
    assert {name for layer, _, name in created if layer == "app"} >= {
        "app3-app-base",
        "app3-app-node",
        "app3-app-upload",
        "app3-app-release",
    }
    # The nginx site and the LB's health checker list the backends; nothing else changes in place.
    assert [(layer, host, name, op) for layer, host, name, op in rows if op != "create"] == [
        ("load balancer", "lb", "lb-site", "update"),
        ("load balancer", "lb", "lb-health-service", "update"),
    ]
    assert "- **New hosts:** **app3**" in markdown
    assert "- **First deploy of the app:** **app3**" in markdown
    assert "Hosts that roll" not in markdown
    # The new release's env file is the release resource's stdin: written, not diffed.
    assert re.search(r"^- env file on app3 \(`app3-app-release`\): new, \d+ lines$", markdown, re.M), markdown

    assert diff_titles(markdown) == [
        "nginx site on lb (`lb-site`):",
        "backend health check settings on lb (`lb-health-service`):",
    ], "only the nginx site's and the health checker's texts change"
    assert f"+    server {SUBNET_PREFIX}.13:3000 max_fails=1 fail_timeout=3s;" in markdown
    assert_no_secrets(markdown, key_lines)

    if os.environ.get("WAYSHUB_WRITE_PREVIEW_EXAMPLE") == "1":
        write_example(restored, preview_json)


def test_a_new_release_rolls_every_app_server_and_changes_no_file(restored: Site, key_lines: list[str]) -> None:
    deployed = restored.cli.outputs()["release"]
    (restored.project / "app" / "VARIANT").write_text("b\n")  # a new release id: the source's hash changes
    preview_json, status = preview(restored)
    assert status == 0, preview_json[-3000:]
    markdown = summary(restored, preview_json)

    (roll_line,) = [line for line in markdown.splitlines() if line.startswith("- **Hosts that roll**")]
    assert "**app1**, **app2**" in roll_line
    assert re.search(rf"release `{deployed}` → `[0-9a-f]{{12}}`", roll_line), roll_line
    # The env file, unit and start script are the same text from release to release: only the id changes.
    assert re.search(r"\(release `[0-9a-f]{12}` → `[0-9a-f]{12}`\)$", roll_line), roll_line
    rows = table_rows(markdown)
    assert ("app", "app1", "app1-app-release", "update") in rows
    assert ("app", "app2", "app2-app-release", "update") in rows
    assert {layer for layer, *_ in rows} == {"app"}, "a release touches no host, nginx or hosts file"
    assert diff_titles(markdown) == []
    assert "nginx" not in markdown
    assert_no_secrets(markdown, key_lines)


def test_an_nginx_setting_shows_the_changed_line(restored: Site, key_lines: list[str]) -> None:
    write_stack_config(restored, app_servers=APP_SERVERS, extra={"wayshub:lb": {"keepalive": 64}})
    preview_json, status = preview(restored)
    assert status == 0, preview_json[-3000:]
    markdown = summary(restored, preview_json)

    assert table_rows(markdown) == [("load balancer", "lb", "lb-site", "update")]
    assert diff_titles(markdown) == ["nginx site on lb (`lb-site`):"]
    diff = markdown.split("```diff\n", 1)[1].split("\n```", 1)[0].splitlines()
    assert "-    keepalive 32;" in diff and "+    keepalive 64;" in diff
    assert [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        "-    keepalive 32;",
        "+    keepalive 64;",
    ]
    assert "**lb**: nginx reloads after `nginx -t`" in markdown
    assert "Hosts that roll" not in markdown
    assert_no_secrets(markdown, key_lines)


def test_a_broken_config_gives_a_comment_with_the_engines_error(restored: Site) -> None:
    write_stack_config(restored, app_servers=APP_SERVERS, extra={"wayshub:lb": {"keepalive": "many"}})
    preview_json, status = preview(restored)
    assert status != 0
    markdown = summary(restored, preview_json)
    assert markdown.startswith(MARKER + "\n")
    assert f"### `{SITE_STACK}`: Pulumi failed" in markdown
    assert "wayshub:lb.keepalive" in markdown
    assert "No changes" not in markdown


def test_a_secret_in_the_env_file_is_shown_as_secret(restored: Site, key_lines: list[str]) -> None:
    write_stack_config(restored, app_servers=APP_SERVERS)
    value = "s3cr3t-e2e-token-never-shown"
    restored.cli.set_config("wayshub:appSecrets.API_TOKEN", value, secret=True, path=True)
    preview_json, status = preview(restored)
    assert status == 0, preview_json[-3000:]
    markdown = summary(restored, preview_json)

    assert "env file on app1 (`app1-app-release`): [secret]: content hidden." in markdown
    assert "env file on app2 (`app2-app-release`): [secret]: content hidden." in markdown
    (roll_line,) = [line for line in markdown.splitlines() if line.startswith("- **Hosts that roll**")]
    assert "**app1**, **app2** (a secret input changed)" in roll_line
    assert value not in markdown and "API_TOKEN" not in markdown
    assert_no_secrets(markdown, key_lines)


def write_example(site: Site, preview_json: str) -> None:
    """docs/preview-example.md: the comment of change (a), as the workflow would post it."""
    markdown = summary(site, preview_json)
    EXAMPLE.parent.mkdir(exist_ok=True)
    EXAMPLE.write_text(
        "# Example pull-request comment: a third app server\n\n"
        "Generated, not written by hand: `tests/e2e/test_preview_summary.py` with\n"
        "`WAYSHUB_WRITE_PREVIEW_EXAMPLE=1` adds `app3` to the e2e sandbox stack's config, runs the real engine's\n"
        "`pulumi preview --diff --json` (nothing is applied) and feeds it to `scripts/preview-summary`, as\n"
        "`.github/workflows/preview.yml` does for every pull request and stack. The stack here is the test's\n"
        f"`{SITE_STACK}`, its sandbox subnet {SUBNET}.\n\n"
        "---\n\n" + markdown
    )


def test_the_example_in_docs_is_a_real_summary() -> None:
    """docs/preview-example.md exists and is what the script writes (regenerate it as its header says)."""
    text = EXAMPLE.read_text()
    assert "WAYSHUB_WRITE_PREVIEW_EXAMPLE=1" in text
    comment = text.split("---\n\n", 1)[1]
    assert re.match(r"<!-- wayshub-preview:e2e\d* -->\n### `e2e\d*`: Pulumi preview\n", comment)
    assert "- **New hosts:** **app3**" in comment and "+    server " in comment
    assert Path(SCRIPT).is_file()
