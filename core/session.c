/* Sessions and the in-memory session store; see session.h. */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "channel.h"
#include "log.h"
#include "script.h"
#include "sse.h"

/* ---- in-memory store -------------------------------------------------- */

static mw_session_stream_t *stream_find(mw_session_t *ss, uint32_t no) {
  for (uint32_t i = 0; i < ss->nstreams; i++)
    if (ss->streams[i].no == no) return &ss->streams[i];
  return NULL;
}

static mw_session_stream_t *stream_add(mw_session_t *ss, uint32_t no) {
  if (ss->nstreams == ss->cap) {
    ss->cap = ss->cap ? ss->cap * 2 : 2;
    ss->streams = mw_realloc(ss->streams, ss->cap * sizeof *ss->streams);
  }
  mw_session_stream_t *st = &ss->streams[ss->nstreams++];
  memset(st, 0, sizeof *st);
  st->no = no;
  return st;
}

/* An ended request stream whose every event left the log can never be
 * resumed again: forget it so long sessions do not accumulate streams. */
static void on_evict(void *ud, uint32_t stream, uint64_t seq) {
  mw_session_t *ss = ud;
  mw_session_stream_t *st = stream_find(ss, stream);
  if (!st) return;
  st->lost_upto = seq;
  if (st->ended && st->last_seq <= seq && !st->conn) {
    *st = ss->streams[--ss->nstreams];
  }
}

static mw_session_t *mem_create(mw_server_t *s) {
  mw_session_t *ss = mw_calloc(1, sizeof *ss);
  unsigned char raw[16];
  do {
    mw_random_bytes(raw, sizeof raw);
    mw_base64url(raw, sizeof raw, ss->id);
  } while (mw_hmap_find(&s->sessions, ss->id, MW_SESSION_ID_LEN));
  ss->server = s;
  ss->next_stream = 1;
  mw_tnode_init(&ss->expiry);
  mw_eventlog_init(&ss->log, &s->log_limits, on_evict, ss);
  mw_hmap_insert(&s->sessions, &ss->hnode, ss->id, MW_SESSION_ID_LEN);
  return ss;
}

static mw_session_t *mem_find(mw_server_t *s, const char *id, size_t len) {
  mw_hnode_t *n = mw_hmap_find(&s->sessions, id, len);
  return n ? mw_container_of(n, mw_session_t, hnode) : NULL;
}

static void mem_free(mw_server_t *s, mw_session_t *ss) {
  mw_hmap_remove(&s->sessions, &ss->hnode);
  mw_tlist_remove(&ss->expiry);
  mw_eventlog_dispose(&ss->log);
  mw_free(ss->streams);
  mw_free(ss->data);
  mw_free(ss);
}

static size_t mem_count(const mw_server_t *s) {
  return s->sessions.count;
}

static uint64_t mem_next_seq(mw_session_t *ss) {
  return mw_eventlog_next_seq(&ss->log);
}

static int mem_append(mw_session_t *ss, uint32_t stream, uint64_t seq, mw_frame_t *f,
                      uint64_t now_ms) {
  return mw_eventlog_append(&ss->log, stream, seq, f, now_ms);
}

static bool mem_resume_gap(mw_session_t *ss, uint32_t stream, uint64_t after, uint64_t lost_upto,
                           uint64_t now_ms) {
  return mw_eventlog_resume_gap(&ss->log, stream, after, lost_upto, now_ms);
}

static bool mem_replay_some(mw_session_t *ss, uint32_t stream, uint64_t *after,
                            mw_eventlog_emit_cb emit, bool (*more)(void *ud), void *ud) {
  return mw_eventlog_replay_some(&ss->log, stream, after, emit, more, ud);
}

const mw_session_store_ops_t mw_session_memory_store = {
    "memory",     mem_create, mem_find,       mem_free,        mem_count,
    mem_next_seq, mem_append, mem_resume_gap, mem_replay_some,
};

/* The store in use; one place to switch it. */
static const mw_session_store_ops_t *const store = &mw_session_memory_store;

/* ---- sessions --------------------------------------------------------- */

mw_session_t *mw_session_create(mw_server_t *s) {
  mw_session_t *ss = store->create(s);
  s->metrics.sessions_created++;
  mw_log(MW_LOG_DEBUG, "session created", 1, "session", ss->id);
  mw_tlist_touch(&s->session_list, &ss->expiry);
  return ss;
}

mw_session_t *mw_session_find(mw_server_t *s, const char *id) {
  size_t len = strlen(id);
  if (len != MW_SESSION_ID_LEN) return NULL;
  return store->find(s, id, len);
}

void mw_session_destroy(mw_server_t *s, mw_session_t *ss) {
  /* Finishing a stream detaches it, which edits ss->streams: walk by number. */
  for (uint32_t i = 0; i < ss->nstreams; i++) {
    mw_conn_t *c = ss->streams[i].conn;
    if (c) mw_conn_sse_finish(c);
  }
  store->free(s, ss);
}

/* Nothing holds the session: its idle timer runs. */
static bool idle(const mw_session_t *ss) {
  return ss->attached == 0 && ss->busy == 0;
}

