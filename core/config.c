/* Server settings. One table below describes every setting once: its
 * environment name, config-file key, flag, range and default. Init, the three
 * layers and --help are all driven from it, so help text, defaults and parsing
 * cannot drift apart. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <uv.h>

#include "common.h"

#ifndef MW_VERSION
#define MW_VERSION "dev"
#endif

/* A config file is trusted, but an endless loop in it would hang startup with
 * no message; this many VM instructions is far beyond any real config. */
#define CONFIG_MAX_INSTRUCTIONS 10000000u
#define CONFIG_HOOK_EVERY 1000

/* Longest value echoed back in an error, so a pasted blob stays one line. */
#define ECHO_MAX 64

typedef enum {
  K_STR,     /* non-empty string */
  K_HOST,    /* string field: an IPv4 or IPv6 literal, or localhost */
  K_INT,     /* int field */
  K_U32,     /* uint32_t field */
  K_SIZE,    /* size_t field */
  K_LEVEL,   /* mw_log_level_t field */
  K_SCRIPTS, /* c->scripts / c->nscripts */
  K_CONFIG,  /* c->config_file: env and flag only, a file cannot name another */
  K_PLUGINS, /* file only; read by the plugin system, accepted here */
} kind_t;

typedef struct setting {
  const char *env;     /* NULL for file-only keys */
  const char *key;     /* config-file key; NULL when the file cannot set it */
  const char *flag;    /* NULL when there is no flag */
  const char *metavar; /* flag argument in --help */
  kind_t kind;
  size_t off;            /* field offset in mw_config_t (the kinds with one field) */
  uint64_t lo, hi;       /* inclusive range for the integer kinds */
  const char *dflt;      /* text applied by mw_config_init; NULL leaves the field empty */
  const char *doc_range; /* --help range/default text for non-integer kinds */
  const char *help;
} setting_t;

#define OFF(f) offsetof(mw_config_t, f)

