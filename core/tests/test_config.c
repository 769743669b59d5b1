/* Tests for core/config.c: defaults, the file < env < flag layering, strict
 * integer parsing at every range edge, error text, --help/--version, and the
 * Lua config file. Expected ranges are written out here independently of the
 * module's table, so a wrong table entry fails a test. */
#define _POSIX_C_SOURCE 200809L

#include "mw_test.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "config.h"

#ifndef MW_VERSION
#define MW_VERSION "dev"
#endif

/* ---- fixtures ---- */

/* name, value pairs, NULL-terminated; what fake_getenv sees. */
static const char *const *fake_env;

static const char *fake_getenv(const char *name) {
  for (const char *const *p = fake_env; p && *p; p += 2)
    if (strcmp(p[0], name) == 0) return p[1];
  return NULL;
}

#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NOENV ((const char *const[]){NULL})
#define NOARGS ((const char *const[]){NULL})

static char err[512];
static char out_text[16384];

/* Runs mw_config_load with argv = {"moonwire", args...}; stdout text is
 * captured into out_text. */
static int load(mw_config_t *c, const char *const *env, const char *const *args) {
  char *argv[64];
  int argc = 0;
  argv[argc++] = "moonwire";
  for (; *args; args++)
    argv[argc++] = (char *)*args;
  argv[argc] = NULL;
  fake_env = env;
  err[0] = '\0';
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  int rc = mw_config_load(c, argc, argv, fake_getenv, out, err, sizeof err);
  fclose(out);
  snprintf(out_text, sizeof out_text, "%s", buf ? buf : "");
  free(buf);
  return rc;
}

/* Loads into a fresh config and disposes it; for tests that only look at the
 * return code and message. */
static int load_fresh(const char *const *env, const char *const *args) {
  mw_config_t c;
  mw_config_init(&c);
  int rc = load(&c, env, args);
  mw_config_dispose(&c);
  return rc;
}

/* Writes `text` to a new /tmp file; `path` receives its name. */
static void write_file(char *path, size_t n, const char *text) {
  snprintf(path, n, "/tmp/mw_test_config_XXXXXX");
  int fd = mkstemp(path);
  if (fd < 0) {
    perror("mkstemp");
    abort();
  }
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len) abort();
  close(fd);
}

static bool contains(const char *hay, const char *needle) {
  return strstr(hay, needle) != NULL;
}

/* ---- defaults and layering ---- */

TEST(defaults) {
  mw_config_t c;
  mw_config_init(&c);
  CHECK_EQ_STR(c.host, "127.0.0.1");
  CHECK_EQ_INT(c.port, 3001);
  CHECK_EQ_INT(c.nscripts, 0);
  CHECK(c.scripts == NULL);
  CHECK(c.config_file == NULL);
  CHECK_EQ_INT(c.log_level, MW_LOG_INFO);
  CHECK_EQ_INT(c.heartbeat_interval_s, 15);
  CHECK_EQ_INT(c.connection_timeout_s, 90);
  CHECK_EQ_INT(c.buffer_size, 1000);
  CHECK_EQ_INT(c.buffer_bytes, 1048576);
  CHECK_EQ_INT(c.buffer_ttl_s, 300);
  CHECK_EQ_INT(c.retry_ms, 1000);
  CHECK_EQ_INT(c.max_connections, 10000);
  CHECK_EQ_INT(c.max_body_bytes, 4194304);
  CHECK_EQ_INT(c.max_pending_bytes, 1048576);
  CHECK_EQ_INT(c.header_timeout_ms, 10000);
  CHECK_EQ_INT(c.body_timeout_ms, 60000);
  CHECK_EQ_INT(c.keepalive_timeout_s, 75);
  CHECK_EQ_INT(c.shutdown_timeout_s, 10);
  CHECK_EQ_INT(c.handler_timeout_ms, 30000);
  CHECK_EQ_INT(c.lua_memory_mb, 512);
  CHECK_EQ_INT(c.shared_memory_mb, 64);
  CHECK_EQ_STR(c.cors_allow_origins, "*");
  CHECK(c.allowed_hosts == NULL);
  CHECK(c.allowed_origins == NULL);

  /* Loading nothing changes nothing. */
  CHECK_EQ_INT(load(&c, NOENV, NOARGS), 0);
  CHECK_EQ_INT(c.port, 3001);
  CHECK_EQ_STR(c.host, "127.0.0.1");
  mw_config_dispose(&c);
  mw_config_dispose(&c); /* idempotent */
  mw_config_dispose(NULL);
}

