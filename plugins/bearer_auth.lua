-- bearer_auth: every request routed by Lua needs `Authorization: Bearer <token>`
-- with a token from the config (`tokens`) or a file (`tokens_file`, one per
-- line, # comments). The file is read once per generation: SIGHUP reloads it.
-- See docs/plugins.md.

-- Compares `given` against `want` touching every byte of both, so the time
-- taken does not tell how long a matching prefix was.
local function same(given, want)
  local n = math.max(#given, #want)
  local diff = #given ~ #want
  for i = 1, n do
    diff = diff | ((given:byte(i) or 0) ~ (want:byte(i) or 0))
  end
  return diff == 0
end

local function read_tokens(path)
  local f, err = io.open(path, "r")
  if not f then error(("tokens_file: %s"):format(err), 0) end
  local list = {}
  for line in f:lines() do
    local tok = line:match("^%s*(.-)%s*$")
    if tok ~= "" and tok:sub(1, 1) ~= "#" then list[#list + 1] = tok end
  end
  f:close()
  return list
end

-- Set in init; init runs once per generation, before any request.
local tokens = {}

return {
  name = "bearer_auth",
  version = "0.1.0",
  description = "Rejects requests without a valid bearer token (401)",
  -- Above rate_limit (910), as Kong orders auth before rate limiting.
  priority = 1250,
  config_schema = {
    type = "object",
    additionalProperties = false,
    properties = {
      tokens = { type = "array", items = { type = "string", minLength = 1 }, default = {} },
      tokens_file = { type = "string" },
      realm = { type = "string", default = "moonwire" },
      exempt_paths = { type = "array", items = { type = "string" }, default = { "/healthz", "/metrics" } },
    },
  },

  init = function(p, config)
    tokens = {}
    for _, t in ipairs(config.tokens) do tokens[#tokens + 1] = t end
    if config.tokens_file then
      for _, t in ipairs(read_tokens(config.tokens_file)) do tokens[#tokens + 1] = t end
    end
    if #tokens == 0 then error("no tokens: set 'tokens' and/or 'tokens_file'", 0) end
  end,

  on_request = function(req, ctx)
    local config = ctx.config
    for _, path in ipairs(config.exempt_paths) do
      if req.path == path then return nil end
    end
    local given = (req.headers.authorization or ""):match("^[Bb]earer%s+(%S+)%s*$")
    if given then
      -- No early exit: every configured token is compared in full.
      local ok = false
      for _, t in ipairs(tokens) do
        if same(given, t) then ok = true end
      end
      if ok then return nil end
    end
    local challenge = ('Bearer realm="%s"'):format(config.realm)
    if req.headers.authorization then challenge = challenge .. ', error="invalid_token"' end
    return {
      status = 401,
      headers = { ["WWW-Authenticate"] = challenge },
      json = { error = "unauthorized", message = given and "invalid bearer token"
                                                   or "missing bearer token (Authorization: Bearer <token>)" },
    }
  end,
}
