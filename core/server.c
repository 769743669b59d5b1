/* The server context: listening, routing to the core endpoints or Lua,
 * reloads, metrics and graceful shutdown. */
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include "channel.h"
#include "conn.h"
#include "log.h"
#include "reload.h"
#include "script.h"
#include "session.h"
#include "shared.h"
#include "sign.h"
#include "sse.h"

#define MW_READ_BUF_SIZE (64u * 1024)
#define MW_LINGER_MS 2000

/* ---- deferred work ---------------------------------------------------- */

static void on_ready_idle(uv_idle_t *h) {
  mw_server_t *s = h->data;
  /* Each pass takes the lists as they are now; work queued meanwhile waits
   * for the next pass, so a handler answering in a loop cannot starve I/O. */
  mw_list_t conns, work;
  mw_list_init(&conns);
  mw_list_init(&work);
  if (!mw_list_empty(&s->ready)) {
    conns = s->ready;
    conns.next->prev = &conns;
    conns.prev->next = &conns;
    mw_list_init(&s->ready);
  }
  if (!mw_list_empty(&s->deferred)) {
    work = s->deferred;
    work.next->prev = &work;
    work.prev->next = &work;
    mw_list_init(&s->deferred);
  }
  while (!mw_list_empty(&conns)) {
    mw_conn_t *c = mw_container_of(conns.next, mw_conn_t, ready_link);
    mw_list_remove(&c->ready_link);
    c->queued = false;
    mw_conn_process_input(c);
  }
  while (!mw_list_empty(&work)) {
    mw_deferred_t *d = mw_container_of(work.next, mw_deferred_t, link);
    mw_list_remove(&d->link);
    d->fn(s, d->arg);
    mw_free(d);
  }
  if (mw_list_empty(&s->ready) && mw_list_empty(&s->deferred)) uv_idle_stop(h);
}

void mw_server_defer(mw_server_t *s, void (*fn)(mw_server_t *, void *), void *arg) {
  mw_deferred_t *d = mw_malloc(sizeof *d);
  d->fn = fn;
  d->arg = arg;
  mw_list_push_back(&s->deferred, &d->link);
  uv_idle_start(&s->ready_idle, on_ready_idle);
}

void mw_server_queue_input(mw_server_t *s, mw_conn_t *c) {
  if (c->queued) return;
  c->queued = true;
  mw_list_push_back(&s->ready, &c->ready_link);
  uv_idle_start(&s->ready_idle, on_ready_idle);
}

/* ---- access records ---------------------------------------------------- */

static void access_flush(mw_server_t *s, void *arg) {
  s->access_flush_queued = false;
  if (mw_list_empty(&s->access)) return;
  mw_list_t batch = s->access; /* take the list over: re-point its ends at the copy */
  batch.next->prev = &batch;
  batch.prev->next = &batch;
  mw_list_init(&s->access);
  if (s->gen) mw_gen_access(s->gen, &batch);
  while (!mw_list_empty(&batch)) {
    mw_access_t *a = mw_container_of(batch.next, mw_access_t, link);
    mw_list_remove(&a->link);
    mw_free(a->url);
    mw_free(a->session);
    mw_free(a);
  }
}

void mw_server_record_access(mw_server_t *s, mw_conn_t *c, int status) {
  mw_req_t *r = c->req;
  if (!r || !r->url_len || s->closed) return; /* nothing parsed enough to name it */
  mw_access_t *a = mw_calloc(1, sizeof *a);
  a->method = llhttp_method_name((llhttp_method_t)r->method);
  a->url = mw_strdup(mw_req_url(r));
  const char *sid = mw_req_header(r, "mcp-session-id");
  a->session = sid ? mw_strdup(sid) : NULL;
  a->status = status;
  a->duration_ms = mw_server_now(s) - c->req_start_ms;
  snprintf(a->remote, sizeof a->remote, "%s", mw_conn_peer(c));
  mw_list_push_back(&s->access, &a->link);
  if (!s->access_flush_queued) {
    s->access_flush_queued = true;
    mw_server_defer(s, access_flush, NULL);
  }
}

/* ---- responses -------------------------------------------------------- */

static void json_escape(mw_buf_t *b, const char *s) {
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      mw_buf_printf(b, "\\%c", ch);
    else if (ch < 0x20)
      mw_buf_printf(b, "\\u%04x", ch);
    else
      mw_buf_append(b, s, 1);
  }
}

