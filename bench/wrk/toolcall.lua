-- wrk script: the tools/call echo request every server gets, and one JSON summary line.
-- Arguments after "--": FORM (stateless | session), then for session the session id and
-- protocol revision. Every in-flight request on a session needs its own JSON-RPC id, so
-- each thread pre-builds a ring of requests with ids unique across threads (building one
-- per request would cost wrk more than some servers spend answering it).

local RING = 1000
local TEXT = "hello"
local STATELESS_REVISION = "2026-07-28"

local threads = 0
function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

local requests, next_request = {}, 1

local function body(id, form)
  local params = '"name":"echo","arguments":{"text":"' .. TEXT .. '"}'
  if form == "stateless" then
    params = params .. ',"_meta":{"io.modelcontextprotocol/protocolVersion":"' .. STATELESS_REVISION
      .. '","io.modelcontextprotocol/clientCapabilities":{}}'
  end
  return '{"jsonrpc":"2.0","id":' .. id .. ',"method":"tools/call","params":{' .. params .. '}}'
end

function init(args)
  local form = args[1]
  local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
  }
  if form == "stateless" then
    headers["MCP-Protocol-Version"] = STATELESS_REVISION
    headers["Mcp-Method"] = "tools/call"
    headers["Mcp-Name"] = "echo"
  elseif form == "session" and args[2] and args[3] then
    headers["Mcp-Session-Id"] = args[2]
    headers["MCP-Protocol-Version"] = args[3]
  else
    error("usage: wrk ... -s toolcall.lua URL -- stateless | session SESSION_ID REVISION")
  end
  local base = (thread_index or 0) * RING
  for i = 1, RING do
    requests[i] = wrk.format("POST", nil, headers, body(base + i, form))
  end
end

function request()
  local r = requests[next_request]
  next_request = next_request % RING + 1
  return r
end

function done(summary, latency)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"requests":%d,"errors":%d,"non2xx":%d}\n',
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status))
end