TEST(precedence) {
  char path[64];
  write_file(path, sizeof path,
             "host = '10.0.0.1'\n"
             "port = 1111\n"
             "log_level = 'warn'\n"
             "scripts = { '/file/a' }\n"
             "sse_retry_ms = 5\n");
  mw_config_t c;

  /* File over defaults. */
  mw_config_init(&c);
  CHECK_EQ_INT(load(&c, NOENV, ARGS("--config", path)), 0);
  CHECK_EQ_STR(c.config_file, path);
  CHECK_EQ_STR(c.host, "10.0.0.1");
  CHECK_EQ_INT(c.port, 1111);
  CHECK_EQ_INT(c.log_level, MW_LOG_WARN);
  CHECK_EQ_INT(c.nscripts, 1);
  if (c.nscripts == 1) CHECK_EQ_STR(c.scripts[0], "/file/a");
  CHECK_EQ_INT(c.retry_ms, 5);
  CHECK_EQ_INT(c.heartbeat_interval_s, 15); /* untouched keys keep defaults */
  mw_config_dispose(&c);

  /* Env over file; MOONWIRE_CONFIG names the file. */
  mw_config_init(&c);
  CHECK_EQ_INT(load(&c,
                    ENV("MOONWIRE_CONFIG", path, "HOST", "10.0.0.2", "PORT", "2222", "LOG_LEVEL",
                        "error", "MOONWIRE_SCRIPTS", "/env/a:/env/b"),
                    NOARGS),
               0);
  CHECK_EQ_STR(c.config_file, path);
  CHECK_EQ_STR(c.host, "10.0.0.2");
  CHECK_EQ_INT(c.port, 2222);
  CHECK_EQ_INT(c.log_level, MW_LOG_ERROR);
  CHECK_EQ_INT(c.nscripts, 2);
  if (c.nscripts == 2) {
    CHECK_EQ_STR(c.scripts[0], "/env/a");
    CHECK_EQ_STR(c.scripts[1], "/env/b");
  }
  CHECK_EQ_INT(c.retry_ms, 5); /* file value survives where env is silent */
  mw_config_dispose(&c);

  /* Flags over env. */
  mw_config_init(&c);
  CHECK_EQ_INT(
      load(&c,
           ENV("MOONWIRE_CONFIG", path, "HOST", "10.0.0.2", "PORT", "2222", "LOG_LEVEL", "error",
               "MOONWIRE_SCRIPTS", "/env/a:/env/b"),
           ARGS("--host", "::1", "--port", "3333", "--log-level", "debug", "--scripts", "/flag/a")),
      0);
  CHECK_EQ_STR(c.host, "::1");
  CHECK_EQ_INT(c.port, 3333);
  CHECK_EQ_INT(c.log_level, MW_LOG_DEBUG);
  CHECK_EQ_INT(c.nscripts, 1);
  if (c.nscripts == 1) CHECK_EQ_STR(c.scripts[0], "/flag/a");
  mw_config_dispose(&c);

  unlink(path);
}

TEST(config_flag_beats_env) {
  char a[64], b[64];
  write_file(a, sizeof a, "port = 1\n");
  write_file(b, sizeof b, "port = 2\n");
  mw_config_t c;
  mw_config_init(&c);
  CHECK_EQ_INT(load(&c, ENV("MOONWIRE_CONFIG", a), ARGS("--config", b)), 0);
  CHECK_EQ_STR(c.config_file, b);
  CHECK_EQ_INT(c.port, 2);
  mw_config_dispose(&c);
  unlink(a);
  unlink(b);
}

TEST(empty_env_is_unset) {
  mw_config_t c;
  mw_config_init(&c);
  CHECK_EQ_INT(
      load(&c,
           ENV("HOST", "", "PORT", "", "MOONWIRE_SCRIPTS", "", "MOONWIRE_CONFIG", "", "LOG_LEVEL",
               "", "SSE_BUFFER_SIZE", "", "CORS_ALLOW_ORIGINS", "", "ALLOWED_HOSTS", ""),
           NOARGS),
      0);
  CHECK_EQ_STR(c.host, "127.0.0.1");
  CHECK_EQ_INT(c.port, 3001);
  CHECK_EQ_INT(c.nscripts, 0);
  CHECK(c.config_file == NULL);
  CHECK_EQ_INT(c.log_level, MW_LOG_INFO);
  CHECK_EQ_INT(c.buffer_size, 1000);
  CHECK_EQ_STR(c.cors_allow_origins, "*");
  CHECK(c.allowed_hosts == NULL);
  mw_config_dispose(&c);
}

