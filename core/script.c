/* Generation lifecycle; see script.h. The request/session API the scripts
 * call lives in luacore.c. */
#include "script.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

#include "conn.h"
#include "jsoncodec.h"
#include "log.h"
#include "luacore.h"
#include "luafs.h"
#include "strcache.h"

/* type(v) as the base library has it, answering with names interned once (its
 * upvalues): the library's own pushes the name as a C string, and
 * lua_pushstring finds that in its cache by strcmp, ~140 instructions a call.
 * A tools/call makes ~16 type() checks. */
static int fast_type(lua_State *L) {
  int t = lua_type(L, 1);
  luaL_argcheck(L, t != LUA_TNONE, 1, "value expected");
  lua_pushvalue(L, lua_upvalueindex(t + 1));
  return 1;
}

static void install_fast_type(lua_State *L) {
  for (int t = LUA_TNIL; t < LUA_NUMTYPES; t++)
    lua_pushstring(L, lua_typename(L, t));
  lua_pushcclosure(L, fast_type, LUA_NUMTYPES);
  lua_setglobal(L, "type");
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Pushes runtime[name]; returns false (nothing pushed) if it is not a function. */
static bool push_runtime_fn(mw_gen_t *g, const char *name) {
  lua_rawgeti(g->L, LUA_REGISTRYINDEX, g->ref_runtime);
  lua_getfield(g->L, -1, name);
  lua_remove(g->L, -2);
  if (lua_isfunction(g->L, -1)) return true;
  lua_pop(g->L, 1);
  return false;
}

static void log_lua_error(mw_gen_t *g, const char *what, const char *msg) {
  g->server->metrics.lua_errors++;
  char gen[16];
  snprintf(gen, sizeof gen, "%u", g->id);
  mw_log(MW_LOG_ERROR, what, 2, "generation", gen, "error", msg ? msg : "?");
}

bool mw_gen_pcall(mw_gen_t *g, int nargs, int nresults, const char *what) {
  lua_State *L = g->L;
  int base = lua_gettop(L) - nargs; /* the function's slot */
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  int rc = lua_pcall(L, nargs, nresults, base);
  if (rc != LUA_OK) {
    log_lua_error(g, what, lua_tostring(L, -1));
    lua_settop(L, base - 1);
    return false;
  }
  lua_remove(L, base);
  return true;
}

const char *mw_gen_lua_dir(void) {
  static char dir[4096];
  if (dir[0]) return dir;
  const char *env = getenv("MOONWIRE_LUA_DIR");
  if (env && *env) {
    snprintf(dir, sizeof dir, "%s", env);
    return dir;
  }
  char exe[4000];
  size_t n = sizeof exe;
  if (uv_exepath(exe, &n) == 0) {
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      char probe[4096 + 64];
      snprintf(probe, sizeof probe, "%s/../lua/moonwire/runtime.lua", exe);
      if (access(probe, R_OK) == 0) {
        snprintf(dir, sizeof dir, "%s/../lua", exe);
        return dir;
      }
    }
  }
  snprintf(dir, sizeof dir, "%s", MW_SOURCE_LUA_DIR);
  return dir;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Pushes a sorted array of the *.lua files directly in `dir`. */
static int push_scripts(lua_State *L, const char *dir, char **err) {
  DIR *d = opendir(dir);
  if (!d) {
    mw_buf_t b = {0};
    mw_buf_printf(&b, "scripts directory %s: %s", dir, strerror(errno));
    *err = mw_buf_steal(&b, NULL);
    return -EINVAL;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0 || e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      names = mw_realloc(names, cap * sizeof *names);
    }
    names[n++] = mw_strdup(e->d_name);
  }
  closedir(d);
  if (n)
    qsort(names, n, sizeof *names, cmp_str); /* names is NULL when the directory holds no script */
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushfstring(L, "%s/%s", dir, names[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
    mw_free(names[i]);
  }
  mw_free(names);
  return 0;
}

/* Small blocks: most of what a request allocates (tables, short strings,
 * closures) is 16..512 bytes and dies within the request. The GC's frees
 * feed per-class free lists that the next allocations take from, which costs
 * a fraction of malloc + free. Every small block is allocated at its class's
 * full size, so a block of a class fits any size of that class. */
#define POOL_MAX_SIZE (MW_GEN_POOL_CLASSES * 16)

static inline size_t pool_class(size_t n) {
  return (n - 1) >> 4;
}

static void *pool_get(mw_gen_t *g, size_t n) {
  if (n > POOL_MAX_SIZE) return malloc(n);
  size_t c = pool_class(n);
  void **p = g->pool[c];
  if (!p) return malloc((c + 1) * 16);
  ASAN_UNPOISON_MEMORY_REGION(p, (c + 1) * 16);
  g->pool[c] = *p;
  g->pool_bytes -= (c + 1) * 16;
  return p;
}

static void pool_put(mw_gen_t *g, void *ptr, size_t n) {
  size_t c = pool_class(n);
  if (n == 0 || n > POOL_MAX_SIZE || g->pool_bytes + (c + 1) * 16 > MW_GEN_POOL_MAX_BYTES) {
    free(ptr);
    return;
  }
  *(void **)ptr = g->pool[c];
  g->pool[c] = ptr;
  g->pool_bytes += (c + 1) * 16;
  ASAN_POISON_MEMORY_REGION(ptr, (c + 1) * 16);
}

static void pool_drain(mw_gen_t *g) {
  for (size_t c = 0; c < MW_GEN_POOL_CLASSES; c++) {
    while (g->pool[c]) {
      void **p = g->pool[c];
      ASAN_UNPOISON_MEMORY_REGION(p, (c + 1) * 16);
      g->pool[c] = *p;
      free(p);
    }
  }
  g->pool_bytes = 0;
}

/* Counts every byte the generation's state holds and refuses growth past the
 * cap: an allocation bomb fails the call that makes it (Lua turns NULL into a
 * catchable "not enough memory" error after an emergency GC) instead of
 * taking the process down. Frees and shrinks always succeed. */
static void *gen_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  mw_gen_t *g = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    if (ptr) pool_put(g, ptr, old);
    g->mem -= old;
    return NULL;
  }
  if (nsize > old && g->mem + (nsize - old) > g->mem_limit) return NULL;
  void *p;
  if (!ptr) {
    p = pool_get(g, nsize);
  } else if (old && old <= POOL_MAX_SIZE && nsize <= POOL_MAX_SIZE &&
             pool_class(old) == pool_class(nsize)) {
    p = ptr; /* the block already has its class's full size */
  } else {
    p = realloc(ptr, nsize <= POOL_MAX_SIZE ? (pool_class(nsize) + 1) * 16 : nsize);
  }
  if (!p) return NULL;
  g->mem = g->mem - old + nsize;
  return p;
}

