/* End to end: the real cellgate-webhook binary on 127.0.0.1 with certificates freshly made
 * by certs/gen-dev-certs, driven by real clients: curl over HTTP/1.1 and HTTP/2, h2load for
 * a burst, and a small OpenSSL keep-alive client of our own where the test must hold a
 * connection open (certificate rotation, SIGTERM). Every process started here is stopped
 * by its PID; every wait is bounded. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "test_support.h"

extern char **environ;

#define FIXTURES CG_FIXTURES "/kube-apiserver-1.26"
#define GEN_CERTS CG_SOURCE_DIR "/certs/gen-dev-certs"
#define WEBHOOK CG_BINARY_DIR "/cellgate-webhook"
#define WAIT_MS 15000

/* ---- processes ---- */

struct proc {
    pid_t pid;
    int status;
    bool exited;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits for p up to timeout seconds; true when it exited. */
static bool proc_wait(struct proc *p, double timeout)
{
    if (p->exited)
        return true;
    double end = now_s() + timeout;
    do {
        pid_t r = waitpid(p->pid, &p->status, WNOHANG);
        if (r == p->pid) {
            p->exited = true;
            return true;
        }
        sleep_ms(10);
    } while (now_s() < end);
    return false;
}

/* Runs argv with stdout captured (NUL-terminated, caller frees) and stderr to errpath (or
 * /dev/null); returns the exit code, -1 on a signal or timeout (then killed). */
static int run_capture(const char *const *argv, char **out, const char *errpath, double timeout)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 2, errpath ? errpath : "/dev/null",
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    struct proc p = {0};
    int rc = posix_spawn(&p.pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    assert_int_equal(rc, 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    double end = now_s() + timeout;
    for (;;) {
        if (len + 1024 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = read(fds[0], buf + len, cap - len - 1);
        if (n > 0) {
            len += (size_t)n;
            continue;
        }
        if (n == 0)
            break;
        if (now_s() > end) {
            kill(p.pid, SIGKILL);
            break;
        }
        sleep_ms(2);
    }
    close(fds[0]);
    buf[len] = '\0';
    if (!proc_wait(&p, timeout)) {
        kill(p.pid, SIGKILL);
        proc_wait(&p, 5);
    }
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(p.status) ? WEXITSTATUS(p.status) : -1;
}

static void run_ok(const char *const *argv)
{
    char *out = NULL;
    int rc = run_capture(argv, &out, NULL, 30);
    if (rc != 0)
        fail_msg("%s failed (%d): %s", argv[0], rc, out);
    free(out);
}

/* ---- the world: certificates, policies, servers ---- */

struct server {
    struct proc proc;
    int port, mport;
    char log[512];
};

struct world {
    char dir[64];
    char ca[512];
    char certdir[512]; /* Secret-like mount: tls.crt -> ..data/tls.crt */
    char cert[600], key[600];
    char policies[512];
    struct server main, http2, limits; /* all killed at teardown if still running */
};

static struct world W;

static const char *wpath(const char *rel)
{
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", W.dir, rel);
    return buf[i];
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void gen_certs(const char *sub, bool reuse_ca)
{
    if (reuse_ca) {
        mkdir(wpath(sub), 0755);
        char ca_crt[600], ca_key[600];
        snprintf(ca_crt, sizeof(ca_crt), "%s/%s/ca.crt", W.dir, sub);
        snprintf(ca_key, sizeof(ca_key), "%s/%s/ca.key", W.dir, sub);
        const char *cp1[] = {"/bin/cp", wpath("v1/ca.crt"), ca_crt, NULL};
        run_ok(cp1);
        const char *cp2[] = {"/bin/cp", wpath("v1/ca.key"), ca_key, NULL};
        run_ok(cp2);
        const char *argv[] = {GEN_CERTS, "-q", "--force", "--reuse-ca", "-o", wpath(sub), NULL};
        run_ok(argv);
    } else {
        const char *argv[] = {GEN_CERTS, "-o", wpath(sub), NULL};
        char *out = NULL;
        assert_int_equal(run_capture(argv, &out, NULL, 30), 0);
        /* It prints the caBundle: base64 of ca.crt. */
        char *ca = cg_test_read_file(wpath("v1/ca-bundle.b64"), NULL);
        assert_non_null(strstr(out, ca));
        assert_true(strlen(ca) > 100);
        free(ca);
        free(out);
    }
}

static void point_certs_at(const char *sub)
{
    char tmp[600], data[600], target[600];
    snprintf(tmp, sizeof(tmp), "%s/..data_tmp", W.certdir);
    snprintf(data, sizeof(data), "%s/..data", W.certdir);
    snprintf(target, sizeof(target), "%s/%s", W.dir, sub);
    unlink(tmp);
    assert_int_equal(symlink(target, tmp), 0);
    assert_int_equal(rename(tmp, data), 0);
}

/* The serial number of x in hex (caller frees); takes x (frees it). */
static char *serial_hex(X509 *x)
{
    assert_non_null(x);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = BN_bn2hex(bn);
    char *s = strdup(hex);
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
    return s;
}

static char *cert_serial_of_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return serial_hex(x);
}

/* Starts the server with the common flags plus extra (NULL-terminated, may be NULL); the
 * policy directory is passed through CELLGATE_POLICIES to cover the environment path. */
static void server_start_with(struct server *s, const char *name, const char *const *extra,
                              const char *policies)
{
    s->port = free_port();
    s->mport = free_port();
    snprintf(s->log, sizeof(s->log), "%s/%s.log", W.dir, name);
    char listen[64], mlisten[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
    snprintf(mlisten, sizeof(mlisten), "127.0.0.1:%d", s->mport);
    const char *argv[40] = {WEBHOOK, "--listen", listen, "--metrics-listen",   mlisten, "--cert",
                            W.cert,  "--key",    W.key,  "--shutdown-timeout", "8"};
    size_t k = 11;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && k < 39; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof(*envp));
    memcpy(envp, environ, n * sizeof(*envp));
    char envpol[600];
    snprintf(envpol, sizeof(envpol), "CELLGATE_POLICIES=%s", policies);
    envp[n] = envpol;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    memset(&s->proc, 0, sizeof(s->proc));
    int rc = posix_spawn(&s->proc.pid, WEBHOOK, &fa, NULL, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    assert_int_equal(rc, 0);
}

static void server_start(struct server *s, const char *name, bool http2)
{
    const char *extra[] = {"--threads", "2", http2 ? "--http2" : NULL, NULL};
    server_start_with(s, name, extra, W.policies);
}

static void server_kill(struct server *s)
{
    if (s->proc.pid > 0 && !s->proc.exited) {
        kill(s->proc.pid, SIGKILL);
        proc_wait(&s->proc, 5);
    }
}

/* ---- curl ---- */

struct http {
    int status;
    char *body; /* what curl wrote to stdout minus the status line we appended */
    char *headers;
};

static void http_free(struct http *h)
{
    free(h->body);
    free(h->headers);
    memset(h, 0, sizeof(*h));
}

/* curl [extra...] URL; the status code comes from -w, response headers from -D. */
static struct http curl(const char *const *extra, const char *url)
{
    const char *argv[40];
    size_t n = 0;
    static char hdrfile[600];
    snprintf(hdrfile, sizeof(hdrfile), "%s/curl-headers", W.dir);
    unlink(hdrfile);
    argv[n++] = "/usr/bin/curl";
    argv[n++] = "-sS";
    argv[n++] = "--max-time";
    argv[n++] = "20";
    argv[n++] = "--cacert";
    argv[n++] = W.ca;
    argv[n++] = "-D";
    argv[n++] = hdrfile;
    argv[n++] = "-w";
    argv[n++] = "\n%{http_code}";
    for (size_t i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n++] = url;
    argv[n] = NULL;
    struct http h = {0};
    char *out = NULL;
    int rc = run_capture(argv, &out, NULL, 30);
    if (rc != 0)
        fail_msg("curl %s exited %d", url, rc);
    char *nl = strrchr(out, '\n');
    assert_non_null(nl);
    h.status = atoi(nl + 1);
    *nl = '\0';
    h.body = out;
    struct stat sb;
    h.headers = stat(hdrfile, &sb) == 0 ? cg_test_read_file(hdrfile, NULL) : strdup("");
    return h;
}

static const char *url(struct server *s, bool tls, const char *path)
{
    static char buf[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s://127.0.0.1:%d%s", tls ? "https" : "http",
             tls ? s->port : s->mport, path);
    return buf[i];
}

static int get_status(struct server *s, bool tls, const char *path)
{
    struct http h = curl(NULL, url(s, tls, path));
    int st = h.status;
    http_free(&h);
    return st;
}

/* Polls path until it answers want (connection errors are retried), bounded. */
static void wait_status(struct server *s, bool tls, const char *path, int want)
{
    char code[8];
    snprintf(code, sizeof(code), "%d", want);
    double end = now_s() + WAIT_MS / 1000.0;
    while (now_s() < end) {
        if (s->proc.exited || proc_wait(&s->proc, 0))
            fail_msg("server exited early; see %s", s->log);
        const char *argv[] = {"/usr/bin/curl",   "-s",         "-o", "/dev/null", "-w",
                              "%{http_code}",    "--max-time", "2",  "--cacert",  W.ca,
                              url(s, tls, path), NULL};
        char *out = NULL;
        run_capture(argv, &out, NULL, 5);
        bool ok = strcmp(out, code) == 0;
        free(out);
        if (ok)
            return;
        sleep_ms(50);
    }
    fail_msg("%s never answered %d; see %s", path, want, s->log);
}

static void wait_ready(struct server *s)
{
    wait_status(s, false, "/readyz", 200);
}

/* The value of a metrics series (exact series text), -1 when absent. */
static double metric(struct server *s, const char *series)
{
    struct http h = curl(NULL, url(s, false, "/metrics"));
    assert_int_equal(h.status, 200);
    double v = -1;
    size_t n = strlen(series);
    for (char *p = h.body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            v = strtod(p + n + 1, NULL);
    http_free(&h);
    return v;
}

static void wait_metric_at_least(struct server *s, const char *series, double want)
{
    double end = now_s() + WAIT_MS / 1000.0, v = -1;
    while (now_s() < end) {
        v = metric(s, series);
        if (v >= want)
            return;
        sleep_ms(100);
    }
    fail_msg("%s stayed at %g, wanted %g", series, v, want);
}

/* ---- a keep-alive HTTP/1.1 client over OpenSSL ---- */

struct conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char buf[65536];
    size_t have;
};

static struct conn *conn_open_timeout(int port, int timeout_s)
{
    struct conn *c = calloc(1, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {timeout_s, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(c->fd);
        free(c);
        return NULL;
    }
    c->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(c->ctx, W.ca, NULL);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    c->ssl = SSL_new(c->ctx);
    SSL_set1_host(c->ssl, "127.0.0.1");
    SSL_set_fd(c->ssl, c->fd);
    if (SSL_connect(c->ssl) != 1 || SSL_get_verify_result(c->ssl) != X509_V_OK) {
        SSL_free(c->ssl);
        SSL_CTX_free(c->ctx);
        close(c->fd);
        free(c);
        return NULL;
    }
    return c;
}

static struct conn *conn_open(int port)
{
    return conn_open_timeout(port, 10);
}

static void conn_close(struct conn *c)
{
    if (c == NULL)
        return;
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    close(c->fd);
    free(c);
}

static char *conn_serial(struct conn *c)
{
    return serial_hex(SSL_get1_peer_certificate(c->ssl));
}

/* Writes one request entirely; false on a write error. */
static bool conn_send(struct conn *c, const char *method, const char *path, const char *body,
                      size_t len)
{
    /* One write per request, so Nagle's algorithm never waits for a delayed ACK. */
    size_t cap = 512 + len;
    char *head = malloc(cap);
    int n = snprintf(head, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: kube-apiserver-admission\r\n"
                     "Content-Type: application/json\r\nAccept: application/json, */*\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, len);
    memcpy(head + n, body, len);
    int total = n + (int)len;
    bool ok = SSL_write(c->ssl, head, total) == total;
    free(head);
    return ok;
}

/* Reads one response: status (or -1 on EOF/error), body in *body (caller frees, may be
 * NULL), *closing when the server said Connection: close. */
static int conn_recv(struct conn *c, char **body, bool *closing)
{
    char *end = NULL;
    for (;;) {
        c->buf[c->have] = '\0';
        end = strstr(c->buf, "\r\n\r\n");
        if (end != NULL)
            break;
        if (c->have >= sizeof(c->buf) - 1)
            return -1;
        int n = SSL_read(c->ssl, c->buf + c->have, (int)(sizeof(c->buf) - 1 - c->have));
        if (n <= 0)
            return -1;
        c->have += (size_t)n;
    }
    size_t hlen = (size_t)(end - c->buf) + 4;
    int status = atoi(c->buf + 9);
    size_t clen = 0;
    bool close_ = false;
    for (char *line = strstr(c->buf, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "content-length:", 15) == 0)
            clen = strtoul(line + 15, NULL, 10);
        if (strncasecmp(line, "connection:", 11) == 0 && strstr(line, "close") != NULL &&
            strstr(line, "close") < strstr(line, "\r\n"))
            close_ = true;
    }
    while (c->have < hlen + clen) {
        if (hlen + clen >= sizeof(c->buf))
            return -1;
        int n = SSL_read(c->ssl, c->buf + c->have, (int)(sizeof(c->buf) - 1 - c->have));
        if (n <= 0)
            return -1;
        c->have += (size_t)n;
    }
    if (body) {
        *body = malloc(clen + 1);
        memcpy(*body, c->buf + hlen, clen);
        (*body)[clen] = '\0';
    }
    memmove(c->buf, c->buf + hlen + clen, c->have - hlen - clen);
    c->have -= hlen + clen;
    if (closing)
        *closing = close_;
    return status;
}

/* ---- fixtures ---- */

struct fixture {
    char name[256];
    char *body;
    size_t len;
    char uid[128];
};

static struct fixture fixtures[32];
static size_t n_fixtures;

static void load_fixtures(void)
{
    DIR *d = opendir(FIXTURES);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n_fixtures < 32) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", FIXTURES, e->d_name);
        json_error_t jerr;
        json_t *doc = json_load_file(path, 0, &jerr);
        assert_non_null(doc);
        const char *uid =
            json_string_value(json_object_get(json_object_get(doc, "request"), "uid"));
        if (uid != NULL &&
            strcmp(json_string_value(json_object_get(doc, "kind")), "AdmissionReview") == 0) {
            struct fixture *f = &fixtures[n_fixtures++];
            snprintf(f->name, sizeof(f->name), "%s", e->d_name);
            snprintf(f->uid, sizeof(f->uid), "%s", uid);
            f->body = cg_test_read_file(path, &f->len);
        }
        json_decref(doc);
    }
    closedir(d);
    assert_true(n_fixtures >= 9);
}

/* The response must be an AdmissionReview v1 with response.uid == uid. */
static void check_review(const char *body, const char *uid, const char *what)
{
    json_error_t jerr;
    json_t *doc = json_loads(body, 0, &jerr);
    if (doc == NULL)
        fail_msg("%s: response is not JSON: %s", what, body);
    assert_string_equal(json_string_value(json_object_get(doc, "apiVersion")),
                        "admission.k8s.io/v1");
    assert_string_equal(json_string_value(json_object_get(doc, "kind")), "AdmissionReview");
    json_t *resp = json_object_get(doc, "response");
    const char *got = json_string_value(json_object_get(resp, "uid"));
    if (got == NULL || strcmp(got, uid) != 0)
        fail_msg("%s: response uid %s, want %s", what, got ? got : "(none)", uid);
    assert_true(json_is_boolean(json_object_get(resp, "allowed")));
    json_decref(doc);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(W.dir, sizeof(W.dir), "/tmp/cg-e2e-XXXXXX");
    assert_non_null(mkdtemp(W.dir));
    gen_certs("v1", false);
    gen_certs("v2", true);
    gen_certs("v3", true);
    gen_certs("v4", true);
    /* v3 is a bad pair: v3's certificate with v2's key. */
    const char *cp[] = {"/bin/cp", wpath("v2/tls.key"), wpath("v3/tls.key"), NULL};
    run_ok(cp);
    snprintf(W.ca, sizeof(W.ca), "%s/v1/ca.crt", W.dir);
    snprintf(W.certdir, sizeof(W.certdir), "%s/tls", W.dir);
    mkdir(W.certdir, 0755);
    point_certs_at("v1");
    snprintf(W.cert, sizeof(W.cert), "%s/tls.crt", W.certdir);
    snprintf(W.key, sizeof(W.key), "%s/tls.key", W.certdir);
    assert_int_equal(symlink("..data/tls.crt", W.cert), 0);
    assert_int_equal(symlink("..data/tls.key", W.key), 0);

    /* The shipped policies, copied so the test can break and repair them. */
    snprintf(W.policies, sizeof(W.policies), "%s/policies", W.dir);
    const char *cpp[] = {"/bin/cp", "-r", CG_SOURCE_DIR "/policies", W.policies, NULL};
    run_ok(cpp);

    load_fixtures();
    server_start(&W.main, "main", false);
    wait_ready(&W.main);
    return 0;
}

static int group_teardown(void **state)
{
    server_kill(&W.main);
    server_kill(&W.http2);
    server_kill(&W.limits);
    for (size_t i = 0; i < n_fixtures; i++)
        free(fixtures[i].body);
    if (getenv("CG_E2E_KEEP") == NULL) {
        const char *rm[] = {"/bin/rm", "-rf", W.dir, NULL};
        run_capture(rm, NULL, NULL, 30);
    } else {
        fprintf(stderr, "kept %s\n", W.dir);
    }
    return 0;
}

/* ---- tests ---- */

static void test_gen_dev_certs(void **state)
{
    /* Refuses to overwrite, --force overwrites, --help documents. */
    const char *again[] = {GEN_CERTS, "-q", "-o", wpath("v1"), NULL};
    char *out = NULL;
    assert_int_not_equal(run_capture(again, &out, wpath("gen.err"), 30), 0);
    free(out);
    char *err = cg_test_read_file(wpath("gen.err"), NULL);
    assert_non_null(strstr(err, "--force"));
    free(err);
    const char *help[] = {GEN_CERTS, "--help", NULL};
    assert_int_equal(run_capture(help, &out, NULL, 30), 0);
    assert_non_null(strstr(out, "--force"));
    assert_non_null(strstr(out, "ca-bundle.b64"));
    free(out);
    const char *bad[] = {GEN_CERTS, "--bogus", NULL};
    assert_int_not_equal(run_capture(bad, NULL, NULL, 30), 0);

    const char *force[] = {GEN_CERTS, "-q",       "--force", "--dns",         "extra.example",
                           "--ip",    "10.1.2.3", "-o",      wpath("forced"), NULL};
    run_ok(force);
    const char *x509[] = {"/usr/bin/openssl",      "x509", "-noout", "-text", "-in",
                          wpath("forced/tls.crt"), NULL};
    assert_int_equal(run_capture(x509, &out, NULL, 30), 0);
    static const char *want[] = {"DNS:cellgate-webhook.cellgate-system.svc,",
                                 "DNS:cellgate-webhook.cellgate-system.svc.cluster.local",
                                 "DNS:localhost",
                                 "IP Address:127.0.0.1",
                                 "DNS:extra.example",
                                 "IP Address:10.1.2.3",
                                 "prime256v1",
                                 "TLS Web Server Authentication"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(out, want[i]) == NULL)
            fail_msg("certificate lacks %s", want[i]);
    free(out);
    /* The chain verifies against the CA; the key is private. */
    const char *verify[] = {"/usr/bin/openssl",      "verify",     "-CAfile",
                            wpath("forced/ca.crt"),  "-untrusted", wpath("forced/tls.crt"),
                            wpath("forced/tls.crt"), NULL};
    run_ok(verify);
    struct stat sb;
    assert_int_equal(stat(wpath("forced/tls.key"), &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0);
}

static void post_all_fixtures(struct server *s, const char *proto_flag, const char *want_version)
{
    static const char *paths[] = {"/mutate?timeout=10s", "/validate?timeout=10s"};
    for (size_t i = 0; i < n_fixtures; i++) {
        char data[700];
        snprintf(data, sizeof(data), "@%s/%s", FIXTURES, fixtures[i].name);
        for (size_t p = 0; p < 2; p++) {
            const char *extra[] = {proto_flag,      "-H", "Content-Type: application/json",
                                   "--data-binary", data, NULL};
            struct http h = curl(extra, url(s, true, paths[p]));
            if (h.status != 200)
                fail_msg("%s %s: HTTP %d: %s", fixtures[i].name, paths[p], h.status, h.body);
            check_review(h.body, fixtures[i].uid, fixtures[i].name);
            if (strncmp(h.headers, want_version, strlen(want_version)) != 0)
                fail_msg("%s: wanted %s, got %.20s", fixtures[i].name, want_version, h.headers);
            assert_non_null(strcasestr(h.headers, "content-type: application/json"));
            assert_non_null(strcasestr(h.headers, "content-length:"));
            http_free(&h);
        }
    }
}

static void test_fixtures_http1(void **state)
{
    post_all_fixtures(&W.main, "--http1.1", "HTTP/1.1 200");
    /* HTTP/2 is off by default: curl asking for it gets HTTP/1.1. */
    const char *extra[] = {"--http2", NULL};
    struct http h = curl(extra, url(&W.main, true, "/healthz"));
    assert_int_equal(h.status, 200);
    assert_true(strncmp(h.headers, "HTTP/1.1", 8) == 0);
    http_free(&h);
    /* No kubeconfig, not in a cluster: standalone, ready at once, and it says so. */
    h = curl(NULL, url(&W.main, false, "/readyz"));
    assert_int_equal(h.status, 200);
    assert_non_null(strstr(h.body, "pods: standalone"));
    http_free(&h);
    assert_true(metric(&W.main, "cellgate_pod_cache_synced") == 1);
    assert_true(metric(&W.main, "cellgate_pod_cache_pods") == 0);
}

static void test_keepalive_reuse(void **state)
{
    /* One connection, many requests (the apiserver's pattern). */
    struct conn *c = conn_open(W.main.port);
    assert_non_null(c);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < n_fixtures; i++) {
            assert_true(
                conn_send(c, "POST", "/validate?timeout=5s", fixtures[i].body, fixtures[i].len));
            char *body = NULL;
            bool closing = true;
            assert_int_equal(conn_recv(c, &body, &closing), 200);
            assert_false(closing);
            check_review(body, fixtures[i].uid, fixtures[i].name);
            free(body);
        }
    }
    conn_close(c);
}

static void expect_error(const char *const *extra, const char *path, int want_status,
                         const char *body_needle)
{
    struct http h = curl(extra, url(&W.main, true, path));
    if (h.status != want_status)
        fail_msg("%s: HTTP %d (want %d): %s", path, h.status, want_status, h.body);
    if (body_needle != NULL && strcasestr(h.body, body_needle) == NULL)
        fail_msg("%s: body '%s' lacks '%s'", path, h.body, body_needle);
    if (want_status != 413)
        assert_non_null(strcasestr(h.headers, "content-type: text/plain"));
    http_free(&h);
}

static void test_bad_inputs(void **state)
{
    const char *ct = "Content-Type: application/json";
    char path_trunc[600], path_big[600], path_nr[600];

    const char *malformed[] = {"-H", ct, "--data-binary", "{\"apiVersion\": ", NULL};
    expect_error(malformed, "/mutate", 400, NULL);
    const char *garbage[] = {"-H", ct, "--data-binary", "not json at all", NULL};
    expect_error(garbage, "/validate", 400, NULL);

    /* Truncated: the first half of a real review. */
    snprintf(path_trunc, sizeof(path_trunc), "%s/truncated.json", W.dir);
    FILE *f = fopen(path_trunc, "w");
    fwrite(fixtures[0].body, 1, fixtures[0].len / 2, f);
    fclose(f);
    char at_trunc[610];
    snprintf(at_trunc, sizeof(at_trunc), "@%s", path_trunc);
    const char *trunc[] = {"-H", ct, "--data-binary", at_trunc, NULL};
    expect_error(trunc, "/mutate", 400, NULL);

    /* 4 MiB, over the 3 MiB cap: by Content-Length, and chunked. */
    snprintf(path_big, sizeof(path_big), "%s/big.json", W.dir);
    f = fopen(path_big, "w");
    fputs("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"x\":\"", f);
    for (int i = 0; i < 4 * 1024; i++) {
        char kb[1024];
        memset(kb, 'a', sizeof(kb));
        fwrite(kb, 1, sizeof(kb), f);
    }
    fputs("\"}", f);
    fclose(f);
    char at_big[610];
    snprintf(at_big, sizeof(at_big), "@%s", path_big);
    const char *big[] = {"-H", ct, "--data-binary", at_big, NULL};
    expect_error(big, "/mutate", 413, NULL);
    const char *big_chunked[] = {"-H",   ct,  "-H", "Transfer-Encoding: chunked", "--data-binary",
                                 at_big, NULL};
    expect_error(big_chunked, "/validate", 413, NULL);

    const char *get[] = {NULL};
    struct http h = curl(get, url(&W.main, true, "/mutate"));
    assert_int_equal(h.status, 405);
    assert_non_null(strcasestr(h.headers, "allow: POST"));
    http_free(&h);
    const char *put_health[] = {"-X", "PUT", NULL};
    expect_error(put_health, "/healthz", 405, NULL);

    const char *text[] = {"-H", "Content-Type: text/plain", "--data-binary",
                          "@" FIXTURES "/Pod-CREATE.json", NULL};
    expect_error(text, "/mutate", 415, "application/json");
    const char *noct[] = {"-H", "Content-Type:", "--data-binary", "@" FIXTURES "/Pod-CREATE.json",
                          NULL};
    expect_error(noct, "/validate", 415, NULL);

    const char *not_review[] = {"-H", ct, "--data-binary", "{\"hello\":\"world\"}", NULL};
    expect_error(not_review, "/mutate", 400, NULL);
    const char *array[] = {"-H", ct, "--data-binary", "[1,2,3]", NULL};
    expect_error(array, "/validate", 400, NULL);

    snprintf(path_nr, sizeof(path_nr), "%s/norequest.json", W.dir);
    f = fopen(path_nr, "w");
    fputs("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", f);
    fclose(f);
    char at_nr[610];
    snprintf(at_nr, sizeof(at_nr), "@%s", path_nr);
    const char *norequest[] = {"-H", ct, "--data-binary", at_nr, NULL};
    expect_error(norequest, "/mutate", 400, "request");

    const char *empty[] = {"-H", ct, "-X", "POST", "--data-binary", "", NULL};
    expect_error(empty, "/mutate", 400, "empty");

    const char *post[] = {"-H", ct, "--data-binary", "{}", NULL};
    expect_error(post, "/nope", 404, NULL);
    expect_error(NULL, "/metrics", 404, NULL); /* metrics live on the plain port only */

    /* Still healthy, still answering. */
    assert_int_equal(get_status(&W.main, true, "/healthz"), 200);
    assert_int_equal(get_status(&W.main, true, "/readyz"), 200);
    assert_int_equal(get_status(&W.main, false, "/healthz"), 200);
    post_all_fixtures(&W.main, "--http1.1", "HTTP/1.1 200");
    assert_false(proc_wait(&W.main.proc, 0));
}

static void test_http2(void **state)
{
    struct server *s2 = &W.http2;
    server_start(s2, "http2", true);
    wait_ready(s2);
    post_all_fixtures(s2, "--http2", "HTTP/2 200");
    /* HTTP/1.1 still works on the same port. */
    post_all_fixtures(s2, "--http1.1", "HTTP/1.1 200");

    /* A short bounded burst with h2load: every request answered 200. */
    char port[16], uri[128], hdr[] = "content-type: application/json";
    snprintf(port, sizeof(port), "%d", s2->port);
    snprintf(uri, sizeof(uri), "https://127.0.0.1:%d/mutate", s2->port);
    const char *h2load[] = {
        "/usr/bin/h2load",           "-n", "400", "-c", "4", "-m", "8", "-H", hdr, "-d",
        FIXTURES "/Pod-CREATE.json", uri,  NULL};
    char *out = NULL;
    assert_int_equal(run_capture(h2load, &out, NULL, 60), 0);
    if (strstr(out, "400 succeeded, 0 failed, 0 errored") == NULL || strstr(out, "400 2xx") == NULL)
        fail_msg("h2load: %s", out);
    free(out);
    char m[128];
    snprintf(m, sizeof(m),
             "cellgate_admission_reviews_total{path=\"/mutate\",kind=\"Pod\","
             "operation=\"CREATE\",decision=\"allowed\"}");
    assert_true(metric(s2, m) >= 400);

    kill(s2->proc.pid, SIGTERM);
    assert_true(proc_wait(&s2->proc, 12));
    assert_true(WIFEXITED(s2->proc.status));
    assert_int_equal(WEXITSTATUS(s2->proc.status), 0);
}

static void test_cert_rotation(void **state)
{
    char *s1 = cert_serial_of_file(wpath("v1/tls.crt"));
    char *s2 = cert_serial_of_file(wpath("v2/tls.crt"));
    char *s4 = cert_serial_of_file(wpath("v4/tls.crt"));
    assert_string_not_equal(s1, s2);

    struct conn *old = conn_open(W.main.port);
    assert_non_null(old);
    char *seen = conn_serial(old);
    assert_string_equal(seen, s1);
    free(seen);
    assert_true(conn_send(old, "POST", "/mutate", fixtures[0].body, fixtures[0].len));
    assert_int_equal(conn_recv(old, NULL, NULL), 200);

    double ok0 = metric(&W.main, "cellgate_tls_reloads_total{result=\"ok\"}");
    point_certs_at("v2");
    wait_metric_at_least(&W.main, "cellgate_tls_reloads_total{result=\"ok\"}", ok0 + 1);

    /* The open connection keeps working... */
    for (int i = 0; i < 3; i++) {
        assert_true(conn_send(old, "POST", "/validate", fixtures[1].body, fixtures[1].len));
        char *body = NULL;
        assert_int_equal(conn_recv(old, &body, NULL), 200);
        check_review(body, fixtures[1].uid, "after rotation");
        free(body);
    }
    /* ...and a new one sees the new certificate (every worker thread: several tries). */
    for (int i = 0; i < 6; i++) {
        struct conn *c = conn_open(W.main.port);
        assert_non_null(c);
        seen = conn_serial(c);
        assert_string_equal(seen, s2);
        free(seen);
        conn_close(c);
    }
    struct http h = curl(NULL, url(&W.main, false, "/readyz"));
    assert_int_equal(h.status, 200);
    assert_non_null(strstr(h.body, s2));
    http_free(&h);

    /* A bad pair is refused and the current one kept. */
    double err0 = metric(&W.main, "cellgate_tls_reloads_total{result=\"error\"}");
    point_certs_at("v3");
    wait_metric_at_least(&W.main, "cellgate_tls_reloads_total{result=\"error\"}", err0 + 1);
    for (int i = 0; i < 4; i++) {
        struct conn *c = conn_open(W.main.port);
        assert_non_null(c);
        seen = conn_serial(c);
        assert_string_equal(seen, s2);
        free(seen);
        conn_close(c);
    }
    h = curl(NULL, url(&W.main, false, "/readyz"));
    assert_int_equal(h.status, 200);
    assert_non_null(strstr(h.body, "last reload failed"));
    http_free(&h);
    assert_true(conn_send(old, "POST", "/mutate", fixtures[2].body, fixtures[2].len));
    assert_int_equal(conn_recv(old, NULL, NULL), 200);

    /* A good pair again. */
    double ok1 = metric(&W.main, "cellgate_tls_reloads_total{result=\"ok\"}");
    point_certs_at("v4");
    wait_metric_at_least(&W.main, "cellgate_tls_reloads_total{result=\"ok\"}", ok1 + 1);
    struct conn *c = conn_open(W.main.port);
    assert_non_null(c);
    seen = conn_serial(c);
    assert_string_equal(seen, s4);
    free(seen);
    conn_close(c);
    conn_close(old);
    free(s1);
    free(s2);
    free(s4);
}

static void test_sighup_and_policy_reload(void **state)
{
    const char *pol_ok = "cellgate_policy_reloads_total{result=\"ok\"}";
    const char *pol_err = "cellgate_policy_reloads_total{result=\"error\"}";
    const char *tls_ok = "cellgate_tls_reloads_total{result=\"ok\"}";
    double p0 = metric(&W.main, pol_ok), t0 = metric(&W.main, tls_ok);
    assert_true(metric(&W.main, "cellgate_policies_loaded") >= 1);
    /* Nothing changed on disk: only SIGHUP makes these move. */
    assert_int_equal(kill(W.main.proc.pid, SIGHUP), 0);
    wait_metric_at_least(&W.main, pol_ok, p0 + 1);
    wait_metric_at_least(&W.main, tls_ok, t0 + 1);

    /* A broken policy file: refused, the last good set serves on, /readyz says why. */
    double e0 = metric(&W.main, pol_err);
    char broken[600];
    snprintf(broken, sizeof(broken), "%s/broken.yaml", W.policies);
    FILE *f = fopen(broken, "w");
    fputs("apiVersion: cellgate.io/v1\nkind: ReleasePolicy\nmetadata:\n  name: broken\n"
          "spec:\n  enforcement: sometimes\n",
          f);
    fclose(f);
    wait_metric_at_least(&W.main, pol_err, e0 + 1);
    struct http h = curl(NULL, url(&W.main, false, "/readyz"));
    assert_int_equal(h.status, 200);
    assert_non_null(strstr(h.body, "broken.yaml"));
    http_free(&h);
    const char *extra[] = {"-H", "Content-Type: application/json", "--data-binary",
                           "@" FIXTURES "/Deployment-UPDATE.json", NULL};
    h = curl(extra, url(&W.main, true, "/validate"));
    assert_int_equal(h.status, 200);
    http_free(&h);

    double p1 = metric(&W.main, pol_ok);
    assert_int_equal(unlink(broken), 0);
    wait_metric_at_least(&W.main, pol_ok, p1 + 1);
    h = curl(NULL, url(&W.main, true, "/readyz"));
    assert_int_equal(h.status, 200);
    assert_null(strstr(h.body, "failed"));
    http_free(&h);
}

static void test_metrics_counts(void **state)
{
    static const char *reasons[] = {"method_not_allowed", "unsupported_media_type", "empty_body",
                                    "body_too_large", "not_found"};
    char series[256];
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        snprintf(series, sizeof(series), "cellgate_admission_errors_total{reason=\"%s\"}",
                 reasons[i]);
        if (metric(&W.main, series) < 1)
            fail_msg("%s not counted", series);
    }
    /* body_too_large twice: Content-Length and chunked. */
    assert_true(metric(&W.main, "cellgate_admission_errors_total{reason=\"body_too_large\"}") >= 2);
    /* Every fixture went to both routes at least twice (HTTP/1.1 twice). */
    double pods = metric(&W.main, "cellgate_admission_reviews_total{path=\"/mutate\",kind=\"Pod\","
                                  "operation=\"CREATE\",decision=\"allowed\"}");
    assert_true(pods >= 2);
    double total = metric(&W.main, "cellgate_admission_duration_seconds_count{path=\"/validate\"}");
    assert_true(total >= 2.0 * (double)n_fixtures);
    assert_true(metric(&W.main, "cellgate_admission_duration_seconds_bucket{path=\"/validate\","
                                "le=\"+Inf\"}") == total);
    /* Review log lines carry the contract's fields. */
    char *log = cg_test_read_file(W.main.log, NULL);
    char *line = strstr(log, "\"msg\":\"review\"");
    assert_non_null(line);
    static const char *fields[] = {"\"ts\":",        "\"level\":",  "\"uid\":",        "\"kind\":",
                                   "\"namespace\":", "\"name\":",   "\"operation\":",  "\"user\":",
                                   "\"decision\":",  "\"policy\":", "\"duration_us\":"};
    char *eol = strchr(line, '\n');
    *eol = '\0';
    char *start = line;
    while (start > log && start[-1] != '\n')
        start--;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strstr(start, fields[i]) == NULL)
            fail_msg("review log line lacks %s: %s", fields[i], start);
    free(log);
}

