"""App layer: the Node app built once, deployed to every app server."""

from components.app.node_app import NodeApp, NodeAppArgs
from components.app.release import Release, build_release

__all__ = ["NodeApp", "NodeAppArgs", "Release", "build_release"]
