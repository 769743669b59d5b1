// What a script generation's memory cap (LUA_MEMORY_MB), the shared store's (SHARED_MEMORY_MB)
// and odd arguments must never do: take the server down. A copy into Lua that does not fit (a
// request body, a subprocess's output) or a shared value past the cap fails that one request or
// call; everything else keeps being served.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, scriptsDir, tmpdir } from './lib/harness.mjs';

const SCRIPT = `local mw = require "moonwire"
mw.route { path = "/list", handler = function(req)
  local list, truncated = mw.fs.list(req.args.dir, tonumber(req.args.max))
  return { json = { n = #list, truncated = truncated } }
end }
mw.route { method = "POST", path = "/hold", handler = function(req, ctx)
  ctx:sleep(1.5)
  return tostring(#req.body)
end }
mw.route { path = "/flood", timeout_ms = 20000, handler = function(req)
  local r, err = mw.exec { argv = { "head", "-c", "40000000", "/dev/zero" }, max_output = 100000000, timeout_ms = 15000 }
  return { json = { ok = r ~= nil, err = err } }
end }
mw.route { path = "/x", handler = function() return "x" end }
mw.route { method = "PUT", path = "/shared/:key", handler = function(req)
  mw.shared:set(req.params.key, req.body)
  return "stored"
end }
mw.route { method = "DELETE", path = "/shared/:key", handler = function(req)
  return tostring(mw.shared:delete(req.params.key))
end }
mw.route { path = "/shared/:key", handler = function(req)
  local v = mw.shared:get(req.params.key)
  return v == nil and "none" or tostring(#v)
end }
`;

describe('limits: script memory and edge arguments', () => {
  let srv;
  after(async () => { if (srv) assert.equal((await srv.stop()).code, 0); });

  it('starts with an 8 MiB script memory cap and a 1 MiB shared store', async () => {
    srv = await startServer({ scripts: [scriptsDir({ 'limits.lua': SCRIPT })], env: { LUA_MEMORY_MB: '8', SHARED_MEMORY_MB: '1' } });
  });

  it('mw.fs.list of an empty directory, or with max = 0, is an empty list', async () => {
    const empty = tmpdir('mw-empty-');
    assert.deepEqual(await (await fetch(srv.url(`/list?dir=${empty}`))).json(), { n: 0, truncated: false });
    const full = tmpdir('mw-full-');
    fs.writeFileSync(path.join(full, 'a'), 'a');
    assert.deepEqual(await (await fetch(srv.url(`/list?dir=${full}&max=0`))).json(), { n: 0, truncated: true });
  });

  it('request bodies that do not fit are 503 for those requests; the server keeps serving', async () => {
    const body = 'b'.repeat(3 * 1024 * 1024);
    const answers = await Promise.all([1, 2, 3, 4].map(() =>
      fetch(srv.url('/hold'), { method: 'POST', body }).then(async (r) => ({ status: r.status, text: await r.text() }))));
    const held = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 503);
    assert.ok(held.length >= 1, JSON.stringify(answers.map((a) => a.status)));
    assert.ok(refused.length >= 1, JSON.stringify(answers.map((a) => a.status)));
    for (const a of held) assert.equal(a.text, String(body.length));
    for (const a of refused) assert.match(a.text, /script memory full/);
    assert.equal(held.length + refused.length, 4);
    assert.match(srv.stderr, /msg="request refused: its script generation is out of memory"/);
    assert.equal(await (await fetch(srv.url('/x'))).text(), 'x');
  });

  it('a subprocess output that does not fit fails that call with "not enough memory"', async () => {
    const r = await (await fetch(srv.url('/flood'))).json();
    assert.equal(r.ok, false);
    assert.match(r.err, /not enough memory/);
    assert.equal(await (await fetch(srv.url('/x'))).text(), 'x');
  });

  it('a shared value past SHARED_MEMORY_MB fails that request and changes nothing; a delete makes room', async () => {
    const put = async (key, kib) => {
      const r = await fetch(srv.url(`/shared/${key}`), { method: 'PUT', body: 's'.repeat(kib * 1024) });
      return `${r.status} ${await r.text()}`;
    };
    const get = async (key) => (await fetch(srv.url(`/shared/${key}`))).text();
    for (const key of ['a', 'b', 'c']) assert.equal(await put(key, 300), '200 stored');
    assert.match(await put('d', 300), /^500 .*internal error/);
    assert.match(srv.stderr, /mw\.shared: the store is full \(SHARED_MEMORY_MB=1\)/);
    assert.equal(await get('d'), 'none');
    assert.equal(await put('a', 300), '200 stored', 'a value replaced by one as large fits');
    assert.match(await put('a', 500), /^500 .*internal error/);
    assert.equal(await get('a'), String(300 * 1024), 'the failed set left the old value');
    const metrics = await (await fetch(srv.url('/metrics'))).text();
    const bytes = Number(/^moonwire_shared_bytes (\d+)$/m.exec(metrics)[1]);
    assert.ok(bytes > 900 * 1024 && bytes <= 1024 * 1024, `shared bytes ${bytes}`);
    assert.equal(await (await fetch(srv.url('/shared/b'), { method: 'DELETE' })).text(), 'true');
    assert.equal(await put('d', 300), '200 stored');
    assert.equal(await (await fetch(srv.url('/x'))).text(), 'x');
  });
});
