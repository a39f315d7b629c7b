#!/usr/bin/env bash
# Deploy one release of a Node app on this host, as root. components/app/node_app.py runs it as
# `bash -c "<inputs><this file>"`, the inputs being the UPPER_CASE variables below; stdin carries the
# release's env file (secrets included) and is read only when the release folder is new.
#
#   APP RID              app name, release id
#   PINNED               1: switch to release RID already on this host (a rollback), nothing is made
#   BUILD_ID UPLOAD      the code's build id and its uploaded tarball, in its private folder (empty when pinned)
#   NODE                 absolute path of the node binary the stack's settings want (kept by the prune)
#   START_TEXT UNIT_TEXT the release's start script and systemd unit
#   TASK_TEXT            the release task's script (app.releaseTask; empty: none)
#   PROCESSES            app.processes on this host, by name (unset: the app has none); each NAME has
#                        PROCESS_NAME_START, PROCESS_NAME_UNIT (its script and unit), PROCESS_NAME_HEALTHY
#                        (seconds it must keep running after its start) and PROCESS_NAME_CHECK (its health
#                        command's script; empty: none). With a check: SANDBOX (the app unit's sandboxing
#                        lines, templates/app-sandbox.j2) and CHECK_TIMEOUT (seconds it may run)
#   SCHEDULES            app.schedules by name (unset: none); each NAME's script is SCHEDULE_NAME_START. Every
#                        host's release carries them; one host's timers run them (components/app/schedules.py)
#   PREPARE              1: only make (or repair) the release folder and print RID; the switch is a later run
#                        (with a release task, which runs between the two: components/app/release_task.py)
#   PORT HEALTH_PATH STATUS_LOW STATUS_HIGH HEALTH_BODY HEALTH_TIMEOUT HEALTH_INTERVAL   the health check
#   PROBE_JS             components/app/host/probe.js
#   KEEP SETTLE JOURNAL_LINES
#   TAKEOVER BACKUP      1: first stop any other process holding PORT (an app run by hand), noting it in
#                        BACKUP/processes.txt (functions from components/hosts/host/lib.sh)
#   TAKEOVER_SETTLE      seconds to wait after such a host is healthy again, before the next batch
#
# Layout: /opt/APP/code/BUILD_ID (unpacked once per build), /opt/APP/releases/RID/{app -> code,
# bin/node, start, env, unit, task, processes/{NAME,NAME.unit,NAME.healthy}, schedules/NAME}; each process's unit is
# /etc/systemd/system/APP@NAME.service, /opt/APP/current -> releases/RID. The unit runs current/start with
# current/env, so switching `current` (and the unit file the release carries) switches everything.
# An existing release folder is checked file by file and what differs is written again (a repair after
# drift; noted on stderr). Prints "RID PREVIOUS" on success, then one line per process a takeover stopped. On a failed health check the host goes back to its previous
# release (or, with none, stops the unit) and this exits 1 with the reason and the journal tail.
set -euo pipefail

root=/opt/$APP
releases=$root/releases
current=$root/current
unit=$APP.service
unit_file=/etc/systemd/system/$unit
release=$releases/$RID
created=
# A release folder a PREPARE run made, not yet switched to: this run made it, as far as a failure goes.
created_mark=$release.created
processes=${PROCESSES-}
schedules=${SCHEDULES-}

log() { printf '%s\n' "$*" >&2; }

failed_unit=
previous=$(basename "$(readlink "$current" 2>/dev/null)" 2>/dev/null || true)
# Re-running the live release (a repair after drift): what it would roll back to is the release
# switched to before it (switch() touches each release folder, so the newest other one).
if [ "$previous" = "$RID" ]; then
  previous=$(find "$releases" -mindepth 1 -maxdepth 1 -type d ! -name '*.partial' ! -name "$RID" -printf '%T@ %f\n' |
    sort -rn | head -n 1 | cut -d' ' -f2-)
