#!/usr/bin/env bash
# Install nginx, and curl and ss (iproute2) for the backend health check, when any is missing; enable and
# start nginx; print its version. As root. components/load_balancer/nginx.py runs it as
# `bash -c "<inputs><this file>"`:
#
#   NGINX_PACKAGE  the Debian package of nginx (nginx-light)
#
# Idempotent: with all three there, it only enables and starts nginx (a no-op when it runs).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
if ! command -v nginx >/dev/null || ! command -v curl >/dev/null || ! command -v ss >/dev/null; then
  apt-get -q -o DPkg::Lock::Timeout=300 update >/dev/null
  apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$NGINX_PACKAGE" curl iproute2 >/dev/null
fi
systemctl enable --now nginx >/dev/null 2>&1
nginx -v 2>&1