void mw_session_touch(mw_session_t *ss) {
  if (idle(ss)) mw_tlist_touch(&ss->server->session_list, &ss->expiry);
}

void mw_session_hold(mw_session_t *ss, bool on) {
  if (on) {
    if (idle(ss)) mw_tlist_remove(&ss->expiry);
    ss->busy++;
  } else if (ss->busy > 0 && --ss->busy == 0 && idle(ss)) {
    mw_tlist_touch(&ss->server->session_list, &ss->expiry);
  }
}

void mw_session_set_data(mw_session_t *ss, const char *data, size_t len) {
  mw_free(ss->data);
  ss->data = data ? mw_strndup(data, len) : NULL;
  ss->data_len = data ? len : 0;
}

uint32_t mw_session_open_stream(mw_session_t *ss) {
  uint32_t no = ss->next_stream++;
  stream_add(ss, no);
  return no;
}

static void format_id(const mw_session_t *ss, char *out, uint32_t no, uint64_t seq) {
  if (ss->prefixed_ids)
    snprintf(out, 64, "%s.%u-%llu", ss->id, no, (unsigned long long)seq);
  else
    snprintf(out, 64, "%u-%llu", no, (unsigned long long)seq);
}

int mw_session_send(mw_session_t *ss, uint32_t no, const char *event, const char *data, size_t len,
                    char *id_out) {
  mw_server_t *s = ss->server;
  mw_session_stream_t *st = stream_find(ss, no);
  if (!st && no == 0) st = stream_add(ss, 0);
  if (!st) return -ENOENT;
  if (st->ended) return -EPIPE;
  uint64_t seq = store->next_seq(ss);
  format_id(ss, id_out, no, seq);
  mw_sse_event_t ev = {id_out, event, data, len, -1};
  mw_frame_t *f = mw_sse_frame(&ev);
  if (store->append(ss, no, seq, f, mw_server_now(s)) == 0) st->last_seq = seq;
  /* append may evict and forget other streams, moving the array: look again. */
  st = stream_find(ss, no);
  /* A connection still replaying picks this event up from the log in order. */
  if (st && st->conn && !st->conn->replaying) mw_conn_sse_send(st->conn, f);
  mw_frame_unref(f);
  return 0;
}

int mw_session_release_stream(mw_session_t *ss, uint32_t no) {
  mw_session_stream_t *st = stream_find(ss, no);
  if (!st) return -ENOENT;
  if (st->conn) mw_conn_sse_finish(st->conn);
  return 0;
}

int mw_session_end_stream(mw_session_t *ss, uint32_t no) {
  mw_session_stream_t *st = stream_find(ss, no);
  if (!st) return -ENOENT;
  st->ended = true;
  if (st->conn && !st->conn->replaying) mw_conn_sse_finish(st->conn);
  return 0;
}

void mw_session__pump(mw_conn_t *c) {
  mw_session_t *ss = c->sse.s.session;
  uint32_t no = c->sse.s.no;
  mw_session_stream_t *st = stream_find(ss, no);
  if (!st) return;
  /* Events evicted while this client was catching up are a gap too. */
  if (c->replay_after < st->lost_upto) {
    ss->server->metrics.replay_gaps++;
    c->replay_after = st->lost_upto;
    if (mw_sse_send_gap(c, NULL) < 0) return;
  }
  if (!store->replay_some(ss, no, &c->replay_after, mw_conn__replay_frame, mw_conn__can_replay, c))
    return;
  if (c->state != MW_CONN_STREAM) return;
  c->replaying = false;
  if (st->ended) mw_conn_sse_finish(c);
}

