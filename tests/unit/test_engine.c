/* The rules, run through the whole pipeline (real decoder, engine, encoder) on reviews the
 * kube-apiserver sent, and on variants made from them with JSON patches. Patches the engine
 * emits are checked by applying them to the object. */
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
#include "jsonpatch/jsonpatch.h"
#include "policy/policy.h"
#include "review/engine.h"
#include "review/review.h"
#include "test_support.h"

#define NOW_PLAIN 1795687200LL    /* 2026-11-26T10:00:00Z */
#define NOW_FROZEN 1798113600LL   /* 2026-12-24T12:00:00Z, inside year-end */
#define FREEZE_START 1798045200LL /* 2026-12-23T18:00:00+01:00 */
#define FREEZE_END 1799046000LL   /* 2027-01-04T08:00:00+01:00 */

#define CREATE "engine/payments-create.json"
#define RELEASE "engine/payments-update-release.json"
#define SCALE "engine/payments-update-scale.json"

static const char payments_yaml[] = CG_SOURCE_DIR "/policies/examples/payments.yaml";

/* Frees what jansson allocated (json_dumps), with whatever allocator jansson was given. */
static void jfree(void *p)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    f(p);
}

static struct cg_policy_set *load(const char *first, ...)
{
    const char *paths[8];
    size_t n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *p = first; p != NULL && n < 8; p = va_arg(ap, const char *)) {
        static char buf[8][1024];
        if (p[0] == '/')
            snprintf(buf[n], sizeof(buf[n]), "%s", p);
        else
            snprintf(buf[n], sizeof(buf[n]), "%s/engine/policies/%s", CG_FIXTURES, p);
        paths[n] = buf[n];
        n++;
    }
    va_end(ap);
    struct cg_policy_set *set = NULL;
    assert_int_equal(cg_policy_set_load_paths(paths, n, NULL, NULL, &set), CG_OK);
    assert_non_null(set);
    return set;
}

/* A fixture review with an optional JSON patch applied (the variant). */
static json_t *variant(const char *fixture, const char *patch_json)
{
    json_error_t jerr;
    json_t *doc = json_load_file(cg_test_fixture_path(fixture), 0, &jerr);
    assert_non_null(doc);
    if (patch_json != NULL) {
        json_t *patch = json_loads(patch_json, 0, &jerr);
        if (patch == NULL)
            fail_msg("bad variant patch: %s", jerr.text);
        struct cg_err err;
        cg_err_clear(&err);
        if (cg_jsonpatch_apply(&doc, patch, &err) != CG_OK)
            fail_msg("variant does not apply: %s", err.msg);
        json_decref(patch);
    }
    return doc;
}

struct run {
    json_t *response; /* the whole AdmissionReview response */
    const json_t *r;  /* its "response" member */
    char decision[16];
    char policy[64];
};

static void run_json(const struct cg_policy_set *set, enum cg_review_path path, int64_t now,
                     const json_t *review, struct run *out)
{
    char *body = json_dumps(review, JSON_COMPACT);
    struct cg_review_scratch scratch;
    struct cg_buf buf;
    struct cg_review_outcome outcome;
    cg_review_scratch_init(&scratch);
    cg_buf_init(&buf, 0);
    assert_int_equal(
        cg_review_run(set, path, now, body, strlen(body), &scratch, NULL, &buf, &outcome), CG_OK);
    assert_int_equal(outcome.http_status, 200);
    snprintf(out->decision, sizeof(out->decision), "%s", outcome.decision);
    snprintf(out->policy, sizeof(out->policy), "%s", outcome.policy ? outcome.policy : "");
    json_error_t jerr;
    out->response = json_loadb(buf.data, buf.len, 0, &jerr);
    assert_non_null(out->response);
    out->r = json_object_get(out->response, "response");
    assert_non_null(out->r);
    /* The uid is echoed whatever the decision. */
    assert_string_equal(
        json_string_value(json_object_get(out->r, "uid")),
        json_string_value(json_object_get(json_object_get(review, "request"), "uid")));
    cg_buf_dispose(&buf);
    cg_review_scratch_dispose(&scratch);
    jfree(body);
}

static void run_dispose(struct run *r)
{
    json_decref(r->response);
    memset(r, 0, sizeof(*r));
}

static bool allowed(const struct run *r)
{
    return json_is_true(json_object_get(r->r, "allowed"));
}

static const char *message(const struct run *r)
{
    const char *m = json_string_value(json_object_get(json_object_get(r->r, "status"), "message"));
    return m ? m : "";
}

/* Checks r is denied with want in its message or, want NULL, allowed with nothing added.
 * what names the case in a failure (NULL: the test alone names it). */
static void check_outcome(const struct run *r, const char *want, const char *what)
{
    static const char *const added[] = {"patch", "status", "warnings", "auditAnnotations"};
    const char *m = message(r);
    char bad[256] = "";
    if (want == NULL) {
        if (!allowed(r))
            snprintf(bad, sizeof(bad), "not allowed");
        for (size_t i = 0; i < 4 && bad[0] == '\0'; i++)
            if (json_object_get(r->r, added[i]) != NULL)
                snprintf(bad, sizeof(bad), "has a \"%s\"", added[i]);
    } else if (allowed(r)) {
        snprintf(bad, sizeof(bad), "allowed, want denied");
    } else if (strcmp(r->decision, "denied") != 0) {
        snprintf(bad, sizeof(bad), "decision %s, want denied", r->decision);
    } else if (json_integer_value(json_object_get(json_object_get(r->r, "status"), "code")) !=
               403) {
        snprintf(bad, sizeof(bad), "status code is not 403");
    } else if (strstr(m, want) == NULL) {
        snprintf(bad, sizeof(bad), "message lacks \"%.200s\"", want);
    } else if (strchr(m, '\n') != NULL) {
        snprintf(bad, sizeof(bad), "message has a line break");
    } else {
        /* Each reason is one line of at most 200 bytes. */
        for (const char *p = m; p != NULL && bad[0] == '\0';) {
            const char *next = strstr(p, "; policy ");
            size_t len = next ? (size_t)(next - p) : strlen(p);
            if (len > 200)
                snprintf(bad, sizeof(bad), "a reason is longer than 200 bytes");
            p = next ? next + 2 : NULL;
        }
    }
    if (bad[0] == '\0')
        return;
    char *got = json_dumps(r->r, JSON_COMPACT);
    print_error("response: %s\n", got);
    jfree(got);
    fail_msg("%s%s%s", what ? what : "", what ? ": " : "", bad);
}

static void assert_denied(const struct run *r, const char *want)
{
    check_outcome(r, want, NULL);
}

static void assert_untouched(const struct run *r)
{
    check_outcome(r, NULL, NULL);
}

