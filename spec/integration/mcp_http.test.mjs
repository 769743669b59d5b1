// The MCP transports' HTTP rules, spoken with raw fetch and raw sockets:
// Streamable HTTP (2025 session revisions) status codes and headers, batches,
// cancellation, log levels, server->client requests answered by POST; the
// legacy /sse + /messages transport with its Last-Event-ID resume; and the
// 2026-07-28 stateless path's method and header rules.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, scriptsDir, openStream, closeStream, waitFor, parseSSE, parseResponses, sleep } from './lib/harness.mjs';

const TOOLS = `local mw = require "moonwire"
mw.tool { name = "echo", description = "Returns its text",
  input_schema = { type = "object", properties = { text = { type = "string" } } },
  handler = function(args) return args.text or "" end }
mw.tool { name = "spin", description = "Sleeps until cancelled (at most 10 s), then records that it saw cancellation",
  handler = function(args, ctx)
    mw.shared:set("spin.started", "yes")
    for _ = 1, 200 do
      if not ctx:sleep(0.05) then
        mw.shared:set("spin.cancelled", "yes")
        return "cancelled"
      end
    end
    return "never cancelled"
  end }
mw.tool { name = "hold", description = "Sleeps until cancelled (at most 10 s)",
  handler = function(args, ctx)
    for _ = 1, 200 do if not ctx:sleep(0.05) then return "cancelled" end end
    return "done"
  end }
mw.tool { name = "spin_state", description = "What spin recorded",
  handler = function() return (mw.shared:get("spin.started") or "-") .. "/" .. (mw.shared:get("spin.cancelled") or "-") end }
mw.tool { name = "logs", description = "Logs once at debug, info, warning and error",
  handler = function(args, ctx)
    for _, level in ipairs { "debug", "info", "warning", "error" } do ctx:log(level, { at = level }, "t") end
    return "logged"
  end }
mw.tool { name = "ask", description = "Elicits a name",
  handler = function(args, ctx)
    local a, err = ctx:elicit({ mode = "form", message = "Your name?",
      requestedSchema = { type = "object", properties = { name = { type = "string" } }, required = { "name" } } }, "name")
    if not a then return nil, "elicit failed: " .. tostring(err) end
    return a.action .. ":" .. tostring(a.content and a.content.name)
  end }
mw.tool { name = "unencodable", description = "Returns content JSON cannot hold (a function)",
  handler = function() return { content = { { type = "text", text = "x", extra = print } } } end }
mw.tool { name = "nan", description = "Returns structured content JSON cannot hold (NaN)",
  handler = function() return { structured = { x = 0 / 0 } } end }
mw.tool { name = "sample", description = "Asks the client's LLM",
  handler = function(args, ctx)
    local r, err = ctx:sample({ messages = { { role = "user", content = { type = "text", text = "hi" } } }, maxTokens = 5 })
    if not r then return nil, "sample failed: " .. tostring(err) end
    return r.content.text
  end }
`;

const ACCEPT = 'application/json, text/event-stream';
const V = '2025-11-25';

