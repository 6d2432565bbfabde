/* The independent check of the patch builder: patches it writes for real kube-apiserver
 * objects are applied by fast-json-patch (npm) under node, and by our own applier; both
 * results must equal the expected object, which each case builds by direct jansson edits.
 *
 * Needs the node side installed once: npm --prefix tests/jsonpatch-node ci */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "jsonpatch/jsonpatch.h"
#include "test_support.h"

#define S(lit) CG_STR_LIT(lit)

/* request.object of a fixture review (a new reference). */
static json_t *fixture_object(const char *rel)
{
    char *text = cg_test_read_fixture(rel, NULL);
    json_error_t jerr;
    json_t *review = json_loads(text, 0, &jerr);
    free(text);
    if (review == NULL)
        fail_msg("%s: %s", rel, jerr.text);
    json_t *obj = json_object_get(json_object_get(review, "request"), "object");
    assert_true(json_is_object(obj));
    json_incref(obj);
    json_decref(review);
    return obj;
}

/* Walks a path of object members (test helper; aborts the test if one is missing). */
static json_t *at(json_t *v, const char *const *keys)
{
    for (; *keys != NULL; keys++) {
        json_t *next =
            json_is_array(v) ? json_array_get(v, (size_t)atoi(*keys)) : json_object_get(v, *keys);
        if (next == NULL)
            fail_msg("test setup: no \"%s\" in the fixture object", *keys);
        v = next;
    }
    return v;
}
#define AT(v, ...) at((v), (const char *const[]){__VA_ARGS__, NULL})

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        fail_msg("bad JSON in the test: %s: %s", jerr.text, text);
    return v;
}

static void assert_same(const char *who, const json_t *got, const json_t *want)
{
    if (json_equal(got, want))
        return;
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1) | JSON_ENCODE_ANY);
    char *w = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1) | JSON_ENCODE_ANY);
    fprintf(stderr, "--- %s got:\n%s\n--- want:\n%s\n", who, g, w);
    test_free(g);
    test_free(w);
    fail_msg("%s: patched object differs from the expected one", who);
}

/* One case: the object, the expected result (a copy of the object the case edits), and the
 * patch the case builds with the builder. */
struct pcase {
    json_t *obj;
    json_t *want;
    struct cg_patch p;
};

/* Takes obj; the patch may grow to cap bytes. */
static void case_init(struct pcase *c, json_t *obj, size_t cap)
{
    c->obj = obj;
    c->want = json_deep_copy(obj);
    cg_patch_init(&c->p, cap);
}

/* Checks the built patch applies to obj with node and with our applier to exactly want, then
 * disposes the case. */
static void check_case(struct pcase *c, const char *name)
{
    cg_test_node_check_installed();
    struct cg_str t = cg_patch_text(&c->p);
    assert_true(t.n > 0);
    json_error_t jerr;
    json_t *patch = json_loadb(t.p, t.n, 0, &jerr);
    if (patch == NULL)
        fail_msg("%s: the builder wrote invalid JSON (%s): %.*s", name, jerr.text, (int)t.n, t.p);

    json_t *by_node = cg_test_node_apply(c->obj, patch);
    if (by_node == NULL)
        fail_msg("%s: fast-json-patch rejected the patch: %.*s", name, (int)t.n, t.p);
    assert_same("fast-json-patch", by_node, c->want);

    json_t *ours = json_deep_copy(c->obj);
    struct cg_err err;
    enum cg_status st = cg_jsonpatch_apply(&ours, patch, &err);
    if (st != CG_OK)
        fail_msg("%s: cg_jsonpatch_apply: %s", name, err.msg);
    assert_same("cg_jsonpatch_apply", ours, c->want);

    json_decref(ours);
    json_decref(by_node);
    json_decref(patch);
    json_decref(c->want);
    json_decref(c->obj);
    cg_patch_dispose(&c->p);
}

static json_t *pod(void)
{
    return fixture_object("kube-apiserver-1.26/Pod-CREATE.json");
}

static json_t *deployment(void)
{
    return fixture_object("kube-apiserver-1.26/Deployment-UPDATE.json");
}

/* 1. The cell label into existing labels. */
static void pod_cell_label(void **state)
{
    (void)state;
    struct pcase c;
    case_init(&c, pod(), 4096);
    json_object_set_new(AT(c.want, "metadata", "labels"), "cellgate.io/cell",
                        json_string("zone-a"));

    const struct cg_str segs[] = {S("metadata"), S("labels"), S("cellgate.io/cell")};
    assert_int_equal(cg_patch_add_string(&c.p, segs, 3, 2, S("zone-a")), CG_OK);
    check_case(&c, __func__);
}

