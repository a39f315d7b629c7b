"""The `bench` stack: sandbox VMs on 172.30.240.0/24 deployed by the real program, and its variants.

The bench runs a private copy of the program (as a user's checkout has it) whose ``__main__.py`` is the
bench's own (``bench_program``): the program's steps with a ``Tuning`` no stack setting offers.
``settle=False`` deploys with the rollout's wait after each batch removed, the control of the
rolling-update benchmark; ``chain_first_deploy=True`` makes every host wait its turn even on a first
deploy, as the program did before, the "before" of the first deploy at scale. Nothing is edited.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.pulumi_cli import REPO, PulumiCli, copy_program, engine_env, events_env, stack_file_text

STACK = "bench"
DOMAIN = "wayshub.bench"
NETWORK = f"wayshub-{STACK}"
SUBNET_PREFIX = "172.30.240"
SSH_PORT_BASE = 23000
HTTP_PORT, HTTPS_PORT = 19080, 19081
CHECKER = f"wayshub-{STACK}-backend-health.service"
APP_UNIT = "wayshub.service"


def bench_program(settle: bool, chain_first_deploy: bool) -> str:
    """The bench copy's ``__main__.py``: the program's own call (components/site/program.py) with a tuning."""
    return (
        '"""The bench\'s program: wayshub\'s steps with a tuning no stack setting offers (bench/stack.py)."""\n\n'
        "from pathlib import Path\n\n"
        "from components.engine_stop import leave_quietly_when_stopped\n"
        "from components.site.inputs import Tuning\n"
        "from components.site.program import main\n\n"
        "leave_quietly_when_stopped()\n"
        f"main(Path(__file__).resolve().parent, Tuning(settle={settle}, chain_first_deploy={chain_first_deploy}))\n"
    )


@dataclass(frozen=True)
class Variant:
    """What is deployed: app servers, extra `wayshub:lb` settings, the rollout's wait on or off."""

    app_servers: int = 2
    lb: tuple[tuple[str, Any], ...] = ()
    settle: bool = True
    chain_first_deploy: bool = False
    # Load balancers: 1 (`lbServer: lb`), or 2 sharing an address (`lbServers: lb, lb2`; docs/failover.md).
    lbs: int = 1


@dataclass
class Bench:
    cli: PulumiCli
    project: Path
    hosts_file: Path
    image: str
    deployed: Variant | None = field(default=None)

    def container(self, server: str) -> str:
        return f"wayshub-{STACK}-{server}"

    def sh(self, server: str, command: str) -> str:
        return subprocess.run(
            ["docker", "exec", self.container(server), "bash", "-c", command],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def address(self, server: str) -> str:
        """The VM's address on the bench network, as Docker reports it."""
        networks = json.loads(
            subprocess.run(
                ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", self.container(server)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        return str(networks[NETWORK]["IPAddress"])

    def configure(self, variant: Variant) -> None:
        config: dict[str, Any] = {
            "wayshub:domain": DOMAIN,
            "wayshub:hosts": {
                "provider": "sandbox",
                "appServers": [{"name": f"app{i}"} for i in range(1, variant.app_servers + 1)],
                **(
                    {"lbServer": {"name": "lb"}}
                    if variant.lbs == 1
                    else {"lbServers": [{"name": "lb"}, *({"name": f"lb{i}"} for i in range(2, variant.lbs + 1))]}
                ),
            },
            "wayshub:sandbox": {
                "image": self.image,
                "network": NETWORK,
                "subnet": f"{SUBNET_PREFIX}.0/24",
                "sshPortBase": SSH_PORT_BASE,
                "httpPort": HTTP_PORT,
                "httpsPort": HTTPS_PORT,
            },
            "wayshub:hostsFile": {"path": str(self.hosts_file)},
        }
        if variant.lb:
            config["wayshub:lb"] = dict(variant.lb)
        (self.project / "stacks").mkdir(exist_ok=True)
        (self.project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(stack_file_text(config))
        (self.project / "__main__.py").write_text(bench_program(variant.settle, variant.chain_first_deploy))

    def up(self, env: Mapping[str, str] | None = None, event_log: Path | None = None) -> float:
        """``pulumi up``, its seconds; ``env`` adds to the CLI's environment (and so the plugins');
        ``event_log``: the engine's event stream goes there (``read_events``)."""
        cli = PulumiCli(self.cli.workdir, {**self.cli.env, **(env or {})})
        args = ["up", "--yes", "--skip-preview"]
        if event_log is not None:
            event_log.unlink(missing_ok=True)
            cli = PulumiCli(cli.workdir, events_env(cli))
            args += ["--event-log", str(event_log)]
        started = time.monotonic()
        cli.run(*args)
        return time.monotonic() - started

    def deploy(self, variant: Variant) -> None:
        """Make ``variant`` live, unless it already is."""
        if self.deployed != variant:
            self.configure(variant)
            self.up()
            self.deployed = variant

    def destroy(self) -> None:
        self.cli.destroy()
        self.deployed = None


def setup(root: Path) -> Bench:
    subprocess.run([str(REPO / "scripts" / "ensure-docker")], check=True)
    image = subprocess.run(
        [str(REPO / "scripts" / "sandbox-image")], capture_output=True, text=True, check=True
    ).stdout.strip()
    copy_program(root / "project")
    hosts_file = root / "hosts"
    hosts_file.write_text("127.0.0.1\tlocalhost\n")
    cli = PulumiCli(root / "project", engine_env(root / "state", root / "home"))
    cli.init_stack(STACK)
    return Bench(cli, root / "project", hosts_file, image)
