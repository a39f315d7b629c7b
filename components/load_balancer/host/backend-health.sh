#!/bin/bash
# Active health checks for one nginx site's upstream; installed and started by BackendHealthCheck
# (components/load_balancer/health_check.py) as a systemd service on the load balancer.
#
# Every INTERVAL seconds it asks each backend for HEALTH_PATH (all backends at once, each probe
# bounded by TIMEOUT). A backend that gives no answer within TIMEOUT (hung: a stopped process, a
# frozen VM, dropped packets) or a status outside STATUS_MIN..STATUS_MAX, FALL probes in a row, is
# marked `down` in SITE_FILE's upstream and nginx reloads gracefully; a hung one also has its
# connections from this host destroyed (`ss -K`, needs CAP_NET_ADMIN) every round while it is down,
# so requests stuck on it end now (nginx retries GET/HEAD on the next backend; anything else gets a
# 502 and is never re-sent). RISE good answers in a row put it back. A refused connection changes
# nothing: nginx sees that itself at once and retries. If every backend would be down, none is
# (nginx's own passive checks decide). On exit every backend is marked up again.
#
# Inputs (environment, from the unit's EnvironmentFile):
#   SITE_FILE  the live nginx site (its `server ADDR ...;` lines)   LOCK  lock file shared with publishing
#   BACKENDS   ADDR:PORT ... as in the server lines                 HEALTH_PATH  e.g. /health
#   STATUS_MIN STATUS_MAX  healthy statuses                         INTERVAL TIMEOUT  seconds (0.25)
#   FALL RISE  probes in a row                                      KILL_HUNG  1 to destroy connections
set -euo pipefail

: "${SITE_FILE:?}" "${LOCK:?}" "${BACKENDS:?}" "${HEALTH_PATH:?}" "${STATUS_MIN:?}" "${STATUS_MAX:?}"
: "${INTERVAL:?}" "${TIMEOUT:?}" "${FALL:?}" "${RISE:?}" "${KILL_HUNG:?}"

read -r -a backends <<<"$BACKENDS"
declare -A state fails oks verdict
for b in "${backends[@]}"; do
    state[$b]=up fails[$b]=0 oks[$b]=0 verdict[$b]=ok
done
results=$(mktemp -d)

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
        echo bad
    fi >"$2"
}

# The site text with exactly the backends named in $1 (" a b ") marked down, on stdout.
marked() {
    awk -v down=" $1 " -v ours=" ${backends[*]} " '
        $1 == "server" && index(ours, " " $2 " ") {
            has = ($0 ~ / down;[[:space:]]*$/)
            want = index(down, " " $2 " ") > 0
            if (want && !has) sub(/;[[:space:]]*$/, " down;")
            if (!want && has) sub(/ down;[[:space:]]*$/, ";")
        }
        { print }' "$SITE_FILE"
}

# Make SITE_FILE mark exactly $1 down; nginx -t, then a graceful reload. Under the publishing lock.
apply() {
    local tmp
    exec 9>"$LOCK"
    flock -w 30 9
    if [ -f "$SITE_FILE" ] && ! marked "$1" | cmp -s - "$SITE_FILE"; then
        tmp=$(mktemp "$(dirname "$(dirname "$SITE_FILE")")/.backend-health.XXXXXX")
        marked "$1" >"$tmp"
        chmod --reference="$SITE_FILE" "$tmp"
        cp -p "$SITE_FILE" "$tmp.old"
        mv -f "$tmp" "$SITE_FILE"
        if out=$(nginx -t 2>&1); then
            rm -f "$tmp.old"
            systemctl reload nginx
            log "nginx: down now: [${1# }]"
        else
            mv -f "$tmp.old" "$SITE_FILE"
            log "nginx -t refused the marked site; left as it was: $out"
        fi
    fi
    exec 9>&-
}

cleanup() {
    apply "" || true
    rm -rf "$results"
}
trap cleanup EXIT
trap 'exit 0' TERM INT

log "checking ${backends[*]} every ${INTERVAL}s (timeout ${TIMEOUT}s, fall $FALL, rise $RISE)"
while :; do
    sleep "$INTERVAL" &
    for i in "${!backends[@]}"; do
        probe "${backends[$i]}" "$results/$i" &
    done
    wait
    for i in "${!backends[@]}"; do
        b=${backends[$i]}
        verdict[$b]=$(cat "$results/$i")
        case ${verdict[$b]} in
            ok) fails[$b]=0 oks[$b]=$((oks[$b] + 1)) ;;
            hung | bad) oks[$b]=0 fails[$b]=$((fails[$b] + 1)) ;;
            refused) oks[$b]=0 fails[$b]=0 ;;
        esac
        if [ "${state[$b]}" = up ] && [ "${fails[$b]}" -ge "$FALL" ]; then
            state[$b]=down
            log "$b: down (${verdict[$b]}, $FALL probes in a row)"
        elif [ "${state[$b]}" = down ] && [ "${oks[$b]}" -ge "$RISE" ]; then
            state[$b]=up
            log "$b: up again ($RISE good answers in a row)"
        fi
    done
    down="" up=0
    for b in "${backends[@]}"; do
        if [ "${state[$b]}" = down ]; then down+=" $b"; else up=$((up + 1)); fi
    done
    if [ "$up" = 0 ]; then
        down=""  # every backend failing: leave the choice to nginx rather than refuse everything
    fi
    apply "$down"
    if [ "$KILL_HUNG" = 1 ]; then
        for b in $down; do
            if [ "${verdict[$b]}" = hung ]; then
                host=${b%:*} host=${host#[} host=${host%]}
                killed=$(ss -K -n -t state established dst "$host" dport = ":${b##*:}" 2>/dev/null | tail -n +2 | wc -l)
                [ "$killed" = 0 ] || log "$b: ended $killed connections stuck on it"
            fi
        done
    fi
done
