// Handlers of every kind that return or throw what they should not. Each bad
// handler must fail its own request, answered in bounded time with a clear
// error, and nothing else: afterwards a normal tool call still works and the
// ASan/UBSan build has reported nothing. What it found: a filter returning a
// non-table or yielding left the request unanswered, one dropping `jsonrpc`
// sent a malformed response; an event over MAX_PENDING_BYTES (a big tool
// result on an SSE stream) closed the stream and was lost; a multi-MiB error
// message stalled the loop for seconds in the logger and went to the client whole; thrown values with a
// cycle or a failing __tostring, bodies and headers of the wrong type leaked
// `table: 0x…` or became a generic or unanswered error.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, tmpdir, scriptsDir, openStream, closeStream, waitFor, parseSSE, raw, parseResponses, assertClean } from './lib/harness.mjs';

// Values no JSON can hold, errors no one should throw. `bad.<name>()` is used by tools,
// resources, prompts and completions alike.
const SCRIPT = String.raw`local mw = require "moonwire"
local function cycle() local t = {} t.self = t return t end
local function odd_tostring() return setmetatable({}, { __tostring = function() error("tostring failed") end }) end
local BAD = {
  throw_lines = function() error("boom\nsecond line must stay in the log") end,
  throw_nil = function() error(nil) end,
  throw_cycle = function() error(cycle()) end,
  throw_tostring = function() error(odd_tostring()) end,
  throw_coroutine = function() error(coroutine.create(print)) end,
  throw_huge = function() error(string.rep("h", 3 * 1024 * 1024)) end,
  throw_table_message = function() error({ message = { "not", "a", "string" } }) end,
  code_bad_message = function() error({ code = -32000, message = { nested = true } }) end,
  code_tostring_message = function() error({ code = -32001, message = odd_tostring() }) end,
  code_bad_data = function() error({ code = -32002, message = "with data", data = { f = print } }) end,
  sleep_then_throw = function(ctx) ctx:sleep(0.05) error("woke up broken") end,
  returns_function = function() return print end,
  returns_boolean = function() return true end,
  returns_nan = function() return { 0 / 0 } end,
  returns_cycle = function() return cycle() end,
  returns_nil_table = function() return nil, { reason = "a table, not a string" } end,
}
local function run(name, ctx)
  if name == "yield" then coroutine.yield() return "resumed?" end
  if name == "spin" then while true do end end
  return BAD[name](ctx)
end

-- Tools: the case is the tool's argument; args.upgrade first turns a session
-- response into an SSE stream.
mw.tool { name = "bad", description = "Misbehaves as asked", timeout_ms = 1500,
  handler = function(args, ctx)
    if args.upgrade then ctx:log("info", "upgrading the response") end
    local c = args.case
    if c == "progress_nan" then ctx:progress(0 / 0) return "sent" end
    if c == "log_function" then ctx:log("error", { f = print }) return "sent" end
    if c == "multiple" then return "first", "second", "third" end
    if c == "huge" then return string.rep("x", 6 * 1024 * 1024) end
    if c == "structured_cycle" then return { content = "x", structured = cycle() } end
    if c == "content_number" then return { content = 42 } end
    return run(c, ctx)
  end }
mw.tool { name = "echo", description = "Echoes", handler = function(args) return args.text end }
for _, mode in ipairs({ "nontable", "throw", "yield", "nojsonrpc", "function", "slow" }) do
  mw.tool { name = "filter_in_" .. mode, description = "Meets the bad incoming filter", handler = function() return "handled" end }
end

mw.resource_template { uri_template = "bad://r/{case}", name = "bad-resource",
  handler = function(uri, vars, ctx)
    if vars.case == "item_function" then return { text = print } end
    if vars.case == "list_nan" then return { { text = "a" }, 0 / 0 } end
    return run(vars.case, ctx)
  end }
mw.resource_template { uri_template = "bad://list/{x}", name = "bad-list",
  handler = function() return "" end,
  list = function(ctx)
    local c = mw.shared:get("hostile:list")
    if c == "item_nan" then return { { uri = "bad://list/1", name = "n", size = 0 / 0 } } end
    if c then return run(c, ctx) end
    return {}
  end }
mw.prompt { name = "bad", description = "Misbehaves as asked", arguments = { { name = "case", required = true } },
  handler = function(args, ctx)
    if args.case == "messages_function" then return { messages = print } end
    return run(args.case, ctx)
  end }
mw.completion { ref = { type = "ref/prompt", name = "bad" },
  handler = function(argument, ctx)
    if argument.value == "values_function" then return { values = print } end
    return run(argument.value, ctx)
  end }
mw.route { method = "POST", path = "/hostile/list", handler = function(req)
  mw.shared:set("hostile:list", req.body ~= "" and req.body or nil)
end }

-- Routes: GET /hostile/route/<case>.
local ROUTE = {
  ["function"] = function() return print end,
  boolean = function() return false end,
  number = function() return 42 end,
  status_string = function() return { status = "200", body = "x" } end,
  status_float = function() return { status = 200.5, body = "x" } end,
  status_low = function() return { status = 99, body = "x" } end,
  status_high = function() return { status = 600, body = "x" } end,
  status_nan = function() return { status = 0 / 0, body = "x" } end,
  header_function = function() return { headers = { ["X-F"] = print }, body = "x" } end,
  header_tostring = function() return { headers = { ["X-T"] = odd_tostring() }, body = "x" } end,
  header_key_number = function() return { headers = { [1] = "x" }, body = "x" } end,
  header_crlf = function() return { headers = { ["X-Split"] = "a\r\nX-Injected: yes" }, body = "x" } end,
  header_name_crlf = function() return { headers = { ["X-A\r\nX-Injected"] = "yes" }, body = "x" } end,
  body_table = function() return { body = { f = print } } end,
  body_nan_table = function() return { body = { 0 / 0 } } end,
  json_function = function() return { json = { f = print } } end,
  json_nan = function() return { json = { n = 0 / 0 } } end,
  json_cycle = function() return { json = cycle() } end,
  nil_table = function() return nil, { reason = "x" } end,
  error_status_string = function() error({ status = "404", message = "x" }) end,
  error_message_table = function() error({ status = 418, message = odd_tostring() }) end,
  error_headers_function = function() error({ status = 400, message = "m", headers = { ["X-F"] = odd_tostring() } }) end,
  multiple = function() return "first", "second" end,
  huge = function() return string.rep("y", 6 * 1024 * 1024) end,
}
mw.route { path = "/hostile/route/:case", timeout_ms = 1500, handler = function(req, ctx)
  local f = ROUTE[req.params.case]
  if f then return f() end
  return run(req.params.case, ctx)
end }
`;