void mw_server_error(mw_server_t *s, mw_conn_t *c, int status, const char *message) {
  mw_buf_t b = {0};
  mw_buf_puts(&b, "{\"error\":{\"status\":");
  mw_buf_printf(&b, "%d,\"message\":\"", status);
  json_escape(&b, message);
  mw_buf_puts(&b, "\"}}");
  mw_kv_t hdrs[1] = {{"Content-Type", "application/json"}};
  mw_conn_respond(c, status, hdrs, 1, b.data, b.len);
  mw_buf_dispose(&b);
}

static void healthz(mw_server_t *s, mw_conn_t *c) {
  mw_buf_t b = {0};
  uint64_t uptime = (mw_server_now(s) - s->start_ms) / 1000;
  mw_buf_printf(&b,
                "{\"status\":\"%s\",\"version\":\"%s\",\"uptime_s\":%llu,\"connections\":%u,"
                "\"streams\":%u,\"sessions\":%zu,\"channels\":%zu,\"generation\":%u",
                s->shutting_down ? "stopping" : "ok", MW_VERSION, (unsigned long long)uptime,
                s->nconns, s->nstreams, s->sessions.count, s->channels.count,
                s->gen ? s->gen->id : 0);
  if (s->reload_error) {
    mw_buf_puts(&b, ",\"last_reload_error\":\"");
    json_escape(&b, s->reload_error);
    mw_buf_puts(&b, "\"");
  } else {
    mw_buf_puts(&b, ",\"last_reload_error\":null");
  }
  mw_buf_puts(&b, "}");
  mw_kv_t hdrs[] = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
  mw_conn_respond(c, s->shutting_down ? 503 : 200, hdrs, 2, b.data, b.len);
  mw_buf_dispose(&b);
}

static void metric(mw_buf_t *b, const char *name, const char *type, const char *help,
                   unsigned long long v) {
  mw_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

size_t mw_server_lua_memory(const mw_server_t *s) {
  size_t bytes = 0;
  const mw_list_t *pos;
  for (pos = s->gens.next; pos != &s->gens; pos = pos->next)
    bytes += mw_container_of(pos, mw_gen_t, link)->mem;
  return bytes;
}

static void metrics(mw_server_t *s, mw_conn_t *c) {
  const mw_metrics_t *m = &s->metrics;
  mw_buf_t b = {0};
  metric(&b, "moonwire_connections_open", "gauge", "Open TCP connections.", s->nconns);
  metric(&b, "moonwire_connections_accepted_total", "counter", "Connections accepted.",
         m->connections_accepted);
  metric(&b, "moonwire_connections_rejected_total", "counter",
         "Connections refused with 503 at MAX_CONNECTIONS.", m->connections_rejected);
  metric(&b, "moonwire_sse_streams_open", "gauge", "Open SSE streams.", s->nstreams);
  metric(&b, "moonwire_sessions", "gauge", "Live sessions.", s->sessions.count);
  metric(&b, "moonwire_sessions_created_total", "counter", "Sessions created.",
         m->sessions_created);
  metric(&b, "moonwire_sessions_expired_total", "counter", "Sessions expired.",
         m->sessions_expired);
  metric(&b, "moonwire_channels", "gauge", "Channels.", s->channels.count);
  metric(&b, "moonwire_heartbeats_sent_total", "counter", "Heartbeat comments sent.",
         m->heartbeats_sent);
  metric(&b, "moonwire_events_sent_total", "counter",
         "SSE messages written: events (replays included) and the retry: line that opens a stream.",
         m->events_sent);
  metric(&b, "moonwire_events_replayed_total", "counter", "Events replayed after Last-Event-ID.",
         m->events_replayed);
  metric(&b, "moonwire_replay_gaps_total", "counter",
         "Resumptions that asked for events no longer held.", m->replay_gaps);
  metric(&b, "moonwire_bytes_out_total", "counter", "Bytes written to clients.", m->bytes_out);
  metric(&b, "moonwire_slow_consumers_dropped_total", "counter",
         "Streams closed because the client stopped reading.", m->slow_consumers);
  mw_buf_puts(&b, "# HELP moonwire_http_requests_total HTTP responses by status class.\n"
                  "# TYPE moonwire_http_requests_total counter\n");
  for (int i = 1; i <= 5; i++)
    mw_buf_printf(&b, "moonwire_http_requests_total{class=\"%dxx\"} %llu\n", i,
                  (unsigned long long)m->requests[i]);
  metric(&b, "moonwire_lua_errors_total", "counter", "Errors raised by Lua code.", m->lua_errors);
  mw_buf_puts(&b, "# HELP moonwire_reloads_total Script reloads by result.\n"
                  "# TYPE moonwire_reloads_total counter\n");
  mw_buf_printf(&b, "moonwire_reloads_total{result=\"ok\"} %llu\n",
                (unsigned long long)m->reloads_ok);
  mw_buf_printf(&b, "moonwire_reloads_total{result=\"failed\"} %llu\n",
                (unsigned long long)m->reloads_failed);
  mw_buf_printf(&b,
                "# HELP moonwire_last_reload_duration_seconds Time the last reload took.\n"
                "# TYPE moonwire_last_reload_duration_seconds gauge\n"
                "moonwire_last_reload_duration_seconds %.6f\n",
                m->last_reload_seconds);
  metric(&b, "moonwire_script_generation", "gauge", "Current script generation.",
         s->gen ? s->gen->id : 0);
  metric(&b, "moonwire_lua_memory_bytes", "gauge", "Memory held by live script generations.",
         mw_server_lua_memory(s));
  metric(&b, "moonwire_shared_bytes", "gauge", "Memory held by the shared store (mw.shared).",
         s->shared_bytes);
  /* Metrics kept by scripts and plugins (tool_metrics): runtime.metrics()
   * returns Prometheus text appended as is. */
  if (s->gen) mw_gen_metrics(s->gen, &b);
  mw_kv_t hdrs[] = {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}};
  mw_conn_respond(c, 200, hdrs, 1, b.data, b.len);
  mw_buf_dispose(&b);
}

