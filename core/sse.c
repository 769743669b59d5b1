/* SSE framing. Sizes are computed in a first pass so each frame is a single
 * exact allocation. */
#include "sse.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

/* Length of a field value once the characters that would end the field are dropped. */
static size_t field_len(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    if (*s != '\r' && *s != '\n') n++;
  return n;
}

static char *put_field(char *p, const char *name, const char *v) {
  size_t nl = strlen(name);
  memcpy(p, name, nl);
  p += nl;
  for (; *v; v++)
    if (*v != '\r' && *v != '\n') *p++ = *v;
  *p++ = '\n';
  return p;
}

/* Each line of data becomes "data: LINE\n"; a trailing line break yields a
 * final empty data line, so the client's reassembled data ends with "\n" too. */
static size_t data_size(const char *d, size_t n) {
  size_t size = 0, i = 0;
  do {
    size_t start = i;
    while (i < n && d[i] != '\r' && d[i] != '\n')
      i++;
    size += 6 + (i - start) + 1;
    if (i < n) {
      if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n') i++;
      i++;
      if (i == n) size += 6 + 1; /* trailing newline means a final empty line */
    }
  } while (i < n);
  return size;
}

static char *put_data(char *p, const char *d, size_t n) {
  size_t i = 0;
  do {
    size_t start = i;
    while (i < n && d[i] != '\r' && d[i] != '\n')
      i++;
    memcpy(p, "data: ", 6);
    p += 6;
    memcpy(p, d + start, i - start);
    p += i - start;
    *p++ = '\n';
    if (i < n) {
      if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n') i++;
      i++;
      if (i == n) {
        memcpy(p, "data: \n", 7);
        p += 7;
      }
    }
  } while (i < n);
  return p;
}

mw_frame_t *mw_sse_frame(const mw_sse_event_t *ev) {
  char retry[24] = "";
  size_t size = 1; /* blank line ending the event */
  if (ev->id) size += 4 + field_len(ev->id) + 1;
  if (ev->event) size += 7 + field_len(ev->event) + 1;
  if (ev->retry_ms >= 0) size += (size_t)snprintf(retry, sizeof retry, "retry: %d\n", ev->retry_ms);
  if (ev->data) size += data_size(ev->data, ev->data_len);

  mw_frame_t *f = mw_frame_new(size);
  char *p = mw_frame_payload(f);
  if (ev->id) p = put_field(p, "id: ", ev->id);
  if (ev->event) p = put_field(p, "event: ", ev->event);
  if (ev->retry_ms >= 0) {
    memcpy(p, retry, strlen(retry));
    p += strlen(retry);
  }
  if (ev->data) p = put_data(p, ev->data, ev->data_len);
  *p++ = '\n';
  return f;
}

mw_frame_t *mw_sse_comment(const char *text) {
  size_t n = strlen(text);
  mw_frame_t *f = mw_frame_new(n + 4);
  char *p = mw_frame_payload(f);
  memcpy(p, ": ", 2);
  memcpy(p + 2, text, n);
  memcpy(p + 2 + n, "\n\n", 2);
  return f;
}

/* One immortal frame (refs 0) shared by every stream, built on first use. */
mw_frame_t *mw_sse_heartbeat(void) {
  static mw_frame_t *hb;
  if (!hb) {
    hb = mw_sse_comment("heartbeat");
    hb->refs = 0;
  }
  return hb;
}
