// Black-box tests of the HTTP layer: core endpoints, request parsing and
// framing, limits and timeouts, DNS-rebinding/CORS checks and Lua error
// responses. Every test talks raw HTTP/1.1 to the real binary.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import { startServer, scriptsDir, sleep, openStream, closeStream } from './lib/harness.mjs';

// ---- helpers --------------------------------------------------------------

const SCRIPT = `
local mw = require "moonwire"
mw.route { method = "POST", path = "/echo", handler = function(req, ctx)
  return { json = { body = req.body, method = req.method, te = req.headers["transfer-encoding"] } }
end }
mw.route { method = {"GET","POST"}, path = "/x", handler = function(req) return "x" end }
mw.route { path = "/headers", handler = function(req)
  return { json = { rep = req.headers["x-rep"], one = req.headers["x-one"], n = (function()
    local n = 0 for _ in pairs(req.headers) do n = n + 1 end return n end)() } }
end }
mw.route { path = "/type", handler = function()
  local ok, err = pcall(type)
  return { json = { names = { type(nil), type(true), type(1), type("s"), type({}), type(print),
    type(coroutine.create(print)), type(mw.json.null) }, ok = ok, err = err } }
end }
mw.route { path = "/boom", handler = function() error("boom") end }
mw.route { path = "/bad", handler = function() error({ status = 422, message = "bad thing" }) end }
`;

