// A fault-injecting TCP proxy for tests: listens on 127.0.0.1 and forwards each connection to a
// target, and per connection may kill it at a random moment, stall it (stop forwarding without
// closing, so only a client watchdog notices), or split its writes down to single bytes.
//
// The faults come from a seeded PRNG: the n-th accepted connection always gets the same plan
// (fault kind, byte and time thresholds, splitting) for a given seed. When a planned fault
// actually fires depends on the traffic, so runs are reproducible in kind, not to the byte.
// Faults are bounded: at most `maxFaults` (of which at most `maxStalls` stalls), none after
// `faultForMs`, none after calm(); a stalled connection is destroyed after `stallMaxMs` even if
// the client never gives up on it.
import net from 'node:net';

// mulberry32: small, fast, good enough to spread faults; the same seed gives the same sequence.
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  return next;
}

const immediate = () => new Promise((r) => setImmediate(r));

// options:
//   target: { host = '127.0.0.1', port }      where to forward
//   seed = 1
//   faultProbability = 0.9     share of connections that get a fault (kill or stall)
//   stallProbability = 0.1     share of faults that are stalls (the rest are kills)
//   killAfterBytes = [1, 8192] server→client bytes after which the fault fires (inclusive range)
//   killAfterMs = [20, 1000]   ...or this long after the connection opened, whichever is first
//   splitProbability = 0.2     share of connections whose writes (both ways) go out 1 byte at a time
//   splitBytes = 4096          ...for this many bytes per direction, then normally
//   resetProbability = 0.5     share of kills that send RST (resetAndDestroy) rather than FIN
//   maxFaults = 60, maxStalls = 5, faultForMs = 60000, stallMaxMs = 10000
// Resolves to { port, url(path), stats, calm(), close() }.
export async function startFaultProxy(options = {}) {
  const o = {
    seed: 1, faultProbability: 0.9, stallProbability: 0.1, killAfterBytes: [1, 8192],
    killAfterMs: [20, 1000], splitProbability: 0.2, splitBytes: 4096, resetProbability: 0.5,
    maxFaults: 60, maxStalls: 5, faultForMs: 60000, stallMaxMs: 10000, ...options,
  };
  const target = { host: '127.0.0.1', ...o.target };
  const rng = prng(o.seed);
  const startedAt = Date.now();
  const stats = { connections: 0, kills: 0, stalls: 0, splits: 0, bytesDown: 0, bytesUp: 0 };
  const conns = new Set();
  let calm = false;

  const faultAllowed = (kind) => !calm && stats.kills + stats.stalls < o.maxFaults
    && Date.now() - startedAt < o.faultForMs && (kind !== 'stall' || stats.stalls < o.maxStalls);

  const server = net.createServer((client) => {
    stats.connections++;
    // The plan is drawn in full for every connection, so the sequence does not depend on timing.
    const faulty = rng() < o.faultProbability;
    const stall = rng() < o.stallProbability;
    const plan = {
      fault: faulty ? (stall ? 'stall' : 'kill') : 'none',
      afterBytes: rng.int(o.killAfterBytes[0], o.killAfterBytes[1]),
      afterMs: rng.int(o.killAfterMs[0], o.killAfterMs[1]),
      split: rng() < o.splitProbability,
      reset: rng() < o.resetProbability,
    };
    const c = { client, upstream: net.connect(target.port, target.host), plan, dead: false,
      stalled: false, down: 0, timers: [] };
    conns.add(c);
    if (plan.split) stats.splits++;
    client.setNoDelay(true);
    c.upstream.setNoDelay(true);

    c.kill = (reset) => {
      if (c.dead) return;
      c.dead = true;
      for (const t of c.timers) clearTimeout(t);
      conns.delete(c);
      for (const s of [c.client, c.upstream]) {
        if (reset && typeof s.resetAndDestroy === 'function' && s.readyState === 'open') s.resetAndDestroy();
        else s.destroy();
      }
    };
    // Fires the planned fault if the budget allows; returns whether forwarding must stop.
    c.fire = () => {
      if (c.dead || c.stalled || plan.fault === 'none') return c.dead || c.stalled;
      let kind = plan.fault;
      if (!faultAllowed(kind)) {
        if (kind === 'stall' && faultAllowed('kill')) kind = 'kill';
        else { plan.fault = 'none'; return false; }
      }
      if (kind === 'kill') {
        stats.kills++;
        c.kill(plan.reset);
      } else {
        stats.stalls++;
        c.stalled = true;
        c.upstream.pause();
        c.timers.push(setTimeout(() => c.kill(false), o.stallMaxMs));
      }
      return true;
    };
    if (plan.fault !== 'none') c.timers.push(setTimeout(() => c.fire(), plan.afterMs));

    forward(c, c.client, c.upstream, 'up');
    forward(c, c.upstream, c.client, 'down');
    for (const s of [client, c.upstream]) s.on('error', () => c.kill(false));
  });

  // Copies `from` to `to` through a queue, so splitting and faults can hold the stream back.
  function forward(c, from, to, dir) {
    const queue = [];
    let pumping = false;
    let split = c.plan.split ? o.splitBytes : 0;
    let ended = false;
    let closed = false;
    from.on('data', (chunk) => {
      if (c.stalled) return; // dropped; the client side keeps being read so its close is seen
      queue.push(chunk);
      from.pause();
      pump();
    });
    // A half-close or close is passed on once everything received before it was written.
    from.on('end', () => { ended = true; if (!pumping) pump(); });
    from.on('close', () => { closed = true; if (!pumping) c.kill(false); });
    async function pump() {
      if (pumping) return;
      pumping = true;
      while (queue.length && !c.dead && !c.stalled) {
        let chunk = queue.shift();
        if (dir === 'down' && c.plan.fault !== 'none') {
          const left = c.plan.afterBytes - c.down;
          if (chunk.length >= left) {
            // Write the bytes up to the threshold, then fault: the cut lands inside an event.
            const head = chunk.subarray(0, Math.max(0, left));
            if (head.length) { to.write(head); count(c, dir, head.length); }
            if (c.fire()) { queue.length = 0; break; }
            chunk = chunk.subarray(head.length);
          }
        }
        while (chunk.length && split > 0 && !c.dead && !c.stalled) {
          to.write(chunk.subarray(0, 1));
          count(c, dir, 1);
          chunk = chunk.subarray(1);
          split--;
          await immediate();
        }
        if (!chunk.length || c.dead || c.stalled) continue;
        count(c, dir, chunk.length);
        if (!to.write(chunk)) await new Promise((r) => { to.once('drain', r); to.once('close', r); });
      }
      pumping = false;
      if (c.dead) return;
      if (c.stalled) { if (dir === 'up') from.resume(); return; }
      if (closed) return c.kill(false);
      if (ended) { to.end(); return; }
      from.resume();
    }
  }
  function count(c, dir, n) {
    if (dir === 'down') { c.down += n; stats.bytesDown += n; } else stats.bytesUp += n;
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = server.address().port;
  return {
    port,
    stats,
    url: (p = '/') => `http://127.0.0.1:${port}${p}`,
    get faults() { return stats.kills + stats.stalls; },
    // The open connections, for diagnostics.
    get open() {
      return [...conns].map((c) => ({ plan: c.plan, down: c.down, stalled: c.stalled,
        upstreamPaused: c.upstream.isPaused(), clientPaused: c.client.isPaused() }));
    },
    // No more faults from now on (connections already stalled stay stalled until they end).
    calm() { calm = true; },
    async close() {
      calm = true;
      for (const c of [...conns]) c.kill(false);
      await new Promise((r) => server.close(r));
    },
  };
}
