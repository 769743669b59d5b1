/* moonwire.core's file-system functions; see luafs.h. Everything here is a
 * synchronous system call on the loop thread, which is fine for the local
 * directories scripts serve (reload.c scans the same way) and bounded by the
 * caller's limits. */
#include "luafs.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fswatch.h"

#define WATCH_MT "moonwire.fswatch"

typedef struct lua_watch lua_watch_t;
typedef struct {
  lua_watch_t *watch; /* NULL once the watch stopped */
} watch_box_t;

struct lua_watch {
  mw_list_t link;   /* in gen->watches */
  mw_gen_t *gen;    /* borrowed */
  mw_fswatch_t *fw; /* owned */
  watch_box_t *box; /* the Lua userdata, or NULL once collected */
  int cb_ref;       /* registry ref of the callback */
};

static void watch_close(lua_watch_t *lw, bool unref) {
  mw_list_remove(&lw->link);
  lw->gen->nwatches--;
  if (lw->box) lw->box->watch = NULL;
  if (unref) luaL_unref(lw->gen->L, LUA_REGISTRYINDEX, lw->cb_ref);
  mw_fswatch_stop(lw->fw);
  mw_free(lw);
}

static void on_change(void *ud, const char *name, bool renamed) {
  lua_watch_t *lw = ud;
  mw_gen_t *g = lw->gen;
  lua_State *L = g->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lw->cb_ref);
  if (name)
    lua_pushstring(L, name);
  else
    lua_pushnil(L);
  lua_pushboolean(L, renamed);
  /* The callback may stop this watch (or reload): keep the state alive. */
  mw_gen_ref(g);
  mw_gen_pcall(g, 2, 0, "watch callback failed");
  mw_gen_unref(g);
}

/* fs_watch(dir, debounce_ms, fn) -> watch | nil, err. fn(name|nil, renamed). */
static int l_fs_watch(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  lua_Integer debounce = luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  luaL_argcheck(L, debounce >= 0 && debounce <= 60000, 2, "debounce must be 0..60000 ms");
  mw_gen_t *g = mw_gen_of(L);
  if (g->nwatches >= MW_LUAFS_MAX_WATCHES) {
    luaL_pushfail(L);
    lua_pushfstring(L, "too many watches (max %d per generation)", MW_LUAFS_MAX_WATCHES);
    return 2;
  }
  lua_watch_t *lw = mw_calloc(1, sizeof *lw);
  int rc = mw_fswatch_start(g->server->loop, dir, (uint64_t)debounce, on_change, lw, &lw->fw);
  if (rc < 0) {
    mw_free(lw);
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", dir, uv_strerror(rc));
    return 2;
  }
  lw->gen = g;
  lua_pushvalue(L, 3);
  lw->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  mw_list_push_back(&g->watches, &lw->link);
  g->nwatches++;
  watch_box_t *box = lua_newuserdatauv(L, sizeof *box, 0);
  box->watch = lw;
  lw->box = box;
  luaL_setmetatable(L, WATCH_MT);
  return 1;
}

static int watch_stop(lua_State *L) {
  watch_box_t *box = luaL_checkudata(L, 1, WATCH_MT);
  if (box->watch) watch_close(box->watch, true);
  return 0;
}

static int watch_active(lua_State *L) {
  watch_box_t *box = luaL_checkudata(L, 1, WATCH_MT);
  lua_pushboolean(L, box->watch != NULL);
  return 1;
}

static int watch_gc(lua_State *L) {
  watch_box_t *box = luaL_checkudata(L, 1, WATCH_MT);
  /* Collected is not stopped, as for timers: `mw.watch(dir, fn)` without
   * keeping the result must keep watching. */
  if (box->watch) box->watch->box = NULL;
  return 0;
}

void mw_luafs_close_watches(mw_gen_t *g) {
  while (!mw_list_empty(&g->watches)) {
    lua_watch_t *lw = mw_container_of(g->watches.next, lua_watch_t, link);
    /* The refs go with the state (retire: the callback of a retired
     * generation is simply never called again). */
    watch_close(lw, false);
  }
}

static const char *type_name(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "directory";
  if (S_ISLNK(m)) return "link";
  return "other";
}

static int push_errno(lua_State *L, const char *path, int err) {
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: %s", path, strerror(err));
  return 2;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fs_list(dir, max) -> { {name=, type=}, … } sorted by name, truncated
 * | nil, err. Entries are not followed: a symlink is type "link". */
static int l_fs_list(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  lua_Integer max = luaL_checkinteger(L, 2);
  luaL_argcheck(L, max >= 0 && max <= 1000000, 2, "max must be 0..1000000");
  DIR *d = opendir(dir);
  if (!d) return push_errno(L, dir, errno);
  char **names = NULL;
  size_t n = 0, cap = 0;
  bool truncated = false;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (n == (size_t)max) {
      truncated = true;
      break;
    }
    if (n == cap) {
      cap = cap ? cap * 2 : 32;
      names = mw_realloc(names, cap * sizeof *names);
    }
    names[n++] = mw_strdup(e->d_name);
  }
  closedir(d);
  if (n > 1) qsort(names, n, sizeof *names, cmp_names); /* names is NULL when n == 0 */
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    char path[PATH_MAX];
    struct stat st;
    const char *type = "other";
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) < sizeof path &&
        lstat(path, &st) == 0)
      type = type_name(st.st_mode);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, names[i]);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, type);
    lua_setfield(L, -2, "type");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
    mw_free(names[i]);
  }
  mw_free(names);
  lua_pushboolean(L, truncated);
  return 2;
}

/* fs_stat(path) -> { type=, size=, mtime= } | nil, err (lstat: links are not followed). */
static int l_fs_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (lstat(path, &st) < 0) return push_errno(L, path, errno);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, type_name(st.st_mode));
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)st.st_mtime);
  lua_setfield(L, -2, "mtime");
  return 1;
}

/* fs_realpath(path) -> absolute path with every symlink resolved | nil, err. */
static int l_fs_realpath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char *real = realpath(path, NULL);
  if (!real) return push_errno(L, path, errno);
  lua_pushstring(L, real);
  free(real); /* from libc's malloc, not ours */
  return 1;
}

void mw_luafs_register(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"fs_watch", l_fs_watch},       {"fs_list", l_fs_list}, {"fs_stat", l_fs_stat},
      {"fs_realpath", l_fs_realpath}, {NULL, NULL},
  };
  luaL_setfuncs(L, fns, 0);
  if (luaL_newmetatable(L, WATCH_MT)) {
    lua_pushcfunction(L, watch_gc);
    lua_setfield(L, -2, "__gc");
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, watch_stop);
    lua_setfield(L, -2, "stop");
    lua_pushcfunction(L, watch_active);
    lua_setfield(L, -2, "active");
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}
