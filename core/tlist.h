/* Timeout lists: every item of a list has the same timeout, so appending at the
 * tail keeps the list sorted by deadline and one uv_timer_t, armed for the head,
 * serves any number of items. Touching an item is O(1). This is how heartbeats
 * (19,000 streams, one timer), header/idle timeouts and session expiry work. */
#ifndef MW_TLIST_H
#define MW_TLIST_H

#include <uv.h>

#include "common.h"

typedef struct mw_tnode {
  mw_list_t link;       /* unlinked (self-pointing) when in no list */
  uint64_t deadline_ms; /* loop time at which the item expires */
} mw_tnode_t;

struct mw_tlist;
/* Called for an expired node, already unlinked; it may touch it again (e.g. a
 * heartbeat re-arms itself), remove or free any node. */
typedef void (*mw_tlist_cb)(struct mw_tlist *tl, mw_tnode_t *node);

typedef struct mw_tlist {
  mw_list_t items;
  uv_timer_t timer;
  uint64_t timeout_ms;
  uint64_t armed_for; /* deadline the timer is set for, 0 = stopped */
  mw_tlist_cb on_expire;
  void *data; /* owner's pointer */
} mw_tlist_t;

/* Initialises the list and its timer on `loop`. Returns 0 or a libuv error. */
int mw_tlist_init(uv_loop_t *loop, mw_tlist_t *tl, uint64_t timeout_ms, mw_tlist_cb cb, void *data);
/* Closes the timer; `tl` must stay valid until the loop has run the close. */
void mw_tlist_dispose(mw_tlist_t *tl);

static inline void mw_tnode_init(mw_tnode_t *n) {
  mw_list_init(&n->link);
  n->deadline_ms = 0;
}
static inline bool mw_tnode_active(const mw_tnode_t *n) {
  return !mw_list_empty(&n->link);
}

/* (Re)starts `node`'s timeout from now, moving it to `tl` (from whatever list
 * it was in). */
void mw_tlist_touch(mw_tlist_t *tl, mw_tnode_t *node);
/* Takes `node` out of its list; safe on an inactive node. */
void mw_tlist_remove(mw_tnode_t *node);

#endif
