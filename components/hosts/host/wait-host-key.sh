#!/usr/bin/env bash
# Print a sandbox VM's SSH host key (`type base64`) once its first boot has made it. Runs where `pulumi up`
# runs (not on a host), with docker; components/hosts/sandbox.py runs it as `bash -c "<inputs><this file>"`
# (and as the end of a VM's create, after its `docker run`):
#
#   CONTAINER          the VM's container
#   WAIT_SECONDS       how long to wait for the key (polled every half second)
#   REMOVE_ON_FAILURE  1 (a create): a VM that never got there is removed, so a failed create leaves
#                      nothing behind for the next attempt to trip over
#
# With no key in time: one line and the VM's systemd jobs on stderr, exit 1.
set -euo pipefail

for _ in $(seq $((WAIT_SECONDS * 2))); do
  key=$(docker exec "$CONTAINER" cat /etc/ssh/ssh_host_ed25519_key.pub 2>/dev/null) && [ -n "$key" ] && break
  sleep 0.5
done
if [ -z "${key:-}" ]; then
  echo "$CONTAINER: no SSH host key after ${WAIT_SECONDS}s; its systemd state:" >&2
  docker exec "$CONTAINER" systemctl list-jobs --no-pager >&2 || true
  if [ "$REMOVE_ON_FAILURE" = 1 ]; then docker rm --force "$CONTAINER" >/dev/null || true; fi
  exit 1
fi
printf '%s\n' "$key" | cut -d" " -f1,2
