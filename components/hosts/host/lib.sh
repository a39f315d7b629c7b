# Functions for the host scripts that look at what is already on a server and take it over
# (components/hosts/host/survey.sh, components/app/host/deploy.sh, components/load_balancer/host/retire-sites.sh).
# Prepended to those scripts' text by Python (components/hosts/survey.py: HOST_LIB); needs bash, runs as root.

# The socket inodes listening on TCP port $1 (IPv4 and IPv6), one a line.
listening_inodes() {
  awk -v p=":$(printf '%04X' "$1")" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u
}

# The /proc/<pid>/fd entries that hold socket inode $1 that root may read, or with user $2 those that user may.
socket_fds() {
  local as=()
  if [ -n "${2:-}" ]; then as=(runuser -u "$2" --); fi
  "${as[@]}" find /proc/[0-9]*/fd -maxdepth 1 -lname "socket:\[$1\]" 2>/dev/null || true
}

# One line per process listening on TCP port $1 that does not belong to systemd unit $2: its pid, or "?"
# for a listener whose process cannot be seen. Root without CAP_SYS_PTRACE (containers, our sandbox VMs
# among them) cannot read another user's /proc/<pid>/fd; the unit's user $3, when it exists, reads its own
# processes', so our own app is found (and is no conflict) when a survey runs again on a deployed server.
# A listener gone between the two reads (an app restarting) is no holder.
port_holders() {
  local port=$1 unit=$2 user=${3:-} inode fds fd pid still
  listening_inodes "$port" | while read -r inode; do
    fds=$(socket_fds "$inode")
    if [ -z "$fds" ] && [ -n "$user" ] && id -u "$user" >/dev/null 2>&1; then
      fds=$(socket_fds "$inode" "$user")
    fi
    if [ -z "$fds" ]; then
      still=$(listening_inodes "$port")
      if grep -qxF "$inode" <<<"$still"; then echo "?"; fi
      continue
    fi
    for fd in $fds; do
      pid=${fd#/proc/}
      pid=${pid%%/*}
      grep -qF "/$unit" "/proc/$pid/cgroup" 2>/dev/null || echo "$pid"
    done
  done | sort -u
}

# "pid N `command line` of user U" for a running process.
describe_pid() {
  local cmdline user
  cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | cut -c1-80 | sed 's/ *$//')
  user=$(stat -c %U "/proc/$1" 2>/dev/null || echo '?')
  printf 'pid %s %s of user %s' "$1" "\`$cmdline\`" "$user"
}

# Enabled nginx configs other than $2 whose server_name names domain $1, one path a line.
foreign_sites() {
  local domain=${1//./\\.} file nginx=${NGINX_DIR:-/etc/nginx}
  for file in "$nginx"/sites-enabled/* "$nginx"/conf.d/*.conf; do
    if [ ! -e "$file" ] || [ "$file" = "$2" ]; then continue; fi
    if grep -Eq "^[[:space:]]*server_name[[:space:]]([^;#]*[[:space:]])?${domain}([[:space:];]|\$)" "$file"; then
      printf '%s\n' "$file"
    fi
  done
}

# Keep a copy of $1 (and of what it links to) under $2, keeping its path: $2/etc/nginx/...
# (From /: cp --parents with absolute paths fails in some working directories.)
keep_copy() {
  local target
  target=$(readlink -f "$1")
  mkdir -p "$2"
  (cd / && cp -a --parents "$1" "$2/")
  if [ -L "$1" ]; then (cd / && cp -a --parents "$target" "$2/"); fi
}