static int on_panic(lua_State *L) {
  mw_log(MW_LOG_ERROR, "unprotected Lua error", 1, "error", lua_tostring(L, -1));
  abort();
}

void mw_gen_free(mw_gen_t *g) {
  mw_list_remove(&g->link);
  mw_luacore_close_timers(g);
  mw_luacore_cancel_jobs(g);
  mw_luafs_close_watches(g);
  if (g->L) lua_close(g->L);
  pool_drain(g);
  mw_free(g);
}

int mw_gen_new(mw_server_t *s, uint32_t id, mw_gen_t **out, char **err) {
  const mw_config_t *cfg = s->config;
  mw_gen_t *g = mw_calloc(1, sizeof *g);
  g->server = s;
  g->id = id;
  g->refs = 1;
  g->ref_runtime = LUA_NOREF;
  mw_list_init(&g->timers);
  mw_list_init(&g->jobs);
  mw_list_init(&g->fetches);
  mw_list_init(&g->watches);
  mw_list_push_back(&s->gens, &g->link);
  *err = NULL;

  g->mem_limit = (size_t)cfg->lua_memory_mb * 1024 * 1024;
  lua_State *L = lua_newstate(gen_alloc, g);
  if (!L) {
    *err = mw_strdup("cannot create Lua state");
    mw_gen_free(g);
    return -EINVAL;
  }
  g->L = L;
  lua_atpanic(L, on_panic);
  *(mw_gen_t **)lua_getextraspace(L) = g;
  luaL_openlibs(L);
  install_fast_type(L);
  /* Generational mode: a request's tables die young while sessions, tools
   * and modules live for the generation, and minor collections leave the old
   * part alone. Incremental cycles re-marked it for every request's garbage:
   * ~1 µs more CPU per tools/call with 9,000 sessions open (bench/FINDINGS.md). */
  lua_gc(L, LUA_GCGEN, 0, 0);

  /* Framework first, then each scripts directory, so `require` finds a
   * script's own modules next to it. */
  mw_buf_t path = {0};
  const char *lua_dir = mw_gen_lua_dir();
  mw_buf_printf(&path, "%s/?.lua;%s/?/init.lua", lua_dir, lua_dir);
  for (size_t i = 0; i < cfg->nscripts; i++)
    mw_buf_printf(&path, ";%s/?.lua;%s/?/init.lua", cfg->scripts[i], cfg->scripts[i]);
  lua_getglobal(L, "package");
  lua_pushstring(L, path.data);
  lua_setfield(L, -2, "path");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, mw_luacore_open);
  lua_setfield(L, -2, "moonwire.core");
  lua_pushcfunction(L, mw_jsoncodec_open);
  lua_setfield(L, -2, "moonwire.jsoncodec");
  lua_pop(L, 2);
  mw_buf_dispose(&path);

  lua_pushcfunction(L, traceback);
  int tb = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "moonwire.runtime");
  if (lua_pcall(L, 1, 1, tb) != LUA_OK) goto lua_error;
  if (!lua_istable(L, -1)) {
    lua_pushliteral(L, "moonwire.runtime did not return a table");
    goto lua_error;
  }
  g->ref_runtime = luaL_ref(L, LUA_REGISTRYINDEX);

  if (!push_runtime_fn(g, "load_scripts")) {
    lua_pushliteral(L, "moonwire.runtime has no load_scripts");
    goto lua_error;
  }
  lua_createtable(L, (int)cfg->nscripts, 0);
  for (size_t i = 0; i < cfg->nscripts; i++) {
    if (push_scripts(L, cfg->scripts[i], err) < 0) goto fail;
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_pushinteger(L, id);
  /* A script that loops at load time fails the load, not the server. */
  mw_luacore_budget_main(L, cfg->handler_timeout_ms);
  int rc = lua_pcall(L, 2, 2, tb);
  mw_luacore_budget_main(L, 0);
  if (rc != LUA_OK) goto lua_error;
  if (!lua_toboolean(L, -2)) {
    lua_remove(L, -2);
    goto lua_error;
  }
  lua_settop(L, 0);
  *out = g;
  return 0;

lua_error : {
  const char *m = lua_tostring(L, -1);
  *err = mw_strdup(m ? m : "script error");
}
fail:
  mw_gen_free(g);
  return -EINVAL;
}

