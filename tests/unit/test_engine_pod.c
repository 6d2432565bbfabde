/* The Pod rules through the whole pipeline (decoder, engine, encoder) on a Pod the
 * kube-apiserver sent for a ReplicaSet, with a cluster source that hands the engine cell
 * counts and records what it decided. Every patch is applied by our applier and by the
 * independent fast-json-patch, and a second review of the patched pod must add nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/base64.h"
#include "base/names.h"
#include "jsonpatch/jsonpatch.h"
#include "placement/choose.h"
#include "policy/policy.h"
#include "review/engine.h"
#include "review/review.h"
#include "test_support.h"

#define NOW 1795687200LL /* 2026-11-26T10:00:00Z */
#define POD_CREATE "kube-apiserver-1.26/Pod-CREATE-from-replicaset.json"
#define POD_DELETE "kube-apiserver-1.26/Pod-DELETE.json"

static const char policy_yaml[] = "apiVersion: cellgate.io/v1\n"
                                  "kind: ReleasePolicy\n"
                                  "metadata: {name: shop}\n"
                                  "spec:\n"
                                  "  match: {namespaces: [shop], kinds: [Deployment, Pod]}\n"
                                  "  cells: {names: [zone-a, zone-b]}\n"
                                  "  gray: {groups: [{perCell: 1}, rest]}\n"
                                  "  emergency: {breakGlass: {groups: [sre]}}\n"
                                  "  traffic: {components: [service, lb], drainTimeout: 5m}\n"
                                  "---\n"
                                  "apiVersion: cellgate.io/v1\n"
                                  "kind: ReleasePolicy\n"
                                  "metadata: {name: weighted}\n"
                                  "spec:\n"
                                  "  match: {namespaces: [heavy], kinds: [Pod]}\n"
                                  "  cells:\n"
                                  "    topologyKey: example.com/room\n"
                                  "    cells: [{name: r1, weight: 2}, {name: r2}]\n"
                                  "  gray: {groups: [rest]}\n"
                                  "---\n"
                                  "apiVersion: cellgate.io/v1\n"
                                  "kind: ReleasePolicy\n"
                                  "metadata: {name: watching}\n"
                                  "spec:\n"
                                  "  match: {namespaces: [watched], kinds: [Pod]}\n"
                                  "  enforcement: warn\n"
                                  "  cells: {names: [zone-a, zone-b]}\n"
                                  "  gray: {groups: [rest]}\n"
                                  "---\n"
                                  "apiVersion: cellgate.io/v1\n"
                                  "kind: ReleasePolicy\n"
                                  "metadata: {name: labelled}\n"
                                  "spec:\n"
                                  "  match:\n"
                                  "    namespaces: [tagged]\n"
                                  "    kinds: [Pod]\n"
                                  "    selector: {matchLabels: {tier: gated}}\n"
                                  "  cells: {names: [zone-a, zone-b]}\n"
                                  "  gray: {groups: [rest]}\n";

static struct cg_policy_set *set;

/* Frees what jansson allocated, with whatever allocator jansson was given. */
static void jfree(void *p)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    f(p);
}

static int setup(void **state)
{
    cg_test_jansson_use_cmocka();
    cg_test_node_check_installed();
    struct cg_err err;
    cg_err_clear(&err);
    if (cg_policy_set_decode("test.yaml", policy_yaml, strlen(policy_yaml), &set, &err) != CG_OK)
        fail_msg("policy: %s", err.msg);
    return 0;
}

static int teardown(void **state)
{
    cg_policy_set_unref(set);
    return 0;
}

/* A cluster source backed by a table: the view it hands out and what it was told. */
struct fake_cluster {
    struct cg_cell_count cells[4];
    size_t n_cells;
    const char *reserved;
    struct cg_pod_state pod;
    bool has_pod;
    int lookups, commits;
    char placed[32];
    bool drain_request;
};

static void fake_lookup(void *ud, const struct cg_admission_request *req, struct cg_arena *arena,
                        struct cg_cluster_view *view)
{
    struct fake_cluster *f = ud;
    f->lookups++;
    view->known = true;
    view->cells = f->cells;
    view->n_cells = f->n_cells;
    view->reserved_cell = cg_str_from(f->reserved);
    view->pod = f->has_pod ? &f->pod : NULL;
    static const struct cg_str trusted[] = {
        CG_STR_LIT("system:serviceaccount:cellgate-system:cellgate-controller")};
    view->trusted_users = trusted;
    view->n_trusted_users = 1;
}

