-- JSON for Moonwire: lua-cjson 2.1.0 (Debian) with the gaps that matter for JSON-RPC closed:
-- integral numbers decode as Lua integers, integers and floats encode without losing digits,
-- empty arrays survive a round trip, and "/" is not escaped. 2.1.0 has none of array_mt,
-- empty_array, decode_array_with_array_mt or encode_escape_forward_slash, and caps
-- encode_number_precision at 14, so this module does that work itself.
--
-- Approach: cjson parses and serialises in C; Lua only walks the value tree, once per call.
--  * decode: cjson.decode, then one walk that turns integral floats within +-2^53 into integers
--    and gives every array a metatable. cjson decodes [] and {} to the same empty table, so when
--    the text holds an empty array outside a string (plain finds, then a quote-aware scan) we
--    also decode a twin of the text in which each such [] became [0], and the walk reads it side
--    by side to learn which empty tables were arrays. No sentinel value can collide with data.
--  * encode: a walk checks every number and empty table. If nothing needs fixing (the common
--    case) the value goes to cjson.encode untouched. Otherwise only the tables on the path to a
--    problem value are copied, that value becomes a placeholder string with a random tag, and the
--    placeholders are spliced out of cjson's output (their count guards against collisions).
-- Measured with os.clock over 100k iterations (best of 5) on a tools/call request and its result:
--   decode: raw cjson 1.8 us, json.decode 3.7 us; 7.9 us when the text has an empty array.
--   encode: raw cjson 1.8 us, json.encode 3.7 us; 6.3 us with id 2^53-1, 7.3 us with a json.array().
--   A pure-Lua codec (dkjson) takes 24 us for either, hence cjson plus a walk.
--
-- Inside the server both directions are one C pass each instead (moonwire.jsoncodec) with the
-- same results, about half the cost (a tools/call request and its answer: 22k -> 13k and 12k -> 7k
-- instructions): decode sizes each table once where cjson grows them key by key, and neither needs
-- a second walk. Elsewhere (plain lua5.4, the specs) cjson and the walks below do
-- the work; core/tests/test_jsoncodec.c holds the two paths to the same results. The C decoder
-- is stricter in one place: cjson's strtod takes "1." and "-.5", which are not JSON.
--
-- Assumes LC_NUMERIC is "C" (so unless the process calls setlocale): string.format("%g") follows it.
local cjson = require "cjson"
local has_codec, codec = pcall(require, "moonwire.jsoncodec")

local type, next, tostring, tonumber = type, next, tostring, tonumber
local getmetatable, setmetatable, pcall, error = getmetatable, setmetatable, pcall, error
local find, gsub, format, byte, sub = string.find, string.gsub, string.format, string.byte, string.sub
local concat = table.concat
local tointeger, math_type, huge, random = math.tointeger, math.type, math.huge, math.random

