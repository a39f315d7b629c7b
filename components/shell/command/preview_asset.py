"""What pulumi-command's ``CopyToRemote`` is given in a preview, where the file may not exist yet.

The real provider rejects an unknown ``source`` ("either asset or archive must be set"), and the engine
hashes a ``FileAsset`` as it registers the resource ("failed to open asset file"). A preview builds
nothing: the release tarball of a new build does not exist, and the Node package of a fresh host waits
for its ``uname -m``. So in a preview the copy gets the file when it is known and exists, else a text
placeholder saying what ``up`` copies; and its ``source`` is left out of the preview's diff
(``ignore_changes``), because the copy's other inputs already name the content: the build id in its
``triggers``, the Node version in its ``remote_path``. An unchanged release previews no change, a new
one its replacement, a new host its creation. ``up`` registers the real file, built by then.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pulumi

PLACEHOLDER = "wayshub: the file `pulumi up` copies here (a preview builds or fetches nothing)"
PREVIEW_OPTS = pulumi.ResourceOptions(ignore_changes=["source"])


def preview_source(source: pulumi.Input[pulumi.FileAsset]) -> pulumi.Output[pulumi.Asset]:
    """``source`` when it is known and its file exists, else :data:`PLACEHOLDER` as a text asset; always known."""
    given = pulumi.Output.from_input(source)

    async def value() -> pulumi.Asset:
        if await given.is_known():
            asset = await given.future()
            if isinstance(asset, pulumi.FileAsset) and Path(str(asset.path)).is_file():
                return asset
        return pulumi.StringAsset(PLACEHOLDER)

    async def known() -> bool:
        return True

    return pulumi.Output(given.resources(), asyncio.ensure_future(value()), asyncio.ensure_future(known()))