static void fake_commit(void *ud, const struct cg_admission_request *req,
                        const struct cg_engine_result *res)
{
    struct fake_cluster *f = ud;
    f->commits++;
    snprintf(f->placed, sizeof(f->placed), "%.*s", (int)res->placed_cell.n, res->placed_cell.p);
    f->drain_request = res->drain_request;
}

static json_t *load_review(const char *fixture, const char *patch_json)
{
    json_error_t jerr;
    json_t *doc = json_load_file(cg_test_fixture_path(fixture), 0, &jerr);
    assert_non_null(doc);
    if (patch_json != NULL) {
        json_t *patch = json_loads(patch_json, 0, &jerr);
        if (patch == NULL)
            fail_msg("bad test patch: %s", jerr.text);
        struct cg_err err;
        cg_err_clear(&err);
        if (cg_jsonpatch_apply(&doc, patch, &err) != CG_OK)
            fail_msg("test patch does not apply: %s", err.msg);
        json_decref(patch);
    }
    return doc;
}

/* The Pod CREATE of the fixture, moved into namespace ns, with more changes to its object. */
static json_t *pod_review(const char *ns, const char *object_patch)
{
    char patch[4096];
    snprintf(patch, sizeof(patch),
             "[{\"op\":\"replace\",\"path\":\"/request/namespace\",\"value\":\"%s\"},"
             "{\"op\":\"replace\",\"path\":\"/request/object/metadata/namespace\",\"value\":\"%s\"}"
             "%s%s]",
             ns, ns, object_patch ? "," : "", object_patch ? object_patch : "");
    return load_review(POD_CREATE, patch);
}

struct result {
    json_t *response;
    const json_t *r;
    json_t *patch; /* decoded JSONPatch, or NULL */
    char decision[16];
};

static void run(enum cg_review_path path, const json_t *review, struct fake_cluster *f,
                struct result *out)
{
    char *body = json_dumps(review, JSON_COMPACT);
    struct cg_review_scratch scratch;
    struct cg_buf buf;
    struct cg_review_outcome outcome;
    struct cg_cluster_source src = {f, fake_lookup, fake_commit};
    cg_review_scratch_init(&scratch);
    cg_buf_init(&buf, 0);
    assert_int_equal(cg_review_run(set, path, NOW, body, strlen(body), &scratch, f ? &src : NULL,
                                   &buf, &outcome),
                     CG_OK);
    assert_int_equal(outcome.http_status, 200);
    snprintf(out->decision, sizeof(out->decision), "%s", outcome.decision);
    json_error_t jerr;
    out->response = json_loadb(buf.data, buf.len, 0, &jerr);
    assert_non_null(out->response);
    out->r = json_object_get(out->response, "response");
    out->patch = NULL;
    const char *b64 = json_string_value(json_object_get(out->r, "patch"));
    if (b64 != NULL) {
        struct cg_buf dec;
        cg_buf_init(&dec, 0);
        assert_int_equal(cg_base64_decode(b64, strlen(b64), &dec), CG_OK);
        out->patch = json_loadb(dec.data, dec.len, 0, &jerr);
        assert_non_null(out->patch);
        cg_buf_dispose(&dec);
    }
    if (f != NULL)
        assert_int_equal(f->lookups, f->commits);
    cg_buf_dispose(&buf);
    cg_review_scratch_dispose(&scratch);
    jfree(body);
}

static void result_dispose(struct result *r)
{
    json_decref(r->response);
    json_decref(r->patch);
    memset(r, 0, sizeof(*r));
}

/* Applies r's patch to the review's object with both implementations (they must agree) and
 * returns the review with the patched object (new reference). */
static json_t *apply_both(const json_t *review, const struct result *r)
{
    assert_non_null(r->patch);
    json_t *obj = json_deep_copy(json_object_get(json_object_get(review, "request"), "object"));
    json_t *by_node = cg_test_node_apply(obj, r->patch);
    assert_non_null(by_node);
    struct cg_err err;
    cg_err_clear(&err);
    if (cg_jsonpatch_apply(&obj, r->patch, &err) != CG_OK)
        fail_msg("our applier refuses the engine's patch: %s", err.msg);
    if (!json_equal(obj, by_node)) {
        char *a = json_dumps(obj, JSON_COMPACT), *b = json_dumps(by_node, JSON_COMPACT);
        fail_msg("appliers disagree:\nours: %s\nnode: %s", a, b);
    }
    json_decref(by_node);
    json_t *again = json_deep_copy(review);
    json_object_set_new(json_object_get(again, "request"), "object", obj);
    return again;
}

