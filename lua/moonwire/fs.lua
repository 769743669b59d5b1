-- mw.watch and mw.fs: what a script needs to serve a directory — watch it for
-- changes, list it, stat and resolve paths — on the C core (core/luafs.c).
-- Watches belong to the generation that made them: a reload stops them, and
-- the new generation's scripts watch again as they load.
local core = require "moonwire.core"
local runtime = require "moonwire.runtime"

local M = {}

local DEFAULT_DEBOUNCE_MS = 100
local WATCH_OPTIONS = { debounce_ms = true }
local DEFAULT_MAX_ENTRIES = 10000

local function check_path(fn, path)
  if type(path) ~= "string" or path == "" then error(fn .. ": path must be a non-empty string", 3) end
  if path:find("\0", 1, true) then error(fn .. ": path contains a NUL byte", 3) end
end

--- mw.watch(dir, fn, { debounce_ms = 100 }) -> watch | nil, err
--- fn(path, kind) runs in its own coroutine (like a timer) once per changed
--- entry of `dir` after the debounce window: kind is "created", "removed",
--- "changed", or "overflow" (path = dir: too many changes at once, rescan).
--- Not recursive. The watch has :stop() and :active().
function M.watch(dir, fn, opts)
  check_path("mw.watch", dir)
  if type(fn) ~= "function" then error("mw.watch: expects a function", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("mw.watch: options must be a table", 2) end
  local debounce = math.tointeger(opts and opts.debounce_ms or DEFAULT_DEBOUNCE_MS)
  if not debounce or debounce < 0 or debounce > 60000 then
    error("mw.watch: debounce_ms must be an integer in 0..60000", 2)
  end
  if opts then runtime.check_options("mw.watch", opts, WATCH_OPTIONS) end
  dir = dir:gsub("(.)/+$", "%1")
  return core.fs_watch(dir, debounce, function(name, renamed)
    local path, kind = dir, "overflow"
    if name then
      path = dir == "/" and "/" .. name or dir .. "/" .. name
      if not renamed then
        kind = "changed"
      else
        -- A rename (create, delete, move) says nothing about the end state:
        -- whether the name exists now does.
        kind = core.fs_stat(path) and "created" or "removed"
      end
    end
    runtime.spawn(fn, nil, nil, path, kind)
  end)
end

M.fs = {}

--- mw.fs.list(dir, max?) -> { { name, type }, … } sorted by name, truncated | nil, err
--- type: "file", "directory", "link" (not followed) or "other"; at most `max`
--- entries (default 10000), truncated = true when there were more.
function M.fs.list(dir, max)
  check_path("mw.fs.list", dir)
  max = max or DEFAULT_MAX_ENTRIES
  if math.type(max) ~= "integer" or max < 0 then error("mw.fs.list: max must be an integer >= 0", 2) end
  return core.fs_list(dir, max)
end

--- mw.fs.stat(path) -> { type, size, mtime } | nil, err (a symlink is reported, not followed)
function M.fs.stat(path)
  check_path("mw.fs.stat", path)
  return core.fs_stat(path)
end

--- mw.fs.realpath(path) -> the absolute path with every symlink resolved | nil, err
function M.fs.realpath(path)
  check_path("mw.fs.realpath", path)
  return core.fs_realpath(path)
end

return M
