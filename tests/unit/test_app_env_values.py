"""App env values and appSecrets reach the app byte for byte: the env file's exact text, and what is refused.

systemd parses the env file (EnvironmentFile=): bare values lose backslashes and outer spaces, a
trailing backslash swallows the next line, a newline starts a variable of its own. So every value that
is not plainly safe is double-quoted with systemd's four escapes. The proof that systemd reads these
lines back as the values is tests/e2e/test_app_env_and_sandboxing.py (the running app's environment);
here the lines themselves are pinned, and NUL (which no environment can hold) is refused by name.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.app.app_run import AppRun
from components.app.app_spec import read_app
from components.app.env_file import env_file_text, quote_env
from components.app.node_install import NodeChoice
from components.config import AppConfig, ConfigError, check_app_secrets, parse
from tests.hostile_env import HOSTILE_ENV, HOSTILE_SECRETS
from tests.unit.test_app_spec import FIXTURES
from tests.unit.test_config import GOOD, with_change

# The env file for HOSTILE_ENV + HOSTILE_SECRETS, line by line (a line may hold a quoted newline).
GOLDEN = [
    'AFTER_TRAILING="still here"\n',
    r'BACKSLASH="back\\slash"' + "\n",
    r'BACKSLASH_QUOTE="\\\""' + "\n",
    r'BACKTICK="\`id\`"' + "\n",
    'CARRIAGE_RETURN="a\rb"\n',
    'CONTROL="\x1b[31mred\x1b[0m\x7f"\n',
    r'DOLLAR="\$HOME \${PATH} \$"' + "\n",
    r'DOUBLE_QUOTES="say \"hi\""' + "\n",
    'EMPTY=""\n',
    "EQUALS=a=b==c\n",
    r'ESCAPES="\\n\\t\\\\ and \\x41"' + "\n",
    r"""EVERYTHING=" '\"\\\$\`#;""" + "\n" + r'\\ "' + "\n",
    'HASH_FIRST="#not a comment"\n',
    r"""HOSTILE_SECRET="s3cr3t \"q\" 'q' \\ \$X \`x\`""" + "\n" + r'INJECTED=1 \\"' + "\n",
    'LEADING_SPACES="  two leading"\n',
    'NEWLINE_INJECTION="line one\nNODE_OPTIONS=--require /tmp/evil.js"\n',
    'NEWLINE_LAST="ends in a newline\n"\n',
    "NODE_ENV=production\n",
    'NON_ASCII="héllo wörld ✓ 日本語 🚀"\n',
    'ONLY_SPACES="   "\n',
    "PORT=3000\n",
    r'QUOTE_LAST="ends in a quote\""' + "\n",
    'SEMICOLON_FIRST=";not a comment"\n',
    'SINGLE_QUOTE="it\'s"\n',
    'TABS="\ttabbed\t"\n',
    r'TRAILING_BACKSLASH="ends in \\"' + "\n",
    'TRAILING_SPACES="two trailing  "\n',
]


def run_with(env: dict[str, str]) -> AppRun:
    spec = read_app(AppConfig(), FIXTURES / "plain")
    return AppRun(app_name="wayshub", spec=spec, node=NodeChoice("apt"), env=env)


def test_every_hostile_value_is_written_quoted_and_escaped_exactly() -> None:
    text = env_file_text(run_with(HOSTILE_ENV), HOSTILE_SECRETS)
    assert text == "".join(GOLDEN)


def test_each_line_is_one_quoted_value_systemd_cannot_split() -> None:
    """Inside the quotes no unescaped '"', and no backslash left dangling before the closing quote."""
    for name, value in {**HOSTILE_ENV, **HOSTILE_SECRETS}.items():
        quoted = quote_env(value)
        if not quoted.startswith('"'):
            assert quoted == value and value.replace("=", "").replace("-", "").replace(".", "").isalnum(), name
            continue
        inner, i = quoted[1:-1], 0
        assert quoted.endswith('"'), name
        while i < len(inner):  # every backslash escapes one of the four; a '"' only escaped
            if inner[i] == "\\":
                assert inner[i + 1] in '\\"$`', (name, inner)
                i += 2
                continue
            assert inner[i] not in '"$`', (name, inner)
            i += 1


def test_plain_values_stay_bare() -> None:
    assert quote_env("a-b_c/d:1,x@y+z=%.") == "a-b_c/d:1,x@y+z=%."
    assert quote_env("") == '""'
    assert quote_env("héllo") == '"héllo"', "non-ASCII is quoted: bare is only what systemd surely keeps"


def test_newlines_and_every_hostile_value_are_accepted_in_app_env() -> None:
    config = parse(with_change(GOOD, "app", {"env": HOSTILE_ENV}))
    assert config.app.env_text_values == HOSTILE_ENV


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("a\0b", "contains a NUL character, which no environment variable can hold"),
        ("\0", "contains a NUL character, which no environment variable can hold"),
        ("\udc80", "is not valid Unicode text (it holds a lone surrogate such as \\udc80)"),
    ],
)
def test_what_cannot_be_carried_is_refused_in_one_line_naming_the_variable(value: str, problem: str) -> None:
    env: dict[str, Any] = {"GOOD": "fine", "BROKEN": value}
    with pytest.raises(ConfigError) as caught:
        parse(with_change(GOOD, "app", {"env": env}))
    assert str(caught.value) == f"wayshub:app.env.BROKEN: {problem}"

    secrets = json.dumps({"OK": "x", "API_KEY": value})
    with pytest.raises(ConfigError) as caught:
        check_app_secrets(parse(GOOD), secrets)
    assert str(caught.value) == f"wayshub:appSecrets.API_KEY: {problem}"
    assert "\n" not in str(caught.value)


def test_a_secret_with_newlines_and_quotes_is_accepted_and_never_echoed() -> None:
    assert check_app_secrets(parse(GOOD), json.dumps(HOSTILE_SECRETS)) == HOSTILE_SECRETS
    with pytest.raises(ConfigError) as caught:
        check_app_secrets(parse(GOOD), json.dumps({"TOKEN": "visible-part\0"}))
    assert "visible-part" not in str(caught.value)


def test_the_env_file_writer_refuses_nul_itself() -> None:
    with pytest.raises(ValueError, match="NUL"):
        env_file_text(run_with({}), {"TOKEN": "a\0b"})
