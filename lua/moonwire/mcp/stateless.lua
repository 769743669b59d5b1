-- Protocol revision 2026-07-28: stateless requests on /mcp.
local S = {}

function S.claims(req, msgs, batch)
  return false
end

function S.post(req, handle, msgs, batch)
  error("stateless revision not available")
end

return S
