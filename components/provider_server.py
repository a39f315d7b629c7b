"""The engine's Python dynamic-provider server, with a worker pool of our size.

Pulumi runs the create/diff/update/delete of every dynamic resource (all of components/shell) in ONE
provider process, ``python -m pulumi.dynamic``, started by the ``pulumi-resource-pulumi-python`` script
the SDK ships. That server hands its gRPC server ``ThreadPoolExecutor(max_workers=4)``: at most four
operations at once, whatever the engine's ``--parallel``, so a first deploy of ten hosts runs four hosts'
steps at a time. ``plugins/pulumi-resource-pulumi-python`` (first on PATH: the engine looks there before
the script next to the CLI) runs this module instead. It runs the SDK's own server module unchanged; only
the gRPC server that module builds gets ``WAYSHUB_PROVIDER_WORKERS`` threads (default 32).

``WAYSHUB_PROVIDER_LOG=<file>`` (tests, benchmarks): append ``pid=… workers=…`` when the server starts and
``pid=… peak=…`` each time more operations than ever before run at once.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]

WORKERS_ENV = "WAYSHUB_PROVIDER_WORKERS"
LOG_ENV = "WAYSHUB_PROVIDER_LOG"
DEFAULT_WORKERS = 32
MAX_WORKERS = 256
SDK_SERVER_MODULE = "pulumi.dynamic"  # its __main__ builds the server and serves until the engine stops it


def workers_from(environ: Mapping[str, str]) -> int:
    """The pool size ``WAYSHUB_PROVIDER_WORKERS`` asks for; one line naming it when it is not a size."""
    raw = environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return DEFAULT_WORKERS
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WORKERS:
        raise SystemExit(f"{WORKERS_ENV}: {raw!r} is not a whole number from 1 to {MAX_WORKERS}")
    return int(raw)


class PeakLog(grpc.ServerInterceptor):  # type: ignore[misc]
    """Counts the operations running at once and appends each new peak to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def write(self, line: str) -> None:
        with self.path.open("a") as log:
            log.write(f"pid={os.getpid()} {line}\n")

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        def counted(request: Any, context: Any) -> Any:
            with self.lock:
                self.running += 1
                if self.running > self.peak:
                    self.peak = self.running
                    self.write(f"peak={self.peak}")
            try:
                return inner(request, context)
            finally:
                with self.lock:
                    self.running -= 1

        return grpc.unary_unary_rpc_method_handler(
            counted,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def pooled_server(workers: int, log: PeakLog | None = None) -> Callable[..., Any]:
    """A stand-in for ``grpc.server`` that gives the server ``workers`` threads instead of the pool it
    is handed (the SDK's four, never started: a ThreadPoolExecutor makes its threads on first use)."""
    make_server = grpc.server

    def server(thread_pool: futures.Executor, *args: Any, **kwargs: Any) -> Any:
        thread_pool.shutdown(wait=False)
        if log is not None:
            kwargs["interceptors"] = [*(kwargs.get("interceptors") or ()), log]
            log.write(f"workers={workers}")
        pool = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wayshub-provider")
        return make_server(pool, *args, **kwargs)

    return server


def main(environ: Mapping[str, str] = os.environ) -> None:
    try:
        workers = workers_from(environ)
    except SystemExit as err:
        print(err, file=sys.stderr)
        raise SystemExit(2) from None
    log_path = environ.get(LOG_ENV)
    grpc.server = pooled_server(workers, PeakLog(Path(log_path)) if log_path else None)
    # The SDK's server module as `python -m pulumi.dynamic` runs it; it prints the port and serves.
    runpy.run_module(SDK_SERVER_MODULE, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
