-- The public scripting API: `local mw = require "moonwire"`.
-- Declarations are plain tables, checked strictly when a script loads: an
-- unknown key, a wrong type or a duplicate fails the load with file:line.
local core = require "moonwire.core"
local json = require "moonwire.json"
local runtime = require "moonwire.runtime"

local mw = { json = json }

-- Frames inside the framework are skipped when blaming a script for a bad
-- declaration: the error names the script's file and line.
local FRAMEWORK = debug.getinfo(1, "S").source:match("^(@.*/)[^/]*$") or "@"

local function script_frame()
  for level = 2, 50 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.what ~= "C" and info.source:sub(1, #FRAMEWORK) ~= FRAMEWORK then
      return ("%s:%d"):format(info.short_src, info.currentline)
    end
  end
  return "?"
end

local function fail(fn, msg)
  local text = ("%s: %s: %s"):format(script_frame(), fn, msg)
  runtime.declaration_error = text -- already names the script's line: logged without a traceback
  error(text, 0)
end

local METHODS = {
  GET = true, HEAD = true, POST = true, PUT = true, PATCH = true, DELETE = true, OPTIONS = true,
}

local function check_keys(fn, decl, allowed)
  if type(decl) ~= "table" then fail(fn, "expects a table") end
  for k, v in pairs(decl) do
    local want = allowed[k]
    if not want then fail(fn, ("unknown key '%s'"):format(tostring(k))) end
    if want ~= "any" and type(v) ~= want then
      fail(fn, ("'%s' must be a %s, got %s"):format(k, want, type(v)))
    end
  end
end

--- mw.route { method = "GET", path = "/x/:id", handler = function(req, ctx) … end }
--- mw.route { path = "/events", channel = "ticks" }   -- SSE subscription with replay
function mw.route(decl)
  check_keys("mw.route", decl, { method = "any", path = "string", handler = "function",
                                  channel = "string", description = "string", timeout_ms = "number" })
  if not decl.path or decl.path:sub(1, 1) ~= "/" then fail("mw.route", "'path' must start with /") end
  if (decl.handler == nil) == (decl.channel == nil) then
    fail("mw.route", "needs exactly one of 'handler' or 'channel'")
  end
  local methods = decl.method or (decl.channel and "GET") or "GET"
  if type(methods) == "string" then methods = { methods } end
  if type(methods) ~= "table" or #methods == 0 then
    fail("mw.route", "'method' must be a string or a list of strings")
  end
  local list = {}
  for i, m in ipairs(methods) do
    if type(m) ~= "string" or not METHODS[m:upper()] then
      fail("mw.route", ("unsupported method '%s'"):format(tostring(m)))
    end
    list[i] = m:upper()
  end
  if decl.timeout_ms and decl.timeout_ms < 1 then fail("mw.route", "'timeout_ms' must be >= 1") end
  local route = { path = decl.path, methods = list, handler = decl.handler, channel = decl.channel,
                  timeout_ms = decl.timeout_ms and math.floor(decl.timeout_ms),
                  -- Errors are logged as "route /path (file:line of the declaration): …".
                  where = ("route %s (%s)"):format(decl.path, script_frame()) }
  local ok, err = runtime.add_route(route)
  if not ok then fail("mw.route", err) end
  return route
end

local function event_parts(ev, fn)
  if ev == nil then error(fn .. ": expects the event's data (a string, or { event = …, data = … })", 3) end
  if type(ev) ~= "table" then return nil, tostring(ev) end
  local data = ev.data
  if type(data) == "table" then data = json.encode(data) end
  return ev.event, data ~= nil and tostring(data) or ""
end

--- Publishes to a channel; returns the event id and how many live subscribers got it.
--- ev: a string (the data) or { event = "name", data = string|table }.
function mw.publish(channel, ev)
  if type(channel) ~= "string" or channel == "" then error("mw.publish: channel must be a non-empty string", 2) end
  local event, data = event_parts(ev, "mw.publish")
  return core.publish(channel, event, data)
end

local function check_delay(fn, seconds, f)
  if type(seconds) ~= "number" or seconds < 0 then error(fn .. ": seconds must be a number >= 0", 3) end
  if type(f) ~= "function" then error(fn .. ": expects a function", 3) end
end

--- Calls fn every `seconds` (in its own coroutine) until the scripts reload.
function mw.every(seconds, fn)
  check_delay("mw.every", seconds, fn)
  if seconds <= 0 then error("mw.every: seconds must be > 0", 2) end
  return runtime.add_timer(seconds, true, fn, ("mw.every timer (%s)"):format(script_frame()))
end

--- Calls fn once after `seconds`, unless the scripts reload first.
function mw.after(seconds, fn)
  check_delay("mw.after", seconds, fn)
  return runtime.add_timer(seconds, false, fn, ("mw.after timer (%s)"):format(script_frame()))
end

--- Suspends the calling handler or timer for `seconds` without blocking the server.
function mw.sleep(seconds) return runtime.sleep(seconds) end

--- mw.log("info", "message", { key = value })
function mw.log(level, msg, fields)
  local f
  if fields then
    f = {}
    for k, v in pairs(fields) do f[tostring(k)] = type(v) == "table" and json.encode(v) or tostring(v) end
  end
  core.log(level, tostring(msg), f)
end

--- Registers fn(session_id, reason) for sessions that end: reason is "expired",
--- "deleted" (DELETE /mcp, mw.sessions.destroy) or "closed" (a listen stream left).
function mw.on_session_closed(fn)
  if type(fn) ~= "function" then error("mw.on_session_closed: expects a function", 2) end
  table.insert(runtime.session_listeners, fn)
end

--- Sessions: server-side state that outlives connections and reloads, with
--- numbered SSE streams whose events are kept for replay. The MCP transports
--- are built on these; scripts can use them for protocols of their own.
mw.sessions = {}

--- Creates a session; `data` (string) is kept with it. Returns the session id.
function mw.sessions.create(data) return core.session_create(data) end

--- Returns true and the data string of a live session, or false.
function mw.sessions.get(id) return core.session_get(id) end

--- Replaces the data string; false if the session is gone.
function mw.sessions.set(id, data) return core.session_set(id, data) end

--- Ends the session: its streams finish, its buffered events are dropped.
function mw.sessions.destroy(id)
  local ok = core.session_destroy(id)
  if ok then runtime.session_closed(id, "deleted") end
  return ok
end

--- Records activity, postponing expiry (SSE_CONNECTION_TIMEOUT).
function mw.sessions.touch(id) return core.session_touch(id) end

--- Opens a new numbered stream for one response; returns its number.
function mw.sessions.open_stream(id) return core.session_open_stream(id) end

--- Sends an event on stream `no` (0 = the standalone stream); returns its id,
--- or nil and "no-session" | "unknown-stream" | "stream-ended".
function mw.sessions.send(id, no, ev)
  local event, data = event_parts(ev, "mw.sessions.send")
  return core.session_send(id, no, event, data)
end

--- Marks stream `no` complete: an attached response ends, a later resume
--- replays what is left and ends too.
function mw.sessions.end_stream(id, no) return core.session_end_stream(id, no) end

--- { attached, buffered, buffered_bytes, standalone_open } or nil.
function mw.sessions.info(id) return core.session_info(id) end

--- A key-value store owned by the server, shared by every script and kept
--- across reloads: mw.shared:get(k), :set(k, v, ttl_seconds), :incr(k, by,
--- ttl_seconds), :delete(k). Values are strings or integers.
mw.shared = {}
function mw.shared:get(key) return core.shared_get(key) end
function mw.shared:set(key, value, ttl) return core.shared_set(key, value, ttl) end
function mw.shared:incr(key, by, ttl) return core.shared_incr(key, by, ttl) end
function mw.shared:delete(key) return core.shared_delete(key) end

-- MCP declarations -----------------------------------------------------------

local registry = require "moonwire.mcp.registry"

local function declare(fn, add)
  return function(decl)
    local item, err = add(decl)
    if not item then fail(fn, err) end
    return item
  end
end

--- mw.tool { name, description, input_schema, output_schema?, annotations?, title?,
---           handler = function(args, ctx) … end }
--- The handler returns a string, a content list, or { content = …, structured = … };
--- nil, err or error() make an isError result.
mw.tool = declare("mw.tool", registry.add_tool)

--- mw.resource { uri, name, mime_type?, description?, handler = function(uri, ctx) … end }
mw.resource = declare("mw.resource", registry.add_resource)

--- mw.resource_template { uri_template = "file:///{path}", name, handler = function(uri, vars, ctx) … end }
mw.resource_template = declare("mw.resource_template", registry.add_template)

--- mw.prompt { name, description, arguments = { { name, description, required } },
---             handler = function(args, ctx) … end }
mw.prompt = declare("mw.prompt", registry.add_prompt)

--- mw.completion { ref = { type = "ref/prompt", name = … }, handler = function(argument, ctx) … end }
mw.completion = declare("mw.completion", registry.add_completion)

--- Content helpers for tool results.
function mw.text(s) return { type = "text", text = tostring(s) } end
function mw.image(data, mime_type) return { type = "image", data = data, mimeType = mime_type } end
function mw.audio(data, mime_type) return { type = "audio", data = data, mimeType = mime_type } end
function mw.resource_link(t)
  return { type = "resource_link", uri = t.uri, name = t.name, description = t.description,
           mimeType = t.mime_type or t.mimeType, title = t.title }
end
function mw.embedded(t)
  return { type = "resource", resource = { uri = t.uri, mimeType = t.mime_type or t.mimeType,
                                           text = t.text, blob = t.blob } }
end

--- Sends a notification to one MCP session (its standalone stream; kept for
--- replay while the client reconnects). mw.notify(ctx.session_id, "notifications/message", {…})
function mw.notify(session_id, method, params) return require("moonwire.mcp").notify(session_id, method, params) end

--- Notifies subscribed clients that a resource changed.
function mw.resource_updated(uri) return require("moonwire.mcp").resource_updated(uri) end

--- Notifies connected clients that a list changed: "tools", "resources" or "prompts".
--- (A reload that changes declarations does this by itself.)
function mw.list_changed(kind) return require("moonwire.mcp").list_changed(kind) end

--- Runs a program without blocking: mw.exec { argv = {…}, stdin, timeout_ms, max_output }
--- -> { status | signal, stdout, stderr, timed_out, truncated } (see lua/moonwire/exec.lua).
mw.exec = require "moonwire.exec"

--- Non-blocking HTTP client: mw.http.request { method, url, headers, body, timeout_ms, max_body }
--- -> { status, headers, body } or nil, err (see lua/moonwire/http.lua).
mw.http = { request = require("moonwire.http").request }

--- Directory watches and listings: mw.watch(dir, fn, opts), mw.fs.list/stat/realpath
mw.watch = require("moonwire.fs").watch
mw.fs = require("moonwire.fs").fs

--- Plugin message filters return this to make a message vanish.
mw.DROP = require("moonwire.filters").DROP

--- A filter's short-circuit answer: mw.reject(code, message, data?). For a
--- request this becomes the JSON-RPC error response sent instead of processing it.
mw.reject = require("moonwire.filters").reject

--- Adds Prometheus text to /metrics: fn() returns lines (with # HELP/# TYPE) or nil.
--- Registered per generation, like routes.
function mw.metrics(fn)
  if type(fn) ~= "function" then error("mw.metrics: expects a function", 2) end
  table.insert(runtime.metrics_providers, fn)
end

--- Sets the CORS policy the core applies to every response and preflight of
--- this generation (used by the cors plugin): { origins = "*" | "https://a, https://b",
--- methods, headers, expose, max_age (seconds), credentials (boolean) }.
function mw.cors(policy)
  if type(policy) ~= "table" then error("mw.cors: expects a table", 2) end
  for k, v in pairs(policy) do
    local want = ({ origins = "string", methods = "string", headers = "string", expose = "string",
                    max_age = "number", credentials = "boolean" })[k]
    if not want then error(("mw.cors: unknown key '%s'"):format(tostring(k)), 2) end
    if type(v) ~= want then error(("mw.cors: '%s' must be a %s"):format(k, want), 2) end
  end
  runtime.cors = policy
end

--- The event loop's clock in integer milliseconds (monotonic; for measuring
--- durations, not wall time).
function mw.now() return core.now() end

--- Live counters: connections, streams, sessions, channels, generation, uptime_s.
function mw.stats() return core.stats() end

--- The number of the script generation this code runs in.
function mw.generation() return runtime.generation end

return mw