static const setting_t settings[] = {
    {"HOST", "host", "--host", "HOST", K_HOST, OFF(host), 0, 0, "127.0.0.1",
     "IPv4 or IPv6 address or localhost, default 127.0.0.1", "address to listen on"},
    {"PORT", "port", "--port", "PORT", K_INT, OFF(port), 0, 65535, "3001", NULL,
     "TCP port to listen on; 0 picks an ephemeral port"},
    {"MOONWIRE_SCRIPTS", "scripts", "--scripts", "DIR", K_SCRIPTS, 0, 0, 0, NULL,
     "default none; the env value is a ':'-separated list",
     "script directory to load; repeatable, and flags replace the env/file list"},
    {"MOONWIRE_CONFIG", NULL, "--config", "FILE", K_CONFIG, 0, 0, 0, NULL, "default none",
     "Lua file of `key = value` settings; --config wins over the env"},
    {"LOG_LEVEL", "log_level", "--log-level", "LEVEL", K_LEVEL, OFF(log_level), 0, 0, "info",
     "one of debug, info, warn, error; default info", "least severe level logged"},
    {"SSE_HEARTBEAT_INTERVAL", "sse_heartbeat_interval", NULL, NULL, K_U32,
     OFF(heartbeat_interval_s), 1, 3600, "15", NULL,
     "seconds between heartbeat comments on an idle SSE stream"},
    {"SSE_CONNECTION_TIMEOUT", "sse_connection_timeout", NULL, NULL, K_U32,
     OFF(connection_timeout_s), 1, 86400, "90", NULL,
     "seconds a session survives with no open stream and no request"},
    {"SSE_BUFFER_SIZE", "sse_buffer_size", NULL, NULL, K_U32, OFF(buffer_size), 1, 1000000, "1000",
     NULL, "events kept per session for Last-Event-ID replay"},
    {"SSE_BUFFER_BYTES", "sse_buffer_bytes", NULL, NULL, K_SIZE, OFF(buffer_bytes), 1024,
     1073741824, "1048576", NULL, "bytes of events kept per session for replay"},
    {"SSE_BUFFER_TTL", "sse_buffer_ttl", NULL, NULL, K_U32, OFF(buffer_ttl_s), 1, 86400, "300",
     NULL, "seconds an event stays available for replay"},
    {"SSE_RETRY_MS", "sse_retry_ms", NULL, NULL, K_U32, OFF(retry_ms), 0, 3600000, "1000", NULL,
     "reconnect delay sent to clients as `retry:`, milliseconds"},
    {"MAX_CONNECTIONS", "max_connections", NULL, NULL, K_U32, OFF(max_connections), 1, 1000000,
     "10000", NULL, "simultaneous client connections"},
    {"MAX_BODY_BYTES", "max_body_bytes", NULL, NULL, K_SIZE, OFF(max_body_bytes), 1, 1073741824,
     "4194304", NULL, "largest request body accepted, bytes"},
    {"MAX_PENDING_BYTES", "max_pending_bytes", NULL, NULL, K_SIZE, OFF(max_pending_bytes), 4096,
     1073741824, "1048576", NULL,
     "unsent bytes per connection before it counts as a slow consumer"},
    {"HEADER_TIMEOUT_MS", "header_timeout_ms", NULL, NULL, K_U32, OFF(header_timeout_ms), 100,
     600000, "10000", NULL, "milliseconds allowed to receive a request's headers"},
    {"BODY_TIMEOUT_MS", "body_timeout_ms", NULL, NULL, K_U32, OFF(body_timeout_ms), 100, 600000,
     "60000", NULL, "milliseconds allowed to receive a request's body once its headers are in"},
    {"KEEPALIVE_TIMEOUT", "keepalive_timeout", NULL, NULL, K_U32, OFF(keepalive_timeout_s), 1, 3600,
     "75", NULL, "seconds an idle keep-alive connection stays open"},
    {"SHUTDOWN_TIMEOUT", "shutdown_timeout", NULL, NULL, K_U32, OFF(shutdown_timeout_s), 0, 600,
     "10", NULL, "seconds to drain connections on shutdown before closing them"},
    {"HANDLER_TIMEOUT_MS", "handler_timeout_ms", NULL, NULL, K_U32, OFF(handler_timeout_ms), 10,
     86400000, "30000", NULL,
     "milliseconds a Lua handler may run (tools can set their own timeout_ms)"},
    {"LUA_MEMORY_MB", "lua_memory_mb", NULL, NULL, K_U32, OFF(lua_memory_mb), 8, 1048576, "512",
     NULL, "memory cap of one script generation, MiB (allocations past it fail)"},
    {"SHARED_MEMORY_MB", "shared_memory_mb", NULL, NULL, K_U32, OFF(shared_memory_mb), 1, 1048576,
     "64", NULL, "memory cap of the shared store (mw.shared), MiB (a set past it fails)"},
    {"CORS_ALLOW_ORIGINS", "cors_allow_origins", NULL, NULL, K_STR, OFF(cors_allow_origins), 0, 0,
     "*", "comma list or *, default *", "origins answered with CORS headers"},
    {"ALLOWED_HOSTS", "allowed_hosts", NULL, NULL, K_STR, OFF(allowed_hosts), 0, 0, NULL,
     "comma list; default: local names on a loopback bind, any otherwise",
     "Host header values accepted (DNS-rebinding protection)"},
    {"ALLOWED_ORIGINS", "allowed_origins", NULL, NULL, K_STR, OFF(allowed_origins), 0, 0, NULL,
     "comma list; default: local origins on a loopback bind, any otherwise",
     "Origin header values accepted"},
    /* Environment only, no file key and no flag: the routes drop and stall
     * every stream of a channel on request, so turning them on must be a
     * deliberate act for one process, never a line in a config file that
     * gets copied to production. */
    {"MOONWIRE_TEST_ROUTES", NULL, NULL, NULL, K_U32, OFF(test_routes), 0, 1, "0", NULL,
     "1 serves /_test/: a fault-injection test page and routes (tests only)"},
    {NULL, "plugins", NULL, NULL, K_PLUGINS, 0, 0, 0, NULL, NULL, NULL},
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -EINVAL;
}

static void *field(mw_config_t *c, const setting_t *s) {
  return (char *)c + s->off;
}

