// Plugins named by a --config file, end to end: an on_request hook that
// rejects requests without the configured key, an outgoing filter masking a
// secret in a tool result as it goes on the wire, a plugin tool in
// tools/list, and a config error that stops startup with a clear message.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, tmpdir, scriptsDir, openStream, closeStream, waitFor } from './lib/harness.mjs';

const GUARD = `local mw = require "moonwire"
return {
  name = "guard", version = "0.1.0", priority = 100,
  config_schema = {
    type = "object", required = { "key" },
    properties = { key = { type = "string" }, mask = { type = "string", default = "***" } },
  },
  on_request = function(req, ctx)
    if req.headers["x-api-key"] ~= ctx.config.key then
      return { status = 401, json = { error = "missing or wrong X-Api-Key" } }
    end
  end,
  init = function(p, config)
    p:tool { name = "get_secret", description = "Returns a secret (masked on the way out)",
             handler = function() return "the secret is hunter2" end }
    p:filter { direction = "out", methods = { "tools/call" }, handler = function(msg, ctx)
      for _, c in ipairs(msg.result and msg.result.content or {}) do
        if c.text then c.text = c.text:gsub("hunter2", ctx.config.mask) end
      end
      return msg
    end }
  end,
}
`;

function setup(pluginsText) {
  const dir = tmpdir('mw-plugins-');
  fs.mkdirSync(path.join(dir, 'myplugins'));
  fs.writeFileSync(path.join(dir, 'myplugins', 'guard.lua'), GUARD);
  const conf = path.join(dir, 'moonwire.conf.lua');
  fs.writeFileSync(conf, `plugins = ${pluginsText}\n`);
  return conf;
}

const ACCEPT = 'application/json, text/event-stream';

