/* HTTP client jobs; see httpc.h. Lifecycle: resolve -> connect -> write ->
 * read until the final response is complete (interim 1xx ones are skipped;
 * a body without a length ends at EOF) -> callback -> close. */
#include "httpc.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The response head we hold on to; a longer one fails the request. */
#define HEAD_MAX 65536

struct mw_httpc {
  uv_loop_t *loop;
  uv_getaddrinfo_t gai;
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  uv_timer_t timer;
  llhttp_t parser;
  llhttp_settings_t settings;
  char *host;    /* owned */
  char *request; /* owned: the serialized request */
  size_t request_len;
  size_t max_body;
  mw_buf_t body;
  mw_buf_t head; /* header names and values, NUL-separated */
  size_t *spans; /* owned: offsets into head, name/value pairs */
  size_t nspans, cap;
  bool in_value;
  bool head_req; /* a HEAD request: the response has no body, whatever its headers say */
  bool complete, done, cancelled, tcp_open, resolving, too_big;
  int open_handles;
  mw_httpc_cb cb;
  void *ud;
};

static void on_closed(uv_handle_t *h) {
  mw_httpc_t *j = h->data;
  if (--j->open_handles > 0) return;
  mw_buf_dispose(&j->body);
  mw_buf_dispose(&j->head);
  mw_free(j->spans);
  mw_free(j->host);
  mw_free(j->request);
  mw_free(j);
}

static void teardown(mw_httpc_t *j) {
  if (!uv_is_closing((uv_handle_t *)&j->timer)) uv_close((uv_handle_t *)&j->timer, on_closed);
  if (j->tcp_open && !uv_is_closing((uv_handle_t *)&j->tcp))
    uv_close((uv_handle_t *)&j->tcp, on_closed);
}

static void finish(mw_httpc_t *j, int err, const char *msg) {
  if (j->done) return;
  j->done = true;
  if (!j->cancelled) {
    mw_httpc_result_t r = {0};
    r.error = err;
    r.error_msg = msg;
    mw_kv_t *kv = NULL;
    if (!err) {
      r.status = j->parser.status_code;
      size_t n = j->nspans / 2;
      kv = mw_calloc(n ? n : 1, sizeof *kv);
      for (size_t i = 0; i < n; i++) {
        kv[i].name = j->head.data + j->spans[2 * i];
        kv[i].value = j->head.data + j->spans[2 * i + 1];
      }
      r.headers = kv;
      r.nheaders = n;
      r.body = j->body.data ? j->body.data : "";
      r.body_len = j->body.len;
    }
    j->cb(j->ud, &r);
    mw_free(kv);
  }
  /* A resolve in flight is cancelled; its callback still runs and sees done. */
  if (j->resolving)
    uv_cancel((uv_req_t *)&j->gai);
  else
    teardown(j);
}

static void span(mw_httpc_t *j) {
  if (j->nspans == j->cap) {
    j->cap = j->cap ? j->cap * 2 : 32;
    j->spans = mw_realloc(j->spans, j->cap * sizeof *j->spans);
  }
  mw_buf_append(&j->head, "", 0);
  j->spans[j->nspans++] = j->head.len;
}

