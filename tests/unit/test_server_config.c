/* The option table (flags, environment, defaults, ranges, --help), listen addresses, route
 * classification and the content-type rule, and the snapshot swap the workers read
 * policies and certificates through. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/snapshot.h"
#include "server/config.h"
#include "server/route.h"
#include "test_support.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *required[] = {"prog", "--cert", "c.pem", "--key", "k.pem", "--policies", "p"};

static enum cg_status parse(struct cg_server_config *c, int argc, const char **argv,
                            const char **envp, struct cg_err *err)
{
    cg_server_config_init(c);
    cg_err_clear(err);
    return cg_server_config_parse(c, argc, (char *const *)argv, (char *const *)envp, err);
}

static void test_defaults(void **state)
{
    struct cg_server_config c;
    struct cg_err err;
    assert_int_equal(parse(&c, ARGC(required), required, NULL, &err), CG_OK);
    assert_string_equal(c.listen, "127.0.0.1:8443");
    assert_string_equal(c.metrics_listen, "127.0.0.1:9090");
    assert_string_equal(c.cert, "c.pem");
    assert_string_equal(c.key, "k.pem");
    assert_string_equal(c.policies, "p");
    assert_int_equal(c.threads, 0);
    assert_false(c.http2);
    assert_int_equal(c.max_body, 3 * 1024 * 1024);
    assert_int_equal(c.max_connections, 4096);
    assert_true(c.idle_timeout > 90); /* above the apiserver's idle timeout */
    assert_true(c.read_timeout < 10); /* under the webhook timeoutSeconds */
    assert_int_equal(c.shutdown_timeout, 10);
    assert_int_equal(c.log_level, CG_LOG_INFO);
    assert_false(c.help);
    /* No cluster credentials by default (in-cluster or standalone), no insecure kubeconfig,
     * and cellgate's own two service accounts trusted. */
    assert_string_equal(c.kubeconfig, "");
    assert_false(c.kube_insecure);
    assert_non_null(
        strstr(c.trusted_users, "system:serviceaccount:cellgate-system:cellgate-controller"));
    assert_non_null(
        strstr(c.trusted_users, "system:serviceaccount:cellgate-system:cellgate-webhook"));
    cg_server_config_dispose(&c);

    const char *more[] = {"w",
                          "--cert",
                          "c",
                          "--key",
                          "k",
                          "--policies",
                          "p",
                          "--kubeconfig",
                          "/kc",
                          "--kube-insecure",
                          "--trusted-users",
                          "a,b"};
    assert_int_equal(parse(&c, ARGC(more), more, NULL, &err), CG_OK);
    assert_string_equal(c.kubeconfig, "/kc");
    assert_true(c.kube_insecure);
    assert_string_equal(c.trusted_users, "a,b");
    cg_server_config_dispose(&c);
}

static void test_env_and_flags(void **state)
{
    const char *envp[] = {"HOME=/root",
                          "CELLGATE_CERT=/env/tls.crt",
                          "CELLGATE_KEY=/env/tls.key",
                          "CELLGATE_POLICIES=/env/policies",
                          "CELLGATE_LISTEN=0.0.0.0:9443",
                          "CELLGATE_THREADS=3",
                          "CELLGATE_HTTP2=yes",
                          "CELLGATE_MAX_BODY=1Mi",
                          "CELLGATE_LOG_LEVEL=debug",
                          "CELLGATE_METRICS_LISTEN=off",
                          NULL};
    struct cg_server_config c;
    struct cg_err err;
    const char *argv[] = {"prog", "--threads", "5", "--key=/flag/tls.key", "--max-body", "64K"};
    assert_int_equal(parse(&c, ARGC(argv), argv, envp, &err), CG_OK);
    assert_string_equal(c.cert, "/env/tls.crt");
    assert_string_equal(c.key, "/flag/tls.key"); /* the flag wins */
    assert_string_equal(c.policies, "/env/policies");
    assert_string_equal(c.listen, "0.0.0.0:9443");
    assert_string_equal(c.metrics_listen, "off");
    assert_int_equal(c.threads, 5);
    assert_true(c.http2);
    assert_int_equal(c.max_body, 64000);
    assert_int_equal(c.log_level, CG_LOG_DEBUG);
    cg_server_config_dispose(&c);

    /* A bare boolean flag, and --flag=false. */
    const char *argv2[] = {"prog", "--cert", "c", "--key", "k", "--policies", "p", "--http2"};
    assert_int_equal(parse(&c, ARGC(argv2), argv2, NULL, &err), CG_OK);
    assert_true(c.http2);
    cg_server_config_dispose(&c);
    const char *envp3[] = {"CELLGATE_HTTP2=1", NULL};
    const char *argv3[] = {"prog", "--cert", "c", "--key", "k", "--policies", "p", "--http2=false"};
    assert_int_equal(parse(&c, ARGC(argv3), argv3, envp3, &err), CG_OK);
    assert_false(c.http2);
    cg_server_config_dispose(&c);
}

