/* See handles.h. A value is (serial << SLOT_BITS) | (slot index + 1): never
 * 0, which is json.null's light userdata. */
#include "handles.h"

#include "common.h"
#include "conn.h"

#define SLOT_BITS 24 /* up to 16M handles bound at once; serials then last 2^40 binds */
#define SLOT_MASK ((1u << SLOT_BITS) - 1)

void *mw_handles_bind(mw_handles_t *hs, mw_conn_t *c) {
  uint32_t i;
  if (hs->free) {
    i = hs->free - 1;
    hs->free = hs->slots[i].next_free;
  } else {
    /* At most one slot per connection: the open-files limit keeps n far
     * below SLOT_MASK. */
    if (hs->n == hs->cap) {
      hs->cap = hs->cap ? hs->cap * 2 : 64;
      hs->slots = mw_realloc(hs->slots, hs->cap * sizeof *hs->slots);
    }
    i = hs->n++;
  }
  mw_handle_slot_t *s = &hs->slots[i];
  s->conn = c;
  s->serial = ++hs->serial;
  s->next_free = 0;
  c->lua_handle = i + 1;
  return (void *)(uintptr_t)(s->serial << SLOT_BITS | (i + 1));
}

bool mw_handles_get(const mw_handles_t *hs, const void *value, mw_conn_t **conn) {
  uintptr_t v = (uintptr_t)value;
  uint32_t slot = (uint32_t)(v & SLOT_MASK);
  *conn = NULL;
  if (slot == 0 || slot > hs->n) return false;
  const mw_handle_slot_t *s = &hs->slots[slot - 1];
  if (s->serial == (uint64_t)(v >> SLOT_BITS)) *conn = s->conn;
  return true;
}

void mw_handles_unbind(mw_handles_t *hs, mw_conn_t *c) {
  if (!c->lua_handle) return;
  uint32_t i = c->lua_handle - 1;
  c->lua_handle = 0;
  hs->slots[i] = (mw_handle_slot_t){.next_free = hs->free};
  hs->free = i + 1;
}

void mw_handles_dispose(mw_handles_t *hs) {
  mw_free(hs->slots);
  *hs = (mw_handles_t){0};
}
