#!/usr/bin/env bash
# Start (or restart) the backend health checker, as root: its env file from stdin (written atomically,
# 0644), then `<checker> --check` (one line naming the curl found, and exit 1, when this host's curl cannot
# run a round: better than a checker that sees every probe refused), then enable and restart its unit.
# components/load_balancer/health_check.py runs it as `bash -c "<inputs><this file>"`:
#
#   ENV_FILE  the checker's env file (/etc/wayshub/<site>-backend-health.env)
#   CHECKER   the installed checker, host/backend-health.sh (/usr/local/lib/wayshub/<site>-backend-health)
#   UNIT      its systemd unit (<site>-backend-health.service)
#
# Idempotent: the same env file again restarts the checker with the same settings.
set -euo pipefail

install -d -m 0755 "$(dirname "$ENV_FILE")"
tmp=$(mktemp "$ENV_FILE.XXXXXX")
cat >"$tmp"
chmod 0644 "$tmp" && chgrp root "$tmp"
mv -f "$tmp" "$ENV_FILE"
"$CHECKER" --check
systemctl daemon-reload
systemctl enable --quiet "$UNIT"
systemctl restart "$UNIT"
