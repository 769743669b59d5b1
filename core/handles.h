/* Request handles: the values a Lua state holds for a connection it is
 * answering (or writing a plain stream to). A handle is a light userdata
 * naming a slot of this table and the serial the slot was bound with, so one
 * that outlives its request (a script kept it) finds the slot empty or bound
 * again under another serial, and refers to nothing. Before, a handle was a
 * userdata with a finalizer that unlinked it: making and collecting one cost
 * ~1.5k instructions a request. */
#ifndef MW_HANDLES_H
#define MW_HANDLES_H

#include <stdbool.h>
#include <stdint.h>

struct mw_conn;

typedef struct mw_handle_slot {
  struct mw_conn *conn; /* borrowed; NULL while free */
  uint64_t serial;      /* of the binding; 0 while free */
  uint32_t next_free;   /* index + 1 of the next free slot, 0 = none */
} mw_handle_slot_t;

typedef struct mw_handles {
  mw_handle_slot_t *slots; /* owned */
  uint32_t n, cap;         /* slots in use at least once, allocated */
  uint32_t free;           /* index + 1 of the first free slot, 0 = none */
  uint64_t serial;         /* the last serial handed out */
} mw_handles_t;

/* Binds a slot to c (c->lua_handle names it) and returns the handle value
 * for lua_pushlightuserdata. c must have no handle bound. */
void *mw_handles_bind(mw_handles_t *hs, struct mw_conn *c);
/* The connection a handle value is bound to, or NULL when it no longer is.
 * Returns false when `value` was never a handle (the caller raises). */
bool mw_handles_get(const mw_handles_t *hs, const void *value, struct mw_conn **conn);
/* Lets go of c's handle, if it has one: the value then refers to nothing. */
void mw_handles_unbind(mw_handles_t *hs, struct mw_conn *c);
void mw_handles_dispose(mw_handles_t *hs);

#endif
