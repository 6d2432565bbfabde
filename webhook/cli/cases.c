/* `cellgate policy test`: the case runner (a directory per case). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/mem.h"
#include "cli/cli_internal.h"
#include "cli/pods.h"

/* --- test cases --------------------------------------------------------------------------- */

struct test_case {
    char dir[CG_CLI_PATH_LEN / 2];
    const char *name;
    json_t *spec; /* case.yaml */
    FILE *report;
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

static void case_path(const struct test_case *tc, const char *rel, char *out)
{
    if (rel[0] == '/')
        snprintf(out, CG_CLI_PATH_LEN, "%s", rel);
    else
        snprintf(out, CG_CLI_PATH_LEN, "%s/%s", tc->dir, rel);
}

static json_t *case_json(struct test_case *tc, const char *rel)
{
    char path[CG_CLI_PATH_LEN];
    case_path(tc, rel, path);
    json_error_t jerr;
    json_t *v = json_load_file(path, 0, &jerr);
    if (v == NULL)
        case_fail(tc, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    return v;
}

static const char *spec_str(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

/* "apps/v1" + "Deployment" -> kind and resource (the plural the apiserver uses). */
static json_t *wrap_resource(json_t *res, json_t *old, const char *name)
{
    const char *api = spec_str(res, "apiVersion", "v1");
    const char *kind = spec_str(res, "kind", "");
    const char *slash = strchr(api, '/');
    json_t *group = slash ? json_stringn(api, (size_t)(slash - api)) : json_string("");
    json_t *version = json_string(slash ? slash + 1 : api);
    char plural[128];
    size_t n = 0;
    for (const char *p = kind; *p && n < sizeof(plural) - 2; p++)
        plural[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    plural[n++] = 's';
    plural[n] = '\0';
    const json_t *meta = json_object_get(res, "metadata");
    char uid[160];
    snprintf(uid, sizeof(uid), "cellgate-test-%s", name);
    json_t *request = json_pack(
        "{s:s, s:{s:O, s:O, s:s}, s:{s:O, s:O, s:s}, s:s, s:s, s:s, s:{s:s, s:[s]}, s:O, s:O, "
        "s:b}",
        "uid", uid, "kind", "group", group, "version", version, "kind", kind, "resource", "group",
        group, "version", version, "resource", plural, "name", spec_str(meta, "name", ""),
        "namespace", spec_str(meta, "namespace", ""), "operation", old ? "UPDATE" : "CREATE",
        "userInfo", "username", "cellgate-test", "groups", "system:authenticated", "object", res,
        "oldObject", old ? old : json_null(), "dryRun", 0);
    json_decref(group);
    json_decref(version);
    if (request == NULL)
        return NULL;
    return json_pack("{s:s, s:s, s:o}", "apiVersion", "admission.k8s.io/v1", "kind",
                     "AdmissionReview", "request", request);
}

static json_t *case_review(struct test_case *tc)
{
    const char *resource = spec_str(tc->spec, "resource", NULL);
    if (resource == NULL)
        return case_json(tc, spec_str(tc->spec, "review", "review.json"));
    json_t *res = case_json(tc, resource);
    const char *old_rel = spec_str(tc->spec, "oldResource", NULL);
    json_t *old = old_rel ? case_json(tc, old_rel) : NULL;
    json_t *review = NULL;
    if (res != NULL && (old_rel == NULL || old != NULL))
        review = wrap_resource(res, old, tc->name);
    json_decref(res);
    json_decref(old);
    return review;
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

static void run_case(struct test_case *tc)
{
    char path[CG_CLI_PATH_LEN];
    struct cg_err err;
    cg_err_clear(&err);
    snprintf(path, sizeof(path), "%s/case.yaml", tc->dir);
    tc->spec = cg__cli_yaml_load_json(path, &err);
    if (tc->spec == NULL) {
        char line[CG_ERR_MSG_MAX + CG_ERR_FILE_MAX + 32];
        cg_err_format(&err, line, sizeof(line));
        case_fail(tc, "%s", line);
        return;
    }
    static const char *const keys[] = {"description", "path",     "now",         "policies",
                                       "review",      "resource", "oldResource", "userInfo",
                                       "dryRun",      "expect",   NULL};
    const char *k;
    json_t *v;
    json_object_foreach(tc->spec, k, v)
    {
        const char *const *a = keys;
        while (*a && strcmp(*a, k) != 0)
            a++;
        if (*a == NULL)
            case_fail(tc, "case.yaml: unknown key \"%s\"", k);
    }
    const json_t *expect = json_object_get(tc->spec, "expect");
    if (!json_is_object(expect))
        case_fail(tc, "case.yaml: expect: missing (say what the review must decide)");
    const char *path_s = spec_str(tc->spec, "path", "/validate");
    enum cg_review_path rpath = CG_REVIEW_VALIDATE;
    if (strcmp(path_s, "/mutate") == 0)
        rpath = CG_REVIEW_MUTATE;
    else if (strcmp(path_s, "/validate") != 0)
        case_fail(tc, "case.yaml: path: \"%s\" is not /mutate or /validate", path_s);
    long long now = (long long)time(NULL);
    const char *now_s = spec_str(tc->spec, "now", NULL);
    if (now_s != NULL && !cg_cli_time_decode(now_s, &now))
        case_fail(tc, "case.yaml: now: \"%s\" is not an RFC 3339 time", now_s);
    if (tc->failed)
        return;

    struct cg_policy_set *set = NULL;
    struct cg_cli_pods *pods = NULL;
    json_t *review = NULL, *response = NULL;
    char *body = NULL;
    struct cg_buf out;
    cg_buf_init(&out, CG_CLI_RESPONSE_MAX);

    case_path(tc, spec_str(tc->spec, "policies", "policies"), path);
    if (cg__cli_load_policies(path, tc->report, &set) != CG_OK) {
        case_fail(tc, "policies in %s do not load (see above)", path);
        goto out;
    }
    review = case_review(tc);
    if (review == NULL)
        goto out;
    json_t *request = json_object_get(review, "request");
    if ((v = json_object_get(tc->spec, "userInfo")) != NULL && json_is_object(request))
        json_object_set(request, "userInfo", v);
    if ((v = json_object_get(tc->spec, "dryRun")) != NULL && json_is_object(request))
        json_object_set(request, "dryRun", v);
    /* The cluster's pods the Pod rules see, when the case brings them. */
    case_path(tc, "pods.json", path);
    if (cg__cli_is_file(path)) {
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
    check_response(tc, expect, review, response, &outcome);
out:
    cg_cli_pods_destroy(pods);
    cg__cli_jfree(body);
    json_decref(response);
    json_decref(review);
    cg_buf_dispose(&out);
    cg_policy_set_unref(set);
}

bool cg_cli_case_run(const char *case_dir, FILE *report)
{
    struct test_case tc;
    memset(&tc, 0, sizeof(tc));
    snprintf(tc.dir, sizeof(tc.dir), "%s", case_dir);
    size_t n = strlen(tc.dir);
    while (n > 1 && tc.dir[n - 1] == '/')
        tc.dir[--n] = '\0';
    const char *slash = strrchr(tc.dir, '/');
    tc.name = slash ? slash + 1 : tc.dir;
    /* Details (diffs, loader errors) go below the verdict line. */
    char *details = NULL;
    size_t details_len = 0;
    tc.report = open_memstream(&details, &details_len);
    if (tc.report == NULL)
        tc.report = report;
    run_case(&tc);
    if (tc.report != report)
        fclose(tc.report);
    if (tc.failed)
        fprintf(report, "FAIL %s: %s\n", tc.name, tc.first);
    else
        fprintf(report, "PASS %s\n", tc.name);
    if (details != NULL)
        fwrite(details, 1, details_len, report);
    free(details);
    json_decref(tc.spec);
    return !tc.failed;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cg__cli_policy_test(const char *dir, FILE *out, FILE *err)
{
    char path[CG_CLI_PATH_LEN];
    snprintf(path, sizeof(path), "%s/case.yaml", dir);
    if (cg__cli_is_file(path))
        return cg_cli_case_run(dir, out) ? 0 : 1;
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(err, "cellgate: %s: %s\n", dir, strerror(errno));
        return 1;
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
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        failed += !cg_cli_case_run(path, out);
        free(names[i]);
    }
    free(names);
    if (n == 0) {
        fprintf(err, "cellgate: %s: no test case (a directory with case.yaml)\n", dir);
        return 1;
    }
    fprintf(out, "%zu passed, %zu failed\n", n - failed, failed);
    return failed ? 1 : 0;
}
