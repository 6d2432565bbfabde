/* cg_admission_decode on the real kube-apiserver 1.26 fixtures, on Go's escapes, and on
 * every error path (syntax, duplicate keys, depth, types, truncation at every byte). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admission/admission.h"
#include "admission/scan.h"
#include "test_support.h"

#define K126 "kube-apiserver-1.26/"

struct fx {
    struct cg_arena arena;
    struct cg_admission_request req;
    struct cg_err err;
    char *body;
    size_t len;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    cg_arena_init(&f->arena, 16384);
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
    memcpy(copy, p, n);
    cg_arena_reset(&f->arena);
    enum cg_status st = cg_admission_decode(copy, n, &f->arena, &f->req, &f->err);
    free(f->body);
    f->body = copy; /* the view points into it */
    f->len = n;
    return st;
}

static enum cg_status decode_str(struct fx *f, const char *s)
{
    return decode_bytes(f, s, strlen(s));
}

static enum cg_status decode_fixture(struct fx *f, const char *name)
{
    size_t n;
    char *p = cg_test_read_fixture(name, &n);
    enum cg_status st = decode_bytes(f, p, n);
    free(p);
    return st;
}

#define assert_str(s, lit)                                                                         \
    do {                                                                                           \
        struct cg_str s_ = (s);                                                                    \
        if (!cg_str_eq_c(s_, (lit)))                                                               \
            fail_msg("%s is \"%.*s\", expected \"%s\"", #s, (int)s_.n, s_.p ? s_.p : "", (lit));   \
    } while (0)

#define assert_err_contains(f, text)                                                               \
    do {                                                                                           \
        if (strstr((f)->err.msg, (text)) == NULL)                                                  \
            fail_msg("error \"%s\" does not contain \"%s\"", (f)->err.msg, (text));                \
    } while (0)

static const char *label(const struct cg_kvs *kv, const char *key)
{
    static char value[512];
    for (size_t i = 0; i < kv->n; i++)
        if (cg_str_eq_c(kv->items[i].key, key)) {
            snprintf(value, sizeof(value), "%.*s", (int)kv->items[i].value.n,
                     kv->items[i].value.p ? kv->items[i].value.p : "");
            return value;
        }
    return NULL;
}

/* A minimal valid review around a request body fragment. */
static char *review(const char *request_rest)
{
    static char buf[1 << 16];
    snprintf(buf, sizeof(buf),
             "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
             "\"request\":{\"uid\":\"u-1\"%s%s}}",
             request_rest[0] ? "," : "", request_rest);
    return buf;
}

/* ---- real fixtures ---- */

static void test_pod_create(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_fixture(f, K126 "Pod-CREATE.json"), CG_OK);
    struct cg_admission_request *r = &f->req;
    assert_str(r->api_version, "admission.k8s.io/v1");
    assert_str(r->uid, "3b022bc8-c7d3-4c97-9daa-fdfb91170f52");
    assert_str(r->kind.group, "");
    assert_str(r->kind.version, "v1");
    assert_str(r->kind.kind, "Pod");
    assert_str(r->resource.resource, "pods");
    assert_str(r->request_kind.kind, "Pod");
    assert_int_equal(r->sub_resource.n, 0);
    assert_int_equal(r->operation, CG_OP_CREATE);
    assert_str(r->operation_raw, "CREATE");
    assert_str(r->namespace_, "wh-test");
    assert_str(r->name, "p1");
    assert_str(r->username, "admin");
    assert_int_equal(r->user_uid.n, 0);
    assert_true(r->groups.present);
    assert_int_equal(r->groups.n, 2);
    assert_str(r->groups.items[0], "system:masters");
    assert_str(r->groups.items[1], "system:authenticated");
    assert_false(r->dry_run);
    assert_true(r->object.present);
    assert_false(r->old_object.present);
    assert_str(r->object.kind, "Pod");
    assert_str(r->object.api_version, "v1");
    assert_str(r->object.name, "p1");
    assert_str(r->object.namespace_, "wh-test");
    assert_true(r->object.labels.present);
    assert_int_equal(r->object.labels.n, 1);
    assert_string_equal(label(&r->object.labels, "app"), "p1");
    assert_false(r->object.annotations.present);
    assert_false(r->object.owner.present);
    assert_false(r->object.deletion_timestamp_set);
    /* A Pod has no Deployment fields; its own spec is the pod spec. */
    assert_false(r->object.has_spec);
    assert_false(r->object.has_template);
    assert_true(r->object.pod.present);
    assert_int_equal(r->object.pod.containers.n, 1);
    assert_str(r->object.pod.containers.items[0].name, "p1");
    assert_false(r->object.pod.containers.items[0].has_readiness_probe);
    assert_int_equal(r->object.pod.init_containers.n, 0);
    assert_false(r->object.pod.readiness_gates.present);
    assert_false(r->object.pod.has_affinity);
    assert_int_equal(r->object.pod.node_name.n, 0);
}

