/* Server settings: defaults, then the config file (--config, a Lua file of
 * `key = value` assignments), then environment variables, then command-line
 * flags, each overriding the one before. Every value is range-checked; an
 * invalid one is an error naming the setting and its accepted range, never a
 * silent fallback. */
#ifndef MW_CONFIG_H
#define MW_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "log.h"

typedef struct mw_config {
  char *host;     /* owned; HOST, default "127.0.0.1" */
  int port;       /* PORT, 0..65535 (0 = ephemeral), default 3001 */
  char **scripts; /* owned array of owned paths; --scripts (repeatable) or
                     MOONWIRE_SCRIPTS (':'-separated) or `scripts = {…}` */
  size_t nscripts;
  char *config_file;             /* owned; --config path or NULL */
  mw_log_level_t log_level;      /* LOG_LEVEL / --log-level: debug|info|warn|error, default info */
  uint32_t heartbeat_interval_s; /* SSE_HEARTBEAT_INTERVAL, 1..3600, default 15 */
  uint32_t connection_timeout_s; /* SSE_CONNECTION_TIMEOUT, 1..86400, default 90 */
  uint32_t buffer_size;          /* SSE_BUFFER_SIZE, 1..1000000 events, default 1000 */
  size_t buffer_bytes;           /* SSE_BUFFER_BYTES, 1024..1073741824, default 1048576 */
  uint32_t buffer_ttl_s;         /* SSE_BUFFER_TTL, 1..86400, default 300 */
  uint32_t retry_ms;          /* SSE_RETRY_MS: `retry:` sent to clients, 0..3600000, default 1000 */
  uint32_t max_connections;   /* MAX_CONNECTIONS, 1..1000000, default 10000 */
  size_t max_body_bytes;      /* MAX_BODY_BYTES, 1..1073741824, default 4194304 */
  size_t max_pending_bytes;   /* MAX_PENDING_BYTES: unsent bytes per connection before it
                                 counts as a slow consumer, 4096..1073741824, default 1048576 */
  uint32_t header_timeout_ms; /* HEADER_TIMEOUT_MS, 100..600000, default 10000 */
  uint32_t body_timeout_ms;   /* BODY_TIMEOUT_MS: head to body done, 100..600000, default 60000 */
  uint32_t keepalive_timeout_s; /* KEEPALIVE_TIMEOUT, 1..3600, default 75 */
  uint32_t shutdown_timeout_s;  /* SHUTDOWN_TIMEOUT, 0..600, default 10 */
  uint32_t handler_timeout_ms;  /* HANDLER_TIMEOUT_MS, 10..86400000, default 30000 */
  uint32_t lua_memory_mb;       /* LUA_MEMORY_MB, 8..1048576, default 512 */
  uint32_t shared_memory_mb;    /* SHARED_MEMORY_MB: cap of mw.shared, 1..1048576, default 64 */
  char *cors_allow_origins;     /* owned; CORS_ALLOW_ORIGINS, comma list or "*", default "*" */
  char *allowed_hosts;          /* owned; ALLOWED_HOSTS, comma list, NULL = default rule
                                   (loopback bind: only local hosts; other binds: any) */
  char *allowed_origins;        /* owned; ALLOWED_ORIGINS, same rule as allowed_hosts */
  uint32_t test_routes;         /* MOONWIRE_TEST_ROUTES, 0..1, default 0: the /_test/ fault
                                   routes (lua/moonwire/testroutes.lua) and core.test_fault */
  /* What mw_config_load read, kept for mw_config_recheck: argv is borrowed (main's). */
  int argc;
  char **argv;
  const char *(*getenv_fn)(const char *name);
} mw_config_t;

/* Looks up an environment variable; tests pass a fake, main passes getenv. */
typedef const char *(*mw_config_getenv_fn)(const char *name);

void mw_config_init(mw_config_t *c); /* fills defaults */
void mw_config_dispose(mw_config_t *c);

/* Applies the config file, environment and argv (argv[0] is the program name)
 * over the current values. Returns 0 to run, 1 when --help or --version was
 * handled (text written to `out`; exit 0), or -EINVAL with a one-line message
 * in `err` such as "SSE_HEARTBEAT_INTERVAL: must be an integer in 1..3600 (got
 * \"0\")". */
int mw_config_load(mw_config_t *c, int argc, char **argv, mw_config_getenv_fn getenv_fn, FILE *out,
                   char *err, size_t errlen);

/* For a reload: loads the settings again from the sources `c` came from (the
 * config file as it is now, the same environment and flags). Returns -EINVAL
 * with the message in `err` when they no longer load (a typo that a restart
 * would refuse); else 0, with the settings whose value changed named in
 * `changed` (", "-separated, "" when none): those take a restart to apply. */
int mw_config_recheck(const mw_config_t *c, char *changed, size_t changed_len, char *err,
                      size_t errlen);

/* The address HOST names, with `port`: an IPv4 or IPv6 literal, or localhost
 * as 127.0.0.1 (names are not resolved). Returns 0, or a negative libuv error
 * for anything else. Used to check the setting and to bind it. */
int mw_config_host_addr(const char *host, int port, struct sockaddr_storage *out);

void mw_config_usage(FILE *out);

#endif
