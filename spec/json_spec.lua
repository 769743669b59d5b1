-- Tests lua/moonwire/json.lua: the cjson 2.1.0 wrapper every MCP message goes through.
local json = require "moonwire.json"

-- A canonical text for a decoded value that, unlike assert.same, tells [] from {}, integers from
-- floats and null from a missing key; objects have their keys sorted.
local function canon(v)
  local tv = type(v)
  if v == json.null then
    return "null"
  elseif tv == "number" then
    return math.type(v) .. ":" .. string.format(math.type(v) == "integer" and "%d" or "%.17g", v)
  elseif tv == "string" then
    return string.format("%q", v)
  elseif tv ~= "table" then
    return tostring(v)
  end
  local parts = {}
  if json.is_array(v) then
    for i = 1, #v do
      parts[i] = canon(v[i])
    end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for i, k in ipairs(keys) do
    parts[i] = string.format("%q", k) .. ":" .. canon(v[k])
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function decode_ok(text)
  local v, err = json.decode(text)
  assert.is_nil(err)
  assert.is_not_nil(v)
  return v
end

-- decode, then encode: the text a proxy would send on.
local function round_trip(text)
  return json.encode(decode_ok(text))
end

local function encode_error(v)
  local ok, err = pcall(json.encode, v)
  assert.is_false(ok)
  assert.are.equal("table", type(err))
  assert.are.equal("json_encode", err.code)
  assert.are.equal("string", type(err.message))
  return err
end