TEST(string_settings_from_env) {
  mw_config_t c;
  mw_config_init(&c);
  CHECK_EQ_INT(
      load(&c,
           ENV("CORS_ALLOW_ORIGINS", "https://a.example,https://b.example", "ALLOWED_HOSTS",
               "localhost,example.com", "ALLOWED_ORIGINS", "https://a.example"),
           NOARGS),
      0);
  CHECK_EQ_STR(c.cors_allow_origins, "https://a.example,https://b.example");
  CHECK_EQ_STR(c.allowed_hosts, "localhost,example.com");
  CHECK_EQ_STR(c.allowed_origins, "https://a.example");
  mw_config_dispose(&c);
}

/* ---- integers ---- */

typedef struct int_case {
  const char *env;
  const char *key;
  uint64_t lo, hi;
  uint64_t (*get)(const mw_config_t *c);
} int_case_t;

#define GETTER(f)                                                                                  \
  static uint64_t get_##f(const mw_config_t *c) {                                                  \
    return (uint64_t)c->f;                                                                         \
  }
GETTER(port)
GETTER(heartbeat_interval_s)
GETTER(connection_timeout_s)
GETTER(buffer_size)
GETTER(buffer_bytes)
GETTER(buffer_ttl_s)
GETTER(retry_ms)
GETTER(max_connections)
GETTER(max_body_bytes)
GETTER(max_pending_bytes)
GETTER(header_timeout_ms)
GETTER(body_timeout_ms)
GETTER(keepalive_timeout_s)
GETTER(shutdown_timeout_s)
GETTER(handler_timeout_ms)
GETTER(lua_memory_mb)
GETTER(shared_memory_mb)

/* Ranges as config.h documents them. */
static const int_case_t int_cases[] = {
    {"PORT", "port", 0, 65535, get_port},
    {"SSE_HEARTBEAT_INTERVAL", "sse_heartbeat_interval", 1, 3600, get_heartbeat_interval_s},
    {"SSE_CONNECTION_TIMEOUT", "sse_connection_timeout", 1, 86400, get_connection_timeout_s},
    {"SSE_BUFFER_SIZE", "sse_buffer_size", 1, 1000000, get_buffer_size},
    {"SSE_BUFFER_BYTES", "sse_buffer_bytes", 1024, 1073741824, get_buffer_bytes},
    {"SSE_BUFFER_TTL", "sse_buffer_ttl", 1, 86400, get_buffer_ttl_s},
    {"SSE_RETRY_MS", "sse_retry_ms", 0, 3600000, get_retry_ms},
    {"MAX_CONNECTIONS", "max_connections", 1, 1000000, get_max_connections},
    {"MAX_BODY_BYTES", "max_body_bytes", 1, 1073741824, get_max_body_bytes},
    {"MAX_PENDING_BYTES", "max_pending_bytes", 4096, 1073741824, get_max_pending_bytes},
    {"HEADER_TIMEOUT_MS", "header_timeout_ms", 100, 600000, get_header_timeout_ms},
    {"BODY_TIMEOUT_MS", "body_timeout_ms", 100, 600000, get_body_timeout_ms},
    {"KEEPALIVE_TIMEOUT", "keepalive_timeout", 1, 3600, get_keepalive_timeout_s},
    {"SHUTDOWN_TIMEOUT", "shutdown_timeout", 0, 600, get_shutdown_timeout_s},
    {"HANDLER_TIMEOUT_MS", "handler_timeout_ms", 10, 86400000, get_handler_timeout_ms},
    {"LUA_MEMORY_MB", "lua_memory_mb", 8, 1048576, get_lua_memory_mb},
    {"SHARED_MEMORY_MB", "shared_memory_mb", 1, 1048576, get_shared_memory_mb},
};

/* Accepts `value` through the environment and checks it was stored. */
static void expect_env_ok(const int_case_t *t, uint64_t value) {
  char v[32];
  snprintf(v, sizeof v, "%llu", (unsigned long long)value);
  mw_config_t c;
  mw_config_init(&c);
  int rc = load(&c, ENV(t->env, v), NOARGS);
  if (rc != 0) fprintf(stderr, "  %s=%s rejected: %s\n", t->env, v, err);
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_INT(t->get(&c), value);
  mw_config_dispose(&c);
}

