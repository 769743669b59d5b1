/* mw-loadgen entry point: options, file-descriptor limit, the --procs fork
 * (children run streams, the parent publishes and merges their statistics
 * read from pipes), and the one JSON summary line on stdout. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg.h"

#define MAX_PROCS 64
#define FD_MARGIN 64 /* descriptors besides the streams: loop, publisher, stdio, pipes */

static void usage(FILE *f) {
  fputs("usage: mw-loadgen --port PORT [options]\n"
        "  --mode sse|mcp|legacy   stream kind (default sse)\n"
        "  --host ADDR             IPv4 loopback address (default 127.0.0.1)\n"
        "  -n, --streams N         streams over all processes (default 1)\n"
        "  --path PATH             stream path (default /sub/bench, /mcp, /sse by mode)\n"
        "  --rate R                new handshakes per second (default 1000)\n"
        "  --inflight K            handshakes in flight at most (default 200)\n"
        "  --duration S            hard stop (default 60)\n"
        "  --hold S                hold the streams S seconds after they settled (default 0)\n"
        "  --timeout S             per handshake (default 10)\n"
        "  --procs P               subscriber processes (default 1; each holds <= ~19,900)\n"
        "  --publish PATH          POST {\"ts\":..,\"seq\":..} to PATH\n"
        "  --publish-rate R        publishes per second (default 1)\n"
        "  --publish-count K       stop publishing after K (default: no limit)\n"
        "  --drain S               wait after the publisher stopped (default 1 with --publish)\n"
        "  --mark SUBSTRING        time the first event containing SUBSTRING per stream\n"
        "  --cut-at S              close every stream at S seconds and resume with Last-Event-ID\n"
        "  --verbose               progress on stderr\n",
        f);
}

