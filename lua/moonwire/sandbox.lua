-- Environments for code that is not the framework. A plugin runs in its own
-- _ENV with private copies of the standard libraries, minus what reaches the
-- OS or the interpreter's internals unless the config grants it
-- (plugins = { _grants = { name = { "os.execute", … } } }). Scripts from
-- --scripts dirs keep today's access but get library copies too, so neither
-- can clobber what the framework (or another plugin) relies on.
local S = {}

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

-- Read-only views --------------------------------------------------------------

-- A view of `t` that cannot be written through; nested tables come back as
-- views too (cached, so a view keeps its identity). `shallow` views hand out
-- nested tables as they are (for API tables whose fields are sentinels).
function S.readonly(t, shallow, cache)
  cache = cache or setmetatable({}, { __mode = "k" })
  if cache[t] then return cache[t] end
  local view = {}
  cache[t] = view
  local function wrap(v)
    if type(v) == "table" and not shallow and getmetatable(v) == nil then return S.readonly(v, false, cache) end
    return v
  end
  setmetatable(view, {
    __index = function(_, k) return wrap(t[k]) end,
    __newindex = function(_, k)
      error(("attempt to modify read-only table (key '%s')"):format(tostring(k)), 2)
    end,
    __len = function() return #t end,
    __pairs = function()
      return function(_, k)
        local nk, nv = next(t, k)
        return nk, wrap(nv)
      end, view, nil
    end,
    __metatable = "read-only",
  })
  return view
end

-- A plain copy of a (possibly read-only) config value, for code that wants to mutate.
function S.plain(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = S.plain(x) end
  return out
end

-- Grants ------------------------------------------------------------------------

-- Everything a plugin lacks by default, by the name a grant uses.
S.GRANTS = {
  ["os.execute"] = true, ["os.exit"] = true, ["os.remove"] = true, ["os.rename"] = true,
  ["os.tmpname"] = true, ["os.getenv"] = true, ["os.setlocale"] = true,
  ["io.popen"] = true, ["io.open"] = true, ["io.write"] = true, ["io.read"] = true,
  ["io.stdout"] = true, ["io.stderr"] = true,
  ["load.binary"] = true, ["loadfile"] = true, ["dofile"] = true, ["debug"] = true,
  ["require"] = true, ["collectgarbage"] = true,
}

local SAFE = { "assert", "error", "ipairs", "next", "pairs", "pcall", "print", "rawequal", "rawget",
               "rawlen", "rawset", "select", "setmetatable", "tonumber", "tostring", "type", "xpcall",
               "_VERSION", "warn" }

-- Modules a plugin may require without the "require" grant; the framework
-- ones come as read-only views so nothing can replace mw.tool under others.
local function api_modules()
  local mw = require "moonwire"
  local json = require "moonwire.json"
  local schema = require "moonwire.schema"
  local subs = {}
  for k, v in pairs(mw) do
    if type(v) == "table" and getmetatable(v) == nil and k ~= "DROP" then subs[k] = S.readonly(v, true) end
  end
  -- Plugins have no other millisecond clock (os.clock is CPU time, os.time
  -- whole seconds); rate limits and latencies need one. Loop time, monotonic.
  local core = require "moonwire.core"
  local now = mw.now or function() return core.now() end
  local view = setmetatable({}, {
    __index = function(_, k) return subs[k] or mw[k] or (k == "now" and now or nil) end,
    __newindex = function(_, k) error(("attempt to modify the moonwire API (key '%s')"):format(tostring(k)), 2) end,
    __pairs = function() return function(_, k) local nk, nv = next(mw, k) return nk, subs[nk] or nv end, nil, nil end,
    __metatable = "read-only",
  })
  return { moonwire = view, ["moonwire.json"] = subs.json or S.readonly(json, true),
           ["moonwire.schema"] = S.readonly(schema, true) }
end

-- Builds the _ENV of one plugin. `grants` is a set of grant names; `dir` is
-- the plugin's own directory (for require of its modules) or nil.
function S.plugin_env(name, grants, dir)
  local env = {}
  for _, k in ipairs(SAFE) do env[k] = _G[k] end
  for _, lib in ipairs { "string", "table", "math", "utf8", "coroutine" } do env[lib] = copy(_G[lib]) end

  -- The string metatable is shared by every string in the state: hand out
  -- nothing that leads to it.
  env.getmetatable = function(v)
    if type(v) == "string" then return nil end
    return getmetatable(v)
  end

  local os_ = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime }
  -- Reading files is allowed (a tokens file, say); writing needs "io.open".
  local io_ = { lines = io.lines, open = function(path, mode)
    mode = mode or "r"
    if mode ~= "r" and mode ~= "rb" then
      error("io.open: only read modes without the 'io.open' grant", 2)
    end
    return io.open(path, mode)
  end }
  for g in pairs(grants) do
    local lib, fn = g:match("^(%a+)%.(%a+)$")
    if lib == "os" then os_[fn] = os[fn] end
    if lib == "io" then io_[fn] = io[fn] end
  end
  env.os, env.io = os_, io_
  if grants["debug"] then env.debug = debug end
  if grants["collectgarbage"] then
    env.collectgarbage = collectgarbage
  else
    env.collectgarbage = function(opt)
      if opt == "count" then return collectgarbage("count") end
      error("collectgarbage: only \"count\" is allowed without the 'collectgarbage' grant", 2)
    end
  end

  local binary = grants["load.binary"]
  env.load = function(chunk, chunkname, mode, e)
    if not binary then
      if type(chunk) == "string" and chunk:byte(1) == 27 then
        return nil, "binary chunks need the 'load.binary' grant"
      end
      mode = "t"
    end
    return load(chunk, chunkname, mode or "bt", e == nil and env or e)
  end
  if grants["loadfile"] then
    env.loadfile = function(path, mode, e)
      return loadfile(path, binary and mode or "t", e == nil and env or e)
    end
  end
  if grants["dofile"] then
    env.dofile = function(path)
      local f = assert(loadfile(path, binary and "bt" or "t", env))
      return f()
    end
  end

  local apis = api_modules()
  local loaded = {}
  env.require = function(mod)
    if type(mod) ~= "string" then error("require: module name must be a string", 2) end
    if apis[mod] then return apis[mod] end
    if loaded[mod] ~= nil then return loaded[mod] end
    if dir then
      local path = dir .. "/" .. mod:gsub("%.", "/") .. ".lua"
      local f = io.open(path, "r")
      if f then
        f:close()
        local chunk, err = loadfile(path, binary and "bt" or "t", env)
        if not chunk then error(err, 2) end
        local res = chunk(mod, path)
        if res == nil then res = true end
        loaded[mod] = res
        return res
      end
    end
    if grants["require"] then return require(mod) end
    error(("plugin %s: require '%s' is not allowed (only moonwire, moonwire.json, moonwire.schema and "
           .. "the plugin's own modules without the 'require' grant)"):format(name, mod), 2)
  end

  env._G = env
  return env
end

-- The shared global table of --scripts scripts: reads fall through to the
-- real globals, writes (even through _G) stay here, and the libraries are
-- copies, so `string.format = nil` in a script cannot break the framework.
function S.scripts_globals()
  local g = {}
  for _, lib in ipairs { "string", "table", "math", "utf8", "coroutine", "os", "io" } do g[lib] = copy(_G[lib]) end
  g._G = g
  return setmetatable(g, { __index = _G })
end

return S
