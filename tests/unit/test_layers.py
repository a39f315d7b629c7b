"""The floors of components/: every import (module level or deferred inside a function) goes to the same
package or down a floor, never up, and no set of modules imports itself round (docs/architecture.md).

shell and the small shared modules at the bottom; the stack's settings above them; then hosts; then what
runs on hosts (app) and what names them (names); the load balancer in front of the apps; containers mode
(the same site as containers); the site that puts them all together on top."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMPONENTS = REPO / "components"

# Floor of each package or top-level module of components/ (lowest first). Packages on one floor must not
# import each other either: only their own modules and lower floors.
FLOORS: dict[str, int] = {
    "shell": 0,
    "assets": 0,
    "cache": 0,
    "render": 1,  # above assets: where the templates are
    "layout": 0,
    "checkpoint": 0,
    "engine_stop": 0,
    "provider_server": 0,
    "config": 1,
    "config_reference": 2,
    "hosts": 2,
    "app": 3,
    "names": 3,
    "package_types": 3,  # the settings as TypedDicts (config_reference's defaults)
    "load_balancer": 4,
    "containers": 5,
    "site": 6,
}


def module_of(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The components.* modules ``path`` imports, wherever in it (a deferred import counts the same)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("components"):
            # `from components.x import y`: the module y of package x, else a name x defines (or re-exports)
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if _is_module(submodule) else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("components"))
    return found


def _is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    modules = {module_of(path): path for path in COMPONENTS.rglob("*.py")}
    return {name: {m for m in imports(path) if m in modules and m != name} for name, path in modules.items()}


def package(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_every_package_of_components_has_a_floor() -> None:
    packages = {package(m) for m in graph() if m != "components"}
    assert packages <= set(FLOORS), f"give these a floor in FLOORS: {sorted(packages - set(FLOORS))}"


def test_no_import_goes_up_a_floor_or_across_one() -> None:
    wrong = [
        f"{module} imports {target} (floor {FLOORS[package(module)]} -> {FLOORS[package(target)]})"
        for module, targets in graph().items()
        if module != "components"
        for target in targets
        if target != "components"
        and package(target) != package(module)
        and FLOORS[package(target)] >= FLOORS[package(module)]
    ]
    assert wrong == []


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected sets of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_round() -> None:
    assert cycles(graph()) == []


def test_the_checks_find_a_circle_and_an_upward_import() -> None:
    """The control: a made-up circle and a config module importing the load balancer are found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert FLOORS[package("components.load_balancer.tls")] > FLOORS[package("components.config.checks")]
