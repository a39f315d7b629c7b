"""Two e2e sessions in different slots share no name, host port or subnet (tests/e2e/slots.py).

Two checks, so a fixed name cannot slip in either way:
- every e2e module is imported with ``WAYSHUB_E2E_SLOT`` 0, 1 and 9 (a subprocess each): a module-level
  constant that names something on the machine (a stack, network, container, label, port, subnet,
  address) must differ between slots, and no slot may use a value another slot uses;
- the e2e sources are read: no host port or Docker subnet literal, and no literal stack name, outside
  slots.py.
"""

from __future__ import annotations

import ast
import ipaddress
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import slots

REPO = Path(__file__).resolve().parents[2]
E2E = REPO / "tests" / "e2e"
CHECKED_SLOTS = (0, 1, 9)  # neighbours catch overlapping blocks; the last catches an overflow
# Constants (or their fields) whose name says they name something on the machine.
IDENTITY_NAME = re.compile(r"(stack|network|subnet|label|port|container|prefix|address|^ext$|^dns$)", re.IGNORECASE)
# Shared by every slot on purpose, and why.
SHARED = {
    "bind_server.HOST": "the loopback address every published port binds to",
    "test_containers_docker.RECIPE_LABEL": "a label KEY on images (shared builds), not a value",
}

DUMP = r"""
import dataclasses, importlib, json, pathlib, sys
out = {}
def leaves(path, value):
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (str, int)):
        out[path] = value
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            leaves(f"{path}[{i}]", item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            leaves(f"{path}.{f.name}", getattr(value, f.name))
for file in sorted(pathlib.Path(sys.argv[1]).glob("*.py")):
    module = importlib.import_module(f"tests.e2e.{file.stem}")
    for name, value in vars(module).items():
        if name.isupper() and getattr(value, "__module__", module.__name__) == module.__name__:
            leaves(f"{file.stem}.{name}", value)
print(json.dumps(out))
"""


@cache
def constants(slot: int) -> dict[str, Any]:
    """Every module-level constant of every e2e module, as ``module.NAME[...]`` → value, in ``slot``."""
    result = subprocess.run(
        [sys.executable, "-c", DUMP, str(E2E)],
        cwd=REPO,
        env={**os.environ, "WAYSHUB_E2E_SLOT": str(slot), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout))


def identities(slot: int) -> dict[str, Any]:
    """The constants that name something on the machine (by their name), but those shared on purpose."""
    found = {}
    for path, value in constants(slot).items():
        module, name = path.split(".", 1)
        names = re.split(r"[.\[\]]+", name)
        if module != "slots" and any(IDENTITY_NAME.search(n) for n in names) and path.split("[")[0] not in SHARED:
            found[path] = value
    return found


def test_every_name_port_and_subnet_follows_the_slot() -> None:
    per_slot = [identities(slot) for slot in CHECKED_SLOTS]
    assert per_slot[0], "no constants found: the dump is broken"
    same = sorted(
        f"{path} = {value!r}" for path, value in per_slot[0].items() if all(d.get(path) == value for d in per_slot)
    )
    assert same == [], "the same in every slot (derive it from tests/e2e/slots.py):\n" + "\n".join(same)


def test_no_two_slots_use_the_same_value() -> None:
    """E.g. slot 1's SSH port must not be slot 0's HTTP port, nor its subnet slot 0's."""
    values = {slot: {str(v) for v in identities(slot).values() if str(v) not in ("", "0")} for slot in CHECKED_SLOTS}
    for a in CHECKED_SLOTS:
        for b in CHECKED_SLOTS:
            if a < b:
                assert values[a] & values[b] == set(), f"slots {a} and {b} share {sorted(values[a] & values[b])}"


def test_slot_blocks_are_disjoint_valid_and_clear_of_the_fixed_ranges() -> None:
    """Every harness's subnets and ports for all ten slots, from slots.py's own bases."""
    harness_subnets = [("172.30", 100), ("172.30", 110), ("172.30", 120), ("172.30", 130), ("172.30", 140)]
    harness_subnets += [("172.31", 240), ("172.30", 150)]
    subnets = [ipaddress.ip_network(f"{first}.{base + n}.0/24") for first, base in harness_subnets for n in slots.SLOTS]
    fixed = ["172.30.77.0/24", "172.30.78.0/24", "172.30.99.0/24", "172.30.240.0/24"]  # local, containers, unit, bench
    assert len(set(subnets)) == len(subnets)
    assert not [s for s in subnets for f in fixed if s.overlaps(ipaddress.ip_network(f))]
    port_bases = slot_port_bases()
    assert len(port_bases) >= 9, port_bases  # every harness's block, read from slots.py (none forgotten)
    ports = [base + slots.PORT_BLOCK * n + offset for base in port_bases for n in slots.SLOTS for offset in range(10)]
    assert len(set(ports)) == len(ports), "two harnesses' port blocks overlap"
    assert all(1024 < p < 32768 for p in ports), "ports stay below Linux's ephemeral range"
    with pytest.raises(ValueError, match="ten slots do not fit"):
        slots.subnet_prefix("172.30", 250)
    with pytest.raises(ValueError, match="outside a slot's block"):
        slots.port(18080, 10)


