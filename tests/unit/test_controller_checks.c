/* The external check runner against a small HTTP server on 127.0.0.1 (a thread, one
 * connection at a time): http checks that pass and fail, a refused connection, a run over its
 * time bound; prometheus answers that pass, fail, hold no sample, are not JSON, and no
 * --prometheus-url; the runner thread: a result per Deployment and check, the callback, a
 * second submit of a queued check dropped, forget, the counters. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller/checks.h"
#include "test_support.h"

static int listen_fd = -1;
static int port;
static pthread_t server;
static atomic_int served;

static void answer(int fd, const char *status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(body));
    if (write(fd, head, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0)
        return;
}

/* One connection, on a thread of its own: a slow answer holds up no other request. */
static void *handle(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[4096];
    ssize_t n = read(fd, req, sizeof(req) - 1);
    req[n > 0 ? n : 0] = '\0';
    atomic_fetch_add(&served, 1);
    if (strncmp(req, "GET /ok ", 8) == 0)
        answer(fd, "200 OK", "{}");
    else if (strncmp(req, "GET /bad ", 9) == 0)
        answer(fd, "503 Service Unavailable", "{}");
    else if (strncmp(req, "GET /slow ", 10) == 0) {
        usleep(1500 * 1000);
        answer(fd, "200 OK", "{}");
    } else if (strstr(req, "query=errors") != NULL)
        answer(fd, "200 OK",
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
               "[{\"metric\":{},\"value\":[1700000000.5,\"0.25\"]}]}}");
    else if (strstr(req, "query=scalar") != NULL)
        answer(fd, "200 OK",
               "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
               "[1700000000.5,\"7\"]}}");
    else if (strstr(req, "query=empty") != NULL)
        answer(fd, "200 OK",
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
    else if (strstr(req, "query=nan") != NULL)
        answer(fd, "200 OK",
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
               "[{\"metric\":{},\"value\":[1700000000.5,\"x1\"]}]}}");
    else if (strstr(req, "query=broken") != NULL)
        answer(fd, "200 OK", "<html>");
    else
        answer(fd, "404 Not Found", "{}");
    close(fd);
    return NULL;
}

static void *serve(void *arg)
{
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_t t;
        if (pthread_create(&t, NULL, handle, (void *)(intptr_t)fd) != 0)
            abort(); /* the server's own failure */
        pthread_detach(t);
    }
}

