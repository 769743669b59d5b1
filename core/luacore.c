/* moonwire.core; see luacore.h. Functions take plain values (ids, strings)
 * rather than long-lived userdata wherever they can: sessions and channels are
 * addressed by name, so nothing a script holds can outlive what it points to,
 * and a new generation can pick up where the old one left off. */
#include "luacore.h"

#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "exec.h"
#include "reload.h"
#include "httpc.h"
#include "log.h"
#include "luafs.h"
#include "luaprof.h"
#include "session.h"
#include "shared.h"
#include "sign.h"
#include "sse.h"

#define TIMER_MT "moonwire.timer"
#define MAX_RESPONSE_HEADERS 64

static mw_server_t *server_of(lua_State *L) {
  return mw_gen_of(L)->server;
}

/* ---- request handles -------------------------------------------------- */

/* The connection behind the handle at idx, or NULL once it no longer refers
 * to one (answered, client gone, handed to a stream). */
static mw_conn_t *handle_conn(lua_State *L, int idx) {
  mw_conn_t *c = NULL;
  if (lua_type(L, idx) != LUA_TLIGHTUSERDATA ||
      !mw_handles_get(&server_of(L)->handles, lua_touserdata(L, idx), &c))
    luaL_typeerror(L, idx, "moonwire.handle");
  return c;
}

void *mw_luacore_push_handle(lua_State *L, mw_conn_t *c) {
  void *v = mw_handles_bind(&server_of(L)->handles, c);
  lua_pushlightuserdata(L, v);
  return v;
}

/* Collects a Lua table {name = "value"} into `kv`; the strings stay anchored
 * in the table. The framework converts other value types before calling. */
static size_t collect_headers(lua_State *L, int idx, mw_kv_t *kv, size_t max) {
  size_t n = 0;
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "headers must map strings to strings");
    if (n == max) luaL_error(L, "too many headers (max %d)", (int)max);
    kv[n].name = lua_tostring(L, -2);
    kv[n].value = lua_tostring(L, -1);
    n++;
    lua_pop(L, 1);
  }
  return n;
}

static int l_respond(lua_State *L) {
  mw_conn_t *c = handle_conn(L, 1);
  int status = (int)luaL_checkinteger(L, 2);
  luaL_argcheck(L, status >= 100 && status <= 599, 2, "HTTP status must be in 100..599");
  size_t body_len = 0;
  const char *body = luaL_optlstring(L, 4, "", &body_len);
  mw_kv_t kv[MAX_RESPONSE_HEADERS];
  size_t n = collect_headers(L, 3, kv, MAX_RESPONSE_HEADERS);
  if (!c || c->state != MW_CONN_BUSY) {
    lua_pushboolean(L, 0);
    return 1;
  }
  mw_conn_respond(c, status, kv, n, body, body_len);
  lua_pushboolean(L, 1);
  return 1;
}