// Filters: each mode applies to tools/call messages whose tool (in) or text (out) names it.
const PLUGIN = String.raw`local mw = require "moonwire"
local function misbehave(mode, msg)
  if mode == "nontable" then return 42 end
  if mode == "throw" then error("filter broke") end
  if mode == "yield" then coroutine.yield() end
  if mode == "nojsonrpc" then local m = {} for k, v in pairs(msg) do m[k] = v end m.jsonrpc = nil return m end
  if mode == "function" then msg.extra = print return msg end
  -- Legitimate, only slow: past the 10 ms slice, so a filter inside a task is preempted.
  if mode == "slow" then local t = os.clock() while os.clock() - t < 0.04 do end return msg end
end
return { name = "hostile", version = "1", priority = 1,
  init = function(p)
    p:filter { direction = "in", methods = { "tools/call" }, handler = function(msg)
      local mode = type(msg.params) == "table" and msg.params.name and msg.params.name:match("^filter_in_(.*)$")
      if mode then return misbehave(mode, msg) end
    end }
    p:filter { direction = "out", methods = { "tools/call" }, handler = function(msg)
      local c = msg.result and msg.result.content
      local mode = type(c) == "table" and type(c[1]) == "table" and type(c[1].text) == "string" and c[1].text:match("^filter_out_(.*)$")
      if mode then return misbehave(mode, msg) end
    end }
    p:tool { name = "filter_out", description = "Its result meets the bad outgoing filter",
      handler = function(args) return "filter_out_" .. args.mode end }
  end }
`;

