/* Tests for core/sse.c: exact payload bytes of event, comment and heartbeat
 * frames, their HTTP/1.1 chunked envelope, and a round trip through a small
 * WHATWG-style event-stream parser written here, so a frame the browser would
 * read differently from what the server meant fails a test. */
#include "mw_test.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "frame.h"
#include "sse.h"

/* ---- fixtures ---- */

/* Prints bytes with CR/LF visible, for failure messages. */
static void dump(const char *label, const char *p, size_t n) {
  fprintf(stderr, "    %s (%zu bytes): \"", label, n);
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\n')
      fputs("\\n", stderr);
    else if (p[i] == '\r')
      fputs("\\r", stderr);
    else
      fputc(p[i], stderr);
  }
  fputs("\"\n", stderr);
}

/* Checks the chunk envelope independently of how frame.c writes it: the data
 * must start with the payload length in hex and CRLF, the payload must start
 * right after it, and the frame must end with CRLF. */
static void check_envelope(mw_frame_t *f) {
  size_t plen = mw_frame_payload_len(f);
  size_t i = 0, size = 0;
  bool hex_ok = true;
  for (; i < f->len && f->data[i] != '\r'; i++) {
    char c = f->data[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0 || i >= 8) {
      hex_ok = false;
      break;
    }
    size = size * 16 + (size_t)d;
  }
  CHECK(hex_ok && i > 0);
  CHECK(i + 1 < f->len && f->data[i] == '\r' && f->data[i + 1] == '\n');
  CHECK_EQ_INT(size, plen);
  CHECK_EQ_INT(f->body_off, i + 2);
  CHECK_EQ_INT(f->len, i + 2 + plen + 2);
  CHECK(f->len >= 2 && f->data[f->len - 2] == '\r' && f->data[f->len - 1] == '\n');
}

/* Checks the frame's payload is exactly `want` and its envelope is right. */
static void check_frame(mw_frame_t *f, const char *want) {
  size_t wl = strlen(want);
  size_t plen = mw_frame_payload_len(f);
  bool same = plen == wl && memcmp(mw_frame_payload(f), want, wl) == 0;
  CHECK(same);
  if (!same) {
    dump("want", want, wl);
    dump("got ", mw_frame_payload(f), plen);
  }
  check_envelope(f);
}

static mw_frame_t *frame_data(const char *data) {
  mw_sse_event_t ev = {.data = data, .data_len = data ? strlen(data) : 0, .retry_ms = -1};
  return mw_sse_frame(&ev);
}

/* ---- a WHATWG event-stream parser (HTML §9.2.6), enough for one payload ---- */

#define PARSED_MAX 8

typedef struct parsed_event {
  char type[64];
  char data[1024];
  size_t data_len;
  char last_id[64];
} parsed_event_t;

typedef struct parsed {
  parsed_event_t ev[PARSED_MAX];
  int n;
  long retry_ms; /* -1 = never set */
  char id_buf[64];
  char type_buf[64];
  char data_buf[1024];
  size_t data_len;
  bool overflow;
} parsed_t;

static void append(char *dst, size_t *len, size_t cap, const char *s, size_t n, bool *overflow) {
  if (*len + n + 1 > cap) {
    *overflow = true;
    return;
  }
  memcpy(dst + *len, s, n);
  *len += n;
  dst[*len] = '\0';
}

static void set_str(char *dst, size_t cap, const char *s, size_t n, bool *overflow) {
  size_t len = 0;
  dst[0] = '\0';
  append(dst, &len, cap, s, n, overflow);
}

