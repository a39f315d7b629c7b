# The stack's superseded images go (containers mode; components/containers/images.py), after a successful `up`.
# For each repository of REPOSITORIES (one a line): every tag not in KEEP (image references, one a line) whose
# image no container uses (any container, running or not) is removed with `docker image rm` (never --force:
# Docker refuses while a container uses the image, and only untags one another tag still names). A repository
# that a container of another stack (label wayshub.stack, not STACK) uses is left whole. Never fails: what
# cannot be removed is named and left.
# Prints one line: `images: removed <n> (<refs>); kept <n>; in use <n>; left <n>` (and why for what is left).
# Inputs: STACK REPOSITORIES KEEP
set -euo pipefail

declare -A kept=() used=()
while IFS= read -r ref; do
    if [ -n "$ref" ]; then kept[$ref]=1; fi
done <<<"$KEEP"

# Every container on the daemon, running or not; without that list nothing is removed.
if ! ids=$(docker ps --all --quiet --no-trunc 2>&1) ||
    ! others=$(docker ps --all --filter label=wayshub.stack --format '{{.Label "wayshub.stack"}} {{.Image}}' 2>&1); then
    echo "images: none removed (cannot list the containers: $(one_line "${others:-$ids}"))"
    exit 0
fi
# Their images' ids (a container that goes meanwhile is no loss: Docker refuses to remove an image in use).
if [ -n "$ids" ]; then
    mapfile -t containers <<<"$ids"
    while IFS= read -r id; do
        if [ -n "$id" ]; then used[$id]=1; fi
    done < <(docker inspect --format '{{.Image}}' "${containers[@]}" 2>/dev/null || true)
fi

removed=() left=()
n_kept=0 n_used=0
while IFS= read -r repo; do
    if [ -z "$repo" ]; then continue; fi
    sharing=$(awk -v stack="$STACK" -v repo="$repo" \
        '$1 != stack && ($2 == repo || index($2, repo ":") == 1) { print $1 }' <<<"$others" | sort -u | paste -sd, -)
    if [ -n "$sharing" ]; then
        left+=("$repo (also used by stack $sharing: give each stack its own containers.appImage/nginxImage)")
        continue
    fi
    while read -r ref id; do
        if [ -z "$ref" ] || [ "${ref##*:}" = "<none>" ]; then continue; fi
        if [ -n "${kept[$ref]:-}" ]; then
            n_kept=$((n_kept + 1))
        elif [ -n "${used[$id]:-}" ]; then
            n_used=$((n_used + 1))
        elif out=$(docker image rm "$ref" 2>&1); then
            removed+=("$ref")
        else
            left+=("$ref ($(one_line "$out"))")
        fi
    done < <(docker image ls --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' "$repo")
done <<<"$REPOSITORIES"

line="images: removed ${#removed[@]}"
if [ "${#removed[@]}" -gt 0 ]; then line+=" (${removed[*]})"; fi
line+="; kept $n_kept; in use $n_used; left ${#left[@]}"
if [ "${#left[@]}" -gt 0 ]; then line+=": $(printf '%s; ' "${left[@]}")"; fi
echo "${line%; }"