static void test_pod_create_from_replicaset(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_fixture(f, K126 "Pod-CREATE-from-replicaset.json"), CG_OK);
    struct cg_admission_request *r = &f->req;
    assert_str(r->uid, "3ae65d97-1e0c-4036-adfb-d1b664f01b05");
    assert_int_equal(r->name.n, 0); /* the apiserver sends no name before generateName runs */
    assert_str(r->namespace_, "wh-test");
    assert_str(r->username, "system:serviceaccount:kube-system:replicaset-controller");
    assert_str(r->user_uid, "e4b09592-6a5e-4f4c-90bc-e38a0429e4b1");
    assert_int_equal(r->groups.n, 3);
    assert_str(r->groups.items[1], "system:serviceaccounts:kube-system");
    assert_int_equal(r->object.name.n, 0);
    assert_str(r->object.generate_name, "d1-cd56f85c4-");
    assert_int_equal(r->object.labels.n, 2);
    assert_string_equal(label(&r->object.labels, "app"), "d1");
    assert_string_equal(label(&r->object.labels, "pod-template-hash"), "cd56f85c4");
    assert_true(r->object.owner.present);
    assert_true(r->object.owner.controller);
    assert_str(r->object.owner.api_version, "apps/v1");
    assert_str(r->object.owner.kind, "ReplicaSet");
    assert_str(r->object.owner.name, "d1-cd56f85c4");
    assert_str(r->object.owner.uid, "7298ef8a-305e-4c1e-b583-80ab594882cc");
    assert_int_equal(r->object.pod.containers.n, 1);
    assert_str(r->object.pod.containers.items[0].name, "pause");
    assert_false(r->old_object.present);
}

static void test_pod_create_dryrun(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_fixture(f, K126 "Pod-CREATE-dryrun.json"), CG_OK);
    assert_str(f->req.uid, "7830414f-1437-45a8-a722-cfd7c6bfc871");
    assert_true(f->req.dry_run);
    assert_str(f->req.namespace_, "dr-test");
    assert_str(f->req.name, "dry");
    assert_string_equal(label(&f->req.object.labels, "run"), "dry");
}

static void test_pod_delete(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_fixture(f, K126 "Pod-DELETE.json"), CG_OK);
    struct cg_admission_request *r = &f->req;
    assert_str(r->uid, "ccc0c40c-8088-493f-b348-1f2e04b629b0");
    assert_int_equal(r->operation, CG_OP_DELETE);
    assert_false(r->object.present); /* object: null */
    assert_true(r->old_object.present);
    assert_str(r->old_object.uid, "0b1ccbaa-7c1f-45d5-9700-96b0ce7214bd");
    assert_str(r->old_object.name, "p1");
    assert_string_equal(label(&r->old_object.labels, "lab-webhook-mutated"), "true");
    assert_false(r->old_object.deletion_timestamp_set);
}

static void test_pod_delete_by_node(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_fixture(f, K126 "Pod-DELETE-by-node.json"), CG_OK);
    struct cg_admission_request *r = &f->req;
    assert_str(r->uid, "f394bce0-6b62-4a9d-ab8f-aaab13432525");
    assert_str(r->username, "system:node:hollow-a1");
    assert_str(r->groups.items[0], "system:nodes");
    assert_str(r->name, "web-5686749575-w5nfn");
    assert_str(r->namespace_, "smoke-27373");
    assert_false(r->object.present);
    assert_true(r->old_object.deletion_timestamp_set);
    assert_str(r->old_object.generate_name, "web-5686749575-");
    assert_str(r->old_object.owner.name, "web-5686749575");
    assert_str(r->old_object.pod.node_name, "hollow-a1");
    assert_int_equal(r->old_object.labels.n, 3);
}

static void test_pod_update(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_fixture(f, K126 "Pod-UPDATE.json"), CG_OK);
    struct cg_admission_request *r = &f->req;
    assert_str(r->uid, "921f68c6-9ed2-4f32-8bd5-c6d7b77ce8ab");
    assert_int_equal(r->operation, CG_OP_UPDATE);
    assert_true(r->object.present && r->old_object.present);
    /* kubectl label added extra=1 */
    assert_int_equal(r->object.labels.n, 3);
    assert_string_equal(label(&r->object.labels, "extra"), "1");
    assert_int_equal(r->old_object.labels.n, 2);
    assert_null(label(&r->old_object.labels, "extra"));
    assert_str(r->object.pod.node_name, "hollow-b1");
    assert_true(r->object.pod.readiness_gates.present);
    assert_int_equal(r->object.pod.readiness_gates.n, 1);
    assert_str(r->object.pod.readiness_gates.items[0], "lab.example.com/gate-1");
    assert_str(r->object.pod.containers.items[0].name, "c");
    /* The last-applied annotation is escaped JSON ending in \n: unescaped in the arena. */
    const char *la =
        label(&r->object.annotations, "kubectl.kubernetes.io/last-applied-configuration");
    assert_non_null(la);
    assert_true(strncmp(la, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\"", 31) == 0);
    assert_true(la[strlen(la) - 1] == '\n');
    assert_non_null(
        strstr(la, "\"readinessGates\":[{\"conditionType\":\"lab.example.com/gate-1\"}]"));
}