/* Opens a plain SSE stream the script writes to through the same handle. */
static int l_sse_start(lua_State *L) {
  mw_conn_t *c = handle_conn(L, 1);
  mw_kv_t kv[MAX_RESPONSE_HEADERS];
  size_t n = collect_headers(L, 2, kv, MAX_RESPONSE_HEADERS);
  if (!c || mw_conn_sse_start(c, kv, n) < 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  c->sse_kind = MW_SSE_LUA;
  c->answering = lua_toboolean(L, 3);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_send(lua_State *L) {
  mw_conn_t *c = handle_conn(L, 1);
  const char *event = luaL_optstring(L, 2, NULL);
  size_t len = 0;
  const char *data = luaL_optlstring(L, 3, NULL, &len);
  const char *id = luaL_optstring(L, 4, NULL);
  lua_Integer retry = luaL_optinteger(L, 5, -1);
  if (!c || c->state != MW_CONN_STREAM) {
    lua_pushboolean(L, 0);
    return 1;
  }
  mw_sse_event_t ev = {id, event, data, len, retry < 0 || retry > INT32_MAX ? -1 : (int)retry};
  mw_frame_t *f = mw_sse_frame(&ev);
  int rc = mw_conn_sse_send(c, f);
  mw_frame_unref(f);
  lua_pushboolean(L, rc == 0);
  return 1;
}

static int l_finish(lua_State *L) {
  mw_conn_t *c = handle_conn(L, 1);
  if (c && c->state == MW_CONN_STREAM) mw_conn_sse_finish(c);
  return 0;
}

static int l_is_open(lua_State *L) {
  mw_conn_t *c = handle_conn(L, 1);
  lua_pushboolean(L, c && (c->state == MW_CONN_BUSY || c->state == MW_CONN_STREAM));
  return 1;
}

/* Hands a BUSY connection to a C-managed stream: the script's handle lets go. */
static mw_conn_t *take_conn(lua_State *L) {
  mw_conn_t *c = handle_conn(L, 1);
  if (!c || c->state != MW_CONN_BUSY) return NULL;
  mw_handles_unbind(&server_of(L)->handles, c);
  return c;
}

static int l_subscribe(lua_State *L) {
  const char *name = luaL_checkstring(L, 2);
  const char *last = luaL_optstring(L, 3, NULL);
  mw_kv_t kv[MAX_RESPONSE_HEADERS];
  size_t n = collect_headers(L, 4, kv, MAX_RESPONSE_HEADERS);
  mw_conn_t *c = take_conn(L);
  if (!c) {
    lua_pushboolean(L, 0);
    return 1;
  }
  bool gap = false;
  mw_channel_subscribe(mw_channel_get(server_of(L), name, true), c, last, kv, n, &gap);
  lua_pushboolean(L, 1);
  lua_pushboolean(L, gap);
  return 2;
}

static mw_session_t *check_session(lua_State *L, int idx) {
  return mw_session_find(server_of(L), luaL_checkstring(L, idx));
}

static int l_session_attach(lua_State *L) {
  mw_session_t *ss = check_session(L, 2);
  lua_Integer no = luaL_optinteger(L, 3, 0);
  const char *last = luaL_optstring(L, 4, NULL);
  mw_kv_t kv[MAX_RESPONSE_HEADERS];
  size_t n = collect_headers(L, 5, kv, MAX_RESPONSE_HEADERS);
  luaL_argcheck(L, no >= 0 && no <= UINT32_MAX, 3, "stream number out of range");
  if (!ss) {
    luaL_pushfail(L);
    lua_pushliteral(L, "no-session");
    return 2;
  }
  mw_conn_t *c = handle_conn(L, 1);
  if (!c || c->state != MW_CONN_BUSY) {
    luaL_pushfail(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  bool gap = false;
  bool prime = lua_isnoneornil(L, 6) || lua_toboolean(L, 6);
  /* The handle stays bound until the attach succeeded, so the caller can
   * still answer 404/400 when the stream is unknown. */
  if (mw_session_attach(ss, c, (uint32_t)no, last, kv, n, prime, &gap) < 0) {
    luaL_pushfail(L);
    lua_pushliteral(L, "unknown-stream");
    return 2;
  }
  mw_handles_unbind(&server_of(L)->handles, c);
  lua_pushboolean(L, 1);
  lua_pushboolean(L, gap);
  return 2;
}

static int l_publish(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *event = luaL_optstring(L, 2, NULL);
  size_t len;
  const char *data = luaL_checklstring(L, 3, &len);
  char id[48];
  size_t delivered = 0;
  mw_channel_publish(mw_channel_get(server_of(L), name, true), event, data, len, id, &delivered);
  lua_pushstring(L, id);
  lua_pushinteger(L, (lua_Integer)delivered);
  return 2;
}

/* ---- sessions --------------------------------------------------------- */

static int l_session_create(lua_State *L) {
  size_t len;
  const char *data = luaL_optlstring(L, 1, NULL, &len);
  mw_session_t *ss = mw_session_create(server_of(L));
  ss->prefixed_ids = lua_toboolean(L, 2);
  ss->ephemeral = lua_toboolean(L, 3);
  if (data) mw_session_set_data(ss, data, len);
  lua_pushstring(L, ss->id);
  return 1;
}

static int l_session_get(lua_State *L) {
  mw_session_t *ss = check_session(L, 1);
  if (!ss) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushboolean(L, 1);
  if (ss->data)
    lua_pushlstring(L, ss->data, ss->data_len);
  else
    lua_pushnil(L);
  return 2;
}

/* session_exists(sid) -> bool: session_get without copying the data out. */
static int l_session_exists(lua_State *L) {
  lua_pushboolean(L, check_session(L, 1) != NULL);
  return 1;
}

static int l_session_set(lua_State *L) {
  mw_session_t *ss = check_session(L, 1);
  size_t len;
  const char *data = luaL_optlstring(L, 2, NULL, &len);
  if (ss) mw_session_set_data(ss, data, len);
  lua_pushboolean(L, ss != NULL);
  return 1;
}

static int l_session_destroy(lua_State *L) {
  mw_session_t *ss = check_session(L, 1);
  if (ss) {
    mw_log(MW_LOG_DEBUG, "session deleted", 1, "session", ss->id);
    mw_session_destroy(server_of(L), ss);
  }
  lua_pushboolean(L, ss != NULL);
  return 1;
}

static int l_session_touch(lua_State *L) {
  mw_session_t *ss = check_session(L, 1);
  if (ss) mw_session_touch(ss);
  lua_pushboolean(L, ss != NULL);
  return 1;
}

/* session_hold(sid, on): see mw_session_hold; a gone session is ignored. */
static int l_session_hold(lua_State *L) {
  mw_session_t *ss = check_session(L, 1);
  if (ss) mw_session_hold(ss, lua_toboolean(L, 2));
  return 0;
}

static int l_session_open_stream(lua_State *L) {
  mw_session_t *ss = check_session(L, 1);
  if (!ss) {
    luaL_pushfail(L);
    return 1;
  }
  lua_pushinteger(L, mw_session_open_stream(ss));
  return 1;
}

static int l_session_send(lua_State *L) {
  mw_session_t *ss = check_session(L, 1);
  lua_Integer no = luaL_checkinteger(L, 2);
  const char *event = luaL_optstring(L, 3, NULL);
  size_t len;
  const char *data = luaL_checklstring(L, 4, &len);
  if (!ss) {
    luaL_pushfail(L);
    lua_pushliteral(L, "no-session");
    return 2;
  }
  char id[64];
  int rc =
      no < 0 || no > UINT32_MAX ? -ENOENT : mw_session_send(ss, (uint32_t)no, event, data, len, id);
  if (rc < 0) {
    luaL_pushfail(L);
    lua_pushstring(L, rc == -EPIPE ? "stream-ended" : "unknown-stream");
    return 2;
  }
  lua_pushstring(L, id);
  return 1;
}

static int l_session_end_stream(lua_State *L) {
  mw_session_t *ss = check_session(L, 1);
  lua_Integer no = luaL_checkinteger(L, 2);
  bool ok = ss && no >= 0 && no <= UINT32_MAX && mw_session_end_stream(ss, (uint32_t)no) == 0;
  lua_pushboolean(L, ok);
  return 1;
}

static int l_session_release(lua_State *L) {
  mw_session_t *ss = check_session(L, 1);
  lua_Integer no = luaL_checkinteger(L, 2);
  bool ok = ss && no >= 0 && no <= UINT32_MAX && mw_session_release_stream(ss, (uint32_t)no) == 0;
  lua_pushboolean(L, ok);
  return 1;
}

static int l_session_info(lua_State *L) {
  mw_session_t *ss = check_session(L, 1);
  if (!ss) {
    luaL_pushfail(L);
    return 1;
  }
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, ss->attached);
  lua_setfield(L, -2, "attached");
  lua_pushinteger(L, ss->log.count);
  lua_setfield(L, -2, "buffered");
  lua_pushinteger(L, (lua_Integer)ss->log.bytes);
  lua_setfield(L, -2, "buffered_bytes");
  lua_pushboolean(L, 0);
  for (uint32_t i = 0; i < ss->nstreams; i++) {
    if (ss->streams[i].no == 0 && ss->streams[i].conn) {
      lua_pop(L, 1);
      lua_pushboolean(L, 1);
    }
  }
  lua_setfield(L, -2, "standalone_open");
  return 1;
}

/* ---- timers ----------------------------------------------------------- */

typedef struct mw_ltimer mw_ltimer_t;
typedef struct {
  mw_ltimer_t *timer; /* NULL once the timer closed */
} timer_box_t;

struct mw_ltimer {
  uv_timer_t timer;
  mw_gen_t *gen;    /* borrowed; NULL once the generation closes */
  mw_list_t link;   /* in gen->timers */
  timer_box_t *box; /* the Lua userdata, or NULL once collected */
  int fn_ref;       /* registry ref of the callback */
  bool repeat;
};

static void timer_closed(uv_handle_t *h) {
  mw_free(h->data);
}

static void timer_close(mw_ltimer_t *t) {
  mw_list_remove(&t->link);
  if (t->box) t->box->timer = NULL;
  t->box = NULL;
  if (t->gen) luaL_unref(t->gen->L, LUA_REGISTRYINDEX, t->fn_ref);
  t->gen = NULL;
  uv_close((uv_handle_t *)&t->timer, timer_closed);
}

static void on_timer(uv_timer_t *ut) {
  mw_ltimer_t *t = ut->data;
  mw_gen_t *g = t->gen;
  lua_rawgeti(g->L, LUA_REGISTRYINDEX, t->fn_ref);
  /* A one-shot timer is done before its callback runs, so the callback may
   * start new timers freely. Keep the generation alive across the call. */
  mw_gen_ref(g);
  if (!t->repeat) timer_close(t);
  mw_gen_pcall(g, 0, 0, "timer callback failed");
  mw_gen_unref(g);
}

/* core.timer(ms, repeat, fn) -> timer; repeat=true fires every ms. */
static int l_timer(lua_State *L) {
  lua_Integer ms = luaL_checkinteger(L, 1);
  bool repeat = lua_toboolean(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  luaL_argcheck(L, ms >= 0 && ms <= 365LL * 86400 * 1000, 1, "delay out of range");
  luaL_argcheck(L, !repeat || ms > 0, 1, "a repeating timer needs a delay > 0");
  mw_gen_t *g = mw_gen_of(L);
  mw_ltimer_t *t = mw_calloc(1, sizeof *t);
  uv_timer_init(g->server->loop, &t->timer);
  t->timer.data = t;
  t->gen = g;
  t->repeat = repeat;
  lua_pushvalue(L, 3);
  t->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  mw_list_push_back(&g->timers, &t->link);
  uv_timer_start(&t->timer, on_timer, (uint64_t)ms, repeat ? (uint64_t)ms : 0);
  timer_box_t *box = lua_newuserdatauv(L, sizeof *box, 0);
  box->timer = t;
  t->box = box;
  luaL_setmetatable(L, TIMER_MT);
  return 1;
}

static int timer_stop(lua_State *L) {
  timer_box_t *box = luaL_checkudata(L, 1, TIMER_MT);
  if (box->timer) timer_close(box->timer);
  return 0;
}

static int timer_gc(lua_State *L) {
  timer_box_t *box = luaL_checkudata(L, 1, TIMER_MT);
  /* Collected is not stopped: `mw.after(1, fn)` without keeping the result
   * must still fire. */
  if (box->timer) box->timer->box = NULL;
  return 0;
}

void mw_luacore_close_timers(mw_gen_t *g) {
  mw_list_t *pos, *tmp;
  mw_list_foreach_safe(pos, tmp, &g->timers) {
    mw_ltimer_t *t = mw_container_of(pos, mw_ltimer_t, link);
    t->fn_ref = LUA_NOREF; /* the state is about to close with everything in it */
    timer_close(t);
  }
}

/* ---- time budgets ----------------------------------------------------- */

/* Every MW_HOOK_COUNT VM instructions a hooked thread checks the clock.
 * Past its deadline a task coroutine yields out of the hook and is abandoned
 * by the runtime (its handler answers with a timeout error); the main
 * thread, which cannot yield, raises an error instead. This is how `while
 * true do end` in one handler leaves every other client served. */
#define MW_HOOK_COUNT 1000
/* A task coroutine that computes for longer than this without yielding is
 * preempted: it yields out of the hook and the runtime resumes it on the next
 * loop iteration, so one CPU-bound handler cannot starve other clients. */
#define MW_SLICE_NS (10 * 1000000ull)
/* Task coroutines run without a hook (in Lua 5.4 a count hook sends every VM
 * instruction through luaG_traceexec: ~7% of a tools/call). Instead a timer
 * on the loop thread's CPU clock signals that thread every MW_WATCH_NS of CPU
 * it burns; the handler arms a one-shot check on the task coroutines being
 * resumed (lua_sethook is safe in a signal handler, ldebug.c; lua.c does the
 * same on SIGINT). An idle server gets no signals. A slice or deadline is thus
 * noticed at most MW_WATCH_NS of CPU late. */
#define MW_WATCH_NS (2 * 1000000L)
#define MW_RUNNING_MAX 32

static char budget_key;       /* registry: weak table main thread -> deadline (ns) (guard) */
static uint64_t slice_end_ns; /* end of the running task's time slice (single loop thread) */
/* Deadline of the innermost task being resumed: coroutines a handler creates
 * itself run on their task's clock. */
static uint64_t current_deadline_ns = UINT64_MAX;

/* The task coroutines inside M.resume, outermost first (slice/unslice), with
 * their deadlines and what the hook did to them. Written by the loop thread;
 * its signal handler reads only `running` and `nrunning`, and an entry is
 * stored before the count grows. */
enum { RUN_PREEMPTED = 1, RUN_EXPIRED = 2 };
static lua_State *volatile running[MW_RUNNING_MAX];
static volatile sig_atomic_t nrunning;
static uint64_t running_deadline_ns[MW_RUNNING_MAX];
static int running_flags[MW_RUNNING_MAX];
/* 1 once the CPU-clock timer runs; -1 when it could not be created (task
 * coroutines then keep the hook for all their run, as the main thread does). */
static int watch_state;

static void push_budgets(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &budget_key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_createtable(L, 0, 4);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &budget_key);
}

static int budget_error(lua_State *L, lua_Debug *ar) {
  if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
    return luaL_error(L, "%s:%d: exceeded its time budget", ar->short_src, ar->currentline);
  return luaL_error(L, "exceeded its time budget");
}

static int running_index(lua_State *L) {
  for (int i = (int)nrunning - 1; i >= 0; i--)
    if (running[i] == L) return i;
  return -1;
}

static void budget_hook(lua_State *L, lua_Debug *ar) {
  uint64_t now = uv_hrtime();
  int i = running_index(L);
  if (i >= 0) {
    if (now <= running_deadline_ns[i]) {
      /* Inside a C call that cannot yield (a gsub callback, a sort
       * comparator) the slice simply runs on: preemption is a courtesy. */
      if (now > slice_end_ns && lua_isyieldable(L)) {
        running_flags[i] |= RUN_PREEMPTED;
        lua_yield(L, 0);
      }
      return;
    }
    running_flags[i] |= RUN_EXPIRED;
    /* Inside a non-yieldable C call, raise instead: the error leaves that
     * call and the next check, in yieldable code, stops the coroutine. */
    if (!lua_isyieldable(L)) budget_error(L, ar);
    lua_yield(L, 0);
    return;
  }
  if (!lua_pushthread(L)) {
    lua_pop(L, 1);
    /* A coroutine of the handler's own: stop it with an error when the task
     * is out of time; the task itself is then stopped at its next check. */
    if (now > current_deadline_ns) budget_error(L, ar);
    return;
  }
  push_budgets(L);
  lua_insert(L, -2);
  lua_rawget(L, -2);
  int isnum;
  lua_Integer deadline = lua_tointegerx(L, -1, &isnum);
  lua_pop(L, 2);
  if (isnum && now > (uint64_t)deadline) budget_error(L, ar);
}

/* The armed check of a task coroutine: one look at the clock, then the
 * hook is off again until the next signal. Off first: budget_hook may leave
 * by an error. */
static void watch_hook(lua_State *L, lua_Debug *ar) {
  lua_sethook(L, NULL, 0, 0);
  budget_hook(L, ar);
}

static void on_watch_signal(int sig) {
  (void)sig;
  for (sig_atomic_t i = 0; i < nrunning; i++)
    lua_sethook(running[i], watch_hook, LUA_MASKCOUNT, MW_HOOK_COUNT);
}

static bool watch_start(void) {
  if (watch_state) return watch_state > 0;
  watch_state = -1;
  int signo = SIGRTMIN + 1;
  struct sigaction sa = {.sa_handler = on_watch_signal, .sa_flags = SA_RESTART};
  sigemptyset(&sa.sa_mask);
  if (sigaction(signo, &sa, NULL) < 0) return false;
  struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = signo};
#ifdef sigev_notify_thread_id
  ev.sigev_notify_thread_id = gettid();
#else
  ev._sigev_un._tid = gettid(); /* glibc < 2.41 names the field only this way */
#endif
  timer_t t;
  if (timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &t) < 0) return false;
  /* MOONWIRE_WATCH_MS, for measurements only: under valgrind the CPU clock
   * runs ~50x faster per request than natively (bench/profile-call.sh). */
  const char *env = getenv("MOONWIRE_WATCH_MS");
  long ns = env && atol(env) > 0 ? atol(env) * 1000000L : MW_WATCH_NS;
  struct itimerspec its = {.it_interval = {ns / 1000000000L, ns % 1000000000L},
                           .it_value = {ns / 1000000000L, ns % 1000000000L}};
  if (timer_settime(t, 0, &its, NULL) < 0) {
    timer_delete(t);
    return false;
  }
  watch_state = 1;
  return true;
}

/* MOONWIRE_LUA_PROFILE (luaprof.h): every instruction is counted and every
 * MW_HOOK_COUNT-th also checks the budget, as budget_hook alone would. */
static void profile_hook(lua_State *L, lua_Debug *ar) {
  static unsigned ticks;
  mw_luaprof_count(L, ar);
  if (++ticks == MW_HOOK_COUNT) {
    ticks = 0;
    budget_hook(L, ar);
  }
}

/* The hook a thread runs with while every stretch of it is checked: the
 * budget's, or the profiler's (which checks the budget too). */
static void hook_on(lua_State *co) {
  if (mw_luaprof_enabled())
    lua_sethook(co, profile_hook, LUA_MASKCOUNT, 1);
  else
    lua_sethook(co, budget_hook, LUA_MASKCOUNT, MW_HOOK_COUNT);
}

/* The hook a thread runs with outside any budget check: none, or the profiler's. */
static void hook_off(lua_State *co) {
  if (mw_luaprof_enabled())
    lua_sethook(co, profile_hook, LUA_MASKCOUNT, 1);
  else
    lua_sethook(co, NULL, 0, 0);
}

void mw_luacore_budget_main(lua_State *L, uint32_t ms) {
  push_budgets(L);
  lua_pushthread(L);
  if (ms) {
    lua_pushinteger(L, (lua_Integer)(uv_hrtime() + ms * 1000000ull));
    hook_on(L);
  } else {
    lua_pushnil(L);
    hook_off(L);
  }
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

/* guard(ms) arms a budget on the calling thread itself (code the framework
 * runs outside any task coroutine: message filters, session listeners);
 * guard(0) disarms it. Past it the running Lua code raises an error. */
static int l_guard(lua_State *L) {
  lua_Integer ms = luaL_checkinteger(L, 1);
  luaL_argcheck(L, ms >= 0 && ms <= UINT32_MAX, 1, "budget out of range");
  mw_luacore_budget_main(L, (uint32_t)ms);
  return 0;
}

/* slice(co, deadline_ms) starts a time slice for the task coroutine about to
 * be resumed, whose budget ends at `deadline_ms` (core.now() time); unslice(co)
 * follows the resume and tells what the hook did. Between them the watch
 * signal arms `co`. */
static int l_slice(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  luaL_argcheck(L, co != NULL, 1, "coroutine expected");
  lua_Number deadline_ms = luaL_checknumber(L, 2);
  /* uv_now() is uv_hrtime() in ms, a little behind: same clock, same scale.
   * No deadline (<= 0) or one past 1.8e13 ms (570 years): never. */
  uint64_t deadline_ns =
      deadline_ms > 0 && deadline_ms < 1.8e13 ? (uint64_t)(deadline_ms * 1e6) : UINT64_MAX;
  slice_end_ns = uv_hrtime() + MW_SLICE_NS;
  current_deadline_ns = deadline_ns;
  if (watch_state == 0) watch_start();
  if (nrunning == MW_RUNNING_MAX || watch_state < 0 || mw_luaprof_enabled()) {
    /* No watch signal, or resumes nested this deep: hook it for the whole
     * resume (it is still found in `running` when there is room). */
    hook_on(co);
  } else if (lua_gethook(co) == budget_hook) {
    /* Created by a hooked coroutine, it inherited that hook: the watch
     * signal covers it now. */
    lua_sethook(co, NULL, 0, 0);
  }
  if (nrunning < MW_RUNNING_MAX) {
    sig_atomic_t n = nrunning;
    running[n] = co;
    running_deadline_ns[n] = deadline_ns;
    running_flags[n] = 0;
    nrunning = n + 1;
  }
  return 0;
}

/* unslice(co) -> expired, preempted: whether the hook stopped `co` for
 * overrunning its budget, or paused it at the end of its slice (the caller
 * resumes it later). */
static int l_unslice(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  int i = running_index(co);
  int flags = 0;
  if (i >= 0) {
    flags = running_flags[i];
    nrunning = i;
  }
  current_deadline_ns = i > 0 ? running_deadline_ns[i - 1] : UINT64_MAX;
  lua_pushboolean(L, flags & RUN_EXPIRED);
  lua_pushboolean(L, flags & RUN_PREEMPTED);
  return 2;
}

/* budgeted(create_or_wrap) -> the same function, except that a coroutine a
 * task coroutine creates gets the budget hook for all its run: the watch
 * signal arms only task coroutines, and a handler's own coroutine (a runaway
 * coroutine.wrap loop) must still be stopped on its task's clock. Other
 * creators' coroutines inherit their hook as Lua does. */
static int budgeted_create(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  bool task = nrunning > 0 && running[nrunning - 1] == L && !mw_luaprof_enabled();
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  if (task) {
    /* create returns the thread; wrap a function holding it as its upvalue. */
    lua_State *co = lua_tothread(L, -1);
    if (!co && lua_getupvalue(L, -1, 1)) {
      co = lua_tothread(L, -1);
      lua_pop(L, 1);
    }
    if (co) lua_sethook(co, budget_hook, LUA_MASKCOUNT, MW_HOOK_COUNT);
  }
  return 1;
}

static int l_budgeted(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_pushcclosure(L, budgeted_create, 1);
  return 1;
}

/* ---- shared store ----------------------------------------------------- */

static uint64_t check_ttl(lua_State *L, int idx) {
  lua_Number ttl = luaL_optnumber(L, idx, 0);
  luaL_argcheck(L, ttl >= 0 && ttl <= 365.0 * 86400, idx, "ttl must be 0..31536000 seconds");
  return (uint64_t)(ttl * 1000 + 0.5);
}

/* shared_get(key) -> string | integer | nil */
static int l_shared_get(lua_State *L) {
  size_t len;
  const char *key = luaL_checklstring(L, 1, &len);
  mw_shared_entry_t *e = mw_shared_get(server_of(L), key, len);
  if (!e)
    lua_pushnil(L);
  else if (e->value)
    lua_pushlstring(L, e->value, e->value_len);
  else
    lua_pushinteger(L, e->integer);
  return 1;
}

static int shared_full(lua_State *L) {
  return luaL_error(L, "mw.shared: the store is full (SHARED_MEMORY_MB=%d)",
                    (int)server_of(L)->config->shared_memory_mb);
}

/* shared_set(key, value, ttl_seconds?) ; value nil deletes; raises when full */
static int l_shared_set(lua_State *L) {
  size_t len, vlen;
  const char *key = luaL_checklstring(L, 1, &len);
  mw_server_t *s = server_of(L);
  if (lua_isnil(L, 2)) {
    mw_shared_delete(s, key, len);
    return 0;
  }
  uint64_t ttl = check_ttl(L, 3);
  int rc;
  if (lua_isinteger(L, 2)) {
    rc = mw_shared_set_integer(s, key, len, lua_tointeger(L, 2), ttl);
  } else {
    luaL_argcheck(L, lua_type(L, 2) == LUA_TSTRING, 2, "value must be a string or an integer");
    const char *v = lua_tolstring(L, 2, &vlen);
    rc = mw_shared_set(s, key, len, v, vlen, ttl);
  }
  if (rc == -ENOSPC) return shared_full(L);
  return 0;
}

/* shared_incr(key, by?, ttl_seconds?) -> new value | nil, "not an integer";
 * raises when a new key does not fit */
static int l_shared_incr(lua_State *L) {
  size_t len;
  const char *key = luaL_checklstring(L, 1, &len);
  lua_Integer by = luaL_optinteger(L, 2, 1);
  int64_t out;
  int rc = mw_shared_incr(server_of(L), key, len, by, check_ttl(L, 3), &out);
  if (rc == -ENOSPC) return shared_full(L);
  if (rc < 0) {
    luaL_pushfail(L);
    lua_pushliteral(L, "not an integer");
    return 2;
  }
  lua_pushinteger(L, out);
  return 1;
}

static int l_shared_delete(lua_State *L) {
  size_t len;
  const char *key = luaL_checklstring(L, 1, &len);
  lua_pushboolean(L, mw_shared_delete(server_of(L), key, len));
  return 1;
}

/* session_ids() -> array of every live session id (for broadcasts). */
static int l_session_ids(lua_State *L) {
  mw_server_t *s = server_of(L);
  lua_createtable(L, (int)s->sessions.count, 0);
  lua_Integer i = 0;
  for (size_t b = 0; b < s->sessions.nbuckets; b++)
    for (mw_hnode_t *n = s->sessions.buckets[b]; n; n = n->next) {
      lua_pushlstring(L, n->key, n->key_len);
      lua_rawseti(L, -2, ++i);
    }
  return 1;
}

/* ---- signed tokens ----------------------------------------------------- */

static int l_sign(lua_State *L) {
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  mw_server_t *s = server_of(L);
  char *tok = mw_sign(s->sign_key, s->sign_key_len, data, len);
  lua_pushstring(L, tok);
  mw_free(tok);
  return 1;
}

/* verify(token) -> payload | nil */
static int l_verify(lua_State *L) {
  const char *tok = luaL_checkstring(L, 1);
  mw_server_t *s = server_of(L);
  size_t len;
  char *data = mw_sign_verify(s->sign_key, s->sign_key_len, tok, &len);
  if (!data) {
    luaL_pushfail(L);
    return 1;
  }
  lua_pushlstring(L, data, len);
  mw_free(data);
  return 1;
}

/* ---- subprocesses ------------------------------------------------------- */

typedef struct {
  mw_list_t link; /* in gen->jobs */
  mw_gen_t *gen;  /* borrowed */
  mw_exec_t *job; /* the running job */
  int cb_ref;     /* registry ref of the Lua callback */
  lua_Integer id; /* names the job to exec_cancel */
} lua_job_t;

static lua_Integer last_job_id; /* ids are never reused: a stale one matches nothing */

/* Runs push(L) with `arg` in a protected call. Results reach Lua from C
 * callbacks, outside any pcall, and a copy that does not fit under
 * LUA_MEMORY_MB must fail that one call, not abort the process. Leaves the
 * result, or nil and the error message, on the stack; returns the count (1|2). */
static int protected_push(lua_State *L, lua_CFunction push, const void *arg) {
  lua_pushcfunction(L, push);
  lua_pushlightuserdata(L, (void *)arg);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

static int push_exec_result(lua_State *L) {
  const mw_exec_result_t *r = lua_touserdata(L, 1);
  lua_createtable(L, 0, 6);
  if (r->signal) {
    lua_pushinteger(L, r->signal);
    lua_setfield(L, -2, "signal");
  } else {
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "status");
  }
  lua_pushlstring(L, r->out, r->out_len);
  lua_setfield(L, -2, "stdout");
  lua_pushlstring(L, r->err, r->err_len);
  lua_setfield(L, -2, "stderr");
  lua_pushboolean(L, r->timed_out);
  lua_setfield(L, -2, "timed_out");
  lua_pushboolean(L, r->truncated);
  lua_setfield(L, -2, "truncated");
  return 1;
}

/* A finished exec job's or HTTP fetch's callback: pushed from the registry,
 * its ref dropped, and the record (`link` in one of the generation's lists)
 * freed before the callback runs and perhaps starts another. */
static void push_callback(lua_State *L, int cb_ref, mw_list_t *link, void *record) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, cb_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, cb_ref);
  mw_list_remove(link);
  mw_free(record);
}

