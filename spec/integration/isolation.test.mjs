// No script can take the server down: a runaway loop, a handler sleeping past
// its budget, an allocation bomb and a script that loops at load time each
// fail only themselves while other clients keep being served.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, scriptsDir, sleep } from './lib/harness.mjs';

const APP = `local mw = require "moonwire"
mw.route { method = "GET", path = "/spin", timeout_ms = 300, handler = function() while true do end end }
mw.route { method = "GET", path = "/spin-pcall", timeout_ms = 300, handler = function()
  while true do pcall(function() while true do end end) end
end }
mw.route { method = "GET", path = "/spin-coroutine", timeout_ms = 300, handler = function()
  local f = coroutine.wrap(function() while true do end end)
  f()
end }
mw.route { method = "GET", path = "/spin-create", timeout_ms = 300, handler = function()
  while true do coroutine.resume(coroutine.create(function() while true do end end)) end
end }
mw.route { method = "GET", path = "/crunch", timeout_ms = 10000, handler = function()
  local t = os.clock()
  while os.clock() - t < 0.6 do end
  return "done"
end }
mw.route { method = "GET", path = "/spin-sort", timeout_ms = 300, handler = function()
  table.sort({ 3, 2, 1, 5, 4 }, function(a, b) while true do end end)
end }
mw.route { method = "GET", path = "/ok", handler = function() return "ok" end }
mw.tool { name = "spin", description = "Loops forever", timeout_ms = 300,
  handler = function() local n = 0 while true do n = n + 1 end end }
mw.tool { name = "nap", description = "Sleeps past its budget", timeout_ms = 200,
  handler = function(args, ctx) ctx:sleep(5) return "woke" end }
mw.tool { name = "bomb", description = "Allocates without bound",
  handler = function() local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 1024 * 1024) .. i end end }
mw.tool { name = "echo", description = "Echoes", input_schema = { type = "object", properties = { s = { type = "string" } } },
  handler = function(args) return args.s end }
`;

const H = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

async function mcp(srv, sid, id, method, params) {
  const res = await fetch(srv.url('/mcp'), { method: 'POST', headers: { ...H, ...(sid ? { 'Mcp-Session-Id': sid } : {}) },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }) });
  return { res, json: await res.json() };
}

async function session(srv) {
  const { res } = await mcp(srv, null, 0, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'iso', version: '1' } });
  return res.headers.get('mcp-session-id');
}

const call = (srv, sid, id, name, args = {}) => mcp(srv, sid, id, 'tools/call', { name, arguments: args });

describe('handler isolation', () => {
  let srv, dir;
  before(async () => {
    dir = scriptsDir({ 'app.lua': APP });
    srv = await startServer({ scripts: [dir], env: { LUA_MEMORY_MB: '64', LOG_LEVEL: 'info' } });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it('ends a runaway route with 500 while another client is served meanwhile', async () => {
    const t0 = Date.now();
    const spin = fetch(srv.url('/spin')).then(async (r) => ({ status: r.status, body: await r.json(), ms: Date.now() - t0 }));
    await sleep(50);
    const t1 = Date.now();
    const ok = await fetch(srv.url('/ok'));
    assert.equal(await ok.text(), 'ok');
    assert.ok(Date.now() - t1 < 250, 'the other request did not wait for the loop');
    const r = await spin;
    assert.equal(r.status, 500);
    assert.match(r.body.error.message, /time budget/);
    assert.ok(r.ms < 2000, `stopped in ${r.ms} ms`);
  });

  it('cannot be dodged with pcall, a coroutine of its own, or a C callback', async () => {
    for (const p of ['/spin-pcall', '/spin-coroutine', '/spin-create', '/spin-sort']) {
      const t0 = Date.now();
      const r = await fetch(srv.url(p));
      assert.equal(r.status, 500, p);
      assert.match((await r.json()).error.message, /time budget/, p);
      assert.ok(Date.now() - t0 < 2000, `${p} stopped in time`);
    }
  });

  it('preempts a handler computing within its budget: others are served before it ends', async () => {
    let crunched = false;
    const crunch = fetch(srv.url('/crunch')).then(async (r) => {
      crunched = true;
      return { status: r.status, body: await r.text() };
    });
    await sleep(50);
    assert.equal(await (await fetch(srv.url('/ok'))).text(), 'ok');
    assert.equal(crunched, false, 'the other request waited for the computation');
    assert.deepEqual(await crunch, { status: 200, body: 'done' });
  });

  it('ends a runaway tool with isError within its budget; a concurrent call succeeds', async () => {
    const sid = await session(srv);
    const other = await session(srv);
    const t0 = Date.now();
    const spin = call(srv, sid, 1, 'spin');
    await sleep(30);
    const echo = await call(srv, other, 2, 'echo', { s: 'still here' });
    assert.deepEqual(echo.json.result.content, [{ type: 'text', text: 'still here' }]);
    const { json } = await spin;
    assert.equal(json.result.isError, true);
    assert.match(json.result.content[0].text, /time budget of 300 ms/);
    assert.ok(Date.now() - t0 < 2000);
  });

  it('ends a tool sleeping past its budget', async () => {
    const sid = await session(srv);
    const t0 = Date.now();
    const { json } = await call(srv, sid, 3, 'nap');
    assert.equal(json.result.isError, true);
    assert.ok(Date.now() - t0 < 1500, 'did not wait for the 5 s sleep');
  });

  it('fails an allocation bomb, then serves normally', async () => {
    const sid = await session(srv);
    const { json } = await call(srv, sid, 4, 'bomb');
    assert.equal(json.result.isError, true);
    assert.match(json.result.content[0].text, /not enough memory/);
    const echo = await call(srv, sid, 5, 'echo', { s: 'after' });
    assert.equal(echo.json.result.content[0].text, 'after');
    const metrics = await (await fetch(srv.url('/metrics'))).text();
    const mem = Number(/^moonwire_lua_memory_bytes (\d+)$/m.exec(metrics)[1]);
    assert.ok(mem < 64 * 1024 * 1024, `memory ${mem} within the cap`);
  });

  it('rejects a script that loops at load time and keeps the previous one', async () => {
    const gen = (await (await fetch(srv.url('/healthz'))).json()).generation;
    fs.writeFileSync(path.join(dir, 'app.lua'), APP + '\nwhile true do end\n');
    let h;
    const t0 = Date.now();
    do { await sleep(100); h = await (await fetch(srv.url('/healthz'))).json(); }
    while (!h.last_reload_error && Date.now() - t0 < 45000);
    assert.match(h.last_reload_error, /time budget/);
    assert.equal(h.generation, gen);
    assert.equal(await (await fetch(srv.url('/ok'))).text(), 'ok');
    fs.writeFileSync(path.join(dir, 'app.lua'), APP);
  });
});
