"""scripts/state_backend: the backend URL as the engine reads it, lock holders, the one line `make` prints."""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))  # scripts/ is a folder of tools
from state_backend.backend_url import Backend, BackendError
from state_backend.cli import check, role_url
from state_backend.database import TeamDatabase
from state_backend.locks import Lock, decode_row, lock_prefix

PG = "postgres://wayshub_deploy:s3cret@db.example:5433/wayshub_state?table=team_state&sslrootcert=/ca.pem"


def test_conninfo_drops_the_engines_table_and_keeps_lib_pq_s_default_tls() -> None:
    info = Backend(PG).conninfo(7)
    assert "table=" not in info
    assert "sslmode=require" in info, "lib/pq's default: a check without TLS would not be what the engine does"
    assert "connect_timeout=7" in info and "sslrootcert=%2Fca.pem" in info
    explicit = Backend("postgres://u@h/db?sslmode=verify-full&connect_timeout=3").conninfo(7)
    assert "sslmode=verify-full" in explicit and "sslmode=require" not in explicit
    assert "connect_timeout=3" in explicit and "connect_timeout=7" not in explicit


def test_the_redacted_url_never_shows_the_password_or_the_query() -> None:
    assert Backend(PG).redacted() == "postgres://wayshub_deploy@db.example:5433/wayshub_state"
    assert Backend("postgres://u:p@[fd00::5]:5432/db").redacted() == "postgres://u@[fd00::5]:5432/db"
    assert Backend("file:///home/me/state?no_tmp_dir=1").redacted() == "file:///home/me/state"


def test_the_table_is_the_urls_or_the_engines_default() -> None:
    assert Backend(PG).table == "team_state"
    assert Backend("postgres://u@h/db").table == "pulumi_state"
    assert Backend("postgres://u@h/db?table=state.pulumi").table == "state.pulumi"


@pytest.mark.parametrize("table", ["x;drop%20table%20y", "X", "a.b.c", "1x", '"x"', "x%0A"])
def test_a_table_that_is_not_a_plain_name_is_one_error(table: str) -> None:
    with pytest.raises(BackendError, match=r"^PULUMI_BACKEND_URL: table .* is not a plain table name"):
        _ = Backend(f"postgres://u@h/db?table={table}").table


@pytest.mark.parametrize(
    "url", ["postgres://u@h/db?table=x\n", "postgres://u@h/db\n", "postgres://u@h/d b", "file:///x\x00"]
)
def test_a_url_with_a_control_character_or_space_is_one_error(url: str) -> None:
    with pytest.raises(BackendError, match=r"^PULUMI_BACKEND_URL: holds a space or control character"):
        Backend(url)


def test_keys_carry_the_urls_path_as_the_engine_writes_them() -> None:
    """The engine prefixes every key with the URL's path (the database's name); a folder's files have none."""
    assert Backend(PG).key_prefix == "wayshub_state/"
    assert Backend("postgres://u@h").key_prefix == ""
    assert Backend("file:///tmp/state").key_prefix == ""


def lock_bytes(pid: int, hostname: str = "laptop", username: str = "alice") -> bytes:
    stamp = "2026-12-07T21:14:03.123456+00:00"
    return json.dumps({"pid": pid, "username": username, "hostname": hostname, "timestamp": stamp}).encode()


def test_a_lock_names_its_holder() -> None:
    lock = Lock.parse("k", lock_bytes(1234))
    assert lock.holder() == "alice@laptop (pid 1234) since 2026-12-07 21:14:03 +0000"
    assert Lock.parse("k", b"not json").holder().startswith("?@? (pid 0)")


def test_a_row_of_the_state_table_decodes_as_the_engine_wrote_it() -> None:
    row = json.dumps({"data": base64.b64encode(lock_bytes(77)).decode()})
    assert decode_row("db/.pulumi/locks/x.json", row).pid == 77
    with pytest.raises(BackendError, match="is not what the engine writes"):
        decode_row("db/.pulumi/locks/x.json", '{"other": 1}')


def write_lock(folder: Path, stack: str, content: bytes) -> Path:
    path = folder / lock_prefix("wayshub", stack) / "0123.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    return path


def test_a_held_lock_stops_an_up_in_one_line_naming_its_holder(tmp_path: Path) -> None:
    backend = Backend(f"file://{tmp_path}")
    assert check(backend, "wayshub", "prod", write=True, recover=False) == []
    write_lock(tmp_path, "prod", lock_bytes(4242))
    assert check(backend, "wayshub", "staging", write=True, recover=False) == [], "another stack's lock is not ours"
    assert check(backend, "wayshub", "prod", write=False, recover=False) == [], "a preview takes no lock"
    with pytest.raises(BackendError) as refused:
        check(backend, "wayshub", "prod", write=True, recover=False)
    line = str(refused.value)
    assert "\n" not in line
    assert line.startswith("stack prod is locked by alice@laptop (pid 4242) since 2026-12-07 21:14:03 +0000")
    assert "make recover" in line


def test_recover_clears_a_dead_runs_lock_and_refuses_a_live_one_here(tmp_path: Path) -> None:
    backend = Backend(f"file://{tmp_path}")
    path = write_lock(tmp_path, "prod", lock_bytes(2**22 + 17, hostname=socket.gethostname()))
    assert check(backend, "wayshub", "prod", write=False, recover=True) == [
        f"clearing the lock of alice@{socket.gethostname()} (pid {2**22 + 17}) since 2026-12-07 21:14:03 +0000"
    ]
    path.write_bytes(lock_bytes(os.getpid(), hostname=socket.gethostname()))
    with pytest.raises(BackendError, match=r"its lock's run is still going here .*let it end or stop it"):
        check(backend, "wayshub", "prod", write=False, recover=True)
    elsewhere = lock_bytes(os.getpid(), hostname="another-machine")
    path.write_bytes(elsewhere)
    assert check(backend, "wayshub", "prod", write=False, recover=True), "a lock from elsewhere cannot be told alive"


def test_other_backends_are_left_to_the_engine() -> None:
    assert check(Backend("s3://bucket/wayshub"), "wayshub", "prod", write=True, recover=True) == []


@pytest.mark.parametrize("setting", ["database", "owner", "writer", "reader", "table"])
@pytest.mark.parametrize("value", ["wayshub\n", "Wayshub", "a-b", "x;drop", "", "a" * 64])
def test_team_database_names_are_plain_lower_case_identifiers(setting: str, value: str) -> None:
    with pytest.raises(BackendError, match=rf"^{setting}: .* is not a plain lower-case PostgreSQL name"):
        TeamDatabase(**{setting: value})


def test_the_team_database_has_three_distinct_roles() -> None:
    with pytest.raises(BackendError, match="three different roles"):
        TeamDatabase(writer="wayshub_preview")


def test_the_urls_team_db_prints_keep_tls_and_drop_the_admins_password() -> None:
    admin = Backend("postgres://postgres:adminpw@db.example:5433/postgres?sslmode=verify-full&sslrootcert=/ca.pem")
    url = role_url(admin, "wayshub_preview", "wayshub_state")
    assert url == "postgres://wayshub_preview@db.example:5433/wayshub_state?sslmode=verify-full&sslrootcert=%2Fca.pem"
