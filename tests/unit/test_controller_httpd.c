/* The controller's probe and metrics endpoints, with curl as the client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/httpd.h"

static _Atomic bool ready_flag; /* written by the test, read by the server thread */

static bool ready(void *ud, struct cg_buf *out)
{
    cg_buf_append_str(out, ready_flag ? "leader: yes\n" : "caches: not synced\n");
    return ready_flag;
}

static void metrics(void *ud, struct cg_buf *out)
{
    cg_buf_append_str(out, "# TYPE cellgate_test gauge\ncellgate_test 7\n");
}

/* "<status> <body>" of a GET. */
static void get(int port, const char *path, int want_status, const char *want_body)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "curl -s -o - -w ' %%{http_code}' http://127.0.0.1:%d%s", port,
             path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char out[4096] = {0};
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    pclose(f);
    char *sp = strrchr(out, ' ');
    assert_non_null(sp);
    if (atoi(sp + 1) != want_status || strstr(out, want_body) == NULL)
        fail_msg("GET %s: %s (want %d with \"%s\")", path, out, want_status, want_body);
}

static void endpoints(void **state)
{
    struct cg_httpd_handlers h = {ready, metrics, NULL};
    struct cg_httpd *d = NULL;
    struct cg_err err;
    assert_int_equal(cg_httpd_start("127.0.0.1:0", &h, &d, &err), CG_OK);
    int port = cg_httpd_port(d);
    assert_true(port > 0);
    get(port, "/healthz", 200, "ok");
    ready_flag = false;
    get(port, "/readyz", 503, "caches: not synced");
    ready_flag = true;
    get(port, "/readyz", 200, "leader: yes");
    get(port, "/metrics", 200, "cellgate_test 7");
    get(port, "/nope", 404, "not found");
    cg_httpd_stop(d);
    /* Bad addresses are errors, not crashes. */
    assert_int_equal(cg_httpd_start("nowhere", &h, &d, &err), CG_EINVAL);
    assert_int_equal(cg_httpd_start("127.0.0.1:99999", &h, &d, &err), CG_EINVAL);
    assert_int_equal(cg_httpd_start("example.com:80", &h, &d, &err), CG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(endpoints)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
