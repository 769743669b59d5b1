/* The subscriber role: opens streams (channel subscriber, MCP Streamable HTTP
 * session, legacy /sse session) at a bounded rate, reads their SSE, counts and
 * times what arrives, and optionally cuts them all at once and resumes them
 * with Last-Event-ID.
 *
 * Timeline of one process (tick = 5 ms timer):
 *   ramp: queue -> handshakes (rate and in-flight caps) until every stream is
 *   established or failed; [cut at --cut-at, resume through the same queue
 *   until every cut stream is back or failed]; hold --hold seconds; tell the
 *   publisher (shared page) we are done; when it has stopped, drain --drain
 *   seconds; count the tail each open stream missed; close everything.
 *   --duration stops all of it at once. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <llhttp.h>

#include "lg.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define LINE_MAX_BYTES (1u << 20) /* an SSE line longer than this is a parse error */
#define PROTOCOL_VERSION "2025-11-25"

typedef enum {
  PH_IDLE, /* queued or not started */
  PH_CONNECTING,
  PH_INIT,     /* mcp: initialize sent */
  PH_NOTIFIED, /* mcp: notifications/initialized sent */
  PH_GET,      /* stream request sent */
  PH_STREAM,   /* 200 received: reading SSE */
  PH_FAILED,
  PH_DONE
} phase_t;

typedef struct run run_t;

typedef struct lg_stream {
  uv_tcp_t tcp;
  uv_connect_t creq;
  llhttp_t parser;
  run_t *run; /* borrowed */
  long gid;   /* global stream id: picks the source address */
  phase_t phase;
  bool open;      /* tcp handle initialised, close callback not yet run */
  bool in_flight; /* counted in run->inflight */
  bool established_once;
  bool ready;    /* established on the current connection */
  bool resuming; /* reconnecting after the cut */
  bool caught_up;
  bool requeue_on_close;
  bool marked;
  uint64_t hs_start_ns; /* uv_hrtime at handshake start */
  uint64_t deadline_ms; /* loop time the handshake times out */
  int64_t target_seq;   /* after the cut: caught up once seq_last reaches it */
  int64_t seq_last;     /* -1 until the first seq */
  uint64_t hb_last_ns;  /* last heartbeat on this connection, 0 for none */
  char sid[128];        /* mcp session id */
  char last_id[192];    /* last SSE id: line, for Last-Event-ID */
  char hname[32], hval[160];
  size_t hname_len, hval_len;
  bool hname_long, hval_long;
  char *line; /* owned: partial SSE line across reads */
  size_t line_len, line_cap;
  char *data; /* owned: data of the event being assembled */
  size_t data_len, data_cap;
  bool has_data;
  char event[32];
} lg_stream_t;

struct run {
  uv_loop_t *loop;
  const lg_opts_t *o;
  lg_shared_t *sh;
  lg_stats_t *st;
  lg_stream_t *s; /* owned: count streams */
  long count;
  struct sockaddr_in dst;
  char hostport[64];
  llhttp_settings_t settings;
  double rate;
  long inflight_cap, inflight;
  long *queue; /* owned ring of stream indexes */
  long q_head, q_len;
  uint64_t rate_epoch_ms;
  long rate_launched;
  long started; /* initial launches */
  uv_timer_t tick;
  unsigned ticks;
  uint64_t start_ms, settled_ms, drain_start_ms;
  bool ramp_done, cut_done, storm_settled, holding_done, draining, finished;
  long reconnect_pending;
  uint64_t cut_ns;
  int64_t *marks;   /* owned until handed out: one per stream at most */
  char rbuf[65536]; /* shared read buffer: parsing is synchronous */
};

static void fail(lg_stream_t *s, int reason, int status);

/* ---- queue and launching ---------------------------------------------------*/

static void enqueue(run_t *r, long i) {
  r->queue[(r->q_head + r->q_len) % r->count] = i;
  r->q_len++;
}

static void on_close(uv_handle_t *h) {
  lg_stream_t *s = h->data;
  s->open = false;
  if (s->requeue_on_close) {
    s->requeue_on_close = false;
    enqueue(s->run, s - s->run->s);
  }
}

static void close_stream(lg_stream_t *s) {
  if (s->open && !uv_is_closing((uv_handle_t *)&s->tcp)) uv_close((uv_handle_t *)&s->tcp, on_close);
}

