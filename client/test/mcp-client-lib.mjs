// Shared by the McpClient tests: extra tools next to examples/hello, a fetch that cuts a POST
// response stream once, and small waiting helpers.
import path from 'node:path';
import { ROOT, scriptsDir, sleep } from '../../spec/integration/lib/harness.mjs';

export const HELLO = path.join(ROOT, 'examples/hello');

// `record` lists the calls this server process saw, so order and duplicates are visible;
// `long` runs until cancelled and remembers that it was.
export const TOOLS = `local mw = require "moonwire"
local seen, cancelled = {}, {}
mw.tool { name = "record", description = "Appends n to the calls seen; returns them",
  input_schema = { type = "object", properties = { n = { type = "integer" } } },
  handler = function(args, ctx)
    seen[#seen + 1] = args.n
    return table.concat(seen, ",")
  end }
mw.tool { name = "ask", description = "Asks the client for a name", timeout_ms = 10000,
  handler = function(args, ctx)
    local r, err = ctx:elicit({ message = "Name?", requestedSchema = { type = "object",
      properties = { name = { type = "string" } }, required = { "name" } } }, "name")
    if not r then return nil, err end
    if r.action ~= "accept" then return "declined" end
    return "hello " .. r.content.name
  end }
mw.tool { name = "ping_client", description = "Pings the client",
  handler = function(args, ctx)
    local r, err = ctx:request("ping", mw.json.object(), "ping")
    if not r then return nil, err end
    return "pong"
  end }
mw.tool { name = "long", description = "Reports progress every 50 ms until cancelled",
  input_schema = { type = "object", properties = { tag = { type = "string" } } },
  handler = function(args, ctx)
    for i = 1, 200 do
      ctx:progress(i, 200)
      if not ctx:sleep(0.05) then cancelled[args.tag] = true return nil, "cancelled" end
    end
    return "finished"
  end }
mw.tool { name = "was_cancelled", description = "Whether the long call with this tag was cancelled",
  input_schema = { type = "object", properties = { tag = { type = "string" } } },
  handler = function(args, ctx) return tostring(cancelled[args.tag] == true) end }
mw.tool { name = "notify_me", description = "Sends a notification to this session's GET stream",
  input_schema = { type = "object", properties = { text = { type = "string" } } },
  handler = function(args, ctx)
    mw.notify(ctx.session_id, "notifications/message", { level = "info", data = args.text })
    return "sent"
  end }
mw.tool { name = "detach", description = "Ends its POST response early (SEP-1699), then answers",
  handler = function(args, ctx)
    ctx:close_stream()
    ctx:sleep(0.1)
    return "after close"
  end }
mw.route { method = "POST", path = "/changed", handler = function(req, ctx)
  return { json = { reached = mw.list_changed("tools") } }
end }
`;

export const toolsDir = () => scriptsDir({ 'tools.lua': TOOLS });

export const text = (result) => result.content.map((c) => c.text).join('');

export async function waitUntil(pred, timeoutMs = 5000, what = 'condition') {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(10);
  }
}

// Records every request; the first POST answered with an event stream for which
// `shouldCut(textSoFar)` turns true is cut there (the socket closes, the client sees an error
// while reading), as a dropped connection would, or with `stall` goes silent without closing,
// as a dead network path does.
export function cuttingFetch(shouldCut, { stall = false } = {}) {
  let armed = true;
  const log = [];
  const f = async (url, init = {}) => {
    const headers = new Headers(init.headers);
    const entry = { method: init.method || 'GET', headers, body: init.body, status: 0, cut: false };
    log.push(entry);
    const res = await fetch(url, init);
    entry.status = res.status;
    const sse = (res.headers.get('content-type') || '').startsWith('text/event-stream');
    if (!armed || entry.method !== 'POST' || !sse) return res;
    armed = false;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let seen = '';
    const body = new ReadableStream({
      async pull(ctrl) {
        const r = await reader.read();
        if (r.done) { ctrl.close(); return; }
        seen += decoder.decode(r.value, { stream: true });
        if (shouldCut(seen)) {
          entry.cut = true;
          // Silent until the client gives up on it (cancel() below closes the socket).
          if (stall) return new Promise(() => {});
          reader.cancel().catch(() => {});
          ctrl.error(new TypeError('connection cut by the test'));
          return;
        }
        ctrl.enqueue(r.value);
      },
      cancel() { return reader.cancel(); },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  f.log = log;
  return f;
}
