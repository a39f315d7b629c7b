"""The stack's settings, loaded once into frozen, validated objects.

Every key is checked before any resource is declared: an unknown key, a missing one or a bad value
stops the program with ONE line naming the setting (``wayshub:hosts.appServers[1].name: ...``).
The models are the one source of truth: each field carries its description and default, and
Pulumi.yaml's ``config:`` section and docs/config.md are generated from them (components/config_reference.py).

One module per job: ``base`` (the error, the base model, rules several sections share), one per section
group (``hosts``, ``containers``, ``app``, ``load_balancer``, ``names``), ``stack`` (``StackConfig`` and
the settings read on their own), ``loader`` (raw settings to ``StackConfig`` or one error line) and
``checks`` (files, secrets, the passphrase). This package exports what the rest of the program uses.
"""

from components.config.app import NODE_VERSION, AppConfig, HealthConfig, ProcessConfig, ScheduleConfig
from components.config.base import NAMESPACE, ConfigError
from components.config.checks import (
    DEFAULT_PASSPHRASE,
    acme_ca_bundle,
    check_app_secrets,
    check_commands,
    check_dns_tsig_secret,
    check_passphrase,
    check_paths,
    check_release_key,
    check_site_secrets,
    check_site_tls,
    check_ssh_private_key,
    check_tls,
    load_checked,
)
from components.config.load_balancer import FailoverConfig, LoadBalancerConfig, duration_seconds
from components.config.loader import KEYS, fields_by_key, load, parse, section_model, setting_names
from components.config.names import DNS_TSIG_SETTING, DnsConfig
from components.config.sites import SiteConfig, SiteView
from components.config.stack import (
    APP_SECRETS_SETTING,
    COMMANDS_SETTING,
    RELEASE_KEY_SETTING,
    SECRET_SETTINGS,
    SEPARATE_SETTINGS,
    SITE_SECRETS_SETTING,
    SITE_TLS_SETTING,
    SSH_PRIVATE_KEY_SETTING,
    TLS_CERTIFICATE_SETTING,
    TLS_PRIVATE_KEY_SETTING,
    StackConfig,
)

__all__ = [
    "APP_SECRETS_SETTING",
    "COMMANDS_SETTING",
    "DEFAULT_PASSPHRASE",
    "DNS_TSIG_SETTING",
    "KEYS",
    "NAMESPACE",
    "NODE_VERSION",
    "RELEASE_KEY_SETTING",
    "SECRET_SETTINGS",
    "SEPARATE_SETTINGS",
    "SITE_SECRETS_SETTING",
    "SITE_TLS_SETTING",
    "SSH_PRIVATE_KEY_SETTING",
    "TLS_CERTIFICATE_SETTING",
    "TLS_PRIVATE_KEY_SETTING",
    "AppConfig",
    "ConfigError",
    "DnsConfig",
    "FailoverConfig",
    "HealthConfig",
    "LoadBalancerConfig",
    "ProcessConfig",
    "ScheduleConfig",
    "SiteConfig",
    "SiteView",
    "StackConfig",
    "acme_ca_bundle",
    "check_app_secrets",
    "check_commands",
    "check_dns_tsig_secret",
    "check_passphrase",
    "check_paths",
    "check_release_key",
    "check_site_secrets",
    "check_site_tls",
    "check_ssh_private_key",
    "check_tls",
    "duration_seconds",
    "fields_by_key",
    "load",
    "load_checked",
    "parse",
    "section_model",
    "setting_names",
]
