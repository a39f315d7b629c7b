"""wayshub: the seed's five steps, declared once per stack.

1. servers  2. the Node app on each app server  3. nginx in front  4. the domain in a hosts file
5. exports to prove it (URL, backends, release). Reading and checking config happens first.
"""

from pathlib import Path

import pulumi

from components import config as stack_config
from components.app import NodeApp, NodeAppArgs, build_release, pinned_release, roll_out
from components.hosts.from_config import declare_servers
from components.load_balancer import NginxLoadBalancer, NginxLoadBalancerArgs
from components.names import HostsEntry, HostsEntryArgs

HERE = Path(__file__).resolve().parent
stack = pulumi.get_stack()
try:
    settings = stack_config.load(pulumi.Config().get)
except stack_config.ConfigError as err:
    # One line naming the setting, before any resource is declared.
    raise SystemExit(f"error: {err}") from None

# 1. Servers: N app servers and one load balancer.
servers = declare_servers(settings, stack, lb_port=settings.lb.listen_port)

# 2. The app, built once here (or a pinned release already on the servers), rolled out in batches.
app = settings.app
if app.release_pin:
    release = pinned_release(app.release_pin)
else:
    release = build_release(HERE / app.source, HERE / "build" / "releases", app.name)
apps = roll_out(
    servers.app,
    settings.rollout.batch_size,
    lambda host, after: NodeApp(
        f"{host.name}-app",
        NodeAppArgs(
            host=host,
            release=release,
            app_name=app.name,
            port=app.port,
            entrypoint=app.entrypoint,
            node_install=app.node_install,
            node_version=app.node_version,
            env=app.env,
            health_timeout_seconds=app.health_timeout_seconds,
            releases_kept=app.releases_kept,
            settle_seconds=settings.lb.fail_timeout_seconds + 1 if len(servers.app) > 1 else 0,
            after=after,
        ),
    ),
)

# 3. nginx on the LB server, one upstream line per backend.
lb = NginxLoadBalancer(
    "lb",
    NginxLoadBalancerArgs(
        host=servers.lb,
        site_name=f"wayshub-{stack}",
        domain=settings.domain,
        backends=[a.backend for a in apps],
        settings=settings.lb,
    ),
)

# 4. The domain points at the LB.
if settings.hosts_file.enabled:
    HostsEntry(
        "hosts-entry",
        HostsEntryArgs(
            path=settings.hosts_file.path,
            stack=stack,
            entries=[(settings.hosts_file.address, settings.domain)],
        ),
        opts=pulumi.ResourceOptions(depends_on=[lb.site]),
    )

# 5. What proves it: the URL, and a curl that works even before the hosts file is read.
sandbox = settings.hosts.provider == "sandbox"
port = settings.sandbox.http_port if sandbox else settings.lb.listen_port
url = f"http://{settings.domain}/" if port == 80 else f"http://{settings.domain}:{port}/"
public_address = settings.sandbox.bind_address if sandbox else (settings.hosts.lb_server.address or "")
pulumi.export("url", url)
pulumi.export("curl", f"curl --resolve {settings.domain}:{port}:{public_address} {url}")
pulumi.export("lb_address", lb.address)
pulumi.export("backends", [a.backend for a in apps])
pulumi.export("release", release.id)
pulumi.export("releases", [a.release_id for a in apps])
pulumi.export("previous_releases", [a.previous_release for a in apps])
