#!/usr/bin/env bash
# Unpack the official Node binary shipped to this host (the `node-linux-<arch>` npm package's tarball),
# as root, once per version, and print the absolute path of its `node`. components/app/node_app.py runs
# it as `bash -c "<inputs><this file>"`:
#
#   DEST    the version's folder (/opt/<app>/node/<version>): bin/node and LICENSE go there
#   UPLOAD  the uploaded tarball, in its private folder (taken out of it by take_upload, removed afterwards)
#
# Idempotent: a version already unpacked is kept; the folder appears whole or not at all.
set -euo pipefail

if [ ! -x "$DEST/bin/node" ]; then
  upload=$(take_upload "$UPLOAD")
  rm -rf "$DEST.partial" && mkdir -p "$DEST.partial"
  tar -xzf "$upload" -C "$DEST.partial" --strip-components=1 --no-same-owner package/bin/node package/LICENSE
  rm -rf "$(dirname "$upload")"
  "$DEST.partial/bin/node" --version >/dev/null
  chmod -R a+rX,go-w "$DEST.partial" && mv -T "$DEST.partial" "$DEST"
fi
rm -f "$UPLOAD"
printf '%s\n' "$DEST/bin/node"
