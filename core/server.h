/* The server context: the one object that owns everything else — listener,
 * connections, sessions, channels, timers, the current Lua generation and
 * the metrics. No other globals exist (besides the log level). */
#ifndef MW_SERVER_H
#define MW_SERVER_H

#include <uv.h>

#include "common.h"
#include "config.h"
#include "eventlog.h"
#include "handles.h"
#include "hmap.h"
#include "http.h"
#include "tlist.h"

typedef struct mw_server mw_server_t;
typedef struct mw_conn mw_conn_t;
typedef struct mw_gen mw_gen_t;
typedef struct mw_session mw_session_t;
typedef struct mw_channel mw_channel_t;
typedef struct mw_reload mw_reload_t;

/* CORS policy: CORS_ALLOW_ORIGINS and built-in defaults, unless the cors
 * plugin set its own (mw.cors). Strings are owned. */
typedef struct mw_cors {
  char *origins;      /* comma list or "*" */
  char *methods;      /* Access-Control-Allow-Methods */
  char *headers;      /* Access-Control-Allow-Headers; NULL = echo the request's */
  char *expose;       /* Access-Control-Expose-Headers */
  unsigned max_age_s; /* Access-Control-Max-Age */
  bool credentials;   /* Access-Control-Allow-Credentials: true (never with "*") */
} mw_cors_t;

/* Resets `c` to the defaults from `config`. */
void mw_cors_defaults(mw_cors_t *c, const mw_config_t *config);
void mw_cors_dispose(mw_cors_t *c);

typedef struct mw_metrics {
  uint64_t connections_accepted;
  uint64_t connections_rejected; /* over MAX_CONNECTIONS */
  uint64_t heartbeats_sent;
  uint64_t events_sent;
  uint64_t events_replayed;
  uint64_t replay_gaps;
  uint64_t bytes_out;
  uint64_t slow_consumers;
  uint64_t requests[6]; /* by status class: [1]=1xx … [5]=5xx */
  uint64_t lua_errors;
  uint64_t reloads_ok;
  uint64_t reloads_failed;
  uint64_t sessions_created;
  uint64_t sessions_expired;
  double last_reload_seconds;
  uint64_t last_reload_unix_ms; /* wall clock of the last reload attempt (0: none), for operators */
} mw_metrics_t;

struct mw_server {
  uv_loop_t *loop;           /* borrowed */
  const mw_config_t *config; /* borrowed; outlives the server */
  uv_tcp_t listener;
  bool loopback;   /* bound to a loopback address: DNS-rebinding checks on */
  mw_list_t conns; /* every open mw_conn_t */
  uint32_t nconns;
  uint32_t nstreams;         /* connections currently carrying SSE */
  mw_tlist_t idle_list;      /* keep-alive connections waiting for a request */
  mw_tlist_t head_list;      /* connections reading a request head (408 on expiry) */
  mw_tlist_t body_list;      /* connections reading a request body */
  mw_tlist_t linger_list;    /* half-closed connections draining before close */
  mw_tlist_t heartbeat_list; /* SSE connections, ordered by last write */
  mw_tlist_t session_list;   /* sessions with no attached stream, ordered by last use */
  mw_hmap_t sessions;        /* id -> mw_session_t (owned through this map) */
  mw_hmap_t channels;        /* name -> mw_channel_t (owned through this map) */
  mw_list_t fanout;          /* channels with a fan-out pass due (mw_channel__fan_out) */
  bool fanout_queued;        /* a fan-out slice is deferred */
  mw_hmap_t shared;          /* key -> mw_shared_entry_t (owned through this map) */
  size_t shared_bytes;       /* what `shared` holds, as mw_shared counts it (SHARED_MEMORY_MB) */
  mw_eventlog_limits_t log_limits;
  mw_cors_t cors;
  llhttp_settings_t parser_settings;
  mw_req_pool_t req_pool; /* owned: finished requests kept for the next ones */
  mw_handles_t handles;   /* owned: what the Lua handles of requests refer to */
  char *read_buf;         /* owned; shared by all reads: parsing is synchronous */
  mw_gen_t *gen;          /* current Lua generation; holds one reference */
  mw_list_t gens;         /* every generation not yet freed (current and retired) */
  bool access_hook;       /* a plugin wants a record of every response (on_response) */
  mw_list_t access;       /* mw_access_t waiting to be handed to Lua */
  bool access_flush_queued;
  uint32_t gen_seq;     /* id of the newest generation built */
  char *reload_error;   /* owned; message of the last failed reload, NULL after success */
  mw_reload_t *reload;  /* owned */
  mw_list_t ready;      /* connections with input to parse once out of Lua */
  uv_idle_t ready_idle; /* runs while `ready` or `deferred` is non-empty */
  mw_list_t deferred;   /* mw_deferred_t: work that must not run inside a Lua call */
  uv_signal_t sig_int, sig_term, sig_hup;
  uv_timer_t shutdown_timer;
  uv_timer_t sweep_timer; /* ages out replay buffers, frees unused channels */
  bool shutting_down;
  bool closed; /* close_everything ran */
  uint64_t shutdown_deadline_ms;
  unsigned char sign_key[32]; /* HMAC key for tokens handed to clients (sign.h) */
  size_t sign_key_len;
  char epoch[8]; /* random tag prefixed to channel event ids, new each process */
  uint64_t start_ms;
  mw_metrics_t metrics;
};