/* Calls that callback with the nargs pushed after it, holding g meanwhile. */
static void run_callback(mw_gen_t *g, int nargs, const char *what) {
  mw_gen_ref(g);
  mw_gen_pcall(g, nargs, 0, what);
  mw_gen_unref(g);
}

static void job_done(void *ud, const mw_exec_result_t *r) {
  lua_job_t *lj = ud;
  mw_gen_t *g = lj->gen;
  push_callback(g->L, lj->cb_ref, &lj->link, lj);
  run_callback(g, protected_push(g->L, push_exec_result, r), "exec callback failed");
}

/* exec(argv, stdin|nil, timeout_ms, max_output, callback) -> job id | nil, err */
static int l_exec(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  size_t in_len = 0;
  const char *in = luaL_optlstring(L, 2, NULL, &in_len);
  lua_Integer timeout = luaL_checkinteger(L, 3);
  lua_Integer max_out = luaL_checkinteger(L, 4);
  luaL_checktype(L, 5, LUA_TFUNCTION);
  lua_Integer argc = luaL_len(L, 1);
  luaL_argcheck(L, argc >= 1 && argc <= 256, 1, "argv must have 1..256 strings");
  luaL_argcheck(L, timeout >= 0 && max_out >= 0, 3, "timeout and max_output must be >= 0");
  char **argv = mw_calloc((size_t)argc + 1, sizeof *argv);
  for (lua_Integer i = 1; i <= argc; i++) {
    lua_rawgeti(L, 1, i);
    const char *a = lua_tostring(L, -1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      mw_free(argv);
      return luaL_argerror(L, 1, "argv must contain only strings");
    }
    argv[i - 1] = (char *)a; /* anchored in the argv table */
    lua_pop(L, 1);
  }
  mw_gen_t *g = mw_gen_of(L);
  lua_job_t *lj = mw_calloc(1, sizeof *lj);
  lj->gen = g;
  int err = 0;
  lj->job = mw_exec_start(g->server->loop, argv, in, in_len, (uint64_t)timeout, (size_t)max_out,
                          job_done, lj, &err);
  mw_free(argv);
  if (!lj->job) {
    mw_free(lj);
    luaL_pushfail(L);
    lua_pushstring(L, uv_strerror(err));
    return 2;
  }
  lua_pushvalue(L, 5);
  lj->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lj->id = ++last_job_id;
  mw_list_push_back(&g->jobs, &lj->link);
  lua_pushinteger(L, lj->id);
  return 1;
}

