// Types for client/mcp-client.js.
import type { SSEConnection, SSEConnectionOptions } from './sse-connection.js';

export const SESSION_REVISION: '2025-11-25';
export const STATELESS_REVISION: '2026-07-28';

export type McpClientState = 'idle' | 'connecting' | 'ready' | 'disconnected' | 'reconnecting' | 'closed';
export const CLIENT_STATES: readonly McpClientState[];

/** Client-side failure reasons (McpError.reason). */
export type McpErrorReason =
  | 'closed' | 'timeout' | 'queue-full' | 'network' | 'unavailable' | 'http-error' | 'no-response'
  | 'stream-broken' | 'response-lost' | 'too-many-rounds' | 'too-many-pages' | 'handler-failed'
  | 'unsupported' | 'unsupported-version' | 'bad-request';

export class McpError extends Error {
  constructor(message: string, fields?: { code?: number; data?: unknown; reason?: McpErrorReason | string;
    status?: number; cause?: unknown });
  /** The JSON-RPC error code, when the server sent one (-32601, -32602, -32021, ...). */
  code?: number;
  data?: unknown;
  /** Set for failures of the client itself. */
  reason?: McpErrorReason | string;
  /** The HTTP status of the response that carried the error, if any. */
  status?: number;
}

export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

export interface ProgressParams {
  progressToken: string | number;
  progress: number;
  total?: number;
  message?: string;
}

export interface RequestOptions {
  /** Aborting sends notifications/cancelled (2025-11-25) or closes the POST (2026-07-28) and
   * rejects with signal.reason. */
  signal?: AbortSignal;
  /** From the call, queueing included; 0 or Infinity disables. Default: the client's requestTimeoutMs. */
  timeoutMs?: number;
  /** Called for every notifications/progress of this request (a progressToken is added). */
  onProgress?: (progress: ProgressParams) => void;
}

export interface RequestHandlerContext {
  method: string;
  /** The server's request id (2025-11-25) or the inputRequests key (2026-07-28). */
  id: string | number;
  client: McpClient;
}

export type RequestHandler = (params: any, context: RequestHandlerContext) => unknown | Promise<unknown>;

export interface McpClientOptions {
  /** '2025-11-25' (default; any session revision works) or '2026-07-28' (stateless). */
  protocolVersion?: string;
  /** Default { name: 'moonwire-mcp-client', version: '0.1.0' }. */
  clientInfo?: { name: string; version: string; [key: string]: unknown };
  /** Merged over the capabilities implied by the request handlers (sampling, elicitation, roots). */
  capabilities?: Record<string, unknown>;
  /** Added to every request; a function is called (and awaited) per request, e.g. for a token. */
  headers?: HeadersInit | Record<string, string> | (() => HeadersInit | Record<string, string> | Promise<HeadersInit | Record<string, string>>);
  /** Handlers for requests from the server, by method. ping is answered without one. */
  requestHandlers?: Record<string, RequestHandler>;
  /** Messages allowed to wait in the outgoing queue; more are rejected with 'queue-full'. Default 1000. */
  maxQueue?: number;
  /** Default timeout of every request. Default 60000. */
  requestTimeoutMs?: number;
  /** Backoff of re-sending, initialize and stream reconnects: base, cap, full jitter. Defaults 500, 10000, true. */
  initialRetryMs?: number;
  maxRetryMs?: number;
  jitter?: boolean;
  /** After an outage each queued message waits this long at most for the previous one's response
   * head before it is sent. Default 1000. */
  drainHeadWaitMs?: number;
  /** 2026-07-28: input_required rounds allowed per request. Default 8. */
  maxInputRounds?: number;
  /** 2026-07-28: the logLevel _meta of every request (opt-in log notifications). */
  logLevel?: string;
  /** 2025-11-25: open the session's GET stream. Default true. */
  standaloneStream?: boolean;
  /** 2026-07-28: call server/discover on connect. Default true. */
  discover?: boolean;
  /** Options for the SSE streams (GET, resumes, listen); heartbeatTimeoutMs also watches POST streams. */
  sse?: Partial<SSEConnectionOptions>;
  fetch?: typeof fetch;
}

export interface ConnectInfo {
  protocolVersion: string | null;
  sessionId: string | null;
  serverInfo: { name: string; version: string; [key: string]: unknown } | null;
  capabilities: Record<string, unknown> | null;
  instructions?: string;
}