/* A server with no policy yet, one thread, two connections at most and a 1 s read timeout:
 * not ready (and reviews refused) until a policy arrives; the connection bound holds; a
 * request that trickles in is cut while an idle keep-alive connection is not. */
static void test_readiness_and_limits(void **state)
{
    char empty[600];
    snprintf(empty, sizeof(empty), "%s/late-policies", W.dir);
    mkdir(empty, 0755);
    struct server *s = &W.limits;
    const char *extra[] = {"--threads", "1", "--max-connections", "2", "--read-timeout", "1", NULL};
    server_start_with(s, "limits", extra, empty);
    /* Serving, but not ready, and it says why. */
    wait_status(s, false, "/healthz", 200);
    struct http h = curl(NULL, url(s, false, "/readyz"));
    assert_int_equal(h.status, 503);
    assert_non_null(strstr(h.body, "policies: not loaded"));
    assert_non_null(strstr(h.body, "late-policies"));
    http_free(&h);
    assert_int_equal(get_status(s, true, "/readyz"), 503);
    assert_int_equal(get_status(s, true, "/healthz"), 200);
    const char *post[] = {"-H", "Content-Type: application/json", "--data-binary",
                          "@" FIXTURES "/Pod-CREATE.json", NULL};
    h = curl(post, url(s, true, "/mutate"));
    assert_int_equal(h.status, 503);
    http_free(&h);

    /* The policy arrives: ready without a restart. */
    char dst[700];
    snprintf(dst, sizeof(dst), "%s/payments.yaml", empty);
    const char *cp[] = {"/bin/cp", CG_SOURCE_DIR "/policies/examples/payments.yaml", dst, NULL};
    run_ok(cp);
    wait_ready(s);
    h = curl(post, url(s, true, "/mutate"));
    assert_int_equal(h.status, 200);
    http_free(&h);

    /* Two connections held: a third waits in the backlog (no handshake) until one closes. */
    struct conn *a = conn_open(s->port), *b = conn_open(s->port);
    assert_non_null(a);
    assert_non_null(b);
    struct conn *c = conn_open_timeout(s->port, 1);
    assert_null(c);
    conn_close(a);
    c = conn_open(s->port);
    assert_non_null(c);
    assert_true(conn_send(c, "POST", "/validate", fixtures[0].body, fixtures[0].len));
    assert_int_equal(conn_recv(c, NULL, NULL), 200);

    /* b sat idle for well over the read timeout: still usable. */
    sleep_ms(2200);
    assert_true(conn_send(b, "POST", "/validate", fixtures[0].body, fixtures[0].len));
    assert_int_equal(conn_recv(b, NULL, NULL), 200);

    /* c starts a request and stalls: cut after about a second. */
    const char *part = "POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applic";
    assert_int_equal(SSL_write(c->ssl, part, (int)strlen(part)), (int)strlen(part));
    double t0 = now_s();
    char buf[256];
    int n = SSL_read(c->ssl, buf, sizeof(buf));
    double waited = now_s() - t0;
    assert_true(n <= 0);
    if (waited < 0.5 || waited > 4)
        fail_msg("stalled request cut after %.2f s", waited);
    conn_close(c);
    conn_close(b);
    assert_true(metric(s, "cellgate_admission_errors_total{reason=\"read_timeout\"}") >= 1);
    assert_true(metric(s, "cellgate_admission_errors_total{reason=\"not_ready\"}") >= 1);

    kill(s->proc.pid, SIGTERM);
    assert_true(proc_wait(&s->proc, 12));
    assert_true(WIFEXITED(s->proc.status));
    assert_int_equal(WEXITSTATUS(s->proc.status), 0);
}

