// The bundled plugins (plugins/*.lua) end to end, loaded from the repo's
// plugins/ by a --config file: bearer_auth's 401 + challenge, rate_limit's
// 429 + Retry-After, redact keeping a secret off the wire (JSON and SSE
// responses), and tool_metrics' series on /metrics.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, tmpdir, scriptsDir, ROOT } from './lib/harness.mjs';

const SECRET = 'sk-TEST-123';
const TOKEN = 'tok-integration-1';
const ACCEPT = 'application/json, text/event-stream';

const TOOLS = `local mw = require "moonwire"
mw.tool { name = "leak", description = "Returns a secret", handler = function() return "the key is ${SECRET}" end }
mw.tool { name = "leak_stream", description = "Logs and returns a secret (SSE response)",
  handler = function(args, ctx)
    ctx:log("warning", "logging ${SECRET}", "leak")
    return { content = { mw.text("streamed ${SECRET}") }, structured = { key = "${SECRET}" } }
  end }
mw.tool { name = "fails", description = "Always an error result", handler = function() return nil, "nope" end }
mw.route { path = "/hello", handler = function() return "hi" end }
`;

function config(pluginsText) {
  const dir = tmpdir('mw-bundled-');
  const conf = path.join(dir, 'moonwire.conf.lua');
  fs.writeFileSync(conf, `plugins = ${pluginsText}\n`);
  return conf;
}

const PLUGINS = JSON.stringify(path.join(ROOT, 'plugins'));