/* The response's patch applied to a copy of the review's object (NULL: no patch). */
static json_t *patched(const json_t *review, const struct run *r)
{
    const char *b64 = json_string_value(json_object_get(r->r, "patch"));
    if (b64 == NULL)
        return NULL;
    assert_string_equal(json_string_value(json_object_get(r->r, "patchType")), "JSONPatch");
    struct cg_buf raw;
    cg_buf_init(&raw, 0);
    assert_int_equal(cg_base64_decode(b64, strlen(b64), &raw), CG_OK);
    json_t *patch = json_loadb(raw.data, raw.len, 0, NULL);
    assert_non_null(patch);
    json_t *obj = json_deep_copy(json_object_get(json_object_get(review, "request"), "object"));
    struct cg_err err;
    cg_err_clear(&err);
    if (cg_jsonpatch_apply(&obj, patch, &err) != CG_OK)
        fail_msg("the engine's patch does not apply: %s (%.*s)", err.msg, (int)raw.len, raw.data);
    json_decref(patch);
    cg_buf_dispose(&raw);
    return obj;
}

static json_int_t int_at(const json_t *obj, const char *a, const char *b, const char *c,
                         const char *d)
{
    const json_t *v = json_object_get(json_object_get(json_object_get(obj, a), b), c);
    v = json_object_get(v, d);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static const char *release_annotation(const json_t *obj)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(obj, "metadata"), "annotations"), "cellgate.io/release"));
}

/* Checks the object carries the payments plan for `replicas`, and returns the release record. */
static json_t *assert_payments_release(const json_t *obj, json_int_t surge, const char *groups)
{
    assert_int_equal(int_at(obj, "spec", "strategy", "rollingUpdate", "maxUnavailable"), 0);
    assert_int_equal(int_at(obj, "spec", "strategy", "rollingUpdate", "maxSurge"), surge);
    const char *ann = release_annotation(obj);
    assert_non_null(ann);
    json_t *rec = json_loads(ann, 0, NULL);
    assert_non_null(rec);
    char *g = json_dumps(json_object_get(rec, "groups"), JSON_COMPACT);
    assert_string_equal(g, groups);
    jfree(g);
    char *cells = json_dumps(json_object_get(rec, "cells"), JSON_COMPACT);
    assert_string_equal(cells, "[\"zone-a\",\"zone-b\"]");
    jfree(cells);
    assert_int_equal(json_integer_value(json_object_get(rec, "group")), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "state")), "progressing");
    assert_int_equal(strlen(json_string_value(json_object_get(rec, "revision"))), 16);
    return rec;
}

/* The review again, with object replaced by obj (the apiserver's reinvocation). */
static json_t *with_object(const json_t *review, json_t *obj)
{
    json_t *again = json_deep_copy(review);
    json_object_set(json_object_get(again, "request"), "object", obj);
    return again;
}

static json_t *as_user(json_t *review, const char *user, const char *group);

/* One review and the answer it must get. */
struct verdict {
    enum cg_review_path path;
    int64_t now;
    const char *fixture;
    const char *user; /* with group, replaces the fixture's user (admin); NULL keeps it */
    const char *group;
    const char *patch;  /* applied to the fixture first; NULL: the fixture as is */
    const char *denied; /* the message must hold this; NULL: allowed untouched */
};

/* Runs every case on set; a failure names the case by its index. */
static void expect_verdicts(const struct cg_policy_set *set, const struct verdict *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct verdict *v = &cases[i];
        json_t *review = variant(v->fixture, v->patch);
        if (v->user != NULL)
            as_user(review, v->user, v->group);
        struct run r;
        run_json(set, v->path, v->now, review, &r);
        char what[128];
        snprintf(what, sizeof(what), "case %zu (%s, %s)", i, v->fixture,
                 v->path == CG_REVIEW_MUTATE ? "mutate" : "validate");
        check_outcome(&r, v->denied, what);
        run_dispose(&r);
        json_decref(review);
    }
}
#define EXPECT_VERDICTS(set, cases)                                                                \
    expect_verdicts((set), (cases), sizeof(cases) / sizeof(*(cases)))

/* --- coverage ----------------------------------------------------------------------------- */

static void uncovered_allowed_untouched(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    static const char *const fixtures[] = {
        "kube-apiserver-1.26/Deployment-CREATE.json", "kube-apiserver-1.26/Deployment-UPDATE.json",
        "kube-apiserver-1.26/Deployment-DELETE.json", "kube-apiserver-1.26/Pod-CREATE.json"};
    for (size_t i = 0; i < 4; i++) {
        json_t *review = variant(fixtures[i], NULL);
        for (int path = CG_REVIEW_MUTATE; path <= CG_REVIEW_VALIDATE; path++) {
            struct run r;
            run_json(set, (enum cg_review_path)path, NOW_PLAIN, review, &r);
            assert_untouched(&r);
            assert_string_equal(r.decision, "allowed");
            assert_string_equal(r.policy, "");
            run_dispose(&r);
        }
        json_decref(review);
    }
    /* No policy set at all: the same. */
    json_t *review = variant(CREATE, NULL);
    struct run r;
    run_json(NULL, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    assert_untouched(&r);
    run_dispose(&r);
    json_decref(review);
    cg_policy_set_unref(set);
}

static void pods_and_deletes_allowed(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    const struct verdict cases[] = {
        /* In the covered namespace, a Pod (mutated by a later issue) and a Deployment DELETE. */
        {CG_REVIEW_MUTATE, NOW_PLAIN, "kube-apiserver-1.26/Pod-CREATE.json", NULL, NULL,
         "[{\"op\":\"replace\",\"path\":\"/request/namespace\",\"value\":"
         "\"payments\"},{\"op\":\"replace\",\"path\":\"/request/object/metadata/"
         "namespace\",\"value\":\"payments\"}]",
         NULL},
        {CG_REVIEW_VALIDATE, NOW_PLAIN, "kube-apiserver-1.26/Deployment-DELETE.json", NULL, NULL,
         "[{\"op\":\"replace\",\"path\":\"/request/namespace\",\"value\":"
         "\"payments\"}]",
         NULL},
        /* A subresource (status) update of a covered Deployment is not judged. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, RELEASE, NULL, NULL,
         "[{\"op\":\"add\",\"path\":\"/request/subResource\","
         "\"value\":\"status\"},{\"op\":\"replace\",\"path\":"
         "\"/request/object/spec/strategy\",\"value\":{\"type\":"
         "\"Recreate\"}}]",
         NULL},
    };
    EXPECT_VERDICTS(set, cases);
    cg_policy_set_unref(set);
}

/* --- mutation ----------------------------------------------------------------------------- */

static void mutate_create_sets_plan_and_is_idempotent(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    json_t *review = variant(CREATE, NULL);
    struct run r;
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    assert_true(allowed(&r));
    assert_string_equal(r.decision, "patched");
    assert_string_equal(r.policy, "payments");
    json_t *obj = patched(review, &r);
    assert_non_null(obj);
    json_t *rec = assert_payments_release(obj, 2, "[[1,1],[2,2],[2,2]]");
    json_decref(rec);
    /* Nothing else changed: the strategy type and the template are the same. */
    const json_t *orig = json_object_get(json_object_get(review, "request"), "object");
    assert_true(json_equal(json_object_get(json_object_get(obj, "spec"), "template"),
                           json_object_get(json_object_get(orig, "spec"), "template")));
    run_dispose(&r);

    /* Reinvocation on the patched object: no op. */
    json_t *again = with_object(review, obj);
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, again, &r);
    assert_untouched(&r);
    assert_string_equal(r.decision, "allowed");
    run_dispose(&r);
    /* And the validating side admits the patched object. */
    run_json(set, CG_REVIEW_VALIDATE, NOW_PLAIN, again, &r);
    assert_untouched(&r);
    run_dispose(&r);
    json_decref(again);
    json_decref(obj);
    json_decref(review);
    cg_policy_set_unref(set);
}

static void mutate_release_update_and_scaling(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    /* 11 replicas: zone-a gets 6, so the last group is 3+2. */
    json_t *review = variant(RELEASE, "[{\"op\":\"replace\",\"path\":\"/request/object/spec/"
                                      "replicas\",\"value\":11}]");
    struct run r;
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    assert_string_equal(r.decision, "patched");
    json_t *obj = patched(review, &r);
    json_t *rec = assert_payments_release(obj, 2, "[[1,1],[2,2],[3,2]]");
    /* The revision names the new template, not the old one: pinned here (recorded once from
     * this fixture), not computed by the digest under test, so a change of the digest or of
     * which template it names fails. */
    assert_string_equal(json_string_value(json_object_get(rec, "revision")), "c27afddd27f6b93e");
    json_decref(rec);
    run_dispose(&r);
    /* The existing annotations (deployment.kubernetes.io/revision) survive. */
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(obj, "metadata"), "annotations"),
                            "deployment.kubernetes.io/revision")),
                        "1");
    json_t *again = with_object(review, obj);
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, again, &r);
    assert_untouched(&r);
    run_dispose(&r);
    json_decref(again);
    json_decref(obj);
    json_decref(review);

    /* Scaling alone is not a release: no patch, even though maxSurge is 25%. */
    const struct verdict scaling[] = {
        {CG_REVIEW_MUTATE, NOW_PLAIN, SCALE, NULL, NULL, NULL, NULL},
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL, NULL, NULL},
    };
    EXPECT_VERDICTS(set, scaling);
    cg_policy_set_unref(set);
}

