"""What the steps read, read once: the stack's checked settings, its secrets, each site's planned app, and
the bench's tuning. Every value comes in here; no step reads ``pulumi.Config`` itself."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pulumi
from pulumi.runtime.config import is_config_secret

from components import config as stack_config
from components.app.plan import SiteApp, plan_site_app
from components.checkpoint import checkpoint_urns
from components.config import StackConfig
from components.containers.app_image import AppImagePlan, plan_app_image
from components.hosts.from_config import check_known_host_keys
from components.names import write_problem as hosts_file_write_problem
from components.shell.command import backend as command_backend


@dataclass(frozen=True)
class Tuning:
    """Knobs no stack setting offers: the bench's controls (bench/stack.py) run the same steps with them.
    ``settle``: wait ``lb.failTimeout`` + 1 s after each batch of a rollout; ``chain_first_deploy``: make even
    a host's first deploy wait for the hosts before it (the program before issue #16)."""

    settle: bool = True
    chain_first_deploy: bool = False


@dataclass(frozen=True)
class StackSecrets:
    """The stack's secret settings, each read where a step needs it (as a secret Output: never in plain text)."""

    config: pulumi.Config

    def app_env(self) -> pulumi.Output[Any] | None:
        """``appSecrets``: the stack's own site's secret env values."""
        return self.config.get_secret_object(stack_config.APP_SECRETS_SETTING)

    def site_env(self, site: str) -> pulumi.Output[dict[str, str]]:
        """``siteSecrets.<site>``: another site's secret env values."""
        every = self.config.require_secret_object(stack_config.SITE_SECRETS_SETTING)
        return pulumi.Output.secret(every.apply(lambda sites: dict(sites[site])))

    def site_tls(self, site: str) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """``siteTls.<site>``: a site's own certificate and private key."""
        pair = self.config.require_secret_object(stack_config.SITE_TLS_SETTING).apply(lambda sites: sites[site])
        return pair.apply(lambda p: p["certificate"]), pair.apply(lambda p: p["privateKey"])

    def tls(self) -> tuple[str, pulumi.Output[str]]:
        """``tlsCertificate`` and ``tlsPrivateKey``: the stack's own site's provided certificate."""
        return (
            self.config.require(stack_config.TLS_CERTIFICATE_SETTING),
            self.config.require_secret(stack_config.TLS_PRIVATE_KEY_SETTING),
        )

    def dns_tsig(self) -> pulumi.Output[str]:
        return self.config.require_secret(stack_config.DNS_TSIG_SETTING)

    def ssh_private_key(self) -> pulumi.Output[str]:
        return self.config.require_secret(stack_config.SSH_PRIVATE_KEY_SETTING)

    def release_key(self) -> str | None:
        """``releaseKey``: what a release id is keyed with (checked with appSecrets by load_checked)."""
        return self.config.get(stack_config.RELEASE_KEY_SETTING)

    def ssh_private_key_now(self) -> str | None:
        """The key in plain text, for what the program itself reads from a server (which LB holds the address)."""
        return self.config.get(stack_config.SSH_PRIVATE_KEY_SETTING)


@dataclass(frozen=True)
class SiteArgs:
    """The Site component's inputs (components/site/component.py): the checked settings, the project folder
    (the app and the files settings name), the secret settings, and what the program read beside them."""

    settings: StackConfig
    project: Path
    secrets: StackSecrets
    app_secrets: dict[str, str] = field(default_factory=dict)  # appSecrets, checked
    site_secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # siteSecrets, checked
    commands: str | None = None  # wayshub:commands, checked (None: the backend the stack has, docs/commands.md)
    plain_secrets: tuple[str, ...] = ()  # secret settings the stack sets in plain text (the policy pack's)
    tuning: Tuning = field(default_factory=Tuning)


