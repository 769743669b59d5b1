-- The HTTP+SSE transport of protocol revision 2024-11-05: GET /sse opens a
-- session whose stream first announces `event: endpoint` (where to POST),
-- then carries every server message as `event: message`; POST
-- /messages?sessionId=… answers 202 and the reply travels on the stream.
-- Beyond the SDKs: event ids carry the session id, so a client reconnecting
-- to /sse with Last-Event-ID (EventSource does this by itself) gets its
-- session back with the missed messages replayed.
local core = require "moonwire.core"
local json = require "moonwire.json"
local jsonrpc = require "moonwire.jsonrpc"
local runtime = require "moonwire.runtime"
local protocol = require "moonwire.mcp.protocol"
local sessions = require "moonwire.mcp.sessions"
local http = require "moonwire.mcp.http"
local filters = require "moonwire.filters"

local L = { endpoint = "/messages" }

-- `method`: the request a response answers, for plugin outgoing filters.
local function send(sid, msg, method)
  if filters.active_out then
    msg = filters.outgoing(msg, { transport = "legacy", session_id = sid }, method)
    if msg == nil then return nil end
  end
  return core.session_send(sid, 0, "message", json.encode(msg))
end
L.send = send

function L.get(req, handle)
  local last = req.headers["last-event-id"]
  local sid = last and last:match("^([%w_%-]+)%.%d+%-%d+$")
  local old = sid and sessions.get(sid)
  if old and old.kind == "legacy" then
    -- Resume: same session, missed messages replayed after last.
    local ok = core.session_attach(handle, sid, 0, last, nil, false)
    if ok then return end
  end
  local state = { v = "2024-11-05", level = "info", kind = "legacy", initialized = false }
  sid = sessions.create(state, true)
  -- No priming event: 2024-11-05 clients expect `endpoint` first.
  if not core.session_attach(handle, sid, 0, nil, nil, false) then
    sessions.destroy(sid)
    return
  end
  core.session_send(sid, 0, "endpoint", L.endpoint .. "?sessionId=" .. sid)
end

local Ex = {}
Ex.__index = Ex
function Ex:emit(msg) send(self.sid, msg) end
function Ex:save() sessions.save(self.sid, self.state) end
function Ex:ask_all(requests, keys)
  return sessions.ask_all(self.sid, function(m) send(self.sid, m) end, requests, keys, self)
end

local function run_request(sid, state, msg)
  if msg.method == "initialize" then
    local params = type(msg.params) == "table" and msg.params or {}
    state.v = protocol.negotiate(params.protocolVersion)
    state.caps, state.info = params.capabilities, params.clientInfo
    sessions.save(sid, state)
    return send(sid, jsonrpc.result(msg.id, protocol.initialize_result(state.v)), "initialize")
  end
  local ex = setmetatable({ sid = sid, state = state, version = state.v, request_id = msg.id,
                            can_request = true }, Ex)
  -- Held while it runs: the session outlives a dropped stream, and shutdown
  -- keeps the stream that will carry the answer.
  core.session_hold(sid, true)
  local function done()
    sessions.untrack(sid, msg.id, ex)
    if ex.held ~= false then
      ex.held = false
      core.session_hold(sid, false)
    end
  end
  runtime.spawn(function()
    sessions.track(sid, msg.id, ex)
    local res = protocol.run(msg, ex)
    done()
    if res then send(sid, res, msg.method) end
  end, function(err)
    done()
    ex.cancelled = true
    send(sid, protocol.failure_response(msg, err), msg.method)
  end, protocol.budget_for(msg))
end

function L.post(req, handle)
  local sid = req.args.sessionId
  local state = sessions.get(sid)
  if not state or state.kind ~= "legacy" then return http.reject(handle, 404, -32001, "Session not found") end
  core.session_touch(sid)
  local msgs, perr = jsonrpc.decode(req.body)
  if not msgs then return core.respond(handle, 400, { ["Content-Type"] = "application/json" }, json.encode(perr)) end
  core.respond(handle, 202, { ["Content-Type"] = "text/plain" }, "Accepted")
  if filters.active_in then
    local replies
    msgs, replies = filters.incoming_all(msgs, { transport = "legacy", session_id = sid, headers = req.headers,
                                                 protocol_version = state.v })
    for _, r in ipairs(replies) do send(sid, r) end
  end
  for _, msg in ipairs(msgs) do
    local kind, err = jsonrpc.classify(msg)
    if not kind then
      send(sid, jsonrpc.error(type(msg) == "table" and jsonrpc.valid_id(msg.id) and msg.id or nil, err.code, err.message))
    elseif kind == "request" then
      run_request(sid, state, msg)
    else
      http.on_message(sid, state, msg, kind)
    end
  end
end

return L
