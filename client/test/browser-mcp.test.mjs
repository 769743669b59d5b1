// client/mcp-client.js in headless Chromium (playwright-core driving Debian's chromium), used
// the way a web app uses it: the page comes from one origin (a static server in this file) and
// talks to Moonwire on another, configured with CORS_ALLOW_ORIGINS and ALLOWED_ORIGINS for that
// page. In both revisions the page calls `countdown` with progress, `add` and tools/list; in
// 2025-11-25 a POST stream cut mid-call is resumed by GET with Last-Event-ID; then the server is
// stopped under a connected client, calls wait, and a new server on the same port answers them.
// Last, examples/dashboard's page must show live figures, with no console error, and a
// screenshot of it is saved as a test artifact. The whole file takes about 6 s.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, ROOT } from '../../spec/integration/lib/harness.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const HELLO = path.join(ROOT, 'examples/hello');
const DASHBOARD = path.join(ROOT, 'examples/dashboard');
const ARTIFACT = path.join(ROOT, 'build-test/artifacts/dashboard.png');
const SESSION = '2025-11-25';
const STATELESS = '2026-07-28';

// The web app: its page drives one McpClient at a time through window.mwTest, which records
// what a user of the client would see (progress, results, state changes, events).
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>McpClient across origins</title>
<link rel="icon" href="data:,"></head>
<body><pre id="log"></pre>
<script type="module">
import { McpClient } from '/client/mcp-client.js';

const log = (line) => { document.getElementById('log').textContent += line + '\\n'; };
const text = (res) => res.content.map((c) => c.text).join('');
const fast = { initialRetryMs: 50, maxRetryMs: 300, jitter: false, requestTimeoutMs: 15000 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const t = window.mwTest = { ready: true, client: null, states: [], events: [], calls: [], fetches: [] };

// The browser's fetch, except that the first POST answered with an event stream is cut after
// the read that brought its second progress event, as a dropped connection would cut it.
function cuttingFetch() {
  let armed = true;
  return async (url, init = {}) => {
    const entry = { method: init.method || 'GET', lastEventId: new Headers(init.headers).get('last-event-id'),
      status: 0, cut: false };
    t.fetches.push(entry);
    const res = await fetch(url, init);
    entry.status = res.status;
    if (!armed || entry.method !== 'POST' || !(res.headers.get('content-type') || '').startsWith('text/event-stream')) return res;
    armed = false;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let seen = '';
    const body = new ReadableStream({
      async pull(ctrl) {
        if (entry.cut) {
          reader.cancel().catch(() => {});
          ctrl.error(new TypeError('connection cut by the test'));
          return;
        }
        const r = await reader.read();
        if (r.done) { ctrl.close(); return; }
        seen += decoder.decode(r.value, { stream: true });
        // Delivered whole, so the client holds an event id to resume from however reads split.
        entry.cut = seen.split('notifications/progress').length > 2;
        ctrl.enqueue(r.value);
      },
      cancel() { return reader.cancel(); },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
}

t.open = (url, protocolVersion, { cut = false } = {}) => {
  const client = new McpClient(url, { ...fast, protocolVersion, ...(cut ? { fetch: cuttingFetch() } : {}) });
  t.fetches = [];
  t.client = client;
  t.states = [];
  t.events = [];
  t.calls = [];
  client.addEventListener('statechange', (e) => { t.states.push(e.state); log('state ' + e.state); });
  for (const type of ['sessionexpired', 'reinitialized', 'resume', 'gap', 'error']) {
    client.addEventListener(type, (e) => t.events.push({ type, reason: e.reason ?? (e.error && e.error.reason) ?? null,
      message: e.error ? String(e.error.message) : undefined, sessionId: e.sessionId ?? null }));
  }
  // A request CORS refuses fails like a network error, which connect() retries for ever.
  let timer;
  const limit = new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(
    'connect() did not finish in 5 s: ' + JSON.stringify(t.events.filter((e) => e.type === 'error').slice(-3)))), 5000); });
  return Promise.race([client.connect(), limit]).finally(() => clearTimeout(timer))
    .catch(async (e) => { await client.close(); throw e; });
};

// Progress and result of one countdown, as the page's user sees them.
t.countdown = async (n) => {
  const progress = [];
  const res = await t.client.callTool('countdown', { n }, { onProgress: (p) => progress.push(p) });
  log('countdown ' + text(res));
  return { progress, text: text(res), isError: !!res.isError };
};

