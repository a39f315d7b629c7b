#!/usr/bin/env bash
# Stop and remove the backend health checker, as root: its unit disabled and stopped, its unit file, env
# file and script removed. components/load_balancer/health_check.py runs it as
# `bash -c "<inputs><this file>"`:
#
#   UNIT       its systemd unit (<site>-backend-health.service)
#   UNIT_FILE  the unit's file (/etc/systemd/system/<unit>)
#   ENV_FILE   its env file
#   CHECKER    the installed checker script
#
# Idempotent: a missing unit or file is fine. A unit that ended failed (a crash, or a stop while it waited
# to restart) is reset too, so systemd forgets it once its file is gone.
set -euo pipefail

systemctl disable --now --quiet "$UNIT" 2>/dev/null || true
rm -f "$UNIT_FILE" "$ENV_FILE" "$CHECKER"
systemctl daemon-reload
systemctl reset-failed "$UNIT" 2>/dev/null || true
