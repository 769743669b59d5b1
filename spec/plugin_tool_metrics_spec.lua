-- plugins/tool_metrics.lua: per-tool calls, errors and latency histogram on
-- /metrics, counted by filters on tools/call and kept in mw.shared.
local fake = require "support.fake_core"
local plugin_dir = require "support.plugin_dir"
local shared_store = require "support.shared_store"

describe("bundled plugin tool_metrics", function()
  local core, runtime, filters, d

  local function fresh()
    core = fake.install()
    runtime = require "moonwire.runtime"
    filters = require "moonwire.filters"
  end

  before_each(function()
    fresh()
    shared_store.install(core)
    d = plugin_dir.new()
  end)
  after_each(function() d.remove() end)

  local function load(plugins_text)
    core.config_file = d.config(plugins_text)
    return runtime.load_scripts({}, 1)
  end

  -- One tools/call through the filters, answered after `ms` with `result` or `error`.
  local function call(sid, id, tool, ms, response)
    local msg = filters.incoming({ jsonrpc = "2.0", id = id, method = "tools/call", params = { name = tool } },
                                 { transport = "http", session_id = sid })
    assert.truthy(msg)
    core.clock = core.clock + ms
    response.jsonrpc, response.id = "2.0", id
    return filters.outgoing(response, { transport = "http", session_id = sid }, "tools/call")
  end

  local function metrics_lines()
    local set = {}
    for line in (runtime.metrics() or ""):gmatch("[^\n]+") do set[line] = true end
    return set
  end

  it("counts calls, errors (isError and JSON-RPC errors) and latency per tool", function()
    assert.is_true(load("{ tool_metrics = { buckets = { 10, 100 } } }"))
    call("s1", 1, "echo", 5, { result = { content = {} } })
    call("s1", 2, "echo", 50, { result = { content = {}, isError = true } })
    call("s2", 1, "slow", 500, { error = { code = -32603, message = "boom" } })
    local m = metrics_lines()
    assert.truthy(m["# TYPE moonwire_tool_calls_total counter"])
    assert.truthy(m["# TYPE moonwire_tool_duration_ms histogram"])
    assert.truthy(m['moonwire_tool_calls_total{tool="echo"} 2'])
    assert.truthy(m['moonwire_tool_errors_total{tool="echo"} 1'])
    assert.truthy(m['moonwire_tool_duration_ms_bucket{tool="echo",le="10"} 1'])
    assert.truthy(m['moonwire_tool_duration_ms_bucket{tool="echo",le="100"} 2'])
    assert.truthy(m['moonwire_tool_duration_ms_bucket{tool="echo",le="+Inf"} 2'])
    assert.truthy(m['moonwire_tool_duration_ms_sum{tool="echo"} 55'])
    assert.truthy(m['moonwire_tool_duration_ms_count{tool="echo"} 2'])
    assert.truthy(m['moonwire_tool_calls_total{tool="slow"} 1'])
    assert.truthy(m['moonwire_tool_errors_total{tool="slow"} 1'])
    assert.truthy(m['moonwire_tool_duration_ms_bucket{tool="slow",le="100"} 0'])
    assert.truthy(m['moonwire_tool_duration_ms_bucket{tool="slow",le="+Inf"} 1'])
  end)

  it("matches responses by session and id, not id alone", function()
    assert.is_true(load("{ tool_metrics = { buckets = { 10, 100 } } }"))
    filters.incoming({ jsonrpc = "2.0", id = 7, method = "tools/call", params = { name = "a" } },
                     { transport = "http", session_id = "s1" })
    filters.incoming({ jsonrpc = "2.0", id = 7, method = "tools/call", params = { name = "b" } },
                     { transport = "http", session_id = "s2" })
    core.clock = core.clock + 50
    filters.outgoing({ jsonrpc = "2.0", id = 7, result = { isError = true } }, { transport = "http", session_id = "s2" },
                     "tools/call")
    local m = metrics_lines()
    assert.truthy(m['moonwire_tool_errors_total{tool="b"} 1'])
    assert.truthy(m['moonwire_tool_errors_total{tool="a"} 0'])
    assert.truthy(m['moonwire_tool_duration_ms_count{tool="a"} 0'])
  end)

  it("keeps its counters across a reload", function()
    assert.is_true(load("{ tool_metrics = true }"))
    call("s1", 1, "echo", 1, { result = {} })
    local store = core.shared
    fresh()
    shared_store.install(core)
    for k, v in pairs(store) do core.shared[k] = v end
    assert.is_true(load("{ tool_metrics = true }"))
    call("s1", 2, "echo", 1, { result = {} })
    assert.truthy(metrics_lines()['moonwire_tool_calls_total{tool="echo"} 2'])
  end)

  it("bounds tool labels and the in-flight table", function()
    assert.is_true(load("{ tool_metrics = { max_tools = 2, max_in_flight = 2, max_age_ms = 1000 } }"))
    for i, name in ipairs { "a", "b", "c", "d" } do call("s", i, name, 1, { result = {} }) end
    local m = metrics_lines()
    assert.truthy(m['moonwire_tool_calls_total{tool="a"} 1'])
    assert.truthy(m['moonwire_tool_calls_total{tool="_other"} 2'])
    assert.is_nil(m['moonwire_tool_calls_total{tool="c"} 1'])
    -- Unanswered calls fill the table; a third is counted but not timed
    -- until the stale ones age out.
    for id = 10, 12 do
      filters.incoming({ jsonrpc = "2.0", id = id, method = "tools/call", params = { name = "a" } },
                       { transport = "http", session_id = "s" })
    end
    filters.outgoing({ jsonrpc = "2.0", id = 12, result = {} }, { transport = "http", session_id = "s" }, "tools/call")
    m = metrics_lines()
    assert.truthy(m['moonwire_tool_calls_total{tool="a"} 4'])
    assert.truthy(m['moonwire_tool_duration_ms_count{tool="a"} 1'])
    core.clock = core.clock + 2000
    call("s", 13, "a", 1, { result = {} })
    assert.truthy(metrics_lines()['moonwire_tool_duration_ms_count{tool="a"} 2'])
  end)

  it("adds nothing to /metrics before the first call", function()
    assert.is_true(load("{ tool_metrics = true }"))
    assert.is_nil(runtime.metrics())
  end)
end)