/* Rejects `v` through the environment with the documented message. */
static void expect_env_bad(const int_case_t *t, const char *v) {
  char want[256];
  snprintf(want, sizeof want, "%s: must be an integer in %llu..%llu (got \"%s\")", t->env,
           (unsigned long long)t->lo, (unsigned long long)t->hi, v);
  CHECK_EQ_INT(load_fresh(ENV(t->env, v), NOARGS), -EINVAL);
  CHECK_EQ_STR(err, want);
}

TEST(int_range_edges) {
  for (size_t i = 0; i < MW_ARRAY_SIZE(int_cases); i++) {
    const int_case_t *t = &int_cases[i];
    char v[32];
    expect_env_ok(t, t->lo);
    expect_env_ok(t, t->hi);
    if (t->lo > 0) {
      snprintf(v, sizeof v, "%llu", (unsigned long long)(t->lo - 1));
      expect_env_bad(t, v);
    } else {
      expect_env_bad(t, "-1");
    }
    snprintf(v, sizeof v, "%llu", (unsigned long long)(t->hi + 1));
    expect_env_bad(t, v);
  }
}

TEST(int_junk) {
  static const char *const junk[] = {
      "15s",
      " 15",
      "15 ",
      "+15",
      "0x10",
      "1.5",
      "1e3",
      "-1",
      "abc",
      "1_000",
      "99999999999999999999", /* overflows uint64 */
      "18446744073709551616", /* 2^64 exactly */
      "18446744073709551631", /* 2^64 + 15: wraps to 15 if overflow went unseen */
      "18446744073709551615", /* fits uint64, far out of range */
  };
  const int_case_t *t = &int_cases[1]; /* SSE_HEARTBEAT_INTERVAL */
  for (size_t i = 0; i < MW_ARRAY_SIZE(junk); i++)
    expect_env_bad(t, junk[i]);
  /* Leading zeros are still decimal digits. */
  mw_config_t c;
  mw_config_init(&c);
  CHECK_EQ_INT(load(&c, ENV("SSE_HEARTBEAT_INTERVAL", "007"), NOARGS), 0);
  CHECK_EQ_INT(c.heartbeat_interval_s, 7);
  mw_config_dispose(&c);
  /* A flag with an empty value is a value, not "unset". */
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--port=")), -EINVAL);
  CHECK_EQ_STR(err, "--port: must be an integer in 0..65535 (got \"\")");
}

TEST(int_error_names_source) {
  CHECK_EQ_INT(load_fresh(ENV("SSE_HEARTBEAT_INTERVAL", "0"), NOARGS), -EINVAL);
  CHECK_EQ_STR(err, "SSE_HEARTBEAT_INTERVAL: must be an integer in 1..3600 (got \"0\")");

  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--port", "65536")), -EINVAL);
  CHECK_EQ_STR(err, "--port: must be an integer in 0..65535 (got \"65536\")");

  char path[64], want[256];
  write_file(path, sizeof path, "max_pending_bytes = 4095\n");
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--config", path)), -EINVAL);
  snprintf(want, sizeof want,
           "config %s: max_pending_bytes: must be an integer in 4096..1073741824 (got \"4095\")",
           path);
  CHECK_EQ_STR(err, want);
  unlink(path);

  /* A bad env value is an error even though a flag would override it: each
   * layer is validated as it is read. */
  CHECK_EQ_INT(load_fresh(ENV("PORT", "x"), ARGS("--port", "1")), -EINVAL);
  CHECK(contains(err, "PORT: must be an integer in 0..65535"));
}

TEST(port_flag_edges) {
  mw_config_t c;
  mw_config_init(&c);
  CHECK_EQ_INT(load(&c, NOENV, ARGS("--port", "0")), 0);
  CHECK_EQ_INT(c.port, 0);
  mw_config_dispose(&c);
  mw_config_init(&c);
  CHECK_EQ_INT(load(&c, NOENV, ARGS("--port=65535")), 0);
  CHECK_EQ_INT(c.port, 65535);
  mw_config_dispose(&c);
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--port", "-1")), -EINVAL);
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--port", "65536")), -EINVAL);
}

/* ---- other values ---- */

