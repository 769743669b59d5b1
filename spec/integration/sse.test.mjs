// SSE engine behaviour against the real binary: heartbeats, channel replay
// and gaps, session streams with resume and takeover, expiry, hot reload
// without dropping streams, and graceful shutdown.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, scriptsDir, openStream, closeStream, waitFor, sleep, raw, parseResponses } from './lib/harness.mjs';

const APP = `
local mw = require "moonwire"
mw.route { path = "/events", channel = "ch" }
mw.route { method = "POST", path = "/pub", handler = function(req)
  local id, n = mw.publish("ch", { event = "m", data = req.body })
  return { json = { id = id, delivered = n } }
end }
mw.route { method = "POST", path = "/burst", handler = function(req)
  for i = 1, tonumber(req.args.n) do mw.publish("ch", { event = "m", data = "b" .. i }) end
  return { json = { n = tonumber(req.args.n) } }
end }
mw.route { method = "POST", path = "/s", handler = function()
  return { json = { id = mw.sessions.create("{}") } }
end }
mw.route { method = "GET", path = "/s/:id", handler = function(req, ctx)
  local ok, err = ctx:attach(req.params.id, tonumber(req.args.stream or "0"))
  if not ok then return { status = err == "no-session" and 404 or 400, json = { error = err } } end
end }
mw.route { method = "POST", path = "/s/:id/send", handler = function(req)
  local id, err = mw.sessions.send(req.params.id, tonumber(req.args.stream or "0"), { event = "m", data = req.body })
  if not id then return { status = 409, json = { error = err } } end
  return { json = { id = id } }
end }
mw.route { method = "POST", path = "/s/:id/open", handler = function(req)
  return { json = { stream = mw.sessions.open_stream(req.params.id) } }
end }
mw.route { method = "POST", path = "/s/:id/end", handler = function(req)
  return { json = { ok = mw.sessions.end_stream(req.params.id, tonumber(req.args.stream)) } }
end }
mw.route { method = "DELETE", path = "/s/:id", handler = function(req)
  return { json = { ok = mw.sessions.destroy(req.params.id) } }
end }
`;

async function post(srv, p, body = '') {
  const res = await fetch(srv.url(p), { method: 'POST', body });
  return { status: res.status, json: await res.json() };
}

describe('heartbeats', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 'app.lua': APP })], env: { SSE_HEARTBEAT_INTERVAL: '1' } }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('sends SSE headers, first bytes at once, then a heartbeat every second (±100 ms)', async () => {
    const t0 = Date.now();
    const st = await openStream(srv.port, '/events');
    assert.equal(st.status, 200);
    assert.equal(st.headers['content-type'], 'text/event-stream');
    assert.equal(st.headers['cache-control'], 'no-cache, no-transform');
    assert.equal(st.headers['x-accel-buffering'], 'no');
    await waitFor(st, () => st.events.length >= 1, 1000);
    assert.equal(st.events[0].retry, '1000', 'retry hint is the first thing on the stream');
    await waitFor(st, () => st.comments.length >= 4, 6000);
    const gaps = [];
    for (let i = 1; i < st.comments.length; i++) gaps.push(st.comments[i] - st.comments[i - 1]);
    for (const g of gaps) assert.ok(Math.abs(g - 1000) <= 100, `heartbeat gap ${g} ms`);
    assert.ok(st.comments[0] - t0 <= 1150, 'first heartbeat about one interval after the last write');
    closeStream(st);
  });

  // The fan-out runs after the publishing handler returns, so a burst reaches
  // each subscriber in a few writes of many events (MW_SSE_SEND_MAX per write).
  it('delivers a burst published in one handler whole and in order', async () => {
    const subs = [await openStream(srv.port, '/events'), await openStream(srv.port, '/events')];
    await post(srv, '/burst?n=300');
    const want = Array.from({ length: 300 }, (_, i) => `b${i + 1}`);
    for (const st of subs) {
      await waitFor(st, () => st.events.filter((e) => e.event === 'm').length >= 300, 5000);
      assert.deepEqual(st.events.filter((e) => e.event === 'm').map((e) => e.data), want);
      closeStream(st);
    }
  });

  it('postpones heartbeats on a stream that is busy with events', async () => {
    const st = await openStream(srv.port, '/events');
    for (let i = 0; i < 6; i++) { await post(srv, '/pub', `e${i}`); await sleep(300); }
    assert.equal(st.comments.length, 0, 'no heartbeat while events flow every 300 ms');
    closeStream(st);
  });
});

