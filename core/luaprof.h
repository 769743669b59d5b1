/* A debug-only profile of Lua VM instructions per Lua function, to find what the
 * framework spends per request. Off unless MOONWIRE_LUA_PROFILE names a file: then
 * every budgeted thread runs a count hook of 1 (slow) and the counts are written to
 * that file at exit, most expensive first. Never on in production. */
#ifndef MW_LUAPROF_H
#define MW_LUAPROF_H

#include <lua.h>
#include <stdbool.h>

/* True when MOONWIRE_LUA_PROFILE is set (read once). */
bool mw_luaprof_enabled(void);

/* Counts one VM instruction of the function running in `L` (called from a count hook
 * with count 1; `ar` is the hook's). */
void mw_luaprof_count(lua_State *L, lua_Debug *ar);

#endif