static void test_deployment_create(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_fixture(f, K126 "Deployment-CREATE.json"), CG_OK);
    struct cg_admission_request *r = &f->req;
    struct cg_object *o = &r->object;
    assert_str(r->uid, "2720d81f-9bca-4fa5-8608-21297c8120af");
    assert_str(r->kind.group, "apps");
    assert_str(r->kind.kind, "Deployment");
    assert_str(r->resource.resource, "deployments");
    assert_str(o->kind, "Deployment");
    assert_str(o->api_version, "apps/v1");
    assert_str(o->name, "d1");
    assert_true(o->has_spec);
    assert_true(o->replicas.present);
    assert_int_equal(o->replicas.v, 2);
    assert_int_equal(o->revision_history_limit.v, 10);
    assert_int_equal(o->progress_deadline_seconds.v, 600);
    assert_false(o->min_ready_seconds.present);
    assert_true(o->has_strategy);
    assert_str(o->strategy_type, "RollingUpdate");
    assert_true(o->has_rolling_update);
    assert_true(o->max_surge.present && o->max_surge.is_string);
    assert_str(o->max_surge.s, "25%");
    assert_true(o->max_unavailable.present && o->max_unavailable.is_string);
    assert_str(o->max_unavailable.s, "25%");
    assert_true(o->has_template);
    assert_true(o->template_digest != 0);
    assert_string_equal(label(&o->template_labels, "app"), "d1");
    assert_false(o->template_annotations.present);
    assert_true(o->pod.present);
    assert_int_equal(o->pod.containers.n, 1);
    assert_str(o->pod.containers.items[0].name, "pause");
    assert_false(o->pod.containers.items[0].has_readiness_probe);
    assert_false(r->old_object.present);
}

static uint64_t fixture_digest(struct fx *f, const char *name, bool old)
{
    assert_int_equal(decode_fixture(f, name), CG_OK);
    return old ? f->req.old_object.template_digest : f->req.object.template_digest;
}

static void test_deployment_update_digests(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_fixture(f, K126 "Deployment-UPDATE.json"), CG_OK);
    struct cg_admission_request *r = &f->req;
    assert_str(r->uid, "b469f26c-8668-465c-a56b-89bce8a65ba9");
    assert_int_equal(r->operation, CG_OP_UPDATE);
    assert_true(r->object.has_template && r->old_object.has_template);
    /* The file changes the image pause:3.9 -> pause:3.8: a new release, so the digests differ. */
    uint64_t now = r->object.template_digest, before = r->old_object.template_digest;
    assert_true(now != before);
    assert_string_equal(label(&r->object.annotations, "deployment.kubernetes.io/revision"), "1");
    /* The same templates appear in the other captures: CREATE (3.9) and DELETE (3.8, rev 2). */
    assert_true(fixture_digest(f, K126 "Deployment-CREATE.json", false) == before);
    assert_true(fixture_digest(f, K126 "Deployment-DELETE.json", true) == now);
    assert_int_equal(f->req.old_object.replicas.v, 3); /* scaling is not a template change */
    assert_string_equal(label(&f->req.old_object.annotations, "deployment.kubernetes.io/revision"),
                        "2");
    /* The digest is the one of the template's text, whatever its layout. */
    size_t n;
    char *body = cg_test_read_fixture(K126 "Deployment-UPDATE.json", &n);
    const char *t = strstr(body, "\"template\":") + strlen("\"template\":");
    const char *end = strstr(t, ",\"strategy\"");
    assert_non_null(end);
    assert_true(cg_admission_digest_json(t, (size_t)(end - t)) == now);
    free(body);
}

/* ---- escapes ---- */

