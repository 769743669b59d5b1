// The official TypeScript client 2.x (@modelcontextprotocol/client) pinned
// to protocol revision 2026-07-28: no initialize and no session, every POST
// carries its own _meta and headers. Lists tools, calls tools, receives
// progress, reads a resource, gets a prompt, answers an elicitation through
// Multi Round-Trip (input_required + requestState), and cancels a call by
// closing its stream. Also: the same client in its default mode speaks the
// 2025-11-25 session flow.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startServer, scriptsDir, sleep, ROOT } from './lib/harness.mjs';

const HELLO = path.join(ROOT, 'examples/hello');

const TOOLS = `local mw = require "moonwire"
mw.tool { name = "era", description = "Reports the revision and session this call ran in",
  handler = function(args, ctx) return ctx.protocol_version .. " " .. tostring(ctx.session_id) end }
mw.tool { name = "ask_name", description = "Elicits a name, then greets",
  handler = function(args, ctx)
    local a, err = ctx:elicit({ mode = "form", message = "Your name?",
      requestedSchema = { type = "object", properties = { name = { type = "string" } }, required = { "name" } } }, "name")
    if not a then return nil, "elicit failed: " .. tostring(err) end
    if a.action ~= "accept" then return a.action end
    return "hello " .. a.content.name
  end }
mw.tool { name = "spin", description = "Reports progress every 50 ms for 2 s unless cancelled",
  handler = function(args, ctx)
    for i = 1, 40 do
      ctx:progress(i, 40)
      if not ctx:sleep(0.05) then mw.shared:set("spin.cancelled", "yes") return "cancelled" end
      mw.shared:set("spin.steps", tostring(i))
    end
    return "finished"
  end }
mw.tool { name = "spin_state", description = "What spin recorded",
  handler = function() return (mw.shared:get("spin.steps") or "0") .. "/" .. (mw.shared:get("spin.cancelled") or "-") end }
`;

const NEW = '2026-07-28';

// A fetch that records what the client puts on the wire (and the JSON bodies
// that come back).
function recorder() {
  const calls = [];
  const fetchFn = async (url, init = {}) => {
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const entry = { method: init.method ?? 'GET', headers, body: init.body ? JSON.parse(init.body) : null, response: null };
    calls.push(entry);
    const res = await fetch(url, init);
    if ((res.headers.get('content-type') ?? '').startsWith('application/json')) {
      entry.response = JSON.parse(await res.clone().text());
    }
    return res;
  };
  return { calls, fetch: fetchFn };
}

async function modernClient(srv, { capabilities = {} } = {}) {
  const rec = recorder();
  const client = new Client({ name: 'sdk2-test', version: '2.0.0' },
    { capabilities, versionNegotiation: { mode: { pin: NEW } } });
  const transport = new StreamableHTTPClientTransport(new URL(srv.url('/mcp')), { fetch: rec.fetch });
  return { client, transport, rec };
}

