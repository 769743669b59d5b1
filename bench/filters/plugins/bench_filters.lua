-- Three message filters of the kinds real deployments run on tools/call: a
-- deny-list on tool names (in), an argument size check (in) and a redaction of
-- secrets in results (out). make bench measures what they cost per request.
local mw = require "moonwire"

return {
  name = "bench_filters",
  config_schema = {
    type = "object",
    properties = {
      blocked_prefixes = { type = "array", items = { type = "string" }, default = {} },
      max_argument_bytes = { type = "integer", default = 65536 },
    },
  },
  init = function(p)
    p:filter { direction = "in", methods = { "tools/call" }, handler = function(msg, ctx)
      local name = type(msg.params) == "table" and msg.params.name or ""
      for _, prefix in ipairs(ctx.config.blocked_prefixes) do
        if name:sub(1, #prefix) == prefix then return mw.reject(-32602, "tool disabled: " .. name) end
      end
    end }
    p:filter { direction = "in", methods = { "tools/call" }, handler = function(msg, ctx)
      local args = type(msg.params) == "table" and msg.params.arguments
      if type(args) == "table" and type(args.text) == "string" and #args.text > ctx.config.max_argument_bytes then
        return mw.reject(-32602, "arguments too large")
      end
    end }
    p:filter { direction = "out", methods = { "tools/call" }, handler = function(msg)
      for _, c in ipairs(msg.result and msg.result.content or {}) do
        if type(c.text) == "string" then c.text = c.text:gsub("sk%-[%w]+", "sk-***") end
      end
    end }
  end,
}
