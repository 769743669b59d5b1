// examples/files over MCP against a temporary directory: listing, reading
// text and binary files through the template, refusing paths that leave the
// root, and the change notifications a subscribed client gets on its GET
// stream when files change, appear or go. Also mw.watch's own contract.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, ROOT, tmpdir, scriptsDir, openStream, waitFor, closeStream, sleep } from './lib/harness.mjs';

const H = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de', 'hex');

async function rpc(srv, sid, id, method, params) {
  const res = await fetch(srv.url('/mcp'), { method: 'POST', headers: { ...H, 'Mcp-Session-Id': sid },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }) });
  assert.equal(res.status, 200);
  return res.json();
}

async function session(srv) {
  const res = await fetch(srv.url('/mcp'), { method: 'POST', headers: H, body: JSON.stringify({ jsonrpc: '2.0', id: 1,
    method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'files', version: '1' } } }) });
  await res.text();
  return res.headers.get('mcp-session-id');
}

// Notifications that arrived on a GET stream.
const notes = (st) => st.events.filter((e) => e.data).map((e) => JSON.parse(e.data)).filter((m) => m.method);
const updated = (st, uri) => notes(st).filter((m) => m.method === 'notifications/resources/updated' && m.params.uri === uri);
const listChanged = (st) => notes(st).filter((m) => m.method === 'notifications/resources/list_changed');

