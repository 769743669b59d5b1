-- The per-generation runtime the C core calls into: loads scripts, routes
-- requests, runs every handler in its own coroutine, owns script timers.
-- Each generation is a separate lua_State, so this module's tables are that
-- generation's registry and vanish with it.
local core = require "moonwire.core"
local json = require "moonwire.json"

local M = {
  generation = 0,
  handler_timeout_ms = core.config().handler_timeout_ms or 30000,
  routes = {},        -- exact path -> { [METHOD] = route }
  patterns = {},      -- routes with :params, in declaration order
  timers = {},        -- script timers, stopped when the generation retires
  session_listeners = {},
  activate_listeners = {},
  shutdown_listeners = {}, -- fn() when the server begins a graceful shutdown
}

local function traceback(err)
  if type(err) == "table" then return err end
  return debug.traceback(M.describe_error(err), 2)
end
M.traceback = traceback

-- A bad declaration (mw.tool, mw.route, … in init.lua) names the script's
-- line itself; the framework frames below it would only be noise in the log.
local function load_traceback(err)
  if err == M.declaration_error then return err end
  return traceback(err)
end

-- What a thrown value says, as a string, without ever throwing itself: a
-- handler may throw a table with a cycle or one whose __tostring fails.
function M.describe_error(err)
  if type(err) == "table" then
    if type(err.message) == "string" then return err.message end
    local ok, text = pcall(json.encode, err)
    return ok and text or "a table that cannot be described"
  end
  local ok, text = pcall(tostring, err)
  return ok and text or "a " .. type(err) .. " that cannot be described"
end

--- Option `key` of `opts` as a non-negative whole number of ms or bytes (a
--- fraction rounds down), or `default` when absent; else an error naming
--- `fn` and the key at the caller's caller.
function M.count_option(fn, opts, key, default)
  local v = opts[key]
  if v == nil then return default end
  local n = type(v) == "number" and v >= 0 and math.tointeger(math.floor(v))
  if not n then error(("%s: %s must be a number >= 0"):format(fn, key), 3) end
  return n
end

--- Raises an error naming `fn` at the caller's caller for a key of `opts`
--- that `known` (key -> true) does not have: a misspelt option must not be
--- silently ignored.
function M.check_options(fn, opts, known)
  for k in pairs(opts) do
    if not known[k] then error(("%s: unknown option '%s'"):format(fn, tostring(k)), 3) end
  end
end

-- Coroutines ---------------------------------------------------------------

-- Task coroutines run unhooked until the core's watch signal arms a check
-- (core.slice); a coroutine a handler creates gets the budget hook for its
-- whole run instead. Replaced in the state's own library, before any sandbox
-- copies it, so every script and plugin gets these.
local cocreate = coroutine.create -- task workers need no hook of their own
coroutine.create = core.budgeted(coroutine.create)
coroutine.wrap = core.budgeted(coroutine.wrap)

-- Every handler runs in its own coroutine under a time budget. Past it, the
-- core's budget check yields the coroutine out of whatever it is doing (a
-- runaway loop included) and the runtime abandons it: the task finishes with
-- a timeout error and the coroutine is never resumed again. A coroutine
-- suspended past its deadline (sleeping, waiting for a client) is abandoned
-- by the sweeper the same way.

local tasks = {}          -- co -> { co, on_error, arg, budget_ms, deadline_ms, suspended, no_yield,
                          --        cleanup = fn run when the task ends however it ends | false }
local sweeper = nil
M.tasks = tasks

local TIMEOUT = "timeout"

-- Task coroutines are reused: a worker runs one task, yields DONE with the
-- xpcall results, and waits there for the next (fn, ...). Only a worker
-- whose task finished without ever suspending goes back to `idle`: nothing
-- can hold it to resume it later (a timer, a pending client request), so a
-- stale resume can never reach the next task. Saves creating a coroutine,
-- its closure, its stack and its task table for every request.
local DONE = {}
local idle = {}           -- task tables of idle workers (task.co)
local IDLE_MAX = 16

