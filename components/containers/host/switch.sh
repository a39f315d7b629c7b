# One app server's switch (containers mode): its new container (CONTAINER) must report healthy (Docker's
# healthcheck) within HEALTH_TIMEOUT seconds, and not exit meanwhile; then nginx's upstream file for the server
# (UPSTREAM_FILE in the LB container) names it, `nginx -t`, graceful reload, and SETTLE seconds for the old
# workers to hand over.
# The container serving until now is not touched here: the engine removes it at the end of the `up`, once every
# server has switched (it drains on SIGTERM). A container that fails the gate is stopped (no restarts), nginx
# keeps the serving one, and the step fails with one line: container, release, the command it runs, why, the
# health output's tail; then the container's log tail.
# Prints `serving <slot> <key> <release> <previous release or ->` last: the next `up` reads it from the state
# (components/containers/rollout.py).
# Inputs: CONTAINER RELEASE KEY SLOT PREVIOUS LB UPSTREAM_FILE UPSTREAM_TEXT HEALTH_TIMEOUT SETTLE LOG_LINES
set -euo pipefail

inspect() {
    docker inspect --format "$1" "$CONTAINER"
}

deadline=$((SECONDS + HEALTH_TIMEOUT))
why=""
while :; do
    state=$(inspect '{{.State.Status}} {{.RestartCount}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}') || {
        echo "$CONTAINER (release $RELEASE): cannot inspect it: $state" >&2
        exit 1
    }
    read -r status restarts health <<<"$state"
    # "unhealthy" alone is not final: on a busy machine a check can time out, and a later one pass.
    if [ "$health" = healthy ] && [ "$status" = running ]; then
        break
    elif [ "$status" != running ] || [ "$restarts" -gt 0 ]; then
        why="the app exited ($status, restarted $restarts times)"
    elif [ "$SECONDS" -ge "$deadline" ]; then
        why="not healthy within ${HEALTH_TIMEOUT}s (health: $health)"
    fi
    if [ -n "$why" ]; then
        health_tail=$({ inspect '{{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{"\n"}}{{end}}{{end}}' 2>&1 || true; } | sed '/^[[:space:]]*$/d' | tail -n 3)
        logs=$(docker logs --tail "$LOG_LINES" "$CONTAINER" 2>&1 || true)
        docker update --restart=no "$CONTAINER" >/dev/null 2>&1 || true
        docker stop --time 1 "$CONTAINER" >/dev/null 2>&1 || true
        detail=$(one_line "${health_tail:-$(printf '%s' "$logs" | tail -n 2)}")
        command=$(inspect '{{join .Config.Entrypoint " "}} {{join .Config.Cmd " "}}' 2>/dev/null | sed 's/^ *//' || true)
        serving=$(docker exec "$LB" cat "$UPSTREAM_FILE" 2>/dev/null | awk '$1 == "server" { print $2 }' || true)
        echo "$CONTAINER (release $RELEASE, key $KEY, running \`${command:-?}\`) failed its health check ($why): ${detail:-no output}; nginx keeps ${serving:-no container for it}" >&2
        if [ -n "$logs" ]; then
            printf 'its log tail:\n%s\n' "$logs" >&2
        fi
        exit 1
    fi
    sleep 1
done

put_nginx_file "$LB" "$UPSTREAM_FILE" "$UPSTREAM_TEXT"
sleep "$SETTLE"
echo "serving $SLOT $KEY $RELEASE $PREVIOUS"
