"""``HostProbe``: before anything is deployed to a server you own, prove we can log in and use sudo.

Everything on a server runs as its login user through ``sudo -n`` (non-interactive), so the probe
checks exactly that. Each failure is one line naming the server, its user and host, and what to do:
a host that does not answer, a host key we cannot vouch for, a key the server does not accept (those
three come from :mod:`components.shell.ssh`), no sudo rights, sudo asking for a password.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.shell import cmd, ssh
from components.shell.provider import CommandArgs, command_props
from components.shell.remote import RemoteCommandProvider

# Runs as the login user in POSIX sh (whatever the user's shell is); prints key=value lines.
PROBE_SCRIPT = "\n".join(
    [
        "printf 'hostname=%s\\n' \"$(hostname)\"",
        "printf 'groups=%s\\n' \"$(id -nG)\"",
        "if ! command -v sudo >/dev/null 2>&1; then echo sudo=missing",
        "elif out=$(sudo -n true 2>&1 </dev/null); then echo sudo=ok",
        "else printf 'sudo=%s\\n' \"$(printf '%s' \"$out\" | tr '\\n' ' ')\"; fi",
    ]
)
PROBE_COMMAND = cmd("sh", "-c", PROBE_SCRIPT)
PROBE_TIMEOUT_SECONDS = 60
SUDO_GROUPS = ("sudo", "admin", "wheel")


class HostUnusable(Exception):
    """The server cannot be deployed to as configured; the message is one line saying why and what to do."""


def parse_facts(stdout: str) -> dict[str, str]:
    facts: dict[str, str] = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            facts[key.strip()] = value.strip()
    return facts


def sudo_problem(user: str, address: str, facts: dict[str, str]) -> str | None:
    """Why ``user`` cannot run ``sudo -n`` (None when it can), as one line with the fix."""
    status = facts.get("sudo", "")
    if status == "ok":
        return None
    rule = f"{user} ALL=(ALL) NOPASSWD:ALL"
    fix = f"give {user} passwordless sudo (as root: echo '{rule}' > /etc/sudoers.d/90-wayshub)"
    if status == "missing":
        return f"{address}: sudo is not installed; install it and {fix}"
    if "password is required" in status:
        groups = set(facts.get("groups", "").split())
        if groups & set(SUDO_GROUPS):
            return f"{address}: sudo asks {user} for a password, and deployments run sudo -n (no prompt): {fix}"
        return f"{address}: {user} has no sudo rights (in none of the groups {', '.join(SUDO_GROUPS)}): {fix}"
    if "tty" in status:
        return f"{address}: sudo wants a terminal (Defaults requiretty): add 'Defaults:{user} !requiretty' and {fix}"
    return f"{address}: sudo -n true failed ({status or 'no output'}): {fix}"


class HostProbeProvider(RemoteCommandProvider):
    """Runs :data:`PROBE_COMMAND` and turns whatever goes wrong into one :class:`HostUnusable` line."""

    kind = "probe"

    def _run(self, props: dict[str, Any], key: str) -> dict[str, Any]:
        server = props.get("server") or props.get("name", "server")
        conn = ssh.Connection.from_props(props["connection"])
        try:
            result = ssh.run(conn, props["create"], timeout=PROBE_TIMEOUT_SECONDS)
        except (ConnectionError, ssh.HostKeyMismatch) as err:
            raise HostUnusable(f"{server}: {err}") from None
        facts = parse_facts(result.stdout)
        if result.exit_code != 0 or "sudo" not in facts:
            output = " ".join((result.stderr or result.stdout).split())[-300:]
            raise HostUnusable(f"{server}: {conn.address}: the probe exited {result.exit_code}: {output}")
        problem = sudo_problem(conn.user, conn.address, facts)
        if problem:
            raise HostUnusable(f"{server}: {problem}")
        return {**props, "stdout": facts.get("hostname", ""), "stderr": ""}

    def quiet_keys(self) -> tuple[str, ...]:
        return ()

    def extra_keys(self) -> tuple[str, ...]:
        # A new key, known_hosts file or timeout is checked again: the server may not accept it.
        return ("connection",)


# The same type as RemoteCommand (it is one, with its own failure messages), so a stack whose probes
# were made as plain RemoteCommands keeps them.
class HostProbe(Resource, module="wayshub", name="RemoteCommand"):
    """Checks SSH login and passwordless sudo on one server, once, when it is first used."""

    stdout: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        server: str,
        connection: pulumi.Input[dict[str, Any]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            **command_props(name, CommandArgs(create=PROBE_COMMAND)),
            "server": server,
            "connection": connection,
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["connection"]))
        super().__init__(HostProbeProvider(), name, props, opts)
