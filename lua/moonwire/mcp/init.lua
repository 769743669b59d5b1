-- MCP wiring: installs the transports' routes, and offers what the public
-- API (mw.tool, mw.resource, …) and scripts need: declarations, change
-- notifications, resource-update notifications.
local core = require "moonwire.core"
local json = require "moonwire.json"
local jsonrpc = require "moonwire.jsonrpc"
local runtime = require "moonwire.runtime"
local registry = require "moonwire.mcp.registry"
local sessions = require "moonwire.mcp.sessions"
local filters = require "moonwire.filters"

local M = { registry = registry, path = "/mcp" }

local installed = false

function M.install()
  if installed then return end
  installed = true
  local http = require "moonwire.mcp.http"
  local legacy = require "moonwire.mcp.legacy"
  local function route(method, path, fn)
    assert(runtime.add_route({ path = path, methods = { method }, handler = fn, raw = true,
                               where = "moonwire.mcp" }))
  end
  route("POST", M.path, http.post)
  route("GET", M.path, http.get)
  route("DELETE", M.path, http.delete)
  route("GET", "/sse", legacy.get)
  route("POST", legacy.endpoint, legacy.post)
  runtime.activate_listeners[#runtime.activate_listeners + 1] = M.notify_changes
  runtime.shutdown_listeners[#runtime.shutdown_listeners + 1] = M.end_listens
end

--- On a graceful shutdown, each 2026-07-28 listen stream gets its final
--- result before the core ends it: the subscription ended, not the network.
function M.end_listens()
  local stateless = require "moonwire.mcp.stateless"
  for _, sid in ipairs(core.session_ids()) do
    local state = sessions.get(sid)
    if state and state.kind == "listen" then stateless.end_listen(sid, state) end
  end
end

-- Sends `msg` to every session that can receive server-initiated messages:
-- legacy streams, Streamable HTTP sessions that opened their GET stream, and
-- 2026-07-28 subscriptions/listen streams (through `listen_filter`).
function M.broadcast(msg, want)
  local data = json.encode(msg)
  local n = 0
  for _, sid in ipairs(core.session_ids()) do
    local state = sessions.get(sid)
    if state and (not want or want(state)) then
      -- Plugin outgoing filters see each session's copy (listen streams
      -- are filtered in stateless.deliver).
      local skip = false
      if filters.active_out and state.kind ~= "listen" then
        local out = filters.outgoing(msg, { transport = state.kind, session_id = sid, protocol_version = state.v })
        if out == nil then skip = true else data = json.encode(out) end
      end
      if skip then -- dropped for this session
      elseif state.kind == "legacy" then
        if core.session_send(sid, 0, "message", data) then n = n + 1 end
      elseif state.kind == "listen" then
        local stateless = require "moonwire.mcp.stateless"
        if stateless.deliver(sid, state, msg) then n = n + 1 end
      elseif state.standalone then
        -- Kept in the log even while the GET stream is away, so a client
        -- resuming with Last-Event-ID gets it.
        if core.session_send(sid, 0, nil, data) then n = n + 1 end
      end
    end
  end
  return n
end

--- Sends a server-initiated notification to one session's standalone stream.
--- Returns true when the session exists and can receive it.
function M.notify(sid, method, params)
  local state = sessions.get(sid)
  if not state then return false end
  local msg = jsonrpc.notification(method, params)
  if state.kind == "listen" then
    local stateless = require "moonwire.mcp.stateless"
    return stateless.deliver(sid, state, msg)
  end
  if filters.active_out then
    msg = filters.outgoing(msg, { transport = state.kind, session_id = sid, protocol_version = state.v })
    if msg == nil then return false end
  end
  return core.session_send(sid, 0, state.kind == "legacy" and "message" or nil, json.encode(msg)) ~= nil
end

local LIST_CHANGED = {
  tools = "notifications/tools/list_changed",
  resources = "notifications/resources/list_changed",
  prompts = "notifications/prompts/list_changed",
}

--- Tells every connected client that a list changed ("tools", "resources", "prompts").
function M.list_changed(kind)
  local method = assert(LIST_CHANGED[kind], "kind must be tools, resources or prompts")
  return M.broadcast(jsonrpc.notification(method))
end

--- Tells subscribers of `uri` that the resource changed.
function M.resource_updated(uri)
  return M.broadcast(jsonrpc.notification("notifications/resources/updated", { uri = uri }),
    function(state) return state.subs and state.subs[uri] end)
end

-- After a reload: compare what is declared now with what the previous
-- generation declared (kept in the C shared store) and notify what changed.
function M.notify_changes()
  local fps = registry.fingerprints()
  local changed = {}
  for kind, fp in pairs(fps) do
    local key = "moonwire.mcp.fp." .. kind
    local old = core.shared_get(key)
    if old ~= fp then
      -- A full store (SHARED_MEMORY_MB) must not cost the notification: the
      -- next reload then compares with the older print and tells again.
      local saved, err = pcall(core.shared_set, key, fp)
      if not saved then core.lua_error(tostring(err)) end
      if old ~= nil then changed[#changed + 1] = kind end
    end
  end
  if #changed == 0 then return end
  -- Telling 10,000 sessions takes a few hundred ms (each may need its state
  -- decoded, each is a write): as a task, preempted every 10 ms like any
  -- handler, the new generation serves requests meanwhile.
  runtime.spawn(function()
    for _, kind in ipairs(changed) do M.list_changed(kind) end
  end, function(err)
    core.lua_error("list_changed broadcast: " .. tostring(type(err) == "table" and err.message or err))
  end)
end

return M