TEST(log_level) {
  static const struct {
    const char *text;
    mw_log_level_t level;
  } ok[] = {{"debug", MW_LOG_DEBUG},
            {"info", MW_LOG_INFO},
            {"warn", MW_LOG_WARN},
            {"error", MW_LOG_ERROR}};
  for (size_t i = 0; i < MW_ARRAY_SIZE(ok); i++) {
    mw_config_t c;
    mw_config_init(&c);
    CHECK_EQ_INT(load(&c, ENV("LOG_LEVEL", ok[i].text), NOARGS), 0);
    CHECK_EQ_INT(c.log_level, ok[i].level);
    mw_config_dispose(&c);
  }
  CHECK_EQ_INT(load_fresh(ENV("LOG_LEVEL", "verbose"), NOARGS), -EINVAL);
  CHECK_EQ_STR(err, "LOG_LEVEL: must be one of debug, info, warn, error (got \"verbose\")");
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--log-level", "INFO")), -EINVAL);
  CHECK(contains(err, "--log-level: must be one of debug, info, warn, error"));
}

TEST(host_must_not_be_empty) {
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--host", "")), -EINVAL);
  CHECK_EQ_STR(err, "--host: must not be empty");
  mw_config_t c;
  mw_config_init(&c);
  CHECK_EQ_INT(load(&c, NOENV, ARGS("--host=::1")), 0);
  CHECK_EQ_STR(c.host, "::1");
  mw_config_dispose(&c);
}

/* HOST is an address to bind, checked with the other settings (exit 2 before
 * any script loads), not when the listener is opened. */
TEST(host_must_be_an_address) {
  const char *good[] = {"0.0.0.0", "127.0.0.1", "::", "::1", "fe80::1", "localhost"};
  for (size_t i = 0; i < MW_ARRAY_SIZE(good); i++) {
    mw_config_t c;
    mw_config_init(&c);
    CHECK_EQ_INT(load(&c, ENV("HOST", good[i]), NOARGS), 0);
    CHECK_EQ_STR(c.host, good[i]);
    mw_config_dispose(&c);
  }
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--host", "nosuchhost.invalid")), -EINVAL);
  CHECK_EQ_STR(err,
               "--host: must be an IPv4 or IPv6 address or localhost (got \"nosuchhost.invalid\")");
  CHECK_EQ_INT(load_fresh(ENV("HOST", "127.0.0.256"), NOARGS), -EINVAL);
  CHECK(contains(err, "HOST: must be an IPv4 or IPv6 address or localhost"));
  CHECK_EQ_INT(load_fresh(ENV("HOST", "[::1]"), NOARGS), -EINVAL);
  CHECK(contains(err, "HOST: must be an IPv4 or IPv6 address"));
}

TEST(scripts) {
  mw_config_t c;
  mw_config_init(&c);
  CHECK_EQ_INT(load(&c, ENV("MOONWIRE_SCRIPTS", "x:y:z"), ARGS("--scripts", "a", "--scripts=b")),
               0);
  CHECK_EQ_INT(c.nscripts, 2);
  if (c.nscripts == 2) {
    CHECK_EQ_STR(c.scripts[0], "a");
    CHECK_EQ_STR(c.scripts[1], "b");
  }
  mw_config_dispose(&c);

  mw_config_init(&c);
  CHECK_EQ_INT(load(&c, ENV("MOONWIRE_SCRIPTS", "x:rel/y:/abs/z"), NOARGS), 0);
  CHECK_EQ_INT(c.nscripts, 3);
  if (c.nscripts == 3) {
    CHECK_EQ_STR(c.scripts[0], "x");
    CHECK_EQ_STR(c.scripts[1], "rel/y"); /* env paths stay relative to the cwd */
    CHECK_EQ_STR(c.scripts[2], "/abs/z");
  }
  mw_config_dispose(&c);

  CHECK_EQ_INT(load_fresh(ENV("MOONWIRE_SCRIPTS", "x::y"), NOARGS), -EINVAL);
  CHECK(contains(err, "MOONWIRE_SCRIPTS"));
  CHECK_EQ_INT(load_fresh(ENV("MOONWIRE_SCRIPTS", "x:"), NOARGS), -EINVAL);
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--scripts", "")), -EINVAL);
  CHECK(contains(err, "--scripts"));
}

/* ---- command line ---- */

