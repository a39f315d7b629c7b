"""One ACME certificate for two LBs (``lb.tls: acme`` with ``hosts.lbServers``, docs/failover.md).

The first LB issues it (its ``AcmeCertificate`` writes each HTTP-01 answer to every LB's webroot) once every
LB serves port 80 and one of them holds the shared address the CA reaches. The second LB is made first (it
takes a site change first) and gets the certificate before it exists, through deferred outputs that carry
the certificate's dependency: its TLS files wait for the issuance, and a renewal reaches both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pulumi

from components.load_balancer.acme_certificate import AcmeCertificate
from components.load_balancer.nginx import NginxLoadBalancer, TlsMaterial


class SharedCertificate:
    def __init__(self) -> None:
        certificate: pulumi.Output[str]
        private_key: pulumi.Output[str]
        self._held: pulumi.Output[pulumi.Resource]
        self._resolve_certificate: Callable[[pulumi.Output[str]], None]
        self._resolve_key: Callable[[pulumi.Output[str]], None]
        self._resolve_held: Callable[[pulumi.Output[pulumi.Resource]], None]
        certificate, self._resolve_certificate = pulumi.deferred_output()
        private_key, self._resolve_key = pulumi.deferred_output()
        self._held, self._resolve_held = pulumi.deferred_output()
        # What the LBs that do not issue serve.
        self.tls = TlsMaterial(certificate, private_key)

    def issue_after(self, made: Iterable[NginxLoadBalancer]) -> list[pulumi.Input[pulumi.Resource]]:
        """What the issuance waits for: the other LBs' port-80 servers, and the shared address held."""
        return [*(lb.acme_front for lb in made if lb.acme_front is not None), self._held]

    def resolve(self, certificate: AcmeCertificate, held: pulumi.Resource) -> None:
        """``certificate``: the first LB's; ``held``: what makes the shared address held (keepalived running)."""
        self._resolve_certificate(certificate.certificate)
        self._resolve_key(certificate.private_key)
        self._resolve_held(pulumi.Output.from_input(held))
