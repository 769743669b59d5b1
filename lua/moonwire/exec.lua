-- mw.exec: run a program without blocking the server. The calling handler
-- (a coroutine) is suspended until the child exits; other clients are served
-- meanwhile. argv only — no shell, so nothing in it is ever interpreted.
local core = require "moonwire.core"
local runtime = require "moonwire.runtime"

local DEFAULT_TIMEOUT_MS = 10000
local DEFAULT_MAX_OUTPUT = 1024 * 1024

--- mw.exec { argv = { "ls", "-l" }, stdin = "…", timeout_ms = 10000, max_output = 1048576 }
--- -> { status = n | signal = n, stdout, stderr, timed_out, truncated } or nil, err
return function(opts)
  if type(opts) ~= "table" or type(opts.argv) ~= "table" or #opts.argv == 0 then
    error("mw.exec: expects { argv = { program, args… } }", 2)
  end
  for i, a in ipairs(opts.argv) do
    if type(a) ~= "string" then error(("mw.exec: argv[%d] must be a string"):format(i), 2) end
  end
  if opts.stdin ~= nil and type(opts.stdin) ~= "string" then error("mw.exec: stdin must be a string", 2) end
  local co, main = coroutine.running()
  if main then error("mw.exec must be called from a handler or timer", 2) end
  local ok, err = core.exec(opts.argv, opts.stdin, math.floor(opts.timeout_ms or DEFAULT_TIMEOUT_MS),
                            math.floor(opts.max_output or DEFAULT_MAX_OUTPUT),
                            function(result, e) runtime.resume(co, result, e) end)
  if not ok then return nil, err end
  return runtime.wait()
end
