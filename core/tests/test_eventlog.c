/* Tests for core/eventlog.c: eviction by count, bytes and age, replay per
 * stream with gap reports, ring growth across wraparound, and frame refs. */
#include "common.h"
#include "eventlog.h"
#include "mw_test.h"

#include <errno.h>

#define FX_MAX 4096

/* The test keeps its own reference on every frame it appends (frames[seq]),
 * so it can watch the log's reference come and go through f->refs. */
typedef struct fx {
  mw_frame_t *frames[FX_MAX];
  uint32_t n_ev;
  uint32_t ev_stream[FX_MAX];
  uint64_t ev_seq[FX_MAX];
  uint32_t ev_refs[FX_MAX]; /* refs of the evicted frame while on_evict ran */
  uint64_t lost[8];         /* per stream highest seq reported lost */
} fx_t;

static void on_evict(void *ud, uint32_t stream, uint64_t seq) {
  fx_t *fx = ud;
  if (fx->n_ev < FX_MAX) {
    fx->ev_stream[fx->n_ev] = stream;
    fx->ev_seq[fx->n_ev] = seq;
    fx->ev_refs[fx->n_ev] = seq < FX_MAX && fx->frames[seq] ? fx->frames[seq]->refs : 0;
  }
  fx->n_ev++;
  if (stream < MW_ARRAY_SIZE(fx->lost) && seq > fx->lost[stream]) fx->lost[stream] = seq;
}

static fx_t *fx_new(mw_eventlog_t *log, const mw_eventlog_limits_t *limits) {
  fx_t *fx = mw_calloc(1, sizeof *fx);
  mw_eventlog_init(log, limits, on_evict, fx);
  return fx;
}

/* Disposes the log, then checks only the test's own reference is left. */
static void fx_free(fx_t *fx, mw_eventlog_t *log) {
  mw_eventlog_dispose(log);
  CHECK(log->ring == NULL && log->count == 0 && log->bytes == 0);
  for (size_t i = 0; i < FX_MAX; i++) {
    if (!fx->frames[i]) continue;
    CHECK_EQ_INT(fx->frames[i]->refs, 1);
    mw_frame_unref(fx->frames[i]);
  }
  mw_free(fx);
}

static mw_frame_t *frame_of(size_t payload_len) {
  mw_frame_t *f = mw_frame_new(payload_len);
  memset(mw_frame_payload(f), 'x', payload_len);
  return f;
}

/* The envelope's hex length makes len a step function of the payload size. */
static mw_frame_t *frame_with_len(size_t len) {
  for (size_t p = len;; p--) {
    mw_frame_t *f = frame_of(p);
    if (f->len <= len) return f;
    mw_frame_unref(f);
  }
}

static uint64_t push(fx_t *fx, mw_eventlog_t *log, uint32_t stream, size_t payload_len,
                     uint64_t now_ms) {
  uint64_t seq = mw_eventlog_next_seq(log);
  fx->frames[seq] = frame_of(payload_len);
  CHECK_EQ_INT(mw_eventlog_append(log, stream, seq, fx->frames[seq], now_ms), 0);
  return seq;
}

static uint64_t seq_at(const mw_eventlog_t *log, uint32_t i) {
  mw_eventlog_entry_t *e = mw_eventlog_at(log, i);
  return e ? e->seq : 0;
}

static bool is_pow2(uint32_t n) {
  return n && (n & (n - 1)) == 0;
}

/* Compares lower_bound against a linear scan for every seq up to last_seq+1. */
static void check_lower_bound(const mw_eventlog_t *log) {
  for (uint64_t s = 0; s <= log->last_seq + 1; s++) {
    uint32_t want = 0;
    while (want < log->count && seq_at(log, want) <= s)
      want++;
    CHECK_EQ_INT(mw_eventlog_lower_bound(log, s), want);
  }
}

typedef struct emitted {
  size_t n;
  mw_frame_t *frames[64];
} emitted_t;

static void emit(void *ud, mw_frame_t *frame) {
  emitted_t *em = ud;
  if (em->n < MW_ARRAY_SIZE(em->frames)) em->frames[em->n] = frame;
  em->n++;
}

