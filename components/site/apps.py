"""Step 2: each site's app on its app servers — surveyed first on your own servers, rolled out in batches,
with its release task and scheduled jobs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pulumi

from components import config as stack_config
from components.app import NodeApp, NodeAppArgs, app_name, deployed_before, roll_out
from components.app.layout import app_user, unit_name
from components.app.plan import SiteApp
from components.app.release_task import ReleaseTask, ReleaseTaskArgs
from components.app.schedules import Schedules, SchedulesArgs
from components.config import SiteView
from components.hosts import Host
from components.hosts.from_config import Servers
from components.hosts.survey import SurveyArgs, survey_servers
from components.layout import site_label, site_resource
from components.load_balancer.nginx import site_path
from components.site.inputs import Inputs


def site_servers(inputs: Inputs, site: SiteView, servers: Servers) -> Servers:
    """A site's app servers and the LBs. On your own servers each of wayshub:sites is surveyed for what is
    already there (its port, unit, user, domain) like the stack's own site, before any of its steps."""
    mine = replace(servers, app=[host for host in servers.app if host.name in site.servers])
    if not site.key or inputs.settings.hosts.provider != "existing":
        return mine
    survey = SurveyArgs(
        app_port=site.app.port,
        app_unit=unit_name(site.app.name),
        app_user=app_user(site.app.name),
        domain=site.names[0],
        site_file=site_path(site_label(inputs.stack, site.key)),
        takeover=inputs.settings.hosts.takeover,
    )
    if site.path:  # its domain is another site's: only its app servers have anything to survey
        return replace(survey_servers(replace(mine, lbs=[]), survey, site.key, inputs.under), lbs=mine.lbs)
    return survey_servers(mine, survey, site.key, inputs.under)


def host_site(inputs: Inputs, site: SiteView) -> SiteView:
    """The site whose domain ``site`` serves a path of (``site`` itself when it has no path)."""
    if not site.path:
        return site
    return next(view for view in inputs.settings.all_sites if not view.path and view.names[0] == site.names[0])


def has_paths(inputs: Inputs, site: SiteView) -> bool:
    """Whether other sites serve paths of ``site``'s domain (then its servers include their locations)."""
    return any(view.path and host_site(inputs, view).key == site.key for view in inputs.settings.all_sites)


def secret_env(inputs: Inputs, site: str) -> pulumi.Output[dict[str, str]] | None:
    """A site's secret env values as a secret Output: appSecrets for the stack's own, siteSecrets.<site> else."""
    if not site:
        return inputs.secrets.app_env()
    if site not in inputs.site_secrets:
        return None
    return inputs.secrets.site_env(site)


def deploy_app(inputs: Inputs, site_app: SiteApp, hosts: list[Host], takeover: bool) -> list[NodeApp]:
    """One site's app on its app servers, rolled out in batches over the hosts that serve it already. With a
    release task (app.releaseTask) every host first makes the release folder, the task runs on the first, and
    only then does the rollout switch hosts."""
    settings, tuning = inputs.settings, inputs.tuning
    site = site_app.site
    with_task = site_app.run.task_text() is not None and site_app.release.build is not None
    settle = settings.lb.fail_timeout_seconds + 1 if len(hosts) > 1 and tuning.settle else 0

    def app(host: Host, after: Sequence[pulumi.Resource]) -> NodeApp:
        return NodeApp(
            app_name(host, site.key),
            NodeAppArgs(
                host=host,
                run=site_app.run,
                release=site_app.release,
                secret_env=secret_env(inputs, site.key),
                releases_kept=site.app.releases_kept,
                settle_seconds=settle,
                after=after,
                takeover=takeover,
                prepare=with_task,
            ),
            inputs.under,
        )

    deployed = deployed_before(takeover or tuning.chain_first_deploy, site.key)
    if not with_task:
        return with_schedules(inputs, site_app, hosts, roll_out(hosts, settings.rollout.batch_size, app, deployed))
    prepared = {host.name: app(host, []) for host in hosts}
    task = ReleaseTask(
        site_resource(site.key, "release-task"),
        ReleaseTaskArgs(
            host=hosts[0],
            run=site_app.run,
            release=site_app.release,
            timeout_seconds=site.app.release_task_timeout_seconds,
            prepared=[a.prepare for a in prepared.values() if a.prepare is not None],
        ),
        inputs.under,
    )
    return with_schedules(
        inputs,
        site_app,
        hosts,
        roll_out(
            hosts, settings.rollout.batch_size, lambda host, after: prepared[host.name].switch([*after, task]), deployed
        ),
    )


def with_schedules(inputs: Inputs, site_app: SiteApp, hosts: list[Host], apps: list[NodeApp]) -> list[NodeApp]:
    """``apps``, after declaring the site's scheduled jobs (app.schedules) on its app.schedulesServer (else its
    first app server), once that server runs the release (which carries the jobs' scripts)."""
    site = site_app.site
    if site.app.schedules:
        index = next((i for i, host in enumerate(hosts) if host.name == site.app.schedules_server), 0)
        Schedules(
            site_resource(site.key, "schedules"),
            SchedulesArgs(
                host=hosts[index],
                run=site_app.run,
                setting=f"{stack_config.NAMESPACE}:{site.where}app.schedules",
                after=apps[index].deploy,
            ),
            inputs.under,
        )
    return apps
