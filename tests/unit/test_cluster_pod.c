/* cg_pod_state_decode on real pods (kube-apiserver 1.26 objects), on every field of the wrong
 * type, on the drain-requested times, and on truncation at every byte; cg_pod_state_is_live. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/cluster.h"
#include "test_support.h"

struct fx {
    struct cg_arena arena;
    struct cg_pod_state pod;
    struct cg_err err;
    char *body;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    cg_arena_init(&f->arena, 4096);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    cg_arena_dispose(&f->arena);
    free(f->body);
    free(f);
    return 0;
}

/* Decodes an exact-size heap copy (no NUL after it, so ASan sees any over-read). */
static enum cg_status decode_bytes(struct fx *f, const char *p, size_t n)
{
    char *copy = malloc(n ? n : 1);
    if (n)
        memcpy(copy, p, n);
    cg_arena_reset(&f->arena);
    enum cg_status st = cg_pod_state_decode(copy, n, &f->arena, &f->pod, &f->err);
    free(f->body);
    f->body = copy; /* the state points into it */
    return st;
}

static enum cg_status decode_str(struct fx *f, const char *s)
{
    return decode_bytes(f, s, strlen(s));
}

static enum cg_status decode_fixture(struct fx *f, const char *name)
{
    char rel[128];
    size_t len;
    snprintf(rel, sizeof(rel), "pods/%s", name);
    char *text = cg_test_read_fixture(rel, &len);
    enum cg_status st = decode_bytes(f, text, len);
    free(text);
    return st;
}

static void assert_str(struct cg_str s, const char *want)
{
    if (!cg_str_eq_c(s, want))
        fail_msg("got \"%.*s\", want \"%s\"", (int)s.n, s.p ? s.p : "", want);
}

/* ---- real pods ---- */

static void test_serving(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_fixture(f, "cellgate-serving.json"), CG_OK);
    assert_str(f->pod.namespace_, "smoke-27373");
    assert_str(f->pod.name, "web-5686749575-w5nfn");
    assert_str(f->pod.uid, "a3ededf1-ff44-4e7e-a2ab-58b142b9f92d");
    assert_str(f->pod.owner_uid, "8308a09e-0d92-40ca-90a5-6656aa3abb59");
    assert_str(f->pod.cell, "cell-b");
    assert_str(f->pod.phase, "Running");
    assert_false(f->pod.terminating);
    assert_true(f->pod.traffic_ready);
    assert_true(f->pod.draining);
    assert_false(f->pod.drained);
    /* 2026-11-26T09:41:40+01:00 = 08:41:40Z */
    assert_int_equal(f->pod.drain_requested, 1795682500);
    assert_true(cg_pod_state_is_live(&f->pod));
}

static void test_terminating(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_fixture(f, "terminating-running.json"), CG_OK);
    assert_str(f->pod.name, "web-5686749575-w5nfn");
    assert_str(f->pod.owner_uid, "8308a09e-0d92-40ca-90a5-6656aa3abb59");
    assert_int_equal(f->pod.cell.n, 0);
    assert_str(f->pod.phase, "Running");
    assert_true(f->pod.terminating);
    assert_false(f->pod.traffic_ready);
    assert_int_equal(f->pod.drain_requested, 0);
    assert_false(cg_pod_state_is_live(&f->pod));
}

static void test_replicaset_create(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_fixture(f, "replicaset-create.json"), CG_OK);
    assert_str(f->pod.namespace_, "wh-test");
    assert_int_equal(f->pod.name.n, 0); /* generateName only */
    assert_str(f->pod.owner_uid, "7298ef8a-305e-4c1e-b583-80ab594882cc");
    assert_int_equal(f->pod.phase.n, 0);
    assert_true(cg_pod_state_is_live(&f->pod));
}

static void test_bare_pods(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_fixture(f, "running-gated.json"), CG_OK);
    assert_str(f->pod.name, "gated");
    assert_int_equal(f->pod.owner_uid.n, 0);
    assert_str(f->pod.phase, "Running");
    assert_false(f->pod.draining);
    assert_int_equal(decode_fixture(f, "pending.json"), CG_OK);
    assert_str(f->pod.name, "p1");
    assert_str(f->pod.phase, "Pending");
    assert_true(cg_pod_state_is_live(&f->pod));
}