describe('channels: replay and gaps', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 'app.lua': APP })], env: { SSE_BUFFER_SIZE: '3' } }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('delivers live events to every subscriber, framed once', async () => {
    const a = await openStream(srv.port, '/events');
    const b = await openStream(srv.port, '/events');
    const { json } = await post(srv, '/pub', 'line1\nline2');
    assert.equal(json.delivered, 2);
    for (const st of [a, b]) {
      await waitFor(st, () => st.events.some((e) => e.event === 'm'));
      const ev = st.events.find((e) => e.event === 'm');
      assert.equal(ev.data, 'line1\nline2');
      assert.equal(ev.id, json.id);
      closeStream(st);
    }
  });

  it('a burst bigger than the replay buffer still reaches live subscribers whole, no gap', async () => {
    // The buffer holds 3 events: the fan-out must not let the burst evict
    // events before every live subscriber has them.
    const subs = [await openStream(srv.port, '/events'), await openStream(srv.port, '/events'), await openStream(srv.port, '/events')];
    await post(srv, '/burst?n=50');
    const want = Array.from({ length: 50 }, (_, i) => `b${i + 1}`);
    for (const st of subs) {
      await waitFor(st, () => st.events.filter((e) => e.event === 'm').length >= 50, 5000);
      assert.deepEqual(st.events.filter((e) => e.event === 'm').map((e) => e.data), want);
      assert.ok(!st.events.some((e) => e.event === 'gap'));
      closeStream(st);
    }
  });

  it('replays exactly the missed events after Last-Event-ID, in order, none twice', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await post(srv, '/pub', `r${i}`)).json.id);
    const st = await openStream(srv.port, '/events', { 'Last-Event-ID': ids[0] });
    await waitFor(st, () => st.events.filter((e) => e.event === 'm').length >= 2);
    await sleep(200);
    const got = st.events.filter((e) => e.event === 'm').map((e) => e.data);
    assert.deepEqual(got, ['r1', 'r2']);
    assert.ok(!st.events.some((e) => e.event === 'gap'));
    // Live events continue after the replay.
    await post(srv, '/pub', 'r3');
    await waitFor(st, () => st.events.some((e) => e.data === 'r3'));
    closeStream(st);
  });

  it('reports a gap when the id was evicted, then sends what it holds', async () => {
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await post(srv, '/pub', `g${i}`)).json.id);
    // Buffer holds 3: g3 g4 g5. Resuming after g0 lost g1 and g2.
    const st = await openStream(srv.port, '/events', { 'Last-Event-ID': ids[0] });
    await waitFor(st, () => st.events.filter((e) => e.event === 'm').length >= 3);
    assert.ok(st.events.some((e) => e.event === 'gap'), 'gap notice');
    assert.deepEqual(st.events.filter((e) => e.event === 'm').map((e) => e.data), ['g3', 'g4', 'g5']);
    closeStream(st);
    // Resuming after g2 (the last evicted) is not a gap: nothing was missed.
    const st2 = await openStream(srv.port, '/events', { 'Last-Event-ID': ids[2] });
    await waitFor(st2, () => st2.events.filter((e) => e.event === 'm').length >= 3);
    await sleep(100);
    assert.ok(!st2.events.some((e) => e.event === 'gap'));
    closeStream(st2);
  });

  it('treats an id from another server process as a gap', async () => {
    const st = await openStream(srv.port, '/events', { 'Last-Event-ID': 'zzzzzz-5' });
    await waitFor(st, () => st.events.some((e) => e.event === 'gap'));
    closeStream(st);
  });
});