const ACCEPT = 'application/json, text/event-stream';
const NEW = '2026-07-28';
const META = { 'io.modelcontextprotocol/protocolVersion': NEW, 'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/logLevel': 'debug', progressToken: 'p' };

function messagesOf(ctype, text) {
  if (!text) return [];
  if ((ctype || '').startsWith('text/event-stream')) return parseSSE(text).events.filter((e) => e.data).map((e) => JSON.parse(e.data));
  const j = JSON.parse(text);
  return Array.isArray(j) ? j : [j];
}

async function post(srv, body, headers) {
  const res = await fetch(srv.url('/mcp'), { method: 'POST', signal: AbortSignal.timeout(10000),
    headers: { 'Content-Type': 'application/json', Accept: ACCEPT, ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, ctype: res.headers.get('content-type'), msgs: messagesOf(res.headers.get('content-type'), text) };
}

// One way of sending a request per transport; each resolves to { status, ctype, msg } for the answer to `id`.
const transports = {
  async session(srv, body) {
    const r = await post(srv, body, { 'MCP-Protocol-Version': '2025-11-25', 'Mcp-Session-Id': srv.sid });
    return { ...r, msg: r.msgs.find((m) => m.id === body.id) };
  },
  async stateless(srv, body) {
    const name = body.params.name ?? body.params.uri ?? body.params.ref?.name;
    const r = await post(srv, { ...body, params: { ...body.params, _meta: { ...body.params._meta, ...META } } },
      { 'MCP-Protocol-Version': NEW, 'Mcp-Method': body.method, ...(name ? { 'Mcp-Name': name } : {}) });
    return { ...r, msg: r.msgs.find((m) => m.id === body.id) };
  },
  async legacy(srv, body) {
    const res = await fetch(srv.url(srv.legacy.endpoint), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    await res.text();
    const st = srv.legacy.st;
    const find = () => st.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data)).find((m) => m.id === body.id);
    await waitFor(st, () => find(), 10000);
    return { status: res.status, msg: find() };
  },
};

let nextId = 100;
const call = (name, args) => ({ jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: args, _meta: { progressToken: 'p' } } });

// Expectations.
const toolError = (re) => (r, what) => {
  assert.equal(r.msg.result?.isError, true, `${what}: ${JSON.stringify(r.msg).slice(0, 300)}`);
  const t = r.msg.result.content[0].text;
  assert.match(t, re, what);
  assert.doesNotMatch(t, /stack traceback|\n/, `${what}: only the first line goes out`);
};
const rpcError = (code, re) => (r, what) => {
  assert.equal(r.msg.error?.code, code, `${what}: ${JSON.stringify(r.msg).slice(0, 300)}`);
  assert.equal(typeof r.msg.error.message, 'string', what);
  assert.match(r.msg.error.message, re, what);
  assert.doesNotMatch(r.msg.error.message, /stack traceback|\n|table: 0x/, what);
};
const toolText = (text) => (r, what) => assert.deepEqual(r.msg.result.content, [{ type: 'text', text }], what);

