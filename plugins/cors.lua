-- cors: the CORS policy for this deployment. The core still writes the
-- headers and answers preflights (they sit on every response); this plugin
-- only replaces the defaults (CORS_ALLOW_ORIGINS, every method MCP uses, the
-- MCP headers) with the configured ones. Removing the plugin and reloading
-- restores the defaults. See docs/plugins.md.

return {
  name = "cors",
  version = "0.1.0",
  description = "Configures allowed origins, methods, headers and max-age for CORS",
  priority = 1000,
  config_schema = {
    type = "object",
    additionalProperties = false,
    properties = {
      origins = { type = "array", items = { type = "string", minLength = 1 }, default = { "*" } },
      methods = { type = "array", items = { type = "string", minLength = 1 },
                  default = { "GET", "POST", "DELETE", "OPTIONS" } },
      headers = { type = "array", items = { type = "string", minLength = 1 } },
      expose = { type = "array", items = { type = "string" },
                 default = { "Mcp-Session-Id", "MCP-Protocol-Version" } },
      max_age = { type = "integer", minimum = 0, maximum = 31536000, default = 86400 },
      credentials = { type = "boolean", default = false },
    },
  },

  init = function(p, config)
    local mw = require "moonwire"
    local function list(t)
      local out = {}
      for i, v in ipairs(t) do
        if v:find("[\r\n,]") then error(("cors: %q may not contain commas or line breaks"):format(v), 0) end
        out[i] = v
      end
      return table.concat(out, ", ")
    end
    for _, o in ipairs(config.origins) do
      if o == "*" and config.credentials then
        error("cors: credentials = true needs explicit origins, not \"*\"", 0)
      end
    end
    mw.cors {
      origins = list(config.origins),
      methods = list(config.methods),
      headers = config.headers and list(config.headers) or nil,
      expose = list(config.expose),
      max_age = config.max_age,
      credentials = config.credentials,
    }
  end,
}