static size_t replay(mw_eventlog_t *log, uint32_t stream, uint64_t after, uint64_t lost_upto,
                     uint64_t now_ms, emitted_t *em, bool *gap) {
  *em = (emitted_t){0};
  *gap = true; /* most checks expect false, so a replay that never writes fails */
  return mw_eventlog_replay(log, stream, after, lost_upto, now_ms, emit, em, gap);
}

TEST(lazy_allocation) {
  mw_eventlog_limits_t lim = {.max_events = 1000, .max_bytes = 1 << 20, .ttl_ms = 1000};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);
  CHECK(log.ring == NULL);
  CHECK_EQ_INT(log.cap, 0);
  CHECK_EQ_INT(mw_eventlog_next_seq(&log), 1);
  CHECK(log.ring == NULL);
  CHECK(mw_eventlog_at(&log, 0) == NULL);
  CHECK_EQ_INT(mw_eventlog_lower_bound(&log, 0), 0);
  push(fx, &log, 1, 4, 0);
  CHECK(log.ring != NULL);
  CHECK(is_pow2(log.cap) && log.cap < 16); /* not max_events' 1024 */
  fx_free(fx, &log);
  mw_eventlog_dispose(NULL);
}

TEST(order_and_entries) {
  mw_eventlog_limits_t lim = {.max_events = 100, .max_bytes = 1 << 20, .ttl_ms = 1000};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);
  size_t bytes = 0;
  for (uint32_t i = 0; i < 20; i++) {
    uint64_t seq = push(fx, &log, i % 3, i, 10 + i);
    bytes += fx->frames[seq]->len;
  }
  CHECK_EQ_INT(log.count, 20);
  CHECK_EQ_INT(log.bytes, bytes);
  CHECK(is_pow2(log.cap) && log.cap >= 20 && log.cap <= 128);
  for (uint32_t i = 0; i < 20; i++) {
    mw_eventlog_entry_t *e = mw_eventlog_at(&log, i);
    CHECK_EQ_INT(e->seq, i + 1);
    CHECK_EQ_INT(e->stream, i % 3);
    CHECK_EQ_INT(e->time_ms, 10 + i);
    CHECK(e->frame == fx->frames[i + 1]);
    CHECK_EQ_INT(e->frame->refs, 2);
  }
  CHECK(mw_eventlog_at(&log, 20) == NULL);
  CHECK_EQ_INT(fx->n_ev, 0);
  fx_free(fx, &log);
}

TEST(evict_by_count) {
  mw_eventlog_limits_t lim = {.max_events = 3, .max_bytes = 1 << 20, .ttl_ms = 1000};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);
  for (uint32_t i = 0; i < 5; i++)
    push(fx, &log, 7 + i % 2, 1, 0);
  CHECK_EQ_INT(log.count, 3);
  CHECK_EQ_INT(seq_at(&log, 0), 3);
  CHECK_EQ_INT(seq_at(&log, 2), 5);
  CHECK_EQ_INT(fx->n_ev, 2);
  CHECK_EQ_INT(fx->ev_seq[0], 1);
  CHECK_EQ_INT(fx->ev_stream[0], 7);
  CHECK_EQ_INT(fx->ev_seq[1], 2);
  CHECK_EQ_INT(fx->ev_stream[1], 8);
  /* The callback runs before the log drops its reference... */
  CHECK_EQ_INT(fx->ev_refs[0], 2);
  CHECK_EQ_INT(fx->ev_refs[1], 2);
  /* ...and the reference is gone afterwards. */
  CHECK_EQ_INT(fx->frames[1]->refs, 1);
  CHECK_EQ_INT(fx->frames[2]->refs, 1);
  CHECK_EQ_INT(fx->frames[3]->refs, 2);
  fx_free(fx, &log);
}

