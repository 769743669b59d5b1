// Smoke test of examples/dashboard: the page and the client are served with
// their content types, the stream carries a snapshot a second whose figures
// follow what happens on the server (sessions, events, a failed then a good
// reload, loaded from a second scripts directory next to the example).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, scriptsDir, ROOT, openStream, waitFor, closeStream } from './lib/harness.mjs';

const H = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

const EXTRA = `local mw = require "moonwire"
mw.route { path = "/t/events", channel = "t" }
mw.route { method = "POST", path = "/t/burst", handler = function(req, ctx)
  for i = 1, 50 do mw.publish("t", "e" .. i) end
  return nil
end }
`;

async function session(srv) {
  const res = await fetch(srv.url('/mcp'), { method: 'POST', headers: H, body: JSON.stringify({ jsonrpc: '2.0', id: 1,
    method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'dash', version: '1' } } }) });
  await res.text();
  assert.equal(res.status, 200);
  return res.headers.get('mcp-session-id');
}

describe('examples/dashboard', () => {
  let srv, dir, st;
  const snaps = () => st.events.filter((e) => e.event === 'snapshot').map((e) => ({ ...JSON.parse(e.data), at: e.at }));
  const newest = () => snaps().at(-1);
  // Resolves with the first snapshot (arriving from now on) that satisfies pred.
  const next = async (pred, timeoutMs = 4000) => {
    const from = snaps().length;
    await waitFor(st, () => snaps().slice(from).some(pred), timeoutMs);
    return snaps().slice(from).find(pred);
  };

  before(async () => {
    dir = scriptsDir({ 'extra.lua': EXTRA });
    srv = await startServer({ scripts: [path.join(ROOT, 'examples/dashboard'), dir] });
  });
  after(async () => {
    if (st) closeStream(st);
    if (srv) assert.equal((await srv.stop()).code, 0);
  });

  it('serves the page, the client and a redirect to the page', async () => {
    const page = await fetch(srv.url('/dashboard/'));
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    const html = await page.text();
    assert.match(html, /import\('\.\/sse-connection\.js'\)/);
    assert.match(html, /new SSEConnection\('\.\/stream'/);
    assert.doesNotMatch(html, /(src|href)="https?:/, 'the page loads nothing from elsewhere');

    const js = await fetch(srv.url('/dashboard/sse-connection.js'));
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await js.text(), fs.readFileSync(path.join(ROOT, 'client/sse-connection.js'), 'utf8'));

    const bare = await fetch(srv.url('/dashboard'), { redirect: 'manual' });
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.get('location'), '/dashboard/');
  });

  it('streams a snapshot a second, and keeps the last ones as history', async () => {
    st = await openStream(srv.port, '/dashboard/stream');
    assert.equal(st.status, 200);
    assert.match(st.headers['content-type'], /^text\/event-stream/);
    await waitFor(st, () => snaps().length >= 3, 5000);
    const [a, b, c] = snaps();
    assert.deepEqual([b.seq - a.seq, c.seq - b.seq], [1, 1]);
    for (const [x, y] of [[a, b], [b, c]]) {
      assert.ok(y.at - x.at > 500 && y.at - x.at < 1600, `snapshots ${y.at - x.at} ms apart`);
      assert.ok(Math.abs(y.time_ms - x.time_ms - 1000) < 300, 'time_ms advances by about a second');
    }
    assert.ok(c.streams >= 1 && c.connections >= 1, 'the dashboard stream itself counts');
    assert.ok(c.rss_bytes > 1e6 && c.lua_memory_bytes > 1e4, 'memory figures are filled in');
    assert.equal(c.reload.ok, true);
    assert.equal(c.reload.error, null);
    assert.ok(Math.abs(c.reload.at_ms - Date.now()) < 60000, 'last reload time is wall-clock ms');

    const hist = await (await fetch(srv.url('/dashboard/history'))).json();
    const seqs = hist.map((s) => s.seq);
    assert.ok(seqs.includes(c.seq), 'history holds what the stream sent');
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
  });

  it('moves with MCP sessions and published events', async () => {
    const before = newest();
    await session(srv);
    await session(srv);
    const sub = await openStream(srv.port, '/t/events');
    try {
      const r = await fetch(srv.url('/t/burst'), { method: 'POST' });
      assert.equal(r.status, 204);
      const s = await next((x) => x.sessions >= before.sessions + 2 && x.events_sent >= before.events_sent + 50);
      assert.equal(s.sessions_created - before.sessions_created, 2);
      assert.ok(s.streams >= before.streams + 1, 'the subscriber shows as a stream');
      // The first snapshot after the burst has it all in its last second.
      assert.ok(s.events_per_s >= 40, `events/s ${s.events_per_s} shows the burst`);
    } finally {
      closeStream(sub);
    }
  });

  it('shows a failed reload, then a good one, on the same stream', async () => {
    const good = newest();
    fs.writeFileSync(path.join(dir, 'broken.lua'), 'local mw = require "moonwire"\nmw.route { path = 42 }\n');
    const failed = await next((x) => !x.reload.ok);
    assert.equal(failed.reload.generation, good.reload.generation, 'the old generation keeps serving');
    assert.equal(failed.reload.reloads_failed, good.reload.reloads_failed + 1);
    assert.match(failed.reload.error, /broken\.lua:2:/);
    assert.ok(failed.reload.at_ms > good.reload.at_ms);

    fs.writeFileSync(path.join(dir, 'broken.lua'), 'local mw = require "moonwire"\nmw.route { path = "/t/fixed", handler = function() return "ok" end }\n');
    const fixed = await next((x) => x.reload.ok && x.reload.generation > good.reload.generation, 5000);
    assert.equal(fixed.reload.error, null);
    assert.equal(fixed.reload.reloads_ok, good.reload.reloads_ok + 1);
    assert.ok(fixed.seq > failed.seq, 'the new generation goes on counting where the old one stopped');
    assert.equal(await (await fetch(srv.url('/t/fixed'))).text(), 'ok');
  });
});
