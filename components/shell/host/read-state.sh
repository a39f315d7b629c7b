#!/usr/bin/env bash
# Read back what wayshub-infra manages on this host, as root, in one go (components/shell/host_state.py
# runs it as `sudo bash -c "<inputs><this file>"` for `pulumi refresh`). Changes nothing.
#
#   CHECKS   one check a line, "<kind> <path or name>"; kinds:
#            content  sha256 of a regular file's bytes (never the bytes: env files and keys hold secrets)
#            mode     "<octal mode> <owner>:<group>" of a file or folder
#            link     the target a symlink holds
#            dir      "<octal mode> <owner>:<group>" of a folder
#            exec     whether the path is an executable file
#            user     whether the user exists
#            unit     "<is-enabled> <is-active>" of a systemd unit
#            active   "<is-active>" of a systemd unit
#
# Prints "<kind> <path>" TAB "<value>" for each check, "missing" for what is not there.
set -uo pipefail

value() {
  local kind=$1 path=$2 out
  case $kind in
    content) if [ -f "$path" ]; then out=$(sha256sum <"$path") && printf '%s' "${out%% *}"; else printf missing; fi ;;
    mode) stat -c '%a %U:%G' -- "$path" 2>/dev/null || printf missing ;;
    link) readlink -- "$path" 2>/dev/null || printf missing ;;
    dir) if [ -d "$path" ]; then stat -L -c '%a %U:%G' -- "$path"; else printf missing; fi ;;
    exec) if [ -f "$path" ] && [ -x "$path" ]; then printf present; else printf missing; fi ;;
    user) if id -u -- "$path" >/dev/null 2>&1; then printf present; else printf missing; fi ;;
    unit) printf '%s %s' "$(systemctl is-enabled -- "$path" 2>/dev/null || true)" "$(systemctl is-active -- "$path" 2>/dev/null || true)" ;;
    active) systemctl is-active -- "$path" 2>/dev/null || true ;;
    *) printf 'unknown check' ;;
  esac
}

while IFS=' ' read -r kind path; do
  [ -n "$kind" ] || continue
  printf '%s %s\t%s\n' "$kind" "$path" "$(value "$kind" "$path" | tr -d '\n\t')"
done <<<"$CHECKS"
