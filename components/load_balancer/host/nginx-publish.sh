#!/usr/bin/env bash
# Make the site text on stdin our live nginx site, as root: write it to a temp file, move it over the live
# file, `nginx -t`; on failure put the previous file back (or remove ours if there was none), never reload,
# and exit 1 with nginx's message on stderr (the old site keeps serving). Else reload nginx (start it if
# it is stopped). components/load_balancer/nginx.py runs it as `bash -c "<inputs><this file>"`:
#
#   LIVE     our site file in conf.d (/etc/nginx/conf.d/<site>.conf)
#   STAGING  the prefix of the temp files, outside conf.d so nginx never includes them (/etc/nginx/<site>.conf)
#
# Idempotent: the same text again is the same file, `nginx -t` and a reload.
set -euo pipefail

new=$(mktemp "$STAGING.new.XXXXXX")
old=''
cat >"$new"
chmod 0644 "$new"
if [ -f "$LIVE" ]; then
  old=$(mktemp "$STAGING.old.XXXXXX")
  cp -p "$LIVE" "$old"
fi
mv -f "$new" "$LIVE"
if ! out=$(nginx -t 2>&1); then
  if [ -n "$old" ]; then mv -f "$old" "$LIVE"; else rm -f "$LIVE"; fi
  echo 'nginx -t rejected the new site; the previous config stays live:' >&2
  printf '%s\n' "$out" >&2
  exit 1
fi
if [ -n "$old" ]; then rm -f "$old"; fi
if systemctl is-active --quiet nginx; then systemctl reload nginx; else systemctl start nginx; fi
