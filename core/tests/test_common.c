/* Tests for core/common.c: mw_buf_* growth, printf past the small stack buffer
 * and steal; base64url against RFC 4648 §10 vectors (url alphabet, no
 * padding) into exactly-sized buffers; strict u64 parsing; random bytes; and
 * the intrusive list helpers from common.h. */
#include "mw_test.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common.h"

/* ---- mw_buf ---- */

TEST(buf_append) {
  mw_buf_t b = {0};
  mw_buf_append(&b, "hello", 5);
  CHECK_EQ_INT(b.len, 5);
  CHECK_EQ_STR(b.data, "hello");
  mw_buf_append(&b, ", world!!", 7);
  CHECK_EQ_INT(b.len, 12);
  CHECK_EQ_STR(b.data, "hello, world");
  mw_buf_puts(&b, "");
  CHECK_EQ_INT(b.len, 12);
  mw_buf_append(&b, "\0x", 2); /* binary-safe: len counts the NUL */
  CHECK_EQ_INT(b.len, 14);
  CHECK(memcmp(b.data, "hello, world\0x", 15) == 0);
  CHECK(b.cap > b.len);
  mw_buf_dispose(&b);
  CHECK(b.data == NULL);
  CHECK_EQ_INT(b.len, 0);
  CHECK_EQ_INT(b.cap, 0);
}

TEST(buf_grows) {
  /* Many appends across several reallocations keep every byte. */
  mw_buf_t b = {0};
  for (int i = 0; i < 5000; i++)
    mw_buf_append(&b, (const char[]){(char)('a' + i % 26)}, 1);
  CHECK_EQ_INT(b.len, 5000);
  CHECK(b.cap > 5000);
  CHECK_EQ_INT(strlen(b.data), 5000);
  int bad = 0;
  for (int i = 0; i < 5000; i++)
    if (b.data[i] != (char)('a' + i % 26)) bad++;
  CHECK_EQ_INT(bad, 0);
  mw_buf_dispose(&b);
}

TEST(buf_printf) {
  mw_buf_t b = {0};
  mw_buf_printf(&b, "%s=%d;", "n", 42);
  mw_buf_printf(&b, "%05.1f|%x", 3.14159, 255u);
  CHECK_EQ_STR(b.data, "n=42;003.1|ff");
  CHECK_EQ_INT(b.len, 13);

  /* Output longer than the 256-byte fast path, on a non-empty buffer. */
  char big[1001];
  for (int i = 0; i < 1000; i++)
    big[i] = (char)('0' + i % 10);
  big[1000] = '\0';
  mw_buf_printf(&b, "[%s]{%d}", big, -7);
  CHECK_EQ_INT(b.len, 13 + 1 + 1000 + 1 + 4);
  CHECK(memcmp(b.data, "n=42;003.1|ff[", 14) == 0);
  CHECK(memcmp(b.data + 14, big, 1000) == 0);
  CHECK_EQ_STR(b.data + 1014, "]{-7}");

  /* Exactly at the fast-path edge: 255 and 256 characters. */
  mw_buf_t e = {0};
  mw_buf_printf(&e, "%.*s", 255, big);
  CHECK_EQ_INT(e.len, 255);
  mw_buf_printf(&e, "%.*s", 256, big);
  CHECK_EQ_INT(e.len, 511);
  CHECK(memcmp(e.data + 255, big, 256) == 0);
  CHECK_EQ_INT(strlen(e.data), 511);
  mw_buf_dispose(&e);
  mw_buf_dispose(&b);
}

TEST(buf_steal) {
  mw_buf_t b = {0};
  mw_buf_puts(&b, "stolen bytes");
  size_t len = 0;
  char *s = mw_buf_steal(&b, &len);
  CHECK_EQ_INT(len, 12);
  CHECK_EQ_STR(s, "stolen bytes");
  CHECK(b.data == NULL);
  CHECK_EQ_INT(b.len, 0);
  CHECK_EQ_INT(b.cap, 0);
  /* The buffer is reusable and independent of the stolen string. */
  mw_buf_puts(&b, "again");
  CHECK_EQ_STR(b.data, "again");
  CHECK_EQ_STR(s, "stolen bytes");
  mw_free(s);
  s = mw_buf_steal(&b, NULL);
  CHECK_EQ_STR(s, "again");
  mw_free(s);

  /* Stealing an empty buffer still yields a freeable empty string. */
  mw_buf_t empty = {0};
  len = 99;
  s = mw_buf_steal(&empty, &len);
  CHECK(s != NULL);
  CHECK_EQ_INT(len, 0);
  CHECK_EQ_STR(s, "");
  mw_free(s);
  mw_buf_dispose(&empty);
}

/* ---- mw_base64url ---- */

/* Encodes into a heap buffer of exactly the documented size (4*len/3+2), so
 * ASan catches a write past it. */
