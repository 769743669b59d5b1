// Smoke tests of the teaching examples: each loads and does what its
// comment says, driven over MCP like a client would.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { startServer, ROOT, openStream, waitFor, closeStream } from './lib/harness.mjs';

const H = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

async function session(srv, capabilities = {}) {
  const res = await fetch(srv.url('/mcp'), { method: 'POST', headers: H, body: JSON.stringify({ jsonrpc: '2.0', id: 1,
    method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 'ex', version: '1' } } }) });
  await res.text();
  return res.headers.get('mcp-session-id');
}

async function call(srv, sid, id, name, args) {
  const res = await fetch(srv.url('/mcp'), { method: 'POST', headers: { ...H, 'Mcp-Session-Id': sid },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }) });
  return (await res.json()).result;
}

describe('examples/http_fetch', () => {
  let srv, upstream;
  after(async () => { upstream?.close(); if (srv) assert.equal((await srv.stop()).code, 0); });

  it('fetches a URL from a tool', async () => {
    upstream = http.createServer((req, res) => { res.setHeader('Content-Type', 'text/plain'); res.end('upstream says hi'); });
    await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
    srv = await startServer({ scripts: [path.join(ROOT, 'examples/http_fetch')] });
    const sid = await session(srv);
    const r = await call(srv, sid, 2, 'fetch_url', { url: `http://127.0.0.1:${upstream.address().port}/` });
    assert.equal(r.content[0].text, 'HTTP 200\nupstream says hi');
    assert.deepEqual(r.structuredContent, { status: 200, content_type: 'text/plain', length: 16 });
  });
});

describe('examples/long_task', () => {
  let srv;
  after(async () => { if (srv) assert.equal((await srv.stop()).code, 0); });

  it('asks first, reports progress, and finishes', async () => {
    srv = await startServer({ scripts: [path.join(ROOT, 'examples/long_task')] });
    const sid = await session(srv, { elicitation: {} });
    const body = JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call',
      params: { name: 'migrate', arguments: { records: 5 }, _meta: { progressToken: 'p' } } });
    const st = await openStream(srv.port, '/mcp', { ...H, 'Mcp-Session-Id': sid }, { method: 'POST', body });
    const msgs = () => st.events.filter((e) => e.data).map((e) => JSON.parse(e.data));
    await waitFor(st, () => msgs().some((m) => m.method === 'elicitation/create'));
    const ask = msgs().find((m) => m.method === 'elicitation/create');
    const r = await fetch(srv.url('/mcp'), { method: 'POST', headers: { ...H, 'Mcp-Session-Id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: ask.id, result: { action: 'accept', content: { confirm: true } } }) });
    assert.equal(r.status, 202);
    await waitFor(st, () => msgs().some((m) => m.id === 5), 5000);
    const progress = msgs().filter((m) => m.method === 'notifications/progress').map((m) => m.params.progress);
    assert.deepEqual(progress, [1, 2, 3, 4, 5]);
    assert.equal(msgs().find((m) => m.id === 5).result.content[0].text, 'Migrated 5 records.');
    closeStream(st);
  });
});
