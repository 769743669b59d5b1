// The 2026-07-28 stateless path's value checks, spoken with raw fetch and with
// the official 2.x client: Mcp-Name in its base64 form (SEP-2243 value
// encoding) for non-ASCII prompt names and resource URIs, the
// subscriptions/listen filter (validated, acknowledged as honored), and
// logging (declared by server/discover, _meta logLevel validated).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startServer, scriptsDir, openStream, closeStream, waitFor } from './lib/harness.mjs';

const SCRIPTS = `local mw = require "moonwire"
mw.tool { name = "echo", description = "Returns its text",
  input_schema = { type = "object", properties = { text = { type = "string" } } },
  handler = function(args) return args.text or "" end }
mw.tool { name = "logs", description = "Logs once at debug and at error",
  handler = function(args, ctx)
    ctx:log("debug", "low", "t")
    ctx:log("error", "high", "t")
    return "logged"
  end }
mw.prompt { name = "grüße", description = "Greets in German",
  handler = function() return "Sag hallo." end }
mw.resource { uri = "test://ünïcode", name = "unicode", mime_type = "text/plain",
  handler = function() return "ünïcode text" end }
mw.resource { uri = "test://broken", name = "broken", mime_type = "text/plain",
  handler = function() error("backend down") end }
mw.route { method = "POST", path = "/changed", handler = function()
  return { json = { tools = mw.list_changed("tools"), prompts = mw.list_changed("prompts"),
                    resources = mw.list_changed("resources"),
                    updated = mw.resource_updated("test://ünïcode") } }
end }
`;

const NEW = '2026-07-28';
const ACCEPT = 'application/json, text/event-stream';
const META = { 'io.modelcontextprotocol/protocolVersion': NEW, 'io.modelcontextprotocol/clientCapabilities': {} };
const b64 = (s) => `=?base64?${Buffer.from(s, 'utf8').toString('base64')}?=`;

// One 2026-07-28 request: Mcp-Method mirrors the method unless headers say otherwise.
// Bounded: a listen request that wrongly opens its stream would never end.
async function post(srv, method, params, headers = {}, id = 1) {
  const res = await fetch(srv.url('/mcp'), { method: 'POST', signal: AbortSignal.timeout(5000),
    headers: { 'Content-Type': 'application/json', Accept: ACCEPT, 'MCP-Protocol-Version': NEW, 'Mcp-Method': method, ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { _meta: META, ...params } }) });
  const text = await res.text();
  return { status: res.status, ctype: res.headers.get('content-type'), text,
    msg: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : null };
}

// Opens subscriptions/listen on a raw socket (the stream stays open).
function listen(srv, notifications, id = 'L1') {
  const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { _meta: META, notifications } });
  return openStream(srv.port, '/mcp', { Accept: ACCEPT, 'Content-Type': 'application/json', 'MCP-Protocol-Version': NEW,
    'Mcp-Method': 'subscriptions/listen' }, { method: 'POST', body });
}
// openStream reads bytes as latin1; the JSON is UTF-8.
const dataOf = (st) => st.events.filter((e) => e.data).map((e) => JSON.parse(Buffer.from(e.data, 'latin1').toString('utf8')));

