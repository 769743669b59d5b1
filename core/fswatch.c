/* Debounced directory watches; see fswatch.h. */
#include "fswatch.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

typedef struct {
  char *name; /* owned */
  bool renamed;
} pending_t;

struct mw_fswatch {
  uv_fs_event_t ev;
  uv_timer_t debounce;
  uint64_t debounce_ms;
  mw_fswatch_cb cb;
  void *ud;                                  /* borrowed, passed to cb */
  pending_t pending[MW_FSWATCH_MAX_PENDING]; /* names changed in this window */
  size_t npending;
  bool overflow; /* more names than fit in `pending` this window */
  bool stopped;
  int open_handles; /* freed when both handles closed */
};

static void clear_pending(pending_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    mw_free(p[i].name);
}

static void on_closed(uv_handle_t *h) {
  mw_fswatch_t *w = h->data;
  if (--w->open_handles == 0) {
    clear_pending(w->pending, w->npending);
    mw_free(w);
  }
}

static void on_debounced(uv_timer_t *t) {
  mw_fswatch_t *w = t->data;
  /* Take the window's names first: the callback may stop the watch, and a
   * change arriving meanwhile starts a new window. */
  size_t n = w->npending;
  bool overflow = w->overflow;
  pending_t *batch = mw_malloc((n ? n : 1) * sizeof *batch);
  memcpy(batch, w->pending, n * sizeof *batch);
  w->npending = 0;
  w->overflow = false;
  if (overflow)
    w->cb(w->ud, NULL, true);
  else
    for (size_t i = 0; i < n && !w->stopped; i++)
      w->cb(w->ud, batch[i].name, batch[i].renamed);
  clear_pending(batch, n);
  mw_free(batch);
}

static void note(mw_fswatch_t *w, const char *name, bool renamed) {
  for (size_t i = 0; i < w->npending; i++) {
    if (strcmp(w->pending[i].name, name) == 0) {
      w->pending[i].renamed = w->pending[i].renamed || renamed;
      return;
    }
  }
  if (w->npending == MW_FSWATCH_MAX_PENDING) {
    w->overflow = true;
    return;
  }
  w->pending[w->npending].name = mw_strdup(name);
  w->pending[w->npending].renamed = renamed;
  w->npending++;
}

static void on_event(uv_fs_event_t *ev, const char *filename, int events, int status) {
  mw_fswatch_t *w = ev->data;
  if (w->stopped) return;
  /* An error (inotify queue overflow) or an event without a name loses
   * detail: the owner must rescan. */
  if (status < 0 || !filename || !*filename)
    w->overflow = true;
  else if (!w->overflow)
    note(w, filename, (events & UV_RENAME) != 0);
  /* The window starts at the first event; later ones do not push it back, so
   * a file written continuously is still reported every debounce_ms. */
  if (!uv_is_active((uv_handle_t *)&w->debounce))
    uv_timer_start(&w->debounce, on_debounced, w->debounce_ms, 0);
}

int mw_fswatch_start(uv_loop_t *loop, const char *dir, uint64_t debounce_ms, mw_fswatch_cb cb,
                     void *ud, mw_fswatch_t **out) {
  /* uv_fs_event_start also watches plain files; a script asked for a directory. */
  struct stat st;
  if (stat(dir, &st) < 0) return -errno;
  if (!S_ISDIR(st.st_mode)) return UV_ENOTDIR;
  mw_fswatch_t *w = mw_calloc(1, sizeof *w);
  w->debounce_ms = debounce_ms;
  w->cb = cb;
  w->ud = ud;
  uv_fs_event_init(loop, &w->ev);
  w->ev.data = w;
  uv_timer_init(loop, &w->debounce);
  w->debounce.data = w;
  w->open_handles = 2;
  int rc = uv_fs_event_start(&w->ev, on_event, dir, 0);
  if (rc < 0) {
    w->stopped = true;
    uv_close((uv_handle_t *)&w->ev, on_closed);
    uv_close((uv_handle_t *)&w->debounce, on_closed);
    return rc;
  }
  *out = w;
  return 0;
}

void mw_fswatch_stop(mw_fswatch_t *w) {
  if (!w || w->stopped) return;
  w->stopped = true;
  uv_close((uv_handle_t *)&w->ev, on_closed);
  uv_close((uv_handle_t *)&w->debounce, on_closed);
}
