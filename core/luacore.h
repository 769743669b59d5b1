/* The `moonwire.core` Lua module: the small C surface the Lua framework builds
 * on — responses, SSE streams, sessions, channels, timers, logging. Scripts
 * use it through lua/moonwire, never directly. */
#ifndef MW_LUACORE_H
#define MW_LUACORE_H

#include <lua.h>

#include "conn.h"
#include "script.h"

/* Binds a request handle to `c` (c has none bound) and pushes it; returns
 * its value (a light userdata, see handles.h). */
void *mw_luacore_push_handle(lua_State *L, mw_conn_t *c);

/* Arms (ms > 0) or clears (0) a time budget on the main thread of `L`: past
 * it, running Lua code raises an error. Used around script loading. */
void mw_luacore_budget_main(lua_State *L, uint32_t ms);

/* Kills the subprocesses `g` started (it is going away; no callbacks). */
void mw_luacore_cancel_jobs(mw_gen_t *g);

/* Closes every timer of `g` (the generation is going away). */
void mw_luacore_close_timers(mw_gen_t *g);

#endif