/* A new release drops an approval left from the previous one. */
static void mutate_release_drops_stale_approval(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    const char *stale = "[{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/"
                        "cellgate.io~1approve\",\"value\":\"2\"},{\"op\":\"add\",\"path\":"
                        "\"/request/oldObject/metadata/annotations/cellgate.io~1approve\","
                        "\"value\":\"2\"}]";
    json_t *review = variant(RELEASE, stale);
    struct run r;
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    assert_string_equal(r.decision, "patched");
    json_t *obj = patched(review, &r);
    assert_null(json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"),
                                "cellgate.io/approve"));
    run_dispose(&r);
    json_t *again = with_object(review, obj);
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, again, &r);
    assert_untouched(&r);
    run_dispose(&r);
    json_decref(again);
    json_decref(obj);
    json_decref(review);
    /* Scaling keeps it: an approval of the release in progress (the mutation only names
     * who approved, beside it). */
    review = variant(SCALE, "[{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/"
                            "cellgate.io~1approve\",\"value\":\"1\"}]");
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    obj = patched(review, &r);
    const json_t *anns = json_object_get(json_object_get(obj, "metadata"), "annotations");
    assert_string_equal(json_string_value(json_object_get(anns, "cellgate.io/approve")), "1");
    assert_string_equal(json_string_value(json_object_get(anns, "cellgate.io/approved-by")),
                        "admin");
    json_decref(obj);
    run_dispose(&r);
    json_decref(review);
    cg_policy_set_unref(set);
}

/* The drain window: a release raises minReadySeconds to traffic.drainWindow (default 5 s),
 * never lowers a higher one, and a policy with drainWindow: 0s leaves it alone. */
static int64_t min_ready_after(const struct cg_policy_set *set, const char *patch_json)
{
    json_t *review = variant(RELEASE, patch_json);
    struct run r;
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    assert_string_equal(r.decision, "patched");
    json_t *obj = patched(review, &r);
    json_t *v = json_object_get(json_object_get(obj, "spec"), "minReadySeconds");
    int64_t got = v == NULL ? -1 : (int64_t)json_integer_value(v);
    run_dispose(&r);
    json_decref(obj);
    json_decref(review);
    return got;
}

static void mutate_release_sets_drain_window(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    assert_int_equal(set->items[0].traffic.drain_window_seconds, 5);
    assert_int_equal(min_ready_after(set, NULL), 5);
    assert_int_equal(min_ready_after(set, "[{\"op\":\"add\",\"path\":\"/request/object/spec/"
                                          "minReadySeconds\",\"value\":3}]"),
                     5);
    assert_int_equal(min_ready_after(set, "[{\"op\":\"add\",\"path\":\"/request/object/spec/"
                                          "minReadySeconds\",\"value\":30}]"),
                     30);
    cg_policy_set_unref(set);

    /* drainWindow: 0s: minReadySeconds stays absent. */
    struct cg_test_dir *dir = cg_test_dir_create("drainwindow");
    char *text = cg_test_read_file(payments_yaml, NULL);
    const char *at = strstr(text, "    components: [service]\n");
    assert_non_null(at);
    char policy[8192];
    snprintf(policy, sizeof(policy), "%.*s    drainWindow: 0s\n%s", (int)(at - text), text, at);
    const char *path = cg_test_path(dir, "p.yaml");
    cg_test_write_file(path, policy);
    set = load(path, NULL);
    assert_int_equal(set->items[0].traffic.drain_window_seconds, 0);
    assert_int_equal(min_ready_after(set, NULL), -1);
    cg_policy_set_unref(set);
    free(text);
    cg_test_dir_destroy(dir);
}

/* A Deployment smaller than the policy's groups: one group of what there is, the dropped
 * groups in the record and in a warning. */
static void mutate_small_deployment(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    json_t *review = variant(CREATE, "[{\"op\":\"replace\",\"path\":\"/request/object/spec/"
                                     "replicas\",\"value\":2}]");
    struct run r;
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    assert_string_equal(r.decision, "patched");
    const json_t *warnings = json_object_get(r.r, "warnings");
    assert_int_equal(json_array_size(warnings), 1);
    const char *w = json_string_value(json_array_get(warnings, 0));
    assert_non_null(strstr(w, "policy payments"));
    assert_non_null(strstr(w, "dropped"));
    json_t *obj = patched(review, &r);
    assert_int_equal(int_at(obj, "spec", "strategy", "rollingUpdate", "maxSurge"), 2);
    json_t *rec = json_loads(release_annotation(obj), 0, NULL);
    char *g = json_dumps(json_object_get(rec, "groups"), JSON_COMPACT);
    assert_string_equal(g, "[[1,1]]");
    jfree(g);
    g = json_dumps(json_object_get(rec, "dropped"), JSON_COMPACT);
    assert_string_equal(g, "[1,2]");
    jfree(g);
    json_decref(rec);
    run_dispose(&r);
    /* Its own output reviewed again: nothing to add, and still valid. */
    json_t *again = with_object(review, obj);
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, again, &r);
    assert_null(json_object_get(r.r, "patch"));
    run_dispose(&r);
    run_json(set, CG_REVIEW_VALIDATE, NOW_PLAIN, again, &r);
    assert_true(json_is_true(json_object_get(r.r, "allowed")));
    run_dispose(&r);
    json_decref(again);
    json_decref(obj);
    json_decref(review);
    cg_policy_set_unref(set);
}

