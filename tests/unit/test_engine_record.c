/* [release.record]: only cellgate writes cellgate.io/release. A user who sets, changes or
 * removes it is denied; cellgate's controller (a trusted user) may; the webhook's own mutation
 * at the start of a release writes exactly the record validation then finds. The same for
 * cellgate.io/approved-by, which the mutation writes beside an approval. */
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

#define NOW 1795687200LL /* 2026-11-26T10:00:00Z */
#define CONTROLLER "system:serviceaccount:cellgate-system:cellgate-controller"

static struct cg_policy_set *set;

static void trusted_lookup(void *ud, const struct cg_admission_request *req, struct cg_arena *arena,
                           struct cg_cluster_view *view)
{
    static const struct cg_str trusted[] = {CG_STR_LIT(CONTROLLER)};
    view->trusted_users = trusted;
    view->n_trusted_users = 1;
}

static json_t *load(const char *fixture, const char *patch_json)
{
    json_error_t jerr;
    json_t *doc = json_load_file(cg_test_fixture_path(fixture), 0, &jerr);
    assert_non_null(doc);
    if (patch_json != NULL) {
        json_t *patch = json_loads(patch_json, 0, &jerr);
        assert_non_null(patch);
        struct cg_err err;
        cg_err_clear(&err);
        if (cg_jsonpatch_apply(&doc, patch, &err) != CG_OK)
            fail_msg("test patch: %s", err.msg);
        json_decref(patch);
    }
    return doc;
}

/* Runs the review; returns its response member (new reference) and the decision. */
static json_t *run(enum cg_review_path path, const json_t *review, char *decision)
{
    char *body = json_dumps(review, JSON_COMPACT);
    struct cg_review_scratch scratch;
    struct cg_buf out;
    struct cg_review_outcome o;
    struct cg_cluster_source src = {NULL, trusted_lookup, NULL};
    cg_review_scratch_init(&scratch);
    cg_buf_init(&out, 0);
    assert_int_equal(cg_review_run(set, path, NOW, body, strlen(body), &scratch, &src, &out, &o),
                     CG_OK);
    strcpy(decision, o.decision);
    json_t *doc = json_loadb(out.data, out.len, 0, NULL);
    assert_non_null(doc);
    json_t *r = json_incref(json_object_get(doc, "response"));
    json_decref(doc);
    cg_buf_dispose(&out);
    cg_review_scratch_dispose(&scratch);
    free(body);
    return r;
}

#define SET_RECORD(where, value)                                                                   \
    "{\"op\":\"add\",\"path\":\"/request/" where "/metadata/annotations/cellgate.io~1release\","   \
    "\"value\":" value "}"
#define AS(user)                                                                                   \
    "{\"op\":\"replace\",\"path\":\"/request/userInfo/username\",\"value\":\"" user "\"}"

