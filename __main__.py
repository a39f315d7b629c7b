"""wayshub: the manual setup this automates (two app servers running the Node app, nginx in front, the
domain pointed at it), declared once per stack. The steps: components/site/program.py."""

from pathlib import Path

from components.engine_stop import leave_quietly_when_stopped
from components.site.program import main

leave_quietly_when_stopped()  # the engine names a failure; a SIGINT traceback would bury it
main(Path(__file__).resolve().parent)
