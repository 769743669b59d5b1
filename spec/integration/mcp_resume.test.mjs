// Streams that break mid-flight: a session's GET stream and a POST response
// stream are cut, the client resumes with Last-Event-ID, and every message
// arrives exactly once, in order. Also: a reload that changes the tools sends
// notifications/tools/list_changed to connected sessions.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, scriptsDir, openStream, closeStream, waitFor, sleep } from './lib/harness.mjs';

const TOOLS = (extra = '') => `local mw = require "moonwire"
mw.tool { name = "burst", description = "Sends n numbered notifications on the standalone stream",
  input_schema = { type = "object", properties = { from = { type = "integer" }, n = { type = "integer" } } },
  handler = function(args, ctx)
    for i = args.from, args.from + args.n - 1 do
      mw.notify(ctx.session_id, "notifications/message", { level = "info", data = { i = i } })
    end
    return "sent"
  end }
mw.tool { name = "slow", description = "Reports progress n times, 20 ms apart",
  input_schema = { type = "object", properties = { n = { type = "integer" } } },
  handler = function(args, ctx)
    for i = 1, args.n do ctx:progress(i, args.n) ctx:sleep(0.02) end
    return "done " .. args.n
  end }
mw.tool { name = "ask", description = "Asks the client for a name",
  handler = function(args, ctx)
    local r, err = ctx:elicit({ message = "Name?", requestedSchema = { type = "object",
      properties = { name = { type = "string" } } } })
    if not r then return nil, err end
    return "hello " .. r.content.name .. " from generation " .. mw.generation()
  end }
${extra}`;

const ACCEPT = 'application/json, text/event-stream';

async function rpc(srv, sid, body) {
  const headers = { 'Content-Type': 'application/json', Accept: ACCEPT, 'MCP-Protocol-Version': '2025-11-25' };
  if (sid) headers['Mcp-Session-Id'] = sid;
  const res = await fetch(srv.url('/mcp'), { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  return { res, json: text ? JSON.parse(text) : null };
}

async function session(srv, capabilities = {}) {
  const { res } = await rpc(srv, null, { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 't', version: '1' } } });
  const sid = res.headers.get('mcp-session-id');
  await rpc(srv, sid, { jsonrpc: '2.0', method: 'notifications/initialized' });
  return sid;
}

const getHeaders = (sid, extra = {}) => ({ Accept: 'text/event-stream', 'Mcp-Session-Id': sid,
  'MCP-Protocol-Version': '2025-11-25', ...extra });
const numbered = (st) => st.events.filter((e) => e.data).map((e) => JSON.parse(e.data))
  .filter((m) => m.method === 'notifications/message').map((m) => m.params.data.i);

