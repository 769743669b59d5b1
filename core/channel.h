/* Named channels for plain SSE: publish from any handler or timer, fan out to
 * every subscriber by reference (one frame, N writes), replay by Last-Event-ID.
 * Channels are C-owned, so subscribers and history survive script reloads.
 * Event ids are "<epoch>-<seq>": the epoch changes per process, so an id from
 * before a restart is recognised and reported as a gap. */
#ifndef MW_CHANNEL_H
#define MW_CHANNEL_H

#include "server.h"

struct mw_channel {
  mw_hnode_t hnode;    /* in server->channels, keyed by name */
  char *name;          /* owned */
  mw_server_t *server; /* borrowed */
  mw_eventlog_t log;
  uint64_t lost_upto;    /* newest evicted seq */
  mw_list_t subscribers; /* mw_conn_t via conn->sse.ch.link */
  uint32_t nsubscribers;
  /* Fan-out in progress (see mw_channel__fan_out): */
  mw_list_t fanout_link; /* in server->fanout while a pass is due; self-linked otherwise */
  mw_list_t *cursor;     /* next subscriber link the pass visits */
  uint64_t pass_seq;     /* log.last_seq when the current pass started */
  uint64_t done_seq;     /* every live subscriber has been sent up to here */
};

/* Subscribers written per loop iteration before the loop polls again. */
#define MW_FANOUT_SLICE 256

/* Finds a channel, creating it when `create`. Returns NULL if absent. */
mw_channel_t *mw_channel_get(mw_server_t *s, const char *name, bool create);

/* Publishes an event; writes its id (48 bytes) to `id_out` and the number of
 * subscribers it goes to to *delivered. Returns 0. The event is logged at
 * once and written to the subscribers from the loop, right after the caller
 * returns: events published in a burst share writes. */
int mw_channel_publish(mw_channel_t *ch, const char *event, const char *data, size_t len,
                       char *id_out, size_t *delivered);

/* Turns BUSY connection `c` into a subscriber: SSE head, a retry hint, then
 * the events after `last_event_id` (NULL = none). Sets *gap if some are gone. */
int mw_channel_subscribe(mw_channel_t *ch, mw_conn_t *c, const char *last_event_id,
                         const mw_kv_t *hdrs, size_t nhdrs, bool *gap);

void mw_channel__unsubscribe(mw_conn_t *c);
/* Deferred work (mw_server_defer): one slice of the pending fan-outs. */
void mw_channel__fan_out(mw_server_t *s, void *arg);
/* Continues a paced replay on `c` (its write queue drained). */
void mw_channel__pump(mw_conn_t *c);

/* Test hooks, reachable from Lua only with MOONWIRE_TEST_ROUTES=1 (core.test_fault).
 *
 * Drop: closes every subscriber of `ch` at once, without the terminating
 * chunk, as a network failure would. Returns how many were closed.
 *
 * Stall: every subscriber stops receiving anything, heartbeats included, for
 * `ms` while its connection stays open; events published meanwhile wait in the
 * replay log. Returns how many were stalled.
 *
 * Resume: subscribers whose stall has run out continue from the log where
 * they stopped, so a stall that ends before the client gives up loses nothing.
 * Returns how many were resumed. */
size_t mw_channel_drop(mw_channel_t *ch);
size_t mw_channel_stall(mw_channel_t *ch, uint32_t ms);
size_t mw_channel_resume(mw_channel_t *ch);
/* Ends the stall of subscriber `c` now (may close it: a send can fail). */
void mw_channel__resume(mw_conn_t *c);

/* Ages out old events; frees channels with no subscriber and no history, so
 * channel names taken from URLs cannot accumulate forever. */
void mw_channel_sweep(mw_server_t *s);
void mw_channel_destroy_all(mw_server_t *s);

/* Sends the "gap" notice event to `c` (shared by sessions and channels);
 * `last_event_id` may be NULL. Returns 0, or <0 when the send closed `c`
 * (the client is gone): `c` is then detached and must not be pumped. */
int mw_sse_send_gap(mw_conn_t *c, const char *last_event_id);

#endif