-- Private instance: the settings below must not leak to other users of require "cjson".
local cj = cjson.new()
local MAX_DEPTH = 1000 -- cjson's default nesting limit, kept for both directions
cj.decode_max_depth(MAX_DEPTH)
cj.encode_max_depth(MAX_DEPTH)
cj.encode_number_precision(14) -- the most 2.1.0 allows; larger values are patched in by encode
cj.encode_invalid_numbers(false) -- NaN and Inf are not JSON: encoding them is an error
cj.decode_invalid_numbers(false) -- reject NaN, Infinity and 0x1F in input
-- Holes in a list become null (up to cjson's default ratio: 2x, or any index <= 10); a table whose
-- integer keys are sparser than that is a map and encodes as an object with string keys, since
-- Lua has no other way to write an integer-keyed map. Mixed tables ({1, x = 2}) are objects too.
cj.encode_sparse_array(true, 2, 10)

local M = {}

-- The JSON null value (a lightuserdata); decoded null is this, and encoding it gives null.
M.null = cjson.null

local array_mt = { __name = "moonwire.json.array" }
local object_mt = { __name = "moonwire.json.object" }

local function mark(t, mt, what)
  if t == nil then
    t = {}
  elseif type(t) ~= "table" then
    error({ code = "json_type", message = "json." .. what .. ": expected a table, got " .. type(t) })
  end
  local old = getmetatable(t)
  if old ~= nil and old ~= array_mt and old ~= object_mt then
    error({ code = "json_type", message = "json." .. what .. ": table already has a metatable" })
  end
  return setmetatable(t, mt)
end

-- Marks `t` (default: a new table) as a JSON array, so that it encodes as [] even when empty.
-- Returns `t`. Non-empty tables follow the usual rules (a list is an array).
function M.array(t)
  return mark(t, array_mt, "array")
end

-- Marks `t` (default: a new table) as a JSON object: it encodes as {} when empty, and integer
-- keys become string keys ({"1": ...}) instead of making it a list. Returns `t`.
function M.object(t)
  return mark(t, object_mt, "object")
end

-- True if `t` encodes as a JSON array: a decoded array, a json.array table, or a non-empty list
-- with keys exactly 1..#t. Empty unmarked tables are objects.
function M.is_array(t)
  if type(t) ~= "table" then
    return false
  end
  local mt = getmetatable(t)
  if mt == array_mt then
    return true
  elseif mt == object_mt or t[1] == nil then
    return false
  end
  local n, len = 0, #t
  for k in next, t do
    if math_type(k) ~= "integer" or k < 1 or k > len then
      return false
    end
    n = n + 1
  end
  return n == len
end

---------------------------------------------------------------------------------------------------
-- decode

-- Finds the next "[" followed by optional JSON whitespace and "]", from `init`; returns its first
-- and last positions. Hopping between plain finds of "[" is ~30x cheaper than one pattern find.
local function find_empty_array(s, init)
  local a = find(s, "[", init, true)
  while a do
    local c = byte(s, a + 1)
    if c == 93 then -- ]
      return a, a + 1
    elseif c == 32 or c == 9 or c == 10 or c == 13 then
      local _, b = find(s, "^[ \t\n\r]*%]", a + 1)
      if b then
        return a, b
      end
    end
    a = find(s, "[", a + 1, true)
  end
  return nil
end

-- Returns `s` with every empty array outside a string replaced by [0], or nil if there is none.
-- Strings are skipped quote to quote with plain finds; only a quote after a backslash needs a look
-- back (an odd run of backslashes escapes it).
local function fill_empty_arrays(s)
  local out, n = {}, 0
  local last, i = 1, 1 -- `i` is always outside a string
  local a, b = find_empty_array(s, 1)
  while a do
    local q = find(s, '"', i, true)
    if q and q < a then
      local e = find(s, '"', q + 1, true)
      while e and byte(s, e - 1) == 92 do
        local k = e - 2
        while byte(s, k) == 92 do
          k = k - 1
        end
        if (e - 1 - k) % 2 == 0 then
          break
        end
        e = find(s, '"', e + 1, true)
      end
      if not e then
        break -- unterminated string: cjson has already rejected it, so this is unreachable
      end
      i = e + 1
      if i > a then
        a, b = find_empty_array(s, i)
      end
    else
      out[n + 1], out[n + 2] = sub(s, last, a), "0]"
      n = n + 2
      last, i = b + 1, b + 1
      a, b = find_empty_array(s, i)
    end
  end
  if n == 0 then
    return nil
  end
  out[n + 1] = sub(s, last)
  return concat(out)
end

local MAX_EXACT = 2 ^ 53

-- cjson gives every number as a float; integral ones in +-2^53 (exact in a double) become
-- integers. -0 stays a float so that it re-encodes as -0. Larger integral values stay floats:
-- strtod has already rounded them, and an integer would pretend to a precision we do not have
-- (2^53 itself is the one integer that may be such a rounding, of 2^53 + 1).
local function to_integer(v)
  if v % 1 == 0 and v >= -MAX_EXACT and v <= MAX_EXACT and (v ~= 0 or 1 / v > 0) then
    return tointeger(v)
  end
  return v
