"""Scripts that install Node on a server and print the absolute path of its ``node``.

``apt`` (the default) uses the OS packages; ``nodesource`` and ``nvm`` fetch a chosen major version
over HTTPS. The unit's ExecStart uses the printed absolute path: nvm's node is not on PATH in a
non-interactive SSH shell.
"""

from __future__ import annotations

from components.shell import cmd, fail

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


def install_lines(method: str, version: str | None) -> list[str]:
    """Lines of a root bash script; the last one prints the node path."""
    if method == "apt":
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
