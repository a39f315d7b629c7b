#!/usr/bin/env bash
# Remove our nginx site, as root, and reload nginx (start it if stopped) when nginx is installed and its
# config is still valid; other sites stay as they are. components/load_balancer/nginx.py runs it as
# `bash -c "<inputs><this file>"`:
#
#   LIVE  our site file in conf.d (/etc/nginx/conf.d/<site>.conf)
#
# Idempotent: a site already gone, or no nginx at all, is fine.
set -euo pipefail

rm -f "$LIVE"
if command -v nginx >/dev/null && nginx -t >/dev/null 2>&1; then
  if systemctl is-active --quiet nginx; then systemctl reload nginx; else systemctl start nginx; fi
fi
