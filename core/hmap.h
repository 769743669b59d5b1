/* Intrusive chained hash map keyed by strings that live in the owner: the
 * session table and the channel table. Seeded at startup so keys a client can
 * choose (channel names) cannot be crafted to collide. */
#ifndef MW_HMAP_H
#define MW_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct mw_hnode {
  struct mw_hnode *next;
  uint64_t hash;
  const char *key; /* borrowed from the owner, NUL-terminated */
  size_t key_len;
} mw_hnode_t;

typedef struct mw_hmap {
  mw_hnode_t **buckets; /* owned */
  size_t nbuckets;      /* power of two */
  size_t count;
  uint64_t seed;
} mw_hmap_t;

void mw_hmap_init(mw_hmap_t *m, uint64_t seed);
/* Frees the bucket array only; nodes belong to their owners. */
void mw_hmap_dispose(mw_hmap_t *m);
mw_hnode_t *mw_hmap_find(const mw_hmap_t *m, const char *key, size_t len);
/* Inserts `n` under n->key (which must not be present). */
void mw_hmap_insert(mw_hmap_t *m, mw_hnode_t *n, const char *key, size_t len);
void mw_hmap_remove(mw_hmap_t *m, mw_hnode_t *n);

#endif
