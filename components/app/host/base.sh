#!/usr/bin/env bash
# Make the app's system user (no login shell, home at its root) and its folders, as root.
# components/app/node_app.py runs it as `bash -c "<inputs><this file>"`:
#
#   APP   the app's name, also its user's
#   ROOT  its root folder (/opt/APP), made with releases/, code/ and node/ in it
#
# Idempotent: a user or folder already there is kept as it is.
set -euo pipefail

id -u "$APP" >/dev/null 2>&1 || useradd --system --home-dir "$ROOT" --shell /usr/sbin/nologin "$APP"
install -d -m 0755 "$ROOT" "$ROOT/releases" "$ROOT/code" "$ROOT/node"
