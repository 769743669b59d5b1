/* moonwire.jsonwalk; see jsonwalk.h. Each function mirrors a Lua walk of
 * lua/moonwire/json.lua (fix, prep) and must decide exactly as it does;
 * core/tests/test_jsonwalk.c compares the two on the same values. */
#include "jsonwalk.h"

#include <lauxlib.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* json.lua's MAX_DEPTH (cjson's default nesting limit) and 2^53. */
#define MAX_DEPTH 1000
#define MAX_EXACT 9007199254740992.0

/* json.lua's to_integer: pushes v as an integer when it should become one,
 * else returns false and pushes nothing. */
static bool push_integer(lua_State *L, lua_Number v) {
  if (!(isfinite(v) && floor(v) == v && v >= -MAX_EXACT && v <= MAX_EXACT)) return false;
  if (v == 0 && signbit(v)) return false; /* -0 stays a float, to re-encode as -0 */
  lua_pushinteger(L, (lua_Integer)v);
  return true;
}

/* The table at `t` was just decoded by cjson, whose nesting limit bounds the
 * recursion. Keys are read raw, as json.lua's fix does with next(). Returns
 * false, leaving the stack unbalanced for l_fix to discard, at a number strtod
 * overflowed (1e400 is ±inf: no JSON encoder can write it back). */
static bool fix(lua_State *L, int t, int array_mt) {
  luaL_checkstack(L, 4, "json nesting");
  lua_pushnil(L);
  if (!lua_next(L, t)) return true; /* empty: only the twin walk in Lua can tell [] from {} */
  bool array = lua_type(L, -2) == LUA_TNUMBER; /* cjson gives objects string keys only */
  lua_pop(L, 2);
  if (array) {
    lua_pushvalue(L, array_mt);
    lua_setmetatable(L, t);
    lua_Integer n = (lua_Integer)lua_rawlen(L, t);
    for (lua_Integer i = 1; i <= n; i++) {
      int tv = lua_rawgeti(L, t, i);
      if (tv == LUA_TNUMBER && !lua_isinteger(L, -1)) {
        if (!isfinite(lua_tonumber(L, -1))) return false;
        if (push_integer(L, lua_tonumber(L, -1))) lua_rawseti(L, t, i);
      } else if (tv == LUA_TTABLE) {
        if (!fix(L, lua_gettop(L), array_mt)) return false;
      }
      lua_pop(L, 1);
    }
    return true;
  }
  lua_pushnil(L);
  while (lua_next(L, t)) {
    int tv = lua_type(L, -1);
    if (tv == LUA_TNUMBER && !lua_isinteger(L, -1)) {
      if (!isfinite(lua_tonumber(L, -1))) return false;
      /* Assigning an existing field during traversal is allowed. */
      if (push_integer(L, lua_tonumber(L, -1))) {
        lua_pushvalue(L, -3);
        lua_insert(L, -2);
        lua_rawset(L, t);
      }
    } else if (tv == LUA_TTABLE) {
      if (!fix(L, lua_gettop(L), array_mt)) return false;
    }
    lua_pop(L, 1);
  }
  return true;
}

static int l_fix(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_pushboolean(L, fix(L, 1, 2));
  return 1;
}

/* json.lua's number_text(v) == nil for a float: cjson's %.14g gives it back
 * exactly. NaN and infinities answer false, leaving their error to the Lua
 * walk and cjson. */
static bool float_prints_exactly(lua_Number v) {
  if (!isfinite(v)) return false;
  char buf[64];
  snprintf(buf, sizeof buf, "%.14g", (double)v);
  return strtod(buf, NULL) == v;
}

/* True when json.lua's prep(v, depth) would return v itself without making a
 * placeholder. Tables marked with object_mt answer false: the Lua walk
 * decides their keys. */
static bool clean(lua_State *L, int t, int depth, int array_mt, int object_mt) {
  if (depth > MAX_DEPTH) return false; /* prep raises the nesting error */
  luaL_checkstack(L, 4, "json nesting");
  if (lua_getmetatable(L, t)) {
    bool object = lua_rawequal(L, -1, object_mt);
    bool array = lua_rawequal(L, -1, array_mt);
    lua_pop(L, 1);
    if (object) return false;
    if (array) { /* an empty json.array() needs its placeholder */
      lua_pushnil(L);
      if (!lua_next(L, t)) return false;
      lua_pop(L, 2);
    }
  }
  lua_pushnil(L);
  while (lua_next(L, t)) {
    int tv = lua_type(L, -1);
    bool ok = true;
    if (tv == LUA_TTABLE) {
      ok = clean(L, lua_gettop(L), depth + 1, array_mt, object_mt);
    } else if (tv == LUA_TNUMBER) {
      if (lua_isinteger(L, -1)) {
        /* Below 1e14 an integer has at most 14 digits: cjson prints it exactly. */
        lua_Integer i = lua_tointeger(L, -1);
        ok = i > -100000000000000LL && i < 100000000000000LL;
      } else {
        lua_Number v = lua_tonumber(L, -1);
        ok = (v > -1e14 && v < 1e14 && floor(v) == v) || float_prints_exactly(v);
      }
    }
    lua_pop(L, 1);
    if (!ok) {
      lua_pop(L, 1); /* the key */
      return false;
    }
  }
  return true;
}

static int l_clean(lua_State *L) {
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_pushboolean(L, lua_type(L, 1) == LUA_TTABLE && clean(L, 1, 1, 2, 3));
  return 1;
}

int mw_jsonwalk_open(lua_State *L) {
  static const luaL_Reg fns[] = {{"fix", l_fix}, {"clean", l_clean}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
