-- access_log: one JSON line per answered request — method, path, status,
-- duration, client, session — to the server log (mw.log at info, message
-- "access") or appended to a file. It is an on_response hook: the core
-- records every response (its own endpoints and rejections included) and
-- hands them over in batches from the loop, off the request's path.
-- See docs/plugins.md.
local mw = require "moonwire"
local json = require "moonwire.json"

local file -- the open log file of this generation, or nil for the server log

return {
  name = "access_log",
  version = "0.1.0",
  description = "Logs one JSON line per HTTP request (server log or a file)",
  -- Highest of the bundled plugins: it sees requests that auth or rate
  -- limiting reject afterwards.
  priority = 3000,
  config_schema = {
    type = "object",
    additionalProperties = false,
    properties = {
      path = { type = "string", minLength = 1 },
    },
  },

  init = function(p, config)
    file = nil
    if config.path then
      -- Appending needs plugins._grants = { access_log = { "io.open" } }.
      local ok, f, err = pcall(io.open, config.path, "a")
      if not ok then error(("path: %s (grant \"io.open\" in plugins._grants)"):format(tostring(f)), 0) end
      if not f then error(("path: %s"):format(err), 0) end
      f:setvbuf("line")
      file = f
    end
  end,

  on_response = function(r)
    local path, query = r.url:match("^([^?]*)%??(.*)$")
    local entry = {
      time = os.date("!%Y-%m-%dT%H:%M:%SZ"),
      method = r.method,
      path = path,
      query = query ~= "" and query or nil,
      status = r.status,
      duration_ms = r.duration_ms,
      remote_addr = r.remote_addr,
      session_id = r.session_id,
    }
    if file then
      file:write(json.encode(entry), "\n")
    else
      mw.log("info", "access", entry)
    end
  end,
}
