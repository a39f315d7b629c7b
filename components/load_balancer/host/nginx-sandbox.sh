#!/usr/bin/env bash
# Install (or, with DROPIN_TEXT empty, remove) our sandboxing drop-in for nginx.service, as root.
# components/load_balancer/nginx.py runs it as `bash -c "<inputs><this file>"`:
#
#   DROPIN        the drop-in's path (/etc/systemd/system/nginx.service.d/<ours>.conf)
#   DROPIN_TEXT   its text (templates/nginx-sandbox.conf.j2); empty: remove it
#   JOURNAL_LINES how much of nginx's journal a failure shows
#
# Sandboxing takes effect only when nginx (re)starts, so a changed drop-in restarts nginx once (a
# reload would keep the old process and its old sandbox). If nginx does not start under the new
# drop-in, the previous one (or none) is put back, nginx is started again as it was, and this exits 1
# with nginx's journal: the LB never stays down because of it.
set -euo pipefail

log() { printf '%s\n' "$*" >&2; }

dir=$(dirname "$DROPIN")
current=
[ ! -f "$DROPIN" ] || current=$(cat "$DROPIN")
if [ "$current" = "$DROPIN_TEXT" ]; then
  exit 0
fi
if [ -z "$DROPIN_TEXT" ]; then
  rm -f "$DROPIN"
  rmdir --ignore-fail-on-non-empty "$dir" 2>/dev/null || true
  systemctl daemon-reload
  systemctl try-restart nginx
  exit 0
fi

backup=
if [ -f "$DROPIN" ]; then
  backup=$(mktemp "$DROPIN.old.XXXXXX")
  cp -p "$DROPIN" "$backup"
fi
install -d -m 0755 "$dir"
tmp=$(mktemp "$DROPIN.new.XXXXXX")
printf '%s\n' "$DROPIN_TEXT" >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$DROPIN"
systemctl daemon-reload
if systemctl restart nginx; then
  [ -z "$backup" ] || rm -f "$backup"
  exit 0
fi

journal=$(journalctl -u nginx -n "$JOURNAL_LINES" --no-pager 2>&1 || true)
if [ -n "$backup" ]; then mv -f "$backup" "$DROPIN"; else rm -f "$DROPIN"; fi
systemctl daemon-reload
if systemctl restart nginx; then
  outcome="the previous setup is back and nginx runs"
else
  outcome="nginx does not start with the previous setup either"
fi
log "nginx on $(hostname) does not start with the sandboxing drop-in $DROPIN; $outcome. Journal:"
printf '%s\n' "$journal" >&2
exit 1
