-- Plugins: which ones run and with what config comes from the `plugins`
-- table of the --config file; each is a Lua module found on the plugin paths,
-- loaded in its own sandboxed _ENV, its config validated against its
-- config_schema (defaults filled in) and handed over read-only. Everything a
-- plugin declares lives in this generation, so a reload replaces it whole.
-- See docs/plugins.md.
local core = require "moonwire.core"
local schema = require "moonwire.schema"
local sandbox = require "moonwire.sandbox"
local filters = require "moonwire.filters"

local P = {
  list = {},          -- loaded plugins, highest priority first
  on_request = {},    -- { plugin, fn, config } in priority order
  on_response = {},
  on_session_open = {},
  on_session_close = {},
}

-- lua/moonwire/plugins.lua -> the repo's plugins/ next to lua/.
local LUA_DIR = debug.getinfo(1, "S").source:match("^@(.*)/moonwire/[^/]*$")
P.DEFAULT_PATH = LUA_DIR and (LUA_DIR .. "/../plugins") or "plugins"

local RESERVED = { _paths = true, _grants = true }

local function fail(fmt, ...) error(fmt:format(...), 0) end

local function file_exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end

-- Reads the `plugins` table out of the config file. Like the C reader, the
-- file runs with an empty environment and no libraries.
function P.read_config(path)
  if not path then return nil end
  local env = {}
  local chunk, err = loadfile(path, "t", env)
  if not chunk then fail("config: %s", err) end
  local ok, e = pcall(chunk)
  if not ok then fail("config: %s", tostring(e)) end
  if env.plugins ~= nil and type(env.plugins) ~= "table" then fail("config: plugins must be a table") end
  return env.plugins
end

local function find_module(paths, name)
  for _, dir in ipairs(paths) do
    local single = dir .. "/" .. name .. ".lua"
    if file_exists(single) then return single, nil end
    local init = dir .. "/" .. name .. "/init.lua"
    if file_exists(init) then return init, dir .. "/" .. name end
  end
end

-- Fills `default`s of object properties (recursively) where the value is absent.
local function fill_defaults(sch, value)
  if type(sch) ~= "table" or type(value) ~= "table" or type(sch.properties) ~= "table" then return end
  for k, sub in pairs(sch.properties) do
    if type(sub) == "table" then
      if value[k] == nil and sub.default ~= nil then value[k] = sandbox.plain(sub.default) end
      if type(value[k]) == "table" then fill_defaults(sub, value[k]) end
    end
  end
end

-- "$.limits.burst: expected integer, got string" -> "config key 'limits.burst': expected …"
local function config_error(name, err)
  local path, msg = tostring(err):match("^%$%.?([^:]*): (.*)$")
  if path == nil then return ("plugin '%s': config: %s"):format(name, tostring(err)) end
  if path == "" then return ("plugin '%s': config: %s"):format(name, msg) end
  return ("plugin '%s': config key '%s': %s"):format(name, path, msg)
end

local PLUGIN_KEYS = {
  name = "string", version = "string", priority = "number", config_schema = "table",
  init = "function", on_request = "function", on_response = "function", on_session_open = "function",
  on_session_close = "function", on_message_in = "function", on_message_out = "function",
  description = "string",
}

-- The handle passed to init(p, config): declarations go through the public
-- mw API (same validation, same file:line errors), filters into filters.lua.
local Handle = {}
Handle.__index = Handle

local function forward(fn_name)
  return function(self, decl) return require("moonwire")[fn_name](decl) end
end
Handle.tool = forward("tool")
Handle.resource = forward("resource")
Handle.resource_template = forward("resource_template")
Handle.prompt = forward("prompt")
Handle.completion = forward("completion")
Handle.route = forward("route")

local filter_seq = 0

local function add_filter(plugin, decl, level)
  if type(decl) ~= "table" then error("p:filter: expects a table", level) end
  for k in pairs(decl) do
    if k ~= "direction" and k ~= "methods" and k ~= "handler" then
      error(("p:filter: unknown key '%s'"):format(tostring(k)), level)
    end
  end
  if decl.direction ~= "in" and decl.direction ~= "out" then
    error("p:filter: 'direction' must be \"in\" or \"out\"", level)
  end
  if type(decl.handler) ~= "function" then error("p:filter: 'handler' must be a function", level) end
  local methods
  if decl.methods ~= nil then
    if type(decl.methods) ~= "table" then error("p:filter: 'methods' must be a list of strings", level) end
    methods = {}
    for _, m in ipairs(decl.methods) do
      if type(m) ~= "string" then error("p:filter: 'methods' must be a list of strings", level) end
      methods[m] = true
    end
  end
  filter_seq = filter_seq + 1
  filters.add({ plugin = plugin.name, priority = plugin.priority, order = filter_seq,
                direction = decl.direction, methods = methods, handler = decl.handler,
                config = plugin.config })
end

--- p:filter { direction = "in"|"out", methods = { "tools/call" }?, handler = fn(msg, ctx) }
function Handle:filter(decl) add_filter(self._plugin, decl, 3) end

