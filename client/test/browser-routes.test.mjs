// The /_test/ routes behind client/test_reconnection.html (lua/moonwire/testroutes.lua and the
// core.test_fault hook): absent unless the server runs with MOONWIRE_TEST_ROUTES=1; with it, bad
// input is a 400, the page and the client module are served, a drop cuts streams without the
// terminating chunk, and a stall silences a stream (heartbeats too) without losing what was
// published meanwhile.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, scriptsDir, openStream, closeStream, waitFor, sleep } from '../../spec/integration/lib/harness.mjs';

// A script that reports whether scripts can see the core's fault hook at all.
const PROBE = `
local mw = require "moonwire"
mw.route { path = "/probe", handler = function()
  return { json = { test_fault = type(require("moonwire.core").test_fault) } }
end }
`;

const post = (srv, p) => fetch(srv.url(p), { method: 'POST' });

describe('test routes without MOONWIRE_TEST_ROUTES', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 'probe.lua': PROBE })] }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('every /_test/ route is 404 and scripts cannot reach the hook', async () => {
    for (const p of ['/_test/reconnection', '/_test/sse-connection.js', '/_test/info', '/_test/events/demo']) {
      assert.equal((await fetch(srv.url(p))).status, 404, p);
    }
    for (const p of ['/_test/publish?channel=demo&count=1', '/_test/fault?channel=demo&action=drop',
      '/_test/fault?channel=demo&action=stall&ms=10', '/_test/fault']) {
      assert.equal((await post(srv, p)).status, 404, p);
    }
    assert.deepEqual(await (await fetch(srv.url('/probe'))).json(), { test_fault: 'nil' });
  });

  it('the flag is documented in --help', async () => {
    const { execFileSync } = await import('node:child_process');
    const help = execFileSync(process.env.MOONWIRE_BIN || 'build-test/moonwire', ['--help'], { encoding: 'utf8' });
    assert.match(help, /MOONWIRE_TEST_ROUTES/);
  });
});