static void set_str(char **slot, const char *v) {
  mw_free(*slot);
  *slot = v ? mw_strdup(v) : NULL;
}

static void scripts_clear(mw_config_t *c) {
  for (size_t i = 0; i < c->nscripts; i++)
    mw_free(c->scripts[i]);
  mw_free(c->scripts);
  c->scripts = NULL;
  c->nscripts = 0;
}

static void scripts_push(mw_config_t *c, char *owned) {
  c->scripts = mw_realloc(c->scripts, (c->nscripts + 1) * sizeof *c->scripts);
  c->scripts[c->nscripts++] = owned;
}

/* Decimal digits only: no sign, no spaces, no suffix, and overflow is an error
 * rather than a wrap, so "15s" or "-1" can never become a surprising value. */
static bool parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (*s == '\0') return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

static void store_int(mw_config_t *c, const setting_t *s, uint64_t v) {
  switch (s->kind) {
  case K_INT:
    *(int *)field(c, s) = (int)v;
    break;
  case K_U32:
    *(uint32_t *)field(c, s) = (uint32_t)v;
    break;
  case K_SIZE:
    *(size_t *)field(c, s) = (size_t)v;
    break;
  default:
    abort();
  }
}

static int bad_int(const setting_t *s, const char *who, const char *got, char *err, size_t errlen) {
  return fail(err, errlen, "%s: must be an integer in %" PRIu64 "..%" PRIu64 " (got \"%.*s%s\")",
              who, s->lo, s->hi, ECHO_MAX, got, strlen(got) > ECHO_MAX ? "..." : "");
}

/* Applies one textual value (env, flag, or a string in the file) to a
 * non-list setting. `who` names the source in errors: "PORT", "--port" or
 * "config FILE: port". */
static int apply_text(mw_config_t *c, const setting_t *s, const char *who, const char *v, char *err,
                      size_t errlen) {
  uint64_t n;
  int level;
  struct sockaddr_storage addr;
  switch (s->kind) {
  case K_STR:
  case K_CONFIG:
  case K_HOST:
    if (*v == '\0') return fail(err, errlen, "%s: must not be empty", who);
    /* A host is checked here, not at bind time: a bad one stops startup
     * before any script loads, with exit status 2 like every other setting.
     * Names other than localhost are not resolved (a server binds an address). */
    if (s->kind == K_HOST && mw_config_host_addr(v, 0, &addr) < 0)
      return fail(err, errlen, "%s: must be an IPv4 or IPv6 address or localhost (got \"%.*s%s\")",
                  who, ECHO_MAX, v, strlen(v) > ECHO_MAX ? "..." : "");
    set_str(s->kind == K_CONFIG ? &c->config_file : (char **)field(c, s), v);
    return 0;
  case K_INT:
  case K_U32:
  case K_SIZE:
    if (!parse_u64(v, &n) || n < s->lo || n > s->hi) return bad_int(s, who, v, err, errlen);
    store_int(c, s, n);
    return 0;
  case K_LEVEL:
    level = mw_log_level_parse(v);
    if (level < 0)
      return fail(err, errlen, "%s: must be one of debug, info, warn, error (got \"%.*s%s\")", who,
                  ECHO_MAX, v, strlen(v) > ECHO_MAX ? "..." : "");
    *(mw_log_level_t *)field(c, s) = (mw_log_level_t)level;
    return 0;
  default:
    abort();
  }
}

void mw_config_init(mw_config_t *c) {
  memset(c, 0, sizeof *c);
  for (size_t i = 0; i < MW_ARRAY_SIZE(settings); i++) {
    const setting_t *s = &settings[i];
    /* Defaults are table text so --help shows exactly what init applies;
     * they are valid by construction, so a failure is a bug in the table. */
    if (s->dflt && apply_text(c, s, s->env, s->dflt, NULL, 0) != 0) abort();
  }
}

void mw_config_dispose(mw_config_t *c) {
  if (!c) return;
  mw_free(c->host);
  scripts_clear(c);
  mw_free(c->config_file);
  mw_free(c->cors_allow_origins);
  mw_free(c->allowed_hosts);
  mw_free(c->allowed_origins);
  memset(c, 0, sizeof *c);
}