/* 2. An annotation when the Pod has no annotations: the parent is created first. */
static void pod_annotation_missing_parent(void **state)
{
    (void)state;
    struct pcase c;
    case_init(&c, pod(), 4096);
    assert_null(json_object_get(AT(c.obj, "metadata"), "annotations"));
    json_object_set_new(AT(c.want, "metadata"), "annotations",
                        json_pack("{s:s}", "cellgate.io/revision", "7d9f"));

    const struct cg_str segs[] = {S("metadata"), S("annotations"), S("cellgate.io/revision")};
    assert_int_equal(cg_patch_add_string(&c.p, segs, 3, 1, S("7d9f")), CG_OK);
    assert_int_equal(c.p.n_ops, 2);
    check_case(&c, __func__);
}

/* 3. The traffic gate appended to readinessGates, which does not exist yet. */
static void pod_readiness_gate(void **state)
{
    (void)state;
    struct pcase c;
    case_init(&c, pod(), 4096);
    json_object_set_new(AT(c.want, "spec"), "readinessGates",
                        json_pack("[{s:s}]", "conditionType", "cellgate.io/traffic-ready"));

    const struct cg_str segs[] = {S("spec"), S("readinessGates"), S("-")};
    assert_int_equal(
        cg_patch_add(&c.p, segs, 3, 1, S("{\"conditionType\":\"cellgate.io/traffic-ready\"}")),
        CG_OK);
    check_case(&c, __func__);
}

/* 4. Two drain finalizers: the first creates the array, the second appends. */
static void pod_finalizers(void **state)
{
    (void)state;
    struct pcase c;
    case_init(&c, pod(), 4096);
    json_object_set_new(AT(c.want, "metadata"), "finalizers",
                        json_pack("[s,s]", "cellgate.io/drain-service", "cellgate.io/drain-lb"));

    const struct cg_str segs[] = {S("metadata"), S("finalizers"), S("-")};
    assert_int_equal(cg_patch_add_string(&c.p, segs, 3, 1, S("cellgate.io/drain-service")), CG_OK);
    assert_int_equal(cg_patch_add_string(&c.p, segs, 3, 2, S("cellgate.io/drain-lb")), CG_OK);
    check_case(&c, __func__);
}

/* 5. Required node affinity when spec.affinity is absent: two parents, then the term. */
static const char affinity_term[] =
    "{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"topology.kubernetes.io/zone\","
    "\"operator\":\"In\",\"values\":[\"zone-b\"]}]}]}";

static void pod_node_affinity(void **state)
{
    (void)state;
    struct pcase c;
    case_init(&c, pod(), 4096);
    json_object_set_new(AT(c.want, "spec"), "affinity",
                        json_pack("{s:{s:o}}", "nodeAffinity",
                                  "requiredDuringSchedulingIgnoredDuringExecution",
                                  parse(affinity_term)));

    const struct cg_str segs[] = {S("spec"), S("affinity"), S("nodeAffinity"),
                                  S("requiredDuringSchedulingIgnoredDuringExecution")};
    assert_int_equal(cg_patch_add(&c.p, segs, 4, 1, cg_str_from(affinity_term)), CG_OK);
    assert_int_equal(c.p.n_ops, 3);
    check_case(&c, __func__);
}

