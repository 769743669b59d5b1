/* Tests for core/log.c: logfmt quoting and escaping, and the cap on one value
 * (a script can throw or log a message of any size). mw_log writes to stderr,
 * so each case points fd 2 at a temporary file for the call and reads it back. */
#include "mw_test.h"

#include <stdlib.h>
#include <unistd.h>

#include "log.h"

/* The part of the line after "ts=… level=… " (owned by the caller), or NULL. */
static char *logged(const char *msg, const char *key, const char *value) {
  FILE *tmp = tmpfile();
  if (!tmp) return NULL;
  fflush(stderr);
  int saved = dup(2);
  if (saved < 0 || dup2(fileno(tmp), 2) < 0) {
    fclose(tmp);
    return NULL;
  }
  mw_log(MW_LOG_ERROR, msg, 1, key, value);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  fseek(tmp, 0, SEEK_END);
  long size = ftell(tmp);
  rewind(tmp);
  char *text = size >= 0 ? calloc(1, (size_t)size + 1) : NULL;
  if (text && fread(text, 1, (size_t)size, tmp) != (size_t)size) text[0] = '\0';
  fclose(tmp);
  char *msg_at = text ? strstr(text, "msg=") : NULL;
  if (!msg_at) {
    free(text);
    return NULL;
  }
  memmove(text, msg_at, strlen(msg_at) + 1);
  return text;
}

TEST(quoting) {
  char *t = logged("plain", "k", "v");
  CHECK_EQ_STR(t, "msg=plain k=v\n");
  free(t);
  t = logged("two words", "k", "a\"b\\c\nd\re\tf=g");
  CHECK_EQ_STR(t, "msg=\"two words\" k=\"a\\\"b\\\\c\\nd\\re\\tf=g\"\n");
  free(t);
  t = logged("", "k", "");
  CHECK_EQ_STR(t, "msg=\"\" k=\"\"\n");
  free(t);
  /* A script's field name cannot break the line. */
  t = logged("m", "a b=c\"d", "v");
  CHECK_EQ_STR(t, "msg=m a_b_c_d=v\n");
  free(t);
}

TEST(long_value_is_cut) {
  size_t n = 1000000;
  char *big = malloc(n + 1);
  if (!big) return;
  memset(big, 'x', n);
  big[n] = '\0';
  char *t = logged("script error", "error", big);
  char want[64];
  snprintf(want, sizeof want, "...(%zu more bytes)\"\n", n - 16384);
  CHECK(t != NULL);
  if (t) {
    /* The first 16384 bytes of the value, as they were. */
    CHECK(strncmp(t, "msg=\"script error\" error=\"", 26) == 0 && strspn(t + 26, "x") == 16384);
    CHECK(strlen(t) == strlen("msg=\"script error\" error=\"") + 16384 + strlen(want));
    CHECK(strstr(t, want) != NULL);
  }
  free(t);

  /* A cut never splits a UTF-8 character: "é" (2 bytes) across the limit is
   * left out whole. */
  memset(big, 'x', n);
  big[16383] = (char)0xC3;
  big[16384] = (char)0xA9;
  t = logged("m", "error", big);
  snprintf(want, sizeof want, "x...(%zu more bytes)\"\n", n - 16383);
  CHECK(t != NULL);
  if (t) {
    CHECK(strstr(t, want) != NULL);
    CHECK(strchr(t, (char)0xC3) == NULL);
  }
  free(t);

  /* At the limit exactly, nothing is cut. */
  big[16383] = 'x';
  big[16384] = '\0';
  t = logged("m", "error", big);
  CHECK(t != NULL && strstr(t, "more bytes") == NULL &&
        strlen(t) == strlen("msg=m error=") + 16384 + 1);
  free(t);
  free(big);
}

int main(void) {
  RUN(quoting);
  RUN(long_value_is_cut);
  printf("%d checks, %d failed\n", mw_test_checks, mw_test_failures);
  return mw_test_failures != 0;
}
