#!/bin/bash
# The healthcheck of the LB's health checker container (containers mode, components/containers/health_check.py):
# is it still in the nginx container's network namespace? It joined it (`network_mode: container:<nginx>`),
# but Docker gives it no new one when nginx restarts by itself (a crash, `docker restart`: moby/moby#24935):
# the checker would go on probing from a dead namespace and end no connection of nginx's. Nothing listens on
# nginx's port there, so this ends the checker's main process (it exits on TERM) and the container's restart
# policy starts it again, in the namespace nginx has now. Docker runs it as `bash -c "<this file>" NAME PORT PID`:
#   $1  nginx's HTTP port inside its container (lb.listenPort)
#   $2  the process to end: the checker, the container's process 1
set -euo pipefail

if ss -H -l -t -n "sport = :$1" | grep -q .; then
    exit 0
fi
echo "nothing listens on port $1 here: not nginx's network namespace (nginx restarted); restarting the checker"
kill -TERM "$2"
exit 1