static void test_go_escapes(void **state)
{
    struct fx *f = *state;
    const char *doc =
        "{\"apiVersion\":\"admission.k8s.io\\/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
        "\"\\u0075id\":\"u\\u002d1\",\"name\":\"a\\u003cb\\u003e\\u0026c\","
        "\"namespace\":\"smile-\\ud83d\\ude00\",\"userInfo\":{\"username\":\"\\u00e9t\\u00e9 "
        "\\\"q\\\" \\\\ \\b\\f\\n\\r\\t\\u20ac\"},"
        "\"object\":{\"kind\":\"Pod\",\"metadata\":{\"labels\":{\"\\u0061pp\":\"x\\/y\"}}}}}";
    assert_int_equal(decode_str(f, doc), CG_OK);
    assert_str(f->req.api_version, "admission.k8s.io/v1");
    assert_str(f->req.uid, "u-1");
    assert_str(f->req.name, "a<b>&c");
    assert_str(f->req.namespace_, "smile-\xf0\x9f\x98\x80");
    assert_str(f->req.username, "\xc3\xa9t\xc3\xa9 \"q\" \\ \b\f\n\r\t\xe2\x82\xac");
    assert_string_equal(label(&f->req.object.labels, "app"), "x/y");
    /* Raw UTF-8 passes through untouched. */
    assert_int_equal(decode_str(f, review("\"name\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"")),
                     CG_OK);
    assert_str(f->req.name, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    /* \u0000 is a valid escape (a NUL byte inside the view string). */
    assert_int_equal(decode_str(f, review("\"name\":\"a\\u0000b\"")), CG_OK);
    assert_int_equal(f->req.name.n, 3);
    assert_memory_equal(f->req.name.p, "a\0b", 3);
}

/* ---- errors ---- */

static void expect(struct fx *f, const char *doc, enum cg_status want, const char *msg)
{
    enum cg_status st = decode_str(f, doc);
    if (st != want)
        fail_msg("status %d (%s), want %d for %s", st, f->err.msg, want, doc);
    assert_int_equal(f->err.status, want);
    if (msg != NULL)
        assert_err_contains(f, msg);
}

static void test_truncated_fixtures(void **state)
{
    struct fx *f = *state;
    static const char *names[] = {
        "Pod-CREATE.json",        "Pod-CREATE-from-replicaset.json", "Pod-CREATE-dryrun.json",
        "Pod-DELETE.json",        "Pod-DELETE-by-node.json",         "Pod-UPDATE.json",
        "Deployment-CREATE.json", "Deployment-UPDATE.json",          "Deployment-DELETE.json"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        char rel[128];
        snprintf(rel, sizeof(rel), K126 "%s", names[k]);
        size_t n;
        char *p = cg_test_read_fixture(rel, &n);
        size_t last = n;
        while (last > 0 && p[last - 1] != '}')
            last--;
        assert_true(last > 0);
        /* Every proper prefix ending before the final '}' is malformed. */
        for (size_t cut = 0; cut < last; cut++) {
            enum cg_status st = decode_bytes(f, p, cut);
            if (st != CG_EPARSE)
                fail_msg("%s cut at %zu: status %d (%s)", names[k], cut, st, f->err.msg);
            assert_non_null(strstr(f->err.msg, cut == 0 ? "empty body" : "byte"));
        }
        assert_int_equal(decode_bytes(f, p, last), CG_OK);
        assert_int_equal(decode_bytes(f, p, n), CG_OK);
        free(p);
    }
}

static void test_not_a_review(void **state)
{
    struct fx *f = *state;
    assert_int_equal(decode_bytes(f, "", 0), CG_EPARSE);
    assert_err_contains(f, "empty body");
    expect(f, " \r\n\t ", CG_EPARSE, "empty body");
    expect(f, "[]", CG_EINVAL, "not an object");
    expect(f, "42", CG_EINVAL, "not an object");
    expect(f, "\"x\"", CG_EINVAL, "not an object");
    expect(f, "null", CG_EINVAL, "not an object");
    expect(f, "{}", CG_EINVAL, "apiVersion: missing");
    expect(f, "{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\"}",
           CG_EINVAL,
           "apiVersion: expected \"admission.k8s.io/v1\", got \"admission.k8s.io/v1beta1\"");
    expect(f, "{\"apiVersion\":1,\"kind\":\"AdmissionReview\"}", CG_EINVAL,
           "apiVersion: expected a string, got a number");
    expect(f,
           "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\",\"request\":{\"uid\":\"x\"}}",
           CG_EINVAL, "kind: expected \"AdmissionReview\", got \"Pod\"");
    expect(f, "{\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{\"uid\":\"x\"}}", CG_EINVAL,
           "kind: missing");
    expect(f, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", CG_EINVAL,
           "request: missing");
    expect(f,
           "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":null}",
           CG_EINVAL, "request: expected an object, got null");
    expect(f,
           "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":[1]}",
           CG_EINVAL, "request: expected an object, got an array");
    expect(f,
           "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{}}",
           CG_EINVAL, "request.uid: missing");
    expect(
        f,
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":"
        "\"\"}}",
        CG_EINVAL, "request.uid: must not be empty");
    expect(
        f,
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":"
        "null}}",
        CG_EINVAL, "request.uid: missing");
    expect(
        f,
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":"
        "42}}",
        CG_EINVAL, "request.uid: expected a string, got a number (at byte 78)");
    /* Unknown fields anywhere are ignored. */
    expect(f, review("\"zzz\":{\"a\":[1,2,{\"b\":null}]},\"options\":{\"kind\":\"DeleteOptions\"}"),
           CG_OK, NULL);
}

static void test_wrong_types(void **state)
{
    struct fx *f = *state;
    expect(f, review("\"dryRun\":\"true\""), CG_EINVAL,
           "request.dryRun: expected a boolean, got a string");
    expect(f, review("\"userInfo\":{\"groups\":[\"a\",7]}"), CG_EINVAL,
           "request.userInfo.groups[1]: expected a string, got a number");
    expect(f, review("\"userInfo\":{\"groups\":\"a\"}"), CG_EINVAL,
           "request.userInfo.groups: expected an array of strings, got a string");
    expect(f, review("\"kind\":\"Pod\""), CG_EINVAL,
           "request.kind: expected an object, got a string");
    expect(f, review("\"object\":{\"metadata\":{\"labels\":[\"a\"]}}"), CG_EINVAL,
           "request.object.metadata.labels: expected an object, got an array");
    expect(f, review("\"object\":{\"metadata\":{\"labels\":{\"a\":\"b\",\"c\":1}}}"), CG_EINVAL,
           "request.object.metadata.labels: expected an object of strings, but the value of \"c\" "
           "is a number");
    expect(f, review("\"oldObject\":{\"spec\":{\"replicas\":2.5}}"), CG_EINVAL,
           "request.oldObject.spec.replicas: expected an integer, got 2.5");
    expect(f, review("\"object\":{\"spec\":{\"replicas\":99999999999999999999}}"), CG_EINVAL,
           "expected an integer");
    expect(f,
           review("\"object\":{\"spec\":{\"strategy\":{\"rollingUpdate\":{\"maxSurge\":true}}}}"),
           CG_EINVAL,
           "request.object.spec.strategy.rollingUpdate.maxSurge: expected an integer or a string");
    expect(f,
           review("\"object\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\"},{"
                  "\"name\":3}]}}}}"),
           CG_EINVAL, "request.object.spec.template.spec.containers[1].name: expected a string");
    expect(f, review("\"object\":{\"spec\":{\"containers\":[{\"readinessProbe\":true}]}}"),
           CG_EINVAL, "request.object.spec.containers[0].readinessProbe: expected an object");
    expect(f, review("\"object\":{\"metadata\":{\"ownerReferences\":[{\"controller\":\"yes\"}]}}"),
           CG_EINVAL, "request.object.metadata.ownerReferences[0].controller: expected a boolean");
    /* A type error followed by a syntax error is a syntax error. */
    expect(f, "{\"apiVersion\":1,\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"x\"},}",
           CG_EPARSE, "expected a key");
}

static void test_nulls_and_values(void **state)
{
    struct fx *f = *state;
    /* null is the zero value of any field but request and request.uid. */
    expect(f,
           review("\"name\":null,\"dryRun\":null,\"userInfo\":{\"groups\":null},\"object\":{"
                  "\"kind\":\"Deployment\",\"metadata\":{\"labels\":null,\"annotations\":{\"a\":"
                  "null},\"deletionTimestamp\":null},\"spec\":{\"replicas\":null,\"strategy\":{"
                  "\"rollingUpdate\":{\"maxSurge\":0,\"maxUnavailable\":-1}},\"template\":null}}"),
           CG_OK, NULL);
    struct cg_object *o = &f->req.object;
    assert_int_equal(f->req.name.n, 0);
    assert_true(f->req.groups.present);
    assert_int_equal(f->req.groups.n, 0);
    assert_true(o->labels.present);
    assert_int_equal(o->labels.n, 0);
    assert_int_equal(o->annotations.n, 1);
    assert_int_equal(o->annotations.items[0].value.n, 0);
    assert_false(o->deletion_timestamp_set);
    assert_false(o->replicas.present);
    assert_true(o->max_surge.present && !o->max_surge.is_string);
    assert_int_equal(o->max_surge.i, 0);
    assert_int_equal(o->max_unavailable.i, -1);
    assert_false(o->has_template);
    assert_false(o->pod.present);
    /* Owner: the controlling reference wins over an earlier one; else the first. */
    expect(
        f,
        review("\"object\":{\"kind\":\"Pod\",\"metadata\":{\"ownerReferences\":[{\"name\":\"a\"},"
               "{\"name\":\"b\",\"controller\":true},{\"name\":\"c\",\"controller\":true}]},"
               "\"spec\":{\"affinity\":{\"nodeAffinity\":{"
               "\"requiredDuringSchedulingIgnoredDuringExecution\":{}}},\"initContainers\":[{"
               "\"name\":\"i\",\"readinessProbe\":{\"x\":1}}],\"containers\":[]}}"),
        CG_OK, NULL);
    assert_str(f->req.object.owner.name, "b");
    assert_true(f->req.object.pod.has_affinity);
    assert_true(f->req.object.pod.has_node_affinity);
    assert_true(f->req.object.pod.has_required_node_affinity);
    assert_int_equal(f->req.object.pod.init_containers.n, 1);
    assert_true(f->req.object.pod.init_containers.items[0].has_readiness_probe);
    assert_int_equal(f->req.object.pod.containers.n, 0);
    expect(
        f,
        review(
            "\"object\":{\"metadata\":{\"ownerReferences\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}"),
        CG_OK, NULL);
    assert_str(f->req.object.owner.name, "a");
    assert_false(f->req.object.owner.controller);
    expect(f, review("\"operation\":\"PATCH\""), CG_OK, NULL);
    assert_int_equal(f->req.operation, CG_OP_UNKNOWN);
    assert_str(f->req.operation_raw, "PATCH");
    expect(f, review("\"operation\":\"CONNECT\",\"subResource\":\"eviction\""), CG_OK, NULL);
    assert_int_equal(f->req.operation, CG_OP_CONNECT);
    assert_str(f->req.sub_resource, "eviction");
}

static void test_duplicate_keys(void **state)
{
    struct fx *f = *state;
    expect(f, "{\"kind\":\"AdmissionReview\",\"kind\":\"AdmissionReview\"}", CG_EPARSE,
           "duplicate key \"kind\" (first at byte 1)");
    expect(f, review("\"uid\":\"u-2\""), CG_EPARSE, "duplicate key \"uid\"");
    /* the same key spelled with an escape */
    expect(f, review("\"\\u0075id\":\"u-2\""), CG_EPARSE, "duplicate key");
    /* deep inside a skipped part */
    expect(f, review("\"options\":{\"a\":[{\"b\":{\"c\":1,\"d\":2,\"c\":3}}]}"), CG_EPARSE,
           "duplicate key \"c\"");
    /* same key in sibling objects is fine */
    expect(f, review("\"options\":{\"a\":{\"x\":1},\"b\":{\"x\":1}}"), CG_OK, NULL);
    /* keys that differ only after unescaping are different */
    expect(f, review("\"options\":{\"a\\u0062\":1,\"ab \":2,\"a\\\\b\":3}"), CG_OK, NULL);
    /* a duplicate inside a real fixture's managedFields (f:enableServiceLinks -> f:dnsPolicy) */
    size_t n;
    char *p = cg_test_read_fixture(K126 "Pod-CREATE-from-replicaset.json", &n);
    const char *from = "\"f:enableServiceLinks\"", *to = "\"f:dnsPolicy\"";
    char *at = strstr(p, from);
    assert_non_null(at);
    assert_non_null(strstr(p, "\"f:dnsPolicy\":{},\"f:enableServiceLinks\""));
    char *q = malloc(n + 1);
    size_t head = (size_t)(at - p);
    memcpy(q, p, head);
    memcpy(q + head, to, strlen(to));
    size_t rest = n - head - strlen(from);
    memcpy(q + head + strlen(to), at + strlen(from), rest);
    assert_int_equal(decode_bytes(f, q, head + strlen(to) + rest), CG_EPARSE);
    assert_err_contains(f, "duplicate key \"f:dnsPolicy\"");
    free(q);
    free(p);
}

/* An object with many keys (checked by sorting, not pairwise). */
static void test_duplicate_keys_big_object(void **state)
{
    struct fx *f = *state;
    const size_t keys = 100000;
    size_t cap = keys * 24 + 1024, o = 0;
    char *doc = malloc(cap);
    o += (size_t)snprintf(doc + o, cap - o, "%s", review("\"options\":{"));
    o -= 2; /* drop the closing "}}" to continue the options object */
    for (size_t k = 0; k < keys; k++)
        o += (size_t)snprintf(doc + o, cap - o, "%s\"key-%zu\":%zu", k ? "," : "", k, k);
    size_t body_end = o;
    o += (size_t)snprintf(doc + o, cap - o, "}}}");
    assert_int_equal(decode_bytes(f, doc, o), CG_OK);
    /* the same with a duplicate of an early key at the end */
    o = body_end;
    o += (size_t)snprintf(doc + o, cap - o, ",\"key-17\":1}}}");
    assert_int_equal(decode_bytes(f, doc, o), CG_EPARSE);
    assert_err_contains(f, "duplicate key \"key-17\"");
    free(doc);
}

static void test_depth(void **state)
{
    struct fx *f = *state;
    /* The review itself takes 2 levels (root, request): 126 more fit, 127 do not. */
    char *doc = malloc(2 * 1000000 + 256);
    for (int levels = 126; levels <= 127; levels++) {
        size_t o = (size_t)sprintf(doc, "%s", review("\"options\":"));
        o -= 2;
        for (int k = 0; k < levels; k++)
            doc[o++] = '[';
        for (int k = 0; k < levels; k++)
            doc[o++] = ']';
        o += (size_t)sprintf(doc + o, "}}");
        enum cg_status st = decode_bytes(f, doc, o);
        assert_int_equal(st, levels == 126 ? CG_OK : CG_EPARSE);
    }
    assert_err_contains(f, "nesting deeper than 128 levels");
    /* a depth bomb: a million open brackets */
    memset(doc, '[', 1000000);
    assert_int_equal(decode_bytes(f, doc, 1000000), CG_EPARSE);
    assert_err_contains(f, "nesting deeper");
    for (size_t k = 0; k < 200000; k++)
        memcpy(doc + 5 * k, "{\"a\":", 5);
    assert_int_equal(decode_bytes(f, doc, 1000000), CG_EPARSE);
    assert_err_contains(f, "nesting deeper");
    free(doc);
}

static void test_bad_strings(void **state)
{
    struct fx *f = *state;
    expect(f, review("\"name\":\"a\\x\""), CG_EPARSE, "invalid escape '\\x'");
    expect(f, review("\"name\":\"a\\u12\""), CG_EPARSE, "invalid \\u escape");
    expect(f, review("\"name\":\"a\\u12G4\""), CG_EPARSE, "invalid \\u escape");
    expect(f, review("\"name\":\"a\\ud800\""), CG_EPARSE, "lone high surrogate \\ud800");
    expect(f, review("\"name\":\"a\\ud800\\u0041\""), CG_EPARSE, "lone high surrogate");
    expect(f, review("\"name\":\"a\\ud800\\ud800\""), CG_EPARSE, "lone high surrogate");
    expect(f, review("\"name\":\"a\\udc00\""), CG_EPARSE, "lone low surrogate \\udc00");
    expect(f, review("\"name\":\"a\tb\""), CG_EPARSE, "control character 0x09");
    expect(f, review("\"name\":\"a\nb\""), CG_EPARSE, "control character 0x0a");
    expect(f, review("\"name\":\"\xc0\xaf\""), CG_EPARSE, "invalid UTF-8");         /* overlong */
    expect(f, review("\"name\":\"\xed\xa0\x80\""), CG_EPARSE, "invalid UTF-8");     /* surrogate */
    expect(f, review("\"name\":\"\xf4\x90\x80\x80\""), CG_EPARSE, "invalid UTF-8"); /* >10FFFF */
    expect(f, review("\"name\":\"\xf5\x80\x80\x80\""), CG_EPARSE, "invalid UTF-8");
    expect(f, review("\"name\":\"\xe2\x82\""), CG_EPARSE, "invalid UTF-8"); /* truncated */
    expect(f, review("\"name\":\"\x80\""), CG_EPARSE, "invalid UTF-8");
    expect(f, review("\"options\":{\"k\xff\":1}"), CG_EPARSE, "invalid UTF-8");
    expect(f, "{\"apiVersion\":\"abc", CG_EPARSE, "unterminated string");
    expect(f, "{\"apiVersion\":\"abc\\", CG_EPARSE, "unterminated string");
}

static void test_bad_syntax(void **state)
{
    struct fx *f = *state;
    static const char *bad_numbers[] = {"01",        "1.",   ".5",   "-",   "1e",
                                        "1e+",       "+1",   "0x10", "NaN", "Infinity",
                                        "-Infinity", "1.e5", "--1",  "- 1"};
    for (size_t k = 0; k < sizeof(bad_numbers) / sizeof(bad_numbers[0]); k++) {
        char frag[64];
        snprintf(frag, sizeof(frag), "\"options\":%s", bad_numbers[k]);
        expect(f, review(frag), CG_EPARSE, "byte");
    }
    static const char *good_numbers[] = {
        "0", "-0", "1.5e10", "1E-3", "-12.25e+2", "123456789012345678901234567890", "1e999"};
    for (size_t k = 0; k < sizeof(good_numbers) / sizeof(good_numbers[0]); k++) {
        char frag[64];
        snprintf(frag, sizeof(frag), "\"options\":[%s]", good_numbers[k]);
        expect(f, review(frag), CG_OK, NULL);
    }
    expect(f, review("\"options\":tru"), CG_EPARSE, "invalid literal (expected true)");
    expect(f, review("\"options\":nul"), CG_EPARSE, "invalid literal (expected null)");
    expect(f, review("\"options\":False"), CG_EPARSE, "unexpected character 'F'");
    expect(f, review("\"options\":[1,]"), CG_EPARSE, "expected a value after ','");
    expect(f, review("\"options\":[1 2]"), CG_EPARSE, "expected ',' or ']'");
    expect(f, review("\"options\":{\"a\":1,}"), CG_EPARSE, "expected a key");
    expect(f, review("\"options\":{\"a\" 1}"), CG_EPARSE, "expected ':'");
    expect(f, review("\"options\":{\"a\":1 \"b\":2}"), CG_EPARSE, "expected ',' or '}'");
    expect(f, review("\"options\":{a:1}"), CG_EPARSE, "expected a key or '}'");
    expect(f, review("\"options\":'x'"), CG_EPARSE, "unexpected character");
    expect(f, review("\"options\":\x01"), CG_EPARSE, "unexpected byte 0x01");
    static char trailing[(1 << 16) + 64];
    snprintf(trailing, sizeof(trailing), "%s x", review(""));
    expect(f, trailing, CG_EPARSE, "unexpected data after the JSON value");
    snprintf(trailing, sizeof(trailing), "%s{}", review(""));
    expect(f, trailing, CG_EPARSE, "unexpected data after the JSON value");
    snprintf(trailing, sizeof(trailing), " \n%s \r\n\t", review(""));
    expect(f, trailing, CG_OK, NULL);
    /* A NUL byte after the document is garbage too (the body's length is what counts). */
    const char *r = review("");
    size_t rl = strlen(r);
    memcpy(trailing, r, rl + 1);
    assert_int_equal(decode_bytes(f, trailing, rl + 1), CG_EPARSE);
    /* Error offsets point at the problem. */
    expect(f, "{\"a\":[1,2,]", CG_EPARSE, "invalid JSON at byte 10: expected a value after ','");
}

/* Release detection compares the templates' text, never the digest: equal digests with other
 * text are still two revisions (a crafted collision gains nothing). */
static void test_same_template(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{\"spec\":{\"containers\":[{\"name\":\"a b\",\"image\":\"x:1\"}]}}",
        " {\"spec\" : {\"containers\": [ {\"name\": \"a b\",\n\"image\":\"x:1\"} ] } }",
        "{\"spec\":{\"containers\":[{\"name\":\"ab\",\"image\":\"x:1\"}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"a\\\" b\",\"image\":\"x:1\"}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"a\\\"b\",\"image\":\"x:1\"}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"a b\",\"image\":\"x:1\"}]}} ",
    };
    /* Which pairs are the same template: 0~1 (layout), 0~5 (trailing space); others differ. */
    static const int same[][2] = {{0, 1}, {0, 5}, {1, 5}};
    for (size_t i = 0; i < 6; i++) {
        for (size_t j = 0; j < 6; j++) {
            struct cg_object a = {.has_template = true,
                                  .template_json = cg_str_from(texts[i]),
                                  .template_compact = strchr(texts[i], ' ') == NULL,
                                  .template_digest = 42};
            struct cg_object b = a;
            b.template_json = cg_str_from(texts[j]);
            b.template_compact = strchr(texts[j], ' ') == NULL;
            bool want = i == j;
            for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++)
                want = want || ((size_t)same[k][0] == i && (size_t)same[k][1] == j) ||
                       ((size_t)same[k][0] == j && (size_t)same[k][1] == i);
            if (cg_admission_same_template(&a, &b) != want)
                fail_msg("templates %zu and %zu: same=%d, want %d", i, j, !want, want);
        }
    }
    struct cg_object none = {0}, some = {.has_template = true, .template_compact = true};
    assert_true(cg_admission_same_template(&none, &none));
    assert_false(cg_admission_same_template(&none, &some));
}

