/* HTTP/1.1 request state and response helpers. A request (with its llhttp
 * parser) exists only while one is being read or handled; an idle keep-alive
 * connection or an SSE stream holds none. Finished requests wait in the
 * server's pool, buffers and all, for the next one read on any connection. */
#ifndef MW_HTTP_H
#define MW_HTTP_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MW_HTTP_MAX_HEAD (16u * 1024) /* URL + header bytes; over it: 431 */
#define MW_HTTP_MAX_HEADERS 128

typedef struct mw_header_span {
  uint32_t name_off, name_len, value_off, value_len;
} mw_header_span_t;

typedef struct mw_req {
  llhttp_t parser;
  char *head; /* owned: URL and header bytes; names lower-cased */
  uint32_t head_len, head_cap;
  uint32_t url_off, url_len;
  mw_header_span_t *hdrs; /* owned */
  uint32_t nhdrs, hdrs_cap;
  char *body; /* owned; NULL until a body arrives (a pooled request keeps a small one) */
  size_t body_len, body_cap;
  struct mw_req *next_spare; /* the pool's list link while pooled */
  int error_status;          /* set by a parser callback that rejects the request */
  uint8_t method;            /* llhttp_method_t */
  bool in_field;             /* a header name is being received */
  bool complete;             /* on_message_complete seen */
  bool keep_alive;
  bool http10;
  bool head_done; /* on_headers_complete seen */
} mw_req_t;

/* Spare requests. A keep-alive client's every request would otherwise
 * malloc and free the request, its head, header list and body buffers. */
typedef struct mw_req_pool {
  mw_req_t *spare; /* owned, linked by next_spare */
  unsigned n;
} mw_req_pool_t;

/* A request with a fresh parser, from the pool when it has one (pool may be
 * NULL); `settings` and `owner` are borrowed (parser.data = owner). */
mw_req_t *mw_req_new(mw_req_pool_t *pool, const llhttp_settings_t *settings, void *owner);
/* Gives r back to the pool (a bounded number, with small buffers only), or
 * frees it when pool is NULL or full. Accepts NULL. */
void mw_req_free(mw_req_pool_t *pool, mw_req_t *r);
/* Frees every pooled request. */
void mw_req_pool_dispose(mw_req_pool_t *pool);

/* Appends parser data to the head; returns 0 or -E2BIG past MW_HTTP_MAX_HEAD. */
int mw_req_add_url(mw_req_t *r, const char *at, size_t len);
int mw_req_add_header_field(mw_req_t *r, const char *at, size_t len);
int mw_req_end_header_field(mw_req_t *r);
int mw_req_add_header_value(mw_req_t *r, const char *at, size_t len);
/* Ends a header value, dropping trailing whitespace (llhttp keeps it). */
int mw_req_end_header_value(mw_req_t *r);
/* Ends the URL or a header value (llhttp's *_complete callbacks): the head
 * then holds it as a C string. */
int mw_req_end_piece(mw_req_t *r);
/* Appends body bytes; returns 0 or -E2BIG past `max`. */
int mw_req_add_body(mw_req_t *r, const char *at, size_t len, size_t max);

static inline const char *mw_req_url(const mw_req_t *r) {
  return r->head + r->url_off;
}
/* Value of the first header named `lname` (lower-case), or NULL. */
const char *mw_req_header(const mw_req_t *r, const char *lname);
static inline const char *mw_req_header_name(const mw_req_t *r, uint32_t i) {
  return r->head + r->hdrs[i].name_off;
}
static inline const char *mw_req_header_value(const mw_req_t *r, uint32_t i) {
  return r->head + r->hdrs[i].value_off;
}

const char *mw_http_reason(int status);

/* Does the comma-separated header value `list` contain `token` (case-insensitive,
 * ignoring parameters such as ";q=0.9")? */
bool mw_http_list_has(const char *list, const char *token);

#endif
