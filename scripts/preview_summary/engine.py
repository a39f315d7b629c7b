"""Read what the engine wrote (``pulumi preview --diff --json``) and make it safe to show: secrets out.

Every value Pulumi marks secret (``"[secret]"``, or an object carrying Pulumi's secret signature, as
``--show-secrets`` exports have) becomes ``[secret]``, and text that looks like a private key is blanked.
Also: the engine's URNs, parsed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, TextIO

SECRET = "[secret]"  # noqa: S105 (what a secret is shown as, not a secret)
# Pulumi's marker for a secret value in JSON (sdk/go/common/resource/sig: SecretSig) and for a value
# known only after `up` (UnknownStringValue).
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"  # noqa: S105 (a public constant)
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S)


def scrub(value: Any) -> Any:
    """``value`` with every secret replaced by ``[secret]`` and private-key text blanked."""
    if isinstance(value, dict):
        if SECRET_SIGNATURE in value:
            return SECRET
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return PRIVATE_KEY.sub("[private key hidden]", value)
    return value


@dataclass(frozen=True)
class Urn:
    """``urn:pulumi:<stack>::<project>::<parent types $ type>::<name>``."""

    types: tuple[str, ...]
    name: str

    @classmethod
    def parse(cls, urn: str) -> Urn:
        parts = urn.split("::", 3)
        if len(parts) != 4:
            return cls((), urn)
        return cls(tuple(parts[2].split("$")), parts[3])

    @property
    def type(self) -> str:
        return self.types[-1] if self.types else ""


def read_preview(source: TextIO) -> dict[str, Any]:
    text = source.read()
    if not text.strip():
        raise ValueError("empty input: expected the output of `pulumi preview --json`")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object with 'steps' (the output of `pulumi preview --json`)")
    return data
