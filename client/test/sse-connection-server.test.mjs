// SSEConnection over Node's real fetch against the real moonwire binary: live events, then a
// dropped connection resumed with Last-Event-ID that delivers the missed events exactly once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, scriptsDir, sleep } from '../../spec/integration/lib/harness.mjs';
import { SSEConnection } from '../sse-connection.js';

const APP = `
local mw = require "moonwire"
mw.route { path = "/events", channel = "ch" }
mw.route { method = "POST", path = "/pub", handler = function(req)
  local id = mw.publish("ch", { data = req.body })
  return { json = { id = id } }
end }
`;

async function waitUntil(pred, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

describe('SSEConnection against moonwire', () => {
  let srv;
  before(async () => {
    srv = await startServer({ scripts: [scriptsDir({ 'app.lua': APP })], env: { SSE_HEARTBEAT_INTERVAL: '1' } });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  const publish = async (data) => (await (await fetch(srv.url('/pub'), { method: 'POST', body: data })).json()).id;

  it('receives events, resumes after a dropped connection and gets the missed ones exactly once', async () => {
    // Every request after the first waits for `gate`, so events can be published while the
    // client is disconnected.
    let release;
    const gate = new Promise((r) => { release = r; });
    const requests = [];
    const gatedFetch = async (url, init) => {
      requests.push(new Headers(init.headers));
      if (requests.length > 1) await gate;
      return fetch(url, init);
    };
    const got = [];
    const errors = [];
    const conn = new SSEConnection(srv.url('/events'), { fetch: gatedFetch, heartbeatTimeoutMs: 2500 });
    conn.onmessage = (e) => got.push([e.data, e.lastEventId]);
    conn.onerror = (e) => errors.push(e.reason);
    try {
      await waitUntil(() => conn.state === 'open');
      const id1 = await publish('one');
      const id2 = await publish('two');
      await waitUntil(() => got.length === 2);
      assert.deepEqual(got, [['one', id1], ['two', id2]]);
      assert.equal(conn.lastEventId, id2);

      // Heartbeats (every second) keep the 2.5 s watchdog quiet.
      await sleep(3000);
      assert.equal(conn.state, 'open');
      assert.deepEqual(errors, []);

      conn.reconnect(); // aborts the fetch: the TCP connection goes away
      await waitUntil(() => requests.length === 2);
      const id3 = await publish('three');
      const id4 = await publish('four');
      release();
      await waitUntil(() => got.length === 4);
      assert.equal(requests[1].get('last-event-id'), id2);
      const id5 = await publish('five');
      await waitUntil(() => got.length === 5);
      await sleep(200);
      assert.deepEqual(got, [['one', id1], ['two', id2], ['three', id3], ['four', id4], ['five', id5]]);
      assert.equal(conn.state, 'open');
      assert.equal(requests.length, 2);
    } finally {
      conn.close();
    }
    assert.equal(conn.state, 'closed');
  });
});
