-- A tool that calls an HTTP API without blocking the server: while it waits,
-- every other client (and every stream's heartbeat) keeps being served.
-- Run: build/moonwire --scripts examples/http_fetch
local mw = require "moonwire"

mw.tool {
  name = "fetch_url",
  description = "GETs an http:// URL and returns its status and the start of its body",
  input_schema = {
    type = "object", required = { "url" },
    properties = { url = { type = "string", pattern = "^http://" }, max_bytes = { type = "integer", minimum = 1 } },
  },
  handler = function(args, ctx)
    local res, err = mw.http.request { url = args.url, timeout_ms = 5000, max_body = args.max_bytes or 65536 }
    if not res then return nil, "fetch failed: " .. err end
    return {
      content = { mw.text(("HTTP %d\n%s"):format(res.status, res.body)) },
      structured = { status = res.status, content_type = res.headers["content-type"], length = #res.body },
    }
  end,
}
