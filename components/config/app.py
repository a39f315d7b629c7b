"""The app's section: what runs on each app server, how it is started, its environment, and the health
check a new release must pass (``app``, ``app.health``)."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from components.config.base import (
    Model,
    NonEmptyText,
    Port,
    Text,
    check_host_name,
    check_short_name,
    named_once,
    not_in_containers,
    repeated,
    shown,
)
from components.config.calendar import check_calendar
from components.config.reserved import reserved_app_name

ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
# A Node version as a person writes it: exact (20.11.1), partial (20, 20.11), optional leading "v".
NODE_VERSION = re.compile(r"v?[0-9]{1,2}(\.[0-9]+){0,2}")
NO_TASK_IN_CONTAINERS = "no release task runs in containers mode yet"
PROCESS_CHECK_TIMEOUT_SECONDS = 30  # how long a process's healthCommand may run


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


# A command line: some text, and not only spaces (`npm run X` is resolved later, components/app/app_spec.py).
Command = Annotated[NonEmptyText, AfterValidator(_not_blank)]


def named_uniquely(names: list[str], kind: str) -> None:
    """ValueError naming the first of ``names`` (of the ``kind`` setting's items) used twice."""
    twice = repeated(names)
    if twice:
        raise ValueError(f"the {kind} name {twice[0]!r} is used twice; every {kind} needs its own")


class HealthConfig(Model):
    """How a new release proves it serves: the unit's new process answers ``path`` on the app's port."""

    path: Text = Field(default="/", description="the URL path a release must answer (also what the LB probes)")
    expect_status: str | int = Field(
        default="200-399", alias="expectStatus", description="the answer's status: one (`200`) or a range (`200-399`)"
    )
    timeout_seconds: Annotated[int, Field(ge=1, le=600)] = Field(
        default=60, alias="timeoutSeconds", description="how long a new release has to answer before the `up` fails"
    )
    interval_seconds: Annotated[float, Field(ge=0.1, le=60)] = Field(
        default=1.0, alias="intervalSeconds", description="seconds between two tries"
    )
    body_contains: NonEmptyText | None = Field(
        default=None,
        alias="bodyContains",
        description="text the answer must contain; `{release}` stands for the release id (`WAYSHUB_RELEASE`)",
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*", value):
            raise ValueError(f"{value!r} must be a URL path starting with '/', e.g. /healthz")
        return value

    @field_validator("expect_status")
    @classmethod
    def _status(cls, value: str | int) -> str:
        match = re.fullmatch(r"([1-5][0-9][0-9])(?:-([1-5][0-9][0-9]))?", str(value))
        if not match or int(match.group(2) or match.group(1)) < int(match.group(1)):
            raise ValueError(f"{value!r} is not an HTTP status or range such as 200 or 200-399")
        return str(value)

    @property
    def status_range(self) -> tuple[int, int]:
        low, _, high = str(self.expect_status).partition("-")
        return int(low), int(high or low)


class ProcessConfig(Model):
    """One more process from the app's release (a queue worker…): its own unit on the app servers, not behind
    the LB, switched with the release (docs/app.md, "Processes")."""

    name: Text = Field(
        description="the process's name (1-16 lowercase letters or digits, a letter first): its unit is `<app name>@<name>`"
    )
    command: Command = Field(
        description="the command line run in the release's app folder (`npm run X` resolved as for `start`)"
    )
    servers: list[Text] = Field(
        default_factory=list,
        description="the app servers (of the app's) it runs on; empty: all of them",
    )
    stop_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = Field(
        default=30,
        alias="stopTimeoutSeconds",
        description="how long a stop (a switch, a rollback) waits after SIGTERM before it kills the process",
    )
    healthy_seconds: Annotated[int, Field(ge=1, le=300)] = Field(
        default=5,
        alias="healthySeconds",
        description="a new release's process is healthy when it still runs this long after its start",
    )
    health_command: Command | None = Field(
        default=None,
        alias="healthCommand",
        description=f"then this command (run like the process, in the release's app folder; `npm run X` resolved) must exit 0 within {PROCESS_CHECK_TIMEOUT_SECONDS} s; without it, still running is healthy",
    )

    @field_validator("servers")
    @classmethod
    def _servers(cls, value: list[str]) -> list[str]:
        return named_once(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_short_name(value)


class ScheduleConfig(Model):
    """A job run by a systemd timer on one app server (the site's first), from the live release (docs/app.md,
    "Schedules")."""

    name: Text = Field(
        description="the job's name (1-16 lowercase letters or digits, a letter first; not a process's): its units are `<app name>@job-<name>`"
    )
    command: Command = Field(
        description="the command line run in the live release's app folder (`npm run X` resolved as for `start`)"
    )
    calendar: Text = Field(
        description="when it runs: a systemd calendar expression (`daily`, `Mon..Fri 02:30`, `*:0/15`, `*-*-01 04:00 UTC`), in the server's time zone unless one is given"
    )
    stop_timeout_seconds: Annotated[int, Field(ge=1, le=86400)] = Field(
        default=300,
        alias="stopTimeoutSeconds",
        description="when the job is removed or moves to another server, how long a running run has after SIGTERM before it is killed (a deploy never stops it)",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_short_name(value)

    @field_validator("calendar")
    @classmethod
    def _calendar(cls, value: str) -> str:
        return check_calendar(value)


def env_value_problem(value: str) -> str | None:
    """Why text cannot reach the app's environment byte for byte (None: it can). Quotes, backslashes,
    ``$``, newlines, spaces and any Unicode arrive as written (components/app/env_file.py quotes them
    for systemd); a NUL cannot be in an environment variable at all, and the env file is UTF-8."""
    if "\0" in value:
        return "contains a NUL character, which no environment variable can hold"
    try:
        value.encode()
    except UnicodeEncodeError:
        return "is not valid Unicode text (it holds a lone surrogate such as \\udc80)"
    return None


def _env_value(value: str) -> str:
    problem = env_value_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class AppConfig(Model):
    """The Node app and how it runs on each app server (docs/app.md explains each setting)."""

    MULTILINE: ClassVar[dict[str, str]] = {
        "env": "values reach the app byte for byte (env_file.py quotes them for systemd); names are UPPER_SNAKE_CASE"
    }

    name: Text = Field(
        default="wayshub",
        description="the app's name: its systemd unit, user and folders; never a system user or unit (`ssh`, `nginx`, "
        "`root`, `systemd-*`…: docs/security.md), and the base step refuses a user or unit on a host that it did not make",
        json_schema_extra=not_in_containers(
            "no unit, user or folders: the containers are named after the stack and server"
        ),
    )
    source: Text = Field(default="app", description="the app's folder (with its package.json), relative to the project")
    port: Port = Field(default=3000, description="the port the app listens on")
    port_env: Text | list[Text] = Field(
        default="PORT",
        alias="portEnv",
        description="the environment variable the app reads its port from, or a list (`[PORT, APP_PORT]`)",
    )
    start: Command | None = Field(
        default=None,
        description="the command line run in the release's app folder, e.g. `node dist/server.js`; `npm start` / `npm run "
        "X` become the script's text when the release is built (npm is not on the servers, and a process under npm gets "
        "signals late); without `start` or `main`: `server.js`, else `index.js`",
        json_schema_extra=shown("package.json's `start` script, else `node <main>`"),
    )
    release_task: NonEmptyText | None = Field(
        default=None,
        alias="releaseTask",
        description="a command run once per new release (e.g. `node migrate.js`, `npm run migrate`) with its code, Node and env, on the first app server, after every server has the release and before any switches to it; if it fails nothing switches",
        json_schema_extra=not_in_containers(NO_TASK_IN_CONTAINERS),
    )
    release_task_timeout_seconds: Annotated[int, Field(ge=1, le=86400)] = Field(
        default=1800,
        alias="releaseTaskTimeoutSeconds",
        description="how long the release task may run; then it is stopped and the `up` fails, nothing switched",
        json_schema_extra=not_in_containers(NO_TASK_IN_CONTAINERS),
    )
    processes: list[ProcessConfig] = Field(
        default_factory=list,
        description="more processes from the release, not behind the LB (`[{name: worker, command: node worker.js}]`): each its own sandboxed unit `<app name>@<name>`, switched (and rolled back) with the release",
        json_schema_extra=not_in_containers("no processes but the web one in containers mode yet"),
    )
    schedules: list[ScheduleConfig] = Field(
        default_factory=list,
        description="jobs run by a systemd timer on the first app server from the live release (`[{name: nightly, command: node report.js, calendar: daily}]`): never two runs of one at once, never killed by a deploy",
        json_schema_extra=not_in_containers("no schedules in containers mode yet"),
    )
    schedules_server: Text | None = Field(
        default=None,
        alias="schedulesServer",
        description="the app server (of the app's) that runs `schedules`; changed, the jobs stop there before they start on the new one",
        json_schema_extra={
            **shown("the app's first server"),
            **not_in_containers("no schedules in containers mode yet"),
        },
    )
    build: Command | None = Field(
        default=None,
        description="an npm script run once per release (e.g. `npm run build`) before dev dependencies are pruned: where `pulumi up` runs, or in the image build (containers)",
    )
    node_install: Literal["binary", "apt", "nodesource", "nvm"] | None = Field(
        default=None,
        alias="nodeInstall",
        description="how Node gets onto the servers: `binary` (the official build of that exact version, from the npm "
        "registry's `node-linux-<arch>` package, fetched where `pulumi up` runs, cached in ~/.cache/wayshub/node, shipped "
        "with the release), `apt` (the distro's `nodejs`), `nodesource` or `nvm` (fetched on the server over HTTPS; "
        "they need `nodeVersion`)",
        json_schema_extra={
            **shown("`binary` when a version is known, else `apt`"),
            **not_in_containers("an app image gets `nodeVersion`'s Node from the npm registry, else its base's"),
        },
    )
    node_version: Text | None = Field(
        default=None,
        alias="nodeVersion",
        description="the Node version (`22`, `22.11`, `22.11.0`); from the app, `engines.node` may be a range (`>=20`)",
        json_schema_extra=shown("`.nvmrc`, else package.json's `engines.node`"),
    )
    # Text (`pulumi config set --path` stores 3000 and true as such: Text makes them the text typed).
    # Each value is checked on its own, so an error names it: wayshub:app.env.<KEY>.
    env: dict[str, Annotated[Text, AfterValidator(_env_value)]] = Field(
        default_factory=dict,
        description="environment variables for the app: `NAME: value` (text; numbers and true/false as typed: "
        "`pulumi config set --path wayshub:app.env.WORKERS 4`; in a stack file quote a number with a point, `'1.10'`)",
    )
    health: HealthConfig = Field(
        default_factory=HealthConfig,
        description="how a new release proves it serves before the next host switches",
    )
    releases_kept: Annotated[int, Field(ge=1, le=20)] = Field(
        default=3, alias="releasesKept", description="releases kept on each server (the previous one is the rollback)"
    )
    release_pin: Text | None = Field(
        default=None,
        alias="releasePin",
        description="run this release id (12 hex characters) instead of the one built from `source`: `make rollback` sets it",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        check_host_name(value)
        if reserved_app_name(value):
            raise ValueError(
                f"{value!r} is a system user or unit name (the app's user, {value}.service and /etc/{value} "
                "would shadow or remove the system's own): choose another name"
            )
        return value

    @field_validator("schedules_server")
    @classmethod
    def _schedules_server(cls, value: str | None) -> str | None:
        return None if value is None else check_host_name(value)

    @field_validator("node_version")
    @classmethod
    def _node_version(cls, value: str | None) -> str | None:
        if value is not None and not NODE_VERSION.fullmatch(value):
            raise ValueError(f"{value!r} is not a Node version such as '22', '22.11' or '22.11.0'")
        return value

    @field_validator("port_env")
    @classmethod
    def _port_env(cls, value: str | list[str]) -> str | list[str]:
        names = [value] if isinstance(value, str) else value
        if not names:
            raise ValueError("must name at least one variable, e.g. PORT")
        for name in names:
            if not ENV_NAME.fullmatch(name):
                raise ValueError(f"variable name {name!r} must be UPPER_SNAKE_CASE")
        return value

    @model_validator(mode="after")
    def _version_for_installer(self) -> AppConfig:
        if self.node_install in ("nodesource", "nvm") and self.node_version is None:
            raise ValueError(f"nodeVersion is required with nodeInstall '{self.node_install}'")
        shared = sorted({p.name for p in self.processes} & {s.name for s in self.schedules})
        if shared:
            raise ValueError(f"schedules: {shared[0]!r} is a process's name too; give the schedule its own")
        taken = sorted(set(self.port_names) & set(self.env))
        if taken:
            raise ValueError(f"env.{taken[0]} is the port variable (portEnv): app.port sets it")
        return self

    @field_validator("release_pin")
    @classmethod
    def _pin(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9a-f]{12}", value):
            raise ValueError(
                f"{value!r} is not a release id (12 hex characters, as `pulumi stack output releases` shows)"
            )
        return value

    @field_validator("processes")
    @classmethod
    def _processes(cls, value: list[ProcessConfig]) -> list[ProcessConfig]:
        named_uniquely([process.name for process in value], "process")
        return value

    @field_validator("schedules")
    @classmethod
    def _schedules(cls, value: list[ScheduleConfig]) -> list[ScheduleConfig]:
        named_uniquely([schedule.name for schedule in value], "schedule")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not ENV_NAME.fullmatch(key):
                raise ValueError(f"variable name {key!r} must be UPPER_SNAKE_CASE")
        return value

    @property
    def port_names(self) -> list[str]:
        return [self.port_env] if isinstance(self.port_env, str) else list(self.port_env)

    @property
    def env_text_values(self) -> dict[str, str]:
        """``env`` as the text a process sees (each value is text already: ``Text``)."""
        return dict(self.env)