const BUDGET = /^handler exceeded its time budget of 1500 ms$/;
const TOOL_CASES = {
  throw_lines: toolError(/boom$/),
  throw_nil: toolError(/nil/),
  throw_cycle: toolError(/^a table that cannot be described$/),
  throw_tostring: toolError(/^\{\}$/),
  throw_coroutine: toolError(/thread/),
  // Cut to 4 KiB for the client (the log has more).
  throw_huge: (r, what) => {
    toolError(/:\d+: h+ \.\.\. \(\d+ bytes in all\)$/)(r, what);
    assert.ok(r.msg.result.content[0].text.length < 4200, what);
  },
  throw_table_message: toolError(/^\{"message":\["not","a","string"\]\}$/),
  code_bad_message: rpcError(-32000, /^error$/),
  code_tostring_message: rpcError(-32001, /^error$/),
  // Data JSON cannot hold is left out, so the error itself still goes.
  code_bad_data: (r, what) => { rpcError(-32002, /^with data$/)(r, what); assert.equal(r.msg.error.data, undefined, what); },
  sleep_then_throw: toolError(/woke up broken$/),
  returns_function: toolError(/tool returned a function/),
  returns_boolean: toolError(/tool returned a boolean/),
  // A list holding a number (NaN) is not a list of content blocks.
  returns_nan: toolError(/^tool returned content that is not a list of content blocks$/),
  // A table whose only key is `self` is not a list: no content, as for any other empty table.
  returns_cycle: (r, what) => { assert.deepEqual(r.msg.result.content, [], what); assert.equal(r.msg.result.isError, undefined, what); },
  returns_nil_table: toolError(/^\{"reason":"a table, not a string"\}$/),
  progress_nan: toolError(/NaN/),
  log_function: toolError(/function/),
  // Extra results after the first are the `nil, err` convention's: ignored when the first is a value.
  multiple: toolText('first'),
  huge: (r, what) => assert.equal(r.msg.result.content[0].text.length, 6 * 1024 * 1024, what),
  structured_cycle: toolError(/^result cannot be encoded as JSON: .*nesting/),
  content_number: toolError(/^tool returned a number for content$/),
  yield: toolError(BUDGET),
  spin: toolError(BUDGET),
};

