/* Tests for core/tlist.c on a real libuv loop with short (30 ms) timeouts:
 * expiry order, touch moving a node to the back, removal, the self-re-touching
 * heartbeat pattern, many nodes on one timer, and moving nodes between lists.
 * Only ordering, counts and lower bounds in loop time are asserted (a libuv
 * timer never fires early), so the tests do not depend on machine speed. */
#include "mw_test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#include "common.h"
#include "tlist.h"

#define TIMEOUT_MS 30
#define MAX_ORDER 2048
#define WATCHDOG_MS 1500

/* ---- fixtures ---- */

typedef struct item {
  mw_tnode_t node;
  int id;
  int fires;
  uint64_t fired_at[8];       /* loop time of each expiry */
  int retouch_until;          /* heartbeat: re-touch itself until this many fires */
  struct item *remove_other;  /* removed from its list when this item expires */
  struct item *touch_other;   /* touched when this item expires */
  mw_tlist_t *touch_other_in; /* the list touch_other is touched into */
} item_t;

typedef struct fx {
  uv_loop_t loop;
  mw_tlist_t tl;
  uv_timer_t watchdog; /* unref'd: only stops a run that would otherwise hang */
  bool watchdog_fired;
  int order[MAX_ORDER]; /* ids in expiry order */
  int n;
  int early;        /* expiries seen before the node's deadline */
  int still_linked; /* expiries of a node that was not unlinked first */
  int long_calls;   /* expiries through the second list's callback */
  uint64_t start_ms;
} fx_t;

static void on_expire(mw_tlist_t *tl, mw_tnode_t *node) {
  item_t *it = mw_container_of(node, item_t, node);
  fx_t *fx = tl->data;
  uint64_t now = uv_now(&fx->loop);
  if (now < node->deadline_ms) fx->early++;
  if (mw_tnode_active(node)) fx->still_linked++;
  if (fx->n < MAX_ORDER) fx->order[fx->n] = it->id;
  fx->n++;
  if (it->fires < (int)MW_ARRAY_SIZE(it->fired_at)) it->fired_at[it->fires] = now;
  it->fires++;
  if (it->fires < it->retouch_until) mw_tlist_touch(tl, node);
  if (it->remove_other) mw_tlist_remove(&it->remove_other->node);
  if (it->touch_other) mw_tlist_touch(it->touch_other_in, &it->touch_other->node);
}

static void on_watchdog(uv_timer_t *t) {
  fx_t *fx = t->data;
  fx->watchdog_fired = true;
  uv_stop(&fx->loop);
}

static void fx_init(fx_t *fx) {
  memset(fx, 0, sizeof *fx);
  CHECK_EQ_INT(uv_loop_init(&fx->loop), 0);
  CHECK_EQ_INT(mw_tlist_init(&fx->loop, &fx->tl, TIMEOUT_MS, on_expire, fx), 0);
  CHECK(fx->tl.data == fx);
  uv_timer_init(&fx->loop, &fx->watchdog);
  fx->watchdog.data = fx;
  uv_timer_start(&fx->watchdog, on_watchdog, WATCHDOG_MS, 0);
  uv_unref((uv_handle_t *)&fx->watchdog);
  fx->start_ms = uv_now(&fx->loop);
}

static void item_init(item_t *it, int id) {
  memset(it, 0, sizeof *it);
  mw_tnode_init(&it->node);
  it->id = id;
}

/* Runs until no timer is pending; the loop must get there by itself. */
static void fx_run(fx_t *fx) {
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  CHECK(!fx->watchdog_fired);
}

/* Disposes the list, runs the closes, and checks nothing was left behind. */
static void fx_finish(fx_t *fx) {
  CHECK_EQ_INT(fx->early, 0);
  CHECK_EQ_INT(fx->still_linked, 0);
  mw_tlist_dispose(&fx->tl);
  uv_close((uv_handle_t *)&fx->watchdog, NULL);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&fx->loop), 0);
}

/* Advances loop time by at least 1 ms so the next touch gets a later deadline. */
static void tick(fx_t *fx) {
  uv_sleep(3);
  uv_update_time(&fx->loop);
}

/* A one-shot helper timer that touches or removes an item mid-wait. */
typedef struct poke {
  uv_timer_t timer;
  mw_tlist_t *tl;
  item_t *it;
  bool remove;
  uint64_t at_ms; /* loop time it ran */
} poke_t;

static void on_poke(uv_timer_t *t) {
  poke_t *p = mw_container_of(t, poke_t, timer);
  p->at_ms = uv_now(t->loop);
  if (p->remove)
    mw_tlist_remove(&p->it->node);
  else
    mw_tlist_touch(p->tl, &p->it->node);
}

