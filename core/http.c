/* Request accumulation for llhttp callbacks; see http.h. */
#include "http.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "common.h"

/* Pooled requests: enough for the connections busy at once under load, and
 * only buffers of a common request's size: under ~800 KiB at most, ~130 KiB for
 * requests of a few hundred bytes. */
#define POOL_MAX 64
#define POOL_MAX_BUF 4096

mw_req_t *mw_req_new(mw_req_pool_t *pool, const llhttp_settings_t *settings, void *owner) {
  mw_req_t *r = pool ? pool->spare : NULL;
  if (r) {
    pool->spare = r->next_spare;
    pool->n--;
    /* Everything but the buffers starts over. */
    *r = (mw_req_t){.head = r->head,
                    .head_cap = r->head_cap,
                    .hdrs = r->hdrs,
                    .hdrs_cap = r->hdrs_cap,
                    .body = r->body,
                    .body_cap = r->body_cap};
  } else {
    r = mw_calloc(1, sizeof *r);
  }
  llhttp_init(&r->parser, HTTP_REQUEST, settings);
  r->parser.data = owner;
  return r;
}

static void req_dispose(mw_req_t *r) {
  mw_free(r->head);
  mw_free(r->hdrs);
  mw_free(r->body);
  mw_free(r);
}

void mw_req_free(mw_req_pool_t *pool, mw_req_t *r) {
  if (!r) return;
  if (!pool || pool->n == POOL_MAX || r->head_cap > POOL_MAX_BUF ||
      r->hdrs_cap * sizeof *r->hdrs > POOL_MAX_BUF) {
    req_dispose(r);
    return;
  }
  if (r->body_cap > POOL_MAX_BUF) {
    mw_free(r->body);
    r->body = NULL;
    r->body_cap = 0;
  }
  r->next_spare = pool->spare;
  pool->spare = r;
  pool->n++;
}

void mw_req_pool_dispose(mw_req_pool_t *pool) {
  while (pool->spare) {
    mw_req_t *r = pool->spare;
    pool->spare = r->next_spare;
    req_dispose(r);
  }
  pool->n = 0;
}

static int head_append(mw_req_t *r, const char *at, size_t len, bool lower) {
  /* +1 keeps room for the NUL each piece gets in mw_req_finish_head. */
  if ((size_t)r->head_len + len + 1 > MW_HTTP_MAX_HEAD) return -E2BIG;
  if (r->head_len + len + 1 > r->head_cap) {
    uint32_t cap = r->head_cap ? r->head_cap : 512;
    while (cap < r->head_len + len + 1)
      cap *= 2;
    r->head = mw_realloc(r->head, cap);
    r->head_cap = cap;
  }
  char *p = r->head + r->head_len;
  if (lower)
    for (size_t i = 0; i < len; i++)
      p[i] = (char)tolower((unsigned char)at[i]);
  else
    memcpy(p, at, len);
  r->head_len += (uint32_t)len;
  return 0;
}

int mw_req_add_url(mw_req_t *r, const char *at, size_t len) {
  if (r->url_len == 0) r->url_off = r->head_len;
  r->url_len += (uint32_t)len;
  return head_append(r, at, len, false);
}

/* Ends the current piece (URL, name or value) with a NUL; head_append kept a
 * byte free for it. */
int mw_req_end_piece(mw_req_t *r) {
  if (head_append(r, "", 0, false) < 0) return -E2BIG;
  r->head[r->head_len++] = '\0';
  return 0;
}

int mw_req_add_header_field(mw_req_t *r, const char *at, size_t len) {
  if (!r->in_field) {
    if (r->nhdrs == MW_HTTP_MAX_HEADERS) return -E2BIG;
    if (r->nhdrs == r->hdrs_cap) {
      r->hdrs_cap = r->hdrs_cap ? r->hdrs_cap * 2 : 16;
      r->hdrs = mw_realloc(r->hdrs, r->hdrs_cap * sizeof *r->hdrs);
    }
    mw_header_span_t *h = &r->hdrs[r->nhdrs++];
    h->name_off = r->head_len;
    h->name_len = h->value_len = 0;
    h->value_off = 0;
    r->in_field = true;
  }
  r->hdrs[r->nhdrs - 1].name_len += (uint32_t)len;
  return head_append(r, at, len, true);
}

int mw_req_end_header_field(mw_req_t *r) {
  r->in_field = false;
  if (mw_req_end_piece(r) < 0) return -E2BIG;
  r->hdrs[r->nhdrs - 1].value_off = r->head_len; /* an empty value gets no value callback */
  return 0;
}

int mw_req_add_header_value(mw_req_t *r, const char *at, size_t len) {
  r->hdrs[r->nhdrs - 1].value_len += (uint32_t)len;
  return head_append(r, at, len, false);
}

int mw_req_end_header_value(mw_req_t *r) {
  /* llhttp strips leading whitespace but hands over trailing SP/HTAB, which
   * RFC 9110 §5.5 excludes from the value. */
  mw_header_span_t *h = &r->hdrs[r->nhdrs - 1];
  while (h->value_len && (r->head[r->head_len - 1] == ' ' || r->head[r->head_len - 1] == '\t')) {
    h->value_len--;
    r->head_len--;
  }
  return mw_req_end_piece(r);
}

int mw_req_add_body(mw_req_t *r, const char *at, size_t len, size_t max) {
  if (r->body_len + len > max) return -E2BIG;
  if (r->body_len + len + 1 > r->body_cap) {
    size_t cap = r->body_cap ? r->body_cap : 1024;
    while (cap < r->body_len + len + 1)
      cap *= 2;
    if (cap > max + 1) cap = max + 1;
    r->body = mw_realloc(r->body, cap);
    r->body_cap = cap;
  }
  memcpy(r->body + r->body_len, at, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
  return 0;
}

const char *mw_req_header(const mw_req_t *r, const char *lname) {
  /* Lengths first: most names differ in length, and a request is asked for a
   * few headers it mostly does not have. */
  size_t len = strlen(lname);
  for (uint32_t i = 0; i < r->nhdrs; i++) {
    const mw_header_span_t *h = &r->hdrs[i];
    if (h->name_len == len && memcmp(r->head + h->name_off, lname, len) == 0)
      return r->head + h->value_off;
  }
  return NULL;
}

bool mw_http_list_has(const char *list, const char *token) {
  size_t tl = strlen(token);
  const char *p = list;
  while (p && *p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *end = p;
    while (*end && *end != ',' && *end != ';' && *end != ' ' && *end != '\t')
      end++;
    if ((size_t)(end - p) == tl && strncasecmp(p, token, tl) == 0) return true;
    p = strchr(end, ',');
  }
  return false;
}

const char *mw_http_reason(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 406:
    return "Not Acceptable";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 410:
    return "Gone";
  case 413:
    return "Content Too Large";
  case 415:
    return "Unsupported Media Type";
  case 422:
    return "Unprocessable Content";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Unknown";
  }
}
