/* Timeout lists; see tlist.h. */
#include "tlist.h"

static void on_timer(uv_timer_t *t);

static void arm(mw_tlist_t *tl) {
  if (mw_list_empty(&tl->items)) {
    if (tl->armed_for) uv_timer_stop(&tl->timer);
    tl->armed_for = 0;
    return;
  }
  mw_tnode_t *head = mw_container_of(tl->items.next, mw_tnode_t, link);
  if (tl->armed_for == head->deadline_ms) return;
  uint64_t now = uv_now(tl->timer.loop);
  uv_timer_start(&tl->timer, on_timer, head->deadline_ms > now ? head->deadline_ms - now : 0, 0);
  tl->armed_for = head->deadline_ms;
}

static void on_timer(uv_timer_t *t) {
  mw_tlist_t *tl = t->data;
  uint64_t now = uv_now(t->loop);
  tl->armed_for = 0;
  /* Nodes touched by the callback get deadline now + timeout > now and land at
   * the tail, so this loop always ends. */
  while (!mw_list_empty(&tl->items)) {
    mw_tnode_t *head = mw_container_of(tl->items.next, mw_tnode_t, link);
    if (head->deadline_ms > now) break;
    mw_list_remove(&head->link);
    tl->on_expire(tl, head);
  }
  arm(tl);
}

int mw_tlist_init(uv_loop_t *loop, mw_tlist_t *tl, uint64_t timeout_ms, mw_tlist_cb cb,
                  void *data) {
  mw_list_init(&tl->items);
  tl->timeout_ms = timeout_ms;
  tl->armed_for = 0;
  tl->on_expire = cb;
  tl->data = data;
  int rc = uv_timer_init(loop, &tl->timer);
  tl->timer.data = tl;
  return rc;
}

void mw_tlist_dispose(mw_tlist_t *tl) {
  mw_list_t *pos, *tmp;
  mw_list_foreach_safe(pos, tmp, &tl->items) mw_list_remove(pos);
  uv_close((uv_handle_t *)&tl->timer, NULL);
}

void mw_tlist_touch(mw_tlist_t *tl, mw_tnode_t *node) {
  bool was_head = tl->items.next == &node->link;
  mw_list_remove(&node->link);
  node->deadline_ms = uv_now(tl->timer.loop) + tl->timeout_ms;
  mw_list_push_back(&tl->items, &node->link);
  /* Only a change of head moves the timer; appending never does. */
  if (was_head || tl->items.next == &node->link) arm(tl);
}

void mw_tlist_remove(mw_tnode_t *node) {
  /* The timer may stay armed for a removed head: the callback finds nothing
   * due and re-arms for the new head, which is cheaper than re-arming here. */
  mw_list_remove(&node->link);
}