describe('test routes with MOONWIRE_TEST_ROUTES=1', () => {
  let srv;
  before(async () => {
    srv = await startServer({ scripts: [scriptsDir({ 'probe.lua': PROBE })],
      env: { MOONWIRE_TEST_ROUTES: '1', SSE_HEARTBEAT_INTERVAL: '1', SSE_RETRY_MS: '50' } });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('serves the page and the client module with their content types', async () => {
    const page = await fetch(srv.url('/_test/reconnection'));
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(await page.text(), /import \{ SSEConnection, SSEParser \} from '\.\/sse-connection\.js'/);
    const js = await fetch(srv.url('/_test/sse-connection.js'));
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.match(await js.text(), /export class SSEConnection/);
    assert.deepEqual(await (await fetch(srv.url('/_test/info'))).json(), { heartbeat_interval: 1, retry_ms: 50 });
    assert.deepEqual(await (await fetch(srv.url('/probe'))).json(), { test_fault: 'function' });
  });

  it('bad parameters get 400 with a message', async () => {
    const bad = [
      ['/_test/fault?channel=demo', /action must be drop or stall/],
      ['/_test/fault?channel=demo&action=explode', /action must be drop or stall/],
      ['/_test/fault?action=drop', /channel must be/],
      ['/_test/fault?channel=a%20b&action=drop', /channel must be/],
      ['/_test/fault?channel=' + 'x'.repeat(65) + '&action=drop', /channel must be/],
      ['/_test/fault?channel=demo&action=stall', /'ms' is required/],
      ['/_test/fault?channel=demo&action=stall&ms=0', /'ms' must be an integer in 1\.\.600000/],
      ['/_test/fault?channel=demo&action=stall&ms=-5', /'ms' must be an integer/],
      ['/_test/fault?channel=demo&action=stall&ms=1.5', /'ms' must be an integer/],
      ['/_test/fault?channel=demo&action=stall&ms=600001', /'ms' must be an integer/],
      ['/_test/fault?channel=demo&action=stall&ms=99999999999999999999', /'ms' must be an integer/],
      ['/_test/fault?channel=demo&action=drop&ms=10', /'ms' applies to stall only/],
      ['/_test/fault?channel=demo&action=drop&mode=rst', /unknown parameter 'mode'/],
      ['/_test/fault?channel=demo&action=drop&action=stall', /parameter 'action' given twice/],
      ['/_test/publish?channel=demo', /'count' is required/],
      ['/_test/publish?channel=demo&count=0', /'count' must be an integer in 1\.\.10000/],
      ['/_test/publish?channel=demo&count=10001', /'count' must be an integer/],
      ['/_test/publish?channel=demo&count=ten', /'count' must be an integer/],
      ['/_test/publish?count=1', /channel must be/],
    ];
    for (const [p, message] of bad) {
      const res = await post(srv, p);
      assert.equal(res.status, 400, p);
      const body = await res.json();
      assert.equal(body.error.status, 400, p);
      assert.match(body.error.message, message, p);
    }
    const res = await fetch(srv.url('/_test/events/a%20b'));
    assert.equal(res.status, 400);
    assert.match((await res.json()).error.message, /channel must be/);
    assert.equal((await fetch(srv.url('/_test/fault?channel=demo&action=drop'))).status, 405);
  });

  it('drop closes every stream of the channel without the terminating chunk', async () => {
    const a = await openStream(srv.port, '/_test/events/dropme');
    const b = await openStream(srv.port, '/_test/events/dropme');
    const other = await openStream(srv.port, '/_test/events/keepme');
    try {
      assert.equal(a.status, 200);
      assert.equal(a.headers['transfer-encoding'], 'chunked');
      const pub = await (await post(srv, '/_test/publish?channel=dropme&count=3')).json();
      assert.deepEqual([pub.first, pub.last, pub.subscribers], [1, 3, 2]);
      await waitFor(a, () => a.events.filter((e) => e.id).length === 3);
      assert.deepEqual(a.events.filter((e) => e.id).map((e) => e.data), ['1', '2', '3']);
      assert.equal(a.events.at(-1).id, pub.last_id);
      const res = await post(srv, '/_test/fault?channel=dropme&action=drop');
      assert.deepEqual(await res.json(), { action: 'drop', streams: 2 });
      await waitFor(a, () => a.closed);
      await waitFor(b, () => b.closed);
      for (const st of [a, b]) assert.ok(!st.raw.endsWith('0\r\n\r\n'), 'no terminating chunk');
      await sleep(100);
      assert.equal(other.closed, false, 'another channel is untouched');
      // Nothing left to drop; a channel never used is no error either.
      assert.deepEqual(await (await post(srv, '/_test/fault?channel=dropme&action=drop')).json(), { action: 'drop', streams: 0 });
      assert.deepEqual(await (await post(srv, '/_test/fault?channel=never&action=drop')).json(), { action: 'drop', streams: 0 });
    } finally {
      for (const st of [a, b, other]) closeStream(st);
    }
  });

  it('stall silences the stream, heartbeats too, then resumes it with nothing lost', async () => {
    const st = await openStream(srv.port, '/_test/events/stallme');
    try {
      await post(srv, '/_test/publish?channel=stallme&count=2');
      await waitFor(st, () => st.events.filter((e) => e.id).length === 2);
      await waitFor(st, () => st.comments.length >= 1, 3000); // heartbeats flow before (1 s)
      const STALL = 2500;
      const started = Date.now();
      const stall = post(srv, `/_test/fault?channel=stallme&action=stall&ms=${STALL}`);
      await sleep(200);
      const rawAt = st.raw.length;
      await post(srv, '/_test/publish?channel=stallme&count=3'); // published during the stall
      await sleep(STALL - 600);
      assert.equal(st.raw.length, rawAt, 'not a byte during the stall, not even a heartbeat');
      assert.equal(st.closed, false, 'the connection stays open');
      const res = await stall;
      assert.deepEqual(await res.json(), { action: 'stall', streams: 1, ms: STALL });
      assert.ok(Date.now() - started >= STALL - 50, 'the request answers when the stall ends');
      await waitFor(st, () => st.events.filter((e) => e.id).length === 5);
      assert.deepEqual(st.events.filter((e) => e.id).map((e) => e.data), ['1', '2', '3', '4', '5']);
      // Live again: new events and heartbeats follow.
      const heartbeats = st.comments.length;
      await post(srv, '/_test/publish?channel=stallme&count=1');
      await waitFor(st, () => st.events.filter((e) => e.id).length === 6);
      await waitFor(st, () => st.comments.length > heartbeats, 3000);
      assert.equal(st.closed, false);
    } finally {
      closeStream(st);
    }
  });
});
