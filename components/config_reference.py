"""The config reference, derived from the models in components/config/ (one source of truth).

Every setting a stack may set is a field of ``StackConfig`` (walked recursively) or one of the settings
read on their own (``SEPARATE_SETTINGS``: secrets and the TLS certificate). From them come Pulumi.yaml's
``config:`` section and the table in docs/config.md; ``scripts/config-docs`` writes both and a unit test
fails when the committed files differ from what this module produces.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from components.config import NAMESPACE, SEPARATE_SETTINGS, StackConfig, fields_by_key, section_model

PULUMI_YAML_MARKER = "# --- Generated from components/config/ by scripts/config-docs: edit the models, not below. ---"
DOCS_BEGIN = "<!-- Generated from components/config/ by scripts/config-docs: edit the models, not this table. -->"
DOCS_END = "<!-- End of the generated table. -->"


@dataclass(frozen=True)
class Setting:
    """One key a stack may set: ``lb.healthCheck.fall``, ``hosts.appServers[].sshPort``, ``sshPrivateKey``."""

    key: str
    description: str
    default: str  # as the reference shows it: `80`, "—", "— (required)", "section"
    model: type[BaseModel] | None = None  # the section's model, for keys that hold settings of their own
    field: FieldInfo | None = None


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _default(field: FieldInfo, model: type[BaseModel] | None) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    shown = extra.get("shown_default")
    if shown is not None:
        return str(shown)
    if field.is_required():
        return "— (required)"
    if model is not None:
        return "section"
    if field.default_factory is not None:
        return f"`{_value_text(field.default_factory())}`"  # type: ignore[call-arg]
    if field.default is None:
        return "—"
    return f"`{_value_text(field.default)}`"


def _walk(model: type[BaseModel], prefix: str) -> list[Setting]:
    found: list[Setting] = []
    for key, field in fields_by_key(model).items():
        inner, is_list = section_model(field.annotation)
        path = f"{prefix}{key}"
        if not field.description:
            raise ValueError(f"{model.__name__}.{key} has no description (Field(description=...))")
        found.append(Setting(path, field.description, _default(field, inner), inner, field))
        if inner is not None:
            found.extend(_walk(inner, f"{path}[]." if is_list else f"{path}."))
    return found


def settings() -> list[Setting]:
    """Every key a stack may set, in the models' order, then the settings read on their own."""
    separate = [Setting(key, text, "—") for key, text in SEPARATE_SETTINGS.items()]
    return _walk(StackConfig, "") + separate


# --- Pulumi.yaml's config section ---

_TYPES = {str: "string", int: "integer", bool: "boolean", float: "number"}


def _summary(model: type[BaseModel]) -> str:
    """``{listenPort: 80, healthCheck: {enabled: true, ...}, ...}``: a section's keys and defaults in one line."""
    parts = []
    for key, field in fields_by_key(model).items():
        inner, is_list = section_model(field.annotation)
        if inner is not None:
            nested = _summary(inner)
            parts.append(f"{key}: [{nested}]" if is_list else f"{key}: {nested}")
            continue
        default = _default(field, None)
        if default.startswith("`") and default.endswith("`") and default.count("`") == 2:
            parts.append(f"{key}: {default.strip('`')}")
        elif default == "— (required)":
            parts.append(f"{key} (required)")
        else:
            parts.append(key)
    return "{" + ", ".join(parts) + "}"


def _block(text: str, indent: int) -> list[str]:
    pad = " " * indent
    return textwrap.wrap(text, width=110, initial_indent=pad, subsequent_indent=pad, break_on_hyphens=False)