static void check_b64(const char *in, size_t len, const char *want) {
  size_t cap = 4 * len / 3 + 2;
  char *out = mw_malloc(cap);
  size_t n = mw_base64url((const unsigned char *)in, len, out);
  CHECK_EQ_STR(out, want);
  CHECK_EQ_INT(n, strlen(want));
  mw_free(out);
}

TEST(base64url_rfc4648) {
  check_b64("", 0, "");
  check_b64("f", 1, "Zg");
  check_b64("fo", 2, "Zm8");
  check_b64("foo", 3, "Zm9v");
  check_b64("foob", 4, "Zm9vYg");
  check_b64("fooba", 5, "Zm9vYmE");
  check_b64("foobar", 6, "Zm9vYmFy");
}

TEST(base64url_alphabet) {
  /* Standard base64 "+/8=" and "////": '+' -> '-', '/' -> '_', no '='. */
  check_b64("\xfb\xff", 2, "-_8");
  check_b64("\xff\xff\xff", 3, "____");
  check_b64("\xfb\xef\xbe", 3, "----");
  check_b64("\0\0\0", 3, "AAAA");
  check_b64("\0", 1, "AA");
  check_b64("\x00\x10\x83\x10\x51\x87\x20\x92\x8b\x30\xd3\x8f\x41\x14\x93\x51\x55\x97"
            "\x61\x96\x9b\x71\xd7\x9f\x82\x18\xa3\x92\x59\xa7\xa2\x9a\xab\xb2\xdb\xaf"
            "\xc3\x1c\xb3\xd3\x5d\xb7\xe3\x9e\xbb\xf3\xdf\xbf",
            48, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
  /* A 16-byte session id gives 22 characters. */
  unsigned char id[16];
  memset(id, 0xab, sizeof id);
  char out[4 * 16 / 3 + 2];
  CHECK_EQ_INT(mw_base64url(id, sizeof id, out), 22);
  CHECK_EQ_INT(strlen(out), 22);
}

/* ---- mw_parse_u64 ---- */

static int parse(const char *s, uint64_t *out) {
  return mw_parse_u64(s, strlen(s), out);
}

TEST(parse_u64_valid) {
  uint64_t v = 1;
  CHECK_EQ_INT(parse("0", &v), 0);
  CHECK(v == 0);
  CHECK_EQ_INT(parse("42", &v), 0);
  CHECK(v == 42);
  CHECK_EQ_INT(parse("007", &v), 0);
  CHECK(v == 7);
  CHECK_EQ_INT(parse("4294967296", &v), 0);
  CHECK(v == 4294967296ULL);
  CHECK_EQ_INT(parse("18446744073709551615", &v), 0);
  CHECK(v == UINT64_MAX);
  CHECK_EQ_INT(parse("18446744073709551610", &v), 0);
  CHECK(v == UINT64_MAX - 5);
  /* Exactly [s, s+len): what follows is not read. */
  CHECK_EQ_INT(mw_parse_u64("123abc", 3, &v), 0);
  CHECK(v == 123);
  CHECK_EQ_INT(mw_parse_u64("98765", 2, &v), 0);
  CHECK(v == 98);
}

TEST(parse_u64_invalid) {
  uint64_t v = 77;
  CHECK_EQ_INT(parse("18446744073709551616", &v), -EINVAL);
  CHECK_EQ_INT(parse("18446744073709551620", &v), -EINVAL);
  CHECK_EQ_INT(parse("99999999999999999999", &v), -EINVAL);
  CHECK_EQ_INT(parse("184467440737095516150", &v), -EINVAL);
  CHECK_EQ_INT(parse("", &v), -EINVAL);
  CHECK_EQ_INT(mw_parse_u64("5", 0, &v), -EINVAL);
  CHECK_EQ_INT(parse("12a", &v), -EINVAL);
  CHECK_EQ_INT(parse("a12", &v), -EINVAL);
  CHECK_EQ_INT(parse("-1", &v), -EINVAL);
  CHECK_EQ_INT(parse("+1", &v), -EINVAL);
  CHECK_EQ_INT(parse(" 1", &v), -EINVAL);
  CHECK_EQ_INT(parse("1 ", &v), -EINVAL);
  CHECK_EQ_INT(parse("1.0", &v), -EINVAL);
  CHECK_EQ_INT(parse("0x10", &v), -EINVAL);
  CHECK_EQ_INT(mw_parse_u64("1\0002", 3, &v), -EINVAL);
}

/* ---- mw_random_bytes ---- */

TEST(random_bytes) {
  unsigned char a[32], b[32], zero[32] = {0};
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  mw_random_bytes(a, sizeof a);
  mw_random_bytes(b, sizeof b);
  CHECK(memcmp(a, b, sizeof a) != 0);
  CHECK(memcmp(a, zero, sizeof a) != 0);
  CHECK(memcmp(b, zero, sizeof b) != 0);
  /* A large request is filled completely (getrandom may return short). */
  enum { BIG = 1 << 20 };
  unsigned char *big = mw_calloc(1, BIG);
  mw_random_bytes(big, BIG);
  size_t zeros = 0;
  for (size_t i = 0; i < BIG; i++)
    if (!big[i]) zeros++;
  /* Expect ~4096 zero bytes; a missed tail would add many more. */
  CHECK(zeros < 8192);
  CHECK(memcmp(big + BIG - 32, zero, 32) != 0);
  mw_free(big);
  mw_random_bytes(a, 0); /* no-op */
}

/* ---- allocators ---- */

TEST(alloc) {
  char *s = mw_strdup("moonwire");
  CHECK_EQ_STR(s, "moonwire");
  mw_free(s);
  s = mw_strndup("moonwire", 4);
  CHECK_EQ_STR(s, "moon");
  mw_free(s);
  s = mw_strndup("a\0b", 3);
  CHECK(memcmp(s, "a\0b\0", 4) == 0);
  mw_free(s);
  int *z = mw_calloc(16, sizeof *z);
  int nonzero = 0;
  for (int i = 0; i < 16; i++)
    nonzero += z[i] != 0;
  CHECK_EQ_INT(nonzero, 0);
  z = mw_realloc(z, 1024 * sizeof *z);
  z[1023] = 5;
  CHECK_EQ_INT(z[0], 0);
  mw_free(z);
  void *p = mw_malloc(0); /* zero-size still gives a freeable pointer */
  CHECK(p != NULL);
  mw_free(p);
  mw_free(NULL);
}

/* ---- mw_list ---- */

typedef struct litem {
  mw_list_t link;
  int v;
} litem_t;

/* Collects values front to back and back to front; returns the count. */
static int walk(mw_list_t *head, int *fwd, int *back, int max) {
  int n = 0;
  for (mw_list_t *p = head->next; p != head && n < max; p = p->next)
    fwd[n++] = mw_container_of(p, litem_t, link)->v;
  int m = 0;
  for (mw_list_t *p = head->prev; p != head && m < max; p = p->prev)
    back[m++] = mw_container_of(p, litem_t, link)->v;
  return n == m ? n : -1;
}

TEST(list_basics) {
  mw_list_t head;
  mw_list_init(&head);
  CHECK(mw_list_empty(&head));
  litem_t it[5];
  for (int i = 0; i < 5; i++) {
    it[i].v = i;
    mw_list_init(&it[i].link);
    CHECK(mw_list_empty(&it[i].link)); /* an unlinked node points at itself */
    mw_list_push_back(&head, &it[i].link);
  }
  CHECK(!mw_list_empty(&head));
  int fwd[8], back[8];
  CHECK_EQ_INT(walk(&head, fwd, back, 8), 5);
  for (int i = 0; i < 5; i++) {
    CHECK_EQ_INT(fwd[i], i);
    CHECK_EQ_INT(back[i], 4 - i);
  }

  /* Remove middle, head and tail; removal is idempotent. */
  mw_list_remove(&it[2].link);
  mw_list_remove(&it[0].link);
  mw_list_remove(&it[4].link);
  mw_list_remove(&it[4].link);
  CHECK(mw_list_empty(&it[2].link));
  CHECK_EQ_INT(walk(&head, fwd, back, 8), 2);
  CHECK_EQ_INT(fwd[0], 1);
  CHECK_EQ_INT(fwd[1], 3);
  CHECK_EQ_INT(back[0], 3);

  /* A removed node can be pushed again, at the back. */
  mw_list_push_back(&head, &it[0].link);
  CHECK_EQ_INT(walk(&head, fwd, back, 8), 3);
  CHECK_EQ_INT(fwd[2], 0);

  /* foreach_safe survives removing the current node. */
  mw_list_t *pos, *tmp;
  int seen = 0;
  mw_list_foreach_safe(pos, tmp, &head) {
    seen++;
    mw_list_remove(pos);
  }
  CHECK_EQ_INT(seen, 3);
  CHECK(mw_list_empty(&head));
  CHECK(mw_list_empty(&it[1].link));
  CHECK(mw_list_empty(&it[3].link));
  CHECK(mw_list_empty(&it[0].link));
}

TEST(container_of) {
  litem_t it = {.v = 9};
  CHECK(mw_container_of(&it.link, litem_t, link) == &it);
  int arr[7];
  CHECK_EQ_INT(MW_ARRAY_SIZE(arr), 7);
}

int main(void) {
  RUN(buf_append);
  RUN(buf_grows);
  RUN(buf_printf);
  RUN(buf_steal);
  RUN(base64url_rfc4648);
  RUN(base64url_alphabet);
  RUN(parse_u64_valid);
  RUN(parse_u64_invalid);
  RUN(random_bytes);
  RUN(alloc);
  RUN(list_basics);
  RUN(container_of);
  return TEST_DONE();
}
