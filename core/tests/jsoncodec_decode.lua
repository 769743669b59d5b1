-- core/tests/test_jsoncodec.c: json.decode with the C codec (fast) against the cjson path (slow),
-- on fixed, generated and mutated texts. Returns the number of mismatches, each printed.
local fast, slow, util = ...
local same = util.same
local bad = 0
local function show(s) return (#s > 60 and s:sub(1, 60) .. '...' or s):gsub('%c', '?') end
local function check(s, must_fail)
  local a, ea = fast.decode(s)
  local b, eb = slow.decode(s)
  if (a == nil) ~= (b == nil) or (a ~= nil and not same(a, b)) then
    bad = bad + 1
    print('differs: ' .. show(s) .. ' | ' .. tostring(ea) .. ' | ' .. tostring(eb))
  elseif must_fail ~= nil and (a == nil) ~= must_fail then
    bad = bad + 1 print('expected ' .. (must_fail and 'failure' or 'success') .. ': ' .. show(s))
  elseif a == nil and type(ea) ~= 'string' then
    bad = bad + 1 print('no message: ' .. show(s))
  end
end
local keys, list = {}, {}
for i = 1, 100 do keys[#keys + 1] = '"k' .. i .. '":' .. i list[i] = tostring(i) end
local function obj(n) return '{' .. table.concat(keys, ',', 1, n) .. '}' end
local function arr(n) return '[' .. table.concat(list, ',', 1, n) .. ']' end
local valid = {
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo",'
    .. '"arguments":{"text":"hi"},"_meta":{"a/b":"x","caps":{}}}}',
  '[1, 2.5, -0, 0, 9007199254740992, 9007199254740993, -9007199254740992, 1e300, 3.0]',
  '[999999999999999, -999999999999999, 1000000000000000, -1000000000000000, 0.1, -0.0]',
  '[1e2, 1E2, 1e+2, 1e-2, 15e-1, 1e-400, -1e-400, 0.0e-0, 123456789012345678901234567890]',
  '{"a":[],"b":[[],{}],"c":"[]","d":[ ],"e":{"f":[1,[2,[3.0]]]},"g":[{}]}',
  '{"x":-0.0,"y":1.5e2,"z":[{"k":2e0}],"n":null,"t":true,"f":false}',
  '[]', '{}', '[[[[[[1.0]]]]]]', '42', '-7', '"s"', 'null', 'true', 'false', '""',
  ' \r\n\t[ 1 , { "a" : [ ] } ] \t\r\n',
  '"\\" \\\\ \\/ \\b \\f \\n \\r \\t"',
  '["\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\\u0000x", "a\tb" ]',
  '{"a":1,"a":2,"b":{"c":1,"c":[]}}',
  '"\xff\xfe not utf-8"',
  obj(31), obj(32), obj(33), obj(64), obj(65), obj(100),
  arr(31), arr(32), arr(33), arr(64), arr(65), arr(100),
  '{' .. table.concat(keys, ',', 1, 40) .. ',"k1":"last"}',
  '[' .. arr(40) .. ',' .. obj(40) .. ',[],{},' .. arr(33) .. ']',
  string.rep('[', 1000) .. string.rep(']', 1000),
  string.rep('{"a":', 999) .. '[]' .. string.rep('}', 999),
}
for _, s in ipairs(valid) do check(s, false) end
local invalid = {
  '', ' ', '[', ']', '{', '}', '[1,]', '{"a":1,}', '[1 2]', '{"a" 1}', '{a:1}',
  '{"a":}', '{1:2}', '[,1]', '"abc', '"\\x"', '"\\u12"', '"\\u12G4"',
  '"\\ud800"', '"\\udc00"', '"\\ud800\\u0041"', '"\\ud800x"', '"ab\\',
  '01', '-01', '-', '--1', '+1', '.5', '1e', '1.5e', '1e+', '0x10', '-0x10', '1 2',
  'tru', 'nul', 'falsey', 'True', 'NaN', '-nan', 'Infinity', '-inf', '[1]x',
  '\f1', '[1e400]', '{"a":{"b":-1e999}}', '1e309',
  string.rep('[', 1001) .. string.rep(']', 1001),
}
for _, s in ipairs(invalid) do check(s, true) end
for _, s in ipairs({ '[1e400]', '{"a":{"b":-1e999}}', '1e309' }) do
  local _, ea = fast.decode(s)
  local _, eb = slow.decode(s)
  if ea ~= eb then bad = bad + 1 print('out-of-range message: ' .. tostring(ea)) end
end
for _, s in ipairs({ '1.', '[1.]', '1.e5', '-.5', '{"a":2.}' }) do
  if fast.decode(s) ~= nil then bad = bad + 1 print('not JSON, accepted: ' .. s) end
end
local _, e = fast.decode('[1,]')
if e ~= 'expected a value at byte 4' then bad = bad + 1 print('message: ' .. tostring(e)) end
_, e = fast.decode('[1')
if e ~= "expected ',' or ']' at the end of the text (byte 3)" then
  bad = bad + 1 print('message: ' .. tostring(e))
end
local rnd = util.random(12345)
local function ws() local w = { '', '', '', ' ', '\n', '\t ', '\r\n' } return w[rnd(#w)] end
local chars = { 'a', 'b', 'Z', '0', ' ', '/', '\\\\', '\\"', '\\/', '\\n', '\\t',
  '\\u00e9', '\\uD834\\uDD1E', '\\u0007', '\xc3\xa9', '\t', '\\b', '\\f' }
local function str()
  local t = {}
  for i = 1, rnd(8) - 1 do t[i] = chars[rnd(#chars)] end
  return '"' .. table.concat(t) .. '"'
end
local function num(fractions)
  local s = (rnd(3) == 1 and '-' or '')
  local d = {}
  for i = 1, rnd(17) do d[i] = tostring(rnd(10) - 1) end
  s = s .. (rnd(4) == 1 and '0' or (table.concat(d):gsub('^0+(%d)', '%1')))
  if fractions and rnd(3) == 1 then s = s .. '.' .. tostring(rnd(1000) - 1) end
  if rnd(4) == 1 then s = s .. ({ 'e', 'E', 'e+', 'e-' })[rnd(4)] .. tostring(rnd(290) - 1) end
  return s
end
local function gen(depth, fractions)
  local k = rnd(depth > 4 and 6 or 8)
  if k == 1 then return num(fractions)
  elseif k == 2 then return str()
  elseif k == 3 then return ({ 'true', 'false', 'null' })[rnd(3)]
  elseif k == 4 or k == 5 then return num(fractions)
  elseif k == 6 then return str()
  elseif k == 7 then
    local t = {}
    for i = 1, rnd(40) - 1 do t[i] = ws() .. gen(depth + 1, fractions) .. ws() end
    return '[' .. ws() .. table.concat(t, ',') .. ']'
  else
    local t = {}
    for i = 1, rnd(40) - 1 do
      t[i] = ws() .. str() .. ws() .. ':' .. ws() .. gen(depth + 1, fractions) .. ws()
    end
    return '{' .. ws() .. table.concat(t, ',') .. '}'
  end
end
local alphabet = '{}[],:"\\ 0123456789-eE+tfnrulsau\1'
for _ = 1, 400 do check(ws() .. gen(1, true) .. ws(), false) end
for _ = 1, 400 do
  local s = gen(1, false)
  check(s, false)
  for _ = 1, 5 do
    local m = s
    for _ = 1, rnd(3) do
      local at, op = rnd(#m + 1), rnd(3)
      local i = rnd(#alphabet)
      local c = alphabet:sub(i, i)
      if op == 1 then m = m:sub(1, at - 1) .. c .. m:sub(at + 1)
      elseif op == 2 then m = m:sub(1, at - 1) .. m:sub(at + 1)
      else m = m:sub(1, at - 1) .. c .. m:sub(at) end
    end
    check(m)
  end
end
-- Not a string: both answer nil and the same message (a number is read as its text).
for _, v in ipairs({ 42, 1.5, {}, true, print }) do
  local a, ea = fast.decode(v)
  local b, eb = slow.decode(v)
  if not same(a, b) or ea ~= eb then
    bad = bad + 1 print('differs for a ' .. type(v) .. ': ' .. tostring(ea) .. ' | ' .. tostring(eb))
  end
end
local a, ea = fast.decode()
local b, eb = slow.decode()
if a ~= nil or b ~= nil or ea ~= eb then
  bad = bad + 1 print('differs for no argument: ' .. tostring(ea) .. ' | ' .. tostring(eb))
end
return bad
