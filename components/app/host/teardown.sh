#!/usr/bin/env bash
# Remove everything NodeApp put on this host, as root: the unit (disabled, stopped, its file removed), the
# app's root and config folders, its system user. components/app/node_app.py runs it as
# `bash -c "<inputs><this file>"`:
#
#   APP        the app's name, also its user's
#   ROOT       its root folder (/opt/APP)
#   UNIT       its systemd unit (APP.service)
#   UNIT_FILE  the unit's file (/etc/systemd/system/APP.service)
#   ETC_DIR    its config folder (/etc/APP)
#   UPLOAD_DIRS  its upload steps' private folders (components/shell/uploads.py), space-separated
#
# Idempotent: safe on a host that has none of it.
set -euo pipefail

systemctl disable --now "$UNIT" >/dev/null 2>&1 || true
rm -f "$UNIT_FILE"
systemctl daemon-reload
rm -rf "$ROOT" "$ETC_DIR"
for dir in $UPLOAD_DIRS; do rm -rf "$dir"; done
if id -u "$APP" >/dev/null 2>&1; then userdel "$APP"; fi