int mw_session_attach(mw_session_t *ss, mw_conn_t *c, uint32_t no, const char *last_event_id,
                      const mw_kv_t *hdrs, size_t nhdrs, bool prime, bool *gap) {
  mw_server_t *s = ss->server;
  uint64_t after = 0;
  bool resume = last_event_id && *last_event_id;
  *gap = false;
  if (resume) {
    const char *tag;
    size_t tag_len;
    uint64_t tag_no;
    if (mw_event_id_parse(last_event_id, &tag, &tag_len, &after) < 0) return -ENOENT;
    const char *dot = memchr(tag, '.', tag_len);
    if (dot) {
      /* "<sid>.<stream>": the id must belong to this very session. */
      if ((size_t)(dot - tag) != MW_SESSION_ID_LEN || memcmp(tag, ss->id, MW_SESSION_ID_LEN) != 0)
        return -ENOENT;
      tag_len -= (size_t)(dot + 1 - tag);
      tag = dot + 1;
    }
    if (mw_parse_u64(tag, tag_len, &tag_no) < 0 || tag_no > UINT32_MAX) return -ENOENT;
    no = (uint32_t)tag_no;
  }
  mw_session_stream_t *st = stream_find(ss, no);
  if (!st && no != 0) {
    if (!resume || no >= ss->next_stream) return -ENOENT;
    /* A request stream already forgotten: it had ended, and everything it
     * carried left the log. Say so and end this response too. */
    *gap = true;
    if (mw_conn_sse_start(c, hdrs, nhdrs) < 0) return 0;
    s->metrics.replay_gaps++;
    mw_sse_send_gap(c, last_event_id);
    mw_conn_sse_finish(c);
    return 0;
  }
  if (!st) st = stream_add(ss, no);
  if (st->conn) {
    /* Takeover: the client reconnected while its old connection still looks
     * open (a half-dead NAT path, a proxy that did not notice). The newest
     * connection is the one the client reads. */
    mw_conn_t *old = st->conn;
    mw_conn_close(old);
    st = stream_find(ss, no);
  }
  if (mw_conn_sse_start(c, hdrs, nhdrs) < 0) return 0;
  st = stream_find(ss, no);
  st->conn = c;
  c->sse_kind = MW_SSE_SESSION;
  c->sse.s.session = ss;
  c->sse.s.no = no;
  if (idle(ss)) mw_tlist_remove(&ss->expiry);
  ss->attached++;

  /* A resumed stream is primed with the id it resumes from, not a fresh one:
   * a fresh id is newer than everything about to be replayed, and a client
   * that lost the connection mid-replay would resume past the events it
   * never got. (The id was parsed above: it is this session's.) */
  char id[64];
  if (prime && resume)
    snprintf(id, sizeof id, "%s", last_event_id);
  else if (prime)
    format_id(ss, id, no, store->next_seq(ss));
  mw_sse_event_t first = {prime ? id : NULL, NULL, prime ? "" : NULL, 0, (int)s->config->retry_ms};
  mw_frame_t *f = mw_sse_frame(&first);
  int rc = mw_conn_sse_send(c, f);
  mw_frame_unref(f);
  if (rc < 0) return 0;

  if (resume) {
    bool lost = store->resume_gap(ss, no, after, st->lost_upto, mw_server_now(s));
    /* The expiry inside resume_gap may forget other streams, moving ours. */
    st = stream_find(ss, no);
    if (lost || *gap) {
      *gap = true;
      s->metrics.replay_gaps++;
      /* A client gone before the notice left the session detached. */
      if (mw_sse_send_gap(c, last_event_id) < 0) return 0;
      /* Told once: resume from the oldest event still held. */
      if (after > ss->log.last_seq) after = 0;
      if (after < st->lost_upto) after = st->lost_upto;
    }
    c->replaying = true;
    c->replay_after = after;
    mw_session__pump(c);
  }
  return 0;
}

/* Runs from the loop, not from the detach (which may happen inside a Lua
 * call): the session may have been reattached or destroyed meanwhile. */
static void destroy_ephemeral(mw_server_t *s, void *arg) {
  char *id = arg;
  mw_session_t *ss = mw_session_find(s, id);
  if (ss && ss->attached == 0) {
    mw_log(MW_LOG_DEBUG, "session closed with its stream", 1, "session", ss->id);
    if (s->gen) mw_gen_session_closed(s->gen, ss->id, "closed");
    mw_session_destroy(s, ss);
  }
  mw_free(id);
}

void mw_session__detach(mw_conn_t *c) {
  mw_session_t *ss = c->sse.s.session;
  mw_session_stream_t *st = stream_find(ss, c->sse.s.no);
  if (st && st->conn == c) {
    st->conn = NULL;
    if (--ss->attached == 0) {
      if (idle(ss)) mw_tlist_touch(&ss->server->session_list, &ss->expiry);
      if (ss->ephemeral && !ss->server->closed)
        mw_server_defer(ss->server, destroy_ephemeral, mw_strdup(ss->id));
    }
  }
  c->sse.s.session = NULL;
}

void mw_session_on_expire(mw_tlist_t *tl, mw_tnode_t *n) {
  mw_session_t *ss = mw_container_of(n, mw_session_t, expiry);
  mw_server_t *s = tl->data;
  s->metrics.sessions_expired++;
  mw_log(MW_LOG_DEBUG, "session expired", 1, "session", ss->id);
  if (s->gen) mw_gen_session_closed(s->gen, ss->id, "expired");
  mw_session_destroy(s, ss);
}

void mw_session_sweep(mw_server_t *s) {
  uint64_t now = mw_server_now(s);
  for (size_t i = 0; i < s->sessions.nbuckets; i++)
    for (mw_hnode_t *n = s->sessions.buckets[i]; n; n = n->next)
      mw_eventlog_expire(&mw_container_of(n, mw_session_t, hnode)->log, now);
}

void mw_session_destroy_all(mw_server_t *s) {
  for (size_t i = 0; i < s->sessions.nbuckets; i++) {
    while (s->sessions.buckets[i]) {
      mw_session_t *ss = mw_container_of(s->sessions.buckets[i], mw_session_t, hnode);
      mw_session_destroy(s, ss);
    }
  }
}

int mw_event_id_parse(const char *id, const char **tag, size_t *tag_len, uint64_t *seq) {
  const char *dash = strrchr(id, '-');
  if (!dash || dash == id) return -EINVAL;
  *tag = id;
  *tag_len = (size_t)(dash - id);
  return mw_parse_u64(dash + 1, strlen(dash + 1), seq);
}
