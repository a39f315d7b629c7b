"""The Site component's settings as TypedDicts, derived from the models in components/config/ (one source of truth).

The component package (package/, docs/package.md) lets programs in other languages declare a Site:
`pulumi package add` asks the package for its schema, and Pulumi's Python schema inference reads it from the
component's type annotations. It takes TypedDicts, Enums, lists and str-keyed dicts, but not pydantic models
(their ``model_config``, ``Annotated[..., Field]`` and ``Literal`` stop it). So the models are written out here
as TypedDicts, keys as a stack file spells them (the aliases), each field's description as its docstring:

- ``Annotated[T, ...]`` is ``T``; ``X | None`` is ``X`` (an optional key); a field with a default is ``NotRequired``;
- a ``Literal`` of texts is a ``StrEnum`` of its own (TypeScript gets a union of the texts), of numbers ``int``;
- any other union (``str | list[str]``, ``str | int``) is ``Any``: the models still check the value.

``scripts/package-types`` writes package/site_types.py; a unit test fails when it differs from the models. The
package's Site turns what arrives back into plain settings and checks them with the models, as a stack's are.
"""

from __future__ import annotations

import keyword
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from components.config import StackConfig, fields_by_key, section_model
from components.config_reference import _default

TARGET = "package/site_types.py"
SETTINGS_TYPE = "WayshubSettings"  # StackConfig's name in the schema: wayshub:index:WayshubSettings
HEADER = '''"""Generated from components/config/ by scripts/package-types: edit the models, not this file.

The Site component's ``settings`` as TypedDicts: what Pulumi's schema inference reads for `pulumi package add`
(components/package_types.py says how each model maps). Keys as a stack file spells them under ``wayshub:``.
"""

from enum import StrEnum
from typing import Any, NotRequired, TypedDict
'''


def _doc(text: str, indent: str) -> str:
    """``text`` as a docstring at ``indent`` (quotes and backslashes escaped)."""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if body.endswith('"'):
        body += " "
    return f'{indent}"""{body}"""\n'


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def _member(value: str) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_").upper() or "EMPTY"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"V_{name}"
    return name


class _Writer:
    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.done: dict[type[BaseModel], str] = {}
        self.enums: dict[tuple[str, ...], str] = {}

    def type_name(self, model: type[BaseModel]) -> str:
        if model is StackConfig:
            return SETTINGS_TYPE
        return model.__name__

    def annotation(self, annotation: Any, owner: type[BaseModel], key: str) -> str:
        """The TypedDict annotation (without NotRequired) of a model field's annotation."""
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Annotated:
            return self.annotation(args[0], owner, key)
        if origin in (typing.Union, types.UnionType):
            rest = [arg for arg in args if arg is not type(None)]
            return self.annotation(rest[0], owner, key) if len(rest) == 1 else "Any"
        if origin is list:
            return f"list[{self.annotation(args[0], owner, key)}]"
        if origin is dict:
            if args[0] is not str:
                raise ValueError(f"{owner.__name__}.{key}: only str-keyed maps reach the schema")
            return f"dict[str, {self.annotation(args[1], owner, key)}]"
        if origin is Literal:
            if all(isinstance(arg, str) for arg in args):
                return self.enum(owner, key, tuple(args))
            if all(isinstance(arg, int) and not isinstance(arg, bool) for arg in args):
                return "int"
            raise ValueError(f"{owner.__name__}.{key}: a Literal of mixed values has no schema type")
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return self.model(annotation)
        if annotation in (str, int, float, bool):
            return str(annotation.__name__)
        if annotation is Any:
            return "Any"
        raise ValueError(f"{owner.__name__}.{key}: no schema type for {annotation!r}")

    def enum(self, owner: type[BaseModel], key: str, values: tuple[str, ...]) -> str:
        if values in self.enums:
            return self.enums[values]
        name = _pascal(owner.__name__.removesuffix("Config")) + _pascal(key)
        lines = [f"class {name}(StrEnum):\n", _doc(f"The values of {owner.__name__}.{key}.", "    "), "\n"]
        lines += [f'    {_member(value)} = "{value}"\n' for value in values]
        self.blocks.append("".join(lines))
        self.enums[values] = name
        return name

    def model(self, model: type[BaseModel]) -> str:
        if model in self.done:
            return self.done[model]
        name = self.type_name(model)
        self.done[model] = name
        fields = []
        for key, field in fields_by_key(model).items():
            inner = self.annotation(field.annotation, model, key)  # nested types are written first
            shown = inner if field.is_required() else f"NotRequired[{inner}]"
            text = (field.description or "").strip()
            text = text[:1].upper() + text[1:].rstrip(".")
            default = _default(field, section_model(field.annotation)[0])  # a section shows none
            if default.startswith("`") and not field.is_required():
                text = f"{text}. Default: {default}"
            text += "."
            fields.append(f"    {key}: {shown}\n{_doc(text, '    ')}")
        doc = (
            "One site's settings, as a stack file spells them under ``wayshub:`` (docs/config.md)."
            if model is StackConfig
            else (model.__doc__ or f"The {model.__name__} settings (docs/config.md).").strip().splitlines()[0]
        )
        self.blocks.append(f"class {name}(TypedDict):\n{_doc(doc, '    ')}\n" + "\n".join(fields))
        return name


def text() -> str:
    """package/site_types.py as the models make it."""
    writer = _Writer()
    writer.model(StackConfig)
    return HEADER + "".join(f"\n\n{block}" for block in writer.blocks)


def drifted(repo: Path) -> bool:
    """Whether the committed package/site_types.py differs from what the models make."""
    path = repo / TARGET
    return not path.is_file() or path.read_text() != text()


def write(repo: Path) -> bool:
    """Regenerate package/site_types.py; whether it changed."""
    changed = drifted(repo)
    if changed:
        (repo / TARGET).write_text(text())
    return changed
