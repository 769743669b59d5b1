/* Tests for core/hmap.c: insert/find/remove across many grows, keys that share
 * prefixes, binary keys with explicit lengths (embedded NULs), counts, and the
 * seed actually changing the hash. */
#include "mw_test.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "hmap.h"

typedef struct entry {
  mw_hnode_t node;
  char key[32]; /* owns the bytes the map borrows */
  size_t len;
} entry_t;

static entry_t *entry_of(mw_hnode_t *n) {
  return n ? mw_container_of(n, entry_t, node) : NULL;
}

static void entry_set(entry_t *e, const char *key, size_t len) {
  memcpy(e->key, key, len);
  e->key[len] = '\0';
  e->len = len;
}

/* Checks that every entry in [0, n) with present[i] is found as itself and
 * the others are not found; returns how many lookups were wrong. */
static int verify(const mw_hmap_t *m, entry_t *es, const bool *present, int n) {
  int wrong = 0;
  for (int i = 0; i < n; i++) {
    mw_hnode_t *f = mw_hmap_find(m, es[i].key, es[i].len);
    if (present[i] ? f != &es[i].node : f != NULL) wrong++;
  }
  return wrong;
}

TEST(empty) {
  mw_hmap_t m;
  mw_hmap_init(&m, 1);
  CHECK_EQ_INT(m.count, 0);
  CHECK(m.nbuckets > 0 && (m.nbuckets & (m.nbuckets - 1)) == 0);
  CHECK(mw_hmap_find(&m, "x", 1) == NULL);
  CHECK(mw_hmap_find(&m, "", 0) == NULL);
  mw_hmap_dispose(&m);
  CHECK(m.buckets == NULL);
  CHECK_EQ_INT(m.count, 0);
}

TEST(many_keys) {
  enum { N = 10000 };
  entry_t *es = mw_calloc(N, sizeof *es);
  bool *present = mw_calloc(N, sizeof *present);
  mw_hmap_t m;
  mw_hmap_init(&m, 0x9e3779b97f4a7c15ULL);
  size_t first_nbuckets = m.nbuckets;
  int grows = 0, wrong = 0;
  for (int i = 0; i < N; i++) {
    char k[32];
    int kl = snprintf(k, sizeof k, "session-%d", i);
    entry_set(&es[i], k, (size_t)kl);
    size_t nb = m.nbuckets;
    mw_hmap_insert(&m, &es[i].node, es[i].key, es[i].len);
    present[i] = true;
    CHECK_EQ_INT(m.count, i + 1);
    if (m.nbuckets != nb) {
      grows++;
      /* Right after each grow, everything inserted so far is still there. */
      wrong += verify(&m, es, present, i + 1);
    }
  }
  CHECK_EQ_INT(wrong, 0);
  CHECK(grows >= 5);
  CHECK(m.nbuckets > first_nbuckets);
  CHECK(m.nbuckets >= N && (m.nbuckets & (m.nbuckets - 1)) == 0);
  CHECK_EQ_INT(verify(&m, es, present, N), 0);

  /* The node records the key it was inserted under. */
  CHECK(es[42].node.key == es[42].key);
  CHECK_EQ_INT(es[42].node.key_len, strlen("session-42"));

  /* Keys never inserted. */
  CHECK(mw_hmap_find(&m, "session-10000", 13) == NULL);
  CHECK(mw_hmap_find(&m, "session-", 8) == NULL);
  CHECK(mw_hmap_find(&m, "session-1x", 10) == NULL);

  /* The hash spreads keys: no long chains at load factor <= 1. */
  size_t longest = 0;
  for (size_t b = 0; b < m.nbuckets; b++) {
    size_t len = 0;
    for (mw_hnode_t *n = m.buckets[b]; n; n = n->next)
      len++;
    if (len > longest) longest = len;
  }
  CHECK(longest <= 16);

  /* Remove every other key. */
  for (int i = 0; i < N; i += 2) {
    mw_hmap_remove(&m, &es[i].node);
    present[i] = false;
  }
  CHECK_EQ_INT(m.count, N / 2);
  CHECK_EQ_INT(verify(&m, es, present, N), 0);

  /* Put them back; then remove all. */
  for (int i = 0; i < N; i += 2) {
    mw_hmap_insert(&m, &es[i].node, es[i].key, es[i].len);
    present[i] = true;
  }
  CHECK_EQ_INT(m.count, N);
  CHECK_EQ_INT(verify(&m, es, present, N), 0);
  for (int i = N - 1; i >= 0; i--) {
    mw_hmap_remove(&m, &es[i].node);
    present[i] = false;
  }
  CHECK_EQ_INT(m.count, 0);
  CHECK_EQ_INT(verify(&m, es, present, N), 0);
  for (size_t b = 0; b < m.nbuckets; b++)
    CHECK(m.buckets[b] == NULL);

  mw_hmap_dispose(&m);
  mw_free(present);
  mw_free(es);
}

