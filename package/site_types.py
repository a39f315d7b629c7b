"""Generated from components/config/ by scripts/package-types: edit the models, not this file.

The Site component's ``settings`` as TypedDicts: what Pulumi's schema inference reads for `pulumi package add`
(components/package_types.py says how each model maps). Keys as a stack file spells them under ``wayshub:``.
"""

from enum import StrEnum
from typing import Any, NotRequired, TypedDict


class HostsProvider(StrEnum):
    """The values of HostsConfig.provider."""

    SANDBOX = "sandbox"
    EXISTING = "existing"
    CONTAINERS = "containers"


class ServerConfig(TypedDict):
    """One server. For ``sandbox`` only ``name`` (and ``sshPort``) apply; ``existing`` needs ``address``."""

    name: str
    """The server's name: lowercase letters, digits or `-`, unique in the stack."""

    address: NotRequired[str]
    """`existing` (required there): the IP address or host name SSH reaches."""

    sshPort: NotRequired[int]
    """`existing`: the server's SSH port. Default: `22` (sandbox: from `sandbox.sshPortBase`)."""

    user: NotRequired[str]
    """`existing`: the SSH user for this server. Default: `hosts.user`."""

    privateAddress: NotRequired[str]
    """`existing`: the address the LB reaches this server's app on. Default: `address`."""

    hostKey: NotRequired[str]
    """The server's pinned host key (`ssh-ed25519 AAAA…`, a known_hosts line without the host name): any other is refused."""


class HostsConfig(TypedDict):
    """The HostsConfig settings (docs/config.md)."""

    provider: NotRequired[HostsProvider]
    """`sandbox` (VMs on this machine), `existing` (your servers over SSH) or `containers` (Docker containers, pulumi-docker; only server names apply). Default: `sandbox`."""

    appServers: list[ServerConfig]
    """The app servers (at least one), each a server as below."""

    lbServer: NotRequired[ServerConfig]
    """The load-balancer server, same keys (required unless `lbServers` is set)."""

    lbServers: NotRequired[list[ServerConfig]]
    """Instead of `lbServer`: two load balancers sharing `lb.failover.virtualAddress` by VRRP (keepalived): the first holds it, the other takes it over when it fails (docs/failover.md)."""

    user: NotRequired[str]
    """The SSH login user (needs passwordless sudo; never the app's user, `app.name`); sandbox VMs make it at first boot. Default: `deploy`."""

    allowLbOnAppServer: NotRequired[bool]
    """`existing`: let the LB share an app server's address. Default: `false`."""

    dialTimeoutSeconds: NotRequired[int]
    """How long to keep trying to reach a server over SSH. Default: `60`."""

    knownHostsFile: NotRequired[str]
    """`existing`: the known_hosts file that vouches for servers without a pinned `hostKey`. Default: `~/.ssh/known_hosts`."""

    takeover: NotRequired[bool]
    """`existing`: a hand-run app on the app's port or a hand-written nginx site for the domain stops the `up` before any change; `true` takes them over, keeping copies under /var/backups/wayshub-takeover (docs/hosts.md). Default: `false`."""


class SandboxConfig(TypedDict):
    """Local sandbox VMs: Docker containers with systemd + sshd on one network."""

    image: NotRequired[str]
    """The VM image `scripts/sandbox-image` makes. Default: `wayshub/sandbox-vm:bookworm`."""

    network: NotRequired[str]
    """The sandbox VMs' own Docker network. Default: `wayshub-local`."""

    subnet: NotRequired[str]
    """The network's private IPv4 subnet (≥ /28): the LB gets `.10`, app servers `.11`, `.12`, … in config order. Default: `172.30.77.0/24`."""

    sshPortBase: NotRequired[int]
    """SSH of the LB on `bindAddress`:this port, app servers on the next ports in config order. Default: `2220`."""

    httpPort: NotRequired[int]
    """The LB's port 80 published on `bindAddress`. Default: `8080`."""

    httpsPort: NotRequired[int]
    """The LB's port 443 published on `bindAddress`. Default: `8443`."""

    bindAddress: NotRequired[str]
    """Where the sandbox ports are published: a loopback address, so they never leave this machine. Default: `127.0.0.1`."""


