// An SSE client on fetch streams, for browsers and Node >= 18, without a build step. Unlike
// EventSource it can send any method, headers (Authorization, Mcp-Session-Id, Last-Event-ID)
// and body, and it adds backoff with jitter, a heartbeat watchdog and de-duplication by id.

const LF = 10;

// WHATWG "text/event-stream" interpretation (HTML §9.2.6), one stream at a time. Bytes are
// decoded incrementally, so a chunk may end anywhere, even inside a UTF-8 sequence or a CRLF.
export class SSEParser {
  // handlers: { onEvent({type, data, lastEventId, id}, previousLastEventId), onComment(text),
  // onRetry(ms) }, all optional.
  constructor(handlers = {}, { lastEventId = '' } = {}) {
    this.onEvent = handlers.onEvent || null;
    this.onComment = handlers.onComment || null;
    this.onRetry = handlers.onRetry || null;
    // The last event ID string survives events and reset(): it is what a reconnect resumes from.
    this.lastEventId = lastEventId;
    this.reset();
  }

  // Starts a new stream (a reconnect): drops partial lines and the event being built, keeps
  // lastEventId.
  reset() {
    this._decoder = null;       // created on the first byte chunk; ignoreBOM so BOM handling is ours
    this._buf = '';             // text not yet terminated by a line end
    this._started = false;      // whether the first character of the stream was seen (BOM check)
    this._skipLF = false;       // the previous chunk ended with CR; an LF starting this one pairs with it
    this._data = '';
    this._dataSeen = false;     // a data field was seen (its value may be empty)
    this._type = '';
    this._idBuf = this.lastEventId;
    this._idSeen = false;       // this event block carried a (NUL-free) id field
  }

  // Feeds a chunk (string or bytes) and dispatches whatever events it completes.
  feed(chunk) {
    let text;
    if (typeof chunk === 'string') {
      text = chunk;
    } else {
      if (!this._decoder) this._decoder = new TextDecoder('utf-8', { ignoreBOM: true });
      text = this._decoder.decode(chunk, { stream: true });
    }
    this._text(text);
  }

  // Sets the resume position, as if the last event had carried this id.
  setLastEventId(id) {
    this.lastEventId = id;
    this._idBuf = id;
  }

  // The stream ended. Per spec an event not terminated by a blank line is discarded.
  end() {
    if (this._decoder) this._text(this._decoder.decode());
    const id = this.lastEventId;
    this.reset();
    this.lastEventId = id;
  }

  _text(text) {
    if (!text) return;
    if (!this._started) {
      this._started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (!text) return;
    }
    if (this._skipLF) {
      this._skipLF = false;
      if (text.charCodeAt(0) === LF) text = text.slice(1);
    }
    let buf = this._buf + text;
    let start = 0;
    for (;;) {
      const cr = buf.indexOf('\r', start);
      const lf = buf.indexOf('\n', start);
      let end;
      if (cr < 0 && lf < 0) break;
      if (cr < 0 || (lf >= 0 && lf < cr)) end = lf;
      else end = cr;
      this._line(buf.slice(start, end));
      start = end + 1;
      if (end === cr) {
        if (start === buf.length) this._skipLF = true;
        else if (buf.charCodeAt(start) === LF) start++;
      }
    }
    this._buf = buf.slice(start);
  }

  _line(line) {
    if (line === '') return this._dispatch();
    if (line.charCodeAt(0) === 58 /* : */) {
      if (this.onComment) this.onComment(line.slice(1));
      return;
    }
    const colon = line.indexOf(':');
    let field = line;
    let value = '';
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1); // one space only
    }
    switch (field) {
      case 'event': this._type = value; break;
      case 'data': this._data += value + '\n'; this._dataSeen = true; break;
      case 'id':
        if (value.indexOf('\0') < 0) { this._idBuf = value; this._idSeen = true; }
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value) && this.onRetry) this.onRetry(parseInt(value, 10));
        break;
      default: break;
    }
  }

  _dispatch() {
    const previousLastEventId = this.lastEventId;
    this.lastEventId = this._idBuf;
    const idSeen = this._idSeen;
    this._idSeen = false;
    const type = this._type;
    let data = this._data;
    this._type = '';
    this._data = '';
    this._dataSeen = false;
    if (data === '') return;
    data = data.slice(0, -1);
    if (this.onEvent) {
      this.onEvent({ type: type || 'message', data, lastEventId: this.lastEventId,
        id: idSeen ? this.lastEventId : undefined }, previousLastEventId);
    }
  }
}

// An Event carrying extra fields (Node 18 has no global CustomEvent).
export class SSEEvent extends Event {
  constructor(type, fields = {}) {
    super(type);
    Object.assign(this, fields);
  }
}

export const STATES = Object.freeze(['connecting', 'open', 'reconnecting', 'closed']);

const defaultClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t),
};

function isEventStream(contentType) {
  if (!contentType) return false;
  return contentType.split(';')[0].trim().toLowerCase() === 'text/event-stream';
}