/* ---- host / origin checks (DNS-rebinding protection) ------------------ */

/* Host header without its port: "[::1]:3001" -> "[::1]", "a:80" -> "a". */
static size_t host_name_len(const char *h) {
  if (h[0] == '[') {
    const char *e = strchr(h, ']');
    return e ? (size_t)(e - h + 1) : strlen(h);
  }
  const char *colon = strchr(h, ':');
  return colon ? (size_t)(colon - h) : strlen(h);
}

/* localhost, [::1] or an IPv4 literal in 127.0.0.0/8 (a server may bind
 * 127.0.0.2): names an attacker's DNS could point here are never local. */
static bool is_local_name(const char *h, size_t n) {
  if ((n == 9 && strncasecmp(h, "localhost", 9) == 0) || (n == 5 && strncmp(h, "[::1]", 5) == 0))
    return true;
  if (n < 9 || n > 15 || strncmp(h, "127.", 4) != 0) return false;
  int dots = 0;
  for (size_t i = 0; i < n; i++) {
    if (h[i] == '.')
      dots++;
    else if (h[i] < '0' || h[i] > '9')
      return false;
  }
  return dots == 3;
}

static bool list_has_name(const char *list, const char *name, size_t n) {
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *e = p;
    while (*e && *e != ',' && *e != ' ')
      e++;
    if ((size_t)(e - p) == 1 && *p == '*') return true;
    if ((size_t)(e - p) == n && strncasecmp(p, name, n) == 0) return true;
    p = e;
  }
  return false;
}

/* RFC 9112 §3.2: uri-host [":" port], where an empty value is allowed (a
 * target without authority). Anything else, and a second Host line, is 400:
 * the proxies in front may read such a request differently than we do. */
static const char *host_problem(const mw_req_t *r, const char **host) {
  const char *h = NULL;
  for (uint32_t i = 0; i < r->nhdrs; i++) {
    if (strcmp(r->head + r->hdrs[i].name_off, "host") != 0) continue;
    if (h) return "more than one Host header";
    h = r->head + r->hdrs[i].value_off;
  }
  *host = h;
  if (!h) return r->http10 ? NULL : "missing Host header";
  const char *p = h;
  if (*p == '[') {
    p = strchr(p, ']');
    if (!p) return "invalid Host header";
    p++;
  } else {
    /* reg-name / IPv4: unreserved, sub-delims and pct-encoded characters. */
    while (*p && (isalnum((unsigned char)*p) || strchr("-._~!$&'()*+,;=%", *p)))
      p++;
  }
  if (*p == ':')
    for (p++; *p >= '0' && *p <= '9'; p++)
      ;
  return *p ? "invalid Host header" : NULL;
}

