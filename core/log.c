/* Logging sink. The level is the one process-wide setting outside the server
 * context: log calls happen in modules (config parsing) that run before a
 * server exists. */
#include "log.h"

#include <stdbool.h>

#include <stdarg.h>
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

static void put_value(FILE *f, const char *v) {
  bool quote = *v == '\0' || strpbrk(v, " \"=\t\r\n\\") != NULL;
  if (!quote) {
    fputs(v, f);
    return;
  }
  fputc('"', f);
  /* stderr is unbuffered: plain runs go out in one write each, not one per
   * byte (a script's multi-MiB error message took seconds of the loop). */
  for (;;) {
    size_t n = strcspn(v, "\"\\\n\r\t");
    fwrite(v, 1, n, f);
    v += n;
    if (!*v) break;
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
  fputc('"', f);
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
    fprintf(stderr, " %s=", k);
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
