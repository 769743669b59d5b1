-- Benchmark routes: the same channel subscribe/publish paths nchan serves
-- (GET /sub/<ch>, POST /pub/<ch> with the body as the event data), so one
-- load generator drives both; plus POST /pub-sessions, which sends the body
-- to every MCP session's standalone stream (Streamable HTTP GET /mcp and
-- legacy /sse) for delivery and resume measurements in those modes.
local mw = require "moonwire"
-- Framework internal: the broadcast that list_changed uses. A bench script
-- may lean on it; no public API sends arbitrary notifications to all sessions.
local mcp = require "moonwire.mcp"

local function channel_of(req)
  local ch = req.params.channel
  if not ch:match("^[%w_%-]+$") or #ch > 64 then
    error({ status = 400, message = "channel names are 1-64 of [A-Za-z0-9_-]" })
  end
  return "bench-" .. ch
end

mw.route { path = "/sub/:channel", handler = function(req, ctx)
  ctx:subscribe(channel_of(req))
end }

mw.route { method = "POST", path = "/pub/:channel", handler = function(req, ctx)
  local id, delivered = mw.publish(channel_of(req), req.body or "")
  return { status = 200, json = { id = id, delivered = delivered } }
end }

-- The body (JSON, e.g. {"ts":…,"seq":…}) travels as the data of a
-- notifications/message, so a subscriber finds it inside the JSON-RPC text.
mw.route { method = "POST", path = "/pub-sessions", handler = function(req, ctx)
  local data = mw.json.decode(req.body or "")
  if data == nil then error({ status = 400, message = "body must be JSON" }) end
  local n = mcp.broadcast({ jsonrpc = "2.0", method = "notifications/message",
                            params = { level = "info", logger = "bench", data = data } })
  return { status = 200, json = { delivered = n } }
end }
