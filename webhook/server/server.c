#define _GNU_SOURCE /* sched_getaffinity */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <h2o.h>
#include <h2o/http1.h>

#include "base/log.h"
#include "base/mem.h"
#include "policy/store.h"
#include "review/review.h"
#include "server/cluster.h"
#include "server/metrics.h"
#include "server/route.h"
#include "server/tls.h"

#define RESPONSE_MAX (8 * 1024 * 1024)
#define ACCEPT_BATCH 16
#define LOOP_WAIT_MS 100
#define HOUSEKEEPING_MS 500
#define METRICS_MAX_CONNS 64
#define SOCKET_BUFFER_INITIAL (16 * 1024)

struct cg_server;

/* One event loop on one thread: a TLS worker, or the metrics listener. */
struct worker {
    h2o_context_t ctx;
    struct cg_server *srv;
    bool is_metrics;
    h2o_accept_ctx_t accept_ctx;
    pthread_t thread;
    bool thread_started;
    int listen_fd;
    h2o_socket_t *listener;
    bool accepting;
    size_t conns, max_conns;
    struct cg_snapshot_reader policies, tls;
    struct cg_review_scratch scratch;
    struct cg_cluster_slot cluster; /* this thread's view of the pod cache */
    struct cg_buf out;
    struct cg_log_batch log; /* review lines of this loop turn */
    struct cg_metrics metrics;
    uint64_t h2o_413_seen;
    uint64_t last_housekeeping_ms;
};

struct handler {
    h2o_handler_t super;
    struct cg_server *srv;
    bool metrics_port;
};

struct cg_server {
    const struct cg_server_config *cfg;
    h2o_globalconf_t gconf, mconf;
    bool gconf_init, mconf_init;
    struct cg_tls_store tls;
    struct cg_policy_store policies;
    struct cg_webhook_cluster *cluster;
    struct worker *workers;
    size_t n_workers;
    struct worker *mworker; /* NULL when metrics are off */
    _Atomic int stopping;
    _Atomic int metrics_stopping;
    bool started, stopped;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct worker *worker_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(struct worker, ctx, req->conn->ctx);
}

/* ---- responses ---- */

/* h2o_send_inline copies body and leaves the length unset: set it so HTTP/1.1 answers are
 * not chunked. */
static void respond(h2o_req_t *req, int status, const char *reason, const char *ctype,
                    const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                   strlen(ctype));
    req->res.content_length = len;
    h2o_send_inline(req, body, len);
}

static void respond_text(h2o_req_t *req, int status, const char *reason, const char *text)
{
    respond(req, status, reason, "text/plain; charset=utf-8", text, strlen(text));
}

/* One warn line for a request refused before any review: what it was and why. */
static void log_refused(h2o_req_t *req, int status, const char *why)
{
    struct worker *w = worker_of(req);
    struct cg_log_line l;
    cg_log_begin(&l, CG_LOG_WARN, "request refused");
    if (!l.active)
        return;
    cg_log_int(&l, "status", status);
    cg_log_str(&l, "reason", why);
    cg_log_strn(&l, "method", req->method.base, req->method.len);
    cg_log_strn(&l, "path", req->path.base, req->path.len < 256 ? req->path.len : 256);
    ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (ct >= 0) {
        const h2o_iovec_t *v = &req->headers.entries[ct].value;
        cg_log_strn(&l, "content_type", v->base, v->len < 128 ? v->len : 128);
    }
    cg_log_int(&l, "body_bytes", (int64_t)req->entity.len);
    cg_log_end_batched(&l, &w->log);
}

static void respond_405(h2o_req_t *req, const char *allow)
{
    log_refused(req, 405, "method_not_allowed");
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    respond_text(req, 405, "Method Not Allowed", "method not allowed\n");
}

