-- The tool every tools/call benchmark calls: it answers its text argument, so a run
-- measures the protocol path (parse, dispatch, validate, encode), not the tool.
local mw = require "moonwire"

mw.tool {
  name = "echo",
  description = "Returns its text argument",
  input_schema = {
    type = "object",
    properties = { text = { type = "string" } },
    required = { "text" },
  },
  handler = function(args)
    return args.text
  end,
}