// The first scenario: connect, countdown with progress, add, tools/list, close.
t.scenario = async (url, protocolVersion) => {
  const info = await t.open(url, protocolVersion);
  try {
    const out = { info: { protocolVersion: info.protocolVersion, sessionId: info.sessionId,
      serverName: info.serverInfo && info.serverInfo.name } };
    if (protocolVersion === '${SESSION}') {
      // The GET stream is part of being connected in a session revision.
      for (let i = 0; i < 100 && t.client.standaloneStream && t.client.standaloneStream.state !== 'open'; i++) await sleep(20);
      out.getStream = t.client.standaloneStream ? t.client.standaloneStream.state : null;
    }
    out.countdown = await t.countdown(5);
    out.add = text(await t.client.callTool('add', { a: 2, b: 3 }));
    out.tools = (await t.client.listTools()).tools.map((tool) => tool.name).sort();
    out.state = t.client.state;
    out.events = t.events;
    return out;
  } finally {
    await t.client.close();
  }
};

// A call made now settles into t.calls[i]; the test waits on it from outside.
t.call = (kind, ...args) => {
  const slot = { state: 'pending' };
  t.calls.push(slot);
  const run = kind === 'countdown' ? t.countdown(...args) : t.client.callTool(kind, ...args).then(text);
  run.then((value) => { slot.state = 'ok'; slot.value = value; },
    (e) => { slot.state = 'error'; slot.value = String(e && e.message) + ' ' + String(e && e.reason); });
  return t.calls.length - 1;
};

// 2025-11-25: a POST stream cut mid-call is resumed with GET + Last-Event-ID.
t.resumeScenario = async (url) => {
  await t.open(url, '${SESSION}', { cut: true });
  try {
    const countdown = await t.countdown(5);
    return { countdown, events: t.events, fetches: t.fetches };
  } finally {
    await t.client.close();
  }
};

t.view = () => ({ state: t.client.state, queued: t.client.queued, sessionId: t.client.sessionId,
  getStream: t.client.standaloneStream ? t.client.standaloneStream.state : null,
  states: t.states, events: t.events, calls: t.calls });