class ContainersBuilder(StrEnum):
    """The values of ContainersConfig.builder."""

    BUILDERV1 = "BuilderV1"
    BUILDERBUILDKIT = "BuilderBuildKit"


class ContainersConfig(TypedDict):
    """Containers mode (``hosts.provider: containers``): the site as Docker containers, with pulumi-docker."""

    appImage: NotRequired[str]
    """The app image's local repository (never pushed; the tag is a digest of what it is built from). Default: `wayshub/app`."""

    nginxImage: NotRequired[str]
    """The nginx image's local repository, tagged the same way. Default: `wayshub/nginx`."""

    appBase: NotRequired[str]
    """The app Dockerfile's `BASE`; `wayshub/debian-base:bookworm` (from `scripts/sandbox-image`) where no registry answers. Default: `node:20-bookworm-slim`."""

    nginxBase: NotRequired[str]
    """The nginx Dockerfile's `BASE`, likewise. Default: `nginx:1.27`."""

    network: NotRequired[str]
    """The containers' own Docker network: nginx gets `.10`, each app server two addresses (slots a and b: `.11`, `.12`, … and the same half the subnet later). Default: `wayshub-containers`."""

    subnet: NotRequired[str]
    """The network's private IPv4 subnet (≥ /28). Default: `172.30.78.0/24`."""

    httpPort: NotRequired[int]
    """Nginx's port published on `bindAddress`. Default: `8090`."""

    bindAddress: NotRequired[str]
    """Where nginx's port is published: a loopback address. Default: `127.0.0.1`."""

    prefetchNpm: NotRequired[bool]
    """Fill the build's npm cache with this machine's npm, so `npm ci` in the image build runs offline. Default: `false`."""

    builder: NotRequired[ContainersBuilder]
    """`BuilderBuildKit` (the daemon's BuildKit: no buildx needed, leaves no container) or `BuilderV1` (the legacy builder: every build step's container stays, docs/architecture.md). Default: `BuilderBuildKit`."""


class ProcessConfig(TypedDict):
    """One more process from the app's release (a queue worker…): its own unit on the app servers, not behind"""

    name: str
    """The process's name (1-16 lowercase letters or digits, a letter first): its unit is `<app name>@<name>`."""

    command: str
    """The command line run in the release's app folder (`npm run X` resolved as for `start`)."""

    servers: NotRequired[list[str]]
    """The app servers (of the app's) it runs on; empty: all of them. Default: `[]`."""

    stopTimeoutSeconds: NotRequired[int]
    """How long a stop (a switch, a rollback) waits after SIGTERM before it kills the process. Default: `30`."""

    healthySeconds: NotRequired[int]
    """A new release's process is healthy when it still runs this long after its start. Default: `5`."""

    healthCommand: NotRequired[str]
    """Then this command (run like the process, in the release's app folder; `npm run X` resolved) must exit 0 within 30 s; without it, still running is healthy."""


class ScheduleConfig(TypedDict):
    """A job run by a systemd timer on one app server (the site's first), from the live release (docs/app.md,"""

    name: str
    """The job's name (1-16 lowercase letters or digits, a letter first; not a process's): its units are `<app name>@job-<name>`."""

    command: str
    """The command line run in the live release's app folder (`npm run X` resolved as for `start`)."""

    calendar: str
    """When it runs: a systemd calendar expression (`daily`, `Mon..Fri 02:30`, `*:0/15`, `*-*-01 04:00 UTC`), in the server's time zone unless one is given."""

    stopTimeoutSeconds: NotRequired[int]
    """When the job is removed or moves to another server, how long a running run has after SIGTERM before it is killed (a deploy never stops it). Default: `300`."""


class AppNodeInstall(StrEnum):
    """The values of AppConfig.nodeInstall."""

    BINARY = "binary"
    APT = "apt"
    NODESOURCE = "nodesource"
    NVM = "nvm"


