-- JSON-RPC 2.0 messages: classify what arrived, build what goes out.
-- Errors raised anywhere in the framework as error({ code = -326xx, message = … })
-- become error responses through jsonrpc.error_from().
local json = require "moonwire.json"

local M = {
  PARSE_ERROR = -32700,
  INVALID_REQUEST = -32600,
  METHOD_NOT_FOUND = -32601,
  INVALID_PARAMS = -32602,
  INTERNAL_ERROR = -32603,
}

local null = json.null
local ARRAY_MT = getmetatable(json.array())

-- A JSON-RPC id is a string or an integral number (null only in error
-- responses to requests whose id could not be read).
local function valid_id(id)
  local t = type(id)
  -- `// 1` is floor without a library call: it keeps integers as they are,
  -- so true for them and for integral floats.
  return t == "string" or (t == "number" and id == id // 1)
end
M.valid_id = valid_id

--- Classifies one decoded message: "request", "notification", "response",
--- or nil + an error object for an invalid one.
function M.classify(msg)
  -- json.is_array answers false without a first item or the array metatable: skip the call then.
  if type(msg) ~= "table" or ((msg[1] ~= nil or getmetatable(msg) == ARRAY_MT) and json.is_array(msg)) then
    return nil, { code = M.INVALID_REQUEST, message = "Invalid Request: not an object" }
  end
  if msg.jsonrpc ~= "2.0" then
    return nil, { code = M.INVALID_REQUEST, message = "Invalid Request: jsonrpc must be \"2.0\"" }
  end
  if msg.method ~= nil then
    if type(msg.method) ~= "string" then
      return nil, { code = M.INVALID_REQUEST, message = "Invalid Request: method must be a string" }
    end
    if msg.params ~= nil and type(msg.params) ~= "table" then
      return nil, { code = M.INVALID_REQUEST, message = "Invalid Request: params must be an object or array" }
    end
    if msg.id == nil then return "notification" end
    if not valid_id(msg.id) then
      return nil, { code = M.INVALID_REQUEST, message = "Invalid Request: id must be a string or integer" }
    end
    return "request"
  end
  if msg.id ~= nil and (msg.result ~= nil or msg.error ~= nil) then return "response" end
  return nil, { code = M.INVALID_REQUEST, message = "Invalid Request: neither request nor response" }
end

function M.result(id, result)
  return { jsonrpc = "2.0", id = id, result = result }
end

function M.error(id, code, message, data)
  return { jsonrpc = "2.0", id = id == nil and null or id,
           error = { code = code, message = message, data = data } }
end

function M.request(id, method, params)
  return { jsonrpc = "2.0", id = id, method = method, params = params }
end

function M.notification(method, params)
  return { jsonrpc = "2.0", method = method, params = params }
end

--- Turns a thrown value into an error response for `id`: tables with a
--- numeric `code` keep it; anything else is an internal error (the details
--- belong in the log, not in the reply).
function M.error_from(id, err)
  if type(err) == "table" and math.type(err.code) == "integer" then
    local message = err.message
    if type(message) ~= "string" then message = math.type(message) and tostring(message) or "error" end
    -- Data JSON cannot hold would fail the whole response: it is left out.
    local data = err.data
    if data ~= nil and not pcall(json.encode, data) then data = nil end
    return M.error(id, err.code, message, data)
  end
  return M.error(id, M.INTERNAL_ERROR, "Internal error")
end

--- Decodes a request body: returns a list of messages and whether it was a
--- batch, or nil + a parse-error response.
function M.decode(body)
  local msg, err = json.decode(body)
  if msg == nil then
    return nil, M.error(nil, M.PARSE_ERROR, "Parse error: " .. tostring(err))
  end
  -- As in classify: only a first item or the array metatable can make it a batch.
  if type(msg) == "table" and (msg[1] ~= nil or getmetatable(msg) == ARRAY_MT) and json.is_array(msg) then
    if #msg == 0 then return nil, M.error(nil, M.INVALID_REQUEST, "Invalid Request: empty batch") end
    return msg, nil, true
  end
  return { msg }, nil, false
end

return M