TEST(help) {
  static const char *const names[] = {
      "HOST",
      "PORT",
      "MOONWIRE_SCRIPTS",
      "MOONWIRE_CONFIG",
      "LOG_LEVEL",
      "SSE_HEARTBEAT_INTERVAL",
      "SSE_CONNECTION_TIMEOUT",
      "SSE_BUFFER_SIZE",
      "SSE_BUFFER_BYTES",
      "SSE_BUFFER_TTL",
      "SSE_RETRY_MS",
      "MAX_CONNECTIONS",
      "MAX_BODY_BYTES",
      "MAX_PENDING_BYTES",
      "HEADER_TIMEOUT_MS",
      "BODY_TIMEOUT_MS",
      "KEEPALIVE_TIMEOUT",
      "SHUTDOWN_TIMEOUT",
      "CORS_ALLOW_ORIGINS",
      "ALLOWED_HOSTS",
      "ALLOWED_ORIGINS",
      "--host",
      "--port",
      "--scripts",
      "--config",
      "--log-level",
      "--version",
      "--help",
  };
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--help")), 1);
  for (size_t i = 0; i < MW_ARRAY_SIZE(names); i++) {
    if (!contains(out_text, names[i])) fprintf(stderr, "  --help lacks %s\n", names[i]);
    CHECK(contains(out_text, names[i]));
  }
  /* Ranges and defaults are documented, not just names. */
  CHECK(contains(out_text, "1..3600, default 15"));
  CHECK(contains(out_text, "0..65535, default 3001"));
  CHECK(contains(out_text, "4096..1073741824, default 1048576"));
  CHECK(contains(out_text, "default 127.0.0.1"));

  /* --help needs no valid config: it is answered before the file is read. */
  CHECK_EQ_INT(load_fresh(ENV("MOONWIRE_CONFIG", "/nonexistent/moonwire.lua", "PORT", "bad"),
                          ARGS("--help")),
               1);
  CHECK(contains(out_text, "Usage:"));
}

static void rewrite(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0) abort();
}

/* A reload loads the settings again from the same sources: a typo in the file
 * is an error, a changed value is named (it takes a restart), and a value the
 * environment or a flag sets is not the file's to change. */
TEST(recheck) {
  char path[64], changed[256];
  write_file(path, sizeof path, "port = 1111\nlog_level = 'warn'\n");
  static char *argv[] = {"moonwire", "--config", NULL, "--port", "2222", NULL};
  argv[2] = path;
  static const char *const env[] = {"SSE_RETRY_MS", "7", NULL};
  fake_env = env;
  mw_config_t c;
  mw_config_init(&c);
  CHECK_EQ_INT(mw_config_load(&c, 5, argv, fake_getenv, NULL, err, sizeof err), 0);
  CHECK_EQ_INT(mw_config_recheck(&c, changed, sizeof changed, err, sizeof err), 0);
  CHECK_EQ_STR(changed, "");

  rewrite(path, "port = 1\nlog_level = 'warn'\nsse_retry_ms = 9\nsse_heartbeat_interval = 5\n"
                "allowed_hosts = 'a.example'\n");
  CHECK_EQ_INT(mw_config_recheck(&c, changed, sizeof changed, err, sizeof err), 0);
  CHECK_EQ_STR(changed, "sse_heartbeat_interval, allowed_hosts");

  rewrite(path, "prot = 1\n");
  CHECK_EQ_INT(mw_config_recheck(&c, changed, sizeof changed, err, sizeof err), -EINVAL);
  CHECK(contains(err, "unknown setting 'prot'"));
  rewrite(path, "sse_heartbeat_interval = 0\n");
  CHECK_EQ_INT(mw_config_recheck(&c, changed, sizeof changed, err, sizeof err), -EINVAL);
  CHECK(contains(err, "sse_heartbeat_interval: must be an integer in 1..3600 (got \"0\")"));
  rewrite(path, "port = 1111\n");
  CHECK_EQ_INT(mw_config_recheck(&c, changed, sizeof changed, err, sizeof err), 0);
  CHECK_EQ_STR(changed, "log_level");

  /* The running values are never touched. */
  CHECK_EQ_INT(c.port, 2222);
  CHECK_EQ_INT(c.retry_ms, 7);
  CHECK_EQ_INT(c.log_level, MW_LOG_WARN);
  CHECK_EQ_INT(c.heartbeat_interval_s, 15);
  mw_config_dispose(&c);
  unlink(path);
}

/* .env.example (README: "lists every variable") names each variable --help
 * lists under "Environment", so a new setting cannot be left out of it. */
TEST(env_example_lists_every_variable) {
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--help")), 1);
  FILE *f = fopen(MW_SOURCE_LUA_DIR "/../.env.example", "r");
  CHECK(f != NULL);
  if (!f) return;
  static char example[16384];
  example[fread(example, 1, sizeof example - 1, f)] = '\0';
  fclose(f);
  const char *env = strstr(out_text, "\nEnvironment");
  CHECK(env != NULL);
  int names = 0;
  /* The section's lines up to the blank line that ends it: a variable's line
   * is two spaces and the name; its description lines are indented further. */
  for (const char *line = env ? strchr(env + 1, '\n') : NULL; line && line[1] != '\n';
       line = strchr(line + 1, '\n')) {
    char name[64], want[80];
    if (line[3] == ' ' || sscanf(line + 1, "  %63[A-Z_]", name) != 1) continue;
    names++;
    snprintf(want, sizeof want, "# %s=", name);
    if (!contains(example, want)) fprintf(stderr, "  .env.example lacks %s\n", name);
    CHECK(contains(example, want));
  }
  CHECK(names >= 20);
}

