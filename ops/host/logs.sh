# The logs of one host, for ops/logs.py (run as root by `make logs`; read-only). Prints "tz <+hhmm>",
# then "journal <journalctl -o short-unix line>" and "file:<path> <line>" lines; with FOLLOW=1 it keeps going.
# Inputs (assigned before this text by Python): UNITS FILES (space-separated) LINES SINCE (epoch or empty) FOLLOW (0|1)
set -uo pipefail

echo "tz $(date +%z)"
journal=(--no-pager --quiet -o short-unix)
for unit in $UNITS; do journal+=(-u "$unit"); done
tail=(-n "$LINES")
if [ -n "$SINCE" ]; then
  journal+=(--since "@$SINCE")
  tail=(-n 100000) # older lines are dropped by their timestamps
else
  journal+=(-n "$LINES")
fi
if [ "$FOLLOW" = 1 ]; then
  journal+=(-f)
  tail+=(-F)
fi
journalctl "${journal[@]}" | sed -u 's/^/journal /' &
for file in $FILES; do
  if [ -e "$file" ]; then tail "${tail[@]}" "$file" 2>/dev/null | sed -u "s|^|file:$file |" & fi
done
wait