// Builds one request. Host defaults to 127.0.0.1 (allowed on a loopback bind);
// pass host: null to leave it out. A string body gets a Content-Length.
function request(method, path, { headers = {}, body = null, version = '1.1', host = '127.0.0.1' } = {}) {
  let head = `${method} ${path} HTTP/${version}\r\n`;
  if (host !== null) head += `Host: ${host}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (body !== null) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return head + '\r\n' + (body ?? '');
}

// Takes one complete response off the front of `text`, or returns null when
// more bytes are needed. headOnly: the response answers a HEAD (no body).
function takeResponse(text, headOnly, closed) {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]);
  if (!m) throw new Error('bad status line: ' + JSON.stringify(lines[0]));
  const status = Number(m[1]);
  const headers = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
  }
  let pos = end + 4;
  let body = '';
  if (headOnly || status < 200 || status === 204 || status === 304) {
    // no body
  } else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (text.length < pos + n) return null;
    body = text.slice(pos, pos + n);
    pos += n;
  } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    for (;;) {
      const le = text.indexOf('\r\n', pos);
      if (le < 0) return null;
      const size = parseInt(text.slice(pos, le), 16);
      if (text.length < le + 2 + size + 2) return null;
      body += text.slice(le + 2, le + 2 + size);
      pos = le + 2 + size + 2;
      if (size === 0) break;
    }
  } else {
    if (!closed) return null; // delimited by close
    body = text.slice(pos);
    pos = text.length;
  }
  return { res: { status, headers, body, head: text.slice(0, end) }, used: pos };
}

// A raw client socket that buffers what it receives and notes when the server
// closes (FIN or reset).
class Client {
  static connect(port) {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => resolve(new Client(sock)));
      sock.once('error', reject);
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = ''; // not yet taken by responses()
    this.all = ''; // everything received
    this.closed = false;
    this.closedAt = 0;
    this.listeners = new Set();
    sock.setNoDelay(true);
    sock.on('data', (d) => { const s = d.toString('latin1'); this.buf += s; this.all += s; this.notify(); });
    const gone = () => {
      if (!this.closed) { this.closed = true; this.closedAt = Date.now(); }
      this.notify();
    };
    sock.on('end', gone);
    sock.on('close', gone);
    sock.on('error', gone);
  }

  notify() { for (const f of [...this.listeners]) f(); }

  write(data) { this.sock.write(data); }

  // Resolves true once pred() holds, false after timeoutMs.
  until(pred, timeoutMs) {
    return new Promise((resolve) => {
      if (pred()) return resolve(true);
      const check = () => { if (pred()) { finish(true); } };
      const finish = (v) => { clearTimeout(timer); this.listeners.delete(check); resolve(v); };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.listeners.add(check);
    });
  }

  // Takes the next n responses (1xx interim responses count as one each).
  async responses(n, { timeoutMs = 3000, headOnly = [] } = {}) {
    const out = [];
    const take = () => {
      while (out.length < n) {
        const r = takeResponse(this.buf, headOnly[out.length] ?? false, this.closed);
        if (!r) return false;
        out.push(r.res);
        this.buf = this.buf.slice(r.used);
      }
      return true;
    };
    const ok = await this.until(() => take() || this.closed, timeoutMs);
    take();
    if (!ok || out.length < n) {
      throw new Error(`wanted ${n} responses, got ${out.length} (closed=${this.closed}); received:\n` +
        JSON.stringify(this.all.slice(0, 2000)));
    }
    return out;
  }

  async response(opts) { return (await this.responses(1, opts))[0]; }

  // True when the server closes the connection within ms.
  closedWithin(ms) { return this.until(() => this.closed, ms); }

  destroy() { this.sock.destroy(); }
}

// One request on a fresh connection; the socket is closed afterwards.
async function once(port, data, opts) {
  const c = await Client.connect(port);
  try {
    c.write(data);
    return await c.response(opts);
  } finally {
    c.destroy();
  }
}

const json = (res) => {
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  return JSON.parse(res.body);
};

// Prometheus text -> { 'name{labels}': number }.
async function metrics(port) {
  const res = await once(port, request('GET', '/metrics'));
  assert.equal(res.status, 200);
  const out = {};
  for (const line of res.body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return { res, values: out };
}

async function assertHealthy(port, host = '127.0.0.1') {
  const res = await once(port, request('GET', '/healthz', { host }));
  assert.equal(res.status, 200);
  assert.equal(json(res).status, 'ok');
}

const HEADER_TIMEOUT_MS = 500;
const BODY_TIMEOUT_MS = 700;
const KEEPALIVE_TIMEOUT_S = 1;
const MAX_BODY_BYTES = 1024;
const MAX_CONNECTIONS = 5;

// ---- core endpoints, routing and Lua errors ---------------------------------

describe('http: core endpoints, routing, parsing, limits', () => {
  let srv;
  let port;
  let dir;
  before(async () => {
    dir = scriptsDir({ 'routes.lua': SCRIPT });
    srv = await startServer({
      scripts: [dir],
      env: {
        HEADER_TIMEOUT_MS: String(HEADER_TIMEOUT_MS),
        BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
        KEEPALIVE_TIMEOUT: String(KEEPALIVE_TIMEOUT_S),
        MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      },
    });
    port = srv.port;
  });
  after(async () => {
    try {
      await srv.stop();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('GET /healthz answers 200 JSON with the documented keys', async () => {
    const res = await once(port, request('GET', '/healthz'));
    assert.equal(res.status, 200);
    const h = json(res);
    assert.equal(h.status, 'ok');
    assert.equal(typeof h.version, 'string');
    assert.ok(h.version.length > 0);
    for (const k of ['uptime_s', 'connections', 'streams', 'sessions', 'generation']) {
      assert.equal(typeof h[k], 'number', `healthz.${k} should be a number`);
    }
    assert.ok(h.connections >= 1, 'the asking connection is open');
    assert.ok(h.generation >= 1, 'scripts are loaded');
    assert.ok('last_reload_error' in h);
    assert.equal(h.last_reload_error, null);
  });

  it('HEAD /healthz has a Content-Length but no body', async () => {
    // A HEAD then a GET pipelined: the GET's status line must follow the
    // HEAD's head directly, so no body bytes can hide in between.
    const c = await Client.connect(port);
    try {
      c.write(request('HEAD', '/healthz') + request('GET', '/x'));
      const [head, get] = await c.responses(2, { headOnly: [true, false] });
      assert.equal(head.status, 200);
      assert.match(head.headers['content-length'] ?? '', /^[1-9]\d*$/);
      const afterHead = c.all.slice(c.all.indexOf('\r\n\r\n') + 4);
      assert.ok(afterHead.startsWith('HTTP/1.1 200 '), 'HEAD response carried a body: ' + JSON.stringify(afterHead.slice(0, 80)));
      assert.equal(get.status, 200);
      assert.equal(get.body, 'x');
    } finally {
      c.destroy();
    }
  });

  it('POST /healthz is 405 with Allow: GET, HEAD', async () => {
    const res = await once(port, request('POST', '/healthz', { body: '{}' }));
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, 'GET, HEAD');
  });

  it('GET /metrics is Prometheus text with the documented series', async () => {
    const { res } = await metrics(port);
    assert.match(res.headers['content-type'] ?? '', /^text\/plain/);
    const series = [
      'moonwire_connections_open', 'moonwire_connections_accepted_total', 'moonwire_sse_streams_open',
      'moonwire_sessions', 'moonwire_heartbeats_sent_total', 'moonwire_events_sent_total',
      'moonwire_events_replayed_total', 'moonwire_bytes_out_total', 'moonwire_slow_consumers_dropped_total',
      'moonwire_http_requests_total{class="2xx"}', 'moonwire_lua_errors_total',
      'moonwire_reloads_total{result="ok"}', 'moonwire_last_reload_duration_seconds',
    ];
    for (const s of series) {
      const re = new RegExp('^' + s.replace(/[{}"]/g, (ch) => '\\' + ch) + ' [0-9][0-9.e+-]*$', 'm');
      assert.match(res.body, re, `missing series ${s}`);
    }
    assert.match(res.body, /^# TYPE moonwire_connections_accepted_total counter$/m);
  });

  it('the 4xx request counter rises by one after a 404', async () => {
    const before = (await metrics(port)).values['moonwire_http_requests_total{class="4xx"}'];
    assert.equal(typeof before, 'number');
    assert.equal((await once(port, request('GET', '/nope'))).status, 404);
    const after = (await metrics(port)).values['moonwire_http_requests_total{class="4xx"}'];
    assert.equal(after, before + 1);
  });

  it('keep-alive: two sequential requests on one socket are both answered', async () => {
    const c = await Client.connect(port);
    try {
      c.write(request('GET', '/x'));
      const a = await c.response();
      assert.equal(a.status, 200);
      assert.equal(a.body, 'x');
      assert.equal(c.closed, false);
      c.write(request('GET', '/healthz'));
      const b = await c.response();
      assert.equal(b.status, 200);
      assert.equal(json(b).status, 'ok');
    } finally {
      c.destroy();
    }
  });

  it('pipelining: GET, POST with body, GET in one write are answered in order', async () => {
    const c = await Client.connect(port);
    try {
      c.write(request('GET', '/x') +
        request('POST', '/echo', { body: 'piped-body', headers: { 'Content-Type': 'text/plain' } }) +
        request('GET', '/healthz'));
      const [r1, r2, r3] = await c.responses(3);
      assert.equal(r1.status, 200);
      assert.equal(r1.body, 'x');
      assert.equal(r2.status, 200);
      assert.deepEqual(json(r2), { body: 'piped-body', method: 'POST' });
      assert.equal(r3.status, 200);
      assert.equal(json(r3).status, 'ok');
    } finally {
      c.destroy();
    }
  });

  it('repeated request headers reach the script joined with ", ", once each', async () => {
    const res = await once(port, 'GET /headers HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Rep: a\r\nX-One: 1\r\n' +
      'x-rep: b\r\nX-REP: c\r\n\r\n');
    assert.equal(res.status, 200);
    assert.deepEqual(json(res), { rep: 'a, b, c', one: '1', n: 3 });
  });

  it('header values that change from request to request reach the script as sent', async () => {
    // The core caches the strings of header names and values it made before.
    const values = ['1', '22', '1', 'application/json', 'application/jsoN', '', 'x'.repeat(64), 'x'.repeat(65)];
    for (const v of values) {
      const res = await once(port, `GET /headers HTTP/1.1\r\nHost: 127.0.0.1\r\nX-One: ${v}\r\n\r\n`);
      assert.equal(json(res).one, v);
    }
  });

  it('type() answers as Lua\'s own, its error included', async () => {
    const res = await once(port, 'GET /type HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    assert.deepEqual(json(res), {
      names: ['nil', 'boolean', 'number', 'string', 'table', 'function', 'thread', 'userdata'],
      ok: false, err: "bad argument #1 to 'type' (value expected)",
    });
  });

  it('a chunked request body in several chunks is reassembled', async () => {
    const c = await Client.connect(port);
    try {
      c.write('POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n');
      for (const piece of ['5\r\nhello\r\n', '1\r\n \r\n', '5\r\nworld\r\n', '0\r\n\r\n']) {
        await sleep(20);
        c.write(piece);
      }
      const res = await c.response();
      assert.equal(res.status, 200);
      assert.deepEqual(json(res), { body: 'hello world', method: 'POST', te: 'chunked' });
    } finally {
      c.destroy();
    }
  });

  it('Expect: 100-continue gets 100 Continue before the body, then the response', async () => {
    const c = await Client.connect(port);
    try {
      c.write('POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
      const interim = await c.response();
      assert.equal(interim.status, 100);
      assert.ok(c.all.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), JSON.stringify(c.all.slice(0, 60)));
      c.write('ping');
      const res = await c.response();
      assert.equal(res.status, 200);
      assert.equal(json(res).body, 'ping');
    } finally {
      c.destroy();
    }
  });

  it('Connection: close is echoed and the server closes the socket', async () => {
    const c = await Client.connect(port);
    try {
      c.write(request('GET', '/x', { headers: { Connection: 'close' } }));
      const res = await c.response();
      assert.equal(res.status, 200);
      assert.equal(res.headers.connection, 'close');
      // Well before the 1 s keep-alive timeout could explain a close.
      assert.equal(await c.closedWithin(500), true, 'server did not close after Connection: close');
    } finally {
      c.destroy();
    }
  });

  it('HTTP/1.0 without keep-alive is answered, then closed', async () => {
    const c = await Client.connect(port);
    try {
      c.write(request('GET', '/x', { version: '1.0' }));
      const res = await c.response();
      assert.equal(res.status, 200);
      assert.equal(res.body, 'x');
      assert.equal(await c.closedWithin(500), true, 'server kept an HTTP/1.0 connection open');
    } finally {
      c.destroy();
    }
  });

  it('a head over 16 KiB is 431 and the connection closes', async () => {
    const c = await Client.connect(port);
    try {
      c.write(request('GET', '/x', { headers: { 'X-Big': 'a'.repeat(17000) } }));
      const res = await c.response();
      assert.equal(res.status, 431);
      assert.equal(await c.closedWithin(500), true, 'connection stayed open after 431');
    } finally {
      c.destroy();
    }
  });

  it('Content-Length over MAX_BODY_BYTES is 413 before any body is sent', async () => {
    const c = await Client.connect(port);
    try {
      // Only the head: the answer must not wait for the body.
      c.write(`POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`);
      const res = await c.response({ timeoutMs: 1000 });
      assert.equal(res.status, 413);
      assert.equal(await c.closedWithin(500), true, 'connection stayed open after 413');
    } finally {
      c.destroy();
    }
  });

  it('a chunked body growing over MAX_BODY_BYTES is 413', async () => {
    const c = await Client.connect(port);
    try {
      const chunk = 'b'.repeat(600);
      c.write('POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n');
      c.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      await sleep(20);
      c.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      const res = await c.response({ timeoutMs: 1000 });
      assert.equal(res.status, 413);
      assert.equal(await c.closedWithin(500), true, 'connection stayed open after 413');
    } finally {
      c.destroy();
    }
  });

  // Sends `bytes`, a request left incomplete: it must get 408 after about
  // `timeoutMs`, then the connection must close.
  async function assertTimedOut(bytes, timeoutMs) {
    const c = await Client.connect(port);
    try {
      const t0 = Date.now();
      c.write(bytes);
      const res = await c.response({ timeoutMs: timeoutMs + 1500 });
      const took = Date.now() - t0;
      assert.equal(res.status, 408);
      assert.ok(took >= timeoutMs * 0.8, `408 came too early (${took} ms)`);
      assert.ok(took <= timeoutMs + 1000, `408 came too late (${took} ms)`);
      assert.equal(await c.closedWithin(500), true, 'connection stayed open after 408');
    } finally {
      c.destroy();
    }
  }

  it('slowloris: a partial head gets 408 after HEADER_TIMEOUT_MS, then close', async () => {
    await assertTimedOut('GET / HTTP/1.1\r\nHost: x\r\n', HEADER_TIMEOUT_MS);
  });

  it('a body short of its Content-Length gets 408 after BODY_TIMEOUT_MS, then close', async () => {
    await assertTimedOut('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc', BODY_TIMEOUT_MS);
  });

  it('a connection that sends nothing is closed after the header timeout', async () => {
    const c = await Client.connect(port);
    try {
      const t0 = Date.now();
      assert.equal(await c.closedWithin(HEADER_TIMEOUT_MS + 1500), true, 'silent connection never closed');
      const took = c.closedAt - t0;
      assert.ok(took >= HEADER_TIMEOUT_MS * 0.8, `closed too early (${took} ms)`);
      assert.ok(took <= HEADER_TIMEOUT_MS + 1000, `closed too late (${took} ms)`);
    } finally {
      c.destroy();
    }
  });

  it('a malformed request line is 400 and the connection closes', async () => {
    const c = await Client.connect(port);
    try {
      c.write('HELLO\r\n\r\n');
      const res = await c.response();
      assert.equal(res.status, 400);
      assert.equal(await c.closedWithin(500), true, 'connection stayed open after 400');
    } finally {
      c.destroy();
    }
  });

  it('a malformed header line is 400 and the connection closes', async () => {
    const c = await Client.connect(port);
    try {
      c.write('GET /x HTTP/1.1\r\nHost x\r\n\r\n');
      const res = await c.response();
      assert.equal(res.status, 400);
      assert.equal(await c.closedWithin(500), true, 'connection stayed open after 400');
    } finally {
      c.destroy();
    }
  });

  it('HTTP/1.1 without Host is 400', async () => {
    const res = await once(port, request('GET', '/x', { host: null }));
    assert.equal(res.status, 400);
  });

  it('a malformed Host or a second Host line is 400 (RFC 9112 §3.2)', async () => {
    for (const host of ['127.0.0.1:abc', '127.0.0.1 x', '[::1', '[::1]x', 'a/b', 'u@127.0.0.1']) {
      const res = await once(port, request('GET', '/x', { host }));
      assert.equal(res.status, 400, `Host: ${host}`);
      assert.equal(json(res).error.message, 'invalid Host header');
    }
    const two = await once(port, 'GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n');
    assert.equal(two.status, 400);
    assert.equal(json(two).error.message, 'more than one Host header');
    for (const host of ['127.0.0.1:', '[::1]:3001', 'LOCALHOST']) {
      assert.equal((await once(port, request('GET', '/x', { host }))).status, 200, `Host: ${host}`);
    }
  });

  it('an unknown path is 404 with a JSON error body', async () => {
    const res = await once(port, request('GET', '/no/such/path'));
    assert.equal(res.status, 404);
    const body = json(res);
    assert.equal(body.error.status, 404);
    assert.equal(typeof body.error.message, 'string');
  });

  it('a wrong method on a Lua route is 405 with Allow listing its methods', async () => {
    const res = await once(port, request('DELETE', '/x'));
    assert.equal(res.status, 405);
    const allow = (res.headers.allow ?? '').split(',').map((s) => s.trim());
    assert.equal(res.headers.allow, 'GET, HEAD, OPTIONS, POST');
    const single = await once(port, request('GET', '/echo'));
    assert.equal(single.status, 405);
    assert.equal(single.headers.allow, 'OPTIONS, POST');
  });

  it('OPTIONS on a Lua route is 204 with Allow', async () => {
    const res = await once(port, request('OPTIONS', '/x'));
    assert.equal(res.status, 204);
    const allow = (res.headers.allow ?? '').split(',').map((s) => s.trim());
    assert.ok(allow.includes('GET') && allow.includes('POST'), `Allow: ${res.headers.allow}`);
  });

  it('an idle keep-alive connection is closed after KEEPALIVE_TIMEOUT', async () => {
    const c = await Client.connect(port);
    try {
      c.write(request('GET', '/x'));
      assert.equal((await c.response()).status, 200);
      const t0 = Date.now();
      assert.equal(await c.closedWithin(KEEPALIVE_TIMEOUT_S * 1000 + 1500), true, 'idle connection never closed');
      const took = c.closedAt - t0;
      assert.ok(took >= KEEPALIVE_TIMEOUT_S * 1000 * 0.8, `closed too early (${took} ms)`);
      assert.equal(c.buf, '', 'nothing is sent on an idle close');
    } finally {
      c.destroy();
    }
  });

  it('DNS rebinding: a foreign Host is 403, a local one with a port is 200', async () => {
    assert.equal((await once(port, request('GET', '/x', { host: 'evil.example' }))).status, 403);
    const ok = await once(port, request('GET', '/x', { host: 'localhost:9999' }));
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'x');
  });

  it('DNS rebinding: a foreign Origin is 403, a local one is 200 with CORS headers', async () => {
    const bad = await once(port, request('GET', '/x', { headers: { Origin: 'http://evil.example' } }));
    assert.equal(bad.status, 403);
    const origin = 'http://localhost:5173';
    const res = await once(port, request('GET', '/x', { headers: { Origin: origin } }));
    assert.equal(res.status, 200);
    assert.ok(['*', origin].includes(res.headers['access-control-allow-origin']),
      `Access-Control-Allow-Origin: ${res.headers['access-control-allow-origin']}`);
    assert.match(res.headers['access-control-expose-headers'] ?? '', /(^|[ ,])Mcp-Session-Id([ ,]|$)/i);
  });

  it('a CORS preflight is 204 with the Access-Control-Allow-* headers', async () => {
    const res = await once(port, request('OPTIONS', '/x', {
      headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'POST' },
    }));
    assert.equal(res.status, 204);
    assert.match(res.headers['access-control-allow-methods'] ?? '', /\bPOST\b/);
    assert.ok((res.headers['access-control-allow-headers'] ?? '').length > 0, 'no Access-Control-Allow-Headers');
    assert.match(res.headers['access-control-max-age'] ?? '', /^[1-9]\d*$/);
  });

  it('a handler that throws is a 500 JSON, counted, and the server keeps serving', async () => {
    const before = (await metrics(port)).values.moonwire_lua_errors_total;
    const c = await Client.connect(port);
    try {
      c.write(request('GET', '/boom'));
      const res = await c.response();
      assert.equal(res.status, 500);
      assert.equal(json(res).error.status, 500);
      // Same connection: still usable after the error.
      c.write(request('GET', '/x'));
      const next = await c.response();
      assert.equal(next.status, 200);
      assert.equal(next.body, 'x');
    } finally {
      c.destroy();
    }
    const after = (await metrics(port)).values.moonwire_lua_errors_total;
    assert.equal(after, before + 1);
    // The log names the route and where it was declared, then the error.
    assert.match(srv.stderr, /error="route \/boom \([^)]*routes\.lua:(\d+)\): [^"]*routes\.lua:\1: boom\\nstack traceback/);
  });

  it('error({status = 422, message = ...}) answers with that status and message', async () => {
    const res = await once(port, request('GET', '/bad'));
    assert.equal(res.status, 422);
    const body = json(res);
    assert.equal(body.error.status, 422);
    assert.equal(body.error.message, 'bad thing');
  });

  it('still answers /healthz after all of the above', async () => {
    await assertHealthy(port);
  });
});

// ---- MAX_CONNECTIONS ----------------------------------------------------------

describe('http: connection limit', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { MAX_CONNECTIONS: String(MAX_CONNECTIONS) } });
  });
  after(async () => { await srv.stop(); });

  it('one connection over MAX_CONNECTIONS gets 503 with Retry-After; capacity returns after closing', async () => {
    const open = [];
    try {
      for (let i = 0; i < MAX_CONNECTIONS; i++) {
        const c = await Client.connect(srv.port);
        open.push(c);
        c.write(request('GET', '/healthz'));
        assert.equal((await c.response()).status, 200, `connection ${i + 1} of ${MAX_CONNECTIONS}`);
      }
      const extra = await Client.connect(srv.port);
      open.push(extra);
      extra.write(request('GET', '/healthz'));
      const res = await extra.response();
      assert.equal(res.status, 503);
      assert.match(res.headers['retry-after'] ?? '', /^\d+$/);
      assert.equal(await extra.closedWithin(1000), true, 'rejected connection stayed open');
      // The held connections are untouched.
      for (const c of open.slice(0, MAX_CONNECTIONS)) assert.equal(c.closed, false);
    } finally {
      for (const c of open) c.destroy();
    }
    // The server sees the closes asynchronously; give it a moment.
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      await sleep(50);
      status = (await once(srv.port, request('GET', '/healthz'))).status;
    }
    assert.equal(status, 200, 'new connections still refused after the others closed');
  });

  it('still answers /healthz after all of the above', async () => {
    await assertHealthy(srv.port);
  });
});

// ---- ALLOWED_HOSTS ------------------------------------------------------------

describe('http: ALLOWED_HOSTS', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { ALLOWED_HOSTS: 'evil.example' } });
  });
  after(async () => { await srv.stop(); });

  it('a Host listed in ALLOWED_HOSTS is accepted', async () => {
    const res = await once(srv.port, request('GET', '/healthz', { host: 'evil.example' }));
    assert.equal(res.status, 200);
    assert.equal(json(res).status, 'ok');
  });

  it('still answers /healthz after all of the above', async () => {
    await assertHealthy(srv.port, 'evil.example');
  });
});

describe('http: a scripts directory with no script', () => {
  it('starts, serves /healthz and exits cleanly (no sanitizer report)', async () => {
    const srv = await startServer({ scripts: [scriptsDir({})] });
    try {
      const res = await fetch(`http://127.0.0.1:${srv.port}/healthz`);
      assert.equal(res.status, 200);
    } finally {
      await srv.stop();
    }
  });
});

