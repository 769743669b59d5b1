/* Server-Sent Events framing (WHATWG HTML §9.2): turns one event into a frame
 * of `id:`/`event:`/`data:`/`retry:` lines, once, for any number of streams. */
#ifndef MW_SSE_H
#define MW_SSE_H

#include <stddef.h>

#include "frame.h"

typedef struct mw_sse_event {
  const char *id;    /* NULL = no id line; CR/LF/NUL are stripped (they would end the field) */
  const char *event; /* NULL = default "message" type; CR/LF are stripped */
  const char *data;  /* may be NULL; split into one `data:` line per line (CRLF, CR or LF) */
  size_t data_len;
  int retry_ms; /* < 0 = no retry line */
} mw_sse_event_t;

/* Frames `ev` as a new frame (caller owns one reference). */
mw_frame_t *mw_sse_frame(const mw_sse_event_t *ev);

/* A comment frame (": text\n\n"); `text` must not contain line breaks. */
mw_frame_t *mw_sse_comment(const char *text);

/* The shared heartbeat comment; a static frame, ref/unref are no-ops. */
mw_frame_t *mw_sse_heartbeat(void);

#endif