fi
# Serving before this run (nginx may then hold it failed after the restart: wait SETTLE).
was_active=$(systemctl is-active "$unit" 2>/dev/null || true)
restored=()

unpack_code() {
  local code=$root/code/$BUILD_ID
  [ ! -d "$code" ] || return 0
  local upload
  if [ ! -f "$UPLOAD" ]; then
    log "$APP on $(hostname): build $BUILD_ID is neither unpacked nor uploaded ($UPLOAD); run pulumi up again"
    exit 1
  fi
  upload=$(take_upload "$UPLOAD")
  rm -rf "$code.partial" && mkdir -p "$code.partial"
  tar -xzf "$upload" -C "$code.partial" --no-same-owner
  rm -rf "$(dirname "$upload")"
  chmod -R a+rX,go-w "$code.partial"
  mv -T "$code.partial" "$code"
}

# The release's files into folder $1 (root's, modes as below); the env file from stdin.
write_release() {
  mkdir -p "$1/bin"
  ln -sfn "../../code/$BUILD_ID" "$1/app"
  ln -sfn "$NODE" "$1/bin/node"
  printf '%s' "$START_TEXT" >"$1/start"
  printf '%s' "$UNIT_TEXT" >"$1/unit"
  if [ -n "$TASK_TEXT" ]; then
    printf '%s' "$TASK_TEXT" >"$1/task"
    chown root:root "$1/task" && chmod 0755 "$1/task"
  fi
  local name var
  if [ -n "$processes" ]; then
    mkdir -p "$1/processes"
    for name in $processes; do
      var=PROCESS_${name}_START && printf '%s' "${!var}" >"$1/processes/$name"
      var=PROCESS_${name}_UNIT && printf '%s' "${!var}" >"$1/processes/$name.unit"
      var=PROCESS_${name}_HEALTHY && printf '%s\n' "${!var}" >"$1/processes/$name.healthy"
      chmod 0755 "$1/processes/$name" && chmod 0644 "$1/processes/$name.unit" "$1/processes/$name.healthy"
      var=PROCESS_${name}_CHECK
      if [ -n "${!var-}" ]; then printf '%s' "${!var}" >"$1/processes/$name.check" && chmod 0755 "$1/processes/$name.check"; fi
    done
    chown -R root:root "$1/processes" && chmod 0755 "$1/processes"
  fi
  if [ -n "$schedules" ]; then
    mkdir -p "$1/schedules"
    for name in $schedules; do
      var=SCHEDULE_${name}_START && printf '%s' "${!var}" >"$1/schedules/$name"
      chmod 0755 "$1/schedules/$name"
    done
    chown -R root:root "$1/schedules" && chmod 0755 "$1/schedules"
  fi
  (umask 077 && cat >"$1/env")
  printf '%s\n' "$RID" >"$1/RELEASE"
  chown -h root:root "$1" "$1/bin" "$1/app" "$1/bin/node" "$1/start" "$1/unit" "$1/env" "$1/RELEASE"
  chmod 0755 "$1" "$1/bin" "$1/start" && chmod 0644 "$1/unit" "$1/RELEASE" && chmod 0600 "$1/env"
}

make_release() {
  local partial=$release.partial
  unpack_code
  rm -rf "$partial"
  write_release "$partial"
  mv -T "$partial" "$release"
  created=1
}