t.close = () => t.client && t.client.close();
</script>
</body></html>
`;

// The app's own origin: a static server on another port than Moonwire's.
async function startStatic(files) {
  const server = http.createServer((req, res) => {
    const f = files[new URL(req.url, 'http://x').pathname];
    if (!f || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-store' }).end(f.body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    url: (p) => origin + p,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

// Chromium for one test; fn(page, consoleErrors, pageErrors) runs with it, and it is closed on
// every path.
async function withBrowser(fn) {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/install-deps.sh`);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1200, height: 900 },
    });
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(10000);
    const consoleErrors = [];
    const pageErrors = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${m.text()} (${m.location().url})`); });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    return await fn(page, consoleErrors, pageErrors);
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

// What a user sets to let the app's origin use the server from a browser.
const corsEnv = (origin) => ({ CORS_ALLOW_ORIGINS: origin, ALLOWED_ORIGINS: origin, LOG_LEVEL: 'info' });

// The session the page had is gone once close() sent DELETE.
async function sessionStatus(srv, sid) {
  const res = await fetch(srv.url('/mcp'), { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
      'mcp-session-id': sid, 'mcp-protocol-version': SESSION } });
  await res.text();
  return res.status;
}

const COUNTDOWN_5 = [1, 2, 3, 4, 5].map((i) => ({ progress: i, total: 5, message: `step ${i} of 5` }));

describe('McpClient in headless Chromium, page and server on different origins', () => {
  it('calls tools with progress in 2025-11-25 and 2026-07-28, and a call survives a server restart',
    { timeout: 22000 }, async () => {
      let app;
      const servers = [];
      try {
        app = await startStatic({
          '/': { type: 'text/html; charset=utf-8', body: PAGE },
          '/client/mcp-client.js': { type: 'text/javascript; charset=utf-8',
            body: fs.readFileSync(path.join(ROOT, 'client/mcp-client.js')) },
          '/client/sse-connection.js': { type: 'text/javascript; charset=utf-8',
            body: fs.readFileSync(path.join(ROOT, 'client/sse-connection.js')) },
        });
        let srv = await startServer({ scripts: [HELLO], env: corsEnv(app.origin) });
        servers.push(srv);
        const mcpUrl = srv.url('/mcp');
        assert.notEqual(new URL(mcpUrl).origin, app.origin);

        await withBrowser(async (page, consoleErrors, pageErrors) => {
          // A refused cross-origin request says why only in the console.
          const inPage = (fn, arg) => page.evaluate(fn, arg)
            .catch((e) => assert.fail(`${e.message}\nconsole: ${JSON.stringify(consoleErrors)}`));
          await page.goto(app.url('/'));
          await page.waitForFunction(() => window.mwTest && window.mwTest.ready)
            .catch((e) => assert.fail(`the page did not load: ${e.message} ${JSON.stringify(pageErrors)}`));

          // 2025-11-25: the session id is readable across origins, the GET stream opens.
          const s = await inPage(([u, v]) => window.mwTest.scenario(u, v), [mcpUrl, SESSION]);
          assert.equal(s.info.protocolVersion, SESSION);
          assert.match(s.info.sessionId || '', /^[A-Za-z0-9_-]{22}$/, 'Mcp-Session-Id must be exposed to the page');
          assert.equal(s.info.serverName, 'moonwire');
          assert.equal(s.getStream, 'open');
          assert.deepEqual(s.countdown.progress.map(({ progress, total, message }) => ({ progress, total, message })), COUNTDOWN_5);
          assert.deepEqual({ text: s.countdown.text, isError: s.countdown.isError }, { text: 'liftoff', isError: false });
          assert.equal(s.add, '5');
          assert.deepEqual(s.tools, ['add', 'countdown']);
          assert.equal(s.state, 'ready');
          assert.deepEqual(s.events, []);
          // close() reached the server: its DELETE passed the preflight too.
          assert.equal(await sessionStatus(srv, s.info.sessionId), 404);

          // A POST stream cut after two progress events: the page resumes it by GET with
          // Last-Event-ID and gets the rest of the progress and the result, each once.
          const r = await inPage((u) => window.mwTest.resumeScenario(u), mcpUrl);
          assert.deepEqual(r.countdown.progress.map((p) => p.progress), [1, 2, 3, 4, 5], JSON.stringify(r));
          assert.equal(r.countdown.text, 'liftoff');
          assert.equal(r.fetches.filter((f) => f.cut).length, 1, JSON.stringify(r.fetches));
          assert.deepEqual(r.events.map((e) => e.type), ['resume']);
          const resumed = r.fetches.filter((f) => f.method === 'GET' && f.lastEventId);
          assert.ok(resumed.length >= 1 && resumed.every((f) => f.status === 200), JSON.stringify(r.fetches));

          // 2026-07-28: no session; every request carries Mcp-Method and Mcp-Name.
          const x = await inPage(([u, v]) => window.mwTest.scenario(u, v), [mcpUrl, STATELESS]);
          assert.equal(x.info.protocolVersion, STATELESS);
          assert.equal(x.info.sessionId, null);
          assert.deepEqual(x.countdown.progress.map(({ progress, total, message }) => ({ progress, total, message })), COUNTDOWN_5);
          assert.equal(x.countdown.text, 'liftoff');
          assert.equal(x.add, '5');
          assert.deepEqual(x.tools, ['add', 'countdown']);
          assert.deepEqual(x.events, []);
          // A request CORS refused would show here as "blocked by CORS policy".
          assert.deepEqual(consoleErrors, []);
          assert.deepEqual(pageErrors, []);

          // The server goes away under a connected client; calls made meanwhile wait and reach
          // a new process on the same port.
          for (const version of [SESSION, STATELESS]) {
            await inPage(([u, v]) => window.mwTest.open(u, v), [mcpUrl, version]);
            const view = () => page.evaluate(() => window.mwTest.view());
            const before = await view();
            if (version === SESSION) {
              await page.waitForFunction(() => window.mwTest.view().getStream === 'open');
            }
            assert.equal((await srv.stop()).code, 0);
            const port = srv.port;
            await page.evaluate(() => { window.mwTest.call('countdown', 3); window.mwTest.call('add', { a: 40, b: 2 }); });
            await page.waitForFunction(() => { const v = window.mwTest.view();
              return v.queued === 2 && (v.state === 'disconnected' || v.state === 'reconnecting'); });
            srv = await startServer({ scripts: [HELLO], env: corsEnv(app.origin), args: ['--port', String(port)] });
            servers.push(srv);
            await page.waitForFunction(() => window.mwTest.calls.every((c) => c.state !== 'pending'), null, { timeout: 10000 });
            const after = await view();
            console.log(`# ${version} restart: states ${after.states.join(' > ')}; events ${after.events.map((e) => e.type).join(', ')}`);
            assert.deepEqual(after.calls.map((c) => c.state), ['ok', 'ok'], JSON.stringify(after));
            const [cd, add] = after.calls.map((c) => c.value);
            assert.deepEqual(cd.progress.map((p) => p.progress), [1, 2, 3]);
            assert.equal(cd.text, 'liftoff');
            assert.equal(add, '42');
            assert.equal(after.state, 'ready');
            assert.ok(after.states.includes('disconnected'), JSON.stringify(after.states));
            const reinit = after.events.filter((e) => e.type === 'reinitialized');
            if (version === SESSION) {
              // The new process knows no session: one re-initialize, and the GET stream is back.
              assert.equal(reinit.length, 1, JSON.stringify(after.events));
              assert.notEqual(after.sessionId, before.sessionId);
              await page.waitForFunction(() => window.mwTest.view().getStream === 'open');
            } else {
              assert.equal(reinit.length, 0);
            }
            await page.evaluate(() => window.mwTest.close());
          }
          // Only the outages may have left console errors: refused connections, and 404s to the
          // session the stopped server took with it.
          console.log(`# console errors during the outages: ${consoleErrors.length}`);
          const unexpected = consoleErrors.filter((m) => !/ERR_CONNECTION_REFUSED|status of 404/.test(m));
          assert.deepEqual(unexpected, []);
          assert.deepEqual(pageErrors, []);
        });
      } finally {
        if (app) await app.close();
        const exits = await Promise.all(servers.map((srv) => srv.stop()));
        assert.deepEqual(exits.map((e) => e.code), servers.map(() => 0));
      }
    });
});

