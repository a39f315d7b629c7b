#!/usr/bin/env bash
# Make the app's system user (no login shell, home at its root) and its folders, as root.
# components/app/node_app.py runs it as `bash -c "<inputs><this file>"`:
#
#   APP        the app's name, also its user's
#   ROOT       its root folder (/opt/APP), made with releases/, code/ and node/ in it
#   UNIT       its systemd unit (APP.service)
#   UNIT_FILE  the unit's file (/etc/systemd/system/APP.service)
#   MARK       the file that says the user and unit are ours (/var/lib/wayshub-infra/apps/APP)
#
# Never adopts what the system or someone else made: a user APP that is not ours (no MARK, and its home is
# not ROOT as we make it) or a unit APP.service loaded from another file, or one we did not write, stops the
# step before any change (ssh, nginx, root, a colleague's service…). Idempotent: ours already there is kept.
set -euo pipefail

refuse() {
  echo "wayshub:app.name: $1 already exists on this host and was not made by wayshub-infra; choose another app.name" >&2
  exit 1
}

if [ ! -e "$MARK" ]; then
  if id -u "$APP" >/dev/null 2>&1; then
    home=$(getent passwd "$APP" | cut -d: -f6)
    [ "$home" = "$ROOT" ] || refuse "user '$APP' (home $home)"
  fi
  fragment=$(systemctl show --property=FragmentPath --value "$UNIT" 2>/dev/null || true)
  if [ -n "$fragment" ] && [ "$fragment" != "$UNIT_FILE" ]; then
    refuse "unit $UNIT ($fragment)"
  fi
  if [ -e "$UNIT_FILE" ] && ! grep -q '^# Managed by wayshub-infra' "$UNIT_FILE"; then
    refuse "unit file $UNIT_FILE"
  fi
  install -d -m 0700 "$(dirname "$MARK")"
  printf '%s\n' "user $APP, unit $UNIT, folder $ROOT: made by wayshub-infra" >"$MARK"
fi
id -u "$APP" >/dev/null 2>&1 || useradd --system --home-dir "$ROOT" --shell /usr/sbin/nologin "$APP"
install -d -m 0755 "$ROOT" "$ROOT/releases" "$ROOT/code" "$ROOT/node"
# The app user must never be able to become root: no admin group, no sudo rule (docs/architecture.md).
if id -nG "$APP" | tr ' ' '\n' | grep -qxE 'root|sudo|admin|wheel|adm'; then
  echo "$APP on $(hostname): user $APP is in an admin group ($(id -nG "$APP")); the app must not run as an administrator" >&2
  exit 1
fi
if command -v sudo >/dev/null 2>&1 && LC_ALL=C sudo -n -l -U "$APP" 2>/dev/null | grep -q ' may run the following commands'; then
  echo "$APP on $(hostname): user $APP may run sudo; the app must not run as an administrator" >&2
  exit 1
fi