# The release exists: put back whatever was changed in it (a repair after drift), file by file.
repair_release() {
  local fresh=$root/repair.partial name
  unpack_code
  rm -rf "$fresh"
  write_release "$fresh"
  for name in app bin/node; do
    if [ "$(readlink "$release/$name" 2>/dev/null)" != "$(readlink "$fresh/$name")" ]; then
      mkdir -p "$(dirname "$release/$name")"
      mv -Tf "$fresh/$name" "$release/$name"
      restored+=("$name")
    fi
  done
  local files=(start unit env RELEASE)
  [ -z "$TASK_TEXT" ] || files+=(task)
  for name in $processes; do
    files+=("processes/$name" "processes/$name.unit" "processes/$name.healthy")
    var=PROCESS_${name}_CHECK && [ -z "${!var-}" ] || files+=("processes/$name.check")
  done
  for name in $schedules; do files+=("schedules/$name"); done
  for name in "${files[@]}"; do
    if ! cmp -s "$fresh/$name" "$release/$name" ||
      [ "$(stat -c '%a %U:%G' "$fresh/$name")" != "$(stat -c '%a %U:%G' "$release/$name" 2>/dev/null)" ]; then
      mkdir -p "$(dirname "$release/$name")"
      mv -f "$fresh/$name" "$release/$name"
      restored+=("$name")
    fi
  done
  rm -rf "$fresh"
}

# Point `current` at release $1 and install the unit it carries (a release made before units were
# kept per release keeps running under the unit it had).
switch() {
  touch "$releases/$1"
  ln -sfn "$releases/$1" "$current.new" && mv -T "$current.new" "$current"
  if [ -f "$releases/$1/unit" ] && ! cmp -s "$releases/$1/unit" "$unit_file"; then
    install -m 0644 "$releases/$1/unit" "$unit_file"
    systemctl daemon-reload
  fi
  install_processes "$1"
}

show() { systemctl show -p "$1" --value "${2:-$unit}"; }

# The process units release $1 carries (app.processes) installed; ours that it does not carry stopped and
# removed (release "": all of them).
install_processes() {
  local dir=$releases/$1/processes changed='' file name target
  for file in "$dir"/*.unit; do
    [ -f "$file" ] && [ -n "$1" ] || continue
    name=$(basename "$file" .unit)
    target=/etc/systemd/system/$APP@$name.service
    if ! cmp -s "$file" "$target"; then
      install -m 0644 "$file" "$target"
      changed=1
    fi
  done
  for target in /etc/systemd/system/"$APP"@*.service; do
    name=${target##*/"$APP"@} && name=${name%.service}
    # APP@job-NAME: a scheduled job's unit (components/app/schedules.py), not a process.
    if [ "${name#job-}" = "$name" ] && [ -f "$target" ] && { [ -z "$1" ] || [ ! -f "$dir/$name.unit" ]; } && grep -q '^# Managed by wayshub-infra' "$target"; then
      systemctl disable --now "$APP@$name.service" >/dev/null 2>&1 || true
      rm -f "$target"
      systemctl reset-failed "$APP@$name.service" >/dev/null 2>&1 || true
      changed=1
    fi
  done
  [ -z "$changed" ] || systemctl daemon-reload
}

