/* Tests for core/fswatch.c on a real libuv loop and a temporary directory:
 * one coalesced callback per name per window, create vs modify, overflow past
 * MW_FSWATCH_MAX_PENDING names, stopping from inside the callback, and the
 * errors of start. Waits are bounded by a watchdog; the only timing assumed
 * is that nothing more arrives in a quiet window after the expected calls. */
#include "mw_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "common.h"
#include "fswatch.h"

#define DEBOUNCE_MS 20
#define WATCHDOG_MS 2000
#define QUIET_MS 150
#define MAX_CALLS 64

typedef struct fx {
  uv_loop_t loop;
  uv_timer_t timer; /* watchdog, then the quiet window */
  char dir[64];
  mw_fswatch_t *w;
  int calls;
  char names[MAX_CALLS][64]; /* "" for an overflow */
  bool renamed[MAX_CALLS];
  int want;        /* stop the loop once this many calls arrived */
  bool stop_in_cb; /* the first callback stops the watch */
  bool timed_out;
} fx_t;

static void on_change(void *ud, const char *name, bool renamed) {
  fx_t *fx = ud;
  if (fx->calls < MAX_CALLS) {
    snprintf(fx->names[fx->calls], sizeof fx->names[0], "%s", name ? name : "");
    fx->renamed[fx->calls] = renamed;
  }
  fx->calls++;
  if (fx->stop_in_cb) {
    mw_fswatch_stop(fx->w);
    fx->w = NULL;
  }
  if (fx->calls >= fx->want) uv_stop(&fx->loop);
}

static void on_timer(uv_timer_t *t) {
  fx_t *fx = t->data;
  fx->timed_out = true;
  uv_stop(&fx->loop);
}

/* Runs the loop until `want` calls arrived (or the watchdog), then for a
 * quiet window in which nothing else may arrive. */
static void run_until(fx_t *fx, int want) {
  fx->want = want;
  fx->timed_out = false;
  uv_timer_start(&fx->timer, on_timer, WATCHDOG_MS, 0);
  if (fx->calls < want) uv_run(&fx->loop, UV_RUN_DEFAULT);
  CHECK(!fx->timed_out);
  fx->want = 1 << 30;
  uv_timer_start(&fx->timer, on_timer, QUIET_MS, 0);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
}

static void fx_init(fx_t *fx) {
  memset(fx, 0, sizeof *fx);
  uv_loop_init(&fx->loop);
  uv_timer_init(&fx->loop, &fx->timer);
  fx->timer.data = fx;
  snprintf(fx->dir, sizeof fx->dir, "/tmp/mw-fswatch-XXXXXX");
  CHECK(mkdtemp(fx->dir) != NULL);
  CHECK_EQ_INT(mw_fswatch_start(&fx->loop, fx->dir, DEBOUNCE_MS, on_change, fx, &fx->w), 0);
}

static void write_file(fx_t *fx, const char *name, const char *data, bool append) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", fx->dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
  CHECK(fd >= 0);
  CHECK_EQ_INT(write(fd, data, strlen(data)), (long long)strlen(data));
  close(fd);
}

static void fx_dispose(fx_t *fx) {
  mw_fswatch_stop(fx->w);
  uv_close((uv_handle_t *)&fx->timer, NULL);
  uv_run(&fx->loop, UV_RUN_DEFAULT); /* runs the close callbacks, freeing the watch */
  CHECK_EQ_INT(uv_loop_close(&fx->loop), 0);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
  CHECK_EQ_INT(system(cmd), 0);
}

TEST(create_then_modify_coalesced) {
  fx_t fx;
  fx_init(&fx);
  write_file(&fx, "a.txt", "1", false);
  write_file(&fx, "a.txt", "2", true);
  write_file(&fx, "a.txt", "3", true);
  run_until(&fx, 1);
  CHECK_EQ_INT(fx.calls, 1);
  CHECK_EQ_STR(fx.names[0], "a.txt");
  CHECK(fx.renamed[0]);
  write_file(&fx, "a.txt", "4", true);
  run_until(&fx, 2);
  CHECK_EQ_INT(fx.calls, 2);
  CHECK_EQ_STR(fx.names[1], "a.txt");
  CHECK(!fx.renamed[1]);
  char path[128];
  snprintf(path, sizeof path, "%s/a.txt", fx.dir);
  CHECK_EQ_INT(unlink(path), 0);
  run_until(&fx, 3);
  CHECK_EQ_INT(fx.calls, 3);
  CHECK(fx.renamed[2]);
  fx_dispose(&fx);
}

TEST(distinct_names_each_reported) {
  fx_t fx;
  fx_init(&fx);
  write_file(&fx, "x", "1", false);
  write_file(&fx, "y", "1", false);
  write_file(&fx, "x", "2", true);
  run_until(&fx, 2);
  CHECK_EQ_INT(fx.calls, 2);
  CHECK_EQ_STR(fx.names[0], "x");
  CHECK_EQ_STR(fx.names[1], "y");
  fx_dispose(&fx);
}

TEST(overflow_past_max_pending) {
  fx_t fx;
  fx_init(&fx);
  for (int i = 0; i < MW_FSWATCH_MAX_PENDING + 10; i++) {
    char name[32];
    snprintf(name, sizeof name, "f%d", i);
    write_file(&fx, name, "x", false);
  }
  run_until(&fx, 1);
  /* One window, or a few if the writes straddled windows; the last one
   * overflowed either way. */
  CHECK(fx.calls >= 1);
  bool overflowed = false;
  for (int i = 0; i < fx.calls && i < MAX_CALLS; i++)
    overflowed = overflowed || fx.names[i][0] == '\0';
  CHECK(overflowed || fx.calls > MW_FSWATCH_MAX_PENDING);
  fx_dispose(&fx);
}

TEST(stop_inside_callback) {
  fx_t fx;
  fx_init(&fx);
  fx.stop_in_cb = true;
  write_file(&fx, "b", "1", false);
  write_file(&fx, "c", "1", false);
  run_until(&fx, 1);
  CHECK_EQ_INT(fx.calls, 1); /* "c" was pending in the same window, never delivered */
  write_file(&fx, "d", "1", false);
  run_until(&fx, 1);
  CHECK_EQ_INT(fx.calls, 1);
  fx_dispose(&fx);
}

TEST(start_errors) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  mw_fswatch_t *w = NULL;
  CHECK_EQ_INT(mw_fswatch_start(&loop, "/nonexistent/mw-fswatch", 10, on_change, NULL, &w),
               UV_ENOENT);
  char file[] = "/tmp/mw-fswatch-file-XXXXXX";
  int fd = mkstemp(file);
  CHECK(fd >= 0);
  close(fd);
  CHECK_EQ_INT(mw_fswatch_start(&loop, file, 10, on_change, NULL, &w), UV_ENOTDIR);
  unlink(file);
  CHECK(w == NULL);
  mw_fswatch_stop(NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

int main(void) {
  RUN(create_then_modify_coalesced);
  RUN(distinct_names_each_reported);
  RUN(overflow_past_max_pending);
  RUN(stop_inside_callback);
  RUN(start_errors);
  return TEST_DONE();
}
