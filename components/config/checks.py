"""Checks that need more than the config values: the passphrase, files on disk, and the settings read on
their own (secrets are checked for their form and never echoed); ``load_checked`` runs them all."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from components.config.app import ENV_NAME, env_value_problem
from components.config.base import NAMESPACE, ConfigError, control_problem
from components.config.certificate import PairProblem, check_pair
from components.config.loader import load
from components.config.names import DNS_TSIG_SETTING
from components.config.stack import (
    APP_SECRETS_SETTING,
    COMMANDS_SETTING,
    RELEASE_KEY_MIN_LENGTH,
    RELEASE_KEY_SETTING,
    SITE_SECRETS_SETTING,
    SITE_TLS_SETTING,
    SSH_PRIVATE_KEY_SETTING,
    TLS_CERTIFICATE_SETTING,
    TLS_PRIVATE_KEY_SETTING,
    StackConfig,
)
from components.shell.command.backend import SETTINGS as COMMAND_BACKENDS
from components.shell.ssh import load_private_key

# The passphrase the Makefile gives the `local` stack; any other stack must have its own.
DEFAULT_PASSPHRASE = "wayshub-local"  # noqa: S105 (public on purpose: it is in the Makefile)
DEFAULT_PASSPHRASE_STACKS = ("local",)


def check_passphrase(stack: str, environ: Mapping[str, str]) -> None:
    """Refuse the well-known default passphrase for any stack but ``local``: its secrets (SSH keys, TLS keys)
    would be encrypted with a passphrase everyone can read in the Makefile."""
    if stack in DEFAULT_PASSPHRASE_STACKS:
        return
    given = environ.get("PULUMI_CONFIG_PASSPHRASE")
    source = "PULUMI_CONFIG_PASSPHRASE"
    if given is None and environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        source = "PULUMI_CONFIG_PASSPHRASE_FILE"
        try:
            given = Path(environ[source]).read_text().rstrip("\r\n")
        except OSError:
            return  # the engine itself reports a passphrase file it cannot read
    if given == DEFAULT_PASSPHRASE:
        raise ConfigError(
            f"{source}: stack '{stack}' uses the default passphrase, which only the local stack may use; set your "
            "own (export PULUMI_CONFIG_PASSPHRASE=... or PULUMI_CONFIG_PASSPHRASE_FILE=<file>) before creating the stack"
        )


def check_paths(config: StackConfig, project_dir: Path) -> None:
    """Folders and files the settings name must be usable; raise ConfigError naming the setting."""
    for site in config.all_sites:
        source = project_dir / site.app.source
        if not source.is_dir():
            raise ConfigError(f"{NAMESPACE}:{site.where}app.source: {source} is not a folder")
        if not (source / "package.json").is_file():
            raise ConfigError(f"{NAMESPACE}:{site.where}app.source: {source} has no package.json")
    if config.hosts_file.enabled:
        path = Path(config.hosts_file.path)
        if path.is_dir():
            raise ConfigError(f"{NAMESPACE}:hostsFile.path: {path} is a directory, not a hosts file")
        if not path.parent.is_dir():
            raise ConfigError(f"{NAMESPACE}:hostsFile.path: folder {path.parent} does not exist")


def check_ssh_private_key(config: StackConfig, key: str | None) -> None:
    if config.hosts.provider != "existing":
        return
    if not key:
        raise ConfigError(
            f"{NAMESPACE}:{SSH_PRIVATE_KEY_SETTING}: is required with hosts.provider 'existing' "
            "(pulumi config set --secret wayshub:sshPrivateKey < key)"
        )
    try:
        load_private_key(key)
    except ValueError:
        raise ConfigError(
            f"{NAMESPACE}:{SSH_PRIVATE_KEY_SETTING}: is not an SSH private key (OpenSSH or PEM, unencrypted)"
        ) from None


def check_app_secrets(config: StackConfig, raw: str | None) -> dict[str, str]:
    """``appSecrets``: a secret object of extra env values; returns it parsed (never printed)."""
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(
            f"{NAMESPACE}:{APP_SECRETS_SETTING}: must be an object of NAME: value (set it with --secret --path)"
        ) from None
    return _secret_env(APP_SECRETS_SETTING, value, config.app.env, "app.env")


def _secret_env(setting: str, value: object, env: Collection[str], env_setting: str) -> dict[str, str]:
    """One app's secret env values (``setting``: where they are set), checked for their form, never echoed."""
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{NAMESPACE}:{setting}: must be an object of NAME: text value")
    for name in value:
        if not ENV_NAME.fullmatch(name):
            raise ConfigError(f"{NAMESPACE}:{setting}: variable name {name!r} must be UPPER_SNAKE_CASE")
        if name in env:
            raise ConfigError(f"{NAMESPACE}:{setting}: {name} is also in {env_setting}; keep it in one place")
        problem = env_value_problem(value[name])
        if problem:  # says what is wrong, never the value
            raise ConfigError(f"{NAMESPACE}:{setting}.{name}: {problem}")
    return value


