-- redact: masks configured Lua patterns in every string of every outgoing
-- JSON-RPC message (responses, tool results, notifications, server requests),
-- on all transports. The message is copied, never edited in place: the
-- framework may still hold the original (replay logs, other filters).
-- See docs/plugins.md.

local patterns, replacement = {}, "[REDACTED]"

local function mask(s)
  for _, pat in ipairs(patterns) do
    -- A function replacement: '%' in the configured text stays literal.
    s = s:gsub(pat, function() return replacement end)
  end
  return s
end

-- Copies `v` with every string value masked (keys are left alone: masking
-- "jsonrpc" or "result" would break the message). Metatables are kept:
-- moonwire.json marks empty arrays/objects with them.
local function walk(v, depth)
  local t = type(v)
  if t == "string" then return mask(v) end
  if t ~= "table" then return v end
  -- The JSON codec's own nesting limit; deeper cannot have come from JSON.
  if depth > 1000 then error("redact: message nested deeper than 1000 levels", 0) end
  local out = {}
  for k, x in pairs(v) do
    out[k] = walk(x, depth + 1)
  end
  return setmetatable(out, getmetatable(v))
end

return {
  name = "redact",
  version = "0.1.0",
  description = "Masks configured Lua patterns in every outgoing JSON-RPC message",
  -- Outgoing filters run lowest priority first: a high priority makes redact
  -- the last to touch a message, after every other plugin's filter.
  priority = 2000,
  config_schema = {
    type = "object",
    required = { "patterns" },
    additionalProperties = false,
    properties = {
      patterns = { type = "array", items = { type = "string", minLength = 1 }, minItems = 1 },
      replacement = { type = "string", default = "[REDACTED]" },
    },
  },

  init = function(p, config)
    patterns, replacement = {}, config.replacement
    for i, pat in ipairs(config.patterns) do
      local ok, err = pcall(string.find, "", pat)
      if not ok then error(("patterns[%d]: bad Lua pattern %q: %s"):format(i, pat, err), 0) end
      -- A pattern that matches the empty string would insert the replacement everywhere.
      if (""):find(pat) then
        error(("patterns[%d]: %q matches the empty string"):format(i, pat), 0)
      end
      patterns[#patterns + 1] = pat
    end
  end,

  on_message_out = function(msg)
    return walk(msg, 0)
  end,
}