/* ---- SIGTERM during a burst ---- */

struct client {
    pthread_t thread;
    int port;
    const struct fixture *fx;
    _Atomic int *stop_sending;
    double sigterm_at; /* read after join */
    /* results */
    int sent, answered_200, failed;
    double last_sent_at; /* when the last request that failed was written */
    int lost;            /* written before SIGTERM and not answered 200 */
    double *sent_at;     /* per request */
    int *status;
    int cap;
};

static void *client_main(void *arg)
{
    struct client *cl = arg;
    struct conn *c = conn_open(cl->port);
    if (c == NULL)
        return NULL;
    while (!atomic_load(cl->stop_sending) && cl->sent < cl->cap) {
        if (!conn_send(c, "POST", "/mutate?timeout=5s", cl->fx->body, cl->fx->len))
            break;
        int i = cl->sent++;
        cl->sent_at[i] = now_s();
        bool closing = false;
        char *body = NULL;
        cl->status[i] = conn_recv(c, &body, &closing);
        if (cl->status[i] == 200 && strstr(body, cl->fx->uid) == NULL)
            cl->status[i] = -2;
        free(body);
        if (cl->status[i] != 200 || closing) {
            /* The server said goodbye: reconnect (refused once it stopped accepting). */
            conn_close(c);
            c = conn_open(cl->port);
            if (c == NULL)
                break;
        }
    }
    conn_close(c);
    return NULL;
}