static void dispatch(parsed_t *ps) {
  if (ps->data_len == 0) {
    ps->type_buf[0] = '\0';
    return;
  }
  if (ps->data_buf[ps->data_len - 1] == '\n') ps->data_buf[--ps->data_len] = '\0';
  if (ps->n < PARSED_MAX) {
    parsed_event_t *e = &ps->ev[ps->n];
    snprintf(e->type, sizeof e->type, "%s", ps->type_buf[0] ? ps->type_buf : "message");
    memcpy(e->data, ps->data_buf, ps->data_len + 1);
    e->data_len = ps->data_len;
    snprintf(e->last_id, sizeof e->last_id, "%s", ps->id_buf);
  }
  ps->n++;
  ps->data_len = 0;
  ps->data_buf[0] = '\0';
  ps->type_buf[0] = '\0';
}

static void field(parsed_t *ps, const char *line, size_t n) {
  const char *colon = memchr(line, ':', n);
  size_t nl = colon ? (size_t)(colon - line) : n;
  const char *v = colon ? colon + 1 : line + n;
  size_t vl = (size_t)(line + n - v);
  if (vl > 0 && *v == ' ') v++, vl--;
  if (nl == 5 && memcmp(line, "event", 5) == 0) {
    set_str(ps->type_buf, sizeof ps->type_buf, v, vl, &ps->overflow);
  } else if (nl == 4 && memcmp(line, "data", 4) == 0) {
    append(ps->data_buf, &ps->data_len, sizeof ps->data_buf, v, vl, &ps->overflow);
    append(ps->data_buf, &ps->data_len, sizeof ps->data_buf, "\n", 1, &ps->overflow);
  } else if (nl == 2 && memcmp(line, "id", 2) == 0) {
    if (!memchr(v, '\0', vl)) set_str(ps->id_buf, sizeof ps->id_buf, v, vl, &ps->overflow);
  } else if (nl == 5 && memcmp(line, "retry", 5) == 0) {
    bool digits = vl > 0;
    long r = 0;
    for (size_t i = 0; i < vl; i++) {
      if (v[i] < '0' || v[i] > '9')
        digits = false;
      else
        r = r * 10 + (v[i] - '0');
    }
    if (digits) ps->retry_ms = r;
  }
}

/* Parses a whole stream; lines end with CRLF, LF or CR. An unterminated last
 * line or an undispatched event at the end is discarded, as a browser does. */
static void parse(parsed_t *ps, const char *s, size_t n) {
  memset(ps, 0, sizeof *ps);
  ps->retry_ms = -1;
  size_t i = 0;
  while (i < n) {
    size_t start = i;
    while (i < n && s[i] != '\r' && s[i] != '\n')
      i++;
    if (i == n) break; /* incomplete line */
    size_t len = i - start;
    if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') i++;
    i++;
    if (len == 0)
      dispatch(ps);
    else if (s[start] != ':')
      field(ps, s + start, len);
  }
}

static void parse_frame(parsed_t *ps, mw_frame_t *f) {
  parse(ps, mw_frame_payload(f), mw_frame_payload_len(f));
  CHECK(!ps->overflow);
}

/* What a client reassembles from `data`: every CRLF, CR or LF becomes LF. */
static size_t normalize(const char *in, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (in[i] == '\r') {
      if (i + 1 < n && in[i + 1] == '\n') i++;
      out[o++] = '\n';
    } else {
      out[o++] = in[i];
    }
  }
  out[o] = '\0';
  return o;
}

/* ---- event frames ---- */

TEST(id_event_data) {
  mw_sse_event_t ev = {
      .id = "42", .event = "update", .data = "hello", .data_len = 5, .retry_ms = -1};
  mw_frame_t *f = mw_sse_frame(&ev);
  check_frame(f, "id: 42\nevent: update\ndata: hello\n\n");
  CHECK_EQ_INT(f->refs, 1);
  mw_frame_unref(f);
}

TEST(data_len_not_strlen) {
  /* Only data_len bytes are framed, even if the buffer goes on. */
  mw_sse_event_t ev = {.data = "abcdef", .data_len = 3, .retry_ms = -1};
  mw_frame_t *f = mw_sse_frame(&ev);
  check_frame(f, "data: abc\n\n");
  mw_frame_unref(f);
}

