#!/usr/bin/env bash
# What is already on a server before anything of ours is deployed there, as root (bash -c with
# components/hosts/host/lib.sh and the inputs prepended by components/hosts/survey.py):
#
#   SERVER ROLE          the server's name in the stack; app or lb
#   PORT UNIT APP_USER   app: the app's port, our systemd unit (its own processes are not conflicts) and its user
#   DOMAIN SITE_FILE     lb: the site's domain and our nginx site file (not a conflict)
#   TAKEOVER BACKUP      1: list what `up` will take over (exit 0); else fail on any conflict
#
# A conflict is a process other than our unit listening on the app's port (the app run by hand), or an
# enabled nginx site other than ours that serves the domain (a hand-written reverse proxy).
set -euo pipefail

conflicts=()
if [ "$ROLE" = app ]; then
  for pid in $(port_holders "$PORT" "$UNIT" "$APP_USER"); do
    if [ "$pid" = "?" ]; then
      conflicts+=("port $PORT is held by a process root cannot see (no CAP_SYS_PTRACE?)")
    else
      conflicts+=("port $PORT is held by $(describe_pid "$pid")")
    fi
  done
else
  while IFS= read -r file; do
    [ -n "$file" ] && conflicts+=("$file already serves $DOMAIN")
  done <<<"$(foreign_sites "$DOMAIN" "$SITE_FILE")"
fi

if [ "${#conflicts[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$TAKEOVER" = 1 ]; then
  for conflict in "${conflicts[@]}"; do printf '%s: will take over: %s (copy kept in %s)\n' "$SERVER" "$conflict" "$BACKUP"; done
  exit 0
fi
for conflict in "${conflicts[@]}"; do printf '%s: %s\n' "$SERVER" "$conflict" >&2; done
printf '%s\n' "wayshub:hosts.takeover: nothing was changed; to stop hand-run apps and disable those sites (keeping copies under $BACKUP on each server), set wayshub:hosts.takeover to true" >&2
exit 1
