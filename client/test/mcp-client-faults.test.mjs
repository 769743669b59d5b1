// McpClient through the fault-injecting proxy: connections (initialize, POST streams, the GET
// stream, resumes) are killed at random points, and every call still resolves exactly once
// with its own result and all of its progress, in order.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../../spec/integration/lib/harness.mjs';
import { startFaultProxy } from './fault-proxy.mjs';
import { McpClient } from '../mcp-client.js';
import { HELLO, text } from './mcp-client-lib.mjs';

describe('McpClient under connection faults', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [HELLO], env: { SSE_RETRY_MS: '20' } }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('20 countdown calls across killed connections: each result once, progress complete', async (t) => {
    const proxy = await startFaultProxy({ target: { port: srv.port }, seed: 7, faultProbability: 0.5,
      stallProbability: 0, killAfterBytes: [200, 2000], killAfterMs: [50, 600], maxFaults: 25,
      splitProbability: 0.2, splitBytes: 300 });
    const client = new McpClient(proxy.url('/mcp'), { initialRetryMs: 20, maxRetryMs: 100, requestTimeoutMs: 8000 });
    const counts = { resume: 0, sessionexpired: 0 };
    client.addEventListener('resume', () => counts.resume++);
    client.addEventListener('sessionexpired', () => counts.sessionexpired++);
    try {
      const settled = new Map();
      const calls = [];
      for (let i = 0; i < 20; i++) {
        const n = 3 + (i % 4);
        const progress = [];
        calls.push(client.callTool('countdown', { n }, { onProgress: (p) => progress.push(p.progress) })
          .then((r) => {
            settled.set(i, (settled.get(i) || 0) + 1);
            return { i, n, result: text(r), progress };
          }));
      }
      const results = await Promise.all(calls);
      for (const { i, n, result, progress } of results) {
        assert.equal(result, 'liftoff', `call ${i}`);
        assert.equal(settled.get(i), 1);
        // A call the server never saw complete (killed before any head) is sent again and
        // reports from 1 again; the last n reports are always the complete run, in order.
        assert.deepEqual(progress.slice(-n), Array.from({ length: n }, (_, k) => k + 1), `call ${i}: ${progress}`);
      }
      t.diagnostic(JSON.stringify({ stats: proxy.stats, counts }));
      assert.ok(proxy.stats.kills >= 5, `faults injected: ${JSON.stringify(proxy.stats)}`);
      assert.ok(counts.resume >= 1, 'at least one POST stream was resumed');
      assert.equal(counts.sessionexpired, 0, 'the session survived every cut');
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});
