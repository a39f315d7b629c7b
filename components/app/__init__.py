"""App layer: the Node app built once, deployed to every app server in a rolling order."""

from components.app.node_app import NodeApp, NodeAppArgs
from components.app.release import Release, build_release, pinned_release
from components.app.rollout import batches, roll_out

__all__ = ["NodeApp", "NodeAppArgs", "Release", "batches", "build_release", "pinned_release", "roll_out"]