// POST /mcp; returns { res, text, msgs } where msgs are the JSON-RPC messages
// of the body (plain JSON, a JSON array, or SSE data lines).
async function post(srv, body, { sid, version = V, headers = {} } = {}) {
  const h = { 'Content-Type': 'application/json', Accept: ACCEPT };
  if (version) h['MCP-Protocol-Version'] = version;
  if (sid) h['Mcp-Session-Id'] = sid;
  const res = await fetch(srv.url('/mcp'), { method: 'POST', headers: { ...h, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { res, text, msgs: messagesOf(res.headers.get('content-type'), text) };
}

function messagesOf(ctype, text) {
  if (!text) return [];
  if ((ctype || '').startsWith('text/event-stream')) {
    return parseSSE(text).events.filter((e) => e.data).map((e) => JSON.parse(e.data));
  }
  const j = JSON.parse(text);
  return Array.isArray(j) ? j : [j];
}

async function session(srv, { version = V, capabilities = {} } = {}) {
  const { res, msgs } = await post(srv, { jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: version, capabilities, clientInfo: { name: 't', version: '1' } } }, { version: null });
  assert.equal(res.status, 200);
  assert.equal(msgs[0].result.protocolVersion, version);
  const sid = res.headers.get('mcp-session-id');
  assert.ok(sid);
  const ack = await post(srv, { jsonrpc: '2.0', method: 'notifications/initialized' }, { sid, version });
  assert.equal(ack.res.status, 202);
  return sid;
}

const call = (id, name, args = {}, meta) => ({ jsonrpc: '2.0', id, method: 'tools/call',
  params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } });
const text = (msg) => msg.result.content[0].text;
// A session's POST read as a stream: its head comes only when the tool sends
// something or ends, so it stays pending while the test acts elsewhere.
const postStream = (srv, sid, msg) => openStream(srv.port, '/mcp', { Accept: ACCEPT, 'Content-Type': 'application/json',
  'Mcp-Session-Id': sid, 'MCP-Protocol-Version': V }, { method: 'POST', body: JSON.stringify(msg) });
const dataOf = (st) => st.events.filter((e) => e.data).map((e) => JSON.parse(e.data));
// The tool error a result JSON cannot hold becomes, whatever the transport.
function assertUnencodable(msg, name) {
  assert.equal(msg.result.isError, true, JSON.stringify(msg));
  assert.match(text(msg), name === 'nan' ? /NaN/ : /^result cannot be encoded as JSON: .*function/);
}

describe('Streamable HTTP transport rules (2025 session revisions)', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 'tools.lua': TOOLS })] }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('an initialize without an id (a notification) is 400 -32600, not a session', async () => {
    const r = await post(srv, { jsonrpc: '2.0', method: 'initialize',
      params: { protocolVersion: V, capabilities: {}, clientInfo: { name: 't', version: '1' } } }, { version: null });
    assert.equal(r.res.status, 400);
    assert.equal(r.msgs[0].error.code, -32600);
    assert.match(r.msgs[0].error.message, /initialize must be a request/);
    assert.equal(r.res.headers.get('mcp-session-id'), null);
  });

  it('HEAD on /mcp or /sse is 405 and opens nothing: the live GET stream stays', async () => {
    const sid = await session(srv);
    const H = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': V };
    const st = await openStream(srv.port, '/mcp', { ...H, Accept: 'text/event-stream' });
    const sessions = async () => Number(/^moonwire_sessions (\d+)$/m.exec(await (await fetch(srv.url('/metrics'))).text())[1]);
    const before = await sessions();
    for (const [p, h] of [['/mcp', { ...H, Accept: 'text/event-stream' }], ['/sse', { Accept: 'text/event-stream' }]]) {
      const res = await fetch(srv.url(p), { method: 'HEAD', headers: h });
      assert.equal(res.status, 405, `HEAD ${p}`);
      assert.doesNotMatch(res.headers.get('allow'), /HEAD/);
    }
    await sleep(100);
    assert.equal(st.closed, false, 'the GET stream was not taken over');
    assert.equal(await sessions(), before, 'no legacy session was made');
    closeStream(st);
  });

  it('answers 406 to a POST that does not accept both JSON and SSE', async () => {
    const sid = await session(srv);
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    for (const accept of ['application/json', 'text/event-stream', '*/x']) {
      const r = await post(srv, body, { sid, headers: { Accept: accept } });
      assert.equal(r.res.status, 406, `Accept: ${accept}`);
      assert.equal(r.msgs[0].error.code, -32600);
    }
    const ok = await post(srv, body, { sid, headers: { Accept: 'application/json;q=0.9, text/event-stream' } });
    assert.equal(ok.res.status, 200);
    assert.ok(Array.isArray(ok.msgs[0].result.tools));
  });

  it('answers 415 to a POST whose Content-Type is not JSON', async () => {
    const sid = await session(srv);
    const r = await post(srv, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { sid, headers: { 'Content-Type': 'text/plain' } });
    assert.equal(r.res.status, 415);
    assert.equal(r.msgs[0].error.code, -32600);
  });

  it('answers 400 to a request without Mcp-Session-Id and 404 to an unknown one', async () => {
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    const missing = await post(srv, body);
    assert.equal(missing.res.status, 400);
    assert.equal(missing.msgs[0].error.code, -32600);
    const unknown = await post(srv, body, { sid: 'no-such-session' });
    assert.equal(unknown.res.status, 404);
    assert.equal(unknown.msgs[0].error.code, -32001);
  });

  it('DELETE ends the session: afterwards it is 404', async () => {
    const sid = await session(srv);
    const headers = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': V };
    const del = await fetch(srv.url('/mcp'), { method: 'DELETE', headers });
    assert.equal(del.status, 200);
    await del.text();
    const after = await post(srv, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { sid });
    assert.equal(after.res.status, 404);
    const again = await fetch(srv.url('/mcp'), { method: 'DELETE', headers });
    assert.equal(again.status, 404);
    await again.text();
  });

  it('answers 405 to GET /mcp without Accept: text/event-stream', async () => {
    const sid = await session(srv);
    const res = await fetch(srv.url('/mcp'), { headers: { Accept: 'application/json', 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': V } });
    assert.equal(res.status, 405);
    assert.match(res.headers.get('allow') ?? '', /POST/);
    await res.text();
  });

  it('answers 202 with an empty body to a POST of only notifications or responses', async () => {
    const sid = await session(srv);
    const n = await post(srv, { jsonrpc: '2.0', method: 'notifications/roots/list_changed' }, { sid });
    assert.equal(n.res.status, 202);
    assert.equal(n.text, '');
    const r = await post(srv, { jsonrpc: '2.0', id: 'not-pending', result: {} }, { sid });
    assert.equal(r.res.status, 202);
    assert.equal(r.text, '');
  });

  it('answers malformed JSON with 400 and JSON-RPC -32700', async () => {
    const sid = await session(srv);
    const r = await post(srv, '{"jsonrpc": "2.0", "id": 1, "method": ', { sid });
    assert.equal(r.res.status, 400);
    assert.equal(r.msgs[0].error.code, -32700);
    assert.equal(r.msgs[0].id, null);
  });

  it('answers an unknown method with -32601', async () => {
    const sid = await session(srv);
    const r = await post(srv, { jsonrpc: '2.0', id: 5, method: 'no/such/method' }, { sid });
    assert.equal(r.msgs[0].id, 5);
    assert.equal(r.msgs[0].error.code, -32601);
  });

  it('accepts a JSON-RPC batch on a 2025-03-26 session and answers with a JSON array', async () => {
    const sid = await session(srv, { version: '2025-03-26' });
    const r = await post(srv, [call(1, 'echo', { text: 'one' }), { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
      call('two', 'echo', { text: 'two' })], { sid, version: '2025-03-26' });
    assert.equal(r.res.status, 200);
    assert.match(r.res.headers.get('content-type'), /^application\/json/);
    const body = JSON.parse(r.text);
    assert.ok(Array.isArray(body), 'a batch is answered with an array');
    assert.equal(body.length, 2);
    const byId = Object.fromEntries(body.map((m) => [m.id, text(m)]));
    assert.deepEqual(byId, { 1: 'one', two: 'two' });
  });

  it('in a batch that turns into a stream, the answers made before it did are sent on it too', async () => {
    const sid = await session(srv, { version: '2025-03-26' });
    // echo answers at once (a JSON answer so far); logs then sends notifications, so the
    // response becomes an SSE stream.
    const r = await post(srv, [call(1, 'echo', { text: 'first' }), call(2, 'logs')], { sid, version: '2025-03-26' });
    assert.equal(r.res.status, 200, r.text);
    assert.match(r.res.headers.get('content-type'), /^text\/event-stream/);
    const answers = Object.fromEntries(r.msgs.filter((m) => m.id !== undefined).map((m) => [m.id, text(m)]));
    assert.deepEqual(answers, { 1: 'first', 2: 'logged' });
    assert.ok(r.msgs.some((m) => m.method === 'notifications/message'));
  });

  it('a tool result JSON cannot hold is answered as the tool\'s error, alone and in a batch; the session goes on', async () => {
    const sid = await session(srv, { version: '2025-03-26' });
    for (const name of ['unencodable', 'nan']) {
      const r = await post(srv, call(1, name), { sid, version: '2025-03-26' });
      assert.equal(r.res.status, 200, r.text);
      assertUnencodable(r.msgs[0], name);
    }
    const b = await post(srv, [call(2, 'unencodable'), call(3, 'echo', { text: 'after' })], { sid, version: '2025-03-26' });
    assert.equal(b.res.status, 200, b.text);
    const byId = Object.fromEntries(b.msgs.map((m) => [m.id, m]));
    assertUnencodable(byId[2], 'unencodable');
    assert.equal(text(byId[3]), 'after');
  });

  it('rejects a JSON-RPC batch with 400 on a 2025-11-25 session', async () => {
    const sid = await session(srv);
    const r = await post(srv, [call(1, 'echo', { text: 'one' }), call(2, 'echo', { text: 'two' })], { sid });
    assert.equal(r.res.status, 400);
    assert.equal(r.msgs[0].error.code, -32600);
  });

  it('accepts MCP-Protocol-Version 2025-06-18 on a 2025-11-25 session, and rejects an unknown one', async () => {
    const sid = await session(srv);
    const r = await post(srv, call(1, 'echo', { text: 'older header' }), { sid, version: '2025-06-18' });
    assert.equal(r.res.status, 200);
    assert.equal(text(r.msgs[0]), 'older header');
    const bad = await post(srv, call(2, 'echo', { text: 'x' }), { sid, version: '1999-01-01' });
    assert.equal(bad.res.status, 400);
  });

  it('in a batch, an initialize in any position is -32600', async () => {
    const sid = await session(srv, { version: '2025-03-26' });
    const r = await post(srv, [call(1, 'echo', { text: 'one' }), { jsonrpc: '2.0', id: 2, method: 'initialize',
      params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } } }],
    { sid, version: '2025-03-26' });
    const byId = Object.fromEntries(JSON.parse(r.text).map((m) => [m.id, m]));
    assert.equal(text(byId[1]), 'one');
    assert.equal(byId[2].error.code, -32600);
    assert.match(byId[2].error.message, /initialize must not be batched/);
  });

  it('a second request with the id of one still running is -32600; the first is unharmed', async () => {
    const sid = await session(srv);
    const pending = postStream(srv, sid, call(88, 'hold'));
    await sleep(250);
    const dup = await post(srv, call(88, 'echo', { text: 'x' }), { sid });
    assert.equal(dup.msgs[0].id, 88);
    assert.equal(dup.msgs[0].error.code, -32600);
    assert.match(dup.msgs[0].error.message, /still in progress/);
    // The first can still be cancelled by its id.
    await post(srv, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 88 } }, { sid });
    const st = await Promise.race([pending, sleep(3000).then(() => null)]);
    assert.ok(st, 'the first request was cancelled by its id');
  });

  it('notifications/cancelled stops a running tool and no response is sent for it', async () => {
    const sid = await session(srv);
    // The tool sends nothing while running: keep the POST pending and cancel from elsewhere.
    const pending = postStream(srv, sid, call(77, 'spin'));
    await sleep(250);
    const state0 = await post(srv, call(1, 'spin_state'), { sid });
    assert.equal(text(state0.msgs[0]), 'yes/-', 'spin is running and not yet cancelled');
    const c = await post(srv, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 77, reason: 'test' } }, { sid });
    assert.equal(c.res.status, 202);
    const deadline = Date.now() + 2000;
    let state;
    do {
      await sleep(50);
      state = text((await post(srv, call(2, 'spin_state'), { sid })).msgs[0]);
    } while (state !== 'yes/yes' && Date.now() < deadline);
    assert.equal(state, 'yes/yes', 'the tool saw ctx:sleep return false');
    // The cancelled POST ends, without a JSON-RPC response for id 77.
    const st = await Promise.race([pending, sleep(2000).then(() => null)]);
    assert.ok(st, 'the cancelled POST was ended');
    await sleep(200);
    const [resp] = parseResponses(st.raw);
    assert.ok([200, 202].includes(resp.status), st.raw);
    const msgs = messagesOf(resp.headers['content-type'], resp.body);
    assert.deepEqual(msgs.filter((m) => m.id === 77), [], 'no response for the cancelled request');
    closeStream(st);
  });

  it('ctx:log emits notifications/message only at or above the level set by logging/setLevel', async () => {
    const sid = await session(srv);
    const levels = async (id) => {
      const r = await post(srv, call(id, 'logs'), { sid });
      assert.equal(r.msgs.at(-1).id, id);
      assert.equal(text(r.msgs.at(-1)), 'logged');
      return r.msgs.filter((m) => m.method === 'notifications/message').map((m) => m.params.level);
    };
    const set = async (id, level) => {
      const r = await post(srv, { jsonrpc: '2.0', id, method: 'logging/setLevel', params: { level } }, { sid });
      assert.deepEqual(r.msgs[0].result, {});
    };
    await set(1, 'warning');
    assert.deepEqual(await levels(2), ['warning', 'error']);
    await set(3, 'debug');
    assert.deepEqual(await levels(4), ['debug', 'info', 'warning', 'error']);
    await set(5, 'error');
    assert.deepEqual(await levels(6), ['error']);
  });

  it('a tool that elicits gets the answer the client POSTs back, and its result arrives on the same stream', async () => {
    const sid = await session(srv, { capabilities: { elicitation: {} } });
    const st = await postStream(srv, sid, call(9, 'ask'));
    assert.equal(st.status, 200);
    assert.equal(st.headers['content-type'], 'text/event-stream');
    await waitFor(st, () => dataOf(st).some((m) => m.method === 'elicitation/create'));
    const req = dataOf(st).find((m) => m.method === 'elicitation/create');
    assert.equal(req.params.message, 'Your name?');
    assert.ok(req.id !== undefined && req.id !== null, 'elicitation/create is a request');
    const ans = await post(srv, { jsonrpc: '2.0', id: req.id, result: { action: 'accept', content: { name: 'Ann' } } }, { sid });
    assert.equal(ans.res.status, 202);
    await waitFor(st, () => dataOf(st).some((m) => m.id === 9));
    assert.equal(text(dataOf(st).find((m) => m.id === 9)), 'accept:Ann');
    closeStream(st);
  });

  it('a tool that samples without the client sampling capability gets JSON-RPC error -32021', async () => {
    const sid = await session(srv, { capabilities: { elicitation: {} } });
    const r = await post(srv, call(11, 'sample'), { sid });
    const res = r.msgs.find((m) => m.id === 11);
    assert.ok(res, r.text);
    assert.equal(res.error?.code, -32021, r.text);
  });
});