describe('http: LOG_LEVEL=debug', () => {
  it('logs each answered request and each stream opened and ended', async () => {
    const srv = await startServer({ scripts: [scriptsDir({ 'r.lua': `local mw = require "moonwire"
mw.route { path = "/x", handler = function() return "x" end }
mw.route { path = "/ch", channel = "ch" }` })], env: { LOG_LEVEL: 'debug' } });
    try {
      assert.equal(await (await fetch(srv.url('/x?a=1'))).text(), 'x');
      assert.equal((await fetch(srv.url('/nope'))).status, 404);
      const st = await openStream(srv.port, '/ch');
      closeStream(st);
      const t0 = Date.now();
      while (!/msg="stream ended"/.test(srv.stderr) && Date.now() - t0 < 3000) await sleep(20);
      assert.match(srv.stderr, /level=debug msg=request method=GET url="\/x\?a=1" status=200 ms=\d+ remote=127\.0\.0\.1/);
      assert.match(srv.stderr, /level=debug msg=request method=GET url=\/nope status=404 /);
      assert.match(srv.stderr, /level=debug msg="stream opened" method=GET url=\/ch status=200 /);
      assert.match(srv.stderr, /level=debug msg="stream ended" ms=\d+ remote=127\.0\.0\.1/);
    } finally {
      await srv.stop();
    }
  });
});
