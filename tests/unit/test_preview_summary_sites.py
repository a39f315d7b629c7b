"""scripts/preview-summary with wayshub:sites: the rows of each site under its heading, named by its server and
LB; a stack without sites keeps its one table (test_preview_summary.py, byte for byte)."""

from __future__ import annotations

import sys
from typing import Any

from tests.unit.test_preview_summary import (
    HOSTS_ENTRY,
    LB,
    NODE_APP,
    REMOTE,
    SCRIPTS,
    SITE,
    STACK,
    command,
    preview,
    release,
    release_step,
    step,
    urn,
)

sys.path.insert(0, str(SCRIPTS))  # as test_preview_summary.py does (imported above, so already there)
from preview_summary import changes, summarize

GROUP = "wayshub:load_balancer:SiteOnLbs"
SHOP_LB = f"{GROUP}${LB}"
CHECKER = f"{GROUP}$wayshub:load_balancer:BackendHealthCheck"
SHOP_SITE = SITE.replace("wayshub_staging", "wayshub_staging_shop").replace(":3000", ":3001")


def shop_release(op: str, host: str, old: str | None, new: str) -> dict[str, Any]:
    name = f"shop-{host}-app"
    return step(op, f"{NODE_APP}${REMOTE}", f"{name}-release", release(old) if old else None, release(new),
                parent=urn(NODE_APP, name))  # fmt: skip


def sites_preview(site_op: str = "same") -> dict[str, Any]:
    """Site `shop` (on app2) gets a new release and one more backend line; the stack's own site rolls app1."""
    group = urn(GROUP, "shop-site")
    return preview(
        {"op": site_op, "urn": group, "oldState": {"urn": group, "type": GROUP}},
        # Its LB and checker components (a real preview has a step for each, unchanged).
        step("same", SHOP_LB, "shop-lb", {}, {}, parent=group),
        step("same", CHECKER, "shop-lb-health", {}, {}, parent=group),
        release_step("app1", "r1", "r2"),
        shop_release("update", "app2", "s1", "s2"),
        step("update", f"{SHOP_LB}${REMOTE}", "shop-lb-site", command(SHOP_SITE), command(SHOP_SITE + "# more\n"),
             parent=urn(SHOP_LB, "shop-lb")),
        step("update", f"{CHECKER}${REMOTE}", "shop-lb-health-service", command("A=1\n"), command("A=2\n"),
             parent=urn(CHECKER, "shop-lb-health")),
        step("create", f"{GROUP}$pulumi-python:dynamic/wayshub:SelfSignedTls", "shop-tls", None, {"domain": "shop.test"},
             parent=group),
        step("update", HOSTS_ENTRY, "hosts-entry", {"block": "a\n"}, {"block": "a\nb\n"}),
    )  # fmt: skip


def section(text: str, heading: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#### ")), len(lines))
    return lines[start:end]


def test_each_sites_rows_are_under_its_heading_by_server_and_lb() -> None:
    text = summarize(sites_preview(), STACK, max_chars=0)
    own = section(text, "#### The stack's own site")
    assert own[-4:] == [
        "|---|---|---|---|---|",
        "| app | app1 | `app1-app-release` | `~` update | roll: release `r1` → `r2` (restart, health check) |",
        "| names | — | `hosts-entry` | `~` update | hosts block changes (diff below) |",
        "",
    ]
    assert "**app1** (release `r1` → `r2`)" in own[2]
    shop = section(text, "#### Site `shop`")
    assert "**app2** (release `s1` → `s2`)" in shop[2]
    assert shop[-7:] == [
        "| layer | host | resource | change | what |",
        "|---|---|---|---|---|",
        "| app | app2 | `shop-app2-app-release` | `~` update | roll: release `s1` → `s2` (restart, health check) |",
        "| load balancer | lb | `shop-lb-site` | `~` update | nginx site changes (diff below) |",
        "|  |  | `shop-lb-health-service` | `~` update | backend health check settings changes (diff below) |",
        "|  | — | `shop-tls` | `+` create | self-signed CA and certificate (keys are secrets) |",
        "",
    ]
    assert text.index("#### The stack's own site") < text.index("#### Site `shop`") < text.index("#### Rendered files")


def test_a_site_being_removed_is_still_a_heading_of_its_own() -> None:
    removed = sites_preview("delete")
    assert {c.name: c.site for c in changes(removed)}["shop-lb-site"] == "shop"
    assert "#### Site `shop`" in summarize(removed, STACK, max_chars=0)


def test_without_a_site_component_there_is_one_table() -> None:
    one = sites_preview()
    one["steps"] = [s for s in one["steps"] if GROUP not in s["urn"]]
    text = summarize(one, STACK, max_chars=0)
    assert "#### The stack's own site" not in text and "#### Site" not in text
    assert {c.site for c in changes(one)} == {""}
