#!/usr/bin/env bash
# Take this LB out of the shared address: stop and disable keepalived, remove our configuration and track
# script, as root. components/load_balancer/failover.py runs it as `bash -c "<inputs><this file>"`:
#
#   CONF   keepalived's configuration file
#   MARK   the first line of ours: someone else's file (and their keepalived) is left alone
#   INTERFACE_FILE  the file ours includes
#   CHECK  our track script
#   DROPIN our drop-in for nginx.service, and STATE_FILE the file it writes
#   ORDER  our drop-in for keepalived.service
#
# The keepalived package stays (as nginx does). Idempotent.
set -euo pipefail

if [ -f "$CONF" ] && [ "$(head -n 1 "$CONF")" = "$MARK" ]; then
  systemctl disable --now keepalived >/dev/null 2>&1 || true
  rm -f -- "$CONF" "$INTERFACE_FILE"
fi
rm -f -- "$CHECK" "$STATE_FILE"
# Our scripts' folder goes if nothing else of ours is left in it (the health checker's script may still be).
rmdir --ignore-fail-on-non-empty -- "$(dirname -- "$CHECK")" 2>/dev/null || true
if [ -f "$DROPIN" ] || [ -f "$ORDER" ]; then
  rm -f -- "$DROPIN" "$ORDER"
  systemctl daemon-reload
fi
