-- Serves a directory as MCP resources: every file under FILES_ROOT (default:
-- ../sample next to this script) is listed by resources/list and readable
-- through the template file:///{+path}; subscribers of a file hear
-- notifications/resources/updated when it changes on disk, and every client
-- hears notifications/resources/list_changed when files come or go.
--
--   ./build/moonwire --scripts examples/files/scripts
--   FILES_ROOT=/srv/docs ./build/moonwire --scripts examples/files/scripts
--
-- Paths are relative to the root. A path with an empty, "." or ".." segment,
-- any hidden (dot) name, a leading "/" or a NUL is refused, and so is
-- anything whose real path (symlinks resolved) leaves the root.
local mw = require "moonwire"

local MAX_FILES = 500        -- listed at most (the first found, breadth-first)
local MAX_DIRS = 64          -- directories scanned and watched
local MAX_DEPTH = 4          -- directory levels below the root
local MAX_BYTES = 1024 * 1024 -- largest file a read returns

local HERE = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local ROOT_ARG = os.getenv("FILES_ROOT") or (HERE .. "/../sample")

local root, rerr = mw.fs.realpath(ROOT_ARG)
if not root then error("files example: FILES_ROOT " .. rerr, 0) end
local rst = mw.fs.stat(root)
if not rst or rst.type ~= "directory" then error("files example: FILES_ROOT " .. root .. " is not a directory", 0) end
local PREFIX = root == "/" and "/" or root .. "/"

local INVALID_PARAMS = -32602

-- Paths and URIs -----------------------------------------------------------

local function abs(rel) return rel == "" and root or PREFIX .. rel end

-- Percent-encodes everything but RFC 3986 unreserved characters and "/".
local function uri_of(rel)
  return "file:///" .. rel:gsub("[^%w%-%._~/]", function(c) return ("%%%02X"):format(c:byte()) end)
end

-- Checks a client-supplied relative path; returns nil and why if it is refused.
local function bad_path(rel)
  if rel == "" then return "empty path" end
  if rel:find("\0", 1, true) then return "NUL byte in path" end
  if rel:sub(1, 1) == "/" then return "absolute path" end
  for seg in (rel .. "/"):gmatch("([^/]*)/") do
    if seg == "" then return "empty path segment" end
    if seg == ".." then return "'..' segment" end
    if seg:sub(1, 1) == "." then return "hidden or '.' segment" end
  end
end

-- Content types ------------------------------------------------------------

local MIME = {
  txt = "text/plain", md = "text/markdown", csv = "text/csv", html = "text/html", css = "text/css",
  lua = "text/x-lua", js = "text/javascript", json = "application/json", xml = "application/xml",
  yaml = "application/yaml", yml = "application/yaml", svg = "image/svg+xml",
  png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", gif = "image/gif", webp = "image/webp",
  pdf = "application/pdf", zip = "application/zip", gz = "application/gzip", wasm = "application/wasm",
}

local function mime_by_name(rel)
  local ext = rel:match("%.([%w]+)$")
  return ext and MIME[ext:lower()]
end

