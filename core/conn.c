/* Connections: parsing, responses, SSE writes. See conn.h.
 *
 * Reads land in the server's one shared buffer and are parsed at once, so an
 * idle connection holds no read buffer and no parser. Writes are tried
 * synchronously first (uv_try_write); only what the kernel would not take is
 * queued, by reference for frames, so a fast reader costs no allocation. */
#include "conn.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "channel.h"
#include "log.h"
#include "script.h"
#include "session.h"
#include "sse.h"

#define MW_READ_BUF_SIZE (64u * 1024)
/* Input buffered while a response is owed, before we stop reading. */
#define MW_MAX_PIPELINED (256u * 1024)

typedef struct mw_wreq {
  uv_write_t req;
  mw_conn_t *conn;
  mw_frame_t *frame; /* reference, or NULL */
  char *owned;       /* heap bytes to free, or NULL */
  uint32_t len;
} mw_wreq_t;

static void on_close(uv_handle_t *h);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void feed(mw_conn_t *c, const char *data, size_t len);

static mw_conn_t *conn_of(llhttp_t *p) {
  return p->data;
}

/* ---- writing ---------------------------------------------------------- */

static void begin_shutdown(mw_conn_t *c);

static void on_write(uv_write_t *req, int status) {
  mw_wreq_t *w = mw_container_of(req, mw_wreq_t, req);
  mw_conn_t *c = w->conn;
  c->pending_writes--;
  c->pending_bytes -= w->len;
  mw_frame_unref(w->frame);
  mw_free(w->owned);
  mw_free(w);
  if (c->state == MW_CONN_CLOSING) return;
  if (status < 0) {
    mw_conn_close(c);
    return;
  }
  if (c->close_after_flush && c->pending_writes == 0) begin_shutdown(c);
  if (c->replaying && mw_conn__can_replay(c)) {
    if (c->sse_kind == MW_SSE_SESSION)
      mw_session__pump(c);
    else if (c->sse_kind == MW_SSE_CHANNEL)
      mw_channel__pump(c);
  }
}

void mw_conn__replay_frame(void *conn, mw_frame_t *frame) {
  mw_conn_t *c = conn;
  if (mw_conn_sse_send(c, frame) == 0) c->server->metrics.events_replayed++;
}

bool mw_conn__can_replay(void *conn) {
  mw_conn_t *c = conn;
  return c->state == MW_CONN_STREAM && c->pending_bytes <= c->server->config->max_pending_bytes / 2;
}

/* Queues `len` bytes at `data` behind what libuv already holds, kept alive by
 * `frame` (a reference is taken) or by `owned` (always consumed). Returns 0 or
 * -EPIPE (closed). */
static int conn_queue(mw_conn_t *c, const char *data, size_t len, mw_frame_t *frame, char *owned) {
  mw_wreq_t *w = mw_malloc(sizeof *w);
  w->conn = c;
  w->frame = mw_frame_ref(frame);
  w->owned = owned;
  w->len = (uint32_t)len;
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
  if (rc < 0) {
    mw_frame_unref(w->frame);
    mw_free(w->owned);
    mw_free(w);
    mw_conn_close(c);
    return -EPIPE;
  }
  c->pending_writes++;
  c->pending_bytes += (uint32_t)len;
  return 0;
}

/* Writes what it can of `bufs` now; returns the bytes written (maybe 0) or
 * -EPIPE after closing `c` on a hard error. */
static ssize_t conn_try(mw_conn_t *c, const uv_buf_t *bufs, unsigned n) {
  if (c->pending_writes) return 0;
  int rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
  if (rc >= 0) return rc;
  if (rc == UV_EAGAIN) return 0;
  mw_conn_close(c);
  return -EPIPE;
}

/* Writes `len` bytes at `data`, kept alive by `frame` (a reference is taken
 * if queued) or by `owned` (always consumed). Returns 0 or -EPIPE (closed). */