describe('examples/files', () => {
  let srv, sid, root, outside;
  let nextId = 10;
  const call = (method, params) => rpc(srv, sid, nextId++, method, params);

  before(async () => {
    root = tmpdir('mw-files-root-');
    outside = tmpdir('mw-files-outside-');
    fs.writeFileSync(path.join(root, 'hello.txt'), 'hello\n');
    fs.writeFileSync(path.join(root, 'other.txt'), 'other\n');
    fs.mkdirSync(path.join(root, 'sub dir'));
    fs.writeFileSync(path.join(root, 'sub dir', 'dot.png'), PNG);
    fs.writeFileSync(path.join(root, 'sub dir', 'raw'), Buffer.from([0, 1, 2, 255]));
    fs.writeFileSync(path.join(root, '.secret'), 'hidden\n');
    fs.writeFileSync(path.join(outside, 'passwd'), 'not yours\n');
    fs.symlinkSync(path.join(outside, 'passwd'), path.join(root, 'escape.txt'));
    fs.symlinkSync('hello.txt', path.join(root, 'alias.txt'));
    srv = await startServer({ scripts: [path.join(ROOT, 'examples/files/scripts')], env: { FILES_ROOT: root } });
    sid = await session(srv);
  });
  after(async () => { if (srv) assert.equal((await srv.stop()).code, 0); });

  it('lists the files under the root, nested ones included, hidden ones and symlinks not', async () => {
    const r = await call('resources/list', {});
    assert.deepEqual(r.result.resources.map((x) => [x.uri, x.name, x.mimeType ?? null, x.size]), [
      ['file:///hello.txt', 'hello.txt', 'text/plain', 6],
      ['file:///other.txt', 'other.txt', 'text/plain', 6],
      ['file:///sub%20dir/dot.png', 'sub dir/dot.png', 'image/png', PNG.length],
      ['file:///sub%20dir/raw', 'sub dir/raw', null, 4],
    ]);
    const t = await call('resources/templates/list', {});
    assert.deepEqual(t.result.resourceTemplates.map((x) => x.uriTemplate), ['file:///{+path}']);
  });

  it('reads text as text and binary as base64 blobs, by extension or by content', async () => {
    const text = await call('resources/read', { uri: 'file:///hello.txt' });
    assert.deepEqual(text.result.contents, [{ uri: 'file:///hello.txt', mimeType: 'text/plain', text: 'hello\n' }]);
    const png = await call('resources/read', { uri: 'file:///sub%20dir/dot.png' });
    assert.equal(png.result.contents[0].mimeType, 'image/png');
    assert.equal(png.result.contents[0].blob, PNG.toString('base64'));
    const raw = await call('resources/read', { uri: 'file:///sub%20dir/raw' });
    assert.equal(raw.result.contents[0].mimeType, 'application/octet-stream');
    assert.equal(raw.result.contents[0].blob, Buffer.from([0, 1, 2, 255]).toString('base64'));
    // A symlink that stays inside the root is followed.
    const alias = await call('resources/read', { uri: 'file:///alias.txt' });
    assert.equal(alias.result.contents[0].text, 'hello\n');
  });

  it('refuses paths that leave the root, with -32602, and answers missing files with -32002', async () => {
    for (const [uri, why] of [
      ['file:///../etc/passwd', "'..' segment"],
      ['file:///%2e%2e/%2e%2e/etc/passwd', "'..' segment"],
      ['file:///sub%20dir/../../x', "'..' segment"],
      ['file:////etc/passwd', 'absolute path'],
      ['file:///%2Fetc%2Fpasswd', 'absolute path'],
      ['file:///sub%20dir//raw', 'empty path segment'],
      ['file:///.secret', "hidden or '.' segment"],
      ['file:///hello.txt%00.png', 'NUL byte in path'],
      ['file:///escape.txt', 'it leaves the served directory'],
    ]) {
      const r = await call('resources/read', { uri });
      assert.equal(r.error?.code, -32602, `${uri}: ${JSON.stringify(r)}`);
      assert.equal(r.error.message, `Invalid path: ${why}`, uri);
      assert.deepEqual(r.error.data, { uri });
    }
    const missing = await call('resources/read', { uri: 'file:///nope.txt' });
    assert.equal(missing.error.code, -32002);
    assert.equal(missing.error.message, 'No such file: nope.txt');
    const dir = await call('resources/read', { uri: 'file:///sub%20dir' });
    assert.equal(dir.error.code, -32002);
  });

  it('tells a subscriber when its file changes on disk, and nobody about other files', async () => {
    const st = await openStream(srv.port, '/mcp', { 'Mcp-Session-Id': sid });
    try {
      assert.equal(st.status, 200);
      assert.deepEqual((await call('resources/subscribe', { uri: 'file:///hello.txt' })).result, {});
      assert.deepEqual((await call('resources/subscribe', { uri: 'file:///sub%20dir/raw' })).result, {});
      fs.writeFileSync(path.join(root, 'other.txt'), 'changed, but nobody listens\n');
      fs.appendFileSync(path.join(root, 'hello.txt'), 'more\n');
      await waitFor(st, () => updated(st, 'file:///hello.txt').length > 0);
      fs.appendFileSync(path.join(root, 'sub dir', 'raw'), Buffer.from([7]));
      await waitFor(st, () => updated(st, 'file:///sub%20dir/raw').length > 0);
      assert.equal(updated(st, 'file:///other.txt').length, 0);
      assert.equal(listChanged(st).length, 0, 'editing files changes no list');
      const r = await call('resources/read', { uri: 'file:///hello.txt' });
      assert.equal(r.result.contents[0].text, 'hello\nmore\n');
    } finally {
      closeStream(st);
    }
  });

  it('sends list_changed when a file appears or goes, and lists it accordingly', async () => {
    const st = await openStream(srv.port, '/mcp', { 'Mcp-Session-Id': sid });
    try {
      fs.mkdirSync(path.join(root, 'new'));
      fs.writeFileSync(path.join(root, 'new', 'made.md'), '# made\n');
      // The new directory is watched once the root's event rescans the tree,
      // so the file may be found by that rescan or by the new watch: either
      // way one list_changed at least, and the file listed.
      await waitFor(st, () => listChanged(st).length >= 1);
      let uris = (await call('resources/list', {})).result.resources.map((x) => x.uri);
      for (let i = 0; i < 20 && !uris.includes('file:///new/made.md'); i++) {
        await sleep(100);
        uris = (await call('resources/list', {})).result.resources.map((x) => x.uri);
      }
      assert.ok(uris.includes('file:///new/made.md'), uris.join(' '));
      const seen = listChanged(st).length;
      fs.unlinkSync(path.join(root, 'other.txt'));
      await waitFor(st, () => listChanged(st).length > seen);
      uris = (await call('resources/list', {})).result.resources.map((x) => x.uri);
      assert.ok(!uris.includes('file:///other.txt'), uris.join(' '));
    } finally {
      closeStream(st);
    }
  });

  it('after a reload, a change is reported once (the old generation stopped watching)', async () => {
    srv.child.kill('SIGHUP');
    for (let i = 0; i < 50; i++) {
      const h = await (await fetch(srv.url('/healthz'))).json();
      if (h.generation === 2) break;
      await sleep(50);
    }
    assert.equal((await (await fetch(srv.url('/healthz'))).json()).generation, 2);
    const st = await openStream(srv.port, '/mcp', { 'Mcp-Session-Id': sid });
    try {
      fs.appendFileSync(path.join(root, 'hello.txt'), 'after reload\n');
      await waitFor(st, () => updated(st, 'file:///hello.txt').length > 0);
      await sleep(400); // two debounce windows: a second watcher would have spoken by now
      assert.equal(updated(st, 'file:///hello.txt').length, 1);
    } finally {
      closeStream(st);
    }
  });
});