/* 6. The whole Pod CREATE mutation in one patch, as the webhook sends it. */
static void pod_full_mutation(void **state)
{
    (void)state;
    struct pcase c;
    case_init(&c, pod(), 8192);
    json_object_set_new(AT(c.want, "metadata", "labels"), "cellgate.io/cell",
                        json_string("zone-b"));
    json_object_set_new(AT(c.want, "metadata"), "finalizers",
                        json_pack("[s]", "cellgate.io/drain-service"));
    json_object_set_new(AT(c.want, "spec"), "readinessGates",
                        json_pack("[{s:s}]", "conditionType", "cellgate.io/traffic-ready"));
    json_object_set_new(AT(c.want, "spec"), "affinity",
                        json_pack("{s:{s:o}}", "nodeAffinity",
                                  "requiredDuringSchedulingIgnoredDuringExecution",
                                  parse(affinity_term)));
    json_array_append_new(AT(c.want, "spec", "tolerations"),
                          json_pack("{s:s,s:s}", "key", "cellgate.io/cell", "operator", "Exists"));

    const struct cg_str label[] = {S("metadata"), S("labels"), S("cellgate.io/cell")};
    const struct cg_str fin[] = {S("metadata"), S("finalizers"), S("-")};
    const struct cg_str gate[] = {S("spec"), S("readinessGates"), S("-")};
    const struct cg_str aff[] = {S("spec"), S("affinity"), S("nodeAffinity"),
                                 S("requiredDuringSchedulingIgnoredDuringExecution")};
    const struct cg_str tol[] = {S("spec"), S("tolerations"), S("-")};
    assert_int_equal(cg_patch_add_string(&c.p, label, 3, 2, S("zone-b")), CG_OK);
    assert_int_equal(cg_patch_add_string(&c.p, fin, 3, 1, S("cellgate.io/drain-service")), CG_OK);
    assert_int_equal(
        cg_patch_add(&c.p, gate, 3, 1, S("{\"conditionType\":\"cellgate.io/traffic-ready\"}")),
        CG_OK);
    assert_int_equal(cg_patch_add(&c.p, aff, 4, 1, cg_str_from(affinity_term)), CG_OK);
    assert_int_equal(
        cg_patch_add(&c.p, tol, 3, 2, S("{\"key\":\"cellgate.io/cell\",\"operator\":\"Exists\"}")),
        CG_OK);
    check_case(&c, __func__);
}

/* 7. Deployment UPDATE: the strategy pinned and the release annotation (JSON inside a JSON
 * string: quotes to escape) under an existing annotations object. */
static const char release_json[] =
    "{\"revision\":\"2\",\"groups\":[[1,1],[2,2],[2,2]],\"group\":0,\"state\":\"progressing\","
    "\"note\":\"tab\\there\"}";

static void deployment_strategy_and_release(void **state)
{
    (void)state;
    struct pcase c;
    case_init(&c, deployment(), 4096);
    json_t *ru = AT(c.want, "spec", "strategy", "rollingUpdate");
    json_object_set_new(ru, "maxUnavailable", json_integer(0));
    json_object_set_new(ru, "maxSurge", json_integer(2));
    json_object_set_new(AT(c.want, "metadata", "annotations"), "cellgate.io/release",
                        json_string(release_json));

    const struct cg_str mu[] = {S("spec"), S("strategy"), S("rollingUpdate"), S("maxUnavailable")};
    const struct cg_str ms[] = {S("spec"), S("strategy"), S("rollingUpdate"), S("maxSurge")};
    const struct cg_str rel[] = {S("metadata"), S("annotations"), S("cellgate.io/release")};
    assert_int_equal(cg_patch_replace(&c.p, mu, 4, S("0")), CG_OK);
    assert_int_equal(cg_patch_replace(&c.p, ms, 4, S("2")), CG_OK);
    assert_int_equal(cg_patch_add_string(&c.p, rel, 3, 2, cg_str_from(release_json)), CG_OK);
    check_case(&c, __func__);
}

/* 8. Removing members whose names hold "/" and a label. */
static void deployment_removes(void **state)
{
    (void)state;
    struct pcase c;
    case_init(&c, deployment(), 4096);
    json_object_del(AT(c.want, "metadata", "annotations"), "deployment.kubernetes.io/revision");
    json_object_del(AT(c.want, "metadata", "labels"), "lab-webhook-mutated");

    const struct cg_str a[] = {S("metadata"), S("annotations"),
                               S("deployment.kubernetes.io/revision")};
    const struct cg_str l[] = {S("metadata"), S("labels"), S("lab-webhook-mutated")};
    assert_int_equal(cg_patch_remove(&c.p, a, 3), CG_OK);
    assert_int_equal(cg_patch_remove(&c.p, l, 3), CG_OK);
    check_case(&c, __func__);
}

/* 9. Awkward key and value: "~" and "/" in the key, quotes, backslashes, control characters
 * and UTF-8 in the value. */
static void deployment_awkward_strings(void **state)
{
    (void)state;
    static const char key[] = "ex~ample.io/we\"ird\\key~1";
    static const char val[] = "line1\nline2\t\"q\" back\\slash \x01 caf\xc3\xa9 \xe2\x9c\x93";
    struct pcase c;
    case_init(&c, deployment(), 4096);
    json_object_set_new(AT(c.want, "spec", "template", "metadata", "labels"), key,
                        json_string(val));

    const struct cg_str segs[] = {S("spec"), S("template"), S("metadata"), S("labels"),
                                  cg_str_from(key)};
    assert_int_equal(cg_patch_add_string(&c.p, segs, 5, 4, cg_str_from(val)), CG_OK);
    check_case(&c, __func__);
}