class HealthConfig(TypedDict):
    """How a new release proves it serves: the unit's new process answers ``path`` on the app's port."""

    path: NotRequired[str]
    """The URL path a release must answer (also what the LB probes). Default: `/`."""

    expectStatus: NotRequired[Any]
    """The answer's status: one (`200`) or a range (`200-399`). Default: `200-399`."""

    timeoutSeconds: NotRequired[int]
    """How long a new release has to answer before the `up` fails. Default: `60`."""

    intervalSeconds: NotRequired[float]
    """Seconds between two tries. Default: `1.0`."""

    bodyContains: NotRequired[str]
    """Text the answer must contain; `{release}` stands for the release id (`WAYSHUB_RELEASE`)."""


class AppConfig(TypedDict):
    """The Node app and how it runs on each app server (docs/app.md explains each setting)."""

    name: NotRequired[str]
    """The app's name: its systemd unit, user and folders; never a system user or unit (`ssh`, `nginx`, `root`, `systemd-*`…: docs/security.md), and the base step refuses a user or unit on a host that it did not make. Default: `wayshub`."""

    source: NotRequired[str]
    """The app's folder (with its package.json), relative to the project. Default: `app`."""

    port: NotRequired[int]
    """The port the app listens on. Default: `3000`."""

    portEnv: NotRequired[Any]
    """The environment variable the app reads its port from, or a list (`[PORT, APP_PORT]`). Default: `PORT`."""

    start: NotRequired[str]
    """The command line run in the release's app folder, e.g. `node dist/server.js`; `npm start` / `npm run X` become the script's text when the release is built (npm is not on the servers, and a process under npm gets signals late); without `start` or `main`: `server.js`, else `index.js`."""

    releaseTask: NotRequired[str]
    """A command run once per new release (e.g. `node migrate.js`, `npm run migrate`) with its code, Node and env, on the first app server, after every server has the release and before any switches to it; if it fails nothing switches."""

    releaseTaskTimeoutSeconds: NotRequired[int]
    """How long the release task may run; then it is stopped and the `up` fails, nothing switched. Default: `1800`."""

    processes: NotRequired[list[ProcessConfig]]
    """More processes from the release, not behind the LB (`[{name: worker, command: node worker.js}]`): each its own sandboxed unit `<app name>@<name>`, switched (and rolled back) with the release."""

    schedules: NotRequired[list[ScheduleConfig]]
    """Jobs run by a systemd timer on the first app server from the live release (`[{name: nightly, command: node report.js, calendar: daily}]`): never two runs of one at once, never killed by a deploy."""

    schedulesServer: NotRequired[str]
    """The app server (of the app's) that runs `schedules`; changed, the jobs stop there before they start on the new one."""

    build: NotRequired[str]
    """An npm script run once per release (e.g. `npm run build`) before dev dependencies are pruned: where `pulumi up` runs, or in the image build (containers)."""

    nodeInstall: NotRequired[AppNodeInstall]
    """How Node gets onto the servers: `binary` (the official build of that exact version, from the npm registry's `node-linux-<arch>` package, fetched where `pulumi up` runs, cached in ~/.cache/wayshub/node, shipped with the release), `apt` (the distro's `nodejs`), `nodesource` or `nvm` (fetched on the server over HTTPS; they need `nodeVersion`). Default: `binary` when a version is known, else `apt`."""

    nodeVersion: NotRequired[str]
    """The Node version (`22`, `22.11`, `22.11.0`); from the app, `engines.node` may be a range (`>=20`). Default: `.nvmrc`, else package.json's `engines.node`."""

    env: NotRequired[dict[str, str]]
    """Environment variables for the app: `NAME: value` (text; numbers and true/false as typed: `pulumi config set --path wayshub:app.env.WORKERS 4`; in a stack file quote a number with a point, `'1.10'`). Default: `{}`."""

    health: NotRequired[HealthConfig]
    """How a new release proves it serves before the next host switches."""

    releasesKept: NotRequired[int]
    """Releases kept on each server (the previous one is the rollback). Default: `3`."""

    releasePin: NotRequired[str]
    """Run this release id (12 hex characters) instead of the one built from `source`: `make rollback` sets it."""


class LoadBalancerTls(StrEnum):
    """The values of LoadBalancerConfig.tls."""

    OFF = "off"
    SELF_SIGNED = "self-signed"
    PROVIDED = "provided"
    ACME = "acme"