/* Returns NULL when allowed, else the reason for a 403. */
static const char *check_host_origin(mw_server_t *s, mw_req_t *r, const char *host) {
  const mw_config_t *cfg = s->config;
  if (host) {
    size_t n = host_name_len(host);
    if (cfg->allowed_hosts ? !list_has_name(cfg->allowed_hosts, host, n)
                           : s->loopback && !is_local_name(host, n))
      return "Host not allowed";
  }
  const char *origin = mw_req_header(r, "origin");
  if (origin) {
    if (cfg->allowed_origins) {
      if (!list_has_name(cfg->allowed_origins, origin, strlen(origin))) return "Origin not allowed";
    } else if (s->loopback) {
      const char *p = strstr(origin, "://");
      if (!p) return "Origin not allowed";
      p += 3;
      if (!is_local_name(p, host_name_len(p))) return "Origin not allowed";
    }
  }
  return NULL;
}

#define MW_CORS_HEADERS                                                                            \
  "Content-Type, Accept, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, "     \
  "Mcp-Method, Mcp-Name"

void mw_cors_defaults(mw_cors_t *c, const mw_config_t *config) {
  mw_cors_dispose(c);
  c->origins = mw_strdup(config->cors_allow_origins);
  c->methods = mw_strdup("GET, POST, DELETE, OPTIONS");
  c->headers = NULL;
  c->expose = mw_strdup("Mcp-Session-Id, MCP-Protocol-Version");
  c->max_age_s = 86400;
  c->credentials = false;
}

void mw_cors_dispose(mw_cors_t *c) {
  mw_free(c->origins);
  mw_free(c->methods);
  mw_free(c->headers);
  mw_free(c->expose);
  memset(c, 0, sizeof *c);
}

static void preflight(mw_server_t *s, mw_conn_t *c) {
  const mw_cors_t *cors = &s->cors;
  const char *req_headers = mw_req_header(c->req, "access-control-request-headers");
  char max_age[16];
  snprintf(max_age, sizeof max_age, "%u", cors->max_age_s);
  mw_kv_t hdrs[] = {
      {"Access-Control-Allow-Methods", cors->methods},
      {"Access-Control-Allow-Headers", cors->headers ? cors->headers
                                       : req_headers && !strpbrk(req_headers, "\r\n")
                                           ? req_headers
                                           : MW_CORS_HEADERS},
      {"Access-Control-Max-Age", max_age},
  };
  mw_conn_respond(c, 204, hdrs, MW_ARRAY_SIZE(hdrs), NULL, 0);
}

void mw_server_dispatch(mw_server_t *s, mw_conn_t *c) {
  mw_req_t *r = c->req;
  const char *host;
  const char *bad_host = host_problem(r, &host);
  if (bad_host) {
    c->keep_alive = false;
    mw_server_error(s, c, 400, bad_host);
    return;
  }
  const char *why = check_host_origin(s, r, host);
  if (why) {
    mw_server_error(s, c, 403, why);
    return;
  }
  const char *url = mw_req_url(r);
  size_t path_len = strcspn(url, "?");
  bool get = r->method == HTTP_GET || r->method == HTTP_HEAD;
  if (r->method == HTTP_OPTIONS && mw_req_header(r, "origin") &&
      mw_req_header(r, "access-control-request-method")) {
    preflight(s, c);
    return;
  }
  if ((path_len == 8 && strncmp(url, "/healthz", 8) == 0) ||
      (path_len == 8 && strncmp(url, "/metrics", 8) == 0)) {
    if (!get) {
      mw_kv_t allow[] = {{"Allow", "GET, HEAD"}, {"Content-Type", "application/json"}};
      static const char body[] = "{\"error\":{\"status\":405,\"message\":\"method not allowed\"}}";
      mw_conn_respond(c, 405, allow, 2, body, sizeof body - 1);
    } else if (url[1] == 'h') {
      healthz(s, c);
    } else {
      metrics(s, c);
    }
    return;
  }
  if (s->shutting_down) {
    c->keep_alive = false;
    mw_server_error(s, c, 503, "shutting down");
    return;
  }
  mw_gen_dispatch(s->gen, c);
}

/* ---- reload ----------------------------------------------------------- */

/* A reload re-reads only the config file's plugins table, but the whole file
 * is checked again: a typo accepted now would stop the next restart. */
