"""What ``pulumi refresh`` reads back on the load balancer (``remote.HostState``), and what repairs each.

``site``: our nginx site file and nginx running (drifted: the site is published again: ``nginx -t``, then
a reload). ``tls-certificate``, ``tls-key``: those files (drifted: written again, then the site's reload makes
nginx load them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Protocol

import pulumi

from components.shell.host_state import Check

SITE = "site"
TLS_CERTIFICATE = "tls-certificate"
TLS_KEY = "tls-key"


class _Tls(Protocol):
    @property
    def certificate(self) -> pulumi.Input[str]: ...
    @property
    def private_key(self) -> pulumi.Input[str]: ...


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def lb_checks(
    site_file: str, site_text: pulumi.Output[str], tls_files: Mapping[str, str], tls: _Tls | None
) -> list[Check]:
    checks = [
        Check("content", site_file, site_text.apply(sha256), SITE),
        Check("mode", site_file, "644 root:root", SITE),
        Check("active", "nginx.service", "active", SITE),
    ]
    if tls is not None:
        certificate, key = tls_files["certificate_path"], tls_files["key_path"]
        checks += [
            Check("content", certificate, pulumi.Output.from_input(tls.certificate).apply(sha256), TLS_CERTIFICATE),
            Check("mode", certificate, "644 root:root", TLS_CERTIFICATE),
            Check("content", key, pulumi.Output.secret(tls.private_key).apply(sha256), TLS_KEY, secret=True),
            Check("mode", key, "600 root:root", TLS_KEY),
        ]
    return checks