static const json_t *obj_at(const json_t *review, const char *pointer)
{
    const json_t *v = json_object_get(json_object_get(review, "request"), "object");
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", pointer);
    for (char *seg = strtok(buf, "/"); seg != NULL && v != NULL; seg = strtok(NULL, "/")) {
        for (char *t = seg; *t; t++)
            if (*t == '|')
                *t = '/'; /* "cellgate.io|cell" names a key with a slash */
        v = json_is_array(v) ? json_array_get(v, (size_t)atoi(seg)) : json_object_get(v, seg);
    }
    return v;
}

/* Mutates, checks the patch with both appliers, reviews the patched pod again (reinvocation)
 * and checks that adds nothing. Returns the patched review. */
static json_t *mutate_idempotent(const json_t *review, struct fake_cluster *f)
{
    struct result r;
    run(CG_REVIEW_MUTATE, review, f, &r);
    assert_string_equal(r.decision, "patched");
    json_t *patched = apply_both(review, &r);
    result_dispose(&r);
    struct fake_cluster again = {0};
    run(CG_REVIEW_MUTATE, patched, &again, &r);
    if (r.patch != NULL) {
        char *p = json_dumps(r.patch, JSON_COMPACT);
        fail_msg("a second review of the patched pod still patches: %s", p);
    }
    assert_string_equal(again.placed, ""); /* nothing reserved twice */
    result_dispose(&r);
    return patched;
}

static void expect_str(const json_t *review, const char *pointer, const char *want)
{
    const json_t *v = obj_at(review, pointer);
    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0) {
        char *got = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
        fail_msg("%s: want \"%s\", got %s", pointer, want, got ? got : "(absent)");
    }
}

/* --- Pod CREATE ----------------------------------------------------------------------------- */

static void create_adds_gate_finalizers_cell_and_affinity(void **state)
{
    json_t *review = pod_review("shop", NULL);
    struct fake_cluster f = {.cells = {{CG_STR_LIT("zone-a"), 3}, {CG_STR_LIT("zone-b"), 1}},
                             .n_cells = 2};
    json_t *patched = mutate_idempotent(review, &f);
    assert_string_equal(f.placed, "zone-b"); /* fewer pods there: 1 < 3 */
    expect_str(patched, "spec/readinessGates/0/conditionType", CG_COND_TRAFFIC_READY);
    expect_str(patched, "metadata/finalizers/0", "cellgate.io/drain-service");
    expect_str(patched, "metadata/finalizers/1", "cellgate.io/drain-lb");
    expect_str(patched, "metadata/labels/cellgate.io|cell", "zone-b");
    expect_str(patched, "metadata/labels/app", "d1"); /* the pod's own labels stay */
    expect_str(patched, "metadata/annotations/cellgate.io|policy", "shop");
    const char *term = "spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/"
                       "nodeSelectorTerms/0/matchExpressions/0/";
    char p[256];
    snprintf(p, sizeof(p), "%skey", term);
    expect_str(patched, p, "topology.kubernetes.io/zone");
    snprintf(p, sizeof(p), "%soperator", term);
    expect_str(patched, p, "In");
    snprintf(p, sizeof(p), "%svalues/0", term);
    expect_str(patched, p, "zone-b");
    /* The tolerations the pod came with are untouched. */
    assert_int_equal(json_array_size(obj_at(patched, "spec/tolerations")), 2);
    json_decref(patched);
    json_decref(review);
}

/* Pods created one by one, each counted once placed: the weights decide the split. */
static void sequence(const char *ns, const char *a, const char *b, int pods, int want_a, int want_b)
{
    json_t *review = pod_review(ns, NULL);
    struct fake_cluster f = {.cells = {{cg_str_from(a), 0}, {cg_str_from(b), 0}}, .n_cells = 2};
    for (int i = 0; i < pods; i++) {
        struct result r;
        f.placed[0] = '\0';
        run(CG_REVIEW_MUTATE, review, &f, &r);
        if (strcmp(f.placed, a) == 0)
            f.cells[0].pods++;
        else if (strcmp(f.placed, b) == 0)
            f.cells[1].pods++;
        else
            fail_msg("pod %d placed in \"%s\"", i, f.placed);
        result_dispose(&r);
    }
    assert_int_equal(f.cells[0].pods, want_a);
    assert_int_equal(f.cells[1].pods, want_b);
    json_decref(review);
}

