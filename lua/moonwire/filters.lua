-- JSON-RPC message filters declared by plugins (p:filter, on_message_in/out).
-- The MCP transports call F.incoming on every client message before the
-- protocol sees it and F.outgoing on every message they send. Incoming filters
-- run in plugin priority order, outgoing ones in reverse (onion order). With
-- no filters declared, F.active_in / F.active_out are false and the
-- transports skip this module entirely: the hot path pays one field test.
local core = require "moonwire.core"
local jsonrpc = require "moonwire.jsonrpc"
local runtime = require "moonwire.runtime"

local F = {
  ins = {},          -- filters for client -> server, highest priority first
  outs = {},         -- filters for server -> client, lowest priority first
  active_in = false,
  active_out = false,
}

-- Returned by a filter to make the message vanish.
F.DROP = setmetatable({}, { __name = "mw.DROP", __tostring = function() return "mw.DROP" end })

local REJECT = setmetatable({}, { __name = "mw.reject" })

-- A short-circuit answer: mw.reject(code, message, data).
function F.reject(code, message, data)
  if math.type(code) ~= "integer" then error("mw.reject: code must be an integer", 2) end
  return { [REJECT] = true, code = code, message = tostring(message or "rejected"), data = data }
end

local function is_reject(r) return type(r) == "table" and r[REJECT] == true end

-- filter = { plugin = name, priority = n, order = declaration index,
--            direction = "in"|"out", methods = set|nil, handler = fn, config = ro table }
function F.add(filter)
  local list = filter.direction == "in" and F.ins or F.outs
  list[#list + 1] = filter
  -- Stable: priority, then plugin load order, then declaration order.
  table.sort(list, function(a, b)
    if a.priority ~= b.priority then
      if filter.direction == "in" then return a.priority > b.priority end
      return a.priority < b.priority
    end
    if filter.direction == "in" then return a.order < b.order end
    return a.order > b.order
  end)
  F.active_in, F.active_out = #F.ins > 0, #F.outs > 0
end

local FILTER_BUDGET_MS = 1000

-- A message a filter put in place of another must still be one.
local function valid_replacement(r)
  return r == nil or r == F.DROP or is_reject(r) or (type(r) == "table" and r.jsonrpc == "2.0")
end

local function call(f, msg, ctx)
  ctx.config, ctx.plugin = f.config, f.plugin
  local ok, r
  if coroutine.isyieldable() then
    -- Inside a handler's task, on its budget. A yield would suspend the task
    -- with nothing to resume it: the runtime fails the task instead.
    ok, r = runtime.call_no_yield(f.handler, msg, ctx)
  else
    -- Outside a task coroutine nothing else would stop a runaway filter.
    core.guard(FILTER_BUDGET_MS)
    ok, r = xpcall(f.handler, debug.traceback, msg, ctx)
    core.guard(0)
  end
  if ok and not valid_replacement(r) then
    ok, r = false, type(r) == "table" and "returned a table without jsonrpc = \"2.0\"" or "returned a " .. type(r)
  end
  if not ok then
    core.lua_error(("plugin %s: %s filter failed: %s"):format(f.plugin, f.direction, runtime.describe_error(r)))
    -- Fail closed: a broken filter (an auth check, say) must not wave messages through.
    return F.reject(jsonrpc.INTERNAL_ERROR, "Internal error")
  end
  return r
end

-- Runs the incoming filters on one client message. ctx: { transport,
-- session_id, protocol_version?, headers? }. Returns the message to process
-- (possibly replaced); or nil and, for a rejected request, the error
-- response to send back instead.
function F.incoming(msg, ctx)
  ctx.direction = "in"
  local method = type(msg) == "table" and msg.method or nil
  for _, f in ipairs(F.ins) do
    if not f.methods or (method and f.methods[method]) then
      ctx.method = method
      local r = call(f, msg, ctx)
      if r == F.DROP then return nil end
      if is_reject(r) then
        if method and msg.id ~= nil then return nil, jsonrpc.error(msg.id, r.code, r.message, r.data) end
        return nil
      end
      if r ~= nil then
        msg = r
        method = msg.method
      end
    end
  end
  return msg
end

-- Runs the outgoing filters on one server message. `method` names the
-- request a response answers (responses carry no method of their own).
-- Returns the message to send, or nil when it was dropped.
function F.outgoing(msg, ctx, method)
  ctx.direction = "out"
  method = msg.method or method
  for _, f in ipairs(F.outs) do
    if not f.methods or (method and f.methods[method]) then
      ctx.method = method
      local r = call(f, msg, ctx)
      if r == F.DROP then return nil end
      if is_reject(r) then
        -- Only a response can become an error; anything else just goes.
        if msg.method or msg.id == nil then return nil end
        return jsonrpc.error(msg.id, r.code, r.message, r.data)
      end
      if r ~= nil then msg = r end
    end
  end
  return msg
end

-- Applies F.incoming to a list of messages. Returns the kept messages and
-- the error responses of rejected requests.
function F.incoming_all(msgs, ctx)
  local kept, replies = {}, {}
  for _, m in ipairs(msgs) do
    local out, reply = F.incoming(m, ctx)
    if out ~= nil then kept[#kept + 1] = out end
    if reply then replies[#replies + 1] = reply end
  end
  return kept, replies
end

return F
