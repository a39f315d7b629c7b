#!/usr/bin/env bash
# Run the app's release task (app.releaseTask) once for a new release, as root, on one app server: after
# every app server has the release folder (host/deploy.sh with PREPARE=1) and before any switches to it.
# components/app/release_task.py runs it as `bash -c "<inputs><this file>"`:
#
#   APP RID        app name, release id
#   UNIT           the transient unit it runs as (APP-release-task.service); its journal tag: UNIT without .service
#   ROOT           the app's folder (/opt/APP): releases/RID holds the release's task script, `task`
#   SANDBOX        the app unit's sandboxing lines (templates/app-sandbox.j2), each a systemd-run property
#   TIMEOUT        seconds the task may run before systemd stops it (a failure)
#   OUTPUT_LINES   how many of its last output lines a failure shows
#
# The task runs as a transient unit, UNIT: as the app's user, in the release's app
# folder, with the release's env file, Node and sandbox, the way the app's own unit runs the start script.
# Its output goes to stdout and to the journal (under its tag). It passed: the file TASK_PASSED in the release
# folder says so, and a later run for the same release (a repair, a second `up`) runs nothing. It failed: exit
# 1 with one line naming the host, the release and how it ended, then the output's last lines; nothing
# switched.
set -euo pipefail

release=$ROOT/releases/$RID
unit=$UNIT
tag=${UNIT%.service}
host=$(hostname)

if [ ! -x "$release/task" ]; then
  echo "wayshub:app.releaseTask: release $RID of $APP on $host has no task script ($release/task); run pulumi up again" >&2
  exit 1
fi
if [ -f "$release/TASK_PASSED" ]; then
  echo "release task of $RID passed on $(cut -d' ' -f1 "$release/TASK_PASSED"): not run again"
  exit 0
fi

properties=()
while IFS= read -r line; do
  [ -z "$line" ] || properties+=(-p "$line")
done <<<"$SANDBOX"

# A task left running by an up that was killed: it finishes (or times out) first; never two at once.
while systemctl is-active --quiet "$unit"; do sleep 1; done
systemctl reset-failed "$unit" >/dev/null 2>&1 || true

output=$(mktemp)
trap 'rm -f "$output"' EXIT
set +e
systemd-run --quiet --wait --pipe --unit="$unit" \
  -p "Description=$APP release task of $RID (app.releaseTask)" \
  -p "User=$APP" -p "Group=$APP" -p "WorkingDirectory=$release/app" -p "EnvironmentFile=$release/env" \
  -p "RuntimeMaxSec=$TIMEOUT" -p "SyslogIdentifier=$tag" "${properties[@]}" \
  "$release/task" </dev/null >"$output" 2>&1
code=$?
set -e
# --pipe hands the task our stdout, not the journal's: its output goes there too (journalctl -t <tag>).
systemd-cat -t "$tag" <"$output" || true
if [ "$code" != 0 ]; then
  # A failed transient unit stays loaded (without --collect) until reset: how it ended, then forget it.
  result=$(systemctl show -p Result --value "$unit" 2>/dev/null || true)
  systemctl reset-failed "$unit" >/dev/null 2>&1 || true
  case $result in
    timeout) why="stopped after ${TIMEOUT}s, app.releaseTaskTimeoutSeconds" ;;
    signal | core-dump) why="killed by a signal" ;;
    *) why="exit code $code" ;;
  esac
  echo "wayshub:app.releaseTask failed on $host for release $RID ($why): no app server switched to it; its last output:" >&2
  tail -n "$OUTPUT_LINES" "$output" >&2
  exit 1
fi
printf '%s %s\n' "$host" "$(date -Is)" >"$release/TASK_PASSED"
echo "release task of $RID passed on $host"
tail -n "$OUTPUT_LINES" "$output"