static void create_balances_by_weight(void **state)
{
    sequence("shop", "zone-a", "zone-b", 10, 5, 5);
    sequence("shop", "zone-a", "zone-b", 11, 6, 5);
    sequence("heavy", "r1", "r2", 12, 8, 4); /* weights 2:1 */
}

/* The pure choice on a table: fewest pods per weight, ties to the earlier cell. */
static void choose_table(void **state)
{
    struct cg_cell items[3] = {{"a", 1}, {"b", 1}, {"c", 2}};
    struct cg_cells cells = {"k", items, 3};
    static const struct {
        uint32_t counts[3], in_flight[3];
        size_t want;
    } rows[] = {
        {{0, 0, 0}, {0, 0, 0}, 0},
        {{1, 0, 0}, {0, 0, 0}, 1},
        {{1, 1, 0}, {0, 0, 0}, 2},
        {{1, 1, 1}, {0, 0, 0}, 2},
        {{1, 1, 2}, {0, 0, 0}, 0},
        {{2, 1, 2}, {0, 0, 0}, 1},
        {{5, 5, 9}, {0, 0, 0}, 2},
        {{5, 5, 10}, {0, 0, 0}, 0},
        /* This process's own placements on their way: the cell short of pods is skipped
         * while more of them go there than elsewhere (per weight). */
        {{0, 5, 10}, {1, 0, 0}, 1},
        {{0, 5, 10}, {1, 1, 0}, 2},
        {{0, 5, 10}, {1, 1, 2}, 0},
        {{0, 5, 10}, {1, 1, 1}, 2}, /* c has weight 2: fewest per weight */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        size_t got = cg_placement_choose(&cells, rows[i].counts, rows[i].in_flight);
        if (got != rows[i].want)
            fail_msg("row %zu: chose %zu, want %zu", i, got, rows[i].want);
        if (rows[i].in_flight[0] + rows[i].in_flight[1] + rows[i].in_flight[2] == 0)
            assert_int_equal(cg_placement_choose(&cells, rows[i].counts, NULL), rows[i].want);
    }
}

/* Counts of cells the policy does not name are ignored; a re-sent review gets its reserved
 * cell back whatever the counts say. */
static void create_reserved_and_unknown_cells(void **state)
{
    json_t *review = pod_review("shop", NULL);
    struct fake_cluster f = {.cells = {{CG_STR_LIT("zone-a"), 0}, {CG_STR_LIT("zone-z"), 0}},
                             .n_cells = 2,
                             .reserved = "zone-b"};
    struct result r;
    run(CG_REVIEW_MUTATE, review, &f, &r);
    assert_string_equal(f.placed, "zone-b");
    result_dispose(&r);
    f.reserved = NULL;
    f.cells[0].pods = 4;
    f.cells[1].pods = 0; /* zone-z: not a cell of the policy */
    run(CG_REVIEW_MUTATE, review, &f, &r);
    assert_string_equal(f.placed, "zone-b");
    result_dispose(&r);
    json_decref(review);
}

/* The affinity merge on a table of existing affinities: the requirement is ANDed into every
 * term, everything else stays. */
