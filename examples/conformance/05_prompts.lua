-- Prompts of the conformance "everything server": plain, with arguments (and
-- their completion), with an embedded resource, and with an image.
local mw = require "moonwire"

local PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="

mw.prompt {
  name = "test_simple_prompt", description = "A simple prompt without arguments",
  handler = function(args, ctx) return "This is a simple prompt for testing." end,
}

mw.prompt {
  name = "test_prompt_with_arguments", description = "A prompt with two required arguments",
  arguments = {
    { name = "arg1", description = "First test argument", required = true },
    { name = "arg2", description = "Second test argument", required = true },
  },
  handler = function(args, ctx)
    return ("Prompt with arguments: arg1='%s', arg2='%s'"):format(args.arg1, args.arg2)
  end,
}

-- Suggestions for either argument, filtered by what the user typed so far.
local SUGGESTIONS = { "test-value-1", "test-value-2", "test-value-3", "sample-value" }

mw.completion {
  ref = { type = "ref/prompt", name = "test_prompt_with_arguments" },
  handler = function(argument, ctx)
    local typed = type(argument.value) == "string" and argument.value or ""
    local values = {}
    for _, v in ipairs(SUGGESTIONS) do
      if v:sub(1, #typed) == typed then values[#values + 1] = v end
    end
    return { values = values }
  end,
}

mw.prompt {
  name = "test_prompt_with_embedded_resource", description = "A prompt that embeds a resource",
  arguments = { { name = "resourceUri", description = "URI of the resource to embed", required = true } },
  handler = function(args, ctx)
    return {
      { role = "user", content = mw.embedded { uri = args.resourceUri, mime_type = "text/plain",
                                               text = "Embedded resource content for testing." } },
      { role = "user", content = mw.text("Please process the embedded resource above.") },
    }
  end,
}

mw.prompt {
  name = "test_prompt_with_image", description = "A prompt that includes an image",
  handler = function(args, ctx)
    return {
      { role = "user", content = mw.image(PNG, "image/png") },
      { role = "user", content = mw.text("Please analyze the image above.") },
    }
  end,
}
