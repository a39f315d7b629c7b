"""The release id is public (outputs, folder names, PR comments) and hashes the app's secrets: keyed by the
stack's random ``wayshub:releaseKey``, it confirms no guess of a secret to anyone without the key (issue #28:
``DB_PASSWORD=summer2024`` was recovered from an id hashed with PBKDF2 under a public salt)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from pathlib import Path

import pulumi
import pytest
import yaml

from components.app.plan import app_run, release_for
from components.app.release import release_id
from components.config import ConfigError, check_release_key, parse
from tests.unit.test_command_backends import REPO, commands_of, config_keys, run_program

__all__ = ["config_keys"]  # the fixture, used by name

PARTS = ["b" * 12, "node 22.11.0", "node server.js", "unit", "env", "['DB_PASSWORD']"]
SECRET = {"DB_PASSWORD": "summer2024"}
GUESSES = ["123456", "password", "summer2023", "summer2024", "winter2024"]


def public_salt_id(secrets_: dict[str, str], salt: str) -> str:
    """The id as the old code made it: PBKDF2 of the secrets under a salt anyone could read."""
    digest = hashlib.sha256(json.dumps(PARTS).encode())
    text = json.dumps(secrets_, sort_keys=True).encode()
    digest.update(hashlib.pbkdf2_hmac("sha256", text, salt.encode(), 100_000))
    return digest.hexdigest()[:12]


def test_a_known_secret_cannot_be_confirmed_from_the_id_without_the_key() -> None:
    key = secrets.token_hex(32)
    public = release_id(PARTS, SECRET, key)
    # Everything an attacker has: the parts (the code, the unit, the command are public), the names, the
    # project/stack/app names the old salt was made of, and a list of guesses holding the right one.
    for salt in ["wayshub-infra/prod/wayshub", ""]:
        assert [g for g in GUESSES if public_salt_id({"DB_PASSWORD": g}, salt) == public] == []
    for attacker_key in ["", "wayshub-infra/prod/wayshub", secrets.token_hex(32)]:
        found = [g for g in GUESSES if attacker_key and release_id(PARTS, {"DB_PASSWORD": g}, attacker_key) == public]
        assert found == [], "a guess was confirmed without the stack's key"
    # With the key, the id still follows the secret (a changed secret is a new release).
    assert release_id(PARTS, {"DB_PASSWORD": "summer2025"}, key) != public
    assert release_id(PARTS, SECRET, key) == public


def test_secrets_without_a_key_never_make_an_id() -> None:
    with pytest.raises(ValueError, match="release key"):
        release_id(PARTS, SECRET, None)
    assert release_id(PARTS, {}, None) == release_id(PARTS, {}, "any key"), "no secrets: the key plays no part"


@pytest.mark.parametrize(
    ("key", "secrets_", "message"),
    [
        (None, SECRET, "wayshub:releaseKey: is required with wayshub:appSecrets"),
        ("short", {}, "wayshub:releaseKey: must be one line of at least 32 random characters"),
        ("a" * 40 + "\n" + "b" * 10, SECRET, "wayshub:releaseKey: must be one line"),
    ],
)
def test_a_missing_or_weak_key_is_one_line_naming_the_setting(
    key: str | None, secrets_: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        check_release_key(key, secrets_)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert key is None or key not in str(caught.value)


def test_no_secrets_need_no_key_and_a_good_key_is_kept() -> None:
    assert check_release_key(None, {}) is None
    key = secrets.token_hex(32)
    assert check_release_key(key, SECRET) == key


def test_the_programs_release_id_confirms_no_guess_to_someone_with_every_public_fact(
    tmp_path: Path, config_keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through ``__main__.py`` (Pulumi mocks): the id the program deploys, and an attacker who knows the code,
    the stack file, the project, stack and app names (the old salt) and holds the right guess in a list."""
    key = secrets.token_hex(32)
    stack = yaml.safe_load((REPO / "stacks" / "Pulumi.local.yaml").read_text())
    stack["config"]["wayshub:appSecrets"] = SECRET
    stack["config"]["wayshub:releaseKey"] = key
    path = tmp_path / "Pulumi.keyed.yaml"
    path.write_text(yaml.safe_dump(stack))
    create = commands_of(run_program(path, "builtin", config_keys, monkeypatch))["app1-app-release"]["create"]
    deployed = re.search(r"\bRID='?([0-9a-f]{12})\b", create)
    assert deployed is not None, create
    settings = parse(
        {k.removeprefix("wayshub:"): v for k, v in stack["config"].items() if "Secrets" not in k and "Key" not in k}
    )
    settings_app = settings.app.model_copy(update={"node_install": "apt"})  # as run_program sets it
    run = app_run(settings_app, REPO)
    public_salt = f"{pulumi.get_project()}/{pulumi.get_stack()}/{settings.app.name}"

    def guessed(guess: str, with_key: str) -> str:
        secrets_ = {"DB_PASSWORD": guess}
        return release_for(run, settings_app, REPO / "build" / "releases", secrets_, with_key, preview=True).id

    assert [g for g in GUESSES if guessed(g, public_salt) == deployed.group(1)] == []
    assert guessed("summer2024", key) == deployed.group(1), "with the stack's key the same parts give the id"
