#!/usr/bin/env bash
# Write stdin to a file atomically, as root: its folder made (0755) if missing, a temp file next to it with
# the mode and group root, renamed over the file. components/load_balancer/nginx.py (TLS certificate and
# key) and health_check.py (the checker and its unit) run it as `bash -c "<inputs><this file>"`:
#
#   TARGET  the file's path
#   MODE    its mode (0644, 0600, 0755)
#
# Idempotent: the same stdin again writes the same file.
set -euo pipefail

install -d -m 0755 "$(dirname "$TARGET")"
tmp=$(mktemp "$TARGET.XXXXXX")
cat >"$tmp"
chmod "$MODE" "$tmp" && chgrp root "$tmp"
mv -f "$tmp" "$TARGET"
