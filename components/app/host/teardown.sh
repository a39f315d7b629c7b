#!/usr/bin/env bash
# Remove everything NodeApp put on this host, as root: the unit (disabled, stopped, its file removed), the
# app's root and config folders, its system user. components/app/node_app.py runs it as
# `bash -c "<inputs><this file>"`. Removes only what we made: nothing without MARK (or, from before MARK
# existed, a user whose home is ROOT as base.sh makes it), and the unit file only if we wrote it:
#
#   APP        the app's name, also its user's
#   ROOT       its root folder (/opt/APP)
#   UNIT       its systemd unit (APP.service)
#   UNIT_FILE  the unit's file (/etc/systemd/system/APP.service)
#   MARK       the file host/base.sh made: the user and unit are ours
#   ETC_DIR    its config folder (/etc/APP)
#   UPLOAD_DIRS  its upload steps' private folders (components/shell/uploads.py), space-separated
#
# Idempotent: safe on a host that has none of it.
set -euo pipefail

if [ ! -e "$MARK" ] && [ "$(getent passwd "$APP" 2>/dev/null | cut -d: -f6 || true)" != "$ROOT" ]; then
  echo "wayshub: $APP is not ours on this host (no $MARK): nothing removed" >&2
  exit 0
fi
if [ -e "$UNIT_FILE" ] && grep -q '^# Managed by wayshub-infra' "$UNIT_FILE"; then
  systemctl disable --now "$UNIT" >/dev/null 2>&1 || true
  rm -f "$UNIT_FILE"
  systemctl daemon-reload
  # A unit that ended failed stays listed (not-found failed) until reset.
  systemctl reset-failed "$UNIT" >/dev/null 2>&1 || true
fi
# Its processes (app.processes): APP@NAME.service; its jobs' timers and units (app.schedules):
# APP@job-NAME.timer and .service (the timers first: no run starts meanwhile). Ours only.
for file in "$(dirname "$UNIT_FILE")/$APP"@*.timer "$(dirname "$UNIT_FILE")/$APP"@*.service; do
  if [ -f "$file" ] && grep -q '^# Managed by wayshub-infra' "$file"; then
    systemctl disable --now "$(basename "$file")" >/dev/null 2>&1 || true
    rm -f "$file"
    systemctl daemon-reload
    systemctl reset-failed "$(basename "$file")" >/dev/null 2>&1 || true
  fi
done
rm -rf "$ROOT" "$ETC_DIR"
for dir in $UPLOAD_DIRS; do rm -rf "$dir"; done
if id -u "$APP" >/dev/null 2>&1; then userdel "$APP"; fi
rm -f "$MARK"