/* exec_cancel(id): kills a job whose caller went away; no callback. */
static int l_exec_cancel(lua_State *L) {
  lua_Integer id = luaL_checkinteger(L, 1);
  mw_list_t *pos, *tmp;
  mw_list_foreach_safe(pos, tmp, &mw_gen_of(L)->jobs) {
    lua_job_t *lj = mw_container_of(pos, lua_job_t, link);
    if (lj->id != id) continue;
    mw_list_remove(&lj->link);
    mw_exec_cancel(lj->job);
    luaL_unref(L, LUA_REGISTRYINDEX, lj->cb_ref);
    mw_free(lj);
    break;
  }
  return 0;
}

/* ---- HTTP client ------------------------------------------------------ */

typedef struct {
  mw_list_t link; /* in gen->fetches */
  mw_gen_t *gen;  /* borrowed */
  mw_httpc_t *job;
  int cb_ref;
} lua_fetch_t;

static int push_fetch_result(lua_State *L) {
  const mw_httpc_result_t *r = lua_touserdata(L, 1);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, r->status);
  lua_setfield(L, -2, "status");
  lua_pushlstring(L, r->body, r->body_len);
  lua_setfield(L, -2, "body");
  lua_createtable(L, 0, (int)r->nheaders);
  for (size_t i = 0; i < r->nheaders; i++) {
    /* Repeated headers are joined with ", ", as for requests. */
    lua_getfield(L, -1, r->headers[i].name);
    if (lua_isstring(L, -1)) {
      lua_pushliteral(L, ", ");
      lua_pushstring(L, r->headers[i].value);
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushstring(L, r->headers[i].value);
    }
    lua_setfield(L, -2, r->headers[i].name);
  }
  lua_setfield(L, -2, "headers");
  return 1;
}