@dataclass(frozen=True)
class Inputs:
    """Everything the steps need: the stack, the project folder, its checked settings and secrets, either
    each site's planned app (on servers; the stack's own site first) or the app image's plan (containers),
    and ``under``: the options every resource a step declares at the top carries (its parent, the Site)."""

    stack: str
    here: Path
    settings: StackConfig
    secrets: StackSecrets
    site_apps: list[SiteApp]
    site_secrets: dict[str, dict[str, str]]  # siteSecrets, checked (the sites that have any)
    app_secrets: dict[str, str]  # appSecrets, checked
    image_plan: AppImagePlan | None
    tuning: Tuning
    under: pulumi.ResourceOptions = field(default_factory=pulumi.ResourceOptions)

    def opts(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        """``under``, waiting for ``depends_on``."""
        return pulumi.ResourceOptions.merge(self.under, pulumi.ResourceOptions(depends_on=list(depends_on)))


def read_site_args(here: Path, tuning: Tuning) -> SiteArgs:
    """Read and check the stack's settings before any resource is declared; a bad setting is ONE line naming
    it and exit code 32 (which tells the language host the message was shown: it adds no "unhandled error"
    line)."""
    config = pulumi.Config(stack_config.NAMESPACE)
    # Every `wayshub:` key the stack sets, so a typo (wayshub:hostFile) stops the program instead of being ignored.
    names = stack_config.setting_names(pulumi.runtime.get_config_env())
    try:
        return _read(config.get, names, config, here, tuning)
    except stack_config.ConfigError as err:
        exit_with(err)


def site_args_from(settings: Mapping[str, Any], project: Path, tuning: Tuning | None = None) -> SiteArgs:
    """SiteArgs for settings a program gives itself (keys as a stack file spells them, without ``wayshub:``),
    checked as a stack's are (raises ConfigError: one line). The secret settings (SEPARATE_SETTINGS) still come
    from the stack's ``wayshub:`` config, set with `pulumi config set --secret`, never from ``settings``."""
    config = pulumi.Config(stack_config.NAMESPACE)
    if given := sorted(set(settings) & set(stack_config.SEPARATE_SETTINGS)):
        raise stack_config.ConfigError(
            f"{stack_config.NAMESPACE}:{given[0]}: set it in the stack's config (`pulumi config set --secret`), "
            "not in the Site's settings"
        )

    def get(key: str) -> str | None:
        if key in settings:
            value = settings[key]
            return value if isinstance(value, str) else json.dumps(value)
        return config.get(key) if key in stack_config.SEPARATE_SETTINGS else None

    separate = [n for n in stack_config.setting_names(config_now()) if n in stack_config.SEPARATE_SETTINGS]
    return _read(get, [*settings, *separate], config, project.resolve(), tuning or Tuning())


def config_now() -> dict[str, Any]:
    """Every ``namespace:key`` of the stack's config this process holds: a program's (which the language host
    hands over in its environment) or, in the component package's plugin, the one the engine sent with the
    Construct (which the SDK keeps in the runtime's config, not in the environment)."""
    return {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}


def exit_with(err: stack_config.ConfigError) -> NoReturn:
    pulumi.log.error(str(err))
    sys.exit(32)


def _read(
    get: Callable[[str], str | None], names: Sequence[str], config: pulumi.Config, here: Path, tuning: Tuning
) -> SiteArgs:
    stack_config.check_passphrase(pulumi.get_stack(), os.environ)
    settings = stack_config.load_checked(get, here, names)
    app_secrets = stack_config.check_app_secrets(settings, get(stack_config.APP_SECRETS_SETTING))
    site_secrets: dict[str, dict[str, str]] = {}
    if settings.hosts.provider != "containers":
        site_secrets = stack_config.check_site_secrets(settings, get(stack_config.SITE_SECRETS_SETTING))
    return SiteArgs(
        settings=settings,
        project=here,
        secrets=StackSecrets(config),
        app_secrets=app_secrets,
        site_secrets=site_secrets,
        commands=stack_config.check_commands(get(stack_config.COMMANDS_SETTING)),
        plain_secrets=plain_secrets(names),
        tuning=tuning,
    )


def plain_secrets(names: Iterable[str]) -> tuple[str, ...]:
    """The secret settings among ``names`` that the stack sets in plain text (not `config set --secret`)."""
    full = (f"{stack_config.NAMESPACE}:{name}" for name in sorted(set(names)))
    return tuple(key for key in full if key in stack_config.SECRET_SETTINGS and not is_config_secret(key))


def plan(args: SiteArgs, under: pulumi.ResourceOptions | None = None) -> Inputs:
    """What the steps read, from checked settings: each site's app planned (built once on `up`), or the app
    image's; the command backend chosen. Raises ConfigError (one line) before any resource is declared."""
    settings, here = args.settings, args.project
    if settings.hosts_file.enabled and (problem := hosts_file_write_problem(Path(settings.hosts_file.path))):
        raise stack_config.ConfigError(problem)  # now, not after the servers are built
    site_apps: list[SiteApp] = []
    image_plan = None
    if settings.hosts.provider == "containers":
        # The app image by the same contract: start, build, Node (app_image.py); nothing is built here.
        image_plan = plan_app_image(settings.app, here / settings.app.source)
    else:
        # Each site's app (the stack's own first): how it is built and started, which Node, and the release
        # every host of the site runs. appSecrets are the stack's own site's, siteSecrets.<site> another's.
        site_apps = [
            plan_site_app(
                site,
                here,
                secrets=args.site_secrets.get(site.key, {}) if site.key else args.app_secrets,
                key=args.secrets.release_key(),  # checked with appSecrets by load_checked
                preview=pulumi.runtime.is_dry_run(),  # a preview builds nothing: no npm, no app scripts
            )
            for site in settings.all_sites
        ]
    choose_command_backend(args.commands, settings)
    return Inputs(
        stack=pulumi.get_stack(),
        here=here,
        settings=settings,
        secrets=args.secrets,
        site_apps=site_apps,
        site_secrets=args.site_secrets,
        app_secrets=args.app_secrets,
        image_plan=image_plan,
        tuning=args.tuning,
        under=under or pulumi.ResourceOptions(),
    )


def choose_command_backend(commands_setting: str | None, settings: StackConfig) -> None:
    """The command backend (docs/commands.md): as set, else the one a deployed stack has, else for a new stack
    pulumi-command where its plugin is installed. Said in the up's output either way. Last: reading the
    checkpoint registers the engine's default provider, and a bad setting must leave no resource at all."""
    if commands_setting is not None:
        command_backend.use(commands_setting)
        why = f"{stack_config.NAMESPACE}:{stack_config.COMMANDS_SETTING} says so"
    else:
        try:
            chosen, why = command_backend.default(checkpoint_urns())
        except ValueError as err:  # the state is unreadable and the plugin installed: either could be right
            raise stack_config.ConfigError(str(err)) from None
        command_backend.use(chosen)
    pulumi.log.info(f"commands: {command_backend.current()} ({why})")
    if command_backend.current() == "pulumi-command":
        check_known_host_keys(settings)  # it checks only a host key it is given
