-- core/tests/test_jsoncodec.c: json.encode with the C codec (fast) against the cjson path (slow).
-- The text must be the same; where the cjson path copied a table to patch a value in (a number
-- cjson would misprint, an empty json.array), the copy may list its keys in another order, so
-- there the texts must have the same length and decode to the same value. Returns the number of
-- mismatches, each printed.
local fast, slow, util = ...
local same = util.same
local bad = 0

local function show(s)
  s = tostring(s)
  return (#s > 80 and s:sub(1, 80) .. "..." or s):gsub("%c", "?")
end

-- vf and vs are the same value, built with fast's and with slow's json.array/json.object marks
-- (each json.lua has its own metatables).
local function check(vf, vs, what)
  local okf, a = pcall(fast.encode, vf)
  local oks, b = pcall(slow.encode, vs)
  if okf ~= oks then
    bad = bad + 1
    print("one failed: " .. what .. " | " .. show(okf and a or a.message) .. " | " .. show(oks and b or b.message))
  elseif not okf then
    if type(a) ~= "table" or a.code ~= "json_encode" or a.message ~= b.message then
      bad = bad + 1
      print("error differs: " .. what .. " | " .. show(type(a) == "table" and a.message or a) .. " | " .. show(b.message))
    end
  elseif a ~= b and not (#a == #b and same(slow.decode(a), slow.decode(b))) then
    bad = bad + 1
    print("text differs: " .. what .. "\n  " .. show(a) .. "\n  " .. show(b))
  end
end

local bytes = {}
for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
local all_bytes = table.concat(bytes)

local deep = {}
local node = deep
for _ = 1, 999 do node.x = {} node = node.x end
local too_deep = {}
node = too_deep
for _ = 1, 1000 do node.x = {} node = node.x end
local cyc = {}
cyc.self = cyc

local function values(j)
  return {
    { jsonrpc = "2.0", id = 1, result = { content = j.array({ { type = "text", text = "a/b" } }) } },
    { n = 2^53 - 1, f = 0.1, g = 1 / 3, h = 1e14, i = 1e14 - 1, j = -1e14 + 1, k = math.maxinteger,
      l = math.mininteger, m = 2^63, o = 1e15, p = 123456789012345.0, q = -0.0, r = 3.0, s = 1e300,
      t = 5e-324, u = 2.5, w = 1e-7, x = 100000000000000.5 },
    { empty = {}, arr = j.array(), obj = j.object({ [1] = "one", [2] = "two" }), eo = j.object() },
    { list = { 1, 2, 3.5, { 2^60 } }, s = "x" }, deep,
    all_bytes, "", "plain", "a/b/c", 'quote " and \\ backslash', "\u{7f}\u{80}\u{10FFFF}",
    { 1, nil, 3 }, { [3] = 1 }, { [10] = 1 }, { [11] = 1 }, { [12] = 1, [1] = 1, [2] = 2, [3] = 3, [4] = 4, [5] = 5 },
    { [1] = "a", x = 1 }, { [1.5] = 1 }, { [2^53] = 1 }, { [-1] = 1 }, { [0] = 1 }, { [1e100] = "big" },
    j.array({ [20] = 1 }), j.array({ 1, 2 }), j.object({ [1.5] = 3, [2^53] = 4 }),
    j.object({ a = 1 }), j.object({ [0.1] = 1 }),
    { j.null, false, true }, j.null, true, false, 0, -0.0, 42, 2^53, 0.1, math.pi, -1e-300,
    { { { {} } } }, { {}, j.array(), { j.array() } },
  }
end
local vf, vs = values(fast), values(slow)
for i = 1, #vf do check(vf[i], vs[i], "values[" .. i .. "]") end
check(nil, nil, "nil")

local function bad_values(j)
  return { too_deep, cyc, { f = print }, { n = 0 / 0 }, { 1 / 0 }, -1 / 0, print, io.stdout,
           coroutine.create(print), { [true] = 1 }, { a = { [{}] = 1 } }, j.object({ [true] = 1 }) }
end
vf, vs = bad_values(fast), bad_values(slow)
for i = 1, #vf do
  check(vf[i], vs[i], "bad value #" .. i)
  if pcall(fast.encode, vf[i]) then bad = bad + 1 print("accepted bad value #" .. i) end
end

local rnd
local floats = { 0.1, 0.2, 1 / 3, 2 / 3, 1e14, 1e14 + 0.5, 1e15, 1e16, 1e17, 2^53, 2^53 + 2, 2^63,
                 1e-5, 1e-300, 5e-324, 1.7976931348623157e308, 123.456, -0.0, 0.0, 3.0, 99999999999999.0 }
local function num()
  local k = rnd(6)
  if k == 1 then return rnd(1000) - 500 end
  if k == 2 then return (rnd(2) == 1 and -1 or 1) * (rnd(2147483648) * rnd(2147483648) * rnd(8)) end
  if k == 3 then return floats[rnd(#floats)] * (rnd(2) == 1 and -1 or 1) end
  if k == 4 then return (rnd(2147483648) - 1073741824) / rnd(1048576) end
  if k == 5 then return rnd(2147483648) * 10.0 ^ (rnd(40) - 20) end
  return rnd(2) == 1 and math.maxinteger - rnd(10) or math.mininteger + rnd(10)
end
local function str()
  local t = {}
  local plain = 'ab/ "\\\t\n'
  for i = 1, rnd(12) - 1 do
    local j = rnd(#plain)
    t[i] = rnd(4) == 1 and bytes[rnd(256)] or plain:sub(j, j)
  end
  return table.concat(t)
end
local function gen(j, depth)
  local k = rnd(depth > 4 and 4 or 9)
  if k == 1 then return num()
  elseif k == 2 then return str()
  elseif k == 3 then return ({ true, false, j.null })[rnd(3)]
  elseif k == 4 then return num()
  elseif k == 5 then -- a list, sometimes with holes or marked
    local t = {}
    for i = 1, rnd(12) - 1 do if rnd(6) > 1 then t[i] = gen(j, depth + 1) end end
    return rnd(4) == 1 and j.array(t) or t
  elseif k == 6 then -- sparse or offset integer keys
    local t = {}
    for _ = 1, rnd(4) do t[rnd(30)] = gen(j, depth + 1) end
    return t
  elseif k == 7 then -- mixed keys
    local t = { gen(j, depth + 1) }
    t[str()] = gen(j, depth + 1)
    if rnd(3) == 1 then t[num() + 0.5] = 1 end
    return rnd(3) == 1 and j.object(t) or t
  else -- an object
    local t = {}
    for _ = 1, rnd(10) - 1 do t[str()] = gen(j, depth + 1) end
    return rnd(5) == 1 and j.object(t) or t
  end
end
for i = 1, 3000 do
  rnd = util.random(i) -- the same value twice, with each module's marks
  local a = gen(fast, 1)
  rnd = util.random(i)
  check(a, gen(slow, 1), "generated #" .. i)
end

return bad
