"""Who holds a stack's lock: the lock files the engine writes at the start of an up, refresh or destroy.

The engine's self-managed backends (a folder, PostgreSQL, S3) keep one JSON object per lock under
``.pulumi/locks/<org>/<project>/<stack>/<id>.json`` (``{"pid", "username", "hostname", "timestamp"}``) and
delete it when the command ends; a killed engine leaves it behind. In PostgreSQL each is a row of the state
table whose ``data`` is ``{"data": <base64 of the file>}``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from state_backend.backend_url import Backend, BackendError

ORGANIZATION = "organization"  # the engine's one organization of a self-managed backend


def lock_prefix(project: str, stack: str) -> str:
    return f".pulumi/locks/{ORGANIZATION}/{project}/{stack}/"


@dataclass(frozen=True)
class Lock:
    key: str
    username: str
    hostname: str
    pid: int
    since: str  # as the engine wrote it (RFC 3339)

    @classmethod
    def parse(cls, key: str, content: bytes) -> Lock:
        try:
            data: dict[str, Any] = json.loads(content)
            return cls(key, str(data["username"]), str(data["hostname"]), int(data["pid"]), str(data["timestamp"]))
        except (ValueError, KeyError, TypeError):
            return cls(key, "?", "?", 0, "?")

    def holder(self) -> str:
        since = self.since
        with contextlib.suppress(ValueError):
            since = datetime.fromisoformat(self.since).strftime("%Y-%m-%d %H:%M:%S %z")
        return f"{self.username}@{self.hostname} (pid {self.pid}) since {since}"

    def alive_here(self) -> bool:
        """The lock's process runs on this machine now (a lock from elsewhere cannot be told)."""
        if self.hostname != socket.gethostname() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def file_locks(backend: Backend, project: str, stack: str) -> list[Lock]:
    folder = backend.folder
    assert folder is not None
    found = sorted((folder / lock_prefix(project, stack)).glob("*.json"))
    return [Lock.parse(str(path), path.read_bytes()) for path in found]


def decode_row(key: str, data: str) -> Lock:
    """A lock from a row of the PostgreSQL state table (``data``: the JSON column as text)."""
    try:
        content = base64.b64decode(json.loads(data)["data"])
    except (ValueError, KeyError, TypeError) as error:
        raise BackendError(f"the state table's row {key} is not what the engine writes: {error}") from error
    return Lock.parse(key, content)
