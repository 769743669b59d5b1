// Bad input against the sanitized binary: a fixed-seed stream of malformed
// HTTP, JSON-RPC and stream requests over raw sockets. Every one must get a
// well-formed answer with a sensible status in bounded time (or, where the
// client itself gave up, nothing), while three well-behaved clients (a channel
// subscriber, an MCP session stream, a legacy /sse session) receive every
// event published to them during the run, in order, with no gap.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { startServer, scriptsDir, openStream, closeStream, waitFor, sleep, assertClean, ROOT } from './lib/harness.mjs';
import { prng as mulberry32 } from '../../client/test/fault-proxy.mjs';

const SEED = 0x6d77f022;
const INPUTS = 3000;
const WORKERS = 8;
const ANSWER_MS = 5000; // an input not answered by then counts as a hang
const HEADER_TIMEOUT_MS = 1000; // so partial heads held open get their 408 quickly
const BODY_TIMEOUT_MS = 500; // and short bodies held open theirs

// Lets the test push numbered notifications to one MCP session.
const NOTIFY = `local mw = require "moonwire"
mw.route { method = "POST", path = "/notify/:sid", handler = function(req)
  local ok = mw.notify(req.params.sid, "notifications/message", { level = "info", logger = "fuzz", data = tonumber(req.body) })
  return { status = ok and 202 or 404, json = { ok = ok } }
end }
`;

// The fault proxy's seeded generator, with the picks this test needs.
function prng(seed) {
  const next = mulberry32(seed);
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (arr) => arr[int(arr.length)], bytes: (n) => Buffer.from(Array.from({ length: n }, () => int(256))) };
}

const ACCEPT = 'application/json, text/event-stream';
const HTTP_OK = [200, 202, 204, 400, 403, 404, 405, 406, 408, 411, 413, 415, 417, 431, 501, 505];
// A request the parser rejects ends its connection: wait for the close, not just the answer.
const CLOSES = { count: Infinity };

function request(method, target, headers, body = null, version = 'HTTP/1.1') {
  const b = body === null ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const hs = { ...headers };
  if (body !== null && !Object.keys(hs).some((k) => /^(content-length|transfer-encoding)$/i.test(k))) hs['Content-Length'] = b.length;
  const head = Object.entries(hs).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return Buffer.concat([Buffer.from(`${method} ${target} ${version}\r\n${head}\r\n`, 'latin1'), b]);
}

// ---- what the fuzzer says on the JSON-RPC level -----------------------------

const WEIRD = [null, true, false, 0, -1, 1.5, 1e308, -0, '', 'x', '\u0000', 'é\ud800', [], {}, [[[]]], { a: { b: {} } }, 'y'.repeat(5000)];

// Valid messages the wrong-type generator starts from; every field of each gets replaced in turn.
const TEMPLATES = [
  { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: { sampling: {} }, clientInfo: { name: 'fuzz', version: '1' } } },
  { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 }, _meta: { progressToken: 7 } } },
  { jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: 'moonwire://hello/readme' } },
  { jsonrpc: '2.0', id: 4, method: 'prompts/get', params: { name: 'greet', arguments: { name: 'Ann' } } },
  { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 2, reason: 'fuzz' } },
  { jsonrpc: '2.0', id: 5, method: 'logging/setLevel', params: { level: 'debug' } },
  { jsonrpc: '2.0', id: 6, method: 'tools/list', params: { cursor: 'abc' } },
  { jsonrpc: '2.0', id: 7, method: 'completion/complete', params: { ref: { type: 'ref/prompt', name: 'greet' }, argument: { name: 'name', value: 'A' } } },
  { jsonrpc: '2.0', id: 8, method: 'resources/subscribe', params: { uri: 'moonwire://hello/readme' } },
];

const STATELESS_META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'fuzz', version: '1' } };

function paths(v, prefix = []) {
  if (v === null || typeof v !== 'object') return [prefix];
  return [prefix, ...Object.keys(v).flatMap((k) => paths(v[k], [...prefix, k]))];
}

function withField(obj, p, value) {
  const copy = structuredClone(obj);
  if (!p.length) return value;
  let o = copy;
  for (const k of p.slice(0, -1)) o = o[k];
  o[p[p.length - 1]] = value;
  return copy;
}

