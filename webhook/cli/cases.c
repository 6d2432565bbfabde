/* `cellgate policy test`: the case runner. A case is a directory holding case.yaml (format:
 * policies/README.md, "Test cases"); every key of case.yaml, at every depth, is checked, so a
 * misspelled expectation fails the case instead of passing it unchecked. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/mem.h"
#include "cli/cli_internal.h"
#include "cli/pods.h"

/* --- one case ----------------------------------------------------------------------------- */

struct test_case {
    char dir[CG_CLI_PATH_LEN / 2];
    const char *name;
    json_t *spec;  /* case.yaml */
    json_t *lines; /* JSON pointer -> line in case.yaml */
    FILE *before;  /* what explains the failure, printed before the verdict (loader errors) */
    FILE *report;  /* details printed after it (diffs, the patch it got) */
    bool failed;
    char first[512]; /* the first failure, for the FAIL line */
};

static void case_fail(struct test_case *tc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void case_fail(struct test_case *tc, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (!tc->failed)
        snprintf(tc->first, sizeof(tc->first), "%s", line);
    else
        fprintf(tc->report, "    also: %s\n", line);
    tc->failed = true;
}

/* "case.yaml:LINE" for the node at pointer (or its nearest parent with a line). */
static const char *at(const struct test_case *tc, const char *pointer, char *buf, size_t cap)
{
    char p[CG_CLI_PATH_LEN];
    snprintf(p, sizeof(p), "%s", pointer);
    for (;;) {
        json_int_t line = json_integer_value(json_object_get(tc->lines, p));
        if (line > 0) {
            snprintf(buf, cap, "case.yaml:%lld", (long long)line);
            return buf;
        }
        char *slash = strrchr(p, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
    }
    snprintf(buf, cap, "case.yaml");
    return buf;
}

/* --- the shape of case.yaml --------------------------------------------------------------- */

enum ktype { K_STR, K_BOOL, K_INT, K_STRS, K_STR_OR_STRS, K_WARNINGS, K_STR_MAP, K_MAP, K_ANY };

struct key {
    const char *name;
    enum ktype type;
    const struct key *sub; /* K_MAP */
};

static const struct key userinfo_keys[] = {{"username", K_STR, NULL},
                                           {"uid", K_STR, NULL},
                                           {"groups", K_STRS, NULL},
                                           {"extra", K_ANY, NULL},
                                           {NULL, K_ANY, NULL}};
static const struct key expect_keys[] = {{"decision", K_STR, NULL},
                                         {"allowed", K_BOOL, NULL},
                                         {"code", K_INT, NULL},
                                         {"message", K_STR_OR_STRS, NULL},
                                         {"warnings", K_WARNINGS, NULL},
                                         {"warningCount", K_INT, NULL},
                                         {"auditAnnotations", K_STR_MAP, NULL},
                                         {"patched", K_STR, NULL},
                                         {"patch", K_STR, NULL},
                                         {"noPatch", K_BOOL, NULL},
                                         {NULL, K_ANY, NULL}};
static const struct key case_keys[] = {
    {"description", K_STR, NULL},       {"path", K_STR, NULL},    {"now", K_STR, NULL},
    {"policies", K_STR, NULL},          {"review", K_STR, NULL},  {"resource", K_STR, NULL},
    {"oldResource", K_STR, NULL},       {"user", K_STR, NULL},    {"groups", K_STRS, NULL},
    {"userInfo", K_MAP, userinfo_keys}, {"dryRun", K_BOOL, NULL}, {"pods", K_STR, NULL},
    {"expect", K_MAP, expect_keys},     {NULL, K_ANY, NULL}};

static bool all_strings(const json_t *v)
{
    size_t i;
    const json_t *x;
    if (!json_is_array(v))
        return false;
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x))
            return false;
    }
    return true;
}

static bool type_ok(const json_t *v, enum ktype t)
{
    switch (t) {
    case K_STR:
        return json_is_string(v);
    case K_BOOL:
        return json_is_boolean(v);
    case K_INT:
        return json_is_integer(v);
    case K_STRS:
        return all_strings(v);
    case K_STR_OR_STRS:
        return json_is_string(v) || all_strings(v);
    case K_WARNINGS: {
        size_t i;
        const json_t *x;
        if (!json_is_array(v))
            return false;
        json_array_foreach(v, i, x)
        {
            if (!json_is_string(x) && !all_strings(x))
                return false;
        }
        return true;
    }
    case K_STR_MAP: {
        const char *k;
        const json_t *x;
        if (!json_is_object(v))
            return false;
        json_object_foreach((json_t *)v, k, x)
        {
            if (!json_is_string(x))
                return false;
        }
        return true;
    }
    case K_MAP:
        return json_is_object(v);
    case K_ANY:
        return true;
    }
    return false;
}