static int bad(const char *msg, const char *arg) {
  fprintf(stderr, "mw-loadgen: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
  usage(stderr);
  return 2;
}

static bool num(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

/* Returns 0, or 2 after printing a usage error. */
static int parse(int argc, char **argv, lg_opts_t *o) {
  enum {
    OPT_MODE = 256,
    OPT_HOST,
    OPT_PORT,
    OPT_PATH,
    OPT_RATE,
    OPT_INFLIGHT,
    OPT_DURATION,
    OPT_HOLD,
    OPT_TIMEOUT,
    OPT_PROCS,
    OPT_PUBLISH,
    OPT_PUBRATE,
    OPT_PUBCOUNT,
    OPT_DRAIN,
    OPT_MARK,
    OPT_CUT,
    OPT_VERBOSE,
    OPT_HELP
  };
  static const struct option longs[] = {{"mode", 1, 0, OPT_MODE},
                                        {"host", 1, 0, OPT_HOST},
                                        {"port", 1, 0, OPT_PORT},
                                        {"streams", 1, 0, 'n'},
                                        {"path", 1, 0, OPT_PATH},
                                        {"rate", 1, 0, OPT_RATE},
                                        {"inflight", 1, 0, OPT_INFLIGHT},
                                        {"duration", 1, 0, OPT_DURATION},
                                        {"hold", 1, 0, OPT_HOLD},
                                        {"timeout", 1, 0, OPT_TIMEOUT},
                                        {"procs", 1, 0, OPT_PROCS},
                                        {"publish", 1, 0, OPT_PUBLISH},
                                        {"publish-rate", 1, 0, OPT_PUBRATE},
                                        {"publish-count", 1, 0, OPT_PUBCOUNT},
                                        {"drain", 1, 0, OPT_DRAIN},
                                        {"mark", 1, 0, OPT_MARK},
                                        {"cut-at", 1, 0, OPT_CUT},
                                        {"verbose", 0, 0, OPT_VERBOSE},
                                        {"help", 0, 0, OPT_HELP},
                                        {0, 0, 0, 0}};
  *o = (lg_opts_t){.mode = LG_MODE_SSE,
                   .host = "127.0.0.1",
                   .n = 1,
                   .rate = 1000,
                   .inflight = 200,
                   .duration_s = 60,
                   .timeout_s = 10,
                   .drain_s = -1,
                   .procs = 1,
                   .publish_rate = 1,
                   .cut_at_s = -1};
  double v;
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "n:h", longs, NULL)) != -1) {
    switch (c) {
    case OPT_MODE:
      if (strcmp(optarg, "sse") == 0)
        o->mode = LG_MODE_SSE;
      else if (strcmp(optarg, "mcp") == 0)
        o->mode = LG_MODE_MCP;
      else if (strcmp(optarg, "legacy") == 0)
        o->mode = LG_MODE_LEGACY;
      else
        return bad("--mode must be sse, mcp or legacy", optarg);
      break;
    case OPT_HOST:
      o->host = strcmp(optarg, "localhost") == 0 ? "127.0.0.1" : optarg;
      break;
    case OPT_PORT:
      if (!num(optarg, 1, 65535, &v) || v != (int)v) return bad("--port must be 1-65535", optarg);
      o->port = (int)v;
      break;
    case 'n':
      if (!num(optarg, 1, 10000000, &v) || v != (long)v)
        return bad("-n must be a positive integer", optarg);
      o->n = (long)v;
      break;
    case OPT_PATH:
      if (optarg[0] != '/' || strpbrk(optarg, " \r\n"))
        return bad("--path must start with / and hold no spaces", optarg);
      o->path = optarg;
      break;
    case OPT_RATE:
      if (!num(optarg, 0.001, 1e7, &o->rate)) return bad("--rate must be > 0", optarg);
      break;
    case OPT_INFLIGHT:
      if (!num(optarg, 1, 1e7, &v) || v != (long)v)
        return bad("--inflight must be a positive integer", optarg);
      o->inflight = (long)v;
      break;
    case OPT_DURATION:
      if (!num(optarg, 0.001, 86400, &o->duration_s))
        return bad("--duration must be 0-86400 s", optarg);
      break;
    case OPT_HOLD:
      if (!num(optarg, 0, 86400, &o->hold_s)) return bad("--hold must be 0-86400 s", optarg);
      break;
    case OPT_TIMEOUT:
      if (!num(optarg, 0.001, 3600, &o->timeout_s)) return bad("--timeout must be > 0", optarg);
      break;
    case OPT_DRAIN:
      if (!num(optarg, 0, 3600, &o->drain_s)) return bad("--drain must be >= 0", optarg);
      break;
    case OPT_PROCS:
      if (!num(optarg, 1, MAX_PROCS, &v) || v != (int)v) return bad("--procs must be 1-64", optarg);
      o->procs = (int)v;
      break;
    case OPT_PUBLISH:
      if (optarg[0] != '/' || strpbrk(optarg, " \r\n"))
        return bad("--publish must be a path starting with /", optarg);
      o->publish = optarg;
      break;
    case OPT_PUBRATE:
      if (!num(optarg, 0.001, 100000, &o->publish_rate))
        return bad("--publish-rate must be > 0", optarg);
      break;
    case OPT_PUBCOUNT:
      if (!num(optarg, 1, 1e15, &v) || v != (long)v)
        return bad("--publish-count must be a positive integer", optarg);
      o->publish_count = (long)v;
      break;
    case OPT_MARK:
      if (!optarg[0]) return bad("--mark must not be empty", NULL);
      o->mark = optarg;
      break;
    case OPT_CUT:
      if (!num(optarg, 0, 86400, &o->cut_at_s)) return bad("--cut-at must be >= 0", optarg);
      break;
    case OPT_VERBOSE:
      o->verbose = true;
      break;
    case OPT_HELP:
    case 'h':
      usage(stdout);
      exit(0);
    default:
      return bad("unknown option or missing value",
                 optind > 0 && optind <= argc ? argv[optind - 1] : NULL);
    }
  }
  if (optind < argc) return bad("unexpected argument", argv[optind]);
  if (!o->port) return bad("--port is required", NULL);
  struct sockaddr_in sa;
  if (lg_addr(o->host, o->port, &sa) < 0) return bad("--host must be an IPv4 address", o->host);
  if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127)
    return bad("--host must be a loopback address (127.x.x.x)", o->host);
  if (o->procs > o->n) return bad("--procs must not exceed -n", NULL);
  if (!o->path)
    o->path = o->mode == LG_MODE_MCP ? "/mcp" : o->mode == LG_MODE_LEGACY ? "/sse" : "/sub/bench";
  if (o->drain_s < 0) o->drain_s = o->publish ? 1 : 0;
  return 0;
}

/* ---- JSON output -----------------------------------------------------------*/

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      printf("\\%c", ch);
    else if (ch < 0x20)
      printf("\\u%04x", ch);
    else
      putchar(ch);
  }
  putchar('"');
}