function mutate(r, buf) {
  let b = Buffer.from(buf);
  for (let n = 1 + r.int(3); n > 0 && b.length; n--) {
    const i = r.int(b.length);
    const j = i + r.int(Math.min(16, b.length - i) + 1);
    switch (r.int(5)) {
      case 0: b[i] ^= 1 << r.int(8); break;
      case 1: b = Buffer.concat([b.subarray(0, i), b.subarray(j)]); break;
      case 2: b = Buffer.concat([b.subarray(0, j), b.subarray(i, j), b.subarray(j)]); break;
      case 3: b = b.subarray(0, i); break;
      default: b = Buffer.concat([b.subarray(0, i), r.bytes(1 + r.int(3)), b.subarray(i)]);
    }
  }
  return b;
}

// JSON-RPC bodies: [name, (r) => Buffer]. The message object, when there is
// one, is returned too so the stateless headers can mirror it.
const BODIES = [
  ['invalid json', (r) => ({ body: Buffer.from(r.pick(['{', '{"jsonrpc":', 'nul', '[1,', '"\\u12', '{"a":1}}', '{"id":1,"id":2,', "{'a':1}", '1 2', ''])) })],
  ['random bytes', (r) => ({ body: r.bytes(1 + r.int(64)) })],
  ['deep nesting', (r) => {
    const d = r.pick([100, 1000, 20000, 200000]);
    const inner = r.int(2) ? ['['.repeat(d), ']'.repeat(d)] : ['{"a":'.repeat(d) + '1', '}'.repeat(d)];
    return { body: Buffer.from(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":${inner[0]}${inner[1]}}}`) };
  }],
  ['huge numbers', (r) => {
    const n = r.pick(['1e400', '-1e400', '123456789012345678901234567890', '1.5e-400', '-0', '9007199254740993', '0.0000000000000000000001']);
    return { body: Buffer.from(r.int(2) ? `{"jsonrpc":"2.0","id":${n},"method":"ping"}`
      : `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":${n},"b":${n}}}}`) };
  }],
  ['wrong types', (r) => {
    const t = r.pick(TEMPLATES);
    const msg = withField(t, r.pick(paths(t)), r.pick(WEIRD));
    return { msg, body: Buffer.from(JSON.stringify(msg)) };
  }],
  ['unknown method', (r) => {
    const msg = { jsonrpc: '2.0', id: r.int(1000), method: r.pick(['foo', 'tools/explode', 'rpc.x', '', 'notifications/x', 'initialize/x']), params: {} };
    return { msg, body: Buffer.from(JSON.stringify(msg)) };
  }],
  ['batch', (r) => {
    const items = Array.from({ length: r.int(6) }, () => r.pick([...TEMPLATES, 1, 'x', null, [], {}, { jsonrpc: '2.0' }]));
    return { body: Buffer.from(JSON.stringify(r.int(8) ? items : [items])) };
  }],
  ['id types', (r) => {
    const msg = { jsonrpc: '2.0', id: r.pick(WEIRD), method: r.pick(['ping', 'tools/list', 'nope']) };
    return { msg, body: Buffer.from(JSON.stringify(msg)) };
  }],
  ['invalid utf-8', (r) => {
    const bad = r.pick([[0xff], [0xc3, 0x28], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]);
    const s = JSON.stringify(r.pick(TEMPLATES));
    const at = s.indexOf('"', r.int(s.length)) + 1 || 1;
    return { body: Buffer.concat([Buffer.from(s.slice(0, at)), Buffer.from(bad), Buffer.from(s.slice(at))]) };
  }],
  ['mutated', (r) => ({ body: mutate(r, Buffer.from(JSON.stringify(r.pick(TEMPLATES)))) })],
];

// ---- the inputs -------------------------------------------------------------
// An input: { name, chunks: [Buffer], delayMs, abort, count, statuses, jsonrpc }.
// abort: the client gives up after writing (nothing to check but survival);
// count: responses to wait for (Infinity: until the server closes).

function split(r, buf) {
  const out = [];
  for (let i = 0; i < buf.length;) {
    const n = 1 + r.int(7);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

function generators(ctx) {
  const host = { Host: `127.0.0.1:${ctx.port}` };
  const TARGETS = ['/', '/healthz', '/hello/x', '/mcp', '/sse', `/messages?sessionId=${ctx.legacy}`, '/events', '/publish/fuzz', '/nope'];
  const valid = (r) => r.pick([
    [request('GET', '/healthz', host), [200]],
    [request('GET', '/hello/fuzz', host), [200]],
    [request('POST', '/publish/fuzz', host, 'hi'), [202]],
    [request('POST', '/mcp', { ...host, 'Content-Type': 'application/json', Accept: ACCEPT, 'Mcp-Session-Id': ctx.sid, 'MCP-Protocol-Version': '2025-11-25' },
      JSON.stringify(TEMPLATES[6])), [200]],
    [request('POST', `/messages?sessionId=${ctx.legacy}`, { ...host, 'Content-Type': 'application/json' }, '{"jsonrpc":"2.0","id":1,"method":"ping"}'), [202]],
  ]);
  const one = (name, bytes, statuses, extra = {}) => ({ name, chunks: [bytes], statuses, count: 1, ...extra });

  // Where a JSON-RPC body goes, with the headers its transport expects.
  const rpc = (r, { body, msg }) => {
    const form = r.int(3);
    if (form === 0) {
      return { path: '/mcp', headers: { ...host, 'Content-Type': 'application/json', Accept: ACCEPT, 'Mcp-Session-Id': ctx.sid, 'MCP-Protocol-Version': '2025-11-25' }, statuses: [200, 202, 400, 413] };
    }
    if (form === 1) return { path: `/messages?sessionId=${ctx.legacy}`, headers: { ...host, 'Content-Type': 'application/json' }, statuses: [202, 400, 413] };
    // 2026-07-28: _meta added and the headers mirrored, so bad fields get past the header checks.
    let b = body;
    const h = { ...host, 'Content-Type': 'application/json', Accept: ACCEPT, 'MCP-Protocol-Version': '2026-07-28' };
    if (msg && typeof msg === 'object' && !Array.isArray(msg)) {
      const m = structuredClone(msg);
      if (m.params && typeof m.params === 'object' && !Array.isArray(m.params)) m.params._meta = { ...STATELESS_META, ...m.params._meta };
      b = Buffer.from(JSON.stringify(m));
      const printable = (v) => typeof v === 'string' && /^[\x21-\x7e]+$/.test(v);
      if (printable(m.method)) h['Mcp-Method'] = m.method;
      const name = m.params?.name ?? m.params?.uri;
      if (printable(name)) h['Mcp-Name'] = name;
    }
    return { path: '/mcp', headers: h, statuses: [200, 202, 400, 404, 413], body: b };
  };

  return [
    // HTTP level
    (r) => one('truncated head held open', request('GET', r.pick(TARGETS), host).subarray(0, 1 + r.int(20)), [408], CLOSES),
    (r) => one('bad method', request(r.pick(['GETT', 'G@T', 'PATCH', 'PROPFIND', 'BREW', '', 'get', 'P\0ST', 'CONNECT']), r.pick(TARGETS), host), [400, 404, 405, 501]),
    (r) => one('bad version', request('GET', r.pick(TARGETS), host, null, r.pick(['HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'HTTX/1.1', 'HTTP/1.1x', 'HTTP/1', 'HTTP/9.9', ''])), [400, 505], CLOSES),
    (r) => one('bad request target', Buffer.from(`GET ${r.pick(['', '*', 'x', '//', '/%zz', '/\x7f', '/a b', 'http://evil/x', '/?' + 'q'.repeat(20000)])} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 'latin1'), [400, 404, 431]),
    (r) => one('huge header', request('GET', r.pick(TARGETS), { ...host, 'X-Big': 'a'.repeat(16384 + r.int(30000)) }), [431], CLOSES),
    (r) => {
      const hs = { ...host };
      for (let i = 0; i < 120 + r.int(200); i++) hs[`X-H${i}`] = 'v';
      return one('many headers', request('GET', '/healthz', hs), [200, 431]);
    },
    (r) => {
      const dup = r.pick([['Host', 'evil.example'], ['Content-Length', '3'], ['Transfer-Encoding', 'chunked'], ['Mcp-Session-Id', 'x'], ['Content-Type', 'text/plain']]);
      const head = `POST ${r.pick(TARGETS)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n${dup[0]}: ${dup[1]}\r\n\r\n{}`;
      return one('duplicated header', Buffer.from(head), HTTP_OK);
    },
    (r) => one('obs-fold', Buffer.from(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: b\r\n${r.pick([' ', '\t'])}c\r\n\r\n`), [200, 400]),
    (r) => {
      const at = r.pick(['name', 'value', 'target']);
      const s = at === 'name' ? 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-\0A: b\r\n\r\n'
        : at === 'value' ? 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: b\0c\r\n\r\n' : 'GET /\0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
      return one('NUL in head', Buffer.from(s, 'latin1'), [400], CLOSES);
    },
    (r) => {
      const te = r.pick(['chunked', 'gzip, chunked', 'chunked, gzip', 'identity', 'chunked\r\nTransfer-Encoding: chunked', 'xchunked']);
      return one('Content-Length with Transfer-Encoding', Buffer.from(`POST /publish/fuzz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: ${te}\r\n\r\n0\r\n\r\n`), [400, 501], CLOSES);
    },
    (r) => {
      // '3\r\nabcdef': Debian's llhttp reads on as a chunk of size "ef" unless built strict (CMakeLists.txt).
      const size = r.pick(['zz', '-1', 'fffffffffffffffffff', '1;' + 'x'.repeat(5000), '3\r\nabcdef', '3\r\nab', ' 3', '0x3']);
      return one('bad chunk size', Buffer.from(`POST /publish/fuzz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\n\r\n0\r\n\r\n`), [400, 413], CLOSES);
    },
    (r) => one('bad Content-Length', Buffer.from(`POST /publish/fuzz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${r.pick(['-1', 'abc', '1e3', '99999999999999999999999', '5, 6', ' ', '0x10'])}\r\n\r\nhello`), [400, 413], CLOSES),
    (r) => one('body longer than Content-Length', request('POST', '/publish/fuzz', { ...host, 'Content-Length': 2 }, 'hi' + r.bytes(1 + r.int(40)).toString('latin1').replace(/[\r\n]/g, 'x') + 'Z'), HTTP_OK, CLOSES),
    (r) => ({ name: 'body shorter than Content-Length, then gone', chunks: [request('POST', '/publish/fuzz', { ...host, 'Content-Length': 100 }, 'short')], abort: true }),
    (r) => one('body shorter than Content-Length, held open', request('POST', '/publish/fuzz', { ...host, 'Content-Length': 100 }, 'short'), [408], CLOSES),
    (r) => {
      const [req, st] = valid(r);
      return one('pipelined garbage after a valid request', Buffer.concat([req, Buffer.from('X'), r.bytes(r.int(64))]), [...new Set([...st, 400, 408])], CLOSES);
    },
    (r) => {
      const [req, st] = valid(r);
      return { name: 'valid request in tiny writes', chunks: split(r, req), delayMs: r.int(2), statuses: st, count: 1 };
    },
    (r) => {
      const [req] = valid(r);
      return { name: 'abrupt close mid-request', chunks: [req.subarray(0, r.int(req.length))], abort: true };
    },
    (r) => ({ name: 'slowloris then close', chunks: split(r, request('GET', '/healthz', host).subarray(0, 10 + r.int(20))), delayMs: 5, abort: true }),
    // JSON-RPC / MCP level
    ...BODIES.map(([name, make]) => (r) => {
      const b = make(r);
      const t = rpc(r, b);
      return one(`json-rpc: ${name}`, request('POST', t.path, t.headers, t.body ?? b.body), t.statuses, { jsonrpc: true });
    }),
    // stream level
    (r) => {
      const sid = r.pick(['', 'x', 'a'.repeat(22), 'Z'.repeat(3000), '../../etc', '%00', r.bytes(16).toString('base64url'), ctx.sid + 'x']);
      const h = { ...host, Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' };
      return one('GET /mcp with a bad session', request(r.pick(['GET', 'DELETE']), '/mcp', h), [400, 404]);
    },
    (r) => {
      const h = { ...host, Accept: 'text/event-stream', 'Mcp-Session-Id': ctx.sid, 'Last-Event-ID': r.pick(['', 'x', '0-', '-1', '99-1', '0-99999999999999999999', '1.2-3', 'a.0-1', '0-1-2', ' 0-1', '\u00ff']) };
      return one('GET /mcp with a bad Last-Event-ID', request('GET', '/mcp', h), [200, 400]);
    },
    (r) => {
      const h = { ...host, Accept: 'text/event-stream', 'Last-Event-ID': r.pick(['', 'x', 'abc.0-1', `${'a'.repeat(22)}.0-5`, '.', '-.-', '0-0', 'ffffff-1', 'zz-zz', '1'.repeat(3000)]) };
      return one('GET stream with a bad Last-Event-ID', request('GET', r.pick(['/sse', '/events']), h), [200, 400]);
    },
  ];
}

// ---- the runner -------------------------------------------------------------

// Complete responses in `text` so far. An SSE head counts as a whole response:
// the stream has started, the rest is not this test's business.
function responses(text, closed) {
  const out = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return { out, rest };
    const lines = rest.slice(0, end).split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) [\x20-\x7e]*$/.exec(lines[0]);
    if (!m) throw new Error(`malformed status line ${JSON.stringify(lines[0])}`);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i <= 0) throw new Error(`malformed header line ${JSON.stringify(l)}`);
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const res = { status: Number(m[1]), headers, body: '' };
    let after = rest.slice(end + 4);
    if (headers['content-type'] === 'text/event-stream') { out.push(res); return { out, rest: '' }; }
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (after.length < n) return { out, rest };
      res.body = after.slice(0, n);
      after = after.slice(n);
    } else if (res.status >= 200 && res.status !== 204 && res.status !== 304) {
      if (!closed) return { out, rest };
      res.body = after;
      after = '';
    }
    if (res.status !== 100) out.push(res);
    rest = after;
  }
}

function exchange(port, input) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    let finished = false;
    const finish = (timedOut) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      try {
        resolve({ ...responses(text, closed), closed, timedOut });
      } catch (e) {
        resolve({ error: e.message, out: [], closed, timedOut });
      }
    };
    const timer = setTimeout(() => finish(true), ANSWER_MS);
    sock.on('data', (d) => {
      text += d.toString('latin1');
      try {
        if (responses(text, false).out.length >= input.count) finish(false);
      } catch { finish(false); }
    });
    sock.on('close', () => { closed = true; finish(false); });
    sock.on('error', () => {});
    sock.on('connect', async () => {
      for (const c of input.chunks) {
        if (sock.destroyed) return;
        sock.write(c);
        if (input.delayMs) await sleep(input.delayMs);
        else if (input.chunks.length > 1) await new Promise((r) => setImmediate(r));
      }
      if (input.abort) finish(false);
    });
  });
}

// What is wrong with the answer to `input`, or null.
function verdict(input, res) {
  if (input.abort) return null;
  if (res.error) return res.error;
  if (res.timedOut && !res.out.length) return `no answer within ${ANSWER_MS} ms`;
  if (!res.out.length) return `connection closed without a response${res.rest ? ' (partial: ' + JSON.stringify(res.rest.slice(0, 200)) + ')' : ''}`;
  if (res.timedOut && input.count === Infinity) return `connection left open after ${res.out.map((x) => x.status)}`;
  for (const r of res.out) {
    if (!input.statuses.includes(r.status)) return `status ${r.status}: ${r.body.slice(0, 300)}`;
    if (!/^application\/json/.test(r.headers['content-type'] ?? '') || !r.body) continue;
    let body;
    try { body = JSON.parse(Buffer.from(r.body, 'latin1').toString('utf8')); } catch { return `unparseable JSON body: ${r.body.slice(0, 200)}`; }
    if (!input.jsonrpc) continue;
    for (const msg of Array.isArray(body) ? body : [body]) {
      if (msg?.jsonrpc !== '2.0' || ('result' in msg) === ('error' in msg)) return `not a JSON-RPC response: ${r.body.slice(0, 200)}`;
      if (r.status >= 400 && !(Number.isInteger(msg.error?.code) && typeof msg.error.message === 'string')) return `${r.status} without a JSON-RPC error: ${r.body.slice(0, 200)}`;
    }
  }
  return null;
}

async function post(srv, p, body, headers = {}) {
  const res = await fetch(srv.url(p), { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: ACCEPT, ...headers }, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function initialize(srv) {
  const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'fuzz', version: '1' } } });
  const res = await post(srv, '/mcp', init);
  assert.equal(res.status, 200);
  const sid = res.headers.get('mcp-session-id');
  const h = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' };
  assert.equal((await post(srv, '/mcp', '{"jsonrpc":"2.0","method":"notifications/initialized"}', h)).status, 202);
  return { sid, h };
}