static int recheck_config(mw_server_t *s, char **err) {
  char changed[512], msg[1024];
  if (!s->gen || !s->config->config_file) return 0;
  if (mw_config_recheck(s->config, changed, sizeof changed, msg, sizeof msg) < 0) {
    *err = mw_strdup(msg);
    return -EINVAL;
  }
  if (changed[0])
    mw_log(MW_LOG_WARN, "config file changes need a restart; the running values stay", 1,
           "settings", changed);
  return 0;
}

int mw_server_reload(mw_server_t *s, const char *why) {
  uint64_t t0 = uv_hrtime();
  mw_gen_t *g = NULL;
  char *err = NULL;
  uint32_t id = ++s->gen_seq;
  int rc = recheck_config(s, &err);
  if (rc == 0) rc = mw_gen_new(s, id, &g, &err);
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  s->metrics.last_reload_seconds = secs;
  uv_timeval64_t now;
  if (uv_gettimeofday(&now) == 0)
    s->metrics.last_reload_unix_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_usec / 1000;
  char ids[16], ms[32];
  snprintf(ids, sizeof ids, "%u", id);
  snprintf(ms, sizeof ms, "%.1f", secs * 1000);
  if (rc < 0) {
    s->metrics.reloads_failed++;
    mw_log(MW_LOG_ERROR,
           s->gen ? "reload failed; previous scripts keep serving" : "scripts failed to load", 3,
           "reason", why, "error", err, "generation", ids);
    /* /healthz shows the first line (file:line: message); the log has the traceback. */
    err[strcspn(err, "\n")] = '\0';
    mw_free(s->reload_error);
    s->reload_error = err;
    return rc;
  }
  s->metrics.reloads_ok++;
  mw_free(s->reload_error);
  s->reload_error = NULL;
  mw_gen_t *old = s->gen;
  s->gen = g;
  if (old) mw_gen_retire(old);
  mw_gen_activate(g);
  mw_log(MW_LOG_INFO, old ? "scripts reloaded" : "scripts loaded", 3, "reason", why, "generation",
         ids, "ms", ms);
  return 0;
}

/* ---- start / shutdown ------------------------------------------------- */

static void on_connection(uv_stream_t *l, int status) {
  mw_server_t *s = l->data;
  if (status < 0) {
    mw_log(MW_LOG_WARN, "accept failed", 1, "error", uv_strerror(status));
    return;
  }
  mw_conn_accept(s);
}

static void on_signal(uv_signal_t *h, int signum) {
  mw_server_t *s = h->data;
  if (signum == SIGHUP) {
    mw_server_reload(s, "SIGHUP");
    return;
  }
  if (s->shutting_down) mw_log(MW_LOG_WARN, "second signal: closing everything now", 0);
  mw_server_shutdown(s);
}

static void on_body_timeout(mw_tlist_t *tl, mw_tnode_t *n) {
  mw_conn_on_head_timeout(tl, n);
}

#define MW_SWEEP_MS 5000

static void on_sweep(uv_timer_t *t) {
  mw_server_t *s = t->data;
  mw_session_sweep(s);
  mw_channel_sweep(s);
  mw_shared_sweep(s);
}

static bool is_loopback_host(const char *h) {
  return strcmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0;
}