static void create_affinity_merge(void **state)
{
    static const struct {
        const char *name;
        const char *spec_patch; /* ops on the review's object */
        const char *check;      /* pointer that must hold "zone-a" after the patch */
        const char *keep;       /* pointer that must still exist, or NULL */
    } rows[] = {
        {"affinity without nodeAffinity",
         "{\"op\":\"add\",\"path\":\"/request/object/spec/affinity\",\"value\":"
         "{\"podAntiAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":[]}}}",
         "spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/"
         "nodeSelectorTerms/0/matchExpressions/0/values/0",
         "spec/affinity/podAntiAffinity"},
        {"preferred node affinity only",
         "{\"op\":\"add\",\"path\":\"/request/object/spec/affinity\",\"value\":{\"nodeAffinity\":"
         "{\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":1,\"preference\":"
         "{\"matchExpressions\":[{\"key\":\"disk\",\"operator\":\"In\",\"values\":[\"ssd\"]}]}}]}"
         "}}",
         "spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/"
         "nodeSelectorTerms/0/matchExpressions/0/values/0",
         "spec/affinity/nodeAffinity/preferredDuringSchedulingIgnoredDuringExecution/0"},
        {"two terms, one with matchFields only",
         "{\"op\":\"add\",\"path\":\"/request/object/spec/affinity\",\"value\":{\"nodeAffinity\":"
         "{\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":["
         "{\"matchExpressions\":[{\"key\":\"arch\",\"operator\":\"In\",\"values\":[\"amd64\"]}]},"
         "{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"n1\"]}]}"
         "]}}}}",
         "spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/"
         "nodeSelectorTerms/1/matchExpressions/0/values/0",
         "spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/"
         "nodeSelectorTerms/1/matchFields/0"},
        {"first term keeps its requirement",
         "{\"op\":\"add\",\"path\":\"/request/object/spec/affinity\",\"value\":{\"nodeAffinity\":"
         "{\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":["
         "{\"matchExpressions\":[{\"key\":\"arch\",\"operator\":\"In\",\"values\":[\"amd64\"]}]}"
         "]}}}}",
         "spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/"
         "nodeSelectorTerms/0/matchExpressions/1/values/0",
         "spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/"
         "nodeSelectorTerms/0/matchExpressions/0"},
        {"null lists",
         "{\"op\":\"add\",\"path\":\"/request/object/metadata/finalizers\","
         "\"value\":null},{\"op\":\"add\",\"path\":\"/request/object/spec/"
         "readinessGates\",\"value\":null}",
         "metadata/labels/cellgate.io|cell", NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *review = pod_review("shop", rows[i].spec_patch);
        struct fake_cluster f = {0}; /* no pods yet: zone-a */
        print_message("case: %s\n", rows[i].name);
        json_t *patched = mutate_idempotent(review, &f);
        expect_str(patched, rows[i].check, "zone-a");
        if (rows[i].keep != NULL && obj_at(patched, rows[i].keep) == NULL)
            fail_msg("%s: %s is gone", rows[i].name, rows[i].keep);
        json_decref(patched);
        json_decref(review);
    }
}

/* A pod that pins one of the policy's cells keeps it: it is labelled and counted there, and
 * gets no affinity of ours. */
static void create_pinned_pod(void **state)
{
    static const char *const pins[] = {
        "{\"op\":\"add\",\"path\":\"/request/object/spec/nodeSelector\",\"value\":"
        "{\"topology.kubernetes.io/zone\":\"zone-b\"}}",
        "{\"op\":\"add\",\"path\":\"/request/object/spec/affinity\",\"value\":{\"nodeAffinity\":"
        "{\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":["
        "{\"matchExpressions\":[{\"key\":\"topology.kubernetes.io/zone\",\"operator\":\"In\","
        "\"values\":[\"zone-b\"]}]}]}}}}",
    };
    for (size_t i = 0; i < 2; i++) {
        json_t *review = pod_review("shop", pins[i]);
        struct fake_cluster f = {.cells = {{CG_STR_LIT("zone-b"), 9}}, .n_cells = 1};
        json_t *patched = mutate_idempotent(review, &f);
        assert_string_equal(f.placed, "zone-b");
        expect_str(patched, "metadata/labels/cellgate.io|cell", "zone-b");
        if (i == 0)
            assert_null(obj_at(patched, "spec/affinity"));
        json_decref(patched);
        json_decref(review);
    }
}

/* dryRun: the same answer, nothing reserved. */
static void create_dry_run(void **state)
{
    json_t *review = pod_review("shop", "{\"op\":\"replace\",\"path\":\"/request/dryRun\","
                                        "\"value\":true}");
    struct fake_cluster f = {0};
    struct result r;
    run(CG_REVIEW_MUTATE, review, &f, &r);
    assert_string_equal(r.decision, "patched");
    assert_string_equal(f.placed, "");
    result_dispose(&r);
    json_decref(review);
}

/* Untouched: uncovered namespaces, warn-mode policies, mirror pods, bare pods, /validate. */
static void create_untouched(void **state)
{
    static const struct {
        const char *ns, *patch;
        enum cg_review_path path;
    } rows[] = {
        {"elsewhere", NULL, CG_REVIEW_MUTATE},
        {"watched", NULL, CG_REVIEW_MUTATE},
        {"shop",
         "{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations\",\"value\":"
         "{\"kubernetes.io/config.mirror\":\"abc\"}}",
         CG_REVIEW_MUTATE},
        {"shop", "{\"op\":\"remove\",\"path\":\"/request/object/metadata/ownerReferences\"}",
         CG_REVIEW_MUTATE},
        {"shop", NULL, CG_REVIEW_VALIDATE},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *review = pod_review(rows[i].ns, rows[i].patch);
        struct fake_cluster f = {0};
        struct result r;
        run(rows[i].path, review, &f, &r);
        if (r.patch != NULL || strcmp(r.decision, "allowed") != 0)
            fail_msg("row %zu: %s, with a patch: %d", i, r.decision, r.patch != NULL);
        assert_string_equal(f.placed, "");
        result_dispose(&r);
        json_decref(review);
    }
}

/* --- Pod DELETE and eviction ----------------------------------------------------------------- */

/* The DELETE fixture moved into shop, with the pod's state set by extra ops on oldObject. */
static json_t *delete_review(const char *more)
{
    char patch[4096];
    snprintf(patch, sizeof(patch),
             "[{\"op\":\"replace\",\"path\":\"/request/namespace\",\"value\":\"shop\"},"
             "{\"op\":\"replace\",\"path\":\"/request/oldObject/metadata/namespace\","
             "\"value\":\"shop\"},"
             "{\"op\":\"add\",\"path\":\"/request/oldObject/metadata/annotations\",\"value\":{}}"
             "%s%s]",
             more ? "," : "", more ? more : "");
    return load_review(POD_DELETE, patch);
}

#define SERVING                                                                                    \
    "{\"op\":\"add\",\"path\":\"/request/oldObject/status/conditions/-\",\"value\":{\"type\":"     \
    "\"cellgate.io/traffic-ready\",\"status\":\"True\"}}"
#define NOT_SERVING                                                                                \
    "{\"op\":\"add\",\"path\":\"/request/oldObject/status/conditions/-\",\"value\":{\"type\":"     \
    "\"cellgate.io/traffic-ready\",\"status\":\"False\"}}"
#define ANN(key, value)                                                                            \
    "{\"op\":\"add\",\"path\":\"/request/oldObject/metadata/annotations/cellgate.io~1" key         \
    "\",\"value\":\"" value "\"}"
#define TERMINATING                                                                                \
    "{\"op\":\"add\",\"path\":\"/request/oldObject/metadata/deletionTimestamp\",\"value\":"        \
    "\"2026-11-26T09:59:00Z\"}"
#define USER_SRE "{\"op\":\"add\",\"path\":\"/request/userInfo/groups/-\",\"value\":\"sre\"}"
#define DRY_RUN "{\"op\":\"replace\",\"path\":\"/request/dryRun\",\"value\":true}"

static void delete_table(void **state)
{
    static const struct {
        const char *name, *ops;
        const char *decision;
        int code;           /* status.code when denied */
        bool drain_request; /* the source is asked to request the drain */
        const char *audit;  /* an auditAnnotation key that must be there, or NULL */
    } rows[] = {
        {"serving pod is held", SERVING, "denied", 429, true, NULL},
        {"held again: the drain was asked for already",
         SERVING "," ANN("drain-requested", "2026-11-26T09:58:00Z"), "denied", 429, false, NULL},
        {"being drained is held too", NOT_SERVING "," ANN("draining", "true"), "denied", 429, true,
         NULL},
        {"drained passes", NOT_SERVING "," ANN("draining", "true") "," ANN("drained", "true"),
         "allowed", 0, false, NULL},
        {"never carried traffic", NOT_SERVING, "allowed", 0, false, NULL},
        {"no traffic condition at all", NULL, "allowed", 0, false, NULL},
        {"terminating is never held", SERVING "," TERMINATING, "allowed", 0, false, NULL},
        {"drain timeout passed", SERVING "," ANN("drain-requested", "2026-11-26T09:54:00Z"),
         "warned", 0, false, "drain-timeout"},
        {"break glass", SERVING "," USER_SRE, "audited", 0, false, "break-glass-user"},
        {"dry run: the same answer, no drain asked", SERVING "," DRY_RUN, "denied", 429, false,
         NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *review = delete_review(rows[i].ops);
        struct fake_cluster f = {0};
        struct result r;
        print_message("case: %s\n", rows[i].name);
        run(CG_REVIEW_VALIDATE, review, &f, &r);
        if (strcmp(r.decision, rows[i].decision) != 0)
            fail_msg("%s: decision %s, want %s", rows[i].name, r.decision, rows[i].decision);
        const json_t *status = json_object_get(r.r, "status");
        if (rows[i].code != 0) {
            assert_int_equal(json_integer_value(json_object_get(status, "code")), rows[i].code);
            assert_string_equal(json_string_value(json_object_get(status, "reason")),
                                "TooManyRequests");
            const char *msg = json_string_value(json_object_get(status, "message"));
            assert_non_null(strstr(msg, "retry the delete"));
            assert_non_null(strstr(msg, "is serving traffic"));
        }
        assert_int_equal(f.drain_request, rows[i].drain_request);
        if (rows[i].audit != NULL &&
            json_object_get(json_object_get(r.r, "auditAnnotations"), rows[i].audit) == NULL)
            fail_msg("%s: no auditAnnotation %s", rows[i].name, rows[i].audit);
        assert_null(r.patch);
        result_dispose(&r);
        json_decref(review);
    }
}

/* A warn-mode policy never holds: it says what enforce mode would do. */
static void delete_warn_mode(void **state)
{
    json_t *review = delete_review(SERVING);
    json_t *req = json_object_get(review, "request");
    json_object_set_new(req, "namespace", json_string("watched"));
    struct fake_cluster f = {0};
    struct result r;
    run(CG_REVIEW_VALIDATE, review, &f, &r);
    assert_string_equal(r.decision, "warned");
    assert_true(json_is_true(json_object_get(r.r, "allowed")));
    assert_false(f.drain_request);
    result_dispose(&r);
    json_decref(review);
}

/* A serving pod relabelled out of its policy's selector is still held: the policy that placed
 * it is in its cellgate.io/policy annotation, which only cellgate writes. */
static void delete_relabelled_pod_still_held(void **state)
{
    static const struct {
        const char *ops, *decision;
    } rows[] = {
        /* placed by labelled, its tier label gone: held */
        {SERVING "," ANN("policy", "labelled"), "denied"},
        /* never placed by cellgate and not matched: not covered */
        {SERVING, "allowed"},
        /* placed by a policy no longer loaded: nothing covers it */
        {SERVING "," ANN("policy", "gone"), "allowed"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *review = delete_review(rows[i].ops);
        json_t *req = json_object_get(review, "request");
        json_object_set_new(req, "namespace", json_string("tagged"));
        struct fake_cluster f = {0};
        struct result r;
        run(CG_REVIEW_VALIDATE, review, &f, &r);
        if (strcmp(r.decision, rows[i].decision) != 0)
            fail_msg("row %zu: decision %s, want %s", i, r.decision, rows[i].decision);
        if (strcmp(rows[i].decision, "denied") == 0) {
            const json_t *status = json_object_get(r.r, "status");
            assert_int_equal(json_integer_value(json_object_get(status, "code")), 429);
            assert_true(f.drain_request);
        }
        result_dispose(&r);
        json_decref(review);
    }
}

/* An eviction carries only the Eviction: the pod's state comes from the cluster view. */
static void eviction_from_view(void **state)
{
    static const char eviction[] =
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
        "\"uid\":\"e1\",\"kind\":{\"group\":\"policy\",\"version\":\"v1\",\"kind\":\"Eviction\"},"
        "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},"
        "\"subResource\":\"eviction\",\"name\":\"web-1\",\"namespace\":\"shop\","
        "\"operation\":\"CREATE\",\"userInfo\":{\"username\":\"system:node:n1\"},"
        "\"object\":{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":"
        "{\"name\":\"web-1\",\"namespace\":\"shop\"}},\"oldObject\":null,\"dryRun\":false}}";
    json_error_t jerr;
    json_t *review = json_loads(eviction, 0, &jerr);
    assert_non_null(review);
    struct fake_cluster f = {.has_pod = true,
                             .pod = {.namespace_ = CG_STR_LIT("shop"),
                                     .name = CG_STR_LIT("web-1"),
                                     .policy = CG_STR_LIT("shop"),
                                     .traffic_ready = true}};
    struct result r;
    run(CG_REVIEW_VALIDATE, review, &f, &r);
    assert_string_equal(r.decision, "denied");
    assert_true(f.drain_request);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(r.r, "status"), "message")),
               "retry the eviction"));
    result_dispose(&r);

    f.pod.drained = true; /* drained: passes */
    run(CG_REVIEW_VALIDATE, review, &f, &r);
    assert_string_equal(r.decision, "allowed");
    result_dispose(&r);

    f.pod.drained = false;
    f.pod.policy = CG_STR_LIT("gone"); /* placed by a policy no longer loaded */
    run(CG_REVIEW_VALIDATE, review, &f, &r);
    assert_string_equal(r.decision, "allowed");
    result_dispose(&r);

    f.has_pod = false; /* not in the cache: not ours */
    run(CG_REVIEW_VALIDATE, review, &f, &r);
    assert_string_equal(r.decision, "allowed");
    result_dispose(&r);

    run(CG_REVIEW_VALIDATE, review, NULL, &r); /* no cluster source at all */
    assert_string_equal(r.decision, "allowed");
    result_dispose(&r);
    json_decref(review);
}

