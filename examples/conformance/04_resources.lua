-- Resources of the conformance "everything server": static text and binary
-- resources, a subscribable one, and a URI template. test://static-text is
-- listed first because the 2026 caching scenario reads the first resource.
local mw = require "moonwire"

local PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="

mw.resource {
  uri = "test://static-text", name = "static-text", mime_type = "text/plain",
  description = "A static text resource",
  handler = function(uri, ctx) return "This is the content of the static text resource." end,
}

mw.resource {
  uri = "test://static-binary", name = "static-binary", mime_type = "image/png",
  description = "A static binary resource (a 1x1 PNG)",
  handler = function(uri, ctx) return { blob = PNG } end,
}

-- Clients may subscribe to this one; nothing changes it, so no update is sent.
mw.resource {
  uri = "test://watched-resource", name = "watched-resource", mime_type = "text/plain",
  description = "A resource clients can subscribe to",
  handler = function(uri, ctx) return "Watched resource content" end,
}

mw.resource_template {
  uri_template = "test://template/{id}/data", name = "template-data", mime_type = "application/json",
  description = "JSON data for any id",
  handler = function(uri, vars, ctx)
    -- Built by hand to keep the reference key order: id, templateTest, data.
    local id = mw.json.encode(vars.id)
    return ('{"id":%s,"templateTest":true,"data":%s}'):format(id, mw.json.encode("Data for ID: " .. vars.id))
  end,
}
