/* A frame is bytes ready for the socket, shared by reference: an event bound
 * for 10,000 streams is formatted once and every connection's write queue and
 * every replay log holds a reference to the same frame.
 *
 * Frames carry their HTTP/1.1 chunked-transfer envelope ("<hex>\r\n" before,
 * "\r\n" after) so chunked connections write `data[0..len)` untouched, while
 * close-delimited (HTTP/1.0) connections write only the payload slice. */
#ifndef MW_FRAME_H
#define MW_FRAME_H

#include <stddef.h>
#include <stdint.h>

typedef struct mw_frame {
  uint32_t refs;    /* 0 marks a static frame that is never freed */
  uint32_t len;     /* bytes in data[], envelope included */
  uint8_t body_off; /* payload starts here (after the chunk-size line) */
  char data[];
} mw_frame_t;

#define MW_FRAME_MAX_PAYLOAD (64u * 1024 * 1024)

/* Allocates a frame with room for `payload_len` payload bytes and writes its
 * envelope; the caller fills mw_frame_payload(). The caller owns one reference. */
mw_frame_t *mw_frame_new(size_t payload_len);

static inline char *mw_frame_payload(mw_frame_t *f) {
  return f->data + f->body_off;
}
static inline size_t mw_frame_payload_len(const mw_frame_t *f) {
  return f->len - f->body_off - 2;
}

/* Copies `payload` into a new frame. The caller owns one reference. */
mw_frame_t *mw_frame_from(const char *payload, size_t len);

mw_frame_t *mw_frame_ref(mw_frame_t *f);
/* Drops a reference; frees at zero. NULL and static frames are ignored. */
void mw_frame_unref(mw_frame_t *f);

#endif
