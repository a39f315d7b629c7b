#!/usr/bin/env bash
# Install keepalived when missing and make stdin (templates/keepalived.conf.j2) its configuration, as root.
# components/load_balancer/failover.py runs it as `bash -c "<inputs><this file>"`:
#
#   CONF           keepalived's configuration file (/etc/keepalived/keepalived.conf)
#   MARK           the first line our file starts with: a file without it is someone else's and is kept
#   OWN_ADDRESS    this LB's private address: the interface holding it is written to INTERFACE_FILE
#   INTERFACE_FILE `interface <name>`, which stdin includes (so CONF is stdin byte for byte)
#   CHECK          where the track script goes (root-owned, 0755)
#   CHECK_TEXT     the track script's text
#   DROPIN         our drop-in for nginx.service (templates/nginx-vrrp.conf.j2): it writes STATE_FILE
#   DROPIN_TEXT    its text
#   STATE_FILE     1 while nginx is down, 0 while it runs: keepalived tracks it (written now, as nginx is)
#   ORDER          keepalived.service's drop-in: it starts after nginx and so stops BEFORE it (a shutdown
#                  hands the address over first, then nginx finishes its requests)
#
# The new file is checked with `keepalived --config-test` before it replaces the old one; keepalived is then
# enabled and reloaded (started the first time). Idempotent.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
if ! command -v keepalived >/dev/null; then
  apt-get -q -o DPkg::Lock::Timeout=300 update >/dev/null
  # Debian starts it at once with no configuration; it is stopped until ours is in place.
  apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends keepalived >/dev/null
  [ -s "$CONF" ] || systemctl stop keepalived >/dev/null 2>&1 || true
fi
if [ -s "$CONF" ] && [ "$(head -n 1 "$CONF")" != "$MARK" ]; then
  echo "$CONF is not ours (its first line is not '$MARK'): this server already runs keepalived for something" \
    "else; move that configuration or use another LB server" >&2
  exit 1
fi

# (awk reads every line: an early exit would stop `ip` with SIGPIPE, a failure under pipefail)
interface=$(ip -o addr show to "$OWN_ADDRESS" | awk 'NR == 1 {print $2}')
case $interface in
  '' | *[!A-Za-z0-9_.@-]*)
    echo "no network interface holds $OWN_ADDRESS (this LB's private address) here: check privateAddress" >&2
    exit 1
    ;;
esac
interface=${interface%%@*}

# holds FILE TEXT: FILE is TEXT and a newline already. put FILE MODE TEXT: make it so (mode MODE, group root),
# atomically. (Called plainly, not in a condition, so that `set -e` stops at any failure inside.)
holds() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
put() {
  local file=$1 mode=$2 text=$3 tmp
  install -d -m 0755 "$(dirname "$file")"
  tmp=$(mktemp "$file.XXXXXX")
  printf '%s\n' "$text" >"$tmp"
  chmod "$mode" "$tmp"
  chgrp root "$tmp"
  mv -f "$tmp" "$file"
}

order_text=$'[Unit]\nAfter=nginx.service'
put "$CHECK" 0755 "$CHECK_TEXT"
changed=0
if ! holds "$DROPIN" "$DROPIN_TEXT"; then
  put "$DROPIN" 0644 "$DROPIN_TEXT"
  changed=1
fi
if ! holds "$ORDER" "$order_text"; then
  put "$ORDER" 0644 "$order_text"
  changed=1
fi
[ "$changed" = 0 ] || systemctl daemon-reload
install -d -m 0755 "$(dirname "$STATE_FILE")"
if systemctl is-active --quiet nginx; then echo 0 >"$STATE_FILE"; else echo 1 >"$STATE_FILE"; fi
put "$INTERFACE_FILE" 0644 "    interface $interface"

tmp=$(mktemp "$CONF.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat >"$tmp"
chmod 0644 "$tmp" && chgrp root "$tmp"
if ! out=$(keepalived --config-test --use-file "$tmp" 2>&1); then
  echo "keepalived refuses the new configuration (the old one stays): $out" >&2
  exit 1
fi
mv -f "$tmp" "$CONF"
trap - EXIT
systemctl enable keepalived >/dev/null 2>&1
systemctl reload-or-restart keepalived
systemctl is-active --quiet keepalived
keepalived --version 2>&1 | sed -n 1p
