/* Ref-counted pre-framed buffers; see frame.h. */
#include "frame.h"
#include "common.h"

#include <stdio.h>
#include <string.h>

mw_frame_t *mw_frame_new(size_t payload_len) {
  char head[16];
  int hl = snprintf(head, sizeof head, "%zx\r\n", payload_len);
  mw_frame_t *f = mw_malloc(sizeof *f + (size_t)hl + payload_len + 2);
  f->refs = 1;
  f->len = (uint32_t)(hl + payload_len + 2);
  f->body_off = (uint8_t)hl;
  memcpy(f->data, head, (size_t)hl);
  memcpy(f->data + hl + payload_len, "\r\n", 2);
  return f;
}

mw_frame_t *mw_frame_from(const char *payload, size_t len) {
  mw_frame_t *f = mw_frame_new(len);
  memcpy(mw_frame_payload(f), payload, len);
  return f;
}

mw_frame_t *mw_frame_ref(mw_frame_t *f) {
  if (f && f->refs) f->refs++;
  return f;
}

void mw_frame_unref(mw_frame_t *f) {
  if (!f || f->refs == 0) return;
  if (--f->refs == 0) mw_free(f);
}
