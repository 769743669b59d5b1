-- plugins/bearer_auth.lua: 401 with a Bearer challenge unless the request
-- carries a configured token (from the config or a tokens file).
local fake = require "support.fake_core"
local plugin_dir = require "support.plugin_dir"

describe("bundled plugin bearer_auth", function()
  local core, runtime, d, json

  before_each(function()
    core = fake.install()
    runtime = require "moonwire.runtime"
    json = require "moonwire.json"
    d = plugin_dir.new()
  end)
  after_each(function() d.remove() end)

  -- The bundled plugins/ is the default path: no _paths needed.
  local function load(plugins_text, script)
    core.config_file = d.config(plugins_text)
    local scripts = {}
    if script then scripts = { { d.write("scripts/s.lua", script) } } end
    return runtime.load_scripts(scripts, 1)
  end

  local ROUTE = [[require("moonwire").route { path = "/hello", handler = function() return "hi" end }]]

  local function get(path, headers)
    local h = core.handle()
    runtime.dispatch({ method = "GET", path = path, query = "", headers = headers or {}, body = "",
                       remote_addr = "127.0.0.1" }, h)
    return core.responses[#core.responses]
  end

  it("answers 401 with a Bearer challenge and a JSON body without a token", function()
    assert.is_true(load('{ bearer_auth = { tokens = { "t0k3n" } } }', ROUTE))
    local res = get("/hello")
    assert.equal(401, res.status)
    assert.equal('Bearer realm="moonwire"', res.headers["WWW-Authenticate"])
    assert.equal("application/json", res.headers["Content-Type"])
    assert.equal("unauthorized", json.decode(res.body).error)
  end)

  it("passes a request with a valid token, and rejects a wrong or partial one", function()
    assert.is_true(load('{ bearer_auth = { tokens = { "t0k3n", "other" }, realm = "api" } }', ROUTE))
    assert.equal("hi", get("/hello", { authorization = "Bearer t0k3n" }).body)
    assert.equal("hi", get("/hello", { authorization = "bearer other" }).body)
    for _, bad in ipairs { "Bearer t0k3", "Bearer t0k3n0", "Bearer T0K3N", "Basic t0k3n", "t0k3n", "Bearer " } do
      local res = get("/hello", { authorization = bad })
      assert.equal(401, res.status, bad)
      assert.equal('Bearer realm="api", error="invalid_token"', res.headers["WWW-Authenticate"])
    end
  end)

  it("reads tokens from tokens_file, skipping blanks and # comments", function()
    local file = d.write("tokens.txt", "# deploy tokens\n\n  alpha  \nbeta\n#gamma\n")
    assert.is_true(load(('{ bearer_auth = { tokens_file = %q } }'):format(file), ROUTE))
    assert.equal("hi", get("/hello", { authorization = "Bearer alpha" }).body)
    assert.equal("hi", get("/hello", { authorization = "Bearer beta" }).body)
    assert.equal(401, get("/hello", { authorization = "Bearer #gamma" }).status)
    assert.equal(401, get("/hello", { authorization = "Bearer gamma" }).status)
  end)

  it("lets exempt paths through", function()
    assert.is_true(load('{ bearer_auth = { tokens = { "x" }, exempt_paths = { "/hello" } } }', ROUTE))
    assert.equal("hi", get("/hello").body)
  end)

  it("fails the load without any token or with an unreadable tokens_file", function()
    local ok, err = load("{ bearer_auth = {} }")
    assert.is_nil(ok)
    assert.matches("plugin 'bearer_auth': init: no tokens", err, 1, true)
    ok, err = load('{ bearer_auth = { tokens_file = "/nonexistent/tokens" } }')
    assert.is_nil(ok)
    assert.matches("tokens_file: /nonexistent/tokens", err, 1, true)
    ok, err = load('{ bearer_auth = { tokens = "x" } }')
    assert.is_nil(ok)
    assert.matches("config key 'tokens'", err, 1, true)
  end)
end)
