// The official TypeScript SDK clients against the real server: 1.x over
// Streamable HTTP and over the legacy SSE transport — list tools, call
// tools, receive progress, read resources, get prompts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { startServer, ROOT } from './lib/harness.mjs';
import path from 'node:path';

const HELLO = path.join(ROOT, 'examples/hello');

async function exercise(client) {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  assert.ok(names.includes('add') && names.includes('countdown'));
  for (const t of tools) assert.ok(t.description, `${t.name} has a description`);

  const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
  assert.deepEqual(sum.content, [{ type: 'text', text: '42' }]);

  const bad = await client.callTool({ name: 'add', arguments: { a: 'x' } });
  assert.equal(bad.isError, true);

  const progress = [];
  const res = await client.callTool({ name: 'countdown', arguments: { n: 3 } }, undefined, {
    onprogress: (p) => progress.push(p),
  });
  assert.deepEqual(res.content, [{ type: 'text', text: 'liftoff' }]);
  assert.deepEqual(progress.map((p) => p.progress), [1, 2, 3]);
  assert.equal(progress[0].total, 3);

  const read = await client.readResource({ uri: 'moonwire://hello/readme' });
  assert.equal(read.contents[0].mimeType, 'text/plain');
  const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ann' } });
  assert.equal(prompt.messages[0].content.text, 'Say hello to Ann.');
  assert.deepEqual(await client.ping(), {});
}

describe('@modelcontextprotocol/sdk 1.x', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [HELLO] }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('works over Streamable HTTP', async () => {
    const client = new Client({ name: 'sdk-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(srv.url('/mcp')));
    await client.connect(transport);
    assert.ok(transport.sessionId);
    assert.equal(client.getServerVersion().name, 'moonwire');
    await exercise(client);
    await transport.terminateSession();
    await client.close();
  });

  it('works over the legacy HTTP+SSE transport', async () => {
    const client = new Client({ name: 'sdk-test-legacy', version: '1.0.0' });
    const transport = new SSEClientTransport(new URL(srv.url('/sse')));
    await client.connect(transport);
    await exercise(client);
    await client.close();
  });
});
