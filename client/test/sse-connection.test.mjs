// SSEConnection with a fake fetch and a fake clock: reconnects, backoff, watchdog, de-dup,
// status handling and the state machine, all deterministic and without a network.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SSEConnection } from '../sse-connection.js';

const flush = async () => { for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); };

// Timers that only run when the test advances time.
class FakeClock {
  constructor() { this.t = 0; this.timers = new Map(); this.nextId = 1; }
  now = () => this.t;
  setTimeout = (fn, ms) => { const id = this.nextId++; this.timers.set(id, { at: this.t + ms, fn }); return id; };
  clearTimeout = (id) => { this.timers.delete(id); };
  async advance(ms) {
    const end = this.t + ms;
    for (;;) {
      await flush();
      let next = null;
      for (const [id, x] of this.timers) if (x.at <= end && (!next || x.at < next[1].at)) next = [id, x];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
    await flush();
  }
}

// A fetch whose calls the test answers one by one.
function fakeFetch() {
  const calls = [];
  const fetch = (url, init) => new Promise((resolve, reject) => {
    const call = { url, init, headers: new Headers(init.headers), resolve, reject, aborted: false };
    init.signal.addEventListener('abort', () => { call.aborted = true; reject(new DOMException('aborted', 'AbortError')); });
    calls.push(call);
  });
  return { fetch, calls };
}

// A response whose body the test writes.
function stream(status = 200, headers = { 'content-type': 'text/event-stream' }) {
  let ctl;
  const s = { cancelled: false };
  const body = new ReadableStream({ start(c) { ctl = c; }, cancel() { s.cancelled = true; } });
  s.response = new Response(body, { status, headers });
  s.push = (t) => ctl.enqueue(new TextEncoder().encode(t));
  s.end = () => ctl.close();
  return s;
}
const plain = (status, headers = {}, text = null) => new Response(text, { status, headers });

function setup(opts = {}) {
  const clock = new FakeClock();
  const { fetch, calls } = fakeFetch();
  const log = [];
  const conn = new SSEConnection('http://x/events', { fetch, clock, random: () => 0.5, ...opts });
  for (const t of ['open', 'error', 'statechange', 'message']) {
    conn.addEventListener(t, (e) => log.push(e));
  }
  const of = (type) => log.filter((e) => e.type === type);
  return { clock, calls, conn, log, of };
}

// Opens call i with a fresh stream; returns it.
async function answer(calls, i, s = stream()) {
  await flush();
  assert.ok(calls[i], `fetch call ${i} was made`);
  calls[i].resolve(s.response ?? s);
  await flush();
  return s;
}

describe('SSEConnection: state machine and events', () => {
  it('connects, opens, dispatches messages and named events, and closes', async () => {
    const { calls, conn, of } = setup();
    assert.equal(conn.state, 'connecting');
    const seen = { onopen: 0, onmessage: [], onstatechange: [], ping: [] };
    conn.onopen = () => seen.onopen++;
    conn.onmessage = (e) => seen.onmessage.push(e.data);
    conn.onstatechange = (e) => seen.onstatechange.push(e.state);
    conn.addEventListener('ping', (e) => seen.ping.push([e.data, e.lastEventId]));
    await flush();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].init.method, 'GET');
    assert.equal(calls[0].headers.get('accept'), 'text/event-stream');
    assert.equal(calls[0].headers.has('last-event-id'), false);
    const s = await answer(calls, 0);
    assert.equal(conn.state, 'open');
    assert.equal(seen.onopen, 1);
    s.push('id: 1\ndata: a\n\nevent: ping\ndata: p\n\n');
    await flush();
    assert.deepEqual(seen.onmessage, ['a']);
    assert.deepEqual(seen.ping, [['p', '1']]);
    assert.equal(of('message')[0].id, '1');
    conn.close();
    await flush();
    assert.equal(conn.state, 'closed');
    assert.ok(s.cancelled, 'the body stream was cancelled');
    assert.deepEqual(seen.onstatechange, ['open', 'closed']);
    assert.deepEqual(of('statechange').map((e) => [e.previous, e.state, e.reason]),
      [['connecting', 'open', undefined], ['open', 'closed', 'closed']]);
    assert.equal(of('error').length, 0);
  });