static bool method_is(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/* ---- probes and metrics ---- */

static bool server_ready(struct cg_server *s)
{
    return !atomic_load(&s->stopping) && cg_tls_store_ready(&s->tls) &&
           cg_policy_store_ready(&s->policies) && cg_webhook_cluster_ready(s->cluster);
}

static void on_readyz(struct cg_server *s, h2o_req_t *req)
{
    struct cg_buf b;
    cg_buf_init(&b, 0); /* a few bounded lines: uncapped, so none is ever cut off */
    bool ready = server_ready(s);
    cg_buf_append_str(&b, ready ? "ok\n" : "not ready\n");
    if (atomic_load(&s->stopping))
        cg_buf_append_str(&b, "shutting down\n");
    cg_tls_store_describe(&s->tls, &b);
    cg_policy_store_describe(&s->policies, &b);
    cg_webhook_cluster_describe(s->cluster, &b);
    if (ready)
        respond(req, 200, "OK", "text/plain; charset=utf-8", b.data, b.len);
    else
        respond(req, 503, "Service Unavailable", "text/plain; charset=utf-8", b.data, b.len);
    cg_buf_dispose(&b);
}

static void on_metrics(struct cg_server *s, h2o_req_t *req)
{
    struct cg_metrics **all = cg_xcalloc(s->n_workers, sizeof(*all));
    for (size_t i = 0; i < s->n_workers; i++)
        all[i] = &s->workers[i].metrics;
    struct cg_metrics_global g = {
        .policy_reloads_ok = atomic_load(&s->policies.reloads_ok),
        .policy_reloads_error = atomic_load(&s->policies.reloads_error),
        .tls_reloads_ok = atomic_load(&s->tls.reloads_ok),
        .tls_reloads_error = atomic_load(&s->tls.reloads_error),
        .policies_loaded = atomic_load(&s->policies.loaded),
    };
    struct cg_buf b;
    cg_buf_init(&b, 4 * 1024 * 1024);
    enum cg_status st = cg_metrics_render(all, s->n_workers, &g, &b);
    if (st == CG_OK)
        cg_webhook_cluster_metrics(s->cluster, &b);
    if (st == CG_OK)
        respond(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    else
        respond_text(req, 500, "Internal Server Error", "metrics too large\n");
    cg_buf_dispose(&b);
    free(all);
}

/* ---- admission ---- */

static void log_review(struct worker *w, enum cg_review_path path,
                       const struct cg_review_outcome *o, int status, uint64_t ns,
                       const struct cg_buf *detail)
{
    struct cg_log_line l;
    cg_log_begin(&l, status == 200 ? CG_LOG_INFO : CG_LOG_WARN, "review");
    if (!l.active)
        return;
    cg_log_str(&l, "path", path == CG_REVIEW_MUTATE ? "/mutate" : "/validate");
    cg_log_strn(&l, "uid", o->uid.p, o->uid.n);
    cg_log_strn(&l, "kind", o->kind.p, o->kind.n);
    cg_log_strn(&l, "namespace", o->namespace_.p, o->namespace_.n);
    cg_log_strn(&l, "name", o->name.p, o->name.n);
    cg_log_strn(&l, "operation", o->operation.p, o->operation.n);
    cg_log_strn(&l, "user", o->user.p, o->user.n);
    cg_log_str(&l, "decision", o->decision ? o->decision : "error");
    cg_log_str(&l, "policy", o->policy ? o->policy : "");
    cg_log_int(&l, "duration_us", (int64_t)(ns / 1000));
    if (o->dry_run)
        cg_log_bool(&l, "dry_run", 1);
    if (status != 200) {
        cg_log_int(&l, "status", status);
        cg_log_str(&l, "error", o->error ? o->error : "");
        /* the one-line reason the client got (a 400's body) */
        if (status == 400 && detail != NULL && detail->len > 0)
            cg_log_strn(&l, "detail", detail->data, detail->len < 512 ? detail->len : 512);
    }
    cg_log_end_batched(&l, &w->log);
}

static void reject(struct worker *w, h2o_req_t *req, int status, const char *reason,
                   const char *metric_reason, const char *text)
{
    cg_metrics_count_error(&w->metrics, metric_reason, 1);
    log_refused(req, status, metric_reason);
    respond_text(req, status, reason, text);
}

static void on_review(struct worker *w, h2o_req_t *req, enum cg_review_path path)
{
    struct cg_server *s = w->srv;
    if (!method_is(req, "POST")) {
        cg_metrics_count_error(&w->metrics, "method_not_allowed", 1);
        respond_405(req, "POST");
        return;
    }
    ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (ct < 0 || !cg_route_is_json(req->headers.entries[ct].value.base,
                                    req->headers.entries[ct].value.len)) {
        reject(w, req, 415, "Unsupported Media Type", "unsupported_media_type",
               "content type must be application/json\n");
        return;
    }
    if (req->entity.base == NULL || req->entity.len == 0) {
        reject(w, req, 400, "Bad Request", "empty_body", "empty body: want an AdmissionReview\n");
        return;
    }
    if (req->entity.len > (size_t)s->cfg->max_body) {
        reject(w, req, 413, "Request Entity Too Large", "body_too_large",
               "request body is too large\n");
        return;
    }
    const struct cg_policy_set *set = cg_snapshot_reader_get(&w->policies, &s->policies.snap);
    if (set == NULL) {
        reject(w, req, 503, "Service Unavailable", "not_ready",
               "policies are not loaded: see /readyz\n");
        return;
    }

    struct cg_review_outcome o;
    cg_buf_reset(&w->out);
    uint64_t t0 = now_ns();
    struct cg_cluster_source cluster = cg_cluster_slot_source(&w->cluster);
    enum cg_status st = cg_review_run(set, path, (int64_t)time(NULL), req->entity.base,
                                      req->entity.len, &w->scratch, &cluster, &w->out, &o);
    uint64_t ns = now_ns() - t0;
    int status = o.http_status;
    if (st != CG_OK) {
        status = 500;
        o.decision = "error";
        o.error = "response_too_large";
    }
    cg_metrics_observe_review(&w->metrics, path, &o, ns);
    log_review(w, path, &o, status, ns, &w->out);
    if (status == 200) {
        respond(req, 200, "OK", "application/json", w->out.data, w->out.len);
        return;
    }
    cg_metrics_count_error(&w->metrics, o.error, 1);
    if (st != CG_OK) {
        respond_text(req, 500, "Internal Server Error", "response too large\n");
        return;
    }
    /* The reason fits: out's cap is far above a one-line reason; if not, it goes unended. */
    (void)cg_buf_append_char(&w->out, '\n');
    const char *reason = status == 400 ? "Bad Request" : "Error";
    respond(req, status, reason, "text/plain; charset=utf-8", w->out.data ? w->out.data : "",
            w->out.len);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct handler *h = (struct handler *)self;
    struct worker *w = worker_of(req);
    enum cg_route r = cg_route_match(req->path_normalized.base, req->path_normalized.len);
    if (h->metrics_port ? (r == CG_ROUTE_MUTATE || r == CG_ROUTE_VALIDATE) : r == CG_ROUTE_METRICS)
        r = CG_ROUTE_NONE;
    switch (r) {
    case CG_ROUTE_MUTATE:
        on_review(w, req, CG_REVIEW_MUTATE);
        return 0;
    case CG_ROUTE_VALIDATE:
        on_review(w, req, CG_REVIEW_VALIDATE);
        return 0;
    case CG_ROUTE_HEALTHZ:
    case CG_ROUTE_READYZ:
    case CG_ROUTE_METRICS:
        if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
            respond_405(req, "GET, HEAD");
            return 0;
        }
        if (r == CG_ROUTE_HEALTHZ)
            respond_text(req, 200, "OK", "ok\n");
        else if (r == CG_ROUTE_READYZ)
            on_readyz(h->srv, req);
        else
            on_metrics(h->srv, req);
        return 0;
    case CG_ROUTE_NONE:
        break;
    }
    if (!h->metrics_port)
        cg_metrics_count_error(&w->metrics, "not_found", 1);
    log_refused(req, 404, "not_found");
    respond_text(req, 404, "Not Found", "not found\n");
    return 0;
}

/* ---- connections ---- */

static void on_accept(h2o_socket_t *listener, const char *err);

static void on_conn_close(void *data)
{
    struct worker *w = data;
    w->conns--;
    if (!w->is_metrics)
        cg_metrics_set_connections(&w->metrics, w->conns);
    /* Resume accepting once under the bound again (not while stopping). */
    if (w->listener != NULL && !w->accepting && w->conns < w->max_conns) {
        h2o_socket_read_start(w->listener, on_accept);
        w->accepting = true;
    }
}

static void accept_some(struct worker *w, size_t max)
{
    if (!w->is_metrics) {
        /* New connections use the newest certificate; a cheap atomic check per batch. */
        w->accept_ctx.ssl_ctx = cg_snapshot_reader_get(&w->tls, &w->srv->tls.snap);
    }
    for (size_t i = 0; i < max; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(w->listener);
        if (sock == NULL)
            break;
        w->conns++;
        if (!w->is_metrics)
            cg_metrics_set_connections(&w->metrics, w->conns);
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = w;
        h2o_accept(&w->accept_ctx, sock);
        if (w->conns >= w->max_conns && w->accepting) {
            h2o_socket_read_stop(w->listener);
            w->accepting = false;
            break;
        }
    }
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    accept_some(listener->data, ACCEPT_BATCH);
}

struct sweep {
    struct worker *w;
    bool close_idle;
    struct timeval now;
    long read_timeout_ms;
};

/* Per HTTP/1 connection: cut requests that take too long to arrive (h2o 2.2 has one timer
 * for keep-alive idle and request reading; ours is the short one), and on shutdown close
 * connections that wait for their next request with nothing received. shutdown(2) makes
 * h2o see end-of-stream and close the connection through its own path. */
static int sweep_one(h2o_req_t *req, void *data)
{
    struct sweep *sw = data;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL)
        return 0;
    int fd = h2o_socket_get_fd(sock);
    const struct timeval *b = &req->timestamps.request_begin_at;
    bool begun = b->tv_sec != 0;
    if (begun && req->res.status == 0) {
        long ms = (sw->now.tv_sec - b->tv_sec) * 1000L + (sw->now.tv_usec - b->tv_usec) / 1000;
        if (ms > sw->read_timeout_ms) {
            cg_metrics_count_error(&sw->w->metrics, "read_timeout", 1);
            shutdown(fd, SHUT_RDWR);
        }
    } else if (sw->close_idle && !begun && (sock->input == NULL || sock->input->size == 0)) {
        int pending = 0;
        if (ioctl(fd, FIONREAD, &pending) == 0 && pending == 0)
            shutdown(fd, SHUT_RDWR);
    }
    return 0;
}

