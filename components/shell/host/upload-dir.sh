#!/usr/bin/env bash
# Make the private folder one upload step copies its file into, as root (issue 28 item 6): the upload root
# (root's, 0755: nobody else can make or swap an entry in it) and in it DIR, the login user's, 0700, so
# only the login user (who has sudo anyway) and root can write there. Never the shared /tmp, where another
# local user could create the name first or swap the file before root reads it. components/shell/uploads.py
# runs it as `bash -c "<inputs><this file>"`:
#
#   DIR   the step's folder, /var/lib/wayshub-uploads/<name>
#
# The step's consumer moves the file out into a folder only root can open (take_upload, uploads.sh).
# Idempotent: folders already right are kept; a wrong owner or mode is put right, a link replaced.
set -euo pipefail

login=${SUDO_USER:-root}
root=$(dirname "$DIR")
if [ -L "$root" ]; then rm -f "$root"; fi
install -d -o root -g root -m 0755 "$root"
if [ -L "$DIR" ] || { [ -e "$DIR" ] && [ ! -d "$DIR" ]; }; then rm -f "$DIR"; fi
install -d -o "$login" -g "$(id -gn "$login")" -m 0700 "$DIR"