static void poke_start(poke_t *p, fx_t *fx, mw_tlist_t *tl, item_t *it, bool remove,
                       uint64_t after_ms) {
  p->tl = tl;
  p->it = it;
  p->remove = remove;
  p->at_ms = 0;
  uv_timer_init(&fx->loop, &p->timer);
  uv_timer_start(&p->timer, on_poke, after_ms, 0);
}

static void poke_close(poke_t *p) {
  uv_close((uv_handle_t *)&p->timer, NULL);
}

static void count_handle(uv_handle_t *h, void *arg) {
  if (uv_is_active(h) && uv_has_ref(h)) (*(int *)arg)++;
}

/* ---- tests ---- */

TEST(expiry_order) {
  fx_t fx;
  fx_init(&fx);
  item_t it[3];
  for (int i = 0; i < 3; i++)
    item_init(&it[i], i);
  CHECK(!mw_tnode_active(&it[0].node));
  /* Touch order, not id order, decides; distinct deadlines. */
  mw_tlist_touch(&fx.tl, &it[2].node);
  tick(&fx);
  mw_tlist_touch(&fx.tl, &it[0].node);
  tick(&fx);
  mw_tlist_touch(&fx.tl, &it[1].node);
  for (int i = 0; i < 3; i++)
    CHECK(mw_tnode_active(&it[i].node));
  CHECK(it[2].node.deadline_ms < it[0].node.deadline_ms);
  CHECK(it[0].node.deadline_ms < it[1].node.deadline_ms);
  CHECK_EQ_INT(it[2].node.deadline_ms, fx.start_ms + TIMEOUT_MS);
  fx_run(&fx);
  CHECK_EQ_INT(fx.n, 3);
  CHECK_EQ_INT(fx.order[0], 2);
  CHECK_EQ_INT(fx.order[1], 0);
  CHECK_EQ_INT(fx.order[2], 1);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ_INT(it[i].fires, 1);
    CHECK(!mw_tnode_active(&it[i].node));
  }
  CHECK(it[2].fired_at[0] >= fx.start_ms + TIMEOUT_MS);
  fx_finish(&fx);
}

TEST(same_deadline_keeps_touch_order) {
  fx_t fx;
  fx_init(&fx);
  item_t it[5];
  for (int i = 0; i < 5; i++)
    item_init(&it[i], i);
  static const int touch[5] = {3, 1, 4, 0, 2};
  for (int i = 0; i < 5; i++)
    mw_tlist_touch(&fx.tl, &it[touch[i]].node);
  fx_run(&fx);
  CHECK_EQ_INT(fx.n, 5);
  for (int i = 0; i < 5 && i < fx.n; i++)
    CHECK_EQ_INT(fx.order[i], touch[i]);
  fx_finish(&fx);
}

TEST(touch_moves_to_back) {
  fx_t fx;
  fx_init(&fx);
  item_t it[3];
  for (int i = 0; i < 3; i++)
    item_init(&it[i], i);
  for (int i = 0; i < 3; i++)
    mw_tlist_touch(&fx.tl, &it[i].node);
  tick(&fx);
  mw_tlist_touch(&fx.tl, &it[0].node); /* the head goes to the back */
  CHECK(it[0].node.deadline_ms > it[2].node.deadline_ms);
  fx_run(&fx);
  CHECK_EQ_INT(fx.n, 3);
  CHECK_EQ_INT(fx.order[0], 1);
  CHECK_EQ_INT(fx.order[1], 2);
  CHECK_EQ_INT(fx.order[2], 0);
  CHECK_EQ_INT(it[0].fires, 1);
  fx_finish(&fx);
}

TEST(touch_postpones_while_armed) {
  /* The timer is armed for A; halfway through, A is touched again. B must
   * expire at its original time and A a full timeout after the touch. */
  fx_t fx;
  fx_init(&fx);
  item_t a, b;
  item_init(&a, 0);
  item_init(&b, 1);
  mw_tlist_touch(&fx.tl, &a.node);
  mw_tlist_touch(&fx.tl, &b.node);
  poke_t p;
  poke_start(&p, &fx, &fx.tl, &a, false, TIMEOUT_MS / 2);
  fx_run(&fx);
  CHECK(p.at_ms > 0);
  CHECK_EQ_INT(fx.n, 2);
  CHECK_EQ_INT(fx.order[0], 1);
  CHECK_EQ_INT(fx.order[1], 0);
  CHECK_EQ_INT(a.fires, 1);
  CHECK_EQ_INT(b.fires, 1);
  CHECK(a.fired_at[0] >= p.at_ms + TIMEOUT_MS);
  CHECK(b.fired_at[0] >= fx.start_ms + TIMEOUT_MS);
  poke_close(&p);
  fx_finish(&fx);
}