TEST(evict_by_bytes) {
  mw_frame_t *probe = frame_of(10);
  size_t len = probe->len;
  mw_frame_unref(probe);
  mw_eventlog_limits_t lim = {.max_events = 100, .max_bytes = 4 * len - 1, .ttl_ms = 1000};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);
  for (uint32_t i = 0; i < 3; i++)
    push(fx, &log, 1, 10, 0);
  CHECK_EQ_INT(log.count, 3);
  CHECK_EQ_INT(fx->n_ev, 0);
  push(fx, &log, 1, 10, 0); /* 4 * len > max_bytes */
  CHECK_EQ_INT(log.count, 3);
  CHECK_EQ_INT(log.bytes, 3 * len);
  CHECK_EQ_INT(fx->n_ev, 1);
  CHECK_EQ_INT(fx->ev_seq[0], 1);
  CHECK_EQ_INT(seq_at(&log, 0), 2);

  /* A frame of exactly max_bytes fits, after evicting everything else. */
  uint64_t seq = mw_eventlog_next_seq(&log);
  fx->frames[seq] = frame_with_len(lim.max_bytes);
  CHECK_EQ_INT(fx->frames[seq]->len, lim.max_bytes);
  CHECK_EQ_INT(mw_eventlog_append(&log, 2, seq, fx->frames[seq], 0), 0);
  CHECK_EQ_INT(log.count, 1);
  CHECK_EQ_INT(log.bytes, lim.max_bytes);
  CHECK_EQ_INT(fx->n_ev, 4);
  CHECK_EQ_INT(fx->ev_seq[3], 4);
  fx_free(fx, &log);
}

/* would_evict answers what append is about to do, without doing it. */
TEST(would_evict) {
  mw_frame_t *probe = frame_of(10);
  size_t len = probe->len;
  mw_frame_unref(probe);
  mw_eventlog_limits_t lim = {.max_events = 3, .max_bytes = 5 * len, .ttl_ms = 1000};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);
  CHECK(!mw_eventlog_would_evict(&log, len, 0));
  for (uint32_t i = 0; i < 3; i++)
    push(fx, &log, 0, 10, 0); /* seqs 1..3, full by count */
  CHECK(mw_eventlog_would_evict(&log, len, 0));  /* seq 1 would go */
  CHECK(!mw_eventlog_would_evict(&log, len, 1)); /* only seq 1 would go: kept after 1 */
  /* By bytes: 3 held + a frame of 4*len needs two evicted (seqs 1, 2). */
  lim.max_events = 100;
  CHECK(!mw_eventlog_would_evict(&log, 2 * len, 0));
  CHECK(mw_eventlog_would_evict(&log, 4 * len, 1));
  CHECK(!mw_eventlog_would_evict(&log, 4 * len, 2));
  /* Too big to be stored evicts nothing. */
  CHECK(!mw_eventlog_would_evict(&log, 5 * len + 1, 0));
  CHECK_EQ_INT(log.count, 3);
  CHECK_EQ_INT(fx->n_ev, 0);
  fx_free(fx, &log);
}

TEST(evict_by_ttl) {
  mw_eventlog_limits_t lim = {.max_events = 3, .max_bytes = 1 << 20, .ttl_ms = 100};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);
  push(fx, &log, 1, 1, 0);
  mw_eventlog_expire(&log, 99);
  CHECK_EQ_INT(log.count, 1);
  mw_eventlog_expire(&log, 100); /* time_ms + ttl_ms <= now_ms */
  CHECK_EQ_INT(log.count, 0);
  CHECK_EQ_INT(fx->n_ev, 1);
  CHECK_EQ_INT(fx->ev_seq[0], 1);
  CHECK_EQ_INT(log.bytes, 0);

  /* Age goes first: a and b are too old, so c survives although a count-only
   * eviction would have dropped just a. */
  uint64_t a = push(fx, &log, 1, 1, 200);
  uint64_t b = push(fx, &log, 1, 1, 200);
  uint64_t c = push(fx, &log, 1, 1, 250);
  uint64_t d = push(fx, &log, 1, 1, 300);
  CHECK_EQ_INT(log.count, 2);
  CHECK_EQ_INT(seq_at(&log, 0), c);
  CHECK_EQ_INT(seq_at(&log, 1), d);
  CHECK_EQ_INT(fx->n_ev, 3);
  CHECK_EQ_INT(fx->ev_seq[1], a);
  CHECK_EQ_INT(fx->ev_seq[2], b);

  /* A huge ttl must not overflow into "already expired". */
  lim.ttl_ms = UINT64_MAX;
  mw_eventlog_expire(&log, UINT64_MAX - 1);
  CHECK_EQ_INT(log.count, 2);
  fx_free(fx, &log);
}

