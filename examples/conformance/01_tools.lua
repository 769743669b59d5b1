-- Tools of the conformance "everything server": content types, errors,
-- logging, progress, schema pass-through, SSE resumption, and the 2026-07-28
-- diagnostic tools. Loaded first so that test_simple_text heads tools/list.
local mw = require "moonwire"

-- Fixture data from the reference server: a 1x1 red PNG and a tiny WAV.
local PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
local WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

-- http-header-validation calls tools[0] with no arguments, so this one must
-- stay first and argument-free.
mw.tool {
  name = "test_simple_text", description = "Returns a simple text response",
  handler = function(args, ctx) return "This is a simple text response for testing." end,
}

mw.tool {
  name = "test_image_content", description = "Returns a PNG image",
  handler = function(args, ctx) return { mw.image(PNG, "image/png") } end,
}

mw.tool {
  name = "test_audio_content", description = "Returns a WAV audio clip",
  handler = function(args, ctx) return { mw.audio(WAV, "audio/wav") } end,
}

mw.tool {
  name = "test_embedded_resource", description = "Returns an embedded text resource",
  handler = function(args, ctx)
    return { mw.embedded { uri = "test://embedded-resource", mime_type = "text/plain",
                           text = "This is an embedded resource content." } }
  end,
}

mw.tool {
  name = "test_multiple_content_types", description = "Returns text, an image and an embedded resource",
  handler = function(args, ctx)
    return {
      mw.text("Multiple content types test:"),
      mw.image(PNG, "image/png"),
      mw.embedded { uri = "test://mixed-content-resource", mime_type = "application/json",
                    text = '{"test":"data","value":123}' },
    }
  end,
}

mw.tool {
  name = "test_tool_with_logging", description = "Sends three info log messages while it runs",
  handler = function(args, ctx)
    ctx:log("info", "Tool execution started", "conformance")
    ctx:sleep(0.05)
    ctx:log("info", "Tool processing data", "conformance")
    ctx:sleep(0.05)
    ctx:log("info", "Tool execution completed", "conformance")
    return "Logging test completed: sent 3 log messages."
  end,
}

mw.tool {
  name = "test_error_handling", description = "Always fails with a tool execution error",
  handler = function(args, ctx) return nil, "This tool intentionally returns an error for testing" end,
}

mw.tool {
  name = "test_tool_with_progress", description = "Reports progress 0, 50 and 100 out of 100",
  handler = function(args, ctx)
    for i, p in ipairs { 0, 50, 100 } do
      if i > 1 and not ctx:sleep(0.05) then return nil, "cancelled" end
      ctx:progress(p, 100, ("%d%% done"):format(p))
    end
    return "Progress test completed."
  end,
}

-- Must reach the client exactly as written: the suite looks for $schema,
-- $defs, $anchor, allOf/anyOf, if/then/else and additionalProperties.
mw.tool {
  name = "json_schema_2020_12_tool", description = "Tool with JSON Schema 2020-12 features",
  input_schema = {
    ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
    type = "object",
    ["$defs"] = {
      address = {
        ["$anchor"] = "addressDef", type = "object",
        properties = { street = { type = "string" }, city = { type = "string" } },
      },
    },
    properties = {
      name = { type = "string" },
      address = { ["$ref"] = "#/$defs/address" },
      contactMethod = { type = "string", enum = { "phone", "email" } },
      phone = { type = "string" },
      email = { type = "string" },
    },
    allOf = { { anyOf = { { required = { "phone" } }, { required = { "email" } } } } },
    ["if"] = { properties = { contactMethod = { const = "phone" } }, required = { "contactMethod" } },
    ["then"] = { required = { "phone" } },
    ["else"] = { required = { "email" } },
    additionalProperties = false,
  },
  handler = function(args, ctx) return "Received: " .. mw.json.encode(args) end,
}

-- SEP-1699: the response becomes an SSE stream that is closed right after
-- its priming event; the result is kept for the client's GET + Last-Event-ID.
mw.tool {
  name = "test_reconnection", description = "Closes the response stream mid-call; the result arrives on resume",
  handler = function(args, ctx)
    ctx:close_stream()
    ctx:sleep(0.3)
    return "Reconnection test completed successfully. If you received this, the client properly "
      .. "reconnected after stream closure."
  end,
}

-- SEP-2243: the value of `region` is mirrored in the Mcp-Param-Region header.
mw.tool {
  name = "test_custom_header", description = "Echoes a parameter that is also sent as the Mcp-Param-Region header",
  input_schema = {
    type = "object",
    properties = { region = { type = "string", description = "Deployment region", ["x-mcp-header"] = "Region" } },
    required = { "region" },
  },
  handler = function(args, ctx) return "Region: " .. args.region end,
}

-- Diagnostic tools of the server-stateless scenario (2026-07-28) -----------

-- Without the client's sampling capability ctx:sample raises -32021 itself.
mw.tool {
  name = "test_missing_capability", description = "Needs the client's sampling capability",
  handler = function(args, ctx)
    local res, err = ctx:sample({
      messages = { { role = "user", content = { type = "text", text = "Say hi" } } }, maxTokens = 10,
    }, "probe")
    if not res then return nil, err end
    return "Sampling worked"
  end,
}

-- Asks for input; on 2026-07-28 this must come back as an InputRequiredResult,
-- never as a server->client request on the response stream.
mw.tool {
  name = "test_streaming_elicitation", description = "Asks the client for a confirmation through elicitation",
  handler = function(args, ctx)
    local res, err = ctx:elicit({
      message = "Please confirm to continue",
      requestedSchema = { type = "object", properties = { ok = { type = "boolean" } }, required = { "ok" } },
    }, "confirm")
    if not res then return nil, err end
    return "Elicitation finished: " .. tostring(res.action)
  end,
}

-- Logs only reach a client that asked for them (logLevel in _meta on 2026).
mw.tool {
  name = "test_logging_tool", description = "Logs one info message, if the client enabled logging",
  handler = function(args, ctx)
    ctx:log("info", "test_logging_tool ran", "conformance")
    return "Logging tool completed"
  end,
}

mw.tool {
  name = "test_trigger_tool_change", description = "Sends notifications/tools/list_changed to listening clients",
  handler = function(args, ctx)
    mw.list_changed("tools")
    return "Tool list change notified"
  end,
}

mw.tool {
  name = "test_trigger_prompt_change", description = "Sends notifications/prompts/list_changed to listening clients",
  handler = function(args, ctx)
    mw.list_changed("prompts")
    return "Prompt list change notified"
  end,
}