TEST(touch_postpones_only_node) {
  /* With a single node, re-touching it must move the timer later, not leave
   * it firing at the old deadline. */
  fx_t fx;
  fx_init(&fx);
  item_t a;
  item_init(&a, 0);
  mw_tlist_touch(&fx.tl, &a.node);
  poke_t p;
  poke_start(&p, &fx, &fx.tl, &a, false, TIMEOUT_MS / 2);
  fx_run(&fx);
  CHECK_EQ_INT(a.fires, 1);
  CHECK(p.at_ms > 0 && a.fired_at[0] >= p.at_ms + TIMEOUT_MS);
  poke_close(&p);
  fx_finish(&fx);
}

TEST(remove_prevents_expiry) {
  fx_t fx;
  fx_init(&fx);
  item_t it[4];
  for (int i = 0; i < 4; i++)
    item_init(&it[i], i);
  for (int i = 0; i < 4; i++)
    mw_tlist_touch(&fx.tl, &it[i].node);
  mw_tlist_remove(&it[1].node); /* middle */
  mw_tlist_remove(&it[0].node); /* head, with the timer armed for it */
  mw_tlist_remove(&it[3].node); /* tail */
  mw_tlist_remove(&it[3].node); /* twice is harmless */
  CHECK(!mw_tnode_active(&it[0].node));
  CHECK(mw_tnode_active(&it[2].node));
  fx_run(&fx);
  CHECK_EQ_INT(fx.n, 1);
  CHECK_EQ_INT(fx.order[0], 2);
  CHECK_EQ_INT(it[0].fires + it[1].fires + it[3].fires, 0);
  fx_finish(&fx);
}

TEST(remove_all_then_touch_later) {
  /* Removing every node mid-wait: nothing fires, the loop still ends; a node
   * touched afterwards gets a full timeout from its own touch. */
  fx_t fx;
  fx_init(&fx);
  item_t a, b;
  item_init(&a, 0);
  item_init(&b, 1);
  mw_tlist_touch(&fx.tl, &a.node);
  poke_t p1, p2;
  poke_start(&p1, &fx, &fx.tl, &a, true, 5);
  poke_start(&p2, &fx, &fx.tl, &b, false, TIMEOUT_MS + 10);
  fx_run(&fx);
  CHECK_EQ_INT(a.fires, 0);
  CHECK_EQ_INT(b.fires, 1);
  CHECK_EQ_INT(fx.n, 1);
  CHECK(p2.at_ms > 0 && b.fired_at[0] >= p2.at_ms + TIMEOUT_MS);
  poke_close(&p1);
  poke_close(&p2);
  fx_finish(&fx);
}

TEST(heartbeat_retouch) {
  /* A heartbeat re-touches itself from its callback; it must fire once per
   * interval (never twice in one timer run) and a one-shot beside it once. */
  fx_t fx;
  fx_init(&fx);
  item_t hb, once;
  item_init(&hb, 0);
  item_init(&once, 1);
  hb.retouch_until = 5;
  mw_tlist_touch(&fx.tl, &hb.node);
  mw_tlist_touch(&fx.tl, &once.node);
  fx_run(&fx);
  CHECK_EQ_INT(hb.fires, 5);
  CHECK_EQ_INT(once.fires, 1);
  CHECK_EQ_INT(fx.n, 6);
  CHECK_EQ_INT(fx.order[0], 0);
  CHECK_EQ_INT(fx.order[1], 1);
  for (int i = 1; i < 5; i++)
    CHECK(hb.fired_at[i] >= hb.fired_at[i - 1] + TIMEOUT_MS);
  CHECK(!mw_tnode_active(&hb.node));
  fx_finish(&fx);
}

TEST(many_nodes_one_timer) {
  enum { N = 1000 };
  fx_t fx;
  fx_init(&fx);
  item_t *it = mw_calloc(N, sizeof *it);
  for (int i = 0; i < N; i++)
    item_init(&it[i], i);
  for (int i = 0; i < N; i++) {
    if (i == N / 2) tick(&fx); /* two deadline groups */
    mw_tlist_touch(&fx.tl, &it[i].node);
  }
  for (int i = 0; i < N; i += 3)
    mw_tlist_remove(&it[i].node);
  /* One active handle for the whole list (the watchdog is unref'd). */
  int active = 0;
  uv_walk(&fx.loop, count_handle, &active);
  CHECK_EQ_INT(active, 1);
  fx_run(&fx);
  int want = 0, in_order = 1;
  for (int i = 0; i < N; i++) {
    if (i % 3 == 0) {
      CHECK_EQ_INT(it[i].fires, 0);
      continue;
    }
    if (want >= fx.n || fx.order[want] != i) in_order = 0;
    want++;
    if (it[i].fires != 1) CHECK_EQ_INT(it[i].fires, 1);
  }
  CHECK_EQ_INT(fx.n, want);
  CHECK(in_order);
  mw_free(it);
  fx_finish(&fx);
}