describe('resuming broken MCP streams', () => {
  let srv, dir;
  before(async () => {
    dir = scriptsDir({ 'tools.lua': TOOLS() });
    srv = await startServer({ scripts: [dir] });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('a GET stream cut mid-flight resumes with exactly the missed messages', async () => {
    const sid = await session(srv);
    const st = await openStream(srv.port, '/mcp', getHeaders(sid));
    assert.equal(st.status, 200);
    await rpc(srv, sid, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'burst', arguments: { from: 1, n: 40 } } });
    await waitFor(st, () => numbered(st).length >= 40);
    const lastId = st.events.at(-1).id;
    closeStream(st);
    await sleep(50);
    // Sent while the client is away: kept in the session's buffer.
    await rpc(srv, sid, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'burst', arguments: { from: 41, n: 60 } } });
    const st2 = await openStream(srv.port, '/mcp', getHeaders(sid, { 'Last-Event-ID': lastId }));
    await waitFor(st2, () => numbered(st2).length >= 60);
    await sleep(100);
    const all = [...numbered(st), ...numbered(st2)];
    assert.deepEqual(all, Array.from({ length: 100 }, (_, i) => i + 1));
    closeStream(st2);
  });

  it('a POST response stream cut mid-call resumes by GET with the rest and the result', async () => {
    const sid = await session(srv);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call',
      params: { name: 'slow', arguments: { n: 30 }, _meta: { progressToken: 'tok' } } });
    const st = await openStream(srv.port, '/mcp', { ...getHeaders(sid), Accept: ACCEPT, 'Content-Type': 'application/json' },
      { method: 'POST', body });
    assert.equal(st.status, 200, st.raw);
    assert.equal(st.headers['content-type'], 'text/event-stream');
    const progress = (s) => s.events.filter((e) => e.data).map((e) => JSON.parse(e.data))
      .filter((m) => m.method === 'notifications/progress').map((m) => m.params.progress);
    await waitFor(st, () => progress(st).length >= 8);
    const lastId = st.events.at(-1).id;
    assert.match(lastId, /^[1-9]\d*-\d+$/, 'POST stream ids name their own stream');
    closeStream(st);
    const st2 = await openStream(srv.port, '/mcp', getHeaders(sid, { 'Last-Event-ID': lastId }));
    await waitFor(st2, () => st2.events.some((e) => e.data && JSON.parse(e.data).id === 7), 5000);
    const all = [...progress(st), ...progress(st2)];
    assert.deepEqual(all, Array.from({ length: 30 }, (_, i) => i + 1));
    const result = st2.events.map((e) => e.data && JSON.parse(e.data)).find((m) => m && m.id === 7);
    assert.deepEqual(result.result.content, [{ type: 'text', text: 'done 30' }]);
    await waitFor(st2, () => st2.raw.endsWith('0\r\n\r\n'), 2000);
    closeStream(st2);
  });

  it('a handler waiting for the client keeps waiting across a reload', async () => {
    const sid = await session(srv, { elicitation: {} });
    const body = JSON.stringify({ jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'ask', arguments: {} } });
    const st = await openStream(srv.port, '/mcp', { ...getHeaders(sid), Accept: ACCEPT, 'Content-Type': 'application/json' },
      { method: 'POST', body });
    const parsed = () => st.events.filter((e) => e.data).map((e) => JSON.parse(e.data));
    await waitFor(st, () => parsed().some((m) => m.method === 'elicitation/create'));
    const ask = parsed().find((m) => m.method === 'elicitation/create');
    const gen = (await (await fetch(srv.url('/healthz'))).json()).generation;
    fs.appendFileSync(path.join(dir, 'tools.lua'), '\n-- reload\n');
    const t0 = Date.now();
    while ((await (await fetch(srv.url('/healthz'))).json()).generation === gen) {
      assert.ok(Date.now() - t0 < 2000);
      await sleep(20);
    }
    const { res } = await rpc(srv, sid, { jsonrpc: '2.0', id: ask.id, result: { action: 'accept', content: { name: 'Ann' } } });
    assert.equal(res.status, 202);
    await waitFor(st, () => parsed().some((m) => m.id === 11));
    const result = parsed().find((m) => m.id === 11).result;
    assert.equal(result.content[0].text, `hello Ann from generation ${gen}`);
    closeStream(st);
  });

  it('a reload that changes the tools notifies connected sessions', async () => {
    const sid = await session(srv);
    const st = await openStream(srv.port, '/mcp', getHeaders(sid));
    await sleep(50);
    fs.writeFileSync(path.join(dir, 'tools.lua'), TOOLS(`mw.tool { name = "added", description = "New", handler = function() return "new" end }`));
    await waitFor(st, () => st.events.some((e) => e.data && JSON.parse(e.data).method === 'notifications/tools/list_changed'), 3000);
    const { json } = await rpc(srv, sid, { jsonrpc: '2.0', id: 9, method: 'tools/list' });
    assert.ok(json.result.tools.some((t) => t.name === 'added'));
    // A reload that changes nothing MCP-visible sends nothing.
    const before = st.events.length;
    fs.writeFileSync(path.join(dir, 'tools.lua'), TOOLS(`mw.tool { name = "added", description = "New", handler = function() return "new" end }\n-- comment`));
    await sleep(600);
    assert.equal(st.events.filter((e) => e.data).length, st.events.slice(0, before).filter((e) => e.data).length);
    closeStream(st);
  });
});
