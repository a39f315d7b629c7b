"""The stack's superseded images go after a successful `up` (containers mode): the prune step.

pulumi-docker never deletes a local image (its ``Image`` delete does nothing), so every release and every
new nginx image would stay. After every server switched and the site step ran, ``host/prune-images.sh``
removes, from the stack's two repositories (``containers.appImage``, ``containers.nginxImage``), every tag
that is neither

- kept: an image of the stack output ``release_images`` (the releases a rollback may run again, rollout.py's
  ``kept_images``: ``app.releasesKept`` + 1), or one this `up` declares (the app image built from ``app/``,
  also while a release is pinned, and the nginx image: their ``docker.Image`` resources never build again
  while their inputs stay the same, so their images must stay), nor
- in use: the image of any container on the daemon, running or not, of any stack or none.

A repository that another stack's containers use (label ``wayshub.stack``) is left whole: that stack may keep
other tags of it for a rollback. Tags go with ``docker image rm``, never ``--force``: Docker itself refuses while
a container uses the image, and only untags an image that another tag still names. The step never fails the
`up`: what it cannot remove it names and leaves. Its inputs are what it keeps, so it runs again exactly when
that changes (a new release, a rollback, a new nginx image); a second `up` with nothing changed leaves it
alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import pulumi

from components.containers.args import ContainerSiteArgs
from components.containers.build_context import nginx_context
from components.containers.commands import local_script
from components.shell.command import local

PRUNE_SCRIPT = "prune-images.sh"


def prune_name(site: str) -> str:
    return f"{site}-prune-images"


def repositories(args: ContainerSiteArgs) -> list[str]:
    """The stack's image repositories, app first (one entry when both are the same)."""
    return list(dict.fromkeys([args.app_image, args.nginx_image]))


def kept_refs(args: ContainerSiteArgs, images: Iterable[str]) -> list[str]:
    """``images`` (the release images and the app image this `up` declares) and the nginx image: sorted, once."""
    nginx = f"{args.nginx_image}:{nginx_context(args.nginx_base).digest}"
    return sorted({*images, nginx})


def prune_command(args: ContainerSiteArgs, keep: Iterable[str]) -> str:
    """``bash -c`` of host/prune-images.sh with its inputs (one image reference or repository a line)."""
    return local_script(
        PRUNE_SCRIPT,
        {"STACK": args.stack, "REPOSITORIES": "\n".join(repositories(args)), "KEEP": "\n".join(keep)},
    )


def prune_images(
    site: str, args: ContainerSiteArgs, images: Iterable[str], opts: pulumi.ResourceOptions
) -> local.LocalCommandResource:
    """The prune step, ``<site>-prune-images``: keeps ``images`` and the nginx image (``opts``: its parent and
    what it runs after)."""
    return local.Command(prune_name(site), opts, create=prune_command(args, kept_refs(args, images)))
