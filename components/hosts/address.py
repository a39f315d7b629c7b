"""How a host's address and a port are written together: the one rule every layer uses."""

from __future__ import annotations


def host_port(address: str, port: int) -> str:
    """``address:port`` as nginx, curl, ss and dnspython's callers read it: an IPv6 address goes in brackets."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