static int conn_write(mw_conn_t *c, const char *data, size_t len, mw_frame_t *frame, char *owned) {
  if (c->state == MW_CONN_CLOSING || c->state == MW_CONN_LINGER) {
    mw_free(owned);
    return -EPIPE;
  }
  c->server->metrics.bytes_out += len;
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  ssize_t n = conn_try(c, &b, 1);
  if (n == (ssize_t)len || n < 0) {
    mw_free(owned);
    return n < 0 ? -EPIPE : 0;
  }
  return conn_queue(c, data + n, len - (size_t)n, frame, owned);
}

/* ---- lifecycle -------------------------------------------------------- */

static void release_handler(mw_conn_t *c) {
  mw_handles_unbind(&c->server->handles, c);
  if (c->gen) {
    mw_gen_unref(c->gen);
    c->gen = NULL;
  }
}

/* LOG_LEVEL=debug: a line per answered request and per stream opened or
 * ended, with the request line, status, time since the request began and the
 * client. Skipped before any formatting at other levels. */
static void debug_request(mw_conn_t *c, const char *what, int status) {
  if (mw_log_get_level() > MW_LOG_DEBUG) return;
  mw_req_t *r = c->req;
  char st[8], ms[24];
  snprintf(st, sizeof st, "%d", status);
  snprintf(ms, sizeof ms, "%llu", (unsigned long long)(mw_server_now(c->server) - c->req_start_ms));
  mw_log(MW_LOG_DEBUG, what, 5, "method", r ? llhttp_method_name((llhttp_method_t)r->method) : NULL,
         "url", r && r->url_len ? mw_req_url(r) : NULL, "status", status ? st : NULL, "ms", ms,
         "remote", mw_conn_peer(c));
}

static void detach_stream(mw_conn_t *c) {
  if (c->state != MW_CONN_STREAM) return;
  debug_request(c, "stream ended", 0);
  switch (c->sse_kind) {
  case MW_SSE_SESSION:
    mw_session__detach(c);
    break;
  case MW_SSE_CHANNEL:
    mw_channel__unsubscribe(c);
    break;
  default:
    break;
  }
  c->sse_kind = MW_SSE_NONE;
  c->replaying = false;
  c->stall_until_ms = 0;
  c->server->nstreams--;
}

void mw_conn_close(mw_conn_t *c) {
  if (c->state == MW_CONN_CLOSING) return;
  mw_server_t *s = c->server;
  detach_stream(c);
  release_handler(c);
  c->state = MW_CONN_CLOSING;
  mw_tlist_remove(&c->tnode);
  if (c->queued) {
    mw_list_remove(&c->ready_link);
    c->queued = false;
  }
  mw_list_remove(&c->link);
  s->nconns--;
  uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_close(uv_handle_t *h) {
  mw_conn_t *c = h->data;
  mw_req_free(NULL, c->req); /* the server may be going away */
  mw_free(c->inbuf);
  mw_free(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  mw_conn_t *c = req->data;
  mw_free(req);
  if (c->state == MW_CONN_CLOSING) return;
  if (status < 0) {
    mw_conn_close(c);
    return;
  }
  /* Closing with unread input would send RST and could destroy the response
   * before the client reads it, so drain until EOF or the linger timeout. */
  c->state = MW_CONN_LINGER;
  mw_tlist_touch(&c->server->linger_list, &c->tnode);
  if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
    c->reading = true;
}

static void begin_shutdown(mw_conn_t *c) {
  uv_shutdown_t *req = mw_malloc(sizeof *req);
  req->data = c;
  c->close_after_flush = false;
  if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
    mw_free(req);
    mw_conn_close(c);
  }
}

void mw_conn_end(mw_conn_t *c) {
  if (c->state == MW_CONN_CLOSING || c->state == MW_CONN_LINGER) return;
  detach_stream(c);
  release_handler(c);
  mw_req_free(&c->server->req_pool, c->req);
  c->req = NULL;
  c->state = MW_CONN_LINGER; /* no more requests are parsed */
  mw_tlist_remove(&c->tnode);
  if (c->pending_writes == 0)
    begin_shutdown(c);
  else
    c->close_after_flush = true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  mw_conn_t *c = h->data;
  buf->base = c->server->read_buf;
  buf->len = MW_READ_BUF_SIZE;
}

void mw_conn_accept(mw_server_t *s) {
  mw_conn_t *c = mw_calloc(1, sizeof *c);
  c->server = s;
  mw_list_init(&c->link);
  mw_list_init(&c->ready_link);
  mw_tnode_init(&c->tnode);
  uv_tcp_init(s->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp) < 0) {
    c->state = MW_CONN_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_close);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_tcp_keepalive(&c->tcp, 1, 60);
  mw_list_push_back(&s->conns, &c->link);
  s->nconns++;
  s->metrics.connections_accepted++;
  c->state = MW_CONN_READING;
  /* A new connection must send its head within HEADER_TIMEOUT_MS, like any request. */
  mw_tlist_touch(&s->head_list, &c->tnode);
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
    mw_conn_close(c);
    return;
  }
  c->reading = true;
  if (s->nconns > s->config->max_connections || s->shutting_down) {
    s->metrics.connections_rejected++;
    c->state = MW_CONN_BUSY;
    c->keep_alive = false;
    static const mw_kv_t retry[] = {{"Retry-After", "1"}, {"Content-Type", "application/json"}};
    static const char body[] = "{\"error\":\"server at connection limit\"}";
    mw_conn_respond(c, 503, retry, 2, body, sizeof body - 1);
  }
}

