-- Streamable HTTP at /mcp for the session revisions (2025-03-26, 2025-06-18,
-- 2025-11-25): POST carries client messages, GET opens the session's
-- standalone stream, DELETE ends the session. A request is answered with
-- plain JSON unless its handler sends something while running (progress,
-- logs, server->client requests): then the response turns into an SSE
-- stream on a numbered session stream, resumable with Last-Event-ID.
local core = require "moonwire.core"
local json = require "moonwire.json"
local jsonrpc = require "moonwire.jsonrpc"
local runtime = require "moonwire.runtime"
local protocol = require "moonwire.mcp.protocol"
local sessions = require "moonwire.mcp.sessions"
local filters = require "moonwire.filters"

local H = {}

-- Plugin outgoing filters for one message of session `sid` (only called
-- when some exist); `method` is the request a response answers.
local function out_filter(msg, sid, version, method)
  return filters.outgoing(msg, { transport = "http", session_id = sid, protocol_version = version }, method)
end

local find, match, lower = string.find, string.match, string.lower
local concat = table.concat

-- True when the comma-separated media-type list `list` (an Accept header)
-- names `token` (lowercase) or */*, parameters aside. Runs twice on every
-- POST: anchored matches from each comma, so no iterator or item strings.
local function has_token(list, token)
  if type(list) ~= "string" then return false end
  local pos = 1
  repeat
    local t = match(list, "^%s*([^,;%s]+)", pos)
    if t and (t == token or t == "*/*" or lower(t) == token) then return true end
    pos = find(list, ",", pos, true)
    if pos then pos = pos + 1 end
  until not pos
  return false
end
H.has_token = has_token

local JSON_HEADERS = { ["Content-Type"] = "application/json" }
local NO_ERRORS = setmetatable({}, { __newindex = function() error("NO_ERRORS is read-only", 2) end })

-- An HTTP error whose body is a JSON-RPC error (what SDK clients parse).
function H.reject(handle, status, code, message, headers)
  local h = { ["Content-Type"] = "application/json" }
  for k, v in pairs(headers or {}) do h[k] = v end
  return core.respond(handle, status, h, json.encode(jsonrpc.error(nil, code, message)))
end

-- The response channel of one POST: JSON until something must stream.
local Chan = {}
Chan.__index = Chan

-- results: the encoded responses of a batch; body: the one of a single request.
function H.new_chan(handle, sid, batch, n, version)
  return setmetatable({ handle = handle, sid = sid, batch = batch, outstanding = n, version = version,
                        results = batch and {} or false, body = false, mode = "json" }, Chan)
end

function Chan:upgrade()
  if self.mode ~= "json" then return self.mode == "sse" end
  local no = core.session_open_stream(self.sid)
  if not no then self.mode = "gone" return false end
  local ok = core.session_attach(self.handle, self.sid, no)
  self.stream = no
  -- Even when the client already left, the stream exists: what we send is
  -- kept for a resume by GET + Last-Event-ID.
  self.mode = "sse"
  -- Answers of a batch made while the response was still JSON go first.
  if self.batch then
    for _, text in ipairs(self.results) do core.session_send(self.sid, no, nil, text) end
    self.results = {}
  end
  return ok ~= nil or true
end

function Chan:send(msg)
  if filters.active_out then
    msg = out_filter(msg, self.sid, self.version)
    if msg == nil then return end
  end
  if self.mode == "json" then self:upgrade() end
  if self.mode == "sse" then
    core.session_send(self.sid, self.stream, nil, json.encode(msg))
  end
end

