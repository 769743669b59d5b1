local jsonrpc = require "moonwire.jsonrpc"
local json = require "moonwire.json"

describe("jsonrpc.classify", function()
  local function kind(text) return jsonrpc.classify(json.decode(text)) end

  it("tells requests, notifications and responses apart", function()
    assert.equal("request", kind('{"jsonrpc":"2.0","id":1,"method":"ping"}'))
    assert.equal("request", kind('{"jsonrpc":"2.0","id":"a","method":"ping","params":{}}'))
    assert.equal("notification", kind('{"jsonrpc":"2.0","method":"notifications/initialized"}'))
    assert.equal("response", kind('{"jsonrpc":"2.0","id":3,"result":{}}'))
    assert.equal("response", kind('{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"x"}}'))
  end)

  it("rejects invalid messages with -32600", function()
    for _, text in ipairs {
      '{"id":1,"method":"ping"}', '{"jsonrpc":"1.0","id":1,"method":"ping"}',
      '{"jsonrpc":"2.0","id":1,"method":5}', '{"jsonrpc":"2.0","id":{},"method":"ping"}',
      '{"jsonrpc":"2.0","id":1.5,"method":"ping"}', '{"jsonrpc":"2.0","id":1,"method":"x","params":3}',
      '{"jsonrpc":"2.0","id":1}', '[1]', '"str"',
    } do
      local k, err = kind(text)
      assert.is_nil(k, text)
      assert.equal(-32600, err.code, text)
    end
  end)
end)

describe("jsonrpc responses", function()
  it("keeps ids exactly, including large integers", function()
    local msg = json.decode('{"jsonrpc":"2.0","id":9007199254740991,"method":"ping"}')
    local out = json.encode(jsonrpc.result(msg.id, json.object({})))
    assert.truthy(out:find('"id":9007199254740991', 1, true))
    assert.truthy(out:find('"result":{}', 1, true))
  end)

  it("uses null ids for errors about unreadable requests", function()
    local out = json.decode(json.encode(jsonrpc.error(nil, -32700, "Parse error")))
    assert.equal(json.null, out.id)
    assert.equal(-32700, out.error.code)
  end)

  it("maps thrown error tables to their code and hides other errors", function()
    local r = jsonrpc.error_from(1, { code = -32602, message = "bad" })
    assert.equal(-32602, r.error.code)
    assert.equal("bad", r.error.message)
    r = jsonrpc.error_from(1, "secret stack trace")
    assert.equal(-32603, r.error.code)
    assert.equal("Internal error", r.error.message)
  end)
end)

describe("jsonrpc.decode", function()
  it("answers malformed JSON with -32700", function()
    local msgs, err = jsonrpc.decode("{nope")
    assert.is_nil(msgs)
    assert.equal(-32700, err.error.code)
  end)

  it("recognises batches and rejects empty ones", function()
    local msgs, _, batch = jsonrpc.decode('[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","id":1,"method":"b"}]')
    assert.is_true(batch)
    assert.equal(2, #msgs)
    local none, err = jsonrpc.decode("[]")
    assert.is_nil(none)
    assert.equal(-32600, err.error.code)
  end)
end)