/* ---- config file ---- */

static void count_hook(lua_State *L, lua_Debug *ar) {
  size_t *ticks = (size_t *)lua_getextraspace(L);
  if (++*ticks <= CONFIG_MAX_INSTRUCTIONS / CONFIG_HOOK_EVERY) return;
  /* luaL_error's own position would be the hook's caller (pcall), not the loop. */
  lua_getinfo(L, "Sl", ar);
  luaL_error(L, "%s:%d: config did not finish after %d instructions (endless loop?)", ar->short_src,
             ar->currentline, (int)CONFIG_MAX_INSTRUCTIONS);
}

/* The file may only hand over strings C can hold: an embedded NUL would
 * silently cut a path or host short. */
static const char *lua_cstring(lua_State *L, int idx) {
  size_t len;
  const char *v = lua_tolstring(L, idx, &len);
  return strlen(v) == len ? v : NULL;
}

static char *resolve_script(const char *config_file, const char *path) {
  const char *slash = strrchr(config_file, '/');
  if (path[0] == '/' || !slash) return mw_strdup(path);
  size_t dirlen = (size_t)(slash - config_file) + 1;
  char *p = mw_malloc(dirlen + strlen(path) + 1);
  memcpy(p, config_file, dirlen);
  strcpy(p + dirlen, path);
  return p;
}

static int file_scripts(mw_config_t *c, lua_State *L, int idx, const char *who, char *err,
                        size_t errlen) {
  const char *shape = "must be a string or an array of non-empty strings";
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *v = lua_cstring(L, idx);
    if (!v || !*v) return fail(err, errlen, "%s: %s", who, shape);
    scripts_clear(c);
    scripts_push(c, resolve_script(c->config_file, v));
    return 0;
  }
  if (lua_type(L, idx) != LUA_TTABLE)
    return fail(err, errlen, "%s: %s (got %s)", who, shape, luaL_typename(L, idx));
  /* A proper sequence only: a stray `x = "dir"` entry would otherwise be
   * ignored without a word. */
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx), entries = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    entries++;
    int isint = 0;
    lua_Integer k = lua_type(L, -2) == LUA_TNUMBER ? lua_tointegerx(L, -2, &isint) : 0;
    if (!isint || k < 1 || k > n) return fail(err, errlen, "%s: %s", who, shape);
    lua_pop(L, 1);
  }
  if (entries != n) return fail(err, errlen, "%s: %s", who, shape);
  scripts_clear(c);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_cstring(L, -1) : NULL;
    if (!v || !*v) return fail(err, errlen, "%s: %s (item %lld)", who, shape, (long long)i);
    scripts_push(c, resolve_script(c->config_file, v));
    lua_pop(L, 1);
  }
  return 0;
}

static int file_value(mw_config_t *c, const setting_t *s, lua_State *L, int idx, const char *who,
                      char *err, size_t errlen) {
  int t = lua_type(L, idx);
  switch (s->kind) {
  case K_SCRIPTS:
    return file_scripts(c, L, idx, who, err, errlen);
  case K_PLUGINS:
    if (t != LUA_TTABLE)
      return fail(err, errlen, "%s: must be a table (got %s)", who, luaL_typename(L, idx));
    return 0;
  case K_INT:
  case K_U32:
  case K_SIZE:
    if (t == LUA_TNUMBER) {
      /* Integral floats (3001.0, 1e6) are accepted: Lua users write them. */
      int isint = 0;
      lua_Integer v = lua_tointegerx(L, idx, &isint);
      if (!isint || v < 0 || (uint64_t)v < s->lo || (uint64_t)v > s->hi)
        return bad_int(s, who, luaL_tolstring(L, idx, NULL), err, errlen);
      store_int(c, s, (uint64_t)v);
      return 0;
    }
    if (t != LUA_TSTRING)
      return fail(err, errlen, "%s: must be an integer in %" PRIu64 "..%" PRIu64 " (got %s)", who,
                  s->lo, s->hi, luaL_typename(L, idx));
    break;
  default:
    if (t != LUA_TSTRING)
      return fail(err, errlen, "%s: must be a string (got %s)", who, luaL_typename(L, idx));
    break;
  }
  const char *v = lua_cstring(L, idx);
  if (!v) return fail(err, errlen, "%s: must not contain a NUL byte", who);
  return apply_text(c, s, who, v, err, errlen);
}

