/* Lua generations. A generation is one lua_State holding the framework
 * (lua/moonwire), cjson and every script of the --scripts directories. A
 * reload builds a complete new generation beside the current one; requests in
 * flight finish in the generation that started them, which is closed when its
 * last user lets go. Connections, sessions and channels are C-owned and never
 * notice. */
#ifndef MW_SCRIPT_H
#define MW_SCRIPT_H

#include <lua.h>

#include "server.h"

/* The state's small blocks (16..512 bytes) are recycled through per-class
 * free lists holding at most this many bytes (script.c, gen_alloc): about one
 * GC sweep of request garbage, which glibc would keep in its bins anyway. */
#define MW_GEN_POOL_CLASSES 32
#define MW_GEN_POOL_MAX_BYTES (1024 * 1024)

struct mw_gen {
  lua_State *L;        /* owned; closed when refs reaches 0 */
  mw_server_t *server; /* borrowed */
  uint32_t refs;       /* +1 current, +1 per owed response, +1 per running coroutine */
  uint32_t id;         /* 1, 2, … in build order */
  int ref_runtime;     /* registry ref to the moonwire.runtime table */
  mw_list_t timers;    /* mw_ltimer_t still open */
  mw_list_t jobs;      /* subprocesses started by this generation (luacore.c) */
  mw_list_t fetches;   /* HTTP client requests in flight (luacore.c) */
  mw_list_t watches;   /* directory watches of mw.watch (luafs.c) */
  size_t nwatches;     /* length of `watches`, capped at MW_LUAFS_MAX_WATCHES */
  mw_list_t link;      /* in server->gens */
  size_t mem;          /* bytes the state has allocated */
  size_t mem_limit; /* LUA_MEMORY_MB: allocations past it fail (Lua raises "not enough memory") */
  void *pool[MW_GEN_POOL_CLASSES]; /* owned: small blocks the state freed, by 16-byte class */
  size_t pool_bytes;               /* bytes in `pool`, at most MW_GEN_POOL_MAX_BYTES */
  bool retired;
  bool closing; /* a deferred close is queued */
};

/* Builds generation `id` from the configured scripts. Returns 0 and the new
 * generation (one reference, for the caller), or -EINVAL with *err set to an
 * owned message naming file:line. */
int mw_gen_new(mw_server_t *s, uint32_t id, mw_gen_t **out, char **err);

void mw_gen_ref(mw_gen_t *g);
/* Drops a reference; at zero the state is closed from the event loop (never
 * inside a Lua call, which may be the one dropping it). */
void mw_gen_unref(mw_gen_t *g);

/* Frees now, whatever the count: only for shutdown, when handlers still
 * suspended can never be resumed. */
void mw_gen_free(mw_gen_t *g);

/* Tells the generation it is no longer current (its scripts' timers and
 * directory watches stop) and drops the server's reference. */
void mw_gen_retire(mw_gen_t *g);

/* Hands BUSY connection `c` to the Lua router. Errors answer 500. */
void mw_gen_dispatch(mw_gen_t *g, mw_conn_t *c);

/* Calls the function sitting under `nargs` arguments on g->L's stack in
 * protected mode with a traceback handler. On error the message is logged as
 * `what` and counted in the Lua error metric, and nothing is left on the
 * stack; on success the `nresults` results are. Returns true on success. */
bool mw_gen_pcall(mw_gen_t *g, int nargs, int nresults, const char *what);

/* Tells the new current generation it now serves (runtime.activate): the MCP
 * layer compares what changed and notifies clients. */
void mw_gen_activate(mw_gen_t *g);

/* The server begins a graceful shutdown (runtime.shutdown): streams that end
 * with a final message (a 2026-07-28 listen result) get it now, before the
 * core's retry hint. */
void mw_gen_shutdown(mw_gen_t *g);

/* Hands a batch of mw_access_t to runtime.access(records). */
void mw_gen_access(mw_gen_t *g, mw_list_t *batch);

/* Appends the text runtime.metrics() returns (Prometheus format) to `b`. */
void mw_gen_metrics(mw_gen_t *g, mw_buf_t *b);

/* Tells the scripts a session is gone ("expired", or "closed" for an
 * ephemeral listen session; deletions from Lua notify there). */
void mw_gen_session_closed(mw_gen_t *g, const char *sid, const char *reason);

/* Directory holding moonwire/runtime.lua: $MOONWIRE_LUA_DIR, else ../lua next
 * to the executable, else the source tree's lua/. */
const char *mw_gen_lua_dir(void);

/* The `moonwire.core` module (luacore.c). */
int mw_luacore_open(lua_State *L);

/* The generation a Lua state (or any of its threads) belongs to. */
static inline mw_gen_t *mw_gen_of(lua_State *L) {
  return *(mw_gen_t **)lua_getextraspace(L);
}

#endif
