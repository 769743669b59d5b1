/* Channels; see channel.h. */
#include "channel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "session.h"
#include "sse.h"

static void on_evict(void *ud, uint32_t stream, uint64_t seq) {
  ((mw_channel_t *)ud)->lost_upto = seq;
}

mw_channel_t *mw_channel_get(mw_server_t *s, const char *name, bool create) {
  size_t len = strlen(name);
  mw_hnode_t *n = mw_hmap_find(&s->channels, name, len);
  if (n) return mw_container_of(n, mw_channel_t, hnode);
  if (!create) return NULL;
  mw_channel_t *ch = mw_calloc(1, sizeof *ch);
  ch->name = mw_strndup(name, len);
  ch->server = s;
  mw_list_init(&ch->subscribers);
  mw_list_init(&ch->fanout_link);
  mw_eventlog_init(&ch->log, &s->log_limits, on_evict, ch);
  mw_hmap_insert(&s->channels, &ch->hnode, ch->name, len);
  return ch;
}

/* Events `c` has not had left the log (evicted during a replay, or aged out
 * before the fan-out reached it): say so, then go on from what is held. */
static int report_lost(mw_channel_t *ch, mw_conn_t *c) {
  if (c->replay_after >= ch->lost_upto) return 0;
  ch->server->metrics.replay_gaps++;
  c->replay_after = ch->lost_upto;
  return mw_sse_send_gap(c, NULL);
}

/* Brings live subscriber `c` up to the newest event, several frames per write. */
static void catch_up(mw_channel_t *ch, mw_conn_t *c) {
  if (report_lost(ch, c) < 0) return;
  mw_frame_t *frames[MW_SSE_SEND_MAX];
  uint32_t i = mw_eventlog_lower_bound(&ch->log, c->replay_after);
  while (i < ch->log.count && c->state == MW_CONN_STREAM) {
    size_t n = 0;
    uint64_t last = c->replay_after;
    for (; i < ch->log.count && n < MW_SSE_SEND_MAX; i++, n++) {
      mw_eventlog_entry_t *e = mw_eventlog_at(&ch->log, i);
      frames[n] = e->frame;
      last = e->seq;
    }
    c->replay_after = last;
    if (mw_conn_sse_send_many(c, frames, n) < 0) return; /* closed, unsubscribed */
  }
}

/* The fan-out runs outside the publish call and in slices of subscribers,
 * with the loop polling in between: events published meanwhile reach the
 * subscribers not yet visited in the same write, so under a burst each
 * subscriber gets several events per system call instead of one each. */
static void schedule(mw_server_t *s);

static void start_pass(mw_channel_t *ch) {
  ch->pass_seq = ch->log.last_seq;
  ch->cursor = ch->subscribers.next;
}

/* Runs the rest of the pending fan-out of `ch` at once: every live subscriber
 * gets everything. */
static void fan_out_now(mw_channel_t *ch) {
  if (mw_list_empty(&ch->fanout_link)) return;
  mw_list_remove(&ch->fanout_link);
  mw_list_init(&ch->fanout_link);
  mw_list_t *pos, *tmp;
  /* A send may close the subscriber (slow consumer), unlinking only itself. */
  mw_list_foreach_safe(pos, tmp, &ch->subscribers) {
    mw_conn_t *c = mw_container_of(pos, mw_conn_t, sse.ch.link);
    if (!c->replaying) catch_up(ch, c);
  }
}

void mw_channel__fan_out(mw_server_t *s, void *arg) {
  (void)arg;
  s->fanout_queued = false;
  size_t budget = MW_FANOUT_SLICE;
  while (budget && !mw_list_empty(&s->fanout)) {
    mw_channel_t *ch = mw_container_of(s->fanout.next, mw_channel_t, fanout_link);
    mw_list_remove(&ch->fanout_link);
    mw_list_init(&ch->fanout_link);
    while (budget && ch->cursor != &ch->subscribers) {
      mw_conn_t *c = mw_container_of(ch->cursor, mw_conn_t, sse.ch.link);
      /* Advanced first: catch_up may close `c`, and unsubscribe would then
       * move the cursor off it anyway. */
      ch->cursor = ch->cursor->next;
      budget--;
      if (!c->replaying) catch_up(ch, c);
    }
    /* Subscribers visited early in this pass missed what came after: go
     * round again until a pass starts with nothing new. Channels take turns. */
    if (ch->cursor == &ch->subscribers && ch->pass_seq != ch->log.last_seq) {
      ch->done_seq = ch->pass_seq;
      start_pass(ch);
    }
    if (ch->cursor != &ch->subscribers) mw_list_push_back(&s->fanout, &ch->fanout_link);
  }
  if (!mw_list_empty(&s->fanout)) schedule(s);
}

