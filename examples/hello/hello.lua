-- The smallest useful Moonwire app: a route, a channel fed by a timer, and a
-- route that publishes to any channel. `make run` serves this directory.
local mw = require "moonwire"

mw.route {
  method = "GET", path = "/",
  handler = function(req, ctx)
    return { json = { name = "moonwire", hello = "world", generation = mw.generation() } }
  end,
}

mw.route {
  method = "GET", path = "/hello/:name",
  handler = function(req, ctx)
    return "Hello, " .. req.params.name .. "!\n"
  end,
}

-- `curl -N http://127.0.0.1:3001/events` shows a tick every second; reconnect
-- with `-H 'Last-Event-ID: <id>'` to get what you missed.
mw.route { path = "/events", channel = "ticks" }

local n = 0
mw.every(1, function()
  n = n + 1
  mw.publish("ticks", { event = "tick", data = { n = n, time = os.time() } })
end)

-- `curl -d 'hi' http://127.0.0.1:3001/publish/ticks`
mw.route {
  method = "POST", path = "/publish/:channel",
  handler = function(req, ctx)
    local id, delivered = mw.publish(req.params.channel, { event = "message", data = req.body })
    return { status = 202, json = { id = id, delivered = delivered } }
  end,
}

-- A finite stream written by the handler itself: five events, one per 200 ms.
mw.route {
  method = "GET", path = "/countdown",
  handler = function(req, ctx)
    local stream = ctx:stream()
    for i = 5, 1, -1 do
      stream:send { event = "count", data = tostring(i) }
      ctx:sleep(0.2)
    end
    stream:send { event = "done", data = "liftoff" }
    stream:close()
  end,
}

-- MCP: point any MCP client at http://127.0.0.1:3001/mcp (or /sse for the
-- 2024-11-05 transport).
mw.tool {
  name = "add", description = "Add two numbers",
  input_schema = { type = "object", required = { "a", "b" },
                   properties = { a = { type = "number" }, b = { type = "number" } } },
  handler = function(args, ctx) return tostring(args.a + args.b) end,
}

mw.tool {
  name = "countdown", description = "Count down from n, one step per 100 ms, reporting progress",
  input_schema = { type = "object", properties = { n = { type = "integer", minimum = 1, maximum = 50 } } },
  handler = function(args, ctx)
    local n = args.n or 5
    for i = 1, n do
      ctx:progress(i, n, ("step %d of %d"):format(i, n))
      if not ctx:sleep(0.1) then return nil, "cancelled" end
    end
    return "liftoff"
  end,
}

mw.resource {
  uri = "moonwire://hello/readme", name = "readme", mime_type = "text/plain",
  description = "What this example shows",
  handler = function(uri, ctx) return "A route, a channel, and a couple of MCP tools." end,
}

mw.prompt {
  name = "greet", description = "Greet someone by name",
  arguments = { { name = "name", description = "Who to greet", required = true } },
  handler = function(args, ctx) return "Say hello to " .. args.name .. "." end,
}