static const char *type_name(enum ktype t)
{
    switch (t) {
    case K_STR:
        return "a string";
    case K_BOOL:
        return "true or false";
    case K_INT:
        return "an integer";
    case K_STRS:
        return "a list of strings";
    case K_STR_OR_STRS:
        return "a string or a list of strings";
    case K_WARNINGS:
        return "a list (a string or a list of strings per warning)";
    case K_STR_MAP:
        return "a mapping of strings";
    case K_MAP:
        return "a mapping";
    case K_ANY:
        break;
    }
    return "anything";
}

static void check_keys(struct test_case *tc, const json_t *obj, const struct key *keys,
                       const char *pointer, const char *dotted)
{
    const char *k;
    json_t *v;
    char where[64];
    json_object_foreach((json_t *)obj, k, v)
    {
        char p[CG_CLI_PATH_LEN], d[512];
        snprintf(p, sizeof(p), "%s/%s", pointer, k);
        snprintf(d, sizeof(d), "%s%s%s", dotted, *dotted ? "." : "", k);
        const struct key *key = keys;
        while (key->name && strcmp(key->name, k) != 0)
            key++;
        if (key->name == NULL) {
            char allowed[512] = "";
            for (const struct key *a = keys; a->name; a++) {
                size_t n = strlen(allowed);
                snprintf(allowed + n, sizeof(allowed) - n, "%s%s", n ? ", " : "", a->name);
            }
            case_fail(tc, "%s: unknown key \"%s\"%s%s (allowed: %s)",
                      at(tc, p, where, sizeof(where)), k, *dotted ? " in " : "", dotted, allowed);
            continue;
        }
        if (!type_ok(v, key->type)) {
            case_fail(tc, "%s: %s: want %s", at(tc, p, where, sizeof(where)), d,
                      type_name(key->type));
            continue;
        }
        if (key->type == K_MAP && key->sub != NULL)
            check_keys(tc, v, key->sub, p, d);
    }
}

static void check_spec(struct test_case *tc)
{
    char where[64];
    check_keys(tc, tc->spec, case_keys, "", "");
    const json_t *expect = json_object_get(tc->spec, "expect");
    if (expect == NULL)
        case_fail(tc, "case.yaml: expect: missing (say what the review must decide)");
    else if (json_is_object(expect) && json_object_size(expect) == 0)
        case_fail(tc, "%s: expect: says nothing to check (give at least decision)",
                  at(tc, "/expect", where, sizeof(where)));
    const char *decision = json_string_value(json_object_get(expect, "decision"));
    static const char *const decisions[] = {"allowed", "patched", "denied",
                                            "warned",  "audited", NULL};
    if (decision != NULL) {
        const char *const *d = decisions;
        while (*d && strcmp(*d, decision) != 0)
            d++;
        if (*d == NULL)
            case_fail(tc,
                      "%s: expect.decision: \"%s\" is none of allowed, patched, denied, warned, "
                      "audited",
                      at(tc, "/expect/decision", where, sizeof(where)), decision);
    }
    if (json_object_get(tc->spec, "review") != NULL &&
        json_object_get(tc->spec, "resource") != NULL)
        case_fail(tc, "%s: give review or resource, not both",
                  at(tc, "/resource", where, sizeof(where)));
    if (json_object_get(tc->spec, "userInfo") != NULL &&
        (json_object_get(tc->spec, "user") != NULL || json_object_get(tc->spec, "groups") != NULL))
        case_fail(tc, "%s: give userInfo or user and groups, not both",
                  at(tc, "/userInfo", where, sizeof(where)));
}

/* --- files of a case ---------------------------------------------------------------------- */

static void case_path(const struct test_case *tc, const char *rel, char *out)
{
    if (rel[0] == '/')
        snprintf(out, CG_CLI_PATH_LEN, "%s", rel);
    else
        snprintf(out, CG_CLI_PATH_LEN, "%s/%s", tc->dir, rel);
}