static void schedule(mw_server_t *s) {
  if (s->fanout_queued) return;
  s->fanout_queued = true;
  mw_server_defer(s, mw_channel__fan_out, NULL);
}

int mw_channel_publish(mw_channel_t *ch, const char *event, const char *data, size_t len,
                       char *id_out, size_t *delivered) {
  mw_server_t *s = ch->server;
  uint64_t seq = mw_eventlog_next_seq(&ch->log);
  snprintf(id_out, 48, "%s-%llu", s->epoch, (unsigned long long)seq);
  mw_sse_event_t ev = {id_out, event, data, len, -1};
  mw_frame_t *f = mw_sse_frame(&ev);
  /* Every live subscriber holds at least what the pass before this one
   * started from (ch->done_seq); a burst that would evict newer events
   * before the fan-out reached everyone is fanned out now instead. */
  if (!mw_list_empty(&ch->fanout_link) &&
      mw_eventlog_would_evict(&ch->log, f->len, ch->done_seq))
    fan_out_now(ch);
  if (mw_eventlog_append(&ch->log, 0, seq, f, mw_server_now(s)) == -E2BIG) {
    /* Too big for the log, so live only: everyone is brought up to date,
     * then gets this one directly. */
    fan_out_now(ch);
    mw_list_t *pos, *tmp;
    mw_list_foreach_safe(pos, tmp, &ch->subscribers) {
      mw_conn_t *c = mw_container_of(pos, mw_conn_t, sse.ch.link);
      if (!c->replaying && mw_conn_sse_send(c, f) == 0) c->replay_after = seq;
    }
  } else if (mw_list_empty(&ch->fanout_link)) {
    ch->done_seq = seq - 1;
    start_pass(ch);
    mw_list_push_back(&s->fanout, &ch->fanout_link);
    schedule(s);
  }
  mw_frame_unref(f);
  if (delivered) *delivered = ch->nsubscribers;
  return 0;
}

void mw_channel__pump(mw_conn_t *c) {
  mw_channel_t *ch = c->sse.ch.channel;
  if (c->stall_until_ms || report_lost(ch, c) < 0) return;
  if (mw_eventlog_replay_some(&ch->log, 0, &c->replay_after, mw_conn__replay_frame,
                              mw_conn__can_replay, c))
    c->replaying = false;
}

int mw_channel_subscribe(mw_channel_t *ch, mw_conn_t *c, const char *last_event_id,
                         const mw_kv_t *hdrs, size_t nhdrs, bool *gap) {
  mw_server_t *s = ch->server;
  *gap = false;
  if (mw_conn_sse_start(c, hdrs, nhdrs) < 0) return 0;
  c->sse_kind = MW_SSE_CHANNEL;
  c->sse.ch.channel = ch;
  /* Live from the newest event on; one published but not yet fanned out
   * predates this subscription. */
  c->replay_after = ch->log.last_seq;
  mw_list_push_back(&ch->subscribers, &c->sse.ch.link);
  ch->nsubscribers++;

  /* The retry hint doubles as the first bytes, so proxies flush the headers. */
  mw_sse_event_t hint = {NULL, NULL, NULL, 0, (int)s->config->retry_ms};
  mw_frame_t *f = mw_sse_frame(&hint);
  int rc = mw_conn_sse_send(c, f);
  mw_frame_unref(f);
  if (rc < 0 || !last_event_id || !*last_event_id) return 0;

  const char *tag;
  size_t tag_len;
  uint64_t after = 0;
  bool ours = mw_event_id_parse(last_event_id, &tag, &tag_len, &after) == 0 &&
              tag_len == strlen(s->epoch) && memcmp(tag, s->epoch, tag_len) == 0;
  /* An id from another process (or garbage) means the client's position is
   * unknown: send what we hold and say so. */
  if (!ours) after = 0;
  *gap = mw_eventlog_resume_gap(&ch->log, 0, after, ch->lost_upto, mw_server_now(s)) || !ours;
  if (*gap) {
    s->metrics.replay_gaps++;
    /* A client gone before the notice left unsubscribed us: nothing to pump. */
    if (mw_sse_send_gap(c, last_event_id) < 0) return 0;
    if (after > ch->log.last_seq) after = 0;
    if (after < ch->lost_upto) after = ch->lost_upto;
  }
  c->replaying = true;
  c->replay_after = after;
  mw_channel__pump(c);
  return 0;
}