static void record_writers(void **state)
{
    static const struct {
        const char *name, *fixture, *ops, *decision;
    } rows[] = {
        {"a user fakes a finished release", "engine/payments-update-scale.json",
         "[" SET_RECORD("oldObject", "\"x\"") "," SET_RECORD("object", "\"y\"") "]", "denied"},
        {"a user sets one", "engine/payments-update-scale.json",
         "[" SET_RECORD("object", "\"y\"") "]", "denied"},
        {"a user removes it", "engine/payments-update-scale.json",
         "[" SET_RECORD("oldObject", "\"x\"") "]", "denied"},
        {"the controller moves it on", "engine/payments-update-scale.json",
         "[" SET_RECORD("oldObject", "\"x\"") "," SET_RECORD("object",
                                                             "\"y\"") "," AS(CONTROLLER) "]",
         "allowed"},
        {"unchanged by a scale", "engine/payments-update-scale.json",
         "[" SET_RECORD("oldObject", "\"x\"") "," SET_RECORD("object", "\"x\"") "]", "allowed"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *review = load(rows[i].fixture, rows[i].ops);
        char decision[16];
        json_t *r = run(CG_REVIEW_VALIDATE, review, decision);
        if (strcmp(decision, rows[i].decision) != 0)
            fail_msg("%s: %s, want %s", rows[i].name, decision, rows[i].decision);
        if (strcmp(decision, "denied") == 0) {
            const char *m =
                json_string_value(json_object_get(json_object_get(r, "status"), "message"));
            assert_non_null(strstr(m, "rule release.record"));
            assert_non_null(strstr(m, "cellgate.io/release"));
        }
        json_decref(r);
        json_decref(review);
    }
}

/* A release: the webhook's mutation writes the record, and validating the mutated object
 * (what the apiserver sends to /validate) finds it cellgate's. A different record with the
 * same release is a user's, and denied. */
static void the_webhooks_own_record(void **state)
{
    json_t *review = load("engine/payments-update-release.json", NULL);
    char decision[16];
    json_t *r = run(CG_REVIEW_MUTATE, review, decision);
    assert_string_equal(decision, "patched");
    const char *b64 = json_string_value(json_object_get(r, "patch"));
    struct cg_buf patch_text;
    cg_buf_init(&patch_text, 0);
    assert_int_equal(cg_base64_decode(b64, strlen(b64), &patch_text), CG_OK);
    json_t *patch = json_loadb(patch_text.data, patch_text.len, 0, NULL);
    assert_non_null(patch);
    cg_buf_dispose(&patch_text);
    json_t *obj = json_object_get(json_object_get(review, "request"), "object");
    struct cg_err err;
    cg_err_clear(&err);
    json_t *copy = json_deep_copy(obj);
    assert_int_equal(cg_jsonpatch_apply(&copy, patch, &err), CG_OK);
    json_object_set_new(json_object_get(review, "request"), "object", copy);
    json_decref(patch);
    json_decref(r);
    r = run(CG_REVIEW_VALIDATE, review, decision);
    assert_string_equal(decision, "allowed");
    json_decref(r);
    /* The same release with a record of the user's own making. */
    json_object_set_new(json_object_get(json_object_get(copy, "metadata"), "annotations"),
                        "cellgate.io/release", json_string("{\"group\":2,\"state\":\"complete\"}"));
    r = run(CG_REVIEW_VALIDATE, review, decision);
    assert_string_equal(decision, "denied");
    json_decref(r);
    json_decref(review);
}

/* The record op of a mutation's patch (its value), or NULL when the patch leaves it alone. */
static char *record_op(const json_t *r)
{
    const char *b64 = json_string_value(json_object_get(r, "patch"));
    if (b64 == NULL)
        return NULL;
    struct cg_buf text;
    cg_buf_init(&text, 0);
    assert_int_equal(cg_base64_decode(b64, strlen(b64), &text), CG_OK);
    json_t *patch = json_loadb(text.data, text.len, 0, NULL);
    assert_non_null(patch);
    cg_buf_dispose(&text);
    char *value = NULL;
    size_t i;
    json_t *op;
    json_array_foreach(patch, i, op)
    {
        const char *path = json_string_value(json_object_get(op, "path"));
        if (path != NULL && strstr(path, "cellgate.io~1release") != NULL)
            value = strdup(json_string_value(json_object_get(op, "value")));
    }
    json_decref(patch);
    return value;
}

/* A rollback is the controller's update of the template, carrying the record it wrote for
 * the template it restores (rolledBackFrom: the rollback began). The mutation keeps that
 * record instead of writing a fresh one; from anyone else, or naming another template, the
 * webhook's own record goes in. */
static void the_controllers_rollback_record(void **state)
{
    json_t *review = load("engine/payments-update-release.json", NULL);
    char decision[16];
    json_t *r = run(CG_REVIEW_MUTATE, review, decision);
    char *fresh = record_op(r);
    assert_non_null(fresh);
    json_decref(r);
    /* The controller's record for this template: the webhook's revision, more fields. */
    char mine[512];
    snprintf(mine, sizeof(mine),
             "%.30s,\"cells\":[\"zone-a\",\"zone-b\"],\"groups\":[[2,2]],\"group\":0,"
             "\"state\":\"rollback\",\"rolledBackFrom\":\"00000000000000aa\"}",
             fresh);
    json_t *req = json_object_get(review, "request");
    json_t *meta = json_object_get(json_object_get(req, "object"), "metadata");
    if (json_object_get(meta, "annotations") == NULL)
        json_object_set_new(meta, "annotations", json_object());
    json_object_set_new(json_object_get(meta, "annotations"), "cellgate.io/release",
                        json_string(mine));
    json_object_set_new(json_object_get(req, "userInfo"), "username", json_string(CONTROLLER));
    r = run(CG_REVIEW_MUTATE, review, decision);
    char *kept = record_op(r);
    assert_null(kept);
    json_decref(r);
    /* A record for another template, even the controller's, is replaced. */
    char other[512];
    snprintf(other, sizeof(other), "{\"revision\":\"00000000000000bb\"%s", mine + 30);
    json_object_set_new(json_object_get(meta, "annotations"), "cellgate.io/release",
                        json_string(other));
    r = run(CG_REVIEW_MUTATE, review, decision);
    char *replaced = record_op(r);
    assert_non_null(replaced);
    assert_string_equal(replaced, fresh);
    free(replaced);
    json_decref(r);
    /* Anyone else's: replaced too (and validation denies them the record anyway). */
    json_object_set_new(json_object_get(meta, "annotations"), "cellgate.io/release",
                        json_string(mine));
    json_object_set_new(json_object_get(req, "userInfo"), "username", json_string("alice"));
    r = run(CG_REVIEW_MUTATE, review, decision);
    replaced = record_op(r);
    assert_non_null(replaced);
    assert_string_equal(replaced, fresh);
    free(replaced);
    json_decref(r);
    free(fresh);
    json_decref(review);
}

/* The patch of a mutation as compact JSON text ("" when there is none). */
static void patch_text(const json_t *r, char *out, size_t cap)
{
    out[0] = '\0';
    const char *b64 = json_string_value(json_object_get(r, "patch"));
    if (b64 == NULL)
        return;
    struct cg_buf text;
    cg_buf_init(&text, 0);
    assert_int_equal(cg_base64_decode(b64, strlen(b64), &text), CG_OK);
    snprintf(out, cap, "%.*s", (int)text.len, text.data);
    cg_buf_dispose(&text);
}

#define ANN(where, key, value)                                                                     \
    "{\"op\":\"add\",\"path\":\"/request/" where "/metadata/annotations/cellgate.io~1" key         \
    "\",\"value\":\"" value "\"}"
#define RM_GROUP                                                                                   \
    "{\"op\":\"replace\",\"path\":\"/request/userInfo/groups\",\"value\":[\"release-managers\"]}"

/* Who approved: the mutation of the request that sets cellgate.io/approve writes the user's
 * name into cellgate.io/approved-by (once: a reinvocation adds nothing), and validation lets
 * nobody else write that name. */
static void approved_by(void **state)
{
    static const struct {
        const char *name, *ops, *decision;
    } rows[] = {
        {"the approver, as the mutation wrote it",
         "[" ANN("object", "approve", "1") "," ANN("object", "approved-by",
                                                   "rm") "," AS("rm") "," RM_GROUP "]",
         "allowed"},
        {"someone else's name on an approval",
         "[" ANN("object", "approve", "1") "," ANN("object", "approved-by",
                                                   "bob") "," AS("rm") "," RM_GROUP "]",
         "denied"},
        {"a name without an approval in the same request",
         "[" ANN("oldObject", "approve", "1") "," ANN("object", "approve", "1") "," ANN(
             "object", "approved-by", "rm") "," AS("rm") "," RM_GROUP "]",
         "denied"},
        {"the name removed, the approval kept",
         "[" ANN("oldObject", "approve", "1") "," ANN("oldObject", "approved-by",
                                                      "rm") "," ANN("object", "approve", "1") "]",
         "denied"},
        {"both removed",
         "[" ANN("oldObject", "approve", "1") "," ANN("oldObject", "approved-by", "rm") "]",
         "allowed"},
        {"the controller's update",
         "[" ANN("oldObject", "approved-by", "rm") "," ANN("object", "approved-by",
                                                           "x") "," AS(CONTROLLER) "]",
         "allowed"},
        {"unchanged by a scale",
         "[" ANN("oldObject", "approved-by", "rm") "," ANN("object", "approved-by", "rm") "]",
         "allowed"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *review = load("engine/payments-update-scale.json", rows[i].ops);
        char decision[16];
        json_t *r = run(CG_REVIEW_VALIDATE, review, decision);
        if (strcmp(decision, rows[i].decision) != 0)
            fail_msg("%s: %s, want %s", rows[i].name, decision, rows[i].decision);
        if (strcmp(decision, "denied") == 0) {
            const char *m =
                json_string_value(json_object_get(json_object_get(r, "status"), "message"));
            if (strstr(m, "rule release.record") == NULL ||
                strstr(m, "cellgate.io/approved-by") == NULL)
                fail_msg("%s: %s", rows[i].name, m);
        }
        json_decref(r);
        json_decref(review);
    }

    /* The mutation names the approver; reinvoked, it adds nothing; validation allows it. */
    json_t *review = load("engine/payments-update-scale.json",
                          "[" ANN("object", "approve", "1") "," AS("rm") "," RM_GROUP "]");
    char decision[16], patch[4096];
    json_t *r = run(CG_REVIEW_MUTATE, review, decision);
    patch_text(r, patch, sizeof(patch));
    assert_string_equal(decision, "patched");
    assert_string_equal(
        patch, "[{\"op\":\"add\",\"path\":\"/metadata/annotations/cellgate.io~1approved-by\","
               "\"value\":\"rm\"}]");
    json_decref(r);
    json_t *anns = json_object_get(
        json_object_get(json_object_get(json_object_get(review, "request"), "object"), "metadata"),
        "annotations");
    json_object_set_new(anns, "cellgate.io/approved-by", json_string("rm"));
    r = run(CG_REVIEW_MUTATE, review, decision);
    patch_text(r, patch, sizeof(patch));
    assert_string_equal(patch, "");
    json_decref(r);
    r = run(CG_REVIEW_VALIDATE, review, decision);
    assert_string_equal(decision, "allowed");
    json_decref(r);
    /* Another approver of the next group replaces the name. */
    json_t *req = json_object_get(review, "request");
    json_t *old_meta = json_object_get(json_object_get(req, "oldObject"), "metadata");
    json_object_set_new(old_meta, "annotations", json_deep_copy(anns));
    json_object_set_new(anns, "cellgate.io/approve", json_string("2"));
    json_object_set_new(json_object_get(req, "userInfo"), "username", json_string("carol"));
    r = run(CG_REVIEW_MUTATE, review, decision);
    patch_text(r, patch, sizeof(patch));
    assert_non_null(strstr(patch, "\"value\":\"carol\""));
    json_decref(r);
    json_decref(review);

    /* A release starts: the approval and its name from the last release both go. */
    review =
        load("engine/payments-update-release.json",
             "[" ANN("oldObject", "approve", "2") "," ANN("oldObject", "approved-by", "rm") "," ANN(
                 "object", "approve", "2") "," ANN("object", "approved-by", "rm") "]");
    r = run(CG_REVIEW_MUTATE, review, decision);
    patch_text(r, patch, sizeof(patch));
    assert_non_null(strstr(patch, "{\"op\":\"remove\",\"path\":\"/metadata/annotations/"
                                  "cellgate.io~1approve\"}"));
    assert_non_null(strstr(patch, "{\"op\":\"remove\",\"path\":\"/metadata/annotations/"
                                  "cellgate.io~1approved-by\"}"));
    json_decref(r);
    json_decref(review);
}

static int setup(void **state)
{
    const char *paths[] = {CG_SOURCE_DIR "/policies/examples/payments.yaml"};
    assert_int_equal(cg_policy_set_load_paths(paths, 1, NULL, NULL, &set), CG_OK);
    return 0;
}

static int teardown(void **state)
{
    cg_policy_set_unref(set);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_writers),
        cmocka_unit_test(the_webhooks_own_record),
        cmocka_unit_test(the_controllers_rollback_record),
        cmocka_unit_test(approved_by),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