static void expect_error(const char **argv, int argc, const char **envp, const char *needle)
{
    struct cg_server_config c;
    struct cg_err err;
    assert_int_equal(parse(&c, argc, argv, envp, &err), CG_EINVAL);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
    cg_server_config_dispose(&c);
}

static void test_errors(void **state)
{
    const char *a1[] = {"prog", "--cert", "c", "--key", "k"};
    expect_error(a1, ARGC(a1), NULL, "CELLGATE_POLICIES");
    const char *a2[] = {"prog", "--bogus", "1"};
    expect_error(a2, ARGC(a2), NULL, "--bogus");
    const char *a3[] = {"prog", "--cert", "c", "--key", "k", "--policies", "p", "--threads"};
    expect_error(a3, ARGC(a3), NULL, "needs a value");
    const char *a4[] = {"prog", "--cert", "c", "--key", "k", "--policies", "p", "--threads", "x"};
    expect_error(a4, ARGC(a4), NULL, "not a number");
    const char *a5[] = {"prog", "--cert", "c", "--key", "k", "--policies", "p", "--threads", "999"};
    expect_error(a5, ARGC(a5), NULL, "out of range");
    const char *a6[] = {"prog", "--cert", "c", "--key", "k", "--policies", "p", "--max-body", "3Q"};
    expect_error(a6, ARGC(a6), NULL, "byte count");
    const char *a7[] = {"prog", "--cert", "c", "--key", "k", "--policies", "p", "--log-level", "x"};
    expect_error(a7, ARGC(a7), NULL, "--log-level");
    const char *a8[] = {"prog", "stray"};
    expect_error(a8, ARGC(a8), NULL, "stray");
    const char *a9[] = {"prog", "--cert", "c", "--key", "k", "--policies", "p", "--listen", "x"};
    expect_error(a9, ARGC(a9), NULL, "host:port");
    const char *a10[] = {"prog", "--cert", "", "--key", "k", "--policies", "p"};
    expect_error(a10, ARGC(a10), NULL, "empty");
    const char *env1[] = {"CELLGATE_HTTP2=maybe", NULL};
    expect_error(required, ARGC(required), env1, "CELLGATE_HTTP2");
    const char *env2[] = {"CELLGATE_MAX_CONNECTIONS=0", NULL};
    expect_error(required, ARGC(required), env2, "CELLGATE_MAX_CONNECTIONS");
    const char *env3[] = {"CELLGATE_METRICS_LISTEN=nohost:1", NULL};
    expect_error(required, ARGC(required), env3, "numeric IP");
}

static void test_help(void **state)
{
    struct cg_server_config c;
    struct cg_err err;
    const char *argv[] = {"prog", "--help"};
    assert_int_equal(parse(&c, ARGC(argv), argv, NULL, &err), CG_OK);
    assert_true(c.help);
    cg_server_config_dispose(&c);

    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_server_config_usage("cellgate-webhook", &b), CG_OK);
    static const char *want[] = {"--listen",
                                 "CELLGATE_LISTEN",
                                 "--cert",
                                 "CELLGATE_CERT",
                                 "--key",
                                 "--policies",
                                 "--metrics-listen",
                                 "CELLGATE_METRICS_LISTEN",
                                 "--threads",
                                 "--http2",
                                 "CELLGATE_HTTP2",
                                 "--max-body",
                                 "--max-connections",
                                 "--log-level",
                                 "--idle-timeout",
                                 "--read-timeout",
                                 "--shutdown-timeout",
                                 "127.0.0.1:8443",
                                 "127.0.0.1:9090",
                                 "(required)",
                                 "--help"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(b.data, want[i]) == NULL)
            fail_msg("usage lacks %s", want[i]);
    cg_buf_dispose(&b);
}

