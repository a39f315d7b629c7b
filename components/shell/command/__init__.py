"""Commands and file copies declared through one interface shaped like pulumi-command's Python SDK.

``from components.shell.command import local, remote`` then ``local.Command``, ``remote.Command``,
``remote.CopyToRemote``, ``remote.ConnectionArgs``; the backend (built-in or pulumi-command) is chosen
once by ``backend.use`` (docs/commands.md).
"""

from components.shell.command import backend, local, remote
from components.shell.command.backend import Logging

__all__ = ["Logging", "backend", "local", "remote"]
