/* Aborting allocators: see common.h for why core C does not recover from ENOMEM. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/random.h>
#include <sys/types.h>

static void oom(size_t n) {
  fprintf(stderr, "moonwire: out of memory allocating %zu bytes\n", n);
  abort();
}

void *mw_malloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) oom(n);
  return p;
}

void *mw_calloc(size_t count, size_t n) {
  void *p = calloc(count ? count : 1, n ? n : 1);
  if (!p) oom(count * n);
  return p;
}

void *mw_realloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) oom(n);
  return q;
}

char *mw_strndup(const char *s, size_t n) {
  char *d = mw_malloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *mw_strdup(const char *s) {
  return mw_strndup(s, strlen(s));
}

void mw_free(void *p) {
  free(p);
}

void mw_buf_append(mw_buf_t *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    b->data = mw_realloc(b->data, cap);
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void mw_buf_puts(mw_buf_t *b, const char *s) {
  mw_buf_append(b, s, strlen(s));
}

void mw_buf_printf(mw_buf_t *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    mw_buf_append(b, small, (size_t)n);
    return;
  }
  char *big = mw_malloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  mw_buf_append(b, big, (size_t)n);
  mw_free(big);
}

char *mw_buf_steal(mw_buf_t *b, size_t *len) {
  char *d = b->data;
  if (len) *len = b->len;
  if (!d) d = mw_calloc(1, 1);
  b->data = NULL;
  b->len = b->cap = 0;
  return d;
}

void mw_buf_dispose(mw_buf_t *b) {
  mw_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void mw_random_bytes(void *buf, size_t len) {
  unsigned char *p = buf;
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "moonwire: getrandom failed: %s\n", strerror(errno));
      abort();
    }
    p += n;
    len -= (size_t)n;
  }
}

size_t mw_base64url(const unsigned char *in, size_t len, char *out) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0, i = 0;
  for (; i + 2 < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = tab[v >> 18 & 63];
    out[o++] = tab[v >> 12 & 63];
    out[o++] = tab[v >> 6 & 63];
    out[o++] = tab[v & 63];
  }
  if (i < len) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = tab[v >> 18 & 63];
    out[o++] = tab[v >> 12 & 63];
    if (i + 1 < len) out[o++] = tab[v >> 6 & 63];
  }
  out[o] = '\0';
  return o;
}

int mw_parse_u64(const char *s, size_t len, uint64_t *out) {
  uint64_t v = 0;
  if (len == 0 || len > 20) return -EINVAL;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -EINVAL;
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return -EINVAL;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}