void mw_gen_ref(mw_gen_t *g) {
  g->refs++;
}

static void gen_close_deferred(mw_server_t *s, void *arg) {
  mw_gen_t *g = arg;
  g->closing = false;
  /* Something (a timer callback, say) took a reference after it dropped to
   * zero: it will come back here when that reference goes. */
  if (g->refs > 0) return;
  char id[16];
  snprintf(id, sizeof id, "%u", g->id);
  mw_log(MW_LOG_DEBUG, "generation closed", 1, "generation", id);
  mw_gen_free(g);
}

void mw_gen_unref(mw_gen_t *g) {
  if (!g || --g->refs > 0 || g->closing) return;
  g->closing = true; /* one deferred close at a time, however often refs touch 0 */
  mw_server_defer(g->server, gen_close_deferred, g);
}

void mw_gen_retire(mw_gen_t *g) {
  g->retired = true;
  mw_luafs_close_watches(g);
  if (push_runtime_fn(g, "retire")) mw_gen_pcall(g, 0, 0, "retire failed");
  mw_gen_unref(g);
}

/* `strings` is L's string cache, its anchor table at stack index `anchor`:
 * clients send the same header names and values with every request. */
static void push_request(lua_State *L, mw_conn_t *c, mw_strcache_t *strings, int anchor) {
  mw_req_t *r = c->req;
  /* 8 fields here and 2 (params, args) from the runtime: sized for all. */
  lua_createtable(L, 0, 10);
  lua_pushstring(L, llhttp_method_name((llhttp_method_t)r->method));
  lua_setfield(L, -2, "method");
  const char *url = mw_req_url(r);
  const char *q = strchr(url, '?');
  lua_pushstring(L, url);
  lua_setfield(L, -2, "url");
  lua_pushlstring(L, url, q ? (size_t)(q - url) : strlen(url));
  lua_setfield(L, -2, "path");
  lua_pushstring(L, q ? q + 1 : "");
  lua_setfield(L, -2, "query");
  lua_pushstring(L, r->http10 ? "1.0" : "1.1");
  lua_setfield(L, -2, "http_version");
  lua_pushlstring(L, r->body ? r->body : "", r->body_len);
  lua_setfield(L, -2, "body");

  /* Repeated headers are joined with ", " (RFC 9110 §5.3). Only a name seen
   * before (compared in C, cheaper than a table lookup per header) looks up
   * the value stored so far. */
  lua_createtable(L, 0, (int)r->nhdrs);
  for (uint32_t i = 0; i < r->nhdrs; i++) {
    const mw_header_span_t *h = &r->hdrs[i];
    const char *name = r->head + h->name_off;
    bool repeated = false;
    for (uint32_t j = 0; j < i && !repeated; j++)
      repeated = r->hdrs[j].name_len == h->name_len &&
                 memcmp(r->head + r->hdrs[j].name_off, name, h->name_len) == 0;
    mw_strcache_push(L, strings, anchor, name, h->name_len);
    if (!repeated) {
      mw_strcache_push(L, strings, anchor, r->head + h->value_off, h->value_len);
      lua_rawset(L, -3);
      continue;
    }
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TSTRING) {
      lua_pushliteral(L, ", ");
      lua_pushlstring(L, r->head + h->value_off, h->value_len);
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushlstring(L, r->head + h->value_off, h->value_len);
    }
    lua_rawset(L, -3);
  }
  lua_setfield(L, -2, "headers");

  lua_pushstring(L, mw_conn_peer(c));
  lua_setfield(L, -2, "remote_addr");
}

