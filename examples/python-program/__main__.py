"""A program of one's own: its own settings and resources, and a load-balanced Node site declared as ONE
wayshub Site beside them. Run it like any Pulumi program: `pulumi install`, `pulumi stack init dev`,
`pulumi up` (docs/package.md)."""

from pathlib import Path

import pulumi
import pulumi_command as command

import wayshub

config = pulumi.Config()  # this program's own settings (shop-platform:*)
domain = config.get("domain") or "shop.localhost"
app_servers = config.get_int("appServers") or 2
sandbox = config.get_object("sandbox") or {}  # where the sandbox VMs go: network, ports (docs/config.md)
here = Path(__file__).resolve().parent

# The site, from settings this program computes (any of docs/config.md's, as a stack file spells them). The
# secret ones, when a site needs any, are the stack's `wayshub:` settings, set with `pulumi config set --secret`.
site = wayshub.Site(
    "site",
    wayshub.site_args_from(
        {
            "domain": domain,
            "app": {"source": config.get("appSource") or "../../app"},
            "hosts": {
                "provider": "sandbox",
                "appServers": [{"name": f"app{n}"} for n in range(1, app_servers + 1)],
                "lbServer": {"name": "lb"},
            },
            "sandbox": sandbox,
            "hostsFile": {"enabled": False},  # the smoke test below resolves the name itself
        },
        here,
    ),
)

# This program's own resource: once the site is up, a request through the LB, as a visitor would make it.
http_port = sandbox.get("httpPort", 8080)
smoke = command.local.Command(
    "smoke-test",
    create=f"curl -fsS --max-time 10 --resolve {domain}:{http_port}:127.0.0.1 http://{domain}:{http_port}/",
    triggers=[site.url],
    opts=pulumi.ResourceOptions(depends_on=[site]),
)

pulumi.export("url", site.url)
pulumi.export("backends", site.outputs["backends"])
pulumi.export("smoke_test", smoke.stdout)
