/* The engine fails closed at each of its limits: more matching policies than its table, more
 * violations than it describes, lists longer than a message holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jsonpatch/jsonpatch.h"
#include "policy/policy.h"
#include "review/engine.h"
#include "review/review.h"
#include "test_support.h"

#define NOW 1795687200LL /* 2026-11-26T10:00:00Z */

/* n policies covering the payments Deployments, in this order: audit ones, then (enforce_at
 * >= 0) one enforcing at that position. Each finds the Recreate strategy (one violation). */
static struct cg_policy_set *policies(int n, int enforce_at, const char *approvers)
{
    size_t cap = 4096 + (size_t)n * 512;
    char *yaml = malloc(cap);
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(
            yaml + len, cap - len,
            "---\napiVersion: cellgate.io/v1\nkind: ReleasePolicy\nmetadata: {name: p%03d}\n"
            "spec:\n  match: {namespaces: [payments], kinds: [Deployment]}\n"
            "  enforcement: %s\n  cells: {names: [zone-a, zone-b]}\n"
            "  gray: {groups: [rest]}\n%s%s%s",
            i, i == enforce_at ? "enforce" : "audit", approvers ? "  emergency:\n" : "",
            approvers ? "    approvers: {groups: " : "", approvers ? approvers : "");
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    cg_err_clear(&err);
    if (cg_policy_set_decode("gen.yaml", yaml, len, &set, &err) != CG_OK)
        fail_msg("generated policies: %s", err.msg);
    free(yaml);
    return set;
}

static json_t *review(const char *patch_json)
{
    json_error_t jerr;
    json_t *doc = json_load_file(cg_test_fixture_path("engine/payments-create.json"), 0, &jerr);
    assert_non_null(doc);
    json_t *patch = json_loads(patch_json, 0, &jerr);
    assert_non_null(patch);
    struct cg_err err;
    cg_err_clear(&err);
    assert_int_equal(cg_jsonpatch_apply(&doc, patch, &err), CG_OK);
    json_decref(patch);
    return doc;
}

static const char recreate[] = "[{\"op\":\"replace\",\"path\":\"/request/object/spec/strategy\","
                               "\"value\":{\"type\":\"Recreate\"}}]";

/* Runs /validate; returns the response member (new reference) and the decision. */
static json_t *validate(const struct cg_policy_set *set, const json_t *rv, char *decision)
{
    char *body = json_dumps(rv, JSON_COMPACT);
    struct cg_review_scratch scratch;
    struct cg_buf buf;
    struct cg_review_outcome o;
    cg_review_scratch_init(&scratch);
    cg_buf_init(&buf, 0);
    assert_int_equal(
        cg_review_run(set, CG_REVIEW_VALIDATE, NOW, body, strlen(body), &scratch, NULL, &buf, &o),
        CG_OK);
    strcpy(decision, o.decision);
    json_error_t jerr;
    json_t *doc = json_loadb(buf.data, buf.len, 0, &jerr);
    assert_non_null(doc);
    json_t *r = json_incref(json_object_get(doc, "response"));
    json_decref(doc);
    cg_buf_dispose(&buf);
    cg_review_scratch_dispose(&scratch);
    free(body);
    return r;
}

static const char *message_of(const json_t *r)
{
    const char *m = json_string_value(json_object_get(json_object_get(r, "status"), "message"));
    return m ? m : "";
}

/* 16 and 17 matching policies, the enforcing one last: denied both times. */
static void every_matching_policy_counts(void **state)
{
    json_t *rv = review(recreate);
    for (int n = 15; n <= 40; n++) {
        struct cg_policy_set *set = policies(n, n - 1, NULL);
        char decision[16];
        json_t *r = validate(set, rv, decision);
        if (strcmp(decision, "denied") != 0)
            fail_msg("%d policies, the last enforcing: %s", n, decision);
        char want[32];
        snprintf(want, sizeof(want), "policy p%03d", n - 1);
        assert_non_null(strstr(message_of(r), want));
        json_decref(r);
        cg_policy_set_unref(set);
    }
    json_decref(rv);
}

/* 32 and 33 violations before the enforcing one: it still denies, and the message says that
 * findings were left out. */
static void dropped_enforcing_violation_denies(void **state)
{
    json_t *rv = review(recreate);
    for (int n = 31; n <= 35; n++) {
        struct cg_policy_set *set = policies(n, n - 1, NULL);
        char decision[16];
        json_t *r = validate(set, rv, decision);
        assert_string_equal(decision, "denied");
        const char *m = message_of(r);
        if (n <= 32) {
            assert_null(strstr(m, "not shown"));
            assert_non_null(strstr(m, "rule gray.strategy"));
        } else {
            assert_non_null(strstr(m, "policy p"));
            assert_non_null(strstr(m, "not shown"));
        }
        json_decref(r);
        cg_policy_set_unref(set);
    }
    /* Audits alone never deny, however many. */
    struct cg_policy_set *set = policies(40, -1, NULL);
    char decision[16];
    json_t *r = validate(set, rv, decision);
    assert_string_equal(decision, "audited");
    assert_true(json_is_true(json_object_get(r, "allowed")));
    json_decref(r);
    cg_policy_set_unref(set);
    json_decref(rv);
}

/* A list of groups too long for the message ends in "and N more", never cut silently. */
static void long_group_list_says_how_many_more(void **state)
{
    char groups[2048] = "[";
    for (int i = 0; i < 12; i++)
        snprintf(groups + strlen(groups), sizeof(groups) - strlen(groups),
                 "%srelease-managers-of-the-payments-platform-%02d", i ? ", " : "", i);
    strcat(groups, "]}\n");
    struct cg_policy_set *set = policies(1, 0, groups);
    json_t *rv = review("[{\"op\":\"add\",\"path\":\"/request/object/metadata/annotations\","
                        "\"value\":{\"cellgate.io/approve\":\"1\"}}]");
    char decision[16];
    json_t *r = validate(set, rv, decision);
    assert_string_equal(decision, "denied");
    const char *m = message_of(r);
    assert_non_null(strstr(m, "release-managers-of-the-payments-platform-00"));
    assert_non_null(strstr(m, " more"));
    assert_null(strstr(m, "platform-11"));
    json_decref(r);
    json_decref(rv);
    cg_policy_set_unref(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_matching_policy_counts),
        cmocka_unit_test(dropped_enforcing_violation_denies),
        cmocka_unit_test(long_group_list_says_how_many_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
