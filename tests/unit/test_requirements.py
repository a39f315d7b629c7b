"""Every third-party package the code imports directly is pinned (==) at the version the venv runs.

Runtime code (the program, components/, ops/, scripts/) needs its packages in requirements.txt; tests,
benchmarks and tools may take theirs from requirements-dev.txt. A package that only arrives as another's
dependency (cryptography through paramiko) could change version or vanish under us.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNTIME = ["__main__.py", "components", "ops", "scripts"]
DEV = ["tests", "bench", "tools"]


def python_files(roots: list[str]) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        path = REPO / root
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in candidates:
            if file.suffix == ".py" or (
                not file.suffix and file.read_bytes()[:40].startswith(b"#!/usr/bin/env python")
            ):
                found.append(file)
    return found


def local_names() -> set[str]:
    """Top-level names that are this repository's own modules (packages, and scripts' sibling modules and
    packages, e.g. scripts/preview_summary/)."""
    names = {p.name for p in REPO.iterdir() if p.is_dir()}
    files = [p for root in RUNTIME + DEV for p in python_files([root]) if p.suffix == ".py"]
    return names | {p.stem for p in files} | {p.parent.name for p in files if p.name == "__init__.py"}


def imported(files: list[Path]) -> dict[str, Path]:
    """Third-party top-level module -> one file importing it."""
    own = local_names()
    found: dict[str, Path] = {}
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in own and top != "__future__":
                    found.setdefault(top, file)
    return found


def pins(*files: str) -> dict[str, str]:
    """Normalised distribution name -> pinned version, from requirement files (following -r)."""
    pinned: dict[str, str] = {}
    for name in files:
        for line in (REPO / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line.startswith("-r "):
                pinned |= pins(line.removeprefix("-r ").strip())
            elif match := re.match(r"^([A-Za-z0-9._-]+)==([^\s;]+)$", line):
                pinned[normalise(match.group(1))] = match.group(2)
    return pinned


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def unpinned(files: list[Path], requirements: str) -> list[str]:
    distributions = importlib.metadata.packages_distributions()
    pinned = pins(requirements)
    problems = []
    for module, file in sorted(imported(files).items()):
        for distribution in distributions.get(module, [module]):
            where = f"{module} (imported by {file.relative_to(REPO)})"
            version = pinned.get(normalise(distribution))
            if version is None:
                problems.append(f"{where}: {distribution} has no '==' pin in {requirements}")
            elif version != importlib.metadata.version(distribution):
                installed = importlib.metadata.version(distribution)
                problems.append(f"{where}: {requirements} pins {distribution}=={version}, the venv has {installed}")
    return problems


def test_runtime_imports_are_pinned_in_requirements_txt() -> None:
    problems = unpinned(python_files(RUNTIME), "requirements.txt")
    assert not problems, "\n".join(problems)


def test_test_and_tool_imports_are_pinned_in_a_requirements_file() -> None:
    problems = unpinned(python_files(DEV), "requirements-dev.txt")
    assert not problems, "\n".join(problems)


def test_every_requirement_line_is_an_exact_pin() -> None:
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (REPO / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-r "):
                assert re.match(r"^[A-Za-z0-9._-]+==\S+$", line), f"{name}: {line!r} is not pinned with =="


def test_the_scan_finds_what_the_code_imports() -> None:
    modules = imported(python_files(RUNTIME))
    assert {"pulumi", "pydantic", "paramiko", "cryptography", "jinja2"} <= set(modules)
    assert not {"components", "ops", "os", "preview_summary"} & set(modules), "own and stdlib modules are not packages"
