"""What every section's model shares: the error type, the strict frozen base model, and the rules more than
one section applies (one line of text, host names, addresses, private subnets, loopback binds, unique names).

Every pattern here is matched against the WHOLE value (``fullmatch``): ``re.match`` with a pattern ending in ``$`` would accept a
value ending in a newline, which then leaves its line in a file we write (docs/security.md)."""

from __future__ import annotations

import functools
import ipaddress
import re
import typing
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

NAMESPACE = "wayshub"
DOMAIN = re.compile(r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_HOST_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}[a-z0-9]|[a-z]")
# Characters no one-line setting may hold: C0 controls (newline, tab, NUL…), DEL, C1 controls (U+0085 NEL)
# and the Unicode line and paragraph separators. Each would end a line in some file or parser we feed.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The characters an IP address is written with (no IPv6 zone ID: `%eth0` is text, not address).
_IP_TEXT = re.compile(r"[0-9A-Fa-f.:]+")

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


def not_in_containers(why: str) -> dict[str, Any]:
    """A field containers mode cannot honour, and why (one clause): a stack that sets it there is refused
    (``containers_ignored``), and docs/config.md says so."""
    return {"not_in_containers": why}


def containers_ignored(model: BaseModel, prefix: str = "") -> list[tuple[str, str]]:
    """The settings ``model`` was given (not its defaults) that containers mode cannot honour, as (key, why) in
    the models' order: a marked field that holds a section counts only when something in it is set."""
    found: list[tuple[str, str]] = []
    for name, field in type(model).model_fields.items():
        if name not in model.model_fields_set:
            continue
        key = prefix + (field.alias or name)
        value = getattr(model, name)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        why = extra.get("not_in_containers")
        # An empty section or list says nothing (Pulumi.yaml's default `{}` or `[]`, handed over as set).
        empty = value == [] or (isinstance(value, BaseModel) and not value.model_fields_set)
        if isinstance(why, str) and not empty:
            found.append((key, why))
        elif isinstance(value, BaseModel):
            found.extend(containers_ignored(value, f"{key}."))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    found.extend(containers_ignored(item, f"{key}[{index}]."))
    return found


def control_problem(value: str) -> str | None:
    """Why ``value`` cannot be a one-line setting (None: it can): it names the first control character by
    its code point and never echoes the value."""
    found = _CONTROL.search(value)
    if found is None:
        return None
    char = found.group()
    what = {"\n": "a newline", "\r": "a carriage return", "\0": "a NUL character", "\t": "a tab"}.get(char)
    return (
        f"contains {what or 'a control or line-separator character'} (U+{ord(char):04X}); it must be one line of text"
    )


def _one_line(value: Any) -> None:
    """Every text inside ``value`` (a string, a list's items, a map's keys and values) is one line."""
    if isinstance(value, str):
        problem = control_problem(value)
        if problem:
            raise ValueError(problem)
    elif isinstance(value, list):
        for item in value:
            _one_line(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _one_line(key)
            _one_line(item)


def _holds_models(annotation: Any) -> bool:
    """Whether a field holds settings of its own (a section, a list of servers): those check their own fields."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_models(arg) for arg in typing.get_args(annotation))


class Model(BaseModel):
    """Strict, frozen, no unknown keys; and every text setting is one line (the ``MULTILINE`` fields excepted)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)
    # Fields whose text may hold line breaks by design, each with its reason (docs/security.md lists them).
    MULTILINE: ClassVar[dict[str, str]] = {}

    @field_validator("*", mode="before")
    @classmethod
    def _text_is_one_line(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if name not in cls.MULTILINE and not cls._is_section(name):
            _one_line(value)
        return value

    @classmethod
    @functools.cache
    def _is_section(cls, name: str) -> bool:
        field = cls.model_fields.get(name)
        return field is not None and _holds_models(field.annotation)


def check_user_name(value: str) -> str:
    """A login user's name as useradd takes it: it reaches ssh, sudo and file modes."""
    if not _USER_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a user name (lowercase letters, digits, '_' or '-', up to 32)")
    return value


def check_host_name(value: str) -> str:
    if not _HOST_NAME.fullmatch(value):
        raise ValueError("must be 1-32 lowercase letters, digits or '-', starting with a letter")
    return value


def normal_address(value: str, *, names: bool = True) -> str:
    """The one address rule: an IP address in the form ``ipaddress`` prints (``FD00::0011`` -> ``fd00::11``),
    or, with ``names``, a host name (lowercase letters, digits, ``-`` and dots). Nothing else: no IPv6 zone ID
    (``fe80::1%eth0``: text after ``%`` is anything, and it would reach nginx, a hosts file and an env file),
    no spaces or line breaks. ValueError otherwise. Every setting that takes an address, and every file we
    write one into, goes through here."""
    if _IP_TEXT.fullmatch(value):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
    # A name's last label is never all digits: `10.0.0.011` would be an address to one parser (octal) and a
    # name to another.
    if names and DOMAIN.fullmatch(value) and not value.rpartition(".")[2].isdigit():
        return value
    if "%" in value:
        raise ValueError(f"{value!r}: an IPv6 zone ID (%...) is not accepted; give the address alone")
    if names:
        raise ValueError(f"{value!r} is neither an IP address nor a host name")
    raise ValueError(f"{value!r} is not an IP address")


def check_address(value: str) -> str:
    """An IP address or host name, normalised (``normal_address``)."""
    return normal_address(value)


def check_ip(value: str) -> str:
    """An IP address, normalised (``normal_address`` without names)."""
    return normal_address(value, names=False)


def check_private_subnet(value: str, example: str) -> str:
    """A network of our own for sandbox VMs or containers: private IPv4, room for the LB at ``.10`` and more."""
    net = ipaddress.ip_network(value, strict=True)
    if not net.is_private or net.version != 4 or net.num_addresses < 16:
        raise ValueError(f"must be a private IPv4 network of at least /28, e.g. {example}")
    return value


def check_loopback(value: str, why: str) -> str:
    """Where ports are published on this machine: ``why`` says what stays on it."""
    if not ipaddress.ip_address(check_ip(value)).is_loopback:
        raise ValueError(f"must be a loopback address: {why}")
    return value


# A short name that becomes part of resource, unit and file names (a site's, a process's).
_SHORT_NAME = re.compile(r"[a-z][a-z0-9]{0,15}")


def check_short_name(value: str) -> str:
    """``value`` as a site's or a process's name: 1-16 lowercase letters or digits, a letter first."""
    if not _SHORT_NAME.fullmatch(value):
        raise ValueError(f"{value!r} must be 1-16 lowercase letters or digits, starting with a letter")
    return value


def named_once(names: list[str]) -> list[str]:
    """``names`` (servers a setting lists) when none is listed twice; ValueError naming the first repeated."""
    twice = repeated(names)
    if twice:
        raise ValueError(f"{twice[0]} is named twice")
    return names


def repeated(names: Sequence[str]) -> list[str]:
    """The names that occur more than once, sorted."""
    return sorted({n for n in names if names.count(n) > 1})
