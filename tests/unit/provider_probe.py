"""A dynamic provider whose create returns only once ``PARTIES`` creates run at the same time.

Imported by the provider server under test (by reference: dill pickles a class from an importable module
by name), so the barrier lives in that server's process. A server with fewer worker threads than
``PARTIES`` cannot run them all at once: the barrier times out and every create fails.
"""

from __future__ import annotations

import threading
from typing import Any

from pulumi.dynamic import CreateResult, ResourceProvider

PARTIES = 8
WAIT_S = 5.0
BARRIER = threading.Barrier(PARTIES, timeout=WAIT_S)


class TogetherProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        arrived = BARRIER.wait()  # raises BrokenBarrierError when not all PARTIES get a thread in time
        return CreateResult(id_=f"probe-{arrived}", outs={"arrived": arrived})
