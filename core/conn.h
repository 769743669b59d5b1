/* One TCP connection: HTTP/1.1 request parsing (keep-alive, pipelining), the
 * response, and — once it carries Server-Sent Events — the stream's write side
 * with heartbeats and backpressure. The server context owns every connection;
 * a connection is freed only in its libuv close callback. */
#ifndef MW_CONN_H
#define MW_CONN_H

#include "server.h"

typedef enum {
  MW_CONN_READING, /* parsing a request (or idle between requests) */
  MW_CONN_BUSY,    /* a request is complete and its response is owed */
  MW_CONN_STREAM,  /* the response is an open SSE stream */
  MW_CONN_LINGER,  /* response sent, write side shut, draining input before close */
  MW_CONN_CLOSING  /* uv_close issued */
} mw_conn_state_t;

typedef enum { MW_SSE_NONE, MW_SSE_LUA, MW_SSE_SESSION, MW_SSE_CHANNEL } mw_sse_kind_t;

struct mw_conn {
  uv_tcp_t tcp;         /* tcp.data = this */
  mw_server_t *server;  /* borrowed; outlives every connection */
  mw_list_t link;       /* in server->conns */
  mw_list_t ready_link; /* in server->ready while `queued` */
  mw_tnode_t tnode;     /* in the server timeout list matching the state */
  mw_req_t *req;        /* owned; NULL while idle or streaming */
  char *inbuf;          /* owned; bytes received but not yet parsed (pipelining) */
  uint32_t inbuf_len;
  uint32_t pending_bytes; /* handed to libuv, not yet written */
  uint32_t pending_writes;
  uint8_t state;    /* mw_conn_state_t */
  uint8_t sse_kind; /* mw_sse_kind_t */
  bool keep_alive;  /* the current exchange allows another request after it */
  bool chunked;     /* the SSE response uses chunked transfer encoding */
  bool head_only;   /* HEAD request: no body goes out */
  bool in_parse;    /* feed() is on the stack: it resumes parsing itself */
  bool close_after_flush;
  bool reading;            /* uv_read_start is in effect */
  bool queued;             /* on the server's deferred-input list */
  bool replaying;          /* catching up from a replay log, paced by the write queue */
  bool answering;          /* a Lua stream that is one request's response (2026-07-28
                              POST): shutdown lets it finish like a request */
  mw_gen_t *gen;           /* reference held while a Lua handler owes the response */
  uint32_t lua_handle;     /* slot + 1 in server->handles of the Lua handle bound here, 0: none */
  uint64_t replay_after;   /* while replaying: seq of the last event sent */
  uint64_t req_start_ms;   /* loop time the current request began (access records) */
  uint64_t stall_until_ms; /* test hook (mw_channel_stall): nothing, not even a heartbeat,
                              is written before this loop time; 0 = not stalled */
  char peer[46];           /* the client's address as text (INET6_ADDRSTRLEN), "" until
                              mw_conn_peer first asks: one getpeername per connection */
  union {
    struct {
      mw_session_t *session; /* borrowed; the session detaches us before it is freed */
      uint32_t no;
    } s;
    struct {
      mw_channel_t *channel; /* borrowed; same rule */
      mw_list_t link;        /* in channel->subscribers */
    } ch;
  } sse;
};

/* The client's IP address as text ("" if the socket cannot tell); owned by `c`. */
const char *mw_conn_peer(mw_conn_t *c);

/* Accepts one pending connection on the server's listener. */
void mw_conn_accept(mw_server_t *s);

/* Writes a complete response and finishes the exchange (keep-alive or close).
 * Connection/Content-Length/Transfer-Encoding in `hdrs` are ignored; CORS
 * headers are added when the request had an Origin. No-op unless BUSY. */
void mw_conn_respond(mw_conn_t *c, int status, const mw_kv_t *hdrs, size_t nhdrs, const char *body,
                     size_t body_len);

/* Starts an SSE response (200, text/event-stream, no-cache, no buffering,
 * chunked on HTTP/1.1) plus `hdrs`. The request is released; the connection is
 * now a stream with heartbeats. Returns 0 or -EINVAL when not BUSY. */
int mw_conn_sse_start(mw_conn_t *c, const mw_kv_t *hdrs, size_t nhdrs);

/* Queues `frame` by reference. Counts it as an event unless it is a heartbeat.
 * Closes the connection and returns -ENOBUFS when the client is not reading
 * (more than MAX_PENDING_BYTES unsent: a slow consumer); -EPIPE when closed. */
int mw_conn_sse_send(mw_conn_t *c, mw_frame_t *frame);

/* Sends up to MW_SSE_SEND_MAX frames (`n` is clamped to it) with one write
 * when the socket takes them: how a subscriber that fell behind a burst
 * catches up. Same rules and results as mw_conn_sse_send. */
#define MW_SSE_SEND_MAX 64
int mw_conn_sse_send_many(mw_conn_t *c, mw_frame_t **frames, size_t n);

/* While replaying: may another event be queued now? (half of MAX_PENDING_BYTES,
 * so a catch-up never trips the slow-consumer limit meant for live sends) */
bool mw_conn__can_replay(void *conn);

/* Paced-replay emitter (mw_eventlog_emit_cb, ud = the connection): sends one
 * logged frame and counts it as replayed. */
void mw_conn__replay_frame(void *conn, mw_frame_t *frame);

/* Ends an SSE response normally (terminating chunk); the connection returns to
 * keep-alive, or closes when the exchange did not allow it. */
void mw_conn_sse_finish(mw_conn_t *c);

/* Closes at once: detaches from any session or channel, drops queued writes. */
void mw_conn_close(mw_conn_t *c);

/* Sends the final bytes then shuts down gracefully (drain, then close). */
void mw_conn_end(mw_conn_t *c);

/* Resumes parsing input that arrived while a response was owed. Called by the
 * server outside any Lua call. */
void mw_conn_process_input(mw_conn_t *c);

/* Timeout-list callbacks the server installs. */
void mw_conn_on_idle_timeout(mw_tlist_t *tl, mw_tnode_t *n);
void mw_conn_on_head_timeout(mw_tlist_t *tl, mw_tnode_t *n);
void mw_conn_on_linger_timeout(mw_tlist_t *tl, mw_tnode_t *n);
void mw_conn_on_heartbeat(mw_tlist_t *tl, mw_tnode_t *n);

/* The llhttp callbacks, wired into server->parser_settings. */
void mw_conn_parser_settings(llhttp_settings_t *settings);

#endif