static const setting_t *find_key(const char *key) {
  for (size_t i = 0; i < MW_ARRAY_SIZE(settings); i++)
    if (settings[i].key && strcmp(settings[i].key, key) == 0) return &settings[i];
  return NULL;
}

/* Runs the file with no libraries and an empty table as _ENV, so a setting is
 * just a global assignment and the file can reach nothing outside itself. */
static int load_file(mw_config_t *c, char *err, size_t errlen) {
  const char *path = c->config_file;
  char *who = NULL;
  int rc = 0;
  lua_State *L = luaL_newstate();
  if (!L) {
    fputs("moonwire: out of memory creating the config Lua state\n", stderr);
    abort();
  }
  int st = luaL_loadfilex(L, path, "t");
  if (st == LUA_ERRFILE) {
    rc = fail(err, errlen, "config: %s", lua_tostring(L, -1));
    goto done;
  }
  if (st == LUA_OK) {
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setupvalue(L, -3, 1); /* a main chunk's only upvalue is _ENV */
    lua_insert(L, -2);
    *(size_t *)lua_getextraspace(L) = 0;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, CONFIG_HOOK_EVERY);
    st = lua_pcall(L, 0, 0, 0);
    lua_sethook(L, NULL, 0, 0);
  }
  if (st != LUA_OK) {
    const char *msg =
        lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error object is not a string";
    size_t plen = strlen(path);
    /* Lua already prefixes "FILE:LINE:" (unless the name was too long for
     * its chunk id); don't say the file name twice. */
    if (strncmp(msg, path, plen) == 0 && msg[plen] == ':')
      rc = fail(err, errlen, "config %s", msg);
    else
      rc = fail(err, errlen, "config %s: %s", path, msg);
    goto done;
  }

  /* The env table is at index 1. Unknown names first, so a typo is reported
   * as a typo even when another setting also has a bad value. */
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING || !find_key(lua_tostring(L, -1))) {
      rc = fail(err, errlen, "config %s: unknown setting '%s'", path, luaL_tolstring(L, -1, NULL));
      goto done;
    }
  }
  for (size_t i = 0; i < MW_ARRAY_SIZE(settings); i++) {
    const setting_t *s = &settings[i];
    if (!s->key) continue;
    lua_getfield(L, 1, s->key);
    if (!lua_isnil(L, -1)) {
      size_t n = strlen(path) + strlen(s->key) + sizeof "config : ";
      who = mw_malloc(n);
      snprintf(who, n, "config %s: %s", path, s->key);
      rc = file_value(c, s, L, lua_gettop(L), who, err, errlen);
      mw_free(who);
      who = NULL;
      if (rc != 0) goto done;
    }
    lua_pop(L, 1);
  }

done:
  lua_close(L);
  return rc;
}

/* ---- environment ---- */

static int env_scripts(mw_config_t *c, const char *v, char *err, size_t errlen) {
  scripts_clear(c);
  for (const char *p = v;;) {
    const char *end = strchr(p, ':');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    /* "a::b" or a trailing ':' is a typo more often than a wish for the
     * current directory (PATH's reading); make it say so. */
    if (len == 0)
      return fail(err, errlen,
                  "MOONWIRE_SCRIPTS: empty directory in ':'-separated list (got \"%.*s%s\")",
                  ECHO_MAX, v, strlen(v) > ECHO_MAX ? "..." : "");
    scripts_push(c, mw_strndup(p, len));
    if (!end) break;
    p = end + 1;
  }
  return 0;
}

