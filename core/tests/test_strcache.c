/* Tests for core/strcache.c: a cached push gives the very string Lua would
 * have made, the same object again on a hit, strings that share a set (same
 * length, first and last 8 bytes) kept apart, eviction and full collections
 * never leaving a slot pointing at freed or different bytes, long strings
 * passed through, and the cache kept per Lua state. */
#include "mw_test.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "strcache.h"

/* Pushes s through the cache and checks the result equals s byte for byte. */
static bool push_checked(lua_State *L, mw_strcache_t *c, int anchor, const char *s, size_t len) {
  mw_strcache_push(L, c, anchor, s, len);
  size_t got_len;
  const char *got = lua_tolstring(L, -1, &got_len);
  return lua_type(L, -1) == LUA_TSTRING && got_len == len && memcmp(got, s, len) == 0;
}

TEST(hit_is_the_same_string) {
  lua_State *L = luaL_newstate();
  mw_strcache_t *c = mw_strcache_open(L);
  int anchor = lua_gettop(L);
  CHECK(lua_type(L, anchor) == LUA_TTABLE);
  /* 41..64 bytes: a long string for Lua, made afresh by lua_pushlstring. */
  const char *key = "io.modelcontextprotocol/clientCapabilities";
  CHECK(push_checked(L, c, anchor, key, strlen(key)));
  CHECK(push_checked(L, c, anchor, key, strlen(key)));
  CHECK(lua_topointer(L, -1) == lua_topointer(L, -2));
  lua_pushlstring(L, key, strlen(key));
  CHECK(lua_topointer(L, -1) != lua_topointer(L, -2)); /* what the cache saves */
  CHECK(lua_rawequal(L, -1, -2));
  /* The empty string and embedded NULs. */
  CHECK(push_checked(L, c, anchor, "", 0));
  CHECK(push_checked(L, c, anchor, "a\0b", 3));
  CHECK(push_checked(L, c, anchor, "a\0c", 3));
  CHECK(!lua_rawequal(L, -1, -2));
  lua_close(L);
}

TEST(shared_set_kept_apart) {
  lua_State *L = luaL_newstate();
  mw_strcache_t *c = mw_strcache_open(L);
  int anchor = lua_gettop(L);
  /* Same length, same first and last 8 bytes: the same set, told apart by
   * the memcmp. Three of them for two ways: each push must still be right. */
  char s[3][24];
  for (int i = 0; i < 3; i++)
    snprintf(s[i], sizeof s[i], "prefix__%c%c%c%c__suffix", 'a' + i, 'b', 'c', 'd');
  bool all = true;
  for (int round = 0; round < 5; round++)
    for (int i = 0; i < 3; i++)
      all = all && push_checked(L, c, anchor, s[i], strlen(s[i]));
  CHECK(all);
  lua_close(L);
}

TEST(eviction_and_collection) {
  lua_State *L = luaL_newstate();
  mw_strcache_t *c = mw_strcache_open(L);
  int anchor = lua_gettop(L);
  /* Far more distinct strings than slots, with full collections between
   * rounds: a slot's pointer must always match its anchored string. */
  bool all = true;
  char buf[64];
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < 5000; i++) {
      int n = snprintf(buf, sizeof buf, "key-%d-%d", i % 1500, (i * 7) % 13);
      all = all && push_checked(L, c, anchor, buf, (size_t)n);
      lua_pop(L, 1);
    }
    lua_gc(L, LUA_GCCOLLECT, 0);
  }
  CHECK(all);
  /* Strings still cached after the collections come back right. */
  for (int i = 0; i < 1500; i++) {
    int n = snprintf(buf, sizeof buf, "key-%d-%d", i, (i * 7) % 13);
    all = all && push_checked(L, c, anchor, buf, (size_t)n);
    lua_pop(L, 1);
  }
  CHECK(all);
  CHECK_EQ_INT(lua_gettop(L), anchor);
  lua_close(L);
}

TEST(long_strings_pass_through) {
  lua_State *L = luaL_newstate();
  mw_strcache_t *c = mw_strcache_open(L);
  int anchor = lua_gettop(L);
  char big[200];
  memset(big, 'x', sizeof big);
  CHECK(push_checked(L, c, anchor, big, sizeof big));
  CHECK(push_checked(L, c, anchor, big, sizeof big));
  CHECK(lua_topointer(L, -1) != lua_topointer(L, -2)); /* not cached */
  CHECK(push_checked(L, c, anchor, big, 64));
  CHECK(push_checked(L, c, anchor, big, 64));
  CHECK(lua_topointer(L, -1) == lua_topointer(L, -2)); /* 64 bytes: cached */
  lua_close(L);
}

TEST(one_cache_per_state) {
  lua_State *L = luaL_newstate();
  mw_strcache_t *c1 = mw_strcache_open(L);
  mw_strcache_t *c2 = mw_strcache_open(L);
  CHECK(c1 == c2);
  CHECK(lua_rawequal(L, -1, -2)); /* the same anchor table */
  lua_State *other = luaL_newstate();
  CHECK(mw_strcache_open(other) != c1);
  lua_close(other);
  lua_close(L);
}

int main(void) {
  RUN(hit_is_the_same_string);
  RUN(shared_set_kept_apart);
  RUN(eviction_and_collection);
  RUN(long_strings_pass_through);
  RUN(one_cache_per_state);
  printf("%d checks, %d failures\n", mw_test_checks, mw_test_failures);
  return mw_test_failures != 0;
}
