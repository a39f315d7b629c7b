"""scripts/ops: status, logs, ssh and exec on the hosts of one stack (the Makefile's targets call this)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ops.fanout import run_one
from ops.logs import parse_since, print_logs
from ops.shell import in_site, interactive, run_on, run_on_each
from ops.stack import PulumiStack, StackError, with_dial_timeout
from ops.status import status

REPO = Path(__file__).resolve().parents[1]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="scripts/ops", description=__doc__)
    top.add_argument("--stack", required=True)
    top.add_argument("--project", type=Path, default=REPO, help="the Pulumi project folder")
    top.add_argument("--dial-timeout", type=float, default=10.0, help="seconds to wait for a host's SSH")
    top.add_argument(
        "--site", help="only this site: a name of wayshub:sites, or the stack's domain for its own (default: all)"
    )
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="one row per host; exit 1 when any host is not as the stack says")
    logs = commands.add_parser("logs", help="the app's journal (and nginx's logs on the LB), merged by time")
    logs.add_argument("--host", action="append", default=[], help="only this host (repeatable)")
    logs.add_argument("--follow", action="store_true")
    logs.add_argument("--since", help="30s, 10m, 2h, 1d or a date/time (2026-11-28T08:00)")
    logs.add_argument("--lines", type=int, default=50, help="lines per log without --since")
    shell = commands.add_parser("ssh", help="a shell on one host, or --cmd non-interactively")
    shell.add_argument("host")
    shell.add_argument("--cmd", help="run this command line instead of a shell")
    run = commands.add_parser(
        "exec", help="run one command line on every app host (or --host); with --site in its app folder"
    )
    run.add_argument("cmd")
    run.add_argument("--host", action="append", default=[], help="only this host (repeatable; lb allowed)")
    commands.add_parser(
        "targets", help="with --site: the URNs of that site's resources, one a line (make refresh SITE=…)"
    )
    commands.add_parser(
        "remove-site",
        help="with --site: take the site out of wayshub:sites (and its siteSecrets, siteTls) in the stack's config; "
        "the next up removes exactly it (make destroy SITE=…)",
    )
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        view = with_dial_timeout(PulumiStack(args.stack, args.project, os.environ).read(), args.dial_timeout)
        site = None
        if args.site is not None:
            view = view.only(args.site)
            site = view.sites[0]
        if args.command in ("targets", "remove-site") and site is None:
            raise StackError(f"{args.command} needs --site <name> (SITE=<name>)")
        if args.command == "targets":
            assert site is not None
            urns = view.site_urns(site)
            if not urns:
                raise StackError(f"site {site.name} has nothing deployed in stack {args.stack} yet")
            print("\n".join(urns))
            return 0
        if args.command == "remove-site":
            assert site is not None
            for line in PulumiStack(args.stack, args.project, os.environ).remove_site(site.key):
                print(line)
            return 0
        if args.command == "status":
            rows, text = status(view)
            print(text)
            return 0 if all(r.ok for r in rows) else 1
        if args.command == "logs":
            since = parse_since(args.since, time.time()) if args.since else None
            hosts = [view.host(n) for n in args.host] if args.host else view.hosts
            return print_logs(view, hosts, args.lines, since, args.follow)
        if args.command == "ssh":
            host = view.host(args.host)
            app_site = site if host.role == "app" else None  # an LB has no app folder
            if args.cmd is None:
                return interactive(host, app_site)
            outcome = run_one(host, in_site(app_site, args.cmd) if app_site else args.cmd, timeout=900)
            if outcome.result is None:
                print(f"ops: {host.name}: {outcome.error}", file=sys.stderr)
                return 255
            sys.stdout.write(outcome.result.stdout)
            sys.stderr.write(outcome.result.stderr)
            return outcome.result.exit_code
        hosts = [view.host(n) for n in args.host] if args.host else view.app_hosts
        if site is None:
            results, text = run_on(hosts, args.cmd)
        else:
            results, text = run_on_each([(h, in_site(site, args.cmd) if h.role == "app" else args.cmd) for h in hosts])
        print(text)
        return 0 if all(r.ok for r in results) else 1
    except (StackError, ValueError) as err:
        print(f"ops: {err}", file=sys.stderr)
        return 2
