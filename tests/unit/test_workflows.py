"""The GitHub workflows: actionlint passes, and the preview/deploy rules of issue 7 hold in the YAML."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
sys.path.insert(0, str(REPO / "scripts"))  # scripts/ is a folder of tools, not a package
from preview_summary import DEFAULT_MAX_CHARS, default_marker  # noqa: E402


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict)
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def actionlint() -> str | None:
    venv_binary = REPO / "venv" / "bin" / "actionlint"
    if venv_binary.is_file() and os.access(venv_binary, os.X_OK):
        return str(venv_binary)
    return shutil.which("actionlint")


def test_actionlint_passes() -> None:
    binary = actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed: venv/bin/actionlint (README: make lint) or on PATH")
    # actionlint runs shellcheck on every `run:` script when shellcheck is on PATH.
    result = subprocess.run([binary, "-no-color"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_to_a_version() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for uses in re.findall(r"uses:\s*(\S+)", path.read_text()):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+)*|[0-9a-f]{40})", uses), f"{path.name}: {uses}"


# ---------------------------------------------------------------- preview.yml


def test_preview_runs_on_pull_requests_once_per_stack() -> None:
    workflow = load("preview.yml")
    assert "pull_request" in workflow["on"]
    assert "pull_request_target" not in workflow["on"], "never run a pull request's code with write access"
    job = workflow["jobs"]["preview"]
    stacks = [entry["stack"] for entry in job["strategy"]["matrix"]["include"]]
    assert stacks == ["staging", "prod", "local"]
    assert job["strategy"]["fail-fast"] is False, "one stack's failure must not hide another's preview"
    assert job["runs-on"] == "${{ matrix.runner }}"
    assert "head.repo.full_name == github.repository" in job["if"], "fork pull requests get no secrets"


def test_preview_has_a_concurrency_group_per_pull_request_and_stack() -> None:
    job = load("preview.yml")["jobs"]["preview"]
    group = job["concurrency"]["group"]
    assert "${{ matrix.stack }}" in group and "${{ github.event.pull_request.number }}" in group
    assert job["concurrency"]["cancel-in-progress"] is True


def test_preview_has_least_privilege() -> None:
    workflow = load("preview.yml")
    assert workflow["permissions"] == {}
    assert workflow["jobs"]["preview"]["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_preview_comments_once_per_stack_under_the_limit() -> None:
    workflow = load("preview.yml")
    job = workflow["jobs"]["preview"]
    env = job["env"]
    # The marker is the one scripts/preview-summary writes, per stack.
    assert env["MARKER"].replace("${{ matrix.stack }}", "prod") == default_marker("prod")
    assert int(env["MAX_CHARS"]) == DEFAULT_MAX_CHARS == 60_000
    steps = job["steps"]
    runs = "\n".join(str(step.get("run", "")) for step in steps)
    assert "pulumi preview --diff --json" in runs
    assert '--max-chars "$MAX_CHARS"' in runs and '--marker "$MARKER"' in runs
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert len(uploads) == 1 and "preview.json" in uploads[0]["with"]["path"]
    (script,) = [s["with"]["script"] for s in steps if str(s.get("uses", "")).startswith("actions/github-script@")]
    assert "process.env.MARKER" in script and "startsWith(marker)" in script
    assert "updateComment" in script and "createComment" in script and "deleteComment" in script
    assert "process.env.MAX_CHARS" in script, "the comment's size is checked again before posting"


# The github-script step, run by node against a fake GitHub API: what it does to a pull request's comments.
UPSERT_HARNESS = r"""
const fs = require('fs');
const [script, before] = [fs.readFileSync(process.argv[2], 'utf8'), JSON.parse(fs.readFileSync(process.argv[3], 'utf8'))];
let comments = before.map((c) => ({ ...c }));
let nextId = 1000;
const calls = [];
const github = {
  paginate: async (method, params) => { calls.push(['list', params.issue_number]); return comments.map((c) => ({ ...c })); },
  rest: { issues: {
    listComments: 'listComments',
    createComment: async ({ issue_number, body }) => {
      const c = { id: nextId++, body, user: { type: 'Bot' }, html_url: 'new' };
      comments.push(c); calls.push(['create', issue_number]); return { data: c };
    },
    updateComment: async ({ comment_id, body }) => {
      comments = comments.map((c) => (c.id === comment_id ? { ...c, body } : c)); calls.push(['update', comment_id]);
      return { data: { html_url: String(comment_id) } };
    },
    deleteComment: async ({ comment_id }) => {
      comments = comments.filter((c) => c.id !== comment_id); calls.push(['delete', comment_id]);
    },
  } },
};
const context = { repo: { owner: 'o', repo: 'r' }, issue: { number: 7 } };
const failures = [];
const core = { info: () => {}, setFailed: (m) => failures.push(m) };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('require', 'github', 'context', 'core', script)(require, github, context, core).then(() => {
  process.stdout.write(JSON.stringify({ comments, calls, failures }));
});
"""


def run_upsert(tmp_path: Path, body: str, before: list[dict[str, Any]], stack: str = "prod") -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    steps = load("preview.yml")["jobs"]["preview"]["steps"]
    (script,) = [s["with"]["script"] for s in steps if str(s.get("uses", "")).startswith("actions/github-script@")]
    (tmp_path / "script.js").write_text(script)
    (tmp_path / "before.json").write_text(json.dumps(before))
    (tmp_path / "harness.js").write_text(UPSERT_HARNESS)
    (tmp_path / "comment.md").write_text(body)
    env = {**os.environ, "MARKER": default_marker(stack), "MAX_CHARS": str(DEFAULT_MAX_CHARS)}
    run = subprocess.run(
        [node, "harness.js", "script.js", "before.json"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def bot(comment_id: int, body: str) -> dict[str, Any]:
    return {"id": comment_id, "body": body, "user": {"type": "Bot"}}


def test_the_comment_is_created_once_then_edited(tmp_path: Path) -> None:
    first = default_marker("prod") + "\n### `prod`: Pulumi preview\none\n"
    created = run_upsert(tmp_path, first, [bot(1, default_marker("staging") + "\nstaging's")])
    assert [c["body"] for c in created["comments"]] == [default_marker("staging") + "\nstaging's", first]
    assert [call[0] for call in created["calls"]] == ["list", "create"]

    second = first.replace("one", "two")
    edited = run_upsert(tmp_path, second, created["comments"])
    assert [c["body"] for c in edited["comments"]] == [default_marker("staging") + "\nstaging's", second]
    assert [call[0] for call in edited["calls"]] == ["list", "update"]


def test_duplicates_are_removed_and_people_are_left_alone(tmp_path: Path) -> None:
    marker = default_marker("prod")
    person = {"id": 2, "body": marker + " quoted by a reviewer", "user": {"type": "User"}}
    before = [bot(1, marker + "\nold"), person, bot(3, marker + "\nolder duplicate"), bot(4, "other bot")]
    after = run_upsert(tmp_path, marker + "\nnew", before)
    assert after["comments"] == [bot(1, marker + "\nnew"), person, bot(4, "other bot")]
    assert after["calls"] == [["list", 7], ["update", 1], ["delete", 3]]


def test_an_oversized_or_unmarked_comment_is_refused(tmp_path: Path) -> None:
    marker = default_marker("prod")
    fits = run_upsert(tmp_path, marker + "\U0001f600" * (DEFAULT_MAX_CHARS - len(marker)), [])
    assert len(fits["comments"]) == 1, "the limit counts characters, as Python does, not UTF-16 units"
    too_long = run_upsert(tmp_path, marker + "x" * DEFAULT_MAX_CHARS, [])
    unmarked = run_upsert(tmp_path, "no marker", [])
    for result in (too_long, unmarked):
        assert result["comments"] == [] and result["calls"] == [] and len(result["failures"]) == 1


def test_preview_reads_the_backend_and_each_stacks_own_passphrase_from_secrets() -> None:
    job = load("preview.yml")["jobs"]["preview"]
    env = job["env"]
    assert env["PULUMI_BACKEND_URL"] == "${{ !matrix.isolated && secrets.PREVIEW_BACKEND_URL || '' }}"
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "${{ !matrix.isolated && secrets[matrix.passphrase] || '' }}"
    passphrases = {entry["stack"]: entry["passphrase"] for entry in job["strategy"]["matrix"]["include"]}
    assert passphrases == {
        "staging": "PULUMI_CONFIG_PASSPHRASE_STAGING",
        "prod": "",
        "local": "PULUMI_CONFIG_PASSPHRASE_LOCAL",
    }


# ---------------------------------------------------------------- prod secrets never reach pull-request code
# Issue 17: the prod preview of a pull request read the prod passphrase, which decrypts prod's SSH key. A
# pull_request workflow runs the pull request's code (its program, even its edited workflow), so the rule is
# that no such workflow names a prod secret or the prod environment; prod's passphrase lives in the `prod`
# environment only (deployments from main), and the prod preview runs without any secret.

PROD_SECRET = re.compile(r"PULUMI_CONFIG_PASSPHRASE_PROD\b|secrets\.PULUMI_CONFIG_PASSPHRASE\b(?!_)")


def triggers(workflow: dict[str, Any]) -> set[str]:
    on = workflow["on"]
    return {on} if isinstance(on, str) else set(on)


def job_environment(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    return environment.get("name") if isinstance(environment, dict) else environment


def test_no_pull_request_job_can_read_a_prod_secret() -> None:
    checked = 0
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = load(path.name)
        if not triggers(workflow) & {"pull_request", "pull_request_target", "workflow_run"}:
            continue
        for name, job in workflow["jobs"].items():
            checked += 1
            text = yaml.safe_dump(job)
            found = PROD_SECRET.findall(text)
            assert not found, f"{path.name} job {name} names {found}: pull-request code would see it"
            assert job_environment(job) not in ("prod", "production"), f"{path.name} job {name} runs in prod"
        assert "PULUMI_CONFIG_PASSPHRASE_PROD" not in yaml.safe_dump(workflow.get("env", {}))
    assert checked, "the preview workflow runs on pull requests"


def test_the_prod_passphrase_is_read_only_in_the_prod_environment_on_main() -> None:
    readers = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = load(path.name)
        for name, job in workflow["jobs"].items():
            if PROD_SECRET.search(yaml.safe_dump(job)):
                readers.append((path.name, name))
                assert job_environment(job) == "prod", f"{path.name} job {name} reads it outside the prod environment"
                assert triggers(workflow) <= {"push", "workflow_dispatch"}, f"{path.name} runs on {triggers(workflow)}"
                assert workflow["on"]["push"]["branches"] == ["main"]
    assert readers == [("up.yml", "prod")]


def test_the_prod_preview_runs_without_any_secret() -> None:
    job = load("preview.yml")["jobs"]["preview"]
    (prod,) = [entry for entry in job["strategy"]["matrix"]["include"] if entry["stack"] == "prod"]
    assert prod["isolated"] is True and prod["passphrase"] == ""
    others = [entry for entry in job["strategy"]["matrix"]["include"] if entry["stack"] != "prod"]
    assert all(entry["isolated"] is False for entry in others)
    # Every secret the job reads is behind `!matrix.isolated &&`, so the isolated entry's env holds none.
    for key, value in job["env"].items():
        if "secrets" in str(value):
            assert re.fullmatch(r"\$\{\{ !matrix\.isolated && secrets[.\[][^|]*\|\| '' \}\}", value), key
    assert not any("secrets" in str(step) for step in job["steps"]), "steps read secrets only through env"
    (preview,) = [step for step in job["steps"] if step.get("id") == "preview"]
    assert 'scripts/preview-isolated "$STACK" "${policy[@]}" > preview.json' in preview["run"]


def test_the_preview_runs_the_policy_pack_and_the_comment_shows_its_violations() -> None:
    """docs/policies.md: `--json` leaves policy verdicts out, so the event log carries them to the comment."""
    job = load("preview.yml")["jobs"]["preview"]
    (preview,) = [step for step in job["steps"] if step.get("id") == "preview"]
    assert 'policy=(--policy-pack policies --event-log "$PWD/preview-events.jsonl")' in preview["run"]
    assert preview["run"].count('"${policy[@]}"') == 2, "both the isolated and the real preview run the pack"
    assert preview["env"]["PULUMI_DEBUG_COMMANDS"] == "true", "the CLI takes --event-log only with it"
    installs = [step["run"] for step in job["steps"] if "policies/requirements.txt" in str(step.get("run", ""))]
    assert installs and "python -m venv policies/venv" in installs[0]
    summaries = [step["run"] for step in job["steps"] if "scripts/preview-summary" in str(step.get("run", ""))]
    assert len(summaries) == 2
    for run in summaries:
        assert "events=(--events preview-events.jsonl)" in run and '"${events[@]}"' in run


# ---------------------------------------------------------------- write access to the state never reaches pull-request code
# Issue 28 item 5: whoever can write a stack's state runs code in its next `up` (the dynamic-provider host
# unpickles providers from the state; delete commands come from it). Pull-request jobs get only the
# PREVIEW_* (read-only) credentials; the write credentials are read only in the staging/prod environments.

WRITE_CREDENTIALS = re.compile(
    r"secrets\.(PULUMI_BACKEND_URL|PULUMI_ACCESS_TOKEN|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY)\b"
)
BACKEND_ENV = ("PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def test_no_pull_request_job_gets_write_access_to_the_state() -> None:
    checked = 0
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = load(path.name)
        if not triggers(workflow) & {"pull_request", "pull_request_target", "workflow_run"}:
            continue
        assert not WRITE_CREDENTIALS.findall(yaml.safe_dump(workflow.get("env", {})))
        for name, job in workflow["jobs"].items():
            checked += 1
            found = WRITE_CREDENTIALS.findall(yaml.safe_dump(job))
            assert not found, f"{path.name} job {name} names {found}: pull-request code could write the state"
    assert checked
    env = load("preview.yml")["jobs"]["preview"]["env"]
    for key in BACKEND_ENV:
        assert re.search(r"secrets\.PREVIEW_[A-Z_]+ ", env[key]), f"{key} must come from a PREVIEW_ (read-only) secret"


def test_the_write_credentials_are_read_only_in_the_deploy_environments_on_main() -> None:
    readers = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = load(path.name)
        for name, job in workflow["jobs"].items():
            if WRITE_CREDENTIALS.search(yaml.safe_dump(job)):
                readers.append((path.name, name))
                assert job_environment(job) in ("staging", "prod"), f"{path.name} job {name} outside an environment"
                assert triggers(workflow) <= {"push", "workflow_dispatch"}
    assert readers == [("up.yml", "staging"), ("up.yml", "prod")]


# ---------------------------------------------------------------- up.yml


def test_up_deploys_main_to_staging_then_prod_in_their_environments() -> None:
    workflow = load("up.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert set(jobs) == {"staging", "prod"}
    for stack, job in jobs.items():
        assert job["environment"]["name"] == stack
        assert job["env"]["STACK"] == stack
        assert job["permissions"] == {"contents": "read"}
        assert job["concurrency"] == {"group": f"pulumi-up-{stack}", "cancel-in-progress": False}
        runs = "\n".join(str(step.get("run", "")) for step in job["steps"])
        assert 'pulumi up --yes --diff --non-interactive --stack "$STACK"' in runs
    assert jobs["prod"]["needs"] == "staging", "prod waits for staging, then for the prod environment's approval"
    assert "needs" not in jobs["staging"]
