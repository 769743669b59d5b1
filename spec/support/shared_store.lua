-- An in-memory stand-in for the core's shared store (mw.shared), with TTLs
-- measured on the fake core's clock (core.clock, milliseconds).
local M = {}

function M.install(core)
  local store = {}
  core.shared = store
  local function live(key)
    local e = store[key]
    if e and e.expires and core.clock >= e.expires then store[key] = nil return nil end
    return e
  end
  local function expiry(ttl) return (ttl and ttl > 0) and core.clock + math.floor(ttl * 1000 + 0.5) or nil end
  function core.shared_get(key)
    local e = live(key)
    return e and e.value
  end
  function core.shared_set(key, value, ttl)
    if value == nil then store[key] = nil return end
    assert(math.type(value) == "integer" or type(value) == "string", "value must be a string or an integer")
    store[key] = { value = value, expires = expiry(ttl) }
  end
  function core.shared_incr(key, by, ttl)
    local e = live(key)
    if e and math.type(e.value) ~= "integer" then return nil, "not an integer" end
    if not e then e = { value = 0, expires = expiry(ttl) } store[key] = e end
    e.value = e.value + (by or 1)
    return e.value
  end
  function core.shared_delete(key)
    local had = live(key) ~= nil
    store[key] = nil
    return had
  end
  return store
end

return M
