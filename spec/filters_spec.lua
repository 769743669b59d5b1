-- lua/moonwire/filters.lua: message filters declared by plugins (p:filter,
-- on_message_in/out), their order, DROP and short-circuit answers; and the
-- legacy transport applying them on the way in and out.
local fake = require "support.fake_core"
local plugin_dir = require "support.plugin_dir"

describe("message filters", function()
  local core, runtime, filters, d

  before_each(function()
    core = fake.install()
    runtime = require "moonwire.runtime"
    filters = require "moonwire.filters"
    d = plugin_dir.new()
  end)
  after_each(function() d.remove() end)

  local function load(plugins_text)
    core.config_file = d.config(plugins_text:gsub("^{", '{ _paths = { "plugins" },'))
    return runtime.load_scripts({}, 1)
  end

  -- A plugin whose filters append its tag to params.trail / result.trail.
  local function tagger(name, priority, extra)
    d.write("plugins/" .. name .. ".lua", ([[
      local mw = require "moonwire"
      return { name = %q, priority = %d,
        on_message_in = function(msg, ctx)
          if msg.params and msg.params.drop == %q then return mw.DROP end
          if msg.params and msg.params.deny == %q then return mw.reject(-32003, "denied by " .. %q) end
          if msg.params then msg.params.trail = (msg.params.trail or "") .. %q .. ">" end
          return msg
        end,
        on_message_out = function(msg, ctx)
          if msg.result then msg.result.trail = (msg.result.trail or "") .. "<" .. %q end
          return msg
        end,
        %s
      }
    ]]):format(name, priority, name, name, name, name, name, extra or ""))
  end

  it("runs incoming filters by priority and outgoing ones in reverse (onion order)", function()
    tagger("a", 10)
    tagger("b", 5)
    tagger("c", 7)
    assert.is_true(load("{ a = {}, b = {}, c = {} }"))
    assert.is_true(filters.active_in and filters.active_out)
    local msg = filters.incoming({ jsonrpc = "2.0", id = 1, method = "tools/call", params = {} },
                                 { transport = "http" })
    assert.equal("a>c>b>", msg.params.trail)
    local out = filters.outgoing({ jsonrpc = "2.0", id = 1, result = {} }, { transport = "http" }, "tools/call")
    assert.equal("<b<c<a", out.result.trail)
  end)

  it("drops a message with mw.DROP; later filters never see it", function()
    tagger("a", 10)
    tagger("b", 5)
    assert.is_true(load("{ a = {}, b = {} }"))
    local msg, reply = filters.incoming({ jsonrpc = "2.0", id = 1, method = "x", params = { drop = "a" } }, {})
    assert.is_nil(msg)
    assert.is_nil(reply)
  end)

  it("short-circuits a request with an error response carrying its id", function()
    tagger("a", 10)
    tagger("b", 5)
    assert.is_true(load("{ a = {}, b = {} }"))
    local msg, reply = filters.incoming({ jsonrpc = "2.0", id = 7, method = "x", params = { deny = "b" } }, {})
    assert.is_nil(msg)
    assert.same({ jsonrpc = "2.0", id = 7, error = { code = -32003, message = "denied by b" } }, reply)
    -- A notification cannot be answered: it is just dropped.
    msg, reply = filters.incoming({ jsonrpc = "2.0", method = "n", params = { deny = "a" } }, {})
    assert.is_nil(msg)
    assert.is_nil(reply)
  end)

  it("limits a filter to the methods it names, and passes ctx with session, transport and config", function()
    d.write("plugins/only.lua", [[
      return { name = "only", config_schema = { type = "object", properties = { tag = { type = "string", default = "T" } } },
        init = function(p)
          p:filter { direction = "in", methods = { "tools/call" }, handler = function(msg, ctx)
            msg.params.seen = table.concat({ ctx.transport, ctx.session_id, ctx.config.tag, ctx.direction }, ",")
            return msg
          end }
          p:filter { direction = "out", methods = { "tools/list" }, handler = function(msg, ctx)
            msg.result.listed = true
            return msg
          end }
        end }
    ]])
    assert.is_true(load("{ only = {} }"))
    local ctx = { transport = "legacy", session_id = "s1" }
    local m = filters.incoming({ jsonrpc = "2.0", id = 1, method = "tools/call", params = {} }, ctx)
    assert.equal("legacy,s1,T,in", m.params.seen)
    m = filters.incoming({ jsonrpc = "2.0", id = 2, method = "ping", params = {} }, ctx)
    assert.is_nil(m.params.seen)
    -- Responses are matched by the method of the request they answer.
    assert.is_true(filters.outgoing({ jsonrpc = "2.0", id = 1, result = {} }, ctx, "tools/list").result.listed)
    assert.is_nil(filters.outgoing({ jsonrpc = "2.0", id = 1, result = {} }, ctx, "tools/call").result.listed)
  end)

  it("fails closed when a filter throws", function()
    d.write("plugins/boom.lua", [[
      return { name = "boom", on_message_in = function() error("kaput") end }
    ]])
    assert.is_true(load("{ boom = {} }"))
    local msg, reply = filters.incoming({ jsonrpc = "2.0", id = 3, method = "x" }, {})
    assert.is_nil(msg)
    assert.equal(-32603, reply.error.code)
    assert.matches("kaput", core.errors[#core.errors])
  end)

  it("rejects a bad filter declaration", function()
    d.write("plugins/bad.lua", [[
      return { name = "bad", init = function(p) p:filter { direction = "sideways", handler = print } end }
    ]])
    local ok, err = load("{ bad = {} }")
    assert.is_nil(ok)
    assert.matches("p:filter: 'direction' must be", err, 1, true)
  end)

  it("costs nothing when no plugin declares a filter", function()
    assert.is_true(runtime.load_scripts({}, 1))
    assert.is_false(filters.active_in)
    assert.is_false(filters.active_out)
  end)

  describe("on the legacy transport", function()
    before_each(function()
      -- Just enough of core sessions for /messages.
      local store, sent = {}, {}
      core.sent = sent
      function core.session_create(data) store.s1 = data return "s1" end
      function core.session_get(sid) if store[sid] then return true, store[sid] end return false end
      function core.session_exists(sid) return store[sid] ~= nil end
      function core.session_set(sid, data) store[sid] = data return true end
      function core.session_touch() return true end
      function core.session_send(sid, no, event, data) sent[#sent + 1] = data return "1" end
      core.session_holds = {} -- sid -> requests holding it (must end at 0)
      function core.session_hold(sid, on)
        core.session_holds[sid] = (core.session_holds[sid] or 0) + (on and 1 or -1)
      end
    end)

    it("filters requests on the way in and responses on the way out", function()
      tagger("a", 10, [[init = function(p)
        p:tool { name = "secret", description = "s", handler = function() return "token=hunter2" end }
        p:filter { direction = "out", methods = { "tools/call" }, handler = function(msg)
          msg.result.content[1].text = msg.result.content[1].text:gsub("hunter2", "***")
          return msg
        end }
      end,]])
      assert.is_true(load("{ a = {} }"))
      local json = require "moonwire.json"
      local sessions = require "moonwire.mcp.sessions"
      local sid = sessions.create({ v = "2024-11-05", kind = "legacy", initialized = true, level = "info" })
      local legacy = require "moonwire.mcp.legacy"
      local function post(msg)
        legacy.post({ method = "POST", path = "/messages", args = { sessionId = sid }, headers = {},
                      body = json.encode(msg) }, core.handle())
        return json.decode(core.sent[#core.sent])
      end
      local res = post({ jsonrpc = "2.0", id = 1, method = "tools/call", params = { name = "secret" } })
      assert.equal("token=***", res.result.content[1].text)
      res = post({ jsonrpc = "2.0", id = 2, method = "tools/call", params = { name = "secret", deny = "a" } })
      assert.same({ code = -32003, message = "denied by a" }, res.error)
      assert.equal(0, core.session_holds[sid], "each request let go of its session")
    end)
  end)
end)