/* ---- reading and parsing ---------------------------------------------- */

static void stash(mw_conn_t *c, const char *data, size_t len) {
  c->inbuf = mw_realloc(c->inbuf, c->inbuf_len + len);
  memcpy(c->inbuf + c->inbuf_len, data, len);
  c->inbuf_len += (uint32_t)len;
  if (c->inbuf_len > MW_MAX_PIPELINED && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
  }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  mw_conn_t *c = st->data;
  if (nread == 0) return;
  if (nread < 0) {
    /* EOF or error: the client is gone (or done); nothing more can be answered. */
    mw_conn_close(c);
    return;
  }
  switch (c->state) {
  case MW_CONN_READING:
    feed(c, buf->base, (size_t)nread);
    break;
  case MW_CONN_BUSY:
  case MW_CONN_STREAM:
    stash(c, buf->base, (size_t)nread);
    break;
  default:
    break; /* lingering: discard */
  }
}

static void reject(mw_conn_t *c, int status, const char *msg) {
  c->keep_alive = false;
  c->state = MW_CONN_BUSY;
  mw_server_error(c->server, c, status, msg);
}

static void feed(mw_conn_t *c, const char *data, size_t len) {
  mw_server_t *s = c->server;
  c->in_parse = true;
  while (len > 0 && c->state == MW_CONN_READING) {
    if (!c->req) c->req = mw_req_new(&s->req_pool, &s->parser_settings, c);
    llhttp_t *p = &c->req->parser;
    llhttp_errno_t err = llhttp_execute(p, data, len);
    size_t used = len;
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
      used = (size_t)(llhttp_get_error_pos(p) - data);
    } else if (err != HPE_OK) {
      int status = c->req->error_status ? c->req->error_status : 400;
      const char *reason = status == 400 ? llhttp_get_error_reason(p) : mw_http_reason(status);
      reject(c, status, reason ? reason : "malformed request");
      len = 0;
      break;
    }
    data += used;
    len -= used;
    if (c->req && c->req->complete) {
      c->state = MW_CONN_BUSY;
      mw_tlist_remove(&c->tnode);
      mw_server_dispatch(s, c);
    }
  }
  c->in_parse = false;
  if (len > 0 && c->state != MW_CONN_CLOSING && c->state != MW_CONN_LINGER) stash(c, data, len);
}

