"""What a failed pulumi command run through the Automation API says, in one line (scripts/rollback, switch-commands)."""

from __future__ import annotations


def last_line(err: Exception) -> str:
    """The line of a failed pulumi command worth showing: its last ``error:`` line, else its last line.

    A ``CommandError`` reads ``code: N``, then ``stdout: <first line>`` and ``stderr: <first line>``, each
    stream's further lines below its first: the labels go, the lines after them stay."""
    lines = []
    for raw in str(err).splitlines():
        line = raw.strip()
        if line.startswith("code:"):
            continue
        line = line.removeprefix("stdout:").removeprefix("stderr:").strip()
        if line:
            lines.append(line)
    errors = [line for line in lines if "error:" in line]
    return (errors or lines or ["(no output)"])[-1]
