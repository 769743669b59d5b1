-- Tools that ask the client something mid-call: sampling and the elicitation
-- schemas of SEP-1034 (defaults) and SEP-1330 (enum variants). On 2025
-- revisions the requests go to the client over the response's SSE stream.
local mw = require "moonwire"

-- The text of a CreateMessageResult; its content is one block or a list.
local function sampled_text(res)
  local content = res.content
  if type(content) == "table" and content[1] ~= nil then content = content[1] end
  if type(content) == "table" and content.type == "text" then return content.text end
  return mw.json.encode(content)
end

mw.tool {
  name = "test_sampling", description = "Asks the client's LLM to answer a prompt",
  input_schema = {
    type = "object",
    properties = { prompt = { type = "string", description = "The prompt to send to the LLM" } },
    required = { "prompt" },
  },
  handler = function(args, ctx)
    local res, err = ctx:sample({
      messages = { { role = "user", content = { type = "text", text = args.prompt } } },
      maxTokens = 100,
    }, "sampling")
    if not res then return nil, err end
    return "LLM response: " .. tostring(sampled_text(res))
  end,
}

mw.tool {
  name = "test_elicitation", description = "Asks the user for a username and an email address",
  input_schema = {
    type = "object",
    properties = { message = { type = "string", description = "The message shown to the user" } },
    required = { "message" },
  },
  handler = function(args, ctx)
    local res, err = ctx:elicit({
      message = args.message,
      requestedSchema = {
        type = "object",
        properties = {
          username = { type = "string", description = "User's response" },
          email = { type = "string", description = "User's email address" },
        },
        required = { "username", "email" },
      },
    }, "user_info")
    if not res then return nil, err end
    return ("User response: action=%s, content=%s"):format(res.action, mw.json.encode(res.content or {}))
  end,
}

local function elicitation_summary(res)
  return ("Elicitation completed: action=%s, content=%s"):format(res.action, mw.json.encode(res.content or {}))
end

-- SEP-1034: every primitive type carries a default the client can prefill.
mw.tool {
  name = "test_elicitation_sep1034_defaults", description = "Elicitation whose fields all have default values",
  handler = function(args, ctx)
    local res, err = ctx:elicit({
      message = "Please review and update the form fields with defaults",
      requestedSchema = {
        type = "object",
        properties = {
          name = { type = "string", description = "User name", default = "John Doe" },
          age = { type = "integer", description = "User age", default = 30 },
          score = { type = "number", description = "User score", default = 95.5 },
          status = { type = "string", description = "User status", enum = { "active", "inactive", "pending" },
                     default = "active" },
          verified = { type = "boolean", description = "Verification status", default = true },
        },
      },
    }, "defaults")
    if not res then return nil, err end
    return elicitation_summary(res)
  end,
}

-- SEP-1330: untitled/titled single select, the legacy enumNames form, and
-- untitled/titled multi select.
local function titled(prefix, word)
  local out = {}
  for i, ord in ipairs { "First", "Second", "Third" } do
    out[i] = { const = prefix .. i, title = ord .. " " .. word }
  end
  return out
end

mw.tool {
  name = "test_elicitation_sep1330_enums", description = "Elicitation using every enum schema variant",
  handler = function(args, ctx)
    local res, err = ctx:elicit({
      message = "Please select options from the enum fields",
      requestedSchema = {
        type = "object",
        properties = {
          untitledSingle = { type = "string", description = "Untitled single-select",
                             enum = { "option1", "option2", "option3" } },
          titledSingle = { type = "string", description = "Titled single-select", oneOf = titled("value", "Option") },
          legacyEnum = { type = "string", description = "Legacy titled enum", enum = { "opt1", "opt2", "opt3" },
                         enumNames = { "Option One", "Option Two", "Option Three" } },
          untitledMulti = { type = "array", description = "Untitled multi-select", minItems = 1, maxItems = 3,
                            items = { type = "string", enum = { "option1", "option2", "option3" } } },
          titledMulti = { type = "array", description = "Titled multi-select", minItems = 1, maxItems = 3,
                          items = { anyOf = titled("value", "Choice") } },
        },
      },
    }, "enums")
    if not res then return nil, err end
    return elicitation_summary(res)
  end,
}