void mw_conn_process_input(mw_conn_t *c) {
  if (c->state != MW_CONN_READING) return;
  if (c->inbuf_len) {
    char *buf = c->inbuf;
    size_t len = c->inbuf_len;
    c->inbuf = NULL;
    c->inbuf_len = 0;
    feed(c, buf, len);
    mw_free(buf);
  }
  if (c->state == MW_CONN_READING && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
      c->reading = true;
    else
      mw_conn_close(c);
  }
}

/* After a response: either back to reading requests or a graceful close. */
static void finish_exchange(mw_conn_t *c) {
  release_handler(c);
  mw_req_free(&c->server->req_pool, c->req);
  c->req = NULL;
  c->head_only = false;
  if (!c->keep_alive || c->server->shutting_down) {
    mw_conn_end(c);
    return;
  }
  c->state = MW_CONN_READING;
  mw_tlist_touch(&c->server->idle_list, &c->tnode);
  if (!c->in_parse && (c->inbuf_len || !c->reading)) mw_server_queue_input(c->server, c);
}

static bool header_ok(const char *s) {
  return strpbrk(s, "\r\n") == NULL;
}

const char *mw_conn_peer(mw_conn_t *c) {
  if (c->peer[0]) return c->peer;
  struct sockaddr_storage sa;
  int len = sizeof sa;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) == 0) {
    if (sa.ss_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)&sa, c->peer, sizeof c->peer);
    else
      uv_ip4_name((struct sockaddr_in *)&sa, c->peer, sizeof c->peer);
  }
  return c->peer;
}

/* Response heads are built with appends, not printf: this runs on every
 * answered request. */