static void mutate_rollback(void **state)
{
    (void)state;
    /* The controller restores the previous template with the emergency annotation set. */
    const char *rollback = "[{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/"
                           "cellgate.io~1emergency\",\"value\":\"rollback\"}]";
    struct cg_policy_set *fast = load(payments_yaml, NULL); /* rollback: fast by default */
    json_t *review = as_user(variant(RELEASE, rollback), "rm", "release-managers");
    struct run r;
    run_json(fast, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    json_t *obj = patched(review, &r);
    assert_int_equal(int_at(obj, "spec", "strategy", "rollingUpdate", "maxSurge"), 10);
    json_t *rec = json_loads(release_annotation(obj), 0, NULL);
    char *g = json_dumps(json_object_get(rec, "groups"), JSON_COMPACT);
    assert_string_equal(g, "[[5,5]]");
    jfree(g);
    assert_string_equal(json_string_value(json_object_get(rec, "state")), "rollback");
    json_decref(rec);
    run_dispose(&r);
    json_t *again = with_object(review, obj);
    run_json(fast, CG_REVIEW_MUTATE, NOW_PLAIN, again, &r);
    assert_untouched(&r);
    run_dispose(&r);
    json_decref(again);
    json_decref(obj);

    struct cg_policy_set *gradual = load("gradual.yaml", NULL);
    run_json(gradual, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    obj = patched(review, &r);
    assert_int_equal(int_at(obj, "spec", "strategy", "rollingUpdate", "maxSurge"), 2);
    rec = json_loads(release_annotation(obj), 0, NULL);
    g = json_dumps(json_object_get(rec, "groups"), JSON_COMPACT);
    assert_string_equal(g, "[[1,1],[2,2],[2,2]]");
    jfree(g);
    assert_string_equal(json_string_value(json_object_get(rec, "state")), "rollback");
    json_decref(rec);
    run_dispose(&r);
    json_decref(obj);
    json_decref(review);
    cg_policy_set_unref(gradual);
    cg_policy_set_unref(fast);
}

static void mutate_creates_missing_parents(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    /* No strategy at all, no annotations. */
    json_t *review = variant(CREATE, "[{\"op\":\"remove\",\"path\":\"/request/object/spec/"
                                     "strategy\"}]");
    struct run r;
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    json_t *obj = patched(review, &r);
    json_decref(assert_payments_release(obj, 2, "[[1,1],[2,2],[2,2]]"));
    run_dispose(&r);
    json_decref(obj);
    json_decref(review);

    /* A strategy with a type but no rollingUpdate. */
    review = variant(CREATE, "[{\"op\":\"remove\",\"path\":\"/request/object/spec/strategy/"
                             "rollingUpdate\"}]");
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    obj = patched(review, &r);
    json_decref(assert_payments_release(obj, 2, "[[1,1],[2,2],[2,2]]"));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(obj, "spec"), "strategy"), "type")),
                        "RollingUpdate");
    run_dispose(&r);
    json_decref(obj);
    json_decref(review);

    /* Already right but the annotation: only the annotation is added. */
    review = variant(CREATE, "[{\"op\":\"replace\",\"path\":\"/request/object/spec/strategy/"
                             "rollingUpdate\",\"value\":{\"maxUnavailable\":0,\"maxSurge\":2}},"
                             "{\"op\":\"add\",\"path\":\"/request/object/spec/minReadySeconds\","
                             "\"value\":5}]");
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    const char *b64 = json_string_value(json_object_get(r.r, "patch"));
    struct cg_buf raw;
    cg_buf_init(&raw, 0);
    assert_int_equal(cg_base64_decode(b64, strlen(b64), &raw), CG_OK);
    json_t *ops = json_loadb(raw.data, raw.len, 0, NULL);
    /* annotations is absent on this CREATE: add {} then the key. */
    assert_int_equal(json_array_size(ops), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "path")),
                        "/metadata/annotations");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 1), "path")),
                        "/metadata/annotations/cellgate.io~1release");
    json_decref(ops);
    cg_buf_dispose(&raw);
    run_dispose(&r);
    json_decref(review);
    cg_policy_set_unref(set);
}

static void mutate_skips_what_validation_denies(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    const struct verdict cases[] = {
        /* Recreate: rollingUpdate next to it would be invalid. */
        {CG_REVIEW_MUTATE, NOW_PLAIN, CREATE, NULL, NULL,
         "[{\"op\":\"replace\",\"path\":\"/request/object/spec/strategy\",\"value\":{\"type\":"
         "\"Recreate\"}}]",
         NULL},
        /* fewer replicas than cells, zero replicas */
        {CG_REVIEW_MUTATE, NOW_PLAIN, CREATE, NULL, NULL,
         "[{\"op\":\"replace\",\"path\":\"/request/object/spec/replicas\",\"value\":1}]", NULL},
        {CG_REVIEW_MUTATE, NOW_PLAIN, CREATE, NULL, NULL,
         "[{\"op\":\"replace\",\"path\":\"/request/object/spec/replicas\",\"value\":0}]", NULL},
    };
    EXPECT_VERDICTS(set, cases);
    cg_policy_set_unref(set);
}

/* --- gray --------------------------------------------------------------------------------- */

