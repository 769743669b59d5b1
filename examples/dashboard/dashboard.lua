-- The page an operator keeps open: GET /dashboard/ shows connections, sessions,
-- streams, events/s and heartbeats/s over the last minutes and the reload
-- status. A timer publishes one snapshot of mw.stats() a second on a channel;
-- the page reads it with client/sse-connection.js, so it rides out restarts.
local mw = require "moonwire"

local CHANNEL = "dashboard"
local PERIOD_S = 1
local SEQ_KEY = "dashboard:seq"      -- number of the last snapshot (kept across reloads)
local OFFSET_KEY = "dashboard:wall0"  -- wall clock minus loop time, once per process

-- Files are found next to this script, wherever the scripts directory is.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local index_html = read(here .. "/index.html")
if not index_html then error({ message = ("dashboard: %s/index.html is missing"):format(here) }) end

-- The client lives in client/ of the source tree: two levels above the
-- example, or next to the framework's lua/ directory in an install.
local function find_client()
  local tried = { here .. "/../../client/sse-connection.js" }
  for dir in package.path:gmatch("([^;]+)/%?%.lua") do
    tried[#tried + 1] = dir .. "/../client/sse-connection.js"
  end
  for _, path in ipairs(tried) do
    local text = read(path)
    if text then return text end
  end
  return nil, table.concat(tried, ", ")
end

local client_js, tried = find_client()
if not client_js then
  mw.log("warn", "dashboard: client/sse-connection.js not found; the page cannot run",
         { tried = tried })
end

local NO_CACHE = "no-cache"

mw.route { path = "/dashboard", handler = function(req, ctx)
  -- The page imports ./sse-connection.js: that must resolve under /dashboard/.
  return { status = 301, headers = { Location = "/dashboard/" }, body = "" }
end }

mw.route { path = "/dashboard/", handler = function(req, ctx)
  return { headers = { ["Content-Type"] = "text/html; charset=utf-8", ["Cache-Control"] = NO_CACHE },
           body = index_html }
end }

mw.route { path = "/dashboard/sse-connection.js", handler = function(req, ctx)
  if not client_js then
    -- Where it looked is in the server's log, not for every client to read.
    error({ status = 404, message = "this server has no client/sse-connection.js (see its log)" })
  end
  return { headers = { ["Content-Type"] = "text/javascript; charset=utf-8", ["Cache-Control"] = NO_CACHE },
           body = client_js }
end }

-- Live snapshots. A page that reconnects (Last-Event-ID) gets what it missed
-- from the channel's replay buffer; after a restart it gets `gap` instead.
mw.route { path = "/dashboard/stream", channel = CHANNEL }

-- The last HISTORY snapshots sit in mw.shared, slot seq % HISTORY, so a page
-- that opens draws the last five minutes at once, and a reload keeps them.
local HISTORY = 300
local function slot(seq) return "dashboard:snapshot:" .. (seq % HISTORY) end

mw.route { path = "/dashboard/history", handler = function(req, ctx)
  local last = mw.shared:get(SEQ_KEY) or 0
  local out = {}
  for seq = math.max(1, last - HISTORY + 1), last do
    out[#out + 1] = mw.shared:get(slot(seq))
  end
  return { headers = { ["Content-Type"] = "application/json", ["Cache-Control"] = NO_CACHE },
           body = "[" .. table.concat(out, ",") .. "]" }
end }

-- Loop time is monotonic but starts at an arbitrary point; snapshots carry
-- wall-clock milliseconds from an offset fixed once per process, so their
-- times never go backwards across reloads.
local function wall_ms()
  local offset = mw.shared:get(OFFSET_KEY)
  if not offset then
    offset = os.time() * 1000 - mw.now()
    mw.shared:set(OFFSET_KEY, offset)
  end
  return offset + mw.now()
end

local function per_second(now, prev, field, dt_ms)
  if not prev or dt_ms <= 0 then return 0 end
  local d = now[field] - (prev[field] or 0)
  if d < 0 then return 0 end
  return math.floor(d * 1000 / dt_ms * 10 + 0.5) / 10
end

-- One snapshot of mw.stats(), stored in its history slot; returns its JSON text.
local function snapshot()
  local s = mw.stats()
  local seq = mw.shared:incr(SEQ_KEY)
  local snap = {
    seq = seq,
    time_ms = wall_ms(),
    uptime_s = s.uptime_s,
    connections = s.connections, streams = s.streams, sessions = s.sessions, channels = s.channels,
    events_sent = s.events_sent, heartbeats_sent = s.heartbeats_sent,
    connections_accepted = s.connections_accepted, sessions_created = s.sessions_created,
    sessions_expired = s.sessions_expired, events_replayed = s.events_replayed,
    replay_gaps = s.replay_gaps, slow_consumers_dropped = s.slow_consumers_dropped,
    bytes_out = s.bytes_out, lua_errors = s.lua_errors,
    lua_memory_bytes = s.lua_memory_bytes, rss_bytes = s.rss_bytes or mw.json.null,
    reload = {
      generation = s.current_generation,
      ok = s.last_reload_error == nil,
      at_ms = s.last_reload_unix_ms,
      seconds = s.last_reload_seconds,
      error = s.last_reload_error or mw.json.null,
      reloads_ok = s.reloads_ok, reloads_failed = s.reloads_failed,
    },
  }
  local prev = mw.json.decode(mw.shared:get(slot(seq - 1)) or "null")
  if prev == mw.json.null or prev.seq ~= seq - 1 then prev = nil end
  local dt = prev and snap.time_ms - prev.time_ms or 0
  snap.events_per_s = per_second(snap, prev, "events_sent", dt)
  snap.heartbeats_per_s = per_second(snap, prev, "heartbeats_sent", dt)
  snap.bytes_out_per_s = per_second(snap, prev, "bytes_out", dt)
  local text = mw.json.encode(snap)
  mw.shared:set(slot(seq), text, HISTORY + 10)
  return text
end

mw.every(PERIOD_S, function()
  mw.publish(CHANNEL, { event = "snapshot", data = snapshot() })
end)
