// Smoke test of the benchmark's load generator (mw-loadgen, built next to
// the server binary) against the real server with bench/scripts: each mode
// opens its streams, receives the publisher's events in order with nothing
// lost, sees 1 s heartbeats, and a reconnect storm resumes every stream with
// Last-Event-ID without losing what was published while it was away.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, BIN, ROOT } from './lib/harness.mjs';

const LOADGEN = path.join(path.dirname(BIN), 'mw-loadgen');

function loadgen(args) {
  return new Promise((resolve) => {
    execFile(LOADGEN, args, { timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function run(srv, args) {
  const r = await loadgen(['--port', String(srv.port), ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /AddressSanitizer|runtime error:/);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'exactly one summary line');
  return JSON.parse(lines[0]);
}

function assertHealthy(s, n) {
  assert.equal(s.attempted, n);
  assert.equal(s.established, n, JSON.stringify(s.failures));
  assert.equal(s.failed, 0, JSON.stringify(s.failures));
  assert.equal(s.open_at_end, n);
  assert.equal(s.timed_out, false);
}

describe('mw-loadgen', () => {
  let srv;
  before(async () => {
    assert.ok(fs.existsSync(LOADGEN), `${LOADGEN} is not built (make test-build)`);
    srv = await startServer({ scripts: [path.join(ROOT, 'bench/scripts')], env: { SSE_HEARTBEAT_INTERVAL: '1' } });
  });
  after(async () => { await srv.stop(); });

  it('sse: every subscriber gets every published event, in order, timed', async () => {
    const s = await run(srv, ['--mode', 'sse', '-n', '20', '--path', '/sub/lg1', '--hold', '2',
      '--publish', '/pub/lg1', '--publish-rate', '20', '--mark', '"seq":10}']);
    assertHealthy(s, 20);
    assert.ok(s.publish.ok >= 30 && s.publish.failed === 0, JSON.stringify(s.publish));
    assert.equal(s.lost, 0);
    assert.equal(s.dups, 0);
    assert.equal(s.no_events, 0);
    // The publisher starts once all streams are up: each gets every event.
    assert.equal(s.deliveries, 20 * s.publish.ok);
    assert.equal(s.latency_ms.count, s.deliveries);
    assert.ok(s.latency_ms.p50 > 0 && s.latency_ms.p50 < 500, JSON.stringify(s.latency_ms));
    assert.equal(s.mark.count, 20);
    assert.ok(s.mark.min_us >= s.start_us && s.mark.max_us >= s.mark.min_us);
  });

  it('mcp: sessions set up (initialize, initialized, GET) and hold with 1 s heartbeats', async () => {
    const s = await run(srv, ['--mode', 'mcp', '-n', '20', '--hold', '2.6']);
    assertHealthy(s, 20);
    assert.equal(s.setup_ms.count, 20);
    assert.ok(s.sessions_per_s > 0);
    assert.ok(s.heartbeats >= 40, `${s.heartbeats} heartbeats`);
    assert.ok(s.heartbeat_gap_ms.count >= 20);
    assert.ok(Math.abs(s.heartbeat_gap_ms.p50 - 1000) <= 150, JSON.stringify(s.heartbeat_gap_ms));
    assert.equal(s.publish, null);
  });

  it('legacy: /sse sessions receive broadcasts with nothing lost (two processes merged)', async () => {
    const s = await run(srv, ['--mode', 'legacy', '-n', '20', '--procs', '2', '--hold', '2',
      '--publish', '/pub-sessions', '--publish-rate', '20']);
    assertHealthy(s, 20);
    assert.equal(s.procs, 2);
    assert.ok(s.publish.ok >= 30, JSON.stringify(s.publish));
    assert.equal(s.deliveries, 20 * s.publish.ok);
    assert.equal(s.lost, 0);
    assert.equal(s.dups, 0);
  });

  // --rate 40 makes the last of 20 streams come back ~0.5 s after the cut, so
  // each misses events a resume without Last-Event-ID would lose.
  for (const [mode, sub, pub] of [['sse', '/sub/lg2', '/pub/lg2'], ['mcp', '/mcp', '/pub-sessions']]) {
    it(`${mode}: a reconnect storm resumes every stream with nothing lost or repeated`, async () => {
      const s = await run(srv, ['--mode', mode, '-n', '20', '--path', sub, '--rate', '40', '--cut-at', '1',
        '--hold', '1', '--publish', pub, '--publish-rate', '20']);
      assertHealthy(s, 20);
      assert.equal(s.storm.cut, 20);
      assert.equal(s.storm.resumed, 20);
      assert.equal(s.storm.resume_failed, 0);
      assert.equal(s.storm.caught_up, 20);
      assert.ok(s.storm.catchup_ms.max > 100, JSON.stringify(s.storm.catchup_ms));
      assert.equal(s.storm.lost, 0);
      assert.equal(s.storm.dups, 0);
      assert.equal(s.lost, 0);
      assert.equal(s.dups, 0);
      assert.equal(s.deliveries, 20 * s.publish.ok);
    });
  }

  it('refuses bad usage and non-loopback hosts', async () => {
    for (const args of [[], ['--port', '1', '--mode', 'nope'], ['--port', '1', '--host', '192.0.2.1'],
      ['--port', '1', '-n', '0']]) {
      const r = await loadgen(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /mw-loadgen: /);
    }
  });
});
