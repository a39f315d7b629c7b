"""One abusive client vs the polite visitors: their answers and p99 without and with the attack, on nginx as
we set it up, with Debian's capacity (worker_connections 768) put back, and with nginx's own header timeout
on top, on the same LB VM (docs/limits.md)."""

from __future__ import annotations

import time

from bench.abuse import Attack, Attacker, Polite
from bench.benchmarks.common import Options
from bench.stack import DOMAIN, HTTPS_PORT, NETWORK, STACK, Bench, Variant
from bench.stats import Column, Samples, round_orders, table

TLS = Variant(lb=(("tls", "self-signed"),))
LABELS = ("no attack", "attack")
VISITORS, PERIOD = 4, 0.2  # 4 polite visitors, a GET each every 200 ms, each on a new TLS connection
CONF = "/etc/nginx/nginx.conf"
SITE_CONF = f"/etc/nginx/conf.d/wayshub-{STACK}.conf"
# Debian's capacity for the comparison: its worker_connections, no worker_rlimit_nofile (our lines out); and
# nginx's own header timeout (60 s) on top: nginx as a hand-made LB has it. Each change is undone after its runs.
DEBIAN_CAPACITY = (
    f"cp -p {CONF} {CONF}.bench && "
    rf"sed -i -E 's/^(\s*worker_connections) [0-9]+;.*/\1 768;/; /^worker_rlimit_nofile/d' {CONF} && "
    "nginx -t -q && systemctl reload nginx"
)
NGINX_HEADER_TIMEOUT = (
    f"cp -p {SITE_CONF} {SITE_CONF}.bench && "
    f"sed -i 's/client_header_timeout [0-9]*s;/client_header_timeout 60s;/' {SITE_CONF} && "
    "nginx -t -q && systemctl reload nginx"
)
UNDO = (
    f"mv -f {CONF}.bench {CONF} && {{ [ ! -e {SITE_CONF}.bench ] || mv -f {SITE_CONF}.bench {SITE_CONF}; }} && "
    "nginx -t -q && systemctl reload nginx"
)
CONFIGS = {
    "wayshub": "",
    "Debian's 768": DEBIAN_CAPACITY,
    "Debian's 768, 60 s headers": f"{DEBIAN_CAPACITY} && {NGINX_HEADER_TIMEOUT}",
}


def abuse(bench: Bench, opts: Options) -> list[str]:
    bench.deploy(TLS)
    ca = bench.cli.outputs()["ca_certificate"]
    attack = Attack(seconds=max(opts.seconds, 20))
    groups: dict[str, Samples] = {config: {label: [] for label in LABELS} for config in CONFIGS}
    for order in round_orders(list(LABELS), opts.rounds):
        for capacity, change in CONFIGS.items():
            if change:
                bench.sh("lb", change)
            try:
                for label in order:
                    time.sleep(12)  # the previous attack's connections are gone (client_header_timeout 10 s)
                    attacker = None
                    if label == "attack":
                        name = f"wayshub-{STACK}-attacker"
                        attacker = Attacker(bench.image, NETWORK, name, bench.address("lb"), 443, DOMAIN, attack)
                    with Polite(HTTPS_PORT, DOMAIN, ca, VISITORS, PERIOD) as polite:
                        held = attacker.result()["slow_peak"] if attacker else 0
                        if attacker is None:
                            time.sleep(attack.seconds)
                    report = polite.report
                    print(f"  {capacity}, {label}: {report.summary()} held {held}", flush=True)
                    groups[capacity][label].append(
                        {
                            "ok": report.ok,
                            "total": report.total,
                            "p50_ms": report.percentile(50),
                            "p99_ms": report.percentile(99),
                            "held": held,
                        }
                    )
            finally:
                if change:
                    bench.sh("lb", UNDO)
    columns = [
        Column("ok", "polite GETs answered 200", of="total"),
        Column("p50_ms", "polite p50 ms", 0),
        Column("p99_ms", "polite p99 ms", 0),
        Column("held", "slow connections held at once", 0),
    ]
    return [
        f"### One abusive client: {attack.slow:,} slowloris TLS connections (a header line every "
        f"{attack.interval:.0f} s), {attack.flood:.0f} HEAD/s and {attack.bodies} slow POST bodies from one "
        f"container on the site's network for {attack.seconds:.0f} s, while {VISITORS} polite visitors on this "
        f"machine GET every {PERIOD * 1000:.0f} ms on new TLS connections; nginx as wayshub sets it up (capacity "
        f"sized, 10 s for a header), with Debian's capacity put back, and with nginx's own 60 s header timeout on top "
        f"(same LB VM, same site file otherwise), {opts.rounds} alternating rounds",
        "",
        *table(groups, columns, ratio=LABELS, group_heading="nginx"),
    ]
