// client/test_reconnection.html in headless Chromium (playwright-core driving Debian's chromium),
// served by the sanitized moonwire with MOONWIRE_TEST_ROUTES=1. The page's event stream goes
// through the fault-injecting proxy (fault-proxy.mjs: kills at random byte offsets, RST or FIN,
// a stall only the watchdog can detect, byte-splitting), and the test also clicks the page's own
// "Drop stream" and "Stall stream" buttons, which use the /_test/fault route. At least 10,000
// events across at least 50 forced disconnects must reach the page in order, each once, with no
// `gap`; then a screenshot of the page is saved as a test artifact.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, sleep, ROOT } from '../../spec/integration/lib/harness.mjs';
import { startFaultProxy } from './fault-proxy.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACT = path.join(ROOT, 'build-test/artifacts/test_reconnection.png');

const EVENTS = 10000;
const FAULTS = 50;
const BURST = 100;
const WINDOW = 2000;   // events outstanding at most, so the replay buffer never evicts what the page lacks
const PROXY_FAULTS = 45;
const DROPS = 10;      // "Drop stream" clicks that hit a live stream
const DROP_EVERY_MS = 300;
const WATCHDOG_MS = 2500;
const STALL_MS = WATCHDOG_MS + 2000; // bytes already in flight when it starts must not hide it

async function waitUntil(pred, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + (await what()));
    await sleep(20);
  }
}

const byReason = (errors) => errors.reduce((m, r) => ({ ...m, [r]: (m[r] || 0) + 1 }), {});

