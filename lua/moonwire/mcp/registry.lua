-- What this generation's scripts declared: tools, resources, resource
-- templates, prompts and completions. Declarations are validated strictly at
-- load time (unknown keys, wrong types, bad schemas, duplicates) and their
-- wire forms are built once, so tools/list costs no per-request work.
local json = require "moonwire.json"
local schema = require "moonwire.schema"

local R = {
  tools = {}, tool_list = {},
  resources = {}, resource_list = {},
  templates = {}, template_list = {},
  prompts = {}, prompt_list = {},
  completions = {},
}

local function copy(t)
  if type(t) ~= "table" then return t end
  local out = {}
  for k, v in pairs(t) do out[k] = copy(v) end
  return setmetatable(out, getmetatable(t))
end

-- Validates `decl` against `spec` ({ key = "type" | "type?" }); returns nil
-- or an error message naming the key.
local function check_keys(decl, spec)
  if type(decl) ~= "table" then return "expects a table" end
  for k, v in pairs(decl) do
    local want = spec[k]
    if not want then return ("unknown key '%s'"):format(tostring(k)) end
    want = want:gsub("%?$", "")
    if want ~= "any" and type(v) ~= want then
      return ("'%s' must be a %s, got %s"):format(k, want, type(v))
    end
  end
  for k, want in pairs(spec) do
    if want:sub(-1) ~= "?" and decl[k] == nil then return ("'%s' is required"):format(k) end
  end
end
R.check_keys = check_keys

local NAME = "^[%w_%.%-/]+$"

local function meta_fields(out, decl)
  if decl.title then out.title = decl.title end
  if decl.icons then out.icons = copy(decl.icons) end
  if decl.meta then out._meta = copy(decl.meta) end
end