static int load_env(mw_config_t *c, mw_config_getenv_fn getenv_fn, char *err, size_t errlen) {
  for (size_t i = 0; i < MW_ARRAY_SIZE(settings); i++) {
    const setting_t *s = &settings[i];
    if (!s->env || s->kind == K_CONFIG) continue;
    const char *v = getenv_fn(s->env);
    /* Empty means unset: `PORT=` in a compose file or .env should not be an
     * error nor a zero. */
    if (!v || !*v) continue;
    int rc = s->kind == K_SCRIPTS ? env_scripts(c, v, err, errlen)
                                  : apply_text(c, s, s->env, v, err, errlen);
    if (rc != 0) return rc;
  }
  return 0;
}

/* ---- command line ---- */

typedef struct flag_arg {
  const setting_t *s;
  const char *value; /* borrowed from argv */
} flag_arg_t;

static const setting_t *find_flag(const char *name, size_t len) {
  for (size_t i = 0; i < MW_ARRAY_SIZE(settings); i++) {
    const char *f = settings[i].flag;
    if (f && strlen(f) == len && strncmp(f, name, len) == 0) return &settings[i];
  }
  return NULL;
}

static bool is_flag(const char *name, size_t len, const char *flag) {
  return strlen(flag) == len && strncmp(name, flag, len) == 0;
}

/* What --help says a setting accepts: its own words, or its bounds and default. */
static void usage_range(const setting_t *s, char *out, size_t size) {
  if (s->doc_range)
    snprintf(out, size, "%s", s->doc_range);
  else
    snprintf(out, size, "%" PRIu64 "..%" PRIu64 ", default %s", s->lo, s->hi, s->dflt);
}

void mw_config_usage(FILE *out) {
  char range[160];
  fputs("Usage: moonwire [options]\n"
        "\n"
        "Serves Lua-scripted MCP tools over SSE. Settings come from defaults, then the\n"
        "config file, then the environment, then these options; each overrides the one\n"
        "before.\n"
        "\n"
        "Options (--option VALUE or --option=VALUE):\n",
        out);
  for (size_t i = 0; i < MW_ARRAY_SIZE(settings); i++) {
    const setting_t *s = &settings[i];
    if (!s->flag) continue;
    usage_range(s, range, sizeof range);
    char opt[40];
    snprintf(opt, sizeof opt, "%s %s", s->flag, s->metavar);
    fprintf(out, "  %-19s %s\n  %-19s %s; env %s\n", opt, s->help, "", range, s->env);
  }
  fputs("  --version           print \"moonwire " MW_VERSION "\" and exit\n"
        "  --help              print this help and exit\n"
        "\n"
        "Environment (an empty value counts as unset):\n",
        out);
  for (size_t i = 0; i < MW_ARRAY_SIZE(settings); i++) {
    const setting_t *s = &settings[i];
    if (!s->env) continue;
    usage_range(s, range, sizeof range);
    fprintf(out, "  %-24s %s\n  %-24s %s\n", s->env, s->help, "", range);
  }
  fputs("\n"
        "Config file: a Lua file of assignments whose names are the variable names in\n"
        "lower case (port = 3001, sse_heartbeat_interval = 15, log_level = \"debug\"),\n"
        "plus scripts = { \"dir\", ... } (relative to the file's directory) and\n"
        "plugins = { ... }. No Lua libraries are available to it.\n",
        out);
}

