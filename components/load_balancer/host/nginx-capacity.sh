#!/usr/bin/env bash
# nginx's capacity for many clients (docs/limits.md), as root: in nginx.conf, `worker_connections` in its
# events block and `worker_rlimit_nofile` at its top level, each line marked with what it was, so that it can
# be put back. A value nginx.conf already has is never lowered. Then `nginx -t` and a graceful reload (no
# connection is dropped); if nginx rejects the change, the previous nginx.conf is put back and this exits 1
# with nginx's message. It runs on an LB server over SSH (components/load_balancer/nginx.py) and, through
# `docker exec`, in the containers mode's nginx container (components/containers/site.py), as
# `bash -c "<inputs><this file>"`:
#
#   ACTION              apply (size and set), or restore (put back what was there once no site of ours
#                       on this nginx needs it)
#   SITE                our site: each site that applied keeps a mark in STATE_DIR until it restores
#   WORKER_CONNECTIONS  connections per worker, or `auto`: sized from this server (below)
#   NGINX_CONF          nginx's main config (/etc/nginx/nginx.conf)
#   STATE_DIR           where the marks are (/var/lib/wayshub/nginx-capacity)
#   RELOAD              how nginx reloads: `systemd` (systemctl reload) or `signal` (nginx -s reload)
#
# `auto`: a quarter of the memory (MemTotal, or the cgroup's memory.max when lower) at 32 KiB per connection
# (an idle TLS connection with its buffers takes less, a busy one with its upstream more), shared by the
# workers; at most half the open files nginx may raise a worker to (a proxied request holds two); between
# 1024 and 65536 per worker. worker_rlimit_nofile is twice worker_connections, at most that hard limit.
#
# Idempotent: applying again with the same result changes nothing and does not reload.
set -euo pipefail

MARK='# wayshub-infra: was'
MIN_CONNECTIONS=1024
MAX_AUTO_CONNECTIONS=65536
BYTES_PER_CONNECTION=32768

log() { printf '%s\n' "$*" >&2; }

workers() {
  local value
  value=$(awk '$1 == "worker_processes" { sub(/;.*/, "", $2); print $2; exit }' "$NGINX_CONF")
  case "$value" in
    '' | auto) nproc ;;
    *[!0-9]*) nproc ;;
    *) printf '%s\n' "$value" ;;
  esac
}

memory_bytes() {
  local total limit
  total=$(awk '$1 == "MemTotal:" { printf "%d\n", $2 * 1024 }' /proc/meminfo)
  limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || echo max)
  if [[ "$limit" =~ ^[0-9]+$ ]] && ((limit < total)); then total=$limit; fi
  printf '%s\n' "$total"
}