static void sweep_http1(struct worker *w, bool close_idle)
{
    struct sweep sw = {
        .w = w, .close_idle = close_idle, .read_timeout_ms = w->srv->cfg->read_timeout * 1000};
    gettimeofday(&sw.now, NULL);
    H2O_HTTP1_CALLBACKS.foreach_request(&w->ctx, sweep_one, &sw);
}

static void housekeeping(struct worker *w)
{
    uint64_t now = now_ms();
    if (now - w->last_housekeeping_ms < HOUSEKEEPING_MS)
        return;
    w->last_housekeeping_ms = now;
    if (w->is_metrics)
        return;
    sweep_http1(w, false);
    /* h2o answers an oversized Content-Length with 413 before our handler runs. */
    uint64_t n413 = w->ctx.emitted_error_status[H2O_STATUS_ERROR_413];
    if (n413 != w->h2o_413_seen) {
        cg_metrics_count_error(&w->metrics, "body_too_large", n413 - w->h2o_413_seen);
        char count[24];
        snprintf(count, sizeof(count), "%llu", (unsigned long long)(n413 - w->h2o_413_seen));
        cg_log(CG_LOG_WARN, "request refused", "status", "413", "reason", "body_too_large",
               "requests", count, "detail", "Content-Length over --max-body, answered by h2o",
               NULL);
        w->h2o_413_seen = n413;
    }
}

