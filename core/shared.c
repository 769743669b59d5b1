/* Shared key-value store; see shared.h. */
#include "shared.h"

#include <errno.h>
#include <string.h>

/* What an entry counts against SHARED_MEMORY_MB: its allocations, roughly
 * (malloc's own overhead and the map's buckets are left out). */
static size_t entry_cost(size_t key_len, const char *value, size_t value_len) {
  return sizeof(mw_shared_entry_t) + key_len + 1 + (value ? value_len + 1 : 0);
}

/* Whether the store stays under its cap with `more` bytes added and `less`
 * (an entry's old cost, about to be replaced) taken away. */
static bool fits(const mw_server_t *s, size_t more, size_t less) {
  size_t cap = (size_t)s->config->shared_memory_mb * 1024 * 1024;
  return s->shared_bytes - less + more <= cap;
}

static void entry_free(mw_server_t *s, mw_shared_entry_t *e) {
  s->shared_bytes -= e->bytes;
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

static mw_shared_entry_t *add(mw_server_t *s, const char *key, size_t len, uint64_t ttl_ms) {
  mw_shared_entry_t *e = mw_calloc(1, sizeof *e);
  e->key = mw_strndup(key, len);
  e->bytes = entry_cost(len, NULL, 0);
  e->expires_ms = ttl_ms ? mw_server_now(s) + ttl_ms : 0;
  s->shared_bytes += e->bytes;
  mw_hmap_insert(&s->shared, &e->hnode, e->key, len);
  return e;
}

/* Makes `key` hold the string value (vlen bytes), or the integer when value
 * is NULL, with a new expiry. */
static int store(mw_server_t *s, const char *key, size_t len, const char *value, size_t vlen,
                 int64_t integer, uint64_t ttl_ms) {
  mw_shared_entry_t *e = mw_shared_get(s, key, len);
  size_t cost = entry_cost(len, value, vlen);
  if (!fits(s, cost, e ? e->bytes : 0)) return -ENOSPC;
  if (!e) e = add(s, key, len, ttl_ms);
  mw_free(e->value);
  e->value = value ? mw_strndup(value, vlen) : NULL;
  e->value_len = value ? vlen : 0;
  e->integer = integer;
  e->expires_ms = ttl_ms ? mw_server_now(s) + ttl_ms : 0;
  s->shared_bytes = s->shared_bytes - e->bytes + cost;
  e->bytes = cost;
  return 0;
}

int mw_shared_set(mw_server_t *s, const char *key, size_t len, const char *value, size_t vlen,
                  uint64_t ttl_ms) {
  return store(s, key, len, value, vlen, 0, ttl_ms);
}

int mw_shared_set_integer(mw_server_t *s, const char *key, size_t len, int64_t v, uint64_t ttl_ms) {
  return store(s, key, len, NULL, 0, v, ttl_ms);
}

int mw_shared_incr(mw_server_t *s, const char *key, size_t len, int64_t by, uint64_t ttl_ms,
                   int64_t *out) {
  mw_shared_entry_t *e = mw_shared_get(s, key, len);
  if (!e) {
    if (!fits(s, entry_cost(len, NULL, 0), 0)) return -ENOSPC;
    e = add(s, key, len, ttl_ms);
  }
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