static void gray_rules(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    struct run r;
    json_t *review = variant(CREATE, "[{\"op\":\"replace\",\"path\":\"/request/object/spec/"
                                     "strategy\",\"value\":{\"type\":\"Recreate\"}}]");
    run_json(set, CG_REVIEW_VALIDATE, NOW_PLAIN, review, &r);
    assert_denied(&r, "policy payments rule gray.strategy: strategy type is Recreate");
    assert_non_null(strstr(message(&r), "set spec.strategy.type to RollingUpdate"));
    assert_string_equal(r.policy, "payments");
    run_dispose(&r);
    json_decref(review);

    review = variant(CREATE, "[{\"op\":\"replace\",\"path\":\"/request/object/spec/replicas\","
                             "\"value\":1}]");
    run_json(set, CG_REVIEW_VALIDATE, NOW_PLAIN, review, &r);
    assert_denied(&r, "rule gray.replicas: replicas 1 is fewer than the 2 cells");
    assert_non_null(strstr(message(&r), "set spec.replicas to at least 2"));
    run_dispose(&r);
    json_decref(review);

    const struct verdict cases[] = {
        /* 2 replicas: group 0 takes both; the groups after it are dropped, not an error. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, CREATE, NULL, NULL,
         "[{\"op\":\"replace\",\"path\":\"/request/object/spec/replicas\",\"value\":2}]", NULL},
        /* Scaled to zero: nothing to spread, allowed. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, CREATE, NULL, NULL,
         "[{\"op\":\"replace\",\"path\":\"/request/object/spec/replicas\",\"value\":0}]", NULL},
        /* An UPDATE that only scales an object admitted as Recreate is not held... */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL,
         "[{\"op\":\"replace\",\"path\":\"/request/object/spec/strategy\","
         "\"value\":{\"type\":\"Recreate\"}},{\"op\":\"replace\",\"path\":"
         "\"/request/oldObject/spec/strategy\",\"value\":{\"type\":"
         "\"Recreate\"}}]",
         NULL},
        /* ...but an UPDATE that switches to Recreate is, release or not. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL,
         "[{\"op\":\"replace\",\"path\":\"/request/object/spec/strategy\","
         "\"value\":{\"type\":\"Recreate\"}}]",
         "rule gray.strategy"},
        /* Scaling down below the cells is denied too. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL,
         "[{\"op\":\"replace\",\"path\":\"/request/object/spec/replicas\",\"value\":1}]",
         "rule gray.replicas"},
    };
    EXPECT_VERDICTS(set, cases);
    cg_policy_set_unref(set);
}

/* --- monitor ------------------------------------------------------------------------------ */

static void readiness_probe_rule(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    const struct verdict cases[] = {
        {CG_REVIEW_VALIDATE, NOW_PLAIN, CREATE, NULL, NULL,
         "[{\"op\":\"remove\",\"path\":\"/request/object/spec/"
         "template/spec/containers/0/readinessProbe\"}]",
         "policy payments rule monitor.readinessProbe: container pause has no readinessProbe"},
        /* A release that drops the probe is denied... */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, RELEASE, NULL, NULL,
         "[{\"op\":\"remove\",\"path\":\"/request/object/spec/template/"
         "spec/containers/0/readinessProbe\"}]",
         "monitor.readinessProbe"},
        /* ...and a release of an object that never had one as well (a release is judged
         * whole). */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, RELEASE, NULL, NULL,
         "[{\"op\":\"remove\",\"path\":\"/request/object/spec/template/"
         "spec/containers/0/readinessProbe\"},{\"op\":\"remove\",\"path\":"
         "\"/request/oldObject/spec/template/spec/containers/0/"
         "readinessProbe\"}]",
         "monitor.readinessProbe"},
        /* Scaling such an object is not a release: allowed. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL,
         "[{\"op\":\"remove\",\"path\":\"/request/object/spec/template/spec/"
         "containers/0/readinessProbe\"},{\"op\":\"remove\",\"path\":"
         "\"/request/oldObject/spec/template/spec/containers/0/"
         "readinessProbe\"}]",
         NULL},
        /* Init containers need none. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, CREATE, NULL, NULL,
         "[{\"op\":\"add\",\"path\":\"/request/object/spec/template/spec/"
         "initContainers\",\"value\":[{\"name\":\"migrate\",\"image\":"
         "\"registry.k8s.io/pause:3.9\"}]}]",
         NULL},
    };
    EXPECT_VERDICTS(set, cases);
    cg_policy_set_unref(set);
}

/* The team label on the pod template and minReadySeconds: what monitor-enforce.yaml lacks in
 * the create fixture. */
#define MONITOR_OK                                                                                 \
    "{\"op\":\"add\",\"path\":\"/request/object/spec/template/metadata/labels/"                    \
    "team\",\"value\":\"pay\"},{\"op\":\"add\",\"path\":\"/request/object/spec/"                   \
    "minReadySeconds\",\"value\":10}"

static void monitor_rules_enforced(void **state)
{
    (void)state;
    struct cg_policy_set *set = load("monitor-enforce.yaml", NULL);
    struct run r;
    /* The create fixture lacks the team label and minReadySeconds. */
    json_t *review = variant(CREATE, NULL);
    run_json(set, CG_REVIEW_VALIDATE, NOW_PLAIN, review, &r);
    assert_denied(&r, "policy payments-monitor rule monitor.labels: pod template lacks label(s) "
                      "team; add them under spec.template.metadata.labels");
    assert_non_null(strstr(message(&r), "; policy payments-monitor rule monitor.minReadySeconds: "
                                        "minReadySeconds is 0; set it to at least 10"));
    run_dispose(&r);
    json_decref(review);

    const struct verdict cases[] = {
        /* Labels on the Deployment alone do not count: they are checked on the pod template. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, CREATE, NULL, NULL,
         "[{\"op\":\"add\",\"path\":\"/request/object/metadata/labels/team\","
         "\"value\":\"pay\"},{\"op\":\"add\",\"path\":\"/request/object/spec/"
         "minReadySeconds\",\"value\":10}]",
         "lacks label(s) team"},
        {CG_REVIEW_VALIDATE, NOW_PLAIN, CREATE, NULL, NULL, "[" MONITOR_OK "]", NULL},
        {CG_REVIEW_VALIDATE, NOW_PLAIN, CREATE, NULL, NULL,
         "[" MONITOR_OK ",{\"op\":\"replace\",\"path\":\"/request/object/spec/"
         "revisionHistoryLimit\",\"value\":0}]",
         "rule monitor.revisionHistoryLimit: revisionHistoryLimit is 0, which leaves nothing to "
         "roll back to"},
        {CG_REVIEW_VALIDATE, NOW_PLAIN, CREATE, NULL, NULL,
         "[" MONITOR_OK ",{\"op\":\"remove\",\"path\":\"/request/object/spec/"
         "progressDeadlineSeconds\"}]",
         "rule monitor.progressDeadline: progressDeadlineSeconds is not set"},
    };
    EXPECT_VERDICTS(set, cases);

    /* Policies require a progress deadline unless they say otherwise (payments does not). */
    struct cg_policy_set *pay = load(payments_yaml, NULL);
    const struct verdict no_deadline[] = {
        {CG_REVIEW_VALIDATE, NOW_PLAIN, CREATE, NULL, NULL,
         "[{\"op\":\"remove\",\"path\":\"/request/object/spec/progressDeadlineSeconds\"}]",
         "policy payments rule monitor.progressDeadline"},
    };
    EXPECT_VERDICTS(pay, no_deadline);
    cg_policy_set_unref(pay);
    cg_policy_set_unref(set);
}

/* --- enforcement modes -------------------------------------------------------------------- */

static void warn_and_audit_modes(void **state)
{
    (void)state;
    struct cg_policy_set *warn = load("monitor-warn.yaml", NULL);
    struct cg_policy_set *audit = load("monitor-audit.yaml", NULL);
    json_t *review = variant(CREATE, NULL);
    struct run r;
    run_json(warn, CG_REVIEW_VALIDATE, NOW_PLAIN, review, &r);
    assert_true(allowed(&r));
    assert_string_equal(r.decision, "warned");
    assert_string_equal(r.policy, "payments-labels-warn");
    assert_null(json_object_get(r.r, "status"));
    const json_t *w = json_object_get(r.r, "warnings");
    assert_int_equal(json_array_size(w), 2);
    assert_non_null(strstr(json_string_value(json_array_get(w, 0)),
                           "policy payments-labels-warn rule monitor.labels"));
    assert_non_null(strstr(json_string_value(json_array_get(w, 1)), "monitor.minReadySeconds"));
    /* Short: what was found, not how to comply. */
    assert_string_equal(json_string_value(json_array_get(w, 0)),
                        "policy payments-labels-warn rule monitor.labels: pod template lacks "
                        "label(s) team");
    for (size_t i = 0; i < 2; i++)
        assert_true(strlen(json_string_value(json_array_get(w, i))) <= 120);
    run_dispose(&r);
    /* Warn mode never mutates. */
    run_json(warn, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    assert_untouched(&r);
    run_dispose(&r);

    run_json(audit, CG_REVIEW_VALIDATE, NOW_PLAIN, review, &r);
    assert_true(allowed(&r));
    assert_string_equal(r.decision, "audited");
    assert_null(json_object_get(r.r, "warnings"));
    const json_t *a = json_object_get(r.r, "auditAnnotations");
    assert_int_equal(json_object_size(a), 2);
    assert_non_null(strstr(json_string_value(json_object_get(a, "audit-monitor.labels")),
                           "lacks label(s) team"));
    assert_non_null(json_object_get(a, "audit-monitor.minReadySeconds"));
    run_dispose(&r);
    json_decref(review);
    cg_policy_set_unref(warn);
    cg_policy_set_unref(audit);
}

static void several_policies_strictest_wins(void **state)
{
    (void)state;
    struct cg_policy_set *set =
        load(payments_yaml, "monitor-warn.yaml", "monitor-audit.yaml", NULL);
    json_t *review = variant(CREATE, "[{\"op\":\"replace\",\"path\":\"/request/object/spec/"
                                     "strategy\",\"value\":{\"type\":\"Recreate\"}}]");
    struct run r;
    run_json(set, CG_REVIEW_VALIDATE, NOW_PLAIN, review, &r);
    assert_denied(&r, "policy payments rule gray.strategy");
    /* Only the enforcing policy's reason is in the message; the others still speak, each
     * about everything it finds (Recreate included). */
    assert_null(strstr(message(&r), "monitor.labels"));
    const json_t *w = json_object_get(r.r, "warnings");
    assert_int_equal(json_array_size(w), 3);
    assert_non_null(strstr(json_string_value(json_array_get(w, 0)),
                           "policy payments-labels-warn rule gray.strategy"));
    const json_t *a = json_object_get(r.r, "auditAnnotations");
    assert_int_equal(json_object_size(a), 3);
    assert_non_null(strstr(json_string_value(json_object_get(a, "audit-gray.strategy")),
                           "policy payments-labels-audit rule gray.strategy"));
    run_dispose(&r);
    json_decref(review);

    /* Nothing enforced is broken: warned wins over audited. */
    review = variant(CREATE, NULL);
    run_json(set, CG_REVIEW_VALIDATE, NOW_PLAIN, review, &r);
    assert_true(allowed(&r));
    assert_string_equal(r.decision, "warned");
    run_dispose(&r);
    /* The enforcing policy owns the plan. */
    run_json(set, CG_REVIEW_MUTATE, NOW_PLAIN, review, &r);
    assert_string_equal(r.decision, "patched");
    assert_string_equal(r.policy, "payments");
    run_dispose(&r);
    json_decref(review);

    /* Two enforcing policies: both reasons, joined. */
    struct cg_policy_set *two = load(payments_yaml, "monitor-enforce.yaml", NULL);
    review = variant(CREATE, "[{\"op\":\"remove\",\"path\":\"/request/object/spec/template/"
                             "spec/containers/0/readinessProbe\"}]");
    run_json(two, CG_REVIEW_VALIDATE, NOW_PLAIN, review, &r);
    assert_denied(&r, "policy payments rule monitor.readinessProbe");
    assert_non_null(strstr(message(&r), "; policy payments-monitor rule monitor.labels"));
    run_dispose(&r);
    json_decref(review);
    cg_policy_set_unref(two);
    cg_policy_set_unref(set);
}

static void dry_run_same_decision(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    static const char *const variants[] = {
        NULL,
        "[{\"op\":\"replace\",\"path\":\"/request/object/spec/strategy\",\"value\":{\"type\":"
        "\"Recreate\"}}]",
    };
    for (size_t i = 0; i < 2; i++) {
        for (int path = CG_REVIEW_MUTATE; path <= CG_REVIEW_VALIDATE; path++) {
            json_t *wet = variant(CREATE, variants[i]);
            json_t *dry = json_deep_copy(wet);
            json_object_set_new(json_object_get(dry, "request"), "dryRun", json_true());
            struct run a, b;
            run_json(set, (enum cg_review_path)path, NOW_PLAIN, wet, &a);
            run_json(set, (enum cg_review_path)path, NOW_PLAIN, dry, &b);
            assert_true(json_equal(a.response, b.response));
            assert_string_equal(a.decision, b.decision);
            run_dispose(&a);
            run_dispose(&b);
            json_decref(wet);
            json_decref(dry);
        }
    }
    cg_policy_set_unref(set);
}

/* --- emergency ---------------------------------------------------------------------------- */

static json_t *as_user(json_t *review, const char *user, const char *group)
{
    json_object_set_new(
        json_object_get(review, "request"), "userInfo",
        json_pack("{s:s, s:[s, s]}", "username", user, "groups", group, "system:authenticated"));
    return review;
}

static const char break_glass[] =
    "[{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/cellgate.io~1break-glass\","
    "\"value\":\"INC-4711: card payments fail\"}]";

static void freeze_window(void **state)
{
    (void)state;
    struct cg_policy_set *set = load("freeze.yaml", NULL);
    const struct verdict cases[] = {
        {CG_REVIEW_VALIDATE, NOW_FROZEN, RELEASE, "dev", "developers", NULL,
         "policy payments-freeze rule emergency.freeze: release during freeze window "
         "year-end; wait for it to end, or break glass: annotate "
         "cellgate.io/break-glass=<reason> as a member of sre-oncall"},
        /* The window is [start, end). */
        {CG_REVIEW_VALIDATE, FREEZE_START, RELEASE, "dev", "developers", NULL, "emergency.freeze"},
        {CG_REVIEW_VALIDATE, FREEZE_START - 1, RELEASE, "dev", "developers", NULL, NULL},
        {CG_REVIEW_VALIDATE, FREEZE_END, RELEASE, "dev", "developers", NULL, NULL},
        /* A CREATE is a release too. */
        {CG_REVIEW_VALIDATE, NOW_FROZEN, CREATE, NULL, NULL, NULL, "emergency.freeze"},
        /* Scaling is not a release: allowed in a freeze. */
        {CG_REVIEW_VALIDATE, NOW_FROZEN, SCALE, NULL, NULL, NULL, NULL},
        /* A rollback ordered through the emergency annotation is not held. */
        {CG_REVIEW_VALIDATE, NOW_FROZEN, RELEASE, "rm", "release-managers",
         "[{\"op\":\"add\",\"path\":\"/request/object/metadata/"
         "annotations/cellgate.io~1emergency\",\"value\":"
         "\"rollback\"}]",
         NULL},
    };
    EXPECT_VERDICTS(set, cases);

    /* The mutating side still sets the plan (the validating side decides). */
    struct run r;
    json_t *review = as_user(variant(RELEASE, NULL), "dev", "developers");
    run_json(set, CG_REVIEW_MUTATE, NOW_FROZEN, review, &r);
    assert_string_equal(r.decision, "patched");
    run_dispose(&r);
    json_decref(review);
    cg_policy_set_unref(set);
}

static void freeze_break_glass(void **state)
{
    (void)state;
    struct cg_policy_set *set = load("freeze.yaml", NULL);
    struct run r;
    json_t *review = as_user(variant(RELEASE, break_glass), "alice", "sre-oncall");
    run_json(set, CG_REVIEW_VALIDATE, NOW_FROZEN, review, &r);
    assert_true(allowed(&r));
    assert_null(json_object_get(r.r, "status"));
    const json_t *a = json_object_get(r.r, "auditAnnotations");
    assert_int_equal(json_object_size(a), 3);
    assert_string_equal(json_string_value(json_object_get(a, "break-glass-user")), "alice");
    assert_string_equal(json_string_value(json_object_get(a, "break-glass-reason")),
                        "INC-4711: card payments fail");
    assert_string_equal(json_string_value(json_object_get(a, "break-glass-window")),
                        "payments-freeze/year-end");
    run_dispose(&r);
    /* dryRun: the same answer. */
    json_t *dry = json_deep_copy(review);
    json_object_set_new(json_object_get(dry, "request"), "dryRun", json_true());
    struct run d;
    run_json(set, CG_REVIEW_VALIDATE, NOW_FROZEN, review, &r);
    run_json(set, CG_REVIEW_VALIDATE, NOW_FROZEN, dry, &d);
    assert_true(json_equal(r.response, d.response));
    run_dispose(&r);
    run_dispose(&d);
    json_decref(dry);
    json_decref(review);

    const struct verdict cases[] = {
        /* Outside the window the annotation is just an annotation. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, RELEASE, "alice", "sre-oncall", break_glass, NULL},
        /* The reason without the group. */
        {CG_REVIEW_VALIDATE, NOW_FROZEN, RELEASE, "dev", "developers", break_glass,
         "release during freeze window year-end; user dev is not in a break-glass "
         "group (sre-oncall)"},
        /* The group without a reason (blank is no reason). */
        {CG_REVIEW_VALIDATE, NOW_FROZEN, RELEASE, "alice", "sre-oncall",
         "[{\"op\":\"add\",\"path\":\"/request/object/metadata/"
         "annotations/cellgate.io~1break-glass\",\"value\":\"  \"}]",
         "break glass: annotate cellgate.io/break-glass=<reason>"},
    };
    EXPECT_VERDICTS(set, cases);

    /* A reason with a line break stays one line in the audit record. */
    review = as_user(variant(RELEASE, "[{\"op\":\"add\",\"path\":\"/request/object/metadata/"
                                      "annotations/cellgate.io~1break-glass\",\"value\":"
                                      "\"INC-1\\nsecond line\"}]"),
                     "alice", "sre-oncall");
    run_json(set, CG_REVIEW_VALIDATE, NOW_FROZEN, review, &r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.r, "auditAnnotations"),
                                                          "break-glass-reason")),
                        "INC-1 second line");
    run_dispose(&r);
    json_decref(review);
    cg_policy_set_unref(set);
}

