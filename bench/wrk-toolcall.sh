#!/usr/bin/env bash
# wrk-toolcall.sh URL FORM [DURATION_S]: tools/call echo throughput of the MCP endpoint URL
# (e.g. http://127.0.0.1:3102/mcp) with wrk -t2 -c50 --latency, every server getting the
# same request (bench/wrk/toolcall.lua). FORM:
#   stateless  the 2026-07-28 request: MCP-Protocol-Version, Mcp-Method and Mcp-Name headers,
#              _meta protocolVersion + clientCapabilities in the params
#   session    a 2025-11-25 session opened here with curl (initialize, then
#              notifications/initialized); wrk sends its Mcp-Session-Id; deleted afterwards
# One call is checked with curl first (the answer must carry the echoed text), so a run
# never measures error answers. Prints one JSON line on stdout:
#   {"rps":..,"p50_ms":..,"p99_ms":..,"requests":..,"errors":..,"non2xx":..}
# errors = socket connect/read/write errors + timeouts; non2xx = answers with status >= 400.
# wrk's own report goes to stderr.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
URL=${1:-}
FORM=${2:-}
DURATION=${3:-10}

case "$FORM" in stateless | session) ;; *) URL="" ;; esac
if [ -z "$URL" ] || ! [[ "$DURATION" =~ ^[0-9]+$ ]] || [ "$DURATION" -lt 1 ]; then
  echo "usage: $0 URL stateless|session [DURATION_S]" >&2
  exit 2
fi
for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "wrk-toolcall: $tool missing: run bench/install-bench-deps.sh" >&2; exit 1; }
done

REVISION=2025-11-25
TEXT=hello
COMMON=(-sS --max-time 10 -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
WORK=$(mktemp -d)
SESSION=""
cleanup() {
  if [ -n "$SESSION" ]; then
    curl -sS --max-time 5 -o /dev/null -X DELETE "$URL" -H "Mcp-Session-Id: $SESSION" \
      -H "MCP-Protocol-Version: $REVISION" || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "wrk-toolcall: $*" >&2
  exit 1
}

if [ "$FORM" = session ]; then
  curl "${COMMON[@]}" -D "$WORK/init.headers" -o "$WORK/init.body" "$URL" -d \
    '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"'$REVISION'","capabilities":{},"clientInfo":{"name":"wrk-toolcall","version":"1.0.0"}}}' ||
    fail "initialize failed"
  SESSION=$(awk 'tolower($1) == "mcp-session-id:" { print $2 }' "$WORK/init.headers" | tr -d '\r')
  [ -n "$SESSION" ] || fail "initialize answered no Mcp-Session-Id: $(cat "$WORK/init.body")"
  SESSION_HEADERS=(-H "Mcp-Session-Id: $SESSION" -H "MCP-Protocol-Version: $REVISION")
  curl "${COMMON[@]}" "${SESSION_HEADERS[@]}" -o /dev/null "$URL" \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' || fail "notifications/initialized failed"
  CHECK=(curl "${COMMON[@]}" "${SESSION_HEADERS[@]}" "$URL"
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"'$TEXT'"}}}')
  WRK_ARGS=(session "$SESSION" "$REVISION")
else
  CHECK=(curl "${COMMON[@]}" -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call'
    -H 'Mcp-Name: echo' "$URL"
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"'$TEXT'"},'"$META"'}}')
  WRK_ARGS=(stateless)
fi

# JSON or a one-event SSE body: either way the echoed text must be in a result.
answer=$("${CHECK[@]}" -w '\n%{http_code}') || fail "tools/call check failed"
status=${answer##*$'\n'}
if [ "$status" != 200 ] || ! grep -q '"result":{.*"text":"'$TEXT'"' <<<"$answer"; then
  fail "tools/call check answered $status: ${answer%$'\n'*}"
fi

wrk -t2 -c50 -d"${DURATION}s" --latency -s "$HERE/wrk/toolcall.lua" "$URL" -- "${WRK_ARGS[@]}" \
  > "$WORK/wrk.out" || fail "wrk failed: $(cat "$WORK/wrk.out")"
grep -v '^WRK_JSON ' "$WORK/wrk.out" >&2 || true
line=$(sed -n 's/^WRK_JSON //p' "$WORK/wrk.out")
[ -n "$line" ] || fail "no summary in wrk's output"
echo "$line"
