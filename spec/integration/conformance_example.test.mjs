// Smoke test of examples/conformance, the fixture server the official MCP
// conformance suite expects: over the 2025-11-25 session flow it must list
// every fixture tool, resource, template and prompt, in the order the suite needs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, ROOT } from './lib/harness.mjs';

const TOOLS = [
  'test_simple_text', 'test_image_content', 'test_audio_content', 'test_embedded_resource',
  'test_multiple_content_types', 'test_tool_with_logging', 'test_error_handling', 'test_tool_with_progress',
  'json_schema_2020_12_tool', 'test_reconnection', 'test_custom_header',
  'test_missing_capability', 'test_streaming_elicitation', 'test_logging_tool',
  'test_trigger_tool_change', 'test_trigger_prompt_change',
  'test_sampling', 'test_elicitation', 'test_elicitation_sep1034_defaults', 'test_elicitation_sep1330_enums',
  'test_input_required_result_elicitation', 'test_input_required_result_sampling',
  'test_input_required_result_list_roots', 'test_input_required_result_request_state',
  'test_input_required_result_multiple_inputs', 'test_input_required_result_multi_round',
  'test_input_required_result_tampered_state', 'test_input_required_result_capabilities',
];
const RESOURCES = ['test://static-text', 'test://static-binary', 'test://watched-resource'];
const PROMPTS = [
  'test_simple_prompt', 'test_prompt_with_arguments', 'test_prompt_with_embedded_resource',
  'test_prompt_with_image', 'test_input_required_result_prompt',
];

// The schema the json-schema-2020-12 scenario expects to get back untouched.
const SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object',
  $defs: { address: { $anchor: 'addressDef', type: 'object',
    properties: { street: { type: 'string' }, city: { type: 'string' } } } },
  properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' },
    contactMethod: { type: 'string', enum: ['phone', 'email'] }, phone: { type: 'string' }, email: { type: 'string' } },
  allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
  if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
  then: { required: ['phone'] }, else: { required: ['email'] }, additionalProperties: false,
};

describe('examples/conformance', () => {
  let srv;
  let sid;
  let nextId = 1;

  // One JSON-RPC request on the session; the answer may be JSON or SSE.
  async function rpc(method, params = {}) {
    const id = nextId++;
    const res = await fetch(srv.url('/mcp'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
    });
    assert.equal(res.status, 200, `${method}: HTTP ${res.status}`);
    const text = await res.text();
    const msgs = /text\/event-stream/.test(res.headers.get('content-type'))
      ? text.split(/\r?\n/).filter((l) => l.startsWith('data:') && l.slice(5).trim()).map((l) => JSON.parse(l.slice(5)))
      : [JSON.parse(text)];
    const msg = msgs.find((m) => m.id === id);
    assert.ok(msg, `${method}: no response`);
    assert.equal(msg.error, undefined, `${method}: ${JSON.stringify(msg.error)}`);
    return msg.result;
  }

  before(async () => {
    srv = await startServer({ scripts: [path.join(ROOT, 'examples/conformance')] });
    const init = await fetch(srv.url('/mcp'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: {
        protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'smoke', version: '1.0.0' } } }),
    });
    assert.equal(init.status, 200);
    sid = init.headers.get('mcp-session-id');
    assert.ok(sid, 'initialize issued no Mcp-Session-Id');
    assert.equal((await init.json()).result.protocolVersion, '2025-11-25');
    const ack = await fetch(srv.url('/mcp'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    assert.equal(ack.status, 202);
  });

  after(async () => {
    await srv?.stop();
  });

  it('lists every fixture tool in one page, test_simple_text first, each with a description', async () => {
    const { tools, nextCursor } = await rpc('tools/list');
    assert.equal(nextCursor, undefined);
    assert.equal(tools[0].name, 'test_simple_text');
    assert.deepEqual(tools.map((t) => t.name).sort(), [...TOOLS].sort());
    for (const t of tools) {
      assert.ok(t.description, `${t.name} has no description`);
      assert.equal(t.inputSchema.type, 'object', `${t.name} inputSchema`);
    }
  });

  it('passes the JSON Schema 2020-12 and x-mcp-header schemas through untouched', async () => {
    const { tools } = await rpc('tools/list');
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    assert.deepEqual(byName.json_schema_2020_12_tool.inputSchema, SCHEMA_2020_12);
    assert.equal(byName.test_custom_header.inputSchema.properties.region['x-mcp-header'], 'Region');
  });

  it('lists the resources and the template', async () => {
    const { resources } = await rpc('resources/list');
    assert.deepEqual(resources.map((r) => r.uri), RESOURCES);
    const { resourceTemplates } = await rpc('resources/templates/list');
    assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate), ['test://template/{id}/data']);
    const { contents } = await rpc('resources/read', { uri: 'test://template/123/data' });
    assert.deepEqual(JSON.parse(contents[0].text), { id: '123', templateTest: true, data: 'Data for ID: 123' });
  });

  it('lists the prompts, each with a description', async () => {
    const { prompts } = await rpc('prompts/list');
    assert.deepEqual(prompts.map((p) => p.name).sort(), [...PROMPTS].sort());
    for (const p of prompts) assert.ok(p.description, `${p.name} has no description`);
  });

  it('answers the simple fixtures with the reference texts', async () => {
    const text = await rpc('tools/call', { name: 'test_simple_text' });
    assert.deepEqual(text.content, [{ type: 'text', text: 'This is a simple text response for testing.' }]);
    const err = await rpc('tools/call', { name: 'test_error_handling', arguments: {} });
    assert.equal(err.isError, true);
    const done = await rpc('completion/complete', {
      ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'test' } });
    assert.deepEqual(done.completion.values, ['test-value-1', 'test-value-2', 'test-value-3']);
  });
});
