-- mw.exec: run a program without blocking the server. The calling handler
-- (a coroutine) is suspended until the child exits; other clients are served
-- meanwhile. argv only — no shell, so nothing in it is ever interpreted.
local core = require "moonwire.core"
local runtime = require "moonwire.runtime"

local DEFAULT_TIMEOUT_MS = 10000
local DEFAULT_MAX_OUTPUT = 1024 * 1024

local KNOWN = { argv = true, stdin = true, timeout_ms = true, max_output = true }

--- mw.exec { argv = { "ls", "-l" }, stdin = "…", timeout_ms = 10000, max_output = 1048576 }
--- -> { status = n | signal = n, stdout, stderr, timed_out, truncated } or nil, err
return function(opts)
  if type(opts) ~= "table" or type(opts.argv) ~= "table" or #opts.argv == 0 then
    error("mw.exec: expects { argv = { program, args… } }", 2)
  end
  runtime.check_options("mw.exec", opts, KNOWN)
  for i, a in ipairs(opts.argv) do
    if type(a) ~= "string" then error(("mw.exec: argv[%d] must be a string"):format(i), 2) end
  end
  if opts.stdin ~= nil and type(opts.stdin) ~= "string" then error("mw.exec: stdin must be a string", 2) end
  local timeout_ms = runtime.count_option("mw.exec", opts, "timeout_ms", DEFAULT_TIMEOUT_MS)
  local max_output = runtime.count_option("mw.exec", opts, "max_output", DEFAULT_MAX_OUTPUT)
  local co, task = runtime.running_task("mw.exec")
  local id, err
  id, err = core.exec(opts.argv, opts.stdin, timeout_ms, max_output, function(result, e)
    task.cleanup = false
    runtime.resume(co, result, e)
  end)
  if not id then return nil, err end
  -- A task abandoned past its budget is never resumed: its processes must not
  -- outlive it (the runtime runs this when the task ends without the result).
  task.cleanup = function() core.exec_cancel(id) end
  return runtime.wait()
end
