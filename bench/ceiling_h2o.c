/* ceiling_h2o: the bare libh2o ceiling of bench/run. It serves what cellgate-webhook serves
 * with nothing of the webhook in between: every request, whatever its method and path, is
 * answered 200 with a fixed 300-byte JSON body once h2o has read the whole request body.
 *
 *   ceiling_h2o --listen 127.0.0.1:PORT --cert FILE --key FILE [--threads N]
 *
 * Everything below the handler is the webhook's (webhook/server/server.c), so that the CPU a
 * review costs above this program is the review's and not a difference of transport:
 *  - the same libh2o-evloop (2.2, H2O_USE_LIBUV=0) and OpenSSL;
 *  - the TLS context from the webhook's own loader, cg_tls_ctx_load (TLS 1.2 minimum,
 *    AES-128-GCM preferred, no session tickets or cache, no HTTP/2);
 *  - one event loop per thread, each with its own SO_REUSEPORT listener (TCP_NODELAY), up to
 *    16 accepts per wake-up, 100 ms loop waits;
 *  - the same h2o configuration: 3 MiB body cap, 120 s HTTP/1 keep-alive, 5 s handshake
 *    timeout, no Server header, no upgrade to HTTP/2; 16 KB initial socket buffers;
 *  - the answer built like the webhook's: content type and content length set, body through
 *    h2o_send_inline.
 * What it leaves out: the review (decode, match, engine, encode), the per-review log line and
 * metrics, the connection cap and the housekeeping sweep, certificate reloads.
 *
 * SIGTERM or SIGINT stops it (in-flight requests are not waited for: it is a benchmark). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>

#include "base/options.h"
#include "server/config.h"
#include "server/tls.h"

/* The webhook's defaults (webhook/server/server.c, config.c). */
#define ACCEPT_BATCH 16
#define LOOP_WAIT_MS 100
#define SOCKET_BUFFER_INITIAL (16 * 1024)
#define MAX_BODY (3 * 1024 * 1024)
#define IDLE_TIMEOUT_MS (120 * 1000)
#define HANDSHAKE_TIMEOUT_MS (5 * 1000)

/* 300 bytes: {"a":"x...x"}, as the mruby ceiling answers. */
#define BODY_X10 "xxxxxxxxxx"
#define BODY_X100                                                                                  \
    BODY_X10 BODY_X10 BODY_X10 BODY_X10 BODY_X10 BODY_X10 BODY_X10 BODY_X10 BODY_X10 BODY_X10
static const char body[] = "{\"a\":\"" BODY_X100 BODY_X100 BODY_X10 BODY_X10 BODY_X10 BODY_X10
    BODY_X10 BODY_X10 BODY_X10 BODY_X10 BODY_X10 "xx\"}";
_Static_assert(sizeof(body) - 1 == 300, "the ceiling's body is 300 bytes");

struct ceiling_config {
    char *listen;
    char *cert;
    char *key;
    long threads;
};

#define OFF(field) offsetof(struct ceiling_config, field)
static const struct cg_option opts[] = {
    {"listen", "CEILING_LISTEN", "127.0.0.1:8443", "ADDR", CG_OPT_STR, OFF(listen), 0, 0,
     "TLS address (host:port)"},
    {"cert", "CEILING_CERT", NULL, "FILE", CG_OPT_STR, OFF(cert), 0, 0, "certificate chain (PEM)"},
    {"key", "CEILING_KEY", NULL, "FILE", CG_OPT_STR, OFF(key), 0, 0, "private key (PEM)"},
    {"threads", "CEILING_THREADS", "1", "N", CG_OPT_LONG, OFF(threads), 1, 256,
     "event-loop threads, each with its own listener"},
};
static const struct cg_options table = {opts, sizeof(opts) / sizeof(opts[0])};

struct worker {
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    int listen_fd;
    pthread_t thread;
    bool thread_started;
};