describe('2026-07-28: Mcp-Name in its base64 form', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 's.lua': SCRIPTS })] }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('decodes =?base64?…?= before comparing with params.name and params.uri', async () => {
    const p = await post(srv, 'prompts/get', { name: 'grüße' }, { 'Mcp-Name': b64('grüße') });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.msg.result.messages[0].content.text, 'Sag hallo.');
    const r = await post(srv, 'resources/read', { uri: 'test://ünïcode' }, { 'Mcp-Name': ` ${b64('test://ünïcode')}\t` });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.msg.result.contents[0].text, 'ünïcode text');
    // Any value may be sent encoded, ASCII ones too.
    const t = await post(srv, 'tools/call', { name: 'echo', arguments: { text: 'hi' } }, { 'Mcp-Name': b64('echo') });
    assert.equal(t.status, 200, t.text);
    assert.equal(t.msg.result.content[0].text, 'hi');
  });

  it('answers 400 -32020 when the decoded value differs or the base64 is invalid', async () => {
    const other = await post(srv, 'prompts/get', { name: 'grüße' }, { 'Mcp-Name': b64('grüsse') });
    assert.equal(other.status, 400, other.text);
    assert.equal(other.msg.error.code, -32020);
    assert.equal(other.msg.error.message, 'Header mismatch: Mcp-Name must equal params.name');
    assert.equal(other.msg.id, 1);
    // The value is the base64 form itself, sent unencoded: it decodes to something else.
    const literal = b64('A');
    const lit = await post(srv, 'resources/read', { uri: literal }, { 'Mcp-Name': literal });
    assert.equal(lit.status, 400, lit.text);
    assert.equal(lit.msg.error.message, 'Header mismatch: Mcp-Name must equal params.uri');
    for (const bad of ['=?base64?Z3LDvMOfZQ?=', '=?base64?Z3L*vMOfZQ==?=', '=?base64?Z3LDvMOfZR==?=']) {
      const r = await post(srv, 'prompts/get', { name: 'grüße' }, { 'Mcp-Name': bad });
      assert.equal(r.status, 400, bad);
      assert.equal(r.msg.error.code, -32020, bad);
      assert.equal(r.msg.error.message, 'Header mismatch: Mcp-Name: invalid base64', bad);
    }
  });

  it('serves the official 2.x client a non-ASCII prompt name and resource URI', async () => {
    const sent = [];
    const recording = async (url, init = {}) => {
      sent.push(Object.fromEntries(new Headers(init.headers).entries()));
      return fetch(url, init);
    };
    const client = new Client({ name: 'sdk2-unicode', version: '2.0.0' }, { capabilities: {}, versionNegotiation: { mode: { pin: NEW } } });
    const transport = new StreamableHTTPClientTransport(new URL(srv.url('/mcp')), { fetch: recording });
    await client.connect(transport);
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), NEW);
      const prompt = await client.getPrompt({ name: 'grüße' });
      assert.equal(prompt.messages[0].content.text, 'Sag hallo.');
      const read = await client.readResource({ uri: 'test://ünïcode' });
      assert.equal(read.contents[0].text, 'ünïcode text');
      // The client did send the encoded form (else this test proves nothing).
      const names = sent.map((h) => h['mcp-name']).filter(Boolean);
      assert.ok(names.includes(b64('grüße')), JSON.stringify(names));
      assert.ok(names.includes(b64('test://ünïcode')), JSON.stringify(names));
    } finally {
      await client.close();
    }
  });
});

describe('2026-07-28: subscriptions/listen filter', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 's.lua': SCRIPTS })] }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('answers 400 -32602 for a filter of the wrong shape, naming the field', async () => {
    const cases = [
      [[], /notifications must be an object/],
      ['all', /notifications must be an object/],
      [{ toolsListChanged: 'yes' }, /notifications\.toolsListChanged must be a boolean/],
      [{ promptsListChanged: 1 }, /notifications\.promptsListChanged must be a boolean/],
      [{ resourcesListChanged: null }, /notifications\.resourcesListChanged must be a boolean/],
      [{ resourceSubscriptions: 'notalist' }, /notifications\.resourceSubscriptions must be a list of URI strings/],
      [{ resourceSubscriptions: { a: 'test://x' } }, /notifications\.resourceSubscriptions must be a list of URI strings/],
      [{ resourceSubscriptions: ['test://x', 7] }, /notifications\.resourceSubscriptions must be a list of URI strings/],
    ];
    for (const [notifications, re] of cases) {
      const r = await post(srv, 'subscriptions/listen', { notifications }, {}, 'bad');
      assert.equal(r.status, 400, `${JSON.stringify(notifications)}: ${r.text}`);
      assert.equal(r.msg.error.code, -32602);
      assert.equal(r.msg.id, 'bad');
      assert.match(r.msg.error.message, re);
    }
  });

  it('acknowledges only what it honors: requested types, no unknown keys', async () => {
    const st = await listen(srv, { toolsListChanged: true, promptsListChanged: false, bogusChanged: true,
      resourceSubscriptions: ['test://ünïcode', 'test://ünïcode', 'test://other'] });
    try {
      assert.equal(st.status, 200);
      await waitFor(st, () => dataOf(st).length >= 1);
      const [ack] = dataOf(st);
      assert.equal(ack.method, 'notifications/subscriptions/acknowledged');
      assert.deepEqual(ack.params.notifications, { toolsListChanged: true, resourceSubscriptions: ['test://ünïcode', 'test://other'] });
      assert.equal(ack.params._meta['io.modelcontextprotocol/subscriptionId'], 'L1');
      // What the acknowledgement says is what arrives.
      const reached = await (await fetch(srv.url('/changed'), { method: 'POST' })).json();
      assert.deepEqual(reached, { tools: 1, prompts: 0, resources: 0, updated: 1 });
      await waitFor(st, () => dataOf(st).length >= 3);
      assert.deepEqual(dataOf(st).slice(1).map((m) => m.method).sort(),
        ['notifications/resources/updated', 'notifications/tools/list_changed']);
    } finally {
      closeStream(st);
    }
  });

  it('acknowledges an empty object for a filter that asks for nothing it knows', async () => {
    const st = await listen(srv, { toolsListChanged: false, resourceSubscriptions: [], somethingNew: { x: 1 } }, 'L2');
    try {
      assert.equal(st.status, 200);
      await waitFor(st, () => dataOf(st).length >= 1);
      const ack = dataOf(st)[0];
      assert.equal(ack.method, 'notifications/subscriptions/acknowledged');
      assert.deepEqual(ack.params.notifications, {});
      assert.match(st.raw, /"notifications":\{\}/, 'the empty filter is a JSON object');
    } finally {
      closeStream(st);
    }
  });
});

