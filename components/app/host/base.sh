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
# The app user must never be able to become root: no admin group, no sudo rule (docs/architecture.md).
if id -nG "$APP" | tr ' ' '\n' | grep -qxE 'root|sudo|admin|wheel|adm'; then
  echo "$APP on $(hostname): user $APP is in an admin group ($(id -nG "$APP")); the app must not run as an administrator" >&2
  exit 1
fi
if command -v sudo >/dev/null 2>&1 && LC_ALL=C sudo -n -l -U "$APP" 2>/dev/null | grep -q ' may run the following commands'; then
  echo "$APP on $(hostname): user $APP may run sudo; the app must not run as an administrator" >&2
  exit 1
fi
