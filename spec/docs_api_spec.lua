-- docs/lua-api.md documents every public function of `require "moonwire"`:
-- a function added to the module without a word in the docs fails here.
local fake = require "support.fake_core"

local function read(path)
  local f = assert(io.open(path, "r"))
  local s = f:read("a")
  f:close()
  return s
end

-- Every "mw.a.b" name reachable from `mw`, functions and constants alike,
-- one table level deep (mw.json.encode, mw.sessions.get, mw.shared:set ...).
local function public_names(mw)
  local names = {}
  for k, v in pairs(mw) do
    if type(k) == "string" and not k:match("^_") then
      names[#names + 1] = "mw." .. k
      if type(v) == "table" and getmetatable(v) == nil then
        for k2, v2 in pairs(v) do
          if type(k2) == "string" and not k2:match("^_") and type(v2) == "function" then
            names[#names + 1] = "mw." .. k .. "." .. k2
          end
        end
      end
    end
  end
  table.sort(names)
  return names
end

describe("docs/lua-api.md", function()
  it("mentions every public name of the moonwire module", function()
    fake.install()
    local mw = require "moonwire"
    local doc = read("docs/lua-api.md")
    local missing = {}
    for _, name in ipairs(public_names(mw)) do
      -- `mw.shared:set` is documented with a colon; accept either form.
      local colon = name:gsub("^(mw%.[%w_]+)%.", "%1:")
      if not doc:find(name, 1, true) and not doc:find(colon, 1, true) then
        missing[#missing + 1] = name
      end
    end
    assert.are.same({}, missing)
  end)
end)
