/* Which policies cover an object: namespaces (exact and globs), kinds, label selectors, set
 * order, and the index that keeps the lookup from scanning the set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admission/admission.h"
#include "base/buf.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"
#include "test_support.h"

static struct cg_policy_set *decode(const char *yaml)
{
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    if (cg_policy_set_decode("match.yaml", yaml, strlen(yaml), &set, &err) != CG_OK)
        fail_msg("%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    return set;
}

/* One policy document with the given spec.match body (indented by 4). */
static void add_policy(struct cg_buf *b, const char *name, const char *match)
{
    assert_int_equal(cg_buf_appendf(b,
                                    "---\napiVersion: cellgate.io/v1\nkind: ReleasePolicy\n"
                                    "metadata: {name: %s}\nspec:\n  match:\n%s"
                                    "  cells: {names: [a]}\n  gray: {groups: [rest]}\n",
                                    name, match),
                     CG_OK);
}

/* Names of the matching policies, comma separated, into out. */
static const char *match_names(const struct cg_policy_set *set, unsigned kind, const char *ns,
                               const struct cg_kvs *labels, char *out, size_t outlen)
{
    const struct cg_policy *found[16];
    size_t n = cg_policy_set_match(set, kind, cg_str_from(ns), labels, found, 16);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && i < 16; i++)
        used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? "," : "", found[i]->name);
    return out;
}

#define KV(k, v)                                                                                   \
    {                                                                                              \
        {k, sizeof(k) - 1},                                                                        \
        {                                                                                          \
            v, sizeof(v) - 1                                                                       \
        }                                                                                          \
    }

static void test_namespaces_and_globs(void **state)
{
    (void)state;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    add_policy(&b, "exact", "    namespaces: [payments, ledger]\n");
    add_policy(&b, "star", "    namespaces: [\"team-*\"]\n");
    add_policy(&b, "question", "    namespaces: [\"shop-?\"]\n");
    add_policy(&b, "class", "    namespaces: [\"zone[ab]\", payments]\n");
    add_policy(&b, "any", "    kinds: [Deployment]\n");
    struct cg_policy_set *set = decode(b.data);
    char out[256];
    assert_string_equal(match_names(set, CG_KIND_POD, "payments", NULL, out, sizeof(out)),
                        "exact,class");
    assert_string_equal(match_names(set, CG_KIND_DEPLOYMENT, "payments", NULL, out, sizeof(out)),
                        "exact,class,any");
    assert_string_equal(match_names(set, CG_KIND_POD, "ledger", NULL, out, sizeof(out)), "exact");
    assert_string_equal(match_names(set, CG_KIND_POD, "team-a", NULL, out, sizeof(out)), "star");
    assert_string_equal(match_names(set, CG_KIND_POD, "team-", NULL, out, sizeof(out)), "star");
    assert_string_equal(match_names(set, CG_KIND_POD, "teams", NULL, out, sizeof(out)), "");
    assert_string_equal(match_names(set, CG_KIND_POD, "shop-1", NULL, out, sizeof(out)),
                        "question");
    assert_string_equal(match_names(set, CG_KIND_POD, "shop-12", NULL, out, sizeof(out)), "");
    assert_string_equal(match_names(set, CG_KIND_POD, "zonea", NULL, out, sizeof(out)), "class");
    assert_string_equal(match_names(set, CG_KIND_POD, "zonec", NULL, out, sizeof(out)), "");
    /* a prefix or an extension of a listed name is not that name */
    assert_string_equal(match_names(set, CG_KIND_POD, "pay", NULL, out, sizeof(out)), "");
    assert_string_equal(match_names(set, CG_KIND_POD, "payments2", NULL, out, sizeof(out)), "");
    assert_string_equal(match_names(set, CG_KIND_DEPLOYMENT, "", NULL, out, sizeof(out)), "any");
    /* not NUL-terminated input: only n bytes count */
    const struct cg_policy *found[4];
    struct cg_str ns = {"payments-xyz", 8};
    assert_int_equal(cg_policy_set_match(set, CG_KIND_POD, ns, NULL, found, 4), 2);
    assert_string_equal(found[0]->name, "exact");
    /* more matches than room: the count is still the total */
    assert_int_equal(
        cg_policy_set_match(set, CG_KIND_DEPLOYMENT, cg_str_from("payments"), NULL, found, 1), 3);
    assert_string_equal(found[0]->name, "exact");
    assert_int_equal(cg_policy_set_match(NULL, CG_KIND_POD, ns, NULL, found, 4), 0);
    cg_policy_set_unref(set);
    cg_buf_dispose(&b);
}

static void test_kinds(void **state)
{
    (void)state;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    add_policy(&b, "pods", "    namespaces: [demo]\n    kinds: [Pod]\n");
    add_policy(&b, "deploys", "    namespaces: [demo]\n    kinds: [Deployment]\n");
    add_policy(&b, "both", "    namespaces: [demo]\n");
    add_policy(&b, "glob-pods", "    namespaces: [\"d*\"]\n    kinds: [Pod]\n");
    struct cg_policy_set *set = decode(b.data);
    char out[256];
    assert_string_equal(match_names(set, CG_KIND_POD, "demo", NULL, out, sizeof(out)),
                        "pods,both,glob-pods");
    assert_string_equal(match_names(set, CG_KIND_DEPLOYMENT, "demo", NULL, out, sizeof(out)),
                        "deploys,both");
    cg_policy_set_unref(set);
    cg_buf_dispose(&b);
}