TEST(version) {
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--version")), 1);
  CHECK_EQ_STR(out_text, "moonwire " MW_VERSION "\n");
}

TEST(bad_arguments) {
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--bogus")), -EINVAL);
  CHECK(contains(err, "unknown option '--bogus'"));
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--bogus=1")), -EINVAL);
  CHECK(contains(err, "'--bogus'"));
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("-p", "1")), -EINVAL);
  CHECK(contains(err, "'-p'"));
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("stray")), -EINVAL);
  CHECK(contains(err, "stray"));
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--port")), -EINVAL);
  CHECK_EQ_STR(err, "--port: missing value");
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--host", "h", "--config")), -EINVAL);
  CHECK_EQ_STR(err, "--config: missing value");
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--help=yes")), -EINVAL);
  CHECK(contains(err, "--help"));
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--config=")), -EINVAL);
  CHECK(contains(err, "--config"));
}

/* ---- config file ---- */

TEST(file_values) {
  char path[64];
  write_file(path, sizeof path,
             "-- comments and locals are fine\n"
             "local k = 1024\n"
             "port = 3001.0\n"                 /* integral float */
             "sse_heartbeat_interval = '20'\n" /* numeric string */
             "sse_buffer_bytes = 64 * k\n"
             "max_body_bytes = 1e6\n"
             "cors_allow_origins = 'https://a.example'\n"
             "allowed_hosts = 'localhost'\n"
             "allowed_origins = 'http://localhost'\n"
             "plugins = { ratelimit = { rps = 10 } }\n"
             "scripts = '/abs/one'\n");
  mw_config_t c;
  mw_config_init(&c);
  int rc = load(&c, NOENV, ARGS("--config", path));
  if (rc != 0) fprintf(stderr, "  %s\n", err);
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_INT(c.port, 3001);
  CHECK_EQ_INT(c.heartbeat_interval_s, 20);
  CHECK_EQ_INT(c.buffer_bytes, 65536);
  CHECK_EQ_INT(c.max_body_bytes, 1000000);
  CHECK_EQ_STR(c.cors_allow_origins, "https://a.example");
  CHECK_EQ_STR(c.allowed_hosts, "localhost");
  CHECK_EQ_STR(c.allowed_origins, "http://localhost");
  CHECK_EQ_INT(c.nscripts, 1);
  if (c.nscripts == 1) CHECK_EQ_STR(c.scripts[0], "/abs/one");
  mw_config_dispose(&c);
  unlink(path);
}

/* Runs a one-file config expected to fail; returns with err filled. */
static void expect_file_error(const char *text, const char *want_after_path) {
  char path[64], want[512];
  write_file(path, sizeof path, text);
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--config", path)), -EINVAL);
  snprintf(want, sizeof want, "config %s%s", path, want_after_path);
  if (strncmp(err, want, strlen(want)) != 0) fprintf(stderr, "  got: %s\n  want: %s\n", err, want);
  CHECK(strncmp(err, want, strlen(want)) == 0);
  unlink(path);
}

