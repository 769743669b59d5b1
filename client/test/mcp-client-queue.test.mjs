// McpClient's outgoing queue: calls made while the server is down wait, bounded by maxQueue,
// and reach the restarted server (on the same port) in order, each once, in both revisions.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../../spec/integration/lib/harness.mjs';
import { McpClient, McpError } from '../mcp-client.js';
import { HELLO, toolsDir, text, waitUntil } from './mcp-client-lib.mjs';

const fast = { initialRetryMs: 20, maxRetryMs: 200, requestTimeoutMs: 8000, jitter: false };

for (const protocolVersion of ['2025-11-25', '2026-07-28']) {
  describe(`McpClient queue, ${protocolVersion}`, () => {
    it('holds calls while the server is down and sends them in order, once, when it is back', async () => {
      const dir = toolsDir();
      let srv = await startServer({ scripts: [HELLO, dir] });
      const port = srv.port;
      const client = new McpClient(srv.url('/mcp'), { ...fast, protocolVersion, maxQueue: 5 });
      const states = [];
      const reinit = [];
      client.addEventListener('statechange', (e) => states.push(e.state));
      client.addEventListener('reinitialized', (e) => reinit.push(e));
      try {
        await client.connect();
        assert.equal(text(await client.callTool('record', { n: 0 })), '0');
        assert.equal((await srv.stop()).code, 0);

        const calls = [1, 2, 3, 4, 5].map((n) => client.callTool('record', { n }));
        await waitUntil(() => client.state === 'disconnected' || client.state === 'reconnecting', 3000, 'disconnected');
        await waitUntil(() => client.queued === 5, 3000, 'five queued');
        // Bounded: a sixth waiting call is refused at once.
        await assert.rejects(client.callTool('record', { n: 6 }), (e) => e instanceof McpError && e.reason === 'queue-full');

        srv = await startServer({ scripts: [HELLO, dir], args: ['--port', String(port)] });
        assert.equal(srv.port, port);
        const results = (await Promise.all(calls)).map(text);
        // A fresh process: it saw exactly these calls, in the order they were made.
        assert.deepEqual(results, ['1', '1,2', '1,2,3', '1,2,3,4', '1,2,3,4,5']);
        assert.equal(text(await client.callTool('record', { n: 7 })), '1,2,3,4,5,7');
        assert.equal(client.state, 'ready');
        assert.ok(states.includes('disconnected'));
        if (protocolVersion === '2025-11-25') {
          assert.equal(reinit.length, 1, 'the restarted server forgot the session: one re-initialize');
        } else {
          assert.equal(reinit.length, 0);
        }
      } finally {
        await client.close();
        assert.equal((await srv.stop()).code, 0);
      }
    });
  });
}

describe('McpClient queue, connecting', () => {
  it('a client started before its server waits for it; close() rejects what still waits', async () => {
    const srv = await startServer({ scripts: [HELLO] });
    const port = srv.port;
    await srv.stop();
    const client = new McpClient(`http://127.0.0.1:${port}/mcp`, fast);
    const errors = [];
    client.addEventListener('error', (e) => errors.push(e.error));
    const call = client.callTool('add', { a: 1, b: 2 });
    await waitUntil(() => errors.length >= 2, 3000, 'retries');
    assert.equal(client.state, 'connecting');
    const late = await startServer({ scripts: [HELLO], args: ['--port', String(port)] });
    try {
      assert.equal(text(await call), '3');
      await late.stop();
      const waiting = client.callTool('add', { a: 2, b: 2 });
      await waitUntil(() => client.queued === 1 && client.state !== 'ready', 3000, 'queued');
      const rejected = assert.rejects(waiting, (e) => e instanceof McpError && e.reason === 'closed');
      await client.close();
      await rejected;
    } finally {
      await client.close();
      await late.stop();
    }
  });
});
