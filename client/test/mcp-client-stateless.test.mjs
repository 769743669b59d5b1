// McpClient in the stateless revision 2026-07-28: discovery, the headers and _meta every
// request carries, progress, Multi Round-Trip elicitation and ping, cancellation by closing
// the POST, and notifications through subscriptions/listen.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, scriptsDir } from '../../spec/integration/lib/harness.mjs';
import { McpClient, McpError } from '../mcp-client.js';
import { HELLO, toolsDir, text, waitUntil, cuttingFetch } from './mcp-client-lib.mjs';

const V = '2026-07-28';
const fast = { protocolVersion: V, initialRetryMs: 20, maxRetryMs: 200, requestTimeoutMs: 8000 };

// A tool whose argument must be mirrored in an Mcp-Param-Region header.
const HEADER_TOOL = `local mw = require "moonwire"
mw.tool { name = "where", description = "Echoes the region",
  input_schema = { type = "object", properties = { region = { type = "string", ["x-mcp-header"] = "Region" } } },
  handler = function(args) return "region " .. args.region end }
`;

describe('McpClient, 2026-07-28', () => {
  let srv;
  before(async () => {
    srv = await startServer({ scripts: [HELLO, toolsDir(), scriptsDir({ 'where.lua': HEADER_TOOL })] });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('discovers the server and calls tools with progress, each request carrying its context', async () => {
    const f = cuttingFetch(() => false);
    const client = new McpClient(srv.url('/mcp'), { ...fast, fetch: f, logLevel: 'info' });
    try {
      const info = await client.connect();
      assert.equal(info.protocolVersion, V);
      assert.equal(info.sessionId, null);
      assert.equal(client.serverInfo.name, 'moonwire');
      assert.ok(client.supportedVersions.includes(V));
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'countdown'));
      assert.equal(text(await client.callTool('add', { a: 2, b: 40 })), '42');
      const progress = [];
      const res = await client.callTool('countdown', { n: 3 }, { onProgress: (p) => progress.push(p.progress) });
      assert.equal(text(res), 'liftoff');
      assert.equal(res.resultType, 'complete');
      assert.deepEqual(progress, [1, 2, 3]);
      // Mcp-Param-* headers come from the x-mcp-header schemas listTools() saw; a value that is
      // not plain ASCII goes base64.
      assert.equal(text(await client.callTool('where', { region: 'eu-west' })), 'region eu-west');
      assert.equal(text(await client.callTool('where', { region: ' Zürich ' })), 'region  Zürich ');
      const posts = f.log.filter((r) => r.method === 'POST');
      for (const r of posts) {
        const msg = JSON.parse(r.body);
        assert.equal(r.headers.get('mcp-protocol-version'), V);
        assert.equal(r.headers.get('mcp-method'), msg.method);
        assert.equal(r.headers.get('mcp-session-id'), null);
        assert.equal(msg.params._meta['io.modelcontextprotocol/protocolVersion'], V);
        assert.ok(msg.params._meta['io.modelcontextprotocol/clientCapabilities']);
        assert.equal(msg.params._meta['io.modelcontextprotocol/logLevel'], 'info');
        if (msg.method === 'tools/call') assert.equal(r.headers.get('mcp-name'), msg.params.name);
      }
      const zurich = posts.find((r) => /Z\u00fcrich/.test(r.body));
      assert.match(zurich.headers.get('mcp-param-region'), /^=\?base64\?.+\?=$/);
      assert.ok(!f.log.some((r) => r.method !== 'POST'), 'no GET or DELETE in this revision');
      await assert.rejects(client.callTool('nope'), (e) => e instanceof McpError && e.code === -32602);
    } finally {
      await client.close();
    }
  });

  it('answers input_required rounds (elicitation, ping) with the handlers and sends the request again', async () => {
    const asked = [];
    const client = new McpClient(srv.url('/mcp'), { ...fast, requestHandlers: {
      'elicitation/create': (params) => { asked.push(params.message); return { action: 'accept', content: { name: 'Bo' } }; },
    } });
    try {
      assert.equal(text(await client.callTool('ask')), 'hello Bo');
      assert.deepEqual(asked, ['Name?']);
      assert.equal(text(await client.callTool('ping_client')), 'pong');
      // Without a handler the client has no elicitation capability: the server says so.
      client.setRequestHandler('elicitation/create', null);
      await assert.rejects(client.callTool('ask'), (e) => e instanceof McpError && e.code === -32021);
    } finally {
      await client.close();
    }
  });

  it('cancels by closing the POST; a stream cut mid-call is reported, not resumed', async () => {
    const f = cuttingFetch((seen) => (seen.match(/notifications\/progress/g) || []).length >= 2);
    const client = new McpClient(srv.url('/mcp'), { ...fast, fetch: f });
    try {
      await assert.rejects(client.callTool('long', { tag: 'cut' }, { onProgress: () => {} }),
        (e) => e instanceof McpError && e.reason === 'stream-broken');
      await waitUntil(async () => text(await client.callTool('was_cancelled', { tag: 'cut' })) === 'true', 3000, 'cancel after the cut');
      const ac = new AbortController();
      const call = client.callTool('long', { tag: 'abort' }, { signal: ac.signal, onProgress: (p) => { if (p.progress === 2) ac.abort(); } });
      await assert.rejects(call, (e) => e.name === 'AbortError');
      await waitUntil(async () => text(await client.callTool('was_cancelled', { tag: 'abort' })) === 'true', 3000, 'cancel after abort');
    } finally {
      await client.close();
    }
  });

  it('receives list_changed through subscriptions/listen', async () => {
    const client = new McpClient(srv.url('/mcp'), fast);
    const got = [];
    client.addEventListener('notification', (e) => got.push(e.method));
    try {
      await client.connect();
      const sub = client.listen({ toolsListChanged: true });
      const ack = await sub.acknowledged;
      assert.equal(ack.notifications.toolsListChanged, true);
      const reached = (await (await fetch(srv.url('/changed'), { method: 'POST' })).json()).reached;
      assert.ok(reached >= 1);
      await waitUntil(() => got.includes('notifications/tools/list_changed'), 3000, 'list_changed');
      sub.close();
      // The listen stream's session ends with it: later broadcasts reach no one.
      await waitUntil(async () => (await (await fetch(srv.url('/changed'), { method: 'POST' })).json()).reached === 0,
        3000, 'listen session gone after close');
      assert.throws(() => new McpClient(srv.url('/mcp')).listen({}), /2026-07-28/);
    } finally {
      await client.close();
    }
  });
});
