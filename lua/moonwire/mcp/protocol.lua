-- MCP protocol logic, independent of transport: initialize negotiation, the
-- method table, result shaping for tools/resources/prompts, and the `ctx`
-- handed to handlers. A transport gives each request an "exchange" telling
-- how to reach the client:
--   ex.version        negotiated protocol revision
--   ex.state          session state table (or a per-request one when stateless)
--   ex.sid            session id or nil
--   ex.request_id     the JSON-RPC id
--   ex:emit(msg)      sends a notification or request related to this request
--   ex:save()         persists ex.state (sessions only)
--   ex.can_request    server->client requests possible (else they become MRTR)
local json = require "moonwire.json"
local ARRAY_MT = getmetatable(json.array())
local jsonrpc = require "moonwire.jsonrpc"
local schema = require "moonwire.schema"
local registry = require "moonwire.mcp.registry"
local runtime = require "moonwire.runtime"
local core = require "moonwire.core"

local M = {}

M.VERSIONS = { "2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05" }
M.LATEST_SESSION_VERSION = "2025-11-25"
M.STATELESS_VERSION = "2026-07-28"
M.SUPPORTED = {}
for _, v in ipairs(M.VERSIONS) do M.SUPPORTED[v] = true end

M.server_info = { name = "moonwire", version = "0.1.0" }
M.instructions = nil
M.page_size = 100

local LEVELS = { debug = 0, info = 1, notice = 2, warning = 3, error = 4, critical = 5, alert = 6,
                 emergency = 7 }
M.LEVELS = LEVELS

local INVALID_PARAMS, METHOD_NOT_FOUND = jsonrpc.INVALID_PARAMS, jsonrpc.METHOD_NOT_FOUND
local RESOURCE_NOT_FOUND = -32002

local function invalid(msg) error({ code = INVALID_PARAMS, message = msg }, 0) end
-- A handler's result the protocol cannot use: the client learns what it was.
local function bad_result(what, value, field)
  local msg = ("%s returned a %s%s"):format(what, type(value), field and " for " .. field or "")
  error({ code = jsonrpc.INTERNAL_ERROR, message = msg }, 0)
end
-- The `err` of a handler's `nil, err`, as text (or `default` without one).
local function err_text(err, default) return err ~= nil and runtime.describe_error(err) or default end

local function empty_object() return json.object({}) end

function M.capabilities()
  return {
    tools = { listChanged = true },
    resources = { subscribe = true, listChanged = true },
    prompts = { listChanged = true },
    logging = empty_object(),
    completions = empty_object(),
  }
end

-- Picks the revision to speak: the client's if we support it, else our latest.
function M.negotiate(requested)
  if type(requested) == "string" and M.SUPPORTED[requested] and requested ~= M.STATELESS_VERSION then
    return requested
  end
  return M.LATEST_SESSION_VERSION
end

function M.initialize_result(version)
  return {
    protocolVersion = version,
    capabilities = M.capabilities(),
    serverInfo = M.server_info,
    instructions = M.instructions,
  }
end

