// Test harness: starts the real moonwire binary on an ephemeral 127.0.0.1
// port, speaks raw HTTP/SSE to it, and checks on exit that the process ended
// cleanly with no sanitizer report.
import { spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../../..');
export const BIN = process.env.MOONWIRE_BIN || path.join(ROOT, 'build-test/moonwire');

// Scratch directories, removed when the test process exits.
const scratch = [];
process.on('exit', () => {
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
});

export function tmpdir(prefix = 'mw-test-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratch.push(d);
  return d;
}

// Writes {name: source} files into a new temporary scripts directory.
export function scriptsDir(files) {
  const dir = tmpdir('mw-scripts-');
  for (const [name, src] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), src);
  return dir;
}

export async function startServer({ scripts = [], env = {}, args = [], expectFail = false } = {}) {
  const argv = ['--host', '127.0.0.1', '--port', '0', ...args];
  for (const s of scripts) argv.push('--scripts', s);
  const child = spawn(BIN, argv, {
    env: { ...process.env, LOG_LEVEL: 'debug', ...env,
      ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const srv = { child, stderr: '', stdout: '', port: 0, exited: null };
  child.stdout.on('data', (d) => { srv.stdout += d; });
  srv.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start:\n' + srv.stderr)), 10000);
    child.stderr.on('data', (d) => {
      srv.stderr += d;
      const m = /msg=listening .*port=(\d+)/.exec(srv.stderr);
      if (m && !srv.port) {
        srv.port = Number(m[1]);
        clearTimeout(timer);
        resolve();
      }
    });
    srv.exited.then(({ code }) => {
      clearTimeout(timer);
      if (expectFail) resolve(); else reject(new Error(`server exited ${code}:\n${srv.stderr}`));
    });
  });
  srv.url = (p = '/') => `http://127.0.0.1:${srv.port}${p}`;
  // Stops with SIGTERM; resolves to the exit status. Throws on a sanitizer report.
  srv.stop = async (signal = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const res = await srv.exited;
    assertClean(srv);
    return res;
  };
  return srv;
}

export function assertClean(srv) {
  const bad = /(AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer)/.exec(srv.stderr);
  if (bad) throw new Error('sanitizer report:\n' + srv.stderr);
}

// Sends raw bytes; resolves with everything received until the server
// closes or `idleMs` passes without data.
export function raw(port, data, { idleMs = 1500, chunks = null, chunkDelayMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let timer;
    const done = (closed) => { clearTimeout(timer); sock.destroy(); resolve({ text: buf.toString('latin1'), closed }); };
    const arm = () => { clearTimeout(timer); timer = setTimeout(() => done(false), idleMs); };
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); arm(); });
    sock.on('end', () => done(true));
    sock.on('close', () => done(true));
    sock.on('error', (e) => { if (e.code === 'ECONNRESET' || e.code === 'EPIPE') done(true); else reject(e); });
    sock.on('connect', async () => {
      arm();
      if (chunks) {
        for (const c of chunks) {
          if (sock.destroyed) return;
          sock.write(c);
          await sleep(chunkDelayMs);
        }
      } else if (data !== null) {
        sock.write(data);
      }
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Splits raw HTTP/1.1 response text into [{status, headers, body}] (handles
// Content-Length bodies; chunked bodies are decoded).
export function parseResponses(text) {
  const out = [];
  let rest = text;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.slice(0, end).split('\r\n');
    const status = Number(head[0].split(' ')[1]);
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    rest = rest.slice(end + 4);
    let body = '';
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = rest.slice(0, n);
      rest = rest.slice(n);
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const le = rest.indexOf('\r\n');
        if (le < 0) { rest = ''; break; }
        const size = parseInt(rest.slice(0, le), 16);
        if (size === 0) { rest = rest.slice(le + 4); break; }
        body += rest.slice(le + 2, le + 2 + size);
        rest = rest.slice(le + 2 + size + 2);
      }
    } else if (status !== 100 && status !== 204 && status !== 304) {
      body = rest;
      rest = '';
    }
    out.push({ status, headers, body });
  }
  return out;
}

