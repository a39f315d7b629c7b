"""The shell programs run on servers, run here for real: shellcheck-clean as sent, and the functions
that find what is already on a server (a process on the app's port, a hand-written nginx site)."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from components.hosts.survey import HOST_SCRIPTS

REPO = Path(__file__).resolve().parents[2]
LIB = HOST_SCRIPTS / "lib.sh"
SCRIPTS = [
    REPO / "components" / "hosts" / "host" / "survey.sh",
    REPO / "components" / "app" / "host" / "deploy.sh",
    REPO / "components" / "load_balancer" / "host" / "retire-sites.sh",
    # One step each (their command lines: test_host_command_golden.py).
    *sorted((REPO / "components" / "app" / "host").glob("[bn]*.sh")),
    REPO / "components" / "app" / "host" / "teardown.sh",
    *sorted((REPO / "components" / "load_balancer" / "host").glob("[bin]*.sh")),
]


def lib_call(snippet: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["bash", "-c", LIB.read_text() + snippet],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return result.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_host_scripts_are_shellcheck_clean_as_they_are_sent(script: Path, tmp_path: Path) -> None:
    if shutil.which("shellcheck") is None:
        if os.environ.get("CI"):
            pytest.fail("shellcheck is not installed (.ci/run installs it)")
        pytest.skip("shellcheck is not installed")
    sent = tmp_path / script.name
    sent.write_text("#!/usr/bin/env bash\n" + LIB.read_text() + script.read_text())
    result = subprocess.run(["shellcheck", "-S", "warning", "-s", "bash", str(sent)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_port_holders_names_the_process_listening_and_not_our_units() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    holder = subprocess.Popen(argv, cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if lib_call(f"port_holders {port} nothing.service").strip():
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert lib_call(f"port_holders {port} nothing.service").split() == [str(holder.pid)]
        described = lib_call(f"describe_pid {holder.pid}")
        assert described == f"pid {holder.pid} `{' '.join(argv)[:80].rstrip()}` of user {getpass.getuser()}"
    finally:
        holder.terminate()
        holder.wait()
    assert lib_call(f"port_holders {port} nothing.service") == ""


def test_foreign_sites_are_enabled_configs_of_others_that_serve_the_domain(tmp_path: Path) -> None:
    nginx = tmp_path / "nginx"
    for folder in ("sites-available", "sites-enabled", "conf.d"):
        (nginx / folder).mkdir(parents=True)
    (nginx / "sites-available" / "by-hand").write_text("server {\n  listen 80;\n  server_name www.x.test x.test;\n}\n")
    (nginx / "sites-enabled" / "by-hand").symlink_to("../sites-available/by-hand")
    (nginx / "sites-available" / "disabled").write_text("server { server_name x.test; }\n")
    (nginx / "conf.d" / "ours.conf").write_text("server { server_name x.test; }\n")
    (nginx / "conf.d" / "other.conf").write_text("server { server_name x.test.example y.test; }\n")
    (nginx / "conf.d" / "commented.conf").write_text("# server_name x.test;\nserver { server_name z.test; }\n")
    found = lib_call(f"foreign_sites x.test {nginx}/conf.d/ours.conf", {"NGINX_DIR": str(nginx)})
    assert found.splitlines() == [f"{nginx}/sites-enabled/by-hand"]


def test_keep_copy_keeps_the_path_and_what_a_link_points_to(tmp_path: Path) -> None:
    site = tmp_path / "etc" / "available" / "site"
    site.parent.mkdir(parents=True)
    site.write_text("server {}\n")
    link = tmp_path / "etc" / "enabled" / "site"
    link.parent.mkdir(parents=True)
    link.symlink_to("../available/site")
    backup = tmp_path / "backup"
    lib_call(f"keep_copy {link} {backup}")
    assert (backup / str(link).lstrip("/")).is_symlink()
    assert (backup / str(site).lstrip("/")).read_text() == "server {}\n"
