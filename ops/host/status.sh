# What one host runs, as key=value lines for ops/status.py (run as root by `make status`; read-only).
# Inputs (assigned before this text by Python): ROLE (app|lb) APP PORT HEALTH_PATH STATUS_LOW STATUS_HIGH
#   HEALTH_BODY ({release} = the release `current` points to) PROBE_JS (components/app/host/probe.js)
#   SITE_FILE UPSTREAM (its name in SITE_FILE) HEALTH_UNIT (the LB's backend health check unit, empty if none)
#   VIRTUAL_ADDRESS (the address two LBs share; empty with one LB)
set -uo pipefail

say() { printf '%s=%s\n' "$1" "$2"; }
epoch() { [ -n "$1" ] && date -d "$1" +%s 2>/dev/null || echo ""; }
# state, since (epoch), restarts of a systemd unit
unit_facts() {
  local prefix=$1 unit=$2
  say "${prefix}_state" "$(systemctl show -p ActiveState --value "$unit" 2>/dev/null || echo unknown)"
  say "${prefix}_since" "$(epoch "$(systemctl show -p StateChangeTimestamp --value "$unit" 2>/dev/null)")"
  say "${prefix}_restarts" "$(systemctl show -p NRestarts --value "$unit" 2>/dev/null)"
}

say hostname "$(hostname)"
say disk_free_kb "$(df -Pk / | awk 'NR == 2 { print $4 }')"
say disk_used "$(df -Pk / | awk 'NR == 2 { print $5 }')"

if [ "$ROLE" = app ]; then
  root=/opt/$APP
  release=$(basename "$(readlink "$root/current" 2>/dev/null)" 2>/dev/null || true)
  say release "$release"
  unit_facts unit "$APP.service"
  # app.processes the live release carries: each one's unit state (process_<name>=active).
  for file in "$root/current/processes/"*.unit; do
    [ -f "$file" ] || continue
    name=$(basename "$file" .unit)
    say "process_$name" "$(systemctl show -p ActiveState --value "$APP@$name.service" 2>/dev/null || echo unknown)"
  done
  # app.schedules, on the server that runs them: each job's timer, its last run and its next
  # (job_<name>_timer/_state/_result/_exit/_last/_next).
  for file in /etc/systemd/system/"$APP"@job-*.timer; do
    [ -f "$file" ] || continue
    name=${file##*/"$APP"@job-} && name=${name%.timer}
    job=$APP@job-$name.service
    say "job_${name}_timer" "$(systemctl show -p ActiveState --value "$APP@job-$name.timer" 2>/dev/null)"
    say "job_${name}_state" "$(systemctl show -p ActiveState --value "$job" 2>/dev/null)"
    say "job_${name}_result" "$(systemctl show -p Result --value "$job" 2>/dev/null)"
    say "job_${name}_exit" "$(systemctl show -p ExecMainStatus --value "$job" 2>/dev/null)"
    say "job_${name}_last" "$(epoch "$(systemctl show -p ExecMainStartTimestamp --value "$job" 2>/dev/null)")"
    say "job_${name}_next" "$(epoch "$(systemctl show -p NextElapseUSecRealtime --value "$APP@job-$name.timer" 2>/dev/null)")"
  done
  node=$(readlink -f "$root/current/bin/node" 2>/dev/null || command -v node || true)
  say node "$([ -n "$node" ] && "$node" --version 2>/dev/null)"
  pid=$(systemctl show -p MainPID --value "$APP.service" 2>/dev/null || echo 0)
  if [ -z "$node" ] || [ "${pid:-0}" = 0 ]; then
    say health "not running"
  else
    start=$(date +%s%N)
    if answer=$(runuser -u "$APP" -- "$node" -e "$PROBE_JS" "$PORT" "$HEALTH_PATH" "$STATUS_LOW" "$STATUS_HIGH" \
      "${HEALTH_BODY//\{release\}/$release}" "$pid" 2>&1); then
      say health ok
    else
      say health "$(echo "${answer:-probe failed}" | tr '\n' ' ' | cut -c1-120)"
    fi
    say health_ms $((($(date +%s%N) - start) / 1000000))
  fi
else
  unit_facts nginx nginx.service
  # The upstream members nginx has on disk, with their flags (down, backup), one per line joined by ','.
  members=$(awk -v upstream="$UPSTREAM" '
    $1 == "upstream" && $2 == upstream { inside = 1; next }
    inside && $1 == "}" { inside = 0 }
    inside && $1 == "server" { sub(/;$/, "", $2); print $2 }' "$SITE_FILE" 2>/dev/null | paste -sd, -)
  say upstream "$members"
  if nginx -t >/dev/null 2>&1; then say nginx_config ok; else say nginx_config invalid; fi
  [ -z "$HEALTH_UNIT" ] || say health_unit "$(systemctl show -p ActiveState --value "$HEALTH_UNIT" 2>/dev/null)"
  if [ -n "$VIRTUAL_ADDRESS" ]; then
    unit_facts keepalived keepalived.service
    # (every line read: an early exit would stop `ip` with SIGPIPE)
    held=$(ip -o -4 addr show | awk -v a="$VIRTUAL_ADDRESS" '{ split($4, p, "/"); if (p[1] == a) n++ } END { print n + 0 }')
    if [ "$held" -gt 0 ]; then say holds yes; else say holds no; fi
  fi
fi