class AcmeChallenge(StrEnum):
    """The values of AcmeConfig.challenge."""

    HTTP_01 = "http-01"
    DNS_01 = "dns-01"


class AcmeConfig(TypedDict):
    """Certificates from an ACME CA (docs/acme.md): Let's Encrypt, ZeroSSL, step-ca, an internal CA."""

    directoryUrl: str
    """The CA's ACME directory: an `https://` URL, or `letsencrypt` / `letsencrypt-staging`."""

    email: NotRequired[str]
    """The account's contact address (the CA's expiry notices)."""

    challenge: NotRequired[AcmeChallenge]
    """`http-01` (the LB's nginx answers on port 80) or `dns-01` (a TXT record through `wayshub:dns`). Default: `http-01`."""

    caBundle: NotRequired[str]
    """PEM file (relative to the project) or text that trusts a private ACME server's HTTPS; default: the system's CAs."""

    renewDaysBefore: NotRequired[int]
    """An `up` renews the certificate once it expires within this many days. Default: `30`."""

    timeoutSeconds: NotRequired[int]
    """How long one issuance may take (validation and finalizing). Default: `120`."""


class HealthCheckConfig(TypedDict):
    """Active checks from the LB (docs/hung-backends.md): every ``interval`` each backend's"""

    enabled: NotRequired[bool]
    """Run the LB's active check of every backend's `app.health.path` (docs/hung-backends.md). Default: `true`."""

    interval: NotRequired[str]
    """How often each backend is probed (50ms to 60s). Default: `250ms`."""

    timeout: NotRequired[str]
    """No answer within this is a hang sign (50ms to 60s; shorter than `lb.readTimeout`). Default: `750ms`."""

    fall: NotRequired[int]
    """Probes in a row without an answer that make a backend hung (1 to 10). Default: `2`."""

    rise: NotRequired[int]
    """Answers in a row that bring it back (1 to 10; `rise` x `interval` ≤ `lb.failTimeout`, since the rollout waits `failTimeout` + 1 s for a restarted backend). Default: `2`."""


class LimitsConfig(TypedDict):
    """What one client may take from the LB, and how long nginx waits for a slow one (docs/limits.md)."""

    workerConnections: NotRequired[str]
    """Connections each nginx worker may hold (nginx.conf's `worker_connections`, and `worker_rlimit_nofile` twice that); `auto`: sized from the LB server's memory and open-file limit (docs/limits.md), never below what nginx.conf already has. Default: `auto`."""

    connectionsPerClient: NotRequired[int]
    """Requests in progress at once per client address (`limit_conn`; `0`: no limit). Default: `100`."""

    requestsPerSecond: NotRequired[int]
    """The steady request rate per client address (`limit_req`; `0`: no limit). Default: `50`."""

    burst: NotRequired[int]
    """Requests a client may send at once above `requestsPerSecond` (a page and its assets), answered at once, not delayed. Default: `200`."""

    status: NotRequired[int]
    """The answer to a request over a client's limit (`429` Too Many Requests or `503`). Default: `429`."""

    trustedProxies: NotRequired[list[str]]
    """Networks (CIDR) of proxies in front of the LB whose `realIpHeader` names the client; empty: the peer's address is the client's. Default: `[]`."""

    realIpHeader: NotRequired[str]
    """The header a trusted proxy puts the client's address in (with `trustedProxies`). Default: `X-Forwarded-For`."""

    headerTimeout: NotRequired[str]
    """The whole request header (and the TLS handshake) must arrive within this (`client_header_timeout`), else the connection is closed. Default: `10s`."""

    bodyTimeout: NotRequired[str]
    """The longest pause between two reads of a request body (`client_body_timeout`). Default: `10s`."""

    sendTimeout: NotRequired[str]
    """The longest pause of a client that does not read its answer (`send_timeout`). Default: `10s`."""

    keepaliveTimeout: NotRequired[str]
    """How long an idle client connection (HTTP/1.1 or HTTP/2) stays open (`keepalive_timeout`). Default: `30s`."""


