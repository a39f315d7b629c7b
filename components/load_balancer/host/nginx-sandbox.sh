#!/usr/bin/env bash
# Install (or, with DROPIN_TEXT empty, remove) our sandboxing drop-in for nginx.service, as root.
# components/load_balancer/nginx.py runs it as `bash -c "<inputs><this file>"`:
#
#   DROPIN        the drop-in's path (/etc/systemd/system/nginx.service.d/<ours>.conf)
#   DROPIN_TEXT   its text (templates/nginx-sandbox.conf.j2); empty: remove it
#   JOURNAL_LINES how much of nginx's journal a failure shows
#   NGINX_DIR     nginx's config folder (/etc/nginx)
#
# Sandboxing takes effect only when nginx (re)starts (a reload keeps the old process and its old
# sandbox). A restart drops every connection nginx holds, so it restarts only while nginx serves no
# site yet (stopped, or only Debian's `default` site: a fresh LB, before our site is published);
# on an LB that already serves, the drop-in takes effect at nginx's next restart, and this says so.
# If nginx does not start under the new drop-in, the previous one (or none) is put back, nginx is
# started again as it was, and this exits 1 with nginx's journal: the LB never stays down because of it.
set -euo pipefail

log() { printf '%s\n' "$*" >&2; }

serves_a_site() {
  systemctl is-active --quiet nginx || return 1
  local conf
  for conf in "$NGINX_DIR"/conf.d/*.conf "$NGINX_DIR"/sites-enabled/*; do
    [ -e "$conf" ] || continue
    [ "$(basename "$conf")" = default ] || return 0
  done
  return 1
}

deferred() {
  log "nginx on $(hostname) serves sites now: $1 at its next restart (not forced: a restart drops connections)"
}

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
  if serves_a_site; then deferred "nginx runs without the sandboxing drop-in"; else systemctl try-restart nginx; fi
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
if serves_a_site; then
  [ -z "$backup" ] || rm -f "$backup"
  deferred "the sandboxing drop-in $DROPIN takes effect"
  exit 0
fi
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
