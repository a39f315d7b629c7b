"""Scripts that install Node on a server and print the absolute path of its ``node``.

``binary`` (the default when a version is known) unpacks the official binary that was shipped from
the deploying machine into ``/opt/<app>/node/<version>``; ``apt`` uses the OS packages; ``nodesource``
and ``nvm`` fetch a chosen major version over HTTPS. Each release links the printed absolute path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.app.layout import node_path
from components.shell import cmd, fail

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

_APT_INSTALL = [
    "export DEBIAN_FRONTEND=noninteractive",
    'apt_get() { apt-get -q -o DPkg::Lock::Timeout=300 "$@"; }',
]


def _check_major(version: str | None, how: str) -> list[str]:
    if version is None:
        return []
    major = version.split(".")[0]
    message = (
        f"wayshub:app.nodeVersion: this host's node ({how}) is not version {major}; "
        "pick nodeInstall nodesource or nvm, or set nodeVersion to what the host has"
    )
    return [f'[ "$("$node" -p \'process.versions.node.split(".")[0]\')" = {cmd(major)} ] || ' + fail(message)]


def _binary_lines(app_name: str, version: str, upload: str) -> list[str]:
    """Unpack the uploaded ``node-linux-<arch>`` package's binary once per version."""
    dest = node_path(app_name, version).removesuffix("/bin/node")
    return [
        f"dest={cmd(dest)}; upload={cmd(upload)}",
        'if [ ! -x "$dest/bin/node" ]; then',
        '  rm -rf "$dest.partial" && mkdir -p "$dest.partial"',
        '  tar -xzf "$upload" -C "$dest.partial" --strip-components=1 --no-same-owner package/bin/node package/LICENSE',
        '  "$dest.partial/bin/node" --version >/dev/null',
        '  chmod -R a+rX,go-w "$dest.partial" && mv -T "$dest.partial" "$dest"',
        "fi",
        'rm -f "$upload"',
        'node="$dest/bin/node"',
    ]


def install_lines(choice: NodeChoice, app_name: str = "", upload: str = "") -> list[str]:
    """Lines of a root bash script; the last one prints the node path."""
    method, version = choice.method, choice.version
    if method == "binary":
        lines = _binary_lines(app_name, version or "", upload)
    elif method == "apt":
        lines = [
            *_APT_INSTALL,
            "if ! command -v node >/dev/null; then",
            "  apt_get update >/dev/null",
            "  apt_get install -y --no-install-recommends nodejs >/dev/null",
            "fi",
            'node=$(readlink -f "$(command -v node)")',
            *_check_major(version, "from apt"),
        ]
    elif method == "nodesource":
        major = (version or "").split(".")[0]
        source = (
            f"deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_{major}.x nodistro main"
        )
        lines = [
            *_APT_INSTALL,
            "if ! command -v node >/dev/null || "
            f'[ "$(node -p \'process.versions.node.split(".")[0]\')" != {cmd(major)} ]; then',
            "  apt_get update >/dev/null",
            "  apt_get install -y --no-install-recommends ca-certificates curl gnupg >/dev/null",
            "  install -d -m 0755 /etc/apt/keyrings",
            "  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key"
            " | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg",
            "  " + cmd("printf", "%s\n", source) + " > /etc/apt/sources.list.d/nodesource.list",
            "  apt_get update >/dev/null",
            "  apt_get install -y nodejs >/dev/null",
            "fi",
            'node=$(readlink -f "$(command -v node)")',
            *_check_major(version, "from NodeSource"),
        ]
    elif method == "nvm":
        lines = [
            f"export NVM_DIR={NVM_DIR}",
            'if [ ! -s "$NVM_DIR/nvm.sh" ]; then',
            '  install -d -m 0755 "$NVM_DIR"',
            f"  curl -fsSL https://raw.githubusercontent.com/nvm-sh/nvm/{NVM_VERSION}/install.sh"
            " | PROFILE=/dev/null bash >/dev/null",
            "fi",
            'set +u; . "$NVM_DIR/nvm.sh"',
            f"nvm install {cmd(version or '')} >/dev/null",
            f"node=$(nvm which {cmd(version or '')})",
            "set -u",
            # The app's system user must be able to run it.
            'chmod -R a+rX "$NVM_DIR"',
        ]
    else:
        raise ValueError(f"wayshub:app.nodeInstall: unknown method {method!r}")
    return [*lines, 'printf "%s\\n" "$node"']
