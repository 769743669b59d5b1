-- A long-running MCP tool done right: progress while it works, a question to
-- the user before the risky part (elicitation), and a clean stop when the
-- client cancels. Run: build/moonwire --scripts examples/long_task
local mw = require "moonwire"

mw.tool {
  name = "migrate",
  description = "Pretends to migrate N records, asking before it writes",
  input_schema = { type = "object", properties = { records = { type = "integer", minimum = 1, maximum = 1000 } } },
  timeout_ms = 120000,
  handler = function(args, ctx)
    local n = args.records or 20
    -- Everything before the last question must be repeatable: in the
    -- 2026-07-28 revision the handler runs again when the answer arrives.
    local answer, err = ctx:elicit({
      message = ("Migrate %d records?"):format(n),
      requestedSchema = { type = "object", properties = { confirm = { type = "boolean" } }, required = { "confirm" } },
    }, "confirm")
    if not answer then return nil, err end
    if answer.action ~= "accept" or not (answer.content and answer.content.confirm) then
      return "Nothing migrated: not confirmed."
    end
    for i = 1, n do
      ctx:progress(i, n, ("record %d of %d"):format(i, n))
      if not ctx:sleep(0.05) then
        return nil, ("cancelled after %d of %d records"):format(i - 1, n)
      end
    end
    return ("Migrated %d records."):format(n)
  end,
}