static void fetch_done(void *ud, const mw_httpc_result_t *r) {
  lua_fetch_t *lf = ud;
  mw_gen_t *g = lf->gen;
  lua_State *L = g->L;
  push_callback(L, lf->cb_ref, &lf->link, lf);
  int nargs = 2;
  if (r->error) {
    lua_pushnil(L);
    lua_pushstring(L, r->error_msg ? r->error_msg : "request failed");
  } else if (protected_push(L, push_fetch_result, r) == 1) {
    lua_pushnil(L);
  }
  run_callback(g, nargs, "http callback failed");
}

/* http_request(method, host, port, path, headers, body, timeout_ms, max_body, cb)
 *   -> true | nil, err */
static int l_http_request(lua_State *L) {
  mw_httpc_req_t req = {0};
  req.method = luaL_checkstring(L, 1);
  req.host = luaL_checkstring(L, 2);
  lua_Integer port = luaL_checkinteger(L, 3);
  req.path = luaL_checkstring(L, 4);
  luaL_argcheck(L, port > 0 && port < 65536, 3, "port out of range");
  req.port = (int)port;
  mw_kv_t kv[MAX_RESPONSE_HEADERS];
  req.nheaders = collect_headers(L, 5, kv, MAX_RESPONSE_HEADERS);
  req.headers = kv;
  req.body = luaL_optlstring(L, 6, NULL, &req.body_len);
  req.timeout_ms = (uint64_t)luaL_checkinteger(L, 7);
  req.max_body = (size_t)luaL_checkinteger(L, 8);
  luaL_checktype(L, 9, LUA_TFUNCTION);
  if (strpbrk(req.method, " \r\n") || strpbrk(req.path, " \r\n") || strpbrk(req.host, " \r\n/"))
    return luaL_error(L, "invalid method, host or path");
  mw_gen_t *g = mw_gen_of(L);
  lua_fetch_t *lf = mw_calloc(1, sizeof *lf);
  lf->gen = g;
  int err = 0;
  lf->job = mw_httpc_start(g->server->loop, &req, fetch_done, lf, &err);
  if (!lf->job) {
    mw_free(lf);
    luaL_pushfail(L);
    lua_pushstring(L, uv_strerror(err));
    return 2;
  }
  lua_pushvalue(L, 9);
  lf->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  mw_list_push_back(&g->fetches, &lf->link);
  lua_pushboolean(L, 1);
  return 1;
}

