/* Small socket and clock helpers shared by the publisher and the streams. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lg.h"

int64_t lg_realtime_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct {
  uv_write_t req;
  char data[];
} lg_wreq_t;

static void on_written(uv_write_t *req, int status) {
  /* A failed write shows up again as a read error or EOF: the reader counts it. */
  free(req);
}

int lg_write(uv_stream_t *h, const char *data, size_t len) {
  lg_wreq_t *w = malloc(sizeof *w + len);
  if (!w) abort();
  memcpy(w->data, data, len);
  uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
  int rc = uv_write(&w->req, h, &buf, 1, on_written);
  if (rc < 0) free(w);
  return rc;
}

int lg_addr(const char *host, int port, struct sockaddr_in *sa) {
  if (uv_ip4_addr(host, port, sa) < 0) return -EINVAL;
  return 0;
}