describe('sessions', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 'app.lua': APP })], env: { SSE_CONNECTION_TIMEOUT: '1' } }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('issues unpredictable 128-bit ids', async () => {
    const a = (await post(srv, '/s')).json.id;
    const b = (await post(srv, '/s')).json.id;
    assert.match(a, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a, b);
  });

  it('primes the stream, then resumes with exactly the missed events', async () => {
    const sid = (await post(srv, '/s')).json.id;
    const st = await openStream(srv.port, `/s/${sid}`);
    await waitFor(st, () => st.events.length >= 1);
    const prime = st.events[0];
    assert.match(prime.id, /^0-\d+$/);
    assert.equal(prime.data, '');
    assert.equal(prime.retry, '1000');
    await post(srv, `/s/${sid}/send`, 'a');
    await post(srv, `/s/${sid}/send`, 'b');
    await waitFor(st, () => st.events.length >= 3);
    const lastSeen = st.events[2].id;
    closeStream(st);
    await sleep(50);
    await post(srv, `/s/${sid}/send`, 'c');
    await post(srv, `/s/${sid}/send`, 'd');
    const st2 = await openStream(srv.port, `/s/${sid}`, { 'Last-Event-ID': lastSeen });
    await waitFor(st2, () => st2.events.filter((e) => e.data !== '').length >= 2);
    await sleep(100);
    assert.deepEqual(st2.events.filter((e) => e.data !== '').map((e) => e.data), ['c', 'd']);
    const ids = st2.events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'ids unique');
    closeStream(st2);
  });

  it('a reconnect while the old connection is open takes the stream over', async () => {
    const sid = (await post(srv, '/s')).json.id;
    const first = await openStream(srv.port, `/s/${sid}`);
    await waitFor(first, () => first.events.length >= 1);
    const second = await openStream(srv.port, `/s/${sid}`, { 'Last-Event-ID': first.events[0].id });
    assert.equal(second.status, 200);
    await waitFor(first, () => first.closed, 2000);
    await post(srv, `/s/${sid}/send`, 'x');
    await waitFor(second, () => second.events.some((e) => e.data === 'x'));
    closeStream(second);
  });

  it('a request stream that ended replays its tail and finishes on resume', async () => {
    const sid = (await post(srv, '/s')).json.id;
    const no = (await post(srv, `/s/${sid}/open`)).json.stream;
    assert.equal(no, 1);
    const st = await openStream(srv.port, `/s/${sid}?stream=${no}`);
    await waitFor(st, () => st.events.length >= 1);
    const primeId = st.events[0].id;
    assert.match(primeId, /^1-\d+$/);
    closeStream(st); // the connection breaks before the result
    await post(srv, `/s/${sid}/send?stream=${no}`, 'progress');
    await post(srv, `/s/${sid}/send?stream=${no}`, 'result');
    await post(srv, `/s/${sid}/end?stream=${no}`);
    // Sending on an ended stream is refused.
    assert.equal((await post(srv, `/s/${sid}/send?stream=${no}`, 'late')).status, 409);
    const st2 = await openStream(srv.port, `/s/${sid}`, { 'Last-Event-ID': primeId });
    await waitFor(st2, () => st2.raw.endsWith('0\r\n\r\n'), 3000);
    assert.deepEqual(st2.events.filter((e) => e.data !== '').map((e) => e.data), ['progress', 'result']);
    assert.equal(st2.closed, false, 'the connection stays open for the next request');
  });

  it('unknown session is 404; unknown stream id is 400', async () => {
    const r = await fetch(srv.url('/s/AAAAAAAAAAAAAAAAAAAAAA'));
    assert.equal(r.status, 404);
    await r.text();
    const sid = (await post(srv, '/s')).json.id;
    const r2 = await fetch(srv.url(`/s/${sid}`), { headers: { 'Last-Event-ID': '77-1' } });
    assert.equal(r2.status, 400);
    await r2.text();
  });

  it('expires a session SSE_CONNECTION_TIMEOUT after its last stream closed', async () => {
    const sid = (await post(srv, '/s')).json.id;
    const st = await openStream(srv.port, `/s/${sid}`);
    await sleep(1500); // attached: does not expire
    closeStream(st);
    await sleep(300);
    let r = await fetch(srv.url(`/s/${sid}`), { headers: { 'Last-Event-ID': '0-1' }, signal: AbortSignal.timeout(300) }).catch(() => null);
    assert.ok(r === null || r.status === 200, 'still alive shortly after the stream closed');
    await sleep(1700);
    r = await fetch(srv.url(`/s/${sid}`));
    assert.equal(r.status, 404);
    await r.text();
  });

  it('DELETE ends the session and its streams', async () => {
    const sid = (await post(srv, '/s')).json.id;
    const st = await openStream(srv.port, `/s/${sid}`);
    await waitFor(st, () => st.events.length >= 1);
    const r = await fetch(srv.url(`/s/${sid}`), { method: 'DELETE' });
    assert.equal((await r.json()).ok, true);
    await waitFor(st, () => st.closed || st.raw.endsWith('0\r\n\r\n'), 2000);
    const r2 = await fetch(srv.url(`/s/${sid}`));
    assert.equal(r2.status, 404);
    await r2.text();
  });
});

