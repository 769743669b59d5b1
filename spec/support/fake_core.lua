-- A stand-in for the C module moonwire.core, so the Lua framework can be
-- specified without a server: it records responses and runs timers on demand.
local M = {}

function M.install()
  local core = {
    responses = {}, errors = {}, timers = {}, published = {}, holds = 0, open = {},
    subscribed = {},
  }
  function core.respond(h, status, headers, body)
    if not core.open[h] then return false end
    core.open[h] = nil
    core.responses[#core.responses + 1] = { handle = h, status = status, headers = headers or {}, body = body }
    return true
  end
  function core.is_open(h) return core.open[h] == true end
  function core.sse_start(h) core.open[h] = "stream"; return true end
  function core.send() return true end
  function core.finish(h) core.open[h] = nil end
  function core.subscribe(h, ch, last)
    core.open[h] = nil
    core.subscribed[#core.subscribed + 1] = { channel = ch, last = last }
    return true, false
  end
  function core.session_attach() return nil, "no-session" end
  function core.publish(ch, ev, data)
    core.published[#core.published + 1] = { channel = ch, event = ev, data = data }
    return "e-" .. #core.published, 0
  end
  function core.timer(ms, rep, fn)
    local t = { ms = ms, rep = rep, fn = fn }
    function t.stop() t.stopped = true end
    core.timers[#core.timers + 1] = t
    return t
  end
  function core.lua_error(msg) core.errors[#core.errors + 1] = msg end
  function core.log() end
  function core.hold() core.holds = core.holds + 1 end
  function core.release() core.holds = core.holds - 1 end
  function core.stats() return {} end
  -- Set core.config_file to a path to have the runtime read plugins from it.
  function core.config() return { handler_timeout_ms = 30000, config_file = core.config_file } end
  core.clock = 0
  function core.now() return core.clock end
  core.budgets = {} -- co -> the deadline (core.now() ms) of its last slice
  function core.slice(co, deadline_ms) core.budgets[co] = deadline_ms end
  function core.unslice() return false, false end
  function core.budgeted(f) return f end
  function core.guard() end
  function core.access_hook(on) core.access_on = on end
  function core.set_cors(p) core.cors = p end
  function core.forward() return false end
  -- Fires every pending one-shot timer (in creation order); repeating ones
  -- stay scheduled.
  function core.run_timers()
    local pending = core.timers
    core.timers = {}
    for _, t in ipairs(pending) do
      if not t.stopped then
        t.fn()
        if t.rep and not t.stopped then core.timers[#core.timers + 1] = t end
      end
    end
  end
  -- A fresh handle that can be answered once.
  function core.handle()
    local h = {}
    core.open[h] = true
    return h
  end

  -- Every framework module: each keeps per-generation state.
  for name in pairs(package.loaded) do
    if name == "moonwire" or name:match("^moonwire%.") then package.loaded[name] = nil end
  end
  package.loaded["moonwire.core"] = core
  return core
end

return M
