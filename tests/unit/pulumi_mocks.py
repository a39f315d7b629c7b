"""One set of Pulumi mocks for every unit test module (mocks are process-global, so set them once).

Outputs are the inputs, plus what the real providers would add: a command's ``stdout`` and a key
pair. Every registration is kept, by resource name, so tests read exactly what the engine received.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

NODE_PATH = "/usr/bin/node"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockHostKeyForUnitTests000000000000000"


def fake_private_key_pem(body: str) -> str:
    """A PEM-shaped fake key for tests (the marker is assembled so no key-shaped text sits in git)."""
    kind = "OPENSSH " + "PRIVATE KEY"
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


PRIVATE_KEY = fake_private_key_pem("mock-private-key")


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: dict[str, pulumi.runtime.MockResourceArgs] = {}
        # Resource names in the stack's "last checkpoint" (the engine's readStackResourceOutputs):
        # empty is a new stack, None an engine that cannot read it. Tests that need an earlier up set it
        # and put back an empty set after.
        self.checkpoint: set[str] | None = set()
        # How many reads of it fail first, as one meeting the engine's save of the same checkpoint does.
        self.failed_reads = 0

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        self.registered[args.name] = args
        outs = dict(args.inputs)
        if args.typ.endswith(
            ("wayshub:RemoteCommand", "wayshub:LocalCommand", "command:remote:Command", "command:local:Command")
        ):
            outs["stdout"] = self.stdout_for(args.name)
        if args.typ.endswith("wayshub:SelfSignedTls"):
            outs.update(certificate="mock certificate", private_key="mock tls key", ca_certificate="mock CA")
        if args.typ.endswith("wayshub:AcmeCertificate"):
            outs.update(
                certificate="mock ACME chain",
                private_key="mock ACME key",
                account_key="mock account key",
                not_after="2027-02-26T12:00:00+00:00",
                issuer="CN=mock CA",
                warnings=[],
            )
        if args.typ.endswith("wayshub:SshKeyPair"):
            outs.update(private_key=PRIVATE_KEY, public_key="ssh-ed25519 AAAAmockpublic wayshub-test")
        return f"{args.name}-id", outs

    @staticmethod
    def stdout_for(name: str) -> str:
        if name.endswith("-container"):
            return HOST_KEY + "\n"
        if name.endswith("-node"):
            return NODE_PATH + "\n"
        if name.endswith("-release"):
            return "mockrelease1\n"
        return ""

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        # (result, failures): the SDK's mock monitor needs a list of failures, even an empty one.
        if args.token == "pulumi:pulumi:readStackResourceOutputs":
            stack = args.args["stackName"]
            if self.checkpoint is None:  # as the engine answers a failed invoke
                return {}, [("stackName", f"no backend client to read {stack}")]
            if self.failed_reads > 0:
                self.failed_reads -= 1
                return {}, [("stackName", "failed to load checkpoint: EOF")]
            urns: dict[str, Any] = {  # a name with "::" in it is a whole URN (its type matters to the test)
                name if "::" in name else f"urn:pulumi:test::wayshub-infra::mock:Type::{name}": {"outputs": {}}
                for name in self.checkpoint
            }
            return {"name": stack, "outputs": urns}, []
        return {}, []


MOCKS = Mocks()
pulumi.runtime.set_mocks(MOCKS, project="wayshub-infra", stack="test", preview=False)

# `pulumi.runtime.test` awaits the returned Output; typed here because pulumi leaves it untyped.
pulumi_test: Callable[[Callable[[], pulumi.Output[None]]], Callable[[], None]] = pulumi.runtime.test