// Resources (read through the template, list through a template's list), prompts and
// completions: -32603 with a message that says what went wrong, never a traceback.
const internal = (re) => rpcError(-32603, re);
const COMMON = {
  throw_lines: internal(/boom$/),
  throw_cycle: internal(/a table that cannot be described$/),
  throw_tostring: internal(/^\{\}$/),
  throw_coroutine: internal(/^thread/),
  throw_table_message: internal(/"not","a","string"/),
  code_bad_message: rpcError(-32000, /^error$/),
  code_tostring_message: rpcError(-32001, /^error$/),
  sleep_then_throw: internal(/woke up broken$/),
  returns_function: internal(/returned a function/),
  spin: internal(BUDGET),
};
const MCP_CASES = {
  ...Object.fromEntries(Object.entries(COMMON).map(([c, e]) => [`resources/read ${c}`, e])),
  'resources/read returns_nil_table': (r, what) => { assert.equal(r.msg.error?.code, r.stateless ? -32602 : -32002, what); assert.match(r.msg.error.message, /^\{"reason"/, what); },
  'resources/read item_function': internal(/^result cannot be encoded as JSON: .*function/),
  'resources/read list_nan': internal(/resource handler returned a number/),
  'resources/list throw_cycle': internal(/a table that cannot be described$/),
  'resources/list returns_boolean': internal(/returned no list/),
  'resources/list item_nan': internal(/^result cannot be encoded as JSON: .*NaN/),
  ...Object.fromEntries(Object.entries(COMMON).map(([c, e]) => [`prompts/get ${c}`, e])),
  'prompts/get returns_nil_table': internal(/^\{"reason"/),
  'prompts/get messages_function': internal(/^prompt handler returned a function for messages$/),
  ...Object.fromEntries(Object.entries(COMMON).filter(([c]) => c !== 'returns_function').map(([c, e]) => [`completion/complete ${c}`, e])),
  'completion/complete values_function': internal(/^completion handler returned a function for values$/),
  'completion/complete returns_nan': internal(/^result cannot be encoded as JSON: .*NaN/),
};
function mcpRequest(key) {
  const [method, c] = key.split(' ');
  const id = nextId++;
  if (method === 'resources/read') return { jsonrpc: '2.0', id, method, params: { uri: `bad://r/${c}` } };
  if (method === 'resources/list') return { jsonrpc: '2.0', id, method, params: {} };
  if (method === 'prompts/get') return { jsonrpc: '2.0', id, method, params: { name: 'bad', arguments: { case: c } } };
  return { jsonrpc: '2.0', id, method, params: { ref: { type: 'ref/prompt', name: 'bad' }, argument: { name: 'case', value: c } } };
}

// Routes: a handler's mistake is a 500 with a JSON error body (or the status it threw).
const failed500 = (re) => (r, what) => {
  assert.equal(r.status, 500, what);
  assert.match(r.headers['content-type'], /^application\/json/, what);
  const body = JSON.parse(r.body);
  assert.equal(body.error.status, 500, what);
  assert.match(body.error.message, re, what);
};
const ROUTE_CASES = {
  function: failed500(/^handler returned a function$/),
  boolean: failed500(/^handler returned a boolean$/),
  number: failed500(/^handler returned a number$/),
  status_string: failed500(/invalid status/),
  status_float: failed500(/invalid status/),
  status_low: failed500(/invalid status/),
  status_high: failed500(/invalid status/),
  status_nan: failed500(/invalid status/),
  header_function: failed500(/^internal error$/),
  header_tostring: failed500(/^internal error$/),
  header_key_number: failed500(/^internal error$/),
  // A header that would split the response is left out; the rest of the response goes.
  header_crlf: (r, what) => { assert.equal(r.status, 200, what); assert.equal(r.headers['x-split'], undefined, what); assert.equal(r.headers['x-injected'], undefined, what); },
  header_name_crlf: (r, what) => { assert.equal(r.status, 200, what); assert.equal(r.headers['x-injected'], undefined, what); },
  body_table: failed500(/^handler returned a table body$/),
  body_nan_table: failed500(/^handler returned a table body$/),
  json_function: failed500(/^internal error$/),
  json_nan: failed500(/^internal error$/),
  json_cycle: failed500(/^internal error$/),
  nil_table: failed500(/^\{"reason":"x"\}$/),
  error_status_string: failed500(/^internal error$/),
  // The thrown status stands; a message that is not a string is not sent.
  error_message_table: (r, what) => { assert.equal(r.status, 418, what); assert.equal(JSON.parse(r.body).error.message, 'error', what); },
  error_headers_function: failed500(/^internal error$/),
  multiple: (r, what) => { assert.equal(r.status, 200, what); assert.equal(r.body, 'first', what); },
  huge: (r, what) => { assert.equal(r.status, 200, what); assert.equal(r.body.length, 6 * 1024 * 1024, what); },
  throw_lines: failed500(/^internal error$/),
  throw_nil: failed500(/^internal error$/),
  throw_cycle: failed500(/^internal error$/),
  throw_tostring: failed500(/^internal error$/),
  throw_coroutine: failed500(/^internal error$/),
  throw_huge: failed500(/^internal error$/),
  sleep_then_throw: failed500(/^internal error$/),
  yield: failed500(/^handler exceeded its time budget of 1500 ms$/),
  spin: failed500(/^handler exceeded its time budget of 1500 ms$/),
};

// Filters fail closed: the request gets -32603, whatever the filter did wrong.
const FILTER_CASES = Object.fromEntries(['in', 'out'].flatMap((dir) => ['nontable', 'throw', 'yield', 'nojsonrpc', 'function', 'slow']
  .map((mode) => [`${dir} ${mode}`, rpcError(-32603, /^Internal error$/)])));
// An incoming filter may add a field JSON cannot hold to a request: nobody encodes the request.
FILTER_CASES['in function'] = (r, what) => assert.equal(r.msg.result.content[0].text, 'handled', what);
// A slow filter is not a broken one: preempted mid-filter, its task goes on and answers.
FILTER_CASES['in slow'] = FILTER_CASES['in function'];
FILTER_CASES['out slow'] = (r, what) => assert.equal(r.msg.result.content[0].text, 'filter_out_slow', what);
FILTER_CASES['out function'] = toolError(/^result cannot be encoded as JSON: .*function/);
// An outgoing filter runs inside the handler's task: a yield there fails the task at once, and its
// failure answer (which names no filter mode, so passes the filter) goes out instead.
FILTER_CASES['out yield'] = toolError(/^internal error$/);

// After every case: the server answers a normal call and has reported nothing.
async function healthy(srv, what) {
  const r = await transports.session(srv, call('echo', { text: 'still here' }));
  assert.equal(r.msg?.result?.content?.[0]?.text, 'still here', `after ${what}`);
  assertClean(srv);
}

// Runs every case (send(case) answers it), then fails listing every case that failed.
async function runCases(srv, cases, send, label) {
  const failed = [];
  for (const [c, expect] of Object.entries(cases)) {
    const what = `${label} ${c}`;
    try {
      const r = await send(c);
      assert.ok(r.msg || r.status, `${what}: no answer`);
      expect(r, what);
    } catch (e) {
      failed.push(`${what}: ${String(e.message).split('\n').slice(0, 3).join(' | ').slice(0, 400)}`);
    }
    await healthy(srv, what);
  }
  assert.deepEqual(failed, []);
}

describe('hostile scripts', () => {
  let srv;
  before(async () => {
    const pdir = tmpdir('mw-plugins-');
    fs.writeFileSync(path.join(pdir, 'hostile.lua'), PLUGIN);
    const conf = path.join(tmpdir('mw-conf-'), 'moonwire.conf.lua');
    fs.writeFileSync(conf, `plugins = { _paths = { ${JSON.stringify(pdir)} }, hostile = true }\n`);
    srv = await startServer({ scripts: [scriptsDir({ 'hostile.lua': SCRIPT })], args: ['--config', conf], env: { LOG_LEVEL: 'info', HANDLER_TIMEOUT_MS: '1500' } });
    const init = await fetch(srv.url('/mcp'), { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: ACCEPT },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
    await init.text();
    srv.sid = init.headers.get('mcp-session-id');
    const st = await openStream(srv.port, '/sse');
    await waitFor(st, () => st.events.some((e) => e.event === 'endpoint'));
    srv.legacy = { st, endpoint: st.events.find((e) => e.event === 'endpoint').data };
    await transports.legacy(srv, { jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  });
  after(async () => {
    if (!srv) return;
    closeStream(srv.legacy.st);
    assert.equal((await srv.stop()).code, 0);
  });

  for (const [transport, upgrade] of [['session', false], ['session', true], ['stateless', false], ['legacy', false]]) {
    it(`tools on ${transport}${upgrade ? ' (SSE-upgraded response)' : ''}`, { timeout: 120000 }, async () => {
      await runCases(srv, TOOL_CASES, async (c) => {
        const r = await transports[transport](srv, call('bad', { case: c, ...(upgrade ? { upgrade: true } : {}) }));
        if (upgrade) assert.match(r.ctype, /^text\/event-stream/);
        return r;
      }, transport);
    });
  }

  for (const transport of ['session', 'stateless']) {
    it(`resources, templates, prompts and completions on ${transport}`, { timeout: 120000 }, async () => {
      await runCases(srv, MCP_CASES, async (key) => {
        const [method, c] = key.split(' ');
        if (method === 'resources/list') await fetch(srv.url('/hostile/list'), { method: 'POST', body: c }).then((x) => x.text());
        const r = await transports[transport](srv, mcpRequest(key));
        if (method === 'resources/list') await fetch(srv.url('/hostile/list'), { method: 'POST', body: '' }).then((x) => x.text());
        return { ...r, stateless: transport === 'stateless' };
      }, transport);
    });
  }

  it('routes', { timeout: 120000 }, async () => {
    await runCases(srv, ROUTE_CASES, async (c) => {
      const res = await raw(srv.port, `GET /hostile/route/${c} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, { idleMs: 8000 });
      assert.ok(res.closed, 'answered and closed');
      const [one] = parseResponses(res.text);
      return { status: one.status, headers: one.headers, body: one.body };
    }, 'route');
  });

  for (const transport of ['session', 'stateless', 'legacy']) {
    it(`message filters on ${transport}`, { timeout: 120000 }, async () => {
      await runCases(srv, FILTER_CASES, (key) => {
        const [dir, mode] = key.split(' ');
        return transports[transport](srv, dir === 'in' ? call(`filter_in_${mode}`, {}) : call('filter_out', { mode }));
      }, transport);
    });
  }
});
