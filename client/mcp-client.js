// A small MCP client for browsers and Node >= 18 (ES module, no build step), on top of
// SSEConnection. It speaks Streamable HTTP in the session revision 2025-11-25 (initialize,
// Mcp-Session-Id, GET stream, resumable POST streams) or the stateless 2026-07-28 one, and
// keeps requests alive across broken streams, expired sessions and server restarts.

import { SSEConnection, SSEParser, SSEEvent } from './sse-connection.js';

export const SESSION_REVISION = '2025-11-25';
export const STATELESS_REVISION = '2026-07-28';

const META_V = 'io.modelcontextprotocol/protocolVersion';
const META_CAPS = 'io.modelcontextprotocol/clientCapabilities';
const META_INFO = 'io.modelcontextprotocol/clientInfo';
const META_LEVEL = 'io.modelcontextprotocol/logLevel';
const META_SERVER = 'io.modelcontextprotocol/serverInfo';

// The params field that the 2026-07-28 Mcp-Name header mirrors.
const NAME_FIELD = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

// Which client capability a server->client method needs, declared when a handler exists.
const CAPABILITY_OF = { 'sampling/createMessage': 'sampling', 'elicitation/create': 'elicitation',
  'roots/list': 'roots' };

// Statuses that mean "the server is not reachable right now" (a proxy in front of a
// restarting server), not "the server refused this request".
const UNAVAILABLE = new Set([502, 503, 504]);

// A Moonwire resume that ends this many times in a row without delivering anything left
// the stream behind for good (it answers a finished, forgotten stream with its end).
const MAX_EMPTY_RESUMES = 3;

// Server and client-side failures. `code` is the JSON-RPC error code when the server sent
// one; `reason` names client-side failures ('closed', 'timeout', 'queue-full', ...).
export class McpError extends Error {
  constructor(message, { code, data, reason, status, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'McpError';
    if (code !== undefined) this.code = code;
    if (data !== undefined) this.data = data;
    if (reason !== undefined) this.reason = reason;
    if (status !== undefined) this.status = status;
  }
}

function isEventStream(contentType) {
  return !!contentType && contentType.split(';')[0].trim().toLowerCase() === 'text/event-stream';
}

function cancelBody(res) {
  if (res && res.body && !res.bodyUsed) res.body.cancel().catch(() => {});
}

function rpcError(e) {
  const err = e && typeof e === 'object' ? e : {};
  return new McpError(String(err.message ?? 'JSON-RPC error'), { code: err.code, data: err.data });
}

// Mcp-Param-* values: plain when they are visible ASCII without edge spaces, else the
// `=?base64?…?=` form Moonwire decodes.
function headerValue(v) {
  const s = String(v);
  if (/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(s)) return s;
  let bin = '';
  for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b);
  return `=?base64?${btoa(bin)}?=`;
}

function reportError(e) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(e);
  else setTimeout(() => { throw e; });
}

export const CLIENT_STATES = Object.freeze(['idle', 'connecting', 'ready', 'disconnected',
  'reconnecting', 'closed']);

export class McpClient extends EventTarget {
  constructor(url, options = {}) {
    super();
    const o = options;
    this.url = String(url);
    this.stateless = (o.protocolVersion ?? SESSION_REVISION) === STATELESS_REVISION;
    this.requestedVersion = o.protocolVersion ?? SESSION_REVISION;
    this.protocolVersion = this.stateless ? STATELESS_REVISION : null;
    this.sessionId = null;
    this.serverInfo = null;
    this.serverCapabilities = null;
    this.instructions = undefined;
    this.clientInfo = o.clientInfo ?? { name: 'moonwire-mcp-client', version: '0.1.0' };
    this._capabilities = o.capabilities ?? null;
    this._headers = o.headers ?? {};
    this._fetch = o.fetch || ((...a) => globalThis.fetch(...a));
    this._maxQueue = o.maxQueue ?? 1000;
    this._timeoutMs = o.requestTimeoutMs ?? 60000;
    this._initialRetryMs = o.initialRetryMs ?? 500;
    this._maxRetryMs = o.maxRetryMs ?? 10000;
    this._jitter = o.jitter ?? true;
    this._drainHeadWaitMs = o.drainHeadWaitMs ?? 1000;
    this._maxRounds = o.maxInputRounds ?? 8;
    this._logLevel = o.logLevel;
    this._openStream = o.standaloneStream ?? true;
    this._discover = o.discover ?? true;
    this._sse = { heartbeatTimeoutMs: 37500, ...(o.sse || {}) };

    // Event handler properties, called before addEventListener listeners.
    this.onnotification = null;
    this.onstatechange = null;
    this.onerror = null;
    this.onsessionexpired = null;
    this.onreinitialized = null;
    this.onresume = null;
    this.ongap = null;

    this._state = 'idle';
    this._nextId = 1;
    this._seq = 1;               // FIFO position of every outgoing message
    this._pending = new Map();   // our request id -> entry, until settled
    this._progress = new Map();  // progressToken -> entry
    this._queue = [];            // entries waiting to be sent, by seq
    this._pumping = false;
    this._draining = false;      // after an outage: each send waits for the previous head
    this._failures = 0;          // consecutive transport failures, for the backoff
    this._retryTimer = null;
    this._opening = null;        // promise of the running initialize/discover
    this._openWake = null;       // ends the backoff wait of _open early (close())
    this._openTimer = null;
    this._standalone = null;     // the GET stream (session revisions)
    this._listens = new Set();
    this._requestHandlers = new Map(Object.entries(o.requestHandlers || {}));
    this._notificationHandlers = new Map();
    this._toolHeaders = new Map(); // tool name -> [[argument, header name]] (x-mcp-header)
  }

