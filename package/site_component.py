"""The Site as the component package serves it: the repo's Site (components/site/component.py) with inputs the
schema inference reads, and the outputs a program in another language gets.

A program declares ``new wayshub.Site("site", {settings: {...}, project: "/abs/path"})`` (TypeScript): the
settings are a stack file's ``wayshub:`` values (package/site_types.py, generated from the models), checked
here exactly as a stack's are (``site_args_from``: one line naming the setting); the secret settings still
come from the program's stack config under ``wayshub:`` (`pulumi config set --secret wayshub:appSecrets...`),
which the engine hands to the plugin with every Construct.
"""

import argparse
import asyncio
import contextlib
import math
import sys
import tomllib
from enum import Enum
from pathlib import Path
from typing import Any, TypedDict

import grpc  # type: ignore[import-untyped]
import pulumi
from pulumi.errors import RunError
from pulumi.provider import ConstructResult
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ProviderServicer
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc

from components.config import ConfigError
from components.layout import SITE_TYPE
from components.site import component
from components.site.inputs import site_args_from
from package.site_types import WayshubSettings

PACKAGE = SITE_TYPE.split(":", 1)[0]  # the schema's name: wayshub:index:Site
UNVERSIONED = "0.0.0"


def package_version(repo: Path) -> str:
    """The package's version: pyproject.toml's ``[project] version``, else 0.0.0 (the SDK's and the schema's)."""
    try:
        project = tomllib.loads((repo / "pyproject.toml").read_text()).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return UNVERSIONED
    version = project.get("version")
    return version if isinstance(version, str) and version else UNVERSIONED


class SiteInputs(TypedDict):
    """What a program gives the Site."""

    settings: WayshubSettings
    """The site's settings, as a stack file spells them under `wayshub:` (docs/config.md); checked before anything is declared. The secret ones (appSecrets, sshPrivateKey, ...) are not here: set them in the program's stack config (`pulumi config set --secret wayshub:appSecrets.TOKEN`)."""

    project: str
    """The absolute path of the folder the settings' paths start from: the app's (`app.source`, default `app`), the hosts file's, `hosts.knownHostsFile`'s; releases are built under its `build/`."""


def plain_settings(value: Any, where: str = "settings") -> Any:
    """What arrived as the plain settings the models check: enums as their text, whole numbers as ints (the
    engine hands every number over as a float), absent values left out. An Output (a value not known as plain)
    is refused with one line: a setting decides what is declared, so it must be known before."""
    if isinstance(value, pulumi.Output):
        raise ConfigError(f"{where}: must be a plain value, not an Output (settings decide what is declared)")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: plain_settings(v, f"{where}.{k}") for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [plain_settings(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


class ConfigProblem(RunError):
    """A setting is wrong (the ConfigError's one line). A RunError, so the SDK's Construct lets it through as
    it is, and ``SiteServicer`` answers the engine with that line alone."""


class Site(component.Site):
    """A load-balanced Node site: app servers running your Node app, nginx in front, the domain pointed at it
    (sandbox VMs, your own servers over SSH, or containers). One per stack."""

    url: pulumi.Output[str]
    """The site's URL."""

    curl: pulumi.Output[str]
    """A curl command that reaches the site even before its name resolves."""

    backends: pulumi.Output[list[str]]
    """Every app server's backend address (host:port), as nginx has it."""

    release: pulumi.Output[str]
    """The release every app server runs."""

    lb_address: pulumi.Output[str]
    """Where the load balancer listens (host:port, or the failover address)."""

    def __init__(self, name: str, args: SiteInputs, opts: pulumi.ResourceOptions | None = None) -> None:
        try:
            project = Path(args["project"])
            if not project.is_absolute():
                raise ConfigError(
                    f"project: {args['project']!r} is not an absolute path (the plugin runs in its own folder: "
                    "give path.resolve(...))"
                )
            settings = plain_settings(dict(args["settings"]))
            site_args = site_args_from(settings, project)
            super().__init__(name, site_args, opts)
        except ConfigError as err:
            raise ConfigProblem(str(err)) from None
        # The component's own outputs were registered by the repo's Site (every value of ``outputs``); these
        # attributes are what the program gets (the schema's outputs).
        outputs = self.outputs
        self.backends = pulumi.Output.from_input(outputs["backends"])
        self.release = pulumi.Output.from_input(outputs["release"])
        self.lb_address = pulumi.Output.from_input(outputs["lb_address"])


class SitePackage(ComponentProvider):
    """The package's provider: the SDK's component provider (its schema inferred from ``Site``), except that a
    bad setting leaves as ConfigProblem itself, not wrapped (the SDK makes any other failure of a component
    "Unexpected <class 'Exception'>: ..." followed by its Python traceback)."""

    def construct(
        self, name: str, resource_type: str, inputs: pulumi.Inputs, options: pulumi.ResourceOptions | None = None
    ) -> ConstructResult:
        try:
            return super().construct(name, resource_type, inputs, options)
        except Exception as err:  # the SDK wraps what the Site raised: ComponentInitError.inner
            problem = getattr(err, "inner", None)
            if isinstance(problem, ConfigProblem):
                raise problem from None
            raise


class SiteServicer(ProviderServicer):
    """The SDK's provider server, answering a Construct that met a bad setting with its one line."""

    async def Construct(self, request: Any, context: Any) -> Any:
        try:
            return await super().Construct(request, context)
        except ConfigProblem as problem:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(problem))


def serve(repo: Path, args: list[str]) -> None:
    """Serve the package's one component to the engine: the SDK's ``component_provider_host`` (and the
    ``pulumi.provider.main`` it calls), with ``SiteServicer`` for their servicer."""
    parser = argparse.ArgumentParser(description="the wayshub component package's plugin (a gRPC server)")
    parser.add_argument("engine", help="the engine's address")
    engine = parser.parse_known_args(args)[0].engine
    provider = SitePackage([Site], PACKAGE, None, package_version(repo))

    async def run() -> None:
        server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(
            SiteServicer(provider, args, engine_address=engine), server
        )
        port = server.add_insecure_port(address="127.0.0.1:0")
        await server.start()
        sys.stdout.write(f"{port}\n")  # the engine reads the port from the first line
        sys.stdout.flush()
        await server.wait_for_termination()

    with contextlib.suppress(KeyboardInterrupt):  # the engine stops its plugins so
        asyncio.run(run())