TEST(same_prefix) {
  static const char *const keys[] = {"", "a", "ab", "abc", "abcd", "abcde", "abcdef", "b", "ba"};
  enum { K = MW_ARRAY_SIZE(keys) };
  entry_t es[K];
  bool present[K];
  mw_hmap_t m;
  mw_hmap_init(&m, 7);
  for (size_t i = 0; i < K; i++) {
    entry_set(&es[i], keys[i], strlen(keys[i]));
    mw_hmap_insert(&m, &es[i].node, es[i].key, es[i].len);
    present[i] = true;
  }
  CHECK_EQ_INT(m.count, K);
  CHECK_EQ_INT(verify(&m, es, present, K), 0);
  /* Lookups use the given length, not strlen. */
  CHECK(entry_of(mw_hmap_find(&m, "abcdefgh", 3)) == &es[3]);
  CHECK(entry_of(mw_hmap_find(&m, "abcdefgh", 0)) == &es[0]);
  CHECK(mw_hmap_find(&m, "abcdefg", 7) == NULL);
  CHECK(mw_hmap_find(&m, "abd", 3) == NULL);
  /* Removing one prefix leaves the longer and shorter keys alone. */
  mw_hmap_remove(&m, &es[3].node);
  present[3] = false;
  CHECK_EQ_INT(m.count, K - 1);
  CHECK_EQ_INT(verify(&m, es, present, K), 0);
  mw_hmap_remove(&m, &es[0].node);
  present[0] = false;
  CHECK_EQ_INT(verify(&m, es, present, K), 0);
  CHECK_EQ_INT(m.count, K - 2);
  mw_hmap_dispose(&m);
}

TEST(binary_keys) {
  static const struct {
    const char *k;
    size_t len;
  } keys[] = {
      {"a", 1},   {"a\0", 2},  {"a\0b", 3},   {"a\0c", 3},    {"\0", 1},      {"\0\0", 2},
      {"\0a", 2}, {"\xff", 1}, {"\xff\0", 2}, {"x\0y\0z", 5}, {"x\0y\0w", 5}, {"\x80\x81", 2},
  };
  enum { K = MW_ARRAY_SIZE(keys) };
  entry_t es[K];
  bool present[K];
  mw_hmap_t m;
  mw_hmap_init(&m, 12345);
  for (size_t i = 0; i < K; i++) {
    entry_set(&es[i], keys[i].k, keys[i].len);
    mw_hmap_insert(&m, &es[i].node, es[i].key, es[i].len);
    present[i] = true;
  }
  CHECK_EQ_INT(m.count, K);
  CHECK_EQ_INT(verify(&m, es, present, K), 0);
  /* Lookups from other buffers with the same bytes find the same node. */
  char probe[8] = {'a', '\0', 'c'};
  CHECK(entry_of(mw_hmap_find(&m, probe, 3)) == &es[3]);
  CHECK(entry_of(mw_hmap_find(&m, probe, 2)) == &es[1]);
  CHECK(entry_of(mw_hmap_find(&m, probe, 1)) == &es[0]);
  CHECK(mw_hmap_find(&m, "a\0d", 3) == NULL);
  CHECK(mw_hmap_find(&m, "\0\0\0", 3) == NULL);
  /* Remove the keys with a NUL in the middle; their neighbours stay. */
  mw_hmap_remove(&m, &es[2].node);
  mw_hmap_remove(&m, &es[9].node);
  present[2] = present[9] = false;
  CHECK_EQ_INT(m.count, K - 2);
  CHECK_EQ_INT(verify(&m, es, present, K), 0);
  CHECK(mw_hmap_find(&m, "a\0b", 3) == NULL);
  CHECK(entry_of(mw_hmap_find(&m, "x\0y\0w", 5)) == &es[10]);
  mw_hmap_dispose(&m);
}

TEST(seed_changes_hash) {
  /* Keys a client picks must not hash the same under every seed. */
  static const char *const keys[] = {"a", "b", "channel", "news", "x-1", "x-2", "", "long key"};
  enum { K = MW_ARRAY_SIZE(keys) };
  entry_t e1[K], e2[K];
  bool present[K];
  mw_hmap_t m1, m2;
  mw_hmap_init(&m1, 1);
  mw_hmap_init(&m2, 2);
  int same = 0;
  for (size_t i = 0; i < K; i++) {
    entry_set(&e1[i], keys[i], strlen(keys[i]));
    entry_set(&e2[i], keys[i], strlen(keys[i]));
    mw_hmap_insert(&m1, &e1[i].node, e1[i].key, e1[i].len);
    mw_hmap_insert(&m2, &e2[i].node, e2[i].key, e2[i].len);
    present[i] = true;
    if (e1[i].node.hash == e2[i].node.hash) same++;
  }
  CHECK_EQ_INT(same, 0);
  CHECK_EQ_INT(verify(&m1, e1, present, K), 0);
  CHECK_EQ_INT(verify(&m2, e2, present, K), 0);
  /* Same seed, same hash: lookups are stable. */
  mw_hmap_t m3;
  entry_t e3;
  mw_hmap_init(&m3, 1);
  entry_set(&e3, "channel", 7);
  mw_hmap_insert(&m3, &e3.node, e3.key, e3.len);
  CHECK(e3.node.hash == e1[2].node.hash);
  mw_hmap_dispose(&m1);
  mw_hmap_dispose(&m2);
  mw_hmap_dispose(&m3);
}

int main(void) {
  RUN(empty);
  RUN(many_keys);
  RUN(same_prefix);
  RUN(binary_keys);
  RUN(seed_changes_hash);
  return TEST_DONE();
}
