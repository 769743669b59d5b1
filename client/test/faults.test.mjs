// SSEConnection through a fault-injecting proxy (fault-proxy.mjs) to the real moonwire binary:
// at least 10,000 events across at least 50 forced disconnects (kills at random byte offsets,
// RST or FIN, and stalls only the heartbeat watchdog can detect; some connections split down to
// single bytes) must all reach the application in order, none twice, with no `gap`. Once over a
// plain channel and once over an MCP 2025-11-25 session's GET stream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, scriptsDir, sleep } from '../../spec/integration/lib/harness.mjs';
import { SSEConnection } from '../sse-connection.js';
import { startFaultProxy } from './fault-proxy.mjs';

const EVENTS = 10000;
const FAULTS = 50;
const BURST = 100;
const WINDOW = 2000;

const APP = `
local mw = require "moonwire"
mw.route { path = "/events", channel = "ch" }
local n = 0
mw.route { method = "POST", path = "/burst", handler = function(req)
  for _ = 1, tonumber(req.body) do
    n = n + 1
    mw.publish("ch", { data = tostring(n) })
  end
  return { json = { n = n } }
end }
local m = 0
mw.route { method = "POST", path = "/notify/:sid", handler = function(req)
  for _ = 1, tonumber(req.body) do
    m = m + 1
    if not mw.notify(req.params.sid, "notifications/message", { level = "info", data = { i = m } }) then
      return { status = 404, json = { error = "no session" } }
    end
  end
  return { json = { n = m } }
end }
`;

async function waitUntil(pred, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what());
    await sleep(10);
  }
}

// Options that make reconnects quick: the server's `retry:` is 20 ms (SSE_RETRY_MS), the backoff
// is capped at 100 ms, and a stream that lived 200 ms counts as stable.
const CLIENT = { heartbeatTimeoutMs: 2500, initialRetryMs: 20, maxRetryMs: 100, resetAfterMs: 200 };

// Publishes bursts (`publish(n)` returns the last number sent) until at least EVENTS were sent
// and the proxy forced at least FAULTS disconnects, then waits for the client to have them all.
// At most WINDOW events are outstanding, so the replay buffer never evicts what the client lacks.
async function drive({ proxy, publish, got, errors, gaps, conn }) {
  let sent = 0;
  const deadline = Date.now() + 25000;
  const status = () => `sent=${sent} got=${got.length} faults=${JSON.stringify(proxy.stats)} `
    + `errors=${errors.length} gaps=${gaps.length} state=${conn.state}`;
  while ((sent < EVENTS || proxy.faults < FAULTS) && Date.now() < deadline && !gaps.length) {
    if (sent - got.length < WINDOW) sent = await publish(BURST);
    await sleep(5);
  }
  proxy.calm();
  await waitUntil(() => got.length >= sent || gaps.length, 12000, status);
  assert.deepEqual(gaps, [], 'no gap: ' + status());
  await sleep(300); // anything extra (a duplicate) would show up now
  assert.ok(sent >= EVENTS, status());
  assert.ok(proxy.faults >= FAULTS, 'too few forced disconnects: ' + status());
  assert.ok(proxy.stats.stalls >= 1 && proxy.stats.kills >= 1, status());
  assert.ok(proxy.stats.splits >= 1, status());
  assert.equal(got.length, sent, 'nothing extra: ' + status());
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== i + 1) assert.fail(`event ${i} is ${got[i]}, expected ${i + 1} (${status()})`);
  }
  // Every forced disconnect was noticed and recovered from; stalls by the watchdog.
  assert.ok(errors.length >= proxy.faults - 2, status());
  assert.ok(errors.includes('heartbeat-timeout'), status());
  assert.equal(conn.state, 'open');
}

describe('SSEConnection through a fault-injecting proxy', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      scripts: [scriptsDir({ 'app.lua': APP })],
      env: { SSE_BUFFER_SIZE: '20000', SSE_BUFFER_BYTES: '16777216', SSE_HEARTBEAT_INTERVAL: '1',
        SSE_RETRY_MS: '20', LOG_LEVEL: 'info' },
    });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('a channel stream: 10,000 events across 50+ kills and stalls, in order, none twice', async () => {
    const proxy = await startFaultProxy({ target: { port: srv.port }, seed: 0xc0ffee, faultProbability: 1, maxStalls: 4 });
    const got = [];
    const errors = [];
    const gaps = [];
    const conn = new SSEConnection(proxy.url('/events'), CLIENT);
    conn.onmessage = (e) => got.push(Number(e.data));
    conn.onerror = (e) => errors.push(e.reason);
    conn.addEventListener('gap', (e) => gaps.push(e.data));
    try {
      await waitUntil(() => conn.state === 'open', 5000, () => 'open');
      const publish = async (n) => (await (await fetch(srv.url('/burst'), { method: 'POST', body: String(n) })).json()).n;
      await drive({ proxy, publish, got, errors, gaps, conn });
    } finally {
      conn.close();
      await proxy.close();
    }
  });

  it('an MCP session GET stream: 10,000 notifications across 50+ kills and stalls, in order, none twice', async () => {
    const init = await fetch(srv.url('/mcp'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
        protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'faults', version: '0' } } }),
    });
    assert.equal(init.status, 200);
    const sid = init.headers.get('mcp-session-id');
    assert.ok(sid);
    assert.equal((await init.json()).result.protocolVersion, '2025-11-25');
    const session = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' };
    const ack = await fetch(srv.url('/mcp'), {
      method: 'POST',
      headers: { ...session, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    assert.equal(ack.status, 202);

    const proxy = await startFaultProxy({ target: { port: srv.port }, seed: 0x5e55, faultProbability: 1, maxStalls: 4 });
    const got = [];
    const errors = [];
    const gaps = [];
    let primed = false;
    const conn = new SSEConnection(proxy.url('/mcp'), { ...CLIENT, headers: session });
    conn.onmessage = (e) => {
      if (e.data === '') { primed = true; return; } // a priming event: an id and no data
      const msg = JSON.parse(e.data);
      assert.equal(msg.method, 'notifications/message');
      got.push(msg.params.data.i);
    };
    conn.onerror = (e) => errors.push(e.reason);
    conn.addEventListener('gap', (e) => gaps.push(e.data));
    try {
      // Notifications sent before the first GET attached would only reach a resume, not it.
      await waitUntil(() => primed, 5000, () => 'the priming event');
      const publish = async (n) => {
        const res = await fetch(srv.url('/notify/' + sid), { method: 'POST', body: String(n) });
        assert.equal(res.status, 200);
        return (await res.json()).n;
      };
      await drive({ proxy, publish, got, errors, gaps, conn });
    } finally {
      conn.close();
      await proxy.close();
      await fetch(srv.url('/mcp'), { method: 'DELETE', headers: session });
    }
  });
});