static void send_request(lg_stream_t *s) {
  run_t *r = s->run;
  const lg_opts_t *o = r->o;
  char req[2048];
  int n;
  char lei[256] = "";
  if (s->resuming && s->last_id[0]) snprintf(lei, sizeof lei, "Last-Event-ID: %s\r\n", s->last_id);
  if (o->mode == LG_MODE_MCP && !s->resuming && s->phase == PH_CONNECTING) {
    static const char body[] =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
        "\"" PROTOCOL_VERSION
        "\",\"capabilities\":{},\"clientInfo\":{\"name\":\"mw-loadgen\",\"version\":\"1\"}}}";
    n = snprintf(req, sizeof req,
                 "POST %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json, text/event-stream\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                 o->path, r->hostport, sizeof body - 1, body);
    s->phase = PH_INIT;
  } else if (o->mode == LG_MODE_MCP && s->phase == PH_INIT) {
    static const char body[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
    n = snprintf(req, sizeof req,
                 "POST %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json, text/event-stream\r\n"
                 "Content-Type: application/json\r\nMcp-Session-Id: "
                 "%s\r\nMCP-Protocol-Version: " PROTOCOL_VERSION
                 "\r\nContent-Length: %zu\r\n\r\n%s",
                 o->path, r->hostport, s->sid, sizeof body - 1, body);
    s->phase = PH_NOTIFIED;
  } else if (o->mode == LG_MODE_MCP) {
    n = snprintf(
        req, sizeof req,
        "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nMcp-Session-Id: %s\r\n"
        "MCP-Protocol-Version: " PROTOCOL_VERSION "\r\n%s\r\n",
        o->path, r->hostport, s->sid, lei);
    s->phase = PH_GET;
  } else {
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nCache-Control: "
                 "no-cache\r\n%s\r\n",
                 o->path, r->hostport, lei);
    s->phase = PH_GET;
  }
  if (n < 0 || (size_t)n >= sizeof req || lg_write((uv_stream_t *)&s->tcp, req, (size_t)n) < 0)
    fail(s, LG_FAIL_EOF, 0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  lg_stream_t *s = h->data;
  *buf = uv_buf_init(s->run->rbuf, sizeof s->run->rbuf);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf) {
  lg_stream_t *s = h->data;
  if (nread == 0) return;
  if (nread < 0) {
    fail(s, LG_FAIL_EOF, 0);
    return;
  }
  s->run->st->bytes += (uint64_t)nread;
  llhttp_errno_t err = llhttp_execute(&s->parser, buf->base, (size_t)nread);
  if (err != HPE_OK && s->phase != PH_FAILED && s->phase != PH_DONE && s->phase != PH_IDLE)
    fail(s, LG_FAIL_PARSE, 0);
}

static void on_connect(uv_connect_t *req, int status) {
  lg_stream_t *s = req->data;
  if (s->phase != PH_CONNECTING) return; /* cut or stopped meanwhile */
  if (status < 0) {
    fail(s, LG_FAIL_CONNECT, 0);
    return;
  }
  llhttp_init(&s->parser, HTTP_RESPONSE, &s->run->settings);
  s->parser.data = s;
  if (uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) < 0) {
    fail(s, LG_FAIL_CONNECT, 0);
    return;
  }
  send_request(s);
}

static void launch(run_t *r, lg_stream_t *s) {
  s->phase = PH_CONNECTING;
  s->in_flight = true;
  s->ready = false;
  s->hb_last_ns = 0;
  s->line_len = s->data_len = 0;
  s->has_data = false;
  s->event[0] = 0;
  r->inflight++;
  s->hs_start_ns = uv_hrtime();
  s->deadline_ms = uv_now(r->loop) + (uint64_t)(r->o->timeout_s * 1000);
  if (!s->resuming) {
    r->st->attempted++;
    if (!r->st->first_start_us) r->st->first_start_us = lg_realtime_us();
  }
  if (uv_tcp_init_ex(r->loop, &s->tcp, AF_INET) < 0) {
    /* No handle to close: account for it directly. */
    s->phase = PH_FAILED;
    s->in_flight = false;
    r->inflight--;
    r->st->failed++;
    r->st->fail[LG_FAIL_CONNECT]++;
    if (s->resuming) {
      r->st->resume_failed++;
      r->reconnect_pending--;
    }
    return;
  }
  s->tcp.data = s;
  s->open = true;
  /* Source addresses 127.0.0.2-254: each has its own ephemeral port range,
   * so more than ~28k connections to one port work; the port is picked at
   * connect time (IP_BIND_ADDRESS_NO_PORT) so bind cannot run out first. */
  uv_os_fd_t fd;
  int one = 1;
  struct sockaddr_in src;
  char ip[32];
  snprintf(ip, sizeof ip, "127.0.0.%ld", 2 + s->gid % 253);
  uv_ip4_addr(ip, 0, &src);
  if (uv_fileno((uv_handle_t *)&s->tcp, &fd) < 0 ||
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) < 0 ||
      uv_tcp_bind(&s->tcp, (const struct sockaddr *)&src, 0) < 0) {
    fail(s, LG_FAIL_CONNECT, 0);
    return;
  }
  uv_tcp_nodelay(&s->tcp, 1);
  s->creq.data = s;
  if (uv_tcp_connect(&s->creq, &s->tcp, (const struct sockaddr *)&r->dst, on_connect) < 0)
    fail(s, LG_FAIL_CONNECT, 0);
}