  get state() { return this._state; }
  get queued() { return this._queue.length; }
  // The session's GET stream (an SSEConnection), or null.
  get standaloneStream() { return this._standalone; }

  // --- public API ---------------------------------------------------------------------------

  // Initializes (2025-11-25) or discovers (2026-07-28). Network failures are retried with
  // backoff; a server that answers with an error rejects.
  connect() {
    if (this._state === 'closed') return Promise.reject(new McpError('client is closed', { reason: 'closed' }));
    if (this._state === 'idle') this._opening = this._open('connect');
    return this._opening ?? Promise.resolve(this._info());
  }

  // method -> handler(params, { method, id, client }) for requests from the server
  // (sampling/createMessage, elicitation/create, roots/list, ...). Its return value is the
  // result; a throw becomes a JSON-RPC error (an McpError's numeric code is kept).
  setRequestHandler(method, handler) {
    if (handler) this._requestHandlers.set(method, handler);
    else this._requestHandlers.delete(method);
  }

  setNotificationHandler(method, handler) {
    if (handler) this._notificationHandlers.set(method, handler);
    else this._notificationHandlers.delete(method);
  }

  request(method, params, options = {}) {
    if (this._state === 'closed') return Promise.reject(new McpError('client is closed', { reason: 'closed' }));
    const { signal, onProgress } = options;
    if (signal && signal.aborted) return Promise.reject(signal.reason);
    const timeoutMs = options.timeoutMs ?? this._timeoutMs;
    const entry = { kind: 'request', id: this._nextId++, seq: this._seq++, method,
      params: params ?? {}, phase: 'queued', settled: false, onProgress, progressToken: undefined,
      abort: null, resume: null, session: null, lastEventId: '', rounds: 0 };
    if (onProgress) {
      entry.progressToken = `p${entry.id}`;
      entry.params = { ...entry.params,
        _meta: { ...(entry.params._meta || {}), progressToken: entry.progressToken } };
      this._progress.set(entry.progressToken, entry);
    }
    const promise = new Promise((resolve, reject) => { entry.resolve = resolve; entry.reject = reject; });
    this._pending.set(entry.id, entry);
    if (timeoutMs > 0 && timeoutMs < Infinity) {
      entry.timer = setTimeout(() => this._cancel(entry,
        new McpError(`${method} timed out after ${timeoutMs} ms`, { reason: 'timeout' })), timeoutMs);
    }
    if (signal) {
      entry.signal = signal;
      entry.onAbort = () => this._cancel(entry, signal.reason);
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    this._autoConnect();
    this._enqueue(entry);
    return promise;
  }

  notify(method, params) {
    return this._sendOther('notification', { jsonrpc: '2.0', method, ...(params ? { params } : {}) });
  }

  callTool(name, args = {}, options = {}) {
    return this.request('tools/call', { name, arguments: args }, options);
  }

  // Every page, following nextCursor: { tools: [...] }.
  async listTools(options = {}) {
    const tools = [];
    let cursor;
    for (let page = 0; page < 1000; page++) {
      const res = await this.request('tools/list', cursor ? { cursor } : {}, options);
      tools.push(...(res.tools || []));
      if (!res.nextCursor) return { ...res, tools, nextCursor: undefined };
      cursor = res.nextCursor;
    }
    throw new McpError('tools/list did not end after 1000 pages', { reason: 'too-many-pages' });
  }

  ping(options) {
    return this.request('ping', {}, options);
  }

  // 2026-07-28: opens a subscriptions/listen stream. Notifications arrive as 'notification'
  // events; the stream is re-opened after a drop. Resolves once the server acknowledged it.
  listen(notifications, options = {}) {
    if (!this.stateless) throw new McpError('listen() is for 2026-07-28; session revisions use the GET stream', { reason: 'unsupported' });
    const id = `listen-${this._nextId++}`;
    const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen',
      params: { notifications, _meta: this._meta() } });
    let ack;
    const acknowledged = new Promise((resolve) => { ack = resolve; });
    const conn = new SSEConnection(this.url, { ...this._sse, ...this._retryOptions(), ...options,
      method: 'POST', body, fetch: this._fetch,
      headers: () => this._httpHeaders({ 'mcp-method': 'subscriptions/listen' }, true) });
    conn.onmessage = (e) => {
      for (const msg of parseMessages(e.data)) {
        if (msg.method === 'notifications/subscriptions/acknowledged') ack(msg.params);
        else this._dispatch(msg);
      }
    };
    conn.onerror = (e) => { if (!e.willRetry) this._emit('error', { error: new McpError(`listen stream failed: ${e.reason}`, { reason: e.reason, status: e.status }) }); };
    const sub = { id, connection: conn, acknowledged, close: () => { conn.close(); this._listens.delete(sub); } };
    this._listens.add(sub);
    return sub;
  }

  // Rejects everything pending, closes the streams and (2025-11-25) deletes the session.
  async close() {
    if (this._state === 'closed') return;
    const sid = this.sessionId;
    this._setState('closed', 'closed');
    if (this._retryTimer) { clearTimeout(this._retryTimer); this._retryTimer = null; }
    if (this._openWake) this._openWake();
    const err = new McpError('client closed', { reason: 'closed' });
    for (const e of [...this._pending.values()]) this._settle(e, err);
    for (const e of this._queue) if (!e.settled && e.reject) { e.settled = true; e.reject(err); }
    this._queue = [];
    this._closeStandalone();
    for (const sub of [...this._listens]) sub.close();
    if (sid && !this.stateless) await this._deleteSession(sid);
  }

  async _deleteSession(sid) {
    try {
      const res = await this._fetch(this.url, { method: 'DELETE', headers: await this._httpHeaders({}, false, sid),
        signal: AbortSignal.timeout(2000) });
      cancelBody(res);
    } catch { /* the server is gone: so is the session */ }
  }

  // --- connecting -----------------------------------------------------------------------------

  _autoConnect() {
    if (this._state === 'idle') this.connect().catch(() => {});
  }

  async _open(reason) {
    this._setState('connecting', reason);
    for (let attempt = 0; ; attempt++) {
      if (this._state === 'closed') throw new McpError('client closed', { reason: 'closed' });
      try {
        if (this.stateless) await this._discoverServer();
        else await this._initialize();
        break;
      } catch (err) {
        if (this._state === 'closed') throw err;
        if (!err.retryable) {
          // The server answers but refuses us: nothing queued can succeed.
          this._opening = null;
          for (const e of [...this._pending.values()]) this._settle(e, err);
          for (const e of this._queue) if (!e.settled && e.reject) { e.settled = true; e.reject(err); }
          this._queue = [];
          this._setState('idle', 'failed');
          throw err;
        }
        this._emit('error', { error: err, willRetry: true });
        await new Promise((r) => { this._openWake = r; this._openTimer = setTimeout(r, this._backoff(attempt)); });
        clearTimeout(this._openTimer);
        this._openWake = null;
      }
    }
    if (this._state === 'closed') throw new McpError('client closed', { reason: 'closed' });
    this._failures = 0;
    this._opening = null;
    this._setState('ready', reason);
    this._pump();
    return this._info();
  }

  _info() {
    return { protocolVersion: this.protocolVersion, sessionId: this.sessionId,
      serverInfo: this.serverInfo, capabilities: this.serverCapabilities, instructions: this.instructions };
  }

  // One JSON-RPC exchange outside the queue (initialize, discover). Network failures and
  // unavailable statuses are marked retryable.
  async _direct(msg, headers) {
    let res;
    try {
      res = await this._fetch(this.url, { method: 'POST', headers, body: JSON.stringify(msg) });
    } catch (error) {
      throw Object.assign(new McpError(`${msg.method}: ${error.message}`, { reason: 'network', cause: error }), { retryable: true });
    }
    if (UNAVAILABLE.has(res.status)) {
      cancelBody(res);
      throw Object.assign(new McpError(`${msg.method}: HTTP ${res.status}`, { reason: 'unavailable', status: res.status }), { retryable: true });
    }
    let messages;
    try {
      messages = isEventStream(res.headers.get('content-type')) ? await readStream(res) : parseMessages(await res.text());
    } catch (error) {
      throw Object.assign(new McpError(`${msg.method}: ${error.message}`, { reason: 'network', cause: error }), { retryable: true });
    }
    const reply = messages.find((m) => m.id === msg.id && !m.method) || messages.find((m) => m.error && m.id == null);
    if (!reply) throw new McpError(`${msg.method}: HTTP ${res.status} without a response`, { reason: 'http-error', status: res.status });
    if (reply.error) throw Object.assign(rpcError(reply.error), { status: res.status });
    return { res, result: reply.result };
  }

  _declaredCapabilities() {
    const caps = {};
    for (const m of this._requestHandlers.keys()) if (CAPABILITY_OF[m]) caps[CAPABILITY_OF[m]] = {};
    return { ...caps, ...(this._capabilities || {}) };
  }

  async _initialize() {
    const msg = { jsonrpc: '2.0', id: this._nextId++, method: 'initialize',
      params: { protocolVersion: this.requestedVersion, capabilities: this._declaredCapabilities(),
        clientInfo: this.clientInfo } };
    const { res, result } = await this._direct(msg, await this._httpHeaders({}, true, null, null));
    const sid = res.headers.get('mcp-session-id');
    this.protocolVersion = result.protocolVersion || this.requestedVersion;
    this.serverInfo = result.serverInfo ?? null;
    this.serverCapabilities = result.capabilities ?? null;
    this.instructions = result.instructions;
    this.sessionId = sid;
    let r;
    try {
      r = await this._fetch(this.url, { method: 'POST', headers: await this._httpHeaders(),
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    } catch (error) {
      throw Object.assign(new McpError(`notifications/initialized: ${error.message}`, { reason: 'network', cause: error }), { retryable: true });
    }
    cancelBody(r);
    if (r.status === 404 || UNAVAILABLE.has(r.status)) {
      throw Object.assign(new McpError(`notifications/initialized: HTTP ${r.status}`, { status: r.status }), { retryable: true });
    }
    // close() ran meanwhile: nobody will use this session.
    if (this._state === 'closed') return sid && this._deleteSession(sid);
    if (sid && this._openStream) this._openStandalone(sid);
  }

  async _discoverServer() {
    if (!this._discover) return;
    const msg = { jsonrpc: '2.0', id: this._nextId++, method: 'server/discover', params: { _meta: this._meta() } };
    const { result } = await this._direct(msg, await this._httpHeaders({ 'mcp-method': 'server/discover' }));
    const versions = result.supportedVersions || [];
    if (!versions.includes(STATELESS_REVISION)) {
      throw new McpError(`server does not support ${STATELESS_REVISION} (supports ${versions.join(', ')})`, { reason: 'unsupported-version' });
    }
    this.serverInfo = (result._meta && result._meta[META_SERVER]) ?? null;
    this.serverCapabilities = result.capabilities ?? null;
    this.instructions = result.instructions;
    this.supportedVersions = versions;
  }

  // The session's GET stream: server notifications and requests outside any call.
  _openStandalone(sid) {
    this._closeStandalone();
    const conn = new SSEConnection(this.url, { ...this._sse, ...this._retryOptions(), fetch: this._fetch,
      headers: () => this._httpHeaders({ accept: 'text/event-stream' }, false, sid) });
    conn.onmessage = (e) => { for (const msg of parseMessages(e.data)) this._dispatch(msg); };
    conn.addEventListener('gap', (e) => this._emit('gap', { data: e.data, stream: 'standalone' }));
    conn.onerror = (e) => {
      if (e.reason === 'session-expired') this._sessionExpired(sid, 'get-404');
      else if (!e.willRetry) this._emit('error', { error: new McpError(`GET stream closed: ${e.reason}`, { reason: e.reason, status: e.status }) });
    };
    this._standalone = conn;
  }

  _closeStandalone() {
    if (this._standalone) { this._standalone.close(); this._standalone = null; }
  }

  // A 404 to a request naming `sid`: that session is gone. Initialize a new one and send
  // every request that has not been answered again, in their original order.
  _sessionExpired(sid, reason) {
    if (this._state === 'closed' || this.sessionId !== sid) return;
    this.sessionId = null;
    this._closeStandalone();
    for (const e of this._pending.values()) {
      if (e.phase !== 'queued' && e.session === sid) this._requeue(e);
    }
    this._emit('sessionexpired', { sessionId: sid, reason });
    const resent = this._queue.filter((e) => e.kind === 'request').length;
    this._opening = this._open('session-expired');
    this._opening.then(() => this._emit('reinitialized', { previousSessionId: sid, sessionId: this.sessionId, resent }),
      () => {});
  }

  // --- the outgoing queue ---------------------------------------------------------------------

  _sendOther(kind, msg) {
    if (this._state === 'closed') return Promise.reject(new McpError('client is closed', { reason: 'closed' }));
    const entry = { kind, msg, seq: this._seq++, phase: 'queued', settled: false };
    const promise = new Promise((resolve, reject) => { entry.resolve = resolve; entry.reject = reject; });
    this._autoConnect();
    this._enqueue(entry);
    return promise;
  }

  _enqueue(entry) {
    if (this._queue.length >= this._maxQueue) {
      const err = new McpError(`outgoing queue is full (${this._maxQueue} waiting)`, { reason: 'queue-full' });
      if (entry.kind === 'request') this._settle(entry, err);
      else { entry.settled = true; entry.reject(err); }
      return;
    }
    this._insert(entry);
    this._pump();
  }

  // Back into the queue at its FIFO position (a failed send, a re-sent request).
  _requeue(entry) {
    this._stopTransport(entry);
    entry.phase = 'queued';
    this._insert(entry);
  }

  _insert(entry) {
    let i = this._queue.length;
    while (i > 0 && this._queue[i - 1].seq > entry.seq) i--;
    this._queue.splice(i, 0, entry);
  }

  async _pump() {
    if (this._pumping) return;
    this._pumping = true;
    try {
      while (this._queue.length && (this._state === 'ready' || this._state === 'reconnecting')) {
        const entry = this._queue.shift();
        if (entry.settled) continue;
        const head = this._send(entry).catch((error) => {
          if (entry.kind === 'request') this._settle(entry, error);
          else if (!entry.settled) { entry.settled = true; entry.reject(error); }
        });
        // While catching up after an outage (and for the probe that ends one), the server
        // must see each message before the next one: wait for its response head.
        if (this._draining || this._state === 'reconnecting') {
          let t;
          await Promise.race([head, new Promise((r) => { t = setTimeout(r, this._drainHeadWaitMs); })]);
          clearTimeout(t);
        }
      }
      if (!this._queue.length && this._state === 'ready') this._draining = false;
    } finally {
      this._pumping = false;
    }
  }

  _backoff(n) {
    const base = Math.min(this._maxRetryMs, this._initialRetryMs * 2 ** Math.min(n, 30));
    return this._jitter ? Math.floor(base / 2 + Math.random() * base / 2) : base;
  }

  _retryOptions() {
    return { initialRetryMs: this._initialRetryMs, maxRetryMs: this._maxRetryMs, jitter: this._jitter };
  }

  // The server could not be reached: hold the message and everything after it, retry later.
  _transportDown(entry, error) {
    if (entry.kind === 'request') this._requeue(entry);
    else { entry.phase = 'queued'; this._insert(entry); }
    this._draining = true;
    if (this._state === 'ready' || this._state === 'reconnecting') {
      this._setState('disconnected', 'network', { error });
    }
    if (this._state !== 'disconnected' || this._retryTimer) return;
    const delay = this._backoff(this._failures++);
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      if (this._state !== 'disconnected') return;
      this._setState(this._queue.length ? 'reconnecting' : 'ready', 'retry');
      this._pump();
    }, delay);
  }

  // A response head arrived: the transport works again.
  _transportUp() {
    this._failures = 0;
    if (this._state !== 'reconnecting' && this._state !== 'disconnected') return;
    if (this._retryTimer) { clearTimeout(this._retryTimer); this._retryTimer = null; }
    this._setState('ready', 'reconnected');
    this._pump();
  }

  // --- sending ---------------------------------------------------------------------------------

  _meta() {
    const meta = { [META_V]: STATELESS_REVISION, [META_CAPS]: this._declaredCapabilities(),
      [META_INFO]: this.clientInfo };
    if (this._logLevel) meta[META_LEVEL] = this._logLevel;
    return meta;
  }

  // Headers of one request: the user's, then the protocol's. `sid` undefined: the current
  // session; null: none.
  async _httpHeaders(extra = {}, post = true, sid = undefined, version = undefined) {
    let h = this._headers;
    if (typeof h === 'function') h = await h();
    const out = new Headers(h || {});
    if (post) {
      out.set('accept', 'application/json, text/event-stream');
      out.set('content-type', 'application/json');
    }
    const session = sid === undefined ? this.sessionId : sid;
    if (session) out.set('mcp-session-id', session);
    const v = version === undefined ? this.protocolVersion : version;
    if (v) out.set('mcp-protocol-version', v);
    for (const [k, val] of Object.entries(extra)) out.set(k, val);
    return out;
  }

  _wire(entry) {
    if (entry.kind !== 'request') return entry.msg;
    let params = entry.params;
    if (this.stateless) params = { ...params, _meta: { ...(params._meta || {}), ...this._meta() } };
    return { jsonrpc: '2.0', id: entry.id, method: entry.method, params };
  }

  _statelessHeaders(msg) {
    if (!this.stateless || !msg.method) return {};
    const h = { 'mcp-method': msg.method };
    const field = NAME_FIELD[msg.method];
    if (field && msg.params && msg.params[field] !== undefined) h['mcp-name'] = headerValue(msg.params[field]);
    if (msg.method === 'tools/call') {
      const args = (msg.params && msg.params.arguments) || {};
      for (const [arg, name] of this._toolHeaders.get(msg.params.name) || []) {
        if (args[arg] !== undefined && args[arg] !== null) h['mcp-param-' + name] = headerValue(args[arg]);
      }
    }
    return h;
  }

  // Sends one entry; resolves once its response head was handled (the body may still flow).
  async _send(entry) {
    const abort = new AbortController();
    entry.abort = abort;
    entry.phase = 'sending';
    const sid = this.stateless ? null : this.sessionId;
    entry.session = sid;
    const msg = this._wire(entry);
    let headers;
    let body;
    try {
      body = JSON.stringify(msg);
      headers = await this._httpHeaders(this._statelessHeaders(msg));
    } catch (error) {
      // A header function that threw, a value a header cannot carry: this message's fault.
      const err = new McpError(`cannot send ${msg.method || 'a response'}: ${error.message}`, { reason: 'bad-request', cause: error });
      if (entry.kind === 'request') return this._settle(entry, err);
      entry.settled = true;
      return entry.reject(err);
    }
    if (entry.abort !== abort) return;
    let res;
    try {
      res = await this._fetch(this.url, { method: 'POST', headers, body, signal: abort.signal });
    } catch (error) {
      if (entry.abort !== abort || entry.settled || this._state === 'closed') return;
      entry.abort = null;
      // No response head: the request may or may not have reached the server (connection
      // refused: it did not). It is sent again once the server answers.
      return this._transportDown(entry, error);
    }
    if (entry.abort !== abort || this._state === 'closed') { cancelBody(res); return; }
    if (res.status === 404 && sid) {
      cancelBody(res);
      if (entry.kind === 'request') this._requeue(entry);
      else { entry.phase = 'queued'; this._insert(entry); }
      return this._sessionExpired(sid, 'post-404');
    }
    if (UNAVAILABLE.has(res.status)) {
      cancelBody(res);
      entry.abort = null;
      return this._transportDown(entry, new McpError(`HTTP ${res.status}`, { status: res.status }));
    }
    this._transportUp();
    if (entry.kind !== 'request') {
      // A notification or an answer to the server: 202, nothing to read.
      let body = '';
      try { body = await res.text(); } catch { /* delivered already */ }
      entry.settled = true;
      if (res.ok) entry.resolve();
      else entry.reject(errorFrom(res.status, body));
      return;
    }
    entry.phase = 'open';
    if (isEventStream(res.headers.get('content-type')) && res.body) {
      this._readPostStream(entry, res, abort);
      return;
    }
    this._readJson(entry, res, abort);
  }

  async _readJson(entry, res, abort) {
    let text;
    try {
      text = await res.text();
    } catch (error) {
      if (entry.abort !== abort || entry.settled) return;
      // A JSON body cut off has no resume position: send the request again.
      entry.abort = null;
      return this._transportDown(entry, error);
    }
    if (entry.abort !== abort || entry.settled) return;
    let messages = [];
    try { messages = parseMessages(text); } catch { /* reported below */ }
    for (const m of messages) {
      // HTTP-level rejections carry id null: they are about this request.
      if (!m.method && m.id == null && m.error) this._settle(entry, Object.assign(rpcError(m.error), { status: res.status }));
      else this._dispatch(m);
    }
    // Settled, or handed on (an input_required round).
    if (!entry.settled && entry.abort === abort) {
      this._settle(entry, res.ok && res.status !== 202
        ? new McpError(`${entry.method}: response without a result`, { reason: 'no-response', status: res.status })
        : errorFrom(res.status, text));
    }
  }

  async _readPostStream(entry, res, abort) {
    const parser = new SSEParser({
      onEvent: (ev) => { if (ev.data) for (const m of parseMessages(ev.data)) this._dispatch(m); },
    });
    const reader = res.body.getReader();
    // Moonwire sends heartbeats on every stream: silence means a dead path that TCP may take
    // minutes to notice. Cancelling the reader ends the loop below, which resumes.
    const idleMs = this._sse.heartbeatTimeoutMs;
    let watchdog = null;
    const arm = () => {
      clearTimeout(watchdog);
      if (idleMs > 0 && idleMs < Infinity) watchdog = setTimeout(() => reader.cancel().catch(() => {}), idleMs);
    };
    arm();
    try {
      for (;;) {
        const r = await reader.read();
        if (entry.abort !== abort || entry.settled) break;
        if (r.done) { parser.end(); break; }
        arm();
        parser.feed(r.value);
        if (entry.abort !== abort || entry.settled) break;
      }
    } catch { /* the stream broke: resumed below */ }
    clearTimeout(watchdog);
    if (entry.abort !== abort || entry.settled || this._state === 'closed') {
      reader.cancel().catch(() => {});
      return;
    }
    entry.abort = null;
    entry.lastEventId = parser.lastEventId;
    this._resume(entry);
  }

  // The POST's stream ended before its response: resume it by GET + Last-Event-ID.
  _resume(entry) {
    if (this.stateless) {
      // Stateless streams have no ids, and the server cancelled the request when the
      // connection closed: nothing can be resumed.
      return this._settle(entry, new McpError(`${entry.method}: the response stream broke (${STATELESS_REVISION} streams cannot be resumed)`, { reason: 'stream-broken' }));
    }
    if (!entry.lastEventId) return this._transportDown(entry, new McpError('stream broke before its first event'));
    const sid = entry.session;
    entry.phase = 'resuming';
    this._emit('resume', { requestId: entry.id, lastEventId: entry.lastEventId });
    let empty = 0;    // consecutive resumed streams that delivered nothing new
    let delivered = false;
    let gap = false;
    const conn = new SSEConnection(this.url, { ...this._sse, ...this._retryOptions(), fetch: this._fetch,
      lastEventId: entry.lastEventId,
      headers: () => this._httpHeaders({ accept: 'text/event-stream' }, false, sid) });
    entry.resume = conn;
    conn.onopen = () => { delivered = false; };
    conn.onmessage = (e) => {
      if (!e.data) return;
      delivered = true;
      for (const m of parseMessages(e.data)) this._dispatch(m);
    };
    conn.addEventListener('gap', (e) => { gap = true; this._emit('gap', { data: e.data, requestId: entry.id }); });
    conn.onerror = (e) => {
      if (entry.resume !== conn || entry.settled) return;
      if (e.reason === 'session-expired') {
        if (this.sessionId === sid) return this._sessionExpired(sid, 'resume-404');
        // The session was replaced meanwhile: send the request again on the new one.
        this._requeue(entry);
        return this._pump();
      }
      if (e.reason === 'eof') empty = delivered ? 0 : empty + 1;
      if (gap || empty >= MAX_EMPTY_RESUMES || !e.willRetry) {
        this._settle(entry, new McpError(`${entry.method}: the response was lost (${gap ? 'evicted from the replay buffer' : e.reason})`,
          { reason: 'response-lost', status: e.status }));
      }
    };
  }

  _stopTransport(entry) {
    if (entry.abort) { entry.abort.abort(); entry.abort = null; }
    if (entry.resume) { entry.resume.close(); entry.resume = null; }
  }

  // --- incoming messages ----------------------------------------------------------------------

  _dispatch(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (typeof msg.method === 'string') {
      if (msg.id !== undefined && msg.id !== null) return this._serverRequest(msg);
      return this._notification(msg);
    }
    const entry = this._pending.get(msg.id);
    if (!entry || entry.settled) return;
    if (msg.error) return this._settle(entry, rpcError(msg.error));
    const result = msg.result ?? {};
    if (this.stateless && result.resultType === 'input_required') return this._inputRequired(entry, result);
    if (entry.method === 'tools/list' && Array.isArray(result.tools)) this._learnTools(result.tools);
    this._settle(entry, null, result);
  }

  _notification(msg) {
    if (msg.method === 'notifications/progress' && msg.params) {
      const entry = this._progress.get(msg.params.progressToken);
      if (entry && !entry.settled && entry.onProgress) {
        try { entry.onProgress(msg.params); } catch (e) { reportError(e); }
      }
    }
    const h = this._notificationHandlers.get(msg.method);
    if (h) { try { h(msg.params ?? {}, msg); } catch (e) { reportError(e); } }
    this._emit('notification', { method: msg.method, params: msg.params, message: msg });
  }

  async _runHandler(method, params, id) {
    const h = this._requestHandlers.get(method);
    if (h) return (await h(params ?? {}, { method, id, client: this })) ?? {};
    if (method === 'ping') return {};
    throw new McpError(`Method not found: ${method}`, { code: -32601 });
  }

  async _serverRequest(msg) {
    let response;
    try {
      const result = await this._runHandler(msg.method, msg.params, msg.id);
      response = { jsonrpc: '2.0', id: msg.id, result };
    } catch (e) {
      const code = Number.isInteger(e && e.code) ? e.code : -32603;
      response = { jsonrpc: '2.0', id: msg.id, error: { code, message: String((e && e.message) || e) } };
    }
    if (this._state === 'closed') return;
    this._sendOther('response', response).catch((error) => this._emit('error', { error }));
  }

  // 2026-07-28 Multi Round-Trip: answer the server's questions with the request handlers and
  // send the request again with inputResponses and the server's requestState.
  async _inputRequired(entry, result) {
    this._stopTransport(entry);
    entry.phase = 'asking';
    if (++entry.rounds > this._maxRounds) {
      return this._settle(entry, new McpError(`${entry.method}: more than ${this._maxRounds} input rounds`, { reason: 'too-many-rounds' }));
    }
    const answers = {};
    try {
      for (const [key, r] of Object.entries(result.inputRequests || {})) {
        answers[key] = await this._runHandler(r.method, r.params, key);
        if (entry.settled) return;
      }
    } catch (e) {
      return this._settle(entry, e instanceof McpError ? e : new McpError(String((e && e.message) || e), { reason: 'handler-failed', cause: e }));
    }
    if (entry.settled || this._state === 'closed') return;
    const params = { ...entry.params, inputResponses: answers };
    if (result.requestState !== undefined) params.requestState = result.requestState;
    else delete params.requestState;
    entry.params = params;
    entry.seq = this._seq++;
    entry.phase = 'queued';
    this._enqueue(entry);
  }

  _learnTools(tools) {
    for (const t of tools) {
      const props = t && t.inputSchema && t.inputSchema.properties;
      const pairs = [];
      for (const [arg, schema] of Object.entries(props || {})) {
        if (schema && typeof schema['x-mcp-header'] === 'string') pairs.push([arg, schema['x-mcp-header']]);
      }
      if (pairs.length) this._toolHeaders.set(t.name, pairs);
      else this._toolHeaders.delete(t.name);
    }
  }

  // --- settling --------------------------------------------------------------------------------

  _settle(entry, error, result) {
    if (entry.settled) return;
    entry.settled = true;
    this._pending.delete(entry.id);
    if (entry.progressToken !== undefined) this._progress.delete(entry.progressToken);
    if (entry.timer) clearTimeout(entry.timer);
    if (entry.signal) entry.signal.removeEventListener('abort', entry.onAbort);
    this._stopTransport(entry);
    const i = this._queue.indexOf(entry);
    if (i >= 0) this._queue.splice(i, 1);
    if (error) entry.reject(error);
    else entry.resolve(result);
  }

  // Abort or timeout: the server is told only if it may have seen the request.
  _cancel(entry, error) {
    if (entry.settled) return;
    const sent = entry.phase !== 'queued';
    const sid = entry.session;
    this._settle(entry, error);
    // 2026-07-28: closing the POST (done by _settle) is the cancellation.
    if (sent && !this.stateless && sid && sid === this.sessionId) {
      this.notify('notifications/cancelled', { requestId: entry.id,
        reason: String((error && error.message) || error) }).catch(() => {});
    }
  }

  _setState(state, reason, fields = {}) {
    if (this._state === state) return;
    const previous = this._state;
    this._state = state;
    this._emit('statechange', { state, previous, reason, ...fields });
  }

  _emit(type, fields) {
    const ev = new SSEEvent(type, fields);
    const handler = this['on' + type];
    if (typeof handler === 'function') {
      try { handler.call(this, ev); } catch (e) { reportError(e); }
    }
    this.dispatchEvent(ev);
  }
}

function errorFrom(status, text) {
  try {
    const m = JSON.parse(text);
    if (m && m.error) return Object.assign(rpcError(m.error), { status });
  } catch { /* not JSON */ }
  return new McpError(`HTTP ${status}`, { reason: 'http-error', status });
}

// One JSON-RPC message or a batch, as an array. Unparseable text yields nothing.
function parseMessages(text) {
  if (!text) return [];
  let v;
  try { v = JSON.parse(text); } catch { return []; }
  return Array.isArray(v) ? v : [v];
}

// Reads a whole (short) SSE response into its messages.
async function readStream(res) {
  const out = [];
  const parser = new SSEParser({ onEvent: (ev) => { if (ev.data) out.push(...parseMessages(ev.data)); } });
  const reader = res.body.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    parser.feed(r.value);
  }
  parser.end();
  return out;
}
