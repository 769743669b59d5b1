-- Multi Round-Trip Requests (SEP-2322, 2026-07-28): tools and a prompt that
-- need client input. The framework re-runs a handler for every round, so all
-- code before the last ask must be deterministic and free of side effects.
local mw = require "moonwire"

local function form(message, properties, required)
  return { message = message,
           requestedSchema = { type = "object", properties = properties, required = required } }
end

local function sampling(text, max_tokens)
  return { messages = { { role = "user", content = { type = "text", text = text } } }, maxTokens = max_tokens }
end

local function sampled_text(res)
  local content = res.content
  if type(content) == "table" and content[1] ~= nil then content = content[1] end
  if type(content) == "table" and content.type == "text" then return content.text end
  return mw.json.encode(content)
end

-- An accepted elicitation's content, or nil and why there is none.
local function accepted(res)
  if type(res) ~= "table" or type(res.action) ~= "string" then return nil, "malformed elicitation response" end
  if res.action ~= "accept" then return nil, "elicitation " .. res.action end
  if type(res.content) ~= "table" then return nil, "elicitation response has no content" end
  return res.content
end

local function root_uris(roots)
  local uris = {}
  for i, r in ipairs(roots or {}) do uris[i] = tostring(r.uri) end
  return table.concat(uris, ", ")
end

local NAME_FORM = form("What is your name?", { name = { type = "string" } }, { "name" })

mw.tool {
  name = "test_input_required_result_elicitation", description = "Asks the user's name, then greets them",
  handler = function(args, ctx)
    local res, err = ctx:elicit(NAME_FORM, "user_name")
    if not res then return nil, err end
    local content, why = accepted(res)
    if not content then return nil, why end
    return ("Hello, %s!"):format(tostring(content.name))
  end,
}

mw.tool {
  name = "test_input_required_result_sampling", description = "Asks the client's LLM for the capital of France",
  handler = function(args, ctx)
    local res, err = ctx:sample(sampling("What is the capital of France?", 100), "capital_question")
    if not res then return nil, err end
    return "LLM answered: " .. tostring(sampled_text(res))
  end,
}

mw.tool {
  name = "test_input_required_result_list_roots", description = "Lists the client's roots",
  handler = function(args, ctx)
    local roots, err = ctx:roots("client_roots")
    if not roots then return nil, err end
    return "Client roots: " .. root_uris(roots)
  end,
}

local CONFIRM_FORM = form("Please confirm", { ok = { type = "boolean" } }, { "ok" })

mw.tool {
  name = "test_input_required_result_request_state", description = "Asks for a confirmation carried with requestState",
  handler = function(args, ctx)
    local res, err = ctx:elicit(CONFIRM_FORM, "confirm")
    if not res then return nil, err end
    local content, why = accepted(res)
    if not content then return nil, why end
    return "state-ok: confirmed=" .. tostring(content.ok)
  end,
}

mw.tool {
  name = "test_input_required_result_multiple_inputs", description = "Asks for elicitation, sampling and roots at once",
  handler = function(args, ctx)
    local got, err = ctx:ask {
      user_name = { method = "elicitation/create", params = NAME_FORM },
      greeting = { method = "sampling/createMessage", params = sampling("Generate a greeting", 50) },
      client_roots = { method = "roots/list", params = mw.json.object() },
    }
    if not got then return nil, err end
    local content, why = accepted(got.user_name)
    if not content then return nil, why end
    local roots = got.client_roots
    if type(roots) == "table" and roots.roots then roots = roots.roots end
    return ("Name: %s; greeting: %s; roots: %s"):format(tostring(content.name), tostring(sampled_text(got.greeting)),
                                                       root_uris(roots))
  end,
}

mw.tool {
  name = "test_input_required_result_multi_round", description = "Asks two questions in two successive rounds",
  handler = function(args, ctx)
    local r1, err = ctx:elicit(form("Step 1: What is your name?", { name = { type = "string" } }, { "name" }), "step1")
    if not r1 then return nil, err end
    local step1, why = accepted(r1)
    if not step1 then return nil, why end
    local r2
    r2, err = ctx:elicit(form("Step 2: What is your favorite color?", { color = { type = "string" } }, { "color" }),
                         "step2")
    if not r2 then return nil, err end
    local step2
    step2, why = accepted(r2)
    if not step2 then return nil, why end
    return ("%s likes %s"):format(tostring(step1.name), tostring(step2.color))
  end,
}

-- The framework signs requestState; a tampered one fails verification before
-- this handler runs again.
mw.tool {
  name = "test_input_required_result_tampered_state", description = "Asks for a confirmation; rejects tampered state",
  handler = function(args, ctx)
    local res, err = ctx:elicit(CONFIRM_FORM, "confirm")
    if not res then return nil, err end
    return "state verified"
  end,
}

-- Only ask for what the client can answer.
mw.tool {
  name = "test_input_required_result_capabilities", description = "Asks through elicitation or, failing that, sampling",
  handler = function(args, ctx)
    local caps = ctx.client_capabilities or {}
    if caps.elicitation then
      local res, err = ctx:elicit(NAME_FORM, "user_name")
      if not res then return nil, err end
      local content, why = accepted(res)
      if not content then return nil, why end
      return ("Hello, %s!"):format(tostring(content.name))
    end
    local res, err = ctx:sample(sampling("What is the capital of France?", 100), "capital_question")
    if not res then return nil, err end
    return "LLM answered: " .. tostring(sampled_text(res))
  end,
}

mw.prompt {
  name = "test_input_required_result_prompt", description = "A prompt that asks the user for context first",
  handler = function(args, ctx)
    local res, err = ctx:elicit(form("What context should the prompt use?", { context = { type = "string" } },
                                     { "context" }), "user_context")
    if not res then return nil, err end
    local content, why = accepted(res)
    if not content then return nil, why end
    return ("Answer using this context: %s"):format(tostring(content.context))
  end,
}
