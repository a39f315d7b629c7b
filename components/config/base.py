"""What every section's model shares: the error type, the strict frozen base model, and the rules more than
one section applies (host names, addresses, private subnets, loopback binds, unique names)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

NAMESPACE = "wayshub"
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_HOST_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$")

Port = Annotated[int, Field(ge=1, le=65535)]

_KIND = {list: "a list", dict: "a map of settings", type(None): "empty"}


def typed_text(value: Any) -> Any:
    """What a text setting holds when `pulumi config set --path` stored it (a number or true/false, below the
    top level: the CLI stores `16` and `true` as such, `16.10` and `016` as text), as the text typed. A number
    with a point can only come from a stack file's YAML, which may have changed it (`16.10` reads as 16.1):
    refused, asking for quotes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return str(value)
    if isinstance(value, int | float):  # beyond int64 the engine keeps a float: 18446744073709552000
        raise ValueError(
            f"the number {value!r} in the stack file may not be what was typed (16.10 reads as 16.1): "
            "put it in quotes, e.g. '16.10'"
        )
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {_KIND.get(type(value), type(value).__name__)}")
    return value


# Every setting whose value is text: what `pulumi config set --path` stores for the characters typed.
Text = Annotated[str, BeforeValidator(typed_text)]
# (A length limit goes inside, on the text: a field's own min_length would apply to the validator.)
NonEmptyText = Annotated[str, Field(min_length=1), BeforeValidator(typed_text)]


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line that names it."""


def shown(default: str) -> dict[str, Any]:
    """The default the reference shows for a field whose value is decided elsewhere (``None`` in the model)."""
    return {"shown_default": default}


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


def check_host_name(value: str) -> str:
    if not _HOST_NAME.match(value):
        raise ValueError("must be 1-32 lowercase letters, digits or '-', starting with a letter")
    return value


def check_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        if DOMAIN.match(value):
            return value
    raise ValueError(f"{value!r} is neither an IP address nor a host name")


def check_private_subnet(value: str, example: str) -> str:
    """A network of our own for sandbox VMs or containers: private IPv4, room for the LB at ``.10`` and more."""
    net = ipaddress.ip_network(value, strict=True)
    if not net.is_private or net.version != 4 or net.num_addresses < 16:
        raise ValueError(f"must be a private IPv4 network of at least /28, e.g. {example}")
    return value


def check_loopback(value: str, why: str) -> str:
    """Where ports are published on this machine: ``why`` says what stays on it."""
    if not ipaddress.ip_address(value).is_loopback:
        raise ValueError(f"must be a loopback address: {why}")
    return value


def repeated(names: Sequence[str]) -> list[str]:
    """The names that occur more than once, sorted."""
    return sorted({n for n in names if names.count(n) > 1})