# Restart release $1's processes (app.processes), then check each still runs after the longest of their healthy
# seconds: active, and the same main process (one that exited and was restarted by systemd has another).
# Sets $reason and $failed_unit when one does not.
restart_processes() {
  local dir=$releases/$1/processes file name longest=0 seconds i
  local names=() pids=()
  for file in "$dir"/*.unit; do
    [ -f "$file" ] || continue
    name=$(basename "$file" .unit)
    systemctl enable "$APP@$name.service" >/dev/null 2>&1
    systemctl restart "$APP@$name.service"
    names+=("$name")
    pids+=("$(show MainPID "$APP@$name.service")")
    seconds=$(cat "$dir/$name.healthy" 2>/dev/null || echo 5)
    [ "$seconds" -le "$longest" ] || longest=$seconds
  done
  [ "${#names[@]}" -gt 0 ] || return 0
  sleep "$longest"
  for i in "${!names[@]}"; do
    if [ "${pids[i]}" = 0 ] || [ "$(show ActiveState "$APP@${names[i]}.service")" != active ] ||
      [ "$(show MainPID "$APP@${names[i]}.service")" != "${pids[i]}" ]; then
      reason="process ${names[i]} did not keep running for ${longest}s after its start"
      failed_unit=$APP@${names[i]}.service
      return 1
    fi
  done
  for name in "${names[@]}"; do
    [ -x "$dir/$name.check" ] || continue
    if ! output=$(process_check "$1" "$name"); then
      reason="process $name's healthCommand failed: $(tail -n 3 <<<"$output" | tr '\n' ' ')"
      failed_unit=$APP@$name.service
      return 1
    fi
  done
}

# Run release $1's health command of process $2 (app.processes[].healthCommand) the way the process runs: as
# the app's user, in the release's app folder, with its env file and sandbox; stopped after CHECK_TIMEOUT.
process_check() {
  local release=$releases/$1 properties=() line
  while IFS= read -r line; do
    [ -z "$line" ] || properties+=(-p "$line")
  done <<<"${SANDBOX-}"
  systemd-run --quiet --wait --pipe --collect --unit="$APP-check-$2" \
    -p "User=$APP" -p "Group=$APP" -p "WorkingDirectory=$release/app" -p "EnvironmentFile=$release/env" \
    -p "RuntimeMaxSec=$CHECK_TIMEOUT" "${properties[@]}" "$release/processes/$2.check" </dev/null 2>&1
}

# Restart and wait until the process THIS restart started answers the health check for release $1.
# Sets $reason to why not. The probe runs as the app's user: it may read its own processes' sockets
# without CAP_SYS_PTRACE (which containers, our sandbox VMs among them, do not give root).
restart_healthy() {
  local wanted=${HEALTH_BODY//\{release\}/$1} probe_node invocation pid deadline
  probe_node=$(readlink -f "$releases/$1/bin/node" 2>/dev/null || command -v node)
  systemctl enable "$unit" >/dev/null 2>&1
  systemctl restart "$unit"
  invocation=$(show InvocationID)
  pid=$(show MainPID)
  deadline=$((SECONDS + HEALTH_TIMEOUT))
  while :; do
    if [ "$pid" = 0 ] || [ "$(show InvocationID)" != "$invocation" ] || [ "$(show MainPID)" != "$pid" ]; then
      reason="the app exited (systemd is restarting it)"
      return 1
    fi
    if [ "$(show ActiveState)" = active ] &&
      reason=$(runuser -u "$APP" -- "$probe_node" -e "$PROBE_JS" "$PORT" "$HEALTH_PATH" "$STATUS_LOW" "$STATUS_HIGH" "$wanted" "$pid" 2>&1); then
      restart_processes "$1"
      return
    fi
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep "$HEALTH_INTERVAL"
  done
}

if [ "$PINNED" = 1 ]; then
  if [ ! -d "$release" ]; then
    log "wayshub:app.releasePin: release $RID is not on $(hostname) (it keeps the last $KEEP)"
    exit 1
  fi
elif [ ! -d "$release" ]; then
  make_release
else
  repair_release
fi
if [ "${#restored[@]}" -gt 0 ]; then
  log "$APP on $(hostname): restored release $RID's ${restored[*]}"
fi
[ -z "$UPLOAD" ] || rm -f "$UPLOAD"
if [ "$PREPARE" = 1 ]; then
  [ -z "$created" ] || touch "$created_mark"
  printf '%s\n' "$RID"
  exit 0
fi
if [ -f "$created_mark" ]; then
  created=1
  rm -f "$created_mark"
fi
# A release from before releases carried their unit: keep the unit it runs under, for a rollback.
if [ -n "$previous" ] && [ -d "$releases/$previous" ] && [ ! -f "$releases/$previous/unit" ] && [ -f "$unit_file" ]; then
  cp "$unit_file" "$releases/$previous/unit"
fi

# Taking over a hand-built setup: whatever else holds the app's port goes, right before our switch.
stopped=()
if [ "$TAKEOVER" = 1 ]; then
  for pid in $(port_holders "$PORT" "$unit" "$APP"); do
    if [ "$pid" = "?" ]; then
      log "$APP on $(hostname): port $PORT is held by a process root cannot see; stop it by hand"
      exit 1
    fi
    what=$(describe_pid "$pid")
    mkdir -p "$BACKUP"
    printf '%s %s cwd=%s\n' "$(date -Is)" "$what" "$(readlink "/proc/$pid/cwd" 2>/dev/null || true)" >>"$BACKUP/processes.txt"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    stopped+=("$(hostname): took over port $PORT: stopped $what (noted in $BACKUP/processes.txt)")
  done
fi

switch "$RID"
if ! restart_healthy "$RID"; then
  failure=$reason
  check="GET $HEALTH_PATH on port $PORT within ${HEALTH_TIMEOUT}s"
  [ -z "$failed_unit" ] || check="$failed_unit running"
  journal=$(journalctl -u "${failed_unit:-$unit}" -n "$JOURNAL_LINES" --no-pager 2>&1 || true)
  if [ -n "$previous" ] && [ "$previous" != "$RID" ] && [ -d "$releases/$previous" ]; then
    switch "$previous"
    if restart_healthy "$previous"; then
      outcome="rolled back to $previous (healthy)"
    else
      outcome="rolled back to $previous, which is not healthy either ($reason)"
    fi
  elif [ -z "$created" ]; then
    # The release was already here (a repair, or a host whose other releases are gone): it stays live.
    outcome="no other release to roll back to, so $RID stays the current release"
  else
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
    install_processes ""
    rm -f "$current"
    outcome="no previous release to roll back to, so $unit is stopped"
  fi
  [ -z "$created" ] || rm -rf "$release"
  log "$APP on $(hostname): release $RID failed its health check ($check): $failure; $outcome. Journal:"
  printf '%s\n' "$journal" >&2
  exit 1
fi

# Only a host that was serving before can have been marked failed by nginx; a first deploy has no
# traffic to protect, so it does not hold up the next batch. A host taken over from a hand-run app was
# serving through the hand-written site, whose nginx may hold it failed for its own fail_timeout.
if [ "${#stopped[@]}" -gt 0 ]; then
  sleep "$TAKEOVER_SETTLE"
elif { [ -n "$previous" ] || [ "$was_active" = active ]; } && [ "$SETTLE" != 0 ]; then
  sleep "$SETTLE"
fi

# Keep the newest releases (by switch time), never the live one nor one a scheduled job runs from (app.schedules:
# a run keeps its release to its end; its start script exported WAYSHUB_RELEASE to each of its processes);
# then code and Node no release uses (but the Node the settings want, which this host's node step installed once).
keep=$release
for job in /etc/systemd/system/"$APP"@job-*.service; do
  [ -f "$job" ] || continue
  group=$(show ControlGroup "$(basename "$job")" 2>/dev/null || true)
  [ -n "$group" ] || continue
  while read -r pid; do
    running=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^WAYSHUB_RELEASE=//p' || true)
    [ -z "$running" ] || keep+=$'\n'"$releases/$running"
  done <"/sys/fs/cgroup$group/cgroup.procs" 2>/dev/null || true
done
find "$releases" -mindepth 1 -maxdepth 1 -type d ! -name '*.partial' -printf '%T@ %p\n' | sort -rn |
  tail -n +$((KEEP + 1)) | cut -d' ' -f2- | { grep -vxF "$keep" || true; } | xargs -r rm -rf
for mark in "$releases"/*.created; do
  if [ -f "$mark" ] && [ ! -d "${mark%.created}" ]; then rm -f "$mark"; fi
done
used=$(for r in "$releases"/*/; do readlink -f "${r}app" "${r}bin/node" 2>/dev/null || true; done)
wanted_node=$(dirname "$(dirname "$NODE")")
for dir in "$root"/code/* "$root"/node/*; do
  if [ ! -d "$dir" ] || [ "$dir" = "$wanted_node" ]; then continue; fi
  grep -qF "$dir/" <<<"$used"$'\n' || grep -qxF "$dir" <<<"$used" || rm -rf "$dir"
done
printf '%s %s\n' "$RID" "$previous"
for note in "${stopped[@]}"; do printf '%s\n' "$note"; done
