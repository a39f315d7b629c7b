"""Reading a stack: its raw ``wayshub:`` settings into a ``StackConfig``, or ONE error line that names the
setting (``wayshub:hosts.appServers[1].name: ...``), with a suggestion for a misspelt key."""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Callable, Collection, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from components.config.base import NAMESPACE, ConfigError
from components.config.stack import SEPARATE_SETTINGS, StackConfig


def section_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (unwrapping ``X | None`` and ``list[X]``), and whether it is a list of them."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:  # a list with a length rule: Annotated[list[X], Field(...)]
        return section_model(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        found = [section_model(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
        return next((m for m in found if m[0] is not None), (None, False))
    if origin is list:
        model, _ = section_model(typing.get_args(annotation)[0])
        return (model, True) if model is not None else (None, False)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def fields_by_key(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields under the names a stack file uses (their aliases)."""
    return {field.alias or name: field for name, field in model.model_fields.items()}


def field_keys(model: type[BaseModel]) -> list[str]:
    """A model's keys as a stack file spells them (the aliases)."""
    return list(fields_by_key(model))


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys known where a validation location points (``("lb", "keepAlive")`` -> LoadBalancerConfig's)."""
    model: type[BaseModel] | None = StackConfig
    for part in loc:
        if isinstance(part, int):
            continue
        fields = fields_by_key(model) if model else {}
        if part not in fields:
            break
        model, _ = section_model(fields[part].annotation)
    return field_keys(model) if model else []


def unknown_setting(name: str, known: Collection[str], where: str = "") -> ConfigError:
    """``wayshub:lb.keepAlive: unknown setting; did you mean wayshub:lb.keepalive?``"""
    full = f"{NAMESPACE}:{where}{name}"
    lower = {key.lower(): key for key in known}
    near = difflib.get_close_matches(name.lower(), lower, n=1, cutoff=0.75)
    if near:
        return ConfigError(f"{full}: unknown setting; did you mean {NAMESPACE}:{where}{lower[near[0]]}?")
    return ConfigError(f"{full}: unknown setting (known here: {', '.join(known)})")


_KINDS = {str: "text", int: "a number", float: "a number", bool: "true/false", list: "a list"}


def _location(error: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for part in error["loc"]:
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]"
        else:
            parts.append(str(part))
    return ".".join(parts)


def parse(raw: Mapping[str, Any]) -> StackConfig:
    """Validate plain settings (keys without the ``wayshub:`` prefix); raise ConfigError on the first problem."""
    try:
        return StackConfig.model_validate(dict(raw))
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = _location(first)
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "missing":
            message = "is required"
        elif first["type"] == "extra_forbidden":
            parent = where.rpartition(".")[0]
            where_parent = f"{parent}." if parent else ""
            raise unknown_setting(str(first["loc"][-1]), _keys_at(first["loc"][:-1]), where_parent) from None
        elif first["type"] in ("model_type", "dict_type", "model_attributes_type"):
            kind = _KINDS.get(type(first["input"]), type(first["input"]).__name__)
            message = f"must be a map of settings (docs/config.md lists them), not {kind}"
        prefix = f"{NAMESPACE}:{where}" if where else NAMESPACE
        raise ConfigError(f"{prefix}: {message}") from None


# The sections and values a stack sets under ``wayshub:`` (besides SEPARATE_SETTINGS).
KEYS = tuple(field_keys(StackConfig))


def _decode(key: str, value: str) -> Any:
    """Pulumi hands over objects as JSON text and plain values as text."""
    if not value.lstrip().startswith(("{", "[")):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{NAMESPACE}:{key}: is not valid JSON/YAML ({err.msg})") from None


def setting_names(config_env: Mapping[str, Any]) -> list[str]:
    """The ``wayshub:`` settings a stack sets, from the engine's config (``pulumi.runtime.get_config_env()``:
    the language host hands the program every ``namespace:key`` of the stack), without the prefix."""
    prefix = f"{NAMESPACE}:"
    return sorted(key.removeprefix(prefix) for key in config_env if key.startswith(prefix))


def check_known(names: Collection[str]) -> None:
    """Every setting the stack sets is one the program reads: a typo (``hostFile``) is not silently ignored."""
    known = [*KEYS, *SEPARATE_SETTINGS]
    for name in sorted(names):
        if name not in known:
            raise unknown_setting(name, known)


def load(get: Callable[[str], str | None], keys: tuple[str, ...] = KEYS, names: Collection[str] = ()) -> StackConfig:
    """Load from a Pulumi config getter (``pulumi.Config().get``); absent keys take defaults. ``names``: the
    settings the stack sets (``setting_names``), each of which must be known."""
    check_known(names)
    raw = {key: _decode(key, value) for key in keys if (value := get(key)) is not None}
    return parse(raw)
