/* Tests for core/jsoncodec.c: lua/moonwire/json.lua with the C codec must
 * decode and encode exactly as it does without it (cjson and its Lua walks).
 * decode: on hand-picked texts that take every branch, on generated ones
 * (random values written with random spacing, escapes and number forms) and
 * on those texts with random bytes changed, which must fail or succeed
 * together. The one intended difference, numbers cjson's strtod lets through
 * although JSON has no such form ("1.", "-.5"), is checked apart.
 * encode: on hand-picked values and generated ones (every byte in strings,
 * integers and floats at the edges of cjson's %.14g, lists with holes, sparse
 * lists, mixed keys, json.array/json.object marks), the same text; and the
 * same error for values JSON cannot hold. */
#include "mw_test.h"

#include <lauxlib.h>
#include <lualib.h>

#include "jsoncodec.h"

/* Runs core/tests/<file> with fast (json.lua as the server loads it), slow
 * (the same file without the codec: cjson and the walks) and the helpers of
 * jsoncodec_util.lua; returns its count of mismatches, each printed. */
static int compare(const char *file) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, MW_SOURCE_LUA_DIR "/?.lua");
  lua_setfield(L, -2, "path");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, mw_jsoncodec_open);
  lua_setfield(L, -2, "moonwire.jsoncodec");
  lua_pop(L, 2);
  CHECK(luaL_dostring(L, "local fast = require 'moonwire.json'\n"
                         "package.loaded['moonwire.json'] = nil\n"
                         "package.loaded['moonwire.jsoncodec'] = nil\n"
                         "package.preload['moonwire.jsoncodec'] = nil\n"
                         "return fast, (require 'moonwire.json')") == LUA_OK);
  CHECK(lua_gettop(L) == 2);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  lua_getfield(L, -1, "moonwire.jsoncodec");
  CHECK(lua_isnil(L, -1)); /* slow really is without it */
  lua_pop(L, 3);
  int bad = 1;
  char path[512];
  snprintf(path, sizeof path, "%s/%s", MW_TESTS_DIR, file);
  if (luaL_loadfile(L, path) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
  } else {
    lua_insert(L, 1);
    snprintf(path, sizeof path, "%s/jsoncodec_util.lua", MW_TESTS_DIR);
    if (luaL_dofile(L, path) != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
    if (lua_pcall(L, 3, 1, 0) != LUA_OK)
      fprintf(stderr, "%s\n", lua_tostring(L, -1));
    else
      bad = (int)lua_tointeger(L, -1);
  }
  lua_close(L);
  return bad;
}

static void test_decode_same_as_cjson_path(void) {
  CHECK_EQ_INT(compare("jsoncodec_decode.lua"), 0);
}

static void test_encode_same_as_cjson_path(void) {
  CHECK_EQ_INT(compare("jsoncodec_encode.lua"), 0);
}

/* Not a string: decode raises (json.lua only calls it with strings). */
static void test_argument_checks(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "jd", mw_jsoncodec_open, 1);
  CHECK(luaL_dostring(L, "return pcall(jd.decode, {}, {})") == LUA_OK);
  CHECK(!lua_toboolean(L, -2));
  lua_settop(L, 0);
  CHECK(luaL_dostring(L, "return jd.decode('[1,[2]]', {})") == LUA_OK);
  CHECK(lua_istable(L, -1));
  lua_close(L);
}

int main(void) {
  RUN(decode_same_as_cjson_path);
  RUN(encode_same_as_cjson_path);
  RUN(argument_checks);
  return TEST_DONE();
}
