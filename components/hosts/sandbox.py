"""Local sandbox "VMs": Docker containers booting systemd + sshd, like the ``multipass launch`` of the manual
setup this automates.

``SandboxNetwork`` makes the private network and the stack's SSH key pair; each ``SandboxVm`` is one
container on it, reachable by Pulumi over SSH on a port published on 127.0.0.1 (as Docker Desktop
needs) and by the other VMs on its fixed private address. The VM's host key is read from the
container right after boot and pinned, so every later SSH connection verifies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from components.hosts.host import Host
from components.hosts.ssh_key import SshKeyPair
from components.layout import stack_label
from components.shell import cmd, fail, script, when
from components.shell.command import local, remote

# First boot makes the host keys; a machine busy booting many VMs at once needs minutes.
HOST_KEY_WAIT_SECONDS = 300


@dataclass(frozen=True)
class SandboxNetworkArgs:
    network: str
    subnet: str
    stack: str


class SandboxNetwork(pulumi.ComponentResource):
    """A dedicated Docker network with a fixed subnet, and the SSH key pair all VMs of the stack trust."""

    def __init__(self, name: str, args: SandboxNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:hosts:SandboxNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        label = f"wayshub.stack={args.stack}"
        self.network_name = args.network
        self.key = SshKeyPair(f"{name}-key", comment=stack_label(args.stack), opts=child)
        exists = cmd("docker", "network", "inspect", args.network)
        self.network = local.Command(
            f"{name}-network",
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(delete_before_replace=True)),
            create=script(
                [
                    when(exists, fail(f"docker network {args.network} exists: remove it or set wayshub:sandbox")),
                    cmd("docker", "network", "create", "--subnet", args.subnet, "--label", label, args.network),
                ]
            ),
            delete=script([when(exists, cmd("docker", "network", "rm", args.network))]),
            triggers=[args.network, args.subnet],
        )
        self.register_outputs({"network": self.network_name, "public_key": self.key.public_key})


@dataclass(frozen=True)
class SandboxVmArgs:
    hostname: str
    container_name: str
    image: str
    network: SandboxNetwork
    private_address: str
    ssh_port: int
    stack: str
    user: str = "deploy"
    bind_address: str = "127.0.0.1"
    published_ports: Sequence[tuple[int, int]] = field(default_factory=tuple)
    # One of two LBs sharing an address: keepalived adds it (NET_ADMIN) and speaks VRRP (NET_RAW).
    vrrp: bool = False
    # A host folder kept across VM re-creations for apt's downloads and package lists.
    apt_cache_dir: str | None = None
    dial_timeout_seconds: float = 60.0


def docker_run_argv(args: SandboxVmArgs, public_key: str) -> list[str]:
    """The ``docker run`` that boots one VM (no --privileged, no host cgroups: SYS_ADMIN and a cgroup namespace)."""
    argv = [
        "docker", "run", "--detach",
        "--name", args.container_name,
        "--hostname", args.hostname,
        "--label", f"wayshub.stack={args.stack}",
        "--network", args.network.network_name,
        "--ip", args.private_address,
        "--publish", f"{args.bind_address}:{args.ssh_port}:22",
    ]  # fmt: skip
    for host_port, container_port in args.published_ports:
        argv += ["--publish", f"{args.bind_address}:{host_port}:{container_port}"]
    if args.published_ports or args.vrrp:
        # An LB VM: its backend health check ends connections stuck on a hung backend with `ss -K`, which
        # needs CAP_NET_ADMIN in its network namespace (as does keepalived, adding the shared address).
        argv += ["--cap-add", "NET_ADMIN"]
    if args.apt_cache_dir:
        argv += [
            "--volume", f"{args.apt_cache_dir}/archives:/var/cache/apt/archives",
            "--volume", f"{args.apt_cache_dir}/lists:/var/lib/apt/lists",
        ]  # fmt: skip
    argv += [
        "--env", f"WAYSHUB_AUTHORIZED_KEY={public_key}",
        # The VM's login user (the one sudoer), made at first boot: never the app's user.
        "--env", f"WAYSHUB_LOGIN_USER={args.user}",
        # The least systemd needs here (docs/architecture.md, "Sandbox VMs"): SYS_ADMIN for the mount
        # namespaces of sandboxed units (PrivateTmp, ProtectSystem) and its own cgroup mount; a cgroup
        # namespace of its own, so it sees and writes only the container's cgroup, none of the host's.
        "--cap-add", "SYS_ADMIN",
        *([] if args.vrrp else ["--cap-drop", "NET_RAW"]),  # VRRP is IP protocol 112: a raw socket
        "--cap-drop", "MKNOD",
        "--cgroupns", "private",
        "--tmpfs", "/run", "--tmpfs", "/run/lock",
        "--stop-timeout", "20",
        args.image,
    ]  # fmt: skip
    return argv


def wait_for_host_key_lines(name: str, remove_on_failure: bool = False) -> list[str]:
    """Print the VM's SSH host key (``type base64``) once first boot has made it.

    With ``remove_on_failure`` (a create) a VM that never got there is removed, so a failed create
    leaves nothing behind for the next attempt to trip over.
    """
    read_key = cmd("docker", "exec", name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub")
    return [
        f"for _ in $(seq {HOST_KEY_WAIT_SECONDS * 2}); do",
        f'  key=$({read_key} 2>/dev/null) && [ -n "$key" ] && break',
        "  sleep 0.5",
        "done",
        'if [ -z "${key:-}" ]; then',
        "  " + cmd("echo", f"{name}: no SSH host key after {HOST_KEY_WAIT_SECONDS}s; its systemd state:") + " >&2",
        f"  {cmd('docker', 'exec', name, 'systemctl', 'list-jobs', '--no-pager')} >&2 || true",
        *([f"  {cmd('docker', 'rm', '--force', name)} >/dev/null || true"] if remove_on_failure else []),
        "  exit 1",
        "fi",
        'printf "%s\\n" "$key" | cut -d" " -f1,2',
    ]


def launch_script(args: SandboxVmArgs, public_key: str) -> str:
    """Start the container, then print its SSH host key once first boot has made it."""
    name = args.container_name
    inspect_label = cmd("docker", "container", "inspect", "--format", '{{index .Config.Labels "wayshub.stack"}}', name)
    return script(
        [
            f"if owner=$({inspect_label} 2>/dev/null); then",
            f'  [ "$owner" = {cmd(args.stack)} ] || ' + fail(f"container {name} exists and is not this stack's"),
            f"  {cmd('docker', 'rm', '--force', name)} >/dev/null  # left over by an interrupted run of this stack",
            "fi",
            *(
                [cmd("mkdir", "-p", f"{args.apt_cache_dir}/archives/partial", f"{args.apt_cache_dir}/lists/partial")]
                if args.apt_cache_dir
                else []
            ),
            cmd(*docker_run_argv(args, public_key)) + " >/dev/null",
            *wait_for_host_key_lines(name, remove_on_failure=True),
        ]
    )


def remove_script(container_name: str) -> str:
    """Idempotent: a container that is already gone is fine."""
    exists = cmd("docker", "container", "inspect", container_name)
    return script([when(exists, cmd("docker", "rm", "--force", container_name))])


class SandboxVm(pulumi.ComponentResource):
    """One sandbox VM; ``host`` is what the app and LB layers use."""

    def __init__(self, name: str, args: SandboxVmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:hosts:SandboxVm", name, None, opts)
        public_key = pulumi.Output.from_input(args.network.key.public_key)
        self.container = local.Command(
            f"{name}-container",
            pulumi.ResourceOptions(parent=self, depends_on=[args.network.network], delete_before_replace=True),
            create=public_key.apply(lambda key: launch_script(args, key)),
            # A change in how we launch or wait re-reads the host key; a different VM (any
            # `docker run` argument) replaces it.
            update=script(wait_for_host_key_lines(args.container_name)),
            delete=remove_script(args.container_name),
            triggers=[public_key.apply(lambda key: cmd(*docker_run_argv(args, key)))],
        )
        self.host_key = self.container.stdout.apply(str.strip)
        self.private_address = pulumi.Output.from_input(args.private_address)
        self.connection = remote.ConnectionArgs(
            host=args.bind_address,
            port=args.ssh_port,
            user=args.user,
            private_key=args.network.key.private_key,
            host_key=self.host_key,
            dial_timeout_seconds=args.dial_timeout_seconds,
            gone_if="! " + cmd("docker", "container", "inspect", args.container_name) + " >/dev/null 2>&1",
        )
        self.host = Host(args.hostname, self.connection, self.private_address, self.container)
        self.register_outputs(
            {"private_address": self.private_address, "ssh_port": args.ssh_port, "host_key": self.host_key}
        )
