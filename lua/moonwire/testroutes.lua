-- Test-only routes under /_test/, installed only when the operator starts the
-- server with MOONWIRE_TEST_ROUTES=1 (core/config.c; core.test_fault exists only
-- then too). They serve client/test_reconnection.html, a manual test page for
-- client/sse-connection.js, with the channel it streams from, a publisher, and a
-- fault route that drops or stalls that channel's streams on request.
--
-- Every channel here is namespaced ("_test/<name>"), so these routes can only
-- publish to, drop and stall streams they serve themselves, never an
-- application's channels.
local core = require "moonwire.core"
local runtime = require "moonwire.runtime"

local M = { prefix = "/_test" }

local NS = "_test/"
local MAX_PUBLISH = 10000
local MAX_STALL_MS = 600000

-- client/ sits next to the framework's lua/ directory in the source tree.
local LUA_DIR = debug.getinfo(1, "S").source:match("^@(.*)/moonwire/[^/]*$") or "."
local CLIENT_DIR = LUA_DIR .. "/../client/"

local FILES = {
  ["/reconnection"] = { file = "test_reconnection.html", type = "text/html; charset=utf-8" },
  ["/sse-connection.js"] = { file = "sse-connection.js", type = "text/javascript; charset=utf-8" },
}

local function bad(message) error({ status = 400, message = message }, 0) end

-- Query arguments: only `allowed` names, each given at most once, so a typo
-- (`ms=` vs `msec=`) is a 400 rather than a silently ignored value.
local function args_of(req, allowed)
  local seen = {}
  for pair in req.query:gmatch("[^&]+") do
    local k = runtime.unescape(pair:match("^([^=]*)"))
    if not allowed[k] then bad(("unknown parameter '%s'"):format(k)) end
    if seen[k] then bad(("parameter '%s' given twice"):format(k)) end
    seen[k] = true
  end
  return req.args
end

local function channel_of(name)
  if type(name) ~= "string" or not name:match("^[%w_.-]+$") or #name > 64 then
    bad("channel must be 1-64 characters of A-Z a-z 0-9 _ . -")
  end
  return NS .. name
end

local function int_arg(args, name, lo, hi)
  local v = args[name]
  if v == nil then bad(("'%s' is required"):format(name)) end
  if not v:match("^%d+$") or #v > 9 or tonumber(v) < lo or tonumber(v) > hi then
    bad(("'%s' must be an integer in %d..%d"):format(name, lo, hi))
  end
  return tonumber(v)
end

local function serve_file(req)
  local f = FILES[req.path:sub(#M.prefix + 1)]
  local path = CLIENT_DIR .. f.file
  local fh = io.open(path, "rb")
  if not fh then
    error({ status = 404, message = "test page file not found (client/ is not installed): " .. f.file }, 0)
  end
  local body = fh:read("a")
  fh:close()
  return { headers = { ["Content-Type"] = f.type, ["Cache-Control"] = "no-store" }, body = body }
end

local function info()
  local c = core.config()
  return { json = { heartbeat_interval = c.heartbeat_interval, retry_ms = c.retry_ms } }
end

local function events(req, ctx)
  args_of(req, { lastEventId = true })
  ctx:subscribe(channel_of(req.params.channel))
end

-- Publishes `count` events whose data are consecutive integers per channel
-- (the counter lives in mw.shared, so it survives reloads), which lets the
-- page check order and completeness by value as well as by id.
local function publish(req)
  local args = args_of(req, { channel = true, count = true })
  local ch = channel_of(args.channel)
  local count = int_arg(args, "count", 1, MAX_PUBLISH)
  local last = core.shared_incr("moonwire.testroutes.seq:" .. ch, count)
  local first = last - count + 1
  local id, delivered
  for n = first, last do id, delivered = core.publish(ch, nil, tostring(n)) end
  return { json = { first = first, last = last, last_id = id, subscribers = delivered } }
end

-- drop: every stream of the channel is closed at once, without the final
-- chunk. stall: they get nothing, not even heartbeats, for `ms` while their
-- connections stay open (the client's watchdog has to notice); this request
-- answers when the stall ends, and what was published meanwhile follows.
local function fault(req, ctx)
  local args = args_of(req, { channel = true, action = true, ms = true })
  local ch = channel_of(args.channel)
  local action = args.action
  if action == "drop" then
    if args.ms ~= nil then bad("'ms' applies to stall only") end
    return { json = { action = action, streams = core.test_fault("drop", ch) } }
  elseif action == "stall" then
    local ms = int_arg(args, "ms", 1, MAX_STALL_MS)
    local n = core.test_fault("stall", ch, ms)
    ctx:sleep(ms / 1000)
    core.test_fault("resume", ch)
    return { json = { action = action, streams = n, ms = ms } }
  end
  bad("action must be drop or stall")
end

function M.install()
  local function route(method, path, handler, timeout_ms)
    assert(runtime.add_route({ path = M.prefix .. path, methods = { method }, handler = handler,
                               timeout_ms = timeout_ms, where = "moonwire.testroutes" }))
  end
  for path in pairs(FILES) do route("GET", path, serve_file) end
  route("GET", "/info", info)
  route("GET", "/events/:channel", events)
  route("POST", "/publish", publish)
  route("POST", "/fault", fault, MAX_STALL_MS + 10000)
end

return M
