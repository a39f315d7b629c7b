"""The program leaves without a word when the engine stops it.

When the engine shuts a deployment down (a step failed, or Ctrl-C), it ends the language host's process
group with SIGINT, and SIGKILL five seconds later. The program may be waiting on the engine at that moment
(registering a resource whose dependency failed, logging). Python's default turns the signal into a
``KeyboardInterrupt`` traceback through the SDK's gRPC calls, which the engine prints under the stack as if
it were the failure, after the one clear line the failing step already printed. The engine reports the real
cause, so the program exits at once, printing nothing, with the shell's status for SIGINT (130).
"""

from __future__ import annotations

import os
import signal
from types import FrameType


def leave_quietly_when_stopped() -> None:
    """Exit without a traceback on SIGINT (call first in ``__main__``, before anything waits on the engine)."""
    signal.signal(signal.SIGINT, _leave)


def _leave(signum: int, _frame: FrameType | None) -> None:
    os._exit(128 + signum)  # no unwinding: every await left would only print the engine's absence
