#!/bin/bash
# Ends requests stuck on a HUNG backend; installed and started by BackendHealthCheck
# (components/load_balancer/health_check.py) as a systemd service on the load balancer.
#
# Every INTERVAL seconds it asks each backend for HEALTH_PATH (all at once, each probe bounded by
# TIMEOUT; one curl process per round runs them all: a curl exec per backend cost ~8 ms of CPU each, 4
# rounds a second). A backend that gives no answer within TIMEOUT, FALL probes in a row, is hung (a
# stopped process, a frozen VM, dropped packets: the kernel may still take the connection, so nginx
# would wait for proxy_read_timeout). While it is hung, every round destroys this host's TCP
# connections to it (`ss -K`, needs CAP_NET_ADMIN): nginx sees an upstream error at once, retries
# GET/HEAD on the next backend (anything else gets a 502 and is never re-sent), and its passive check
# (max_fails) skips the backend for fail_timeout. RISE answers in a row with a status in
# STATUS_MIN..STATUS_MAX end the hung state; nginx then takes the backend back by itself. No nginx
# reload: a reload closes idle keep-alive client connections, which costs clients requests. Refused
# connections and bad statuses are only logged: nginx sees those itself, at once.
#
# Inputs (environment, from the unit's EnvironmentFile):
#   BACKENDS  ADDR:PORT ...      HEALTH_PATH  e.g. /health     STATUS_MIN STATUS_MAX  healthy statuses
#   INTERVAL TIMEOUT  seconds    FALL RISE  probes in a row
# `backend-health --check` (the service's start step runs it first) only checks that this host's curl can
# run a round, and says so in one line when it cannot: an older curl would read every probe as refused
# and never see a hang.
set -euo pipefail

if [ "${1:-}" = --check ]; then
    if ! command -v curl >/dev/null; then
        echo "backend health check: curl is not installed on this host (it needs curl 7.75 or later)" >&2
        exit 1
    fi
    if [ "$(curl -s -o /dev/null -w '%{urlnum} %{exitcode}' file:///dev/null 2>/dev/null)" != "0 0" ]; then
        found=$(curl --version 2>/dev/null | head -n 1 | cut -d ' ' -f 1-2) || true
        echo "backend health check: this host has ${found:-an unknown curl}; it needs curl 7.75 or later (%{urlnum}, %{exitcode} in --write-out)" >&2
        exit 1
    fi
    exit 0
fi

: "${BACKENDS:?}" "${HEALTH_PATH:?}" "${STATUS_MIN:?}" "${STATUS_MAX:?}"
: "${INTERVAL:?}" "${TIMEOUT:?}" "${FALL:?}" "${RISE:?}"

read -r -a backends <<<"$BACKENDS"
declare -A state fails oks last
declare -a verdicts
for b in "${backends[@]}"; do
    state[$b]=ok fails[$b]=0 oks[$b]=0 last[$b]=ok
done
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
trap 'exit 0' TERM INT

log() { printf '%s\n' "$*"; }

# One round's probes: a single curl runs them all at once (--parallel-immediate: each on its own
# connection, none waits for another), each bounded by TIMEOUT, and prints a line per backend
# "URLNUM EXITCODE HTTP_CODE" as it ends, in any order; URLNUM is the backend's index in $backends.
# -g: an IPv6 backend's [ ] are part of the address, not a glob. curl >= 7.75 (%{urlnum}, %{exitcode}).
# --parallel-max is at most 300 (curl before 7.84 takes anything above as its default, 50).
parallel=$((${#backends[@]} < 300 ? ${#backends[@]} : 300))
probe_args=(--parallel --parallel-immediate --parallel-max "$parallel" --no-progress-meter -s -g
    --max-time "$TIMEOUT" -w '%{urlnum} %{exitcode} %{http_code}\n')
for b in "${backends[@]}"; do
    probe_args+=(-o /dev/null "http://$b$HEALTH_PATH")
done

# Reads the round's curl output (file $1) into verdicts[INDEX]: ok, hung (no answer within TIMEOUT:
# curl's exit 28), refused (any other failure) or "bad CODE" (a status outside STATUS_MIN..STATUS_MAX).
# A backend with no line gets no verdict here; the caller counts that as refused.
read_verdicts() {
    local num rc code
    verdicts=()
    while read -r num rc code || [ -n "${num:-}" ]; do
        if ! [[ $num =~ ^(0|[1-9][0-9]*)$ ]] || [ "$num" -ge "${#backends[@]}" ]; then
            continue
        fi
        if [ "$rc" = 28 ]; then
            verdicts[num]=hung
        elif [ "$rc" != 0 ]; then
            verdicts[num]=refused
        elif [[ $code =~ ^[0-9]+$ ]] && [ "$code" -ge "$STATUS_MIN" ] && [ "$code" -le "$STATUS_MAX" ]; then
            verdicts[num]=ok
        else
            verdicts[num]="bad $code"
        fi
    done <"$1"
}

# Destroy this host's TCP connections to ADDR:PORT $1, established or still connecting (packets dropped:
# nginx's connect would wait out proxy_connect_timeout); prints how many. Runs between probe rounds, so
# the only such connections are nginx's.
end_connections() {
    local host=${1%:*}
    host=${host#[} host=${host%]}
    ss -K -n -t state established state syn-sent dst "$host" dport = ":${1##*:}" 2>/dev/null | tail -n +2 | wc -l
}

log "checking ${backends[*]} every ${INTERVAL}s (timeout ${TIMEOUT}s, fall $FALL, rise $RISE)"
while :; do
    sleep "$INTERVAL" &
    # In the background, so TERM/INT end the script at once (wait returns for a trapped signal).
    curl "${probe_args[@]}" >"$results/round" &
    wait
    read_verdicts "$results/round"
    for i in "${!backends[@]}"; do
        b=${backends[$i]}
        verdict=${verdicts[i]:-refused}
        case $verdict in
            ok) fails[$b]=0 oks[$b]=$((oks[$b] + 1)) ;;
            hung) oks[$b]=0 fails[$b]=$((fails[$b] + 1)) ;;
            *) oks[$b]=0 fails[$b]=0 ;;
        esac
        if [ "${state[$b]}" = ok ] && [ "${fails[$b]}" -ge "$FALL" ]; then
            state[$b]=hung
            log "$b: hung (no answer within ${TIMEOUT}s, $FALL times in a row)"
        elif [ "${state[$b]}" = hung ] && [ "${oks[$b]}" -ge "$RISE" ]; then
            state[$b]=ok
            log "$b: answers again ($RISE times in a row)"
        elif [ "$verdict" != "${last[$b]}" ] && [ "$verdict" != ok ] && [ "$verdict" != hung ]; then
            log "$b: $verdict (left to nginx)"
        fi
        last[$b]=$verdict
        if [ "${state[$b]}" = hung ]; then
            killed=$(end_connections "$b")
            [ "$killed" = 0 ] || log "$b: ended $killed connections stuck on it"
        fi
    done
done