static void launch_due(run_t *r) {
  uint64_t now = uv_now(r->loop);
  double allowed = r->rate * (double)(now - r->rate_epoch_ms) / 1000.0 - (double)r->rate_launched;
  /* Burst at most one tick's worth beyond the rate after a stall. */
  while (r->q_len > 0 && allowed >= 1.0 && r->inflight < r->inflight_cap) {
    long i = r->queue[r->q_head];
    r->q_head = (r->q_head + 1) % r->count;
    r->q_len--;
    r->rate_launched++;
    allowed -= 1.0;
    if (!r->s[i].resuming) r->started++;
    launch(r, &r->s[i]);
  }
}

/* ---- stream outcomes -------------------------------------------------------*/

static void check_caught_up(lg_stream_t *s) {
  if (!s->resuming || s->caught_up || !s->ready || s->seq_last < s->target_seq) return;
  s->caught_up = true;
  s->run->st->caught_up++;
  lg_hist_add(&s->run->st->catchup_us, (uv_hrtime() - s->run->cut_ns) / 1000);
}

static void established(lg_stream_t *s) {
  run_t *r = s->run;
  if (s->ready) return;
  s->ready = true;
  if (s->in_flight) {
    s->in_flight = false;
    r->inflight--;
  }
  if (!s->established_once) {
    s->established_once = true;
    r->st->established++;
    lg_hist_add(&r->st->setup_us, (uv_hrtime() - s->hs_start_ns) / 1000);
    r->st->last_established_us = lg_realtime_us();
  } else if (s->resuming) {
    r->st->resumed++;
    r->reconnect_pending--;
    lg_hist_add(&r->st->resume_us, (uv_hrtime() - r->cut_ns) / 1000);
    check_caught_up(s);
  }
}

static void fail(lg_stream_t *s, int reason, int status) {
  run_t *r = s->run;
  if (s->phase == PH_FAILED || s->phase == PH_DONE || s->phase == PH_IDLE) return;
  r->st->failed++;
  r->st->fail[reason]++;
  if (reason == LG_FAIL_HTTP && status >= 0 && status < 600) r->st->fail_http[status]++;
  if (r->o->verbose && r->st->failed <= 5)
    fprintf(stderr, "mw-loadgen: stream %ld failed (reason %d, status %d, phase %d)\n", s->gid,
            reason, status, (int)s->phase);
  if (s->in_flight) {
    s->in_flight = false;
    r->inflight--;
  }
  if (s->resuming && !s->ready) {
    r->st->resume_failed++;
    r->reconnect_pending--;
  }
  s->phase = PH_FAILED;
  close_stream(s);
}

/* ---- SSE -------------------------------------------------------------------*/

static void grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return;
  size_t c = *cap ? *cap : 256;
  while (c < need)
    c *= 2;
  char *p = realloc(*buf, c);
  if (!p) abort();
  *buf = p;
  *cap = c;
}

/* Integer after `"key":` (spaces allowed) in `data`; false if absent. */
static bool json_int(const char *data, const char *key, int64_t *out) {
  const char *p = strstr(data, key);
  if (!p) return false;
  p += strlen(key);
  while (*p == ' ')
    p++;
  char *end;
  long long v = strtoll(p, &end, 10);
  if (end == p) return false;
  *out = v;
  return true;
}