describe('2026-07-28: logging', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 's.lua': SCRIPTS })] }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('server/discover declares the logging capability', async () => {
    const r = await post(srv, 'server/discover', {});
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.msg.result.capabilities.logging, {});
  });

  it('a valid _meta logLevel streams the log messages at or above it', async () => {
    const meta = { ...META, 'io.modelcontextprotocol/logLevel': 'warning' };
    const r = await post(srv, 'tools/call', { name: 'logs', arguments: {}, _meta: meta }, { 'Mcp-Name': 'logs' });
    assert.equal(r.status, 200, r.text);
    assert.match(r.ctype, /^text\/event-stream/);
    const msgs = r.text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
    assert.deepEqual(msgs.filter((m) => m.method === 'notifications/message').map((m) => m.params.level), ['error']);
    assert.equal(msgs.at(-1).result.content[0].text, 'logged');
  });

  it('answers 400 -32602 naming the valid levels for an unknown or mistyped logLevel', async () => {
    for (const level of ['loud', 'INFO', 3, null, {}]) {
      const meta = { ...META, 'io.modelcontextprotocol/logLevel': level };
      for (const [method, params, headers] of [['tools/call', { name: 'logs', arguments: {} }, { 'Mcp-Name': 'logs' }],
        ['server/discover', {}, {}]]) {
        const r = await post(srv, method, { ...params, _meta: meta }, headers, 9);
        assert.equal(r.status, 400, `${method} ${JSON.stringify(level)}: ${r.text}`);
        assert.equal(r.msg.error.code, -32602);
        assert.equal(r.msg.id, 9);
        assert.equal(r.msg.error.message, 'Invalid params: _meta.io.modelcontextprotocol/logLevel must be one of '
          + 'debug, info, notice, warning, error, critical, alert, emergency');
      }
    }
  });
});

describe('2026-07-28: handler errors stay in-band', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 's.lua': SCRIPTS })] }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('a failing resource handler is -32603 on 200, which the 2.x client reads as a protocol error', async () => {
    const r = await post(srv, 'resources/read', { uri: 'test://broken' }, { 'Mcp-Name': 'test://broken' });
    assert.equal(r.status, 200);
    assert.equal(r.msg.error.code, -32603);
    const client = new Client({ name: 'sdk2-errors', version: '2.0.0' }, { capabilities: {}, versionNegotiation: { mode: { pin: NEW } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(srv.url('/mcp'))));
    try {
      await assert.rejects(client.readResource({ uri: 'test://broken' }), (e) => e.code === -32603);
    } finally {
      await client.close();
    }
  });
});

describe('2026-07-28: a listen stream on shutdown', () => {
  it('gets its SubscriptionsListenResult, then the retry hint', async () => {
    const srv = await startServer({ scripts: [scriptsDir({ 's.lua': SCRIPTS })], env: { SSE_RETRY_MS: '2500' } });
    const st = await listen(srv, { toolsListChanged: true }, 'L9');
    await waitFor(st, () => dataOf(st).some((m) => m.method === 'notifications/subscriptions/acknowledged'));
    assert.equal((await srv.stop()).code, 0);
    await waitFor(st, () => st.closed, 3000);
    const last = dataOf(st).at(-1);
    assert.deepEqual(last, { jsonrpc: '2.0', id: 'L9',
      result: { resultType: 'complete', _meta: { 'io.modelcontextprotocol/subscriptionId': 'L9' } } });
    assert.equal(st.events.at(-1).retry, '2500');
  });
});
