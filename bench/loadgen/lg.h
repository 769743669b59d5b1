/* mw-loadgen: SSE / MCP stream load generator for the benchmark. Shared types:
 * options, the per-process statistics block (fixed size, so a child can hand
 * it to the parent through a pipe as raw bytes), and the page the publisher
 * and the subscriber processes share. */
#ifndef LG_H
#define LG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* ---- histogram (hist.c) ----------------------------------------------------
 * Log-linear buckets: exact below 256, then 128 sub-buckets per power of two
 * (< 0.8 % error), so merged percentiles stay good to a few ms at seconds. */
#define LG_HIST_LIN 256
#define LG_HIST_SUB 128
#define LG_HIST_EXP 32
#define LG_HIST_N (LG_HIST_LIN + LG_HIST_EXP * LG_HIST_SUB)

typedef struct lg_hist {
  uint64_t count;
  uint64_t min, max; /* exact; min is UINT64_MAX while empty */
  uint64_t b[LG_HIST_N];
} lg_hist_t;

void lg_hist_init(lg_hist_t *h);
void lg_hist_add(lg_hist_t *h, uint64_t v);
void lg_hist_merge(lg_hist_t *into, const lg_hist_t *from);
/* Value at quantile q (0..1), clamped to [min, max]; 0 when empty. */
uint64_t lg_hist_quantile(const lg_hist_t *h, double q);

/* ---- options ---------------------------------------------------------------*/
typedef enum { LG_MODE_SSE, LG_MODE_MCP, LG_MODE_LEGACY } lg_mode_t;

typedef struct lg_opts {
  lg_mode_t mode;
  const char *host; /* IPv4 loopback literal */
  int port;
  long n; /* streams over all processes */
  const char *path;
  double rate;       /* new handshakes per second, all processes */
  long inflight;     /* handshakes in flight, all processes */
  double duration_s; /* hard stop */
  double hold_s;     /* hold after the ramp (and the storm) settled */
  double timeout_s;  /* per handshake */
  double drain_s;    /* after the publisher stopped */
  int procs;
  const char *publish; /* publisher path or NULL */
  double publish_rate;
  long publish_count; /* 0: unlimited */
  const char *mark;   /* substring or NULL */
  double cut_at_s;    /* < 0: no storm */
  bool verbose;
} lg_opts_t;

/* ---- statistics of one subscriber process ----------------------------------*/
enum { LG_FAIL_CONNECT, LG_FAIL_TIMEOUT, LG_FAIL_EOF, LG_FAIL_PARSE, LG_FAIL_HTTP, LG_FAIL_N };

typedef struct lg_stats {
  uint64_t attempted, established, failed, open_at_end;
  uint64_t fail[LG_FAIL_N];
  uint64_t fail_http[600]; /* by status code */
  uint64_t events, heartbeats, bytes;
  uint64_t deliveries, lost, dups, no_events;  /* by seq; no_events: streams that saw no seq */
  int64_t first_delivery_us, last_delivery_us; /* CLOCK_REALTIME, 0 if none */
  int64_t first_start_us, last_established_us;
  lg_hist_t hb_gap_us;  /* between consecutive heartbeats of one connection */
  lg_hist_t setup_us;   /* handshake start -> established (first time) */
  lg_hist_t latency_us; /* now - ts of live (not replayed) deliveries */
  lg_hist_t resume_us;  /* cut -> stream back (200 received) */
  lg_hist_t catchup_us; /* cut -> resumed and caught up */
  uint64_t mark_count;
  /* storm */
  int64_t cut_us; /* when this process cut, 0 if it did not */
  uint64_t cut, resumed, resume_failed, caught_up;
  uint64_t storm_lost, storm_dups; /* lost/dups counted after the cut */
  int timed_out;                   /* hit --duration */
} lg_stats_t;

void lg_stats_init(lg_stats_t *s);
void lg_stats_merge(lg_stats_t *into, const lg_stats_t *from);

/* ---- shared between the publisher and subscriber processes -----------------*/
typedef struct lg_shared {
  int64_t base_us;           /* CLOCK_REALTIME at start, same in every process */
  _Atomic int64_t pub_acked; /* highest seq answered 2xx */
  _Atomic int64_t pub_final; /* highest acked seq once stopped */
  _Atomic int pub_stopped;
  _Atomic int subs_ramped; /* subscriber processes whose streams are all up (or failed) */
  _Atomic int subs_done;   /* subscriber processes that finished holding */
} lg_shared_t;

typedef struct lg_pub_stats {
  uint64_t sent, ok, failed, reconnects;
  int64_t first_us, last_us;
} lg_pub_stats_t;

/* ---- time ------------------------------------------------------------------*/
int64_t lg_realtime_us(void);

/* ---- subscriber role (streams.c) ------------------------------------------
 * Runs `count` streams with global ids [first_id, first_id+count) on `loop`
 * until done (see the timeline in streams.c); fills `out`, and `*marks`
 * (malloc'ed, caller frees) with the exact CLOCK_REALTIME µs of each stream's
 * first --mark event (stats->mark_count of them). Returns 0 or a negative
 * errno. */
int lg_streams_run(uv_loop_t *loop, const lg_opts_t *o, lg_shared_t *sh, long first_id, long count,
                   int procs, lg_stats_t *out, int64_t **marks);

/* ---- publisher role (publisher.c) ------------------------------------------
 * Starts the publisher on `loop`: it publishes once `nsub` subscriber
 * processes have ramped, stops by itself after --publish-count publishes (or,
 * without it, once they are all done holding; or at --duration) and then sets
 * sh->pub_final and sh->pub_stopped. */
typedef struct lg_pub lg_pub_t;
lg_pub_t *lg_pub_start(uv_loop_t *loop, const lg_opts_t *o, lg_shared_t *sh, int nsub);
/* Copies the counters and frees the publisher (after its loop ended). */
void lg_pub_finish(lg_pub_t *p, lg_pub_stats_t *out);

/* Writes a request to `h`; the buffer is copied. Returns 0 or negative errno. */
int lg_write(uv_stream_t *h, const char *data, size_t len);
/* Fills `sa` for host:port; 0 or -EINVAL. */
int lg_addr(const char *host, int port, struct sockaddr_in *sa);

#endif