TEST(multiline_lf) {
  mw_frame_t *f = frame_data("one\ntwo\nthree");
  check_frame(f, "data: one\ndata: two\ndata: three\n\n");
  mw_frame_unref(f);
}

TEST(multiline_crlf) {
  mw_frame_t *f = frame_data("one\r\ntwo\r\nthree");
  check_frame(f, "data: one\ndata: two\ndata: three\n\n");
  mw_frame_unref(f);
}

TEST(multiline_cr) {
  mw_frame_t *f = frame_data("one\rtwo\rthree");
  check_frame(f, "data: one\ndata: two\ndata: three\n\n");
  mw_frame_unref(f);
}

TEST(multiline_mixed) {
  mw_frame_t *f = frame_data("a\r\nb\rc\nd");
  check_frame(f, "data: a\ndata: b\ndata: c\ndata: d\n\n");
  mw_frame_unref(f);
  /* CR LF CR: a CRLF pair then a lone CR, i.e. two breaks and an empty line. */
  f = frame_data("a\r\n\rb");
  check_frame(f, "data: a\ndata: \ndata: b\n\n");
  mw_frame_unref(f);
  /* LF CR is two breaks, not one. */
  f = frame_data("a\n\rb");
  check_frame(f, "data: a\ndata: \ndata: b\n\n");
  mw_frame_unref(f);
}

TEST(trailing_newline) {
  mw_frame_t *f = frame_data("x\n");
  check_frame(f, "data: x\ndata: \n\n");
  mw_frame_unref(f);
  f = frame_data("x\r\n");
  check_frame(f, "data: x\ndata: \n\n");
  mw_frame_unref(f);
  f = frame_data("x\r");
  check_frame(f, "data: x\ndata: \n\n");
  mw_frame_unref(f);
  f = frame_data("\n");
  check_frame(f, "data: \ndata: \n\n");
  mw_frame_unref(f);
}

TEST(empty_and_null_data) {
  /* Empty data is still an event (one empty data line); NULL data has none. */
  mw_frame_t *f = frame_data("");
  check_frame(f, "data: \n\n");
  mw_frame_unref(f);
  f = frame_data(NULL);
  check_frame(f, "\n");
  mw_frame_unref(f);
  mw_sse_event_t ev = {.id = "7", .data = NULL, .data_len = 99, .retry_ms = -1};
  f = mw_sse_frame(&ev);
  check_frame(f, "id: 7\n\n");
  mw_frame_unref(f);
}

TEST(id_event_line_breaks_stripped) {
  mw_sse_event_t ev = {
      .id = "a\r\nb\rc\n", .event = "\nup\rdate\r\n", .data = "d", .data_len = 1, .retry_ms = -1};
  mw_frame_t *f = mw_sse_frame(&ev);
  check_frame(f, "id: abc\nevent: update\ndata: d\n\n");
  mw_frame_unref(f);
  /* Only line breaks go: spaces and colons are field content. */
  mw_sse_event_t ev2 = {.id = " x:y ", .event = "a b", .data = "d", .data_len = 1, .retry_ms = -1};
  f = mw_sse_frame(&ev2);
  check_frame(f, "id:  x:y \nevent: a b\ndata: d\n\n");
  mw_frame_unref(f);
  /* A value made only of line breaks becomes an empty field, not a missing one. */
  mw_sse_event_t ev3 = {.id = "\r\n", .data = "d", .data_len = 1, .retry_ms = -1};
  f = mw_sse_frame(&ev3);
  check_frame(f, "id: \ndata: d\n\n");
  mw_frame_unref(f);
}