static void approve_and_emergency_annotations(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    const char *approve = "[{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/"
                          "cellgate.io~1approve\",\"value\":\"1\"}]";
    const char *pause = "[{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/"
                        "cellgate.io~1emergency\",\"value\":\"pause\"}]";
    const struct verdict cases[] = {
        /* The real fixture's user is admin in system:masters: not a release manager. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL, approve,
         "policy payments rule emergency.approve: user admin may not set "
         "cellgate.io/approve; ask a member of release-managers to approve the group"},
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, "rm", "release-managers", approve, NULL},
        /* Unchanged (set earlier by someone allowed): anyone may update the object. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL,
         "[{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/"
         "cellgate.io~1approve\",\"value\":\"1\"},{\"op\":\"add\",\"path\":"
         "\"/request/oldObject/metadata/annotations/cellgate.io~1approve\","
         "\"value\":\"1\"}]",
         NULL},
        /* Changed: checked again, whatever the value. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL,
         "[{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/"
         "cellgate.io~1approve\",\"value\":\"2\"},{\"op\":\"add\",\"path\":"
         "\"/request/oldObject/metadata/annotations/cellgate.io~1approve\","
         "\"value\":\"1\"}]",
         "emergency.approve"},
        /* On CREATE too. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, CREATE, NULL, NULL,
         "[{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations\","
         "\"value\":{\"cellgate.io/approve\":\"0\"}}]",
         "emergency.approve"},
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL, pause,
         "policy payments rule emergency.action: user admin may not set cellgate.io/emergency"},
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, "rm", "release-managers", pause, NULL},
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, "rm", "release-managers",
         "[{\"op\":\"add\",\"path\":\"/request/object/metadata/"
         "annotations/cellgate.io~1emergency\",\"value\":\"stop\"}]",
         "rule emergency.value: cellgate.io/emergency is \"stop\"; use pause, resume or "
         "rollback"},
        /* Removing the annotation is not setting it. */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL,
         "[{\"op\":\"add\",\"path\":\"/request/oldObject/metadata/"
         "annotations/cellgate.io~1emergency\",\"value\":\"pause\"}]",
         NULL},
    };
    EXPECT_VERDICTS(set, cases);
    cg_policy_set_unref(set);
}

