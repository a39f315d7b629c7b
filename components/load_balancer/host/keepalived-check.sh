#!/usr/bin/env bash
# keepalived's track script (templates/keepalived.conf.j2): exit 0 while this LB can serve the site, so it may
# hold the shared address; anything else gives the address up. Installed root-owned and run by keepalived as
# root, with one argument:
#
#   $1  the port nginx serves the site on (lb.listenPort)
#
# nginx's unit must be active and its port must accept a connection on 127.0.0.1 within a second.
set -euo pipefail

port=${1:?usage: keepalived-check.sh PORT}
case $port in '' | *[!0-9]*) exit 2 ;; esac
systemctl is-active --quiet nginx
timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
