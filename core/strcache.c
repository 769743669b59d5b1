/* Short strings for C to push without interning them again; see strcache.h.
 * Two-way set associative: a set holds the last two strings that hashed to it
 * (direct-mapped, a request's ~30 strings in 256 slots had two pairs taking
 * turns at one slot). The anchor table (a slot's string at index slot + 1)
 * keeps each cached string alive, so the pointer kept here stays valid: Lua
 * never moves a string. */
#include "strcache.h"

#include <lauxlib.h>
#include <stdint.h>
#include <string.h>

#define SET_BITS 9
#define NSLOTS (2u << SET_BITS)
/* Past 64 bytes strings rarely repeat, and hashing a longer one costs
 * lua_pushlstring little more than the lookup here. */
#define MAX_LEN 64

typedef struct {
  const char *data; /* the anchored string's bytes, or NULL */
  size_t len;
} slot_t;

struct mw_strcache {
  slot_t slots[NSLOTS];             /* set k: slots 2k and 2k + 1 */
  unsigned char victim[NSLOTS / 2]; /* per set, the way the next miss replaces */
};

static const char cache_key = 'c';

mw_strcache_t *mw_strcache_open(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &cache_key) == LUA_TUSERDATA) {
    mw_strcache_t *c = lua_touserdata(L, -1);
    lua_getiuservalue(L, -1, 1);
    lua_remove(L, -2);
    return c;
  }
  lua_pop(L, 1);
  mw_strcache_t *c = lua_newuserdatauv(L, sizeof *c, 1);
  memset(c, 0, sizeof *c);
  lua_createtable(L, NSLOTS, 0);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, -3, 1);
  lua_insert(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &cache_key);
  return c;
}

/* The first and last 8 bytes and the length: a few instructions, where Lua's
 * hash costs several per byte. Strings that share all three share a slot, and
 * the memcmp tells them apart. */
static uint32_t set_of(const char *s, size_t len) {
  uint64_t a = 0, b = 0;
  if (len >= 8) {
    memcpy(&a, s, 8);
    memcpy(&b, s + len - 8, 8);
  } else {
    memcpy(&a, s, len);
  }
  uint64_t h = (a ^ len) * 0x9E3779B97F4A7C15ull + b * 0xC2B2AE3D27D4EB4Full;
  return (uint32_t)(h >> (64 - SET_BITS));
}

void mw_strcache_push(lua_State *L, mw_strcache_t *c, int anchor, const char *s, size_t len) {
  if (len > MAX_LEN) {
    lua_pushlstring(L, s, len);
    return;
  }
  uint32_t set = set_of(s, len), i = 2 * set;
  for (uint32_t way = 0; way < 2; way++) {
    slot_t *e = &c->slots[i + way];
    if (e->data && e->len == len && memcmp(e->data, s, len) == 0) {
      lua_rawgeti(L, anchor, (lua_Integer)(i + way) + 1);
      return;
    }
  }
  i += c->victim[set];
  c->victim[set] ^= 1;
  slot_t *e = &c->slots[i];
  const char *data = lua_pushlstring(L, s, len);
  lua_pushvalue(L, -1);
  lua_rawseti(L, anchor, (lua_Integer)i + 1);
  e->data = data;
  e->len = len;
}
