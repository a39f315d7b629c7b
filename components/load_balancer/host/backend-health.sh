#!/bin/bash
# Ends requests stuck on a HUNG backend; installed and started by BackendHealthCheck
# (components/load_balancer/health_check.py) as a systemd service on the load balancer.
#
# Every INTERVAL seconds it asks each backend for HEALTH_PATH (all at once, each probe bounded by
# TIMEOUT). A backend that gives no answer within TIMEOUT, FALL probes in a row, is hung (a stopped
# process, a frozen VM, dropped packets: the kernel may still take the connection, so nginx would wait
# for proxy_read_timeout). While it is hung, every round destroys this host's TCP connections to it
# (`ss -K`, needs CAP_NET_ADMIN): nginx sees an upstream error at once, retries GET/HEAD on the next
# backend (anything else gets a 502 and is never re-sent), and its passive check (max_fails) skips
# the backend for fail_timeout. RISE answers in a row with a status in STATUS_MIN..STATUS_MAX end
# the hung state; nginx then takes the backend back by itself. No nginx reload: a reload closes idle
# keep-alive client connections, which costs clients requests. Refused connections and bad statuses
# are only logged: nginx sees those itself, at once.
#
# Inputs (environment, from the unit's EnvironmentFile):
#   BACKENDS  ADDR:PORT ...      HEALTH_PATH  e.g. /health     STATUS_MIN STATUS_MAX  healthy statuses
#   INTERVAL TIMEOUT  seconds    FALL RISE  probes in a row
set -euo pipefail

: "${BACKENDS:?}" "${HEALTH_PATH:?}" "${STATUS_MIN:?}" "${STATUS_MAX:?}"
: "${INTERVAL:?}" "${TIMEOUT:?}" "${FALL:?}" "${RISE:?}"

read -r -a backends <<<"$BACKENDS"
declare -A state fails oks last
for b in "${backends[@]}"; do
    state[$b]=ok fails[$b]=0 oks[$b]=0 last[$b]=ok
done
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
trap 'exit 0' TERM INT

log() { printf '%s\n' "$*"; }

# One probe; writes its verdict (ok, hung, bad or refused) to the file $2.
probe() {
    local code rc=0
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$TIMEOUT" "http://$1$HEALTH_PATH") || rc=$?
    if [ "$rc" = 28 ]; then
        echo hung
    elif [ "$rc" != 0 ]; then
        echo refused
    elif [ "$code" -ge "$STATUS_MIN" ] && [ "$code" -le "$STATUS_MAX" ]; then
        echo ok
    else
        echo "bad $code"
    fi >"$2"
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
    for i in "${!backends[@]}"; do
        probe "${backends[$i]}" "$results/$i" &
    done
    wait
    for i in "${!backends[@]}"; do
        b=${backends[$i]}
        verdict=$(cat "$results/$i")
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