/* Binds and starts listening, loads the first Lua generation, installs signal
 * handlers. `config` must outlive the server. Returns 0, or a negative error
 * with a message logged. On failure the server must still be closed. */
int mw_server_start(mw_server_t *s, uv_loop_t *loop, const mw_config_t *config);

/* Begins a graceful shutdown: stop accepting, end every stream with a retry
 * hint, let requests in flight finish until SHUTDOWN_TIMEOUT, then close all.
 * The loop ends when everything is closed. */
void mw_server_shutdown(mw_server_t *s);

/* Frees what remains after the loop has ended. */
void mw_server_dispose(mw_server_t *s);

/* Builds a new generation from the scripts and swaps it in; on failure keeps
 * the old one and records the error. Returns 0 or -EINVAL. */
int mw_server_reload(mw_server_t *s, const char *why);

/* Routes a complete request: core endpoints, CORS preflight, host/origin
 * checks, else the Lua generation. */
void mw_server_dispatch(mw_server_t *s, mw_conn_t *c);

/* Answers with a JSON error body {"error":…}. */
void mw_server_error(mw_server_t *s, mw_conn_t *c, int status, const char *message);

/* Work run from the event loop rather than from the caller's stack: freeing a
 * Lua generation or notifying scripts must never happen inside a Lua call. */
typedef struct mw_deferred {
  mw_list_t link;
  void (*fn)(mw_server_t *s, void *arg);
  void *arg;
} mw_deferred_t;

void mw_server_defer(mw_server_t *s, void (*fn)(mw_server_t *s, void *arg), void *arg);
/* Queues `c` for mw_conn_process_input from the loop. */
void mw_server_queue_input(mw_server_t *s, mw_conn_t *c);

/* One answered request, for on_response hooks (access logs, metrics):
 * recorded by the connection, handed to Lua in batches from the loop. */
typedef struct mw_access {
  mw_list_t link;
  const char *method; /* static (llhttp) */
  char *url;          /* owned */
  char *session;      /* owned; Mcp-Session-Id or NULL */
  char remote[48];
  int status;
  uint64_t duration_ms;
} mw_access_t;

void mw_server_record_access(mw_server_t *s, mw_conn_t *c, int status);

/* Bytes held by every live Lua generation (the current one and retired ones
 * still finishing handlers). */
size_t mw_server_lua_memory(const mw_server_t *s);

/* Current loop time in ms. */
static inline uint64_t mw_server_now(const mw_server_t *s) {
  return uv_now(s->loop);
}

#endif
