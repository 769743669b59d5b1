// McpClient against the real server in the session revision 2025-11-25: tools with progress,
// notifications on the GET stream, requests from the server, cancellation and timeouts, a POST
// stream cut mid-call and resumed by GET, and a session deleted behind the client's back.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../../spec/integration/lib/harness.mjs';
import { McpClient, McpError } from '../mcp-client.js';
import { HELLO, toolsDir, text, waitUntil, cuttingFetch } from './mcp-client-lib.mjs';

const fast = { initialRetryMs: 20, maxRetryMs: 200, requestTimeoutMs: 8000 };

describe('McpClient, 2025-11-25', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [HELLO, toolsDir()] }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('initializes a session, lists tools and calls them with progress', async () => {
    const client = new McpClient(srv.url('/mcp'), fast);
    try {
      const info = await client.connect();
      assert.equal(info.protocolVersion, '2025-11-25');
      assert.match(client.sessionId, /^[A-Za-z0-9_-]{22}$/);
      assert.equal(client.serverInfo.name, 'moonwire');
      assert.equal(client.state, 'ready');
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'add') && tools.some((t) => t.name === 'countdown'));
      assert.equal(text(await client.callTool('add', { a: 2, b: 3 })), '5');
      const progress = [];
      const res = await client.callTool('countdown', { n: 4 }, { onProgress: (p) => progress.push(p) });
      assert.equal(text(res), 'liftoff');
      assert.deepEqual(progress.map((p) => [p.progress, p.total]), [[1, 4], [2, 4], [3, 4], [4, 4]]);
      assert.equal(progress[0].message, 'step 1 of 4');
      await assert.rejects(client.request('no/such'), (e) => e instanceof McpError && e.code === -32601);
    } finally {
      await client.close();
    }
    assert.equal(client.state, 'closed');
  });

  it('sends MCP-Protocol-Version and the session id on every request after initialize; close() deletes the session', async () => {
    const f = cuttingFetch(() => false);
    const client = new McpClient(srv.url('/mcp'), { ...fast, fetch: f });
    await client.connect();
    const sid = client.sessionId;
    await client.callTool('add', { a: 1, b: 1 });
    await client.close();
    const [init, ...rest] = f.log;
    assert.equal(JSON.parse(init.body).method, 'initialize');
    assert.equal(init.headers.get('accept'), 'application/json, text/event-stream');
    assert.equal(init.headers.get('mcp-session-id'), null);
    assert.ok(rest.some((r) => r.method === 'GET'), 'the GET stream was opened');
    for (const r of rest) {
      assert.equal(r.headers.get('mcp-protocol-version'), '2025-11-25', `${r.method} ${r.body}`);
      assert.equal(r.headers.get('mcp-session-id'), sid);
    }
    assert.equal(rest.at(-1).method, 'DELETE');
    assert.equal(rest.at(-1).status, 200);
    const res = await fetch(srv.url('/mcp'), { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid } });
    assert.equal(res.status, 404);
  });

  it('delivers server notifications from the GET stream', async () => {
    const client = new McpClient(srv.url('/mcp'), fast);
    const got = [];
    client.setNotificationHandler('notifications/message', (params) => got.push(params.data));
    try {
      await client.connect();
      await waitUntil(() => client.standaloneStream && client.standaloneStream.state === 'open', 3000, 'GET stream');
      await client.callTool('notify_me', { text: 'one' });
      await client.callTool('notify_me', { text: 'two' });
      await waitUntil(() => got.length === 2, 3000, 'notifications');
      assert.deepEqual(got, ['one', 'two']);
    } finally {
      await client.close();
    }
  });

  it('answers elicitation with the user handler and ping by itself', async () => {
    const asked = [];
    const client = new McpClient(srv.url('/mcp'), { ...fast, requestHandlers: {
      'elicitation/create': (params) => { asked.push(params.message); return { action: 'accept', content: { name: 'Ann' } }; },
    } });
    try {
      assert.equal(text(await client.callTool('ask')), 'hello Ann');
      assert.deepEqual(asked, ['Name?']);
      assert.equal(text(await client.callTool('ping_client')), 'pong');
      client.setRequestHandler('elicitation/create', () => ({ action: 'decline' }));
      assert.equal(text(await client.callTool('ask')), 'declined');
      // A handler that throws answers with a JSON-RPC error, which the tool sees.
      client.setRequestHandler('elicitation/create', () => { throw new Error('dialog closed'); });
      const failed = await client.callTool('ask');
      assert.equal(failed.isError, true);
      assert.match(text(failed), /dialog closed/);
    } finally {
      await client.close();
    }
  });

  it('cancels on abort and on timeout: the server is told and stops', async () => {
    const client = new McpClient(srv.url('/mcp'), fast);
    try {
      const ac = new AbortController();
      let n = 0;
      const call = client.callTool('long', { tag: 'abort' }, { signal: ac.signal,
        onProgress: () => { if (++n === 3) ac.abort(); } });
      await assert.rejects(call, (e) => e.name === 'AbortError');
      await waitUntil(async () => text(await client.callTool('was_cancelled', { tag: 'abort' })) === 'true', 3000, 'server-side cancel');
      assert.equal(n, 3, 'no progress after the abort');

      const t0 = Date.now();
      await assert.rejects(client.callTool('long', { tag: 'timeout' }, { timeoutMs: 300 }),
        (e) => e instanceof McpError && e.reason === 'timeout');
      assert.ok(Date.now() - t0 < 2000);
      await waitUntil(async () => text(await client.callTool('was_cancelled', { tag: 'timeout' })) === 'true', 3000, 'server-side cancel');

      // Aborted before it was ever sent: rejected at once.
      const early = new AbortController();
      early.abort();
      await assert.rejects(client.callTool('add', { a: 1, b: 2 }, { signal: early.signal }), (e) => e.name === 'AbortError');
    } finally {
      await client.close();
    }
  });

  it('resumes a POST stream cut mid-call by GET + Last-Event-ID; the result arrives once', async () => {
    const progressEvents = (s) => (s.match(/notifications\/progress/g) || []).length;
    const f = cuttingFetch((seen) => progressEvents(seen) >= 3);
    const client = new McpClient(srv.url('/mcp'), { ...fast, fetch: f });
    const resumes = [];
    client.addEventListener('resume', (e) => resumes.push(e.lastEventId));
    try {
      await client.connect();
      const progress = [];
      let results = 0;
      const res = await client.callTool('countdown', { n: 8 }, { onProgress: (p) => progress.push(p.progress) })
        .then((r) => { results++; return r; });
      assert.equal(text(res), 'liftoff');
      assert.ok(f.log.some((r) => r.cut), 'the stream was cut');
      assert.equal(resumes.length, 1);
      assert.match(resumes[0], /^[1-9]\d*-\d+$/, 'resumes from an id of the POST stream');
      const resumeGet = f.log.find((r) => r.method === 'GET' && r.headers.get('last-event-id') === resumes[0]);
      assert.ok(resumeGet, 'a GET with Last-Event-ID');
      assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8], 'every progress once, in order');
      assert.equal(f.log.filter((r) => r.method === 'POST' && /tools\/call/.test(r.body)).length, 1, 'not re-sent');
      assert.equal(results, 1);
      assert.equal(text(await client.callTool('add', { a: 1, b: 1 })), '2');
    } finally {
      await client.close();
    }
  });

  it('resumes a POST stream that went silent (heartbeat watchdog) and one the server closed early', async () => {
    const f = cuttingFetch((seen) => (seen.match(/notifications\/progress/g) || []).length >= 2, { stall: true });
    const client = new McpClient(srv.url('/mcp'), { ...fast, fetch: f, sse: { heartbeatTimeoutMs: 600 } });
    const resumes = [];
    client.addEventListener('resume', (e) => resumes.push(e.lastEventId));
    try {
      const progress = [];
      const t0 = Date.now();
      const res = await client.callTool('countdown', { n: 5 }, { onProgress: (p) => progress.push(p.progress) });
      assert.equal(text(res), 'liftoff');
      assert.ok(f.log.some((r) => r.cut), 'the stream was stalled');
      assert.equal(resumes.length, 1);
      assert.deepEqual(progress, [1, 2, 3, 4, 5]);
      assert.ok(Date.now() - t0 < 3000);
      // ctx:close_stream(): the response ends after its priming event; the result comes by GET.
      assert.equal(text(await client.callTool('detach')), 'after close');
      assert.equal(resumes.length, 2);
    } finally {
      await client.close();
    }
  });

  it('re-initializes after a 404 and re-sends what was pending, idle or mid-call', async () => {
    const client = new McpClient(srv.url('/mcp'), fast);
    const events = [];
    client.addEventListener('sessionexpired', (e) => events.push(['expired', e.sessionId]));
    client.addEventListener('reinitialized', (e) => events.push(['reinitialized', e.previousSessionId, e.sessionId]));
    const del = (sid) => fetch(srv.url('/mcp'), { method: 'DELETE',
      headers: { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } });
    try {
      await client.connect();
      const first = client.sessionId;
      assert.equal((await del(first)).status, 200);
      assert.equal(text(await client.callTool('add', { a: 20, b: 22 })), '42');
      assert.notEqual(client.sessionId, first);
      assert.deepEqual(events.slice(0, 2), [['expired', first], ['reinitialized', first, client.sessionId]]);

      // Deleted while a call runs: its stream ends, the resume gets 404, the call is re-sent.
      const second = client.sessionId;
      const progress = [];
      const call = client.callTool('countdown', { n: 6 }, { onProgress: (p) => {
        progress.push(p.progress);
        if (progress.length === 2) del(second);
      } });
      assert.equal(text(await call), 'liftoff');
      assert.notEqual(client.sessionId, second);
      assert.deepEqual(progress.slice(-6), [1, 2, 3, 4, 5, 6], 'the re-sent call ran to the end');
      assert.ok(events.some((e) => e[0] === 'expired' && e[1] === second));
      assert.equal(client.state, 'ready');
    } finally {
      await client.close();
    }
  });
});
