# The nginx site in the running LB container (containers mode): SITE_FILE becomes SITE_TEXT, `nginx -t`
# (a rejected site leaves the previous one serving and fails the step), then a graceful reload. No restart,
# no dropped request. Inputs: LB SITE_FILE SITE_TEXT
set -euo pipefail
put_nginx_file "$LB" "$SITE_FILE" "$SITE_TEXT"