def check_site_secrets(config: StackConfig, raw: str | None) -> dict[str, dict[str, str]]:
    """``siteSecrets``: per site of ``sites``, a secret object of extra env values for its app (never printed)."""
    if raw is None:
        return {}
    setting = f"{NAMESPACE}:{SITE_SECRETS_SETTING}"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(
            f"{setting}: must be an object of <site>: {{NAME: value}} (set it with --secret --path)"
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"{setting}: must be an object of <site>: {{NAME: value}}")
    sites = {site.key: site for site in config.all_sites if site.key}
    checked: dict[str, dict[str, str]] = {}
    for key, env in value.items():
        site = sites.get(key)
        if site is None:
            known = ", ".join(sites) or "none: wayshub:sites is empty"
            raise ConfigError(f"{setting}: {key!r} is not a site of wayshub:sites ({known})")
        checked[key] = _secret_env(f"{SITE_SECRETS_SETTING}.{key}", env, site.app.env, f"{site.where}app.env")
    return checked


def check_tls(config: StackConfig, certificate: str | None, key: str | None) -> None:
    """``provided`` TLS needs a certificate for the domain and its matching private key."""
    if config.lb.tls != "provided":
        if certificate or key:
            which = TLS_CERTIFICATE_SETTING if certificate else TLS_PRIVATE_KEY_SETTING
            raise ConfigError(f"{NAMESPACE}:{which}: is set but lb.tls is '{config.lb.tls}', not 'provided'")
        return
    if not certificate:
        raise ConfigError(
            f"{NAMESPACE}:{TLS_CERTIFICATE_SETTING}: is required with lb.tls 'provided' (PEM certificate chain)"
        )
    if not key:
        raise ConfigError(
            f"{NAMESPACE}:{TLS_PRIVATE_KEY_SETTING}: is required with lb.tls 'provided' (set it with --secret)"
        )
    try:
        check_pair(certificate, key, config.domain)
    except PairProblem as err:
        setting = TLS_CERTIFICATE_SETTING if err.part == "certificate" else TLS_PRIVATE_KEY_SETTING
        raise ConfigError(f"{NAMESPACE}:{setting}: {err}") from None


def check_site_tls(config: StackConfig, raw: str | None) -> dict[str, dict[str, str]]:
    """``siteTls``: for each site of ``sites`` with ``tls: provided``, its certificate chain and private key,
    the pair checked to match and to name every name of the site (never echoed)."""
    setting = f"{NAMESPACE}:{SITE_TLS_SETTING}"
    provided = {site.key: site for site in config.all_sites if site.key and site.tls == "provided"}
    try:
        value = json.loads(raw) if raw is not None else {}
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise ConfigError(f"{setting}: must be an object of <site>: {{certificate: PEM, privateKey: PEM}}")
    for key in value:
        if key not in provided:
            known = ", ".join(provided) or "none"
            raise ConfigError(f"{setting}: {key!r} is not a site with tls 'provided' (those are: {known})")
    for key, site in provided.items():
        pair = value.get(key)
        if not isinstance(pair, dict) or set(pair) != {"certificate", "privateKey"}:
            raise ConfigError(
                f"{setting}.{key}: is required with {site.where}tls 'provided': certificate and privateKey (PEM), "
                f"set with --secret --path"
            )
        if not all(isinstance(text, str) for text in pair.values()):
            raise ConfigError(f"{setting}.{key}: certificate and privateKey must be PEM text")
        for name in site.names:
            try:
                check_pair(pair["certificate"], pair["privateKey"], name)
            except PairProblem as err:
                raise ConfigError(f"{setting}.{key}.{err.part}: {err}") from None
    return value