/* --- engine limits ------------------------------------------------------------------------ */

/* release.escape: a release cannot leave its policy by losing the labels the policy matches,
 * neither mid-release nor in the update that starts it; alone and after the release it may. */
static const char gated_policy[] =
    "apiVersion: cellgate.io/v1\nkind: ReleasePolicy\nmetadata: {name: gated}\nspec:\n"
    "  match:\n    namespaces: [payments]\n    kinds: [Deployment]\n"
    "    selector: {matchLabels: {tier: gated}}\n"
    "  cells: {names: [zone-a, zone-b]}\n"
    "  gray: {groups: [{perCell: 1}, rest]}\n"
    "  emergency: {breakGlass: {groups: [sre-oncall]}}\n";

#define OLD_GATED                                                                                  \
    "{\"op\":\"add\",\"path\":\"/request/oldObject/metadata/labels/tier\",\"value\":\"gated\"}"
#define NEW_GATED                                                                                  \
    "{\"op\":\"add\",\"path\":\"/request/object/metadata/labels/tier\",\"value\":\"gated\"}"
#define OLD_RECORD(state)                                                                          \
    "{\"op\":\"add\",\"path\":\"/request/oldObject/metadata/annotations/cellgate.io~1release\","   \
    "\"value\":\"{\\\"revision\\\":\\\"0123456789abcdef\\\",\\\"cells\\\":[\\\"zone-a\\\","        \
    "\\\"zone-b\\\"],\\\"groups\\\":[[1,1],[4,4]],\\\"group\\\":1,\\\"state\\\":\\\"" state        \
    "\\\"}\"}"
#define NEW_RECORD(state)                                                                          \
    "{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations/cellgate.io~1release\","      \
    "\"value\":\"{\\\"revision\\\":\\\"0123456789abcdef\\\",\\\"cells\\\":[\\\"zone-a\\\","        \
    "\\\"zone-b\\\"],\\\"groups\\\":[[1,1],[4,4]],\\\"group\\\":1,\\\"state\\\":\\\"" state        \
    "\\\"}\"}"

