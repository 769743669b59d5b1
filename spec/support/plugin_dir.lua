-- Writes plugins and a config file into a fresh temp dir for plugin specs.
local M = {}

function M.new()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "/plugins'"))
  local d = { dir = dir }
  function d.write(rel, text)
    local path = dir .. "/" .. rel
    local parent = path:match("^(.*)/[^/]*$")
    os.execute("mkdir -p '" .. parent .. "'")
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    return path
  end
  -- config: the text of the `plugins = { … }` value.
  function d.config(plugins_text)
    return d.write("moonwire.conf.lua", "plugins = " .. plugins_text .. "\n")
  end
  function d.remove() os.execute("rm -rf '" .. dir .. "'") end
  return d
end

return M