/* ---- fields one by one ---- */

static void test_owner_choice(void **state)
{
    struct fx *f = *state;
    /* Not a controller: no owner. */
    assert_int_equal(decode_str(f, "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"a\","
                                   "\"controller\":false},{\"uid\":\"b\"}]}}"),
                     CG_OK);
    assert_int_equal(f->pod.owner_uid.n, 0);
    /* The controller wins wherever it is; null elements pass. */
    assert_int_equal(decode_str(f, "{\"metadata\":{\"ownerReferences\":[null,{\"uid\":\"a\"},"
                                   "{\"controller\":true,\"uid\":\"b\"},"
                                   "{\"uid\":\"c\",\"controller\":true}]}}"),
                     CG_OK);
    assert_str(f->pod.owner_uid, "b");
    assert_int_equal(decode_str(f, "{\"metadata\":{\"ownerReferences\":null}}"), CG_OK);
    assert_int_equal(f->pod.owner_uid.n, 0);
}

static void test_conditions(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_str(f, "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":"
                                   "\"True\"},{\"status\":\"False\",\"type\":"
                                   "\"cellgate.io/traffic-ready\"}]}}"),
                     CG_OK);
    assert_false(f->pod.traffic_ready);
    assert_int_equal(decode_str(f, "{\"status\":{\"conditions\":[{\"status\":\"True\",\"type\":"
                                   "\"cellgate.io/traffic-ready\"}],\"phase\":\"Failed\"}}"),
                     CG_OK);
    assert_true(f->pod.traffic_ready);
    assert_false(cg_pod_state_is_live(&f->pod));
    assert_int_equal(decode_str(f, "{\"status\":{\"phase\":\"Succeeded\"}}"), CG_OK);
    assert_false(cg_pod_state_is_live(&f->pod));
}

static void test_escapes(void **state)
{
    struct fx *f = *state;
    /* Escaped keys and values are unescaped (values into the arena). */
    assert_int_equal(
        decode_str(f, "{\"metadata\":{\"labels\":{\"cellgate.io\\/cell\":\"cell\\u002da\"},"
                      "\"name\":\"p\\u0031\",\"annotations\":{\"cellgate.io/drained\":\"\","
                      "\"cellgate.io/drain-requested\":\"2026-11-26T08:41:40\\u005a\","
                      "\"cellgate.io/policy\":\"pay\\u006dents\"}}}"),
        CG_OK);
    assert_str(f->pod.cell, "cell-a");
    assert_str(f->pod.policy, "payments");
    assert_str(f->pod.name, "p1");
    assert_true(f->pod.drained);
    assert_int_equal(f->pod.drain_requested, 1795682500);
}

static void test_nulls(void **state)
{
    struct fx *f = *state;
    assert_int_equal(
        decode_str(f, "{\"metadata\":{\"name\":null,\"labels\":{\"cellgate.io/cell\":null},"
                      "\"annotations\":null,\"deletionTimestamp\":null,\"ownerReferences\":[]},"
                      "\"status\":{\"phase\":null,\"conditions\":null},\"spec\":null}"),
        CG_OK);
    assert_int_equal(f->pod.cell.n, 0);
    assert_false(f->pod.terminating);
    assert_int_equal(decode_str(f, "{\"metadata\":null,\"status\":null}"), CG_OK);
    assert_int_equal(decode_str(f, " {} "), CG_OK);
    assert_true(cg_pod_state_is_live(&f->pod));
}

static int64_t drain_time(struct fx *f, const char *value)
{
    char doc[256];
    snprintf(doc, sizeof(doc),
             "{\"metadata\":{\"annotations\":{\"cellgate.io/drain-requested\":\"%s\"}}}", value);
    assert_int_equal(decode_str(f, doc), CG_OK);
    return f->pod.drain_requested;
}

