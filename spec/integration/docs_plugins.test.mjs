// Every code block of docs/plugins.md runs here. Plugin blocks (first line
// `-- plugins/NAME.lua`) are written to a plugin directory; config blocks are
// written as a real --config file (log and token paths moved into a
// temporary directory) and the server must start with them as generation 1
// without errors; then what the text around the block says is checked with
// requests. The metrics sample (a plain block) is compared with /metrics. A
// block without a check fails the first test, so a new block needs one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, startServer, scriptsDir, tmpdir, sleep } from './lib/harness.mjs';

const DOC = 'docs/plugins.md';
const ACCEPT = 'application/json, text/event-stream';

// [{ line, lang, code, kind: 'plugin' | 'config' | 'text', name? }] in document order.
function docBlocks() {
  const lines = fs.readFileSync(path.join(ROOT, DOC), 'utf8').split('\n');
  const blocks = [];
  let start = -1;
  let lang = '';
  for (let i = 0; i < lines.length; i++) {
    const m = /^```(\w*)\s*$/.exec(lines[i]);
    if (!m) continue;
    if (start < 0) {
      start = i + 1;
      lang = m[1];
    } else {
      const code = lines.slice(start, i).join('\n') + '\n';
      const plugin = /^-- plugins\/([\w-]+)\.lua\b/.exec(code);
      const kind = lang !== 'lua' ? 'text' : plugin ? 'plugin' : 'config';
      blocks.push({ line: start + 1, lang, code, kind, name: plugin?.[1] });
      start = -1;
    }
  }
  assert.equal(start, -1, `${DOC}: the block opened at line ${start} is never closed`);
  return blocks;
}

// The plugin names a config block enables, sorted and joined with ",".
function enabled(code) {
  const file = path.join(tmpdir('mw-docs-conf-'), 'moonwire.conf.lua');
  fs.writeFileSync(file, code);
  const r = spawnSync('lua5.4', ['-', file], { encoding: 'utf8', input: `
local env = {}
assert(loadfile(arg[1], "t", env))()
local names = {}
for k in pairs(env.plugins or {}) do if k:sub(1, 1) ~= "_" then names[#names + 1] = k end end
table.sort(names)
io.write(table.concat(names, ","))` });
  assert.equal(r.status, 0, `lua5.4 could not run the config block:\n${r.stderr}\n${code}`);
  return r.stdout;
}

// Scripts every server loads: tools and a route for the checks to call.
const SCRIPTS = {
  'tools.lua': `local mw = require "moonwire"
mw.tool { name = "echo", description = "Echoes text; 'fail' fails",
  input_schema = { type = "object", properties = { text = { type = "string" } }, required = { "text" } },
  handler = function(args) if args.text == "fail" then return nil, "asked to fail" end return args.text end }
mw.tool { name = "delete_all", description = "Would delete everything", handler = function() return "deleted" end }
mw.route { path = "/ping", handler = function() return "pong" end }
`,
};

// An MCP client over fetch with fixed extra headers.
async function mcp(srv, headers = {}) {
  const base = { 'Content-Type': 'application/json', Accept: ACCEPT, ...headers };
  let id = 1;
  const post = async (body, sid) => {
    const res = await fetch(srv.url('/mcp'), { method: 'POST', headers: sid ? { ...base, 'Mcp-Session-Id': sid } : base,
      body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
  };
  const init = await post({ jsonrpc: '2.0', id: id++, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'docs', version: '1' } } });
  assert.equal(init.status, 200, JSON.stringify(init.json));
  const sid = init.headers.get('mcp-session-id');
  return {
    sid,
    request: (method, params) => post({ jsonrpc: '2.0', id: id++, method, params }, sid),
    async call(name, args = {}) {
      const r = await post({ jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name, arguments: args } }, sid);
      assert.equal(r.status, 200);
      return r.json;
    },
  };
}

const get = async (srv, p, headers = {}) => {
  const res = await fetch(srv.url(p), { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
};

async function linesOf(file, atLeast) {
  for (let i = 0; i < 40; i++) {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    if (lines.length >= atLeast) return lines.map((l) => JSON.parse(l));
    await sleep(50);
  }
  assert.fail(`${file}: fewer than ${atLeast} lines`);
}

// The metrics sample: every line but "…" must be in /metrics with the same
// name and labels; the counts (all but the timing-dependent le="5" bucket
// and _sum) must be equal after the same calls (3, one of them failing).
function checkMetricsSample(sample, metrics) {
  const wanted = sample.split('\n').filter((l) => l && l !== '…');
  assert.ok(wanted.length >= 5);
  for (const w of wanted) {
    const [series, value] = w.split(' ');
    const got = metrics.split('\n').find((l) => l.startsWith(series + ' '));
    assert.ok(got, `/metrics has no ${series}:\n${metrics}`);
    if (!series.includes('le="5"') && !series.includes('_sum')) assert.equal(got, w);
  }
}

// Checks per config block, keyed by the plugins it enables.
const CHECKS = {
  // "Turning plugins on" + "Writing one" + the sandbox's shell_tool.
  'guard,shell_tool': async (srv) => {
    const denied = await fetch(srv.url('/mcp'), { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: ACCEPT },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
    assert.equal(denied.status, 401);
    assert.deepEqual(await denied.json(), { error: 'missing or wrong X-Api-Key' });
    assert.equal((await get(srv, '/ping')).status, 401);
    const c = await mcp(srv, { 'X-Api-Key': 's3cret' });
    const tools = (await c.request('tools/list')).json.result.tools.map((t) => t.name);
    assert.ok(tools.includes('get_secret') && tools.includes('run_command'), tools.join(' '));
    assert.equal((await c.call('get_secret')).result.content[0].text, 'the secret is ***');
    assert.equal((await c.call('run_command')).result.content[0].text, 'exit 0');
  },

  // "Message filters": the readonly plugin, enabled with its defaults.
  readonly: async (srv) => {
    const c = await mcp(srv);
    const r = await c.call('delete_all');
    assert.deepEqual(r.error, { code: -32602, message: 'read-only server: delete_all is disabled' });
    assert.equal((await c.call('echo', { text: 'still here' })).result.content[0].text, 'still here');
  },

  // "Bundled plugins": all at once, in the documented order, plus the metrics sample.
  'access_log,bearer_auth,cors,rate_limit,redact,tool_metrics': async (srv, env) => {
    // Authentication runs before rate limiting: a flood without a token is
    // all 401s and leaves the (burst 20) bucket untouched.
    for (let i = 0; i < 25; i++) assert.equal((await get(srv, '/ping')).status, 401);
    const auth = { Authorization: 'Bearer file-token' };
    assert.equal((await get(srv, '/ping', auth)).text, 'pong');
    const c = await mcp(srv, { ...auth, Origin: 'https://app.example.com' });
    assert.equal((await c.call('echo', { text: 'key sk-live42' })).result.content[0].text, 'key [REDACTED]');
    assert.equal((await c.call('echo', { text: 'call 555-12-3456' })).result.content[0].text, 'call [REDACTED]');
    // The metrics sample: three calls of echo, one failing (the two above and this one).
    assert.equal((await c.call('echo', { text: 'fail' })).result.isError, true);
    checkMetricsSample(env.blocks.find((b) => b.kind === 'text').code, (await get(srv, '/metrics')).text);
    const cors = await get(srv, '/ping', { ...auth, Origin: 'https://app.example.com' });
    assert.equal(cors.headers.get('access-control-allow-origin'), 'https://app.example.com');
    const log = (await linesOf(path.join(env.dir, 'access.log'), 28)).filter((l) => l.path === '/ping');
    assert.deepEqual(log.slice(0, 25).map((l) => [l.method, l.status]), Array(25).fill(['GET', 401]));
    assert.deepEqual(log[25].status, 200);
  },

  'bearer_auth': async (srv) => {
    const none = await get(srv, '/ping');
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="moonwire"');
    assert.equal(JSON.parse(none.text).error, 'unauthorized');
    const wrong = await get(srv, '/ping', { Authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('www-authenticate'), 'Bearer realm="moonwire", error="invalid_token"');
    assert.equal((await get(srv, '/ping', { Authorization: 'bearer dev-token' })).text, 'pong');
    assert.equal((await get(srv, '/ping', { Authorization: 'Bearer file-token' })).text, 'pong');
    assert.equal((await get(srv, '/healthz')).status, 200);
  },

  'rate_limit': async (srv) => {
    // rate = 2, burst = 10: ten at once pass, then about two a second.
    const t0 = Date.now();
    const statuses = [];
    let limited;
    for (let i = 0; i < 20; i++) {
      const r = await get(srv, '/ping');
      statuses.push(r.status);
      if (r.status === 429 && !limited) limited = r;
    }
    const passed = statuses.filter((s) => s === 200).length;
    assert.ok(passed >= 10 && passed <= 10 + Math.ceil((2 * (Date.now() - t0)) / 1000) + 1, statuses.join(' '));
    assert.ok(limited, statuses.join(' '));
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(retry >= 1, `Retry-After ${retry}`);
    assert.deepEqual(JSON.parse(limited.text), { error: 'rate_limited', message: 'Rate limit exceeded', retry_after: retry });
    const res = await fetch(srv.url('/mcp'), { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: ACCEPT },
      body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ping' }) });
    assert.equal(res.status, 429);
    const body = await res.json();
    assert.equal(body.id, 5);
    assert.equal(body.error.code, -32029);
    assert.equal(body.error.message, 'Rate limit exceeded');
  },

  'redact': async (srv) => {
    const c = await mcp(srv);
    const r = await c.call('echo', { text: 'token sk-abc-123, password hunter2' });
    assert.equal(r.result.content[0].text, 'token ***, password ***');
  },

  'access_log': async (srv, env) => {
    assert.equal((await get(srv, '/ping?x=1')).text, 'pong');
    // /healthz (asked first) is logged too: core endpoints are recorded.
    const lines = await linesOf(path.join(env.dir, 'access.log'), 2);
    assert.deepEqual([lines[0].path, lines[0].status], ['/healthz', 200]);
    const line = lines[1];
    assert.deepEqual([line.method, line.path, line.query, line.status], ['GET', '/ping', 'x=1', 200]);
    assert.equal(typeof line.duration_ms, 'number');
  },

  'tool_metrics': async (srv) => {
    const c = await mcp(srv);
    await c.call('echo', { text: 'x' });
    const m = (await get(srv, '/metrics')).text;
    for (const le of ['10', '100', '1000', '+Inf']) {
      assert.match(m, new RegExp(`moonwire_tool_duration_ms_bucket\\{tool="echo",le="${le.replace('+', '\\+')}"\\} 1\\b`));
    }
    assert.ok(!m.includes('le="5"'), 'only the configured buckets');
    assert.match(m, /moonwire_tool_calls_total\{tool="echo"\} 1\b/);
  },

  'cors': async (srv) => {
    const pre = await fetch(srv.url('/mcp'), { method: 'OPTIONS', headers: { Origin: 'https://app.example.com',
      'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
    await pre.text();
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.equal(pre.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(pre.headers.get('access-control-max-age'), '600');
    const ok = await get(srv, '/ping', { Origin: 'https://app.example.com' });
    assert.equal(ok.text, 'pong');
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.equal(ok.headers.get('access-control-expose-headers'), 'Mcp-Session-Id, MCP-Protocol-Version');
    // Not in ALLOWED_ORIGINS: refused by the DNS-rebinding check before CORS, without CORS headers.
    const other = await get(srv, '/ping', { Origin: 'https://elsewhere.example' });
    assert.equal(other.status, 403);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  },
};

// The config-run key that checks the metrics sample.
const SAMPLE_CHECKED_BY = 'access_log,bearer_auth,cors,rate_limit,redact,tool_metrics';

describe(`the code blocks of ${DOC}`, () => {
  const blocks = docBlocks();
  const plugins = blocks.filter((b) => b.kind === 'plugin');
  const configs = blocks.filter((b) => b.kind === 'config').map((b) => ({ ...b, key: enabled(b.code) }));
  // Plugin blocks no config block turns on run with a config of their own.
  const covered = new Set(configs.flatMap((c) => c.key.split(',')));
  for (const p of plugins) {
    if (!covered.has(p.name)) {
      configs.push({ line: p.line, key: p.name, code: `plugins = { _paths = { "plugins" }, ${p.name} = true }\n`, generated: true });
    }
  }
  const scripts = scriptsDir(SCRIPTS);

  it('are all checked', () => {
    assert.ok(blocks.length >= 12, `only ${blocks.length} blocks in ${DOC}`);
    const unchecked = configs.filter((c) => !CHECKS[c.key]).map((c) => `${DOC}:${c.line} (plugins: ${c.key})`);
    assert.deepEqual(unchecked, [], 'config blocks without a check in CHECKS');
    const texts = blocks.filter((b) => b.kind === 'text');
    assert.equal(texts.length, 1, 'one plain block (the metrics sample) is expected');
    assert.ok(configs.some((c) => c.key === SAMPLE_CHECKED_BY), 'the metrics sample is checked by the bundled config');
    assert.equal(new Set(plugins.map((p) => p.name)).size, plugins.length, 'plugin names are unique');
  });

  for (const conf of configs) {
    const what = conf.generated ? `plugin ${conf.key} (${DOC}:${conf.line}), enabled on its own` : `config at ${DOC}:${conf.line} (${conf.key})`;
    describe(what, () => {
      let srv;
      const env = { blocks };
      before(async () => {
        env.dir = tmpdir('mw-docs-plugins-');
        fs.mkdirSync(path.join(env.dir, 'plugins'));
        for (const p of plugins) fs.writeFileSync(path.join(env.dir, 'plugins', `${p.name}.lua`), p.code);
        fs.writeFileSync(path.join(env.dir, 'tokens'), '# tokens\n\n  file-token  \n');
        // Paths of the deployment the doc shows, moved into the temporary directory.
        const code = conf.code.replaceAll('/var/log/moonwire', env.dir).replaceAll('/etc/moonwire', env.dir);
        const file = path.join(env.dir, 'moonwire.conf.lua');
        fs.writeFileSync(file, code);
        // The cors section's app origin must also pass the DNS-rebinding check, which runs first.
        srv = await startServer({ scripts: [scripts], args: ['--config', file],
          env: { LOG_LEVEL: 'info', ALLOWED_ORIGINS: 'https://app.example.com' } });
      });
      after(async () => { if (srv) assert.equal((await srv.stop()).code, 0); });

      it('starts as generation 1 and does what the text says, logging no error', async () => {
        const health = JSON.parse((await get(srv, '/healthz')).text);
        assert.equal(health.generation, 1);
        assert.equal(health.last_reload_error, null);
        await CHECKS[conf.key](srv, env);
        const errors = srv.stderr.split('\n').filter((l) => /\blevel=error\b/.test(l));
        assert.deepEqual(errors, []);
      });
    });
  }
});
