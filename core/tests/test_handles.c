/* Tests for core/handles.c: a bound handle finds its connection; once let go
 * it finds nothing, even after its slot is bound again for another request;
 * values that were never handles (json.null's NULL, slots never used) are
 * told apart from handles that no longer refer to anything. */
#include "mw_test.h"

#include <stdint.h>

#include "common.h"
#include "conn.h"
#include "handles.h"

TEST(bind_get_unbind) {
  mw_handles_t hs = {0};
  mw_conn_t *a = mw_calloc(1, sizeof *a), *b = mw_calloc(1, sizeof *b);
  mw_conn_t *got = NULL;
  void *ha = mw_handles_bind(&hs, a);
  CHECK(ha != NULL);
  CHECK(a->lua_handle != 0);
  CHECK(mw_handles_get(&hs, ha, &got) && got == a);
  mw_handles_unbind(&hs, a);
  CHECK_EQ_INT(a->lua_handle, 0);
  CHECK(mw_handles_get(&hs, ha, &got) && got == NULL); /* a handle, referring to nothing */
  mw_handles_unbind(&hs, a);                           /* twice: no effect */
  /* The slot is taken again by another request: the old value stays stale. */
  void *hb = mw_handles_bind(&hs, b);
  CHECK(hb != ha);
  CHECK_EQ_INT(b->lua_handle, 1);
  CHECK(mw_handles_get(&hs, ha, &got) && got == NULL);
  CHECK(mw_handles_get(&hs, hb, &got) && got == b);
  mw_handles_unbind(&hs, b);
  mw_handles_dispose(&hs);
  mw_free(a);
  mw_free(b);
}

TEST(not_handles) {
  mw_handles_t hs = {0};
  mw_conn_t *a = mw_calloc(1, sizeof *a);
  mw_conn_t *got = (mw_conn_t *)1;
  CHECK(!mw_handles_get(&hs, NULL, &got) && got == NULL); /* json.null */
  void *ha = mw_handles_bind(&hs, a);
  CHECK(!mw_handles_get(&hs, NULL, &got));
  CHECK(!mw_handles_get(&hs, (void *)(uintptr_t)((uintptr_t)ha + 1), &got)); /* a slot never used */
  CHECK(mw_handles_get(&hs, (void *)(uintptr_t)((uintptr_t)ha + ((uintptr_t)1 << 24)), &got) &&
        got == NULL); /* its slot, another serial */
  mw_handles_unbind(&hs, a);
  mw_handles_dispose(&hs);
  mw_free(a);
}

TEST(many) {
  enum { N = 5000 };
  mw_handles_t hs = {0};
  mw_conn_t *cs = mw_calloc(N, sizeof *cs);
  void **vs = mw_calloc(N, sizeof *vs);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < N; i++)
      vs[i] = mw_handles_bind(&hs, &cs[i]);
    int wrong = 0;
    for (int i = 0; i < N; i++) {
      mw_conn_t *got;
      if (!mw_handles_get(&hs, vs[i], &got) || got != &cs[i]) wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    for (int i = 0; i < N; i += 2)
      mw_handles_unbind(&hs, &cs[i]);
    for (int i = 1; i < N; i += 2)
      mw_handles_unbind(&hs, &cs[i]);
  }
  CHECK_EQ_INT(hs.n, N); /* freed slots were reused, never more than bound at once */
  mw_handles_dispose(&hs);
  mw_free(cs);
  mw_free(vs);
}

int main(void) {
  RUN(bind_get_unbind);
  RUN(not_handles);
  RUN(many);
  return TEST_DONE();
}