int mw_server_start(mw_server_t *s, uv_loop_t *loop, const mw_config_t *cfg) {
  memset(s, 0, sizeof *s);
  s->loop = loop;
  s->config = cfg;
  s->start_ms = uv_now(loop);
  mw_list_init(&s->conns);
  mw_list_init(&s->ready);
  mw_list_init(&s->deferred);
  mw_list_init(&s->fanout);
  mw_list_init(&s->gens);
  mw_list_init(&s->access);
  s->read_buf = mw_malloc(MW_READ_BUF_SIZE);
  s->log_limits.max_events = cfg->buffer_size;
  s->log_limits.max_bytes = cfg->buffer_bytes;
  s->log_limits.ttl_ms = (uint64_t)cfg->buffer_ttl_s * 1000;
  mw_conn_parser_settings(&s->parser_settings);
  mw_cors_defaults(&s->cors, cfg);
  uint64_t seed;
  mw_random_bytes(&seed, sizeof seed);
  mw_hmap_init(&s->sessions, seed);
  mw_hmap_init(&s->channels, seed ^ 0x9e3779b97f4a7c15ULL);
  mw_hmap_init(&s->shared, seed ^ 0xc2b2ae3d27d4eb4fULL);
  mw_sign_init(s->sign_key, &s->sign_key_len, getenv("MOONWIRE_STATE_SECRET"));
  /* Hex, so the epoch never contains the '-' that separates it from the seq. */
  unsigned char raw[3];
  mw_random_bytes(raw, sizeof raw);
  snprintf(s->epoch, sizeof s->epoch, "%02x%02x%02x", raw[0], raw[1], raw[2]);

  uv_idle_init(loop, &s->ready_idle);
  s->ready_idle.data = s;
  uv_timer_init(loop, &s->shutdown_timer);
  s->shutdown_timer.data = s;
  uv_timer_init(loop, &s->sweep_timer);
  s->sweep_timer.data = s;
  uv_timer_start(&s->sweep_timer, on_sweep, MW_SWEEP_MS, MW_SWEEP_MS);
  mw_tlist_init(loop, &s->idle_list, (uint64_t)cfg->keepalive_timeout_s * 1000,
                mw_conn_on_idle_timeout, s);
  mw_tlist_init(loop, &s->head_list, cfg->header_timeout_ms, mw_conn_on_head_timeout, s);
  mw_tlist_init(loop, &s->body_list, cfg->body_timeout_ms, on_body_timeout, s);
  mw_tlist_init(loop, &s->linger_list, MW_LINGER_MS, mw_conn_on_linger_timeout, s);
  mw_tlist_init(loop, &s->heartbeat_list, (uint64_t)cfg->heartbeat_interval_s * 1000,
                mw_conn_on_heartbeat, s);
  mw_tlist_init(loop, &s->session_list, (uint64_t)cfg->connection_timeout_s * 1000,
                mw_session_on_expire, s);
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  uv_signal_init(loop, &s->sig_int);
  uv_signal_init(loop, &s->sig_term);
  uv_signal_init(loop, &s->sig_hup);
  s->sig_int.data = s->sig_term.data = s->sig_hup.data = s;

  /* Watching starts first: loading the scripts may add directories (plugin
   * paths) to watch. */
  s->reload = mw_reload_start(s);
  if (mw_server_reload(s, "startup") < 0) return -EINVAL;

  struct sockaddr_storage addr;
  int rc = mw_config_host_addr(cfg->host, cfg->port, &addr);
  if (rc < 0) return rc; /* the setting was checked with this same function */
  s->loopback = is_loopback_host(cfg->host);
  if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0)) < 0 ||
      (rc = uv_listen((uv_stream_t *)&s->listener, 4096, on_connection)) < 0) {
    mw_log(MW_LOG_ERROR, "cannot listen", 2, "host", cfg->host, "error", uv_strerror(rc));
    return rc;
  }
  struct sockaddr_storage bound;
  int blen = sizeof bound;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen);
  int port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  char ports[16];
  snprintf(ports, sizeof ports, "%d", port);
  uv_signal_start(&s->sig_int, on_signal, SIGINT);
  uv_signal_start(&s->sig_term, on_signal, SIGTERM);
  uv_signal_start(&s->sig_hup, on_signal, SIGHUP);
  mw_log(MW_LOG_INFO, "listening", 3, "host", cfg->host, "port", ports, "version", MW_VERSION);
  return 0;
}

/* The last deferred step: generations still held by suspended coroutines are
 * freed by force (their handlers can never finish now), then the idle handle
 * closes and the loop runs dry. */
static void final_close(mw_server_t *s, void *arg) {
  while (!mw_list_empty(&s->gens))
    mw_gen_free(mw_container_of(s->gens.next, mw_gen_t, link));
  s->access_hook = false;
  access_flush(s, NULL); /* no generation left: just frees the records */
  /* Work queued meanwhile would touch what was just freed: drop it. */
  while (!mw_list_empty(&s->deferred)) {
    mw_deferred_t *d = mw_container_of(s->deferred.next, mw_deferred_t, link);
    mw_list_remove(&d->link);
    mw_free(d);
  }
  uv_close((uv_handle_t *)&s->ready_idle, NULL);
}