void mw_luacore_cancel_jobs(mw_gen_t *g) {
  while (!mw_list_empty(&g->jobs)) {
    lua_job_t *lj = mw_container_of(g->jobs.next, lua_job_t, link);
    mw_list_remove(&lj->link);
    mw_exec_cancel(lj->job);
    mw_free(lj);
  }
  while (!mw_list_empty(&g->fetches)) {
    lua_fetch_t *lf = mw_container_of(g->fetches.next, lua_fetch_t, link);
    mw_list_remove(&lf->link);
    mw_httpc_cancel(lf->job);
    mw_free(lf);
  }
}

/* access_hook(on): record every response for runtime.access (on_response). */
static int l_access_hook(lua_State *L) {
  server_of(L)->access_hook = lua_toboolean(L, 1);
  return 0;
}

/* watch(dir): hot-reload when files under `dir` change. */
static int l_watch(lua_State *L) {
  mw_reload_watch(server_of(L)->reload, luaL_checkstring(L, 1));
  return 0;
}

/* ---- CORS policy ------------------------------------------------------ */

static char *opt_header_string(lua_State *L, int t, const char *key) {
  lua_getfield(L, t, key);
  char *v = NULL;
  if (lua_type(L, -1) == LUA_TSTRING) {
    const char *s = lua_tostring(L, -1);
    if (!strpbrk(s, "\r\n")) v = mw_strdup(s);
  }
  lua_pop(L, 1);
  return v;
}

