"""Text settings take what `pulumi config set --path` stores for the characters typed.

Below the top level the CLI stores `16` as the number 16 and `true` as a boolean (`016`, `16.10` and
`1e3` stay text: its rule in sdk/go/common/resource/config, `coerce`), and the program gets the section as
JSON. So `pulumi config set --path wayshub:app.nodeVersion 16`, as docs/app.md shows, must mean "16". A
number with a point can only come from a hand-written stack file, whose YAML may have changed it: refused.
The engine's own storing is checked in tests/e2e/test_bad_config_engine.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import ConfigError, load
from tests.unit.test_config import GOOD


def loaded(section: str, value: dict[str, Any]) -> Any:
    """``value`` as the engine hands a section over (JSON text), loaded the way the program loads it."""
    raw = {key: json.dumps(v) if isinstance(v, dict | list) else v for key, v in GOOD.items()}
    raw[section] = json.dumps({**GOOD.get(section, {}), **value})
    return load(raw.get)


@pytest.mark.parametrize(
    ("section", "value", "attribute", "expected"),
    [
        ("app", {"nodeVersion": 16}, ("app", "node_version"), "16"),
        ("app", {"releasePin": 123456789012}, ("app", "release_pin"), "123456789012"),
        ("app", {"health": {"bodyContains": 42}}, ("app", "health", "body_contains"), "42"),
        (
            "app",
            {"env": {"A": 7, "B": True, "C": False, "D": -3, "E": 9007199254740993}},
            ("app", "env"),
            {"A": "7", "B": "true", "C": "false", "D": "-3", "E": "9007199254740993"},
        ),
        ("app", {"nodeVersion": "16.10"}, ("app", "node_version"), "16.10"),
    ],
)
def test_numbers_and_booleans_the_cli_stores_are_the_text_typed(
    section: str, value: dict[str, Any], attribute: tuple[str, ...], expected: Any
) -> None:
    config = loaded(section, value)
    for name in attribute:
        config = getattr(config, name)
    assert config == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"nodeVersion": 16.1},
            "wayshub:app.nodeVersion: the number 16.1 in the stack file may not be what was typed "
            "(16.10 reads as 16.1): put it in quotes, e.g. '16.10'",
        ),
        (
            {"env": {"X": 18446744073709552000}},  # what the engine hands over for 18446744073709551615
            "wayshub:app.env.X: the number 18446744073709552000 in the stack file may not be what was typed "
            "(16.10 reads as 16.1): put it in quotes, e.g. '16.10'",
        ),
        ({"env": {"X": [1]}}, "wayshub:app.env.X: must be text, not a list"),
        ({"start": {"cmd": "x"}}, "wayshub:app.start: must be text, not a map of settings"),
    ],
)
def test_a_number_with_a_point_or_a_structure_is_one_line(value: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        loaded("app", value)
    assert str(err.value) == message