static void json_ms(const char *name, const lg_hist_t *h) {
  /* min and p1 too: a heartbeat gap can be too short as well as too long. */
  printf("\"%s\":{\"count\":%llu,\"min\":%.3f,\"p1\":%.3f,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}", name,
         (unsigned long long)h->count, (double)(h->count ? h->min : 0) / 1000,
         (double)lg_hist_quantile(h, 0.01) / 1000, (double)lg_hist_quantile(h, 0.5) / 1000,
         (double)lg_hist_quantile(h, 0.99) / 1000, (double)(h->count ? h->max : 0) / 1000);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Exact quantile of sorted values. */
static int64_t exact_q(const int64_t *v, uint64_t n, double q) {
  uint64_t rank = (uint64_t)(q * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1];
}

static void print_summary(const lg_opts_t *o, const lg_stats_t *s, const lg_pub_stats_t *p,
                          int64_t *marks, int64_t base_us, int64_t end_us) {
  static const char *modes[] = {"sse", "mcp", "legacy"};
  static const char *reasons[] = {"connect", "timeout", "reset_eof", "parse"};
  printf("{\"mode\":\"%s\",\"host\":", modes[o->mode]);
  json_str(o->host);
  printf(",\"port\":%d,\"path\":", o->port);
  json_str(o->path);
  printf(
      ",\"n\":%ld,\"procs\":%d,\"rate\":%g,\"inflight\":%ld,\"start_us\":%lld,\"elapsed_s\":%.3f,"
      "\"timed_out\":%s,",
      o->n, o->procs, o->rate, o->inflight, (long long)base_us, (double)(end_us - base_us) / 1e6,
      s->timed_out ? "true" : "false");
  printf(
      "\"attempted\":%llu,\"established\":%llu,\"failed\":%llu,\"open_at_end\":%llu,\"failures\":{",
      (unsigned long long)s->attempted, (unsigned long long)s->established,
      (unsigned long long)s->failed, (unsigned long long)s->open_at_end);
  bool first = true;
  for (int i = 0; i < LG_FAIL_HTTP; i++) {
    if (!s->fail[i]) continue;
    printf("%s\"%s\":%llu", first ? "" : ",", reasons[i], (unsigned long long)s->fail[i]);
    first = false;
  }
  for (int i = 0; i < 600; i++) {
    if (!s->fail_http[i]) continue;
    printf("%s\"http_%d\":%llu", first ? "" : ",", i, (unsigned long long)s->fail_http[i]);
    first = false;
  }
  printf("},\"events\":%llu,\"heartbeats\":%llu,\"bytes\":%llu,", (unsigned long long)s->events,
         (unsigned long long)s->heartbeats, (unsigned long long)s->bytes);
  json_ms("heartbeat_gap_ms", &s->hb_gap_us);
  putchar(',');
  json_ms("setup_ms", &s->setup_us);
  double span_s = s->last_established_us > s->first_start_us
                      ? (double)(s->last_established_us - s->first_start_us) / 1e6
                      : 0;
  printf(",\"setup_span_ms\":%.3f,\"sessions_per_s\":%.1f,", span_s * 1000,
         span_s > 0 ? (double)s->established / span_s : 0);
  json_ms("latency_ms", &s->latency_us);
  double dspan_s = s->last_delivery_us > s->first_delivery_us
                       ? (double)(s->last_delivery_us - s->first_delivery_us) / 1e6
                       : 0;
  printf(",\"deliveries\":%llu,\"deliveries_per_s\":%.1f,\"lost\":%llu,\"dups\":%llu,\"no_events\":"
         "%llu,",
         (unsigned long long)s->deliveries, dspan_s > 0 ? (double)s->deliveries / dspan_s : 0,
         (unsigned long long)s->lost, (unsigned long long)s->dups,
         (unsigned long long)s->no_events);
  printf("\"publish\":");
  if (o->publish) {
    double pspan = p->last_us > p->first_us ? (double)(p->last_us - p->first_us) / 1e6 : 0;
    printf("{\"path\":");
    json_str(o->publish);
    printf(",\"sent\":%llu,\"ok\":%llu,\"failed\":%llu,\"reconnects\":%llu,\"rate_per_s\":%.2f}",
           (unsigned long long)p->sent, (unsigned long long)p->ok, (unsigned long long)p->failed,
           (unsigned long long)p->reconnects,
           pspan > 0 && p->ok > 1 ? (double)(p->ok - 1) / pspan : 0);
  } else {
    printf("null");
  }
  printf(",\"mark\":");
  if (o->mark) {
    uint64_t n = s->mark_count;
    printf("{\"substring\":");
    json_str(o->mark);
    qsort(marks, n, sizeof *marks, cmp_i64);
    if (n)
      printf(",\"count\":%llu,\"min_us\":%lld,\"p50_us\":%lld,\"p99_us\":%lld,\"max_us\":%lld}",
             (unsigned long long)n, (long long)marks[0], (long long)exact_q(marks, n, 0.5),
             (long long)exact_q(marks, n, 0.99), (long long)marks[n - 1]);
    else
      printf(",\"count\":0,\"min_us\":null,\"p50_us\":null,\"p99_us\":null,\"max_us\":null}");
  } else {
    printf("null");
  }
  printf(",\"storm\":");
  if (o->cut_at_s >= 0) {
    printf("{\"cut_at_us\":%lld,\"cut\":%llu,\"resumed\":%llu,\"resume_failed\":%llu,\"caught_up\":"
           "%llu,",
           (long long)s->cut_us, (unsigned long long)s->cut, (unsigned long long)s->resumed,
           (unsigned long long)s->resume_failed, (unsigned long long)s->caught_up);
    json_ms("resume_ms", &s->resume_us);
    putchar(',');
    json_ms("catchup_ms", &s->catchup_us);
    printf(",\"lost\":%llu,\"dups\":%llu}", (unsigned long long)s->storm_lost,
           (unsigned long long)s->storm_dups);
  } else {
    printf("null");
  }
  printf("}\n");
  fflush(stdout);
}

/* ---- processes -------------------------------------------------------------*/

static int read_full(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -EIO;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -EIO;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int main(int argc, char **argv) {
  lg_opts_t o;
  int rc = parse(argc, argv, &o);
  if (rc) return rc;
  raise_nofile();
  struct rlimit rl;
  long per_proc = (o.n + o.procs - 1) / o.procs;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      (rlim_t)(per_proc + FD_MARGIN) > rl.rlim_cur) {
    fprintf(
        stderr,
        "mw-loadgen: %ld streams per process exceed the open-files limit %llu; use --procs %ld\n",
        per_proc, (unsigned long long)rl.rlim_cur,
        (o.n + (long)rl.rlim_cur - FD_MARGIN - 1) / ((long)rl.rlim_cur - FD_MARGIN));
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  /* Safety net: whatever goes wrong, no process outlives its budget. */
  alarm((unsigned)(o.duration_s + o.drain_s + 30));

  lg_shared_t *sh =
      mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) {
    perror("mw-loadgen: mmap");
    return 1;
  }
  memset(sh, 0, sizeof *sh);
  sh->base_us = lg_realtime_us();
  if (!o.publish) atomic_store(&sh->pub_stopped, 1);

  lg_stats_t *total = malloc(sizeof *total), *one = malloc(sizeof *one);
  if (!total || !one) abort();
  lg_stats_init(total);
  lg_pub_stats_t pst = {0};
  int64_t *marks = NULL;

  if (o.procs == 1) {
    uv_loop_t *loop = uv_default_loop();
    lg_pub_t *pub = o.publish ? lg_pub_start(loop, &o, sh, 1) : NULL;
    rc = lg_streams_run(loop, &o, sh, 0, o.n, 1, total, &marks);
    lg_pub_finish(pub, &pst);
    if (rc < 0) {
      fprintf(stderr, "mw-loadgen: %s\n", uv_strerror(rc));
      return 1;
    }
  } else {
    int fds[MAX_PROCS];
    pid_t pids[MAX_PROCS];
    long first = 0;
    fflush(NULL);
    for (int i = 0; i < o.procs; i++) {
      long count = o.n / o.procs + (i < o.n % o.procs ? 1 : 0);
      int pfd[2];
      if (pipe(pfd) < 0) {
        perror("mw-loadgen: pipe");
        return 1;
      }
      pid_t pid = fork();
      if (pid < 0) {
        perror("mw-loadgen: fork");
        return 1;
      }
      if (pid == 0) {
        close(pfd[0]);
        for (int j = 0; j < i; j++)
          close(fds[j]);
        lg_stats_t *st = malloc(sizeof *st);
        if (!st) abort();
        lg_stats_init(st);
        int64_t *cmarks = NULL;
        int crc = lg_streams_run(uv_default_loop(), &o, sh, first, count, o.procs, st, &cmarks);
        int wrc = write_full(pfd[1], st, sizeof *st);
        if (wrc == 0) wrc = write_full(pfd[1], cmarks, st->mark_count * sizeof *cmarks);
        _exit(crc < 0 || wrc < 0 ? 1 : 0);
      }
      close(pfd[1]);
      fds[i] = pfd[0];
      pids[i] = pid;
      first += count;
    }
    if (o.publish) {
      uv_loop_t *loop = uv_default_loop();
      lg_pub_t *pub = lg_pub_start(loop, &o, sh, o.procs);
      uv_run(loop, UV_RUN_DEFAULT);
      lg_pub_finish(pub, &pst);
    }
    int failed_children = 0;
    marks = malloc((size_t)o.n * sizeof *marks);
    if (!marks) abort();
    for (int i = 0; i < o.procs; i++) {
      if (read_full(fds[i], one, sizeof *one) == 0 &&
          one->mark_count <= (uint64_t)o.n - total->mark_count &&
          read_full(fds[i], marks + total->mark_count, one->mark_count * sizeof *marks) == 0)
        lg_stats_merge(total, one);
      else
        failed_children++;
      close(fds[i]);
      int status;
      while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR) {
      }
    }
    if (failed_children) {
      fprintf(stderr, "mw-loadgen: %d of %d processes reported nothing\n", failed_children,
              o.procs);
      return 1;
    }
  }
  print_summary(&o, total, &pst, marks, sh->base_us, lg_realtime_us());
  free(marks);
  free(total);
  free(one);
  return 0;
}