async function rpc(srv, body, { sid, token = TOKEN } = {}) {
  const headers = { 'Content-Type': 'application/json', Accept: ACCEPT, 'MCP-Protocol-Version': '2025-11-25' };
  if (sid) headers['Mcp-Session-Id'] = sid;
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(srv.url('/mcp'), { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  const type = res.headers.get('content-type') || '';
  if (type.includes('application/json') && text) json = JSON.parse(text);
  if (type.includes('text/event-stream')) {
    // The last non-empty data: line is the response (the first event primes resumption, no data).
    const data = text.split('\n').filter((l) => l.startsWith('data:') && l.slice(5).trim())
      .map((l) => JSON.parse(l.slice(5)));
    json = data[data.length - 1];
  }
  return { res, text, json };
}

async function openSession(srv) {
  const init = await rpc(srv, { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  assert.equal(init.res.status, 200, init.text);
  const sid = init.res.headers.get('mcp-session-id');
  const n = await rpc(srv, { jsonrpc: '2.0', method: 'notifications/initialized' }, { sid });
  assert.equal(n.res.status, 202);
  return sid;
}

describe('bundled plugins: bearer_auth, redact, tool_metrics, access_log', () => {
  let srv;
  before(async () => {
    const conf = config(`{ _paths = { ${PLUGINS} },
      bearer_auth = { tokens = { "${TOKEN}" } },
      redact = { patterns = { "sk%-TEST%-%d+" } },
      tool_metrics = { buckets = { 10, 100, 1000 } },
      access_log = true }`);
    srv = await startServer({ scripts: [scriptsDir({ 'tools.lua': TOOLS })], args: ['--config', conf] });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('answers 401 with WWW-Authenticate without a valid token, and passes with one', async () => {
    let res = await fetch(srv.url('/hello'));
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="moonwire"');
    assert.equal((await res.json()).error, 'unauthorized');
    res = await fetch(srv.url('/hello'), { headers: { Authorization: 'Bearer wrong' } });
    assert.equal(res.status, 401);
    await res.text();
    const r = await rpc(srv, { jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } },
    { token: null });
    assert.equal(r.res.status, 401);
    assert.match(r.res.headers.get('www-authenticate'), /^Bearer realm="moonwire"/);
    res = await fetch(srv.url('/hello'), { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hi');
    // Answered by the core: no token needed.
    res = await fetch(srv.url('/healthz'));
    assert.equal(res.status, 200);
    await res.text();
    // access_log: one line per answered request, with its status — the 401s
    // that bearer_auth sent and the core's own /healthz included.
    await new Promise((r) => setTimeout(r, 100));
    assert.match(srv.stderr, /msg=access [^\n]*status=401[^\n]*path=\/hello|msg=access [^\n]*path=\/hello[^\n]*status=401/);
    assert.match(srv.stderr, /msg=access [^\n]*(path=\/healthz[^\n]*status=200|status=200[^\n]*path=\/healthz)/);
  });

  it('keeps a secret returned by a tool off JSON and SSE responses', async () => {
    const sid = await openSession(srv);
    const plain = await rpc(srv, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'leak', arguments: {} } }, { sid });
    assert.equal(plain.res.status, 200);
    assert.ok(!plain.text.includes(SECRET), plain.text);
    assert.equal(plain.json.result.content[0].text, 'the key is [REDACTED]');

    const streamed = await rpc(srv, { jsonrpc: '2.0', id: 3, method: 'tools/call',
      params: { name: 'leak_stream', arguments: {} } }, { sid });
    assert.equal(streamed.res.status, 200);
    assert.match(streamed.res.headers.get('content-type'), /text\/event-stream/);
    assert.ok(!streamed.text.includes(SECRET), streamed.text);
    assert.match(streamed.text, /logging \[REDACTED\]/);
    assert.equal(streamed.json.result.content[0].text, 'streamed [REDACTED]');
    assert.deepEqual(streamed.json.result.structuredContent, { key: '[REDACTED]' });
  });

  it('shows per-tool counters and the latency histogram on /metrics', async () => {
    const sid = await openSession(srv);
    for (let i = 0; i < 3; i++) {
      const r = await rpc(srv, { jsonrpc: '2.0', id: 10 + i, method: 'tools/call', params: { name: 'leak', arguments: {} } }, { sid });
      assert.equal(r.res.status, 200);
    }
    const f = await rpc(srv, { jsonrpc: '2.0', id: 20, method: 'tools/call', params: { name: 'fails', arguments: {} } }, { sid });
    assert.equal(f.json.result.isError, true);
    const res = await fetch(srv.url('/metrics'));
    const text = await res.text();
    // 'leak' was also called once by the previous test.
    assert.match(text, /^moonwire_tool_calls_total\{tool="leak"\} 4$/m);
    assert.match(text, /^moonwire_tool_errors_total\{tool="leak"\} 0$/m);
    assert.match(text, /^moonwire_tool_calls_total\{tool="fails"\} 1$/m);
    assert.match(text, /^moonwire_tool_errors_total\{tool="fails"\} 1$/m);
    assert.match(text, /^# TYPE moonwire_tool_duration_ms histogram$/m);
    assert.match(text, /^moonwire_tool_duration_ms_bucket\{tool="leak",le="\+Inf"\} 4$/m);
    assert.match(text, /^moonwire_tool_duration_ms_count\{tool="leak"\} 4$/m);
    assert.match(text, /^moonwire_tool_duration_ms_sum\{tool="leak"\} \d+$/m);
  });
});

describe('bundled plugins: rate_limit', () => {
  let srv;
  before(async () => {
    const conf = config(`{ _paths = { ${PLUGINS} }, rate_limit = { rate = 0.5, burst = 3 } }`);
    srv = await startServer({ scripts: [scriptsDir({ 'tools.lua': TOOLS })], args: ['--config', conf] });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('answers a burst over the limit with 429 and Retry-After; /mcp gets a JSON-RPC error', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(srv.url('/hello'));
      statuses.push(res.status);
      await res.text();
    }
    assert.deepEqual(statuses, [200, 200, 200]);
    const res = await fetch(srv.url('/hello'));
    assert.equal(res.status, 429);
    const retry = Number(res.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 2, String(retry));
    assert.equal((await res.json()).error, 'rate_limited');

    const r = await rpc(srv, { jsonrpc: '2.0', id: 5, method: 'tools/list' }, { token: null });
    assert.equal(r.res.status, 429);
    assert.ok(Number(r.res.headers.get('retry-after')) >= 1);
    assert.equal(r.json.jsonrpc, '2.0');
    assert.equal(r.json.id, 5);
    assert.equal(r.json.error.code, -32029);
  });
});

describe('cors plugin', () => {
  let srv, dir, conf;
  const policy = `{ _paths = { ${PLUGINS} }, cors = { origins = { "http://localhost:5173" },
    methods = { "GET", "POST" }, headers = { "Content-Type", "X-Custom" }, expose = { "Mcp-Session-Id", "X-Trace" },
    max_age = 600, credentials = true } }`;
  before(async () => {
    dir = scriptsDir({ 'app.lua': 'local mw = require "moonwire"\nmw.route { path = "/hello", handler = function() return "hi" end }\n' });
    conf = config(policy);
    srv = await startServer({ scripts: [dir], args: ['--config', conf] });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('answers preflights and responses with the configured policy', async () => {
    const pre = await fetch(srv.url('/hello'), { method: 'OPTIONS',
      headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-other' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, POST');
    assert.equal(pre.headers.get('access-control-allow-headers'), 'Content-Type, X-Custom');
    assert.equal(pre.headers.get('access-control-max-age'), '600');
    const res = await fetch(srv.url('/hello'), { headers: { Origin: 'http://localhost:5173' } });
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:5173');
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(res.headers.get('access-control-expose-headers'), 'Mcp-Session-Id, X-Trace');
    const other = await fetch(srv.url('/hello'), { headers: { Origin: 'http://localhost:9999' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null, 'origin not in the list gets no CORS grant');
  });

  it('returns to the defaults when the plugin is removed and the server reloads', async () => {
    fs.writeFileSync(conf, `plugins = { _paths = { ${PLUGINS} } }\n`);
    srv.child.kill('SIGHUP');
    const t0 = Date.now();
    for (;;) {
      const res = await fetch(srv.url('/hello'), { headers: { Origin: 'http://localhost:9999' } });
      if (res.headers.get('access-control-allow-origin') === '*') break;
      assert.ok(Date.now() - t0 < 2000, 'defaults restored');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('refuses credentials with a wildcard origin at startup', async () => {
    const bad = config(`{ _paths = { ${PLUGINS} }, cors = { credentials = true } }`);
    const s = await startServer({ scripts: [dir], args: ['--config', bad], expectFail: true });
    const res = await s.exited;
    assert.notEqual(res.code, 0);
    assert.match(s.stderr, /credentials = true needs explicit origins/);
  });
});
