/* A C-owned key-value store shared by every Lua generation: state that must
 * survive a script reload (counters, caches, the MCP layer's list
 * fingerprints) lives here rather than in Lua upvalues. Values are strings or
 * integers; entries may carry a TTL and expire lazily on access plus in the
 * server's periodic sweep. */
#ifndef MW_SHARED_H
#define MW_SHARED_H

#include "server.h"

typedef struct mw_shared_entry {
  mw_hnode_t hnode; /* in server->shared, keyed by key */
  char *key;        /* owned */
  char *value;      /* owned; NULL when the entry holds an integer */
  size_t value_len;
  size_t bytes; /* counted in server->shared_bytes */
  int64_t integer;
  uint64_t expires_ms; /* 0 = never */
} mw_shared_entry_t;

/* The live entry for `key`, or NULL (an expired one is freed on the way). */
mw_shared_entry_t *mw_shared_get(mw_server_t *s, const char *key, size_t len);

/* Stores a string value (copied); ttl_ms 0 = no expiry. Returns 0, or -ENOSPC
 * (nothing changed) when the store would hold more than SHARED_MEMORY_MB. */
int mw_shared_set(mw_server_t *s, const char *key, size_t len, const char *value, size_t vlen,
                  uint64_t ttl_ms);

/* Makes `key` hold the integer v, as mw_shared_set does a string. */
int mw_shared_set_integer(mw_server_t *s, const char *key, size_t len, int64_t v, uint64_t ttl_ms);

/* Adds `by` to an integer entry (a missing one starts at 0) and returns the
 * new value in *out. Returns 0, -EINVAL when the entry holds a string, or
 * -ENOSPC when a new entry would not fit under SHARED_MEMORY_MB. A new entry
 * gets ttl_ms; an existing one keeps its expiry. */
int mw_shared_incr(mw_server_t *s, const char *key, size_t len, int64_t by, uint64_t ttl_ms,
                   int64_t *out);

/* Removes `key`; returns whether it existed. */
bool mw_shared_delete(mw_server_t *s, const char *key, size_t len);

/* Frees expired entries. */
void mw_shared_sweep(mw_server_t *s);
void mw_shared_destroy_all(mw_server_t *s);

#endif