async function openLegacy(srv) {
  const st = await openStream(srv.port, '/sse');
  await waitFor(st, () => st.events.some((e) => e.event === 'endpoint'));
  return { st, sid: /sessionId=([\w-]+)/.exec(st.events.find((e) => e.event === 'endpoint').data)[1] };
}

// The findings of the seeded run, each on its own.
describe('robustness: regressions', () => {
  let srv;
  before(async () => {
    srv = await startServer({ scripts: [path.join(ROOT, 'examples/hello')], env: { LOG_LEVEL: 'info' } });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  const host = () => ({ Host: `127.0.0.1:${srv.port}` });
  const closes = (bytes) => exchange(srv.port, { chunks: [bytes], count: Infinity });

  // A subscriber gone while its gap notice was written (the send closed it)
  // was pumped after being unsubscribed: NULL channel (or session), UBSan,
  // then SIGSEGV.
  // A race: 16 clients that drop the connection as soon as the SSE head
  // arrives hit it within ~1000 resumes before the fix.
  it('clients that reset right after the SSE head of a resume with a gap do not crash the server', async () => {
    const { h } = await initialize(srv);
    let n = 0;
    // Both kinds of stream: a channel, and an MCP session resumed past its newest event.
    const resume = (i) => new Promise((resolve) => {
      const sock = net.connect(srv.port, '127.0.0.1');
      sock.on('error', () => {});
      sock.on('close', resolve);
      sock.once('data', () => sock.resetAndDestroy());
      sock.write(i % 2 ? request('GET', '/events', { ...host(), 'Last-Event-ID': `zz-${i}` })
        : request('GET', '/mcp', { ...host(), ...h, Accept: 'text/event-stream', 'Last-Event-ID': `0-${1e6 + i}` }));
    });
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (n < 2000 && srv.child.exitCode === null) await resume(n++);
    }));
    assertClean(srv);
    assert.equal((await fetch(srv.url('/healthz'))).status, 200);
  });

  // strtod makes 1e400 inf, which no response could carry: the request went unanswered.
  it('a number beyond a double is a parse error on every transport', async () => {
    const init = await post(srv, '/mcp', JSON.stringify(TEMPLATES[0]));
    const legacy = await openLegacy(srv);
    const cases = [
      ['/mcp', { 'MCP-Protocol-Version': '2026-07-28' }],
      ['/mcp', { 'Mcp-Session-Id': init.headers.get('mcp-session-id'), 'MCP-Protocol-Version': '2025-11-25' }],
      [`/messages?sessionId=${legacy.sid}`, {}],
    ];
    for (const [p, h] of cases) {
      const res = await post(srv, p, '{"jsonrpc":"2.0","id":1e400,"method":"ping"}', h);
      assert.equal(res.status, 400, p);
      assert.equal(JSON.parse(res.text).error.code, -32700, p);
    }
    closeStream(legacy.st);
  });

  it('an HTTP/2.0 or HTTP/0.9 request line is 505, then the connection closes', async () => {
    for (const v of ['HTTP/2.0', 'HTTP/0.9']) {
      const res = await closes(request('GET', '/healthz', host(), null, v));
      assert.deepEqual([res.out.map((x) => x.status), res.closed], [[505], true], v);
    }
  });

  // Debian's llhttp is lenient unless built strict: "abcdef" after a chunk of 3 read on as a chunk of size "ef".
  it('chunk data longer than its size is 400, then the connection closes', async () => {
    const res = await closes(request('POST', '/publish/fuzz', { ...host(), 'Transfer-Encoding': 'chunked' }, '3\r\nabcdef\r\n0\r\n\r\n'));
    assert.deepEqual([res.out.map((x) => x.status), res.closed], [[400], true]);
  });
});