size_t mw_channel_drop(mw_channel_t *ch) {
  size_t n = 0;
  mw_list_t *pos, *tmp;
  mw_list_foreach_safe(pos, tmp, &ch->subscribers) {
    mw_conn_close(mw_container_of(pos, mw_conn_t, sse.ch.link));
    n++;
  }
  return n;
}

size_t mw_channel_stall(mw_channel_t *ch, uint32_t ms) {
  uint64_t until = mw_server_now(ch->server) + (ms ? ms : 1);
  size_t n = 0;
  mw_list_t *pos, *tmp;
  mw_list_foreach_safe(pos, tmp, &ch->subscribers) {
    mw_conn_t *c = mw_container_of(pos, mw_conn_t, sse.ch.link);
    /* A live subscriber's replay_after is what it has been sent; marking it
     * as replaying from there makes the fan-out skip it, and the log keeps
     * what it misses until the stall ends. */
    c->replaying = true;
    c->stall_until_ms = until;
    n++;
  }
  return n;
}

void mw_channel__resume(mw_conn_t *c) {
  c->stall_until_ms = 0;
  if (c->replaying && mw_conn__can_replay(c)) mw_channel__pump(c);
}

size_t mw_channel_resume(mw_channel_t *ch) {
  uint64_t now = mw_server_now(ch->server);
  size_t n = 0;
  mw_list_t *pos, *tmp;
  /* Pumping may close a subscriber (a failed write), unlinking only itself. */
  mw_list_foreach_safe(pos, tmp, &ch->subscribers) {
    mw_conn_t *c = mw_container_of(pos, mw_conn_t, sse.ch.link);
    if (c->stall_until_ms && c->stall_until_ms <= now) {
      mw_channel__resume(c);
      n++;
    }
  }
  return n;
}

void mw_channel__unsubscribe(mw_conn_t *c) {
  mw_channel_t *ch = c->sse.ch.channel;
  if (ch->cursor == &c->sse.ch.link) ch->cursor = c->sse.ch.link.next;
  mw_list_remove(&c->sse.ch.link);
  ch->nsubscribers--;
  c->sse.ch.channel = NULL;
}

static void channel_free(mw_server_t *s, mw_channel_t *ch) {
  mw_list_t *pos, *tmp;
  mw_list_foreach_safe(pos, tmp, &ch->subscribers)
      mw_conn_close(mw_container_of(pos, mw_conn_t, sse.ch.link));
  mw_list_remove(&ch->fanout_link);
  mw_hmap_remove(&s->channels, &ch->hnode);
  mw_eventlog_dispose(&ch->log);
  mw_free(ch->name);
  mw_free(ch);
}

void mw_channel_destroy_all(mw_server_t *s) {
  for (size_t i = 0; i < s->channels.nbuckets; i++)
    while (s->channels.buckets[i])
      channel_free(s, mw_container_of(s->channels.buckets[i], mw_channel_t, hnode));
}

void mw_channel_sweep(mw_server_t *s) {
  uint64_t now = mw_server_now(s);
  for (size_t i = 0; i < s->channels.nbuckets; i++) {
    mw_hnode_t *n = s->channels.buckets[i];
    while (n) {
      mw_hnode_t *next = n->next;
      mw_channel_t *ch = mw_container_of(n, mw_channel_t, hnode);
      mw_eventlog_expire(&ch->log, now);
      if (ch->nsubscribers == 0 && ch->log.count == 0) channel_free(s, ch);
      n = next;
    }
  }
}

int mw_sse_send_gap(mw_conn_t *c, const char *last_event_id) {
  /* No id: the gap notice must not move the client's resume position. The
   * id is echoed JSON-escaped only for safe characters; others are dropped. */
  char data[160];
  size_t o = 0;
  if (last_event_id) {
    o += (size_t)snprintf(data, sizeof data, "{\"lastEventId\":\"");
    for (const char *p = last_event_id; *p && o < sizeof data - 4; p++)
      if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) data[o++] = *p;
    o += (size_t)snprintf(data + o, sizeof data - o, "\"}");
  } else {
    o = (size_t)snprintf(data, sizeof data, "{\"reason\":\"evicted during replay\"}");
  }
  mw_sse_event_t ev = {NULL, "gap", data, o, -1};
  mw_frame_t *f = mw_sse_frame(&ev);
  int rc = mw_conn_sse_send(c, f);
  mw_frame_unref(f);
  return rc;
}