static bool case_has(const struct test_case *tc, const char *rel)
{
    char path[CG_CLI_PATH_LEN];
    case_path(tc, rel, path);
    return cg__cli_is_file(path);
}

/* One JSON or YAML value from a file of the case. */
static json_t *case_json(struct test_case *tc, const char *rel)
{
    char path[CG_CLI_PATH_LEN];
    case_path(tc, rel, path);
    struct cg__cli_docs docs = {0};
    struct cg_err e;
    cg_err_clear(&e);
    json_t *v = NULL;
    if (cg__cli_docs_load(path, NULL, &docs, NULL, &e) != CG_OK)
        case_fail(tc, "%s", e.msg);
    else if (docs.n != 1)
        case_fail(tc, "%s: want one document, found %zu", path, docs.n);
    else
        v = json_incref(docs.items[0].value);
    cg__cli_docs_dispose(&docs);
    return v;
}

static const char *spec_str(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

/* The review: review.json as given, or built from the resource (resource.yaml by default)
 * and its old version (old.yaml by default, when there). */
static json_t *case_review(struct test_case *tc)
{
    const char *resource = spec_str(tc->spec, "resource", NULL);
    const char *review = spec_str(tc->spec, "review", NULL);
    if (resource == NULL && review == NULL) {
        if (case_has(tc, "review.json") || !case_has(tc, "resource.yaml"))
            review = "review.json";
        else
            resource = "resource.yaml";
    }
    if (review != NULL)
        return case_json(tc, review);
    json_t *res = case_json(tc, resource);
    const char *old_rel = spec_str(tc->spec, "oldResource", NULL);
    if (old_rel == NULL && case_has(tc, "old.yaml"))
        old_rel = "old.yaml";
    json_t *old = old_rel ? case_json(tc, old_rel) : NULL;
    json_t *result = NULL;
    if (res != NULL && (old_rel == NULL || old != NULL)) {
        char uid[160];
        snprintf(uid, sizeof(uid), "cellgate-test-%s", tc->name);
        const json_t *groups = json_object_get(tc->spec, "groups");
        const char *g[CG_CLI_LIST_MAX];
        size_t n = 0;
        for (; n < json_array_size(groups) && n < CG_CLI_LIST_MAX; n++)
            g[n] = json_string_value(json_array_get(groups, n));
        struct cg__cli_requester who = {
            spec_str(tc->spec, "user", "cellgate-test"),       g,    n,
            json_is_true(json_object_get(tc->spec, "dryRun")), NULL, uid};
        struct cg_err e;
        cg_err_clear(&e);
        result = cg__cli_review_build(res, old, &who, &e);
        if (result == NULL)
            case_fail(tc, "%s: %s", resource, e.msg);
    }
    json_decref(res);
    json_decref(old);
    return result;
}

static void expect_substrings(struct test_case *tc, const char *what, const json_t *want,
                              const char *got)
{
    size_t i;
    const json_t *v;
    if (json_is_string(want)) {
        if (got == NULL || strstr(got, json_string_value(want)) == NULL)
            case_fail(tc, "%s: expected to contain \"%s\", got \"%s\"", what,
                      json_string_value(want), got ? got : "");
        return;
    }
    json_array_foreach(want, i, v)
    {
        expect_substrings(tc, what, v, got);
    }
}

static void check_response(struct test_case *tc, const json_t *expect, const json_t *review,
                           const json_t *response, const struct cg_review_outcome *outcome)
{
    const json_t *r = json_object_get(response, "response");
    const json_t *v;
    if ((v = json_object_get(expect, "decision")) != NULL &&
        strcmp(json_string_value(v) ? json_string_value(v) : "", outcome->decision) != 0)
        case_fail(tc, "decision: expected %s, got %s", json_string_value(v), outcome->decision);
    if ((v = json_object_get(expect, "allowed")) != NULL &&
        json_is_true(v) != json_is_true(json_object_get(r, "allowed")))
        case_fail(tc, "allowed: expected %s, got %s", json_is_true(v) ? "true" : "false",
                  json_is_true(json_object_get(r, "allowed")) ? "true" : "false");
    const json_t *status = json_object_get(r, "status");
    if ((v = json_object_get(expect, "code")) != NULL &&
        json_integer_value(v) != json_integer_value(json_object_get(status, "code")))
        case_fail(tc, "code: expected %lld, got %lld", (long long)json_integer_value(v),
                  (long long)json_integer_value(json_object_get(status, "code")));
    if ((v = json_object_get(expect, "message")) != NULL)
        expect_substrings(tc, "message", v, json_string_value(json_object_get(status, "message")));
    const json_t *warnings = json_object_get(r, "warnings");
    if ((v = json_object_get(expect, "warningCount")) != NULL &&
        (size_t)json_integer_value(v) != json_array_size(warnings))
        case_fail(tc, "warnings: expected %lld, got %zu", (long long)json_integer_value(v),
                  json_array_size(warnings));
    if ((v = json_object_get(expect, "warnings")) != NULL) {
        size_t i;
        const json_t *w;
        json_array_foreach(v, i, w)
        {
            char what[32];
            snprintf(what, sizeof(what), "warnings[%zu]", i);
            expect_substrings(tc, what, w, json_string_value(json_array_get(warnings, i)));
        }
    }
    if ((v = json_object_get(expect, "auditAnnotations")) != NULL) {
        const json_t *got = json_object_get(r, "auditAnnotations");
        const char *k;
        json_t *w;
        json_object_foreach((json_t *)v, k, w)
        {
            const char *g = json_string_value(json_object_get(got, k));
            if (g == NULL || !json_is_string(w) || strcmp(g, json_string_value(w)) != 0)
                case_fail(tc, "auditAnnotations.%s: expected \"%s\", got %s%s%s", k,
                          json_string_value(w) ? json_string_value(w) : "?", g ? "\"" : "",
                          g ? g : "none", g ? "\"" : "");
        }
    }
    const json_t *patch_b64 = json_object_get(r, "patch");
    if (json_is_true(json_object_get(expect, "noPatch")) && patch_b64 != NULL)
        case_fail(tc, "expected no patch, got one");
    if ((v = json_object_get(expect, "patch")) != NULL) {
        json_t *want = case_json(tc, json_string_value(v) ? json_string_value(v) : "");
        json_t *got = NULL;
        struct cg_buf raw;
        cg_buf_init(&raw, 0);
        const char *b64 = json_string_value(patch_b64);
        if (b64 != NULL && cg_base64_decode(b64, strlen(b64), &raw) == CG_OK)
            got = json_loadb(raw.data ? raw.data : "", raw.len, 0, NULL);
        if (want != NULL && !json_equal(want, got)) {
            case_fail(tc, "the patch differs from %s", json_string_value(v));
            int budget = 10;
            json_t *none = json_array();
            cg__cli_diff_json("", want, got ? got : none, tc->report, &budget);
            json_decref(none);
        }
        json_decref(want);
        json_decref(got);
        cg_buf_dispose(&raw);
    }
    if ((v = json_object_get(expect, "patched")) != NULL) {
        json_t *want = case_json(tc, json_string_value(v) ? json_string_value(v) : "");
        json_t *got = NULL;
        struct cg_err err;
        cg_err_clear(&err);
        if (cg__cli_apply_response(review, response, &got, &err) != CG_OK)
            case_fail(tc, "cannot apply the patch: %s", err.msg);
        else if (want != NULL && !json_equal(want, got)) {
            case_fail(tc, "the patched object differs from %s", json_string_value(v));
            int budget = 10;
            cg__cli_diff_json("", want, got, tc->report, &budget);
        }
        json_decref(want);
        json_decref(got);
    }
}

static void print_got_patch(struct test_case *tc, const json_t *response)
{
    const char *b64 =
        json_string_value(json_object_get(json_object_get(response, "response"), "patch"));
    if (b64 == NULL) {
        fprintf(tc->report, "    the response has no patch\n");
        return;
    }
    fprintf(tc->report, "    the patch it got:\n");
    cg__cli_print_patch(b64, "      ", tc->report);
}

static void run_case(struct test_case *tc)
{
    char path[CG_CLI_PATH_LEN], where[64];
    struct cg_err err;
    cg_err_clear(&err);
    snprintf(path, sizeof(path), "%s/case.yaml", tc->dir);
    tc->lines = json_object();
    tc->spec = cg__cli_yaml_load_json(path, tc->lines, &err);
    if (tc->spec == NULL) {
        case_fail(tc, "%s", err.msg);
        return;
    }
    check_spec(tc);
    const char *path_s = spec_str(tc->spec, "path", "/validate");
    enum cg_review_path rpath = CG_REVIEW_VALIDATE;
    if (strcmp(path_s, "/mutate") == 0)
        rpath = CG_REVIEW_MUTATE;
    else if (strcmp(path_s, "/validate") != 0)
        case_fail(tc, "%s: path: \"%s\" is not /mutate or /validate",
                  at(tc, "/path", where, sizeof(where)), path_s);
    long long now = (long long)time(NULL);
    const char *now_s = spec_str(tc->spec, "now", NULL);
    if (now_s != NULL && !cg_cli_time_decode(now_s, &now))
        case_fail(tc, "%s: now: \"%s\" is not an RFC 3339 time",
                  at(tc, "/now", where, sizeof(where)), now_s);
    if (tc->failed)
        return;

    struct cg_policy_set *set = NULL;
    struct cg_cli_pods *pods = NULL;
    json_t *review = NULL, *response = NULL;
    char *body = NULL;
    struct cg_buf out;
    cg_buf_init(&out, CG_CLI_RESPONSE_MAX);
    const json_t *v;

    case_path(tc, spec_str(tc->spec, "policies", "policies"), path);
    if (cg__cli_load_policies(path, tc->before, &set) != CG_OK) {
        case_fail(tc, "the policies in %s do not load (above)", path);
        goto out;
    }
    review = case_review(tc);
    if (review == NULL)
        goto out;
    json_t *request = json_object_get(review, "request");
    if ((v = json_object_get(tc->spec, "userInfo")) != NULL && json_is_object(request))
        json_object_set(request, "userInfo", (json_t *)v);
    if ((v = json_object_get(tc->spec, "dryRun")) != NULL && json_is_object(request))
        json_object_set(request, "dryRun", (json_t *)v);
    if (json_is_object(request) && json_object_get(tc->spec, "review") != NULL) {
        json_t *ui = json_object_get(request, "userInfo");
        if ((v = json_object_get(tc->spec, "user")) != NULL && json_is_object(ui))
            json_object_set(ui, "username", (json_t *)v);
        if ((v = json_object_get(tc->spec, "groups")) != NULL && json_is_object(ui))
            json_object_set(ui, "groups", (json_t *)v);
    }
    /* The cluster's pods the Pod rules see, when the case brings them. */
    const char *pods_rel =
        spec_str(tc->spec, "pods", case_has(tc, "pods.json") ? "pods.json" : NULL);
    if (pods_rel != NULL) {
        case_path(tc, pods_rel, path);
        struct cg_err perr;
        cg_err_clear(&perr);
        if (cg_cli_pods_load(path, &pods, &perr) != CG_OK) {
            case_fail(tc, "%s", perr.msg);
            goto out;
        }
    }
    body = json_dumps(review, JSON_COMPACT);
    struct cg_review_outcome outcome;
    enum cg_status st =
        cg__cli_review_once(set, rpath, now, body, strlen(body), pods, &out, &outcome);
    if (st != CG_OK || outcome.http_status != 200) {
        case_fail(tc, "no AdmissionReview response (HTTP %d): %s", outcome.http_status,
                  out.data ? out.data : cg_status_str(st));
        goto out;
    }
    response = json_loadb(out.data, out.len, 0, NULL);
    if (response == NULL) {
        case_fail(tc, "the response is not JSON");
        goto out;
    }
    check_response(tc, json_object_get(tc->spec, "expect"), review, response, &outcome);
    if (tc->failed)
        print_got_patch(tc, response);
out:
    cg_cli_pods_destroy(pods);
    cg__cli_jfree(body);
    json_decref(response);
    json_decref(review);
    cg_buf_dispose(&out);
    cg_policy_set_unref(set);
}

/* What one case came to. */
struct case_result {
    char *name;
    bool passed;
    char first[512];
    char *before, *details; /* text printed before and after the verdict line */
    double seconds;
};

static void case_result_dispose(struct case_result *r)
{
    free(r->name);
    free(r->before);
    free(r->details);
}

static void case_collect(const char *case_dir, struct case_result *r)
{
    struct test_case tc;
    memset(&tc, 0, sizeof(tc));
    snprintf(tc.dir, sizeof(tc.dir), "%s", case_dir);
    size_t n = strlen(tc.dir);
    while (n > 1 && tc.dir[n - 1] == '/')
        tc.dir[--n] = '\0';
    const char *slash = strrchr(tc.dir, '/');
    tc.name = slash ? slash + 1 : tc.dir;
    char real[PATH_MAX];
    if ((strcmp(tc.name, ".") == 0 || strcmp(tc.name, "..") == 0) &&
        realpath(tc.dir, real) != NULL && strrchr(real, '/') != NULL && strrchr(real, '/')[1])
        tc.name = strrchr(real, '/') + 1; /* "cellgate policy test ." names the case */
    size_t before_len = 0, details_len = 0;
    memset(r, 0, sizeof(*r));
    tc.before = open_memstream(&r->before, &before_len);
    tc.report = open_memstream(&r->details, &details_len);
    if (tc.before == NULL || tc.report == NULL)
        abort(); /* out of memory */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_case(&tc);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fclose(tc.before);
    fclose(tc.report);
    r->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    r->name = cg_xstrdup(tc.name);
    r->passed = !tc.failed;
    snprintf(r->first, sizeof(r->first), "%s", tc.first);
    json_decref(tc.spec);
    json_decref(tc.lines);
}

static void case_print(const struct case_result *r, FILE *report)
{
    if (r->before != NULL)
        fputs(r->before, report);
    if (r->passed)
        fprintf(report, "PASS %s\n", r->name);
    else
        fprintf(report, "FAIL %s: %s\n", r->name, r->first);
    if (r->details != NULL)
        fputs(r->details, report);
}

bool cg_cli_case_run(const char *case_dir, FILE *report)
{
    struct case_result r;
    case_collect(case_dir, &r);
    case_print(&r, report);
    bool passed = r.passed;
    case_result_dispose(&r);
    return passed;
}

/* --- the command -------------------------------------------------------------------------- */

struct test_opts {
    const char *output;
};

static const struct cg__cli_flag test_flags[] = {
    {"output", 'o', CG_CLI_VALUE, offsetof(struct test_opts, output), "FORMAT",
     "text (default): PASS/FAIL per case and a summary;\njunit: JUnit XML for CI; json: one "
     "object with every case",
     false, "text junit json"},
};

const struct cg__cli_command cg__cli_policy_test_command = {
    "policy test",
    "DIR... [-o text|junit|json]",
    "Runs the test cases under each DIR (a directory per case, holding case.yaml; or DIR is one\n"
    "case). The case format is documented in policies/README.md, \"Test cases\".\n"
    "Exit status: 0 every case passed, 1 a case failed or none was found, 2 a usage error.",
    test_flags,
    1,
    "DIR",
    1,
    CG_CLI_LIST_MAX,
    "dir",
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct results {
    struct case_result *items;
    size_t n, cap;
};

static void results_add(struct results *rs, const char *dir)
{
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 16;
        rs->items = cg_xrealloc(rs->items, rs->cap * sizeof(*rs->items));
    }
    case_collect(dir, &rs->items[rs->n++]);
}

/* Runs dir as one case, or every case directory directly under it. */
static bool collect_dir(const char *dir, struct results *rs, FILE *err)
{
    char path[CG_CLI_PATH_LEN];
    snprintf(path, sizeof(path), "%s/case.yaml", dir);
    if (cg__cli_is_file(path)) {
        results_add(rs, dir);
        return true;
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(err, "cellgate policy test: %s: %s\n", dir, strerror(errno));
        return false;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s/case.yaml", dir, e->d_name);
        if (!cg__cli_is_file(path))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = cg_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = cg_xstrdup(e->d_name);
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        results_add(rs, path);
        free(names[i]);
    }
    free(names);
    if (n == 0) {
        fprintf(err, "cellgate policy test: %s: no test case (a directory with case.yaml)\n", dir);
        return false;
    }
    return true;
}

static void xml_text(const char *s, FILE *out)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '<')
            fputs("&lt;", out);
        else if (c == '>')
            fputs("&gt;", out);
        else if (c == '&')
            fputs("&amp;", out);
        else if (c == '"')
            fputs("&quot;", out);
        else if (c < 0x20 && c != '\n' && c != '\t')
            fputc(' ', out); /* not allowed in XML 1.0 */
        else
            fputc(c, out);
    }
}