TEST(callback_removes_and_touches_others) {
  /* All four are due together. A's callback removes B (due, not yet run) and
   * touches C (postponing it a full timeout); D runs as usual. */
  fx_t fx;
  fx_init(&fx);
  item_t it[4];
  for (int i = 0; i < 4; i++)
    item_init(&it[i], i);
  it[0].remove_other = &it[1];
  it[0].touch_other = &it[2];
  it[0].touch_other_in = &fx.tl;
  for (int i = 0; i < 4; i++)
    mw_tlist_touch(&fx.tl, &it[i].node);
  fx_run(&fx);
  CHECK_EQ_INT(fx.n, 3);
  CHECK_EQ_INT(fx.order[0], 0);
  CHECK_EQ_INT(fx.order[1], 3);
  CHECK_EQ_INT(fx.order[2], 2);
  CHECK_EQ_INT(it[1].fires, 0);
  CHECK_EQ_INT(it[2].fires, 1);
  CHECK(it[2].fired_at[0] >= it[0].fired_at[0] + TIMEOUT_MS);
  fx_finish(&fx);
}

static void on_expire_long(mw_tlist_t *tl, mw_tnode_t *node) {
  fx_t *fx = tl->data;
  item_t *it = mw_container_of(node, item_t, node);
  if (uv_now(&fx->loop) < node->deadline_ms) fx->early++;
  it->fires++;
  it->fired_at[0] = uv_now(&fx->loop);
  fx->long_calls++;
}

TEST(touch_moves_between_lists) {
  /* A node touched into another list leaves the first: only the second list's
   * callback and timeout apply. */
  fx_t fx;
  fx_init(&fx);
  mw_tlist_t longer;
  CHECK_EQ_INT(mw_tlist_init(&fx.loop, &longer, 2 * TIMEOUT_MS, on_expire_long, &fx), 0);
  item_t a, b;
  item_init(&a, 0);
  item_init(&b, 1);
  mw_tlist_touch(&fx.tl, &a.node);
  mw_tlist_touch(&fx.tl, &b.node);
  uint64_t moved_at = uv_now(&fx.loop);
  mw_tlist_touch(&longer, &a.node);
  CHECK_EQ_INT(a.node.deadline_ms, moved_at + 2 * TIMEOUT_MS);
  fx_run(&fx);
  CHECK_EQ_INT(fx.n, 1); /* only b, through the short list */
  CHECK_EQ_INT(fx.order[0], 1);
  CHECK_EQ_INT(a.fires, 1);
  CHECK_EQ_INT(fx.long_calls, 1);
  CHECK(a.fired_at[0] >= moved_at + 2 * TIMEOUT_MS);
  mw_tlist_dispose(&longer);
  fx_finish(&fx);
}

TEST(dispose_with_pending_nodes) {
  /* Disposing a list with nodes in it unlinks them and nothing fires. */
  fx_t fx;
  fx_init(&fx);
  item_t it[3];
  for (int i = 0; i < 3; i++) {
    item_init(&it[i], i);
    mw_tlist_touch(&fx.tl, &it[i].node);
  }
  fx_finish(&fx);
  CHECK_EQ_INT(fx.n, 0);
  for (int i = 0; i < 3; i++)
    CHECK(!mw_tnode_active(&it[i].node));
}

int main(void) {
  uint64_t t0 = uv_hrtime();
  RUN(expiry_order);
  RUN(same_deadline_keeps_touch_order);
  RUN(touch_moves_to_back);
  RUN(touch_postpones_while_armed);
  RUN(touch_postpones_only_node);
  RUN(remove_prevents_expiry);
  RUN(remove_all_then_touch_later);
  RUN(heartbeat_retouch);
  RUN(many_nodes_one_timer);
  RUN(callback_removes_and_touches_others);
  RUN(touch_moves_between_lists);
  RUN(dispose_with_pending_nodes);
  printf("%.0f ms\n", (double)(uv_hrtime() - t0) / 1e6);
  return TEST_DONE();
}
