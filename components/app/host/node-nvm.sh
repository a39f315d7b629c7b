#!/usr/bin/env bash
# Install Node with nvm (nvm itself first, when missing), as root, and print the absolute path of its
# `node`; the tree is made readable for the app's user. components/app/node_app.py runs it as
# `bash -c "<inputs><this file>"`:
#
#   NVM_DIR      nvm's folder (/opt/nvm)
#   NVM_VERSION  the nvm release to install (its install.sh from GitHub)
#   VERSION      the Node version for `nvm install` (a major, or exact)
#
# Idempotent: nvm and a Node version already installed are kept.
set -euo pipefail

export NVM_DIR
if [ ! -s "$NVM_DIR/nvm.sh" ]; then
  install -d -m 0755 "$NVM_DIR"
  curl -fsSL "https://raw.githubusercontent.com/nvm-sh/nvm/$NVM_VERSION/install.sh" | PROFILE=/dev/null bash >/dev/null
fi
set +u
# shellcheck source=/dev/null
. "$NVM_DIR/nvm.sh"
nvm install "$VERSION" >/dev/null
node=$(nvm which "$VERSION")
set -u
# The app's system user must be able to run it.
chmod -R a+rX "$NVM_DIR"
printf '%s\n' "$node"
