// open-sessions.mjs URL COUNT [HOLD_S]: opens COUNT Streamable HTTP sessions (2025-11-25)
// on the MCP endpoint URL, each with its standalone GET stream attached, prints one JSON
// line when all are open ({"sessions":N,"open_ms":T}), holds them HOLD_S seconds (default
// 5) so the caller can sample the server's memory, then closes them and exits. Loopback
// only, bounded in count and time: for measuring the idle cost of a session.
import http from 'node:http';

const [url, countArg, holdArg = '5'] = process.argv.slice(2);
const count = Number(countArg);
const holdS = Number(holdArg);
const target = url ? new URL(url) : null;
if (!target || !['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname) ||
    !Number.isInteger(count) || count < 1 || count > 15000 || !(holdS >= 0 && holdS <= 600)) {
  console.error('usage: open-sessions.mjs http://127.0.0.1:PORT/mcp COUNT(1-15000) [HOLD_S(0-600)]');
  process.exit(2);
}

const REVISION = '2025-11-25';
const CONCURRENCY = 20; // sessions being set up at once
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const streams = [];

const fail = (message) => {
  console.error(`open-sessions: ${message}`);
  for (const req of streams) req.destroy();
  process.exit(1);
};
setTimeout(() => fail('timed out'), 120_000 + holdS * 1000).unref();

function post(body, sessionId) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
  if (sessionId) Object.assign(headers, { 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': REVISION });
  return new Promise((resolve, reject) => {
    const req = http.request(target, { method: 'POST', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

// The GET stream gets a connection of its own (agent: false): it stays open.
function openStream(sessionId) {
  return new Promise((resolve, reject) => {
    const req = http.request(target, {
      method: 'GET', agent: false,
      headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': REVISION },
    }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET stream answered ${res.statusCode}`));
      res.on('data', () => {});
      resolve();
    });
    req.on('error', reject);
    streams.push(req);
    req.end();
  });
}

async function openSession(i) {
  const init = await post({
    jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: REVISION, capabilities: {}, clientInfo: { name: 'open-sessions', version: '1.0.0' } },
  });
  const sessionId = init.headers['mcp-session-id'];
  if (init.statusCode !== 200 || !sessionId) throw new Error(`initialize ${i} answered ${init.statusCode}`);
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sessionId);
  await openStream(sessionId);
}

const started = Date.now();
let next = 0;
async function worker() {
  while (next < count) await openSession(next++);
}
try {
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
} catch (error) {
  fail(error.message);
}
agent.destroy();
console.log(JSON.stringify({ sessions: count, open_ms: Date.now() - started }));
setTimeout(() => {
  for (const req of streams) req.destroy();
  process.exit(0);
}, holdS * 1000);