describe('examples/dashboard in headless Chromium', () => {
  it('shows live figures that follow the server, without errors', { timeout: 15000 }, async () => {
    let srv;
    try {
      srv = await startServer({ scripts: [DASHBOARD, HELLO], env: { LOG_LEVEL: 'info' } });
      await withBrowser(async (page, consoleErrors, pageErrors) => {
        await page.goto(srv.url('/dashboard/'));
        const tile = (label) => page.locator('.tile', { has: page.locator('.label', { hasText: new RegExp(`^${label}$`) }) })
          .locator('.value');
        // Live: the stream is open and a fresh snapshot filled the tiles.
        await page.waitForFunction(() => document.getElementById('conn-text').textContent === 'Live'
          && /^\d+$/.test(document.getElementById('gen').textContent)
          && !document.body.classList.contains('stale'));
        assert.equal(await tile('Sessions').textContent(), '0');
        assert.equal(await page.textContent('#reload-text'), 'Scripts OK');
        assert.match(await page.textContent('#log'), /stream open/);

        // A session opened now shows up in a later snapshot.
        const res = await fetch(srv.url('/mcp'), { method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
            params: { protocolVersion: SESSION, capabilities: {}, clientInfo: { name: 'browser-mcp', version: '1' } } }) });
        await res.text();
        assert.equal(res.status, 200);
        await page.waitForFunction(() => [...document.querySelectorAll('.tile')]
          .some((t) => t.querySelector('.label').textContent === 'Sessions' && t.querySelector('.value').textContent === '1'),
        null, { timeout: 5000 });
        assert.equal(await page.textContent('#conn-text'), 'Live');
        assert.notEqual(await tile('SSE streams').textContent(), '0', 'the page\'s own stream counts');

        assert.deepEqual(consoleErrors, []);
        assert.deepEqual(pageErrors, []);
        await page.waitForTimeout(100); // let the frame that showed "1" paint
        fs.mkdirSync(path.dirname(ARTIFACT), { recursive: true });
        await page.screenshot({ path: ARTIFACT, fullPage: true });
        console.log(`# screenshot: ${ARTIFACT}`);
      });
    } finally {
      if (srv) assert.equal((await srv.stop()).code, 0);
    }
  });
});
