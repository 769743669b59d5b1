/* moonwire: parse settings, run the server until a signal stops it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "config.h"
#include "log.h"
#include "server.h"

static const char *env(const char *name) {
  return getenv(name);
}

/* Each connection is a descriptor: raise the soft limit as far as the hard
 * one allows, and say so when MAX_CONNECTIONS cannot be reached. */
static void raise_fd_limit(const mw_config_t *cfg) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && cfg->max_connections + 64 > rl.rlim_cur) {
    char want[32], have[32];
    snprintf(want, sizeof want, "%u", cfg->max_connections);
    snprintf(have, sizeof have, "%llu", (unsigned long long)rl.rlim_cur);
    mw_log(MW_LOG_WARN, "MAX_CONNECTIONS exceeds the open-file limit; accepts will fail first", 2,
           "max_connections", want, "nofile", have);
  }
}

int main(int argc, char **argv) {
  mw_config_t cfg;
  char err[512];
  mw_config_init(&cfg);
  int rc = mw_config_load(&cfg, argc, argv, env, stdout, err, sizeof err);
  if (rc != 0) {
    if (rc < 0) fprintf(stderr, "moonwire: %s\n", err);
    mw_config_dispose(&cfg);
    return rc < 0 ? 2 : 0;
  }
  mw_log_set_level(cfg.log_level);
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit(&cfg);

  uv_loop_t loop;
  uv_loop_init(&loop);
  mw_server_t server;
  int exit_code = 0;
  if (mw_server_start(&server, &loop, &cfg) < 0) {
    exit_code = 1;
    mw_server_shutdown(&server);
    mw_server_shutdown(&server);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  mw_server_dispose(&server);
  if (uv_loop_close(&loop) != 0) mw_log(MW_LOG_WARN, "event loop closed with handles open", 0);
  mw_config_dispose(&cfg);
  if (exit_code == 0) mw_log(MW_LOG_INFO, "stopped", 0);
  return exit_code;
}