TEST(replay_by_stream) {
  mw_eventlog_limits_t lim = {.max_events = 100, .max_bytes = 1 << 20, .ttl_ms = 1000};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);
  uint32_t streams[] = {1, 2, 1, 2, 3, 1};
  for (size_t i = 0; i < MW_ARRAY_SIZE(streams); i++)
    push(fx, &log, streams[i], 3, 0);
  emitted_t em;
  bool gap = false;

  CHECK_EQ_INT(replay(&log, 1, 0, 0, 0, &em, &gap), 3);
  CHECK(!gap);
  CHECK(em.frames[0] == fx->frames[1] && em.frames[1] == fx->frames[3] &&
        em.frames[2] == fx->frames[6]);

  CHECK_EQ_INT(replay(&log, 1, 3, 0, 0, &em, &gap), 1);
  CHECK(!gap);
  CHECK(em.frames[0] == fx->frames[6]);

  CHECK_EQ_INT(replay(&log, 2, 1, 0, 0, &em, &gap), 2);
  CHECK(em.frames[0] == fx->frames[2] && em.frames[1] == fx->frames[4]);

  CHECK_EQ_INT(replay(&log, 3, 5, 0, 0, &em, &gap), 0);
  CHECK(!gap);
  CHECK_EQ_INT(replay(&log, 9, 0, 0, 0, &em, &gap), 0);
  CHECK(!gap);
  CHECK_EQ_INT(log.count, 6); /* replay is read-only when nothing expired */
  fx_free(fx, &log);
}

TEST(replay_gaps) {
  mw_eventlog_limits_t lim = {.max_events = 3, .max_bytes = 1 << 20, .ttl_ms = 100};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);
  emitted_t em;
  bool gap = true;

  /* Nothing issued, client has nothing: up to date. */
  CHECK_EQ_INT(replay(&log, 1, 0, 0, 0, &em, &gap), 0);
  CHECK(!gap);

  /* s1:1 s2:2 s1:3 s2:4 s1:5 with room for 3: 1 and 2 are lost. */
  for (uint32_t i = 0; i < 5; i++)
    push(fx, &log, 1 + i % 2, 1, 0);
  CHECK_EQ_INT(fx->lost[1], 1);
  CHECK_EQ_INT(fx->lost[2], 2);

  CHECK_EQ_INT(replay(&log, 1, 0, fx->lost[1], 0, &em, &gap), 2);
  CHECK(gap);
  CHECK(em.frames[0] == fx->frames[3] && em.frames[1] == fx->frames[5]);
  CHECK_EQ_INT(replay(&log, 1, 1, fx->lost[1], 0, &em, &gap), 2);
  CHECK(!gap);
  CHECK_EQ_INT(replay(&log, 2, 1, fx->lost[2], 0, &em, &gap), 1);
  CHECK(gap);
  CHECK(em.frames[0] == fx->frames[4]);
  CHECK_EQ_INT(replay(&log, 2, 2, fx->lost[2], 0, &em, &gap), 1);
  CHECK(!gap);

  /* Ids at or beyond last_seq: equal is up to date, beyond was never issued. */
  CHECK_EQ_INT(replay(&log, 1, 5, fx->lost[1], 0, &em, &gap), 0);
  CHECK(!gap);
  CHECK_EQ_INT(replay(&log, 1, 6, fx->lost[1], 0, &em, &gap), 0);
  CHECK(gap);
  uint64_t priming = mw_eventlog_next_seq(&log);
  CHECK_EQ_INT(replay(&log, 1, priming, fx->lost[1], 0, &em, &gap), 0);
  CHECK(!gap);
  CHECK_EQ_INT(replay(&log, 1, 1000, fx->lost[1], 0, &em, &gap), 0);
  CHECK(gap);
  fx_free(fx, &log);
}

/* Replay expires first; entries of the stream it drops must count as lost
 * even though the caller's lost_upto predates the call. */
