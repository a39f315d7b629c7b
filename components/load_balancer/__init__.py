"""Load-balancer layer: nginx in front of the app servers, optionally terminating TLS."""

from components.load_balancer.health_check import BackendHealthCheck, BackendHealthCheckArgs
from components.load_balancer.nginx import NginxLoadBalancer, NginxLoadBalancerArgs, TlsMaterial
from components.load_balancer.tls import SelfSignedTls

__all__ = [
    "BackendHealthCheck",
    "BackendHealthCheckArgs",
    "NginxLoadBalancer",
    "NginxLoadBalancerArgs",
    "SelfSignedTls",
    "TlsMaterial",
]