// Retry-After in seconds (the HTTP-date form is ignored), as ms, or null.
function retryAfterMs(headers) {
  const v = headers && headers.get && headers.get('retry-after');
  return v && /^[0-9]+$/.test(v.trim()) ? parseInt(v, 10) * 1000 : null;
}

export class SSEConnection extends EventTarget {
  constructor(url, options = {}) {
    super();
    this.url = String(url);
    this.onopen = null;
    this.onmessage = null;
    this.onerror = null;
    this.onstatechange = null;
    const o = options;
    this._method = o.method || 'GET';
    this._headers = o.headers || {};
    this._body = o.body;
    this._initialRetryMs = o.initialRetryMs ?? 1000;
    this._maxRetryMs = o.maxRetryMs ?? 60000;
    this._jitter = o.jitter ?? true;
    this._heartbeatTimeoutMs = o.heartbeatTimeoutMs ?? 37500;
    this._maxRetries = o.maxRetries ?? Infinity;
    this._resetAfterMs = o.resetAfterMs ?? 30000;
    this._dedupWindow = o.dedupWindow ?? 1024;
    this._primingMovesResume = o.primingMovesResume ?? false;
    this._fetch = o.fetch || ((...a) => globalThis.fetch(...a));
    this._clock = { ...defaultClock, ...(o.clock || {}) };
    this._random = o.random || Math.random;
    this._credentials = o.credentials;

    this._state = 'connecting';
    this._attempt = 0;           // generation; callbacks of an older attempt are ignored
    this._abort = null;          // AbortController of the current attempt
    this._reader = null;
    this._feeding = 0;           // the attempt whose bytes the parser is reading
    this._failures = 0;          // consecutive reconnects since the last stable connection
    this._serverRetryMs = null;  // last `retry:` from the server
    this._openedAt = null;       // clock time the current stream opened, or null
    this._lastActivity = 0;      // clock time of the last byte (or response head)
    this._watchdog = null;
    this._retryTimer = null;
    this._seen = new Set();      // recent event ids, for de-dup across reconnects
    this._seenOrder = [];
    this._parser = new SSEParser({
      onEvent: (ev, previousId) => this._onParsedEvent(ev, previousId),
      onRetry: (ms) => { this._serverRetryMs = ms; },
    }, { lastEventId: o.lastEventId ?? '' });
    this._connect();
  }

  get state() { return this._state; }
  get lastEventId() { return this._parser.lastEventId; }
  // The delay the next reconnect would use before jitter (for diagnostics and tests).
  get retryBaseMs() { return this._baseDelay(); }

  close() {
    if (this._state === 'closed') return;
    this._stop('closed');
  }

  // Drops the current stream (if any) and connects again at once, resuming from lastEventId.
  reconnect() {
    if (this._state === 'closed') return;
    this._teardown();
    this._setState('reconnecting', 'manual');
    this._connect();
  }

  // --- internals ---------------------------------------------------------------------------

  _setState(state, reason) {
    if (this._state === state) return;
    const previous = this._state;
    this._state = state;
    this._emit('statechange', { state, previous, reason });
  }

  _emit(type, fields) {
    const ev = new SSEEvent(type, fields);
    const handler = this['on' + type];
    if ((type === 'open' || type === 'message' || type === 'error' || type === 'statechange')
        && typeof handler === 'function') {
      try { handler.call(this, ev); } catch (e) { reportError(e); }
    }
    this.dispatchEvent(ev);
  }

  async _resolveHeaders() {
    let h = this._headers;
    if (typeof h === 'function') h = await h();
    const out = new Headers(h || {});
    if (!out.has('accept')) out.set('accept', 'text/event-stream');
    if (this._parser.lastEventId !== '') out.set('last-event-id', this._parser.lastEventId);
    return out;
  }

