-- plugins/redact.lua: configured Lua patterns are masked in every string of
-- every outgoing message, on a copy.
local fake = require "support.fake_core"
local plugin_dir = require "support.plugin_dir"

describe("bundled plugin redact", function()
  local core, runtime, filters, d, json

  before_each(function()
    core = fake.install()
    runtime = require "moonwire.runtime"
    filters = require "moonwire.filters"
    json = require "moonwire.json"
    d = plugin_dir.new()
  end)
  after_each(function() d.remove() end)

  local function load(plugins_text)
    core.config_file = d.config(plugins_text)
    return runtime.load_scripts({}, 1)
  end

  it("masks every string of a tool result, deep inside, without touching the original", function()
    assert.is_true(load('{ redact = { patterns = { "sk%-%w+%-%d+", "hunter2" } } }'))
    local msg = { jsonrpc = "2.0", id = 1, result = {
      content = { { type = "text", text = "key sk-TEST-123 and hunter2" } },
      structuredContent = { nested = { list = { "sk-ABC-9", 42, true } }, empty = json.array() },
      isError = false,
    } }
    local out = filters.outgoing(msg, { transport = "http", session_id = "s" }, "tools/call")
    assert.equal("key [REDACTED] and [REDACTED]", out.result.content[1].text)
    assert.same({ "[REDACTED]", 42, true }, out.result.structuredContent.nested.list)
    assert.equal(false, out.result.isError)
    assert.equal(1, out.id)
    -- Empty arrays keep their JSON marking.
    assert.matches('"empty":%[%]', json.encode(out))
    -- The original is untouched (the framework may still hold it).
    assert.equal("key sk-TEST-123 and hunter2", msg.result.content[1].text)
  end)

  it("masks notifications and errors too, with a custom replacement taken literally", function()
    assert.is_true(load('{ redact = { patterns = { "%d%d%d%-%d%d%-%d%d%d%d" }, replacement = "<100%>" } }'))
    local note = filters.outgoing({ jsonrpc = "2.0", method = "notifications/message",
                                    params = { level = "info", data = "ssn 123-45-6789" } }, { transport = "http" })
    assert.equal("ssn <100%>", note.params.data)
    local err = filters.outgoing({ jsonrpc = "2.0", id = 3, error = { code = -32603, message = "bad 123-45-6789" } },
                                 { transport = "legacy" }, "tools/call")
    assert.equal("bad <100%>", err.error.message)
  end)

  it("rejects missing, malformed and empty-matching patterns at load", function()
    local ok, err = load("{ redact = {} }")
    assert.is_nil(ok)
    assert.matches("plugin 'redact'", err, 1, true)
    ok, err = load('{ redact = { patterns = { "[a-" } } }')
    assert.is_nil(ok)
    assert.matches("patterns[1]: bad Lua pattern", err, 1, true)
    ok, err = load('{ redact = { patterns = { "x*" } } }')
    assert.is_nil(ok)
    assert.matches("matches the empty string", err, 1, true)
  end)
end)
