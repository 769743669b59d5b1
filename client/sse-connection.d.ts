// Types for client/sse-connection.js.

export interface ParsedSSEEvent {
  /** The `event:` field, or "message". */
  type: string;
  data: string;
  /** The last event ID string at dispatch (persists across events). */
  lastEventId: string;
  /** The id this event block carried itself, or undefined. */
  id: string | undefined;
}

export interface SSEParserHandlers {
  /** `previousLastEventId` is lastEventId as it was before this event. */
  onEvent?: (event: ParsedSSEEvent, previousLastEventId: string) => void;
  /** Called with the text after the colon of a comment line (heartbeats). */
  onComment?: (text: string) => void;
  /** Called with a valid (digits-only) `retry:` value in ms. */
  onRetry?: (ms: number) => void;
}

export class SSEParser {
  constructor(handlers?: SSEParserHandlers, options?: { lastEventId?: string });
  lastEventId: string;
  onEvent: SSEParserHandlers['onEvent'] | null;
  onComment: SSEParserHandlers['onComment'] | null;
  onRetry: SSEParserHandlers['onRetry'] | null;
  /** Feeds a chunk; a chunk may end anywhere, even inside a UTF-8 sequence or a CRLF. */
  feed(chunk: string | Uint8Array): void;
  /** End of stream: an unterminated event is discarded. lastEventId is kept. */
  end(): void;
  /** Starts a new stream, keeping lastEventId. */
  reset(): void;
  /** Sets the resume position, as if the last event had carried this id. */
  setLastEventId(id: string): void;
}

export type SSEState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export type SSEErrorReason =
  | 'network' | 'eof' | 'http-error' | 'bad-content-type' | 'heartbeat-timeout'
  | 'session-expired' | 'max-retries';

export interface SSEClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

type HeadersLike = HeadersInit | Record<string, string>;

export interface SSEConnectionOptions {
  method?: string;
  /** Sent on every attempt; a function is called (and awaited) per attempt, e.g. to refresh a token. */
  headers?: HeadersLike | (() => HeadersLike | Promise<HeadersLike>);
  /** Sent on every attempt, so it must be re-usable (string, ArrayBuffer, Blob, URLSearchParams). */
  body?: BodyInit | null;
  credentials?: RequestCredentials;
  /** Backoff base when the server sent no `retry:`. Default 1000. */
  initialRetryMs?: number;
  /** Backoff cap (a larger server `retry:` wins). Default 60000. */
  maxRetryMs?: number;
  /** Full jitter: the delay is uniform in [0, base). Default true. */
  jitter?: boolean;
  /** Reconnect when nothing (not even a comment) arrived for this long; 0 disables. Default 37500. */
  heartbeatTimeoutMs?: number;
  /** Consecutive reconnects allowed before giving up with 'max-retries'. Default Infinity. */
  maxRetries?: number;
  /** A stream open at least this long resets the backoff. Default 30000. */
  resetAfterMs?: number;
  /** How many recent event ids are remembered to drop duplicates; 0 disables. Default 1024. */
  dedupWindow?: number;
  /** Resume position for the first request. */
  lastEventId?: string;
  /** Let an event with an id and empty data (a priming event) move a resume position the client
   * already holds, as EventSource does. Default false: the older position is kept. */
  primingMovesResume?: boolean;
  fetch?: typeof fetch;
  clock?: Partial<SSEClock>;
  /** Returns a number in [0, 1). Default Math.random. */
  random?: () => number;
}

export interface SSEMessageEvent extends Event {
  data: string;
  lastEventId: string;
  id: string | undefined;
  origin: string;
}

export interface SSEOpenEvent extends Event {
  status: number;
  response: Response;
}

export interface SSEErrorEvent extends Event {
  reason: SSEErrorReason;
  willRetry: boolean;
  /** Present when willRetry. */
  retryInMs?: number;
  status?: number;
  response?: Response;
  error?: unknown;
  /** For 'max-retries': the reason of the last failure. */
  cause?: SSEErrorReason;
  idleMs?: number;
}

export interface SSEStateChangeEvent extends Event {
  state: SSEState;
  previous: SSEState;
  /** Why: an SSEErrorReason, 'manual', 'closed' (close()), 'no-content' (204), or undefined on open. */
  reason?: string;
}

export class SSEEvent extends Event {
  constructor(type: string, fields?: Record<string, unknown>);
  [key: string]: unknown;
}

export const STATES: readonly SSEState[];

export class SSEConnection extends EventTarget {
  constructor(url: string | URL, options?: SSEConnectionOptions);
  readonly url: string;
  readonly state: SSEState;
  readonly lastEventId: string;
  /** The delay before jitter the next reconnect would use. */
  readonly retryBaseMs: number;
  onopen: ((this: SSEConnection, ev: SSEOpenEvent) => void) | null;
  onmessage: ((this: SSEConnection, ev: SSEMessageEvent) => void) | null;
  onerror: ((this: SSEConnection, ev: SSEErrorEvent) => void) | null;
  onstatechange: ((this: SSEConnection, ev: SSEStateChangeEvent) => void) | null;
  close(): void;
  /** Drops the current stream and connects again at once, resuming from lastEventId. */
  reconnect(): void;
  addEventListener(type: 'open', listener: (ev: SSEOpenEvent) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: 'error', listener: (ev: SSEErrorEvent) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: 'statechange', listener: (ev: SSEStateChangeEvent) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: (ev: SSEMessageEvent) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}