describe('test_reconnection.html in headless Chromium', () => {
  it('10,000 events across 50+ proxy faults and page drop/stall clicks arrive in order, once', { timeout: 90000 }, async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/install-deps.sh`);
    let srv;
    let proxy;
    let context;
    const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-chromium-'));
    try {
      srv = await startServer({
        env: { MOONWIRE_TEST_ROUTES: '1', SSE_BUFFER_SIZE: '20000', SSE_BUFFER_BYTES: '16777216',
          SSE_HEARTBEAT_INTERVAL: '1', SSE_RETRY_MS: '20', LOG_LEVEL: 'info' },
      });
      const channel = 'browser';
      const publish = async (count) => {
        const res = await fetch(srv.url(`/_test/publish?channel=${channel}&count=${count}`), { method: 'POST' });
        assert.equal(res.status, 200);
        return res.json();
      };
      // The page resumes after event 1 from its first request on: a proxy kill before its first
      // event arrived would otherwise reconnect with no Last-Event-ID and skip what was sent.
      const first = await publish(1);
      assert.equal(first.last, 1);

      // Every proxied connection is faulty until PROXY_FAULTS were forced (one of them a stall);
      // the page's drops come on top, and its stall comes after, when no proxy kill can cut it
      // short, so only the watchdog can end it.
      proxy = await startFaultProxy({ target: { port: srv.port }, seed: 0xb0055e, faultProbability: 1,
        maxFaults: PROXY_FAULTS, maxStalls: 1, stallMaxMs: 6000 });
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1200, height: 900 },
      });
      const page = context.pages()[0] || await context.newPage();
      const pageErrors = [];
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      const query = new URLSearchParams({ channel, stream: proxy.url(`/_test/events/${channel}`),
        lastEventId: first.last_id, watchdog: String(WATCHDOG_MS), initialRetryMs: '20',
        maxRetryMs: '100', resetAfterMs: '200' });
      await page.goto(srv.url('/_test/reconnection?' + query));
      const read = () => page.evaluate(() => ({ n: window.mwTest.received.length, state: window.mwTest.state,
        counts: window.mwTest.counts,
        drops: window.mwTest.actions.filter((a) => a.body.action === 'drop').length,
        stalls: window.mwTest.actions.filter((a) => a.body.action === 'stall').length,
        hits: window.mwTest.actions.filter((a) => a.body.streams > 0).map((a) => a.body.action) }));
      await page.fill('#stallMs', String(STALL_MS));
      await waitUntil(async () => (await read()).state === 'open', 10000, async () => JSON.stringify(await read()));

      let sent = 1;
      let snap = await read();
      const routeFaults = () => snap.hits.length;
      const status = () => `sent=${sent} got=${snap.n} proxy=${JSON.stringify(proxy.stats)} `
        + `route=${JSON.stringify(snap.hits)} page=${JSON.stringify(snap.counts)} state=${snap.state}`;
      const deadline = Date.now() + 30000;
      let nextDropAt = Date.now() + DROP_EVERY_MS;
      let stallClicks = 0;
      let dropClicks = 0;
      const stallHit = () => snap.hits.includes('stall');
      while ((sent < EVENTS + 1 || proxy.faults + routeFaults() < FAULTS || !stallHit())
             && Date.now() < deadline && !snap.counts.gaps) {
        const prev = snap;
        snap = await read();
        // Past EVENTS, a trickle keeps the stream visibly delivering for the clicks below.
        if (sent - 1 - snap.n < WINDOW) sent = (await publish(sent <= EVENTS ? BURST : 10)).last;
        // The page's buttons come once the proxy's budget is spent, so no proxy kill lands on a
        // stream the page is about to drop or stall: first DROPS drops, then a stall. A click
        // goes only to a stream seen delivering with no reconnect since the last look (an "open"
        // stream may already be cut), and waits for the previous click's answer; one that found
        // no stream is repeated.
        const hitDrops = snap.hits.filter((a) => a === 'drop').length;
        const live = snap.state === 'open' && snap.n > prev.n && snap.counts.opens === prev.counts.opens
          && snap.drops === dropClicks && snap.stalls === stallClicks;
        if (!live || proxy.faults < PROXY_FAULTS) {
          // not now
        } else if (hitDrops < DROPS && dropClicks < 3 * DROPS) {
          if (Date.now() >= nextDropAt) {
            nextDropAt = Date.now() + DROP_EVERY_MS;
            dropClicks++;
            await page.click('#drop');
          }
        } else if (!stallHit() && stallClicks < 5) {
          stallClicks++; // answers after STALL_MS; the page's watchdog reconnects before that
          await page.click('#stall');
        }
        await sleep(10);
      }
      proxy.calm();
      await waitUntil(async () => { snap = await read(); return snap.n >= sent - 1 || snap.counts.gaps > 0; },
        15000, status);
      await sleep(300); // a duplicate would show up now
      const run = await page.evaluate(() => ({ received: window.mwTest.received, ids: window.mwTest.ids,
        gaps: window.mwTest.gaps, errors: window.mwTest.errors, counts: window.mwTest.counts,
        state: window.mwTest.state, actions: window.mwTest.actions }));
      snap = { ...snap, n: run.received.length, counts: run.counts, state: run.state,
        hits: run.actions.filter((a) => a.body.streams > 0).map((a) => a.body.action) };

      assert.deepEqual(pageErrors, []);
      assert.deepEqual(run.gaps, [], 'no gap: ' + status());
      assert.ok(sent >= EVENTS + 1, 'too few events: ' + status());
      assert.equal(run.received.length, sent - 1, 'each event once: ' + status());
      for (let i = 0; i < run.received.length; i++) {
        if (run.received[i] !== i + 2) assert.fail(`event ${i} is ${run.received[i]}, expected ${i + 2} (${status()})`);
      }
      assert.equal(new Set(run.ids).size, run.ids.length, 'every event id once');
      assert.equal(run.counts.disorder, 0, status());
      // Forced disconnects: the proxy's kills and stalls plus the page's drops and stall that hit
      // a stream; the page recovered from every one of them (a reconnect is a new `open`).
      assert.ok(proxy.faults + routeFaults() >= FAULTS, 'too few forced disconnects: ' + status());
      assert.ok(proxy.stats.kills >= 1 && proxy.stats.splits >= 1, status());
      assert.ok(snap.hits.includes('drop') && snap.hits.includes('stall'), status());
      assert.ok(run.counts.reconnects >= FAULTS - 2, status());
      // The proxy's stall and the page's: only the watchdog can notice either.
      assert.ok(run.errors.filter((r) => r === 'heartbeat-timeout').length >= 2,
        `${JSON.stringify(byReason(run.errors))} ${JSON.stringify(run.actions.filter((a) => a.body.action === 'stall'))} ${status()}`);
      assert.equal(run.state, 'open');

      await page.waitForTimeout(250); // let the throttled render show the final counts
      fs.mkdirSync(path.dirname(ARTIFACT), { recursive: true });
      await page.screenshot({ path: ARTIFACT, fullPage: true });
      console.log(`# ${status()}`);
      console.log(`# errors by reason: ${JSON.stringify(byReason(run.errors))}`);
      console.log(`# screenshot: ${ARTIFACT}`);
    } finally {
      if (context) await context.close().catch(() => {});
      fs.rmSync(userDataDir, { recursive: true, force: true });
      if (proxy) await proxy.close();
      if (srv) assert.equal((await srv.stop()).code, 0);
    }
  });
});
