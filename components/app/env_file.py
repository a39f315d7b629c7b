"""The release's env file: every value quoted so systemd's EnvironmentFile reads it back byte for byte."""

from __future__ import annotations

from collections.abc import Mapping

from components.app.app_run import AppRun

# Characters a bare (unquoted) value may hold: systemd's parser keeps them as they are. Anything else,
# and the empty value, is double-quoted.
_BARE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,@+=%")
# Inside double quotes systemd's EnvironmentFile parser (src/basic/env-file.c) drops a backslash before
# exactly these four and keeps every other byte as it is: newlines, spaces, '#', quotes, Unicode.
_ESCAPED_IN_QUOTES = {"\\": "\\\\", '"': '\\"', "$": "\\$", "`": "\\`"}


def quote_env(value: str) -> str:
    """A value as systemd's EnvironmentFile reads it back byte for byte.

    Bare, systemd would drop a backslash (``back\\slash`` → ``backslash``), strip leading and trailing
    spaces, join the next line to a value ending in a backslash, and end the value at a newline (the
    rest becoming a variable of its own). Double-quoted and escaped it does none of that
    (tests/e2e/test_app_env_and_sandboxing.py reads each value back from the running app). NUL cannot
    be carried at all: components/config/app.py refuses it, and so does this."""
    if "\0" in value:
        raise ValueError("an environment value cannot hold a NUL character")
    if value and all(c in _BARE for c in value):
        return value
    return '"' + "".join(_ESCAPED_IN_QUOTES.get(c, c) for c in value) + '"'


def env_file_text(run: AppRun, secrets: Mapping[str, str]) -> str:
    """The release's env file. (WAYSHUB_RELEASE comes from the start script: the env file stays the same
    text from release to release, so a preview shows it only when the environment really changes.)"""
    values = {**run.public_env(), **secrets}
    return "".join(f"{key}={quote_env(value)}\n" for key, value in sorted(values.items()))
