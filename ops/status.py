"""`make status`: one row per host, and whether each host is as the stack says (the exit code)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from components.app.layout import unit_name
from components.hosts.probe import parse_facts
from components.load_balancer.health_check import Paths
from components.load_balancer.nginx import site_path
from components.shell.host_script import host_script
from ops.fanout import HostResult, run_commands
from ops.stack import OpsHost, OpsSite, StackView

STATUS_SCRIPT = Path(__file__).resolve().parent / "host" / "status.sh"
PROBE_JS = Path(__file__).resolve().parents[1] / "components" / "app" / "host" / "probe.js"


def status_command(view: StackView, host: OpsHost, site: OpsSite) -> str:
    """``sudo bash -c`` of host/status.sh with its inputs (each value quoted), for one site on the host."""
    health = site.app.health
    low, high = health.status_range
    return host_script(
        STATUS_SCRIPT,
        {
            "ROLE": host.role,
            "APP": site.app.name,
            "PORT": str(site.app.port),
            "HEALTH_PATH": health.path,
            "STATUS_LOW": str(low),
            "STATUS_HIGH": str(high),
            "HEALTH_BODY": health.body_contains or "",
            "PROBE_JS": PROBE_JS.read_text(),
            "UPSTREAM": site.upstream,
            "SITE_FILE": site_path(site.site_name) if site.site_name else "",
            "HEALTH_UNIT": Paths.of(site.site_name).unit if site.health_unit and site.site_name else "",
            "VIRTUAL_ADDRESS": view.virtual_address,
        },
    )


@dataclass(frozen=True)
class Row:
    host: str
    role: str
    site: str  # the site's name (OpsSite.name)
    reachable: bool
    release: str
    unit: str
    since: str
    restarts: str
    health: str
    node: str
    disk: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def where(self, several: bool) -> str:
        """How problem lines and the summary name the row: its host, and its site when the stack has several."""
        return f"{self.host} ({self.site})" if several else self.host


def ago(epoch: str, now: float) -> str:
    """``3m ago`` style, from an epoch in seconds ("" when unknown)."""
    if not epoch.isdigit():
        return "-"
    seconds = max(0, int(now - int(epoch)))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def until(epoch: str, now: float) -> str:
    """``in 5m`` style, from an epoch in seconds ("" when unknown)."""
    if not epoch.isdigit():
        return "not planned"
    seconds = max(0, int(int(epoch) - now))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"in {seconds // size}{unit}"
    return f"in {seconds}s"


JOB_FACTS = ("timer", "state", "result", "exit", "last", "next")


def job_facts(facts: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each scheduled job's facts (host/status.sh's ``job_<name>_<fact>``), by job name."""
    jobs: dict[str, dict[str, str]] = {}
    for key, value in facts.items():
        name, _, fact = key.removeprefix("job_").rpartition("_")
        if key.startswith("job_") and name and fact in JOB_FACTS:
            jobs.setdefault(name, {})[fact] = value
    return jobs


def schedules_server(site: OpsSite) -> str:
    """The app server that runs the site's scheduled jobs (components/app/schedules.py)."""
    return site.app.schedules_server or (site.servers[0] if site.servers else "")


def judge_jobs(site: OpsSite, host: str, facts: dict[str, str], now: float) -> tuple[str, list[str]]:
    """The state text of the jobs on ``host`` (``, job nightly: ok 3m ago, next in 5h``) and their problems."""
    jobs = job_facts(facts)
    runs_them = host == schedules_server(site)
    problems = [f"job {s.name} has no timer here" for s in site.app.schedules if runs_them and s.name not in jobs]
    text = ""
    for name, job in sorted(jobs.items()):
        if not runs_them or name not in {s.name for s in site.app.schedules}:
            problems.append(
                f"job {name} has a timer here; the stack runs it on {schedules_server(site) or 'no server'}"
            )
        if job.get("timer") != "active":
            problems.append(f"{site.app.name}@job-{name}.timer is {job.get('timer') or 'unknown'}")
        if job.get("state") == "activating":
            last = f"running since {ago(job.get('last', ''), now)}"
        elif not job.get("last", "").isdigit():
            last = "not run yet"
        elif job.get("result") == "success":
            last = f"ok {ago(job['last'], now)}"
        else:
            last = f"failed {ago(job['last'], now)} (exit code {job.get('exit', '?')})"
            problems.append(f"job {name}'s last run failed ({job.get('result')}, exit code {job.get('exit', '?')})")
        # While a run goes its timer plans no next time (systemd plans it when the run ends).
        running = job.get("state") == "activating" and not job.get("next", "").isdigit()
        text += f", job {name}: {last}" + ("" if running else f", next {until(job.get('next', ''), now)}")
    return text, problems


def disk_text(facts: dict[str, str]) -> str:
    free = facts.get("disk_free_kb", "")
    if not free.isdigit():
        return "-"
    return f"{int(free) / 1048576:.1f}G free ({facts.get('disk_used', '?')} used)"