TEST(retry) {
  mw_sse_event_t ev = {.id = "1", .event = "e", .data = "d", .data_len = 1, .retry_ms = 3000};
  mw_frame_t *f = mw_sse_frame(&ev);
  check_frame(f, "id: 1\nevent: e\nretry: 3000\ndata: d\n\n");
  mw_frame_unref(f);
  mw_sse_event_t ev0 = {.data = NULL, .retry_ms = 0};
  f = mw_sse_frame(&ev0);
  check_frame(f, "retry: 0\n\n");
  mw_frame_unref(f);
  mw_sse_event_t evmax = {.data = NULL, .retry_ms = 2147483647};
  f = mw_sse_frame(&evmax);
  check_frame(f, "retry: 2147483647\n\n");
  mw_frame_unref(f);
}

TEST(retry_negative_omitted) {
  mw_sse_event_t ev = {.data = "d", .data_len = 1, .retry_ms = -1};
  mw_frame_t *f = mw_sse_frame(&ev);
  check_frame(f, "data: d\n\n");
  mw_frame_unref(f);
  mw_sse_event_t ev2 = {.data = "d", .data_len = 1, .retry_ms = -2147483647 - 1};
  f = mw_sse_frame(&ev2);
  check_frame(f, "data: d\n\n");
  mw_frame_unref(f);
}

TEST(long_payload_envelope) {
  /* Past 255 bytes the chunk size takes three hex digits. */
  char data[1001];
  memset(data, 'z', 1000);
  data[1000] = '\0';
  mw_frame_t *f = frame_data(data);
  CHECK_EQ_INT(mw_frame_payload_len(f), 6 + 1000 + 1 + 1);
  CHECK(memcmp(f->data, "3f0\r\n", 5) == 0);
  check_envelope(f);
  mw_frame_unref(f);
}

TEST(frame_refs) {
  mw_frame_t *f = frame_data("x");
  CHECK_EQ_INT(f->refs, 1);
  CHECK(mw_frame_ref(f) == f);
  CHECK_EQ_INT(f->refs, 2);
  mw_frame_unref(f);
  CHECK_EQ_INT(f->refs, 1);
  mw_frame_unref(f);
}

/* ---- comments and heartbeat ---- */

TEST(comment) {
  mw_frame_t *f = mw_sse_comment("keep going");
  check_frame(f, ": keep going\n\n");
  CHECK_EQ_INT(f->refs, 1);
  mw_frame_unref(f);
  f = mw_sse_comment("");
  check_frame(f, ": \n\n");
  mw_frame_unref(f);
  /* A client sees a comment as nothing at all. */
  f = mw_sse_comment("data: not an event");
  parsed_t ps;
  parse_frame(&ps, f);
  CHECK_EQ_INT(ps.n, 0);
  mw_frame_unref(f);
}

TEST(heartbeat_static) {
  mw_frame_t *a = mw_sse_heartbeat();
  mw_frame_t *b = mw_sse_heartbeat();
  CHECK(a != NULL);
  CHECK(a == b);
  CHECK_EQ_INT(a->refs, 0);
  check_frame(a, ": heartbeat\n\n");
  /* ref/unref are no-ops on a static frame: it never gets freed (ASan would
   * report the use after free below) and stays identical. */
  CHECK(mw_frame_ref(a) == a);
  CHECK_EQ_INT(a->refs, 0);
  mw_frame_unref(a);
  mw_frame_unref(a);
  CHECK_EQ_INT(a->refs, 0);
  check_frame(mw_sse_heartbeat(), ": heartbeat\n\n");
  CHECK(mw_sse_heartbeat() == a);
}

/* ---- round trip through a client parser ---- */

static void round_trip(const char *data, size_t len) {
  char want[1024];
  size_t want_len = normalize(data, len, want);
  mw_sse_event_t ev = {.id = "9", .event = "note", .data = data, .data_len = len, .retry_ms = 250};
  mw_frame_t *f = mw_sse_frame(&ev);
  parsed_t ps;
  parse_frame(&ps, f);
  CHECK_EQ_INT(ps.n, 1);
  if (ps.n == 1) {
    bool same = ps.ev[0].data_len == want_len && memcmp(ps.ev[0].data, want, want_len) == 0;
    CHECK(same);
    if (!same) {
      dump("input", data, len);
      dump("want ", want, want_len);
      dump("got  ", ps.ev[0].data, ps.ev[0].data_len);
    }
    CHECK_EQ_STR(ps.ev[0].type, "note");
    CHECK_EQ_STR(ps.ev[0].last_id, "9");
  }
  CHECK_EQ_INT(ps.retry_ms, 250);
  mw_frame_unref(f);
}