static int on_hfield(llhttp_t *p, const char *at, size_t len) {
  mw_httpc_t *j = p->data;
  if (j->in_value || j->nspans == 0) {
    if (j->nspans) mw_buf_append(&j->head, "\0", 1);
    span(j);
    j->in_value = false;
  }
  for (size_t i = 0; i < len; i++) {
    char c = at[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    mw_buf_append(&j->head, &c, 1);
  }
  return j->head.len > HEAD_MAX ? -1 : 0;
}

static int on_hvalue(llhttp_t *p, const char *at, size_t len) {
  mw_httpc_t *j = p->data;
  if (!j->in_value) {
    mw_buf_append(&j->head, "\0", 1);
    span(j);
    j->in_value = true;
  }
  mw_buf_append(&j->head, at, len);
  return j->head.len > HEAD_MAX ? -1 : 0;
}

static bool interim(const llhttp_t *p) {
  /* 101 ends HTTP on this connection; we never ask to switch protocols, so
   * it is the final answer, unlike 100 Continue, 103 Early Hints, ... */
  return p->status_code >= 100 && p->status_code < 200 && p->status_code != 101;
}

static int on_headers_done(llhttp_t *p) {
  mw_httpc_t *j = p->data;
  if (interim(p)) { /* its headers are not the response's */
    j->head.len = 0;
    j->nspans = 0;
    j->in_value = false;
    return 0;
  }
  if (j->nspans % 2) { /* a name without a value */
    mw_buf_append(&j->head, "\0", 1);
    span(j);
  }
  mw_buf_append(&j->head, "\0", 1);
  /* 1 tells llhttp there is no body: Content-Length in a response to HEAD
   * gives the size of what a GET would have returned. */
  return j->head_req ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  mw_httpc_t *j = p->data;
  if (j->body.len + len > j->max_body) {
    j->too_big = true;
    return -1;
  }
  mw_buf_append(&j->body, at, len);
  return 0;
}

static int on_complete(llhttp_t *p) {
  mw_httpc_t *j = p->data;
  if (interim(p)) return 0; /* go on to parse the next response */
  j->complete = true;
  /* Stop there: anything after the response is not ours to parse. */
  return HPE_PAUSED;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char scratch[65536]; /* parsed synchronously in on_read */
  buf->base = scratch;
  buf->len = sizeof scratch;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  mw_httpc_t *j = s->data;
  if (j->done) return;
  if (n < 0) {
    /* EOF ends a body delimited by the connection closing: llhttp_finish
     * then runs on_complete, whose HPE_PAUSED it returns as is. Any other
     * EOF (before a final response, inside headers or a sized body) is a
     * failure. */
    if (n == UV_EOF) {
      llhttp_finish(&j->parser);
      if (j->complete)
        finish(j, 0, NULL);
      else
        finish(j, -EPROTO, "connection closed early");
    } else {
      finish(j, (int)n, uv_strerror((int)n));
    }
    return;
  }
  llhttp_errno_t e = llhttp_execute(&j->parser, buf->base, (size_t)n);
  if (j->complete) {
    finish(j, 0, NULL);
  } else if (e != HPE_OK) {
    finish(j, -EPROTO,
           j->too_big               ? "response body exceeds max_body"
           : j->head.len > HEAD_MAX ? "response headers exceed 64 KiB"
                                    : llhttp_get_error_reason(&j->parser));
  }
}

static void on_written(uv_write_t *w, int status) {
  mw_httpc_t *j = w->data;
  if (status < 0) finish(j, status, uv_strerror(status));
}

static void on_connect(uv_connect_t *c, int status) {
  mw_httpc_t *j = c->data;
  if (j->done) return;
  if (status < 0) {
    finish(j, status, uv_strerror(status));
    return;
  }
  uv_buf_t b = uv_buf_init(j->request, (unsigned)j->request_len);
  j->write.data = j;
  int rc = uv_write(&j->write, (uv_stream_t *)&j->tcp, &b, 1, on_written);
  if (rc == 0) rc = uv_read_start((uv_stream_t *)&j->tcp, on_alloc, on_read);
  if (rc < 0) finish(j, rc, uv_strerror(rc));
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res) {
  mw_httpc_t *j = g->data;
  j->resolving = false;
  if (j->done) {
    uv_freeaddrinfo(res);
    teardown(j);
    return;
  }
  if (status < 0) {
    finish(j, status, uv_strerror(status));
    return;
  }
  uv_tcp_init(j->loop, &j->tcp);
  j->tcp.data = j;
  j->tcp_open = true;
  j->open_handles++;
  j->connect.data = j;
  int rc = uv_tcp_connect(&j->connect, &j->tcp, res->ai_addr, on_connect);
  uv_freeaddrinfo(res);
  if (rc < 0) finish(j, rc, uv_strerror(rc));
}

static void on_timeout(uv_timer_t *t) {
  finish(t->data, -ETIMEDOUT, "request timed out");
}

mw_httpc_t *mw_httpc_start(uv_loop_t *loop, const mw_httpc_req_t *req, mw_httpc_cb cb, void *ud,
                           int *err) {
  mw_httpc_t *j = mw_calloc(1, sizeof *j);
  j->loop = loop;
  j->cb = cb;
  j->ud = ud;
  j->max_body = req->max_body;
  j->head_req = strcmp(req->method, "HEAD") == 0;
  j->host = mw_strdup(req->host);
  llhttp_settings_init(&j->settings);
  j->settings.on_header_field = on_hfield;
  j->settings.on_header_value = on_hvalue;
  j->settings.on_headers_complete = on_headers_done;
  j->settings.on_body = on_body;
  j->settings.on_message_complete = on_complete;
  llhttp_init(&j->parser, HTTP_RESPONSE, &j->settings);
  j->parser.data = j;

  mw_buf_t r = {0};
  mw_buf_printf(&r, "%s %s HTTP/1.1\r\nHost: %s", req->method, req->path, req->host);
  if (req->port != 80) mw_buf_printf(&r, ":%d", req->port);
  mw_buf_puts(&r, "\r\nConnection: close\r\n");
  bool has_len = false;
  for (size_t i = 0; i < req->nheaders; i++) {
    if (strpbrk(req->headers[i].name, "\r\n:") || strpbrk(req->headers[i].value, "\r\n")) continue;
    if (strcasecmp(req->headers[i].name, "host") == 0 ||
        strcasecmp(req->headers[i].name, "connection") == 0)
      continue;
    if (strcasecmp(req->headers[i].name, "content-length") == 0) has_len = true;
    mw_buf_printf(&r, "%s: %s\r\n", req->headers[i].name, req->headers[i].value);
  }
  if (!has_len &&
      (req->body_len || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0))
    mw_buf_printf(&r, "Content-Length: %zu\r\n", req->body_len);
  mw_buf_puts(&r, "\r\n");
  if (req->body_len) mw_buf_append(&r, req->body, req->body_len);
  j->request = mw_buf_steal(&r, &j->request_len);

  uv_timer_init(loop, &j->timer);
  j->timer.data = j;
  j->open_handles = 1;
  uv_timer_start(&j->timer, on_timeout, req->timeout_ms ? req->timeout_ms : 30000, 0);

  char port[8];
  snprintf(port, sizeof port, "%d", req->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  j->gai.data = j;
  j->resolving = true;
  int rc = uv_getaddrinfo(loop, &j->gai, on_resolved, j->host, port, &hints);
  if (rc < 0) {
    j->resolving = false;
    j->done = true;
    teardown(j); /* frees the job once the timer has closed; no callback */
    *err = rc;
    return NULL;
  }
  return j;
}

void mw_httpc_cancel(mw_httpc_t *j) {
  if (!j || j->done) return;
  j->cancelled = true;
  finish(j, -ECANCELED, "cancelled");
}