  it('sends method, body and per-attempt headers', async () => {
    let n = 0;
    const { calls, conn } = setup({ method: 'POST', body: '{"a":1}', headers: async () => ({ Authorization: `Bearer t${++n}` }) });
    await flush();
    assert.equal(calls[0].init.method, 'POST');
    assert.equal(calls[0].init.body, '{"a":1}');
    assert.equal(calls[0].headers.get('authorization'), 'Bearer t1');
    conn.close();
  });

  it('stops on 204 without an error', async () => {
    const { clock, calls, conn, of } = setup();
    await answer(calls, 0, plain(204));
    assert.equal(conn.state, 'closed');
    assert.equal(of('statechange').at(-1).reason, 'no-content');
    assert.equal(of('error').length, 0);
    await clock.advance(120000);
    assert.equal(calls.length, 1);
  });

  it('reports 404 on a request with Mcp-Session-Id as session-expired and stops', async () => {
    const { clock, calls, conn, of } = setup({ headers: { 'Mcp-Session-Id': 'abc' } });
    await flush();
    assert.equal(calls[0].headers.get('mcp-session-id'), 'abc');
    await answer(calls, 0, plain(404));
    assert.equal(conn.state, 'closed');
    const [err] = of('error');
    assert.equal(err.reason, 'session-expired');
    assert.equal(err.status, 404);
    assert.equal(err.willRetry, false);
    assert.equal(of('statechange').at(-1).reason, 'session-expired');
    await clock.advance(120000);
    assert.equal(calls.length, 1);
  });

  it('stops with http-error on a 4xx other than 408/429, including 404 without a session', async () => {
    for (const status of [400, 401, 403, 404]) {
      const { calls, conn, of } = setup();
      await answer(calls, 0, plain(status));
      assert.equal(conn.state, 'closed', String(status));
      assert.deepEqual([of('error')[0].reason, of('error')[0].status, of('error')[0].willRetry], ['http-error', status, false]);
    }
  });

  it('reconnects after 5xx, 408, 429 (honouring Retry-After) and a non-event-stream 200', async () => {
    const cases = [[plain(503), 'http-error', 500], [plain(408), 'http-error', 500],
      [plain(429, { 'retry-after': '7' }), 'http-error', 7000],
      [plain(200, { 'content-type': 'application/json' }, '{}'), 'bad-content-type', 500]];
    for (const [res, reason, delay] of cases) {
      const { clock, calls, conn, of } = setup();
      await answer(calls, 0, res);
      assert.equal(conn.state, 'reconnecting');
      assert.equal(of('error')[0].reason, reason);
      assert.equal(of('error')[0].retryInMs, delay);
      await clock.advance(delay - 1);
      assert.equal(calls.length, 1);
      await clock.advance(1);
      assert.equal(calls.length, 2);
      conn.close();
    }
  });

  it('goes connecting → reconnecting → open → reconnecting → closed', async () => {
    const { clock, calls, conn, of } = setup();
    await flush();
    calls[0].reject(new TypeError('fetch failed'));
    await flush();
    assert.equal(of('error')[0].reason, 'network');
    await clock.advance(500);
    const s = await answer(calls, 1);
    s.end();
    await flush();
    conn.close();
    assert.deepEqual(of('statechange').map((e) => e.state), ['reconnecting', 'open', 'reconnecting', 'closed']);
    assert.deepEqual(of('error').map((e) => e.reason), ['network', 'eof']);
  });

  it('gives up after maxRetries consecutive failures', async () => {
    const { clock, calls, conn, of } = setup({ maxRetries: 2, jitter: false });
    for (let i = 0; i < 3; i++) {
      await flush();
      calls[i].reject(new TypeError('fetch failed'));
      await clock.advance(10000);
    }
    assert.equal(calls.length, 3);
    assert.equal(conn.state, 'closed');
    const last = of('error').at(-1);
    assert.deepEqual([last.reason, last.cause, last.willRetry], ['max-retries', 'network', false]);
  });

  it('close() while waiting to reconnect cancels the reconnect', async () => {
    const { clock, calls, conn } = setup();
    await answer(calls, 0, plain(503));
    conn.close();
    await clock.advance(120000);
    assert.equal(calls.length, 1);
    assert.equal(conn.state, 'closed');
  });

