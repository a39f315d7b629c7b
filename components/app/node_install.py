"""Scripts that install Node on a server and print the absolute path of its ``node``.

``binary`` (the default when a version is known) unpacks the official binary that was shipped from
the deploying machine into ``/opt/<app>/node/<version>``; ``apt`` uses the OS packages; ``nodesource``
and ``nvm`` fetch a chosen major version over HTTPS. Each release links the printed absolute path.
One script per method, in ``host/node-<method>.sh``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from components.app.layout import node_path
from components.shell.host_script import host_script
from components.shell.uploads import UPLOADS_LIB

Method = Literal["binary", "apt", "nodesource", "nvm"]


@dataclass(frozen=True)
class NodeChoice:
    """How a host gets Node: ``version`` is exact for ``binary``, a major (or None) for the others."""

    method: Method
    version: str | None = None
    source: str = ""  # where the version came from (app.nodeVersion, .nvmrc, package.json engines.node)

    def describe(self) -> str:
        return f"{self.method} {self.version or 'any'}"


NVM_VERSION = "v0.40.1"
NVM_DIR = "/opt/nvm"

HOST_SCRIPTS = Path(__file__).resolve().parent / "host"


def _major(version: str | None) -> str:
    return (version or "").split(".")[0]


def install_command(choice: NodeChoice, app_name: str = "", upload: str = "") -> str:
    """A root script (host/node-<method>.sh) that installs Node and prints its node's absolute path last."""
    method, version = choice.method, choice.version
    inputs: dict[str, str]
    if method == "binary":
        # The uploaded ``node-linux-<arch>`` package's binary, unpacked once per version.
        inputs = {"DEST": node_path(app_name, version or "").removesuffix("/bin/node"), "UPLOAD": upload}
    elif method in ("apt", "nodesource"):
        inputs = {"MAJOR": _major(version)}
    elif method == "nvm":
        inputs = {"NVM_DIR": NVM_DIR, "NVM_VERSION": NVM_VERSION, "VERSION": version or ""}
    else:
        raise ValueError(f"wayshub:app.nodeInstall: unknown method {method!r}")
    # The binary's upload is taken from its private folder first (take_upload).
    return host_script(HOST_SCRIPTS / f"node-{method}.sh", inputs, libs=[UPLOADS_LIB] if method == "binary" else [])
