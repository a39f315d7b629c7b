"""One ACME certificate for two LBs (``lb.tls: acme`` with ``hosts.lbServers``, docs/failover.md).

The first LB issues it (its ``AcmeCertificate`` writes each HTTP-01 answer to every LB's webroot) once every
LB serves port 80 and one of them holds the shared address the CA reaches. The LBs are declared in the order a
site change reaches them (the holder last), so either may come first: the other LB gets the certificate, and
the issuance its dependencies, through deferred outputs that carry them. A renewal reaches both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import pulumi

from components.load_balancer.acme_certificate import AcmeCertificate
from components.load_balancer.nginx import TlsMaterial


class SharedCertificate:
    def __init__(self) -> None:
        certificate: pulumi.Output[str]
        private_key: pulumi.Output[str]
        self._resolve_certificate: Callable[[pulumi.Output[str]], None]
        self._resolve_key: Callable[[pulumi.Output[str]], None]
        self._before: pulumi.Output[None]
        self._resolve_before: Callable[[pulumi.Output[None]], None]
        certificate, self._resolve_certificate = pulumi.deferred_output()
        private_key, self._resolve_key = pulumi.deferred_output()
        self._before, self._resolve_before = pulumi.deferred_output()
        # What the LBs that do not issue serve.
        self.tls = TlsMaterial(certificate, private_key)

    def issue_after(self) -> list[pulumi.Input[pulumi.Resource]]:
        """What the issuance waits for: an output that carries those resources (declared later) and whose value
        is None, which ``depends_on`` takes as the resources it carries."""
        return [cast(pulumi.Output[pulumi.Resource], self._before)]

    def resolve(
        self, certificate: AcmeCertificate, held: pulumi.Resource, fronts: Sequence[pulumi.Resource | None]
    ) -> None:
        """``certificate``: the first LB's; ``held``: what makes the shared address held (keepalived running);
        ``fronts``: the other LBs' port-80 servers."""
        self._resolve_certificate(certificate.certificate)
        self._resolve_key(certificate.private_key)
        waits = [held.urn, *(front.urn for front in fronts if front is not None)]
        self._resolve_before(pulumi.Output.all(*waits).apply(lambda _: None))
