/* Replay log: a FIFO of framed events bounded by count, bytes and age, that
 * answers "everything of stream S after sequence N" in O(log n).
 *
 * One log serves a whole MCP session (all its streams share the session's
 * SSE_BUFFER_SIZE / SSE_BUFFER_BYTES / SSE_BUFFER_TTL budget) or one channel.
 * Each entry carries the number of the stream it belongs to; sequence numbers
 * are allocated by the log, strictly increasing across all its streams, so an
 * event id "<stream>-<seq>" is unique within the owner.
 *
 * A log never skips silently: when entries of a stream were evicted past the
 * point a client asks to resume from, replay reports a gap. */
#ifndef MW_EVENTLOG_H
#define MW_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

typedef struct mw_eventlog_limits {
  uint32_t max_events; /* >= 1 */
  size_t max_bytes;    /* payload+envelope bytes of all frames held; >= 1 */
  uint64_t ttl_ms;     /* age after which an entry is evicted; >= 1 */
} mw_eventlog_limits_t;

typedef struct mw_eventlog_entry {
  uint64_t seq;
  uint64_t time_ms;  /* loop time at append */
  mw_frame_t *frame; /* owned reference */
  uint32_t stream;
} mw_eventlog_entry_t;

/* Called for each evicted entry before its frame is released — and for an
 * event too big to store at all (-E2BIG) — so the owner can remember per
 * stream the highest sequence lost (for gap reports). */
typedef void (*mw_eventlog_evict_cb)(void *ud, uint32_t stream, uint64_t seq);

typedef struct mw_eventlog {
  mw_eventlog_entry_t *ring; /* owned; NULL until the first append (idle logs cost nothing) */
  uint32_t cap;              /* slots in ring, a power of two, grows up to the next
                                power of two >= max_events */
  uint32_t head;             /* index of the oldest entry */
  uint32_t count;
  size_t bytes;                       /* sum of frame->len over held entries */
  uint64_t last_seq;                  /* last sequence allocated (0 = none yet) */
  const mw_eventlog_limits_t *limits; /* borrowed; outlives the log */
  mw_eventlog_evict_cb on_evict;      /* may be NULL */
  void *ud;
} mw_eventlog_t;

void mw_eventlog_init(mw_eventlog_t *log, const mw_eventlog_limits_t *limits,
                      mw_eventlog_evict_cb on_evict, void *ud);
/* Releases every held frame and the ring. The log may be re-initialised. */
void mw_eventlog_dispose(mw_eventlog_t *log);

/* Allocates and returns the next sequence number (> every earlier one). Used
 * both for events that will be appended and for ids never stored, such as
 * priming events. */
uint64_t mw_eventlog_next_seq(mw_eventlog_t *log);

/* Appends `frame` (which must already carry id "<stream>-<seq>") as sequence
 * `seq`, which must come from mw_eventlog_next_seq and be greater than every
 * appended seq. Takes a new reference on `frame`; the caller keeps its own.
 * Evicts the oldest entries (aged past ttl first, then to fit max_events and
 * max_bytes). Returns 0, -EINVAL (seq not increasing) or -E2BIG (frame alone
 * exceeds max_bytes: nothing is stored, the caller still delivers live). */
int mw_eventlog_append(mw_eventlog_t *log, uint32_t stream, uint64_t seq, mw_frame_t *frame,
                       uint64_t now_ms);

/* Would appending a frame of `len` bytes now evict an entry with seq >
 * `keep_after`? (count and byte limits; age is not considered) */
bool mw_eventlog_would_evict(const mw_eventlog_t *log, size_t len, uint64_t keep_after);

/* Evicts entries older than ttl at `now_ms`; an emptied log frees its ring. */
void mw_eventlog_expire(mw_eventlog_t *log, uint64_t now_ms);

/* Index (0 = oldest held) of the first entry with seq > after_seq, found by
 * binary search; equals log->count when there is none. */
uint32_t mw_eventlog_lower_bound(const mw_eventlog_t *log, uint64_t after_seq);

/* The i-th held entry (0 = oldest), or NULL when out of range. */
mw_eventlog_entry_t *mw_eventlog_at(const mw_eventlog_t *log, uint32_t i);

typedef void (*mw_eventlog_emit_cb)(void *ud, mw_frame_t *frame);

/* Calls `emit` for every held entry of `stream` with seq > after_seq, oldest
 * first, after evicting expired entries. `lost_upto` is the owner's record of
 * the highest evicted seq of that stream (0 if none). Returns the number of
 * frames emitted, and sets *gap when events the client never saw are gone:
 * after_seq < lost_upto, or after_seq > last_seq (an id this log never issued,
 * e.g. from before a restart). Entries of `stream` this call itself expires
 * count as lost too. `emit` must not append to or expire the log. */
size_t mw_eventlog_replay(mw_eventlog_t *log, uint32_t stream, uint64_t after_seq,
                          uint64_t lost_upto, uint64_t now_ms, mw_eventlog_emit_cb emit, void *ud,
                          bool *gap);

/* Expires old entries, then tells whether a client positioned after
 * `after_seq` on `stream` missed events that are gone (same rule as replay). */
bool mw_eventlog_resume_gap(mw_eventlog_t *log, uint32_t stream, uint64_t after_seq,
                            uint64_t lost_upto, uint64_t now_ms);

/* Paced replay: emits entries of `stream` with seq > *after, oldest first,
 * while more(ud) is true, advancing *after past each one emitted. Returns true
 * when it reached the end of the log (the client is caught up). `emit` must
 * not append to or expire the log. */
bool mw_eventlog_replay_some(const mw_eventlog_t *log, uint32_t stream, uint64_t *after,
                             mw_eventlog_emit_cb emit, bool (*more)(void *ud), void *ud);

#endif
