-- lua/moonwire/mcp/registry.lua through the public API (mw.tool, mw.resource,
-- mw.resource_template, mw.prompt, mw.completion) and the list methods of
-- lua/moonwire/mcp/protocol.lua, with the C core faked.
local fake = require "support.fake_core"

local function fresh()
  fake.install()
  for _, m in ipairs { "moonwire.mcp.registry", "moonwire.mcp.protocol", "moonwire.mcp.sessions",
                       "moonwire.mcp", "moonwire.mcp.http", "moonwire.mcp.legacy", "moonwire.mcp.stateless" } do
    package.loaded[m] = nil
  end
  local mw = require "moonwire"
  return mw, require "moonwire.mcp.registry", require "moonwire.mcp.protocol"
end

local function err_of(fn)
  local ok, e = pcall(fn)
  assert.is_false(ok)
  return e
end

local noop = function() return "x" end

describe("MCP declarations", function()
  local mw
  before_each(function() mw = fresh() end)

  it("name this file and line for unknown keys, wrong types and missing keys", function()
    assert.matches("mcp_registry_spec.lua:%d+: mw.tool: unknown key 'input'",
      err_of(function() mw.tool { name = "t", description = "d", handler = noop, input = {} } end))
    assert.matches("mw.tool: 'handler' must be a function",
      err_of(function() mw.tool { name = "t", description = "d", handler = 1 } end))
    assert.matches("mw.tool: 'description' is required",
      err_of(function() mw.tool { name = "t", handler = noop } end))
    assert.matches("mw.prompt: 'description' is required",
      err_of(function() mw.prompt { name = "p", handler = noop } end))
  end)

  it("rejects duplicate names, bad tool names, bad schemas and bad URIs", function()
    mw.tool { name = "dup", description = "d", handler = noop }
    assert.matches("already defined", err_of(function() mw.tool { name = "dup", description = "d", handler = noop } end))
    assert.matches("must be 1%-128", err_of(function() mw.tool { name = "bad name", description = "d", handler = noop } end))
    assert.matches("input_schema:", err_of(function()
      mw.tool { name = "s", description = "d", handler = noop, input_schema = { type = "object", properties = { a = { type = "strnig" } } } }
    end))
    assert.matches("type must be \"object\"", err_of(function()
      mw.tool { name = "s2", description = "d", handler = noop, input_schema = { type = "array" } }
    end))
    assert.matches("not an absolute URI", err_of(function() mw.resource { uri = "nope", name = "n", handler = noop } end))
    assert.matches("no {variables}", err_of(function() mw.resource_template { uri_template = "x://a", name = "n", handler = noop } end))
    assert.matches("ref", err_of(function() mw.completion { ref = { type = "ref/nothing" }, handler = noop } end))
  end)

  it("passes JSON Schema 2020-12 keywords through untouched", function()
    local s = { ["$schema"] = "https://json-schema.org/draft/2020-12/schema", type = "object",
                ["$defs"] = { a = { type = "string" } }, properties = { x = { ["$ref"] = "#/$defs/a" } },
                additionalProperties = false, required = mw.json.array({}) }
    local tool = mw.tool { name = "schema", description = "d", handler = noop, input_schema = s }
    local out = mw.json.decode(mw.json.encode(tool.wire.inputSchema))
    assert.equal("https://json-schema.org/draft/2020-12/schema", out["$schema"])
    assert.equal("#/$defs/a", out.properties.x["$ref"])
    assert.equal(false, out.additionalProperties)
    assert.truthy(mw.json.encode(tool.wire.inputSchema):find('"required":[]', 1, true))
  end)

  it("matches resource templates and decodes their variables", function()
    local registry = package.loaded["moonwire.mcp.registry"]
    mw.resource_template { uri_template = "file:///{+path}", name = "f", handler = noop }
    mw.resource_template { uri_template = "db://{table}/{id}", name = "r", handler = noop }
    local t, vars = registry.match_template("db://users/a%20b")
    assert.equal("db://{table}/{id}", t.uri_template)
    assert.same({ table = "users", id = "a b" }, vars)
    t, vars = registry.match_template("file:///etc/hosts")
    assert.same({ path = "etc/hosts" }, vars)
    assert.is_nil(registry.match_template("db://only-one"))
  end)
end)

