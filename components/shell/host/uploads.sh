# take_upload FILE: check an uploaded FILE (in a step's folder from upload-dir.sh) and move it into a new
# folder only root can open, printing its new path: after this nobody but root can change what root reads.
# Refuses a folder or file that is not as upload-dir.sh made it (a link, another owner, a wider mode).
# Prepended by components/shell/uploads.py to the scripts that read an upload (node-binary.sh, deploy.sh).
take_upload() {
  local file=$1 dir root private
  dir=$(dirname "$file")
  root=$(dirname "$dir")
  if [ -L "$root" ] || [ "$(stat -c '%U %a' "$root" 2>/dev/null)" != "root 755" ] ||
    [ -L "$dir" ] || [ ! -d "$dir" ] || [ "$(stat -c '%a' "$dir")" != 700 ] ||
    ! printf '%s\n' root "${SUDO_USER:-root}" | grep -qxF "$(stat -c '%U' "$dir")"; then
    printf '%s: upload folder %s is not the private folder we made (root-owned %s, 0700 %s): not using it\n' \
      "$(hostname)" "$dir" "$root" "${SUDO_USER:-root}" >&2
    return 1
  fi
  if [ -L "$file" ] || [ ! -f "$file" ]; then
    printf '%s: upload %s is missing or not a plain file: run pulumi up again\n' "$(hostname)" "$file" >&2
    return 1
  fi
  private=$(mktemp -d "$root/.taken.XXXXXX")
  mv -T "$file" "$private/upload"
  printf '%s\n' "$private/upload"
}