int mw_config_load(mw_config_t *c, int argc, char **argv, mw_config_getenv_fn getenv_fn, FILE *out,
                   char *err, size_t errlen) {
  int rc = 0, nflags = 0;
  const char *config_flag = NULL;
  flag_arg_t *flags = mw_calloc((size_t)(argc > 0 ? argc : 1), sizeof *flags);
  if (!out) out = stdout;

  /* Pass 1 checks the shape of argv and finds --config before anything is
   * applied, because the file it names is the lowest layer. */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-') {
      rc = fail(err, errlen, "unexpected argument '%s' (see --help)", a);
      goto done;
    }
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    if (is_flag(a, len, "--help") || is_flag(a, len, "--version")) {
      if (eq) {
        rc = fail(err, errlen, "%.*s takes no value", (int)len, a);
        goto done;
      }
      if (a[2] == 'h')
        mw_config_usage(out);
      else
        fputs("moonwire " MW_VERSION "\n", out);
      rc = 1;
      goto done;
    }
    const setting_t *s = find_flag(a, len);
    if (!s) {
      rc = fail(err, errlen, "unknown option '%.*s' (see --help)", (int)len, a);
      goto done;
    }
    const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
    if (!v) {
      rc = fail(err, errlen, "%s: missing value", s->flag);
      goto done;
    }
    if (s->kind == K_CONFIG) config_flag = v;
    flags[nflags++] = (flag_arg_t){s, v};
  }

  const char *config_env = getenv_fn ? getenv_fn("MOONWIRE_CONFIG") : NULL;
  if (config_flag)
    rc = apply_text(c, find_flag("--config", strlen("--config")), "--config", config_flag, err,
                    errlen);
  else if (config_env && *config_env)
    set_str(&c->config_file, config_env);
  if (rc != 0) goto done;
  if (c->config_file && (rc = load_file(c, err, errlen)) != 0) goto done;

  /* NULL getenv_fn means an empty environment. */
  if (getenv_fn && (rc = load_env(c, getenv_fn, err, errlen)) != 0) goto done;

  bool scripts_seen = false;
  for (int i = 0; i < nflags; i++) {
    const setting_t *s = flags[i].s;
    if (s->kind == K_CONFIG) continue;
    if (s->kind == K_SCRIPTS) {
      if (*flags[i].value == '\0') {
        rc = fail(err, errlen, "--scripts: must not be empty");
        goto done;
      }
      /* The first --scripts replaces the env/file list; later ones append. */
      if (!scripts_seen) scripts_clear(c);
      scripts_seen = true;
      scripts_push(c, mw_strdup(flags[i].value));
      continue;
    }
    if ((rc = apply_text(c, s, s->flag, flags[i].value, err, errlen)) != 0) goto done;
  }

done:
  mw_free(flags);
  if (rc == 0) {
    c->argc = argc;
    c->argv = argv;
    c->getenv_fn = getenv_fn;
  }
  return rc;
}

int mw_config_host_addr(const char *host, int port, struct sockaddr_storage *out) {
  if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
  int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)out);
  if (rc < 0) rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)out);
  return rc;
}

static bool same_setting(const mw_config_t *a, const mw_config_t *b, const setting_t *s) {
  const void *fa = (const char *)a + s->off, *fb = (const char *)b + s->off;
  switch (s->kind) {
  case K_STR:
  case K_HOST: {
    const char *x = *(char *const *)fa, *y = *(char *const *)fb;
    return x == y || (x && y && strcmp(x, y) == 0);
  }
  case K_INT:
    return *(const int *)fa == *(const int *)fb;
  case K_U32:
    return *(const uint32_t *)fa == *(const uint32_t *)fb;
  case K_SIZE:
    return *(const size_t *)fa == *(const size_t *)fb;
  case K_LEVEL:
    return *(const mw_log_level_t *)fa == *(const mw_log_level_t *)fb;
  case K_SCRIPTS:
    if (a->nscripts != b->nscripts) return false;
    for (size_t i = 0; i < a->nscripts; i++)
      if (strcmp(a->scripts[i], b->scripts[i]) != 0) return false;
    return true;
  default: /* K_CONFIG names the file itself; K_PLUGINS is read by each generation */
    return true;
  }
}

int mw_config_recheck(const mw_config_t *c, char *changed, size_t changed_len, char *err,
                      size_t errlen) {
  mw_config_t fresh;
  mw_config_init(&fresh);
  if (changed_len) changed[0] = '\0';
  /* --help and --version never reach a running server: argv loads to 0 or an error. */
  int rc = mw_config_load(&fresh, c->argc, c->argv, c->getenv_fn, NULL, err, errlen);
  if (rc == 0) {
    size_t used = 0;
    for (size_t i = 0; i < MW_ARRAY_SIZE(settings); i++) {
      if (same_setting(c, &fresh, &settings[i])) continue;
      int n = snprintf(changed + used, changed_len - used, "%s%s", used ? ", " : "",
                       settings[i].key ? settings[i].key : settings[i].env);
      if (n > 0 && (size_t)n < changed_len - used) used += (size_t)n;
    }
  }
  mw_config_dispose(&fresh);
  return rc < 0 ? rc : 0;
}
