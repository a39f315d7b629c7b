"""App layer: the user's Node app built once, deployed to every app server in a rolling order."""

from components.app.app_spec import AppSpec, read_app
from components.app.node_app import NodeApp, NodeAppArgs
from components.app.release import Build, Release, build_code, pinned_release, release_id
from components.app.rollout import app_name, batches, deployed_before, roll_out

__all__ = [
    "AppSpec",
    "Build",
    "NodeApp",
    "NodeAppArgs",
    "Release",
    "app_name",
    "batches",
    "build_code",
    "deployed_before",
    "pinned_release",
    "read_app",
    "release_id",
    "roll_out",
]