  it('a listener calling close() stops delivery of the rest of the chunk', async () => {
    const { calls, conn } = setup();
    const got = [];
    conn.onmessage = (e) => { got.push(e.data); conn.close(); };
    const s = await answer(calls, 0);
    s.push('data: 1\n\ndata: 2\n\n');
    await flush();
    assert.deepEqual(got, ['1']);
  });
});

describe('SSEConnection: backoff', () => {
  // Makes every attempt fail at once and returns the retryInMs of each failure.
  async function failures(n, opts) {
    const { clock, calls, conn, of } = setup(opts);
    for (let i = 0; i < n; i++) {
      await flush();
      calls[i].reject(new TypeError('fetch failed'));
      await flush();
      await clock.advance(of('error').at(-1).retryInMs);
    }
    conn.close();
    return of('error').map((e) => e.retryInMs);
  }

  it('doubles from initialRetryMs and caps at maxRetryMs', async () => {
    assert.deepEqual(await failures(6, { jitter: false, initialRetryMs: 100, maxRetryMs: 1000 }),
      [100, 200, 400, 800, 1000, 1000]);
  });

  it('full jitter: uniform in [0, base) from the injected random', async () => {
    assert.deepEqual(await failures(4, { random: () => 0, initialRetryMs: 100 }), [0, 0, 0, 0]);
    assert.deepEqual(await failures(4, { random: () => 0.999999, initialRetryMs: 100 }), [99, 199, 399, 799]);
    const seq = [0.25, 0.5, 0.75, 0.1];
    assert.deepEqual(await failures(4, { random: () => seq.shift(), initialRetryMs: 100, maxRetryMs: 400 }), [25, 100, 300, 40]);
  });

  it("honours the server's retry: as the base (even above maxRetryMs)", async () => {
    const { clock, calls, conn, of } = setup({ jitter: false, maxRetryMs: 5000 });
    const s = await answer(calls, 0);
    s.push('retry: 250\n\n');
    s.end();
    await flush();
    assert.equal(of('error')[0].retryInMs, 250);
    await clock.advance(250);
    await answer(calls, 1, plain(503));
    assert.equal(of('error')[1].retryInMs, 500);
    await clock.advance(500);
    const s2 = await answer(calls, 2);
    s2.push('retry: 9000\n\n');
    s2.end();
    await flush();
    assert.equal(of('error')[2].retryInMs, 9000, 'larger than maxRetryMs');
    conn.close();
  });

  it('resets after resetAfterMs of stable connection, not before', async () => {
    const { clock, calls, conn, of } = setup({ jitter: false, initialRetryMs: 100, resetAfterMs: 5000, heartbeatTimeoutMs: 0 });
    await answer(calls, 0, plain(503));            // 100
    await clock.advance(100);
    await answer(calls, 1, plain(503));            // 200
    await clock.advance(200);
    let s = await answer(calls, 2);
    await clock.advance(4999);
    s.end();                                       // open 4999 ms: not stable → 400
    await flush();
    await clock.advance(400);
    s = await answer(calls, 3);
    await clock.advance(5000);
    s.end();                                       // open 5000 ms: stable → back to 100
    await flush();
    assert.deepEqual(of('error').map((e) => e.retryInMs), [100, 200, 400, 100]);
    conn.close();
  });
});