def judge(view: StackView, site: OpsSite, outcome: HostResult, now: float) -> Row:
    """The row of one site on the host; ``problems`` says what is not as the stack says."""
    host = outcome.host
    if outcome.result is None or outcome.result.exit_code != 0:
        why = outcome.error or (outcome.result.stderr.strip() if outcome.result else "") or "status script failed"
        return Row(
            host.name, host.role, site.name, outcome.result is not None, "-", "-", "-", "-", "-", "-", "-", (why,)
        )
    facts = parse_facts(outcome.result.stdout)
    problems: list[str] = []
    if host.role == "app":
        release = facts.get("release", "")
        if release != site.release:
            problems.append(f"runs release {release or 'none'}, the stack's is {site.release}")
        state = facts.get("unit_state", "unknown")
        if state != "active":
            problems.append(f"{unit_name(site.app.name)} is {state}")
        processes = {key.removeprefix("process_"): value for key, value in facts.items() if key.startswith("process_")}
        for name, process_state in processes.items():
            if process_state != "active":
                problems.append(f"{site.app.name}@{name}.service is {process_state or 'unknown'}")
        jobs_text, job_problems = judge_jobs(site, host.name, facts, now)
        problems += job_problems
        health = facts.get("health", "")
        if health != "ok":
            problems.append(f"health check: {health or 'no answer'}")
        health_text = f"{health} {facts['health_ms']}ms" if health == "ok" and "health_ms" in facts else health
        marker = "" if release == site.release else " (not the stack's)"
        return Row(
            host.name,
            host.role,
            site.name,
            True,
            (release or "-") + marker,
            state + "".join(f", {name} {process_state}" for name, process_state in processes.items()) + jobs_text,
            ago(facts.get("unit_since", ""), now),
            facts.get("unit_restarts", "-") or "-",
            health_text or "-",
            facts.get("node", "") or "-",
            disk_text(facts),
            tuple(problems),
        )
    state = facts.get("nginx_state", "unknown")
    if state != "active":
        problems.append(f"nginx is {state}")
    if facts.get("nginx_config") != "ok":
        problems.append("nginx -t fails")
    members = [m for m in facts.get("upstream", "").split(",") if m]
    if sorted(members) != sorted(site.backends):
        problems.append(f"upstream is {', '.join(members) or 'empty'}, the stack's is {', '.join(site.backends)}")
    if "health_unit" in facts and facts["health_unit"] != "active":
        problems.append(f"backend health check is {facts['health_unit'] or 'missing'}")
    unit = f"nginx {state}"
    health = f"upstream {len(members)}/{len(site.backends)}"
    if view.virtual_address:
        keepalived = facts.get("keepalived_state", "unknown")
        unit += f", keepalived {keepalived}"
        if keepalived != "active":
            problems.append(f"keepalived is {keepalived}: this LB cannot take {view.virtual_address} over")
        health += f", {'HOLDS ' + view.virtual_address if facts.get('holds') == 'yes' else 'standby'}"
    return Row(
        host.name,
        host.role,
        site.name,
        True,
        "-",
        unit,
        ago(facts.get("nginx_since", ""), now),
        facts.get("nginx_restarts", "-") or "-",
        health,
        "-",
        disk_text(facts),
        tuple(problems),
    )


def address_problem(view: StackView, rows: list[Row]) -> str | None:
    """With two LBs: exactly one must hold the shared address (none: the site is down; two: split brain)."""
    if not view.virtual_address:
        return None
    holders = list(dict.fromkeys(r.host for r in rows if r.role == "lb" and "HOLDS" in r.health))  # a row per site
    if len(holders) == 1:
        return None
    if not holders:
        return f"no LB holds {view.virtual_address}: the site is unreachable there"
    return f"{' and '.join(holders)} both hold {view.virtual_address} (split brain: they cannot see each other)"


COLUMNS = ("HOST", "ROLE", "SSH", "RELEASE", "UNIT", "SINCE", "RESTARTS", "HEALTH", "NODE", "DISK")


def table(rows: list[Row], several: bool = False) -> str:
    """The rows under their headings (with a SITE column when the stack has several sites), then a line per
    problem."""
    columns = (*COLUMNS[:2], "SITE", *COLUMNS[2:]) if several else COLUMNS
    cells = [columns] + [
        (
            r.host,
            r.role,
            *((r.site,) if several else ()),
            "ok" if r.reachable else "DOWN",
            r.release,
            r.unit,
            r.since,
            r.restarts,
            r.health,
            r.node,
            r.disk,
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    for r in rows:
        lines.extend(f"{r.where(several)}: {problem}" for problem in r.problems)
    return "\n".join(lines)


def targets(view: StackView) -> list[tuple[OpsHost, OpsSite]]:
    """Each host with each site it has a part in: a site's app servers, and every LB (its file, upstream, checker)."""
    return [(host, site) for host in view.hosts for site in view.serves(host)]


def summary(view: StackView, rows: list[Row]) -> str:
    bad = list(dict.fromkeys(r.where(view.several) for r in rows if not r.ok))
    if bad:
        return f"stack {view.stack}: NOT as the stack says on {', '.join(bad)}"
    if view.several:
        releases = ", ".join(f"{s.name} {s.release}" for s in view.sites)
        return f"stack {view.stack}: every host is as the stack says (releases: {releases})"
    return f"stack {view.stack}: every host is as the stack says (release {view.sites[0].release})"


def status(view: StackView) -> tuple[list[Row], str]:
    """Query every host for each of its sites in parallel; the rows and the printable report."""
    pairs = targets(view)
    outcomes = run_commands([(host, status_command(view, host, site)) for host, site in pairs], timeout=60)
    now = time.time()
    rows = [judge(view, site, outcome, now) for (_, site), outcome in zip(pairs, outcomes, strict=True)]
    shared = address_problem(view, rows)
    if shared:
        first = view.sites[0].name  # said once per LB, not once per site
        rows = [replace(r, problems=(*r.problems, shared)) if r.role == "lb" and r.site == first else r for r in rows]
    return rows, table(rows, view.several) + "\n" + summary(view, rows)