local function worker(fn, ...)
  -- Tail calls: the worker's stack does not grow from task to task.
  if tasks[coroutine.running()] then
    return worker(coroutine.yield(DONE, xpcall(fn, traceback, ...)))
  end
  -- Resumed by something other than the runtime (a script that kept
  -- coroutine.running() of an earlier task): run nothing, stay parked.
  return worker(coroutine.yield(DONE, false, "not a running task"))
end

local function finish(co, task, ok, err)
  tasks[co] = nil
  if task.suspended then core.release() end
  local cleanup = task.cleanup -- what the task still owns (a subprocess): it is over
  if cleanup then
    task.cleanup = false
    local cok, e = xpcall(cleanup, traceback)
    if not cok then core.lua_error(M.describe_error(e)) end
  end
  if not ok then
    if task.on_error then
      local eok, e = xpcall(task.on_error, traceback, err, task.arg)
      if not eok then core.lua_error(M.describe_error(e)) end
    else
      core.lua_error(M.describe_error(err))
    end
  end
end

local function timeout_error(task)
  return { timeout = true, message = ("handler exceeded its time budget of %d ms"):format(task.budget_ms) }
end

-- Resumes a task's coroutine and settles it if it ended, failed, or was
-- stopped by its budget. Resuming an abandoned coroutine does nothing.
local resuming = nil -- the task coroutine M.resume is resuming right now

--- Runs fn(...) under xpcall, for code that must not yield (a message
--- filter): a task that yields inside it, other than by preemption, has
--- failed, and is abandoned like one past its budget. Returns xpcall's first
--- two results.
function M.call_no_yield(fn, ...)
  local task = tasks[coroutine.running()]
  if not task then return xpcall(fn, traceback, ...) end
  task.no_yield = task.no_yield + 1
  local ok, r = xpcall(fn, traceback, ...)
  task.no_yield = task.no_yield - 1
  return ok, r
end

