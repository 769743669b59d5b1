/* The publisher role: POSTs {"ts":<CLOCK_REALTIME µs>,"seq":n} to --publish
 * at --publish-rate over one keep-alive connection (one request at a time; a
 * late response delays the next send, the schedule catches up after),
 * starting when every subscriber process has finished its ramp. Seq
 * numbers answered 2xx go to the shared page, so subscribers can tell what
 * they missed at the cut and at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llhttp.h>

#include "lg.h"

#define RETRY_MS 100
#define STOP_WAIT_MS 2000 /* for the response in flight when stopping */

struct lg_pub {
  uv_loop_t *loop;
  const lg_opts_t *o;
  lg_shared_t *sh;
  int nsub;
  uv_tcp_t tcp;
  uv_connect_t creq;
  llhttp_t parser;
  llhttp_settings_t settings;
  uv_timer_t tick;
  bool open, connected, busy, began, stopping, stopped;
  int64_t seq;      /* last seq sent */
  int64_t busy_seq; /* seq of the request in flight */
  int64_t acked;
  uint64_t start_ms, sched_ms, stop_ms, retry_at_ms;
  lg_pub_stats_t st;
  struct sockaddr_in dst;
  char hostport[64];
  char rbuf[16384];
};

static void on_closed(uv_handle_t *h) {
  lg_pub_t *p = h->data;
  p->open = false;
  p->connected = false;
}

static void drop_conn(lg_pub_t *p) {
  if (p->busy) {
    p->st.failed++;
    p->busy = false;
  }
  if (p->open && !uv_is_closing((uv_handle_t *)&p->tcp))
    uv_close((uv_handle_t *)&p->tcp, on_closed);
  p->retry_at_ms = uv_now(p->loop) + RETRY_MS;
}

static int on_message_complete(llhttp_t *parser) {
  lg_pub_t *p = parser->data;
  int status = parser->status_code;
  if (status >= 200 && status < 300) {
    p->st.ok++;
    if (p->busy_seq > p->acked) p->acked = p->busy_seq;
    atomic_store(&p->sh->pub_acked, p->acked);
  } else {
    p->st.failed++;
    if (p->o->verbose) fprintf(stderr, "mw-loadgen: publish answered %d\n", status);
  }
  p->busy = false;
  p->st.last_us = lg_realtime_us();
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  lg_pub_t *p = h->data;
  *buf = uv_buf_init(p->rbuf, sizeof p->rbuf);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf) {
  lg_pub_t *p = h->data;
  if (nread == 0) return;
  if (nread < 0 || llhttp_execute(&p->parser, buf->base, (size_t)nread) != HPE_OK) {
    p->st.reconnects++;
    drop_conn(p);
  }
}

static void on_connect(uv_connect_t *req, int status) {
  lg_pub_t *p = req->data;
  if (status < 0 || uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) < 0) {
    drop_conn(p);
    return;
  }
  llhttp_init(&p->parser, HTTP_RESPONSE, &p->settings);
  p->parser.data = p;
  p->connected = true;
}

static void connect_now(lg_pub_t *p) {
  if (uv_tcp_init(p->loop, &p->tcp) < 0) return;
  p->tcp.data = p;
  p->open = true;
  uv_tcp_nodelay(&p->tcp, 1);
  p->creq.data = p;
  if (uv_tcp_connect(&p->creq, &p->tcp, (const struct sockaddr *)&p->dst, on_connect) < 0)
    drop_conn(p);
}

static void send_next(lg_pub_t *p) {
  char body[96], req[1024];
  int64_t seq = p->seq + 1;
  int64_t now = lg_realtime_us();
  int blen =
      snprintf(body, sizeof body, "{\"ts\":%lld,\"seq\":%lld}", (long long)now, (long long)seq);
  int n = snprintf(req, sizeof req,
                   "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: "
                   "application/json\r\nContent-Length: %d\r\n\r\n%s",
                   p->o->publish, p->hostport, blen, body);
  if (n < 0 || (size_t)n >= sizeof req) return;
  if (lg_write((uv_stream_t *)&p->tcp, req, (size_t)n) < 0) {
    drop_conn(p);
    return;
  }
  p->seq = seq;
  p->busy_seq = seq;
  p->busy = true;
  p->st.sent++;
  if (!p->st.first_us) p->st.first_us = now;
}

static void stop(lg_pub_t *p) {
  p->stopped = true;
  atomic_store(&p->sh->pub_final, p->acked);
  atomic_store(&p->sh->pub_stopped, 1);
  if (p->open && !uv_is_closing((uv_handle_t *)&p->tcp))
    uv_close((uv_handle_t *)&p->tcp, on_closed);
  uv_close((uv_handle_t *)&p->tick, NULL);
}

static void on_tick(uv_timer_t *t) {
  lg_pub_t *p = t->data;
  const lg_opts_t *o = p->o;
  uint64_t now = uv_now(p->loop);
  /* The schedule starts once every subscriber process has its streams up,
   * so each publish reaches the whole audience. */
  if (!p->began && atomic_load(&p->sh->subs_ramped) >= p->nsub) {
    p->began = true;
    p->sched_ms = now;
  }
  bool enough =
      o->publish_count ? p->seq >= o->publish_count : atomic_load(&p->sh->subs_done) >= p->nsub;
  if (!p->stopping && (enough || now - p->start_ms >= (uint64_t)(o->duration_s * 1000))) {
    p->stopping = true;
    p->stop_ms = now;
  }
  if (p->stopping) {
    if (!p->busy || now >= p->stop_ms + STOP_WAIT_MS) stop(p);
    return;
  }
  if (!p->open) {
    if (now >= p->retry_at_ms) connect_now(p);
    return;
  }
  if (!p->began) return;
  double due = o->publish_rate * (double)(now - p->sched_ms) / 1000.0;
  if (p->connected && !p->busy && (double)p->seq + 1 <= due + 1e-9) send_next(p);
}

lg_pub_t *lg_pub_start(uv_loop_t *loop, const lg_opts_t *o, lg_shared_t *sh, int nsub) {
  lg_pub_t *p = calloc(1, sizeof *p);
  if (!p) abort();
  p->loop = loop;
  p->o = o;
  p->sh = sh;
  p->nsub = nsub;
  if (lg_addr(o->host, o->port, &p->dst) < 0) {
    free(p);
    return NULL;
  }
  snprintf(p->hostport, sizeof p->hostport, "%s:%d", o->host, o->port);
  llhttp_settings_init(&p->settings);
  p->settings.on_message_complete = on_message_complete;
  atomic_store(&sh->pub_acked, 0);
  p->start_ms = uv_now(loop);
  uv_timer_init(loop, &p->tick);
  p->tick.data = p;
  /* Half the publish interval, between 1 and 50 ms. */
  double iv = 500.0 / o->publish_rate;
  uint64_t iv_ms = iv < 1 ? 1 : iv > 50 ? 50 : (uint64_t)iv;
  uv_timer_start(&p->tick, on_tick, 0, iv_ms);
  connect_now(p);
  return p;
}

void lg_pub_finish(lg_pub_t *p, lg_pub_stats_t *out) {
  if (!p) return;
  *out = p->st;
  free(p);
}
