-- lua/moonwire/plugins.lua and lua/moonwire/sandbox.lua: plugins named in the
-- config file, loaded through runtime.load_scripts with the fake core.
local fake = require "support.fake_core"
local plugin_dir = require "support.plugin_dir"

describe("plugins", function()
  local core, runtime, d

  before_each(function()
    core = fake.install()
    runtime = require "moonwire.runtime"
    d = plugin_dir.new()
  end)
  after_each(function() d.remove() end)

  -- Plugins live in the temp dir's plugins/ unless the text names _paths.
  local function load(plugins_text)
    if not plugins_text:find("_paths", 1, true) then
      plugins_text = plugins_text:gsub("^{", '{ _paths = { "plugins" },')
    end
    core.config_file = d.config(plugins_text)
    return runtime.load_scripts({}, 1)
  end

  local function get(path, headers)
    local h = core.handle()
    runtime.dispatch({ method = "GET", path = path, query = "", headers = headers or {}, body = "" }, h)
    return core.responses[#core.responses]
  end

  local RL = [[
    return {
      name = "rl", version = "1.0", priority = 1,
      config_schema = { type = "object", properties = {
        limit = { type = "integer", default = 10 },
        window = { type = "object", properties = { seconds = { type = "number", default = 60 } }, default = {} },
      } },
      init = function(p, config)
        p:route { path = "/rl", handler = function()
          return { json = { limit = config.limit, seconds = config.window.seconds } }
        end }
        p:route { path = "/rl/write", handler = function()
          local ok, err = pcall(function() config.limit = 5 end)
          return { json = { ok = ok, err = tostring(err), limit = config.limit } }
        end }
      end,
    }
  ]]

  it("does nothing without a config file or a plugins table", function()
    assert.is_true(runtime.load_scripts({}, 1))
    core.config_file = d.write("empty.conf.lua", "port = 3001\n")
    assert.is_true(runtime.load_scripts({}, 1))
  end)

  it("fills config defaults before the plugin sees them", function()
    d.write("plugins/rl.lua", RL)
    assert.is_true(load("{ rl = {} }"))
    local body = require("moonwire.json").decode(get("/rl").body)
    assert.same({ limit = 10, seconds = 60 }, body)
  end)

  it("accepts `true` as 'enabled with defaults'", function()
    d.write("plugins/rl.lua", RL)
    assert.is_true(load("{ rl = true }"))
    assert.equal(10, require("moonwire.json").decode(get("/rl").body).limit)
  end)

  it("rejects a config value of the wrong type, naming plugin, key and expected type", function()
    d.write("plugins/rl.lua", RL)
    local ok, err = load('{ rl = { limit = "lots" } }')
    assert.is_nil(ok)
    assert.equal("plugin 'rl': config key 'limit': expected integer, got string", err)
    ok, err = load('{ rl = { window = { seconds = "x" } } }')
    assert.is_nil(ok)
    assert.equal("plugin 'rl': config key 'window.seconds': expected number, got string", err)
  end)

  it("hands config over read-only", function()
    d.write("plugins/rl.lua", RL)
    assert.is_true(load("{ rl = { limit = 3 } }"))
    local body = require("moonwire.json").decode(get("/rl/write").body)
    assert.is_false(body.ok)
    assert.matches("read%-only", body.err)
    assert.equal(3, body.limit)
  end)

  it("reports missing plugins, unknown keys and bad grants", function()
    local ok, err = load("{ nope = {} }")
    assert.is_nil(ok)
    assert.matches("plugin 'nope': not found", err)
    d.write("plugins/odd.lua", "return { name = 'odd', hooks = {} }")
    ok, err = load("{ odd = {} }")
    assert.is_nil(ok)
    assert.equal("plugin 'odd': unknown key 'hooks' in the plugin table", err)
    d.write("plugins/fine.lua", "return { name = 'fine' }")
    ok, err = load('{ fine = {}, _grants = { fine = { "os.everything" } } }')
    assert.is_nil(ok)
    assert.equal("plugin 'fine': unknown grant 'os.everything' in plugins._grants", err)
  end)

  it("finds plugins as NAME/init.lua on _paths relative to the config file", function()
    d.write("extra/dirplug/init.lua", [[
      local helper = require "helper"
      return { name = "dirplug", init = function(p) p:route { path = "/dp", handler = helper.hi } end }
    ]])
    d.write("extra/dirplug/helper.lua", "return { hi = function() return 'hi from helper' end }")
    assert.is_true(load('{ _paths = { "extra" }, dirplug = {} }'))
    assert.equal("hi from helper", get("/dp").body)
  end)

  it("runs on_request hooks by priority, higher first, and lets one reject", function()
    d.write("plugins/outer.lua", [[
      return { name = "outer", priority = 10, on_request = function(req, ctx)
        req.trail = (req.trail or "") .. "outer(" .. ctx.config.tag .. ")"
      end, config_schema = { type = "object", properties = { tag = { type = "string", default = "o" } } } }
    ]])
    d.write("plugins/auth.lua", [[
      return { name = "auth", priority = 5, on_request = function(req, ctx)
        req.trail = req.trail .. ",auth"
        if req.headers.authorization ~= "Bearer ok" then
          return { status = 401, json = { error = "unauthorized" } }
        end
      end,
      init = function(p) p:route { path = "/trail", handler = function(req) return req.trail end } end }
    ]])
    assert.is_true(load("{ auth = {}, outer = {} }"))
    local res = get("/trail")
    assert.equal(401, res.status)
    assert.equal('{"error":"unauthorized"}', res.body)
    res = get("/trail", { authorization = "Bearer ok" })
    assert.equal(200, res.status)
    assert.equal("outer(o),auth", res.body)
  end)

  it("lets a plugin declare MCP tools through its handle, with the file:line of a bad one", function()
    d.write("plugins/tools.lua", [[
      return { name = "tools", init = function(p)
        p:tool { name = "plugin_echo", description = "echo", handler = function(a) return a.x end }
      end }
    ]])
    assert.is_true(load("{ tools = {} }"))
    assert.truthy(require("moonwire.mcp.registry").tools.plugin_echo)

    core = fake.install()
    runtime = require "moonwire.runtime"
    d.write("plugins/badtool.lua", "return { name = 'badtool', init = function(p)\n  p:tool { name = 'x', handler = print }\nend }")
    local ok, err = load("{ badtool = {} }")
    assert.is_nil(ok)
    assert.matches("badtool.lua:2: mw.tool: 'description' is required", err, 1, true)
  end)

  it("calls on_session_open and on_session_close for MCP sessions", function()
    d.write("plugins/watch.lua", [[
      local mw = require "moonwire"
      local seen = {}
      return { name = "watch",
        on_session_open = function(sid, ctx) seen[#seen + 1] = "open:" .. sid .. ":" .. ctx.transport end,
        on_session_close = function(sid, ctx) seen[#seen + 1] = "close:" .. sid .. ":" .. ctx.reason end,
        init = function(p) p:route { path = "/seen", handler = function() return table.concat(seen, ",") end } end }
    ]])
    assert.is_true(load("{ watch = {} }"))
    function core.session_create() return "s1" end
    function core.session_destroy() return true end
    local sessions = require "moonwire.mcp.sessions"
    sessions.create({ kind = "http", v = "2025-11-25" })
    sessions.destroy("s1")
    assert.equal("open:s1:http,close:s1:deleted", get("/seen").body)
  end)

  describe("sandbox", function()
    local PROBE = [[
      local mw = require "moonwire"
      local bin = string.dump(function() return 1 end)
      local f, lerr = load(bin, "x", "b")
      local results = {
        execute = os.execute == nil, popen = io.popen == nil, exit = os.exit == nil,
        getenv = os.getenv ~= nil, debug = debug == nil,
        binary = f == nil and lerr ~= nil, text = load("return 7")() == 7,
        req = pcall(require, "moonwire.core") == false,
        write = pcall(io.open, "/tmp/x", "w") == false,
        mw_write = pcall(function() mw.tool = nil end) == false,
        mw_intact = type(mw.tool) == "function",
      }
      secret = "mine"        -- a global: stays in this plugin's _ENV
      string.upper = nil     -- its own copy of the library
      return { name = NAME, init = function(p)
        p:route { path = "/probe/" .. NAME, handler = function() return { json = results } end }
      end }
    ]]

    it("denies OS access and binary chunks unless granted, and isolates globals", function()
      d.write("plugins/a.lua", (PROBE:gsub("NAME", "'a'")))
      d.write("plugins/b.lua", [[
        return { name = "b", init = function(p)
          p:route { path = "/probe/b", handler = function()
            return { json = { secret = tostring(secret), upper = ("x"):upper(), lib = string.upper ~= nil } }
          end }
        end }
      ]])
      assert.is_true(load('{ a = {}, b = {}, _grants = { a = { "os.getenv" } } }'))
      local json = require "moonwire.json"
      local a = json.decode(get("/probe/a").body)
      assert.same({ execute = true, popen = true, exit = true, getenv = true, debug = true, binary = true,
                    text = true, req = true, write = true, mw_write = true, mw_intact = true }, a)
      local b = json.decode(get("/probe/b").body)
      assert.same({ secret = "nil", upper = "X", lib = true }, b)
      -- The framework's globals are untouched.
      assert.is_nil(rawget(_G, "secret"))
      assert.equal("function", type(string.upper))
    end)

    it("grants os.execute when the config says so", function()
      d.write("plugins/g.lua", [[
        return { name = "g", init = function(p)
          p:route { path = "/g", handler = function() return tostring(os.execute ~= nil) end }
        end }
      ]])
      assert.is_true(load('{ g = {}, _grants = { g = { "os.execute" } } }'))
      assert.equal("true", get("/g").body)
    end)

    it("keeps --scripts globals away from the framework's", function()
      local script = d.write("scripts/s.lua", [[
        string.format = nil
        _G.leaked = true
        local mw = require "moonwire"
        mw.route { path = "/s", handler = function() return tostring(leaked) end }
      ]])
      core.config_file = nil
      assert.is_true(runtime.load_scripts({ { script } }, 1))
      assert.equal("function", type(string.format))
      assert.is_nil(rawget(_G, "leaked"))
      assert.equal("true", get("/s").body)
    end)
  end)
end)
