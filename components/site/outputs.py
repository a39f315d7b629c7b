"""Step 5's pieces: what the later steps need from the site's front (its LB), and a site's URL and curl."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi


@dataclass(frozen=True)
class Front:
    """What steps 4 and 5 need from steps 1-3, whichever way the site runs."""

    lb_ready: pulumi.Resource
    public_address: str
    http_port: int
    https_port: int
    tls: bool = False
    dns_declared: bool = False  # ACME HTTP-01 needs the records before the certificate: made in step 3
    outputs: dict[str, Any] = field(default_factory=dict)  # what `pulumi stack output` shows


def site_urls(
    domain: str, tls: bool, http_port: int, https_port: int, address: str, ca: str = "", path: str = ""
) -> dict[str, str]:
    """A site's URL, and a curl that works even before the hosts file is read (``ca``: the file `make up` saves a
    self-signed site's CA in, components/layout.py's ``ca_file``; ``path``: a site serving a path of ``domain``)."""
    scheme, port = ("https", https_port) if tls else ("http", http_port)
    url = f"{scheme}://{domain}{'' if port == (443 if tls else 80) else f':{port}'}{path}/"
    trust = f" --cacert {ca}" if ca else ""
    return {"url": url, "curl": f"curl{trust} --resolve {domain}:{port}:{address} {url}"}
