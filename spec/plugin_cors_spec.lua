-- plugins/cors.lua: the configured policy reaches the core (mw.cors) when
-- the generation activates; defaults are filled; bad combinations fail the load.
local fake = require "support.fake_core"
local plugin_dir = require "support.plugin_dir"

describe("bundled plugin cors", function()
  local core, runtime, d

  before_each(function()
    core = fake.install()
    runtime = require "moonwire.runtime"
    d = plugin_dir.new()
  end)
  after_each(function() d.remove() end)

  local function load(plugins_text)
    core.config_file = d.config(plugins_text)
    return runtime.load_scripts({}, 1)
  end

  it("hands the joined policy to the core on activation", function()
    assert.is_true(load('{ cors = { origins = { "https://a.example", "https://b.example" }, max_age = 60 } }'))
    runtime.activate()
    assert.same({ origins = "https://a.example, https://b.example", methods = "GET, POST, DELETE, OPTIONS",
                  expose = "Mcp-Session-Id, MCP-Protocol-Version", max_age = 60, credentials = false }, core.cors)
  end)

  it("restores the core defaults when no cors plugin is configured", function()
    assert.is_true(load('{}'))
    runtime.activate()
    assert.is_nil(core.cors)
  end)

  it("refuses credentials with a wildcard origin and commas inside an item", function()
    local ok, err = load('{ cors = { credentials = true } }')
    assert.is_nil(ok)
    assert.matches("credentials = true needs explicit origins", err)
    ok, err = load('{ cors = { origins = { "https://a, https://b" } } }')
    assert.is_nil(ok)
    assert.matches("may not contain commas", err)
  end)
end)
