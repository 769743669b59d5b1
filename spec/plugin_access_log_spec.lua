-- plugins/access_log.lua: one JSON line per request, to the server log or a
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
    return runtime.load_scripts({}, 1)
  end

  local function request(path, headers)
    local h = core.handle()
    runtime.dispatch({ method = "POST", path = path, query = "a=1", headers = headers or {}, body = "",
                       remote_addr = "192.0.2.7" }, h)
    return core.responses[#core.responses]
  end

  local function access_lines()
    local out = {}
    for _, l in ipairs(logs) do if l.msg == "access" then out[#out + 1] = l end end
    return out
  end

  it("logs method, path, address and session id at info with the message 'access'", function()
    assert.is_true(load("{ access_log = true }"))
    assert.equal(404, request("/nowhere", { ["mcp-session-id"] = "abc", ["user-agent"] = "t/1" }).status)
    local lines = access_lines()
    assert.equal(1, #lines)
    assert.equal("info", lines[1].level)
    local f = lines[1].fields
    assert.equal("POST", f.method)
    assert.equal("/nowhere", f.path)
    assert.equal("a=1", f.query)
    assert.equal("192.0.2.7", f.remote_addr)
    assert.equal("abc", f.session_id)
    assert.equal("t/1", f.user_agent)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT", f.time)
  end)

  it("sees requests that a lower-priority plugin rejects", function()
    assert.is_true(load('{ access_log = true, bearer_auth = { tokens = { "x" } } }'))
    assert.equal(401, request("/x").status)
    assert.equal(1, #access_lines())
  end)

  it("appends JSON lines to `path` given the io.open grant, and needs that grant", function()
    local file = d.dir .. "/access.log"
    local ok, err = load(('{ access_log = { path = %q } }'):format(file))
    assert.is_nil(ok)
    assert.matches("io.open", err, 1, true)
    assert.is_true(load(('{ access_log = { path = %q }, _grants = { access_log = { "io.open" } } }'):format(file)))
    request("/one")
    request("/two", { ["mcp-session-id"] = "s9" })
    collectgarbage() -- the handle is line-buffered anyway
    local lines = {}
    for line in io.lines(file) do lines[#lines + 1] = json.decode(line) end
    assert.equal(2, #lines)
    assert.equal("/one", lines[1].path)
    assert.equal("s9", lines[2].session_id)
    assert.equal(0, #access_lines())
  end)
end)
