/* Replay log as a power-of-two ring of (seq, time, stream, frame) entries; see
 * eventlog.h. Sequences only grow, so the ring is sorted by seq and by append
 * time, and every eviction (age, count, bytes) takes from the head. */
#include "eventlog.h"
#include "common.h"

#include <errno.h>
#include <string.h>

/* Most sessions hold a handful of events; start small and double on demand. */
#define MW_EVENTLOG_MIN_CAP 8u
/* Largest power of two a uint32_t cap can hold; config keeps SSE_BUFFER_SIZE
 * far below this, so the clamp only guards against a cap that wraps to 0. */
#define MW_EVENTLOG_MAX_CAP (1u << 31)

static uint32_t max_events(const mw_eventlog_t *log) {
  uint32_t n = log->limits->max_events;
  return n > MW_EVENTLOG_MAX_CAP ? MW_EVENTLOG_MAX_CAP : n;
}

static mw_eventlog_entry_t *slot(const mw_eventlog_t *log, uint32_t i) {
  return &log->ring[(log->head + i) & (log->cap - 1)];
}

/* Written as a difference so a huge ttl (e.g. "forever") cannot overflow. */
static bool expired(const mw_eventlog_t *log, const mw_eventlog_entry_t *e, uint64_t now_ms) {
  return now_ms >= e->time_ms && now_ms - e->time_ms >= log->limits->ttl_ms;
}

/* The log is consistent again before the callback runs, and the frame is
 * still alive while it does (the header promises "before it is released"). */
static mw_eventlog_entry_t evict_head(mw_eventlog_t *log) {
  mw_eventlog_entry_t e = log->ring[log->head];
  log->head = (log->head + 1) & (log->cap - 1);
  log->count--;
  log->bytes -= e.frame->len;
  if (log->on_evict) log->on_evict(log->ud, e.stream, e.seq);
  mw_frame_unref(e.frame);
  return e;
}

/* Returns the highest seq of `stream` it evicted (0 if none), for replay. */
static uint64_t expire_stream(mw_eventlog_t *log, uint64_t now_ms, uint32_t stream) {
  uint64_t lost = 0;
  while (log->count && expired(log, &log->ring[log->head], now_ms)) {
    mw_eventlog_entry_t e = evict_head(log);
    if (e.stream == stream) lost = e.seq;
  }
  return lost;
}

/* Called only when the ring is full, so the live entries are [head, cap) then
 * [0, head); moving the wrapped part right after the old end keeps them in
 * order without touching the (usually larger) head part. */
static void grow(mw_eventlog_t *log) {
  uint32_t old = log->cap;
  log->cap = old ? old * 2 : MW_EVENTLOG_MIN_CAP;
  log->ring = mw_realloc(log->ring, (size_t)log->cap * sizeof *log->ring);
  memcpy(log->ring + old, log->ring, (size_t)log->head * sizeof *log->ring);
}

void mw_eventlog_init(mw_eventlog_t *log, const mw_eventlog_limits_t *limits,
                      mw_eventlog_evict_cb on_evict, void *ud) {
  *log = (mw_eventlog_t){.limits = limits, .on_evict = on_evict, .ud = ud};
}

void mw_eventlog_dispose(mw_eventlog_t *log) {
  if (!log) return;
  for (uint32_t i = 0; i < log->count; i++)
    mw_frame_unref(slot(log, i)->frame);
  mw_free(log->ring);
  log->ring = NULL;
  log->cap = log->head = log->count = 0;
  log->bytes = 0;
}

uint64_t mw_eventlog_next_seq(mw_eventlog_t *log) {
  return ++log->last_seq;
}

