/* The `moonwire.jsonwalk` Lua module: the two value-tree walks of
 * lua/moonwire/json.lua done in C. They run on every decoded request and
 * every encoded response, and in Lua they cost about as much as cjson's own
 * parse and serialise. json.lua falls back to its Lua walks when this module
 * is absent (plain lua5.4, the busted specs). */
#ifndef MW_JSONWALK_H
#define MW_JSONWALK_H

#include <lua.h>

/* lua_CFunction for package.preload: pushes the module table with
 *   fix(t, array_mt)                in place: integral floats within +-2^53
 *                                   (not -0) become integers, every non-empty
 *                                   array (first key a number) gets array_mt;
 *                                   returns false, the walk cut short, at a
 *                                   number that is +-inf (strtod overflow)
 *   clean(v, array_mt, object_mt)   true when json.lua's encode may hand v to
 *                                   cjson untouched (no number cjson would
 *                                   misprint, no marked table, depth <= 1000) */
int mw_jsonwalk_open(lua_State *L);

#endif