def pulumi_config_section() -> str:
    """Pulumi.yaml from the marker on: a comment on what is left out, then ``config:``."""
    separate = ", ".join(f"{NAMESPACE}:{key}" for key in SEPARATE_SETTINGS)
    lines = [
        PULUMI_YAML_MARKER,
        "# The settings every stack may set (stacks/Pulumi.<stack>.yaml, keys prefixed `wayshub:`);",
        "# docs/config.md lists every key. components/config/ checks them all before any resource is declared",
        "# and refuses unknown keys. Not declared here, though the program reads them:",
        *(f"#   {line}" for line in textwrap.wrap(separate, width=100)),
        "# Each applies to some stacks only (existing servers, provided TLS, app secrets, DNS), and Pulumi demands",
        "# a declared key without a default from every stack; a secret's default would sit here in plain text.",
        "config:",
    ]
    for key, field in fields_by_key(StackConfig).items():
        inner, many = section_model(field.annotation)
        lines.append(f"  {key}:")
        if many:  # a list of sections (sites)
            lines.extend(["    type: array", "    items:", "      type: object"])
        else:
            lines.append(f"    type: {'object' if inner is not None else _TYPES[field.annotation]}")  # type: ignore[index]
        if not field.is_required():
            if inner is None and not isinstance(field.default, bool):
                raise ValueError(f"top-level {key}: only sections and switches may have a default in Pulumi.yaml")
            default = ("[]" if many else "{}") if inner is not None else str(field.default).lower()
            lines.append(f"    default: {default}")
        text = field.description or ""
        text = text[:1].upper() + text[1:] + "."
        if inner is not None:
            text = f"{text} Keys and defaults: {_summary(inner)}."
        lines.append("    description: >-")
        lines.extend(_block(text, 6))
    return "\n".join(lines) + "\n"


def pulumi_yaml(current: str) -> str:
    """Pulumi.yaml with everything from the marker on regenerated (what precedes it is kept)."""
    head, marker, _ = current.partition(PULUMI_YAML_MARKER)
    if not marker:
        head = current.split("\nconfig:", 1)[0].rstrip("\n") + "\n"
    return head + pulumi_config_section()


# --- docs/config.md's table ---


def docs_table(prefix: str = "") -> str:
    """The settings' table: every key, or those under ``prefix`` (``app``: ``app.port`` shows as ``port``)."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for setting in settings():
        if prefix and not setting.key.startswith(f"{prefix}."):
            continue
        meaning = setting.description.replace("|", "\\|")
        extra = setting.field.json_schema_extra if setting.field is not None else None
        if isinstance(extra, dict) and isinstance(why := extra.get("not_in_containers"), str):
            meaning += f" — *containers mode refuses it: {why}*"
        rows.append(
            f"| `{setting.key.removeprefix(f'{prefix}.') if prefix else setting.key}` | {setting.default} | {meaning} |"
        )
    return "\n".join(rows) + "\n"


def with_table(name: str, prefix: str = "") -> Callable[[str], str]:
    """A doc's text with the table between the markers regenerated (the keys under ``prefix``)."""

    def make(current: str) -> str:
        head, begin, rest = current.partition(DOCS_BEGIN)
        _, end, tail = rest.partition(DOCS_END)
        if not begin or not end:
            raise ValueError(f"{name} needs the lines {DOCS_BEGIN!r} and {DOCS_END!r} around the table")
        return f"{head}{DOCS_BEGIN}\n{docs_table(prefix)}{DOCS_END}{tail}"

    return make


# Every generated file: Pulumi.yaml's config section, the reference of every key, and the tables of one
# section each where its doc explains it.
FILES: dict[str, Callable[[str], str]] = {
    "Pulumi.yaml": pulumi_yaml,
    "docs/config.md": with_table("docs/config.md"),
    "docs/app.md": with_table("docs/app.md", "app"),
    "docs/hung-backends.md": with_table("docs/hung-backends.md", "lb.healthCheck"),
}


def drifted(repo: Path) -> list[str]:
    """The generated files whose committed text differs from what the models produce."""
    return [name for name, make in FILES.items() if make((repo / name).read_text()) != (repo / name).read_text()]


def write(repo: Path) -> list[str]:
    """Regenerate the files; returns the ones that changed."""
    changed = drifted(repo)
    for name in changed:
        path = repo / name
        path.write_text(FILES[name](path.read_text()))
    return changed
