/* Sessions: an id, an opaque data blob the protocol layer keeps across
 * reloads, numbered streams with one shared replay log, and expiry.
 *
 * Lifecycle: created -> streams attach/detach -> expires SSE_CONNECTION_TIMEOUT
 * after the last stream detached and no request touched it -> or destroyed
 * explicitly. Stream 0 is the standalone (GET) stream; 1, 2, … carry the
 * responses of individual requests (POST SSE) and stay resumable until their
 * events leave the log. Event ids are "<stream>-<seq>" (or, with
 * prefixed_ids, "<session>.<stream>-<seq>"). */
#ifndef MW_SESSION_H
#define MW_SESSION_H

#include "server.h"

#define MW_SESSION_ID_LEN 22 /* 128 random bits, base64url */

typedef struct mw_session_stream {
  uint32_t no;
  bool ended;         /* its response is complete: a resume replays, then finishes */
  uint64_t last_seq;  /* newest seq appended for this stream */
  uint64_t lost_upto; /* newest seq of this stream evicted from the log */
  mw_conn_t *conn;    /* borrowed; the attached connection, or NULL */
} mw_session_stream_t;

struct mw_session {
  mw_hnode_t hnode; /* in server->sessions, keyed by id */
  char id[MW_SESSION_ID_LEN + 1];
  mw_server_t *server; /* borrowed */
  mw_tnode_t expiry;   /* in server->session_list while nothing is attached */
  mw_eventlog_t log;
  mw_session_stream_t *streams; /* owned */
  uint32_t nstreams, cap;
  uint32_t next_stream; /* number the next request stream gets */
  uint32_t attached;    /* streams with a connection */
  uint32_t busy;        /* requests being handled (mw_session_hold): like an attached
                           stream, each keeps the session from expiring */
  bool ephemeral;       /* destroyed as soon as its last stream detaches (a
                           2026-07-28 subscriptions/listen stream) */
  bool prefixed_ids;    /* event ids carry the session id: "<sid>.<stream>-<seq>",
                           for transports (legacy SSE) that find the session from
                           Last-Event-ID alone */
  char *data;           /* owned; protocol state (JSON), may be NULL */
  size_t data_len;
};

/* Where sessions and their logs live. The in-memory store is the only one
 * today; a shared store (Redis) implements the same table. */
typedef struct mw_session_store_ops {
  const char *name;
  mw_session_t *(*create)(mw_server_t *s);
  mw_session_t *(*find)(mw_server_t *s, const char *id, size_t len);
  void (*free)(mw_server_t *s, mw_session_t *ss);
  size_t (*count)(const mw_server_t *s);
  uint64_t (*next_seq)(mw_session_t *ss);
  int (*append)(mw_session_t *ss, uint32_t stream, uint64_t seq, mw_frame_t *f, uint64_t now_ms);
  bool (*resume_gap)(mw_session_t *ss, uint32_t stream, uint64_t after, uint64_t lost_upto,
                     uint64_t now_ms);
  bool (*replay_some)(mw_session_t *ss, uint32_t stream, uint64_t *after, mw_eventlog_emit_cb emit,
                      bool (*more)(void *ud), void *ud);
} mw_session_store_ops_t;

extern const mw_session_store_ops_t mw_session_memory_store;

/* Creates a session with a fresh random id. Never fails (OOM aborts). */
mw_session_t *mw_session_create(mw_server_t *s);
mw_session_t *mw_session_find(mw_server_t *s, const char *id);
/* Ends every attached stream and frees the session. */
void mw_session_destroy(mw_server_t *s, mw_session_t *ss);
/* Records activity: restarts the expiry clock when no stream is attached. */
void mw_session_touch(mw_session_t *ss);

/* A request of this session started (on) or was answered (off). While any is
 * being handled the session does not expire, however long its handler runs:
 * SSE_CONNECTION_TIMEOUT counts idle time. Unbalanced offs are ignored. */
void mw_session_hold(mw_session_t *ss, bool on);
/* Replaces the data blob (copied). */
void mw_session_set_data(mw_session_t *ss, const char *data, size_t len);

/* Opens a new request stream and returns its number (>= 1). */
uint32_t mw_session_open_stream(mw_session_t *ss);

/* Sends one event on stream `no`: framed with id "<no>-<seq>" (written to
 * `id_out`, 64 bytes), kept in the log and written to the attached connection
 * if any. Returns 0, or -ENOENT (no such stream), -EPIPE (stream ended). */
int mw_session_send(mw_session_t *ss, uint32_t no, const char *event, const char *data, size_t len,
                    char *id_out);

/* Ends the HTTP response carrying stream `no` without ending the stream:
 * later events are kept for a resume with Last-Event-ID (SEP-1699 polling).
 * Returns 0 or -ENOENT. */
int mw_session_release_stream(mw_session_t *ss, uint32_t no);

/* Marks stream `no` complete and finishes its attached response. */
int mw_session_end_stream(mw_session_t *ss, uint32_t no);

/* Attaches `c` (BUSY, answering a request) as stream `no`, or — when
 * `last_event_id` is given — as the stream that id names, replaying what
 * followed it. A connection already attached to that stream is closed (the
 * new one takes over). Writes the SSE head and, with `prime`, a priming event
 * (fresh id, empty data, retry; SEP-1699) — else only a retry hint, which
 * dispatches no event (pre-2025-11-25 clients would see an empty message). Sets *gap when events
 * the client missed are gone. Returns 0, or -ENOENT (unknown stream / malformed id: nothing
 * written). */
int mw_session_attach(mw_session_t *ss, mw_conn_t *c, uint32_t no, const char *last_event_id,
                      const mw_kv_t *hdrs, size_t nhdrs, bool prime, bool *gap);

/* Continues a paced replay on `c` (its write queue drained). */
void mw_session__pump(mw_conn_t *c);

/* Called by a connection leaving its stream. */
void mw_session__detach(mw_conn_t *c);

/* Session expiry (server->session_list callback). */
void mw_session_on_expire(mw_tlist_t *tl, mw_tnode_t *n);

/* Ages out old events of every session (frees emptied logs). */
void mw_session_sweep(mw_server_t *s);

/* Frees every session (shutdown). */
void mw_session_destroy_all(mw_server_t *s);

/* Splits "<tag>-<seq>" at the last '-'; returns 0 or -EINVAL. */
int mw_event_id_parse(const char *id, const char **tag, size_t *tag_len, uint64_t *seq);

#endif