/* 10. An env var appended to the first container of the template: env is absent, and the
 * path runs through an array index. */
static void deployment_container_env(void **state)
{
    (void)state;
    struct pcase c;
    case_init(&c, deployment(), 4096);
    json_object_set_new(AT(c.want, "spec", "template", "spec", "containers", "0"), "env",
                        json_pack("[{s:s,s:s}]", "name", "CELLGATE_CELL", "value", "zone-a"));

    const struct cg_str segs[] = {S("spec"), S("template"), S("spec"), S("containers"),
                                  S("0"),    S("env"),      S("-")};
    assert_int_equal(
        cg_patch_add(&c.p, segs, 7, 5, S("{\"name\":\"CELLGATE_CELL\",\"value\":\"zone-a\"}")),
        CG_OK);
    check_case(&c, __func__);
}

/* 11. Replacing an existing scalar deep in the Pod (through an array index). */
static void pod_replace_image(void **state)
{
    (void)state;
    struct pcase c;
    case_init(&c, pod(), 4096);
    json_object_set_new(AT(c.want, "spec", "containers", "0"), "image",
                        json_string("registry.k8s.io/pause:3.10"));

    const struct cg_str segs[] = {S("spec"), S("containers"), S("0"), S("image")};
    assert_int_equal(cg_patch_replace(&c.p, segs, 4, S("\"registry.k8s.io/pause:3.10\"")), CG_OK);
    check_case(&c, __func__);
}

/* The harness itself can fail: a patch that does not apply makes node exit non-zero, and our
 * applier rejects it as well. */
static void both_reject_a_bad_patch(void **state)
{
    (void)state;
    cg_test_node_check_installed();
    json_t *obj = pod();
    struct cg_patch p;
    cg_patch_init(&p, 4096);
    /* replace needs the target to exist: the Pod has no annotations */
    const struct cg_str segs[] = {S("metadata"), S("annotations"), S("x")};
    assert_int_equal(cg_patch_replace(&p, segs, 3, S("\"y\"")), CG_OK);
    struct cg_str t = cg_patch_text(&p);
    json_t *patch = json_loadb(t.p, t.n, 0, NULL);
    assert_non_null(patch);
    json_t *by_node = cg_test_node_apply(obj, patch);
    assert_null(by_node);
    struct cg_err err;
    assert_int_equal(cg_jsonpatch_apply(&obj, patch, &err), CG_ENOTFOUND);
    json_decref(patch);
    json_decref(obj);
    cg_patch_dispose(&p);
}

/* And a result that differs from the expected one is noticed. */
static void a_wrong_expectation_is_noticed(void **state)
{
    (void)state;
    cg_test_node_check_installed();
    json_t *obj = pod();
    json_t *want = json_deep_copy(obj);
    json_object_set_new(AT(want, "metadata", "labels"), "cellgate.io/cell", json_string("zone-a"));
    struct cg_patch p;
    cg_patch_init(&p, 4096);
    const struct cg_str segs[] = {S("metadata"), S("labels"), S("cellgate.io/cell")};
    assert_int_equal(cg_patch_add_string(&p, segs, 3, 2, S("zone-b")), CG_OK);
    struct cg_str t = cg_patch_text(&p);
    json_t *patch = json_loadb(t.p, t.n, 0, NULL);
    json_t *by_node = cg_test_node_apply(obj, patch);
    assert_non_null(by_node);
    assert_false(json_equal(by_node, want));
    assert_string_equal(json_string_value(AT(by_node, "metadata", "labels", "cellgate.io/cell")),
                        "zone-b");
    json_decref(by_node);
    json_decref(patch);
    json_decref(want);
    json_decref(obj);
    cg_patch_dispose(&p);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pod_cell_label),
        cmocka_unit_test(pod_annotation_missing_parent),
        cmocka_unit_test(pod_readiness_gate),
        cmocka_unit_test(pod_finalizers),
        cmocka_unit_test(pod_node_affinity),
        cmocka_unit_test(pod_full_mutation),
        cmocka_unit_test(pod_replace_image),
        cmocka_unit_test(deployment_strategy_and_release),
        cmocka_unit_test(deployment_removes),
        cmocka_unit_test(deployment_awkward_strings),
        cmocka_unit_test(deployment_container_env),
        cmocka_unit_test(both_reject_a_bad_patch),
        cmocka_unit_test(a_wrong_expectation_is_noticed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