describe('mw.watch', () => {
  let srv, dir;
  before(async () => {
    dir = tmpdir('mw-watch-');
    const scripts = scriptsDir({ 'w.lua': `
local mw = require "moonwire"
local seen = {}
local w = assert(mw.watch(${JSON.stringify(dir)}, function(path, kind)
  seen[#seen + 1] = { path = path, kind = kind }
  mw.shared:incr("watch:" .. path)
end, { debounce_ms = 50 }))
mw.route { path = "/seen", handler = function() return { json = mw.json.array(seen) } end }
mw.route { path = "/count", handler = function(req) return { json = { n = mw.shared:get("watch:" .. req.query) or 0 } } end }
mw.route { path = "/hold", handler = function() mw.sleep(1.5); return "held" end }
mw.route { method = "POST", path = "/stop", handler = function() w:stop(); return { json = { active = w:active() } } end }
mw.route { path = "/errors", handler = function()
  local out = {}
  local function try(name, fn) local ok, err = pcall(fn); out[name] = ok and "ok" or tostring(err) end
  local r, e = mw.watch(${JSON.stringify(path.join(dir, 'missing'))}, function() end)
  out.missing = (r == nil) and e or "watched"
  try("not_a_function", function() mw.watch(${JSON.stringify(dir)}, 42) end)
  try("bad_debounce", function() mw.watch(${JSON.stringify(dir)}, function() end, { debounce_ms = -1 }) end)
  try("unknown_option", function() mw.watch(${JSON.stringify(dir)}, function() end, { recursive = true }) end)
  try("empty_dir", function() mw.watch("", function() end) end)
  local f, fe = mw.watch(${JSON.stringify(path.join(dir, 'file'))}, function() end)
  out.file = (f == nil) and fe or "watched"
  return { json = out }
end }
` });
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    srv = await startServer({ scripts: [scripts] });
  });
  after(async () => { if (srv) assert.equal((await srv.stop()).code, 0); });

  const seen = async () => (await fetch(srv.url('/seen'))).json();
  async function until(pred) {
    for (let i = 0; i < 50; i++) {
      const s = await seen();
      if (pred(s)) return s;
      await sleep(50);
    }
    return seen();
  }

  it('reports created, changed and removed entries, coalesced per window', async () => {
    const f = path.join(dir, 'a.txt');
    fs.writeFileSync(f, '1');
    fs.appendFileSync(f, '2');
    fs.appendFileSync(f, '3');
    let s = await until((x) => x.length >= 1);
    assert.deepEqual(s, [{ path: f, kind: 'created' }]);
    await sleep(150);
    fs.appendFileSync(f, '4');
    s = await until((x) => x.length >= 2);
    assert.deepEqual(s[1], { path: f, kind: 'changed' });
    await sleep(150);
    fs.unlinkSync(f);
    s = await until((x) => x.length >= 3);
    assert.deepEqual(s[2], { path: f, kind: 'removed' });
    assert.equal(s.length, 3);
  });

  it('rejects bad input clearly', async () => {
    const e = await (await fetch(srv.url('/errors'))).json();
    assert.match(e.missing, /missing: no such file or directory/);
    assert.match(e.file, /file: not a directory/);
    assert.match(e.not_a_function, /mw.watch: expects a function/);
    assert.match(e.bad_debounce, /debounce_ms must be an integer in 0..60000/);
    assert.match(e.unknown_option, /unknown option 'recursive'/);
    assert.match(e.empty_dir, /path must be a non-empty string/);
  });

  it('stops when told to', async () => {
    assert.deepEqual(await (await fetch(srv.url('/stop'), { method: 'POST' })).json(), { active: false });
    const before = (await seen()).length;
    fs.writeFileSync(path.join(dir, 'b.txt'), 'x');
    await sleep(300);
    assert.equal((await seen()).length, before);
  });

  it('stops with its generation: after a reload only the new one reports, even while the old one still runs', async () => {
    const held = fetch(srv.url('/hold')).then((r) => r.text()); // keeps generation 1 alive
    await sleep(100);
    srv.child.kill('SIGHUP');
    for (let i = 0; i < 50; i++) {
      if ((await (await fetch(srv.url('/healthz'))).json()).generation === 2) break;
      await sleep(50);
    }
    const f = path.join(dir, 'c.txt');
    fs.writeFileSync(f, 'x');
    for (let i = 0; i < 40; i++) {
      if ((await (await fetch(srv.url('/count?' + f))).json()).n > 0) break;
      await sleep(50);
    }
    await sleep(300); // generation 1's watch, had it survived, would have fired by now
    assert.equal((await (await fetch(srv.url('/count?' + f))).json()).n, 1);
    assert.equal(await held, 'held');
  });
});
