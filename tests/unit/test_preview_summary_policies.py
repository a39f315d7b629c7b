"""scripts/preview-summary --events: the policy pack's violations in the comment, from a REAL preview's files
(tests/fixtures/policy-preview: `pulumi preview --diff --json --event-log` by the engine scripts/ensure-pulumi
builds, of a one-Site program marked production that breaks four mandatory rules and both advisory ones).
`preview --json` leaves policy results out of its JSON; the event log has one ``policyEvent`` per violation."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "policy-preview"
sys.path.insert(0, str(SCRIPTS))
from preview_summary import Violation, main, read_events, summarize, violations  # noqa: E402

MANDATORY = [
    ("production-app-servers", "wayshub:hosts.appServers: "),
    ("production-https", "wayshub:lb.tls: "),
    ("production-host-keys", "wayshub:hosts.appServers[0].hostKey: "),
    ("production-host-keys", "wayshub:hosts.lbServer.hostKey: "),
    ("production-encrypted-secrets", "wayshub:appSecrets: "),
]
ADVISORY = [
    ("production-node-pinned", "wayshub:app.nodeVersion: "),
    ("production-release-pinned", "wayshub:app.releasePin: "),
]


def real_violations() -> list[Violation]:
    with (FIXTURES / "events.jsonl").open(encoding="utf-8") as source:
        return violations(read_events(source))


def test_the_real_event_log_gives_each_violation_mandatory_first() -> None:
    found = real_violations()
    assert [(v.level, v.policy) for v in found] == [("mandatory", p) for p, _ in MANDATORY] + [
        ("advisory", p) for p, _ in ADVISORY
    ]
    for violation, (_, start) in zip(found, MANDATORY + ADVISORY, strict=True):
        assert violation.resource == "site"
        assert violation.message.startswith(start), violation.message
        assert violation.description.startswith("Production "), violation.description


def test_the_comment_lists_the_violations_before_the_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--stack",
            "prod",
            "--events",
            str(FIXTURES / "events.jsonl"),
            "--max-chars",
            "0",
            str(FIXTURES / "preview.json"),
        ]
    )
    comment = capsys.readouterr().out
    assert code == 0
    assert comment.startswith("<!-- wayshub-preview:prod -->\n### `prod`: Pulumi failed\n")
    assert "**5 mandatory** (the preview is refused until fixed), 2 advisory" in comment
    assert comment.index("#### Policy violations") < comment.index("#### Errors")
    rows = [line for line in comment.splitlines() if line.startswith(("| **mandatory** |", "| advisory |"))]
    assert len(rows) == len(MANDATORY) + len(ADVISORY)
    assert rows[0] == (
        "| **mandatory** | `production-app-servers` | `site` | "
        "wayshub:hosts.appServers: production needs at least 2 app servers (has 1) |"
    )


def test_without_events_the_comment_is_as_before() -> None:
    preview = json.loads((FIXTURES / "preview.json").read_text())
    assert "Policy violations" not in summarize(preview, "prod")
    assert summarize(preview, "prod") == summarize(preview, "prod", violations=[])


def test_an_event_log_without_violations_adds_nothing() -> None:
    lines = [line for line in (FIXTURES / "events.jsonl").read_text().splitlines() if '"policyEvent"' not in line]
    assert violations(read_events(io.StringIO("\n".join(lines)))) == []


def test_a_cell_cannot_break_the_table() -> None:
    event = {
        "sequence": 1,
        "policyEvent": {"message": "Asks.\na | b\n", "policyName": "p", "enforcementLevel": "advisory"},
    }
    (found,) = violations(read_events(io.StringIO(json.dumps(event))))
    preview = json.loads((FIXTURES / "preview.json").read_text())
    assert "| advisory | `p` | the stack | a \\| b |" in summarize(preview, "prod", violations=[found])


def test_a_bad_event_log_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "events.jsonl"
    bad.write_text('{"sequence": 1}\nnot json\n')
    assert main(["--stack", "prod", "--events", str(bad), str(FIXTURES / "preview.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("preview-summary: event log line 2: ") and err.count("\n") == 1