static void close_everything(mw_server_t *s) {
  if (s->closed) return;
  s->closed = true;
  mw_list_t *pos, *tmp;
  mw_list_foreach_safe(pos, tmp, &s->conns) mw_conn_close(mw_container_of(pos, mw_conn_t, link));
  mw_session_destroy_all(s);
  mw_channel_destroy_all(s);
  mw_shared_destroy_all(s);
  if (s->gen) {
    mw_gen_t *g = s->gen;
    s->gen = NULL;
    mw_gen_retire(g);
  }
  mw_tlist_dispose(&s->idle_list);
  mw_tlist_dispose(&s->head_list);
  mw_tlist_dispose(&s->body_list);
  mw_tlist_dispose(&s->linger_list);
  mw_tlist_dispose(&s->heartbeat_list);
  mw_tlist_dispose(&s->session_list);
  mw_reload_stop(s->reload);
  s->reload = NULL;
  uv_close((uv_handle_t *)&s->shutdown_timer, NULL);
  uv_close((uv_handle_t *)&s->sweep_timer, NULL);
  uv_close((uv_handle_t *)&s->sig_int, NULL);
  uv_close((uv_handle_t *)&s->sig_term, NULL);
  uv_close((uv_handle_t *)&s->sig_hup, NULL);
  mw_server_defer(s, final_close, NULL);
}

/* A stream that carries the answer of a request still being handled: a POST
 * response stream (a session's request stream, or a 2026-07-28 one), or any
 * stream of a session with requests running (legacy answers on its one
 * stream). Shutdown lets these finish like requests. */
static bool answering(const mw_conn_t *c) {
  if (c->sse_kind == MW_SSE_SESSION) return c->sse.s.no > 0 || c->sse.s.session->busy > 0;
  return c->sse_kind == MW_SSE_LUA && c->answering;
}

/* Ends what shutdown need not wait for: a stream is told when to come back
 * (to whichever instance replaces us) and ends cleanly; an idle keep-alive
 * connection just closes. Returns how many connections are still answering. */
static unsigned shutdown_pass(mw_server_t *s, mw_frame_t *hint) {
  unsigned busy = 0;
  mw_list_t *pos, *tmp;
  mw_list_foreach_safe(pos, tmp, &s->conns) {
    mw_conn_t *c = mw_container_of(pos, mw_conn_t, link);
    if (c->state == MW_CONN_STREAM) {
      if (answering(c))
        busy++;
      else if (mw_conn_sse_send(c, hint) == 0)
        mw_conn_sse_finish(c);
    } else if (c->state == MW_CONN_BUSY || (c->state == MW_CONN_READING && c->req)) {
      busy++;
    } else if (c->state == MW_CONN_READING && !c->inbuf_len) {
      mw_conn_close(c);
    }
  }
  return busy;
}

/* Polls until no request is in flight or the deadline passed. */
static void on_shutdown_tick(uv_timer_t *t) {
  mw_server_t *s = t->data;
  mw_sse_event_t ev = {NULL, NULL, NULL, 0, (int)s->config->retry_ms};
  mw_frame_t *hint = mw_sse_frame(&ev);
  unsigned busy = shutdown_pass(s, hint);
  mw_frame_unref(hint);
  if (busy && mw_server_now(s) < s->shutdown_deadline_ms) return;
  if (busy) {
    char n[16];
    snprintf(n, sizeof n, "%u", busy);
    mw_log(MW_LOG_WARN, "SHUTDOWN_TIMEOUT passed; closing connections still answering requests", 1,
           "connections", n);
  }
  uv_timer_stop(t);
  close_everything(s);
}

void mw_server_shutdown(mw_server_t *s) {
  if (s->shutting_down) {
    close_everything(s);
    return;
  }
  s->shutting_down = true;
  mw_log(MW_LOG_INFO, "shutting down", 0);
  uv_close((uv_handle_t *)&s->listener, NULL);
  if (s->gen) mw_gen_shutdown(s->gen);
  s->shutdown_deadline_ms = mw_server_now(s) + (uint64_t)s->config->shutdown_timeout_s * 1000;
  uv_timer_start(&s->shutdown_timer, on_shutdown_tick, 0, 50);
}

void mw_server_dispose(mw_server_t *s) {
  mw_req_pool_dispose(&s->req_pool);
  mw_handles_dispose(&s->handles);
  mw_cors_dispose(&s->cors);
  mw_free(s->read_buf);
  mw_free(s->reload_error);
  mw_hmap_dispose(&s->sessions);
  mw_hmap_dispose(&s->channels);
  mw_hmap_dispose(&s->shared);
}
