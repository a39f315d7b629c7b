#!/usr/bin/env bash
# Put or remove one ACME HTTP-01 answer in the site's webroot, as root, for nginx's
# `location ^~ /.well-known/acme-challenge/` on port 80 (templates/nginx-acme-front.conf.j2).
# components/load_balancer/acme_certificate.py runs it over SSH as `bash -c "<inputs><this file>"`:
#
#   WEBROOT  the site's ACME webroot (/var/lib/wayshub/acme/<site>)
#   ACTION   put (the key authorization on stdin) | remove
#   TOKEN    the challenge's token: the file name (base64url, checked here too)
#
# The file appears whole (temp file, then mv) and is readable by nginx's workers. Removing is idempotent.
set -euo pipefail

case "$TOKEN" in
  '' | *[!A-Za-z0-9_-]*)
    echo "not an ACME token: '$TOKEN'" >&2
    exit 2
    ;;
esac
dir="$WEBROOT/.well-known/acme-challenge"
case "$ACTION" in
  put)
    install -d -m 0755 "$WEBROOT" "$WEBROOT/.well-known" "$dir"
    tmp=$(mktemp "$dir/.tmp.XXXXXX")
    cat >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$dir/$TOKEN"
    ;;
  remove)
    rm -f "$dir/$TOKEN"
    ;;
  *)
    echo "unknown ACTION '$ACTION' (put or remove)" >&2
    exit 2
    ;;
esac