function R.add_tool(decl)
  local err = check_keys(decl, {
    name = "string", description = "string", handler = "function", title = "string?",
    input_schema = "table?", output_schema = "table?", annotations = "table?", meta = "table?",
    icons = "table?", timeout_ms = "number?",
  })
  if err then return nil, err end
  if #decl.name > 128 or not decl.name:match(NAME) then
    return nil, ("'name' %q must be 1-128 characters of A-Z a-z 0-9 _ - . /"):format(decl.name)
  end
  if R.tools[decl.name] then return nil, ("tool '%s' is already defined"):format(decl.name) end
  if decl.timeout_ms ~= nil and decl.timeout_ms < 1 then return nil, "'timeout_ms' must be >= 1" end
  local input = decl.input_schema and copy(decl.input_schema) or { type = "object" }
  local ok, serr = schema.check(input)
  if not ok then return nil, "input_schema: " .. serr end
  if input.type ~= "object" then return nil, "input_schema: type must be \"object\"" end
  if decl.output_schema then
    ok, serr = schema.check(decl.output_schema)
    if not ok then return nil, "output_schema: " .. serr end
    if decl.output_schema.type ~= "object" then return nil, "output_schema: type must be \"object\"" end
  end
  local wire = { name = decl.name, description = decl.description, inputSchema = input,
                 outputSchema = decl.output_schema and copy(decl.output_schema),
                 annotations = decl.annotations and copy(decl.annotations) }
  meta_fields(wire, decl)
  -- { property, header name, request header key } for each property whose
  -- schema says "x-mcp-header": arguments a 2026-07-28 request must mirror in
  -- Mcp-Param-<Name> headers.
  local header_params = {}
  for prop, sch in pairs(type(input.properties) == "table" and input.properties or {}) do
    local hname = type(sch) == "table" and sch["x-mcp-header"]
    if type(hname) == "string" then
      header_params[#header_params + 1] = { prop, hname, "mcp-param-" .. hname:lower() }
    end
  end
  local tool = { name = decl.name, handler = decl.handler, input_schema = input,
                 output_schema = decl.output_schema, timeout_ms = decl.timeout_ms, wire = wire,
                 header_params = header_params[1] and header_params or false }
  R.tools[decl.name] = tool
  R.tool_list[#R.tool_list + 1] = tool
  return tool
end

function R.add_resource(decl)
  local err = check_keys(decl, {
    uri = "string", name = "string", handler = "function", title = "string?", description = "string?",
    mime_type = "string?", size = "number?", annotations = "table?", meta = "table?", icons = "table?",
  })
  if err then return nil, err end
  if not decl.uri:match("^[%a][%w+.-]*:") then return nil, ("'uri' %q is not an absolute URI"):format(decl.uri) end
  if R.resources[decl.uri] then return nil, ("resource '%s' is already defined"):format(decl.uri) end
  local wire = { uri = decl.uri, name = decl.name, description = decl.description,
                 mimeType = decl.mime_type, size = decl.size,
                 annotations = decl.annotations and copy(decl.annotations) }
  meta_fields(wire, decl)
  local res = { uri = decl.uri, handler = decl.handler, mime_type = decl.mime_type, wire = wire }
  R.resources[decl.uri] = res
  R.resource_list[#R.resource_list + 1] = res
  return res
end

-- RFC 6570 level 1 templates ({var}) plus {+var} (reserved expansion, may
-- contain "/"), compiled to a Lua pattern that captures each variable.
local function compile_template(t)
  local names, pat, pos = {}, "^", 1
  for s, body, e in t:gmatch("(){([^}]*)}()") do
    pat = pat .. t:sub(pos, s - 1):gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
    local op, name = body:match("^([+#]?)([%w_%.]+)$")
    if not name then return nil, ("unsupported template expression {%s}"):format(body) end
    names[#names + 1] = name
    pat = pat .. (op == "" and "([^/]+)" or "(.+)")
    pos = e
  end
  if #names == 0 then return nil, "uri_template has no {variables}" end
  pat = pat .. t:sub(pos):gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0") .. "$"
  return pat, names
end

function R.add_template(decl)
  local err = check_keys(decl, {
    uri_template = "string", name = "string", handler = "function", title = "string?",
    description = "string?", mime_type = "string?", annotations = "table?", meta = "table?",
    icons = "table?", complete = "table?", list = "function?",
  })
  if err then return nil, err end
  if R.templates[decl.uri_template] then
    return nil, ("resource template '%s' is already defined"):format(decl.uri_template)
  end
  local pat, names = compile_template(decl.uri_template)
  if not pat then return nil, names end
  if decl.complete then
    for var, fn in pairs(decl.complete) do
      if type(fn) ~= "function" then return nil, ("complete.%s must be a function"):format(tostring(var)) end
    end
  end
  local wire = { uriTemplate = decl.uri_template, name = decl.name, description = decl.description,
                 mimeType = decl.mime_type, annotations = decl.annotations and copy(decl.annotations) }
  meta_fields(wire, decl)
  local tpl = { uri_template = decl.uri_template, handler = decl.handler, pattern = pat, vars = names,
                mime_type = decl.mime_type, complete = decl.complete, list = decl.list, wire = wire }
  R.templates[decl.uri_template] = tpl
  R.template_list[#R.template_list + 1] = tpl
  return tpl
end

-- Finds the template matching `uri`; returns it and its variables.
function R.match_template(uri)
  for _, tpl in ipairs(R.template_list) do
    local caps = { uri:match(tpl.pattern) }
    if caps[1] then
      local vars = {}
      for i, name in ipairs(tpl.vars) do
        vars[name] = caps[i]:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
      end
      return tpl, vars
    end
  end
end

function R.add_prompt(decl)
  local err = check_keys(decl, {
    name = "string", description = "string", handler = "function", title = "string?",
    arguments = "table?", meta = "table?", icons = "table?", complete = "table?",
  })
  if err then return nil, err end
  if R.prompts[decl.name] then return nil, ("prompt '%s' is already defined"):format(decl.name) end
  local args = {}
  for i, a in ipairs(decl.arguments or {}) do
    local aerr = check_keys(a, { name = "string", description = "string?", title = "string?", required = "boolean?" })
    if aerr then return nil, ("arguments[%d]: %s"):format(i, aerr) end
    args[i] = { name = a.name, description = a.description, title = a.title, required = a.required or false }
  end
  if decl.complete then
    for var, fn in pairs(decl.complete) do
      if type(fn) ~= "function" then return nil, ("complete.%s must be a function"):format(tostring(var)) end
    end
  end
  local wire = { name = decl.name, description = decl.description, arguments = json.array(args) }
  meta_fields(wire, decl)
  local prompt = { name = decl.name, handler = decl.handler, arguments = args, complete = decl.complete,
                   wire = wire }
  R.prompts[decl.name] = prompt
  R.prompt_list[#R.prompt_list + 1] = prompt
  return prompt
end

-- mw.completion { ref = { type = "ref/prompt", name = "p" }, handler = fn(argument, ctx) }
function R.add_completion(decl)
  local err = check_keys(decl, { ref = "table", handler = "function" })
  if err then return nil, err end
  local ref = decl.ref
  local key
  if ref.type == "ref/prompt" and type(ref.name) == "string" then
    key = "prompt:" .. ref.name
  elseif ref.type == "ref/resource" and type(ref.uri) == "string" then
    key = "resource:" .. ref.uri
  else
    return nil, "'ref' must be { type = \"ref/prompt\", name = … } or { type = \"ref/resource\", uri = … }"
  end
  if R.completions[key] then return nil, ("completion for %s is already defined"):format(key) end
  R.completions[key] = decl.handler
  return true
end

-- A stable digest of each list's wire form, to tell after a reload whether
-- clients need a list_changed notification.
-- Key order of Lua tables differs between generations (string hashes are
-- seeded per state), so the digest serialises with sorted keys.
local function canonical(v, out)
  local t = type(v)
  if t ~= "table" then
    out[#out + 1] = t == "string" and ("%q"):format(v) or tostring(v)
    return
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  out[#out + 1] = json.is_array(v) and "[" or "{"
  for _, k in ipairs(keys) do
    out[#out + 1] = k .. "="
    canonical(v[k] ~= nil and v[k] or v[tonumber(k)], out)
    out[#out + 1] = ","
  end
  out[#out + 1] = "}"
end

function R.fingerprints()
  local function fp(list)
    local parts = {}
    for i, item in ipairs(list) do
      local out = {}
      canonical(item.wire, out)
      parts[i] = table.concat(out)
    end
    table.sort(parts)
    return table.concat(parts, "\n")
  end
  return { tools = fp(R.tool_list), resources = fp(R.resource_list) .. "\0" .. fp(R.template_list),
           prompts = fp(R.prompt_list) }
end

return R
