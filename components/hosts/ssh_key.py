"""SSH keys: ``SshKeyPair`` (an ed25519 key pair made once per stack and kept only as a Pulumi secret),
and the public half of a key the user brings (``public_key_of``), for their servers' authorized_keys."""

from __future__ import annotations

from typing import Any

import pulumi
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from components.shell.ssh import load_private_key


def generate_ed25519(comment: str) -> tuple[str, str]:
    """A new key pair as (OpenSSH private key text, ``ssh-ed25519 AAAA... comment``)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}"


def public_key_of(private_key: str, comment: str) -> str:
    """The ``authorized_keys`` line (``<type> <base64> <comment>``) of an OpenSSH/PEM private key."""
    key = load_private_key(private_key)
    return f"{key.get_name()} {key.get_base64()} {comment}"


class SshKeyPairProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        private, public = generate_ed25519(props["comment"])
        return CreateResult(id_=props["comment"], outs={**props, "private_key": private, "public_key": public})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = olds.get("comment") != news.get("comment")
        return DiffResult(changes=changed, replaces=["comment"] if changed else [])


class SshKeyPair(Resource, module="wayshub", name="SshKeyPair"):
    """``private_key`` is secret in state and in every output that uses it."""

    private_key: pulumi.Output[str]
    public_key: pulumi.Output[str]

    def __init__(self, name: str, comment: str, opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["private_key"]))
        props = {"comment": comment, "private_key": None, "public_key": None}
        super().__init__(SshKeyPairProvider(), name, props, opts)
