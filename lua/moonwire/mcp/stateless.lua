-- Protocol revision 2026-07-28 on /mcp: no sessions. Every request carries
-- its context in params._meta (protocol version, client capabilities, client
-- info, log level), mirrored by headers (MCP-Protocol-Version, Mcp-Method,
-- Mcp-Name, Mcp-Param-*) that must agree with the body. Server->client
-- questions become Multi Round-Trip results (InputRequiredResult) whose
-- requestState is signed by the core (HMAC-SHA256), and subscriptions/listen
-- keeps a POST response open as the stream for list_changed and resource
-- notifications.
local core = require "moonwire.core"
local json = require "moonwire.json"
local jsonrpc = require "moonwire.jsonrpc"
local runtime = require "moonwire.runtime"
local protocol = require "moonwire.mcp.protocol"
local registry = require "moonwire.mcp.registry"
local sessions = require "moonwire.mcp.sessions"
local filters = require "moonwire.filters"

local S = {}

local V = protocol.STATELESS_VERSION
local META_V = "io.modelcontextprotocol/protocolVersion"
local META_CAPS = "io.modelcontextprotocol/clientCapabilities"
local META_INFO = "io.modelcontextprotocol/clientInfo"
local META_LEVEL = "io.modelcontextprotocol/logLevel"
local META_SUB = "io.modelcontextprotocol/subscriptionId"
local META_SERVER = "io.modelcontextprotocol/serverInfo"

local HEADER_MISMATCH, MISSING_CAPABILITY, UNSUPPORTED_VERSION = -32020, -32021, -32022
local INVALID_PARAMS, METHOD_NOT_FOUND = jsonrpc.INVALID_PARAMS, jsonrpc.METHOD_NOT_FOUND

-- Revisions that use sessions; any other MCP-Protocol-Version means 2026+.
local SESSION_REVISIONS = { ["2024-11-05"] = true, ["2025-03-26"] = true, ["2025-06-18"] = true,
                            ["2025-11-25"] = true }

-- Methods of the session revisions that 2026-07-28 removed.
local REMOVED = { initialize = true, ping = true, ["logging/setLevel"] = true,
                  ["resources/subscribe"] = true, ["resources/unsubscribe"] = true }

-- Which params field Mcp-Name mirrors.
local NAME_FIELD = { ["tools/call"] = "name", ["prompts/get"] = "name", ["resources/read"] = "uri" }

-- Results clients may cache, and for how long (0: reloads can change them any time).
local CACHEABLE = { ["tools/list"] = true, ["prompts/list"] = true, ["resources/list"] = true,
                    ["resources/templates/list"] = true, ["resources/read"] = true }

local STATE_TTL_S = 3600

-- The logLevel error names the valid levels, least severe first.
local BAD_LEVEL
do
  local names = {}
  for name, rank in pairs(protocol.LEVELS) do names[rank + 1] = name end
  BAD_LEVEL = "Invalid params: _meta." .. META_LEVEL .. " must be one of " .. table.concat(names, ", ")
end

local JSON = { ["Content-Type"] = "application/json" }

function S.claims(req, msgs, batch)
  local v = req.headers["mcp-protocol-version"]
  if v ~= nil then return not SESSION_REVISIONS[v] end
  if msgs and not batch and not req.headers["mcp-session-id"] then
    local m = msgs[1]
    return type(m) == "table" and m.method ~= "initialize" and type(m.params) == "table"
      and type(m.params._meta) == "table" and m.params._meta[META_V] ~= nil
  end
  return false
end

-- Errors a handler produced stay in-band on 200, -32603 included: a client
-- reads JSON-RPC from a 500 only as a transport failure (the 2.x SDK does),
-- and the handler's message would be lost.
local function status_for(code)
  if code == METHOD_NOT_FOUND then return 404 end
  if code == MISSING_CAPABILITY then return 400 end
  return 200
end

local function fail(handle, status, id, code, message, data)
  return core.respond(handle, status, JSON, json.encode(jsonrpc.error(id, code, message, data)))
end

local byte = string.byte

local function trim(s)
  if type(s) ~= "string" then return nil end
  -- Headers arrive trimmed almost always: skip the pattern then.
  local a, z = byte(s, 1), byte(s, -1)
  if a ~= 32 and a ~= 9 and z ~= 32 and z ~= 9 then return s end
  return (s:match("^[ \t]*(.-)[ \t]*$"))
