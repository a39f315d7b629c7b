"""A preview builds nothing: the app's install and build scripts (a pull request's code, in a preview job)
run only on ``up``, yet the preview plans the same release, and the same upload, that ``up`` makes.

The app here has ``preinstall``/``install``/``build`` scripts that each leave a marker file behind; the
test runs the real ``release_for`` (real npm on ``up``), no mocks of the build.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.app import NodeApp, NodeAppArgs, Release, read_app
from components.app.app_run import AppRun
from components.app.node_install import NodeChoice
from components.app.plan import release_for
from components.app.release import build_id
from components.config import AppConfig
from components.hosts import SandboxNetwork, SandboxNetworkArgs, SandboxVm
from tests.unit.pulumi_mocks import MOCKS, pulumi_test
from tests.unit.test_components_mocks import declare_vm

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed (the release build needs it)")

SCRIPTS = ("preinstall", "install", "build")
KEY = "k" * 32  # the stack's wayshub:releaseKey


def scripted_app(folder: Path, markers: Path) -> Path:
    """An app whose lifecycle scripts each write ``markers/<script>`` (no dependencies: npm needs no registry)."""
    folder.mkdir()
    package = {
        "name": "scripted",
        "version": "1.0.0",
        "private": True,
        "scripts": {
            **{name: f"node -e \"require('fs').writeFileSync('{markers / name}', 'ran')\"" for name in SCRIPTS},
            "start": "node server.js",
        },
    }
    (folder / "package.json").write_text(json.dumps(package, indent=2))
    (folder / "server.js").write_text("require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT)\n")
    return folder


def plan(app: Path, build_dir: Path, *, preview: bool) -> tuple[AppRun, Release]:
    config = AppConfig(name="demo", source=str(app), build="build")
    run = AppRun(app_name="demo", spec=read_app(config, app), node=NodeChoice("apt"))
    return run, release_for(run, config, build_dir, {"TOKEN": "s3cret"}, KEY, preview=preview)


def test_a_preview_runs_no_npm_and_plans_the_release_up_builds(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    app = scripted_app(tmp_path / "app", markers)
    build_dir = tmp_path / "build"

    _, previewed = plan(app, build_dir, preview=True)
    assert sorted(p.name for p in markers.iterdir()) == [], "a preview ran the app's npm scripts"
    assert previewed.build is not None
    assert not previewed.build.tarball.exists(), "a preview built the release tarball"
    assert not build_dir.exists(), "a preview wrote into the build folder"

    _, built = plan(app, build_dir, preview=False)
    assert sorted(p.name for p in markers.iterdir()) == sorted(SCRIPTS), "up must run install and build"
    assert built.build is not None and built.build.tarball.is_file()
    assert built == previewed, "preview and up must plan the same release id and tarball"
    assert built.build.id == build_id(app, plan(app, build_dir, preview=True)[0].spec.recipe)

    # A cold preview after a change: still nothing runs, and the new id is the one the next up builds.
    for marker in markers.iterdir():
        marker.unlink()
    (app / "server.js").write_text((app / "server.js").read_text() + "// changed\n")
    _, changed = plan(app, build_dir, preview=True)
    assert changed.id != built.id
    assert list(markers.iterdir()) == [] and changed.build is not None and not changed.build.tarball.exists()


def _host(name: str) -> SandboxVm:
    network = SandboxNetwork(
        f"{name}-net", SandboxNetworkArgs(network="wayshub-test", subnet="172.30.99.0/24", stack="test")
    )
    return declare_vm(name, 10, network)


def test_the_code_upload_is_named_by_the_build_id_so_preview_and_up_declare_the_same_copy(tmp_path: Path) -> None:
    """The upload's inputs may not hash the tarball: in a preview it does not exist yet (and a rebuilt
    tarball's bytes may differ), so the copy is named by the build id and never reads the file."""
    markers = tmp_path / "markers"
    markers.mkdir()
    app = scripted_app(tmp_path / "app", markers)
    run, previewed = plan(app, tmp_path / "build", preview=True)
    _, built = plan(app, tmp_path / "build", preview=False)
    assert previewed.build is not None and built.build is not None and built.build.tarball.is_file()
    build = built.build
    upload_keys = ("source", "remote_path", "content_id", "sha256")

    @pulumi_test
    def declare() -> pulumi.Output[None]:
        unbuilt = NodeApp("prev-app", NodeAppArgs(host=_host("prev").host, run=run, release=previewed))
        made = NodeApp("built-app", NodeAppArgs(host=_host("built").host, run=run, release=built))
        assert unbuilt.upload is not None and made.upload is not None

        def check(_: list[Any]) -> None:
            previewed_upload = dict(MOCKS.registered["prev-app-upload"].inputs)
            built_upload = dict(MOCKS.registered["built-app-upload"].inputs)
            assert {k: previewed_upload.get(k) for k in upload_keys} == {
                "source": str(build.tarball),
                "remote_path": f"/var/lib/wayshub-uploads/demo-code/{build.id}.tar.gz",
                "content_id": build.id,
                "sha256": None,
            }
            assert {k: built_upload.get(k) for k in upload_keys} == {k: previewed_upload.get(k) for k in upload_keys}

        return pulumi.Output.all(unbuilt.upload.urn, made.upload.urn).apply(check)

    declare()
