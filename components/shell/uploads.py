"""Where uploads land on a server (issue 28 item 6): never the shared ``/tmp``. Each upload step copies its
file, as the login user, into a folder of its own under a root-owned upload root (host/upload-dir.sh makes
both: root 0755, the step's folder the login user's 0700); the root script that reads the file first
moves it into a folder only root can open (``take_upload`` in host/uploads.sh), so no other local user
can create the name first or swap the file between the copy and its use."""

from __future__ import annotations

from pathlib import Path

from components.shell.commands import cmd

UPLOAD_ROOT = "/var/lib/wayshub-uploads"
HOST_SCRIPTS = Path(__file__).resolve().parent / "host"
UPLOADS_LIB = HOST_SCRIPTS / "uploads.sh"


def upload_dir(step: str) -> str:
    """The private folder of one upload step (``<app>-code``, ``<app>-node``)."""
    return f"{UPLOAD_ROOT}/{step}"


def is_private(remote_path: str) -> bool:
    """Whether ``remote_path`` is a file right in a step's folder under the upload root."""
    parts = remote_path.split("/")
    return remote_path.startswith(UPLOAD_ROOT + "/") and len(parts) == UPLOAD_ROOT.count("/") + 3 and ".." not in parts


def upload_dir_command(step: str) -> str:
    """``sudo bash -c`` of host/upload-dir.sh: the step's folder, made before its copy."""
    script = (HOST_SCRIPTS / "upload-dir.sh").read_text()
    return cmd("sudo", "-n", "bash", "-c", f"DIR={cmd(upload_dir(step))}\n{script}")