-- Pagination: the cursor is the decimal offset, opaque to clients.
local function page(list, params, field)
  local offset = 0
  local cursor = params and params.cursor
  if cursor ~= nil then
    offset = type(cursor) == "string" and tonumber(cursor:match("^o(%d+)$"))
    if not offset or offset > #list then invalid("Invalid cursor") end
  end
  local items = {}
  for i = offset + 1, math.min(#list, offset + M.page_size) do items[#items + 1] = list[i].wire end
  local res = { [field] = json.array(items) }
  if offset + M.page_size < #list then res.nextCursor = "o" .. (offset + M.page_size) end
  return res
end

-- Context ------------------------------------------------------------------

local Ctx = {}

-- The request's fields a handler may read, looked up when read: most
-- handlers read none, and filling all of them into every ctx cost ~1.5k
-- instructions a call, 1.5% of a tools/call (bench/FINDINGS.md).
local FIELDS = {
  session_id = function(ex) return ex.sid end,
  request_id = function(ex) return ex.request_id end,
  protocol_version = function(ex) return ex.version end,
  client_info = function(ex) return ex.state.info end,
  client_capabilities = function(ex) return ex.state.caps end,
}

function Ctx.__index(ctx, k)
  local method = Ctx[k]
  if method ~= nil then return method end
  local field = FIELDS[k]
  if field then return field(rawget(ctx, "_ex")) end
  return nil
end

-- Cancelled by notifications/cancelled, by a failure, or — in 2026-07-28,
-- where a request is its own POST — by the client closing that connection.
-- (In the session revisions a dropped stream is not a cancellation: the
-- client may resume it.)
local function gone(ex)
  if ex.cancelled then return true end
  if ex.handle and not core.is_open(ex.handle) then
    ex.cancelled = true
    return true
  end
  return false
end

function M.new_ctx(ex, params)
  return setmetatable({ meta = params and params._meta, _ex = ex }, Ctx)
end

--- Sends notifications/progress when the client asked for progress.
function Ctx:progress(progress, total, message)
  local meta = self.meta
  local token = type(meta) == "table" and meta.progressToken or nil
  if token == nil or gone(self._ex) then return false end
  self._ex:emit(jsonrpc.notification("notifications/progress", {
    progressToken = token, progress = progress, total = total, message = message,
  }))
  return true
end

--- Sends notifications/message at `level` when the session's level allows it.
function Ctx:log(level, data, logger)
  if LEVELS[level] == nil then error("ctx:log: unknown level " .. tostring(level), 2) end
  -- No level, no logs: 2026-07-28 clients opt in per request with _meta.
  local min = LEVELS[self._ex.state.level]
  if not min then return false end
  if LEVELS[level] < min or gone(self._ex) then return false end
  self._ex:emit(jsonrpc.notification("notifications/message", { level = level, logger = logger, data = data }))
  return true
end

--- Sleeps without blocking; returns false early if the request is cancelled.
function Ctx:sleep(seconds)
  local ex = self._ex
  if gone(ex) then return false end
  if ex.handle then
    -- Nothing tells us when the connection closes: look every 100 ms.
    local left = seconds
    while left > 0.1 do
      if not self:_sleep(0.1) or gone(ex) then return false end
      left = left - 0.1
    end
    return self:_sleep(left) and not gone(ex)
  end
  return self:_sleep(seconds)
end

function Ctx:_sleep(seconds)
  local ex = self._ex
  local co = coroutine.running()
  local woke = false
  local t = core.timer(math.floor(seconds * 1000 + 0.5), false, function()
    if woke then return end
    woke = true
    ex.waker = nil
    runtime.resume(co, true)
  end)
  ex.waker = function()
    if woke then return end
    woke = true
    t:stop()
    runtime.resume(co, false)
  end
  return runtime.wait()
end

function Ctx:cancelled() return gone(self._ex) end

-- Which client capability each server->client request needs.
local NEEDS = { ["sampling/createMessage"] = "sampling", ["elicitation/create"] = "elicitation",
                ["roots/list"] = "roots" }
M.NEEDS = NEEDS

local function require_capability(ex, method)
  local cap = NEEDS[method]
  local caps = ex.state.caps
  if cap and not (type(caps) == "table" and caps[cap] ~= nil) then
    error({ code = -32021, message = "Missing required client capability: " .. cap,
            data = { requiredCapabilities = { [cap] = json.object({}) } } }, 0)
  end
end

-- Asks the client one or more things at once: requests = { key = { method =
-- …, params = … } }. In session revisions each becomes a request on the SSE
-- stream, awaited in place; in 2026-07-28 they become one InputRequiredResult
-- (Multi Round-Trip) and the handler runs again when the answers come back,
-- so code before the last ask must be deterministic. Returns { key = answer }.
function Ctx:ask(requests)
  local ex = self._ex
  local keys = {}
  for key, r in pairs(requests) do
    if type(r) ~= "table" or type(r.method) ~= "string" then error("ctx:ask: bad request " .. tostring(key), 2) end
    require_capability(ex, r.method)
    keys[#keys + 1] = key
  end
  table.sort(keys)
  return ex:ask_all(requests, keys)
end

function Ctx:request(method, params, key)
  self._inputs = (self._inputs or 0) + 1
  key = key or ("input_" .. self._inputs)
  local answers, err = self:ask({ [key] = { method = method, params = params } })
  if not answers then return nil, err end
  local a = answers[key]
  if a == nil then return nil, answers.__errors and answers.__errors[key] or "no answer" end
  return a
end

function Ctx:sample(params, key) return self:request("sampling/createMessage", params, key) end
function Ctx:elicit(params, key) return self:request("elicitation/create", params, key) end
function Ctx:roots(key)
  local res, err = self:request("roots/list", json.object({}), key)
  if not res then return nil, err end
  return res.roots
end

--- SEP-1699: turns the response into an SSE stream (priming event with a
--- retry hint) and ends the HTTP response now; what the handler sends
--- afterwards waits for the client's GET with Last-Event-ID. A no-op where
--- the transport cannot resume (stateless, legacy).
function Ctx:close_stream()
  if self._ex.close_stream then return self._ex:close_stream() end
  return false
end

-- Results ------------------------------------------------------------------

local function text_content(s) return { type = "text", text = s } end

local function tool_error(msg)
  return { content = json.array({ text_content(tostring(msg)) }), isError = true }
end

-- The most of a failed handler's message that goes to the client; the log has
-- the whole first 16 KiB. A script's error(huge_string) must not become a
-- multi-MiB answer.
local MAX_ERROR_TEXT = 4096

local function handler_failure(what, err)
  if type(err) == "table" and err.input_required then error(err, 0) end
  if type(err) == "table" and math.type(err.code) == "integer" then error(err, 0) end
  local msg = runtime.describe_error(err)
  core.lua_error(what .. ": " .. msg)
  -- Only the first line (file:line: message) reaches the client.
  local line = msg:match("^[^\n]*")
  if #line <= MAX_ERROR_TEXT then return line end
  local cut = MAX_ERROR_TEXT
  while cut > 0 and line:byte(cut + 1) >= 0x80 and line:byte(cut + 1) < 0xC0 do
    cut = cut - 1 -- not inside a UTF-8 sequence
  end
  return line:sub(1, cut) .. (" ... (%d bytes in all)"):format(#line)
end

-- A Lua list as a result's content (a new array): strings become text blocks.
-- Nil when it is not a list of strings and tables (mixed keys, holes, numbers).
local function content_list(list)
  local n = #list
  for k in pairs(list) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return nil end
  end
  local out = setmetatable({}, ARRAY_MT)
  for i = 1, n do
    local item = list[i]
    if type(item) == "string" then
      item = text_content(item)
    elseif type(item) ~= "table" then
      return nil
    end
    out[i] = item
  end
  return out
end

local NOT_CONTENT = "tool returned content that is not a list of content blocks"

-- A tool with an output_schema must answer structured content that matches
-- it (MCP: servers MUST); SDK clients reject a result without it.
local function no_structured(tool)
  core.lua_error(("tool '%s' has an output_schema but returned no structured content"):format(tool.name))
  return tool_error("tool produced no structured content")
end

-- Shapes what a tool handler returned into a CallToolResult.
local function tool_result(tool, res, err)
  if res == nil then
    return tool_error(err_text(err, "tool returned nothing"))
  end
  if tool.output_schema and (type(res) ~= "table" or res[1] ~= nil or json.is_array(res)) then
    return no_structured(tool)
  end
  if type(res) == "string" or type(res) == "number" then
    -- resultType = nil sizes the table for the field the stateless
    -- transport adds, so adding it does not rehash. A new table: it can be
    -- marked as an array directly.
    return { content = setmetatable({ text_content(tostring(res)) }, ARRAY_MT), resultType = nil }
  end
  if type(res) ~= "table" then return tool_error("tool returned a " .. type(res)) end
  if res[1] ~= nil or json.is_array(res) then
    local list = content_list(res)
    if not list then return tool_error(NOT_CONTENT) end
    return { content = list }
  end
  local out = { isError = (res.is_error or res.isError) and true or nil, _meta = res.meta }
  local structured = res.structured
  if res.structuredContent ~= nil then structured = res.structuredContent end
  if structured ~= nil then
    if tool.output_schema then
      local ok, verr = schema.validate(tool.output_schema, structured)
      if not ok then
        core.lua_error(("tool '%s' returned structured content not matching its output_schema: %s"):format(tool.name, verr))
        return tool_error("tool produced invalid structured content")
      end
    elseif type(structured) ~= "table" or json.is_array(structured) then
      -- structuredContent is a JSON object in every revision's schema.
      core.lua_error(("tool '%s' returned structured content that is a %s, not an object"):format(
        tool.name, type(structured) == "table" and "list" or type(structured)))
      return tool_error("tool produced structured content that is not a JSON object")
    end
    out.structuredContent = structured
  elseif tool.output_schema and not out.isError then
    return no_structured(tool)
  end
  local content = res.content
  if type(content) == "string" then content = { text_content(content) } end
  if content ~= nil and type(content) ~= "table" then
    return tool_error(("tool returned a %s for content"):format(type(content)))
  end
  if content == nil and structured ~= nil then
    -- Encoded here for the text copy, so content JSON cannot hold (NaN, a
    -- function) fails as the tool's error, not as the whole request's.
    local ok, text = pcall(json.encode, structured)
    if not ok then return tool_error(handler_failure("tool " .. tool.name, text)) end
    content = { text_content(text) }
  end
  out.content = content_list(content or {})
  if not out.content then return tool_error(NOT_CONTENT) end
  return out
end

-- Methods ------------------------------------------------------------------

local methods = {}
M.methods = methods

methods["ping"] = function() return empty_object() end

methods["tools/list"] = function(params) return page(registry.tool_list, params, "tools") end

methods["tools/call"] = function(params, ex)
  -- registry.tools has string keys only: a hit proves the name's type.
  local tool = type(params) == "table" and registry.tools[params.name]
  if not tool then
    if type(params) ~= "table" or type(params.name) ~= "string" then invalid("tools/call needs a tool name") end
    invalid("Unknown tool: " .. params.name)
  end
  local args = params.arguments
  if args == nil then args = json.object({}) end
  -- json.is_array answers false without a first item or the array metatable: skip the call then.
  if type(args) ~= "table"
     or ((args[1] ~= nil or getmetatable(args) == ARRAY_MT) and json.is_array(args) and next(args) ~= nil) then
    return tool_error("Invalid arguments: expected an object")
  end
  local ok, verr = schema.validate(tool.input_schema, args)
  if not ok then return tool_error("Invalid arguments: " .. verr) end
  local ctx = M.new_ctx(ex, params)
  local okc, res, err = xpcall(tool.handler, runtime.traceback, args, ctx)
  if not okc then return tool_error(handler_failure("tool " .. tool.name, res)) end
  return tool_result(tool, res, err)
end

-- The concrete resources a template's `list(ctx)` returns follow the static
-- ones in resources/list: a directory's files, a table's rows, whatever
-- exists right now. Each item: { uri, name, title?, description?,
-- mime_type?, size? }.
local function listed_resources(params, ex)
  local list = registry.resource_list
  for _, tpl in ipairs(registry.template_list) do
    if tpl.list then
      if list == registry.resource_list then list = table.move(list, 1, #list, 1, {}) end
      local what = "resource template " .. tpl.uri_template .. " list"
      local ok, items, err = xpcall(tpl.list, runtime.traceback, M.new_ctx(ex, params))
      if not ok then error({ code = jsonrpc.INTERNAL_ERROR, message = handler_failure(what, items) }, 0) end
      if type(items) ~= "table" then
        error({ code = jsonrpc.INTERNAL_ERROR, message = what .. ": " .. err_text(err, "returned no list") }, 0)
      end
      for i, it in ipairs(items) do
        if type(it) ~= "table" or type(it.uri) ~= "string" or type(it.name) ~= "string" then
          core.lua_error(("%s: item %d needs string uri and name"):format(what, i))
          error({ code = jsonrpc.INTERNAL_ERROR, message = what .. " returned a bad item" }, 0)
        end
        list[#list + 1] = { wire = { uri = it.uri, name = it.name, title = it.title, description = it.description,
                                     mimeType = it.mime_type or tpl.mime_type, size = it.size } }
      end
    end
  end
  return list
end

methods["resources/list"] = function(params, ex)
  return page(listed_resources(params, ex), params, "resources")
end
methods["resources/templates/list"] = function(params)
  return page(registry.template_list, params, "resourceTemplates")
end

local function resource_contents(uri, mime, res)
  local function one(item)
    if type(item) == "string" then return { uri = uri, mimeType = mime, text = item } end
    if type(item) ~= "table" then bad_result("resource handler", item) end
    local c = { uri = item.uri or uri, mimeType = item.mime_type or item.mimeType or mime, _meta = item.meta }
    if item.blob ~= nil then c.blob = item.blob else c.text = item.text or "" end
    return c
  end
  if type(res) == "table" and (res[1] ~= nil) then
    local list = {}
    for i, item in ipairs(res) do list[i] = one(item) end
    return list
  end
  return { one(res) }
end

methods["resources/read"] = function(params, ex)
  if type(params) ~= "table" or type(params.uri) ~= "string" then invalid("resources/read needs a uri") end
  local uri = params.uri
  local ctx = M.new_ctx(ex, params)
  local res, vars = registry.resources[uri], nil
  if not res then res, vars = registry.match_template(uri) end
  -- SEP-2164 (2026-07-28) made "not found" an invalid-params error.
  local not_found = ex.version == M.STATELESS_VERSION and INVALID_PARAMS or RESOURCE_NOT_FOUND
  if not res then error({ code = not_found, message = "Resource not found", data = { uri = uri } }, 0) end
  local ok, out, err
  if vars then
    ok, out, err = xpcall(res.handler, runtime.traceback, uri, vars, ctx)
  else
    ok, out, err = xpcall(res.handler, runtime.traceback, uri, ctx)
  end
  if not ok then
    error({ code = jsonrpc.INTERNAL_ERROR, message = handler_failure("resource " .. uri, out) }, 0)
  end
  if out == nil then
    error({ code = not_found, message = err_text(err, "Resource not found"), data = { uri = uri } }, 0)
  end
  return { contents = json.array(resource_contents(uri, res.mime_type, out)) }
end

methods["resources/subscribe"] = function(params, ex)
  if type(params) ~= "table" or type(params.uri) ~= "string" then invalid("resources/subscribe needs a uri") end
  ex.state.subs = ex.state.subs or {}
  ex.state.subs[params.uri] = true
  ex:save()
  return empty_object()
end

methods["resources/unsubscribe"] = function(params, ex)
  if type(params) ~= "table" or type(params.uri) ~= "string" then invalid("resources/unsubscribe needs a uri") end
  if ex.state.subs then ex.state.subs[params.uri] = nil end
  ex:save()
  return empty_object()
end

methods["prompts/list"] = function(params) return page(registry.prompt_list, params, "prompts") end

local function prompt_messages(res)
  if type(res) == "string" then
    return { messages = json.array({ { role = "user", content = text_content(res) } }) }
  end
  if type(res) ~= "table" then bad_result("prompt handler", res) end
  if res.messages ~= nil then
    if type(res.messages) ~= "table" then bad_result("prompt handler", res.messages, "messages") end
    return { description = res.description, messages = json.array(res.messages) }
  end
  return { messages = json.array(res) }
end

methods["prompts/get"] = function(params, ex)
  if type(params) ~= "table" or type(params.name) ~= "string" then invalid("prompts/get needs a name") end
  local prompt = registry.prompts[params.name]
  if not prompt then invalid("Unknown prompt: " .. params.name) end
  local args = params.arguments or {}
  if type(args) ~= "table" then invalid("arguments must be an object") end
  for _, a in ipairs(prompt.arguments) do
    if a.required and args[a.name] == nil then invalid(("Missing required argument '%s'"):format(a.name)) end
    if args[a.name] ~= nil and type(args[a.name]) ~= "string" then
      invalid(("Argument '%s' must be a string"):format(a.name))
    end
  end
  local ok, res, err = xpcall(prompt.handler, runtime.traceback, args, M.new_ctx(ex, params))
  if not ok then error({ code = jsonrpc.INTERNAL_ERROR, message = handler_failure("prompt " .. prompt.name, res) }, 0) end
  if res == nil then error({ code = jsonrpc.INTERNAL_ERROR, message = err_text(err, "prompt returned nothing") }, 0) end
  local out = prompt_messages(res)
  out.description = out.description or prompt.wire.description
  return out
end

methods["completion/complete"] = function(params, ex)
  if type(params) ~= "table" or type(params.ref) ~= "table" or type(params.argument) ~= "table" then
    invalid("completion/complete needs ref and argument")
  end
  local ref, arg = params.ref, params.argument
  local fn
  if ref.type == "ref/prompt" then
    fn = registry.completions["prompt:" .. tostring(ref.name)]
    local p = registry.prompts[ref.name]
    if not fn and p and p.complete then fn = p.complete[arg.name] end
    if not fn and not p then invalid("Unknown prompt: " .. tostring(ref.name)) end
  elseif ref.type == "ref/resource" then
    fn = registry.completions["resource:" .. tostring(ref.uri)]
    local t = registry.templates[ref.uri]
    if not fn and t and t.complete then fn = t.complete[arg.name] end
    if not fn and not t and not registry.resources[ref.uri] then
      invalid("Unknown resource: " .. tostring(ref.uri))
    end
  else
    invalid("ref.type must be ref/prompt or ref/resource")
  end
  local values, total, more = {}, nil, false
  if fn then
    local ctx = M.new_ctx(ex, params)
    ctx.arguments = params.context and params.context.arguments or {}
    local ok, res = xpcall(fn, runtime.traceback, arg, ctx)
    if not ok then error({ code = jsonrpc.INTERNAL_ERROR, message = handler_failure("completion", res) }, 0) end
    if type(res) == "table" and res.values then
      values, total, more = res.values, res.total, res.has_more or res.hasMore or false
    elseif type(res) == "table" then
      values = res
    end
    if type(values) ~= "table" then bad_result("completion handler", values, "values") end
  end
  if #values > 100 then
    total = total or #values
    more = true
    local cut = {}
    for i = 1, 100 do cut[i] = values[i] end
    values = cut
  end
  return { completion = { values = json.array(values), total = total or #values, hasMore = more } }
end

methods["logging/setLevel"] = function(params, ex)
  if type(params) ~= "table" or LEVELS[params.level] == nil then invalid("Invalid log level") end
  ex.state.level = params.level
  ex:save()
  return empty_object()
end

-- The budget a request runs under: a tool's own timeout_ms, else nil (the
-- runtime's HANDLER_TIMEOUT_MS).
function M.budget_for(msg)
  local p = msg.params
  if msg.method == "tools/call" and type(p) == "table" then
    local tool = registry.tools[p.name] -- string keys only: nil for any other name
    if tool and tool.timeout_ms then return math.max(1, math.floor(tool.timeout_ms)) end
  end
  return nil
end

-- The response for a request whose handler blew its budget (or died where
-- the protocol layer could not catch it): a failed tool result for tools,
-- an internal error otherwise. The details go to the log.
function M.failure_response(msg, err)
  -- A result JSON cannot hold fails at the transport's encode, outside the
  -- method: say so (cjson's words name the value), the rest stays in the log.
  local text = type(err) == "table" and (err.timeout and err.message
    or err.code == "json_encode" and "result cannot be encoded as JSON: " .. tostring(err.message)) or "internal error"
  local p = type(msg.params) == "table" and msg.params or {}
  local target = type(p.name or p.uri) == "string" and (p.name or p.uri) or ""
  core.lua_error(("%s %s: %s"):format(msg.method, target, runtime.describe_error(err)))
  if msg.method == "tools/call" then
    return jsonrpc.result(msg.id, tool_error(text))
  end
  return jsonrpc.error(msg.id, jsonrpc.INTERNAL_ERROR, text)
end

-- Runs one request to completion; returns the JSON-RPC response message (or
-- nil when the request was cancelled: no response is sent then).
function M.run(msg, ex)
  local fn = methods[msg.method]
  if not fn then
    return jsonrpc.error(msg.id, METHOD_NOT_FOUND, "Method not found: " .. msg.method)
  end
  local ok, res = xpcall(fn, runtime.traceback, msg.params, ex)
  if gone(ex) then return nil end
  if not ok then
    if type(res) == "table" and res.input_required then return ex:input_required(msg, res) end
    if not (type(res) == "table" and math.type(res.code) == "integer") then
      core.lua_error(("%s: %s"):format(msg.method, runtime.describe_error(res)))
    end
    return jsonrpc.error_from(msg.id, res)
  end
  return jsonrpc.result(msg.id, res)
end

return M
