# Functions for switch.sh and site.sh (containers mode). Run where `pulumi up` runs, with the docker CLI
# (it reaches the same engine as the pulumi-docker provider: DOCKER_HOST, or the default socket).
# Each script's UPPER_CASE inputs are assigned before this file (components/containers/commands.py).

# put_nginx_file CONTAINER PATH TEXT: PATH in the nginx container becomes TEXT, then `nginx -t`; on a rejected
# config the previous file is put back (a new one removed) and nginx keeps running what it ran. Then a graceful
# reload: new workers take the new config, old ones finish their requests and exit.
put_nginx_file() {
    local container=$1 path=$2 text=$3 out
    if ! out=$(printf '%s' "$text" | docker exec -i "$container" sh -c '
        set -eu
        path=$1
        mkdir -p "$(dirname "$path")"
        cat > "$path.new"
        if [ -f "$path" ]; then cp -p "$path" "$path.previous"; else rm -f "$path.previous"; fi
        mv "$path.new" "$path"
        if ! tested=$(nginx -t 2>&1); then
            if [ -f "$path.previous" ]; then mv "$path.previous" "$path"; else rm -f "$path"; fi
            echo "nginx -t rejected $path (the previous file is back, nginx not reloaded): $tested"
            exit 1
        fi
        rm -f "$path.previous"
        nginx -s reload 2>&1
    ' sh "$path" 2>&1); then
        echo "$container: $out" >&2
        return 1
    fi
}

# one_line TEXT: TEXT's lines joined by spaces, at most 400 characters from its end.
one_line() {
    local text
    text=$(printf '%s' "$1" | tr -s '\r\n\t' '   ' | sed 's/^ *//; s/ *$//')
    # (${text: -400} alone is empty for a shorter text)
    if [ "${#text}" -gt 400 ]; then text=${text: -400}; fi
    printf '%s' "$text"
}