function M.resume(co, ...)
  local task = tasks[co]
  if not task then return false end
  core.slice(co, task.deadline_ms)
  local outer = resuming
  resuming = co
  local ok, done, xok, err = coroutine.resume(co, ...)
  local expired, preempted = core.unslice(co)
  resuming = outer
  if not ok then
    finish(co, task, false, done)
  elseif done == DONE then
    finish(co, task, xok, err)
    if xok and not task.suspended and #idle < IDLE_MAX then
      -- The task table goes back with its coroutine, to be refilled.
      task.on_error, task.arg = nil, nil
      idle[#idle + 1] = task
    end
  elseif expired then
    finish(co, task, false, timeout_error(task))
  elseif task.no_yield > 0 and not preempted then
    finish(co, task, false, { message = "a message filter yielded; filters must not yield" })
  else
    if not task.suspended then
      task.suspended = true
      core.hold()
    end
    if preempted then
      -- Its time slice ran out: let the loop serve others, then continue.
      -- 1 ms, not 0: libuv runs a 0 ms timer added by a timer callback in the
      -- same pass, before polling for I/O, which would starve everyone else.
      core.timer(1, false, function() M.resume(co) end)
    end
  end
  return true
end

local function sweep()
  local now = core.now()
  local expired = {}
  for co, task in pairs(tasks) do
    if task.deadline_ms <= now and coroutine.status(co) == "suspended" then expired[#expired + 1] = co end
  end
  for _, co in ipairs(expired) do
    local task = tasks[co]
    if task then finish(co, task, false, timeout_error(task)) end
  end
  if next(tasks) == nil and sweeper then
    sweeper:stop()
    sweeper = nil
  end
end

-- Runs fn(...) in a task coroutine (new or idle) with a budget of `budget_ms` (default
-- HANDLER_TIMEOUT_MS). The generation is held from the task's first suspension
-- to its end, so a reload never closes a state under a handler that is still
-- sleeping (a task that never suspends runs inside a call the core already
-- holds the generation for). on_error(err, arg)
-- gets thrown errors (tables as thrown, strings with traceback) and
-- { timeout = true, message = … } for a blown budget, and the task's first
-- argument: callers pass a plain function instead of a closure per task.
function M.spawn(fn, on_error, budget_ms, ...)
  budget_ms = budget_ms or M.handler_timeout_ms
  local n = #idle
  local task = idle[n]
  local co
  if task then
    idle[n] = nil
    co = task.co
  else
    co = cocreate(worker)
    task = { co = co, on_error = false, arg = false, budget_ms = 0, deadline_ms = 0, suspended = false, no_yield = 0,
             cleanup = false }
  end
  task.on_error, task.arg = on_error, (...)
  task.budget_ms, task.deadline_ms = budget_ms, core.now() + budget_ms
  tasks[co] = task
  if not sweeper then sweeper = core.timer(100, true, sweep) end
  M.resume(co, fn, ...)
  return co
end

--- The running task's coroutine and task, for a call that suspends it until a
--- core callback resumes it with a result (mw.exec, mw.http.request); else an
--- error naming `fn` at the caller's caller. Only the runtime resumes a task:
--- in a coroutine of the script's own the call could never return.
function M.running_task(fn)
  local co, main = coroutine.running()
  local task = not main and tasks[co]
  if not task then
    error(fn .. " must be called from a handler or timer, not at load time or in a coroutine of the script's own", 3)
  end
  return co, task
end

-- Suspends the running task until M.resume wakes it, and returns what that
-- passed. A resume from anywhere else is not a wake-up: task coroutines are
-- reused, so a script that kept coroutine.running() of an earlier task could
-- otherwise cut this one's sleep or answer its question.
function M.wait()
  local co = coroutine.running()
  while true do
    local r = table.pack(coroutine.yield())
    if resuming == co then return table.unpack(r, 1, r.n) end
  end
end

-- Suspends the running coroutine for `seconds`.
function M.sleep(seconds)
  local co, main = coroutine.running()
  if main then error("sleep must be called from a handler or timer coroutine", 2) end
  local ms = math.max(0, math.floor(seconds * 1000 + 0.5))
  core.timer(ms, false, function() M.resume(co) end)
  M.wait()
end

-- Responses ----------------------------------------------------------------

local function header_table(h)
  local out = {}
  if h then
    for k, v in pairs(h) do
      if type(k) ~= "string" then error("header names must be strings", 3) end
      local t = type(v)
      if t ~= "string" and t ~= "number" then error(("header %s is a %s, not a string"):format(k, t), 3) end
      out[k] = tostring(v)
    end
  end
  return out
end

local function error_body(status, message)
  return json.encode({ error = { status = status, message = message } })
end

function M.respond_error(handle, status, message, headers)
  local h = header_table(headers)
  h["Content-Type"] = "application/json"
  return core.respond(handle, status, h, error_body(status, message))
end

-- core.respond only reads the headers it is given.
local TEXT_HEADERS = { ["Content-Type"] = "text/plain; charset=utf-8" }

-- Turns what a handler returned into a response.
--   "text"                          -> 200 text/plain
--   { status, headers, body }       -> as given
--   { status, headers, json = v }   -> v encoded as JSON
--   nil, "message"                  -> 500 with that message
function M.send_result(handle, res, err)
  if not core.is_open(handle) then return end
  local t = type(res)
  if res == nil then
    if err ~= nil then return M.respond_error(handle, 500, M.describe_error(err)) end
    return core.respond(handle, 204, nil, "")
  elseif t == "string" then
    return core.respond(handle, 200, TEXT_HEADERS, res)
  elseif t == "table" then
    local headers = header_table(res.headers)
    local body = res.body
    if res.json ~= nil then
      body = json.encode(res.json)
      local set = false -- header names are case-insensitive: content-type counts too
      for k in pairs(headers) do set = set or k:lower() == "content-type" end
      if not set then headers["Content-Type"] = "application/json" end
    end
    local status = res.status or 200
    if math.type(status) ~= "integer" or status < 100 or status > 599 then
      return M.respond_error(handle, 500, "handler returned an invalid status")
    end
    if body ~= nil and type(body) ~= "string" and type(body) ~= "number" then
      return M.respond_error(handle, 500, "handler returned a " .. type(body) .. " body")
    end
    return core.respond(handle, status, headers, body ~= nil and tostring(body) or "")
  end
  return M.respond_error(handle, 500, "handler returned a " .. t)
end

-- Errors raised as error({ status = 4xx, message = … }) answer with that
-- status; anything else is a 500 whose details stay in the log.
function M.handler_error(handle, err, where)
  if type(err) == "table" and math.type(err.status) == "integer" and err.status >= 400
     and err.status <= 599 then
    local message = type(err.message) == "string" and err.message or "error"
    -- Headers that cannot be sent are the handler's bug: 500, logged below.
    if pcall(M.respond_error, handle, err.status, message, err.headers) then return end
  end
  core.lua_error(("%s: %s"):format(where, M.describe_error(err)))
  if core.is_open(handle) then M.respond_error(handle, 500, "internal error") end
end

-- Routing ------------------------------------------------------------------

local function split_path(path)
  local parts = {}
  for seg in path:gmatch("[^/]+") do parts[#parts + 1] = seg end
  return parts
end

-- Paths the core answers before any script sees the request.
local CORE_PATHS = { ["/healthz"] = true, ["/metrics"] = true }

function M.add_route(route)
  if CORE_PATHS[route.path] then return nil, ("%s is served by the core"):format(route.path) end
  if route.path:find(":", 1, true) or route.path:find("*", 1, true) then
    route.segments = split_path(route.path)
    M.patterns[#M.patterns + 1] = route
  else
    local by_method = M.routes[route.path] or {}
    M.routes[route.path] = by_method
    for _, m in ipairs(route.methods) do
      if by_method[m] then return nil, ("route %s %s is already defined"):format(m, route.path) end
    end
    for _, m in ipairs(route.methods) do by_method[m] = route end
  end
  return true
end

local function unescape(s)
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end
M.unescape = unescape

function M.parse_query(q)
  local args = {}
  if q == "" then return args end
  for pair in q:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    k = unescape(k)
    if k ~= "" and args[k] == nil then args[k] = unescape(v) end
  end
  return args
end

local function match_pattern(route, parts)
  local params = {}
  local segs = route.segments
  for i, seg in ipairs(segs) do
    if seg == "*" then
      params["*"] = table.concat(parts, "/", i)
      return params
    end
    local p = parts[i]
    if p == nil then return nil end
    if seg:sub(1, 1) == ":" then
      params[seg:sub(2)] = unescape(p)
    elseif seg ~= p then
      return nil
    end
  end
  if #parts ~= #segs then return nil end
  return params
end

-- Returns route, params; or nil, allowed-methods list when only the method
-- is wrong; or nil.
local function find_route(method, path)
  local lookup = method == "HEAD" and "GET" or method
  local exact = M.routes[path]
  local found = exact and exact[lookup]
  -- HEAD is a GET without the body, except on the MCP transports (raw
  -- routes), where a GET opens a stream or a session: a probe must not.
  if found and not (found.raw and method == "HEAD") then return found, nil end
  local allowed = {}
  if exact then
    for m, r in pairs(exact) do
      allowed[#allowed + 1] = m
      if m == "GET" and not r.raw then allowed[#allowed + 1] = "HEAD" end
    end
  end
  local parts
  for _, r in ipairs(M.patterns) do
    parts = parts or split_path(path)
    local params = match_pattern(r, parts)
    if params then
      for _, m in ipairs(r.methods) do
        if m == lookup then return r, params end
      end
      for _, m in ipairs(r.methods) do
        allowed[#allowed + 1] = m
        if m == "GET" then allowed[#allowed + 1] = "HEAD" end
      end
    end
  end
  if #allowed > 0 then
    -- Everything a client may send here, once each; OPTIONS is always answered.
    local set = { OPTIONS = true }
    for _, m in ipairs(allowed) do set[m] = true end
    allowed = {}
    for m in pairs(set) do allowed[#allowed + 1] = m end
    table.sort(allowed)
    return nil, allowed
  end
  return nil
end

-- Context handed to route handlers (input first, ctx last).
local Ctx = {}
Ctx.__index = Ctx

function Ctx:sleep(seconds) return M.sleep(seconds) end

-- Opens a plain SSE stream on this request and returns it; the stream stays
-- open after the handler returns, until stream:close() or the client leaves.
function Ctx:stream(headers)
  if not core.sse_start(self._handle, header_table(headers)) then return nil, "closed" end
  local handle = self._handle
  self.streaming = true
  return {
    send = function(_, ev)
      if type(ev) ~= "table" then ev = { data = ev } end
      local data = ev.data
      if type(data) == "table" then data = json.encode(data) end
      return core.send(handle, ev.event, data ~= nil and tostring(data) or nil, ev.id, ev.retry)
    end,
    close = function() core.finish(handle) end,
    is_open = function() return core.is_open(handle) end,
  }
end

-- Subscribes this request to a channel (resuming after Last-Event-ID).
function Ctx:subscribe(channel)
  local req = self.req
  local last = req.headers["last-event-id"] or (req.args and req.args.lastEventId)
  local ok, gap = core.subscribe(self._handle, channel, last)
  self.streaming = ok
  return ok, gap
end

-- Attaches this request as stream `no` of session `sid`; with a Last-Event-ID
-- header it resumes the stream that id names. Returns true, gap; or nil and
-- "no-session" | "unknown-stream" | "closed".
function Ctx:attach(sid, no, headers)
  local ok, gap = core.session_attach(self._handle, sid, no or 0,
                                      self.req.headers["last-event-id"], header_table(headers))
  if ok then self.streaming = true end
  return ok, gap
end

function Ctx:is_open() return core.is_open(self._handle) end

-- The task of one route request.
local function run_route(ctx)
  local res, err = ctx._route.handler(ctx.req, ctx)
  if not ctx.streaming then M.send_result(ctx._handle, res, err) end
end

local function route_failed(err, ctx)
  local route = ctx._route
  -- Blown budgets: the runtime's own, or the core's error raised inside a
  -- coroutine or C callback of the handler's.
  local budget = type(err) == "table" and err.timeout and err.message
    or type(err) == "string" and err:match("exceeded its time budget") and err:match("^[^\n]*")
  if budget then
    core.lua_error(("%s: %s"):format(route.where, budget))
    -- The client learns what happened, not where in our scripts.
    err = { status = 500, message = budget:gsub("^.-:%d+: ", "") }
  end
  M.handler_error(ctx._handle, err, route.where)
end

-- The params and args of framework (raw) routes without any.
local function read_only() error("request params and args of framework routes are read-only", 2) end
local NO_PARAMS = setmetatable({}, { __newindex = read_only })
local NO_ARGS = setmetatable({}, { __newindex = read_only })

-- Routes one request (after any on_request hooks).
local function route_request(req, handle)
  local route, params = find_route(req.method, req.path)
  if not route then
    if params then
      local allow = table.concat(params, ", ")
      if req.method == "OPTIONS" then return core.respond(handle, 204, { Allow = allow }, "") end
      return M.respond_error(handle, 405, "method not allowed", { Allow = allow })
    end
    return M.respond_error(handle, 404, "not found: " .. req.path)
  end
  if route.raw then
    -- Framework routes only read these: no tables per request for them.
    req.params = params or NO_PARAMS
    req.args = req.query == "" and NO_ARGS or M.parse_query(req.query)
    -- Framework routes (MCP transports) manage their own coroutines and
    -- responses; they get the handle itself.
    local ok, err = xpcall(route.handler, traceback, req, handle)
    if not ok then M.handler_error(handle, err, route.where or route.path) end
    return
  end
  req.params = params or {}
  req.args = M.parse_query(req.query)
  local ctx = setmetatable({ req = req, _handle = handle, _route = route, generation = M.generation }, Ctx)
  if route.channel then
    return ctx:subscribe(route.channel)
  end
  -- The task and its error handler get ctx as their argument: no closure
  -- per request.
  M.spawn(run_route, route_failed, route.timeout_ms, ctx)
end

-- Plugins' on_request hooks, highest priority first; set by load_scripts.
-- Empty when no plugin has one, and then dispatch does no extra work.
M.request_hooks = {}

-- Runs the on_request hooks in order; returns true when one answered (the
-- request is then done). A hook returns nil to pass, or a response in the
-- shape route handlers return ({ status, headers, body | json } or a
-- string); error({ status = 4xx, message = … }) answers that status.
local function run_request_hooks(req, handle)
  for _, h in ipairs(M.request_hooks) do
    local res, err = h.fn(req, h.ctx)
    if res ~= nil or err ~= nil then
      M.send_result(handle, res, err)
      return true
    end
    if not core.is_open(handle) then return true end
  end
  return false
end

function M.dispatch(req, handle)
  if M.request_hooks[1] == nil then return route_request(req, handle) end
  -- Hooks run in a coroutine under the handler budget (they may sleep, and
  -- a runaway hook times out instead of stalling the server); routing
  -- continues in it once they all pass.
  M.spawn(function()
    if not run_request_hooks(req, handle) then route_request(req, handle) end
  end, function(err)
    if type(err) == "table" and err.timeout then
      core.lua_error("on_request: " .. err.message)
      err = { status = 500, message = err.message }
    end
    M.handler_error(handle, err, "on_request")
  end)
end

-- Timers and lifecycle -------------------------------------------------------

-- `where` names the timer in its failures' log lines ("mw.every timer (file:line)").
function M.add_timer(seconds, repeating, fn, where)
  local ms = math.floor(seconds * 1000 + 0.5)
  -- A repeating timer whose last run is still going (sleeping, waiting on a
  -- subprocess) skips the tick: runs never pile up behind a slow callback.
  local busy = false
  local function run() fn() busy = false end
  local function failed(err)
    busy = false
    core.lua_error(where and where .. ": " .. M.describe_error(err) or M.describe_error(err))
  end
  local t
  t = core.timer(ms, repeating, function()
    if not repeating then M.timers[t] = nil end
    if busy then return end
    busy = true
    M.spawn(run, failed)
  end)
  M.timers[t] = true
  return t
end

function M.retire()
  for t in pairs(M.timers) do t:stop() end
  M.timers = {}
end

-- Calls from other generations (core.forward): name -> fn(a, b) -> handled.
M.cross_handlers = {}
function M.cross(name, a, b)
  local fn = M.cross_handlers[name]
  if not fn then return false end
  local ok, res = xpcall(fn, traceback, a, b)
  if not ok then core.lua_error(tostring(res)) return false end
  return res == true
end

-- Plugins' on_response hooks get one record per answered request, in
-- batches from the loop: { method, url, status, duration_ms, remote_addr,
-- session_id? } (duration: to the first byte of the response).
M.response_hooks = {}
function M.access(records)
  for _, h in ipairs(M.response_hooks) do
    core.guard(M.handler_timeout_ms)
    local ok, err = xpcall(function()
      for _, r in ipairs(records) do h.fn(r, h.ctx) end
    end, traceback)
    core.guard(0)
    if not ok then core.lua_error(("plugin %s: on_response: %s"):format(h.ctx.plugin, tostring(err))) end
  end
end

-- Extra Prometheus text for /metrics: each provider returns lines (with
-- their # HELP / # TYPE) or nil.
M.metrics_providers = {}
function M.metrics()
  local parts = {}
  for _, fn in ipairs(M.metrics_providers) do
    local ok, text = xpcall(fn, traceback)
    if ok and type(text) == "string" then parts[#parts + 1] = text
    elseif not ok then core.lua_error(tostring(text)) end
  end
  if #parts == 0 then return nil end
  return table.concat(parts)
end

-- Called by the core once this generation is the one serving requests.
function M.activate()
  -- The CORS policy follows the generation: a reload that drops the cors
  -- plugin returns to CORS_ALLOW_ORIGINS and the defaults.
  core.set_cors(M.cors)
  core.access_hook(#M.response_hooks > 0)
  for _, fn in ipairs(M.activate_listeners) do
    local ok, err = xpcall(fn, traceback)
    if not ok then core.lua_error(tostring(err)) end
  end
end

-- Called by the core when a graceful shutdown begins (SIGTERM/SIGINT), before
-- it ends the streams. Outside any task: each listener is guarded.
function M.shutdown()
  for _, fn in ipairs(M.shutdown_listeners) do
    core.guard(M.handler_timeout_ms)
    local ok, err = xpcall(fn, traceback)
    core.guard(0)
    if not ok then core.lua_error(tostring(err)) end
  end
end

function M.session_closed(sid, reason)
  -- Listeners run outside any task: a guard stops one that never returns.
  local guarded = not coroutine.isyieldable()
  for _, fn in ipairs(M.session_listeners) do
    if guarded then core.guard(M.handler_timeout_ms) end
    local ok, err = xpcall(fn, traceback, sid, reason)
    if guarded then core.guard(0) end
    if not ok then core.lua_error(tostring(err)) end
  end
end

-- fn(session_id, info) for every MCP session created in this generation
-- (info: { transport = "http"|"legacy"|"listen", protocol_version }).
M.session_open_listeners = {}

function M.session_opened(sid, info)
  for _, fn in ipairs(M.session_open_listeners) do
    local ok, err = xpcall(fn, traceback, sid, info)
    if not ok then core.lua_error(tostring(err)) end
  end
end

-- Loading ------------------------------------------------------------------

-- Plugins (from the config file) load first, highest priority first, then
-- the scripts. Each script runs with its own global table whose reads fall
-- through to a table shared by all scripts (with private copies of the
-- standard libraries, see sandbox.lua), so one script's globals never
-- clobber another's or the framework's.
function M.load_scripts(dirs, generation)
  M.generation = generation
  require("moonwire.mcp").install()
  if core.config().test_routes then require("moonwire.testroutes").install() end
  local plugins = require "moonwire.plugins"
  local ok, perr = pcall(plugins.load, core.config().config_file)
  if not ok then
    if type(perr) == "table" then perr = perr.message or json.encode(perr) end
    return nil, tostring(perr)
  end
  for _, h in ipairs(plugins.on_response) do
    M.response_hooks[#M.response_hooks + 1] = { fn = h.fn, ctx = { plugin = h.plugin, config = h.config } }
  end
  for _, h in ipairs(plugins.on_request) do
    M.request_hooks[#M.request_hooks + 1] = { fn = h.fn, ctx = { plugin = h.plugin, config = h.config } }
  end
  for _, h in ipairs(plugins.on_session_open) do
    M.session_open_listeners[#M.session_open_listeners + 1] = function(sid, info)
      return h.fn(sid, { plugin = h.plugin, config = h.config, transport = info.transport,
                         protocol_version = info.protocol_version })
    end
  end
  for _, h in ipairs(plugins.on_session_close) do
    M.session_listeners[#M.session_listeners + 1] = function(sid, reason)
      return h.fn(sid, { plugin = h.plugin, config = h.config, reason = reason })
    end
  end
  local globals = require("moonwire.sandbox").scripts_globals()
  for _, files in ipairs(dirs) do
    for _, path in ipairs(files) do
      local env = setmetatable({}, { __index = globals })
      local chunk, err = loadfile(path, "t", env)
      if not chunk then return nil, err end
      local lok, e = xpcall(chunk, load_traceback)
      if not lok then
        if type(e) == "table" then e = e.message or json.encode(e) end
        return nil, tostring(e)
      end
    end
  end
  return true
end

return M