static void release_escape(void **state)
{
    (void)state;
    struct cg_test_dir *dir = cg_test_dir_create("escape");
    const char *path = cg_test_path(dir, "gated.yaml");
    cg_test_write_file(path, gated_policy);
    struct cg_policy_set *set = load(path, NULL);
    const struct verdict cases[] = {
        /* 0: the update that starts a release drops the label: refused */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, RELEASE, NULL, NULL, "[" OLD_GATED "]",
         "rule release.escape: this update changes the Deployment's labels so that policy gated "
         "no longer covers it, in the update that starts a release"},
        /* 1: a scale-only update drops it mid-release: refused */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL,
         "[" OLD_GATED "," OLD_RECORD("waiting-approval") "," NEW_RECORD("waiting-approval") "]",
         "while its release is in progress; finish or roll back the release first"},
        /* 2: the release is complete: a relabel on its own is fine */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL,
         "[" OLD_GATED "," OLD_RECORD("complete") "," NEW_RECORD("complete") "]", NULL},
        /* 3: never released (no record): fine */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL, "[" OLD_GATED "]", NULL},
        /* 4: break-glass may */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, "oncall", "sre-oncall",
         "[" OLD_GATED "," OLD_RECORD("progressing") "," NEW_RECORD("progressing") "]", NULL},
        /* 5: the label kept: the policy applies as ever (no escape) */
        {CG_REVIEW_VALIDATE, NOW_PLAIN, SCALE, NULL, NULL,
         "[" OLD_GATED "," NEW_GATED
         "," OLD_RECORD("progressing") "," NEW_RECORD("progressing") "]",
         NULL},
    };
    EXPECT_VERDICTS(set, cases);
    cg_policy_set_unref(set);
    cg_test_dir_destroy(dir);
}

static void long_values_are_cut(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    char name[300];
    memset(name, 'c', 250);
    name[250] = '\0';
    char patch[600];
    snprintf(patch, sizeof(patch),
             "[{\"op\":\"replace\",\"path\":\"/request/object/spec/template/spec/containers/0\","
             "\"value\":{\"name\":\"%s\",\"image\":\"x\"}}]",
             name);
    json_t *review = variant(CREATE, patch);
    struct run r;
    run_json(set, CG_REVIEW_VALIDATE, NOW_PLAIN, review, &r);
    assert_denied(&r, "rule monitor.readinessProbe: container ccc");
    assert_int_equal(strlen(message(&r)), 200);
    assert_string_equal(message(&r) + 197, "...");
    run_dispose(&r);
    /* A warning is cut at 120. */
    struct cg_policy_set *warn = load("monitor-warn.yaml", NULL);
    run_json(warn, CG_REVIEW_VALIDATE, NOW_PLAIN, review, &r);
    const char *w0 = json_string_value(json_array_get(json_object_get(r.r, "warnings"), 0));
    assert_non_null(strstr(w0, "rule monitor.readinessProbe: container ccc"));
    assert_int_equal(strlen(w0), 120);
    assert_string_equal(w0 + 117, "...");
    run_dispose(&r);
    cg_policy_set_unref(warn);
    json_decref(review);
    cg_policy_set_unref(set);
}

static void engine_buffer_cap(void **state)
{
    (void)state;
    struct cg_policy_set *set = load(payments_yaml, NULL);
    json_t *review = variant(CREATE, "[{\"op\":\"replace\",\"path\":\"/request/object/spec/"
                                     "strategy\",\"value\":{\"type\":\"Recreate\"}}]");
    char *body = json_dumps(review, JSON_COMPACT);
    struct cg_arena arena;
    cg_arena_init(&arena, 4096);
    struct cg_admission_request req;
    struct cg_err err;
    assert_int_equal(cg_admission_decode(body, strlen(body), &arena, &req, &err), CG_OK);
    struct cg_patch patch;
    struct cg_buf text;
    cg_patch_init(&patch, 1 << 16);
    cg_buf_init(&text, 16); /* too small for any message */
    struct cg_engine_result res;
    assert_int_equal(
        cg_engine_eval(set, CG_REVIEW_VALIDATE, NOW_PLAIN, &req, NULL, &patch, &text, &res),
        CG_ETOOBIG);
    assert_false(res.allowed);
    assert_int_equal(res.status_code, 500);
    assert_string_equal(res.decision, "error");
    /* The same request with room: a plain denial, and the engine reports what it saw. */
    cg_buf_dispose(&text);
    cg_buf_init(&text, 1 << 16);
    assert_int_equal(
        cg_engine_eval(set, CG_REVIEW_VALIDATE, NOW_PLAIN, &req, NULL, &patch, &text, &res), CG_OK);
    assert_false(res.allowed);
    assert_int_equal(res.status_code, 403);
    assert_true(res.release);
    assert_int_equal(res.n_policies, 1);
    /* And on /mutate a too small patch buffer is an error, not a silent half patch. */
    cg_patch_dispose(&patch);
    cg_patch_init(&patch, 32);
    json_decref(review);
    jfree(body);
    review = variant(CREATE, NULL);
    body = json_dumps(review, JSON_COMPACT);
    cg_arena_reset(&arena);
    assert_int_equal(cg_admission_decode(body, strlen(body), &arena, &req, &err), CG_OK);
    assert_int_equal(
        cg_engine_eval(set, CG_REVIEW_MUTATE, NOW_PLAIN, &req, NULL, &patch, &text, &res),
        CG_ETOOBIG);
    assert_false(res.allowed);
    assert_int_equal(res.patch.n, 0);
    cg_patch_dispose(&patch);
    cg_buf_dispose(&text);
    cg_arena_dispose(&arena);
    json_decref(review);
    jfree(body);
    cg_policy_set_unref(set);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uncovered_allowed_untouched),
        cmocka_unit_test(pods_and_deletes_allowed),
        cmocka_unit_test(mutate_create_sets_plan_and_is_idempotent),
        cmocka_unit_test(mutate_release_update_and_scaling),
        cmocka_unit_test(mutate_rollback),
        cmocka_unit_test(mutate_release_drops_stale_approval),
        cmocka_unit_test(mutate_small_deployment),
        cmocka_unit_test(mutate_release_sets_drain_window),
        cmocka_unit_test(release_escape),
        cmocka_unit_test(mutate_creates_missing_parents),
        cmocka_unit_test(mutate_skips_what_validation_denies),
        cmocka_unit_test(gray_rules),
        cmocka_unit_test(readiness_probe_rule),
        cmocka_unit_test(monitor_rules_enforced),
        cmocka_unit_test(warn_and_audit_modes),
        cmocka_unit_test(several_policies_strictest_wins),
        cmocka_unit_test(dry_run_same_decision),
        cmocka_unit_test(freeze_window),
        cmocka_unit_test(freeze_break_glass),
        cmocka_unit_test(approve_and_emergency_annotations),
        cmocka_unit_test(long_values_are_cut),
        cmocka_unit_test(engine_buffer_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