static void on_event(lg_stream_t *s) {
  run_t *r = s->run;
  lg_stats_t *st = r->st;
  st->events++;
  grow(&s->data, &s->data_cap, s->data_len + 1);
  s->data[s->data_len] = 0;
  const char *data = s->data;
  if (r->o->mode == LG_MODE_LEGACY && !s->ready && strcmp(s->event, "endpoint") == 0)
    established(s);
  if (r->o->mark && !s->marked && strstr(data, r->o->mark)) {
    s->marked = true;
    r->marks[st->mark_count++] = lg_realtime_us();
  }
  int64_t seq, ts;
  if (!json_int(data, "\"seq\":", &seq) || !json_int(data, "\"ts\":", &ts)) return;
  int64_t now = lg_realtime_us();
  st->deliveries++;
  if (!st->first_delivery_us) st->first_delivery_us = now;
  st->last_delivery_us = now;
  if (s->seq_last < 0) {
    s->seq_last = seq;
  } else if (seq == s->seq_last + 1) {
    s->seq_last = seq;
  } else if (seq > s->seq_last + 1) {
    st->lost += (uint64_t)(seq - s->seq_last - 1);
    if (r->cut_done) st->storm_lost += (uint64_t)(seq - s->seq_last - 1);
    s->seq_last = seq;
  } else {
    st->dups++;
    if (r->cut_done) st->storm_dups++;
  }
  /* Replayed events are old by design: only live ones measure latency. */
  if (!s->resuming || s->caught_up)
    lg_hist_add(&st->latency_us, now > ts ? (uint64_t)(now - ts) : 0);
  check_caught_up(s);
}

static void on_line(lg_stream_t *s, const char *l, size_t n) {
  if (n && l[n - 1] == '\r') n--;
  if (n == 0) {
    if (s->has_data) on_event(s);
    s->has_data = false;
    s->data_len = 0;
    s->event[0] = 0;
    return;
  }
  if (l[0] == ':') {
    uint64_t now = uv_hrtime();
    s->run->st->heartbeats++;
    if (s->hb_last_ns) lg_hist_add(&s->run->st->hb_gap_us, (now - s->hb_last_ns) / 1000);
    s->hb_last_ns = now;
    return;
  }
  const char *colon = memchr(l, ':', n);
  size_t nlen = colon ? (size_t)(colon - l) : n;
  const char *v = colon ? colon + 1 : l + n;
  size_t vlen = (size_t)(l + n - v);
  if (vlen && *v == ' ') {
    v++;
    vlen--;
  }
  if (nlen == 4 && memcmp(l, "data", 4) == 0) {
    grow(&s->data, &s->data_cap, s->data_len + vlen + 2);
    if (s->has_data) s->data[s->data_len++] = '\n';
    memcpy(s->data + s->data_len, v, vlen);
    s->data_len += vlen;
    s->has_data = true;
  } else if (nlen == 2 && memcmp(l, "id", 2) == 0) {
    if (vlen < sizeof s->last_id && !memchr(v, 0, vlen)) {
      memcpy(s->last_id, v, vlen);
      s->last_id[vlen] = 0;
    }
  } else if (nlen == 5 && memcmp(l, "event", 5) == 0) {
    size_t k = vlen < sizeof s->event - 1 ? vlen : sizeof s->event - 1;
    memcpy(s->event, v, k);
    s->event[k] = 0;
  }
}

static int sse_feed(lg_stream_t *s, const char *p, size_t len) {
  while (len) {
    const char *nl = memchr(p, '\n', len);
    if (!nl) {
      if (s->line_len + len > LINE_MAX_BYTES) return -1;
      grow(&s->line, &s->line_cap, s->line_len + len);
      memcpy(s->line + s->line_len, p, len);
      s->line_len += len;
      return 0;
    }
    size_t seg = (size_t)(nl - p);
    if (s->line_len) {
      grow(&s->line, &s->line_cap, s->line_len + seg);
      memcpy(s->line + s->line_len, p, seg);
      s->line_len += seg;
      on_line(s, s->line, s->line_len);
      s->line_len = 0;
    } else {
      on_line(s, p, seg);
    }
    if (s->phase != PH_STREAM) return -1; /* failed while handling the line */
    p = nl + 1;
    len -= seg + 1;
  }
  return 0;
}

/* ---- llhttp callbacks ------------------------------------------------------*/