def slot_port_bases() -> list[int]:
    """The base of every ``port(<base>, ...)`` block slots.py hands out, read from its source."""
    tree = ast.parse(Path(slots.__file__).read_text())
    return sorted(
        {
            node.args[0].value
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "port"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, int)
        }
    )


def _literals(tree: ast.AST) -> list[tuple[int, Any]]:
    return [
        (n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and not isinstance(n.value, bool)
    ]


# The private ranges Docker networks are made from: an address or /24 prefix there names a test's network.
PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
ADDRESS = re.compile(r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\.\d{1,3})?(?:/\d+)?")
# Addresses in data that never reaches Docker, file by file.
NOT_DOCKER = {
    "test_hardening.py": {"10.6.6.6"},  # a line someone edits into the hosts file
    "conftest.py": {"10.9.8.7"},  # a line of the user's in the hosts file
}


def fixed_literals(path: Path) -> list[str]:
    """Host ports, private (Docker) addresses and literal stack names written into ``path``'s code."""
    tree = ast.parse(path.read_text())
    found = []
    for line, value in _literals(tree):
        if isinstance(value, int) and 10000 <= value <= 65535:
            found.append(f"{path.name}:{line}: port {value}")
        if isinstance(value, str):
            for match in ADDRESS.finditer(value):
                text = match.group(0)
                if any(int(octet) > 255 for octet in match.groups()) or text in NOT_DOCKER.get(path.name, set()):
                    continue
                if any(ipaddress.ip_address(".".join(match.groups()) + ".1") in net for net in PRIVATE):
                    found.append(f"{path.name}:{line}: address {text}")
    for call in ast.walk(tree):
        if isinstance(call, ast.Call):
            args = call.args
            for i in range(len(args) - 2):
                pair = [a.value if isinstance(a, ast.Constant) else None for a in args[i : i + 2]]
                stack = args[i + 2]
                if pair == ["stack", "init"] and isinstance(stack, ast.Constant):
                    found.append(f"{path.name}:{call.lineno}: stack {stack.value!r}")
    return found


def test_no_fixed_port_address_or_stack_name_in_the_e2e_sources() -> None:
    files = [p for p in sorted(E2E.rglob("*.py")) if p.name != "slots.py"]
    assert len(files) > 20
    found = [item for path in files for item in fixed_literals(path)]
    assert found == [], "use tests/e2e/slots.py:\n" + "\n".join(found)


def test_the_scan_finds_what_it_is_for(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text('N = "172.30.230"\nP = 18301\ncli.run("stack", "init", "smoke")\nOK = "127.0.0.1:8080"\n')
    assert fixed_literals(sample) == [
        "test_sample.py:1: address 172.30.230",
        "test_sample.py:2: port 18301",
        "test_sample.py:3: stack 'smoke'",
    ]


def slot_in(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``slots.SLOT`` as a fresh interpreter sees it with ``env`` (on top of a clean slot environment)."""
    clean = {
        k: v for k, v in os.environ.items() if k not in {"WAYSHUB_E2E_SLOT", "WAYSHUB_E2E_SLOTS", "PYTEST_XDIST_WORKER"}
    }
    return subprocess.run(
        [sys.executable, "-c", "from tests.e2e import slots; print(slots.SLOT)"],
        cwd=REPO,
        env={**clean, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "slot"),
    [
        ({}, "0"),
        ({"WAYSHUB_E2E_SLOT": "4"}, "4"),
        # make e2e: pytest-xdist worker gwK takes the K-th slot of WAYSHUB_E2E_SLOTS
        ({"WAYSHUB_E2E_SLOTS": "0,6", "PYTEST_XDIST_WORKER": "gw0"}, "0"),
        ({"WAYSHUB_E2E_SLOTS": "0,6", "PYTEST_XDIST_WORKER": "gw1"}, "6"),
        ({"WAYSHUB_E2E_SLOTS": "6,7", "PYTEST_XDIST_WORKER": "gw1", "WAYSHUB_E2E_SLOT": "2"}, "7"),
        # without workers the list is not used
        ({"WAYSHUB_E2E_SLOTS": "6,7", "WAYSHUB_E2E_SLOT": "2"}, "2"),
    ],
)
def test_each_xdist_worker_takes_its_own_slot(env: dict[str, str], slot: str) -> None:
    result = slot_in(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == slot


def test_a_worker_with_no_slot_listed_is_refused() -> None:
    result = slot_in({"WAYSHUB_E2E_SLOTS": "0,6", "PYTEST_XDIST_WORKER": "gw2"})
    assert result.returncode != 0
    assert "names no slot for pytest worker gw2" in result.stderr
