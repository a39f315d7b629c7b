"""A real `pulumi preview` of a changed app runs no npm: the app's install and build scripts (a pull
request's code, in a preview job) run only on `up`, and the preview plans exactly the release `up` makes.

The app is the sample app with a ``preinstall`` and a ``build`` script that append to a marker file
OUTSIDE the project (its path comes from the environment the engine passes on to the program).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.pulumi_cli import PulumiCli, Step
from tests.e2e.site import COMMANDS, SAMPLE_APP, Site, get, write_stack_config

pytestmark = pytest.mark.e2e

APP_SERVERS = ["app1", "app2"]
MARKER_ENV = "WAYSHUB_E2E_NPM_MARKER"
APPEND = "node -e \"require('fs').appendFileSync(process.env.{env}, '{what}\\\\n')\""


@pytest.fixture
def scripted(site: Site, tmp_path: Path) -> Iterator[tuple[PulumiCli, Path]]:
    """The sample app with npm scripts that leave a mark; afterwards the site runs the sample app again."""
    source = site.project / "scripted-app"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(site.project / "app", source)
    package = json.loads((source / "package.json").read_text())
    package["scripts"].update(
        preinstall=APPEND.format(env=MARKER_ENV, what="preinstall"), build=APPEND.format(env=MARKER_ENV, what="build")
    )
    (source / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    marker = tmp_path / "npm-ran"
    cli = PulumiCli(site.project, {**site.cli.env, MARKER_ENV: str(marker)})
    write_stack_config(
        site, APP_SERVERS, extra={"wayshub:app": {**SAMPLE_APP, "source": "scripted-app", "build": "build"}}
    )
    try:
        yield cli, marker
    finally:
        write_stack_config(site, APP_SERVERS)
        site.cli.up()


def release_ids(steps: list[Step]) -> dict[str, str]:
    """The release id each host's release step is planned with (the first ``rerun_on`` value)."""
    ids = {}
    for step in steps:
        name = step.name
        if name.endswith("-app-release") and COMMANDS == "builtin":
            ids[name] = str(step.inputs["rerun_on"][0])
        elif name.endswith("-app-release"):  # pulumi-command: the RID its deploy script is given
            found = re.search(r"^RID=([0-9a-f]+)$", str(step.inputs["create"]), re.MULTILINE)
            assert found, step.inputs["create"][:300]
            ids[name] = found.group(1)
    return ids


def test_a_preview_of_a_changed_app_runs_no_npm_and_up_makes_the_release_it_showed(
    site: Site, scripted: tuple[PulumiCli, Path]
) -> None:
    cli, marker = scripted
    releases = site.project / "build" / "releases"
    built_before = sorted(releases.iterdir()) if releases.is_dir() else []

    steps = cli.preview_steps()
    assert not marker.exists(), f"a preview ran the app's npm scripts: {marker.read_text()!r}"
    assert (sorted(releases.iterdir()) if releases.is_dir() else []) == built_before, "a preview built a release"
    changed = sorted(
        (step.op, step.name) for step in steps if step.op not in ("same", "create-replacement", "delete-replaced")
    )
    copy = "update" if COMMANDS == "builtin" else "replace"  # pulumi-command: a new build id is a trigger
    assert changed == sorted(
        [
            ("update", "app1-app-release"),
            ("update", "app1-app-state"),  # what refresh expects there (the new release's folder): runs nothing
            (copy, "app1-app-upload"),
            ("update", "app2-app-release"),
            ("update", "app2-app-state"),
            (copy, "app2-app-upload"),
        ]
    ), changed
    planned = release_ids(steps)
    (release,) = set(planned.values())

    cli.run("up", "--yes")  # with its own preview first, as a user runs it
    assert marker.read_text().splitlines() == ["preinstall", "build"], "up runs the app's install and build"
    outputs = cli.outputs()
    assert outputs["release"] == release and outputs["releases"] == [release, release]
    assert {get("/health").release for _ in range(4)} == {release}

    after = cli.preview_steps()
    assert [s.op for s in after if s.op != "same"] == [], "a preview after the up shows no change"
    assert marker.read_text().splitlines() == ["preinstall", "build"], "nor runs npm again"
