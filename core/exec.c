/* Subprocess jobs; see exec.h. The job owns its process, three pipes and a
 * timer; it is freed when the last of those handles has closed. The child
 * leads a process group of its own, so a timeout or a cancel reaches whatever
 * it started as well (a shell's `sleep`, a background job). */
#include "exec.h"

#include <signal.h>
#include <string.h>

#include "common.h"

struct mw_exec {
  uv_process_t proc;
  uv_pipe_t in, out, err;
  uv_timer_t timer;
  uv_write_t wreq;
  char *stdin_data; /* owned copy, written once */
  mw_buf_t out_buf, err_buf;
  size_t max_output;
  int64_t status;
  int signal;
  int open_handles; /* handles not yet closed */
  int open_reads;   /* output pipes not at EOF */
  bool exited, timed_out, truncated, cancelled, done;
  mw_exec_cb cb;
  void *ud;
};

static void on_closed(uv_handle_t *h) {
  mw_exec_t *j = h->data;
  if (--j->open_handles > 0) return;
  mw_buf_dispose(&j->out_buf);
  mw_buf_dispose(&j->err_buf);
  mw_free(j->stdin_data);
  mw_free(j);
}

static void close_all(mw_exec_t *j) {
  uv_handle_t *hs[] = {(uv_handle_t *)&j->in, (uv_handle_t *)&j->out, (uv_handle_t *)&j->err,
                       (uv_handle_t *)&j->timer};
  for (size_t i = 0; i < MW_ARRAY_SIZE(hs); i++)
    if (!uv_is_closing(hs[i])) uv_close(hs[i], on_closed);
  /* libuv reaps only the children of open process handles: closed before the
   * exit, the child would stay a zombie. on_child_exit closes it then. */
  if (j->exited && !uv_is_closing((uv_handle_t *)&j->proc))
    uv_close((uv_handle_t *)&j->proc, on_closed);
}

/* SIGKILL to the child's process group (the child is its leader: see
 * UV_PROCESS_DETACHED below). Once the leader is reaped its pid still names
 * the group while members remain (Linux does not hand out a pid in use as a
 * group id). Processes that left the group (their own setsid) are out of
 * reach: after a timeout we stop waiting for them instead (maybe_done). */
static void kill_group(mw_exec_t *j) {
  if (j->proc.pid <= 0) return; /* kill(-0) would be our own group */
  if (uv_kill(-j->proc.pid, SIGKILL) < 0 && !j->exited) uv_process_kill(&j->proc, SIGKILL);
}

/* Done when the child has exited and closed its output, or, past the
 * timeout, as soon as it has exited: whatever still holds the pipes then
 * (a grandchild outside the group, or one still dying) is not waited for. */
static void maybe_done(mw_exec_t *j) {
  if (j->done || !j->exited || (j->open_reads > 0 && !j->timed_out)) return;
  j->done = true;
  if (!j->cancelled) {
    mw_exec_result_t r = {j->status,
                          j->signal,
                          j->out_buf.data ? j->out_buf.data : "",
                          j->out_buf.len,
                          j->err_buf.data ? j->err_buf.data : "",
                          j->err_buf.len,
                          j->timed_out,
                          j->truncated};
    j->cb(j->ud, &r);
  }
  close_all(j);
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig) {
  mw_exec_t *j = p->data;
  j->exited = true;
  j->status = status;
  j->signal = sig;
  if (j->done) { /* cancelled earlier: the handle stayed open only to reap it */
    uv_close((uv_handle_t *)p, on_closed);
    return;
  }
  /* The timer keeps running: a background grandchild may hold the output
   * open long after the child itself is gone. */
  maybe_done(j);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char scratch[16384]; /* consumed synchronously in on_read */
  buf->base = scratch;
  buf->len = sizeof scratch;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  mw_exec_t *j = s->data;
  mw_buf_t *b = s == (uv_stream_t *)&j->out ? &j->out_buf : &j->err_buf;
  if (n > 0) {
    size_t room = j->max_output > b->len ? j->max_output - b->len : 0;
    size_t take = (size_t)n < room ? (size_t)n : room;
    if (take) mw_buf_append(b, buf->base, take);
    if (take < (size_t)n) j->truncated = true;
    return;
  }
  if (n < 0) {
    uv_read_stop(s);
    j->open_reads--;
    maybe_done(j);
  }
}

static void on_written(uv_write_t *w, int status) {
  mw_exec_t *j = w->data;
  if (!uv_is_closing((uv_handle_t *)&j->in)) uv_close((uv_handle_t *)&j->in, on_closed);
}

static void on_timeout(uv_timer_t *t) {
  mw_exec_t *j = t->data;
  j->timed_out = true;
  kill_group(j);
  maybe_done(j); /* the child may have exited already, leaving its output open */
}

mw_exec_t *mw_exec_start(uv_loop_t *loop, char **argv, const char *stdin_data, size_t stdin_len,
                         uint64_t timeout_ms, size_t max_output, mw_exec_cb cb, void *ud,
                         int *err) {
  mw_exec_t *j = mw_calloc(1, sizeof *j);
  j->cb = cb;
  j->ud = ud;
  j->max_output = max_output;
  uv_pipe_init(loop, &j->in, 0);
  uv_pipe_init(loop, &j->out, 0);
  uv_pipe_init(loop, &j->err, 0);
  uv_timer_init(loop, &j->timer);
  j->in.data = j->out.data = j->err.data = j->timer.data = j->proc.data = j;
  j->open_handles = 4; /* the process handle counts once spawned */

  uv_stdio_container_t stdio[3] = {
      {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&j->in},
      {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->out},
      {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->err},
  };
  /* DETACHED makes the child call setsid(): it leads a new session and
   * process group, which kill_group() can signal as a whole. uv_spawn returns
   * only after the exec, so the group exists by then. */
  uv_process_options_t opts = {.exit_cb = on_child_exit,
                               .file = argv[0],
                               .args = argv,
                               .flags = UV_PROCESS_DETACHED,
                               .stdio_count = 3,
                               .stdio = stdio};
  int rc = uv_spawn(loop, &j->proc, &opts);
  if (rc < 0) {
    *err = rc;
    /* uv_spawn initialised the process handle even on failure; close it too
     * (there is no child to reap). */
    j->open_handles++;
    j->exited = j->done = j->cancelled = true;
    close_all(j);
    return NULL;
  }
  j->open_handles++;
  j->open_reads = 2;
  uv_read_start((uv_stream_t *)&j->out, on_alloc, on_read);
  uv_read_start((uv_stream_t *)&j->err, on_alloc, on_read);
  if (stdin_len) {
    j->stdin_data = mw_strndup(stdin_data, stdin_len);
    uv_buf_t b = uv_buf_init(j->stdin_data, (unsigned)stdin_len);
    j->wreq.data = j;
    if (uv_write(&j->wreq, (uv_stream_t *)&j->in, &b, 1, on_written) < 0)
      uv_close((uv_handle_t *)&j->in, on_closed);
  } else {
    uv_close((uv_handle_t *)&j->in, on_closed);
  }
  if (timeout_ms) uv_timer_start(&j->timer, on_timeout, timeout_ms, 0);
  return j;
}

void mw_exec_cancel(mw_exec_t *j) {
  if (!j || j->cancelled) return;
  j->cancelled = true;
  /* Also after the child exited: its background jobs may still run. */
  kill_group(j);
  if (!j->done) {
    j->done = true;
    close_all(j);
  }
}