async function rpc(srv, body, { sid, key } = {}) {
  const headers = { 'Content-Type': 'application/json', Accept: ACCEPT, 'MCP-Protocol-Version': '2025-11-25' };
  if (sid) headers['Mcp-Session-Id'] = sid;
  if (key) headers['X-Api-Key'] = key;
  const res = await fetch(srv.url('/mcp'), { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  return { res, text, json: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null };
}

describe('plugins from --config', () => {
  let srv;
  before(async () => {
    const conf = setup('{ _paths = { "myplugins" }, guard = { key = "k1" } }');
    srv = await startServer({ args: ['--config', conf] });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('rejects a request without the header with 401, before routing (including /mcp)', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
    const r = await rpc(srv, init);
    assert.equal(r.res.status, 401);
    assert.deepEqual(r.json, { error: 'missing or wrong X-Api-Key' });
    const other = await fetch(srv.url('/anything'));
    assert.equal(other.status, 401);
    await other.text();
    // Core endpoints are answered in C and bypass plugins.
    const health = await fetch(srv.url('/healthz'));
    assert.equal(health.status, 200);
    await health.text();
  });

  it('lists the plugin tool and masks the secret on the wire', async () => {
    const init = await rpc(srv, { jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }, { key: 'k1' });
    assert.equal(init.res.status, 200);
    const sid = init.res.headers.get('mcp-session-id');
    assert.ok(sid);
    const n = await rpc(srv, { jsonrpc: '2.0', method: 'notifications/initialized' }, { sid, key: 'k1' });
    assert.equal(n.res.status, 202);

    const list = await rpc(srv, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { sid, key: 'k1' });
    assert.equal(list.res.status, 200);
    assert.ok(list.json.result.tools.some((t) => t.name === 'get_secret'), list.text);

    const call = await rpc(srv, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'get_secret', arguments: {} } },
      { sid, key: 'k1' });
    assert.equal(call.res.status, 200);
    assert.ok(!call.text.includes('hunter2'), call.text);
    assert.equal(call.json.result.content[0].text, 'the secret is ***');
  });
});

describe('plugin config errors', () => {
  it('stop startup with a message naming plugin, key and expected type', async () => {
    const conf = setup('{ _paths = { "myplugins" }, guard = { key = 42 } }');
    const srv = await startServer({ args: ['--config', conf], expectFail: true });
    const { code } = await srv.exited;
    assert.notEqual(code, 0);
    assert.match(srv.stderr, /plugin 'guard': config key 'key': expected string, got number/);
  });
});

describe('plugin hot reload', () => {
  it('a tool added to a plugin file reaches connected sessions as tools/list_changed', async () => {
    const pdir = tmpdir('mw-plugins-');
    const src = (extra) => `return { name = "grow", version = "1", priority = 1,
  init = function(p, config)
    p:tool { name = "one", description = "First", handler = function() return "1" end }
    ${extra}
  end }`;
    fs.writeFileSync(path.join(pdir, 'grow.lua'), src(''));
    const confDir = tmpdir('mw-conf-');
    const conf = path.join(confDir, 'moonwire.conf.lua');
    fs.writeFileSync(conf, `plugins = { _paths = { ${JSON.stringify(pdir)} }, grow = true }\n`);
    const srv = await startServer({ scripts: [scriptsDir({ 'empty.lua': '-- nothing\n' })], args: ['--config', conf] });
    const H = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    const init = await fetch(srv.url('/mcp'), { method: 'POST', headers: H, body: JSON.stringify({ jsonrpc: '2.0', id: 1,
      method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
    await init.text();
    const sid = init.headers.get('mcp-session-id');
    const st = await openStream(srv.port, '/mcp', { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' });
    fs.writeFileSync(path.join(pdir, 'grow.lua'), src('p:tool { name = "two", description = "Second", handler = function() return "2" end }'));
    await waitFor(st, () => st.events.some((e) => e.data && JSON.parse(e.data).method === 'notifications/tools/list_changed'), 3000);
    const list = await fetch(srv.url('/mcp'), { method: 'POST', headers: { ...H, 'Mcp-Session-Id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    const names = (await list.json()).result.tools.map((t) => t.name);
    assert.deepEqual(names.sort(), ['one', 'two']);
    closeStream(st);
    assert.equal((await srv.stop()).code, 0);
  });
});

describe('config file at reload', () => {
  it('SIGHUP checks the whole file: a typo fails the reload, a changed setting is named', async () => {
    const dir = tmpdir('mw-conf-');
    const conf = path.join(dir, 'moonwire.conf.lua');
    fs.writeFileSync(conf, 'sse_retry_ms = 1000\n');
    const srv = await startServer({ scripts: [scriptsDir({ 'a.lua': 'require("moonwire").route { path = "/v", handler = function() return "v" end }\n' })],
                                    args: ['--config', conf] });
    const health = async () => (await fetch(srv.url('/healthz'))).json();
    const until = async (ok) => {
      const t0 = Date.now();
      let h;
      do { await new Promise((r) => setTimeout(r, 20)); h = await health(); } while (!ok(h) && Date.now() - t0 < 5000);
      return h;
    };
    // A restart would refuse this file: so does the reload, and generation 1 keeps serving.
    fs.writeFileSync(conf, 'sse_retry_ms = 1000\nprot = 3420\n');
    srv.child.kill('SIGHUP');
    let h = await until((x) => x.last_reload_error);
    assert.equal(h.generation, 1);
    assert.match(h.last_reload_error, /moonwire\.conf\.lua: unknown setting 'prot'/);
    assert.equal(await (await fetch(srv.url('/v'))).text(), 'v');
    // A valid change reloads; what only a restart applies is logged by name.
    fs.writeFileSync(conf, 'sse_retry_ms = 250\n');
    srv.child.kill('SIGHUP');
    h = await until((x) => x.generation > 1);
    assert.ok(h.generation > 1);
    assert.equal(h.last_reload_error, null);
    assert.match(srv.stderr, /level=warn msg="config file changes need a restart; the running values stay" settings=sse_retry_ms/);
    assert.equal((await srv.stop()).code, 0);
  });
});

describe('runaway plugin code', () => {
  it('an incoming filter that never returns fails that message only', async () => {
    const pdir = tmpdir('mw-plugins-');
    fs.writeFileSync(path.join(pdir, 'spin.lua'), `return { name = "spin", version = "1", priority = 1,
  init = function(p) p:filter { direction = "in", methods = { "tools/list" }, handler = function() while true do end end } end }`);
    const conf = path.join(tmpdir('mw-conf-'), 'moonwire.conf.lua');
    fs.writeFileSync(conf, `plugins = { _paths = { ${JSON.stringify(pdir)} }, spin = true }\n`);
    const srv = await startServer({ scripts: [scriptsDir({ 'empty.lua': '-- nothing\n' })], args: ['--config', conf] });
    const H = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    const init = await fetch(srv.url('/mcp'), { method: 'POST', headers: H, body: JSON.stringify({ jsonrpc: '2.0', id: 1,
      method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
    await init.text();
    const sid = init.headers.get('mcp-session-id');
    const t0 = Date.now();
    const res = await fetch(srv.url('/mcp'), { method: 'POST', headers: { ...H, 'Mcp-Session-Id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    const body = await res.json();
    assert.equal(body.error.code, -32603);
    assert.ok(Date.now() - t0 < 5000, 'stopped by the filter budget');
    const ping = await fetch(srv.url('/mcp'), { method: 'POST', headers: { ...H, 'Mcp-Session-Id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' }) });
    assert.deepEqual((await ping.json()).result, {});
    assert.equal((await srv.stop()).code, 0);
  });
});