describe('@modelcontextprotocol/client 2.x', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [HELLO, scriptsDir({ 'tools.lua': TOOLS })] }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('pinned to 2026-07-28 it connects without initialize or session', async () => {
    const { client, transport, rec } = await modernClient(srv);
    await client.connect(transport);
    assert.equal(client.getNegotiatedProtocolVersion(), NEW);
    assert.equal(client.getProtocolEra(), 'modern');
    assert.equal(client.getServerVersion()?.name, 'moonwire');
    assert.equal(transport.sessionId, undefined);
    const era = await client.callTool({ name: 'era', arguments: {} });
    assert.deepEqual(era.content, [{ type: 'text', text: `${NEW} nil` }]);

    assert.equal(rec.calls[0].body.method, 'server/discover');
    for (const c of rec.calls) {
      assert.equal(c.method, 'POST');
      assert.notEqual(c.body.method, 'initialize');
      assert.equal(c.headers['mcp-protocol-version'], NEW);
      assert.equal(c.headers['mcp-method'], c.body.method);
      assert.equal(c.headers['mcp-session-id'], undefined);
      assert.equal(c.body.params._meta['io.modelcontextprotocol/protocolVersion'], NEW);
    }
    await client.close();
  });

  it('lists tools, calls tools, receives progress, reads a resource and gets a prompt', async () => {
    const { client, transport } = await modernClient(srv);
    await client.connect(transport);
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of ['add', 'countdown', 'ask_name']) assert.ok(names.includes(n), n);

    const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    assert.deepEqual(sum.content, [{ type: 'text', text: '42' }]);
    const bad = await client.callTool({ name: 'add', arguments: { a: 'x' } });
    assert.equal(bad.isError, true);

    const progress = [];
    const res = await client.callTool({ name: 'countdown', arguments: { n: 3 } }, { onprogress: (p) => progress.push(p) });
    assert.deepEqual(res.content, [{ type: 'text', text: 'liftoff' }]);
    assert.deepEqual(progress.map((p) => [p.progress, p.total, p.message]),
      [[1, 3, 'step 1 of 3'], [2, 3, 'step 2 of 3'], [3, 3, 'step 3 of 3']]);

    const read = await client.readResource({ uri: 'moonwire://hello/readme' });
    assert.equal(read.contents[0].mimeType, 'text/plain');
    assert.equal(read.contents[0].text, 'A route, a channel, and a couple of MCP tools.');
    const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ann' } });
    assert.equal(prompt.messages[0].content.text, 'Say hello to Ann.');
    await client.close();
  });

  it('answers ctx:elicit through Multi Round-Trip with its elicitation handler', async () => {
    const { client, transport, rec } = await modernClient(srv, { capabilities: { elicitation: {} } });
    const asked = [];
    let answer = { action: 'accept', content: { name: 'Ann' } };
    client.setRequestHandler('elicitation/create', async (req) => { asked.push(req.params); return answer; });
    await client.connect(transport);

    const res = await client.callTool({ name: 'ask_name', arguments: {} });
    assert.deepEqual(res.content, [{ type: 'text', text: 'hello Ann' }]);
    assert.equal(asked.length, 1);
    assert.equal(asked[0].message, 'Your name?');

    // On the wire: an input_required result, then the retry with the answer
    // under the tool's key and the server's requestState echoed.
    const rounds = rec.calls.filter((c) => c.body?.method === 'tools/call');
    assert.equal(rounds.length, 2);
    assert.equal(rounds[0].response.result.resultType, 'input_required');
    assert.equal(rounds[0].response.result.inputRequests.name.method, 'elicitation/create');
    assert.deepEqual(rounds[1].body.params.inputResponses.name, { action: 'accept', content: { name: 'Ann' } });
    assert.equal(rounds[1].body.params.requestState, rounds[0].response.result.requestState);
    assert.notEqual(rounds[1].body.id, rounds[0].body.id);

    answer = { action: 'decline' };
    const declined = await client.callTool({ name: 'ask_name', arguments: {} });
    assert.deepEqual(declined.content, [{ type: 'text', text: 'decline' }]);
    await client.close();
  });

  it('a client without the elicitation capability gets -32021 from a tool that elicits', async () => {
    const { client, transport, rec } = await modernClient(srv);
    await client.connect(transport);
    await assert.rejects(client.callTool({ name: 'ask_name', arguments: {} }), (e) => e.code === -32021);
    const sent = rec.calls.find((c) => c.body?.method === 'tools/call');
    assert.equal(sent.response?.error?.code, -32021, 'the server answered -32021');
    assert.deepEqual(sent.response.error.data.requiredCapabilities, { elicitation: {} });
    await client.close();
  });

  it('aborting a call (closing its POST stream) cancels the running tool', async () => {
    const { client, transport, rec } = await modernClient(srv);
    await client.connect(transport);
    const ac = new AbortController();
    const progress = [];
    const call = client.callTool({ name: 'spin', arguments: {} }, { signal: ac.signal, onprogress: (p) => progress.push(p) });
    while (progress.length < 3) await sleep(20);
    ac.abort(new Error('user gave up'));
    await assert.rejects(call);
    // The 2.x client signals cancellation in this revision only by closing
    // the stream: no notifications/cancelled is sent.
    assert.ok(!rec.calls.some((c) => c.body?.method === 'notifications/cancelled'));
    const deadline = Date.now() + 1000;
    let state;
    do {
      await sleep(50);
      state = (await client.callTool({ name: 'spin_state', arguments: {} })).content[0].text;
    } while (!state.endsWith('/yes') && Date.now() < deadline);
    assert.match(state, /^\d+\/yes$/, `the tool ran on after the client left (steps/cancelled: ${state})`);
    assert.ok(Number(state.split('/')[0]) < 30);
    await client.close();
  });

  it('in its default mode speaks the 2025-11-25 session flow', async () => {
    const client = new Client({ name: 'sdk2-legacy', version: '2.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(srv.url('/mcp')));
    await client.connect(transport);
    assert.equal(client.getNegotiatedProtocolVersion(), '2025-11-25');
    assert.ok(transport.sessionId);
    const era = await client.callTool({ name: 'era', arguments: {} });
    assert.deepEqual(era.content, [{ type: 'text', text: `2025-11-25 ${transport.sessionId}` }]);
    const progress = [];
    const res = await client.callTool({ name: 'countdown', arguments: { n: 2 } }, { onprogress: (p) => progress.push(p.progress) });
    assert.deepEqual(res.content, [{ type: 'text', text: 'liftoff' }]);
    assert.deepEqual(progress, [1, 2]);
    await transport.terminateSession();
    await client.close();
  });
});
