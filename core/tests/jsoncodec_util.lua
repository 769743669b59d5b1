-- What the scripts of core/tests/test_jsoncodec.c share.
local U = {}

-- Deep equality: the same Lua types (integers and floats apart, -0 apart from 0), and a table is
-- an array (it has its json.lua's array metatable, decoded objects have none) on both sides or on
-- neither.
local function same(a, b)
  if type(a) ~= type(b) or math.type(a) ~= math.type(b) then return false end
  if type(a) ~= "table" then
    if a == 0 and b == 0 and type(a) == "number" then return 1 / a == 1 / b end
    return a == b
  end
  if (getmetatable(a) == nil) ~= (getmetatable(b) == nil) then return false end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
U.same = same

-- A generator of whole numbers 1..n from a fixed seed: the same values on every run.
function U.random(seed)
  return function(n)
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n + 1
  end
end

return U
