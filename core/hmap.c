/* Chained hash map; see hmap.h. Grows at load factor 1, never shrinks. */
#include "hmap.h"

#include <string.h>

#include "common.h"

/* FNV-1a mixed with the seed and finished with a murmur3 avalanche. */
static uint64_t hash(uint64_t seed, const char *k, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)k[i];
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

void mw_hmap_init(mw_hmap_t *m, uint64_t seed) {
  m->nbuckets = 16;
  m->buckets = mw_calloc(m->nbuckets, sizeof *m->buckets);
  m->count = 0;
  m->seed = seed;
}

void mw_hmap_dispose(mw_hmap_t *m) {
  mw_free(m->buckets);
  m->buckets = NULL;
  m->nbuckets = m->count = 0;
}

mw_hnode_t *mw_hmap_find(const mw_hmap_t *m, const char *key, size_t len) {
  uint64_t h = hash(m->seed, key, len);
  for (mw_hnode_t *n = m->buckets[h & (m->nbuckets - 1)]; n; n = n->next)
    if (n->hash == h && n->key_len == len && memcmp(n->key, key, len) == 0) return n;
  return NULL;
}

static void grow(mw_hmap_t *m) {
  size_t nb = m->nbuckets * 2;
  mw_hnode_t **b = mw_calloc(nb, sizeof *b);
  for (size_t i = 0; i < m->nbuckets; i++) {
    mw_hnode_t *n = m->buckets[i];
    while (n) {
      mw_hnode_t *next = n->next;
      n->next = b[n->hash & (nb - 1)];
      b[n->hash & (nb - 1)] = n;
      n = next;
    }
  }
  mw_free(m->buckets);
  m->buckets = b;
  m->nbuckets = nb;
}

void mw_hmap_insert(mw_hmap_t *m, mw_hnode_t *n, const char *key, size_t len) {
  if (m->count >= m->nbuckets) grow(m);
  n->key = key;
  n->key_len = len;
  n->hash = hash(m->seed, key, len);
  mw_hnode_t **b = &m->buckets[n->hash & (m->nbuckets - 1)];
  n->next = *b;
  *b = n;
  m->count++;
}

void mw_hmap_remove(mw_hmap_t *m, mw_hnode_t *n) {
  for (mw_hnode_t **p = &m->buckets[n->hash & (m->nbuckets - 1)]; *p; p = &(*p)->next) {
    if (*p == n) {
      *p = n->next;
      m->count--;
      return;
    }
  }
}