local function load_plugin(name, conf, paths, grants)
  local path, dir = find_module(paths, name)
  if not path then
    fail("plugin '%s': not found (looked for %s.lua and %s/init.lua in %s)", name, name, name,
         table.concat(paths, ", "))
  end
  local gset = {}
  for _, g in ipairs(grants or {}) do
    if type(g) ~= "string" or not sandbox.GRANTS[g] then
      fail("plugin '%s': unknown grant '%s' in plugins._grants", name, tostring(g))
    end
    gset[g] = true
  end
  local env = sandbox.plugin_env(name, gset, dir)
  local chunk, err = loadfile(path, "t", env)
  if not chunk then fail("plugin '%s': %s", name, err) end
  local ok, mod = xpcall(chunk, debug.traceback, name, path)
  if not ok then fail("plugin '%s': %s", name, tostring(mod)) end
  if type(mod) ~= "table" then fail("plugin '%s': %s must return a table, got %s", name, path, type(mod)) end
  for k, v in pairs(mod) do
    local want = PLUGIN_KEYS[k]
    if not want then fail("plugin '%s': unknown key '%s' in the plugin table", name, tostring(k)) end
    if type(v) ~= want then fail("plugin '%s': '%s' must be a %s, got %s", name, k, want, type(v)) end
  end
  if mod.name ~= nil and mod.name ~= name then
    fail("plugin '%s': its table names it '%s'", name, mod.name)
  end
  if mod.priority ~= nil and math.type(mod.priority) ~= "integer" then
    fail("plugin '%s': 'priority' must be an integer", name)
  end

  -- Config: a copy (the config file's tables stay untouched), defaults in, then validated.
  if conf == true then conf = {} end
  if type(conf) ~= "table" then
    fail("plugin '%s': config must be a table (or true), got %s", name, type(conf))
  end
  local config = sandbox.plain(conf)
  if mod.config_schema then
    local sch = mod.config_schema
    local okc, serr = schema.check(sch)
    if not okc then fail("plugin '%s': config_schema: %s", name, serr) end
    fill_defaults(sch, config)
    local okv, verr = schema.validate(sch, config)
    if not okv then error(config_error(name, verr), 0) end
  end
  return { name = name, version = mod.version, priority = mod.priority or 0, path = path, mod = mod,
           config = sandbox.readonly(config) }
end

local function add_hook(list, plugin, fn)
  if fn then list[#list + 1] = { plugin = plugin.name, fn = fn, config = plugin.config } end
end

-- Loads the plugins the config file names (nothing when there is no config
-- file or no plugins table). Errors are thrown as strings naming the plugin.
function P.load(config_path)
  local conf = P.read_config(config_path)
  if not conf then return true end
  local base = config_path and dirname(config_path) or "."
  local paths = {}
  if conf._paths ~= nil then
    if type(conf._paths) ~= "table" then fail("config: plugins._paths must be a list of directories") end
    for _, p in ipairs(conf._paths) do
      if type(p) ~= "string" then fail("config: plugins._paths must be a list of directories") end
      paths[#paths + 1] = p:sub(1, 1) == "/" and p or (base .. "/" .. p)
    end
  else
    paths[1] = P.DEFAULT_PATH
  end
  -- Editing a plugin hot-reloads like editing a script. (Not the config
  -- file's directory: logs written next to it would reload forever; send
  -- SIGHUP after editing the config.)
  if core.watch then
    for _, p in ipairs(paths) do core.watch(p) end
  end
  local grants = conf._grants or {}
  if type(grants) ~= "table" then fail("config: plugins._grants must be a table of name = { grant, … }") end
  for gname in pairs(grants) do
    if type(gname) ~= "string" or conf[gname] == nil then
      fail("config: plugins._grants names '%s', which is not a configured plugin", tostring(gname))
    end
  end

  local names = {}
  for name in pairs(conf) do
    if type(name) ~= "string" then fail("config: plugins keys must be plugin names") end
    if not RESERVED[name] then
      if name:sub(1, 1) == "_" or not name:match("^[%w_%-]+$") then
        fail("config: '%s' is not a valid plugin name (reserved keys: _paths, _grants)", name)
      end
      names[#names + 1] = name
    end
  end
  table.sort(names)
  local list = {}
  for _, name in ipairs(names) do list[#list + 1] = load_plugin(name, conf[name], paths, grants[name]) end
  -- Higher priority first; equal priorities by name, so the order is stable.
  table.sort(list, function(a, b)
    if a.priority ~= b.priority then return a.priority > b.priority end
    return a.name < b.name
  end)
  P.list = list

  for _, plugin in ipairs(list) do
    local mod = plugin.mod
    local handle = setmetatable({ name = plugin.name, config = plugin.config, _plugin = plugin }, Handle)
    if mod.init then
      local ok, err = xpcall(mod.init, debug.traceback, handle, plugin.config)
      if not ok then
        if type(err) == "table" then err = err.message or tostring(err) end
        fail("plugin '%s': init: %s", plugin.name, tostring(err))
      end
    end
    if mod.on_message_in then add_filter(plugin, { direction = "in", handler = mod.on_message_in }, 2) end
    if mod.on_message_out then add_filter(plugin, { direction = "out", handler = mod.on_message_out }, 2) end
    add_hook(P.on_request, plugin, mod.on_request)
    add_hook(P.on_response, plugin, mod.on_response)
    add_hook(P.on_session_open, plugin, mod.on_session_open)
    add_hook(P.on_session_close, plugin, mod.on_session_close)
  end
  core.log("info", "plugins loaded", { count = tostring(#list) })
  return true
end

return P