describe('SSEConnection: watchdog, resume and de-dup', () => {
  it('reconnects when nothing, not even a comment, arrived for heartbeatTimeoutMs', async () => {
    const { clock, calls, conn, of } = setup({ heartbeatTimeoutMs: 1000, jitter: false });
    const s = await answer(calls, 0);
    await clock.advance(600);
    s.push(': hb\n\n');
    await flush();
    await clock.advance(999);
    assert.equal(conn.state, 'open', 'the comment fed the watchdog');
    s.push(':');  // even a partial line counts
    await flush();
    await clock.advance(999);
    assert.equal(conn.state, 'open');
    await clock.advance(1);
    assert.equal(conn.state, 'reconnecting');
    const err = of('error')[0];
    assert.deepEqual([err.reason, err.idleMs, err.willRetry], ['heartbeat-timeout', 1000, true]);
    assert.ok(s.cancelled, 'the stalled stream was cancelled');
    await clock.advance(1000);
    assert.equal(calls.length, 2);
    conn.close();
  });

  it('the watchdog also covers a request that never gets a response', async () => {
    const { clock, calls, conn, of } = setup({ heartbeatTimeoutMs: 1000 });
    await clock.advance(1000);
    assert.equal(of('error')[0].reason, 'heartbeat-timeout');
    assert.ok(calls[0].aborted, 'the hanging fetch was aborted');
    conn.close();
  });

  it('defaults to a 37500 ms watchdog', async () => {
    const { clock, calls, conn } = setup();
    await answer(calls, 0);
    await clock.advance(37499);
    assert.equal(conn.state, 'open');
    await clock.advance(1);
    assert.equal(conn.state, 'reconnecting');
    conn.close();
  });

  it('sends Last-Event-ID on reconnect and drops events it already delivered', async () => {
    const { clock, calls, conn, of } = setup({ jitter: false, lastEventId: 'start' });
    await flush();
    assert.equal(calls[0].headers.get('last-event-id'), 'start');
    const s = await answer(calls, 0);
    s.push('id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c-partial');
    s.end();
    await flush();
    assert.equal(conn.lastEventId, '2', 'an unterminated event does not move the resume position');
    await clock.advance(1000);
    assert.equal(calls[1].headers.get('last-event-id'), '2');
    const s2 = await answer(calls, 1);
    // A server that replays from an older position: 2 is a duplicate.
    s2.push('id: 2\ndata: b\n\nid: 3\ndata: c\n\nevent: gap\ndata: g\n\ndata: no-id\n\n');
    await flush();
    assert.deepEqual(of('message').map((e) => [e.data, e.lastEventId]), [['a', '1'], ['b', '2'], ['c', '3'], ['no-id', '3']]);
    s2.end();
    await flush();
    await clock.advance(2000); // second consecutive drop: the backoff doubled
    assert.equal(calls[2].headers.get('last-event-id'), '3');
    conn.close();
  });

  it('a priming event (id, empty data) sets the resume position only when there is none', async () => {
    const { clock, calls, conn, of } = setup({ jitter: false });
    const s = await answer(calls, 0);
    s.push('id: 0-1\nretry: 10\ndata:\n\nid: 0-2\ndata: a\n\n');
    await flush();
    assert.equal(conn.lastEventId, '0-2');
    s.end();
    await clock.advance(10);
    assert.equal(calls[1].headers.get('last-event-id'), '0-2');
    // The resume is primed with an id past the events still to be replayed, then dropped.
    const s2 = await answer(calls, 1);
    s2.push('id: 0-9\ndata:\n\n');
    await flush();
    assert.equal(conn.lastEventId, '0-2', 'the priming id did not move the resume position');
    s2.end();
    await clock.advance(20);
    assert.equal(calls[2].headers.get('last-event-id'), '0-2');
    const s3 = await answer(calls, 2);
    s3.push('id: 0-10\ndata:\n\nid: 0-3\ndata: b\n\n');
    await flush();
    assert.equal(conn.lastEventId, '0-3');
    assert.deepEqual(of('message').map((e) => [e.data, e.id]),
      [['', '0-1'], ['a', '0-2'], ['', '0-9'], ['', '0-10'], ['b', '0-3']]);
    conn.close();
  });

  it('primingMovesResume: true keeps EventSource behaviour', async () => {
    const { calls, conn } = setup({ primingMovesResume: true, lastEventId: '0-2' });
    const s = await answer(calls, 0);
    s.push('id: 0-9\ndata:\n\n');
    await flush();
    assert.equal(conn.lastEventId, '0-9');
    conn.close();
  });

  it('keeps only dedupWindow ids', async () => {
    const { calls, conn, of } = setup({ dedupWindow: 2 });
    const s = await answer(calls, 0);
    s.push('id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\nid: 2\ndata: dup\n\nid: 1\ndata: old\n\n');
    await flush();
    assert.deepEqual(of('message').map((e) => e.data), ['a', 'b', 'c', 'old']);
    conn.close();
  });

  it('reconnect() drops the stream and resumes at once', async () => {
    const { calls, conn, of } = setup();
    const s = await answer(calls, 0);
    s.push('id: 5\ndata: a\n\n');
    await flush();
    conn.reconnect();
    await flush();
    assert.ok(s.cancelled);
    assert.equal(calls.length, 2);
    assert.equal(calls[1].headers.get('last-event-id'), '5');
    assert.equal(of('statechange').at(-1).reason, 'manual');
    await answer(calls, 1);
    assert.equal(conn.state, 'open');
    conn.close();
  });
});