static void test_addr(void **state)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    struct cg_err err;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;

    assert_int_equal(cg_server_addr_parse("127.0.0.1:8443", &ss, &len, &err), CG_OK);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(v4->sin_port), 8443);
    assert_int_equal(ntohl(v4->sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_equal(len, sizeof(*v4));
    assert_int_equal(cg_server_addr_parse(":9090", &ss, &len, &err), CG_OK);
    assert_int_equal(ntohl(v4->sin_addr.s_addr), INADDR_ANY);
    assert_int_equal(cg_server_addr_parse("localhost:1", &ss, &len, &err), CG_OK);
    assert_int_equal(ntohl(v4->sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_equal(cg_server_addr_parse("[::1]:8443", &ss, &len, &err), CG_OK);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(ntohs(v6->sin6_port), 8443);
    assert_int_equal(len, sizeof(*v6));
    assert_int_equal(cg_server_addr_parse("[::]:1", &ss, &len, &err), CG_OK);

    assert_int_equal(cg_server_addr_parse("127.0.0.1", &ss, &len, &err), CG_EINVAL);
    assert_int_equal(cg_server_addr_parse("127.0.0.1:0", &ss, &len, &err), CG_EINVAL);
    assert_int_equal(cg_server_addr_parse("127.0.0.1:65536", &ss, &len, &err), CG_EINVAL);
    assert_int_equal(cg_server_addr_parse("127.0.0.1:http", &ss, &len, &err), CG_EINVAL);
    assert_int_equal(cg_server_addr_parse("example.com:80", &ss, &len, &err), CG_EINVAL);
    assert_int_equal(cg_server_addr_parse("[::1:80", &ss, &len, &err), CG_EINVAL);
}

static void test_routes(void **state)
{
    assert_int_equal(cg_route_match("/mutate", 7), CG_ROUTE_MUTATE);
    assert_int_equal(cg_route_match("/mutate?timeout=5s", 18), CG_ROUTE_MUTATE);
    assert_int_equal(cg_route_match("/validate?timeout=10s", 21), CG_ROUTE_VALIDATE);
    assert_int_equal(cg_route_match("/healthz", 8), CG_ROUTE_HEALTHZ);
    assert_int_equal(cg_route_match("/readyz", 7), CG_ROUTE_READYZ);
    assert_int_equal(cg_route_match("/metrics", 8), CG_ROUTE_METRICS);
    assert_int_equal(cg_route_match("/mutate/", 8), CG_ROUTE_NONE);
    assert_int_equal(cg_route_match("/mutat", 6), CG_ROUTE_NONE);
    assert_int_equal(cg_route_match("/", 1), CG_ROUTE_NONE);
    assert_int_equal(cg_route_match("", 0), CG_ROUTE_NONE);
    /* Only the given length counts. */
    assert_int_equal(cg_route_match("/readyzzz", 7), CG_ROUTE_READYZ);

    assert_true(cg_route_is_json("application/json", 16));
    assert_true(cg_route_is_json("Application/JSON", 16));
    assert_true(cg_route_is_json("application/json; charset=utf-8", 31));
    assert_true(cg_route_is_json(" application/json ", 18));
    assert_false(cg_route_is_json("application/jsonx", 17));
    assert_false(cg_route_is_json("text/plain", 10));
    assert_false(cg_route_is_json("application/json-patch+json", 27));
    assert_false(cg_route_is_json("", 0));
}

/* A reference-counted test object that records its releases. */
struct obj {
    int refs;
    int *freed;
};

static void *obj_retain(void *p)
{
    ((struct obj *)p)->refs++;
    return p;
}

static void obj_release(void *p)
{
    struct obj *o = p;
    if (--o->refs == 0)
        (*o->freed)++;
}

static void test_snapshot(void **state)
{
    int freed = 0;
    struct obj a = {1, &freed}, b = {1, &freed};
    struct cg_snapshot s;
    cg_snapshot_init(&s, obj_retain, obj_release);
    struct cg_snapshot_reader r1, r2;
    cg_snapshot_reader_init(&r1);
    cg_snapshot_reader_init(&r2);

    assert_null(cg_snapshot_reader_get(&r1, &s));
    assert_null(cg_snapshot_take(&s));
    assert_int_equal(cg_snapshot_generation(&s), 0);

    cg_snapshot_publish(&s, &a);
    assert_int_equal(cg_snapshot_generation(&s), 1);
    assert_ptr_equal(cg_snapshot_reader_get(&r1, &s), &a);
    assert_ptr_equal(cg_snapshot_reader_get(&r2, &s), &a);
    assert_int_equal(a.refs, 3);
    /* Unchanged generation: no new reference taken. */
    assert_ptr_equal(cg_snapshot_reader_get(&r1, &s), &a);
    assert_int_equal(a.refs, 3);

    /* Publish b: readers keep a until they look again; a is freed when the last lets go. */
    cg_snapshot_publish(&s, &b);
    assert_int_equal(a.refs, 2);
    assert_int_equal(freed, 0);
    assert_ptr_equal(cg_snapshot_reader_get(&r1, &s), &b);
    assert_int_equal(a.refs, 1);
    assert_ptr_equal(cg_snapshot_reader_get(&r2, &s), &b);
    assert_int_equal(a.refs, 0);
    assert_int_equal(freed, 1);
    assert_int_equal(b.refs, 3);

    void *t = cg_snapshot_take(&s);
    assert_ptr_equal(t, &b);
    obj_release(t);

    /* Publishing NULL (nothing loaded) is allowed and reaches readers. */
    cg_snapshot_publish(&s, NULL);
    assert_null(cg_snapshot_reader_get(&r1, &s));
    assert_int_equal(b.refs, 1);
    cg_snapshot_reader_dispose(&r1, &s);
    cg_snapshot_reader_dispose(&r2, &s);
    assert_int_equal(b.refs, 0);
    assert_int_equal(freed, 2);
    cg_snapshot_dispose(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_env_and_flags),
        cmocka_unit_test(test_errors),   cmocka_unit_test(test_help),
        cmocka_unit_test(test_addr),     cmocka_unit_test(test_routes),
        cmocka_unit_test(test_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
