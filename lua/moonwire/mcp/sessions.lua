-- MCP session state on top of core sessions. The state of record is the JSON
-- blob kept by the C session (so it survives reloads); this generation keeps
-- a decoded copy per session. Also tracks requests in flight (for
-- cancellation) and server->client requests awaiting their answer.
local core = require "moonwire.core"
local json = require "moonwire.json"
local runtime = require "moonwire.runtime"

local S = {
  -- sid -> decoded state. Weak: an idle session's state lives only in the C
  -- session (as JSON) and is decoded again on its next request, so 10,000
  -- idle sessions cost no Lua memory.
  cache = setmetatable({}, { __mode = "v" }),
  inflight = {}, -- sid -> { [request id] = exchange }: S.track, S.running
  pending = {},  -- key(sid, id) -> { co = coroutine, timer = timer }
  next_id = 0,
}

-- JSON-RPC ids 1 and "1" are different requests.
local function key(sid, id)
  return (sid or "") .. "\0" .. type(id) .. ":" .. tostring(id)
end

-- Requests in flight, by session, then by id: a Lua table tells 1 from "1"
-- by itself, and this costs no string per request (key() costs ~2k
-- instructions: tostring of an integer is a snprintf).
function S.running(sid, id)
  local t = S.inflight[sid]
  return t and t[id]
end

-- Tracks ex as the request running under id; false when one already is.
function S.track(sid, id, ex)
  local t = S.inflight[sid]
  if not t then
    t = {}
    S.inflight[sid] = t
  elseif t[id] ~= nil then
    return false
  end
  t[id] = ex
  return true
end

-- Drops ex if it is still the one running under id. The session's table
-- stays, empty, until S.forget: making it anew for every request cost more.
function S.untrack(sid, id, ex)
  local t = S.inflight[sid]
  if t and t[id] == ex then t[id] = nil end
end

-- state = { v = version, caps = clientCapabilities, info = clientInfo,
--           level = "info", subs = { [uri] = true }, kind = "http"|"legacy"|"listen",
--           initialized = bool }
-- An ephemeral session ends with its stream (a subscriptions/listen stream).
function S.create(state, prefixed_ids, ephemeral)
  local sid = core.session_create(json.encode(state), prefixed_ids, ephemeral)
  S.cache[sid] = state
  if runtime.session_open_listeners[1] then
    runtime.session_opened(sid, { transport = state.kind, protocol_version = state.v })
  end
  return sid
end

-- touch: the lookup is also activity on the session (its idle timeout
-- starts again), which costs no second lookup in the core.
function S.get(sid, touch)
  if type(sid) ~= "string" then return nil end
  local state = S.cache[sid]
  if state then
    -- The decoded copy is current; only the session's existence is news.
    if (touch and core.session_touch or core.session_exists)(sid) then return state end
    S.cache[sid] = nil
    return nil
  end
  local exists, data = core.session_get(sid)
  if not exists then return nil end
  if touch then core.session_touch(sid) end
  state = data and json.decode(data) or {}
  if type(state) ~= "table" then state = {} end
  S.cache[sid] = state
  return state
end

function S.save(sid, state)
  S.cache[sid] = state
  return core.session_set(sid, json.encode(state))
end

function S.destroy(sid)
  local ok = core.session_destroy(sid)
  if ok then runtime.session_closed(sid, "deleted") end -- listeners include S.forget
  return ok
end

function S.forget(sid)
  S.cache[sid] = nil
  local running = {}
  for _, ex in pairs(S.inflight[sid] or running) do running[#running + 1] = ex end
  S.inflight[sid] = nil
  for _, ex in ipairs(running) do
    ex.cancelled = true
    if ex.waker then ex.waker() end
  end
  -- Resuming a waiter may add entries: collect first, then resolve.
  local prefix = sid .. "\0"
  local waiting = {}
  for k in pairs(S.pending) do
    if k:sub(1, #prefix) == prefix then waiting[#waiting + 1] = k end
  end
  for _, k in ipairs(waiting) do S.resolve(k, nil, "session closed") end
end

-- Server -> client requests -------------------------------------------------

S.REQUEST_TIMEOUT_MS = 300000

-- Sends `method` via emit(request) and suspends the calling coroutine until
-- the client answers, the request times out or the session ends. Returns
-- result, or nil + error message/object.
function S.ask(sid, emit, method, params, ex)
  S.next_id = S.next_id + 1
  local id = ("mw-%d-%d"):format(runtime.generation, S.next_id)
  local k = key(sid, id)
  local co = coroutine.running()
  local entry = { co = co }
  S.pending[k] = entry
  entry.timer = core.timer(S.REQUEST_TIMEOUT_MS, false, function()
    S.resolve(k, nil, "request timed out")
  end)
  if ex then
    ex.waker = function() S.resolve(k, nil, "cancelled") end
  end
  -- A failed send must not leave the entry behind: its timer would resume
  -- this coroutine long after the task is over (the runtime reuses task
  -- coroutines that never suspended).
  local sent, serr = pcall(emit, { jsonrpc = "2.0", id = id, method = method, params = params })
  if not sent then
    S.pending[k] = nil
    entry.timer:stop()
    if ex then ex.waker = nil end
    error(serr, 0)
  end
  local result, err = runtime.wait()
  if ex then ex.waker = nil end
  return result, err
end

-- Session revisions: ask each request in turn; stop at the first failure.
function S.ask_all(sid, emit, requests, keys, ex)
  local answers = {}
  for _, key in ipairs(keys) do
    local r = requests[key]
    local res, err = S.ask(sid, emit, r.method, r.params, ex)
    if res == nil then return nil, err end
    answers[key] = res
  end
  return answers
end

function S.resolve(k, result, err)
  local entry = S.pending[k]
  if not entry then return false end
  S.pending[k] = nil
  entry.timer:stop()
  runtime.resume(entry.co, result, err)
  return true
end

local function deliver(sid, msg)
  if msg.error ~= nil then
    local e = msg.error
    return S.resolve(key(sid, msg.id), nil, type(e) == "table" and tostring(e.message or "client error") or tostring(e))
  end
  return S.resolve(key(sid, msg.id), msg.result)
end

-- A response message from the client: wakes the request waiting for it,
-- here or in the generation that was current when it asked.
function S.on_response(sid, msg)
  return deliver(sid, msg) or core.forward("mcp.response", sid, json.encode(msg))
end

runtime.cross_handlers["mcp.response"] = function(sid, data)
  local msg = json.decode(data)
  return type(msg) == "table" and deliver(sid, msg)
end

local function cancel(sid, request_id)
  local ex = S.running(sid, request_id)
  if not ex then return false end
  ex.cancelled = true
  if ex.waker then ex.waker() end
  return true
end

-- notifications/cancelled from the client.
function S.cancel(sid, request_id)
  return cancel(sid, request_id) or core.forward("mcp.cancel", sid, json.encode({ id = request_id }))
end

runtime.cross_handlers["mcp.cancel"] = function(sid, data)
  local m = json.decode(data)
  return type(m) == "table" and cancel(sid, m.id)
end

-- A session that ended ends the waits of every generation.
runtime.cross_handlers["mcp.forget"] = function(sid)
  S.forget(sid)
  return false
end

runtime.session_listeners[#runtime.session_listeners + 1] = function(sid)
  S.forget(sid)
  core.forward("mcp.forget", sid)
end

return S
