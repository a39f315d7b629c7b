"""Turn ``pulumi preview --diff --json`` into the pull-request comment a reviewer reads.

    pulumi preview --diff --json --stack staging > preview.json
    scripts/preview-summary --stack staging preview.json > comment.md

The comment says, per stack, which hosts, files and services change: a table of the resources to
create/update/replace/delete grouped by layer (hosts, app, load balancer, names) and host; the hosts that
roll to a new release and why; and a unified diff of every rendered file that changes (the nginx site, the
hosts block, and each release's env file, systemd unit and start script: the env file is the release
resource's stdin, the unit and start script are variables its deploy command assigns). Command strings are
never shown: they are long, and the rendered files they install say the same thing readably.

Secrets: every value Pulumi marks secret (``"[secret]"``, or an object carrying Pulumi's secret
signature, as ``--show-secrets`` exports have) is replaced by ``[secret]`` before anything is rendered,
and text that looks like a private key is blanked, so the comment never holds a secret.

The comment stays under ``--max-chars`` (default 60,000; GitHub rejects comments over 65,536): a longer
one is cut at a line, open code blocks are closed, and a note points to the full output.

The package, one job per module: :mod:`.engine` reads the engine's JSON and scrubs secrets,
:mod:`.steps` classifies its steps into one change per resource, :mod:`.files` finds the rendered files
they write and diffs them, :mod:`.rows` puts each change into words and rows, :mod:`.comment` assembles
the comment and cuts it to size, :mod:`.policies` reads the policy pack's violations from the engine's
event log (``--events``: `pulumi preview --json` leaves them out), :mod:`.cli` is the command line.
"""

from __future__ import annotations

from .cli import MIN_MAX_CHARS, main
from .comment import DEFAULT_MAX_CHARS, default_marker, limit, render, summarize
from .engine import SECRET, SECRET_SIGNATURE, UNKNOWN, Urn, read_preview, scrub
from .files import RenderedFile, deploy_variable, deploy_variables, file_diff, rendered_file, rendered_files
from .policies import Violation, read_events, violations
from .rows import at_a_glance, headline, what_changes
from .steps import Change, changes

__all__ = [
    "DEFAULT_MAX_CHARS",
    "MIN_MAX_CHARS",
    "SECRET",
    "SECRET_SIGNATURE",
    "UNKNOWN",
    "Change",
    "RenderedFile",
    "Urn",
    "Violation",
    "at_a_glance",
    "changes",
    "default_marker",
    "deploy_variable",
    "deploy_variables",
    "file_diff",
    "headline",
    "limit",
    "main",
    "read_events",
    "read_preview",
    "render",
    "rendered_file",
    "rendered_files",
    "scrub",
    "summarize",
    "violations",
    "what_changes",
]