describe('hot reload', () => {
  let srv, dir;
  const v = (n, extra = '') => `local mw = require "moonwire"
mw.route { path = "/events", channel = "ch" }
mw.route { method = "GET", path = "/v", handler = function() return "v${n}" end }
mw.route { method = "POST", path = "/pub", handler = function(req) mw.publish("ch", { data = "from v${n}" }); return "ok" end }
${extra}`;
  before(async () => {
    dir = scriptsDir({ 'app.lua': v(1) });
    srv = await startServer({ scripts: [dir] });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  async function text(p) { const r = await fetch(srv.url(p)); return r.text(); }
  async function health() { return (await fetch(srv.url('/healthz'))).json(); }

  it('picks up an edit within a second and drops no stream', async () => {
    const st = await openStream(srv.port, '/events');
    assert.equal(await text('/v'), 'v1');
    const gen = (await health()).generation;
    fs.writeFileSync(path.join(dir, 'app.lua'), v(2));
    const t0 = Date.now();
    while ((await text('/v')) !== 'v2') {
      assert.ok(Date.now() - t0 < 1000, 'reload took more than a second');
      await sleep(20);
    }
    assert.equal((await health()).generation, gen + 1);
    assert.equal(st.closed, false);
    await (await fetch(srv.url('/pub'), { method: 'POST' })).text();
    await waitFor(st, () => st.events.some((e) => e.data === 'from v2'));
    closeStream(st);
  });

  it('keeps the previous scripts serving when an edit has a syntax error, and shows it', async () => {
    fs.writeFileSync(path.join(dir, 'app.lua'), v(3, 'this is not lua'));
    let h;
    const t0 = Date.now();
    do { await sleep(50); h = await health(); } while (!h.last_reload_error && Date.now() - t0 < 3000);
    assert.match(h.last_reload_error, /app\.lua:5:/);
    assert.equal(await text('/v'), 'v2');
    fs.writeFileSync(path.join(dir, 'app.lua'), v(4));
    do { await sleep(50); h = await health(); } while (h.last_reload_error && Date.now() - t0 < 3000);
    assert.equal(h.last_reload_error, null);
    assert.equal(await text('/v'), 'v4');
  });

  it('reports registration errors with file and line', async () => {
    fs.writeFileSync(path.join(dir, 'app.lua'), v(5, 'mw.route { path = "/x", handler = function() end, methd = "GET" }'));
    let h;
    const t0 = Date.now();
    do { await sleep(50); h = await health(); } while (!h.last_reload_error && Date.now() - t0 < 3000);
    assert.match(h.last_reload_error, /app\.lua:5: mw\.route: unknown key 'methd'/);
    // The log line is that message alone: no traceback through the framework.
    const line = srv.stderr.split('\n').find((l) => l.includes("unknown key 'methd'"));
    assert.match(line, /msg="reload failed; previous scripts keep serving" .*error="[^"]*app\.lua:5: mw\.route: unknown key 'methd'"/);
    assert.doesNotMatch(line, /traceback/);
    fs.writeFileSync(path.join(dir, 'app.lua'), v(6));
  });

  it('SIGHUP reloads too', async () => {
    const before = (await health()).generation;
    srv.child.kill('SIGHUP');
    const t0 = Date.now();
    while ((await health()).generation === before) {
      assert.ok(Date.now() - t0 < 2000, srv.stderr.slice(-3000));
      await sleep(20);
    }
  });

  it('a handler in flight finishes in the generation that started it', async () => {
    fs.writeFileSync(path.join(dir, 'app.lua'), v(7, `mw.route { method = "GET", path = "/slow", handler = function(req, ctx) ctx:sleep(0.5) return "slow from gen " .. mw.generation() end }`));
    const t0 = Date.now();
    while ((await text('/v')) !== 'v7') { assert.ok(Date.now() - t0 < 2000); await sleep(20); }
    const gen = (await health()).generation;
    const slow = text('/slow');
    await sleep(100);
    fs.writeFileSync(path.join(dir, 'app.lua'), v(8));
    assert.equal(await slow, `slow from gen ${gen}`);
  });
});

describe('shutdown', () => {
  it('SIGTERM ends streams with a retry hint and exits 0', async () => {
    const srv = await startServer({ scripts: [scriptsDir({ 'app.lua': APP })], env: { SSE_RETRY_MS: '2500' } });
    const st = await openStream(srv.port, '/events');
    await waitFor(st, () => st.events.length >= 1);
    const res = await srv.stop();
    assert.equal(res.code, 0);
    await waitFor(st, () => st.closed, 3000);
    assert.equal(st.events.at(-1).retry, '2500');
    assert.ok(st.raw.endsWith('0\r\n\r\n'), 'stream ended with the terminating chunk');
  });

  it('lets a request in flight finish before exiting', async () => {
    const srv = await startServer({ scripts: [scriptsDir({ 'app.lua': `local mw = require "moonwire"
mw.route { method = "GET", path = "/slow", handler = function(req, ctx) ctx:sleep(0.4) return "done" end }` })] });
    const p = fetch(srv.url('/slow')).then((r) => r.text());
    await sleep(100);
    const stopped = srv.stop();
    assert.equal(await p, 'done');
    assert.equal((await stopped).code, 0);
  });

  it('past SHUTDOWN_TIMEOUT closes what is still running and says so', async () => {
    const srv = await startServer({ scripts: [scriptsDir({ 'app.lua': `local mw = require "moonwire"
mw.route { method = "GET", path = "/slow", handler = function(req, ctx) ctx:sleep(5) return "done" end }` })],
    env: { SHUTDOWN_TIMEOUT: '1' } });
    const p = fetch(srv.url('/slow')).then((r) => r.text(), (e) => e);
    await sleep(100);
    const t0 = Date.now();
    assert.equal((await srv.stop()).code, 0);
    assert.ok(Date.now() - t0 < 4000, 'stopped at the deadline, not when the handler would end');
    assert.ok((await p) instanceof Error, 'the request got no answer');
    assert.match(srv.stderr, /level=warn msg="SHUTDOWN_TIMEOUT passed; closing connections still answering requests" connections=1/);
  });
});

describe('shutdown with answers on streams', () => {
  it('lets requests answered on SSE streams finish: session POST, 2026-07-28 POST, legacy /sse', async () => {
    const srv = await startServer({ scripts: [scriptsDir({ 'tools.lua': `local mw = require "moonwire"
mw.tool { name = "slow", description = "Reports progress, then answers after 0.6 s",
  handler = function(args, ctx) ctx:progress(1, 2) ctx:sleep(0.6) return "done" end }` })], env: { SSE_RETRY_MS: '2500' } });
    const H = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    const call = (id, meta) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call',
      params: { name: 'slow', arguments: {}, _meta: { progressToken: `p${id}`, ...meta } } });
    const init = await fetch(srv.url('/mcp'), { method: 'POST', headers: H, body: JSON.stringify({ jsonrpc: '2.0', id: 0,
      method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
    await init.text();
    const sid = init.headers.get('mcp-session-id');
    const S = { ...H, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' };
    const body = call(1);
    const session = await openStream(srv.port, '/mcp', { ...S, 'Content-Length': String(body.length) }, { method: 'POST', body });
    const sbody = call(2, { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} });
    const stateless = await openStream(srv.port, '/mcp', { ...H, 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/call',
      'Mcp-Name': 'slow', 'Content-Length': String(sbody.length) }, { method: 'POST', body: sbody });
    const legacy = await openStream(srv.port, '/sse');
    await waitFor(legacy, () => legacy.events.some((e) => e.event === 'endpoint'));
    const endpoint = legacy.events.find((e) => e.event === 'endpoint').data;
    await (await fetch(srv.url(endpoint), { method: 'POST', headers: H, body: call(3) })).text();
    const messages = (st) => st.events.filter((e) => e.data && e.data.startsWith('{')).map((e) => JSON.parse(e.data));
    for (const st of [session, stateless, legacy]) {
      await waitFor(st, () => messages(st).some((m) => m.method === 'notifications/progress'), 3000);
    }
    const stopped = srv.stop();
    for (const [st, id] of [[session, 1], [stateless, 2], [legacy, 3]]) {
      await waitFor(st, () => st.closed, 5000);
      const answer = messages(st).find((m) => m.id === id);
      assert.ok(answer, `request ${id} answered before its stream ended: ${st.raw}`);
      assert.equal(answer.result.content[0].text, 'done');
    }
    assert.equal(legacy.events.at(-1).retry, '2500', 'the legacy stream then ends with the retry hint');
    assert.equal((await stopped).code, 0);
  });
});

describe('backpressure', () => {
  let srv;
  const FLOOD = APP + `
mw.route { method = "POST", path = "/flood", handler = function(req)
  local chunk = string.rep("x", tonumber(req.args.size))
  local last
  for i = 1, tonumber(req.args.n) do
    if req.args.sid then
      last = mw.sessions.send(req.args.sid, 0, { event = "big", data = chunk })
    else
      last = mw.publish("ch", { event = "big", data = chunk })
    end
  end
  return { json = { last = last } }
end }`;
  before(async () => {
    srv = await startServer({ scripts: [scriptsDir({ 'app.lua': FLOOD })],
      env: { MAX_PENDING_BYTES: '65536', SSE_BUFFER_BYTES: '67108864', SSE_BUFFER_SIZE: '100000' } });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  async function metric(name) {
    const text = await (await fetch(srv.url('/metrics'))).text();
    return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)[1]);
  }

  it('drops a client that stops reading, counts it, and keeps serving the others', async () => {
    const slow = await openStream(srv.port, '/events');
    slow.sock.pause(); // stop reading: the kernel buffers fill, then our queue
    const fast = await openStream(srv.port, '/events');
    const before = await metric('moonwire_slow_consumers_dropped_total');
    let received = 0;
    fast.onEvent = () => { received = fast.events.filter((e) => e.event === 'big').length; };
    for (let i = 0; i < 40 && !slow.closed; i++) {
      await post(srv, '/flood?n=50&size=65536');
      await sleep(10);
      slow.sock.pause();
    }
    assert.ok(await metric('moonwire_slow_consumers_dropped_total') >= before + 1);
    await waitFor(fast, () => fast.events.filter((e) => e.event === 'big').length >= 50, 5000);
    assert.ok(received >= 50, 'a reading client got its events');
    closeStream(slow);
    closeStream(fast);
  });

  it('keeps a dropped session stream\'s events for replay', async () => {
    const sid = (await post(srv, '/s')).json.id;
    const st = await openStream(srv.port, `/s/${sid}`);
    await waitFor(st, () => st.events.length >= 1);
    const prime = st.events[0].id;
    st.sock.pause();
    let last;
    for (let i = 0; i < 40; i++) {
      last = (await post(srv, `/flood?n=20&size=65536&sid=${sid}`)).json.last;
      const info = await (await fetch(srv.url('/healthz'))).json();
      if (info.streams === 0) break;
    }
    // The resumed stream gets every event from the priming id on, in order.
    const st2 = await openStream(srv.port, `/s/${sid}`, { 'Last-Event-ID': prime });
    await waitFor(st2, () => st2.events.some((e) => e.id === last), 20000);
    const big = st2.events.filter((e) => e.event === 'big');
    const seqs = big.map((e) => Number(e.id.split('-')[1]));
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1]);
    assert.ok(!st2.events.some((e) => e.event === 'gap'));
    closeStream(st);
    closeStream(st2);
  });
});

describe('shared store', () => {
  it('keeps values across reloads, counts, and expires entries with a TTL', async () => {
    const src = (v) => `local mw = require "moonwire"
mw.route { method = "POST", path = "/hit", handler = function() return tostring(mw.shared:incr("hits")) end }
mw.route { method = "POST", path = "/put", handler = function(req) mw.shared:set("k", req.body, tonumber(req.args.ttl)) return "ok" end }
mw.route { method = "GET", path = "/get", handler = function() local v = mw.shared:get("k") return v == nil and "nil" or tostring(v) .. "${v}" end }
mw.route { method = "POST", path = "/bad", handler = function() local v, err = mw.shared:incr("k") return tostring(v) .. "," .. tostring(err) end }`;
    const dir = scriptsDir({ 'app.lua': src('') });
    const srv = await startServer({ scripts: [dir] });
    const req = async (m, p, body) => (await fetch(srv.url(p), { method: m, body })).text();
    assert.equal(await req('POST', '/hit'), '1');
    assert.equal(await req('POST', '/hit'), '2');
    await req('POST', '/put', 'value');
    assert.equal(await req('POST', '/bad'), 'nil,not an integer');
    fs.writeFileSync(path.join(dir, 'app.lua'), src('!'));
    const t0 = Date.now();
    while ((await req('GET', '/get')) !== 'value!') { assert.ok(Date.now() - t0 < 2000); await sleep(20); }
    assert.equal(await req('POST', '/hit'), '3', 'counter survived the reload');
    await req('POST', '/put?ttl=0.2', 'short');
    assert.equal(await req('GET', '/get'), 'short!');
    await sleep(300);
    assert.equal(await req('GET', '/get'), 'nil');
    assert.equal((await srv.stop()).code, 0);
  });
});