static h2o_globalconf_t gconf;
static _Atomic int stopping;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    static const char ctype[] = "application/json";
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                   sizeof(ctype) - 1);
    req->res.content_length = sizeof(body) - 1;
    h2o_send_inline(req, body, sizeof(body) - 1);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct worker *w = listener->data;
    if (err != NULL)
        return;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        h2o_accept(&w->accept_ctx, sock);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    h2o_socket_buffer_prototype._initial_buf.capacity = SOCKET_BUFFER_INITIAL;
    h2o_context_init(&w->ctx, h2o_evloop_create(), &gconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = gconf.hosts;
    w->listener = h2o_evloop_socket_create(w->ctx.loop, w->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);
    while (!atomic_load_explicit(&stopping, memory_order_acquire))
        h2o_evloop_run(w->ctx.loop, LOOP_WAIT_MS);
    return NULL;
}

static int make_listener(const struct sockaddr_storage *ss, socklen_t len, const char *addr)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        fprintf(stderr, "ceiling_h2o: socket: %s\n", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
        fprintf(stderr, "ceiling_h2o: listen on %s: %s\n", addr, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

extern char **environ;

int main(int argc, char **argv)
{
    int rc = 1;
    struct ceiling_config cfg;
    struct worker *workers = NULL;
    SSL_CTX *ssl = NULL;
    bool help = false;
    struct cg_err err;
    cg_err_clear(&err);
    memset(&cfg, 0, sizeof(cfg));
    cg_options_init(&table, &cfg);

    signal(SIGPIPE, SIG_IGN);
    if (cg_options_parse(&table, &cfg, &help, argc, argv, environ, &err) != CG_OK) {
        fprintf(stderr, "ceiling_h2o: %s\n", err.msg);
        rc = 2;
        goto out;
    }
    if (help) {
        struct cg_buf b;
        cg_buf_init(&b, 0);
        cg_options_usage(&table, &b);
        printf("Usage: ceiling_h2o [options]\n\n%.*s", (int)b.len, b.data ? b.data : "");
        cg_buf_dispose(&b);
        rc = 0;
        goto out;
    }
    if (cg_tls_ctx_load(cfg.cert, cfg.key, false, &ssl, NULL, 0, &err) != CG_OK) {
        fprintf(stderr, "ceiling_h2o: %s\n", err.msg);
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t len = 0;
    if (cg_server_addr_parse(cfg.listen, &ss, &len, &err) != CG_OK) {
        fprintf(stderr, "ceiling_h2o: %s\n", err.msg);
        rc = 2;
        goto out;
    }

    h2o_config_init(&gconf);
    gconf.server_name = h2o_iovec_init("", 0);
    gconf.max_request_entity_size = MAX_BODY;
    gconf.http1.req_timeout = IDLE_TIMEOUT_MS;
    gconf.http1.upgrade_to_http2 = 0;
    gconf.http2.idle_timeout = IDLE_TIMEOUT_MS;
    gconf.handshake_timeout = HANDSHAKE_TIMEOUT_MS;
    h2o_hostconf_t *host =
        h2o_config_register_host(&gconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(path, sizeof(*h));
    h->on_req = on_req;

    /* Signals are taken by this thread; the workers inherit the blocked mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    workers = calloc((size_t)cfg.threads, sizeof(*workers));
    if (workers == NULL)
        abort();
    for (long i = 0; i < cfg.threads; i++) {
        workers[i].accept_ctx.ssl_ctx = ssl;
        workers[i].listen_fd = make_listener(&ss, len, cfg.listen);
        if (workers[i].listen_fd < 0)
            goto out;
    }
    for (long i = 0; i < cfg.threads; i++) {
        int e = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
        if (e != 0) {
            fprintf(stderr, "ceiling_h2o: pthread_create: %s\n", strerror(e));
            goto out;
        }
        workers[i].thread_started = true;
    }
    fprintf(stderr, "ceiling_h2o: listening on %s, %ld thread(s)\n", cfg.listen, cfg.threads);
    int sig = 0;
    sigwait(&sigs, &sig);
    rc = 0;
out:
    atomic_store_explicit(&stopping, 1, memory_order_release);
    for (long i = 0; workers != NULL && i < cfg.threads; i++)
        if (workers[i].thread_started)
            pthread_join(workers[i].thread, NULL);
    /* The loops and contexts end with the process. */
    free(workers);
    SSL_CTX_free(ssl);
    cg_options_dispose(&table, &cfg);
    return rc;
}