-- One request of this POST finished (`response` nil when cancelled). The
-- response is encoded first: one a handler filled with what JSON cannot hold
-- throws here, before anything is counted, and the task's error handler
-- finishes the request again with a failure response.
function Chan:finish(response)
  local text = response and json.encode(response)
  self.outstanding = self.outstanding - 1
  if self.mode == "sse" then
    if text then core.session_send(self.sid, self.stream, nil, text) end
  elseif text then
    if self.batch then self.results[#self.results + 1] = text else self.body = text end
  end
  if self.outstanding > 0 then return end
  local body = self.body
  if self.batch and self.results[1] then body = "[" .. concat(self.results, ",") .. "]" end
  if self.mode == "sse" then
    core.session_end_stream(self.sid, self.stream)
  elseif not body then
    core.respond(self.handle, 202, nil, "")
  else
    core.respond(self.handle, 200, JSON_HEADERS, body)
  end
end

-- Exchanges: one per request, see protocol.lua. Their defaults live in Ex:
-- fewer fields to fill per request.
local Ex = { can_request = true, held = false, answered = false }
Ex.__index = Ex

function Ex:emit(msg) self.chan:send(msg) end
function Ex:save() sessions.save(self.sid, self.state) end
function Ex:ask_all(requests, keys)
  if not self.chan:upgrade() then return nil, "client disconnected" end
  return sessions.ask_all(self.sid, function(m) self.chan:send(m) end, requests, keys, self)
end

function Ex:close_stream()
  if not self.chan:upgrade() then return false end
  return core.session_release(self.sid, self.chan.stream)
end

local function respond(ex, res)
  ex.answered = true
  if ex.held then
    ex.held = false
    core.session_hold(ex.sid, false)
  end
  if res and filters.active_out then res = out_filter(res, ex.sid, ex.state.v, ex.msg.method) end
  ex.chan:finish(res)
end

-- The task of one request (ex.msg), tracked as running (by run_request) until it ends.
local function run_exchange(ex)
  local res = protocol.run(ex.msg, ex)
  sessions.untrack(ex.sid, ex.request_id, ex)
  respond(ex, res)
end

local function exchange_failed(err, ex)
  sessions.untrack(ex.sid, ex.request_id, ex)
  ex.cancelled = true -- anything it still sends is dropped
  respond(ex, protocol.failure_response(ex.msg, err))
end

function H.run_request(msg, sid, state, chan)
  local ex = setmetatable({ chan = chan, sid = sid, state = state, version = state.v, request_id = msg.id,
                            msg = msg }, Ex)
  if not sessions.track(sid, msg.id, ex) then
    -- An id names a request until it is answered: a second one could be
    -- neither cancelled nor told apart from the first.
    return chan:finish(jsonrpc.error(msg.id, jsonrpc.INVALID_REQUEST,
                                     "Invalid Request: a request with this id is still in progress"))
  end
  -- ex is the argument of the task and of its error handler: no closure per request.
  runtime.spawn(run_exchange, exchange_failed, protocol.budget_for(msg), ex)
  -- Not answered yet, so suspended: the session must not expire under it
  -- (respond lets go). One answered at once needed no hold: nothing expires
  -- a session while Lua runs.
  if not ex.answered then
    ex.held = true
    core.session_hold(sid, true)
  end
end

-- Notifications and responses from a session's client.
function H.on_message(sid, state, msg, kind)
  if kind == "response" then return sessions.on_response(sid, msg) end
  local m, params = msg.method, msg.params
  if m == "notifications/initialized" then
    if not state.initialized then
      state.initialized = true
      sessions.save(sid, state)
    end
  elseif m == "notifications/cancelled" then
    if type(params) == "table" and params.requestId ~= nil then sessions.cancel(sid, params.requestId) end
  end
end

local function initialize(req, handle, msg)
  local params = type(msg.params) == "table" and msg.params or {}
  local version = protocol.negotiate(params.protocolVersion)
  local state = { v = version, caps = params.capabilities, info = params.clientInfo,
                  level = "info", kind = "http", initialized = false }
  local sid = sessions.create(state)
  local res = jsonrpc.result(msg.id, protocol.initialize_result(version))
  if filters.active_out then res = out_filter(res, sid, version, "initialize") end
  if res == nil then return core.respond(handle, 202, { ["Mcp-Session-Id"] = sid }, "") end
  core.respond(handle, 200, { ["Content-Type"] = "application/json", ["Mcp-Session-Id"] = sid }, json.encode(res))
end

-- Looks up the session a request names; answers 400/404 itself when it can't.
local function session_of(req, handle)
  local sid = req.headers["mcp-session-id"]
  if not sid then
    H.reject(handle, 400, jsonrpc.INVALID_REQUEST, "Bad Request: Mcp-Session-Id header is required")
    return nil
  end
  local state = sessions.get(sid, true)
  -- Only Streamable HTTP sessions: script sessions and legacy ones share the
  -- id space but are not reachable here.
  if not state or state.kind ~= "http" then
    H.reject(handle, 404, -32001, "Session not found")
    return nil
  end
  return sid, state
end

-- stateless.lua requires this module, so it is looked up on first use.
local stateless_mod

-- The last Accept value that passed (false: none yet): clients send the
-- same one every time, and comparing strings is cheaper than parsing them.
local accepted = false

function H.post(req, handle)
  local accept = req.headers.accept
  if accept ~= accepted then
    if not (has_token(accept, "application/json") and has_token(accept, "text/event-stream")) then
      return H.reject(handle, 406, jsonrpc.INVALID_REQUEST,
        "Not Acceptable: Client must accept both application/json and text/event-stream")
    end
    accepted = accept
  end
  local ctype = req.headers["content-type"] or ""
  if ctype ~= "application/json" and not match(lower(ctype), "^%s*application/json") then
    return H.reject(handle, 415, jsonrpc.INVALID_REQUEST, "Unsupported Media Type: Content-Type must be application/json")
  end
  local msgs, perr, batch = jsonrpc.decode(req.body)
  if not msgs then return core.respond(handle, 400, JSON_HEADERS, json.encode(perr)) end

  -- Any MCP-Protocol-Version that is not a session revision is the
  -- stateless path's to judge (it answers -32022 for unknown ones).
  stateless_mod = stateless_mod or require "moonwire.mcp.stateless"
  local stateless = stateless_mod
  if stateless.claims(req, msgs, batch) then return stateless.post(req, handle, msgs, batch) end

  -- Plugin incoming filters see every message before the protocol does; the
  -- session id is the header's, not yet checked.
  local replies
  if filters.active_in then
    local sid = req.headers["mcp-session-id"]
    msgs, replies = filters.incoming_all(msgs, { transport = "http", session_id = sid, headers = req.headers })
    if filters.active_out then
      for i, r in ipairs(replies) do replies[i] = out_filter(r, sid, nil) end
    end
    if #msgs == 0 then
      if #replies == 0 then return core.respond(handle, 202, nil, "") end
      local body = batch and json.array(replies) or replies[1]
      return core.respond(handle, 200, JSON_HEADERS, json.encode(body))
    end
  end

  local first = msgs[1]
  if type(first) == "table" and first.method == "initialize" then
    if batch then
      return H.reject(handle, 400, jsonrpc.INVALID_REQUEST, "Invalid Request: initialize must not be batched")
    end
    local kind, err = jsonrpc.classify(first)
    if kind ~= "request" then
      -- A notification (no id) has no error object: it is still not an initialize.
      err = err or { code = jsonrpc.INVALID_REQUEST, message = "Invalid Request: initialize must be a request (it has no id)" }
      return H.reject(handle, 400, err.code, err.message)
    end
    return initialize(req, handle, first)
  end

  local sid, state = session_of(req, handle)
  if not sid then return end
  if batch and state.v ~= "2025-03-26" then
    return H.reject(handle, 400, jsonrpc.INVALID_REQUEST,
      "Invalid Request: batches are only supported in protocol revision 2025-03-26")
  end

  local requests, errors = {}, NO_ERRORS -- errors are rare: their list is made on the first
  for _, msg in ipairs(msgs) do
    local kind, err = jsonrpc.classify(msg)
    if kind == "request" and msg.method == "initialize" then
      kind, err = nil, { code = jsonrpc.INVALID_REQUEST, message = "Invalid Request: initialize must not be batched" }
    end
    if not kind then
      if errors == NO_ERRORS then errors = {} end
      errors[#errors + 1] = jsonrpc.error(type(msg) == "table" and jsonrpc.valid_id(msg.id) and msg.id or nil,
                                          err.code, err.message)
    elseif kind == "request" then
      requests[#requests + 1] = msg
    else
      H.on_message(sid, state, msg, kind)
    end
  end
  if replies then
    -- Requests a filter answered count as answered requests.
    for _, r in ipairs(replies) do requests[#requests + 1] = { reply = r } end
  end
  if #requests == 0 then
    if #errors == 0 then return core.respond(handle, 202, nil, "") end
    local body = batch and json.array(errors) or errors[1]
    return core.respond(handle, 400, JSON_HEADERS, json.encode(body))
  end
  local chan = H.new_chan(handle, sid, batch, #requests + #errors, state.v)
  for _, e in ipairs(errors) do chan:finish(e) end
  for _, msg in ipairs(requests) do
    if msg.reply then chan:finish(msg.reply) else H.run_request(msg, sid, state, chan) end
  end
end

-- 2026-07-28 has no GET or DELETE: answers 405 and returns true for those clients.
local function stateless_refused(req, handle)
  if not require("moonwire.mcp.stateless").claims(req) then return false end
  H.reject(handle, 405, jsonrpc.INVALID_REQUEST, "Method Not Allowed", { Allow = "POST" })
  return true
end

function H.get(req, handle)
  if stateless_refused(req, handle) then return end
  if not has_token(req.headers.accept, "text/event-stream") then
    return H.reject(handle, 405, jsonrpc.INVALID_REQUEST,
      "Method Not Allowed: GET needs Accept: text/event-stream", { Allow = "POST, DELETE" })
  end
  local sid, state = session_of(req, handle)
  if not sid then return end
  local ok, err = core.session_attach(handle, sid, 0, req.headers["last-event-id"])
  if ok and not state.standalone then
    state.standalone = true
    sessions.save(sid, state)
  end
  if not ok then
    return H.reject(handle, 400, jsonrpc.INVALID_REQUEST, "Bad Request: unknown Last-Event-ID (" .. tostring(err) .. ")")
  end
end

function H.delete(req, handle)
  if stateless_refused(req, handle) then return end
  local sid = session_of(req, handle)
  if not sid then return end
  sessions.destroy(sid)
  core.respond(handle, 200, JSON_HEADERS, "{}")
end

return H