int mw_eventlog_append(mw_eventlog_t *log, uint32_t stream, uint64_t seq, mw_frame_t *frame,
                       uint64_t now_ms) {
  if (seq == 0 || seq > log->last_seq || (log->count && seq <= slot(log, log->count - 1)->seq))
    return -EINVAL;
  if (frame->len > log->limits->max_bytes) {
    /* The event is live-only: report its seq as lost so a client resuming
     * from before it gets a gap instead of a silent hole. */
    if (log->on_evict) log->on_evict(log->ud, stream, seq);
    return -E2BIG;
  }

  expire_stream(log, now_ms, stream);
  /* bytes may exceed max_bytes if the limits shrank; compare without
   * subtracting from max_bytes. frame->len <= max_bytes here. */
  uint32_t max = max_events(log);
  while (log->count && (log->count >= max || log->bytes > log->limits->max_bytes - frame->len))
    evict_head(log);

  /* count < max <= next power of two >= max, so growth stays within it. */
  if (log->count == log->cap) grow(log);
  *slot(log, log->count) = (mw_eventlog_entry_t){
      .seq = seq, .time_ms = now_ms, .frame = mw_frame_ref(frame), .stream = stream};
  log->count++;
  log->bytes += frame->len;
  return 0;
}

bool mw_eventlog_would_evict(const mw_eventlog_t *log, size_t len, uint64_t keep_after) {
  if (len > log->limits->max_bytes) return false; /* not stored at all */
  uint32_t max = max_events(log), count = log->count;
  size_t bytes = log->bytes;
  /* The same loop as append's, on copies. */
  for (uint32_t i = 0; count && (count >= max || bytes > log->limits->max_bytes - len); i++) {
    const mw_eventlog_entry_t *e = slot(log, i);
    if (e->seq > keep_after) return true;
    count--;
    bytes -= e->frame->len;
  }
  return false;
}

void mw_eventlog_expire(mw_eventlog_t *log, uint64_t now_ms) {
  expire_stream(log, now_ms, 0);
  /* A log that aged out entirely gives its ring back: idle sessions then
   * cost nothing here again (the sweep calls this for every owner). */
  if (log->count == 0 && log->ring) {
    mw_free(log->ring);
    log->ring = NULL;
    log->cap = log->head = 0;
  }
}

uint32_t mw_eventlog_lower_bound(const mw_eventlog_t *log, uint64_t after_seq) {
  uint32_t lo = 0, hi = log->count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (slot(log, mid)->seq <= after_seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

mw_eventlog_entry_t *mw_eventlog_at(const mw_eventlog_t *log, uint32_t i) {
  return i < log->count ? slot(log, i) : NULL;
}

bool mw_eventlog_resume_gap(mw_eventlog_t *log, uint32_t stream, uint64_t after_seq,
                            uint64_t lost_upto, uint64_t now_ms) {
  /* lost_upto was read before this call's own expiry, which may drop entries
   * of this stream; fold those in or the client would skip them silently. */
  uint64_t lost = expire_stream(log, now_ms, stream);
  if (lost < lost_upto) lost = lost_upto;
  return after_seq < lost || after_seq > log->last_seq;
}

bool mw_eventlog_replay_some(const mw_eventlog_t *log, uint32_t stream, uint64_t *after,
                             mw_eventlog_emit_cb emit, bool (*more)(void *ud), void *ud) {
  for (uint32_t i = mw_eventlog_lower_bound(log, *after); i < log->count; i++) {
    mw_eventlog_entry_t *e = slot(log, i);
    if (e->stream != stream) continue;
    if (!more(ud)) return false;
    *after = e->seq;
    emit(ud, e->frame);
  }
  return true;
}

size_t mw_eventlog_replay(mw_eventlog_t *log, uint32_t stream, uint64_t after_seq,
                          uint64_t lost_upto, uint64_t now_ms, mw_eventlog_emit_cb emit, void *ud,
                          bool *gap) {
  /* lost_upto was read before this call's own expiry, which may drop entries
   * of this stream; fold those in or the client would skip them silently. */
  uint64_t lost = expire_stream(log, now_ms, stream);
  if (lost < lost_upto) lost = lost_upto;
  if (gap) *gap = after_seq < lost || after_seq > log->last_seq;

  /* emit must not append to or expire this log: it would move the ring. */
  size_t n = 0;
  for (uint32_t i = mw_eventlog_lower_bound(log, after_seq); i < log->count; i++) {
    mw_eventlog_entry_t *e = slot(log, i);
    if (e->stream != stream) continue;
    emit(ud, e->frame);
    n++;
  }
  return n;
}
