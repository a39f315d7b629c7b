#!/usr/bin/env bash
# Install the app's scheduled jobs (app.schedules) on the one app server that runs them, as root; or, with no
# JOBS, remove them all. components/app/schedules.py runs it as `bash -c "<inputs><this file>"`:
#
#   APP            the app's name: each job NAME is the oneshot unit APP@job-NAME.service, started by the
#                  timer APP@job-NAME.timer; both files in /etc/systemd/system
#   JOBS           the jobs by name (empty: none, so every one of ours goes)
#   JOB_NAME_UNIT JOB_NAME_TIMER   each job's unit and timer texts
#   JOB_NAME_CALENDAR              its calendar expression (as in the timer), checked here first
#   SETTING        the setting that names the jobs (wayshub:app.schedules, or a site's), for error lines
#
# Every calendar expression is checked with this host's `systemd-analyze calendar`, and every file to write
# for being ours (or new), before anything changes. A
# job whose unit or timer changed is installed and its timer restarted (never its job: a run that is going
# goes on). A job of ours that is no longer listed stops: its timer at once, a running run with SIGTERM and,
# after the unit's TimeoutStopSec (its stopTimeoutSeconds), SIGKILL; then both files go. Prints one line per
# job: its name and its next run.
set -euo pipefail

dir=/etc/systemd/system
host=$(hostname)

ours() { [ -f "$1" ] && grep -q '^# Managed by wayshub-infra' "$1"; }

for name in $JOBS; do
  var=JOB_${name}_CALENDAR
  if ! problem=$(systemd-analyze calendar "${!var}" 2>&1 >/dev/null); then
    echo "$SETTING: job $name: ${!var@Q} is not a calendar expression systemd on $host accepts: ${problem//$'\n'/ }" >&2
    exit 1
  fi
  for file in "$dir/$APP@job-$name".{service,timer}; do
    if [ -e "$file" ] && ! ours "$file"; then
      echo "$SETTING: job $name: $file exists and was not made by wayshub-infra: nothing changed" >&2
      exit 1
    fi
  done
done

changed=() reload=
for name in $JOBS; do
  for kind in UNIT TIMER; do
    var=JOB_${name}_$kind
    file=$dir/$APP@job-$name.$([ "$kind" = UNIT ] && echo service || echo timer)
    if ! printf '%s' "${!var}" | cmp -s - "$file"; then
      printf '%s' "${!var}" | install -m 0644 /dev/stdin "$file"
      reload=1
      [[ " ${changed[*]} " == *" $name "* ]] || changed+=("$name")
    fi
  done
done

# Ours that are no longer listed: the timer first (no new run), then the run that may be going.
gone=()
for file in "$dir/$APP"@job-*.timer "$dir/$APP"@job-*.service; do
  ours "$file" || continue
  name=${file##*/"$APP"@job-} && name=${name%.*}
  if [[ " $JOBS " != *" $name "* ]] && [[ " ${gone[*]} " != *" $name "* ]]; then gone+=("$name"); fi
done
for name in "${gone[@]}"; do
  systemctl disable --now "$APP@job-$name.timer" >/dev/null 2>&1 || true
  if [ "$(systemctl show -p ActiveState --value "$APP@job-$name.service" 2>/dev/null)" = activating ]; then
    echo "job $name: stopping its running run (SIGTERM; killed after its stop timeout)"
  fi
  systemctl stop "$APP@job-$name.service" >/dev/null 2>&1 || true
  rm -f "$dir/$APP@job-$name.timer" "$dir/$APP@job-$name.service"
  systemctl reset-failed "$APP@job-$name.timer" "$APP@job-$name.service" >/dev/null 2>&1 || true
  reload=1
  echo "job $name: removed"
done
[ -z "$reload" ] || systemctl daemon-reload

for name in $JOBS; do
  timer=$APP@job-$name.timer
  systemctl enable "$timer" >/dev/null 2>&1
  # A changed timer starts again from its new calendar; restarting a timer starts no run.
  if [[ " ${changed[*]} " == *" $name "* ]]; then
    systemctl restart "$timer"
  else
    systemctl start "$timer"
  fi
  echo "job $name: next run $(systemctl show -p NextElapseUSecRealtime --value "$timer")"
done
