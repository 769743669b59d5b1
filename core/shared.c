/* Shared key-value store; see shared.h. */
#include "shared.h"

#include <errno.h>
#include <string.h>

static void entry_free(mw_server_t *s, mw_shared_entry_t *e) {
  mw_hmap_remove(&s->shared, &e->hnode);
  mw_free(e->key);
  mw_free(e->value);
  mw_free(e);
}

static bool expired(mw_server_t *s, const mw_shared_entry_t *e) {
  return e->expires_ms && mw_server_now(s) >= e->expires_ms;
}

mw_shared_entry_t *mw_shared_get(mw_server_t *s, const char *key, size_t len) {
  mw_hnode_t *n = mw_hmap_find(&s->shared, key, len);
  if (!n) return NULL;
  mw_shared_entry_t *e = mw_container_of(n, mw_shared_entry_t, hnode);
  if (expired(s, e)) {
    entry_free(s, e);
    return NULL;
  }
  return e;
}

static mw_shared_entry_t *get_or_add(mw_server_t *s, const char *key, size_t len, uint64_t ttl_ms,
                                     bool *added) {
  mw_shared_entry_t *e = mw_shared_get(s, key, len);
  *added = e == NULL;
  if (e) return e;
  e = mw_calloc(1, sizeof *e);
  e->key = mw_strndup(key, len);
  e->expires_ms = ttl_ms ? mw_server_now(s) + ttl_ms : 0;
  mw_hmap_insert(&s->shared, &e->hnode, e->key, len);
  return e;
}

void mw_shared_set(mw_server_t *s, const char *key, size_t len, const char *value, size_t vlen,
                   uint64_t ttl_ms) {
  bool added;
  mw_shared_entry_t *e = get_or_add(s, key, len, ttl_ms, &added);
  mw_free(e->value);
  e->value = mw_strndup(value, vlen);
  e->value_len = vlen;
  e->integer = 0;
  e->expires_ms = ttl_ms ? mw_server_now(s) + ttl_ms : 0;
}

int mw_shared_incr(mw_server_t *s, const char *key, size_t len, int64_t by, uint64_t ttl_ms,
                   int64_t *out) {
  bool added;
  mw_shared_entry_t *e = get_or_add(s, key, len, ttl_ms, &added);
  if (e->value) return -EINVAL;
  /* Wrap like Lua integers do rather than invoke undefined overflow. */
  e->integer = (int64_t)((uint64_t)e->integer + (uint64_t)by);
  *out = e->integer;
  return 0;
}

bool mw_shared_delete(mw_server_t *s, const char *key, size_t len) {
  mw_hnode_t *n = mw_hmap_find(&s->shared, key, len);
  if (!n) return false;
  mw_shared_entry_t *e = mw_container_of(n, mw_shared_entry_t, hnode);
  bool live = !expired(s, e);
  entry_free(s, e);
  return live;
}

void mw_shared_sweep(mw_server_t *s) {
  for (size_t i = 0; i < s->shared.nbuckets; i++) {
    mw_hnode_t *n = s->shared.buckets[i];
    while (n) {
      mw_hnode_t *next = n->next;
      mw_shared_entry_t *e = mw_container_of(n, mw_shared_entry_t, hnode);
      if (expired(s, e)) entry_free(s, e);
      n = next;
    }
  }
}

void mw_shared_destroy_all(mw_server_t *s) {
  for (size_t i = 0; i < s->shared.nbuckets; i++)
    while (s->shared.buckets[i])
      entry_free(s, mw_container_of(s->shared.buckets[i], mw_shared_entry_t, hnode));
}
