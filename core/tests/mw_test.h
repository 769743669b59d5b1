/* Minimal unit-test harness: each test file defines TEST(name) functions and a
 * main() that runs them with RUN(name). A failed CHECK records the failure and
 * continues; main returns non-zero if anything failed. */
#ifndef MW_TEST_H
#define MW_TEST_H

#include <stdio.h>
#include <string.h>

static int mw_test_failures;
static int mw_test_checks;

#define CHECK(cond)                                                                                 \
  do {                                                                                              \
    mw_test_checks++;                                                                               \
    if (!(cond)) {                                                                                  \
      mw_test_failures++;                                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                      \
    }                                                                                               \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                                          \
  do {                                                                                              \
    long long _a = (long long)(a), _b = (long long)(b);                                             \
    mw_test_checks++;                                                                               \
    if (_a != _b) {                                                                                 \
      mw_test_failures++;                                                                           \
      fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, _a,     \
              _b);                                                                                  \
    }                                                                                               \
  } while (0)

#define CHECK_EQ_STR(a, b)                                                                          \
  do {                                                                                              \
    const char *_a = (a), *_b = (b);                                                                \
    mw_test_checks++;                                                                               \
    if (!_a || !_b || strcmp(_a, _b) != 0) {                                                        \
      mw_test_failures++;                                                                           \
      fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b,     \
              _a ? _a : "(null)", _b ? _b : "(null)");                                              \
    }                                                                                               \
  } while (0)

#define TEST(name) static void test_##name(void)
#define RUN(name)                                                                                   \
  do {                                                                                              \
    int _before = mw_test_failures;                                                                 \
    test_##name();                                                                                  \
    printf("%s %s\n", mw_test_failures == _before ? "ok  " : "FAIL", #name);                        \
  } while (0)
#define TEST_DONE()                                                                                 \
  (printf("%d checks, %d failed\n", mw_test_checks, mw_test_failures), mw_test_failures ? 1 : 0)

#endif
