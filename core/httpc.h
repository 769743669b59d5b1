/* A small non-blocking HTTP/1.1 client for scripts (mw.http.request): plain
 * http:// only, one request per connection (Connection: close), responses
 * parsed by llhttp, bounded by a timeout and a body cap. */
#ifndef MW_HTTPC_H
#define MW_HTTPC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"

typedef struct mw_httpc mw_httpc_t;

typedef struct mw_httpc_result {
  int error; /* 0, or a negative libuv/errno code (then nothing else is set) */
  const char *error_msg;
  int status;
  const mw_kv_t *headers; /* names lower-cased */
  size_t nheaders;
  const char *body;
  size_t body_len;
} mw_httpc_result_t;

typedef void (*mw_httpc_cb)(void *ud, const mw_httpc_result_t *r);

typedef struct mw_httpc_req {
  const char *method, *host, *path; /* path includes the query */
  int port;
  const mw_kv_t *headers;
  size_t nheaders;
  const char *body;
  size_t body_len;
  uint64_t timeout_ms;
  size_t max_body;
} mw_httpc_req_t;

/* Starts the request (everything in `req` is copied). `cb` runs exactly once
 * unless the job is cancelled first. Returns NULL with a libuv error in *err
 * when it cannot even start (no callback then). */
mw_httpc_t *mw_httpc_start(uv_loop_t *loop, const mw_httpc_req_t *req, mw_httpc_cb cb, void *ud,
                           int *err);

/* Aborts without calling back. */
void mw_httpc_cancel(mw_httpc_t *job);

#endif
