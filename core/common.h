/* Small helpers every module uses: allocation that aborts on out-of-memory
 * (core C never limps on after ENOMEM, like redis' zmalloc), intrusive lists,
 * and container_of. Only the Lua allocator may return NULL. */
#ifndef MW_COMMON_H
#define MW_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define MW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define mw_container_of(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

void *mw_malloc(size_t n);
void *mw_calloc(size_t count, size_t n);
void *mw_realloc(void *p, size_t n);
char *mw_strdup(const char *s);
char *mw_strndup(const char *s, size_t n);
void mw_free(void *p);

/* Circular doubly-linked intrusive list (the Linux/libuv QUEUE idea). An
 * unlinked node points at itself, so removal is always safe and idempotent. */
typedef struct mw_list {
  struct mw_list *next, *prev;
} mw_list_t;

static inline void mw_list_init(mw_list_t *l) {
  l->next = l->prev = l;
}
static inline bool mw_list_empty(const mw_list_t *l) {
  return l->next == l;
}
static inline void mw_list_remove(mw_list_t *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = n->prev = n;
}
static inline void mw_list_push_back(mw_list_t *head, mw_list_t *n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}
#define mw_list_foreach_safe(pos, tmp, head)                                                       \
  for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                                 \
       (pos) = (tmp), (tmp) = (pos)->next)

/* Growable byte string for building responses and metrics text. */
typedef struct mw_buf {
  char *data; /* owned; always NUL-terminated once anything was appended */
  size_t len, cap;
} mw_buf_t;

void mw_buf_append(mw_buf_t *b, const char *s, size_t n);
void mw_buf_puts(mw_buf_t *b, const char *s);
void mw_buf_printf(mw_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (who frees them with mw_free) and resets `b`. */
char *mw_buf_steal(mw_buf_t *b, size_t *len);
void mw_buf_dispose(mw_buf_t *b);

/* Name/value pair, both borrowed. */
typedef struct mw_kv {
  const char *name;
  const char *value;
} mw_kv_t;

/* Fills `buf` with cryptographically random bytes (getrandom). Aborts if the
 * kernel cannot provide them: session ids must never be predictable. */
void mw_random_bytes(void *buf, size_t len);

/* Writes `len` bytes as unpadded base64url into `out` (needs 4*len/3+2 bytes
 * with the NUL); returns the string length. */
size_t mw_base64url(const unsigned char *in, size_t len, char *out);

/* Parses a decimal uint64 from exactly [s, s+len); returns 0 or -EINVAL. */
int mw_parse_u64(const char *s, size_t len, uint64_t *out);

#endif
