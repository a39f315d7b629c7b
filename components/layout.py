"""The names every deployment mode shares, one pattern each (addresses: components/config/hosts.py).

A stack's things on a machine are ``wayshub-<stack>``: its nginx site (VMs), its SSH key's comment, and,
followed by the server's name, its sandbox VMs and its containers (``wayshub-<stack>-<server>``).
"""

from __future__ import annotations

from collections.abc import Iterable

PREFIX = "wayshub"
# The component a stack's whole site hangs under (components/site/component.py).
SITE_TYPE = "wayshub:index:Site"


def stack_label(stack: str) -> str:
    """``wayshub-<stack>``: the site name on the LB, the SSH key's comment."""
    return f"{PREFIX}-{stack}"


def site_label(stack: str, site: str) -> str:
    """A site's things on the LB (nginx file, checker unit, zones): ``wayshub-<stack>`` for the stack's own
    site (``site`` ``""``), ``wayshub-<stack>-<site>`` for each of ``wayshub:sites``."""
    return f"{stack_label(stack)}-{site}" if site else stack_label(stack)


def site_resource(site: str, name: str) -> str:
    """A resource's name for a site: ``name`` itself for the stack's own site (what a single-site stack always
    had), ``<site>-<name>`` for each of ``wayshub:sites`` (``shop-lb``, ``shop-app1-app``)."""
    return f"{site}-{name}" if site else name


def site_of_resource(name: str, sites: Iterable[str]) -> str:
    """Which of ``sites`` (keys of ``wayshub:sites``) a resource named ``name`` belongs to, by the prefix
    ``site_resource`` gives it; ``""``: the stack's own site."""
    return next((site for site in sites if site and name.startswith(site_resource(site, ""))), "")


def site_component(site: str) -> str:
    """The component that holds a site's files, certificate and checkers on the LBs (``SiteOnLbs``): ``shop-site``."""
    return site_resource(site, "site")


def site_of_component(name: str) -> str:
    """The site whose ``site_component`` is named ``name`` (``""``: none)."""
    key = name.rpartition("-")[0]
    return key if key and site_component(key) == name else ""


def app_component(server: str, site: str = "") -> str:
    """A site's ``NodeApp`` on an app server (``app1-app``, ``shop-app1-app``); the ops tools find the server by it."""
    return site_resource(site, f"{server}-app")


def container_name(stack: str, server: str) -> str:
    """The Docker container of a server (a sandbox VM or, in containers mode, the app or LB itself)."""
    return f"{stack_label(stack)}-{server}"


def lb_component(index: int) -> str:
    """The LB layer's name for the ``index``-th load balancer: ``lb``, then ``lb2`` (with ``hosts.lbServers``).
    Its resources are named after it (``lb-site``, ``lb2-health``); the ops tools find each LB by it."""
    return "lb" if index == 0 else f"lb{index + 1}"


def ca_file(stack: str, site: str = "") -> str:
    """Where `make up` saves a self-signed site's CA certificate, relative to the project (scripts/site-urls)."""
    return f".wayshub/ca-{stack}{f'-{site}' if site else ''}.pem"
