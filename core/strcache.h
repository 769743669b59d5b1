/* A per-Lua-state cache of the short strings C pushes again and again: header
 * names and values, JSON-RPC keys, method and tool names. lua_pushlstring
 * hashes every byte of a short string and walks its bucket to find the
 * interned copy, ~150-250 instructions for a header value; the same string
 * from this cache costs one slot hash, a memcmp and a table read. It also
 * gives strings of 41-64 bytes (the 2026-07-28 _meta keys), which Lua makes
 * afresh each time, a single shared copy. */
#ifndef MW_STRCACHE_H
#define MW_STRCACHE_H

#include <lua.h>
#include <stddef.h>

typedef struct mw_strcache mw_strcache_t;

/* Pushes the cache's anchor table of L (creating the cache on first use) and
 * returns the cache. Both belong to L (its registry holds them); pass the
 * table's stack index to mw_strcache_push while it stays on the stack. Raises
 * a Lua memory error when the cache cannot be created. */
mw_strcache_t *mw_strcache_open(lua_State *L);

/* Pushes the Lua string of the len bytes at s (the caller keeps s), as
 * lua_pushlstring does: from the cache when its slot holds these bytes, else
 * made and left in the slot. `anchor` is the absolute stack index of
 * the table mw_strcache_open pushed. May raise a Lua memory error. */
void mw_strcache_push(lua_State *L, mw_strcache_t *c, int anchor, const char *s, size_t len);

#endif