TEST(round_trip_data) {
  static const char *const cases[] = {
      "plain",    "a\r\nb\rc\nd", "x\n",      "x\r\n",    "\n",           "\r",
      "\n\n",     "\r\r\n",       "",         " lead",    "  two lead",   ": colon first",
      "data: x",  "\nstart",      "a\n\nb",   "end\r\r",  "tab\there",    "id: 5\nevent: x",
      "\r\n\r\n", "a\n\r\nb",     "utf8 é ✓", "retry: 1", "trailing sp ",
  };
  for (size_t i = 0; i < MW_ARRAY_SIZE(cases); i++)
    round_trip(cases[i], strlen(cases[i]));
}

TEST(round_trip_fields) {
  /* Line breaks in id/event cannot smuggle in extra fields or events. */
  mw_sse_event_t ev = {.id = "1\n\nid: 666",
                       .event = "a\ndata: injected\n",
                       .data = "real",
                       .data_len = 4,
                       .retry_ms = -1};
  mw_frame_t *f = mw_sse_frame(&ev);
  parsed_t ps;
  parse_frame(&ps, f);
  CHECK_EQ_INT(ps.n, 1);
  CHECK_EQ_STR(ps.ev[0].data, "real");
  CHECK_EQ_STR(ps.ev[0].last_id, "1id: 666");
  CHECK_EQ_STR(ps.ev[0].type, "adata: injected");
  CHECK_EQ_INT(ps.retry_ms, -1);
  mw_frame_unref(f);

  /* Frames concatenate into a stream of separate events; a NULL-data frame
   * only updates the last event id. */
  mw_sse_event_t e1 = {.id = "1", .data = "first", .data_len = 5, .retry_ms = -1};
  mw_sse_event_t e2 = {.id = "2", .data = NULL, .retry_ms = -1};
  mw_sse_event_t e3 = {.event = "x", .data = "third\n", .data_len = 6, .retry_ms = -1};
  mw_frame_t *fs[3] = {mw_sse_frame(&e1), mw_sse_frame(&e2), mw_sse_frame(&e3)};
  mw_buf_t stream = {0};
  for (int i = 0; i < 3; i++) {
    mw_buf_append(&stream, mw_frame_payload(fs[i]), mw_frame_payload_len(fs[i]));
    mw_frame_unref(fs[i]);
  }
  parse(&ps, stream.data, stream.len);
  CHECK(!ps.overflow);
  CHECK_EQ_INT(ps.n, 2);
  CHECK_EQ_STR(ps.ev[0].data, "first");
  CHECK_EQ_STR(ps.ev[0].last_id, "1");
  CHECK_EQ_STR(ps.ev[0].type, "message");
  CHECK_EQ_STR(ps.ev[1].data, "third\n");
  CHECK_EQ_STR(ps.ev[1].last_id, "2");
  CHECK_EQ_STR(ps.ev[1].type, "x");
  mw_buf_dispose(&stream);
}

int main(void) {
  RUN(id_event_data);
  RUN(data_len_not_strlen);
  RUN(multiline_lf);
  RUN(multiline_crlf);
  RUN(multiline_cr);
  RUN(multiline_mixed);
  RUN(trailing_newline);
  RUN(empty_and_null_data);
  RUN(id_event_line_breaks_stripped);
  RUN(retry);
  RUN(retry_negative_omitted);
  RUN(long_payload_envelope);
  RUN(frame_refs);
  RUN(comment);
  RUN(heartbeat_static);
  RUN(round_trip_data);
  RUN(round_trip_fields);
  return TEST_DONE();
}
