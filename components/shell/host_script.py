"""The one way a script runs on a host: ``sudo -n bash -c`` of its UPPER_CASE inputs, the shared shell
functions (lib.sh and any ``libs``), then the script itself, as one text that is the step's command input
(a preview shows exactly what runs).

Every host step's command carries lib.sh's text, comments included: editing lib.sh changes every step's
command, and the next `up` re-runs them all (the release step too: a rolling restart). Its header names
only the scripts that call its functions. It lives with the takeover helpers it holds
(components/hosts/host/); giving it only to the scripts that use it is such an edit, left for when one is due.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from components.shell import cmd

LIB = Path(__file__).resolve().parents[1] / "hosts" / "host" / "lib.sh"


def host_script(script: Path, inputs: Mapping[str, str], libs: Sequence[Path] = ()) -> str:
    """``sudo bash -c`` of ``script``: its UPPER_CASE inputs first (previews read them there), then lib.sh's
    functions and those of ``libs``, then the script (which sets its own shell options)."""
    assignments = "".join(f"{name}={shlex.quote(value)}\n" for name, value in inputs.items())
    functions = "".join(lib.read_text() for lib in [LIB, *libs])
    return cmd("sudo", "-n", "bash", "-c", assignments + functions + script.read_text())