local function is_text_mime(m)
  return m:match("^text/") or m == "application/json" or m == "application/xml"
    or m == "application/yaml" or m == "image/svg+xml"
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = {}
    for k = 1, 4 do
      local v = (n >> (6 * (4 - k))) & 63
      q[k] = B64:sub(v + 1, v + 1)
    end
    if not b then q[3] = "=" end
    if not c then q[4] = "=" end
    out[#out + 1] = table.concat(q)
  end
  return table.concat(out)
end

-- The tree ----------------------------------------------------------------

local files = {}    -- relative paths of the listed files, sorted
local listed = {}   -- rel -> true
local watches = {}  -- relative dir ("" = root) -> watch
local on_change     -- forward declaration: the watch callback

-- Walks the root breadth-first within the limits; returns files and dirs.
local function scan()
  local found, dirs = {}, { "" }
  local i = 1
  while i <= #dirs do
    local dir = dirs[i]
    i = i + 1
    local entries = mw.fs.list(abs(dir), MAX_FILES + MAX_DIRS) or {}
    local depth = select(2, dir:gsub("/", "")) + (dir == "" and 0 or 1)
    for _, e in ipairs(entries) do
      if e.name:sub(1, 1) ~= "." then
        local rel = dir == "" and e.name or dir .. "/" .. e.name
        if e.type == "file" and #found < MAX_FILES then
          found[#found + 1] = rel
        elseif e.type == "directory" and #dirs < MAX_DIRS and depth < MAX_DEPTH then
          dirs[#dirs + 1] = rel
        end
      end
    end
  end
  table.sort(found)
  return found, dirs
end

-- Re-reads the tree, watches new directories and drops gone ones; returns
-- true when the set of files changed.
local function rescan()
  local found, dirs = scan()
  local want = {}
  for _, dir in ipairs(dirs) do
    want[dir] = true
    if not watches[dir] then
      local w, err = mw.watch(abs(dir), on_change)
      if not w then mw.log("warn", "files example: cannot watch", { dir = abs(dir), error = err }) end
      watches[dir] = w or false
    end
  end
  for dir, w in pairs(watches) do
    if not want[dir] then
      if w then w:stop() end
      watches[dir] = nil
    end
  end
  local changed = #found ~= #files
  local now = {}
  for i, rel in ipairs(found) do
    now[rel] = true
    if files[i] ~= rel then changed = true end
  end
  files, listed = found, now
  return changed
end

function on_change(path, kind)
  -- Only entries that come or go change the tree; an edit just needs its update.
  if kind ~= "changed" and rescan() then mw.list_changed("resources") end
  if kind == "overflow" then
    -- Too much happened to say what: tell every file's subscribers.
    for _, rel in ipairs(files) do mw.resource_updated(uri_of(rel)) end
    return
  end
  local rel = path:sub(#PREFIX + 1)
  -- "created" also covers an editor saving by renaming over the old file,
  -- and a subscriber of a removed file learns that it is gone.
  if listed[rel] or kind == "removed" then mw.resource_updated(uri_of(rel)) end
end

rescan()

-- Declarations -------------------------------------------------------------

local function read(uri, vars, ctx)
  local rel = vars.path
  local why = bad_path(rel)
  if why then error({ code = INVALID_PARAMS, message = "Invalid path: " .. why, data = { uri = uri } }, 0) end
  local real = mw.fs.realpath(abs(rel))
  if not real then return nil, "No such file: " .. rel end
  if real:sub(1, #PREFIX) ~= PREFIX then
    error({ code = INVALID_PARAMS, message = "Invalid path: it leaves the served directory", data = { uri = uri } }, 0)
  end
  local st = mw.fs.stat(real)
  if not st or st.type ~= "file" then return nil, "Not a file: " .. rel end
  if st.size > MAX_BYTES then
    error({ code = INVALID_PARAMS, message = ("File too large: %d bytes (max %d)"):format(st.size, MAX_BYTES),
            data = { uri = uri } }, 0)
  end
  local f, oerr = io.open(real, "rb")
  if not f then return nil, "Cannot open " .. rel .. ": " .. tostring(oerr) end
  local data = f:read(MAX_BYTES + 1) or ""
  f:close()
  local mime = mime_by_name(rel)
  if not mime then
    -- Unknown extension: text if it looks like UTF-8 without NULs.
    mime = (not data:find("\0", 1, true) and utf8.len(data)) and "text/plain" or "application/octet-stream"
  end
  if is_text_mime(mime) then return { text = data, mime_type = mime } end
  return { blob = base64(data), mime_type = mime }
end

mw.resource_template {
  uri_template = "file:///{+path}", name = "files", title = "Files",
  description = "A file under the served directory, by its path relative to it",
  handler = read,
  list = function(ctx)
    local items = {}
    for i, rel in ipairs(files) do
      local st = mw.fs.stat(abs(rel))
      items[i] = { uri = uri_of(rel), name = rel, mime_type = mime_by_name(rel), size = st and st.size }
    end
    return items
  end,
  complete = {
    path = function(argument, ctx)
      local typed, out = argument.value or "", {}
      for _, rel in ipairs(files) do
        if rel:sub(1, #typed) == typed then out[#out + 1] = rel end
        if #out == 100 then break end
      end
      return out
    end,
  },
}

mw.log("info", "files example: serving", { root = root, files = tostring(#files) })
