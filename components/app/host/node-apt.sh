#!/usr/bin/env bash
# Install Node from the OS packages (`nodejs`) unless a node is on PATH, as root, and print the absolute
# path of its `node`. components/app/node_app.py runs it as `bash -c "<inputs><this file>"`:
#
#   MAJOR  the major version the app wants (empty: any); another one exits 1 with one line on stderr
#
# Idempotent: a node already there is used as it is.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -q -o DPkg::Lock::Timeout=300 "$@"; }
if ! command -v node >/dev/null; then
  apt_get update >/dev/null
  apt_get install -y --no-install-recommends nodejs >/dev/null
fi
node=$(readlink -f "$(command -v node)")
if [ -n "$MAJOR" ] && [ "$("$node" -p 'process.versions.node.split(".")[0]')" != "$MAJOR" ]; then
  echo "wayshub:app.nodeVersion: this host's node (from apt) is not version $MAJOR;" \
    "pick nodeInstall nodesource or nvm, or set nodeVersion to what the host has" >&2
  exit 1
fi
printf '%s\n' "$node"
