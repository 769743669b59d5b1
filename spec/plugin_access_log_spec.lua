-- plugins/access_log.lua: one JSON line per answered request (the core's
-- response records, handed over by runtime.access), to the server log or a
-- file (which needs the io.open grant).
local fake = require "support.fake_core"
local plugin_dir = require "support.plugin_dir"

describe("bundled plugin access_log", function()
  local core, runtime, d, json, logs

  before_each(function()
    core = fake.install()
    logs = {}
    function core.log(level, msg, fields) logs[#logs + 1] = { level = level, msg = msg, fields = fields } end
    runtime = require "moonwire.runtime"
    json = require "moonwire.json"
    d = plugin_dir.new()
  end)
  after_each(function() d.remove() end)

  local function load(plugins_text)
    core.config_file = d.config(plugins_text)
    local ok, err = runtime.load_scripts({}, 1)
    if ok then runtime.activate() end
    return ok, err
  end

  -- What the core records for an answered request.
  local function answered(url, status, extra)
    local r = { method = "POST", url = url, status = status, duration_ms = 12, remote_addr = "192.0.2.7" }
    for k, v in pairs(extra or {}) do r[k] = v end
    runtime.access({ r })
  end

  local function access_lines()
    local out = {}
    for _, l in ipairs(logs) do if l.msg == "access" then out[#out + 1] = l end end
    return out
  end

  it("asks the core for response records only while configured", function()
    assert.is_true(load('{ access_log = true }'))
    assert.is_true(core.access_on)
    -- A new generation (fresh state) without the plugin.
    core = fake.install()
    runtime = require "moonwire.runtime"
    assert.is_true(load('{}'))
    assert.is_false(core.access_on)
  end)

  it("logs method, path, query, status, duration, address and session id at info", function()
    assert.is_true(load('{ access_log = true }'))
    answered("/mcp?a=1", 401, { session_id = "s1" })
    local lines = access_lines()
    assert.equal(1, #lines)
    assert.equal("info", lines[1].level)
    local f = lines[1].fields
    assert.equal("POST", f.method)
    assert.equal("/mcp", f.path)
    assert.equal("a=1", f.query)
    assert.equal("401", f.status)
    assert.equal("12", f.duration_ms)
    assert.equal("192.0.2.7", f.remote_addr)
    assert.equal("s1", f.session_id)
  end)

  it("appends JSON lines to `path` given the io.open grant, and needs that grant", function()
    local file = d.dir .. "/access.log"
    local ok, err = load(('{ access_log = { path = %q } }'):format(file))
    assert.is_nil(ok)
    assert.matches("io.open", err, 1, true)
    assert.is_true(load(('{ access_log = { path = %q }, _grants = { access_log = { "io.open" } } }'):format(file)))
    answered("/one", 200)
    answered("/two", 503, { session_id = "s9" })
    local lines = {}
    for line in io.lines(file) do lines[#lines + 1] = json.decode(line) end
    assert.equal(2, #lines)
    assert.equal("/one", lines[1].path)
    assert.equal(200, lines[1].status)
    assert.equal(503, lines[2].status)
    assert.equal("s9", lines[2].session_id)
    assert.equal(0, #access_lines())
  end)
end)
