-- rate_limit: a token bucket per client address and/or per MCP session. The
-- buckets live in mw.shared, so a reload neither resets nor forgets them;
-- a full bucket is simply an absent key (entries expire once they would have
-- refilled). See docs/plugins.md.
local mw = require "moonwire"
local json = require "moonwire.json"

-- JSON-RPC error code for a rate-limited MCP request: in the implementation-
-- defined server-error range (-32000..-32099), next to the SDKs' -32001 etc.
local RPC_RATE_LIMITED = -32029

local MILLI = 1000 -- a request costs one token = 1000 milli-tokens

-- A bucket is one string "<milli_tokens>:<loop_ms>" (integers: the store
-- keeps strings or integers, and one key keeps the pair consistent).
local function load_bucket(key, cap, now)
  local v = mw.shared:get(key)
  local tokens, at = nil, nil
  if type(v) == "string" then
    local a, b = v:match("^(%d+):(%d+)$")
    tokens, at = tonumber(a), tonumber(b)
  end
  if not tokens then return cap, now end
  return tokens, at
end

-- Returns the bucket's milli-tokens after refilling up to `now`.
local function refill(tokens, at, now, rate, cap)
  local elapsed = now - at
  if elapsed <= 0 then return tokens end
  -- rate tokens/s = rate milli-tokens/ms.
  return math.min(cap, tokens + math.floor(elapsed * rate))
end

local function retry_after(tokens, rate)
  local missing = MILLI - tokens                     -- milli-tokens still to come
  return math.max(1, math.ceil(missing / rate / 1000)) -- ms -> whole seconds
end

local function request_id(req)
  if req.method ~= "POST" or not req.body or req.body == "" then return json.null end
  local ok, msg = pcall(json.decode, req.body)
  if ok and type(msg) == "table" and (type(msg.id) == "string" or math.type(msg.id) == "integer") then
    return msg.id
  end
  return json.null
end

return {
  name = "rate_limit",
  version = "0.1.0",
  description = "Token-bucket rate limiting per client address and/or MCP session (429)",
  priority = 910,
  config_schema = {
    type = "object",
    additionalProperties = false,
    properties = {
      rate = { type = "number", exclusiveMinimum = 0, default = 10 },
      burst = { type = "integer", minimum = 1, default = 20 },
      per = { type = "string", enum = { "address", "session", "both" }, default = "address" },
      mcp_path = { type = "string", default = "/mcp" },
    },
  },

  on_request = function(req, ctx)
    local c = ctx.config
    local cap = c.burst * MILLI
    local now = mw.now()
    -- Bucket keys this request draws from (nothing to key on = no limit).
    local keys = {}
    if (c.per == "address" or c.per == "both") and req.remote_addr then
      keys[#keys + 1] = "rate_limit:a:" .. req.remote_addr
    end
    local sid = req.headers["mcp-session-id"]
    if (c.per == "session" or c.per == "both") and sid and sid ~= "" then
      keys[#keys + 1] = "rate_limit:s:" .. sid
    end
    if #keys == 0 then return nil end

    -- Check every bucket first, then take from all or none: a request denied
    -- by the session bucket does not also drain the address bucket.
    local levels, wait = {}, 0
    for i, key in ipairs(keys) do
      local tokens, at = load_bucket(key, cap, now)
      levels[i] = refill(tokens, at, now, c.rate, cap)
      if levels[i] < MILLI then wait = math.max(wait, retry_after(levels[i], c.rate)) end
    end
    -- Keys expire when the bucket would be full again: absent = full.
    -- (Capped at the store's maximum TTL, one year, for absurdly slow rates.)
    local ttl = math.min(math.ceil(c.burst / c.rate) + 1, 31536000)
    for i, key in ipairs(keys) do
      local left = wait == 0 and levels[i] - MILLI or levels[i]
      mw.shared:set(key, ("%d:%d"):format(left, now), ttl)
    end
    if wait == 0 then return nil end

    local headers = { ["Retry-After"] = tostring(wait) }
    if req.path == c.mcp_path and req.method == "POST" then
      return { status = 429, headers = headers, json = {
        jsonrpc = "2.0", id = request_id(req),
        error = { code = RPC_RATE_LIMITED, message = "Rate limit exceeded", data = { retry_after = wait } },
      } }
    end
    return { status = 429, headers = headers,
             json = { error = "rate_limited", message = "Rate limit exceeded", retry_after = wait } }
  end,
}
