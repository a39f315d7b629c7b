"""The program leaves without a traceback when the engine stops it with SIGINT (components/engine_stop.py).

The engine sends SIGINT to the language host's process group when a step fails while the program still
waits on it; the traceback Python would print lands under the stack's failure line (CI saw it once, in
test_existing_hosts' down-server case, as a race).
"""

from __future__ import annotations

import ast
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WAITING_PROGRAM = """
import sys, threading
{setup}
print("waiting", flush=True)
threading.Event().wait(60)  # like the SDK blocked in a gRPC call to an engine that is going away
"""


def stopped(setup: str) -> subprocess.CompletedProcess[str]:
    """Runs a program that waits, sends it SIGINT as the engine does, and returns what it left behind."""
    program = subprocess.Popen(
        [sys.executable, "-c", WAITING_PROGRAM.format(setup=setup)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert program.stdout is not None
    assert program.stdout.readline() == "waiting\n"
    program.send_signal(signal.SIGINT)
    out, err = program.communicate(timeout=30)
    return subprocess.CompletedProcess(program.args, program.returncode, out, err)


def test_a_stopped_program_prints_nothing_and_exits_with_the_sigint_status() -> None:
    result = stopped("from components.engine_stop import leave_quietly_when_stopped\nleave_quietly_when_stopped()")
    assert result.stderr == ""
    assert result.returncode == 128 + signal.SIGINT


def test_without_it_python_prints_the_traceback_the_engine_would_show() -> None:
    result = stopped("")  # the control: what the handler is there to prevent
    assert "KeyboardInterrupt" in result.stderr and "Traceback" in result.stderr


def test_the_program_installs_it_before_its_first_statement_that_reads_config() -> None:
    """__main__.py: imports, then the handler, then the program's one call (which reads the config)."""
    tree = ast.parse((ROOT / "__main__.py").read_text())
    statements = [node for node in tree.body if not isinstance(node, (ast.Import, ast.ImportFrom))]
    calls = [
        node.value.func.id
        for node in statements
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
    ]
    assert calls[:2] == ["leave_quietly_when_stopped", "main"], calls
    docstring = [node for node in statements if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)]
    assert len(statements) == len(calls) + len(docstring), "nothing else runs at the top level"
