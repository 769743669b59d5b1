/* Subprocesses on uv_spawn for scripts (mw.exec): argv only (no shell),
 * optional stdin, captured stdout/stderr bounded by max_output, and a
 * timeout after which the child's process group is killed. Never blocks the
 * loop. */
#ifndef MW_EXEC_H
#define MW_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct mw_exec mw_exec_t;

typedef struct mw_exec_result {
  int64_t status;  /* exit status (valid when signal == 0) */
  int signal;      /* terminating signal, 0 if it exited */
  const char *out; /* captured stdout (borrowed for the callback's duration) */
  size_t out_len;
  const char *err; /* captured stderr */
  size_t err_len;
  bool timed_out; /* timeout_ms passed first: the group was killed, output cut short */
  bool truncated; /* output beyond max_output was discarded */
} mw_exec_result_t;

typedef void (*mw_exec_cb)(void *ud, const mw_exec_result_t *r);

/* Starts argv[0] (looked up in PATH) with argv, as the leader of a new
 * session and process group. `stdin_data` (may be NULL) is copied and written
 * to the child's stdin, which is then closed. `cb` runs once, after the child
 * exited and its output pipes closed (whoever held them), or, once
 * `timeout_ms` (0: none) passed, right after SIGKILL to the group ended the
 * child, whoever still holds the pipes. Returns the job, or NULL with a libuv
 * error in *err (no callback then). */
mw_exec_t *mw_exec_start(uv_loop_t *loop, char **argv, const char *stdin_data, size_t stdin_len,
                         uint64_t timeout_ms, size_t max_output, mw_exec_cb cb, void *ud, int *err);

/* Kills the child's process group (background jobs it left included) and
 * frees the job without calling back (the owner went away). Not to be called
 * after the callback ran: the job is gone then. The job lingers only until
 * the child is reaped. */
void mw_exec_cancel(mw_exec_t *job);

#endif
