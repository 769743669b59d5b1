/* Logging sink. The level is the one process-wide setting outside the server
 * context: log calls happen in modules (config parsing) that run before a
 * server exists. */
#include "log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static mw_log_level_t g_level = MW_LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error"};

int mw_log_level_parse(const char *s) {
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) return i;
  if (strcmp(s, "warning") == 0) return MW_LOG_WARN;
  return -1;
}

const char *mw_log_level_name(mw_log_level_t level) {
  return names[level];
}
void mw_log_set_level(mw_log_level_t level) {
  g_level = level;
}
mw_log_level_t mw_log_get_level(void) {
  return g_level;
}

/* Longest value written, in bytes: a script can throw or log a message of any
 * size, and one multi-MiB line holds the loop while it is written and swamps
 * whatever collects the logs. The rest is counted, not written. */
#define VALUE_MAX 16384

/* Bytes of [v, end) before the first one logfmt must escape. */
static size_t plain_run(const char *v, const char *end) {
  const char *p = v;
  while (p < end && !strchr("\"\\\n\r\t", *p))
    p++;
  return (size_t)(p - v);
}

static void put_value(FILE *f, const char *v) {
  size_t len = strnlen(v, VALUE_MAX + 1), more = 0;
  if (len > VALUE_MAX) {
    len = VALUE_MAX;
    while (len > 0 && ((unsigned char)v[len] & 0xC0) == 0x80)
      len--; /* not inside a UTF-8 character */
    more = strlen(v + len);
  }
  const char *end = v + len;
  bool quote = len == 0 || more > 0;
  for (const char *p = v; p < end && !quote; p++)
    quote = strchr(" \"=\t\r\n\\", *p) != NULL;
  if (!quote) {
    fwrite(v, 1, len, f);
    return;
  }
  fputc('"', f);
  /* stderr is unbuffered: plain runs go out in one write each, not one per
   * byte (a script's multi-MiB error message took seconds of the loop). */
  for (;;) {
    size_t n = plain_run(v, end);
    fwrite(v, 1, n, f);
    v += n;
    if (v == end) break;
    switch (*v++) {
    case '"':
      fputs("\\\"", f);
      break;
    case '\\':
      fputs("\\\\", f);
      break;
    case '\n':
      fputs("\\n", f);
      break;
    case '\r':
      fputs("\\r", f);
      break;
    default:
      fputs("\\t", f);
    }
  }
  if (more > 0) fprintf(f, "...(%zu more bytes)", more);
  fputc('"', f);
}

/* A key goes out bare, so anything that would end it or read as logfmt
 * syntax (a script's field name with a space or '=') becomes '_'. */
static void put_key(FILE *f, const char *k) {
  fputc(' ', f);
  for (; *k; k++)
    fputc(isalnum((unsigned char)*k) || strchr("_.-/", *k) ? *k : '_', f);
  fputc('=', f);
}

static void put_head(FILE *f, mw_log_level_t level) {
  struct timespec ts;
  struct tm tm;
  char buf[32];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(f, "ts=%s.%03ldZ level=%s msg=", buf, ts.tv_nsec / 1000000, names[level]);
}

void mw_log(mw_log_level_t level, const char *msg, int nkv, ...) {
  if (level < g_level) return;
  flockfile(stderr);
  put_head(stderr, level);
  put_value(stderr, msg);
  va_list ap;
  va_start(ap, nkv);
  for (int i = 0; i < nkv; i++) {
    const char *k = va_arg(ap, const char *);
    const char *v = va_arg(ap, const char *);
    if (!v) continue;
    put_key(stderr, k);
    put_value(stderr, v);
  }
  va_end(ap);
  fputc('\n', stderr);
  funlockfile(stderr);
}

void mw_logf(mw_log_level_t level, const char *fmt, ...) {
  if (level < g_level) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  mw_log(level, buf, 0);
}
