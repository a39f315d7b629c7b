"""The whole pull-request comment: heading, errors, rows and diffs assembled (:func:`render`), then cut at a
line to the size GitHub takes (:func:`limit`), open code blocks closed and a note pointing to the full
output."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .engine import Urn, scrub
from .files import code_fence, file_diff, line_count, rendered_files
from .policies import Violation, section
from .rows import at_a_glance, headline, table
from .steps import Change, changes, site_keys

# The comment's size by default: GitHub rejects comments over 65,536 characters.
DEFAULT_MAX_CHARS = 60_000

# Pulumi's colour tags and terminal escapes, stripped from diagnostics; and how much of each is kept.
COLOR_CODES = re.compile(r"<\{%[^%]*%\}>|\x1b\[[0-9;]*m")
MESSAGE_CHARS = 3000


def _diagnostics(preview: Mapping[str, Any]) -> list[str]:
    errors = [
        d for d in preview.get("diagnostics") or [] if isinstance(d, dict) and d.get("severity") in ("error", None)
    ]
    if not errors:
        return []
    lines = ["#### Errors", ""]
    for diag in errors:
        where = Urn.parse(str(diag["urn"])).name if diag.get("urn") else "the program"
        message = COLOR_CODES.sub("", str(diag.get("message", ""))).strip()[-MESSAGE_CHARS:]
        fence = code_fence(message)
        lines += [f"`{where}`:", "", fence, message, fence, ""]
    return lines


def _by_site(rows: list[Change], keys: list[str]) -> list[tuple[str, list[Change]]]:
    """With wayshub:sites: the rows of each site under its heading (the stack's own first: every row not
    named after a site), those with rows only."""
    groups = [("#### The stack's own site", [r for r in rows if not r.site])]
    groups += [(f"#### Site `{key}`", [r for r in rows if r.site == key]) for key in keys]
    return [(heading, group) for heading, group in groups if group]


def render(
    preview: Mapping[str, Any],
    stack: str,
    marker: str | None = None,
    commit: str | None = None,
    details_url: str | None = None,
    violations: Sequence[Violation] = (),
) -> str:
    """The whole comment, without the size limit (see :func:`limit`); ``violations``: the policy pack's
    (:mod:`.policies`), listed first."""
    preview = scrub(preview)
    rows = changes(preview)
    errors = _diagnostics(preview)
    lines = [marker] if marker else []
    status = "failed" if errors else "preview"
    lines += [f"### `{stack}`: Pulumi {status}", ""]
    about = []
    if commit:
        about.append(f"commit `{commit[:12]}`")
    if details_url:
        about.append(f"[full output]({details_url})")
    if about:
        lines += [" · ".join(about), ""]
    lines += section(violations)
    lines += errors
    if not rows:
        if not errors:
            lines.append("**No changes**: `pulumi up` would leave every host as it is.")
        return "\n".join(lines).rstrip() + "\n"
    head = headline(preview, rows)
    if head:
        lines += [head, ""]
    keys = site_keys(preview)
    for heading, group in _by_site(rows, keys) if keys else [("", rows)]:
        if heading:
            lines += [heading, ""]
        glance = at_a_glance(group)
        if glance:
            lines += [*glance, ""]
        lines += [*table(group), ""]
    files = [f for r in rows for f in rendered_files(r)]
    diffs = [f for f in files if f.changes]
    if diffs:
        lines += ["#### Rendered files", ""]
        for file in diffs:
            lines.append(file_diff(file))
    written = [f for f in files if f.change.op in ("create", "delete")]
    if written:
        lines += ["#### Files written or removed (no diff)", ""]
        for file in written:
            verb = "new" if file.change.op == "create" else "removed"
            lines.append(f"- {file.title}: {verb}, {line_count(file.new if verb == 'new' else file.old)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def limit(text: str, max_chars: int, details_url: str | None = None) -> str:
    """``text`` cut at a line so that it and the note stay within ``max_chars``; code blocks closed."""
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    where = f" The full output: {details_url}" if details_url else " The full output is in the job's artifacts."

    def note_for(shown: int) -> str:
        return (
            f"\n> **Truncated:** the comment shows {shown:,} of {len(text):,} characters "
            f"(GitHub's limit is 65,536).{where}\n"
        )

    budget = max_chars - len(note_for(len(text))) - 16  # room for closing a code block
    if budget <= 0:
        raise ValueError(f"--max-chars {max_chars} leaves no room for the truncation note")
    kept: list[str] = []
    size = 0
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        closing = len(fence) + 1 if fence else 0
        if size + len(line) + closing > budget:
            break
        kept.append(line)
        size += len(line)
        match = re.match(r"^(`{3,})", line)
        if match:
            if fence is None:
                fence = match.group(1)
            elif line.strip() == fence:
                fence = None
    if fence:
        kept.append(fence + "\n")
    body = "".join(kept)
    return body + note_for(len(body))


def summarize(
    preview: Mapping[str, Any],
    stack: str,
    max_chars: int = DEFAULT_MAX_CHARS,
    marker: str | None = None,
    commit: str | None = None,
    details_url: str | None = None,
    violations: Sequence[Violation] = (),
) -> str:
    return limit(render(preview, stack, marker, commit, details_url, violations), max_chars, details_url)


def default_marker(stack: str) -> str:
    return f"<!-- wayshub-preview:{stack} -->"