static int on_message_begin(llhttp_t *p) {
  lg_stream_t *s = p->data;
  s->hname_len = s->hval_len = 0;
  s->hname_long = s->hval_long = false;
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  lg_stream_t *s = p->data;
  if (s->hname_len + len >= sizeof s->hname) {
    s->hname_long = true;
    return 0;
  }
  memcpy(s->hname + s->hname_len, at, len);
  s->hname_len += len;
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  lg_stream_t *s = p->data;
  if (s->hval_len + len >= sizeof s->hval) {
    s->hval_long = true;
    return 0;
  }
  memcpy(s->hval + s->hval_len, at, len);
  s->hval_len += len;
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  lg_stream_t *s = p->data;
  if (!s->hname_long && !s->hval_long && s->hname_len == 14 &&
      strncasecmp(s->hname, "mcp-session-id", 14) == 0 && s->hval_len < sizeof s->sid) {
    memcpy(s->sid, s->hval, s->hval_len);
    s->sid[s->hval_len] = 0;
  }
  s->hname_len = s->hval_len = 0;
  s->hname_long = s->hval_long = false;
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  lg_stream_t *s = p->data;
  int status = p->status_code;
  bool ok = s->phase == PH_NOTIFIED ? (status >= 200 && status < 300) : status == 200;
  if (!ok) {
    fail(s, LG_FAIL_HTTP, status);
    return -1;
  }
  if (s->phase == PH_GET) {
    s->phase = PH_STREAM;
    /* A fresh legacy session is ready at its endpoint event; a resumed one
     * gets no second endpoint. */
    if (s->run->o->mode != LG_MODE_LEGACY || s->resuming) established(s);
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  lg_stream_t *s = p->data;
  if (s->phase != PH_STREAM) return 0; /* an initialize result: only the header mattered */
  if (sse_feed(s, at, len) < 0) {
    if (s->phase == PH_STREAM) fail(s, LG_FAIL_PARSE, 0);
    return -1;
  }
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  lg_stream_t *s = p->data;
  if (s->phase == PH_INIT) {
    if (!s->sid[0]) {
      fail(s, LG_FAIL_PARSE, 0);
      return -1;
    }
    send_request(s);
  } else if (s->phase == PH_NOTIFIED) {
    send_request(s);
  } else if (s->phase == PH_STREAM) {
    fail(s, LG_FAIL_EOF, 0);
    return -1;
  }
  return 0;
}

/* ---- timeline --------------------------------------------------------------*/

static void cut_all(run_t *r) {
  r->cut_done = true;
  r->st->cut_us = lg_realtime_us();
  r->cut_ns = uv_hrtime();
  int64_t acked = atomic_load(&r->sh->pub_acked);
  r->rate_epoch_ms = uv_now(r->loop);
  r->rate_launched = 0;
  for (long i = 0; i < r->count; i++) {
    lg_stream_t *s = &r->s[i];
    if (s->phase != PH_STREAM || !s->ready) continue;
    r->st->cut++;
    r->reconnect_pending++;
    s->resuming = true;
    s->caught_up = false;
    s->ready = false;
    /* Caught up once it holds everything acknowledged before the cut; a
     * stream that never saw a seq is caught up when it is back. */
    s->target_seq = s->seq_last < 0 ? -1 : (acked > s->seq_last ? acked : s->seq_last);
    s->phase = PH_IDLE;
    s->requeue_on_close = true;
    close_stream(s);
  }
}

static void finish(run_t *r) {
  r->finished = true;
  int64_t final = atomic_load(&r->sh->pub_stopped) ? atomic_load(&r->sh->pub_final) : -1;
  for (long i = 0; i < r->count; i++) {
    lg_stream_t *s = &r->s[i];
    if (s->phase == PH_STREAM && s->ready) {
      r->st->open_at_end++;
      if (s->seq_last < 0) {
        if (r->o->publish) r->st->no_events++;
      } else if (final > s->seq_last) {
        /* The tail this stream never got. */
        r->st->lost += (uint64_t)(final - s->seq_last);
        if (r->cut_done) r->st->storm_lost += (uint64_t)(final - s->seq_last);
      }
    }
    if (s->phase != PH_FAILED) s->phase = PH_DONE;
    s->requeue_on_close = false;
    close_stream(s);
  }
  uv_close((uv_handle_t *)&r->tick, NULL);
}

static void check_timeouts(run_t *r) {
  uint64_t now = uv_now(r->loop);
  for (long i = 0; i < r->count; i++) {
    lg_stream_t *s = &r->s[i];
    if (s->in_flight && now >= s->deadline_ms) fail(s, LG_FAIL_TIMEOUT, 0);
  }
}

static void on_tick(uv_timer_t *t) {
  run_t *r = t->data;
  const lg_opts_t *o = r->o;
  uint64_t now = uv_now(r->loop);
  uint64_t elapsed = now - r->start_ms;
  if (elapsed >= (uint64_t)(o->duration_s * 1000)) {
    r->st->timed_out = 1;
    if (!r->holding_done) atomic_fetch_add(&r->sh->subs_done, 1);
    finish(r);
    return;
  }
  if (++r->ticks % 20 == 0) check_timeouts(r);
  launch_due(r);
  if (!r->ramp_done && r->started == r->count && r->q_len == 0 && r->inflight == 0) {
    r->ramp_done = true;
    r->settled_ms = now;
    atomic_fetch_add(&r->sh->subs_ramped, 1);
  }
  if (o->cut_at_s >= 0 && !r->cut_done && r->ramp_done && elapsed >= (uint64_t)(o->cut_at_s * 1000))
    cut_all(r);
  if (r->cut_done && !r->storm_settled && r->reconnect_pending == 0) {
    r->storm_settled = true;
    r->settled_ms = now;
  }
  if (!r->holding_done && r->ramp_done && (o->cut_at_s < 0 || r->storm_settled) &&
      now >= r->settled_ms + (uint64_t)(o->hold_s * 1000)) {
    r->holding_done = true;
    atomic_fetch_add(&r->sh->subs_done, 1);
  }
  if (r->holding_done && !r->draining && atomic_load(&r->sh->pub_stopped)) {
    r->draining = true;
    r->drain_start_ms = now;
  }
  if (r->draining && now >= r->drain_start_ms + (uint64_t)(o->drain_s * 1000)) {
    finish(r);
    return;
  }
  if (o->verbose && r->ticks % 200 == 0)
    fprintf(
        stderr,
        "mw-loadgen[%d]: t=%.1fs started=%ld established=%llu failed=%llu inflight=%ld events=%llu "
        "hb=%llu resumed=%llu\n",
        (int)getpid(), (double)elapsed / 1000, r->started, (unsigned long long)r->st->established,
        (unsigned long long)r->st->failed, r->inflight, (unsigned long long)r->st->events,
        (unsigned long long)r->st->heartbeats, (unsigned long long)r->st->resumed);
}

int lg_streams_run(uv_loop_t *loop, const lg_opts_t *o, lg_shared_t *sh, long first_id, long count,
                   int procs, lg_stats_t *out, int64_t **marks) {
  run_t *r = calloc(1, sizeof *r);
  if (!r) abort();
  r->loop = loop;
  r->o = o;
  r->sh = sh;
  r->st = out;
  r->count = count;
  r->rate = o->rate / procs;
  r->inflight_cap = (o->inflight + procs - 1) / procs;
  if (lg_addr(o->host, o->port, &r->dst) < 0) {
    free(r);
    return -EINVAL;
  }
  snprintf(r->hostport, sizeof r->hostport, "%s:%d", o->host, o->port);
  llhttp_settings_init(&r->settings);
  r->settings.on_message_begin = on_message_begin;
  r->settings.on_header_field = on_header_field;
  r->settings.on_header_value = on_header_value;
  r->settings.on_header_value_complete = on_header_value_complete;
  r->settings.on_headers_complete = on_headers_complete;
  r->settings.on_body = on_body;
  r->settings.on_message_complete = on_message_complete;
  r->s = calloc(count ? (size_t)count : 1, sizeof *r->s);
  r->queue = calloc(count ? (size_t)count : 1, sizeof *r->queue);
  r->marks = calloc(count ? (size_t)count : 1, sizeof *r->marks);
  if (!r->s || !r->queue || !r->marks) abort();
  for (long i = 0; i < count; i++) {
    r->s[i].run = r;
    r->s[i].gid = first_id + i;
    r->s[i].seq_last = -1;
    enqueue(r, i);
  }
  r->start_ms = r->rate_epoch_ms = uv_now(loop);
  /* Align the process to the shared start so --cut-at is simultaneous. */
  int64_t behind_ms = (lg_realtime_us() - sh->base_us) / 1000;
  if (behind_ms > 0 && (uint64_t)behind_ms < r->start_ms) r->start_ms -= (uint64_t)behind_ms;
  uv_timer_init(loop, &r->tick);
  r->tick.data = r;
  uv_timer_start(&r->tick, on_tick, 0, 5);
  int rc = uv_run(loop, UV_RUN_DEFAULT);
  for (long i = 0; i < count; i++) {
    free(r->s[i].line);
    free(r->s[i].data);
  }
  free(r->s);
  free(r->queue);
  *marks = r->marks;
  free(r);
  return rc < 0 ? rc : 0;
}