static void close_listener(struct worker *w)
{
    if (w->listener == NULL)
        return;
    if (!w->is_metrics) {
        /* Take what already sits in the accept queue (its clients may have sent requests);
         * closing a SO_REUSEPORT listener would reset them. */
        accept_some(w, SIZE_MAX);
    }
    h2o_socket_read_stop(w->listener);
    h2o_socket_close(w->listener);
    w->listener = NULL;
    w->listen_fd = -1;
    w->accepting = false;
}

static void drain(struct worker *w)
{
    close_listener(w);
    if (w->is_metrics)
        return;
    h2o_context_request_shutdown(&w->ctx);
    uint64_t deadline = now_ms() + (uint64_t)w->srv->cfg->shutdown_timeout * 1000;
    while (w->conns > 0 && now_ms() < deadline) {
        sweep_http1(w, true);
        h2o_evloop_run(w->ctx.loop, 20);
        cg_log_batch_flush(&w->log);
    }
    if (w->conns > 0) {
        char n[32];
        snprintf(n, sizeof(n), "%zu", w->conns);
        cg_log(CG_LOG_WARN, "shutdown deadline reached; dropping connections", "connections", n,
               NULL);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct cg_server *s = w->srv;
    /* h2o's socket buffers start at 8 KB: a 12 KB review took two read(2)s and a grow-and-copy
     * of the buffer. 16 KB reads a typical review at once; the prototype is per thread. */
    h2o_socket_buffer_prototype._initial_buf.capacity = SOCKET_BUFFER_INITIAL;
    h2o_context_init(&w->ctx, h2o_evloop_create(), w->is_metrics ? &s->mconf : &s->gconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = w->is_metrics ? s->mconf.hosts : s->gconf.hosts;
    w->accept_ctx.ssl_ctx = NULL;
    w->listener = h2o_evloop_socket_create(w->ctx.loop, w->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);
    w->accepting = true;

    _Atomic int *stop = w->is_metrics ? &s->metrics_stopping : &s->stopping;
    while (!atomic_load_explicit(stop, memory_order_acquire)) {
        h2o_evloop_run(w->ctx.loop, LOOP_WAIT_MS);
        /* One write for the review lines of this turn, not one per review. */
        cg_log_batch_flush(&w->log);
        housekeeping(w);
    }
    drain(w);
    /* Let the closed sockets be released by the loop. */
    h2o_evloop_run(w->ctx.loop, 0);
    cg_log_batch_flush(&w->log);
    if (w->conns == 0) {
        h2o_evloop_t *loop = w->ctx.loop;
        /* request_shutdown arms HTTP/2's GOAWAY re-send timer even with no connection. */
        if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
        h2o_context_dispose(&w->ctx);
        h2o_evloop_destroy(loop);
    }
    return NULL;
}

/* ---- listeners ---- */

static int make_listener(const struct sockaddr_storage *ss, socklen_t len, bool reuseport,
                         struct cg_err *err, const char *addr)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        cg_err_set(err, CG_EIO, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    /* Each worker binds its own listener to the same port: without SO_REUSEPORT the second
     * bind fails with a puzzling "address in use", so say what failed instead. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)) {
        cg_err_set(err, CG_EIO, "listen on %s: SO_REUSE%s: %s", addr, reuseport ? "PORT" : "ADDR",
                   strerror(errno));
        close(fd);
        return -1;
    }
    /* Best effort: a listener without TCP_NODELAY still serves, only slower. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
        cg_err_set(err, CG_EIO, "listen on %s: %s", addr, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static size_t default_threads(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (size_t)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

static struct handler *add_handler(h2o_globalconf_t *conf, struct cg_server *s, bool metrics)
{
    h2o_hostconf_t *host =
        h2o_config_register_host(conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    struct handler *h = (struct handler *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->srv = s;
    h->metrics_port = metrics;
    return h;
}

static void init_conf(h2o_globalconf_t *conf, const struct cg_server_config *cfg)
{
    h2o_config_init(conf);
    conf->server_name = h2o_iovec_init("", 0);
    conf->max_request_entity_size = (size_t)cfg->max_body;
    /* h2o 2.2's HTTP/1 timer covers keep-alive idle and request reading together: keep it
     * above the apiserver's 90 s idle timeout; sweep_one enforces the short read timeout. */
    conf->http1.req_timeout = (uint64_t)cfg->idle_timeout * 1000;
    conf->http1.upgrade_to_http2 = 0;
    conf->http2.idle_timeout = (uint64_t)cfg->idle_timeout * 1000;
    conf->http2.graceful_shutdown_timeout = (uint64_t)cfg->shutdown_timeout * 1000;
    conf->handshake_timeout = (uint64_t)cfg->read_timeout * 1000;
}

static void worker_init(struct worker *w, struct cg_server *s, bool metrics)
{
    memset(w, 0, sizeof(*w));
    w->srv = s;
    w->is_metrics = metrics;
    w->listen_fd = -1;
    cg_snapshot_reader_init(&w->policies);
    cg_snapshot_reader_init(&w->tls);
    cg_metrics_init(&w->metrics);
    if (!metrics) {
        cg_review_scratch_init(&w->scratch);
        cg_webhook_cluster_slot_init(s->cluster, &w->cluster);
        cg_buf_init(&w->out, RESPONSE_MAX);
    }
}

static void worker_dispose(struct worker *w)
{
    if (w->listen_fd >= 0)
        close(w->listen_fd);
    w->listen_fd = -1;
    cg_snapshot_reader_dispose(&w->policies, &w->srv->policies.snap);
    cg_snapshot_reader_dispose(&w->tls, &w->srv->tls.snap);
    if (!w->is_metrics) {
        cg_review_scratch_dispose(&w->scratch);
        cg_buf_dispose(&w->out);
    }
}

enum cg_status cg_server_create(const struct cg_server_config *cfg, struct cg_server **out,
                                struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_server *s = cg_xcalloc(1, sizeof(*s));
    s->cfg = cfg;
    cg_tls_store_init(&s->tls, cfg->cert, cfg->key, cfg->http2);
    cg_policy_store_init(&s->policies, cfg->policies);
    *out = NULL;

    if (cg_tls_store_reload(&s->tls, true, err) != CG_RELOAD_DONE) {
        st = CG_ETLS;
        goto out;
    }
    cg_policy_store_reload(&s->policies, true, NULL);
    st = cg_webhook_cluster_create(cfg->kubeconfig, cfg->kube_insecure, cfg->trusted_users,
                                   &s->cluster, err);
    if (st != CG_OK)
        goto out;

    init_conf(&s->gconf, cfg);
    s->gconf_init = true;
    add_handler(&s->gconf, s, false);

    s->n_workers = cfg->threads > 0 ? (size_t)cfg->threads : default_threads();
    s->workers = cg_xcalloc(s->n_workers, sizeof(*s->workers));
    size_t per = ((size_t)cfg->max_connections + s->n_workers - 1) / s->n_workers;
    for (size_t i = 0; i < s->n_workers; i++) {
        worker_init(&s->workers[i], s, false);
        s->workers[i].max_conns = per;
    }

    struct sockaddr_storage ss;
    socklen_t len = 0;
    st = cg_server_addr_parse(cfg->listen, &ss, &len, err);
    if (st != CG_OK)
        goto out;
    /* SO_REUSEPORT would let us share the port with a stale process by accident: a plain
     * bind first fails when anything else holds it. */
    int probe = make_listener(&ss, len, false, err, cfg->listen);
    if (probe < 0) {
        st = CG_EIO;
        goto out;
    }
    close(probe);
    for (size_t i = 0; i < s->n_workers; i++) {
        s->workers[i].listen_fd = make_listener(&ss, len, true, err, cfg->listen);
        if (s->workers[i].listen_fd < 0) {
            st = CG_EIO;
            goto out;
        }
    }

    if (strcmp(cfg->metrics_listen, "off") != 0) {
        init_conf(&s->mconf, cfg);
        s->mconf_init = true;
        s->mconf.http1.req_timeout = 10000;
        add_handler(&s->mconf, s, true);
        s->mworker = cg_xcalloc(1, sizeof(*s->mworker));
        worker_init(s->mworker, s, true);
        s->mworker->max_conns = METRICS_MAX_CONNS;
        st = cg_server_addr_parse(cfg->metrics_listen, &ss, &len, err);
        if (st != CG_OK)
            goto out;
        s->mworker->listen_fd = make_listener(&ss, len, false, err, cfg->metrics_listen);
        if (s->mworker->listen_fd < 0) {
            st = CG_EIO;
            goto out;
        }
    }
    *out = s;
    s = NULL;
out:
    cg_server_destroy(s);
    return st;
}

enum cg_status cg_server_start(struct cg_server *s, struct cg_err *err)
{
    s->started = true;
    enum cg_status st = cg_webhook_cluster_start(s->cluster, err);
    if (st != CG_OK)
        return st;
    for (size_t i = 0; i < s->n_workers; i++) {
        int rc = pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
        if (rc != 0)
            return cg_err_set(err, CG_EINTERNAL, "pthread_create: %s", strerror(rc));
        s->workers[i].thread_started = true;
    }
    if (s->mworker != NULL) {
        int rc = pthread_create(&s->mworker->thread, NULL, worker_main, s->mworker);
        if (rc != 0)
            return cg_err_set(err, CG_EINTERNAL, "pthread_create: %s", strerror(rc));
        s->mworker->thread_started = true;
    }
    char n[32];
    snprintf(n, sizeof(n), "%zu", s->n_workers);
    cg_log(CG_LOG_INFO, "listening", "address", s->cfg->listen, "metrics", s->cfg->metrics_listen,
           "threads", n, "http2", s->cfg->http2 ? "on" : "off", NULL);
    return CG_OK;
}

void cg_server_poll(struct cg_server *s, bool force)
{
    cg_tls_store_reload(&s->tls, force, NULL);
    cg_policy_store_reload(&s->policies, force, NULL);
}

void cg_server_stop(struct cg_server *s)
{
    if (s->stopped)
        return;
    s->stopped = true;
    cg_log(CG_LOG_INFO, "shutting down", NULL);
    atomic_store(&s->stopping, 1);
    for (size_t i = 0; i < s->n_workers; i++)
        if (s->workers[i].thread_started)
            pthread_join(s->workers[i].thread, NULL);
    cg_webhook_cluster_stop(s->cluster);
    /* Metrics stay up until the workers are done. */
    atomic_store(&s->metrics_stopping, 1);
    if (s->mworker != NULL && s->mworker->thread_started)
        pthread_join(s->mworker->thread, NULL);
}

void cg_server_destroy(struct cg_server *s)
{
    if (s == NULL)
        return;
    if (s->started)
        cg_server_stop(s);
    for (size_t i = 0; s->workers != NULL && i < s->n_workers; i++)
        worker_dispose(&s->workers[i]);
    free(s->workers);
    if (s->mworker != NULL)
        worker_dispose(s->mworker);
    free(s->mworker);
    if (s->gconf_init)
        h2o_config_dispose(&s->gconf);
    if (s->mconf_init)
        h2o_config_dispose(&s->mconf);
    cg_policy_store_dispose(&s->policies);
    cg_tls_store_dispose(&s->tls);
    cg_webhook_cluster_destroy(s->cluster);
    free(s);
}
