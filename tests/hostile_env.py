"""Environment values that systemd's EnvironmentFile parser would change if they were written bare.

Shared by tests/unit/test_app_env_values.py (the env file's exact text) and
tests/e2e/test_app_env_and_sandboxing.py (what the running app really sees, byte for byte).
"""

from __future__ import annotations

# app.env: one value per way a bare KEY=value line goes wrong (comments say what systemd would do).
HOSTILE_ENV: dict[str, str] = {
    "DOUBLE_QUOTES": 'say "hi"',  # quotes taken as quoting
    "SINGLE_QUOTE": "it's",
    "BACKSLASH": "back\\slash",  # → backslash
    "ESCAPES": "\\n\\t\\\\ and \\x41",  # backslash pairs decoded or dropped
    "DOLLAR": "$HOME ${PATH} $",
    "BACKTICK": "`id`",
    "LEADING_SPACES": "  two leading",  # stripped
    "TRAILING_SPACES": "two trailing  ",  # stripped
    "ONLY_SPACES": "   ",
    "TABS": "\ttabbed\t",
    "HASH_FIRST": "#not a comment",  # a comment line if the key were first
    "SEMICOLON_FIRST": ";not a comment",
    "TRAILING_BACKSLASH": "ends in \\",  # swallows the next line (the next variable vanishes)
    "AFTER_TRAILING": "still here",  # sorts right after TRAILING_BACKSLASH: the line it would swallow
    "NEWLINE_INJECTION": "line one\nNODE_OPTIONS=--require /tmp/evil.js",  # an injected variable
    "NEWLINE_LAST": "ends in a newline\n",
    "CARRIAGE_RETURN": "a\rb",
    "CONTROL": "\x1b[31mred\x1b[0m\x7f",
    "NON_ASCII": "héllo wörld ✓ 日本語 🚀",
    "QUOTE_LAST": 'ends in a quote"',
    "BACKSLASH_QUOTE": '\\"',
    "EQUALS": "a=b==c",
    "EMPTY": "",
    "EVERYTHING": " '\"\\$`#;\n\\ ",
}
# wayshub:appSecrets: a secret's value takes the same path (the env file, sent as a secret).
HOSTILE_SECRETS: dict[str, str] = {"HOSTILE_SECRET": "s3cr3t \"q\" 'q' \\ $X `x`\nINJECTED=1 \\"}
