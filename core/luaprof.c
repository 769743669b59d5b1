/* See luaprof.h. A small open-addressing table keyed by the function's source
 * string (its address, stable while the function lives) and first line. */
#include "luaprof.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

typedef struct {
  const char *source; /* the key: Lua's own string, compared by address */
  int line;           /* linedefined */
  char *name;         /* owned copy of short_src:line, for the report */
  uint64_t count;
} prof_slot_t;

static int enabled = -1; /* -1: not read yet */
static const char *out_path;
static prof_slot_t *slots; /* owned; capacity is a power of two */
static size_t cap, used;
static uint64_t total;

static void dump(void);

bool mw_luaprof_enabled(void) {
  if (enabled < 0) {
    out_path = getenv("MOONWIRE_LUA_PROFILE");
    enabled = out_path && *out_path;
    if (enabled) atexit(dump);
  }
  return enabled;
}

static size_t slot_of(const char *source, int line) {
  uintptr_t h = (uintptr_t)source * 31 + (uintptr_t)line;
  h ^= h >> 17;
  size_t i = (size_t)(h * 0x9e3779b97f4a7c15ull) & (cap - 1);
  while (slots[i].source && (slots[i].source != source || slots[i].line != line))
    i = (i + 1) & (cap - 1);
  return i;
}

static void grow(void) {
  prof_slot_t *old = slots;
  size_t old_cap = cap;
  cap = cap ? cap * 2 : 1024;
  slots = mw_calloc(cap, sizeof *slots);
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].source) slots[slot_of(old[i].source, old[i].line)] = old[i];
  mw_free(old);
}

void mw_luaprof_count(lua_State *L, lua_Debug *ar) {
  if (!lua_getinfo(L, "S", ar)) return;
  total++;
  if ((used + 1) * 2 > cap) grow();
  size_t i = slot_of(ar->source, ar->linedefined);
  if (!slots[i].source) {
    char name[LUA_IDSIZE + 16];
    snprintf(name, sizeof name, "%s:%d", ar->short_src, ar->linedefined);
    slots[i].source = ar->source;
    slots[i].line = ar->linedefined;
    slots[i].name = mw_strdup(name);
    used++;
  }
  slots[i].count++;
}

static int by_count(const void *a, const void *b) {
  const prof_slot_t *x = a, *y = b;
  return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static void dump(void) {
  FILE *f = fopen(out_path, "w");
  if (!f) return;
  qsort(slots, cap, sizeof *slots, by_count);
  fprintf(f, "%llu VM instructions\n", (unsigned long long)total);
  for (size_t i = 0; i < cap && slots[i].source; i++)
    fprintf(f, "%12llu %5.1f%% %s\n", (unsigned long long)slots[i].count,
            100.0 * (double)slots[i].count / (double)total, slots[i].name);
  fclose(f);
}
