/* Histograms and the statistics block they live in: merged field by field
 * when several subscriber processes report to the parent. */
#include <string.h>

#include "lg.h"

static size_t bucket_of(uint64_t v) {
  if (v < LG_HIST_LIN) return (size_t)v;
  int msb = 63 - __builtin_clzll(v); /* >= 8 */
  int shift = msb - 7;
  size_t idx = LG_HIST_LIN + (size_t)(msb - 8) * LG_HIST_SUB + (size_t)((v >> shift) - LG_HIST_SUB);
  return idx < LG_HIST_N ? idx : LG_HIST_N - 1;
}

/* Middle of the bucket's value range. */
static uint64_t bucket_mid(size_t idx) {
  if (idx < LG_HIST_LIN) return idx;
  size_t e = (idx - LG_HIST_LIN) / LG_HIST_SUB + 8;
  uint64_t sub = (idx - LG_HIST_LIN) % LG_HIST_SUB;
  uint64_t width = 1ull << (e - 7);
  return ((LG_HIST_SUB + sub) << (e - 7)) + width / 2;
}

void lg_hist_init(lg_hist_t *h) {
  memset(h, 0, sizeof *h);
  h->min = UINT64_MAX;
}

void lg_hist_add(lg_hist_t *h, uint64_t v) {
  h->b[bucket_of(v)]++;
  h->count++;
  if (v < h->min) h->min = v;
  if (v > h->max) h->max = v;
}

void lg_hist_merge(lg_hist_t *into, const lg_hist_t *from) {
  for (size_t i = 0; i < LG_HIST_N; i++)
    into->b[i] += from->b[i];
  into->count += from->count;
  if (from->min < into->min) into->min = from->min;
  if (from->max > into->max) into->max = from->max;
}

uint64_t lg_hist_quantile(const lg_hist_t *h, double q) {
  if (h->count == 0) return 0;
  uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > h->count) rank = h->count;
  uint64_t seen = 0;
  for (size_t i = 0; i < LG_HIST_N; i++) {
    seen += h->b[i];
    if (seen >= rank) {
      uint64_t v = bucket_mid(i);
      if (v < h->min) v = h->min;
      if (v > h->max) v = h->max;
      return v;
    }
  }
  return h->max;
}

void lg_stats_init(lg_stats_t *s) {
  memset(s, 0, sizeof *s);
  lg_hist_init(&s->hb_gap_us);
  lg_hist_init(&s->setup_us);
  lg_hist_init(&s->latency_us);
  lg_hist_init(&s->resume_us);
  lg_hist_init(&s->catchup_us);
}

static void min_time(int64_t *into, int64_t v) {
  if (v && (!*into || v < *into)) *into = v;
}
static void max_time(int64_t *into, int64_t v) {
  if (v > *into) *into = v;
}

void lg_stats_merge(lg_stats_t *a, const lg_stats_t *b) {
  a->attempted += b->attempted;
  a->established += b->established;
  a->failed += b->failed;
  a->open_at_end += b->open_at_end;
  for (int i = 0; i < LG_FAIL_N; i++)
    a->fail[i] += b->fail[i];
  for (int i = 0; i < 600; i++)
    a->fail_http[i] += b->fail_http[i];
  a->events += b->events;
  a->heartbeats += b->heartbeats;
  a->bytes += b->bytes;
  a->deliveries += b->deliveries;
  a->lost += b->lost;
  a->dups += b->dups;
  a->no_events += b->no_events;
  min_time(&a->first_delivery_us, b->first_delivery_us);
  max_time(&a->last_delivery_us, b->last_delivery_us);
  min_time(&a->first_start_us, b->first_start_us);
  max_time(&a->last_established_us, b->last_established_us);
  lg_hist_merge(&a->hb_gap_us, &b->hb_gap_us);
  lg_hist_merge(&a->setup_us, &b->setup_us);
  lg_hist_merge(&a->latency_us, &b->latency_us);
  lg_hist_merge(&a->resume_us, &b->resume_us);
  lg_hist_merge(&a->catchup_us, &b->catchup_us);
  a->mark_count += b->mark_count;
  min_time(&a->cut_us, b->cut_us);
  a->cut += b->cut;
  a->resumed += b->resumed;
  a->resume_failed += b->resume_failed;
  a->caught_up += b->caught_up;
  a->storm_lost += b->storm_lost;
  a->storm_dups += b->storm_dups;
  a->timed_out |= b->timed_out;
}