TEST(file_errors) {
  expect_file_error("port = 1\nxyz = 2\n", ": unknown setting 'xyz'");
  CHECK(contains(err, "unknown setting 'xyz'"));
  expect_file_error("PORT = 1\n", ": unknown setting 'PORT'"); /* keys are lower case */
  expect_file_error("moonwire_scripts = 'x'\n", ": unknown setting 'moonwire_scripts'");
  expect_file_error("port = 1\nport = = 2\n", ":2:");      /* syntax error, with its line */
  expect_file_error("port = 1\n\nerror('boom')\n", ":3:"); /* runtime: no libraries */
  expect_file_error("port = 70000\n", ": port: must be an integer in 0..65535 (got \"70000\")");
  expect_file_error("port = -1\n", ": port: must be an integer in 0..65535 (got \"-1\")");
  expect_file_error("port = 3001.5\n", ": port: must be an integer in 0..65535 (got \"3001.5\")");
  expect_file_error("port = '15s'\n", ": port: must be an integer in 0..65535 (got \"15s\")");
  expect_file_error("port = true\n", ": port: must be an integer in 0..65535 (got boolean)");
  expect_file_error("host = ''\n", ": host: must not be empty");
  expect_file_error("host = 1\n", ": host: must be a string (got number)");
  expect_file_error("host = 'a\\0b'\n", ": host: must not contain a NUL byte");
  expect_file_error("log_level = 'loud'\n",
                    ": log_level: must be one of debug, info, warn, error (got \"loud\")");
  expect_file_error("scripts = { 'a', 2 }\n", ": scripts:");
  expect_file_error("scripts = { 'a', x = 'b' }\n", ": scripts:");
  expect_file_error("scripts = 5\n", ": scripts:");
  expect_file_error("plugins = 'rl'\n", ": plugins: must be a table");
  expect_file_error("while true do end\n", ":1:"); /* bounded, not a hang */
  CHECK(contains(err, "endless loop"));
  expect_file_error("\x1bLua", ": "); /* binary chunks refused */
  CHECK(contains(err, "binary"));

  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--config", "/nonexistent/moonwire.lua")), -EINVAL);
  CHECK(contains(err, "/nonexistent/moonwire.lua"));
}

TEST(file_scripts_relative_to_file) {
  char dir[64], sub[96], path[128];
  snprintf(dir, sizeof dir, "/tmp/mw_test_config_XXXXXX");
  if (!mkdtemp(dir)) abort();
  snprintf(sub, sizeof sub, "%s/etc", dir);
  if (mkdir(sub, 0700) != 0) abort();
  snprintf(path, sizeof path, "%s/moonwire.lua", sub);
  FILE *f = fopen(path, "w");
  if (!f) abort();
  fputs("scripts = { 'tools', '../shared', '/abs/x' }\n", f);
  fclose(f);

  mw_config_t c;
  mw_config_init(&c);
  CHECK_EQ_INT(load(&c, NOENV, ARGS("--config", path)), 0);
  CHECK_EQ_INT(c.nscripts, 3);
  if (c.nscripts == 3) {
    char want[160];
    snprintf(want, sizeof want, "%s/tools", sub);
    CHECK_EQ_STR(c.scripts[0], want);
    snprintf(want, sizeof want, "%s/../shared", sub);
    CHECK_EQ_STR(c.scripts[1], want);
    CHECK_EQ_STR(c.scripts[2], "/abs/x");
  }
  mw_config_dispose(&c);

  unlink(path);
  rmdir(sub);
  rmdir(dir);
}

/* The fault-injection routes: off unless the environment says 1; a config
 * file cannot turn them on. */
TEST(test_routes_flag) {
  mw_config_t c;
  mw_config_init(&c);
  CHECK_EQ_INT(c.test_routes, 0);
  CHECK_EQ_INT(load(&c, ENV("MOONWIRE_TEST_ROUTES", "1"), NOARGS), 0);
  CHECK_EQ_INT(c.test_routes, 1);
  mw_config_dispose(&c);
  CHECK_EQ_INT(load_fresh(ENV("MOONWIRE_TEST_ROUTES", "2"), NOARGS), -EINVAL);
  CHECK(contains(err, "MOONWIRE_TEST_ROUTES: must be an integer in 0..1"));
  CHECK_EQ_INT(load_fresh(ENV("MOONWIRE_TEST_ROUTES", "yes"), NOARGS), -EINVAL);
  expect_file_error("test_routes = 1\n", ": unknown setting 'test_routes'");
  CHECK_EQ_INT(load_fresh(NOENV, ARGS("--help")), 1);
  CHECK(contains(out_text, "MOONWIRE_TEST_ROUTES"));
  CHECK(contains(out_text, "0..1, default 0"));
}

int main(void) {
  RUN(defaults);
  RUN(precedence);
  RUN(config_flag_beats_env);
  RUN(empty_env_is_unset);
  RUN(string_settings_from_env);
  RUN(int_range_edges);
  RUN(int_junk);
  RUN(int_error_names_source);
  RUN(port_flag_edges);
  RUN(log_level);
  RUN(host_must_not_be_empty);
  RUN(host_must_be_an_address);
  RUN(scripts);
  RUN(help);
  RUN(recheck);
  RUN(env_example_lists_every_variable);
  RUN(version);
  RUN(bad_arguments);
  RUN(file_values);
  RUN(file_errors);
  RUN(file_scripts_relative_to_file);
  RUN(test_routes_flag);
  return TEST_DONE();
}