static void test_drain_requested_times(void **state)
{
    struct fx *f = *state;
    assert_int_equal(drain_time(f, "2026-11-26T08:41:40Z"), 1795682500);
    assert_int_equal(drain_time(f, "2026-11-26t08:41:40z"), 1795682500);
    assert_int_equal(drain_time(f, "2026-11-26T08:41:40.123456Z"), 1795682500);
    assert_int_equal(drain_time(f, "2026-11-26T03:11:40-05:30"), 1795682500);
    assert_int_equal(drain_time(f, "2024-02-29T00:00:00Z"), 1709164800);
    assert_int_equal(drain_time(f, "2016-12-31T23:59:60Z"), 1483228799);
    assert_int_equal(drain_time(f, "1970-01-01T00:00:01Z"), 1);
    static const char *const bad[] = {
        "",
        "yesterday",
        "2026-11-26T08:41:40",        /* no offset */
        "2026-11-26 08:41:40Z",       /* space */
        "2026-13-01T00:00:00Z",       /* month */
        "2026-02-29T00:00:00Z",       /* not a leap year */
        "2026-04-31T00:00:00Z",       /* day */
        "2026-11-26T24:00:00Z",       /* hour */
        "2026-11-26T08:60:00Z",       /* minute */
        "2026-11-26T08:41:61Z",       /* second */
        "2026-11-26T08:41:40.Z",      /* empty fraction */
        "2026-11-26T08:41:40+1:00",   /* short offset */
        "2026-11-26T08:41:40+24:00",  /* offset hour */
        "2026-11-26T08:41:40+01:60",  /* offset minute */
        "2026-11-26T08:41:40+0100",   /* no colon */
        "2026-11-26T08:41:40Zjunk",   /* trailing */
        "2026-11-26T08:41:40+01:00x", /* trailing */
        "2026-1a-26T08:41:40Z",       /* digit */
        "1970-01-01T00:00:00Z",       /* 0 means absent: unusable */
        "1969-12-31T23:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (drain_time(f, bad[i]) != -1)
            fail_msg("\"%s\" parsed as %lld", bad[i], (long long)f->pod.drain_requested);
    }
}

/* ---- errors ---- */

struct bad_case {
    const char *json;
    enum cg_status status;
    const char *msg; /* a substring of the message */
};

