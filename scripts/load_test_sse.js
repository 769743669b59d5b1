#!/usr/bin/env node
// Quick SSE load run against any URL, with nothing but Node >= 18: opens N
// EventSource-like fetch streams (reconnecting with Last-Event-ID after the
// server's retry: delay, as EventSource does), counts events, heartbeat
// comment lines, bytes and errors, and prints one JSON summary line when
// --duration is over. For measurements (latency, loss, storms, >1k streams)
// use build/mw-loadgen; this is the no-build sanity check.
//
//   node scripts/load_test_sse.js --url http://127.0.0.1:3001/sub/demo -n 100 --duration 10
//   node scripts/load_test_sse.js --url http://127.0.0.1:3001/sub/demo -H 'Authorization: Bearer x'

function usage(msg) {
  if (msg) process.stderr.write(`load_test_sse: ${msg}\n`);
  process.stderr.write('usage: load_test_sse.js --url URL [-n N] [--duration S] [--ramp-ms MS] [-H "Name: value"]...\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { url: null, n: 10, duration: 10, rampMs: 1, headers: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    if (a === '--url') o.url = val();
    else if (a === '-n') o.n = Number(val());
    else if (a === '--duration') o.duration = Number(val());
    else if (a === '--ramp-ms') o.rampMs = Number(val());
    else if (a === '-H') {
      const h = val();
      const c = h.indexOf(':');
      if (c <= 0) usage(`bad header: ${h}`);
      o.headers[h.slice(0, c).trim()] = h.slice(c + 1).trim();
    } else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument: ${a}`);
  }
  if (!o.url) usage('--url is required');
  try {
    const u = new URL(o.url);
    if (!/^https?:$/.test(u.protocol)) usage('--url must be http(s)');
  } catch { usage(`bad URL: ${o.url}`); }
  if (!Number.isInteger(o.n) || o.n < 1) usage('-n must be a positive integer');
  if (!(o.duration > 0)) usage('--duration must be > 0');
  if (!(o.rampMs >= 0)) usage('--ramp-ms must be >= 0');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const stats = { opened: 0, events: 0, heartbeats: 0, bytes: 0, reconnects: 0, errors: {}, gapsMs: [] };
const stop = new AbortController();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function countError(reason) {
  stats.errors[reason] = (stats.errors[reason] || 0) + 1;
}

// One stream: connect, parse, reconnect until the run ends.
async function stream() {
  let lastId = null;
  let retryMs = 1000;
  let first = true;
  while (!stop.signal.aborted) {
    if (!first) {
      stats.reconnects++;
      await sleep(retryMs);
      if (stop.signal.aborted) return;
    }
    first = false;
    const headers = { Accept: 'text/event-stream', 'Cache-Control': 'no-cache', ...opts.headers };
    if (lastId !== null) headers['Last-Event-ID'] = lastId;
    let res;
    try {
      res = await fetch(opts.url, { headers, signal: stop.signal });
    } catch (e) {
      if (!stop.signal.aborted) countError(`connect: ${e.cause?.code || e.message}`);
      continue;
    }
    if (res.status !== 200) {
      countError(`http_${res.status}`);
      await res.body?.cancel().catch(() => {});
      continue;
    }
    stats.opened++;
    const decoder = new TextDecoder();
    let buf = '';
    let hasData = false;
    let lastBeat = 0;
    try {
      for await (const chunk of res.body) {
        stats.bytes += chunk.length;
        buf += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          let line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (line === '') {
            if (hasData) stats.events++;
            hasData = false;
          } else if (line[0] === ':') {
            const now = performance.now();
            stats.heartbeats++;
            if (lastBeat) stats.gapsMs.push(now - lastBeat);
            lastBeat = now;
          } else {
            const c = line.indexOf(':');
            const field = c < 0 ? line : line.slice(0, c);
            const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
            if (field === 'data') hasData = true;
            else if (field === 'id') lastId = value;
            else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
          }
        }
      }
      if (!stop.signal.aborted) countError('eof');
    } catch (e) {
      if (!stop.signal.aborted) countError(`reset: ${e.cause?.code || e.message}`);
    }
  }
}

function pct(sorted, q) {
  if (!sorted.length) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);
}

// No top-level await: the file runs as CommonJS or as a module alike.
async function main() {
  const started = performance.now();
  const runs = [];
  for (let i = 0; i < opts.n; i++) {
    runs.push(stream());
    if (opts.rampMs) await sleep(opts.rampMs);
  }
  const left = opts.duration * 1000 - (performance.now() - started);
  await sleep(Math.max(0, left));
  stop.abort();
  await Promise.allSettled(runs);
  const gaps = stats.gapsMs.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({
    url: opts.url, n: opts.n, duration_s: opts.duration, opened: stats.opened, reconnects: stats.reconnects,
    events: stats.events, heartbeats: stats.heartbeats, bytes: stats.bytes, errors: stats.errors,
    heartbeat_gap_ms: { count: gaps.length, p50: pct(gaps, 0.5), p99: pct(gaps, 0.99), max: pct(gaps, 1) },
  }) + '\n');
}

main();