describe("MCP list methods", function()
  local mw, protocol
  before_each(function()
    local _
    mw, _, protocol = fresh()
  end)

  it("paginates with an opaque cursor, in declaration order", function()
    protocol.page_size = 2
    for i = 1, 5 do mw.tool { name = "t" .. i, description = "d", handler = noop } end
    local ex = { state = {} }
    local names, cursor = {}, nil
    repeat
      local res = protocol.methods["tools/list"](cursor and { cursor = cursor } or nil, ex)
      for _, t in ipairs(res.tools) do names[#names + 1] = t.name end
      cursor = res.nextCursor
    until not cursor
    assert.same({ "t1", "t2", "t3", "t4", "t5" }, names)
    local ok, e = pcall(protocol.methods["tools/list"], { cursor = "garbage" }, ex)
    assert.is_false(ok)
    assert.equal(-32602, e.code)
  end)

  it("lists the resources of templates with a list function after the static ones", function()
    protocol.page_size = 2
    mw.resource { uri = "docs://static", name = "static", handler = noop }
    mw.resource_template { uri_template = "file:///{+path}", name = "f", mime_type = "text/plain", handler = noop,
      list = function(ctx)
        return { { uri = "file:///a", name = "a" }, { uri = "file:///b.png", name = "b", mime_type = "image/png", size = 3 } }
      end }
    local ex = { state = {} }
    local first = protocol.methods["resources/list"](nil, ex)
    assert.same({ "docs://static", "file:///a" }, { first.resources[1].uri, first.resources[2].uri })
    assert.equal("text/plain", first.resources[2].mimeType)
    local second = protocol.methods["resources/list"]({ cursor = first.nextCursor }, ex)
    assert.same({ { uri = "file:///b.png", name = "b", mimeType = "image/png", size = 3 } }, second.resources)
    assert.is_nil(second.nextCursor)
    assert.matches("'list' must be a function",
      err_of(function() mw.resource_template { uri_template = "x://{y}", name = "x", handler = noop, list = 1 } end))
  end)

  it("answers -32603 when a template's list function fails or returns no list", function()
    mw.resource_template { uri_template = "x://{y}", name = "x", handler = noop,
      list = function() return nil, "backend down" end }
    local e = err_of(function() protocol.methods["resources/list"](nil, { state = {} }) end)
    assert.equal(-32603, e.code)
    assert.matches("backend down", e.message)
  end)

  it("holds a tool to its output_schema, structured content to objects, and sends empty lists as []", function()
    local json = mw.json
    mw.tool { name = "typed", description = "d",
      output_schema = { type = "object", properties = { items = { type = "array" } }, required = { "items" } },
      handler = function(args)
        if args.mode == "text" then return "just text" end
        if args.mode == "error" then return { content = "failed", is_error = true } end
        return { structured = { items = {} } }
      end }
    mw.tool { name = "loose", description = "d", input_schema = { type = "object", required = {} },
      handler = function() return { structured = json.array { 1, 2 } } end }
    local function call(name, args)
      return protocol.methods["tools/call"]({ name = name, arguments = args or {} }, { state = {} })
    end
    -- An empty table where the schema allows only an array goes out as one.
    assert.equal('{"items":[]}', json.encode(call("typed").structuredContent))
    local r = call("typed", { mode = "text" })
    assert.is_true(r.isError)
    assert.equal("tool produced no structured content", r.content[1].text)
    r = call("typed", { mode = "error" })
    assert.is_true(r.isError)
    assert.equal("failed", r.content[1].text)
    r = call("loose")
    assert.is_true(r.isError)
    assert.equal("tool produced structured content that is not a JSON object", r.content[1].text)
    local list = json.encode(protocol.methods["tools/list"](nil, { state = {} }))
    assert.matches('"required":%[%]', list)
  end)

  it("cuts a thrown error's text for the client at 4 KiB, never inside a UTF-8 character", function()
    mw.tool { name = "throws", description = "d", handler = function(args) error(args.text, 0) end }
    local function text_of(msg)
      local r = protocol.methods["tools/call"]({ name = "throws", arguments = { text = msg } }, { state = {} })
      assert.is_true(r.isError)
      return r.content[1].text
    end
    assert.equal("short", text_of("short\nsecond line stays in the log"))
    assert.equal(string.rep("é", 2048) .. " ... (6000 bytes in all)", text_of(string.rep("é", 3000)))
    -- Here byte 4096 starts a character: it goes too.
    assert.equal("x" .. string.rep("é", 2047) .. " ... (6001 bytes in all)", text_of("x" .. string.rep("é", 3000)))
  end)

  it("takes lists of content blocks and strings as content, and nothing else", function()
    local json = mw.json
    local results = {
      mixed = { 1, 2, x = 3 }, strings = { "a", "b" }, yes = { content = "x", is_error = "yes" },
      foreign = setmetatable({ { type = "text", text = "a" } }, {}), numbers = { content = { 1 } },
    }
    mw.tool { name = "shape", description = "d", handler = function(args) return results[args.kind] end }
    local function call(kind)
      return protocol.methods["tools/call"]({ name = "shape", arguments = { kind = kind } }, { state = {} })
    end
    local bad = "tool returned content that is not a list of content blocks"
    assert.same({ true, bad }, { call("mixed").isError, call("mixed").content[1].text })
    assert.same({ true, bad }, { call("numbers").isError, call("numbers").content[1].text })
    local strings = call("strings").content
    assert.is_true(json.is_array(strings))
    assert.same({ { type = "text", text = "a" }, { type = "text", text = "b" } }, strings)
    assert.is_true(call("yes").isError)
    assert.equal("a", call("foreign").content[1].text)
  end)

  it("lists an empty registry as empty arrays", function()
    local res = protocol.methods["tools/list"](nil, { state = {} })
    assert.equal('{"tools":[]}', mw.json.encode(res))
  end)
end)