# The hard limit of open files nginx's workers may raise themselves to: the running master's, else ours.
files_hard_limit() {
  local pid limit=''
  pid=$(cat /run/nginx.pid 2>/dev/null || true)
  if [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/limits" ]; then
    limit=$(awk '/^Max open files/ { print $5 }' "/proc/$pid/limits")
  fi
  [[ "$limit" =~ ^[0-9]+$ ]] || limit=$(ulimit -Hn)
  [[ "$limit" =~ ^[0-9]+$ ]] || limit=1048576 # unlimited
  printf '%s\n' "$limit"
}

connections() {
  local files=$1 count
  if [ "$WORKER_CONNECTIONS" != auto ]; then
    if ((WORKER_CONNECTIONS > files)); then
      log "lb.limits.workerConnections $WORKER_CONNECTIONS: nginx on $(hostname) may open at most $files files per worker (its hard limit)"
      exit 1
    fi
    printf '%s\n' "$WORKER_CONNECTIONS"
    return
  fi
  count=$(($(memory_bytes) / 4 / BYTES_PER_CONNECTION / $(workers)))
  ((count <= files / 2)) || count=$((files / 2))
  ((count <= MAX_AUTO_CONNECTIONS)) || count=$MAX_AUTO_CONNECTIONS
  ((count >= MIN_CONNECTIONS)) || count=$MIN_CONNECTIONS
  printf '%s\n' "$count"
}

# nginx.conf with worker_connections $1 and worker_rlimit_nofile $2 (each at least what it was), on stdout.
sized() {
  awk -v want_conn="$1" -v want_files="$2" -v mark="$MARK" '
    function directive(line, want, name,   indent, value, was, new) {
      indent = line; sub(/[^ \t].*/, "", indent)
      value = line; sub(/^[ \t]*[a-z_]+[ \t]+/, "", value); sub(/[ \t]*;.*/, "", value)
      if (index(line, mark) > 0) { was = line; sub(".*" mark " ", "", was) } else { was = value }
      new = want
      if (was ~ /^[0-9]+$/ && was + 0 > want + 0) new = was
      return indent name " " new "; " mark " " was
    }
    /^[ \t]*worker_rlimit_nofile[ \t]/ && !in_events { print directive($0, want_files, "worker_rlimit_nofile"); files_done = 1; next }
    /^[ \t]*events[ \t]*\{/ {
      if (!files_done) { print "worker_rlimit_nofile " want_files "; " mark " none"; files_done = 1 }
      in_events = 1; print; next
    }
    in_events && /^[ \t]*worker_connections[ \t]/ { print directive($0, want_conn, "worker_connections"); conn_done = 1; next }
    in_events && /^[ \t]*\}/ {
      if (!conn_done) print "    worker_connections " want_conn "; " mark " none"
      conn_done = 1; in_events = 0; print; next
    }
    { print }
    END { if (!conn_done) exit 3 }
  ' "$NGINX_CONF"
}

# nginx.conf as it was before us, on stdout: our lines out, the values we raised back.
restored() {
  awk -v mark="$MARK" '
    index($0, mark) > 0 {
      was = $0; sub(".*" mark " ", "", was)
      if (was == "none") next
      line = $0; sub(/[ \t]*;.*/, "", line); sub(/[0-9]+$/, was, line)
      print line ";"; next
    }
    { print }
  ' "$NGINX_CONF"
}

reload() {
  if [ "$RELOAD" = signal ]; then
    nginx -s reload
  elif systemctl is-active --quiet nginx; then
    systemctl reload nginx
  fi
}

# Make nginx.conf the text in file $1: checked by `nginx -t`, reloaded; the previous one back if rejected.
install_conf() {
  local new=$1 backup out
  if cmp -s "$new" "$NGINX_CONF"; then
    rm -f "$new"
    return 0
  fi
  backup=$(mktemp "$NGINX_CONF.old.XXXXXX")
  cp -p "$NGINX_CONF" "$backup"
  chmod --reference="$NGINX_CONF" "$new"
  mv -f "$new" "$NGINX_CONF"
  if ! out=$(nginx -t 2>&1); then
    mv -f "$backup" "$NGINX_CONF"
    log "nginx -t rejected nginx.conf with our capacity lines; the previous nginx.conf stays:"
    printf '%s\n' "$out" >&2
    exit 1
  fi
  rm -f "$backup"
  reload
}

new=$(mktemp "$NGINX_CONF.new.XXXXXX")
trap 'rm -f "$new"' EXIT
case "$ACTION" in
  apply)
    files=$(files_hard_limit)
    count=$(connections "$files")
    limit=$((count * 2))
    ((limit <= files)) || limit=$files
    if ! sized "$count" "$limit" >"$new"; then
      log "$NGINX_CONF on $(hostname) has no events block: nginx's capacity is left as it is"
      exit 1
    fi
    install_conf "$new"
    mkdir -p "$STATE_DIR"
    printf '%s\n' "$count" >"$STATE_DIR/$SITE"
    printf 'worker_connections %s, worker_rlimit_nofile %s\n' "$count" "$limit"
    ;;
  restore)
    rm -f "$STATE_DIR/$SITE"
    if [ -n "$(ls -A "$STATE_DIR" 2>/dev/null)" ]; then
      exit 0 # another site of ours on this nginx still needs the capacity
    fi
    rmdir "$STATE_DIR" "$(dirname "$STATE_DIR")" 2>/dev/null || true # the parent too, when it is empty
    restored >"$new"
    install_conf "$new"
    ;;
  *)
    log "ACTION must be apply or restore, not $ACTION"
    exit 2
    ;;
esac