/* Review log lines in the server's log so far. */
static int review_lines(const struct server *s)
{
    char *log = cg_test_read_file(s->log, NULL);
    int n = 0;
    for (const char *p = log; (p = strstr(p, "\"msg\":\"review\"")) != NULL; p++)
        n++;
    free(log);
    return n;
}

static void test_sigterm_during_burst(void **state)
{
    enum { CLIENTS = 24, CAP = 50000 };
    struct client cl[CLIENTS];
    _Atomic int stop = 0;
    /* Two idle keep-alive connections too: they must not hold the shutdown up. */
    struct conn *idle1 = conn_open(W.main.port), *idle2 = conn_open(W.main.port);
    int lines_before = review_lines(&W.main);
    assert_non_null(idle1);
    assert_non_null(idle2);
    for (int i = 0; i < CLIENTS; i++) {
        memset(&cl[i], 0, sizeof(cl[i]));
        cl[i].port = W.main.port;
        cl[i].fx = &fixtures[(size_t)i % n_fixtures];
        cl[i].stop_sending = &stop;
        cl[i].cap = CAP;
        cl[i].sent_at = calloc(CAP, sizeof(double));
        cl[i].status = calloc(CAP, sizeof(int));
        assert_int_equal(pthread_create(&cl[i].thread, NULL, client_main, &cl[i]), 0);
    }
    sleep_ms(700);
    double sigterm_at = now_s();
    assert_int_equal(kill(W.main.proc.pid, SIGTERM), 0);
    bool exited = proc_wait(&W.main.proc, 12);
    double took = now_s() - sigterm_at;
    atomic_store(&stop, 1);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(cl[i].thread, NULL);
    conn_close(idle1);
    conn_close(idle2);
    assert_true(exited);
    assert_true(WIFEXITED(W.main.proc.status));
    assert_int_equal(WEXITSTATUS(W.main.proc.status), 0);
    /* Idle connections were closed at once, not after the 8 s deadline. */
    if (took > 5)
        fail_msg("shutdown took %.1f s", took);

    int before = 0, lost = 0, after_ok = 0, answered = 0;
    for (int i = 0; i < CLIENTS; i++) {
        for (int k = 0; k < cl[i].sent; k++) {
            answered += cl[i].status[k] == 200;
            if (cl[i].sent_at[k] < sigterm_at) {
                before++;
                if (cl[i].status[k] != 200)
                    lost++;
            } else if (cl[i].status[k] == 200) {
                after_ok++;
            }
        }
        free(cl[i].sent_at);
        free(cl[i].status);
    }
    fprintf(stderr,
            "sigterm: %d requests before SIGTERM, %d lost, %d answered after, exit in "
            "%.2f s\n",
            before, lost, after_ok, took);
    assert_true(before > 50);
    assert_int_equal(lost, 0);
    /* Review lines are batched per loop turn: those of the last turns, in the drain, were
     * written before exit too, so every review answered in the burst has its line. */
    int lines = review_lines(&W.main) - lines_before;
    if (lines < answered)
        fail_msg("%d review log lines for %d reviews answered", lines, answered);
    char *log = cg_test_read_file(W.main.log, NULL);
    assert_non_null(strstr(log, "\"msg\":\"stopped\""));
    free(log);
}