static int setup(void **state)
{
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(listen_fd, 16) != 0 ||
        getsockname(listen_fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    port = ntohs(a.sin_port);
    return pthread_create(&server, NULL, serve, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    shutdown(listen_fd, SHUT_RDWR);
    close(listen_fd);
    pthread_join(server, NULL);
    return 0;
}

static char urls[8][128];

static const char *url(int i, const char *path)
{
    snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%d%s", port, path);
    return urls[i];
}

static void run(const struct cg_checks *c, struct cg_check *ck, bool want, const char *says)
{
    bool ok = !want;
    char msg[256] = "";
    cg_checks_run_one(c, ck, &ok, msg, sizeof(msg));
    if (ok != want || strstr(msg, says) == NULL)
        fail_msg("check %s: ok=%d message \"%s\", want ok=%d and \"%s\"", ck->name, ok, msg, want,
                 says);
}

static void http_checks(void **state)
{
    struct cg_checks_config cfg = {.timeout_ms = 500};
    struct cg_checks *c = cg_checks_create(&cfg);
    struct cg_check ck = {.kind = CG_CHECK_HTTP, .name = "h", .expect_status = 200};
    ck.url = (char *)url(0, "/ok");
    run(c, &ck, true, ": 200 (want 200)");
    ck.url = (char *)url(0, "/bad");
    run(c, &ck, false, ": 503 (want 200)");
    ck.expect_status = 503;
    run(c, &ck, true, "503");
    ck.url = (char *)url(0, "/slow");
    run(c, &ck, false, "timed out"); /* over the 500 ms bound */
    ck.url = "http://127.0.0.1:1/x";
    run(c, &ck, false, "GET http://127.0.0.1:1/x:");
    ck.url = "ftp://127.0.0.1/x";
    run(c, &ck, false, "ftp");
    struct cg_check ready = {.kind = CG_CHECK_READY_FOR, .name = "r"};
    run(c, &ready, false, "not an external check");
    cg_checks_destroy(c);
    cg_checks_destroy(NULL);
}

static void prometheus_checks(void **state)
{
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/", port);
    struct cg_checks_config cfg = {.prometheus_url = base, .timeout_ms = 1000};
    struct cg_checks *c = cg_checks_create(&cfg);
    struct cg_check ck = {
        .kind = CG_CHECK_PROMETHEUS, .name = "p", .query = "errors", .op = "<", .threshold = 0.5};
    run(c, &ck, true, "errors = 0.25, want < 0.5");
    ck.op = ">=";
    run(c, &ck, false, "want >= 0.5");
    ck.op = "==";
    ck.query = "scalar";
    ck.threshold = 7;
    run(c, &ck, true, "scalar = 7");
    ck.op = "<=";
    run(c, &ck, true, "scalar = 7");
    ck.op = ">";
    run(c, &ck, false, "scalar = 7");
    ck.query = "empty";
    run(c, &ck, false, "no sample");
    ck.query = "nan";
    run(c, &ck, false, "not a number");
    ck.query = "broken";
    run(c, &ck, false, "not a Prometheus query answer");
    ck.query = "missing&x=1";
    run(c, &ck, false, ": 404");
    cg_checks_destroy(c);
    struct cg_checks_config none = {0};
    c = cg_checks_create(&none);
    run(c, &ck, false, "no --prometheus-url");
    cg_checks_destroy(c);
}

struct seen {
    pthread_mutex_t lock;
    int calls;
    char last[64];
};

static void on_result(void *ud, struct cg_str ns, struct cg_str name)
{
    struct seen *s = ud;
    pthread_mutex_lock(&s->lock);
    s->calls++;
    snprintf(s->last, sizeof(s->last), "%.*s/%.*s", (int)ns.n, ns.p, (int)name.n, name.p);
    pthread_mutex_unlock(&s->lock);
}

struct got {
    int n;
    bool ok[4];
    char names[4][16];
    int64_t at[4];
};

static void collect(void *ud, const char *check, bool ok, int64_t at, const char *message)
{
    struct got *g = ud;
    if (g->n < 4) {
        g->ok[g->n] = ok;
        g->at[g->n] = at;
        snprintf(g->names[g->n], sizeof(g->names[g->n]), "%s", check);
        g->n++;
    }
}

static int calls(struct seen *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->calls;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void runner(void **state)
{
    struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct cg_checks_config cfg = {.timeout_ms = 3000, .on_result = on_result, .ud = &s};
    struct cg_checks *c = cg_checks_create(&cfg);
    struct cg_check slow = {.kind = CG_CHECK_HTTP, .name = "slow", .expect_status = 200};
    slow.url = (char *)url(1, "/slow");
    struct cg_check bad = {.kind = CG_CHECK_HTTP, .name = "bad", .expect_status = 200};
    bad.url = (char *)url(2, "/bad");
    struct cg_check ready = {.kind = CG_CHECK_READY_FOR, .name = "r"};
    /* queued twice while the first runs or waits: run once */
    cg_checks_submit(c, CG_STR_LIT("ns"), CG_STR_LIT("web"), &slow);
    cg_checks_submit(c, CG_STR_LIT("ns"), CG_STR_LIT("web"), &slow);
    cg_checks_submit(c, CG_STR_LIT("ns"), CG_STR_LIT("web"), &bad);
    cg_checks_submit(c, CG_STR_LIT("ns"), CG_STR_LIT("web"), &ready); /* not external: ignored */
    cg_checks_submit(c, CG_STR_LIT("ns"), CG_STR_LIT("api"), &bad);
    for (int i = 0; i < 100 && calls(&s) < 3; i++)
        usleep(50 * 1000);
    usleep(200 * 1000);
    assert_int_equal(calls(&s), 3);
    struct got g = {0};
    assert_int_equal(cg_checks_results(c, CG_STR_LIT("ns"), CG_STR_LIT("web"), collect, &g), 2);
    assert_string_equal(g.names[0], "slow");
    assert_true(g.ok[0]);
    assert_string_equal(g.names[1], "bad");
    assert_false(g.ok[1]);
    assert_true(g.at[0] > 0);
    struct cg_buf m;
    cg_buf_init(&m, 0);
    cg_checks_metrics(c, &m);
    assert_non_null(strstr(m.data, "cellgate_checks_total{check=\"slow\",result=\"pass\"} 1\n"));
    assert_non_null(strstr(m.data, "cellgate_checks_total{check=\"bad\",result=\"fail\"} 2\n"));
    cg_buf_dispose(&m);
    cg_checks_forget(c, CG_STR_LIT("ns"), CG_STR_LIT("web"));
    g.n = 0;
    assert_int_equal(cg_checks_results(c, CG_STR_LIT("ns"), CG_STR_LIT("web"), collect, &g), 0);
    assert_int_equal(cg_checks_results(c, CG_STR_LIT("ns"), CG_STR_LIT("api"), collect, &g), 1);
    /* destroyed with a run in progress: aborted, not waited for */
    cg_checks_submit(c, CG_STR_LIT("ns"), CG_STR_LIT("web"), &slow);
    usleep(100 * 1000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cg_checks_destroy(c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1200);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the server writes to clients that gave up */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(http_checks),
        cmocka_unit_test(prometheus_checks),
        cmocka_unit_test(runner),
    };
    return cmocka_run_group_tests_name("controller_checks", tests, setup, teardown);
}
