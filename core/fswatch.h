/* Directory watches for scripts (mw.watch), distinct from the hot-reload
 * watches of reload.c: one uv_fs_event (inotify on Linux) per directory, not
 * recursive. Events are coalesced per file name over a debounce window, so an
 * editor's write-rename-chmod burst reaches the script as one change. */
#ifndef MW_FSWATCH_H
#define MW_FSWATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Distinct names remembered per debounce window; past it the window reports
 * one overflow (name NULL) instead, and the owner rescans the directory. */
#define MW_FSWATCH_MAX_PENDING 256

typedef struct mw_fswatch mw_fswatch_t;

/* Called once per changed name after the window closed. `name` is the entry's
 * name inside the directory (borrowed for the call), or NULL for an overflow.
 * `renamed` is true when the entry appeared, disappeared or was renamed during
 * the window (inotify create/delete/move), false for content or attribute
 * changes only. The callback may stop the watch. */
typedef void (*mw_fswatch_cb)(void *ud, const char *name, bool renamed);

/* Watches directory `dir` (copied). Returns 0 and an owned watch in *out, or
 * a negative libuv error (-ENOENT, -ENOTDIR, -ENOSPC when the inotify watch
 * limit is reached, …) with *out untouched. */
int mw_fswatch_start(uv_loop_t *loop, const char *dir, uint64_t debounce_ms, mw_fswatch_cb cb,
                     void *ud, mw_fswatch_t **out);

/* Stops the watch: no callback runs after this returns (also when called from
 * inside the callback). Memory is freed once libuv closed the handles.
 * Accepts NULL. */
void mw_fswatch_stop(mw_fswatch_t *w);

#endif