static void put_uint(mw_buf_t *b, size_t v) {
  char tmp[24];
  char *p = tmp + sizeof tmp;
  do {
    *--p = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  mw_buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

static void put_header(mw_buf_t *b, const char *name, const char *value) {
  mw_buf_puts(b, name);
  mw_buf_append(b, ": ", 2);
  mw_buf_puts(b, value);
  mw_buf_append(b, "\r\n", 2);
}

static void put_common_headers(mw_conn_t *c, mw_buf_t *b) {
  const mw_cors_t *cors = &c->server->cors;
  const char *origin = c->req ? mw_req_header(c->req, "origin") : NULL;
  if (origin && header_ok(origin) && cors->origins) {
    /* Credentials require the origin itself, never "*". */
    bool any = strcmp(cors->origins, "*") == 0 && !cors->credentials;
    if (any || strcmp(cors->origins, "*") == 0 || mw_http_list_has(cors->origins, origin)) {
      put_header(b, "Access-Control-Allow-Origin", any ? "*" : origin);
      if (!any) mw_buf_puts(b, "Vary: Origin\r\n");
      if (cors->credentials) mw_buf_puts(b, "Access-Control-Allow-Credentials: true\r\n");
      if (cors->expose && *cors->expose)
        put_header(b, "Access-Control-Expose-Headers", cors->expose);
    }
  }
}

static bool skip_header(const char *name) {
  return strcasecmp(name, "content-length") == 0 || strcasecmp(name, "connection") == 0 ||
         strcasecmp(name, "transfer-encoding") == 0;
}

void mw_conn_respond(mw_conn_t *c, int status, const mw_kv_t *hdrs, size_t nhdrs, const char *body,
                     size_t body_len) {
  if (c->state != MW_CONN_BUSY) return;
  mw_server_t *s = c->server;
  if (status >= 100 && status < 600) s->metrics.requests[status / 100]++;
  if (s->access_hook) mw_server_record_access(s, c, status);
  debug_request(c, "request", status);
  bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
  mw_buf_t b = {0};
  mw_buf_append(&b, "HTTP/1.1 ", 9);
  put_uint(&b, (size_t)status);
  mw_buf_append(&b, " ", 1);
  mw_buf_puts(&b, mw_http_reason(status));
  mw_buf_append(&b, "\r\n", 2);
  if (!no_body) {
    mw_buf_puts(&b, "Content-Length: ");
    put_uint(&b, body_len);
    mw_buf_append(&b, "\r\n", 2);
  }
  if (!c->keep_alive || s->shutting_down)
    mw_buf_puts(&b, "Connection: close\r\n");
  else if (c->req && c->req->http10)
    mw_buf_puts(&b, "Connection: keep-alive\r\n");
  put_common_headers(c, &b);
  for (size_t i = 0; i < nhdrs; i++) {
    if (skip_header(hdrs[i].name) || !header_ok(hdrs[i].name) || !header_ok(hdrs[i].value))
      continue;
    put_header(&b, hdrs[i].name, hdrs[i].value);
  }
  mw_buf_puts(&b, "\r\n");
  if (!no_body && !c->head_only && body_len) mw_buf_append(&b, body, body_len);
  size_t len;
  char *data = mw_buf_steal(&b, &len);
  if (conn_write(c, data, len, NULL, data) < 0) return;
  finish_exchange(c);
}

int mw_conn_sse_start(mw_conn_t *c, const mw_kv_t *hdrs, size_t nhdrs) {
  if (c->state != MW_CONN_BUSY) return -EINVAL;
  mw_server_t *s = c->server;
  s->metrics.requests[2]++;
  if (s->access_hook) mw_server_record_access(s, c, 200);
  debug_request(c, "stream opened", 200);
  c->chunked = !(c->req && c->req->http10);
  if (!c->chunked) c->keep_alive = false;
  mw_buf_t b = {0};
  mw_buf_puts(&b, "HTTP/1.1 200 OK\r\n"
                  "Content-Type: text/event-stream\r\n"
                  "Cache-Control: no-cache, no-transform\r\n"
                  "X-Accel-Buffering: no\r\n");
  mw_buf_puts(&b, c->chunked ? "Transfer-Encoding: chunked\r\n" : "Connection: close\r\n");
  put_common_headers(c, &b);
  for (size_t i = 0; i < nhdrs; i++) {
    if (skip_header(hdrs[i].name) || strcasecmp(hdrs[i].name, "content-type") == 0 ||
        !header_ok(hdrs[i].name) || !header_ok(hdrs[i].value))
      continue;
    put_header(&b, hdrs[i].name, hdrs[i].value);
  }
  mw_buf_puts(&b, "\r\n");
  size_t len;
  char *data = mw_buf_steal(&b, &len);
  if (conn_write(c, data, len, NULL, data) < 0) return -EPIPE;
  bool head_only = c->head_only;
  /* The stream no longer needs its request; a Lua stream handle stays bound. */
  mw_req_free(&c->server->req_pool, c->req);
  c->req = NULL;
  if (c->gen) {
    mw_gen_unref(c->gen);
    c->gen = NULL;
  }
  c->state = MW_CONN_STREAM;
  c->sse_kind = MW_SSE_NONE;
  s->nstreams++;
  mw_tlist_touch(&s->heartbeat_list, &c->tnode);
  if (head_only) {
    mw_conn_sse_finish(c);
    return -EPIPE;
  }
  return 0;
}

/* The bytes of `f` on `c`'s stream: with or without its chunk envelope. */
static uv_buf_t frame_buf(const mw_conn_t *c, mw_frame_t *f) {
  return c->chunked ? uv_buf_init(f->data, (unsigned)f->len)
                    : uv_buf_init((char *)mw_frame_payload(f), (unsigned)mw_frame_payload_len(f));
}

/* After a send of `len` bytes: the slow-consumer rule, then the heartbeat
 * clock restarts. Only bytes queued before this send count: one event larger
 * than the limit is not yet a client that stopped reading (it used to close
 * every stream that carried one, and the event, too big for the replay
 * buffer, was lost). */
static int sent(mw_conn_t *c, size_t len) {
  mw_server_t *s = c->server;
  size_t before = c->pending_bytes > len ? c->pending_bytes - len : 0;
  if (!c->replaying && before > s->config->max_pending_bytes) {
    /* The client stopped reading. Its events stay in the session log, so it
     * can resume once it reconnects; this connection only wastes memory. */
    s->metrics.slow_consumers++;
    mw_log(MW_LOG_WARN, "slow consumer disconnected", 0);
    mw_conn_close(c);
    return -ENOBUFS;
  }
  mw_tlist_touch(&s->heartbeat_list, &c->tnode);
  return 0;
}

int mw_conn_sse_send(mw_conn_t *c, mw_frame_t *frame) {
  if (c->state != MW_CONN_STREAM) return -EPIPE;
  uv_buf_t b = frame_buf(c, frame);
  if (conn_write(c, b.base, b.len, frame, NULL) < 0) return -EPIPE;
  if (frame == mw_sse_heartbeat())
    c->server->metrics.heartbeats_sent++;
  else
    c->server->metrics.events_sent++;
  return sent(c, b.len);
}

int mw_conn_sse_send_many(mw_conn_t *c, mw_frame_t **frames, size_t n) {
  if (c->state != MW_CONN_STREAM) return -EPIPE;
  uv_buf_t bufs[MW_SSE_SEND_MAX];
  size_t total = 0;
  if (n > MW_SSE_SEND_MAX) n = MW_SSE_SEND_MAX;
  for (size_t i = 0; i < n; i++) {
    bufs[i] = frame_buf(c, frames[i]);
    total += bufs[i].len;
  }
  c->server->metrics.bytes_out += total;
  c->server->metrics.events_sent += n;
  /* One system call for all of them; whatever the kernel would not take is
   * queued by reference, frame by frame. */
  ssize_t done = conn_try(c, bufs, (unsigned)n);
  if (done < 0) return -EPIPE;
  for (size_t i = 0; i < n; i++) {
    size_t skip = (size_t)done < bufs[i].len ? (size_t)done : bufs[i].len;
    done -= (ssize_t)skip;
    if (skip < bufs[i].len &&
        conn_queue(c, bufs[i].base + skip, bufs[i].len - skip, frames[i], NULL) < 0)
      return -EPIPE;
  }
  return sent(c, total);
}

void mw_conn_sse_finish(mw_conn_t *c) {
  if (c->state != MW_CONN_STREAM) return;
  detach_stream(c);
  mw_tlist_remove(&c->tnode);
  c->state = MW_CONN_BUSY;
  if (c->chunked && !c->head_only) conn_write(c, "0\r\n\r\n", 5, NULL, NULL);
  if (c->state == MW_CONN_CLOSING) return;
  finish_exchange(c);
}

/* ---- timeouts --------------------------------------------------------- */

void mw_conn_on_idle_timeout(mw_tlist_t *tl, mw_tnode_t *n) {
  mw_conn_close(mw_container_of(n, mw_conn_t, tnode));
}

void mw_conn_on_head_timeout(mw_tlist_t *tl, mw_tnode_t *n) {
  mw_conn_t *c = mw_container_of(n, mw_conn_t, tnode);
  if (c->state != MW_CONN_READING) return;
  /* A connection that never sent a byte gets closed quietly; one stuck inside
   * a request is told why (408), then closed. */
  if (!c->req && c->inbuf_len == 0) {
    mw_conn_close(c);
    return;
  }
  reject(c, 408, "request not received in time");
}

void mw_conn_on_linger_timeout(mw_tlist_t *tl, mw_tnode_t *n) {
  mw_conn_close(mw_container_of(n, mw_conn_t, tnode));
}

void mw_conn_on_heartbeat(mw_tlist_t *tl, mw_tnode_t *n) {
  mw_conn_t *c = mw_container_of(n, mw_conn_t, tnode);
  if (c->stall_until_ms) {
    /* A stalled stream stays silent so the client's watchdog has to notice.
     * The route that stalled it resumes it on time; this is the backstop
     * should that handler never get there. */
    if (mw_server_now(c->server) < c->stall_until_ms) {
      mw_tlist_touch(tl, n);
      return;
    }
    mw_channel__resume(c);
    if (c->state != MW_CONN_STREAM) return;
  }
  mw_conn_sse_send(c, mw_sse_heartbeat());
}

/* ---- llhttp callbacks ------------------------------------------------- */

static int fail(llhttp_t *p, int status) {
  conn_of(p)->req->error_status = status;
  return HPE_USER;
}

static int on_message_begin(llhttp_t *p) {
  mw_conn_t *c = conn_of(p);
  c->req_start_ms = mw_server_now(c->server);
  mw_tlist_touch(&c->server->head_list, &c->tnode);
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  return mw_req_add_url(conn_of(p)->req, at, len) < 0 ? fail(p, 431) : 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  return mw_req_add_header_field(conn_of(p)->req, at, len) < 0 ? fail(p, 431) : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  return mw_req_add_header_value(conn_of(p)->req, at, len) < 0 ? fail(p, 431) : 0;
}

static int on_field_complete(llhttp_t *p) {
  return mw_req_end_header_field(conn_of(p)->req) < 0 ? fail(p, 431) : 0;
}

static int on_piece_complete(llhttp_t *p) {
  return mw_req_end_piece(conn_of(p)->req) < 0 ? fail(p, 431) : 0;
}

static int on_value_complete(llhttp_t *p) {
  return mw_req_end_header_value(conn_of(p)->req) < 0 ? fail(p, 431) : 0;
}

static int on_headers_complete(llhttp_t *p) {
  mw_conn_t *c = conn_of(p);
  mw_req_t *r = c->req;
  mw_server_t *s = c->server;
  r->method = (uint8_t)p->method;
  r->http10 = p->http_major == 1 && p->http_minor == 0;
  r->head_done = true;
  if (!r->head) mw_req_end_piece(r);
  /* llhttp also takes "HTTP/2.0" and "HTTP/0.9" request lines; only 1.x is spoken here. */
  if (p->http_major != 1) return fail(p, 505);
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > s->config->max_body_bytes)
    return fail(p, 413);
  const char *expect = mw_req_header(r, "expect");
  if (expect) {
    if (strcasecmp(expect, "100-continue") != 0) return fail(p, 417);
    conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25, NULL, NULL);
  }
  if ((p->flags & F_CONTENT_LENGTH && p->content_length > 0) || (p->flags & F_CHUNKED))
    mw_tlist_touch(&s->body_list, &c->tnode);
  /* Upgrades (h2c, websocket) are not offered: answer the request as plain HTTP. */
  return p->upgrade ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  mw_conn_t *c = conn_of(p);
  return mw_req_add_body(c->req, at, len, c->server->config->max_body_bytes) < 0 ? fail(p, 413) : 0;
}

static int on_message_complete(llhttp_t *p) {
  mw_conn_t *c = conn_of(p);
  c->req->complete = true;
  c->keep_alive = llhttp_should_keep_alive(p);
  c->head_only = p->method == HTTP_HEAD;
  /* Stop here: the rest of the buffer is the next request, parsed only once
   * this one has been answered (responses go out in request order). */
  return HPE_PAUSED;
}

void mw_conn_parser_settings(llhttp_settings_t *st) {
  llhttp_settings_init(st);
  st->on_message_begin = on_message_begin;
  st->on_url = on_url;
  st->on_url_complete = on_piece_complete;
  st->on_header_field = on_header_field;
  st->on_header_field_complete = on_field_complete;
  st->on_header_value = on_header_value;
  st->on_header_value_complete = on_value_complete;
  st->on_headers_complete = on_headers_complete;
  st->on_body = on_body;
  st->on_message_complete = on_message_complete;
}
