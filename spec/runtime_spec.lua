-- lua/moonwire/runtime.lua and the route API of lua/moonwire/init.lua, with
-- the C core replaced by spec/support/fake_core.lua.
local fake = require "support.fake_core"

local function request(method, path, extra)
  local req = { method = method, path = path, query = "", headers = {}, body = "" }
  for k, v in pairs(extra or {}) do req[k] = v end
  return req
end

describe("routing", function()
  local core, mw, runtime
  before_each(function()
    core = fake.install()
    mw = require "moonwire"
    runtime = require "moonwire.runtime"
  end)

  local function dispatch(method, path, extra)
    local h = core.handle()
    runtime.dispatch(request(method, path, extra), h)
    return core.responses[#core.responses]
  end

  it("answers an exact route with a string as text/plain", function()
    mw.route { method = "GET", path = "/hi", handler = function() return "hello" end }
    local res = dispatch("GET", "/hi")
    assert.equal(200, res.status)
    assert.equal("hello", res.body)
    assert.equal("text/plain; charset=utf-8", res.headers["Content-Type"])
  end)

  it("encodes json results and keeps given status and headers", function()
    mw.route { method = "POST", path = "/j", handler = function()
      return { status = 201, headers = { ["X-N"] = 5 }, json = { ok = true, list = mw.json.array({}) } }
    end }
    local res = dispatch("POST", "/j")
    assert.equal(201, res.status)
    assert.equal("5", res.headers["X-N"])
    assert.equal("application/json", res.headers["Content-Type"])
    assert.same({ ok = true, list = {} }, mw.json.decode(res.body))
    assert.truthy(res.body:find('"list":[]', 1, true))
    -- A Content-Type the handler set, in any case, is the only one.
    mw.route { path = "/jt", handler = function()
      return { headers = { ["content-type"] = "application/vnd.x+json" }, json = { ok = true } }
    end }
    res = dispatch("GET", "/jt")
    assert.same({ ["content-type"] = "application/vnd.x+json" }, res.headers)
  end)

  it("extracts :params and * wildcards, unescaped", function()
    mw.route { path = "/u/:id/files/*", handler = function(req)
      return req.params.id .. "|" .. req.params["*"]
    end }
    assert.equal("a b|x/y.txt", dispatch("GET", "/u/a%20b/files/x/y.txt").body)
  end)

  it("parses the query string into req.args", function()
    mw.route { path = "/q", handler = function(req) return req.args.a .. "," .. req.args["b c"] end }
    assert.equal("1,x y", dispatch("GET", "/q", { query = "a=1&b+c=x%20y&a=2" }).body)
  end)

  it("answers 404 for unknown paths and 405 with Allow for wrong methods", function()
    mw.route { method = { "GET", "POST" }, path = "/m", handler = function() return "m" end }
    local res = dispatch("GET", "/nope")
    assert.equal(404, res.status)
    assert.equal(404, mw.json.decode(res.body).error.status)
    res = dispatch("DELETE", "/m")
    assert.equal(405, res.status)
    assert.equal("GET, HEAD, OPTIONS, POST", res.headers.Allow)
    res = dispatch("OPTIONS", "/m")
    assert.equal(204, res.status)
    assert.equal("GET, HEAD, OPTIONS, POST", res.headers.Allow)
    -- A path two patterns match lists each method once; no GET, no HEAD.
    mw.route { method = "PUT", path = "/p/:id", handler = function() return "p" end }
    mw.route { method = { "PUT", "DELETE" }, path = "/p/*", handler = function() return "p" end }
    res = dispatch("POST", "/p/1")
    assert.equal(405, res.status)
    assert.equal("DELETE, OPTIONS, PUT", res.headers.Allow)
  end)

  it("serves HEAD from the GET route", function()
    mw.route { path = "/h", handler = function() return "body" end }
    assert.equal(200, dispatch("HEAD", "/h").status)
  end)

  it("turns a thrown error into a logged 500 and keeps serving", function()
    mw.route { path = "/boom", handler = function() error("kaboom") end }
    mw.route { path = "/ok", handler = function() return "fine" end }
    local res = dispatch("GET", "/boom")
    assert.equal(500, res.status)
    assert.equal("internal error", mw.json.decode(res.body).error.message)
    assert.truthy(core.errors[1]:find("kaboom", 1, true))
    assert.equal("fine", dispatch("GET", "/ok").body)
  end)

  it("answers error({status=…}) tables with that status", function()
    mw.route { path = "/teapot", handler = function() error({ status = 418, message = "short and stout" }) end }
    local res = dispatch("GET", "/teapot")
    assert.equal(418, res.status)
    assert.equal("short and stout", mw.json.decode(res.body).error.message)
    assert.equal(0, #core.errors)
  end)

  it("answers nil, err with a 500 carrying the message", function()
    mw.route { path = "/fail", handler = function() return nil, "nope" end }
    local res = dispatch("GET", "/fail")
    assert.equal(500, res.status)
    assert.equal("nope", mw.json.decode(res.body).error.message)
  end)

  it("runs handlers as coroutines that can sleep, holding the generation meanwhile", function()
    mw.route { path = "/slow", handler = function(req, ctx) ctx:sleep(0.25) return "late" end }
    local h = core.handle()
    runtime.dispatch(request("GET", "/slow"), h)
    assert.equal(0, #core.responses)
    assert.equal(1, core.holds)
    local sleep_timer
    for _, t in ipairs(core.timers) do if not t.rep then sleep_timer = t end end
    assert.equal(250, sleep_timer.ms)
    core.run_timers()
    assert.equal("late", core.responses[1].body)
    assert.equal(0, core.holds)
  end)

  it("holds the generation once per suspended task, however often it sleeps, and never for one that did not", function()
    mw.route { path = "/twice", handler = function(req, ctx) ctx:sleep(0.01) ctx:sleep(0.01) return "rested" end }
    mw.route { path = "/now", handler = function() return "now" end }
    assert.equal("now", dispatch("GET", "/now").body)
    assert.equal(0, core.holds)
    local answered = #core.responses
    runtime.dispatch(request("GET", "/twice"), core.handle())
    assert.equal(1, core.holds)
    core.run_timers() -- the first sleep ends, the second begins
    assert.equal(answered, #core.responses)
    assert.equal(1, core.holds)
    core.run_timers()
    assert.equal("rested", core.responses[#core.responses].body)
    assert.equal(0, core.holds)
  end)

  it("reuses the coroutine of a handler that never suspended, never one that did", function()
    local seen = {}
    mw.route { path = "/quick", handler = function() seen[#seen + 1] = coroutine.running() return "q" end }
    mw.route { path = "/nap", handler = function(req, ctx)
      seen[#seen + 1] = coroutine.running()
      ctx:sleep(0.01)
      return "n"
    end }
    mw.route { path = "/boom", handler = function() seen[#seen + 1] = coroutine.running() error("boom") end }
    assert.equal("q", dispatch("GET", "/quick").body)
    assert.equal("q", dispatch("GET", "/quick").body)
    assert.equal(seen[1], seen[2])
    -- A stale resume of an idle coroutine does nothing, from the runtime or
    -- from a script that kept it.
    assert.is_false(runtime.resume(seen[1]))
    local ran = false
    coroutine.resume(seen[1], function() ran = true end)
    assert.is_false(ran)
    assert.equal("q", dispatch("GET", "/quick").body)
    assert.equal(seen[1], seen[3])

    runtime.dispatch(request("GET", "/nap"), core.handle())
    core.run_timers()
    assert.equal("n", core.responses[#core.responses].body)
    assert.equal("q", dispatch("GET", "/quick").body)
    assert.not_equal(seen[4], seen[5])
    assert.is_false(runtime.resume(seen[4]))

    assert.equal(500, dispatch("GET", "/boom").status)
    assert.equal("q", dispatch("GET", "/quick").body)
    assert.not_equal(seen[6], seen[7])
    assert.equal(0, core.holds)
  end)

  it("a script resuming a coroutine it kept from an earlier task cannot cut a later task's sleep", function()
    local kept
    mw.route { path = "/keep", handler = function() kept = coroutine.running() return "k" end }
    mw.route { path = "/nap", handler = function(req, ctx) ctx:sleep(0.01) return "rested" end }
    assert.equal("k", dispatch("GET", "/keep").body)
    runtime.dispatch(request("GET", "/nap"), core.handle()) -- reuses `kept`, now asleep
    local n = #core.responses
    assert.is_true(coroutine.resume(kept)) -- not a wake-up: it goes back to sleep
    assert.equal(n, #core.responses)
    core.run_timers()
    assert.equal("rested", core.responses[#core.responses].body)
    assert.equal(0, core.holds)
  end)

  it("gives each handler the default budget, or the route's own", function()
    mw.route { path = "/b1", handler = function(req, ctx) ctx:sleep(1) return "x" end }
    mw.route { path = "/b2", handler = function(req, ctx) ctx:sleep(1) return "y" end, timeout_ms = 50 }
    runtime.dispatch(request("GET", "/b1"), core.handle())
    runtime.dispatch(request("GET", "/b2"), core.handle())
    local got = {}
    for _, ms in pairs(core.budgets) do got[#got + 1] = ms end
    table.sort(got)
    assert.same({ 50, 30000 }, got)
  end)

  it("abandons a suspended handler past its budget and answers 500", function()
    mw.route { path = "/late", handler = function(req, ctx) ctx:sleep(10) return "never" end, timeout_ms = 100 }
    runtime.dispatch(request("GET", "/late"), core.handle())
    core.clock = 150
    core.run_timers() -- the sweeper (and the 10 s sleep timer, which must not resume it)
    assert.equal(500, core.responses[1].status)
    assert.truthy(core.responses[1].body:find("time budget", 1, true))
    assert.equal(0, core.holds)
  end)

  it("subscribes channel routes with Last-Event-ID", function()
    mw.route { path = "/ev", channel = "news" }
    runtime.dispatch(request("GET", "/ev", { headers = { ["last-event-id"] = "x-3" } }), core.handle())
    assert.same({ channel = "news", last = "x-3" }, core.subscribed[1])
  end)
end)

describe("declarations", function()
  local mw
  before_each(function()
    fake.install()
    mw = require "moonwire"
  end)

  local function err_of(fn)
    local ok, e = pcall(fn)
    assert.is_false(ok)
    return e
  end

  it("rejects unknown keys, naming this file and line", function()
    local e = err_of(function() mw.route { path = "/x", handler = print, methd = "GET" } end)
    assert.matches("runtime_spec.lua:%d+: mw.route: unknown key 'methd'", e)
  end)

  it("rejects wrong types, bad paths, bad methods and duplicates", function()
    assert.matches("'handler' must be a function", err_of(function() mw.route { path = "/x", handler = "no" } end))
    assert.matches("must start with /", err_of(function() mw.route { path = "x", handler = print } end))
    assert.matches("unsupported method 'FETCH'", err_of(function() mw.route { method = "FETCH", path = "/x", handler = print } end))
    assert.matches("exactly one of", err_of(function() mw.route { path = "/x" } end))
    mw.route { path = "/dup", handler = print }
    assert.matches("already defined", err_of(function() mw.route { path = "/dup", handler = print } end))
    -- The core answers these before any script could.
    assert.matches("/healthz is served by the core", err_of(function() mw.route { path = "/healthz", handler = print } end))
    assert.matches("/metrics is served by the core",
      err_of(function() mw.route { method = "POST", path = "/metrics", handler = print } end))
  end)

  it("publishes strings and tables", function()
    local core = package.loaded["moonwire.core"]
    mw.publish("c", "plain")
    mw.publish("c", { event = "e", data = { a = 1 } })
    assert.same({ channel = "c", data = "plain" }, core.published[1])
    assert.same({ channel = "c", event = "e", data = '{"a":1}' }, core.published[2])
    assert.matches("mw.publish: expects the event's data", err_of(function() mw.publish("c", nil) end))
  end)

  it("skips a repeating timer's tick while its last run is still going", function()
    local core = package.loaded["moonwire.core"]
    local runtime = require "moonwire.runtime"
    local runs, wake = 0, nil
    mw.every(1, function()
      runs = runs + 1
      local co = coroutine.running()
      wake = function() runtime.resume(co) end
      runtime.wait()
    end)
    core.run_timers()
    core.run_timers() -- the first run still waits: skipped
    assert.equal(1, runs)
    wake()
    core.run_timers()
    assert.equal(2, runs)
    -- A run that fails frees the timer too.
    local fails = 0
    mw.every(2, function() fails = fails + 1 error("boom") end)
    core.run_timers()
    core.run_timers()
    assert.equal(2, fails)
    -- Its failures name the timer and where it was declared.
    assert.matches("^mw%.every timer %(.*runtime_spec%.lua:%d+%): .*boom", core.errors[#core.errors])
  end)

  it("stops script timers when the generation retires", function()
    local core = package.loaded["moonwire.core"]
    local runtime = require "moonwire.runtime"
    local fired = 0
    mw.every(1, function() fired = fired + 1 end)
    runtime.retire()
    for _, t in ipairs(core.timers) do
      if t.ms == 1000 then assert.is_true(t.stopped) end
    end
    assert.equal(0, fired)
  end)
end)
