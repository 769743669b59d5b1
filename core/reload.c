/* File watching for hot reload; see reload.h. */
#include "reload.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "script.h"

#include <stdio.h>
#include <stdlib.h>

#define MW_RELOAD_MAX_DIRS 256

typedef struct watch {
  uv_fs_event_t ev;
  struct mw_reload *owner;
  mw_list_t link;
} watch_t;

struct mw_reload {
  mw_server_t *server; /* borrowed */
  uv_timer_t debounce;
  mw_list_t watches; /* watch_t */
  size_t nwatches;
  int open_handles; /* closes still pending, to free ourselves last */
  bool stopping;
};

static void maybe_free(mw_reload_t *r) {
  if (r->stopping && r->open_handles == 0) mw_free(r);
}

static void on_handle_closed(uv_handle_t *h) {
  mw_reload_t *r = h->data;
  if (h->type == UV_FS_EVENT) mw_free(mw_container_of((uv_fs_event_t *)h, watch_t, ev));
  r->open_handles--;
  maybe_free(r);
}

static void on_debounced(uv_timer_t *t) {
  mw_reload_t *r = t->data;
  if (mw_server_reload(r->server, "file change") == 0) mw_reload_rescan(r);
}

static void on_change(uv_fs_event_t *ev, const char *filename, int events, int status) {
  mw_reload_t *r = ((watch_t *)mw_container_of(ev, watch_t, ev))->owner;
  if (r->stopping) return;
  /* Editors' swap and backup files must not trigger reloads. */
  if (filename && (filename[0] == '.' || filename[strlen(filename) - 1] == '~')) return;
  uv_timer_start(&r->debounce, on_debounced, MW_RELOAD_DEBOUNCE_MS, 0);
}

static bool watched(mw_reload_t *r, const char *path) {
  mw_list_t *pos, *tmp;
  mw_list_foreach_safe(pos, tmp, &r->watches) {
    watch_t *w = mw_container_of(pos, watch_t, link);
    char buf[4096];
    size_t n = sizeof buf;
    if (uv_fs_event_getpath(&w->ev, buf, &n) == 0 && strcmp(buf, path) == 0) return true;
  }
  return false;
}

static void watch_tree(mw_reload_t *r, const char *dir, int depth) {
  if (r->nwatches >= MW_RELOAD_MAX_DIRS || depth > 8) return;
  if (!watched(r, dir)) {
    watch_t *w = mw_calloc(1, sizeof *w);
    w->owner = r;
    uv_fs_event_init(r->server->loop, &w->ev);
    w->ev.data = r;
    r->open_handles++;
    int rc = uv_fs_event_start(&w->ev, on_change, dir, 0);
    if (rc < 0) {
      /* A missing directory is the loader's error to report (it names it). */
      if (rc != UV_ENOENT)
        mw_log(MW_LOG_WARN, "cannot watch directory; edits there will not hot-reload", 2, "dir",
               dir, "error", uv_strerror(rc));
      uv_close((uv_handle_t *)&w->ev, on_handle_closed);
      return;
    }
    mw_list_push_back(&r->watches, &w->link);
    r->nwatches++;
  }
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || strcmp(e->d_name, "node_modules") == 0) continue;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) watch_tree(r, sub, depth + 1);
  }
  closedir(d);
}

void mw_reload_watch(mw_reload_t *r, const char *dir) {
  struct stat st;
  if (r && !r->stopping && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) watch_tree(r, dir, 0);
}

void mw_reload_rescan(mw_reload_t *r) {
  const mw_config_t *cfg = r->server->config;
  for (size_t i = 0; i < cfg->nscripts; i++)
    watch_tree(r, cfg->scripts[i], 0);
  watch_tree(r, mw_gen_lua_dir(), 0);
  /* The bundled plugins sit next to the framework (lua/../plugins). */
  char plugins[4200];
  snprintf(plugins, sizeof plugins, "%s/../plugins", mw_gen_lua_dir());
  if (access(plugins, R_OK) == 0) watch_tree(r, plugins, 0);
}

mw_reload_t *mw_reload_start(mw_server_t *s) {
  mw_reload_t *r = mw_calloc(1, sizeof *r);
  r->server = s;
  mw_list_init(&r->watches);
  uv_timer_init(s->loop, &r->debounce);
  r->debounce.data = r;
  r->open_handles = 1;
  mw_reload_rescan(r);
  return r;
}

void mw_reload_stop(mw_reload_t *r) {
  if (!r) return;
  r->stopping = true;
  mw_list_t *pos, *tmp;
  mw_list_foreach_safe(pos, tmp, &r->watches) {
    watch_t *w = mw_container_of(pos, watch_t, link);
    mw_list_remove(&w->link);
    uv_close((uv_handle_t *)&w->ev, on_handle_closed);
  }
  uv_close((uv_handle_t *)&r->debounce, on_handle_closed);
}
