-- mw.http.request: an HTTP/1.1 client that suspends only the calling
-- handler, never the server. Plain http:// for now (no TLS).
local core = require "moonwire.core"
local runtime = require "moonwire.runtime"

local M = {}

local DEFAULT_TIMEOUT_MS = 10000
local DEFAULT_MAX_BODY = 8 * 1024 * 1024

-- http://host[:port][/path?query] -> host, port, path
local function parse_url(url)
  local host, port, path = url:match("^[hH][tT][tT][pP]://%[([%x:%.]+)%]:?(%d*)(.*)$")
  if not host then host, port, path = url:match("^[hH][tT][tT][pP]://([^/:?#]+):?(%d*)(.*)$") end
  if not host then
    if url:match("^[hH][tT][tT][pP][sS]://") then return nil, "https is not supported yet" end
    return nil, "url must be http://host[:port]/path"
  end
  -- Whatever follows the authority starts with "/", "?" or "#": in
  -- "http://h:8080abc" the port is malformed, not followed by a path "abc".
  if path ~= "" and not path:find("^[/?#]") then return nil, "url must be http://host[:port]/path" end
  path = path:gsub("#.*$", "")
  if path == "" or path:sub(1, 1) == "?" then path = "/" .. path end
  port = tonumber(port) or 80
  if port < 1 or port > 65535 then return nil, "port out of range" end
  return host, port, path
end
M.parse_url = parse_url

local KNOWN = { url = true, method = true, headers = true, body = true, timeout_ms = true, max_body = true }

--- mw.http.request { method = "GET", url = "http://…", headers = {…}, body = "…",
---                   timeout_ms = 10000, max_body = 8388608 }
--- -> { status, headers (lower-case names), body } or nil, err
function M.request(opts)
  if type(opts) ~= "table" or type(opts.url) ~= "string" then
    error("mw.http.request: expects { url = \"http://…\", … }", 2)
  end
  runtime.check_options("mw.http.request", opts, KNOWN)
  if opts.method ~= nil and type(opts.method) ~= "string" then error("mw.http.request: method must be a string", 2) end
  if opts.headers ~= nil and type(opts.headers) ~= "table" then error("mw.http.request: headers must be a table", 2) end
  local body = opts.body
  if body ~= nil and type(body) ~= "string" then error("mw.http.request: body must be a string", 2) end
  local timeout_ms = runtime.count_option("mw.http.request", opts, "timeout_ms", DEFAULT_TIMEOUT_MS)
  local max_body = runtime.count_option("mw.http.request", opts, "max_body", DEFAULT_MAX_BODY)
  local co = runtime.running_task("mw.http.request")
  local host, port, path = parse_url(opts.url)
  if not host then return nil, port end
  local headers = {}
  for k, v in pairs(opts.headers or {}) do headers[tostring(k)] = tostring(v) end
  local ok, err = core.http_request((opts.method or "GET"):upper(), host, port, path, headers, body,
                                   timeout_ms, max_body,
                                   function(res, e) runtime.resume(co, res, e) end)
  if not ok then return nil, err end
  return runtime.wait()
end

return M
