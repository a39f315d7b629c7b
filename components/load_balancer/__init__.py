"""Load-balancer layer: nginx in front of the app servers."""

from components.load_balancer.nginx import NginxLoadBalancer, NginxLoadBalancerArgs

__all__ = ["NginxLoadBalancer", "NginxLoadBalancerArgs"]