static void write_junit(const struct results *rs, size_t failed, FILE *out)
{
    double total = 0;
    for (size_t i = 0; i < rs->n; i++)
        total += rs->items[i].seconds;
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites tests=\"%zu\" failures=\"%zu\" time=\"%.3f\">\n"
            "  <testsuite name=\"cellgate policy test\" tests=\"%zu\" failures=\"%zu\" "
            "errors=\"0\" skipped=\"0\" time=\"%.3f\">\n",
            rs->n, failed, total, rs->n, failed, total);
    for (size_t i = 0; i < rs->n; i++) {
        const struct case_result *r = &rs->items[i];
        fputs("    <testcase classname=\"cellgate.policy.test\" name=\"", out);
        xml_text(r->name, out);
        fprintf(out, "\" time=\"%.3f\"", r->seconds);
        if (r->passed) {
            fputs("/>\n", out);
            continue;
        }
        fputs(">\n      <failure message=\"", out);
        xml_text(r->first, out);
        fputs("\">", out);
        xml_text(r->before, out);
        xml_text(r->first, out);
        fputc('\n', out);
        xml_text(r->details, out);
        fputs("</failure>\n    </testcase>\n", out);
    }
    fputs("  </testsuite>\n</testsuites>\n", out);
}

static void write_json(const struct results *rs, size_t failed, FILE *out)
{
    json_t *cases = json_array();
    for (size_t i = 0; i < rs->n; i++) {
        const struct case_result *r = &rs->items[i];
        json_t *c = json_pack("{s:s, s:b, s:f}", "name", r->name, "passed", r->passed, "seconds",
                              r->seconds);
        if (!r->passed) {
            json_object_set_new(c, "failure", json_string(r->first));
            char *details = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&details, &len);
            if (f == NULL)
                abort();
            fputs(r->before ? r->before : "", f);
            fputs(r->details ? r->details : "", f);
            fclose(f);
            json_object_set_new(c, "details", json_string(details));
            free(details);
        }
        json_array_append_new(cases, c);
    }
    json_t *doc = json_pack("{s:I, s:I, s:o}", "passed", (json_int_t)(rs->n - failed), "failed",
                            (json_int_t)failed, "cases", cases);
    char *text = json_dumps(doc, JSON_INDENT(2));
    fprintf(out, "%s\n", text ? text : "{}");
    cg__cli_jfree(text);
    json_decref(doc);
}