/* Pod UPDATE: only cellgate's own identities (and break-glass, audited) write what cellgate
 * manages on a pod. */
static void update_managed_keys(void **state)
{
    static const struct {
        const char *name, *user, *ops;
        const char *decision;
    } rows[] = {
        {"a user marks a serving pod drained", "admin",
         "{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/cellgate.io~1drained\","
         "\"value\":\"true\"}",
         "denied"},
        {"a user fakes a drain request", "admin",
         "{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/"
         "cellgate.io~1drain-requested\",\"value\":\"2026-11-26T09:00:00Z\"}",
         "denied"},
        {"a user moves the cell label", "admin",
         "{\"op\":\"replace\",\"path\":\"/request/object/metadata/labels/cellgate.io~1cell\","
         "\"value\":\"zone-b\"}",
         "denied"},
        {"the controller marks it drained",
         "system:serviceaccount:cellgate-system:cellgate-controller",
         "{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/cellgate.io~1drained\","
         "\"value\":\"true\"}",
         "allowed"},
        {"break glass, audited", "alice",
         "{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/cellgate.io~1drained\","
         "\"value\":\"true\"},{\"op\":\"add\",\"path\":\"/request/userInfo/groups/-\","
         "\"value\":\"sre\"}",
         "audited"},
        {"other annotations are the user's", "admin",
         "{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/team\",\"value\":"
         "\"x\"}",
         "allowed"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char ops[2048];
        snprintf(ops, sizeof(ops),
                 "{\"op\":\"add\",\"path\":\"/request/oldObject/metadata/labels/"
                 "cellgate.io~1cell\",\"value\":\"zone-a\"},"
                 "{\"op\":\"replace\",\"path\":\"/request/operation\",\"value\":\"UPDATE\"},"
                 "{\"op\":\"copy\",\"from\":\"/request/oldObject\",\"path\":\"/request/object\"},"
                 "{\"op\":\"replace\",\"path\":\"/request/userInfo/username\",\"value\":\"%s\"},"
                 "%s",
                 rows[i].user, rows[i].ops);
        json_t *review = delete_review(ops);
        struct fake_cluster f = {0};
        struct result r;
        run(CG_REVIEW_VALIDATE, review, &f, &r);
        if (strcmp(r.decision, rows[i].decision) != 0)
            fail_msg("%s: %s, want %s", rows[i].name, r.decision, rows[i].decision);
        if (strcmp(rows[i].decision, "denied") == 0)
            assert_int_equal(
                json_integer_value(json_object_get(json_object_get(r.r, "status"), "code")), 403);
        result_dispose(&r);
        /* The same update in a namespace no policy covers is nobody's business. */
        json_object_set_new(json_object_get(review, "request"), "namespace",
                            json_string("elsewhere"));
        run(CG_REVIEW_VALIDATE, review, &f, &r);
        assert_string_equal(r.decision, "allowed");
        result_dispose(&r);
        json_decref(review);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(choose_table),
        cmocka_unit_test(create_adds_gate_finalizers_cell_and_affinity),
        cmocka_unit_test(create_balances_by_weight),
        cmocka_unit_test(create_reserved_and_unknown_cells),
        cmocka_unit_test(create_affinity_merge),
        cmocka_unit_test(create_pinned_pod),
        cmocka_unit_test(create_dry_run),
        cmocka_unit_test(create_untouched),
        cmocka_unit_test(delete_table),
        cmocka_unit_test(delete_warn_mode),
        cmocka_unit_test(delete_relabelled_pod_still_held),
        cmocka_unit_test(eviction_from_view),
        cmocka_unit_test(update_managed_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
