"""host/nginx-capacity.sh run here for real on a copy of Debian's nginx.conf, with stub `nginx` and `systemctl`
(tests/unit/test_host_step_scripts.py): what it sets, that it never lowers a value, that it puts back exactly
what was there, and that nginx rejecting it changes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.config.load_balancer import LoadBalancerConfig
from components.load_balancer.nginx import HOST_SCRIPTS, capacity_inputs
from components.shell.host_script import host_script
from tests.unit.test_host_step_scripts import NGINX_ERROR, calls, run, stub_bin

# Debian bookworm's /etc/nginx/nginx.conf, its first lines (the http block shortened).
DEBIAN_CONF = """user www-data;
worker_processes auto;
pid /run/nginx.pid;
include /etc/nginx/modules-enabled/*.conf;

events {
\tworker_connections 768;
\t# multi_accept on;
}

http {
\tsendfile on;
\tinclude /etc/nginx/conf.d/*.conf;
}
"""
RELOADED = ["nginx -t", "systemctl is-active --quiet nginx", "systemctl reload nginx"]
# The stubs' shell may open at most this many files (each test lowers its hard limit to it).
FILES = 16384


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "nginx.conf"
    path.write_text(DEBIAN_CONF)
    return path


def command(tmp: Path, conf: Path, action: str = "apply", site: str = "wayshub-a", connections: object = 4096) -> str:
    settings = LoadBalancerConfig.model_validate({"limits": {"workerConnections": connections}})
    inputs = capacity_inputs(site, settings, action, "systemd")
    inputs.update(NGINX_CONF=str(conf), STATE_DIR=str(tmp / "lib" / "nginx-capacity"))
    return f"ulimit -n {FILES}; " + host_script(HOST_SCRIPTS / "nginx-capacity.sh", inputs)


def values(conf: Path) -> dict[str, str]:
    return dict(re.findall(r"^\s*(worker_connections|worker_rlimit_nofile) (\d+);", conf.read_text(), re.M))


def test_apply_raises_worker_connections_and_sets_the_file_limit_then_reloads(tmp_path: Path, conf: Path) -> None:
    result = run(command(tmp_path, conf), tmp_path, stub_bin(tmp_path))
    assert result.returncode == 0, result.stderr
    assert values(conf) == {"worker_connections": "4096", "worker_rlimit_nofile": "8192"}
    text = conf.read_text()
    assert "\tworker_connections 4096; # wayshub-infra: was 768\n" in text
    assert "worker_rlimit_nofile 8192; # wayshub-infra: was none\nevents {" in text, "at the top level, before events"
    assert calls(tmp_path) == RELOADED
    assert result.stdout == "worker_connections 4096, worker_rlimit_nofile 8192\n"


def test_auto_sizes_within_bounds_and_the_file_limit(tmp_path: Path, conf: Path) -> None:
    result = run(command(tmp_path, conf, connections="auto"), tmp_path, stub_bin(tmp_path))
    assert result.returncode == 0, result.stderr
    found = values(conf)
    connections, files = int(found["worker_connections"]), int(found["worker_rlimit_nofile"])
    assert 1024 <= connections <= FILES // 2, "at most half the open files a worker may have"
    assert files == min(2 * connections, FILES)


def test_restore_puts_back_exactly_what_was_there(tmp_path: Path, conf: Path) -> None:
    bin_dir = stub_bin(tmp_path)
    assert run(command(tmp_path, conf), tmp_path, bin_dir).returncode == 0
    result = run(command(tmp_path, conf, "restore"), tmp_path, bin_dir)
    assert result.returncode == 0, result.stderr
    assert conf.read_text() == DEBIAN_CONF
    assert calls(tmp_path) == RELOADED * 2
    assert not (tmp_path / "lib").exists(), "its marks and their folder are gone"


def test_a_larger_value_is_never_lowered_and_comes_back_as_it_was(tmp_path: Path, conf: Path) -> None:
    original = DEBIAN_CONF.replace("worker_connections 768", "worker_connections 10000").replace(
        "pid /run", "worker_rlimit_nofile 30000;\npid /run"
    )
    conf.write_text(original)
    bin_dir = stub_bin(tmp_path)
    assert run(command(tmp_path, conf), tmp_path, bin_dir).returncode == 0
    assert values(conf) == {"worker_connections": "10000", "worker_rlimit_nofile": "30000"}
    assert run(command(tmp_path, conf, "restore"), tmp_path, bin_dir).returncode == 0
    assert conf.read_text() == original


def test_applying_again_changes_nothing_and_does_not_reload(tmp_path: Path, conf: Path) -> None:
    bin_dir = stub_bin(tmp_path)
    assert run(command(tmp_path, conf), tmp_path, bin_dir).returncode == 0
    applied = conf.read_text()
    result = run(command(tmp_path, conf), tmp_path, bin_dir)
    assert result.returncode == 0, result.stderr
    assert conf.read_text() == applied and calls(tmp_path) == RELOADED


def test_a_changed_setting_keeps_what_was_there_first(tmp_path: Path, conf: Path) -> None:
    bin_dir = stub_bin(tmp_path)
    assert run(command(tmp_path, conf), tmp_path, bin_dir).returncode == 0
    assert run(command(tmp_path, conf, connections=2048), tmp_path, bin_dir).returncode == 0
    assert "\tworker_connections 2048; # wayshub-infra: was 768\n" in conf.read_text()
    assert run(command(tmp_path, conf, "restore"), tmp_path, bin_dir).returncode == 0
    assert conf.read_text() == DEBIAN_CONF


def test_nginx_rejecting_it_keeps_the_previous_conf_and_never_reloads(tmp_path: Path, conf: Path) -> None:
    (tmp_path / "nginx-t-fails").touch()
    result = run(command(tmp_path, conf), tmp_path, stub_bin(tmp_path))
    assert result.returncode == 1
    assert conf.read_text() == DEBIAN_CONF
    assert result.stderr.endswith(f"the previous nginx.conf stays:\n{NGINX_ERROR}\n")
    assert calls(tmp_path) == ["nginx -t"]
    assert sorted(p.name for p in tmp_path.glob("nginx.conf.*")) == [], "temp files left behind"


def test_one_site_leaving_keeps_the_capacity_another_still_has(tmp_path: Path, conf: Path) -> None:
    bin_dir = stub_bin(tmp_path)
    for site in ("wayshub-a", "wayshub-b"):
        assert run(command(tmp_path, conf, site=site), tmp_path, bin_dir).returncode == 0
    applied = conf.read_text()
    assert run(command(tmp_path, conf, "restore", site="wayshub-a"), tmp_path, bin_dir).returncode == 0
    assert conf.read_text() == applied
    assert run(command(tmp_path, conf, "restore", site="wayshub-b"), tmp_path, bin_dir).returncode == 0
    assert conf.read_text() == DEBIAN_CONF


def test_more_connections_than_a_worker_may_open_files_is_one_line(tmp_path: Path, conf: Path) -> None:
    result = run(command(tmp_path, conf, connections=FILES + 1), tmp_path, stub_bin(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith(f"lb.limits.workerConnections {FILES + 1}: nginx on ")
    assert len(result.stderr.splitlines()) == 1 and conf.read_text() == DEBIAN_CONF


def test_a_conf_without_an_events_block_is_left_as_it_is(tmp_path: Path, conf: Path) -> None:
    conf.write_text("http {\n}\n")
    result = run(command(tmp_path, conf), tmp_path, stub_bin(tmp_path))
    assert result.returncode == 1 and "has no events block" in result.stderr
    assert conf.read_text() == "http {\n}\n" and calls(tmp_path) == []