// Parses SSE text into events {id, event, data, retry} and comments.
export function parseSSE(text) {
  const events = [];
  let comments = 0;
  for (const block of text.split(/\r\n\r\n|\n\n|\r\r/)) {
    if (!block) continue;
    const ev = { data: [] };
    let any = false;
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line.startsWith(':')) { comments++; continue; }
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') ev.data.push(value);
      else if (field === 'id' || field === 'event' || field === 'retry') ev[field] = value;
      else continue;
      any = true;
    }
    if (any) { ev.data = ev.data.join('\n'); events.push(ev); }
  }
  return { events, comments };
}

// An SSE client on a raw socket that records every event and comment with
// its arrival time. Resolves once the response head arrived.
export function openStream(port, pathAndQuery, headers = {}, { method = 'GET', body: reqBody = null } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const st = { sock, status: 0, headers: {}, events: [], comments: [], closed: false, raw: '' };
    let head = '';
    let gotHead = false;
    let body = '';
    let pending = '';
    const decodeChunks = () => {
      // Chunked decoding of whatever arrived so far.
      for (;;) {
        const le = pending.indexOf('\r\n');
        if (le < 0) return;
        const size = parseInt(pending.slice(0, le), 16);
        if (Number.isNaN(size)) return;
        if (size === 0) { pending = ''; return; }
        if (pending.length < le + 2 + size + 2) return;
        body += pending.slice(le + 2, le + 2 + size);
        pending = pending.slice(le + 2 + size + 2);
      }
    };
    const drain = () => {
      let idx;
      while ((idx = body.indexOf('\n\n')) >= 0) {
        const block = body.slice(0, idx);
        body = body.slice(idx + 2);
        const now = Date.now();
        const parsed = parseSSE(block + '\n\n');
        if (parsed.comments) st.comments.push(now);
        for (const e of parsed.events) { e.at = now; st.events.push(e); }
        st.onEvent?.();
      }
    };
    sock.on('data', (d) => {
      const s = d.toString('latin1');
      st.raw += s;
      if (!gotHead) {
        head += s;
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = head.slice(0, end).split('\r\n');
        st.status = Number(lines[0].split(' ')[1]);
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          st.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        gotHead = true;
        const rest = head.slice(end + 4);
        if (st.headers['transfer-encoding'] === 'chunked') { pending += rest; decodeChunks(); } else body += rest;
        drain();
        resolve(st);
        return;
      }
      if (st.headers['transfer-encoding'] === 'chunked') { pending += s; decodeChunks(); } else body += s;
      drain();
      // Bytes that complete no event (the terminating chunk) still matter to
      // predicates that look at st.raw.
      st.onEvent?.();
    });
    sock.on('close', () => { st.closed = true; st.onEvent?.(); if (!gotHead) reject(new Error('closed before head')); });
    sock.on('error', () => {});
    const all = { Host: `127.0.0.1:${port}`, Accept: 'text/event-stream', ...headers };
    if (reqBody !== null) all['Content-Length'] = Buffer.byteLength(reqBody);
    const hdrs = Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.write(`${method} ${pathAndQuery} HTTP/1.1\r\n${hdrs}\r\n${reqBody ?? ''}`);
  });
  // st.close() below
}

export function closeStream(st) { st.sock.destroy(); }

// Waits until pred() is true, polling on every event and every read (bounded by timeoutMs).
export function waitFor(st, pred, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    if (pred()) return resolve();
    const timer = setTimeout(() => { st.onEvent = null; reject(new Error('timed out waiting; got ' + JSON.stringify(st.events).slice(0, 500))); }, timeoutMs);
    st.onEvent = () => { if (pred()) { clearTimeout(timer); st.onEvent = null; resolve(); } };
  });
}
