"""The one place where shell command lines are built.

Every value that reaches a shell goes through ``shlex.quote``: config values, names and paths are
never pasted into a command string, so ``; whoami`` or ``$(id)`` arrive as literal text.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable


def cmd(*argv: object) -> str:
    """One command from its argument list, each argument quoted: ``cmd("rm", "-f", path)``."""
    return shlex.join(str(arg) for arg in argv)


def script(lines: Iterable[str]) -> str:
    """A bash script run with errexit, nounset and pipefail (for multi-step remote work)."""
    body = "\n".join(lines)
    return cmd("bash", "-c", "set -euo pipefail\n" + body)


def fail(message: str) -> str:
    """Print ``message`` on stderr and exit 1 (a shell group, usable after ``||`` or ``then``)."""
    return f"{{ {cmd('echo', message)} >&2; exit 1; }}"


def when(condition: str, action: str) -> str:
    """Run ``action`` only if ``condition`` succeeds; the condition's output is discarded."""
    return f"if {condition} >/dev/null 2>&1; then {action}; fi"


def sudo_script(lines: Iterable[str]) -> str:
    """Like :func:`script`, as root through non-interactive sudo (a no-op wrapper when already root)."""
    body = "\n".join(lines)
    return cmd("sudo", "-n", "bash", "-c", "set -euo pipefail\n" + body)