  async _connect() {
    const attempt = ++this._attempt;
    const abort = new AbortController();
    this._abort = abort;
    this._parser.reset();
    this._openedAt = null;
    this._lastActivity = this._clock.now();
    this._armWatchdog(attempt);
    let res;
    let headers;
    try {
      headers = await this._resolveHeaders();
      if (attempt !== this._attempt) return;
      const init = { method: this._method, headers, signal: abort.signal, cache: 'no-store' };
      if (this._body !== undefined && this._body !== null) init.body = this._body;
      if (this._credentials) init.credentials = this._credentials;
      res = await this._fetch(this.url, init);
    } catch (error) {
      if (attempt !== this._attempt) return;
      return this._lost('network', { error });
    }
    if (attempt !== this._attempt) { cancelBody(res); return; }
    this._lastActivity = this._clock.now();
    const status = res.status;
    if (status === 204) {
      cancelBody(res);
      return this._stop('no-content');
    }
    if (status === 404 && headers.has('mcp-session-id')) {
      cancelBody(res);
      return this._fail('session-expired', { status, response: res });
    }
    if (status < 200 || status > 299) {
      cancelBody(res);
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        return this._fail('http-error', { status, response: res });
      }
      return this._lost('http-error', { status, response: res }, retryAfterMs(res.headers));
    }
    if (!isEventStream(res.headers.get('content-type')) || !res.body) {
      cancelBody(res);
      return this._lost('bad-content-type', { status, response: res });
    }
    const reader = res.body.getReader();
    this._reader = reader;
    this._openedAt = this._clock.now();
    this._setState('open');
    if (attempt !== this._attempt) return;
    this._emit('open', { status, response: res });
    if (attempt !== this._attempt) return;
    for (;;) {
      let r;
      try {
        r = await reader.read();
      } catch (error) {
        if (attempt !== this._attempt) return;
        return this._lost('network', { error });
      }
      if (attempt !== this._attempt) return;
      if (r.done) {
        this._parser.end();
        return this._lost('eof', {});
      }
      this._lastActivity = this._clock.now();
      this._feeding = attempt;
      this._parser.feed(r.value);
      if (attempt !== this._attempt) return;
    }
  }

  _onParsedEvent(ev, previousId) {
    // A listener may have closed or reconnected in the middle of a chunk: drop the rest.
    if (this._feeding !== this._attempt) return;
    // A priming event (an id, empty data) does not move a resume position we already hold.
    // Moonwire primes a resumed stream with a fresh id newer than the events it is about to
    // replay; a connection lost between the two would otherwise resume past them, silently.
    // Resuming from the older id is always safe: what comes twice is dropped below.
    if (ev.data === '' && ev.id !== undefined && previousId !== '' && !this._primingMovesResume) {
      this._parser.setLastEventId(previousId);
    }
    if (ev.id !== undefined && ev.id !== '' && this._dedupWindow > 0) {
      if (this._seen.has(ev.id)) return;
      this._seen.add(ev.id);
      this._seenOrder.push(ev.id);
      if (this._seenOrder.length > this._dedupWindow) this._seen.delete(this._seenOrder.shift());
    }
    this._emit(ev.type, { data: ev.data, lastEventId: ev.lastEventId, id: ev.id, origin: this.url });
  }

  _armWatchdog(attempt) {
    const t = this._heartbeatTimeoutMs;
    if (!(t > 0 && t < Infinity)) return;
    const check = () => {
      this._watchdog = null;
      if (attempt !== this._attempt) return;
      const idle = this._clock.now() - this._lastActivity;
      if (idle >= t) {
        this._teardown();
        this._lost('heartbeat-timeout', { idleMs: idle });
      } else {
        this._watchdog = this._clock.setTimeout(check, t - idle);
      }
    };
    this._watchdog = this._clock.setTimeout(check, t);
  }

  // Stops the current attempt's timers and I/O; later callbacks of it become no-ops.
  _teardown() {
    this._attempt++;
    if (this._watchdog !== null) { this._clock.clearTimeout(this._watchdog); this._watchdog = null; }
    if (this._retryTimer !== null) { this._clock.clearTimeout(this._retryTimer); this._retryTimer = null; }
    if (this._abort) { this._abort.abort(); this._abort = null; }
    if (this._reader) { this._reader.cancel().catch(() => {}); this._reader = null; }
  }

  _baseDelay() {
    const r = this._serverRetryMs ?? this._initialRetryMs;
    const cap = Math.max(this._maxRetryMs, this._serverRetryMs ?? 0);
    return Math.min(cap, r * 2 ** Math.min(this._failures, 52));
  }

  // The connection was lost or refused in a retryable way: report it and schedule a reconnect.
  _lost(reason, fields, minDelayMs = null) {
    const now = this._clock.now();
    if (this._openedAt !== null && now - this._openedAt >= this._resetAfterMs) this._failures = 0;
    this._teardown();
    if (this._failures >= this._maxRetries) {
      return this._fail('max-retries', { cause: reason, ...fields });
    }
    const base = this._baseDelay();
    let delay = this._jitter ? Math.floor(this._random() * base) : base;
    if (minDelayMs !== null) delay = Math.max(delay, minDelayMs);
    this._failures++;
    this._setState('reconnecting', reason);
    if (this._state !== 'reconnecting') return;
    this._emit('error', { reason, willRetry: true, retryInMs: delay, ...fields });
    if (this._state !== 'reconnecting') return;
    this._retryTimer = this._clock.setTimeout(() => {
      this._retryTimer = null;
      if (this._state === 'reconnecting') this._connect();
    }, delay);
  }

  // A terminal failure: report it, then close.
  _fail(reason, fields) {
    this._teardown();
    this._emit('error', { reason, willRetry: false, ...fields });
    this._stop(reason);
  }

  _stop(reason) {
    this._teardown();
    this._setState('closed', reason);
  }
}

function cancelBody(res) {
  if (res && res.body && !res.bodyUsed) res.body.cancel().catch(() => {});
}

function reportError(e) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(e);
  else setTimeout(() => { throw e; });
}
