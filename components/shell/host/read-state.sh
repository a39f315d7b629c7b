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
# Prints "<kind> <path>" TAB "<value>" for each check, in the order given: "missing" for what is not
# there, "unreadable" for a file that is there but could not be read. Every host runs this on every
# refresh, so it forks little: one sha256sum for all files, one stat for all modes, one for all folders;
# only links, users and units take a command each (a host has one or two).
set -uo pipefail

declare -a kinds=() paths=() files=() modes=() dirs=()
declare -A value=()

while IFS=' ' read -r kind path; do
  [ -n "$kind" ] || continue
  kinds+=("$kind") paths+=("$path")
  key="$kind $path"
  case $kind in
    content) if [ -f "$path" ]; then files+=("$path"); value[$key]=unreadable; else value[$key]=missing; fi ;;
    mode) if [ -e "$path" ] || [ -L "$path" ]; then modes+=("$path"); value[$key]=unreadable; else value[$key]=missing; fi ;;
    dir) if [ -d "$path" ]; then dirs+=("$path"); value[$key]=unreadable; else value[$key]=missing; fi ;;
    link) if [ -L "$path" ]; then value[$key]=$(readlink -- "$path"); else value[$key]=missing; fi ;;
    exec) if [ -f "$path" ] && [ -x "$path" ]; then value[$key]=present; else value[$key]=missing; fi ;;
    user) if id -u -- "$path" >/dev/null 2>&1; then value[$key]=present; else value[$key]=missing; fi ;;
    unit) value[$key]="$(systemctl is-enabled -- "$path" 2>/dev/null) $(systemctl is-active -- "$path" 2>/dev/null)" ;;
    active) value[$key]=$(systemctl is-active -- "$path" 2>/dev/null) ;;
    *) value[$key]='unknown check' ;;
  esac
done <<<"$CHECKS"

# The batched answers name their path ("<sha256>  <path>", "<path> TAB <mode owner:group>"), so a file
# that vanished or could not be read in between only leaves its own value at "unreadable".
if [ "${#files[@]}" -gt 0 ]; then
  while IFS= read -r line; do
    value["content ${line#*  }"]=${line%%  *}
  done < <(sha256sum -- "${files[@]}" 2>/dev/null)
fi
if [ "${#modes[@]}" -gt 0 ]; then
  while IFS=$'\t' read -r path owner; do
    value["mode $path"]=$owner
  done < <(stat -c $'%n\t%a %U:%G' -- "${modes[@]}" 2>/dev/null)
fi
if [ "${#dirs[@]}" -gt 0 ]; then
  while IFS=$'\t' read -r path owner; do
    value["dir $path"]=$owner
  done < <(stat -L -c $'%n\t%a %U:%G' -- "${dirs[@]}" 2>/dev/null)
fi

for i in "${!kinds[@]}"; do
  key="${kinds[$i]} ${paths[$i]}"
  out=${value[$key]}
  printf '%s\t%s\n' "$key" "${out//[$'\n\t']/}"
done