TEST(replay_gap_from_own_expiry) {
  mw_eventlog_limits_t lim = {.max_events = 10, .max_bytes = 1 << 20, .ttl_ms = 100};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);
  emitted_t em;
  bool gap = true;
  push(fx, &log, 2, 1, 0);  /* seq 1 */
  push(fx, &log, 1, 1, 50); /* seq 2 */

  /* Only the other stream's entry expires: no gap for stream 1. */
  CHECK_EQ_INT(replay(&log, 1, 0, fx->lost[1], 120, &em, &gap), 1);
  CHECK(!gap);
  CHECK(em.frames[0] == fx->frames[2]);
  CHECK_EQ_INT(log.count, 1);

  uint64_t stale = fx->lost[1];
  CHECK_EQ_INT(stale, 0);
  CHECK_EQ_INT(replay(&log, 1, 0, stale, 150, &em, &gap), 0);
  CHECK(gap);
  CHECK_EQ_INT(fx->lost[1], 2);
  CHECK_EQ_INT(log.count, 0);
  fx_free(fx, &log);
}

TEST(too_big) {
  mw_eventlog_limits_t lim = {.max_events = 10, .max_bytes = 20, .ttl_ms = 100};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);

  uint64_t seq = mw_eventlog_next_seq(&log);
  fx->frames[seq] = frame_of(30);
  CHECK_EQ_INT(mw_eventlog_append(&log, 4, seq, fx->frames[seq], 0), -E2BIG);
  CHECK(log.ring == NULL); /* a rejected frame does not allocate */
  CHECK_EQ_INT(log.count, 0);
  CHECK_EQ_INT(fx->frames[seq]->refs, 1);
  /* Live-only, so it is reported lost for gap detection. */
  CHECK_EQ_INT(fx->n_ev, 1);
  CHECK_EQ_INT(fx->ev_stream[0], 4);
  CHECK_EQ_INT(fx->ev_seq[0], seq);

  uint64_t small = push(fx, &log, 4, 5, 0);
  seq = mw_eventlog_next_seq(&log);
  fx->frames[seq] = frame_of(30);
  CHECK_EQ_INT(mw_eventlog_append(&log, 4, seq, fx->frames[seq], 500), -E2BIG);
  CHECK_EQ_INT(log.count, 1); /* nothing evicted either, even the expired */
  CHECK_EQ_INT(seq_at(&log, 0), small);
  CHECK_EQ_INT(fx->frames[seq]->refs, 1);
  CHECK_EQ_INT(fx->lost[4], seq);

  emitted_t em;
  bool gap = false;
  CHECK_EQ_INT(replay(&log, 4, small, fx->lost[4], 0, &em, &gap), 0);
  CHECK(gap);
  fx_free(fx, &log);
}

TEST(bad_seq) {
  mw_eventlog_limits_t lim = {.max_events = 10, .max_bytes = 1 << 20, .ttl_ms = 100};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);
  mw_frame_t *f = frame_of(1);

  CHECK_EQ_INT(mw_eventlog_append(&log, 1, 1, f, 0), -EINVAL); /* never allocated */
  CHECK_EQ_INT(mw_eventlog_append(&log, 1, 0, f, 0), -EINVAL);
  CHECK(log.ring == NULL);

  uint64_t a = push(fx, &log, 1, 1, 0);
  uint64_t skipped = mw_eventlog_next_seq(&log); /* e.g. a priming id */
  uint64_t b = mw_eventlog_next_seq(&log);
  CHECK_EQ_INT(mw_eventlog_append(&log, 1, b + 1, f, 0), -EINVAL);
  fx->frames[b] = frame_of(1);
  CHECK_EQ_INT(mw_eventlog_append(&log, 1, b, fx->frames[b], 0), 0);
  CHECK_EQ_INT(mw_eventlog_append(&log, 1, b, f, 0), -EINVAL);
  CHECK_EQ_INT(mw_eventlog_append(&log, 1, skipped, f, 0), -EINVAL);
  CHECK_EQ_INT(mw_eventlog_append(&log, 1, a, f, 0), -EINVAL);
  CHECK_EQ_INT(mw_eventlog_append(&log, 1, 0, f, 0), -EINVAL);
  CHECK_EQ_INT(log.count, 2);
  CHECK_EQ_INT(f->refs, 1);
  CHECK_EQ_INT(fx->n_ev, 0);
  mw_frame_unref(f);
  fx_free(fx, &log);
}