end

-- Walks a freshly decoded table: integers, and array metatables. `twin` is the same node decoded
-- from the text with [] rewritten to [0] (or nil when the text has no empty array): an empty
-- table here whose twin is not empty was an empty array. Returns false at a number strtod
-- overflowed to +-inf (1e400), which no encoder could write back.
local function fix(t, twin)
  local k = next(t)
  if k == nil then
    if twin ~= nil and twin[1] ~= nil then
      setmetatable(t, array_mt)
    end
    return true
  end
  if type(k) == "number" then -- cjson gives objects string keys only
    setmetatable(t, array_mt)
    for i = 1, #t do -- cjson arrays have no holes: null is json.null
      local v = t[i]
      local tv = type(v)
      if tv == "number" then
        if v == huge or v == -huge then
          return false
        end
        t[i] = to_integer(v)
      elseif tv == "table" and not fix(v, twin and twin[i]) then
        return false
      end
    end
  else
    for key, v in next, t do
      local tv = type(v)
      if tv == "number" then
        if v == huge or v == -huge then
          return false
        end
        t[key] = to_integer(v) -- assigning an existing field during traversal is allowed
      elseif tv == "table" and not fix(v, twin and twin[key]) then
        return false
      end
    end
  end
  return true
end

local OUT_OF_RANGE = "number out of range (beyond a double)"

-- Decodes one JSON text. Returns the value, or nil and a message if `s` is not valid JSON, nests
-- deeper than 1000 or holds a number too large for a double. Never throws for bad input.
function M.decode(s)
  local ok, v = pcall(cj.decode, s)
  if not ok then
    return nil, v
  end
  local tv = type(v)
  if tv == "table" then
    local twin
    if find_empty_array(s, 1) then
      local filled = fill_empty_arrays(s)
      if filled then
        twin = cj.decode(filled) -- cannot fail: the rewrite keeps valid JSON valid
      end
    end
    if not fix(v, twin) then
      return nil, OUT_OF_RANGE
    end
  elseif tv == "number" then
    if v == huge or v == -huge then
      return nil, OUT_OF_RANGE
    end
    v = to_integer(v)
  end
  return v
end

---------------------------------------------------------------------------------------------------
-- encode

-- Placeholders for the current encode call; module state is fine since encode never yields.
local tag, repl, nrepl

local function placeholder(text)
  if not repl then
    -- random, so that data cannot be crafted to match; a match is caught by counting anyway
    tag, repl, nrepl = "mw" .. random(0, 0x7fffffff) .. ":", {}, 0
  end
  nrepl = nrepl + 1
  repl[tostring(nrepl)] = text
  return "\0" .. tag .. nrepl .. "\0"
end

-- Returns the text for a number that cjson's %.14g would get wrong, or nil if cjson gets it right
-- (or must reject it: NaN, Inf).
local function number_text(v)
  if math_type(v) == "integer" then
    return format("%d", v)
  elseif v ~= v or v == huge or v == -huge then
    return nil
  end
  if tonumber(format("%.14g", v)) == v then
    return nil
  end
  for p = 15, 16 do
    local s = format("%." .. p .. "g", v)
    if tonumber(s) == v then
      return s
    end
  end
  return format("%.17g", v)
end

local function clone(t)
  local c = {}
  for k, v in next, t do
    c[k] = v
  end
  return c
end

