"""`make logs`: the app's journal (and nginx's on the LB) from every host, one stream merged by time.

Each host prints its lines through host/logs.sh; here they are parsed to a timestamp, prefixed with the
host and sorted. With ``follow``, lines are gathered for a moment and printed in time order, batch by batch.
"""

from __future__ import annotations

import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from components.app.layout import process_unit_name, release_task_unit, unit_name
from components.load_balancer.health_check import Paths
from components.shell.host_script import host_script
from ops.fanout import run_all, stream_lines
from ops.stack import OpsHost, StackView

LOGS_SCRIPT = Path(__file__).resolve().parent / "host" / "logs.sh"
# nginx's own logs (Debian's nginx.conf; the site keeps them).
NGINX_LOGS = ("/var/log/nginx/access.log", "/var/log/nginx/error.log")
SETTLE_SECONDS = 0.5  # how long a followed line waits for earlier lines from slower hosts


@dataclass(frozen=True, order=True)
class Entry:
    time: float
    host: str
    source: str
    text: str

    def render(self, width: int) -> str:
        stamp = datetime.fromtimestamp(self.time).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        return f"{stamp} {self.host.ljust(width)} | {self.source}: {self.text}"


def parse_since(text: str, now: float) -> float:
    """``30s``, ``10m``, ``2h``, ``1d`` ago, or an ISO date/time (local time unless it has an offset)."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if match:
        return now - int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"SINCE={text!r}: use 30s, 10m, 2h, 1d or a date/time such as 2026-11-28T08:00") from None


def logs_command(view: StackView, host: OpsHost, lines: int, since: float | None, follow: bool) -> str:
    """host/logs.sh for one host: the app units of each site it serves; on an LB nginx's and each site's checker."""
    sites = view.serves(host)
    if host.role == "app":
        # The web process, its processes (app.processes: <app>@<name>), its scheduled jobs (app.schedules:
        # <app>@job-<name>, the same pattern) and its release task's runs.
        units = [
            unit
            for site in sites
            for unit in (
                unit_name(site.app.name),
                process_unit_name(site.app.name, "*"),
                release_task_unit(site.app.name),
            )
        ]
    else:
        units = ["nginx.service", *(Paths.of(s.site_name).unit for s in sites if s.health_unit and s.site_name)]
    return host_script(
        LOGS_SCRIPT,
        {
            "UNITS": " ".join(units),
            "FILES": " ".join(NGINX_LOGS) if host.role == "lb" else "",
            "LINES": str(lines),
            "SINCE": "" if since is None else str(int(since)),
            "FOLLOW": "1" if follow else "0",
        },
    )


ACCESS_TIME = re.compile(r"\[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]")
ERROR_TIME = re.compile(r"^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) ")


def _offset(tz: str) -> timezone:
    match = re.fullmatch(r"([+-])(\d{2})(\d{2})", tz)
    if not match:
        return UTC
    delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    return timezone(-delta if match.group(1) == "-" else delta)


class HostParser:
    """Turns one host's host/logs.sh lines into entries; a line without a time takes its source's last one."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.tz = UTC
        self.last: dict[str, float] = {}

    def parse(self, line: str) -> Entry | None:
        line = line.rstrip("\r")
        kind, _, rest = line.partition(" ")
        if kind == "tz":
            self.tz = _offset(rest.strip())
            return None
        if kind == "journal":
            # "1764319100.123456 app1 node[201]: message"; journalctl's notes ("-- No entries --") are skipped.
            parts = rest.split(" ", 2)
            if len(parts) < 3 or not re.fullmatch(r"\d+(\.\d+)?", parts[0]):
                return None
            ident, _, message = parts[2].partition(": ")
            return self._entry("journal", float(parts[0]), f"{ident}: {message}" if message else ident)
        if kind.startswith("file:"):
            source = Path(kind.removeprefix("file:")).name
            when: float | None = None
            if access := ACCESS_TIME.search(rest):
                when = datetime.strptime(access.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp()
            elif error := ERROR_TIME.match(rest):
                when = datetime.strptime(error.group(1), "%Y/%m/%d %H:%M:%S").replace(tzinfo=self.tz).timestamp()
            return self._entry(source, when, rest)
        return None

    def _entry(self, source: str, when: float | None, text: str) -> Entry:
        when = self.last.get(source, 0.0) if when is None else when
        self.last[source] = when
        if source == "journal":
            source, _, text = text.partition(": ")
        return Entry(when, self.host, source, text)


def merged(view: StackView, hosts: Iterable[OpsHost], lines: int, since: float | None) -> tuple[list[Entry], list[str]]:
    """Every host's lines (newer than ``since``), in time order; and a note per host that failed."""
    selected = list(hosts)
    outcomes = run_all(selected, lambda h: logs_command(view, h, lines, since, follow=False), timeout=300)
    entries: list[Entry] = []
    errors: list[str] = []
    for outcome in outcomes:
        if outcome.result is None:
            errors.append(f"{outcome.host.name}: {outcome.error}")
            continue
        parser = HostParser(outcome.host.name)
        parsed = (parser.parse(line) for line in outcome.result.stdout.splitlines())
        entries.extend(e for e in parsed if e is not None and (since is None or e.time >= since))
    return sorted(entries), errors


def follow(
    view: StackView,
    hosts: Iterable[OpsHost],
    lines: int,
    since: float | None,
    write: Callable[[str], None],
    stop: threading.Event | None = None,
) -> None:
    """Print lines as they come, in time order per batch, until ``stop`` is set (or Ctrl-C)."""
    selected = list(hosts)
    width = max(len(h.name) for h in selected)
    incoming: queue.Queue[Entry] = queue.Queue()
    stop = stop or threading.Event()

    def watch(host: OpsHost) -> None:
        parser = HostParser(host.name)

        def on_line(line: str) -> None:
            entry = parser.parse(line)
            if entry is not None and (since is None or entry.time >= since):
                incoming.put(entry)

        try:
            stream_lines(host, logs_command(view, host, lines, since, follow=True), on_line, stop=stop)
        except (ConnectionError, OSError, ValueError) as err:
            write(f"{host.name}: {' '.join(str(err).split())}")

    for host in selected:
        threading.Thread(target=watch, args=(host,), daemon=True).start()
    pending: list[Entry] = []
    while not stop.is_set():
        time.sleep(SETTLE_SECONDS)
        while not incoming.empty():
            pending.append(incoming.get())
        pending.sort()
        for entry in pending:
            write(entry.render(width))
        pending = []


def print_logs(view: StackView, hosts: list[OpsHost], lines: int, since: float | None, keep_following: bool) -> int:
    width = max(len(h.name) for h in hosts)
    if keep_following:
        try:
            follow(view, hosts, lines, since, lambda text: print(text, flush=True))
        except KeyboardInterrupt:
            return 0
        return 0
    entries, errors = merged(view, hosts, lines, since)
    for entry in entries:
        print(entry.render(width))
    for error in errors:
        print(error, file=sys.stderr)
    return 1 if errors else 0
