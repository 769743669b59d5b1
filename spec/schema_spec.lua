-- Tests lua/moonwire/schema.lua: load-time checks of tools' inputSchema and validation of
-- tools/call arguments.
local schema = require "moonwire.schema"
local json = require "moonwire.json"

local function decode(text)
  local v, err = json.decode(text)
  assert.is_nil(err)
  return v
end

-- Asserts that `value` validates against `s`.
local function valid(s, value, label)
  local ok, err = schema.validate(s, value)
  assert.is_nil(err, label)
  assert.is_true(ok, label)
end

-- Asserts that `value` fails against `s` with exactly `message`.
local function invalid(s, value, message, label)
  local ok, err = schema.validate(s, value)
  assert.is_nil(ok, label)
  assert.are.equal(message, err, label)
end

-- Asserts that check() rejects `s` with exactly `message`.
local function rejected(s, message)
  local ok, err = schema.check(s)
  assert.is_nil(ok)
  assert.are.equal(message, err)
end

describe("moonwire.schema", function()
  describe("check()", function()
    it("accepts usable schemas, ignoring unknown keywords", function()
      local s = decode([[{
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:example:tool", "title": "T", "description": "d", "$comment": "c",
        "type": "object", "additionalProperties": false, "x-ui": {"widget": 1},
        "examples": [{"a": 1}], "default": {}, "deprecated": false,
        "$defs": {"pos": {"type": "integer", "minimum": 0, "format": "int32"}},
        "definitions": {"name": {"type": "string", "minLength": 1}},
        "properties": {
          "a": {"$ref": "#/$defs/pos"}, "n": {"$ref": "#/definitions/name"},
          "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}
        },
        "required": ["a"]
      }]])
      local ok, notes = schema.check(s)
      assert.is_true(ok)
      assert.is_nil(notes)
      assert.is_true(schema.check(true))
      assert.is_true(schema.check(false))
      assert.is_true(schema.check({}))
      -- Lua-written schemas: empty tables stand for {} and [] alike
      assert.is_true(schema.check({ type = "object", properties = {}, required = {} }))
    end)

    it("rejects bad schemas with a message naming the keyword's JSON pointer", function()
      rejected({ type = "strnig" },
        '#/type: unknown type "strnig" (expected array, boolean, integer, null, number, object or string)')
      rejected({ properties = { a = { type = { "string", "strnig" } } } },
        '#/properties/a/type/1: unknown type "strnig" (expected array, boolean, integer, null, number, object or string)')
      rejected({ type = { "string", "string" } }, '#/type/1: duplicate type "string"')
      rejected({ type = 5 }, "#/type: expected a type name or a non-empty array of type names")
      rejected({ required = "a" }, "#/required: expected an array of strings")
      rejected({ required = { "a", 2 } }, "#/required/1: expected a string, got number")
      rejected({ ["$ref"] = "#/$defs/Missing", ["$defs"] = { Other = {} } },
        '#/$ref: cannot resolve "#/$defs/Missing": no such definition in this schema')
      rejected({ properties = { p = { ["$ref"] = "#/definitions/Nope" } } },
        '#/properties/p/$ref: cannot resolve "#/definitions/Nope": no such definition in this schema')
      rejected({ ["$ref"] = "https://example.com/s.json" },
        '#/$ref: cannot resolve "https://example.com/s.json": only local references (#, #/$defs/...) are supported')
      rejected({ ["$ref"] = 5 }, "#/$ref: expected a string, got number")
      rejected({ properties = { "a", "b" } }, "#/properties: expected an object of schemas")
      rejected({ properties = { a = "string" } }, "#/properties/a: expected a schema (an object or a boolean), got string")
      rejected({ items = 3 }, "#/items: expected a schema (an object or a boolean), got number")
      rejected({ minimum = "1" }, "#/minimum: expected a number, got string")
      rejected({ exclusiveMinimum = true, minimum = 0 },
        "#/exclusiveMinimum: expected a number (the draft-04 boolean form is not supported)")
      rejected({ multipleOf = 0 }, "#/multipleOf: expected a number greater than 0")
      rejected({ minLength = -1 }, "#/minLength: expected a non-negative integer")
      rejected({ maxItems = 1.5 }, "#/maxItems: expected a non-negative integer")
      rejected({ uniqueItems = "yes" }, "#/uniqueItems: expected a boolean")
      rejected({ enum = "a" }, "#/enum: expected an array")
      rejected({ anyOf = {} }, "#/anyOf: expected a non-empty array of schemas")
      rejected({ allOf = { { type = "nope" } } },
        '#/allOf/0/type: unknown type "nope" (expected array, boolean, integer, null, number, object or string)')
      rejected({ properties = { id = { pattern = "([a-z]+" } } },
        '#/properties/id/pattern: invalid regular expression "([a-z]+": missing )')
      rejected({ patternProperties = { ["*x"] = {} } },
        '#/patternProperties/*x: invalid regular expression "*x": nothing to repeat')
      rejected({ pattern = 5 }, "#/pattern: expected a string, got number")
      rejected({ format = 1 }, "#/format: expected a string, got number")
      rejected({ unevaluatedProperties = false },
        "#/unevaluatedProperties: unevaluatedProperties is not supported; use additionalProperties")
      rejected({ ["$defs"] = { a = { ["$dynamicRef"] = "#x" } } }, "#/$defs/a/$dynamicRef: $dynamicRef is not supported")
      rejected("object", "#: expected a schema (an object or a boolean), got string")
      rejected({ { type = "string" } }, "#: expected a schema (an object or a boolean), got array")
      -- unused definitions are checked too, and pointer segments are escaped
      rejected({ ["$defs"] = { ["a/b"] = { type = "nil" } } },
        '#/$defs/a~1b/type: unknown type "nil" (expected array, boolean, integer, null, number, object or string)')
    end)

    it("rejects $ref cycles that never descend into the value", function()
      rejected({ ["$ref"] = "#" }, "#/$ref: reference cycle that never descends into the value")
      rejected({ ["$defs"] = { A = { allOf = { { ["$ref"] = "#/$defs/A" } } } }, ["$ref"] = "#/$defs/A" },
        "#/$defs/A/allOf/0/$ref: reference cycle that never descends into the value")
      rejected({ ["$defs"] = { A = { anyOf = { { ["$ref"] = "#/$defs/B" } } }, B = { ["not"] = { ["$ref"] = "#/$defs/A" } } } },
        "#/$defs/B/not/$ref: reference cycle that never descends into the value")
      -- a cycle through properties or items descends, so it terminates
      assert.is_true(schema.check({ properties = { next = { ["$ref"] = "#" } } }))
    end)

    it("notes regular expressions it will not enforce", function()
      local ok, notes = schema.check({ properties = { x = { pattern = "^(?!admin)" } } })
      assert.is_true(ok)
      assert.are.same({ '#/properties/x/pattern: regular expression "^(?!admin)" not enforced (lookaround assertion is not supported)' }, notes)
    end)
  end)

  describe("type", function()
    it("tells integers from numbers: 1 and 1.0 are integers, 1.5 is not", function()
      local int, num = { type = "integer" }, { type = "number" }
      valid(int, 1)
      valid(int, 1.0)
      valid(int, -0.0)
      valid(int, decode("1.0"))
      valid(int, 2 ^ 60)
      invalid(int, 1.5, "$: expected integer, got number")
      invalid(int, math.huge, "$: expected integer, got number")
      invalid(int, "1", "$: expected integer, got string")
      valid(num, 1)
      valid(num, 1.0)
      valid(num, 1.5)
      invalid(num, "1.5", "$: expected number, got string")
      invalid(num, true, "$: expected number, got boolean")
    end)

    it("checks string, boolean, null, and lists of types", function()
      valid({ type = "string" }, "")
      invalid({ type = "string" }, 5, "$: expected string, got number")
      valid({ type = "boolean" }, false)
      invalid({ type = "boolean" }, json.null, "$: expected boolean, got null")
      valid({ type = "null" }, json.null)
      invalid({ type = "null" }, false, "$: expected null, got boolean")
      invalid({ type = "null" }, nil, "$: expected null, got nothing")
      local s = { type = { "string", "null" } }
      valid(s, "x")
      valid(s, json.null)
      invalid(s, 1, "$: expected string or null, got number")
      invalid({ type = { "integer", "boolean" } }, 0.5, "$: expected integer or boolean, got number")
      invalid({ type = "object" }, print, "$: expected object, got function")
    end)

    it("checks the type of an object with properties and required like any other", function()
      -- type "object" plus object keywords only is validated by one fused validator
      local s = { type = "object", properties = { text = { type = "string" } }, required = { "text" } }
      valid(s, { text = "hi" })
      valid(s, { text = "hi", other = 1, 1 })
      invalid(s, { 1, 2 }, "$: expected object, got array")
      invalid(s, json.array(), "$: expected object, got array")
      invalid(s, "x", "$: expected object, got string")
      invalid(s, json.null, "$: expected object, got null")
      invalid(s, {}, "$: missing required property 'text'")
      invalid(s, { text = 1 }, "$.text: expected string, got number")
      -- with another check between them the type check stays first and separate
      local e = { type = "object", required = { "a" }, enum = { { a = 1 } } }
      invalid(e, { 1 }, "$: expected object, got array")
      invalid(e, { a = 2 }, '$: expected one of [{"a":1}]')
    end)

    it("tells arrays from objects, and lets an unmarked empty table be either", function()
      local arr, obj = { type = "array" }, { type = "object" }
      valid(arr, { 1, 2 })
      valid(arr, decode("[]"))
      valid(arr, json.array())
      invalid(arr, { a = 1 }, "$: expected array, got object")
      invalid(arr, json.object(), "$: expected array, got object")
      invalid(arr, decode('{"a":[]}'), "$: expected array, got object")
      valid(obj, { a = 1 })
      valid(obj, json.object())
      valid(obj, { 1, x = 2 }) -- mixed tables encode as objects
      invalid(obj, { 1, 2 }, "$: expected object, got array")
      invalid(obj, decode("[]"), "$: expected object, got array")
      invalid(obj, json.array(), "$: expected object, got array")
      -- {} could be either; json.decode gives [] the array mark, so decoded {} is an object
      valid(arr, {})
      valid(obj, {})
      valid(obj, decode("{}"))
      -- and the keywords of both apply to it
      invalid({ type = "array", minItems = 1 }, {}, "$: expected at least 1 item, got 0")
      invalid({ type = "object", required = { "a" } }, {}, "$: missing required property 'a'")
      valid({ type = "object", properties = { a = { type = "string" } }, additionalProperties = false }, {})
    end)
  end)

  describe("objects", function()
    local person = {
      type = "object",
      properties = { name = { type = "string" }, age = { type = "integer", minimum = 0 } },
      required = { "name" },
    }

    it("checks properties and required, telling null from missing", function()
      valid(person, { name = "Ada", age = 36 })
      valid(person, { name = "Ada" })
      valid(person, { name = "Ada", extra = true })
      invalid(person, { age = 36 }, "$: missing required property 'name'")
      invalid(person, { name = "Ada", age = "36" }, "$.age: expected integer, got string")
      invalid(person, { name = "Ada", age = -1 }, "$.age: expected a number >= 0, got -1")
      -- null is a value: it satisfies required and is then checked against the property's type
      invalid(person, { name = json.null }, "$.name: expected string, got null")
      valid({ required = { "x" } }, { x = json.null })
      invalid({ required = { "x" } }, { y = 1 }, "$: missing required property 'x'")
      -- object keywords ignore non-objects
      valid({ required = { "x" }, properties = { x = { type = "string" } } }, { 1, 2 })
      valid({ required = { "x" } }, "text")
    end)

    it("checks additionalProperties as a boolean or a schema", function()
      local closed = { type = "object", properties = { a = { type = "number" } }, additionalProperties = false }
      valid(closed, { a = 1 })
      invalid(closed, { a = 1, b = 2 }, "$: property 'b' is not allowed")
      local typed = { properties = { a = true }, additionalProperties = { type = "string" } }
      valid(typed, { a = 1, b = "x" })
      invalid(typed, { a = 1, b = 2 }, "$.b: expected string, got number")
      valid({ additionalProperties = true }, { anything = 1 })
    end)

    it("checks patternProperties, exempting matching names from additionalProperties", function()
      local s = {
        patternProperties = { ["^x-"] = { type = "string" }, ["^n_\\d+$"] = { type = "number" } },
        additionalProperties = false,
      }
      valid(s, { ["x-a"] = "1", n_12 = 3 })
      invalid(s, { ["x-a"] = 1 }, '$["x-a"]: expected string, got number')
      invalid(s, { n_12 = "3" }, "$.n_12: expected number, got string")
      invalid(s, { n_x = 3 }, "$: property 'n_x' is not allowed")
      -- both properties and matching patternProperties apply to a name
      local both = { properties = { ["x-id"] = { type = "string" } }, patternProperties = { ["^x-"] = { minLength = 3 } } }
      valid(both, { ["x-id"] = "abc" })
      invalid(both, { ["x-id"] = "ab" }, '$["x-id"]: expected at least 3 characters, got 2')
    end)

    it("does not enforce additionalProperties beside an unsupported patternProperties regex", function()
      local s = { patternProperties = { ["^(?!_)"] = { type = "string" } }, additionalProperties = false }
      local ok, notes = schema.check(s)
      assert.is_true(ok)
      assert.are.equal(1, #notes)
      valid(s, { a = 1, _b = 2 })
    end)

    it("checks propertyNames, minProperties, maxProperties", function()
      local s = { propertyNames = { pattern = "^[a-z]+$", maxLength = 5 } }
      valid(s, { abc = 1 })
      invalid(s, { Abc = 1 }, "$: invalid property name 'Abc': does not match pattern \"^[a-z]+$\"")
      invalid(s, { abcdef = 1 }, "$: invalid property name 'abcdef': expected at most 5 characters, got 6")
      valid({ minProperties = 1, maxProperties = 2 }, { a = 1 })
      invalid({ minProperties = 1 }, {}, "$: expected at least 1 property, got 0")
      invalid({ maxProperties = 2 }, { a = 1, b = 2, c = 3 }, "$: expected at most 2 properties, got 3")
    end)

    it("checks dependentRequired, dependentSchemas and draft-07 dependencies", function()
      local s = { dependentRequired = { card = { "billing" } } }
      valid(s, { card = 1, billing = 2 })
      valid(s, { other = 1 })
      invalid(s, { card = 1 }, "$: property 'billing' is required when 'card' is present")
      local ds = { dependentSchemas = { card = { properties = { billing = { type = "string" } } } } }
      valid(ds, { card = 1, billing = "x" })
      valid(ds, { billing = 1 })
      invalid(ds, { card = 1, billing = 1 }, "$.billing: expected string, got number")
      local d7 = { dependencies = { a = { "b" }, c = { required = { "d" } } } }
      valid(d7, { a = 1, b = 1, c = 1, d = 1 })
      invalid(d7, { a = 1 }, "$: property 'b' is required when 'a' is present")
      invalid(d7, { c = 1 }, "$: missing required property 'd'")
    end)
  end)

  describe("arrays", function()
    it("checks items, minItems, maxItems with 0-based indexes in paths", function()
      local s = { type = "array", items = { type = "string" }, minItems = 1, maxItems = 3 }
      valid(s, { "a", "b" })
      invalid(s, { "a", "b", 3 }, "$[2]: expected string, got number")
      invalid(s, json.array(), "$: expected at least 1 item, got 0")
      invalid(s, { "a", "b", "c", "d" }, "$: expected at most 3 items, got 4")
      -- array keywords ignore non-arrays
      valid({ items = { type = "string" }, minItems = 2 }, { a = 1 })
    end)

    it("checks prefixItems with items as the rest, and the draft-07 tuple form", function()
      local s = { prefixItems = { { type = "number" }, { type = "string" } }, items = { type = "boolean" } }
      valid(s, { 1, "a", true, false })
      valid(s, { 1 })
      invalid(s, { "1" }, "$[0]: expected number, got string")
      invalid(s, { 1, "a", 0 }, "$[2]: expected boolean, got number")
      local closed = { prefixItems = { { type = "number" } }, items = false }
      valid(closed, { 1 })
      invalid(closed, { 1, 2 }, "$: expected at most 1 item, got 2")
      local d7 = { items = { { type = "number" }, { type = "string" } }, additionalItems = false }
      valid(d7, { 1, "a" })
      invalid(d7, { 1, 2 }, "$[1]: expected string, got number")
      invalid(d7, { 1, "a", "b" }, "$: expected at most 2 items, got 3")
      local open = { items = { { type = "number" } } } -- no additionalItems: the rest is free
      valid(open, { 1, "a", {} })
    end)

    it("checks uniqueItems with JSON equality", function()
      local s = { uniqueItems = true }
      valid(s, { 1, "1", true, json.null })
      invalid(s, { 1, 2, 1.0 }, "$: items 0 and 2 are equal, expected unique items")
      invalid(s, { "a", "b", "a" }, "$: items 0 and 2 are equal, expected unique items")
      invalid(s, { { a = 1 }, { a = 1 } }, "$: items 0 and 1 are equal, expected unique items")
      valid(s, { { a = 1 }, { a = 2 }, { 1 } })
      -- long arrays take the hashed path
      local long = {}
      for i = 1, 40 do
        long[i] = "v" .. i
      end
      valid(s, long)
      long[40] = "v7"
      invalid(s, long, "$: items 6 and 39 are equal, expected unique items")
      valid({ uniqueItems = false }, { 1, 1 })
    end)

    it("checks contains, minContains, maxContains", function()
      local s = { contains = { type = "string" } }
      valid(s, { 1, "a" })
      invalid(s, { 1, 2 }, "$: expected at least 1 item matching 'contains', got 0")
      local range = { contains = { type = "string" }, minContains = 2, maxContains = 3 }
      valid(range, { "a", 1, "b" })
      invalid(range, { "a", 1 }, "$: expected at least 2 items matching 'contains', got 1")
      invalid(range, { "a", "b", "c", "d" }, "$: expected at most 3 items matching 'contains', got 4")
      valid({ contains = { type = "string" }, minContains = 0 }, { 1 })
    end)
  end)

  describe("strings", function()
    it("counts minLength and maxLength in code points", function()
      local s = { minLength = 2, maxLength = 5 }
      valid(s, "ab")
      valid(s, "héllo") -- 5 code points, 6 bytes
      valid(s, "日本") -- 2 code points, 6 bytes
      invalid(s, "a", "$: expected at least 2 characters, got 1")
      invalid(s, "é", "$: expected at least 2 characters, got 1")
      invalid(s, "héllo!", "$: expected at most 5 characters, got 6")
      valid(s, 12345678) -- string keywords ignore non-strings
    end)

    it("checks pattern as an unanchored ECMA-262 regex", function()
      local cases = {
        -- pattern, string, matches
        { "^[a-z0-9_-]+$", "abc-12_x", true },
        { "^[a-z0-9_-]+$", "abc 12", false },
        { "^[a-z0-9_-]+$", "abcé", false }, -- non-ASCII input runs on the NFA
        { "^\\d{4}-\\d{2}-\\d{2}$", "2024-01-31", true },
        { "^\\d{4}-\\d{2}-\\d{2}$", "2024-1-31", false },
        { "^https?://", "https://example.com", true },
        { "^https?://", "ftp://example.com", false },
        { "^(foo|bar)$", "bar", true },
        { "^(foo|bar)$", "foobar", false },
        { "cat|dog", "hotdog", true },
        { "^[A-Z]{2,3}$", "ABC", true },
        { "^[A-Z]{2,3}$", "ABCD", false },
        { "^.{1,3}$", "héé", true }, -- "." is one code point, not one byte
        { "^.{1,3}$", "héé!", false },
        { "^é{2}$", "éé", true },
        { "^[à-ü]+$", "éü", true },
        { "^[^abc]+$", "xyz", true },
        { "^[^abc]+$", "xaz", false },
        { "\\bcat\\b", "a cat sat", true },
        { "\\bcat\\b", "concat", false },
        { "^\\s*$", " \t\n", true },
        { "^[\\w.+-]+@[\\w-]+\\.[\\w.]+$", "a.b+c@ex-ample.co.uk", true },
        { "^[\\w.+-]+@[\\w-]+\\.[\\w.]+$", "a@b", false },
        { "^-?\\d+(\\.\\d+)?$", "-12.50", true },
        { "^-?\\d+(\\.\\d+)?$", "12.", false },
        { "^(?:ab)+$", "ababab", true },
        { "^(?<word>ab)c$", "abc", true },
        { "^\\u00e9\\x41\\/$", "éA/", true },
        { "^(a+)+$", string.rep("a", 3000) .. "!", false }, -- linear time, no catastrophic backtracking
        { "a*b", string.rep("a", 5000) .. "b", true },
        { "", "anything", true },
      }
      for _, c in ipairs(cases) do
        local s = { type = "string", pattern = c[1] }
        local label = c[1] .. " on " .. c[2]:sub(1, 20)
        if c[3] then
          valid(s, c[2], label)
        else
          invalid(s, c[2], "$: does not match pattern " .. json.encode(c[1]), label)
        end
      end
    end)

    it("skips regexes outside the supported subset instead of rejecting input", function()
      for _, p in ipairs({ "^(?!admin)", "(?<=x)y", "^(a)\\1$", "^\\p{L}+$", "\\d{5000}" }) do
        local s = { pattern = p }
        assert.is_true(schema.check(s), p)
        valid(s, "admin", p)
      end
    end)

    it("ignores format", function()
      valid({ type = "string", format = "email" }, "not an email")
      valid({ type = "string", format = "no-such-format" }, "x")
    end)
  end)

  describe("numbers", function()
    it("checks minimum, maximum and the exclusive forms", function()
      local s = { minimum = 1, maximum = 10 }
      valid(s, 1)
      valid(s, 10.0)
      invalid(s, 0.5, "$: expected a number >= 1, got 0.5")
      invalid(s, 11, "$: expected a number <= 10, got 11")
      local x = { exclusiveMinimum = 0, exclusiveMaximum = 1 }
      valid(x, 0.5)
      invalid(x, 0, "$: expected a number > 0, got 0")
      invalid(x, 1.0, "$: expected a number < 1, got 1.0")
      valid(s, "100") -- number keywords ignore non-numbers
    end)

    it("checks multipleOf exactly for integers and with rounding slack for decimals", function()
      valid({ multipleOf = 3 }, 9)
      valid({ multipleOf = 3 }, 9.0)
      invalid({ multipleOf = 3 }, 10, "$: expected a multiple of 3, got 10")
      valid({ multipleOf = 0.1 }, 0.3) -- 0.3 / 0.1 is 2.9999999999999996 in binary
      valid({ multipleOf = 0.01 }, 19.99)
      invalid({ multipleOf = 0.1 }, 0.35, "$: expected a multiple of 0.1, got 0.35")
      valid({ multipleOf = 0.5 }, 2)
      invalid({ multipleOf = 0.5 }, 2.25, "$: expected a multiple of 0.5, got 2.25")
    end)
  end)

  describe("enum and const", function()
    it("compares with JSON equality", function()
      local s = { enum = { "red", 1, json.null, false, { 1, 2 }, { k = "v" } } }
      valid(s, "red")
      valid(s, 1.0)
      valid(s, json.null)
      valid(s, false)
      valid(s, { 1, 2 })
      valid(s, decode('{"k":"v"}'))
      invalid(s, "blue", '$: expected one of ["red",1,null,false,[1,2],{"k":"v"}]')
      invalid(s, "1", '$: expected one of ["red",1,null,false,[1,2],{"k":"v"}]')
      invalid(s, { 2, 1 }, '$: expected one of ["red",1,null,false,[1,2],{"k":"v"}]')
      invalid(s, true, '$: expected one of ["red",1,null,false,[1,2],{"k":"v"}]')
      invalid({ enum = { "a" } }, nil, '$: expected one of ["a"]')
    end)

    it("checks const, including null and structured values", function()
      valid({ const = 5 }, 5.0)
      invalid({ const = 5 }, 6, "$: expected constant 5")
      valid({ const = json.null }, json.null)
      invalid({ const = json.null }, false, "$: expected constant null")
      valid({ const = { a = { 1, 2 } } }, decode('{"a":[1,2]}'))
      invalid({ const = { a = { 1, 2 } } }, decode('{"a":[1,2,3]}'), '$: expected constant {"a":[1,2]}')
      invalid({ const = json.array() }, { a = 1 }, "$: expected constant []")
      valid({ const = false }, false)
      invalid({ const = false }, json.null, "$: expected constant false")
    end)
  end)

  describe("combinators", function()
    it("checks allOf", function()
      local s = { allOf = { { type = "string" }, { minLength = 2 } } }
      valid(s, "ab")
      invalid(s, 1, "$: expected string, got number")
      invalid(s, "a", "$: expected at least 2 characters, got 1")
    end)

    it("checks anyOf and reports every alternative's failure", function()
      local s = { anyOf = { { type = "string" }, { type = "object", required = { "k" } } } }
      valid(s, "x")
      valid(s, { k = 1 })
      invalid(s, { a = 1 },
        "$: does not match any schema in anyOf (0: $: expected string, got object; 1: $: missing required property 'k')")
      local nested = { properties = { v = { anyOf = { { type = "number" }, { properties = { n = { type = "number" } } } } } } }
      invalid(nested, { v = { n = "x" } },
        "$.v: does not match any schema in anyOf (0: $.v: expected number, got object; 1: $.v.n: expected number, got string)")
    end)

    it("checks oneOf: exactly one alternative", function()
      local s = { oneOf = { { type = "integer" }, { type = "number", minimum = 10 } } }
      valid(s, 1)
      valid(s, 10.5)
      invalid(s, 12, "$: matches more than one schema in oneOf (0 and 1)")
      invalid(s, 1.5,
        "$: does not match any schema in oneOf (0: $: expected integer, got number; 1: $: expected a number >= 10, got 1.5)")
    end)

    it("checks not", function()
      local s = { ["not"] = { type = "string" } }
      valid(s, 1)
      invalid(s, "x", "$: must not match the schema in 'not'")
    end)

    it("checks if/then/else", function()
      local s = {
        type = "object",
        ["if"] = { properties = { kind = { const = "file" } }, required = { "kind" } },
        ["then"] = { required = { "path" } },
        ["else"] = { required = { "url" } },
      }
      valid(s, { kind = "file", path = "/x" })
      valid(s, { kind = "web", url = "http://x" })
      invalid(s, { kind = "file", url = "http://x" }, "$: missing required property 'path'")
      invalid(s, { kind = "web", path = "/x" }, "$: missing required property 'url'")
      valid({ ["then"] = false }, 1) -- then without if does nothing
    end)
  end)

  describe("$ref", function()
    it("resolves #/$defs, #/definitions and # with sibling keywords applied", function()
      local s = {
        ["$defs"] = { id = { type = "string", pattern = "^[a-z]+$" } },
        definitions = { count = { type = "integer", minimum = 0 } },
        type = "object",
        properties = {
          id = { ["$ref"] = "#/$defs/id", maxLength = 3 },
          n = { ["$ref"] = "#/definitions/count" },
          self = { ["$ref"] = "#" },
        },
      }
      valid(s, { id = "abc", n = 2, self = { id = "x" } })
      invalid(s, { id = "ABC" }, '$.id: does not match pattern "^[a-z]+$"')
      invalid(s, { id = "abcd" }, "$.id: expected at most 3 characters, got 4")
      invalid(s, { n = -1 }, "$.n: expected a number >= 0, got -1")
      invalid(s, { self = { self = { n = 1.5 } } }, "$.self.self.n: expected integer, got number")
      invalid(s, { self = "x" }, "$.self: expected object, got string")
      -- JSON pointer escapes and percent-encoding in the reference
      local esc = { ["$defs"] = { ["a/b"] = { type = "string" }, ["c d"] = { type = "number" } },
        properties = { x = { ["$ref"] = "#/$defs/a~1b" }, y = { ["$ref"] = "#/$defs/c%20d" } } }
      valid(esc, { x = "s", y = 1 })
      invalid(esc, { x = 1 }, "$.x: expected string, got number")
      invalid(esc, { y = "1" }, "$.y: expected number, got string")
    end)

    it("validates a recursive tree schema against decoded JSON", function()
      local tree = decode([[{
        "$defs": {
          "node": {
            "type": "object",
            "properties": {
              "value": {"type": "number"},
              "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}
            },
            "required": ["value"],
            "additionalProperties": false
          }
        },
        "$ref": "#/$defs/node"
      }]])
      assert.is_true(schema.check(tree))
      valid(tree, decode('{"value":1,"children":[{"value":2,"children":[]},{"value":3}]}'))
      invalid(tree, decode('{"value":1,"children":[{"value":2},{"value":3,"children":[{"value":"x"}]}]}'),
        "$.children[1].children[0].value: expected number, got string")
      invalid(tree, decode('{"value":1,"children":[{"children":[]}]}'), "$.children[0]: missing required property 'value'")
      invalid(tree, decode('{"value":1,"children":[{"value":2,"kids":[]}]}'), "$.children[0]: property 'kids' is not allowed")
      -- deep but finite input is fine
      local deep = { value = 0 }
      for i = 1, 300 do
        deep = { value = i, children = { deep } }
      end
      valid(tree, deep)
    end)

    it("stops on a cyclic Lua value instead of recursing forever", function()
      local tree = { properties = { next = { ["$ref"] = "#" } }, required = { "v" } }
      local loop = { v = 1 }
      loop.next = loop
      local ok, err = schema.validate(tree, loop)
      assert.is_nil(ok)
      assert.matches(": nesting deeper than 1000 %$ref levels$", err)
      assert.matches("^%$%.next%.next.-%.%.%.%(%d+ more%)%.%.%.%.next.-: ", err) -- shortened
      assert.is_true(#err < 400)
      -- and the guard does not leak into the next call
      valid(tree, { v = 1, next = { v = 2 } })
    end)

    it("handles a schema table that contains itself", function()
      local s = { type = "object", properties = {} }
      s.properties.child = s
      assert.is_true(schema.check(s))
      valid(s, { child = { child = {} } })
      invalid(s, { child = { child = 1 } }, "$.child.child: expected object, got number")
    end)
  end)

  describe("boolean schemas", function()
    it("accepts everything with true and nothing with false", function()
      valid(true, { anything = 1 })
      invalid(false, 1, "$: not allowed (schema is false)")
      local s = { properties = { a = true, b = false } }
      valid(s, { a = 1 })
      invalid(s, { b = 1 }, "$.b: not allowed (schema is false)")
      valid({ items = true }, { 1, "x" })
      valid({ ["not"] = false }, 1)
      invalid({ ["not"] = true }, 1, "$: must not match the schema in 'not'")
    end)
  end)

  describe("messages", function()
    it("name nested paths, quoting names that are not identifiers", function()
      local s = {
        properties = {
          a = { properties = { b = { items = { properties = { c = { type = "string" } } } } } },
          ["odd key"] = { type = "number" },
          ["1"] = { type = "number" },
        },
      }
      invalid(s, { a = { b = { { c = "x" }, { c = 2 } } } }, "$.a.b[1].c: expected string, got number")
      invalid(s, { ["odd key"] = "x" }, '$["odd key"]: expected number, got string')
      invalid(s, { ["1"] = "x" }, '$["1"]: expected number, got string')
    end)
  end)

  describe("MCP tool schemas", function()
    local add = { type = "object", properties = { a = { type = "number" }, b = { type = "number" } }, required = { "a", "b" } }

    it("validates the everything server's add tool against decoded arguments", function()
      assert.is_true(schema.check(add))
      valid(add, decode('{"a": 1, "b": 2}'))
      valid(add, decode('{"a": 1.5, "b": -2e3}'))
      invalid(add, decode('{"a": 1, "b": "2"}'), "$.b: expected number, got string")
      invalid(add, decode('{"b": 2}'), "$: missing required property 'a'")
      invalid(add, decode('{"a": null, "b": 2}'), "$.a: expected number, got null")
      invalid(add, decode("[1, 2]"), "$: expected object, got array")
      invalid(add, decode("{}"), "$: missing required property 'a'")
    end)

    it("validates a schema decoded from a tools/list entry", function()
      local tool = decode([[{
        "name": "search",
        "inputSchema": {
          "$schema": "http://json-schema.org/draft-07/schema#",
          "type": "object",
          "properties": {
            "query": {"type": "string", "minLength": 1, "description": "what to look for"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
            "mode": {"type": "string", "enum": ["fast", "full"]},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}
          },
          "required": ["query"],
          "additionalProperties": false
        }
      }]])
      local s = tool.inputSchema
      assert.is_true(schema.check(s))
      valid(s, decode('{"query": "moon", "limit": 5, "mode": "fast", "tags": ["a", "b"]}'))
      valid(s, decode('{"query": "moon", "limit": 5.0, "tags": []}'))
      invalid(s, decode('{"query": ""}'), "$.query: expected at least 1 character, got 0")
      invalid(s, decode('{"query": "m", "limit": 2.5}'), "$.limit: expected integer, got number")
      invalid(s, decode('{"query": "m", "mode": "slow"}'), '$.mode: expected one of ["fast","full"]')
      invalid(s, decode('{"query": "m", "tags": ["a", 2]}'), "$.tags[1]: expected string, got number")
      invalid(s, decode('{"query": "m", "tags": ["a", "a"]}'), "$.tags: items 0 and 1 are equal, expected unique items")
      invalid(s, decode('{"query": "m", "page": 2}'), "$: property 'page' is not allowed")
    end)
  end)

  describe("compiled forms", function()
    it("are built once per schema table, so later changes to the table are not seen", function()
      local s = { type = "object", properties = { a = { type = "number" } } }
      valid(s, { a = 1 })
      s.properties.a.type = "string"
      valid(s, { a = 1 })
      invalid(s, { a = "1" }, "$.a: expected number, got string")
    end)

    it("raise schema_invalid when validate() is given a schema check() would reject", function()
      local ok, err = pcall(schema.validate, { type = "strnig" }, 1)
      assert.is_false(ok)
      assert.are.equal("schema_invalid", err.code)
      assert.matches('^invalid schema: #/type: unknown type "strnig"', err.message)
    end)
  end)
end)