def acme_ca_bundle(config: StackConfig, project_dir: Path) -> str | None:
    """``lb.acme.caBundle`` as PEM text (given as text, or as a file relative to the project), checked to hold
    at least one certificate; None when unset (the system's CAs)."""
    given = config.lb.acme.ca_bundle if config.lb.acme else None
    if given is None:
        return None
    setting = f"{NAMESPACE}:lb.acme.caBundle"
    text = given
    if "-----BEGIN" not in given:
        path = project_dir / given
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{setting}: cannot read {path}: {getattr(err, 'strerror', None) or err}") from None
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise ConfigError(f"{setting}: holds no PEM certificate") from None
    return text


def check_dns_tsig_secret(config: StackConfig, secret: str | None) -> None:
    """``dnsTsigSecret``: the TSIG key's secret (base64, as tsig-keygen prints it); never printed."""
    setting = f"{NAMESPACE}:{DNS_TSIG_SETTING}"
    if config.dns is None:
        if secret:
            raise ConfigError(f"{setting}: is set but wayshub:dns is not")
        return
    if not secret:
        raise ConfigError(
            f"{setting}: is required with wayshub:dns "
            f"(pulumi config set --secret {setting} < a file holding the secret tsig-keygen printed)"
        )
    try:
        decoded = base64.b64decode(secret.strip(), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded:
        raise ConfigError(f'{setting}: is not base64 (the secret "..." line tsig-keygen prints)')


def check_release_key(key: str | None, secrets: Mapping[str, object]) -> str | None:
    """``releaseKey``: the stack's random secret the release id's hash of ``appSecrets`` is keyed with (never
    printed). Required once there are app secrets: without it their hash in the public id could be checked
    against guesses offline."""
    setting = f"{NAMESPACE}:{RELEASE_KEY_SETTING}"
    if not key:
        if secrets:
            raise ConfigError(
                f"{setting}: is required with wayshub:appSecrets or siteSecrets (the public release id hashes them "
                "with it): "
                f"make stack sets one, or: openssl rand -hex 32 | pulumi config set --secret {setting}"
            )
        return None
    if control_problem(key) or len(key.strip()) < RELEASE_KEY_MIN_LENGTH:
        raise ConfigError(
            f"{setting}: must be one line of at least {RELEASE_KEY_MIN_LENGTH} random characters (openssl rand -hex 32)"
        )
    return key


def check_commands(value: str | None) -> str | None:
    """``wayshub:commands`` as set; None when unset (then the stack's checkpoint decides: __main__.py, and
    components/shell/command/backend.py ``default``)."""
    if value is not None and value not in COMMAND_BACKENDS:
        raise ConfigError(f"{NAMESPACE}:{COMMANDS_SETTING}: must be one of {', '.join(COMMAND_BACKENDS)}")
    return value


def load_checked(get: Callable[[str], str | None], project_dir: Path, names: Collection[str] = ()) -> StackConfig:
    """Everything checked before any resource: the settings' names, values, files, and the secrets' form
    (never their text)."""
    config = load(get, names=names)
    check_paths(config, project_dir)
    check_ssh_private_key(config, get(SSH_PRIVATE_KEY_SETTING))
    secrets = {
        **check_app_secrets(config, get(APP_SECRETS_SETTING)),
        **check_site_secrets(config, get(SITE_SECRETS_SETTING)),
    }
    check_release_key(get(RELEASE_KEY_SETTING), secrets)
    check_tls(config, get(TLS_CERTIFICATE_SETTING), get(TLS_PRIVATE_KEY_SETTING))
    check_site_tls(config, get(SITE_TLS_SETTING))
    check_dns_tsig_secret(config, get(DNS_TSIG_SETTING))
    acme_ca_bundle(config, project_dir)
    check_commands(get(COMMANDS_SETTING))
    return config