describe("moonwire.json", function()
  it("decodes integral numbers within 2^53 as Lua integers and round-trips JSON-RPC ids", function()
    local cases = {
      { "1", 1, "integer", "1" },
      { "0", 0, "integer", "0" },
      { "-1", -1, "integer", "-1" },
      { "9007199254740991", 9007199254740991, "integer", "9007199254740991" },
      { "-9007199254740991", -9007199254740991, "integer", "-9007199254740991" },
      { "9007199254740992", 9007199254740992, "integer", "9007199254740992" },
      { "1.5", 1.5, "float", "1.5" },
      { "1e3", 1000, "integer", "1000" }, -- integral, so an integer; the text changes form
      { "-2.5e-3", -0.0025, "float", "-0.0025" },
    }
    for _, c in ipairs(cases) do
      local text, value, mtype, encoded = c[1], c[2], c[3], c[4]
      local msg = decode_ok('{"jsonrpc":"2.0","id":' .. text .. ',"method":"ping"}')
      assert.are.equal(value, msg.id, text)
      assert.are.equal(mtype, math.type(msg.id), text)
      assert.are.equal('{"id":' .. encoded .. "}", json.encode({ id = msg.id }), text)
      assert.are.equal(encoded, round_trip(text), text)
    end
    assert.are.equal("1", tostring(decode_ok("[1]")[1])) -- raw cjson gives "1.0"
    assert.are.equal("integer", math.type(decode_ok("7")))
    assert.are.equal("integer", math.type(decode_ok('{"a":[[{"b":2}]]}').a[1][1].b))
    assert.are.equal("integer", math.type(decode_ok("1.0")))
  end)

  it("keeps -0 and integral values beyond 2^53 as floats", function()
    local z = decode_ok("-0")
    assert.are.equal("float", math.type(z))
    assert.are.equal(-math.huge, 1 / z)
    assert.are.equal("-0", round_trip("-0"))
    -- Beyond 2^53 a double cannot hold every integer: strtod rounds, and the value stays a float.
    local big = decode_ok("9007199254740995")
    assert.are.equal("float", math.type(big))
    assert.are.equal(2 ^ 53 + 4, big)
    assert.are.equal("9007199254740996", json.encode(big))
    -- 2^53 + 1 already rounds to 2^53 in strtod, which is in range: the one inexact integer.
    assert.are.equal(9007199254740992, decode_ok("9007199254740993"))
    local huge = decode_ok("12345678901234567890")
    assert.are.equal("float", math.type(huge))
    assert.are.equal(huge, decode_ok(json.encode(huge)))
  end)

  it("encodes integers exactly and floats with enough digits to round-trip", function()
    assert.are.equal("9007199254740991", json.encode(9007199254740991))
    assert.are.equal("100000000000000", json.encode(100000000000000)) -- 15 digits; cjson: 1e+14
    assert.are.equal("123456789012345678", json.encode(123456789012345678))
    assert.are.equal("9223372036854775807", json.encode(math.maxinteger))
    assert.are.equal("-9223372036854775808", json.encode(math.mininteger))
    assert.are.equal('[9007199254740991,{"n":-123456789012345}]', json.encode({ 9007199254740991, { n = -123456789012345 } }))
    assert.are.equal("0.1", json.encode(0.1))
    assert.are.equal("21.5", json.encode(21.5))
    assert.are.equal("0.30000000000000004", json.encode(0.1 + 0.2))
    assert.are.equal("0.3333333333333333", json.encode(1 / 3)) -- the shortest text that round-trips
    for _, x in ipairs({ 1 / 3, 2 / 3, math.pi, 0.1 + 0.2, 1e300, 5e-324, 2 ^ 53 + 2.0, -1 / 7, 1e21 }) do
      local text = json.encode(x)
      assert.are.equal(x, decode_ok(text), text)
      assert.are.equal(x, decode_ok(json.encode({ v = { x } })).v[1], text)
    end
    encode_error(0 / 0)
    encode_error(math.huge)
    encode_error({ x = -math.huge })
  end)

  it("keeps empty arrays as arrays through decode and encode", function()
    assert.are.equal("[]", round_trip("[]"))
    assert.are.equal("[]", round_trip(" [ \n ] "))
    assert.are.equal("{}", round_trip("{}"))
    assert.are.equal('{"tools":[]}', round_trip('{"tools":[]}'))
    local out = round_trip('{"tools":[],"required":[]}')
    assert.is_true(out == '{"tools":[],"required":[]}' or out == '{"required":[],"tools":[]}', out)
    assert.are.equal("[[],{},[[]],[{}],{\"a\":[]}]", round_trip("[[],{},[[]],[{}],{\"a\":[]}]"))
    -- "[]" inside strings and keys is text, not an array, and must not confuse the detection
    local tricky = '{"s":"[]","k[]":[],"e":"\\"[]\\\\","o":{},"t":"x\\\\","a":[ ]}'
    local v = decode_ok(tricky)
    local expected = { s = "[]", ["k[]"] = json.array(), e = '"[]\\', o = {}, t = "x\\", a = json.array() }
    assert.are.equal(canon(expected), canon(v))
    assert.is_true(json.is_array(v["k[]"]))
    assert.is_true(json.is_array(v.a))
    assert.is_false(json.is_array(v.o))
    assert.are.equal(canon(v), canon(decode_ok(json.encode(v))))
    -- a decoded array emptied in place is still an array
    local list = decode_ok('{"items":[1,2]}')
    list.items[2], list.items[1] = nil, nil
    assert.are.equal('{"items":[]}', json.encode(list))
  end)

  it("lets Lua code declare empty arrays and objects", function()
    assert.are.equal("[]", json.encode(json.array({})))
    assert.are.equal("[]", json.encode(json.array()))
    assert.are.equal("{}", json.encode(json.object({})))
    assert.are.equal("{}", json.encode({})) -- unmarked empty tables are objects: result = {}
    assert.are.equal('{"result":{}}', json.encode({ result = {} }))
    local tool = { name = "t", inputSchema = { type = "object", required = json.array() } }
    assert.are.equal('{"required":[]}', json.encode({ required = tool.inputSchema.required }))
    assert.are.equal(canon(tool), canon(decode_ok(json.encode(tool))))
    assert.are.equal('{"inputSchema":{"required":[],"type":"object"},"name":"t"}', canon(tool))
    local t = {}
    assert.are.equal(t, json.array(t))
    assert.is_true(json.is_array(t))
    assert.is_false(json.is_array(json.object({})))
    assert.is_false(json.is_array({}))
    assert.is_true(json.is_array({ 1, 2 }))
    assert.is_false(json.is_array({ 1, x = 2 }))
    assert.is_false(json.is_array("[]"))
    -- json.object forces an object even for list-like keys
    local obj = decode_ok(json.encode(json.object({ "a", "b" })))
    assert.is_false(json.is_array(obj))
    assert.are.equal("a", obj["1"])
    assert.has_error(function() json.array(setmetatable({}, {})) end)
    assert.has_error(function() json.object("x") end)
    -- marking does not change the caller's table beyond the metatable
    local mine = { 1, 2 }
    json.encode({ mine, json.array() })
    assert.are.same({ 1, 2 }, mine)
  end)

  it("maps JSON null to json.null and back", function()
    assert.are.equal(json.null, decode_ok("null"))
    local v = decode_ok('{"a":null,"b":[null,1,null]}')
    assert.are.equal(json.null, v.a)
    assert.are.equal(3, #v.b)
    assert.are.equal(json.null, v.b[3])
    assert.are.equal("null", json.encode(json.null))
    assert.are.equal('{"a":null}', json.encode({ a = json.null }))
    assert.are.equal("[null,1,null]", json.encode(v.b))
  end)

  it("returns nil and a message for invalid JSON instead of throwing", function()
    for _, text in ipairs({ "", "[1,", "{", "[1,]", '{"a":1,}', "NaN", "Infinity", "0x10", "[1] x", "{'a':1}",
      '{"a"}', '"unterminated', '["\\ud800"]' }) do
      local v, err = json.decode(text)
      assert.is_nil(v, text)
      assert.are.equal("string", type(err), text)
      assert.is_true(#err > 0, text)
    end
    encode_error({ f = print })
    encode_error({ [true] = 1 })
  end)

  -- strtod turns 1e400 into inf, which encode refuses: a request id or progress token like that
  -- was taken in and then could not be answered (fuzz finding). Such text is not decodable.
  it("rejects numbers beyond a double instead of decoding them as inf", function()
    for _, text in ipairs({ "1e400", "-1e400", '{"id":1e400}', '[1,[2,-1e999]]', '{"a":{"b":[1e309]}}', "[[], 1e400]" }) do
      local v, err = json.decode(text)
      assert.is_nil(v, text)
      assert.matches("out of range", err, 1, true)
    end
    assert.are.equal(0, json.decode('{"a":1e-400}').a)
    assert.are.equal(1e308, json.decode("[1e308]")[1])
  end)

  it("rejects deep nesting without crashing, in both directions", function()
    local v, err = json.decode(string.rep("[", 100000) .. string.rep("]", 100000))
    assert.is_nil(v)
    assert.matches("nested", err)
    v, err = json.decode(string.rep('{"a":', 5000) .. "1" .. string.rep("}", 5000))
    assert.is_nil(v)
    assert.are.equal("string", type(err))
    -- 1000 levels is the limit, and such a value still re-encodes
    local text = string.rep("[", 1000) .. string.rep("]", 1000)
    assert.are.equal(text, round_trip(text))
    local cycle = {}
    cycle.self = cycle
    encode_error(cycle)
  end)

  it("does not escape forward slashes", function()
    assert.are.equal('"file:///tmp/a.txt"', json.encode("file:///tmp/a.txt"))
    assert.are.equal('{"uri":"https://example.com/a/b"}', json.encode({ uri = "https://example.com/a/b" }))
    assert.are.equal("a/b", decode_ok('"a\\/b"'))
    -- a backslash followed by a slash survives
    assert.are.equal('"a\\\\/b"', json.encode("a\\/b"))
    assert.are.equal("a\\/b", decode_ok(json.encode("a\\/b")))
    -- sparse and dense slashes, with escaped backslashes among them
    local uris = {}
    for i = 1, 50 do
      uris[i] = { uri = "file:///home/u/p/src/" .. i .. ".lua", note = i % 7 == 0 and "a\\/b\\" or "x" }
    end
    local long = { text = string.rep("-", 5000) .. "/" .. string.rep("-", 5000) .. "\\//", uris = uris }
    local out = json.encode(long)
    assert.is_nil(out:find("[^\\]\\/"))
    assert.are.same(long, decode_ok(out))
  end)

  it("keeps its cjson settings private", function()
    local cjson = require "cjson"
    -- defaults of lua-cjson 2.1.0 that this module changes on its own instance
    assert.are.equal(16, cjson.decode("0x10"))
    assert.has_error(function() cjson.encode({ [1] = 1, [1000] = 2 }) end)
    assert.are.equal("1e+14", cjson.encode(100000000000000))
    assert.is_nil(json.decode("0x10"))
  end)

  it("round-trips unicode and escapes", function()
    assert.are.equal("\u{1F600}", decode_ok('"\\ud83d\\ude00"'))
    assert.are.equal("é", decode_ok('"\\u00e9"'))
    local strings = { "é ü 中文 \u{1F600}", "\u{2028}\u{2029}", 'quote " backslash \\ slash /',
      "tab\tnewline\nreturn\rformfeed\fbell\a", "nul\0byte", "\127", "[]{}\"[]", "\0mw1:1\0" }
    for _, s in ipairs(strings) do
      assert.are.equal(s, decode_ok(json.encode(s)))
      assert.are.equal(s, decode_ok(json.encode({ [s] = { s } }))[s][1])
    end
    assert.are.equal('"\\n\\t\\"\\\\"', json.encode('\n\t"\\'))
  end)

  it("encodes a string equal to an internal placeholder verbatim", function()
    -- Fixed values are patched into the output through placeholder strings with a random tag;
    -- make data that collides with the first tag and check the collision is caught.
    math.randomseed(7)
    local r = math.random(0, 0x7fffffff)
    math.randomseed(7)
    local fake = "\0mw" .. r .. ":1\0"
    local out = json.encode({ fake, json.array(), 2 ^ 60 | 0 })
    assert.are.equal('["\\u0000mw' .. r .. ':1\\u0000",[],1152921504606846976]', out)
    math.randomseed(os.time())
  end)

  it("encodes sparse and mixed tables predictably", function()
    -- holes in a list become null
    assert.are.equal("[1,null,3]", json.encode({ 1, nil, 3 }))
    assert.are.equal("[null,null,3]", json.encode({ [3] = 3 }))
    -- integer keys too sparse for a list make a map with string keys, not an error
    local v = decode_ok(json.encode({ [1] = "a", [1000] = "b" }))
    assert.is_false(json.is_array(v))
    assert.are.equal("a", v["1"])
    assert.are.equal("b", v["1000"])
    -- mixed tables are objects
    v = decode_ok(json.encode({ 1, 2, x = 3 }))
    assert.is_false(json.is_array(v))
    assert.are.equal(1, v["1"])
    assert.are.equal(3, v.x)
  end)

  it("round-trips a realistic JSON-RPC exchange", function()
    local request = [[{"jsonrpc":"2.0","id":9007199254740991,"method":"tools/call","params":{"name":"search",
      "arguments":{"query":"lua/cjson","limit":10,"offset":0,"threshold":0.75,"tags":[],"filters":{},
      "ids":[1,2,3],"nested":{"deep":[[],[{}],{"x":null}]}},"_meta":{"progressToken":"tok-1"}}}]]
    local msg = decode_ok(request)
    assert.are.equal("integer", math.type(msg.id))
    assert.are.equal("integer", math.type(msg.params.arguments.limit))
    assert.are.equal("float", math.type(msg.params.arguments.threshold))
    local text = json.encode(msg)
    assert.matches('"id":9007199254740991', text, 1, true)
    assert.matches('"tags":[]', text, 1, true)
    assert.matches('"filters":{}', text, 1, true)
    assert.matches('"query":"lua/cjson"', text, 1, true)
    assert.are.equal(canon(msg), canon(decode_ok(text)))
    local expected = {
      jsonrpc = "2.0",
      id = 9007199254740991,
      method = "tools/call",
      params = {
        name = "search",
        arguments = { query = "lua/cjson", limit = 10, offset = 0, threshold = 0.75, tags = json.array(), filters = {},
          ids = { 1, 2, 3 }, nested = { deep = { json.array(), { {} }, { x = json.null } } } },
        _meta = { progressToken = "tok-1" },
      },
    }
    assert.are.equal(canon(expected), canon(msg))
    -- a response built in Lua
    local response = {
      jsonrpc = "2.0",
      id = msg.id,
      result = { content = { { type = "text", text = "found 0 results for lua/cjson" } }, isError = false,
        structuredContent = { results = json.array(), total = 0 } },
    }
    local back = decode_ok(json.encode(response))
    assert.are.equal(canon(response), canon(back))
    assert.are.equal(9007199254740991, back.id)
    assert.is_true(json.is_array(back.result.structuredContent.results))
  end)
end)