static void test_selectors(void **state)
{
    (void)state;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    add_policy(&b, "labels", "    selector:\n      matchLabels: {tier: backend, team: pay}\n");
    add_policy(&b, "in",
               "    selector:\n      matchExpressions:\n"
               "        - {key: tier, operator: In, values: [backend, batch]}\n");
    add_policy(&b, "notin",
               "    selector:\n      matchExpressions:\n"
               "        - {key: tier, operator: NotIn, values: [frontend]}\n");
    add_policy(&b, "exists",
               "    selector:\n      matchExpressions:\n"
               "        - {key: cellgate.io/managed, operator: Exists}\n");
    add_policy(&b, "absent",
               "    selector:\n      matchExpressions:\n"
               "        - {key: cellgate.io/opt-out, operator: DoesNotExist, values: []}\n");
    struct cg_policy_set *set = decode(b.data);
    char out[256];

    const struct cg_kv backend[] = {KV("tier", "backend"), KV("team", "pay"),
                                    KV("cellgate.io/managed", "")};
    struct cg_kvs l1 = {backend, 3, true};
    assert_string_equal(match_names(set, CG_KIND_POD, "x", &l1, out, sizeof(out)),
                        "labels,in,notin,exists,absent");

    const struct cg_kv frontend[] = {KV("tier", "frontend"), KV("cellgate.io/opt-out", "yes")};
    struct cg_kvs l2 = {frontend, 2, true};
    assert_string_equal(match_names(set, CG_KIND_POD, "x", &l2, out, sizeof(out)), "");

    const struct cg_kv batch[] = {KV("tier", "batch"), KV("team", "other")};
    struct cg_kvs l3 = {batch, 2, true};
    assert_string_equal(match_names(set, CG_KIND_POD, "x", &l3, out, sizeof(out)),
                        "in,notin,absent");

    /* no labels at all: NotIn and DoesNotExist hold for an absent key */
    assert_string_equal(match_names(set, CG_KIND_POD, "x", NULL, out, sizeof(out)), "notin,absent");
    struct cg_kvs empty = {NULL, 0, false};
    assert_string_equal(match_names(set, CG_KIND_POD, "x", &empty, out, sizeof(out)),
                        "notin,absent");

    /* a value that is a prefix of the wanted one does not match */
    const struct cg_kv prefix[] = {KV("tier", "back"), KV("team", "pay")};
    struct cg_kvs l4 = {prefix, 2, true};
    assert_false(cg_label_selector_eval(&set->items[0].match.selector, &l4));
    assert_true(cg_label_selector_eval(&set->items[0].match.selector, &l1));
    cg_policy_set_unref(set);
    cg_buf_dispose(&b);
}

/* 200 policies on exact namespaces plus a few globs: a lookup examines only its own
 * namespace's entries and the glob list, and results come back in set order. */
static void test_index_200_policies(void **state)
{
    (void)state;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    add_policy(&b, "first-glob", "    namespaces: [\"ns-1*\"]\n    kinds: [Pod]\n");
    for (int i = 0; i < 200; i++) {
        char name[32], match[96];
        snprintf(name, sizeof(name), "p%03d", i);
        /* ns-<i> for Pods and Deployments; every 10th also covers a shared namespace */
        snprintf(match, sizeof(match), "    namespaces: [ns-%d%s]\n", i,
                 i % 10 == 0 ? ", shared" : "");
        add_policy(&b, name, match);
    }
    add_policy(&b, "last-any", "    kinds: [Deployment]\n");
    struct cg_policy_set *set = decode(b.data);
    assert_int_equal(set->n, 202);
    char out[512];

    assert_int_equal(cg__policy_index_candidates(set, CG_KIND_POD, cg_str_from("ns-137")), 3);
    assert_string_equal(match_names(set, CG_KIND_POD, "ns-137", NULL, out, sizeof(out)),
                        "first-glob,p137");
    assert_string_equal(match_names(set, CG_KIND_DEPLOYMENT, "ns-137", NULL, out, sizeof(out)),
                        "p137,last-any");
    assert_string_equal(match_names(set, CG_KIND_POD, "ns-42", NULL, out, sizeof(out)), "p042");
    assert_string_equal(match_names(set, CG_KIND_POD, "ns-0", NULL, out, sizeof(out)), "p000");
    assert_string_equal(match_names(set, CG_KIND_POD, "ns-199", NULL, out, sizeof(out)),
                        "first-glob,p199");
    assert_string_equal(match_names(set, CG_KIND_POD, "ns-200", NULL, out, sizeof(out)), "");
    assert_int_equal(cg__policy_index_candidates(set, CG_KIND_POD, cg_str_from("ns-200")), 2);
    assert_string_equal(match_names(set, CG_KIND_POD, "shared", NULL, out, sizeof(out)),
                        "p000,p010,p020,p030,p040,p050,p060,p070,p080,p090,p100,p110,p120,p130,"
                        "p140,p150");
    const struct cg_policy *found[32];
    assert_int_equal(
        cg_policy_set_match(set, CG_KIND_DEPLOYMENT, cg_str_from("shared"), NULL, found, 32), 21);
    assert_string_equal(found[19]->name, "p190");
    assert_string_equal(found[20]->name, "last-any");
    /* every namespace finds its own policy */
    for (int i = 0; i < 200; i++) {
        char ns[16], want[16];
        snprintf(ns, sizeof(ns), "ns-%d", i);
        snprintf(want, sizeof(want), "p%03d", i);
        size_t n = cg_policy_set_match(set, CG_KIND_DEPLOYMENT, cg_str_from(ns), NULL, found, 32);
        assert_int_equal(n, 2);
        assert_string_equal(found[0]->name, want);
        assert_true(cg__policy_index_candidates(set, CG_KIND_DEPLOYMENT, cg_str_from(ns)) <= 4);
    }
    cg_policy_set_unref(set);
    cg_buf_dispose(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_namespaces_and_globs),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_index_200_policies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