/* ---- golden cases through the live server; policy reloads under load ---- */

#define GOLDEN CG_SOURCE_DIR "/tests/golden/cases"
#define CLI CG_BINARY_DIR "/cellgate"

/* The value of a top-level `key: value` line of a case.yaml, or dflt. */
static void case_field(const char *yaml, const char *key, const char *dflt, char *out, size_t n)
{
    size_t klen = strlen(key);
    for (const char *p = yaml; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
            const char *v = p + klen + 1;
            v += strspn(v, " \"");
            size_t len = strcspn(v, "\"\n");
            snprintf(out, n, "%.*s", (int)len, v);
            return;
        }
    }
    snprintf(out, n, "%s", dflt);
}

/* Every golden case given as a review is sent to the real server, started on the case's
 * policies, and must get byte for byte the response `cellgate review` computes offline with
 * the same policies at the same time: the server runs the very engine the golden cases
 * check. (Each case's own expectations are checked by golden.test_golden.) */
static void test_golden_through_server(void **state)
{
    DIR *d = opendir(GOLDEN);
    assert_non_null(d);
    struct dirent *e;
    int cases = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char dir[700], file[800], policies[900], path[64], rel[256];
        snprintf(dir, sizeof(dir), "%s/%s", GOLDEN, e->d_name);
        snprintf(file, sizeof(file), "%s/review.json", dir);
        if (access(file, R_OK) != 0)
            continue; /* a case given as objects, not as a review */
        snprintf(policies, sizeof(policies), "%s/case.yaml", dir);
        char *yaml = cg_test_read_file(policies, NULL);
        case_field(yaml, "path", "/validate", path, sizeof(path));
        case_field(yaml, "policies", "policies", rel, sizeof(rel));
        free(yaml);
        snprintf(policies, sizeof(policies), "%s/%s", dir, rel);

        struct server s;
        memset(&s, 0, sizeof(s));
        const char *extra[] = {"--threads", "1", NULL};
        server_start_with(&s, e->d_name, extra, policies);
        wait_ready(&s);
        char data[900];
        snprintf(data, sizeof(data), "@%s", file);
        const char *post[] = {"-H", "Content-Type: application/json", "--data-binary", data, NULL};
        struct http h = curl(post, url(&s, true, path));
        server_kill(&s);
        if (h.status != 200)
            fail_msg("%s: HTTP %d: %s", e->d_name, h.status, h.body);

        char cmd[3000];
        snprintf(cmd, sizeof(cmd), "%s review --policies '%s' --path %s < '%s'", CLI, policies,
                 path, file);
        const char *sh[] = {"/bin/sh", "-c", cmd, NULL};
        char *offline = NULL;
        assert_int_equal(run_capture(sh, &offline, NULL, 30), 0);
        json_error_t jerr;
        json_t *a = json_loads(h.body, 0, &jerr), *b = json_loads(offline, 0, &jerr);
        if (a == NULL || b == NULL || !json_equal(a, b))
            fail_msg("%s: server and cellgate review differ:\nserver:  %s\noffline: %s", e->d_name,
                     h.body, offline);
        json_decref(a);
        json_decref(b);
        free(offline);
        http_free(&h);
        cases++;
    }
    closedir(d);
    fprintf(stderr, "golden through the server: %d cases\n", cases);
    assert_true(cases >= 8);
}