static void test_wrong_types(void **state)
{
    struct fx *f = *state;
    static const struct bad_case cases[] = {
        {"[]", CG_EINVAL, "expected a Pod object, got an array"},
        {"\"pod\"", CG_EINVAL, "got a string"},
        {"{\"metadata\":[]}", CG_EINVAL, "metadata: expected an object, got an array"},
        {"{\"metadata\":{\"name\":1}}", CG_EINVAL,
         "metadata.name: expected a string, got a number"},
        {"{\"metadata\":{\"namespace\":true}}", CG_EINVAL, "metadata.namespace: expected a string"},
        {"{\"metadata\":{\"uid\":{}}}", CG_EINVAL,
         "metadata.uid: expected a string, got an object"},
        {"{\"metadata\":{\"labels\":[]}}", CG_EINVAL, "metadata.labels: expected an object"},
        {"{\"metadata\":{\"labels\":{\"app\":1}}}", CG_EINVAL,
         "metadata.labels: expected an object of strings, but the value of \"app\" is a number"},
        {"{\"metadata\":{\"labels\":{\"cellgate.io/cell\":false}}}", CG_EINVAL,
         "the value of \"cellgate.io/cell\" is a boolean"},
        {"{\"metadata\":{\"annotations\":\"x\"}}", CG_EINVAL,
         "metadata.annotations: expected an object"},
        {"{\"metadata\":{\"annotations\":{\"cellgate.io/draining\":{}}}}", CG_EINVAL,
         "metadata.annotations: expected an object of strings"},
        {"{\"metadata\":{\"deletionTimestamp\":1}}", CG_EINVAL,
         "metadata.deletionTimestamp: expected a string"},
        {"{\"metadata\":{\"ownerReferences\":{}}}", CG_EINVAL,
         "metadata.ownerReferences: expected an array, got an object"},
        {"{\"metadata\":{\"ownerReferences\":[{},\"x\"]}}", CG_EINVAL,
         "metadata.ownerReferences[1]: expected an object, got a string"},
        {"{\"metadata\":{\"ownerReferences\":[{\"uid\":7}]}}", CG_EINVAL,
         "metadata.ownerReferences[0].uid: expected a string"},
        {"{\"metadata\":{\"ownerReferences\":[{\"controller\":\"true\"}]}}", CG_EINVAL,
         "metadata.ownerReferences[0].controller: expected a boolean, got a string"},
        {"{\"status\":[]}", CG_EINVAL, "status: expected an object"},
        {"{\"status\":{\"phase\":2}}", CG_EINVAL, "status.phase: expected a string"},
        {"{\"status\":{\"conditions\":{}}}", CG_EINVAL, "status.conditions: expected an array"},
        {"{\"status\":{\"conditions\":[1]}}", CG_EINVAL,
         "status.conditions[0]: expected an object"},
        {"{\"status\":{\"conditions\":[{\"type\":[]}]}}", CG_EINVAL,
         "status.conditions[0].type: expected a string, got an array"},
        {"{\"status\":{\"conditions\":[{},{\"status\":true}]}}", CG_EINVAL,
         "status.conditions[1].status: expected a string, got a boolean"},
        /* The first wrong type is reported. */
        {"{\"metadata\":{\"name\":1,\"uid\":2}}", CG_EINVAL, "metadata.name"},
        /* Syntax beats type: the whole text is checked even after a wrong type. */
        {"{\"metadata\":{\"name\":1},\"spec\":{\"x\":tru}}", CG_EPARSE, "invalid JSON"},
        {"", CG_EPARSE, "empty input"},
        {"   ", CG_EPARSE, "empty input"},
        {"{", CG_EPARSE, "invalid JSON"},
        {"{}{}", CG_EPARSE, "unexpected data after the JSON value"},
        {"{\"metadata\":{\"name\":\"a\",\"name\":\"b\"}}", CG_EPARSE, "invalid JSON"},
        {"{\"metadata\":{\"name\":\"\\x\"}}", CG_EPARSE, "invalid JSON"},
        {"{\"metadata\":{\"name\":\"\xff\"}}", CG_EPARSE, "invalid JSON"},
        {"nul", CG_EPARSE, "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad_case *c = &cases[i];
        enum cg_status st = decode_str(f, c->json);
        if (st != c->status || f->err.status != c->status || strstr(f->err.msg, c->msg) == NULL)
            fail_msg("%s: got %d \"%s\", want %d \"%s\"", c->json, st, f->err.msg, c->status,
                     c->msg);
        /* A failed decode leaves nothing half-filled. */
        assert_int_equal(f->pod.name.n, 0);
        assert_null(f->pod.name.p);
    }
}

static void test_null_input_and_err(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cg_pod_state_decode(NULL, 0, &f->arena, &f->pod, &f->err), CG_EPARSE);
    /* err is optional. */
    assert_int_equal(cg_pod_state_decode("{\"status\":1}", 12, &f->arena, &f->pod, NULL),
                     CG_EINVAL);
    assert_int_equal(cg_pod_state_decode("{", 1, &f->arena, &f->pod, NULL), CG_EPARSE);
}

/* Every prefix of a real pod is invalid JSON (an object that never closes), never a crash,
 * never an over-read (exact-size copies under ASan). */
static void test_truncation(void **state)
{
    struct fx *f = *state;
    size_t len;
    char *text = cg_test_read_fixture("pods/cellgate-serving.json", &len);
    for (size_t n = 0; n < len; n++) {
        enum cg_status st = decode_bytes(f, text, n);
        if (st != CG_EPARSE)
            fail_msg("prefix of %zu bytes: status %d", n, st);
    }
    assert_int_equal(decode_bytes(f, text, len), CG_OK);
    free(text);
}

/* Every single byte replaced by a few others: any status, no crash, and OK only with the
 * fields either intact or legitimately different. */
static void test_mutations(void **state)
{
    struct fx *f = *state;
    size_t len;
    char *text = cg_test_read_fixture("pods/cellgate-serving.json", &len);
    static const char subst[] = {'"', '{', '}', '[', ']', ':', ',', '\\', '0', 'x', '\0'};
    for (size_t i = 0; i < len; i++) {
        char keep = text[i];
        for (size_t k = 0; k < sizeof(subst); k++) {
            text[i] = subst[k];
            enum cg_status st = decode_bytes(f, text, len);
            assert_true(st == CG_OK || st == CG_EPARSE || st == CG_EINVAL);
        }
        text[i] = keep;
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_serving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terminating, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicaset_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bare_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_choice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nulls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_requested_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_input_and_err, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