int cg__cli_policy_test(int argc, char **argv, FILE *out, FILE *err)
{
    struct test_opts o = {NULL};
    struct cg__cli_list dirs;
    int rc = cg__cli_args_parse(&cg__cli_policy_test_command, argc, argv, &o, &dirs, out, err);
    if (rc >= 0)
        return rc;
    const char *fmt = o.output ? o.output : "text";
    if (strcmp(fmt, "text") != 0 && strcmp(fmt, "junit") != 0 && strcmp(fmt, "json") != 0) {
        fprintf(err, "cellgate policy test: -o \"%s\": want text, junit or json\n", fmt);
        return 2;
    }
    struct results rs = {0};
    bool found = true;
    for (size_t i = 0; i < dirs.n; i++)
        found &= collect_dir(dirs.items[i], &rs, err);
    size_t failed = 0;
    for (size_t i = 0; i < rs.n; i++)
        failed += !rs.items[i].passed;
    if (strcmp(fmt, "junit") == 0) {
        write_junit(&rs, failed, out);
    } else if (strcmp(fmt, "json") == 0) {
        write_json(&rs, failed, out);
    } else {
        for (size_t i = 0; i < rs.n; i++)
            case_print(&rs.items[i], out);
        /* one case named directly: its line is the verdict */
        char one[CG_CLI_PATH_LEN];
        snprintf(one, sizeof(one), "%s/case.yaml", dirs.n == 1 ? dirs.items[0] : "");
        if (!(dirs.n == 1 && cg__cli_is_file(one)))
            fprintf(out, "%zu passed, %zu failed\n", rs.n - failed, failed);
    }
    for (size_t i = 0; i < rs.n; i++)
        case_result_dispose(&rs.items[i]);
    free(rs.items);
    return failed || !found ? 1 : 0;
}