struct reload_client {
    pthread_t thread;
    int port;
    const char *body;
    size_t len;
    _Atomic int *stop;
    int sent, ok, denied, warned, failed;
};

static void *reload_client_main(void *arg)
{
    struct reload_client *cl = arg;
    struct conn *c = conn_open(cl->port);
    while (c != NULL && !atomic_load(cl->stop)) {
        if (!conn_send(c, "POST", "/validate?timeout=5s", cl->body, cl->len)) {
            cl->failed++;
            break;
        }
        cl->sent++;
        bool closing = false;
        char *body = NULL;
        int status = conn_recv(c, &body, &closing);
        if (status == 200 && body != NULL) {
            cl->ok++;
            if (strstr(body, "\"allowed\":false") != NULL)
                cl->denied++;
            else if (strstr(body, "\"warnings\"") != NULL)
                cl->warned++;
        } else {
            cl->failed++;
        }
        free(body);
        if (closing)
            break;
    }
    conn_close(c);
    return NULL;
}

/* Writes policies as a ConfigMap mount does: files in a timestamped dot folder, published by
 * renaming the ..data link, top-level names linking through it. */
static void publish_policies(const char *mount, int version, bool warn)
{
    char dir[700], file[800], tmp[800], data[800];
    snprintf(dir, sizeof(dir), "%s/..v%d", mount, version);
    mkdir(dir, 0755);
    snprintf(file, sizeof(file), "%s/payments.yaml", dir);
    char *yaml = cg_test_read_file(CG_SOURCE_DIR "/policies/examples/payments.yaml", NULL);
    char *at = strstr(yaml, "enforcement: enforce");
    assert_non_null(at);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f, "%.*senforcement: %s%s", (int)(at - yaml), yaml, warn ? "warn" : "enforce",
            at + strlen("enforcement: enforce"));
    fclose(f);
    free(yaml);
    snprintf(tmp, sizeof(tmp), "%s/..data_tmp", mount);
    snprintf(data, sizeof(data), "%s/..data", mount);
    unlink(tmp);
    snprintf(file, sizeof(file), "..v%d", version);
    assert_int_equal(symlink(file, tmp), 0);
    assert_int_equal(rename(tmp, data), 0);
}