-- Returns `t` if cjson can encode it as is, or a copy in which problem values are placeholders.
-- Hot path: one next() and one type() per field, nothing allocated unless something needs fixing.
local function prep(t, depth)
  if depth > MAX_DEPTH then
    error({ code = "json_encode", message = "Cannot serialise, excessive nesting (" .. depth .. ")" })
  end
  local copy
  local k, v = next(t)
  if k == nil then
    if getmetatable(t) == array_mt then
      return placeholder("[]")
    end
    return t
  end
  repeat
    local tv = type(v)
    if tv == "table" then
      local nv = prep(v, depth + 1)
      if nv ~= v then
        copy = copy or clone(t)
        copy[k] = nv
      end
    elseif tv == "number" and not (v > -1e14 and v < 1e14 and v % 1 == 0) then
      -- below 1e14 an integral value has at most 14 digits, which cjson prints exactly
      local text = number_text(v)
      if text then
        copy = copy or clone(t)
        copy[k] = placeholder(text)
      end
    end
    k, v = next(t, k)
  until k == nil
  if getmetatable(t) == object_mt then
    -- cjson would make a list of a table with only integer keys: give it string keys instead
    local src, obj, numkeys = copy or t, {}, false
    for key, val in next, src do
      if type(key) == "number" then
        numkeys = true
        key = number_text(key) or tostring(key)
      end
      obj[key] = val
    end
    if numkeys then
      copy = obj
    end
  end
  return copy or t
end

-- Replaces the placeholders in cjson's output. Returns nil if their count is off, which means
-- a string in the data equals a placeholder.
local function patch(out)
  local mark = '"\\u0000' .. tag
  local parts, n, count, last = {}, 0, 0, 1
  local a = find(out, mark, 1, true)
  while a do
    local _, b, idx = find(out, '^(%d+)\\u0000"', a + #mark)
    local text = b and repl[idx]
    if text then
      parts[n + 1], parts[n + 2] = sub(out, last, a - 1), text
      n, count, last = n + 2, count + 1, b + 1
    end
    a = find(out, mark, (b or a) + 1, true)
  end
  if count ~= nrepl then
    return nil
  end
  parts[n + 1] = sub(out, last)
  return concat(parts)
end

-- cjson 2.1.0 always writes "/" as "\/" (no encode_escape_forward_slash yet), so every "/" in its
-- output follows that backslash: drop it. `a` is the first "\/". Plain finds cost ~140 ns a slash
-- and gsub ~7 ns a byte, so hop while slashes are sparse (a method name, a URI) and hand the rest
-- to gsub once they come closer than 20 bytes apart on average (a list of file URIs).
local function unescape_slashes(out, a)
  local parts, n, last = {}, 0, 1
  repeat
    n = n + 1
    parts[n] = sub(out, last, a - 1)
    last = a + 1
    if n >= 8 and last < n * 20 then
      parts[n + 1] = gsub(sub(out, last), "\\/", "/")
      return concat(parts)
    end
    a = find(out, "\\/", last + 1, true)
  until not a
  parts[n + 1] = sub(out, last)
  return concat(parts)
end

local function encode_once(v)
  repl = nil
  local tv = type(v)
  if tv == "table" then
    v = prep(v, 1)
  elseif tv == "number" then
    local text = number_text(v)
    if text then
      return text
    end
  end
  local ok, out = pcall(cj.encode, v)
  if not ok then
    error({ code = "json_encode", message = out })
  end
  if repl then
    out = patch(out)
    if not out then
      return nil -- retry with another tag
    end
  end
  local a = find(out, "\\/", 1, true)
  if a then
    out = unescape_slashes(out, a)
  end
  return out
end

-- Encodes a Lua value as JSON text. Integers are exact, floats round-trip, json.null is null,
-- json.array / decoded arrays encode as [] when empty, other empty tables as {}.
-- Throws { code = "json_encode", message = ... } for values JSON cannot hold (functions, NaN,
-- cycles or nesting deeper than 1000, keys other than strings and numbers).
function M.encode(v)
  for _ = 1, 4 do
    local out = encode_once(v)
    repl = nil
    if out then
      return out
    end
  end
  error({ code = "json_encode", message = "placeholder collision" })
end

-- In the server, the C codec is json.decode and json.encode themselves (strings only: the
-- decoder passes anything else to the path above, which says what is wrong).
if has_codec then
  M.decode = codec.decoder(array_mt, M.decode)
  M.encode = codec.encoder(array_mt, object_mt)
end

return M