describe('robustness: seeded bad input', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      scripts: [path.join(ROOT, 'examples/hello'), scriptsDir({ 'notify.lua': NOTIFY })],
      env: { LOG_LEVEL: 'info', HEADER_TIMEOUT_MS: String(HEADER_TIMEOUT_MS), BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS), SSE_HEARTBEAT_INTERVAL: '1' },
    });
  });
  after(async () => { assert.equal((await srv.stop()).code, 0); });

  it(`answers ${INPUTS} hostile inputs, stays up, and loses no event of the well-behaved clients`, { timeout: 120000 }, async () => {
    // The well-behaved clients.
    const channel = await openStream(srv.port, '/events');
    const mcp = await initialize(srv);
    const mcpStream = await openStream(srv.port, '/mcp', mcp.h);
    assert.equal(mcpStream.status, 200);
    const legacy = await openLegacy(srv);
    // The fuzzer's own sessions, so the bad input reaches session code.
    const fuzzMcp = await initialize(srv);
    const fuzzLegacy = await openLegacy(srv);

    let running = true;
    let published = 0;
    const publisher = (async () => {
      while (running) {
        const n = ++published;
        assert.equal((await post(srv, '/publish/ticks', `p${n}`)).status, 202);
        assert.equal((await post(srv, `/notify/${mcp.sid}`, String(n))).status, 202);
        const call = JSON.stringify({ jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'add', arguments: { a: n, b: 0 } } });
        assert.equal((await post(srv, `/messages?sessionId=${legacy.sid}`, call)).status, 202);
        await sleep(50);
      }
    })();

    const r = prng(SEED);
    const gens = generators({ port: srv.port, sid: fuzzMcp.sid, legacy: fuzzLegacy.sid });
    const inputs = Array.from({ length: INPUTS }, () => gens[r.int(gens.length)](r));
    const failures = [];
    let next = 0;
    await Promise.all(Array.from({ length: WORKERS }, async () => {
      while (next < inputs.length) {
        const i = next++;
        const why = verdict(inputs[i], await exchange(srv.port, inputs[i]));
        if (why) failures.push(`#${i} ${inputs[i].name}: ${why}\n  sent ${JSON.stringify(Buffer.concat(inputs[i].chunks).toString('latin1').slice(0, 300))}`);
      }
    }));
    running = false;
    await publisher;

    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${INPUTS} inputs answered wrongly`);
    assert.equal(srv.child.exitCode, null, 'server still running');
    assertClean(srv);
    assert.equal((await fetch(srv.url('/healthz'))).status, 200);

    // Every published event arrived, in order, with no gap.
    const want = Array.from({ length: published }, (_, i) => i + 1);
    const messages = () => channel.events.filter((e) => e.event === 'message');
    await waitFor(channel, () => messages().length >= published);
    assert.deepEqual(messages().map((e) => e.data), want.map((n) => `p${n}`));
    const notes = () => mcpStream.events.filter((e) => e.data).map((e) => JSON.parse(e.data));
    await waitFor(mcpStream, () => notes().length >= published);
    assert.deepEqual(notes().map((m) => m.params.data), want);
    const replies = () => legacy.st.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data)).filter((m) => m.id > 0);
    await waitFor(legacy.st, () => replies().length >= published);
    assert.deepEqual(replies().map((m) => [m.id, m.result?.content?.[0]?.text]), want.map((n) => [n, String(n)]));
    for (const st of [channel, mcpStream, legacy.st]) {
      assert.ok(!st.events.some((e) => e.event === 'gap'), 'no gap event');
      assert.ok(!st.closed, 'stream still open');
    }
    // What the fuzzer's legacy session got back is JSON-RPC too.
    for (const e of fuzzLegacy.st.events.filter((ev) => ev.event === 'message')) {
      const msg = JSON.parse(Buffer.from(e.data, 'latin1').toString('utf8'));
      assert.ok(msg.jsonrpc === '2.0' && ('result' in msg) !== ('error' in msg), e.data.slice(0, 200));
    }
    for (const st of [channel, mcpStream, legacy.st, fuzzLegacy.st]) closeStream(st);
  });
});
