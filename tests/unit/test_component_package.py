"""The component package (package/, docs/package.md): its schema is the repo's Site under the same
type token, its settings' types are what the models generate, and what a program in another language hands
over becomes the settings the models check. (The Python package, wayshub/: tests/unit/test_package.py.)"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components import package_types
from components.config import KEYS, ConfigError, parse
from components.layout import SITE_TYPE
from package import site_types
from package.site_component import PACKAGE, ConfigProblem, Site, SitePackage, package_version, plain_settings

REPO = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, Any] = {
    "domain": "wayshub.test",
    "hosts": {"provider": "sandbox", "appServers": [{"name": "app1"}, {"name": "app2"}], "lbServer": {"name": "lb"}},
    "sandbox": {"httpPort": 8180, "subnet": "172.30.79.0/24"},
    "app": {"health": {"path": "/health", "intervalSeconds": 0.5}, "env": {"MODE": "demo"}},
    "lb": {"tls": "off", "limits": {"status": 503}},
}


def schema() -> dict[str, Any]:
    provider = SitePackage([Site], PACKAGE, None, "1.2.3")
    assert provider.schema is not None
    return dict(json.loads(provider.schema))


def test_site_types_are_what_the_models_generate() -> None:
    assert not package_types.drifted(REPO), f"{package_types.TARGET} differs from the models: run scripts/package-types"


def test_the_drift_check_sees_a_changed_file(tmp_path: Path) -> None:
    """The control: a file that differs in one character is drift, and write() puts it right."""
    (tmp_path / "package").mkdir()
    (tmp_path / package_types.TARGET).write_text(package_types.text().replace("Default: `60`", "Default: `61`", 1))
    assert package_types.drifted(tmp_path)
    assert package_types.write(tmp_path) and not package_types.drifted(tmp_path)


def test_the_package_serves_the_sites_type_token_with_its_inputs_and_outputs() -> None:
    spec = schema()
    assert (spec["name"], spec["version"]) == (PACKAGE, "1.2.3")
    assert list(spec["resources"]) == [SITE_TYPE]
    site = spec["resources"][SITE_TYPE]
    assert site["isComponent"] is True
    assert sorted(site["requiredInputs"]) == ["project", "settings"]
    assert sorted(site["properties"]) == ["backends", "curl", "lbAddress", "release", "url"]
    settings = spec["types"][f"{PACKAGE}:index:{site_types.WayshubSettings.__name__}"]
    assert list(settings["properties"]) == list(KEYS), "every top-level setting, as a stack file spells it"
    assert sorted(settings["required"]) == ["domain", "hosts"]
    tls = spec["types"][f"{PACKAGE}:index:LoadBalancerTls"]
    assert [e["value"] for e in tls["enum"]] == ["off", "self-signed", "provided", "acme"]


def test_the_version_is_pyprojects_else_unversioned(tmp_path: Path) -> None:
    assert package_version(tmp_path) == "0.0.0"
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 1\n")
    assert package_version(tmp_path) == "0.0.0"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "wayshub"\nversion = "0.4.0"\n')
    assert package_version(tmp_path) == "0.4.0"


def arrived(value: Any) -> Any:
    """What the engine hands the plugin for ``value``: every number a float, texts of an enum as its members."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: arrived(v) for k, v in value.items()}
    if isinstance(value, list):
        return [arrived(v) for v in value]
    return value


def test_what_arrives_becomes_the_settings_a_stack_file_gives() -> None:
    given = arrived(SETTINGS)
    given["lb"]["tls"] = site_types.LoadBalancerTls.OFF
    given["hosts"]["provider"] = site_types.HostsProvider.SANDBOX
    given["dns"] = None  # an optional key the program left out
    assert given["sandbox"]["httpPort"] == 8180.0 and isinstance(given["sandbox"]["httpPort"], float)
    plain = plain_settings(given)
    assert plain == SETTINGS
    assert parse(plain) == parse(SETTINGS)
    assert parse(plain).app.health.interval_seconds == 0.5


def test_numbers_that_are_not_whole_stay_floats_and_outputs_are_refused() -> None:
    assert plain_settings({"a": [1.5, 2.0, math.inf]}) == {"a": [1.5, 2, math.inf]}
    with pytest.raises(ConfigError, match=r"^settings\.app\.name: must be a plain value, not an Output"):
        plain_settings({"app": {"name": pulumi.Output.from_input("x")}})


def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    args: Any = {"settings": {**SETTINGS, "domain": "bad_domain..test"}, "project": str(tmp_path)}
    with pytest.raises(ConfigProblem) as raised:
        Site("site", args)
    assert str(raised.value).startswith("wayshub:domain: 'bad_domain..test' is not a domain name")
    assert "\n" not in str(raised.value)
    with pytest.raises(ConfigProblem, match=r"^project: 'app' is not an absolute path"):
        Site("site", {"settings": args["settings"], "project": "app"})


def test_the_provider_hands_a_bad_setting_on_as_it_is(tmp_path: Path) -> None:
    """Not as the SDK's ComponentInitError, which its server shows with a Python traceback: SiteServicer then
    answers the engine with the line alone (tests/e2e/test_typescript_program.py sees what a program shows)."""
    provider = SitePackage([Site], PACKAGE, None, "1.2.3")
    inputs = {"settings": {**SETTINGS, "domain": "bad_domain..test"}, "project": str(tmp_path)}
    with pytest.raises(ConfigProblem, match=r"^wayshub:domain: 'bad_domain\.\.test' is not a domain name"):
        provider.construct("site", SITE_TYPE, inputs)


def test_the_repos_version_is_the_python_packages() -> None:
    """One version for both packages: the wheel's (docs/package.md) and this one's schema and SDK."""
    assert package_version(REPO) == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