TEST(growth_caps_at_power_of_two) {
  uint32_t maxes[] = {1, 5, 8, 9, 33};
  uint32_t caps[] = {8, 8, 8, 16, 64};
  for (size_t k = 0; k < MW_ARRAY_SIZE(maxes); k++) {
    mw_eventlog_limits_t lim = {.max_events = maxes[k], .max_bytes = 1 << 20, .ttl_ms = 100};
    mw_eventlog_t log;
    fx_t *fx = fx_new(&log, &lim);
    for (int i = 0; i < 200; i++)
      push(fx, &log, 1, 1, 0);
    CHECK_EQ_INT(log.count, maxes[k]);
    CHECK_EQ_INT(log.cap, caps[k]);
    CHECK_EQ_INT(seq_at(&log, 0), 200 - maxes[k] + 1);
    check_lower_bound(&log);
    fx_free(fx, &log);
  }
}

/* A log whose entries all aged out gives its ring back on expire, and a
 * later append starts small again. */
TEST(expire_frees_empty_ring) {
  mw_eventlog_limits_t lim = {.max_events = 64, .max_bytes = 1 << 20, .ttl_ms = 100};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);
  for (int i = 0; i < 20; i++)
    push(fx, &log, 1, 1, 0);
  CHECK_EQ_INT(log.cap, 32);
  mw_eventlog_expire(&log, 50);
  CHECK(log.ring != NULL);
  mw_eventlog_expire(&log, 100);
  CHECK(log.ring == NULL);
  CHECK_EQ_INT(log.count, 0);
  push(fx, &log, 1, 1, 100);
  CHECK_EQ_INT(log.cap, 8);
  CHECK_EQ_INT(seq_at(&log, 0), 21);
  fx_free(fx, &log);
}

/* Growing while the live entries wrap must keep them in seq order. */
TEST(growth_across_wraparound) {
  mw_eventlog_limits_t lim = {.max_events = 64, .max_bytes = 1 << 20, .ttl_ms = 100};
  mw_eventlog_t log;
  fx_t *fx = fx_new(&log, &lim);
  for (int i = 0; i < 6; i++)
    push(fx, &log, 1, 1, 0);
  /* The first append at t=100 ages out all six, leaving head at 6. */
  for (int i = 0; i < 8; i++)
    push(fx, &log, 1, 1, 100);
  CHECK(log.cap == 8 && log.count == 8 && log.head == 6);
  push(fx, &log, 1, 1, 100);
  CHECK_EQ_INT(log.cap, 16);
  CHECK_EQ_INT(log.count, 9);
  for (uint32_t i = 0; i < 9; i++)
    CHECK_EQ_INT(seq_at(&log, i), 7 + i);
  check_lower_bound(&log);

  /* Again one size up, with the head in the wrapped half. */
  for (int i = 0; i < 11; i++)
    push(fx, &log, 1, 1, 200);
  for (int i = 0; i < 16; i++)
    push(fx, &log, 1, 1, 300);
  CHECK(log.cap == 16 && log.count == 16 && log.head != 0);
  push(fx, &log, 1, 1, 300);
  CHECK_EQ_INT(log.cap, 32);
  for (uint32_t i = 0; i < log.count; i++)
    CHECK_EQ_INT(seq_at(&log, i), log.last_seq - log.count + 1 + i);
  check_lower_bound(&log);
  fx_free(fx, &log);
}

/* Random appends, skipped ids, idle time and byte sizes against a plain-array
 * model of the eviction rules. */