/* Policies swapped (ConfigMap style) and SIGHUP'd while 4 keep-alive clients send reviews:
 * every request gets a 200 AdmissionReview, each answer comes from one whole policy set
 * (denied under enforce, warned under warn, never anything else), and the last set wins. */
static void test_reload_under_load(void **state)
{
    char mount[600], link[700];
    snprintf(mount, sizeof(mount), "%s/reload-policies", W.dir);
    mkdir(mount, 0755);
    publish_policies(mount, 0, false);
    snprintf(link, sizeof(link), "%s/payments.yaml", mount);
    assert_int_equal(symlink("..data/payments.yaml", link), 0);

    struct server s;
    memset(&s, 0, sizeof(s));
    const char *extra[] = {"--threads", "2", NULL};
    server_start_with(&s, "reload", extra, mount);
    wait_ready(&s);
    const char *ok = "cellgate_policy_reloads_total{result=\"ok\"}";
    double r0 = metric(&s, ok);

    size_t len = 0;
    char *body = cg_test_read_file(GOLDEN "/payments-recreate-denied/review.json", &len);
    enum { CLIENTS = 4, SWAPS = 8 };
    _Atomic int stop = 0;
    struct reload_client cl[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        memset(&cl[i], 0, sizeof(cl[i]));
        cl[i].port = s.port;
        cl[i].body = body;
        cl[i].len = len;
        cl[i].stop = &stop;
        assert_int_equal(pthread_create(&cl[i].thread, NULL, reload_client_main, &cl[i]), 0);
    }
    for (int v = 1; v <= SWAPS; v++) {
        sleep_ms(150);
        publish_policies(mount, v, v % 2 == 1);
        if (v % 3 == 0)
            kill(s.proc.pid, SIGHUP);
        wait_metric_at_least(&s, ok, r0 + v);
    }
    sleep_ms(150);
    atomic_store(&stop, 1);
    int sent = 0, good = 0, denied = 0, warned = 0, failed = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(cl[i].thread, NULL);
        sent += cl[i].sent;
        good += cl[i].ok;
        denied += cl[i].denied;
        warned += cl[i].warned;
        failed += cl[i].failed;
    }
    fprintf(stderr, "reload under load: %d reviews, %d denied, %d warned, %d failed\n", sent,
            denied, warned, failed);
    assert_int_equal(failed, 0);
    assert_int_equal(good, sent);
    assert_int_equal(denied + warned, sent);
    assert_true(denied > 0 && warned > 0);
    assert_int_equal((long long)metric(&s, "cellgate_policy_reloads_total{result=\"error\"}"), 0);

    /* The last set (version 8: enforce) decides. */
    char data[800];
    snprintf(data, sizeof(data), "@%s", GOLDEN "/payments-recreate-denied/review.json");
    const char *post[] = {"-H", "Content-Type: application/json", "--data-binary", data, NULL};
    struct http h = curl(post, url(&s, true, "/validate"));
    assert_int_equal(h.status, 200);
    assert_non_null(strstr(h.body, "\"allowed\":false"));
    http_free(&h);
    server_kill(&s);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gen_dev_certs),
        cmocka_unit_test(test_fixtures_http1),
        cmocka_unit_test(test_keepalive_reuse),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_http2),
        cmocka_unit_test(test_cert_rotation),
        cmocka_unit_test(test_sighup_and_policy_reload),
        cmocka_unit_test(test_metrics_counts),
        cmocka_unit_test(test_readiness_and_limits),
        cmocka_unit_test(test_golden_through_server),
        cmocka_unit_test(test_reload_under_load),
        cmocka_unit_test(test_sigterm_during_burst),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
