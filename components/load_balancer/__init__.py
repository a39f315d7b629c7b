"""Load-balancer layer: nginx in front of the app servers, optionally terminating TLS."""

from components.load_balancer.nginx import NginxLoadBalancer, NginxLoadBalancerArgs, TlsMaterial
from components.load_balancer.tls import SelfSignedTls

__all__ = ["NginxLoadBalancer", "NginxLoadBalancerArgs", "SelfSignedTls", "TlsMaterial"]
