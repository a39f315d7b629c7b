"""How a host's address and a port are written together: the one rule every layer uses."""

from __future__ import annotations

import re

from components.config.base import DOMAIN, normal_address

_INCLUDE = re.compile(r"/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*\.conf")


def host_port(address: str, port: int) -> str:
    """``address:port`` as nginx, curl, ss and dnspython's callers read it: an IPv6 address goes in brackets.

    The address is checked again here, where it meets the nginx upstream and the health checker's env file
    (defence in depth: the config already refused anything but an address): ValueError otherwise."""
    address = normal_address(address)
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def checked_host_port(text: str) -> str:
    """``text`` if it is exactly what ``host_port`` writes (a normal address and a port), else ValueError:
    the check where a backend meets an nginx upstream or an env file, whoever made the text."""
    address, sep, port = text.rpartition(":")
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    if not sep or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"backend {text!r} is not address:port")
    if host_port(address, int(port)) != text:
        raise ValueError(f"backend {text!r} is not a normalised address:port")
    return text


def checked_include(path: str) -> str:
    """``path`` if it is an absolute ``.conf`` file name of plain characters (an upstream file containers mode
    writes, included by the site), else ValueError."""
    if not _INCLUDE.fullmatch(path) or "/../" in path:
        raise ValueError(f"upstream file {path!r} is not an absolute .conf path of plain characters")
    return path


def checked_site(domain: str, backends: list[str], *, includes: bool = False) -> list[str]:
    """The backends sorted, once the domain (an nginx comment and ``server_name``) and each backend are checked
    again where they meet the nginx site: ValueError for anything but a host name and ``address:port``s (with
    ``includes``, the files holding each backend's server line)."""
    if not DOMAIN.fullmatch(domain):
        raise ValueError(f"domain {domain!r} is not a host name")
    return sorted((checked_include if includes else checked_host_port)(backend) for backend in backends)