/* set_cors({ origins, methods, headers, expose, max_age, credentials }) sets
 * the policy the core applies; set_cors() restores the defaults. */
static int l_set_cors(lua_State *L) {
  mw_server_t *s = server_of(L);
  mw_cors_defaults(&s->cors, s->config);
  if (!lua_istable(L, 1)) return 0;
  char *v;
  if ((v = opt_header_string(L, 1, "origins"))) mw_free(s->cors.origins), s->cors.origins = v;
  if ((v = opt_header_string(L, 1, "methods"))) mw_free(s->cors.methods), s->cors.methods = v;
  if ((v = opt_header_string(L, 1, "headers"))) s->cors.headers = v;
  if ((v = opt_header_string(L, 1, "expose"))) mw_free(s->cors.expose), s->cors.expose = v;
  lua_getfield(L, 1, "max_age");
  if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0 && lua_tointeger(L, -1) <= 86400 * 365)
    s->cors.max_age_s = (unsigned)lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, 1, "credentials");
  s->cors.credentials = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return 0;
}

/* ---- other generations ------------------------------------------------ */

/* forward(name, a, b) calls runtime.cross(name, a, b) in every other live
 * generation (strings only cross states) and returns true if one of them
 * handled it. A reload must not strand a handler that waits for a client's
 * answer or a cancellation: those arrive at the new generation. Other
 * states are idle while this one runs (one loop thread), so calling into
 * them here is safe. */
static int l_forward(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  size_t alen, blen;
  const char *a = luaL_checklstring(L, 2, &alen);
  const char *b = luaL_optlstring(L, 3, "", &blen);
  mw_gen_t *self = mw_gen_of(L);
  bool handled = false;
  mw_list_t *pos, *tmp;
  mw_list_foreach_safe(pos, tmp, &self->server->gens) {
    mw_gen_t *g = mw_container_of(pos, mw_gen_t, link);
    if (g == self || handled) continue;
    lua_State *G = g->L;
    int top = lua_gettop(G);
    lua_rawgeti(G, LUA_REGISTRYINDEX, g->ref_runtime);
    lua_getfield(G, -1, "cross");
    if (lua_isfunction(G, -1)) {
      lua_pushstring(G, name);
      lua_pushlstring(G, a, alen);
      lua_pushlstring(G, b, blen);
      mw_gen_ref(g);
      if (lua_pcall(G, 3, 1, 0) == LUA_OK)
        handled = lua_toboolean(G, -1);
      else
        mw_log(MW_LOG_ERROR, "cross-generation call failed", 1, "error", lua_tostring(G, -1));
      lua_settop(G, top);
      mw_gen_unref(g);
    } else {
      lua_settop(G, top);
    }
  }
  lua_pushboolean(L, handled);
  return 1;
}

/* ---- misc ------------------------------------------------------------- */

static int l_log(lua_State *L) {
  int level = mw_log_level_parse(luaL_checkstring(L, 1));
  luaL_argcheck(L, level >= 0, 1, "level must be debug, info, warn or error");
  const char *msg = luaL_checkstring(L, 2);
  if ((mw_log_level_t)level < mw_log_get_level()) return 0;
  /* Up to 8 extra fields from an optional {key = "string"} table. */
  const char *kv[16] = {0};
  int n = 0;
  if (lua_istable(L, 3)) {
    lua_pushnil(L);
    while (n < 8 && lua_next(L, 3)) {
      if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
        kv[2 * n] = lua_tostring(L, -2);
        kv[2 * n + 1] = lua_tostring(L, -1);
        n++;
      }
      lua_pop(L, 1);
    }
    if (n == 8) lua_pop(L, 1); /* the key lua_next left when we stopped early */
  }
  mw_log((mw_log_level_t)level, msg, n, kv[0], kv[1], kv[2], kv[3], kv[4], kv[5], kv[6], kv[7],
         kv[8], kv[9], kv[10], kv[11], kv[12], kv[13], kv[14], kv[15]);
  return 0;
}

/* Logs an error raised by script code and counts it in /metrics. */
static int l_lua_error(lua_State *L) {
  mw_gen_t *g = mw_gen_of(L);
  char gen[16];
  snprintf(gen, sizeof gen, "%u", g->id);
  g->server->metrics.lua_errors++;
  mw_log(MW_LOG_ERROR, "script error", 2, "generation", gen, "error", luaL_checkstring(L, 1));
  return 0;
}

static int l_now(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)mw_server_now(server_of(L)));
  return 1;
}