describe('session expiry (SSE_CONNECTION_TIMEOUT=1)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ scripts: [scriptsDir({ 'tools.lua': `local mw = require "moonwire"
mw.tool { name = "slow", description = "Sleeps 2.5 s", handler = function(args, ctx) ctx:sleep(2.5) return "done" end }
` })], env: { SSE_CONNECTION_TIMEOUT: '1' } });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('a request running longer than the idle timeout keeps its session; idle, it expires', async () => {
    const sid = await session(srv);
    const r = await post(srv, call(1, 'slow'), { sid });
    assert.equal(r.res.status, 200, r.text);
    assert.equal(text(r.msgs[0]), 'done');
    // Answered: the idle time counts from the answer.
    const ping = await post(srv, { jsonrpc: '2.0', id: 2, method: 'ping' }, { sid });
    assert.equal(ping.res.status, 200);
    await sleep(2200);
    const gone = await post(srv, { jsonrpc: '2.0', id: 3, method: 'ping' }, { sid });
    assert.equal(gone.res.status, 404);
  });
});

describe('legacy HTTP+SSE transport (2024-11-05)', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 'tools.lua': TOOLS })] }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  const send = (endpoint, msg) => fetch(srv.url(endpoint), { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(msg) });
  const messages = (st) => st.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data));

  it('the first event an EventSource dispatches on /sse is `event: endpoint`', async () => {
    const st = await openStream(srv.port, '/sse');
    assert.equal(st.status, 200);
    assert.equal(st.headers['content-type'], 'text/event-stream');
    await waitFor(st, () => st.events.some((e) => e.event === 'endpoint'));
    // EventSource dispatches every block that has a data field — one with an
    // empty `data:` line becomes a "message" event with data "", which the
    // SDK's legacy client fails to parse as JSON-RPC.
    const blocks = parseResponses(st.raw)[0].body.split('\n\n');
    const dispatched = blocks.filter((b) => /^data(:|$)/m.test(b)).map((b) => parseSSE(b + '\n\n').events[0]);
    assert.equal(dispatched[0].event, 'endpoint', `first block sent: ${JSON.stringify(blocks[0])}`);
    assert.match(dispatched[0].data, /^\/messages\?sessionId=[\w-]+$/);
    closeStream(st);
  });

  it('POST /messages answers 202 and the reply arrives on the stream as event: message', async () => {
    const st = await openStream(srv.port, '/sse');
    await waitFor(st, () => st.events.some((e) => e.event === 'endpoint'));
    const endpoint = st.events.find((e) => e.event === 'endpoint').data;
    assert.match(endpoint, /^\/messages\?sessionId=[\w-]+$/);
    const init = await send(endpoint, { jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    assert.equal(init.status, 202);
    await init.text();
    await waitFor(st, () => messages(st).some((x) => x.id === 1));
    assert.equal(messages(st).find((x) => x.id === 1).result.protocolVersion, '2024-11-05');
    assert.equal((await send(endpoint, { jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
    const r = await send(endpoint, call(2, 'echo', { text: 'over sse' }));
    assert.equal(r.status, 202);
    await waitFor(st, () => messages(st).some((x) => x.id === 2));
    assert.equal(text(messages(st).find((x) => x.id === 2)), 'over sse');
    const unknown = await fetch(srv.url('/messages?sessionId=nope'), { method: 'POST',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(call(3, 'echo')) });
    assert.equal(unknown.status, 404);
    await unknown.text();
    closeStream(st);
  });

  it('a tool result JSON cannot hold arrives on the stream as the tool\'s error', async () => {
    const st = await openStream(srv.port, '/sse');
    await waitFor(st, () => st.events.some((e) => e.event === 'endpoint'));
    const endpoint = st.events.find((e) => e.event === 'endpoint').data;
    await (await send(endpoint, { jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 't', version: '1' } } })).text();
    await (await send(endpoint, call(2, 'unencodable'))).text();
    await (await send(endpoint, call(3, 'nan'))).text();
    await waitFor(st, () => messages(st).some((x) => x.id === 3) && messages(st).some((x) => x.id === 2));
    assertUnencodable(messages(st).find((x) => x.id === 2), 'unencodable');
    assertUnencodable(messages(st).find((x) => x.id === 3), 'nan');
    closeStream(st);
  });

  it('reconnecting with Last-Event-ID resumes the same session and replays what was missed', async () => {
    const st = await openStream(srv.port, '/sse');
    await waitFor(st, () => st.events.some((e) => e.event === 'endpoint'));
    const endpoint = st.events.find((e) => e.event === 'endpoint').data;
    const sid = /sessionId=([\w-]+)/.exec(endpoint)[1];
    await send(endpoint, { jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    await waitFor(st, () => messages(st).some((x) => x.id === 1));
    const lastId = st.events.at(-1).id;
    assert.match(lastId, new RegExp(`^${sid}\\.0-\\d+$`), 'legacy event ids name the session');
    closeStream(st);
    await sleep(100);
    // Sent while the client is away.
    assert.equal((await send(endpoint, call(2, 'echo', { text: 'while away' }))).status, 202);
    await sleep(100);
    const st2 = await openStream(srv.port, '/sse', { 'Last-Event-ID': lastId });
    assert.equal(st2.status, 200);
    await waitFor(st2, () => messages(st2).some((x) => x.id === 2));
    assert.equal(text(messages(st2).find((x) => x.id === 2)), 'while away');
    assert.ok(!st2.events.some((e) => e.event === 'endpoint'), 'no new endpoint event on resume');
    // The resumed stream still belongs to that session.
    assert.equal((await send(endpoint, call(3, 'echo', { text: 'after resume' }))).status, 202);
    await waitFor(st2, () => messages(st2).some((x) => x.id === 3));
    for (const e of st2.events.filter((x) => x.event === 'message')) assert.match(e.id, new RegExp(`^${sid}\\.0-\\d+$`));
    closeStream(st2);
  });
});

describe('2026-07-28 requests on /mcp', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 'tools.lua': TOOLS })] }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  const NEW = '2026-07-28';
  const meta = { 'io.modelcontextprotocol/protocolVersion': NEW, 'io.modelcontextprotocol/clientCapabilities': {} };

  it('answers GET and DELETE with 405', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(srv.url('/mcp'), { method, headers: { Accept: 'text/event-stream', 'MCP-Protocol-Version': NEW } });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'POST');
      await res.text();
    }
  });

  it('a tool result JSON cannot hold is answered as the tool\'s error', async () => {
    for (const name of ['unencodable', 'nan']) {
      const r = await post(srv, call(1, name, {}, meta), { version: NEW, headers: { 'Mcp-Method': 'tools/call', 'Mcp-Name': name } });
      assert.equal(r.res.status, 200, r.text);
      assertUnencodable(r.msgs[0], name);
    }
  });

  it('answers 400 -32020 when Mcp-Method disagrees with the body', async () => {
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta } };
    const ok = await post(srv, body, { version: NEW, headers: { 'Mcp-Method': 'tools/list' } });
    assert.equal(ok.res.status, 200, ok.text);
    assert.ok(ok.msgs[0].result.tools.some((t) => t.name === 'echo'));
    const bad = await post(srv, body, { version: NEW, headers: { 'Mcp-Method': 'prompts/list' } });
    assert.equal(bad.res.status, 400);
    assert.equal(bad.msgs[0].error.code, -32020);
    assert.equal(bad.msgs[0].id, 1);
  });
});
