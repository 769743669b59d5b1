/* File-system functions of `moonwire.core` for scripts (mw.watch, mw.fs):
 * directory watches tied to a generation, directory listing, lstat and
 * realpath. Kept apart from luacore.c, which only registers them. */
#ifndef MW_LUAFS_H
#define MW_LUAFS_H

#include <lua.h>

#include "script.h"

/* Directory watches one generation may hold at once (inotify watches are a
 * per-user system resource). */
#define MW_LUAFS_MAX_WATCHES 256

/* Sets fs_watch, fs_list, fs_stat and fs_realpath on the table at the top of
 * the stack, and registers the watch handle's metatable. */
void mw_luafs_register(lua_State *L);

/* Stops every watch of `g`: it retired or is going away. No callback runs
 * after this. */
void mw_luafs_close_watches(mw_gen_t *g);

#endif
