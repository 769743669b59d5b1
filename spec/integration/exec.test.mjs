// mw.exec: subprocesses that never block the loop — a slow child runs while
// a stream's heartbeats keep their cadence (called from MCP tools); output, exit status, stdin,
// timeouts and output caps are reported; a timeout, an abandoned handler and shutdown kill the
// child's whole process group. mw.http.request: methods, bodies (sized, chunked, ending at
// EOF), HEAD, interim 1xx responses, limits and option checking.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { startServer, scriptsDir, openStream, closeStream, waitFor, sleep } from './lib/harness.mjs';

// An argument no other process has: "<n>.<our pid>" (sleep takes fractions).
const tag = (n) => `${n}.${process.pid}`;

// Pids of the live processes with `arg` as one of their arguments (a zombie's
// cmdline is empty).
function procsWith(arg) {
  const pids = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd;
    try { cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1'); } catch { continue; }
    if (cmd.split('\0').includes(arg)) pids.push(Number(d));
  }
  return pids;
}

async function waitGone(arg, ms) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (!procsWith(arg).length) return true;
  return false;
}

// Kills what a failing test left behind, so it leaves no process either way.
function reap(arg) {
  for (const pid of procsWith(arg)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

const APP = `local mw = require "moonwire"
mw.route { path = "/events", channel = "ch" }
mw.tool { name = "run", description = "Runs argv", input_schema = { type = "object", properties = { argv = { type = "array", items = { type = "string" } } } },
  handler = function(args) local r = mw.exec { argv = args.argv } return ("status %d"):format(r.status) end }
mw.route { method = "POST", path = "/run", handler = function(req)
  local opts = mw.json.decode(req.body)
  local r, err = mw.exec(opts)
  if not r then return { status = 500, json = { error = err } } end
  return { json = r }
end }
mw.route { method = "POST", path = "/run-short", timeout_ms = 1000, handler = function(req)
  mw.exec(mw.json.decode(req.body))
  return { json = { finished = true } }
end }
mw.route { method = "POST", path = "/run-check", handler = function(req)
  local ok, err = pcall(mw.exec, mw.json.decode(req.body))
  return { json = { ok = ok, error = not ok and tostring(err) or nil } }
end }
mw.route { path = "/run-in-coroutine", handler = function()
  local co = coroutine.create(function() return mw.exec { argv = { "true" } } end)
  local ok, err = coroutine.resume(co)
  return { json = { ok = ok, error = not ok and tostring(err) or nil } }
end }
`;

// A tools/call over a fresh 2025-11-25 session; resolves to the result.
async function callTool(srv, name, args) {
  const H = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
  const init = await fetch(srv.url('/mcp'), { method: 'POST', headers: H, body: JSON.stringify({ jsonrpc: '2.0', id: 1,
    method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
  await init.text();
  const res = await fetch(srv.url('/mcp'), { method: 'POST', headers: { ...H, 'Mcp-Session-Id': init.headers.get('mcp-session-id') },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name, arguments: args } }) });
  return (await res.json()).result;
}

describe('mw.exec', () => {
  let srv;
  before(async () => { srv = await startServer({ scripts: [scriptsDir({ 'app.lua': APP })], env: { SSE_HEARTBEAT_INTERVAL: '1' } }); });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  const run = async (opts) => {
    const res = await fetch(srv.url('/run'), { method: 'POST', body: JSON.stringify(opts) });
    return { status: res.status, json: await res.json() };
  };

  it('captures stdout, stderr and the exit status, and feeds stdin', async () => {
    let r = await run({ argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
    assert.deepEqual([r.json.stdout, r.json.stderr, r.json.status], ['out\n', 'err\n', 3]);
    r = await run({ argv: ['cat'], stdin: 'piped' });
    assert.equal(r.json.stdout, 'piped');
    assert.equal(r.json.status, 0);
  });

  it('kills a child past timeout_ms and caps output at max_output', async () => {
    const t0 = Date.now();
    let r = await run({ argv: ['sleep', '5'], timeout_ms: 200 });
    assert.equal(r.json.timed_out, true);
    assert.equal(r.json.signal, 9);
    assert.ok(Date.now() - t0 < 2000);
    r = await run({ argv: ['head', '-c', '100000', '/dev/zero'], max_output: 1000 });
    assert.equal(r.json.stdout.length, 1000);
    assert.equal(r.json.truncated, true);
  });

  it('kills the whole process group at timeout_ms, without waiting for whoever holds the output', async () => {
    const [a, b, c] = [tag(6), tag(7), tag(30)];
    try {
      // sh waits for its sleep, which holds the output pipes: both die at the timeout.
      let t0 = Date.now();
      let r = await run({ argv: ['sh', '-c', `sleep ${a}; echo never`], timeout_ms: 500 });
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
      assert.deepEqual([r.json.timed_out, r.json.signal, r.json.stdout], [true, 9, '']);
      assert.ok(await waitGone(a, 2000), 'the grandchild outlived the timeout');
      // sh exits at once, its background sleep holds the pipes.
      t0 = Date.now();
      r = await run({ argv: ['sh', '-c', `sleep ${b} & echo started`], timeout_ms: 500 });
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
      assert.deepEqual([r.json.timed_out, r.json.status, r.json.stdout], [true, 0, 'started\n']);
      assert.ok(await waitGone(b, 2000), 'the background job outlived the timeout');
      // A grandchild that left the group cannot be killed, but is not waited for either.
      t0 = Date.now();
      r = await run({ argv: ['sh', '-c', `setsid sleep ${c} & sleep ${a}`], timeout_ms: 500 });
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
      assert.deepEqual([r.json.timed_out, r.json.signal], [true, 9]);
    } finally {
      for (const t of [a, b, c]) reap(t);
    }
  });

  it('kills the process group of a handler abandoned past its time budget', async () => {
    const [a, b] = [tag(123), tag(124)];
    try {
      let t0 = Date.now();
      let res = await fetch(srv.url('/run-short'), { method: 'POST', body: JSON.stringify({ argv: ['sleep', a], timeout_ms: 0 }) });
      assert.equal(res.status, 500);
      await res.text();
      assert.ok(Date.now() - t0 < 3000);
      assert.ok(await waitGone(a, 3000), 'the child outlived its handler');
      // With a grandchild: sh waits for it.
      res = await fetch(srv.url('/run-short'), { method: 'POST', body: JSON.stringify({ argv: ['sh', '-c', `sleep ${b}; :`], timeout_ms: 0 }) });
      assert.equal(res.status, 500);
      await res.text();
      assert.ok(await waitGone(b, 3000), 'the grandchild outlived its handler');
    } finally {
      reap(a);
      reap(b);
    }
  });

  it('rejects unknown options and bad numbers, naming them', async () => {
    const check = async (opts) => (await (await fetch(srv.url('/run-check'), { method: 'POST', body: JSON.stringify(opts) })).json());
    let r = await check({ argv: ['true'], timeout: 500 });
    assert.equal(r.ok, false);
    assert.match(r.error, /mw\.exec: unknown option 'timeout'/);
    r = await check({ argv: ['true'], timeout_ms: -5 });
    assert.match(r.error, /timeout_ms must be a number >= 0/);
    r = await check({ argv: ['true'], max_output: 'big' });
    assert.match(r.error, /max_output must be a number >= 0/);
    r = await check({ argv: ['true'], timeout_ms: 2500.7 });
    assert.equal(r.ok, true);
    // In a coroutine of the script's own nothing could ever resume it with the result.
    r = await (await fetch(srv.url('/run-in-coroutine'))).json();
    assert.equal(r.ok, false);
    assert.match(r.error, /mw\.exec must be called from a handler or timer/);
  });

  it('reports a program that cannot start', async () => {
    const r = await run({ argv: ['/nonexistent/program'] });
    assert.equal(r.status, 500);
    assert.match(r.json.error, /no such file/i);
  });

  it('does not block heartbeats while a tool waits for a child', async () => {
    const st = await openStream(srv.port, '/events');
    const p = callTool(srv, 'run', { argv: ['sleep', '2.5'] });
    await waitFor(st, () => st.comments.length >= 2, 4000);
    const gap = st.comments[1] - st.comments[0];
    assert.ok(Math.abs(gap - 1000) <= 100, `heartbeat gap ${gap} ms during exec`);
    assert.equal((await p).content[0].text, 'status 0');
    closeStream(st);
  });
});

describe('mw.exec at shutdown', () => {
  it('kills the process group of a job still running when the server stops', async () => {
    const a = tag(125);
    const srv = await startServer({ scripts: [scriptsDir({ 'app.lua': APP })], env: { SHUTDOWN_TIMEOUT: '1' } });
    try {
      const p = fetch(srv.url('/run'), { method: 'POST', body: JSON.stringify({ argv: ['sh', '-c', `sleep ${a}; :`], timeout_ms: 0 }) })
        .then((res) => res.text()).catch(() => null);
      for (let i = 0; i < 100 && !procsWith(a).length; i++) await sleep(50);
      assert.ok(procsWith(a).length, 'the job did not start');
      assert.equal((await srv.stop()).code, 0);
      await p;
      assert.ok(await waitGone(a, 3000), 'the grandchild outlived the server');
    } finally {
      await srv.stop('SIGKILL').catch(() => {});
      reap(a);
    }
  });
});

// Canned responses, written as they are, for what node:http cannot produce:
// bodies ending at EOF, interim 1xx responses, HEAD with a Content-Length.
// `close`: end the connection after writing; otherwise it stays open.
const CANNED = {
  '/http10': { close: true, data: ['HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until EOF, HTTP/1.0'] },
  '/close11': { close: true, data: ['HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody until ', 'EOF, HTTP/1.1'] },
  '/continue': { close: false, data: ['HTTP/1.1 100 Continue\r\n\r\n',
    'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Final: yes\r\n\r\nfinal'] },
  '/only100': { close: true, data: ['HTTP/1.1 100 Continue\r\n\r\n'] },
  '/short': { close: true, data: ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'] },
  '/head': { close: false, data: ['HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n'] },
  '/bighead': { close: true, data: [`HTTP/1.1 200 OK\r\nX-Big: ${'h'.repeat(70000)}\r\nContent-Length: 2\r\n\r\nok`] },
};

describe('mw.http.request', () => {
  let srv, upstream, rawUp;
  const rawSockets = new Set();
  const APP2 = `local mw = require "moonwire"
mw.route { method = "POST", path = "/fetch", handler = function(req)
  local opts = mw.json.decode(req.body)
  local r, err = mw.http.request(opts)
  if not r then return { status = 502, json = { error = err } } end
  return { json = { status = r.status, body = r.body, ctype = r.headers["content-type"], x = r.headers["x-test"] } }
end }
mw.route { method = "POST", path = "/fetch-all", handler = function(req)
  local r, err = mw.http.request(mw.json.decode(req.body))
  if not r then return { status = 502, json = { error = err } } end
  return { json = r }
end }
mw.route { method = "POST", path = "/fetch-check", handler = function(req)
  local ok, err = pcall(mw.http.request, mw.json.decode(req.body))
  return { json = { ok = ok, error = not ok and tostring(err) or nil } }
end }
mw.route { method = "POST", path = "/fetch-in-coroutine", handler = function(req)
  local co = coroutine.create(function() return mw.http.request(mw.json.decode(req.body)) end)
  local ok, err = coroutine.resume(co)
  return { json = { ok = ok, error = not ok and tostring(err) or nil } }
end }
mw.route { path = "/events", channel = "ch" }
mw.tool { name = "fetch", description = "GETs a URL", input_schema = { type = "object", properties = { url = { type = "string" } } },
  handler = function(args) local r, err = mw.http.request { url = args.url } if not r then return nil, err end return r.body end }
`;
  before(async () => {
    const http = await import('node:http');
    upstream = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        if (req.url === '/slow') { setTimeout(() => res.end('late'), 2500); return; }
        if (req.url === '/big') { res.end('x'.repeat(5000)); return; }
        if (req.url === '/chunked') { res.write('a'); res.write('b'); res.end('c'); return; }
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('X-Test', ['1', '2']);
        res.end(JSON.stringify({ method: req.method, url: req.url, body, auth: req.headers.authorization }));
      });
    });
    await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
    rawUp = net.createServer((sock) => {
      rawSockets.add(sock);
      sock.on('close', () => rawSockets.delete(sock));
      sock.on('error', () => {});
      let head = '';
      sock.on('data', async (d) => {
        if (head.includes('\r\n\r\n')) return;
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        const [method, path] = head.split(' ');
        const canned = CANNED[path];
        if (!canned || (path === '/head') !== (method === 'HEAD')) { sock.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'); return; }
        for (const [i, part] of canned.data.entries()) {
          if (i) await sleep(50); // separate reads on the client's side
          sock.write(part);
        }
        if (canned.close) sock.end();
      });
    });
    await new Promise((r) => rawUp.listen(0, '127.0.0.1', r));
    srv = await startServer({ scripts: [scriptsDir({ 'app.lua': APP2 })], env: { SSE_HEARTBEAT_INTERVAL: '1' } });
  });
  after(async () => {
    upstream.close();
    for (const s of rawSockets) s.destroy();
    rawUp.close();
    assert.equal((await srv.stop()).code, 0);
  });

  const fetchVia = async (opts) => {
    const res = await fetch(srv.url('/fetch'), { method: 'POST', body: JSON.stringify(opts) });
    return { status: res.status, json: await res.json() };
  };
  const base = () => `http://127.0.0.1:${upstream.address().port}`;
  const rawBase = () => `http://127.0.0.1:${rawUp.address().port}`;
  const fetchAll = async (opts) => {
    const res = await fetch(srv.url('/fetch-all'), { method: 'POST', body: JSON.stringify(opts) });
    return { status: res.status, json: await res.json() };
  };
  const check = async (opts) => (await (await fetch(srv.url('/fetch-check'), { method: 'POST', body: JSON.stringify(opts) })).json());

  it('reads a body that ends when the connection closes', async () => {
    let r = await fetchAll({ url: `${rawBase()}/http10`, timeout_ms: 3000 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual([r.json.status, r.json.body, r.json.headers['content-type']], [200, 'body until EOF, HTTP/1.0', 'text/plain']);
    r = await fetchAll({ url: `${rawBase()}/close11`, timeout_ms: 3000 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual([r.json.status, r.json.body], [200, 'body until EOF, HTTP/1.1']);
    // A sized body cut short is still an error.
    r = await fetchAll({ url: `${rawBase()}/short`, timeout_ms: 3000 });
    assert.deepEqual([r.status, r.json.error], [502, 'connection closed early']);
    // Headers past 64 KiB are refused by name, not with llhttp's internals.
    r = await fetchAll({ url: `${rawBase()}/bighead`, timeout_ms: 3000 });
    assert.deepEqual([r.status, r.json.error], [502, 'response headers exceed 64 KiB']);
  });

  it('does not wait for a body after HEAD', async () => {
    const t0 = Date.now();
    const r = await fetchAll({ method: 'head', url: `${rawBase()}/head`, timeout_ms: 3000 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual([r.json.status, r.json.body, r.json.headers['content-length']], [200, '', '1234']);
    assert.ok(Date.now() - t0 < 2500, `took ${Date.now() - t0} ms`);
  });

  it('skips interim 1xx responses and returns the final one', async () => {
    let r = await fetchAll({ url: `${rawBase()}/continue`, timeout_ms: 3000 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual([r.json.status, r.json.body, r.json.headers['x-final']], [201, 'final', 'yes']);
    assert.equal(r.json.headers.link, undefined);
    // Only an interim response, then EOF: no final response.
    r = await fetchAll({ url: `${rawBase()}/only100`, timeout_ms: 3000 });
    assert.deepEqual([r.status, r.json.error], [502, 'connection closed early']);
  });

  it('rejects unknown options, negative limits and malformed URLs', async () => {
    let r = await check({ url: `${base()}/`, timeout: 500 });
    assert.equal(r.ok, false);
    assert.match(r.error, /mw\.http\.request: unknown option 'timeout'/);
    r = await check({ url: `${base()}/`, timeout_ms: -5 });
    assert.match(r.error, /timeout_ms must be a number >= 0/);
    r = await check({ url: `${base()}/`, max_body: -1 });
    assert.match(r.error, /max_body must be a number >= 0/);
    r = await check({ url: `${base()}/`, headers: 'Accept: */*' });
    assert.match(r.error, /headers must be a table/);
    r = await (await fetch(srv.url('/fetch-in-coroutine'), { method: 'POST', body: JSON.stringify({ url: `${base()}/` }) })).json();
    assert.equal(r.ok, false);
    assert.match(r.error, /mw\.http\.request must be called from a handler or timer/);
    for (const url of [`${base()}abc`, `${base()}abc/x`, 'http://127.0.0.1:abc/', `http://[::1]:${upstream.address().port}abc`]) {
      const f = await fetchVia({ url });
      assert.deepEqual([f.status, f.json.error], [502, 'url must be http://host[:port]/path'], url);
    }
    // Still fine: a query or a fragment right after the authority.
    assert.equal(JSON.parse((await fetchVia({ url: `${base()}?q=1` })).json.body).url, '/?q=1');
    assert.equal(JSON.parse((await fetchVia({ url: `${base()}#top` })).json.body).url, '/');
  });

  it('sends method, headers and body; returns status, headers and body', async () => {
    const r = await fetchVia({ method: 'post', url: `${base()}/api?q=1`, headers: { Authorization: 'Bearer t' }, body: 'hello' });
    assert.equal(r.json.status, 200);
    assert.deepEqual(JSON.parse(r.json.body), { method: 'POST', url: '/api?q=1', body: 'hello', auth: 'Bearer t' });
    assert.equal(r.json.ctype, 'application/json');
    assert.equal(r.json.x, '1, 2');
  });

  it('reads chunked bodies, caps bodies, times out, and reports refused connections', async () => {
    assert.equal((await fetchVia({ url: `${base()}/chunked` })).json.body, 'abc');
    assert.match((await fetchVia({ url: `${base()}/big`, max_body: 1000 })).json.error, /max_body/);
    const t0 = Date.now();
    assert.match((await fetchVia({ url: `${base()}/slow`, timeout_ms: 200 })).json.error, /timed out/);
    assert.ok(Date.now() - t0 < 2000);
    assert.equal((await fetchVia({ url: 'http://127.0.0.1:1/' })).status, 502);
    assert.match((await fetchVia({ url: 'https://example.com/' })).json.error, /https/);
  });

  it('does not block heartbeats while a tool waits for the upstream', async () => {
    const st = await openStream(srv.port, '/events');
    const p = callTool(srv, 'fetch', { url: `${base()}/slow` });
    await waitFor(st, () => st.comments.length >= 2, 4000);
    const gap = st.comments[1] - st.comments[0];
    assert.ok(Math.abs(gap - 1000) <= 100, `heartbeat gap ${gap} ms during the request`);
    assert.equal((await p).content[0].text, 'late');
    closeStream(st);
  });
});