class FailoverConfig(TypedDict):
    """Two LBs (``hosts.lbServers``) sharing one address by VRRP (keepalived, docs/failover.md)."""

    virtualAddress: NotRequired[str]
    """The IP address the two LBs share and the name points at: a free address in their private network (`existing`: required)."""

    virtualRouterId: NotRequired[int]
    """The VRRP router id: unique among the VRRP groups on that network. Default: `51`."""

    advertInterval: NotRequired[str]
    """How often the holder says so (VRRPv3, 50ms to 10s in steps of 10ms); the other takes the address after about three missed. Default: `250ms`."""

    preempt: NotRequired[bool]
    """Whether the first LB takes the address back when it returns (`false`: the other keeps it until it fails, one switch per fault). Default: `false`."""


class LoadBalancerConfig(TypedDict):
    """nginx on the LB server: ports, TLS, and how it treats backends."""

    listenPort: NotRequired[int]
    """Nginx's plain-HTTP port on the LB. Default: `80`."""

    httpsPort: NotRequired[int]
    """Nginx's TLS port. Default: `443`."""

    tls: NotRequired[LoadBalancerTls]
    """`off`, `self-signed` (a per-stack CA, as the `local` stack uses), `provided` (`tlsCertificate` and `tlsPrivateKey`) or `acme` (`lb.acme`). Default: `off`."""

    acme: NotRequired[AcmeConfig]
    """With `tls: acme`: the ACME CA, the challenge and when to renew (docs/acme.md)."""

    hsts: NotRequired[bool]
    """Send `Strict-Transport-Security` (only once you are sure of HTTPS). Default: `false`."""

    hardenNginx: NotRequired[bool]
    """Sandbox nginx.service with our systemd drop-in (docs/app.md, "Sandboxing"); default: on for sandbox VMs, off for your own servers (it would confine every site that nginx serves)."""

    clientMaxBodySize: NotRequired[str]
    """The largest request body nginx accepts (`0`: no limit). Default: `10m`."""

    keepalive: NotRequired[int]
    """Idle upstream connections kept per worker. Default: `32`."""

    maxFails: NotRequired[int]
    """Passive health: failures that make nginx skip a backend for `failTimeout`. Default: `1`."""

    failTimeout: NotRequired[str]
    """How long a failed backend is skipped; the rollout waits this long (+1 s) between batches. Default: `3s`."""

    connectTimeout: NotRequired[str]
    """The upstream connect timeout. Default: `1s`."""

    readTimeout: NotRequired[str]
    """The upstream read timeout. Default: `30s`."""

    nextUpstreamTries: NotRequired[int]
    """Backends tried for one request on `error timeout http_502 http_503`. Default: `3`."""

    healthCheck: NotRequired[HealthCheckConfig]
    """The LB's active check that takes hung backends out within seconds (docs/hung-backends.md)."""

    limits: NotRequired[LimitsConfig]
    """What one client may take (connections, request rate) and how long nginx waits for a slow one; nginx's capacity (docs/limits.md)."""

    failover: NotRequired[FailoverConfig]
    """With `hosts.lbServers`: the address the two LBs share and how they hand it over (docs/failover.md)."""


class RolloutConfig(TypedDict):
    """How app updates roll: ``batchSize`` hosts at a time, each batch gated on the previous one's health."""

    batchSize: NotRequired[int]
    """App servers switched at a time; the next batch waits for this one's health gate. Default: `1`."""


class HostsFileConfig(TypedDict):
    """A managed block in a hosts file that points the domain at the LB."""

    enabled: NotRequired[bool]
    """Write the managed block. Default: `true`."""

    path: NotRequired[str]
    """Which hosts file. Default: `/etc/hosts`."""

    address: NotRequired[str]
    """The address the domain points at. Default: `127.0.0.1`."""


class DnsAlgorithm(StrEnum):
    """The values of DnsConfig.algorithm."""

    HMAC_SHA224 = "hmac-sha224"
    HMAC_SHA256 = "hmac-sha256"
    HMAC_SHA384 = "hmac-sha384"
    HMAC_SHA512 = "hmac-sha512"


