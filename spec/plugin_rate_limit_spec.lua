-- plugins/rate_limit.lua: token buckets per address and per MCP session,
-- kept in mw.shared (so they survive a reload), answering 429 + Retry-After.
local fake = require "support.fake_core"
local plugin_dir = require "support.plugin_dir"
local shared_store = require "support.shared_store"

describe("bundled plugin rate_limit", function()
  local core, runtime, d, json

  before_each(function()
    core = fake.install()
    shared_store.install(core)
    runtime = require "moonwire.runtime"
    json = require "moonwire.json"
    d = plugin_dir.new()
  end)
  after_each(function() d.remove() end)

  local function load(plugins_text)
    core.config_file = d.config(plugins_text)
    local script = d.write("scripts/s.lua", [[
      local mw = require "moonwire"
      mw.route { path = "/hello", handler = function() return "hi" end }
    ]])
    return runtime.load_scripts({ { script } }, 1)
  end

  local function request(opts)
    local h = core.handle()
    runtime.dispatch({ method = opts.method or "GET", path = opts.path or "/hello", query = "",
                       headers = opts.headers or {}, body = opts.body or "",
                       remote_addr = opts.addr or "10.0.0.1" }, h)
    return core.responses[#core.responses]
  end

  it("allows a burst, then answers 429 with Retry-After and a JSON body", function()
    assert.is_true(load('{ rate_limit = { rate = 1, burst = 3 } }'))
    for _ = 1, 3 do assert.equal(200, request({}).status) end
    local res = request({})
    assert.equal(429, res.status)
    assert.equal("1", res.headers["Retry-After"])
    assert.same({ error = "rate_limited", message = "Rate limit exceeded", retry_after = 1 }, json.decode(res.body))
    -- Another address has its own bucket.
    assert.equal(200, request({ addr = "10.0.0.2" }).status)
  end)

  it("refills at `rate` tokens per second and computes Retry-After in whole seconds", function()
    assert.is_true(load('{ rate_limit = { rate = 0.25, burst = 1 } }'))
    assert.equal(200, request({}).status)
    local res = request({})
    assert.equal("4", res.headers["Retry-After"])     -- one token takes 4 s at 0.25/s
    core.clock = core.clock + 3000
    res = request({})
    assert.equal(429, res.status)
    assert.equal("1", res.headers["Retry-After"])
    core.clock = core.clock + 1000
    assert.equal(200, request({}).status)
  end)

  it("keeps its buckets across a reload (state lives in mw.shared as integers)", function()
    assert.is_true(load('{ rate_limit = { rate = 1, burst = 2 } }'))
    assert.equal(200, request({}).status)
    assert.equal(200, request({}).status)
    local stored = core.shared["rate_limit:a:10.0.0.1"].value
    assert.matches("^%d+:%d+$", stored)
    -- A new generation: same shared store, fresh Lua state.
    local store = core.shared
    core = fake.install()
    shared_store.install(core)
    for k, v in pairs(store) do core.shared[k] = v end
    runtime = require "moonwire.runtime"
    assert.is_true(load('{ rate_limit = { rate = 1, burst = 2 } }'))
    assert.equal(429, request({}).status)
  end)

  it("limits per MCP session with per = \"session\" and answers /mcp POSTs with a JSON-RPC error", function()
    assert.is_true(load('{ rate_limit = { rate = 1, burst = 1, per = "session" } }'))
    local body = json.encode({ jsonrpc = "2.0", id = 42, method = "tools/list" })
    local s1 = { ["mcp-session-id"] = "s1" }
    -- /mcp is not routed in this spec (no MCP session): only the 429 matters.
    request({ method = "POST", path = "/mcp", headers = s1, body = body })
    local res = request({ method = "POST", path = "/mcp", headers = s1, body = body })
    assert.equal(429, res.status)
    assert.equal("1", res.headers["Retry-After"])
    assert.same({ jsonrpc = "2.0", id = 42,
                  error = { code = -32029, message = "Rate limit exceeded", data = { retry_after = 1 } } },
                json.decode(res.body))
    -- Another session (same address) is not limited; no session id = no session bucket.
    assert.equal(200, request({ headers = { ["mcp-session-id"] = "s2" } }).status)
    assert.equal(200, request({}).status)
    assert.equal(200, request({}).status)
  end)

  it("with per = \"both\" a denied request draws from neither bucket", function()
    assert.is_true(load('{ rate_limit = { rate = 1, burst = 2, per = "both" } }'))
    local s1 = { headers = { ["mcp-session-id"] = "s1" } }
    assert.equal(200, request(s1).status)
    assert.equal(200, request(s1).status)
    assert.equal(429, request(s1).status)           -- both buckets empty
    -- The session is exhausted; a different session from another address passes.
    assert.equal(200, request({ addr = "10.0.0.9", headers = { ["mcp-session-id"] = "s2" } }).status)
    assert.equal(429, request({ addr = "10.0.0.9", headers = { ["mcp-session-id"] = "s1" } }).status)
    -- That denial did not drain 10.0.0.9's address bucket: one token is left.
    assert.equal(200, request({ addr = "10.0.0.9", headers = { ["mcp-session-id"] = "s3" } }).status)
  end)

  it("rejects a bad config", function()
    local ok, err = load('{ rate_limit = { per = "user" } }')
    assert.is_nil(ok)
    assert.matches("config key 'per'", err, 1, true)
    ok, err = load('{ rate_limit = { rate = 0 } }')
    assert.is_nil(ok)
    assert.matches("config key 'rate'", err, 1, true)
  end)
end)
