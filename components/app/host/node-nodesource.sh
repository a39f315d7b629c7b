#!/usr/bin/env bash
# Install Node of one major version from NodeSource's apt repository unless that major is already on
# PATH, as root, and print the absolute path of its `node`. components/app/node_app.py runs it as
# `bash -c "<inputs><this file>"`:
#
#   MAJOR  the major version (its repository: node_MAJOR.x); a node of another one after the install
#          exits 1 with one line on stderr
#
# Idempotent: a node of that major already there is used as it is.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -q -o DPkg::Lock::Timeout=300 "$@"; }
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" != "$MAJOR" ]; then
  apt_get update >/dev/null
  apt_get install -y --no-install-recommends ca-certificates curl gnupg >/dev/null
  install -d -m 0755 /etc/apt/keyrings
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
  printf '%s\n' "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_$MAJOR.x nodistro main" \
    >/etc/apt/sources.list.d/nodesource.list
  apt_get update >/dev/null
  apt_get install -y nodejs >/dev/null
fi
node=$(readlink -f "$(command -v node)")
if [ -n "$MAJOR" ] && [ "$("$node" -p 'process.versions.node.split(".")[0]')" != "$MAJOR" ]; then
  echo "wayshub:app.nodeVersion: this host's node (from NodeSource) is not version $MAJOR;" \
    "pick nodeInstall nodesource or nvm, or set nodeVersion to what the host has" >&2
  exit 1
fi
printf '%s\n' "$node"
