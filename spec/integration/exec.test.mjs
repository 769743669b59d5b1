// mw.exec: subprocesses that never block the loop — a slow child runs while
// a stream's heartbeats keep their cadence (called from MCP tools); output, exit status, stdin,
// timeouts and output caps are reported.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, scriptsDir, openStream, closeStream, waitFor } from './lib/harness.mjs';

const APP = `local mw = require "moonwire"
mw.route { path = "/events", channel = "ch" }
mw.tool { name = "run", description = "Runs argv", input_schema = { type = "object", properties = { argv = { type = "array", items = { type = "string" } } } },
  handler = function(args) local r = mw.exec { argv = args.argv } return ("status %d"):format(r.status) end }
mw.route { method = "POST", path = "/run", handler = function(req)
  local opts = mw.json.decode(req.body)
  local r, err = mw.exec(opts)
  if not r then return { status = 500, json = { error = err } } end
  return { json = r }
end }
`;

// A tools/call over a fresh 2025-11-25 session; resolves to the result.
async function callTool(srv, name, args) {
  const H = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
  const init = await fetch(srv.url('/mcp'), { method: 'POST', headers: H, body: JSON.stringify({ jsonrpc: '2.0', id: 1,
    method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
  await init.text();
  const res = await fetch(srv.url('/mcp'), { method: 'POST', headers: { ...H, 'Mcp-Session-Id': init.headers.get('mcp-session-id') },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name, arguments: args } }) });
  return (await res.json()).result;
}

describe('mw.exec', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 'app.lua': APP })], env: { SSE_HEARTBEAT_INTERVAL: '1' } }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  const run = async (opts) => {
    const res = await fetch(srv.url('/run'), { method: 'POST', body: JSON.stringify(opts) });
    return { status: res.status, json: await res.json() };
  };

  it('captures stdout, stderr and the exit status, and feeds stdin', async () => {
    let r = await run({ argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
    assert.deepEqual([r.json.stdout, r.json.stderr, r.json.status], ['out\n', 'err\n', 3]);
    r = await run({ argv: ['cat'], stdin: 'piped' });
    assert.equal(r.json.stdout, 'piped');
    assert.equal(r.json.status, 0);
  });

  it('kills a child past timeout_ms and caps output at max_output', async () => {
    const t0 = Date.now();
    let r = await run({ argv: ['sleep', '5'], timeout_ms: 200 });
    assert.equal(r.json.timed_out, true);
    assert.equal(r.json.signal, 9);
    assert.ok(Date.now() - t0 < 2000);
    r = await run({ argv: ['head', '-c', '100000', '/dev/zero'], max_output: 1000 });
    assert.equal(r.json.stdout.length, 1000);
    assert.equal(r.json.truncated, true);
  });

  it('reports a program that cannot start', async () => {
    const r = await run({ argv: ['/nonexistent/program'] });
    assert.equal(r.status, 500);
    assert.match(r.json.error, /no such file/i);
  });

  it('does not block heartbeats while a tool waits for a child', async () => {
    const st = await openStream(srv.port, '/events');
    const p = callTool(srv, 'run', { argv: ['sleep', '2.5'] });
    await waitFor(st, () => st.comments.length >= 2, 4000);
    const gap = st.comments[1] - st.comments[0];
    assert.ok(Math.abs(gap - 1000) <= 100, `heartbeat gap ${gap} ms during exec`);
    assert.equal((await p).content[0].text, 'status 0');
    closeStream(st);
  });
});

describe('mw.http.request', () => {
  let srv, upstream;
  const APP2 = `local mw = require "moonwire"
mw.route { method = "POST", path = "/fetch", handler = function(req)
  local opts = mw.json.decode(req.body)
  local r, err = mw.http.request(opts)
  if not r then return { status = 502, json = { error = err } } end
  return { json = { status = r.status, body = r.body, ctype = r.headers["content-type"], x = r.headers["x-test"] } }
end }
mw.route { path = "/events", channel = "ch" }
mw.tool { name = "fetch", description = "GETs a URL", input_schema = { type = "object", properties = { url = { type = "string" } } },
  handler = function(args) local r, err = mw.http.request { url = args.url } if not r then return nil, err end return r.body end }
`;
  before(async () => {
    const http = await import('node:http');
    upstream = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        if (req.url === '/slow') { setTimeout(() => res.end('late'), 2500); return; }
        if (req.url === '/big') { res.end('x'.repeat(5000)); return; }
        if (req.url === '/chunked') { res.write('a'); res.write('b'); res.end('c'); return; }
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('X-Test', ['1', '2']);
        res.end(JSON.stringify({ method: req.method, url: req.url, body, auth: req.headers.authorization }));
      });
    });
    await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
    srv = await startServer({ scripts: [scriptsDir({ 'app.lua': APP2 })], env: { SSE_HEARTBEAT_INTERVAL: '1' } });
  });
  after(async () => { upstream.close(); assert.equal((await srv.stop()).code, 0); });

  const fetchVia = async (opts) => {
    const res = await fetch(srv.url('/fetch'), { method: 'POST', body: JSON.stringify(opts) });
    return { status: res.status, json: await res.json() };
  };
  const base = () => `http://127.0.0.1:${upstream.address().port}`;

  it('sends method, headers and body; returns status, headers and body', async () => {
    const r = await fetchVia({ method: 'post', url: `${base()}/api?q=1`, headers: { Authorization: 'Bearer t' }, body: 'hello' });
    assert.equal(r.json.status, 200);
    assert.deepEqual(JSON.parse(r.json.body), { method: 'POST', url: '/api?q=1', body: 'hello', auth: 'Bearer t' });
    assert.equal(r.json.ctype, 'application/json');
    assert.equal(r.json.x, '1, 2');
  });

  it('reads chunked bodies, caps bodies, times out, and reports refused connections', async () => {
    assert.equal((await fetchVia({ url: `${base()}/chunked` })).json.body, 'abc');
    assert.match((await fetchVia({ url: `${base()}/big`, max_body: 1000 })).json.error, /max_body/);
    const t0 = Date.now();
    assert.match((await fetchVia({ url: `${base()}/slow`, timeout_ms: 200 })).json.error, /timed out/);
    assert.ok(Date.now() - t0 < 2000);
    assert.equal((await fetchVia({ url: 'http://127.0.0.1:1/' })).status, 502);
    assert.match((await fetchVia({ url: 'https://example.com/' })).json.error, /https/);
  });

  it('does not block heartbeats while a tool waits for the upstream', async () => {
    const st = await openStream(srv.port, '/events');
    const p = callTool(srv, 'fetch', { url: `${base()}/slow` });
    await waitFor(st, () => st.comments.length >= 2, 4000);
    const gap = st.comments[1] - st.comments[0];
    assert.ok(Math.abs(gap - 1000) <= 100, `heartbeat gap ${gap} ms during the request`);
    assert.equal((await p).content[0].text, 'late');
    closeStream(st);
  });
});
