#!/usr/bin/env bash
# Taking over a hand-built LB (hosts.takeover), as root, once OUR site is live: disable every other
# enabled nginx site that serves the domain, keeping a copy, then `nginx -t` and reload. Run as
# `bash -c` with components/hosts/host/lib.sh and these inputs prepended (components/load_balancer/takeover.py):
#
#   DOMAIN SITE_FILE BACKUP   the site's domain, our site file, where copies go
#
# Ours wins already (conf.d is included before sites-enabled, and nginx keeps the first server for a
# name), so retiring theirs changes no answer. Prints one line per disabled file. If nginx -t fails
# afterwards, everything is put back and nothing is reloaded.
set -euo pipefail

retired=()
while IFS= read -r file; do
  [ -n "$file" ] || continue
  keep_copy "$file" "$BACKUP"
  rm -f "$file"
  retired+=("$file")
done <<<"$(foreign_sites "$DOMAIN" "$SITE_FILE")"
[ "${#retired[@]}" -gt 0 ] || exit 0

if ! out=$(nginx -t 2>&1); then
  for file in "${retired[@]}"; do cp -a "$BACKUP$file" "$file"; done
  printf 'nginx -t failed without %s; put back, nothing reloaded:\n%s\n' "${retired[*]}" "$out" >&2
  exit 1
fi
systemctl reload nginx
for file in "${retired[@]}"; do
  printf '%s: disabled %s, which served %s (copy in %s)\n' "$(hostname)" "$file" "$DOMAIN" "$BACKUP$file"
done
