/* Hot reload triggers: inotify watches (uv_fs_event) on every scripts
 * directory and its subdirectories, debounced so an editor's burst of writes
 * (write temp, rename, chmod) becomes one reload, plus SIGHUP. */
#ifndef MW_RELOAD_H
#define MW_RELOAD_H

#include "server.h"

/* An editor's save lands within a few ms; 50 ms of quiet coalesces it and
 * still leaves edit-to-serving under 100 ms (make bench, target 7). */
#define MW_RELOAD_DEBOUNCE_MS 50

/* Starts watching; returns an owned watcher (never NULL). Directories that
 * cannot be watched are logged and skipped. */
mw_reload_t *mw_reload_start(mw_server_t *s);

/* Also watches `dir` and its subdirectories (plugin paths, the config
 * file's directory). Missing directories are ignored. */
void mw_reload_watch(mw_reload_t *r, const char *dir);

/* Re-scans directories (a reload may have added some). */
void mw_reload_rescan(mw_reload_t *r);

/* Closes every handle; frees itself once they are closed. */
void mw_reload_stop(mw_reload_t *r);

#endif