end

-- Strict standard base64 (RFC 4648 §4, canonical padding).
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64V = {}
for i = 1, 64 do B64V[B64:sub(i, i)] = i - 1 end
local function b64decode(s)
  if #s % 4 ~= 0 or not s:match("^[A-Za-z0-9+/]*=?=?$") then return nil end
  local out, bits, acc = {}, 0, 0
  local body = s:gsub("=+$", "")
  for c in body:gmatch(".") do
    acc = (acc << 6) | B64V[c]
    bits = bits + 6
    if bits >= 8 then
      bits = bits - 8
      out[#out + 1] = string.char((acc >> bits) & 0xff)
    end
  end
  if (acc & ((1 << bits) - 1)) ~= 0 then return nil end
  if #s - #body ~= (3 - (#body * 6 // 8) % 3) % 3 then return nil end
  return table.concat(out)
end
S.b64decode = b64decode

-- SEP-2243 value encoding: "=?base64?<standard base64>?=" carries the UTF-8
-- text in base64 (clients send it for non-ASCII text, text with edge
-- whitespace, and text that looks like this form itself); any other value is
-- the text, trimmed. Returns the text, nil for an absent header, or false
-- when the base64 is invalid.
local function header_text(raw)
  local h = trim(raw)
  if h == nil or byte(h, 1) ~= 61 then return h end -- only a value starting with "=" can be encoded
  local encoded = h:match("^=%?base64%?(.*)%?=$")
  if not encoded then return h end
  return b64decode(encoded) or false
end

-- Mcp-Param-<Name> headers must mirror the tool arguments whose schema says
-- "x-mcp-header": "<Name>" (list: the tool's header_params). Returns nil or a
-- mismatch message.
local function check_param_headers(req, params, list)
  local args = type(params.arguments) == "table" and params.arguments or {}
  for _, p in ipairs(list) do
    local prop, hname = p[1], p[2]
    local v = args[prop]
    if v ~= nil and v ~= json.null then
      local raw = req.headers[p[3]]
      if raw == nil then return ("missing Mcp-Param-%s header"):format(hname) end
      local h = header_text(raw)
      if not h then return ("Mcp-Param-%s: invalid base64"):format(hname) end
      local same
      if type(v) == "number" then same = tonumber(h) == v else same = h == tostring(v) end
      if not same then return ("Mcp-Param-%s does not match the argument '%s'"):format(hname, prop) end
    end
  end
  return nil
end

-- Validates the headers and _meta of one request; answers the error itself
-- and returns false when they are not acceptable. Order matters (the suite
-- checks it): required _meta keys, header/_meta agreement, support.
local function validate(req, handle, msg)
  local id = msg.id
  local hv = req.headers["mcp-protocol-version"]
  if hv == nil then
    fail(handle, 400, id, HEADER_MISMATCH, "Header mismatch: MCP-Protocol-Version header is required")
    return false
  end
  local params = msg.params -- nil or a table: classify checked it
  local meta = params ~= nil and params._meta
  if type(meta) ~= "table" then
    fail(handle, 400, id, INVALID_PARAMS, "Invalid params: _meta is required")
    return false
  end
  local mv = meta[META_V]
  if mv ~= hv and type(mv) ~= "string" then -- equal to the header: a string
    fail(handle, 400, id, INVALID_PARAMS, "Invalid params: _meta." .. META_V .. " is required")
    return false
  end
  if type(meta[META_CAPS]) ~= "table" then
    fail(handle, 400, id, INVALID_PARAMS, "Invalid params: _meta." .. META_CAPS .. " is required")
    return false
  end
  if mv ~= hv then
    fail(handle, 400, id, HEADER_MISMATCH, "Header mismatch: MCP-Protocol-Version does not match _meta")
    return false
  end
  if meta[META_V] ~= V then
    fail(handle, 400, id, UNSUPPORTED_VERSION, "Unsupported protocol version: " .. meta[META_V],
         { supported = json.array({ V }), requested = meta[META_V] })
    return false
  end
  -- Equal as sent (the usual case) or once trimmed.
  local hm = req.headers["mcp-method"]
  if hm ~= msg.method and trim(hm) ~= msg.method then
    fail(handle, 400, id, HEADER_MISMATCH, "Header mismatch: Mcp-Method must be " .. msg.method)
    return false
  end
  local field = NAME_FIELD[msg.method]
  local raw = field and req.headers["mcp-name"]
  -- Equal as sent is the usual case. A value in the encoded form means its
  -- decoding, for every reader of the header, even when it equals the field.
  if field and (raw == nil or raw ~= params[field] or byte(raw, 1) == 61) then
    local hn = header_text(raw)
    if hn == false then
      fail(handle, 400, id, HEADER_MISMATCH, "Header mismatch: Mcp-Name: invalid base64")
      return false
    end
    if hn ~= params[field] then
      fail(handle, 400, id, HEADER_MISMATCH, "Header mismatch: Mcp-Name must equal params." .. field)
      return false
    end
  end
  local tool = msg.method == "tools/call" and registry.tools[params.name] -- string keys only
  if tool and tool.header_params then
    local why = check_param_headers(req, params, tool.header_params)
    if why then
      fail(handle, 400, id, HEADER_MISMATCH, "Header mismatch: " .. why)
      return false
    end
  end
  -- A level we do not know would silently mean "no logs": say so instead.
  local level = meta[META_LEVEL]
  if level ~= nil and not (type(level) == "string" and protocol.LEVELS[level]) then
    fail(handle, 400, id, INVALID_PARAMS, BAD_LEVEL)
    return false
  end
  return true
end

-- Exchange ----------------------------------------------------------------------

-- What every exchange here has the same value for is read from Ex itself:
-- fewer fields to fill per request. mode changes on the exchange once it
-- streams (json -> sse | gone).
local Ex = { version = V, v = V, can_request = false, mode = "json" }
Ex.__index = Ex

-- Progress and (opted-in) logs stream on this very POST response.
function Ex:emit(msg)
  if filters.active_out then
    msg = filters.outgoing(msg, { transport = "stateless", protocol_version = V })
    if msg == nil then return end
  end
  if self.mode == "json" then
    self.mode = core.sse_start(self.handle, nil, true) and "sse" or "gone" -- answering: see shutdown
  end
  if self.mode == "sse" then core.send(self.handle, nil, json.encode(msg)) end
end

function Ex:save() end

local function valid_answer(method, a)
  if type(a) ~= "table" then return false end
  if method == "elicitation/create" then return type(a.action) == "string" end
  if method == "sampling/createMessage" then return type(a.content) == "table" end
  if method == "roots/list" then return type(a.roots) == "table" end
  return true
end

-- Multi Round-Trip: answers come from this request's inputResponses or from
-- the signed requestState of earlier rounds; anything missing ends the run
-- with an InputRequiredResult.
function Ex:ask_all(requests, keys)
  local answers, missing = {}, nil
  for _, key in ipairs(keys) do
    local r = requests[key]
    local a = self.responses[key]
    if a ~= nil then
      if not valid_answer(r.method, a) then
        error({ code = INVALID_PARAMS, message = ("Invalid params: inputResponses.%s is not a valid %s result"):format(key, r.method) }, 0)
      end
      answers[key] = a
      local used = self.used or {}
      self.used = used
      used[key] = a
    else
      missing = missing or {}
      missing[key] = { method = r.method, params = r.params }
    end
  end
  if missing then error({ input_required = true, requests = missing }, 0) end
  return answers
end

function Ex:input_required(msg, err)
  local st = core.sign(json.encode({ m = self.method, n = self.name, r = json.object(self.used), t = os.time() }))
  return jsonrpc.result(msg.id, { resultType = "input_required", inputRequests = err.requests,
                                  requestState = st })
end

function Ex:finish(resp)
  if filters.active_out then
    resp = filters.outgoing(resp, { transport = "stateless", protocol_version = V }, self.method)
    if resp == nil then
      if self.mode == "sse" then core.finish(self.handle)
      elseif self.mode == "json" then core.respond(self.handle, 202, nil, "") end
      return
    end
  end
  if resp.result then
    local r = resp.result
    r.resultType = r.resultType or "complete"
    if CACHEABLE[self.method] and r.resultType == "complete" then
      r.ttlMs, r.cacheScope = 0, "private"
    end
  end
  if self.mode == "sse" then
    core.send(self.handle, nil, json.encode(resp))
    core.finish(self.handle)
  elseif self.mode == "json" then
    local status = resp.error and status_for(resp.error.code) or 200
    core.respond(self.handle, status, JSON, json.encode(resp))
  end
end

-- The answers of a first round (most requests): read, never written.
local NO_ANSWERS = {}

-- Reads inputResponses and a verified requestState into one answer table.
local function collect_answers(msg, name)
  local params = msg.params
  local answers = {}
  local rs = params.requestState
  if rs ~= nil then
    local payload = type(rs) == "string" and core.verify(rs)
    local st = payload and json.decode(payload)
    if type(st) ~= "table" or st.m ~= msg.method or st.n ~= name or type(st.t) ~= "number"
       or os.time() - st.t > STATE_TTL_S then
      error({ code = INVALID_PARAMS, message = "Invalid params: requestState is invalid or was tampered with" }, 0)
    end
    if type(st.r) == "table" then for k, v in pairs(st.r) do answers[k] = v end end
  end
  local ir = params.inputResponses
  if ir ~= nil then
    if type(ir) ~= "table" or (json.is_array(ir) and next(ir) ~= nil) then
      error({ code = INVALID_PARAMS, message = "Invalid params: inputResponses must be an object" }, 0)
    end
    for k, v in pairs(ir) do answers[k] = v end
  end
  return answers
end

-- Methods only this revision has --------------------------------------------------

local function discover_result()
  return {
    resultType = "complete",
    supportedVersions = json.array(protocol.VERSIONS),
    -- The ones initialize declares: logging included, since a request's
    -- _meta logLevel turns on log notifications here too.
    capabilities = protocol.capabilities(),
    instructions = protocol.instructions,
    ttlMs = 0, cacheScope = "private",
    _meta = { [META_SERVER] = protocol.server_info },
  }
end

local FILTER_KEYS = { toolsListChanged = "notifications/tools/list_changed",
                      promptsListChanged = "notifications/prompts/list_changed",
                      resourcesListChanged = "notifications/resources/list_changed" }

-- Reads a SubscriptionFilter into { want = key -> true, subs = uri -> true,
-- ack = what the stream will deliver, in the filter's own terms }, or nil
-- and a message. Keys this server does not know stay out of ack (it cannot
-- honor them); a known key of the wrong type is an error rather than a guess.
local function read_filter(filter)
  if filter == nil then return nil, "notifications filter is required" end
  if type(filter) ~= "table" or json.is_array(filter) then return nil, "notifications must be an object" end
  local want, subs, ack = {}, {}, json.object()
  for k in pairs(FILTER_KEYS) do
    local v = filter[k]
    if v ~= nil and type(v) ~= "boolean" then return nil, ("notifications.%s must be a boolean"):format(k) end
    if v then want[k], ack[k] = true, true end
  end
  local list = filter.resourceSubscriptions
  if list ~= nil then
    local why = "notifications.resourceSubscriptions must be a list of URI strings"
    if not json.is_array(list) then return nil, why end
    local uris = {}
    for _, uri in ipairs(list) do
      if type(uri) ~= "string" then return nil, why end
      if not subs[uri] then
        subs[uri] = true
        uris[#uris + 1] = uri
      end
    end
    if uris[1] then ack.resourceSubscriptions = uris end
  end
  return { want = want, subs = subs, ack = ack }
end

-- A listen stream lives in an ephemeral core session (gone when the client
-- disconnects), so any generation can reach it after a reload.
local function listen(req, handle, msg)
  local f, why = read_filter(msg.params.notifications)
  if not f then return fail(handle, 400, msg.id, INVALID_PARAMS, "Invalid params: " .. why) end
  local state = { kind = "listen", v = V, want = f.want, subs = f.subs, subid = msg.id }
  local sid = sessions.create(state, false, true)
  if not core.session_attach(handle, sid, 0, nil, nil, false) then
    sessions.destroy(sid)
    return
  end
  core.session_send(sid, 0, nil, json.encode(jsonrpc.notification("notifications/subscriptions/acknowledged", {
    notifications = f.ack, _meta = { [META_SUB] = msg.id } })))
end

-- Called by the broadcaster for listen sessions: applies the filter and tags
-- the notification with the subscription id.
function S.deliver(sid, state, msg)
  local m = msg.method
  if m == "notifications/resources/updated" then
    if not (state.subs and state.subs[msg.params.uri]) then return false end
  else
    local ok = false
    for k, method in pairs(FILTER_KEYS) do
      if method == m and state.want and state.want[k] then ok = true end
    end
    if not ok then return false end
  end
  local params = {}
  for k, v in pairs(msg.params or {}) do params[k] = v end
  params._meta = { [META_SUB] = state.subid }
  local out = jsonrpc.notification(m, params)
  if filters.active_out then
    out = filters.outgoing(out, { transport = "stateless", session_id = sid, protocol_version = V })
    if out == nil then return false end
  end
  return core.session_send(sid, 0, nil, json.encode(out)) ~= nil
end

-- A listen stream's end (SubscriptionsListenResult): the response to the
-- subscriptions/listen request, naming the subscription.
function S.end_listen(sid, state)
  local res = jsonrpc.result(state.subid, { resultType = "complete", _meta = { [META_SUB] = state.subid } })
  if filters.active_out then
    res = filters.outgoing(res, { transport = "stateless", session_id = sid, protocol_version = V },
                           "subscriptions/listen")
    if res == nil then return end
  end
  core.session_send(sid, 0, nil, json.encode(res))
end

-- The task of one request; ex.msg is the request. ex is the argument of
-- both the task and its error handler: no closure per request.
local function run_exchange(ex)
  ex:finish(protocol.run(ex.msg, ex) or jsonrpc.error(ex.request_id, jsonrpc.INTERNAL_ERROR, "cancelled"))
end

local function exchange_failed(e, ex)
  ex.cancelled = true
  ex:finish(protocol.failure_response(ex.msg, e))
end

function S.post(req, handle, msgs, batch)
  if batch then
    return fail(handle, 400, nil, jsonrpc.INVALID_REQUEST,
                "Invalid Request: batches are not supported in protocol revision " .. V)
  end
  local msg = msgs[1]
  local kind, err = jsonrpc.classify(msg)
  if not kind then
    local id = type(msg) == "table" and jsonrpc.valid_id(msg.id) and msg.id or nil
    return fail(handle, 400, id, err.code, err.message)
  end
  -- Notifications and responses have no session to act on.
  if kind ~= "request" then return core.respond(handle, 202, nil, "") end
  local id = msg.id -- a request: classify checked it is a valid id
  if not validate(req, handle, msg) then return end
  if filters.active_in then
    local kept, reply = filters.incoming(msg, { transport = "stateless", protocol_version = V, headers = req.headers })
    if kept == nil then
      if reply and filters.active_out then
        reply = filters.outgoing(reply, { transport = "stateless", protocol_version = V }, msg.method)
      end
      if reply == nil then return core.respond(handle, 202, nil, "") end
      return core.respond(handle, 200, JSON, json.encode(reply))
    end
    msg = kept
  end

  local method = msg.method
  if REMOVED[method] then
    return fail(handle, 404, id, METHOD_NOT_FOUND, "Method not found: " .. method .. " (removed in " .. V .. ")")
  end
  if method == "server/discover" then
    local res = jsonrpc.result(id, discover_result())
    if filters.active_out then
      res = filters.outgoing(res, { transport = "stateless", protocol_version = V }, method)
      if res == nil then return core.respond(handle, 202, nil, "") end
    end
    return core.respond(handle, 200, JSON, json.encode(res))
  end
  if method == "subscriptions/listen" then return listen(req, handle, msg) end

  local params = msg.params
  local meta = params._meta
  local level = meta[META_LEVEL] -- validated, but a filter may have rewritten the request since
  local name = NAME_FIELD[method] and params[NAME_FIELD[method]] or nil
  local answers = NO_ANSWERS
  if params.requestState ~= nil or params.inputResponses ~= nil then
    local ok
    ok, answers = pcall(collect_answers, msg, name)
    if not ok then
      local e = type(answers) == "table" and answers or { code = jsonrpc.INTERNAL_ERROR, message = "Internal error" }
      return fail(handle, 400, id, e.code, e.message)
    end
  end
  -- Every field in one constructor: the table is sized once, never rehashed.
  -- A request is its own session here, so ex is its own state too (v, caps,
  -- info, level): one table fewer per request.
  local ex = setmetatable({
    handle = handle, method = method, name = name, request_id = id, responses = answers, msg = msg,
    state = false, caps = meta[META_CAPS], info = meta[META_INFO], level = protocol.LEVELS[level] and level or nil,
  }, Ex)
  ex.state = ex
  runtime.spawn(run_exchange, exchange_failed, protocol.budget_for(msg), ex)
end

return S