class DnsConfig(TypedDict):
    """DNS records for the site's names, kept on your DNS server with RFC 2136 updates signed with TSIG"""

    server: str
    """Your DNS server: the zone's primary, as an IP address."""

    port: NotRequired[int]
    """The DNS server's port. Default: `53`."""

    zone: str
    """The zone the records live in: the domain or a suffix of it."""

    keyName: str
    """The TSIG key's name, as the server knows it."""

    algorithm: NotRequired[DnsAlgorithm]
    """The TSIG key's algorithm. Default: `hmac-sha256`."""

    ttl: NotRequired[int]
    """The records' TTL in seconds. Default: `300`."""

    records: NotRequired[list[str]]
    """The names that point at the LB, each an A record (AAAA for IPv6 addresses)."""

    addresses: NotRequired[list[str]]
    """The addresses they point at (`existing`: `lbServer.address` must then be an IP address)."""

    adopt: NotRequired[bool]
    """Take over records already there under those names instead of stopping. Default: `false`."""

    timeoutSeconds: NotRequired[int]
    """How long to wait for the DNS server. Default: `10`."""


class SiteTls(StrEnum):
    """The values of SiteConfig.tls."""

    OFF = "off"
    SELF_SIGNED = "self-signed"
    ACME = "acme"
    PROVIDED = "provided"


class SiteConfig(TypedDict):
    """One more site on the stack's load balancer (``wayshub:sites[N]``)."""

    name: str
    """The site's name: 1-16 lowercase letters or digits, starting with a letter; its nginx file, checker and resources are named after it (`wayshub-<stack>-<name>`)."""

    domain: str
    """The site's domain: its nginx `server_name`, hosts entry and URL."""

    aliases: NotRequired[list[str]]
    """More names the site answers to: domains, or a wildcard `*.<domain>` (not in the hosts file). Default: `[]`."""

    app: NotRequired[AppConfig]
    """The site's Node app, every setting as in `app` (docs/app.md); `name` defaults to the site's name."""

    servers: NotRequired[list[str]]
    """The app servers (names from `hosts.appServers`) the app runs on; empty: all of them. Default: `[]`."""

    tls: NotRequired[SiteTls]
    """`off`, `self-signed` (its own CA and certificate), `acme` (its own certificate from `lb.acme`'s CA, for its domain) or `provided` (its certificate and key in `siteTls`); `lb.tls`'s value when that is `off`, `self-signed` or `acme`."""

    hostsFile: NotRequired[bool]
    """Its names (not wildcards) in the managed hosts-file block. Default: `true`."""

    path: NotRequired[str]
    """Serve this path and below (`/api`) of another site's domain (`domain` is that site's): the requests keep the path; no aliases or TLS of its own (the other site's)."""


class WayshubSettings(TypedDict):
    """One site's settings, as a stack file spells them under ``wayshub:`` (docs/config.md)."""

    domain: str
    """The site's domain: nginx `server_name`, hosts entry, URL; e.g. `wayshub.local`."""

    hosts: HostsConfig
    """The servers: sandbox VMs, your existing servers, or containers."""

    sandbox: NotRequired[SandboxConfig]
    """Sandbox VMs (`hosts.provider: sandbox`): Docker containers with systemd and sshd."""

    containers: NotRequired[ContainersConfig]
    """Containers mode (`hosts.provider: containers`): the site as Docker containers, with pulumi-docker."""

    app: NotRequired[AppConfig]
    """Your Node app and how it runs (docs/app.md)."""

    lb: NotRequired[LoadBalancerConfig]
    """The load balancer: nginx on the LB server."""

    rollout: NotRequired[RolloutConfig]
    """How app updates roll out: a batch of hosts at a time, health-gated."""

    hostsFile: NotRequired[HostsFileConfig]
    """The managed hosts-file block for the domain."""

    dns: NotRequired[DnsConfig]
    """A/AAAA records on your DNS server by RFC 2136 updates signed with TSIG (docs/dns.md); off when absent."""

    sites: NotRequired[list[SiteConfig]]
    """More sites behind the same load balancer, each with its own names, app, servers and TLS (docs/sites.md)."""

    production: NotRequired[bool]
    """This stack serves real users: the policy pack's production rules apply to it (docs/policies.md). Default: `false`."""