static int l_hold(lua_State *L) {
  mw_gen_ref(mw_gen_of(L));
  return 0;
}

static int l_release(lua_State *L) {
  mw_gen_unref(mw_gen_of(L));
  return 0;
}

static void set_int_field(lua_State *L, const char *name, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, name);
}

/* stats(): live counts, then the rest of what /metrics and /healthz tell
 * (cumulative counters, the last reload's outcome, memory), for pages and
 * tools that watch the server from a script (examples/dashboard). */
static int l_stats(lua_State *L) {
  mw_server_t *s = server_of(L);
  const mw_metrics_t *m = &s->metrics;
  lua_createtable(L, 0, 25);
  set_int_field(L, "connections", s->nconns);
  set_int_field(L, "streams", s->nstreams);
  set_int_field(L, "sessions", s->sessions.count);
  set_int_field(L, "channels", s->channels.count);
  set_int_field(L, "generation", mw_gen_of(L)->id);
  set_int_field(L, "current_generation", s->gen ? s->gen->id : 0);
  set_int_field(L, "events_sent", m->events_sent);
  set_int_field(L, "heartbeats_sent", m->heartbeats_sent);
  set_int_field(L, "uptime_s", (mw_server_now(s) - s->start_ms) / 1000);
  set_int_field(L, "connections_accepted", m->connections_accepted);
  set_int_field(L, "connections_rejected", m->connections_rejected);
  set_int_field(L, "sessions_created", m->sessions_created);
  set_int_field(L, "sessions_expired", m->sessions_expired);
  set_int_field(L, "events_replayed", m->events_replayed);
  set_int_field(L, "replay_gaps", m->replay_gaps);
  set_int_field(L, "slow_consumers_dropped", m->slow_consumers);
  set_int_field(L, "bytes_out", m->bytes_out);
  set_int_field(L, "lua_errors", m->lua_errors);
  set_int_field(L, "reloads_ok", m->reloads_ok);
  set_int_field(L, "reloads_failed", m->reloads_failed);
  set_int_field(L, "last_reload_unix_ms", m->last_reload_unix_ms);
  lua_pushnumber(L, m->last_reload_seconds);
  lua_setfield(L, -2, "last_reload_seconds");
  if (s->reload_error) {
    lua_pushstring(L, s->reload_error);
    lua_setfield(L, -2, "last_reload_error");
  }
  set_int_field(L, "lua_memory_bytes", mw_server_lua_memory(s));
  size_t rss = 0;
  if (uv_resident_set_memory(&rss) == 0) set_int_field(L, "rss_bytes", rss);
  return 1;
}

static int l_config(lua_State *L) {
  const mw_config_t *c = server_of(L)->config;
  lua_createtable(L, 0, 7);
  set_int_field(L, "heartbeat_interval", c->heartbeat_interval_s);
  set_int_field(L, "retry_ms", c->retry_ms);
  set_int_field(L, "connection_timeout", c->connection_timeout_s);
  set_int_field(L, "max_body_bytes", c->max_body_bytes);
  set_int_field(L, "handler_timeout_ms", c->handler_timeout_ms);
  lua_pushboolean(L, c->test_routes != 0);
  lua_setfield(L, -2, "test_routes");
  if (c->config_file) {
    lua_pushstring(L, c->config_file);
    lua_setfield(L, -2, "config_file");
  }
  return 1;
}

/* core.test_fault(action, channel[, ms]) -> number of streams affected.
 * "drop" closes every subscriber of the channel abruptly, "stall" silences
 * them for `ms`, "resume" ends stalls that have run out. Only registered
 * with MOONWIRE_TEST_ROUTES=1; the /_test/fault route validates input first. */
static int l_test_fault(lua_State *L) {
  static const char *const actions[] = {"drop", "stall", "resume", NULL};
  int action = luaL_checkoption(L, 1, NULL, actions);
  const char *name = luaL_checkstring(L, 2);
  lua_Integer ms = luaL_optinteger(L, 3, 0);
  luaL_argcheck(L, ms >= 0 && ms <= 600000, 3, "stall must be 0..600000 ms");
  mw_channel_t *ch = mw_channel_get(server_of(L), name, false);
  size_t n = 0;
  if (ch) {
    if (action == 0)
      n = mw_channel_drop(ch);
    else if (action == 1)
      n = mw_channel_stall(ch, (uint32_t)ms);
    else
      n = mw_channel_resume(ch);
  }
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

int mw_luacore_open(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"respond", l_respond},
      {"sse_start", l_sse_start},
      {"send", l_send},
      {"finish", l_finish},
      {"is_open", l_is_open},
      {"subscribe", l_subscribe},
      {"publish", l_publish},
      {"session_create", l_session_create},
      {"session_get", l_session_get},
      {"session_exists", l_session_exists},
      {"session_set", l_session_set},
      {"session_destroy", l_session_destroy},
      {"session_touch", l_session_touch},
      {"session_hold", l_session_hold},
      {"session_open_stream", l_session_open_stream},
      {"session_send", l_session_send},
      {"session_end_stream", l_session_end_stream},
      {"session_release", l_session_release},
      {"session_attach", l_session_attach},
      {"session_info", l_session_info},
      {"session_ids", l_session_ids},
      {"shared_get", l_shared_get},
      {"shared_set", l_shared_set},
      {"shared_incr", l_shared_incr},
      {"shared_delete", l_shared_delete},
      {"slice", l_slice},
      {"guard", l_guard},
      {"forward", l_forward},
      {"set_cors", l_set_cors},
      {"watch", l_watch},
      {"access_hook", l_access_hook},
      {"budgeted", l_budgeted},
      {"unslice", l_unslice},
      {"exec", l_exec},
      {"exec_cancel", l_exec_cancel},
      {"http_request", l_http_request},
      {"sign", l_sign},
      {"verify", l_verify},
      {"timer", l_timer},
      {"log", l_log},
      {"lua_error", l_lua_error},
      {"now", l_now},
      {"hold", l_hold},
      {"release", l_release},
      {"stats", l_stats},
      {"config", l_config},
      {NULL, NULL},
  };
  if (luaL_newmetatable(L, TIMER_MT)) {
    lua_pushcfunction(L, timer_gc);
    lua_setfield(L, -2, "__gc");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, timer_stop);
    lua_setfield(L, -2, "stop");
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  mw_luafs_register(L);
  /* Absent, not merely refusing, without the flag: no script can reach it. */
  if (server_of(L)->config->test_routes) {
    lua_pushcfunction(L, l_test_fault);
    lua_setfield(L, -2, "test_fault");
  }
  return 1;
}
