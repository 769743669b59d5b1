-- tool_metrics: per-tool call counts, errors and a latency histogram on
-- /metrics. An incoming filter on tools/call counts the call and notes when
-- it started; the outgoing filter on its response (matched by session + id)
-- counts errors and observes the latency. Counters live in mw.shared so they
-- survive reloads; only the in-flight table is per generation.
-- See docs/plugins.md.
local mw = require "moonwire"

local PREFIX = "tool_metrics:"
local TOOLS_KEY = PREFIX .. "tools"    -- "\n"-joined tool names (mw.shared cannot list keys)
local OTHER = "_other"                 -- label for tools past max_tools

local config
local inflight, inflight_n = {}, 0    -- key -> { tool, started_ms }

local function tool_names()
  local v = mw.shared:get(TOOLS_KEY)
  local list = {}
  if type(v) == "string" then
    for name in v:gmatch("[^\n]+") do list[#list + 1] = name end
  end
  return list
end

-- The label a tool's series use: its name, or OTHER once max_tools names are
-- known (a client can call tools that do not exist: labels stay bounded).
local function label_for(tool)
  if type(tool) ~= "string" or tool == "" or tool:find("\n", 1, true) then tool = "?" end
  local names = tool_names()
  for _, n in ipairs(names) do if n == tool then return tool end end
  if #names >= config.max_tools then tool = OTHER end
  for _, n in ipairs(names) do if n == tool then return tool end end
  names[#names + 1] = tool
  mw.shared:set(TOOLS_KEY, table.concat(names, "\n"))
  return tool
end

local function key_of(session_id, id)
  return (session_id or "") .. "\0" .. (math.type(id) or type(id)) .. ":" .. tostring(id)
end

-- Drops in-flight entries older than max_age_ms (responses that never came:
-- a cancelled request, a closed stream).
local function prune(now)
  for k, e in pairs(inflight) do
    if now - e.started_ms > config.max_age_ms then
      inflight[k] = nil
      inflight_n = inflight_n - 1
    end
  end
end

local function observe(tool, ms, failed)
  if failed then mw.shared:incr(PREFIX .. "errors:" .. tool, 1) end
  local le = "+Inf"
  for _, b in ipairs(config.buckets) do
    if ms <= b then le = tostring(b) break end
  end
  -- Per-bucket (not cumulative) counts, keyed by bound: changing `buckets`
  -- starts new series instead of mislabelling old ones.
  mw.shared:incr(PREFIX .. "bucket:" .. tool .. ":" .. le, 1)
  mw.shared:incr(PREFIX .. "sum:" .. tool, ms)
  mw.shared:incr(PREFIX .. "count:" .. tool, 1)
end

local function escape(v)
  return (v:gsub("\\", "\\\\"):gsub("\n", "\\n"):gsub('"', '\\"'))
end

local function num(key)
  local v = mw.shared:get(key)
  return math.type(v) == "integer" and v or 0
end

local function render()
  local names = tool_names()
  if #names == 0 then return nil end
  local out = {
    "# HELP moonwire_tool_calls_total MCP tools/call requests, by tool.",
    "# TYPE moonwire_tool_calls_total counter",
  }
  for _, t in ipairs(names) do
    out[#out + 1] = ('moonwire_tool_calls_total{tool="%s"} %d'):format(escape(t), num(PREFIX .. "calls:" .. t))
  end
  out[#out + 1] = "# HELP moonwire_tool_errors_total tools/call results with isError or a JSON-RPC error, by tool."
  out[#out + 1] = "# TYPE moonwire_tool_errors_total counter"
  for _, t in ipairs(names) do
    out[#out + 1] = ('moonwire_tool_errors_total{tool="%s"} %d'):format(escape(t), num(PREFIX .. "errors:" .. t))
  end
  out[#out + 1] = "# HELP moonwire_tool_duration_ms tools/call latency in milliseconds, by tool."
  out[#out + 1] = "# TYPE moonwire_tool_duration_ms histogram"
  for _, t in ipairs(names) do
    local label, acc = escape(t), 0
    for _, b in ipairs(config.buckets) do
      acc = acc + num(PREFIX .. "bucket:" .. t .. ":" .. tostring(b))
      out[#out + 1] = ('moonwire_tool_duration_ms_bucket{tool="%s",le="%s"} %d'):format(label, tostring(b), acc)
    end
    acc = acc + num(PREFIX .. "bucket:" .. t .. ":+Inf")
    out[#out + 1] = ('moonwire_tool_duration_ms_bucket{tool="%s",le="+Inf"} %d'):format(label, acc)
    out[#out + 1] = ('moonwire_tool_duration_ms_sum{tool="%s"} %d'):format(label, num(PREFIX .. "sum:" .. t))
    out[#out + 1] = ('moonwire_tool_duration_ms_count{tool="%s"} %d'):format(label, num(PREFIX .. "count:" .. t))
  end
  return table.concat(out, "\n") .. "\n"
end

return {
  name = "tool_metrics",
  version = "0.1.0",
  description = "Per-tool call, error and latency metrics on /metrics",
  priority = 50,
  config_schema = {
    type = "object",
    additionalProperties = false,
    properties = {
      buckets = { type = "array", items = { type = "integer", minimum = 0 }, minItems = 1,
                  default = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000 } },
      max_in_flight = { type = "integer", minimum = 1, default = 10000 },
      max_age_ms = { type = "integer", minimum = 1, default = 600000 },
      max_tools = { type = "integer", minimum = 1, default = 200 },
    },
  },

  init = function(p, conf)
    config = conf
    for i = 2, #conf.buckets do
      if conf.buckets[i] <= conf.buckets[i - 1] then error("buckets must be strictly increasing", 0) end
    end
    inflight, inflight_n = {}, 0
    mw.metrics(render)

    p:filter { direction = "in", methods = { "tools/call" }, handler = function(msg, ctx)
      if msg.id == nil then return nil end -- a notification: nothing will answer it
      local tool = label_for(type(msg.params) == "table" and msg.params.name or nil)
      mw.shared:incr(PREFIX .. "calls:" .. tool, 1)
      local now = mw.now()
      if inflight_n >= config.max_in_flight then prune(now) end
      -- Still full: this call is counted but its latency is not observed.
      if inflight_n < config.max_in_flight then
        local key = key_of(ctx.session_id, msg.id)
        if not inflight[key] then inflight_n = inflight_n + 1 end
        inflight[key] = { tool = tool, started_ms = now }
      end
      return nil
    end }

    p:filter { direction = "out", methods = { "tools/call" }, handler = function(msg, ctx)
      if msg.method ~= nil or msg.id == nil then return nil end -- only responses
      local key = key_of(ctx.session_id, msg.id)
      local e = inflight[key]
      if not e then return nil end
      inflight[key] = nil
      inflight_n = inflight_n - 1
      local failed = msg.error ~= nil or (type(msg.result) == "table" and msg.result.isError == true)
      observe(e.tool, math.max(0, mw.now() - e.started_ms), failed)
      return nil
    end }
  end,
}