/* dispatch's arguments, the request table and the handle, built in a
 * protected call: a request's body copied into Lua may not fit under
 * LUA_MEMORY_MB, and a memory error outside any pcall aborts the process. */
static int push_dispatch_args(lua_State *L) {
  mw_conn_t *c = lua_touserdata(L, 1);
  mw_strcache_t *strings = mw_strcache_open(L);
  push_request(L, c, strings, lua_gettop(L));
  mw_luacore_push_handle(L, c);
  return 2;
}

void mw_gen_dispatch(mw_gen_t *g, mw_conn_t *c) {
  lua_State *L = g->L;
  if (!push_runtime_fn(g, "dispatch")) {
    mw_server_error(g->server, c, 500, "no request dispatcher");
    return;
  }
  lua_pushcfunction(L, push_dispatch_args);
  lua_pushlightuserdata(L, c);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
    mw_log(MW_LOG_WARN, "request refused: its script generation is out of memory", 1, "error",
           lua_tostring(L, -1));
    lua_pop(L, 2); /* the error and dispatch */
    mw_server_error(g->server, c, 503, "script memory full");
    return;
  }
  void *handle = lua_touserdata(L, -1);
  c->gen = g;
  mw_gen_ref(g);
  if (mw_gen_pcall(g, 2, 0, "request dispatch failed")) return;
  /* Still bound to its handle and unanswered: nobody else will answer. */
  mw_conn_t *bound;
  if (mw_handles_get(&g->server->handles, handle, &bound) && bound == c && c->state == MW_CONN_BUSY)
    mw_server_error(g->server, c, 500, "internal error");
}

void mw_gen_activate(mw_gen_t *g) {
  if (push_runtime_fn(g, "activate")) mw_gen_pcall(g, 0, 0, "activate failed");
}

void mw_gen_shutdown(mw_gen_t *g) {
  if (push_runtime_fn(g, "shutdown")) mw_gen_pcall(g, 0, 0, "shutdown hook failed");
}

/* access(hook, batch): builds the records' table and calls the hook, both in
 * mw_gen_access's protected call (the table may not fit under LUA_MEMORY_MB). */
static int call_access(lua_State *L) {
  mw_list_t *batch = lua_touserdata(L, 2);
  lua_settop(L, 1);
  lua_newtable(L);
  lua_Integer i = 0;
  mw_list_t *pos, *tmp;
  mw_list_foreach_safe(pos, tmp, batch) {
    mw_access_t *a = mw_container_of(pos, mw_access_t, link);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, a->method);
    lua_setfield(L, -2, "method");
    lua_pushstring(L, a->url);
    lua_setfield(L, -2, "url");
    lua_pushinteger(L, a->status);
    lua_setfield(L, -2, "status");
    lua_pushinteger(L, (lua_Integer)a->duration_ms);
    lua_setfield(L, -2, "duration_ms");
    lua_pushstring(L, a->remote);
    lua_setfield(L, -2, "remote_addr");
    if (a->session) {
      lua_pushstring(L, a->session);
      lua_setfield(L, -2, "session_id");
    }
    lua_rawseti(L, -2, ++i);
  }
  lua_call(L, 1, 0);
  return 0;
}

void mw_gen_access(mw_gen_t *g, mw_list_t *batch) {
  lua_State *L = g->L;
  if (push_runtime_fn(g, "access")) {
    lua_pushcfunction(L, call_access);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, batch);
    mw_gen_pcall(g, 2, 0, "access hook failed");
  }
}

void mw_gen_metrics(mw_gen_t *g, mw_buf_t *b) {
  lua_State *L = g->L;
  if (!push_runtime_fn(g, "metrics") || !mw_gen_pcall(g, 0, 1, "metrics failed")) return;
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    mw_buf_append(b, text, len);
  }
  lua_pop(L, 1);
}

void mw_gen_session_closed(mw_gen_t *g, const char *sid, const char *reason) {
  lua_State *L = g->L;
  if (push_runtime_fn(g, "session_closed")) {
    lua_pushstring(L, sid);
    lua_pushstring(L, reason);
    mw_gen_pcall(g, 2, 0, "session_closed failed");
  }
}