export interface ListenSubscription {
  id: string;
  connection: SSEConnection;
  /** The params of notifications/subscriptions/acknowledged. */
  acknowledged: Promise<{ notifications: Record<string, unknown>; [key: string]: unknown }>;
  close(): void;
}

export interface McpNotificationEvent extends Event {
  method: string;
  params: Record<string, unknown> | undefined;
  message: JsonRpcMessage;
}
export interface McpStateChangeEvent extends Event {
  state: McpClientState;
  previous: McpClientState;
  /** 'connect', 'session-expired', 'network', 'retry', 'reconnected', 'failed', 'closed'. */
  reason?: string;
  error?: unknown;
}
export interface McpErrorEvent extends Event {
  error: unknown;
  willRetry?: boolean;
}
export interface McpSessionExpiredEvent extends Event {
  sessionId: string;
  /** 'post-404', 'get-404' or 'resume-404'. */
  reason: string;
}
export interface McpReinitializedEvent extends Event {
  previousSessionId: string;
  sessionId: string;
  /** Requests queued to be sent on the new session. */
  resent: number;
}
export interface McpResumeEvent extends Event {
  requestId: number;
  lastEventId: string;
}
export interface McpGapEvent extends Event {
  /** The gap event's data (JSON text). */
  data: string;
  stream?: 'standalone';
  requestId?: number;
}

export class McpClient extends EventTarget {
  constructor(url: string | URL, options?: McpClientOptions);
  readonly url: string;
  readonly stateless: boolean;
  readonly state: McpClientState;
  /** Messages waiting in the outgoing queue. */
  readonly queued: number;
  /** The negotiated revision (after connect in 2025-11-25). */
  protocolVersion: string | null;
  sessionId: string | null;
  serverInfo: ConnectInfo['serverInfo'];
  serverCapabilities: Record<string, unknown> | null;
  instructions?: string;
  /** 2026-07-28, after connect with discover. */
  supportedVersions?: string[];
  /** The session's GET stream, or null. */
  readonly standaloneStream: SSEConnection | null;

  onnotification: ((this: McpClient, ev: McpNotificationEvent) => void) | null;
  onstatechange: ((this: McpClient, ev: McpStateChangeEvent) => void) | null;
  onerror: ((this: McpClient, ev: McpErrorEvent) => void) | null;
  onsessionexpired: ((this: McpClient, ev: McpSessionExpiredEvent) => void) | null;
  onreinitialized: ((this: McpClient, ev: McpReinitializedEvent) => void) | null;
  onresume: ((this: McpClient, ev: McpResumeEvent) => void) | null;
  ongap: ((this: McpClient, ev: McpGapEvent) => void) | null;

  connect(): Promise<ConnectInfo>;
  request<T = any>(method: string, params?: Record<string, unknown>, options?: RequestOptions): Promise<T>;
  notify(method: string, params?: Record<string, unknown>): Promise<void>;
  callTool(name: string, args?: Record<string, unknown>, options?: RequestOptions): Promise<{
    content: Array<{ type: string; text?: string; [key: string]: unknown }>;
    isError?: boolean;
    structuredContent?: unknown;
    resultType?: string;
    [key: string]: unknown;
  }>;
  /** Follows nextCursor and returns every tool. */
  listTools(options?: RequestOptions): Promise<{ tools: Array<{ name: string; description?: string;
    inputSchema: Record<string, unknown>; [key: string]: unknown }>; [key: string]: unknown }>;
  ping(options?: RequestOptions): Promise<Record<string, unknown>>;
  /** null removes the handler. */
  setRequestHandler(method: string, handler: RequestHandler | null): void;
  setNotificationHandler(method: string, handler: ((params: any, message: JsonRpcMessage) => void) | null): void;
  /** 2026-07-28 only: a subscriptions/listen stream. */
  listen(notifications: { toolsListChanged?: boolean; promptsListChanged?: boolean;
    resourcesListChanged?: boolean; resourceSubscriptions?: string[] },
    options?: Partial<SSEConnectionOptions>): ListenSubscription;
  close(): Promise<void>;

  addEventListener(type: 'notification', listener: (ev: McpNotificationEvent) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: 'statechange', listener: (ev: McpStateChangeEvent) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: 'error', listener: (ev: McpErrorEvent) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: 'sessionexpired', listener: (ev: McpSessionExpiredEvent) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: 'reinitialized', listener: (ev: McpReinitializedEvent) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: 'resume', listener: (ev: McpResumeEvent) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: 'gap', listener: (ev: McpGapEvent) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}