TEST(model) {
  uint32_t maxes[] = {1, 5, 13, 64};
  uint32_t rng = 12345;
  for (size_t k = 0; k < MW_ARRAY_SIZE(maxes); k++) {
    mw_eventlog_limits_t lim = {.max_events = maxes[k], .max_bytes = 400, .ttl_ms = 60};
    mw_eventlog_t log;
    fx_t *fx = fx_new(&log, &lim);
    uint64_t seqs[FX_MAX], times[FX_MAX];
    uint32_t streams[FX_MAX], n = 0, first = 0;
    size_t bytes = 0;
    uint64_t now = 0;
    uint32_t cap_limit = 1;
    while (cap_limit < maxes[k])
      cap_limit *= 2;
    cap_limit = cap_limit < 8 ? 8 : cap_limit;

    for (int step = 0; step < 600 && log.last_seq < FX_MAX - 4; step++) {
      rng = rng * 1103515245u + 12345u;
      uint32_t r = rng >> 8;
      now += r % 7 == 0 ? 40 : r % 3;
      if (r % 5 == 0) mw_eventlog_next_seq(&log);
      uint32_t stream = r % 3;
      size_t payload = (r >> 4) % 40;
      uint64_t seq = push(fx, &log, stream, payload, now);
      size_t len = fx->frames[seq]->len;

      while (first < n && times[first] + lim.ttl_ms <= now)
        bytes -= fx->frames[seqs[first++]]->len;
      while (first < n && (n - first >= maxes[k] || bytes + len > lim.max_bytes))
        bytes -= fx->frames[seqs[first++]]->len;
      seqs[n] = seq, times[n] = now, streams[n] = stream, n++;
      bytes += len;

      CHECK_EQ_INT(log.count, n - first);
      CHECK_EQ_INT(log.bytes, bytes);
      CHECK_EQ_INT(fx->n_ev, first);
      CHECK(is_pow2(log.cap) && log.cap <= cap_limit);
      for (uint32_t i = 0; i < log.count && i < n - first; i++) {
        mw_eventlog_entry_t *e = mw_eventlog_at(&log, i);
        CHECK(e->seq == seqs[first + i] && e->stream == streams[first + i] &&
              e->frame == fx->frames[e->seq]);
      }
      if (step % 16 == 0) check_lower_bound(&log);

      uint64_t after = seqs[first] - 1 + r % 3;
      uint32_t want = 0;
      for (uint32_t i = first; i < n; i++)
        want += streams[i] == stream && seqs[i] > after;
      emitted_t em;
      bool gap;
      CHECK_EQ_INT(replay(&log, stream, after, fx->lost[stream], now, &em, &gap), want);
      CHECK(gap == (after < fx->lost[stream] || after > log.last_seq));
    }
    fx_free(fx, &log);
  }
}

TEST(shared_frame_refs) {
  mw_eventlog_limits_t lim = {.max_events = 2, .max_bytes = 1 << 20, .ttl_ms = 100};
  mw_eventlog_t log;
  mw_eventlog_init(&log, &lim, NULL, NULL); /* no callback is fine */
  mw_frame_t *f = frame_of(8);
  CHECK_EQ_INT(mw_eventlog_append(&log, 1, mw_eventlog_next_seq(&log), f, 0), 0);
  CHECK_EQ_INT(mw_eventlog_append(&log, 2, mw_eventlog_next_seq(&log), f, 0), 0);
  CHECK_EQ_INT(f->refs, 3);
  mw_frame_t *g = frame_of(8);
  CHECK_EQ_INT(mw_eventlog_append(&log, 1, mw_eventlog_next_seq(&log), g, 0), 0);
  CHECK_EQ_INT(f->refs, 2);
  mw_eventlog_expire(&log, 100);
  CHECK_EQ_INT(log.count, 0);
  CHECK_EQ_INT(f->refs, 1);
  CHECK_EQ_INT(g->refs, 1);

  /* Re-init after dispose gives a fresh, empty log. */
  CHECK_EQ_INT(mw_eventlog_append(&log, 1, mw_eventlog_next_seq(&log), g, 100), 0);
  mw_eventlog_dispose(&log);
  CHECK_EQ_INT(g->refs, 1);
  mw_eventlog_init(&log, &lim, NULL, NULL);
  CHECK(log.ring == NULL && log.count == 0 && log.last_seq == 0);
  mw_eventlog_dispose(&log);
  mw_frame_unref(f);
  mw_frame_unref(g);
}

int main(void) {
  RUN(lazy_allocation);
  RUN(order_and_entries);
  RUN(evict_by_count);
  RUN(evict_by_bytes);
  RUN(would_evict);
  RUN(evict_by_ttl);
  RUN(replay_by_stream);
  RUN(replay_gaps);
  RUN(replay_gap_from_own_expiry);
  RUN(too_big);
  RUN(bad_seq);
  RUN(growth_caps_at_power_of_two);
  RUN(growth_across_wraparound);
  RUN(expire_frees_empty_ring);
  RUN(model);
  RUN(shared_frame_refs);
  return TEST_DONE();
}