static void test_template_digest(void **state)
{
    (void)state;
    const char *a =
        "{\"metadata\":{\"labels\":{\"app\":\"d1\"}},\"spec\":{\"containers\":[{\"name\":"
        "\"a b\",\"image\":\"x:1\"}]}}";
    const char *b = " {\n  \"metadata\" : { \"labels\" : {\"app\":\"d1\"} },\r\n\t\"spec\": {"
                    "\"containers\": [ {\"name\": \"a b\", \"image\": \"x:1\"} ] }\n}";
    const char *c =
        "{\"metadata\":{\"labels\":{\"app\":\"d1\"}},\"spec\":{\"containers\":[{\"name\":"
        "\"a b\",\"image\":\"x:2\"}]}}";
    const char *d =
        "{\"metadata\":{\"labels\":{\"app\":\"d1\"}},\"spec\":{\"containers\":[{\"name\":"
        "\"ab\",\"image\":\"x:1\"}]}}"; /* whitespace inside a string counts */
    const char *e =
        "{\"metadata\":{\"labels\":{\"app\":\"d1\"}},\"spec\":{\"containers\":[{\"name\":"
        "\"a\\\" b\",\"image\":\"x:1\"}]}}"; /* escaped quote keeps the string open */
    const char *e2 =
        "{\"metadata\":{\"labels\":{\"app\":\"d1\"}},\"spec\":{\"containers\":[{\"name\":"
        "\"a\\\"b\",\"image\":\"x:1\"}]}}";
    uint64_t da = cg_admission_digest_json(a, strlen(a));
    assert_true(da == cg_admission_digest_json(b, strlen(b)));
    assert_true(da != cg_admission_digest_json(c, strlen(c)));
    assert_true(da != cg_admission_digest_json(d, strlen(d)));
    assert_true(cg_admission_digest_json(e, strlen(e)) != cg_admission_digest_json(e2, strlen(e2)));
    assert_true(cg_admission_digest_json("", 0) != cg_admission_digest_json("{}", 2));
    /* Through the decoder: same template with other whitespace, then a changed one. */
    struct cg_arena arena;
    cg_arena_init(&arena, 4096);
    struct cg_admission_request req;
    char doc[2048];
    uint64_t got[3];
    const char *tmpl[3] = {a, b, c};
    for (int k = 0; k < 3; k++) {
        snprintf(doc, sizeof(doc),
                 "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
                 "{\"uid\":\"x\",\"object\":{\"kind\":\"Deployment\",\"spec\":{\"template\":%s}}}}",
                 tmpl[k]);
        assert_int_equal(cg_admission_decode(doc, strlen(doc), &arena, &req, NULL), CG_OK);
        assert_true(req.object.has_template);
        assert_true(req.object.pod.present);
        assert_str(req.object.pod.containers.items[0].name, "a b");
        got[k] = req.object.template_digest;
        cg_arena_reset(&arena);
    }
    assert_true(got[0] == da && got[1] == da && got[2] != da);
    cg_arena_dispose(&arena);
}

/* The scanner this binary runs its cases on: the portable copy (tests/CMakeLists.txt) must
 * really be the portable path, or its run would repeat the SIMD one. */
static void test_scanner_variant(void **state)
{
    (void)state;
    print_message("scanner: %s\n", cg__scan_variant());
#ifdef CG_EXPECT_SCAN_VARIANT
    assert_string_equal(cg__scan_variant(), CG_EXPECT_SCAN_VARIANT);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner_variant),
        cmocka_unit_test_setup_teardown(test_pod_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pod_create_from_replicaset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pod_create_dryrun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pod_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pod_delete_by_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pod_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deployment_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deployment_update_digests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_go_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_fixtures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_review, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nulls_and_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys_big_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_syntax, setup, teardown),
        cmocka_unit_test(test_template_digest),
        cmocka_unit_test(test_same_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
