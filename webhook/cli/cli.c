#include "review/cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <yaml.h>

#include "base/base64.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/mem.h"
#include "jsonpatch/jsonpatch.h"
#include "placement/plan.h"
#include "policy/policy.h"
#include "review/cli_pods.h"
#include "review/review.h"

#ifndef CG_VERSION
#define CG_VERSION "0.1.0"
#endif

#define INPUT_MAX (64u * 1024 * 1024)
#define RESPONSE_MAX (16u * 1024 * 1024)
#define PATH_LEN 4096

static const char usage_text[] =
    "usage: cellgate <command> [options]\n"
    "\n"
    "  policy lint DIR|FILE...     check policy files; prints file:line:col: message per error\n"
    "  policy test DIR             run the test cases under DIR (a directory per case)\n"
    "  review --policies DIR [--path /mutate|/validate] [--now RFC3339] [--apply]\n"
    "         [--pods FILE]          (--pods: existing pods, `kubectl get pods -o json`, that\n"
    "                              the Pod rules count per cell and look evictions up in)\n"
    "                              review the AdmissionReview on stdin as the server would and\n"
    "                              print its response (--apply: the patched object instead;\n"
    "                              the path defaults to /validate, or /mutate with --apply)\n"
    "  plan --replicas N --policy FILE [--name POLICY]\n"
    "                              print each policy's group plan per cell\n"
    "  response show               print the AdmissionReview response on stdin readably\n"
    "                              (decision, status, warnings, audit, decoded patch)\n"
    "  version                     print the version\n"
    "  --help                      print this help\n"
    "\n"
    "Exit status: 0 ok (a denial included), 1 failed, 2 usage error.\n";

/* Frees what jansson allocated (json_dumps), with whatever allocator jansson was given. */
static void jfree(void *p)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    f(p);
}

/* --- time --------------------------------------------------------------------------------- */

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool cg_cli_time_decode(const char *s, long long *out)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        p += 6;
    } else {
        return false;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out = (long long)t - sign * (oh * 3600LL + om * 60LL);
    return true;
}

/* --- small helpers ------------------------------------------------------------------------ */

static enum cg_status read_stream(FILE *in, struct cg_buf *out)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0) {
        enum cg_status st = cg_buf_append(out, chunk, n);
        if (st != CG_OK)
            return st;
    }
    return ferror(in) ? CG_EIO : CG_OK;
}

static void print_err(const struct cg_err *e, void *ud)
{
    char line[CG_ERR_MSG_MAX + CG_ERR_FILE_MAX + 32];
    cg_err_format(e, line, sizeof(line));
    fprintf((FILE *)ud, "%s\n", line);
}

static enum cg_status load_policies(const char *path, FILE *err, struct cg_policy_set **out)
{
    const char *paths[] = {path};
    return cg_policy_set_load_paths(paths, 1, print_err, err, out);
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Runs one review; fills *response with the parsed response document (NULL on a 400). */
static enum cg_status review_once(const struct cg_policy_set *set, enum cg_review_path path,
                                  int64_t now, const char *body, size_t len,
                                  struct cg_cli_pods *pods, struct cg_buf *out,
                                  struct cg_review_outcome *outcome)
{
    struct cg_review_scratch scratch;
    cg_review_scratch_init(&scratch);
    struct cg_cluster_source src = {0};
    if (pods != NULL)
        src = cg_cli_pods_source(pods);
    enum cg_status st = cg_review_run(set, path, now, body, len, &scratch,
                                      pods != NULL ? &src : NULL, out, outcome);
    /* outcome strings may point into scratch; keep only what outlives it */
    cg_review_scratch_dispose(&scratch);
    outcome->uid = outcome->kind = outcome->namespace_ = outcome->name = CG_STR_NULL;
    outcome->operation = outcome->user = CG_STR_NULL;
    return st;
}

/* The response's patch applied to a copy of request.object. *patched is NULL when the
 * review has no object; err says why on failure. */
static enum cg_status apply_response(const json_t *review, const json_t *response, json_t **patched,
                                     struct cg_err *err)
{
    *patched = NULL;
    const json_t *obj = json_object_get(json_object_get(review, "request"), "object");
    if (obj == NULL || json_is_null(obj))
        return cg_err_set(err, CG_EINVAL, "the review carries no request.object");
    json_t *copy = json_deep_copy(obj);
    const char *b64 =
        json_string_value(json_object_get(json_object_get(response, "response"), "patch"));
    enum cg_status st = CG_OK;
    json_t *patch = NULL;
    struct cg_buf raw;
    cg_buf_init(&raw, 0);
    if (b64 != NULL) {
        st = cg_base64_decode(b64, strlen(b64), &raw);
        if (st) {
            cg_err_set(err, st, "the response's patch is not base64");
            goto out;
        }
        json_error_t jerr;
        patch = json_loadb(raw.data ? raw.data : "", raw.len, 0, &jerr);
        if (patch == NULL) {
            st = cg_err_set(err, CG_EPARSE, "the response's patch is not JSON: %s", jerr.text);
            goto out;
        }
        st = cg_jsonpatch_apply(&copy, patch, err);
        if (st)
            goto out;
    }
    *patched = copy;
    copy = NULL;
out:
    json_decref(patch);
    json_decref(copy);
    cg_buf_dispose(&raw);
    return st;
}

/* --- YAML (case files) to jansson --------------------------------------------------------- */

static json_t *yaml_scalar(const yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (strcmp(s, "true") == 0)
            return json_true();
        if (strcmp(s, "false") == 0)
            return json_false();
        if (strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || len == 0)
            return json_null();
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (*end == '\0' && errno == 0 && end != s)
            return json_integer(v);
    }
    return json_stringn(s, len);
}

static json_t *yaml_to_json(yaml_document_t *doc, const yaml_node_t *n, int depth)
{
    if (n == NULL || depth > 64)
        return NULL;
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return yaml_scalar(n);
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
             i++) {
            json_t *v = yaml_to_json(doc, yaml_document_get_node(doc, *i), depth + 1);
            if (v == NULL) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, v);
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            const yaml_node_t *k = yaml_document_get_node(doc, p->key);
            json_t *v = yaml_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
            if (k == NULL || k->type != YAML_SCALAR_NODE || v == NULL) {
                json_decref(v);
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, (const char *)k->data.scalar.value, v);
        }
        return o;
    }
    default:
        return NULL;
    }
}

static json_t *yaml_load_json(const char *path, struct cg_err *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        cg_err_set(err, CG_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    json_t *result = NULL;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        cg_err_set_at(err, CG_EPARSE, path, (int)parser.problem_mark.line + 1,
                      (int)parser.problem_mark.column + 1, "%s",
                      parser.problem ? parser.problem : "malformed YAML");
        goto out_parser;
    }
    result = yaml_to_json(&doc, yaml_document_get_root_node(&doc), 0);
    if (result == NULL || !json_is_object(result)) {
        json_decref(result);
        result = NULL;
        cg_err_set(err, CG_EINVAL, "%s: expected a mapping of plain keys and values", path);
    }
    yaml_document_delete(&doc);
out_parser:
    yaml_parser_delete(&parser);
    fclose(f);
    return result;
}

/* --- JSON comparison with a readable diff ------------------------------------------------- */

static void diff_json(const char *path, const json_t *want, const json_t *got, FILE *report,
                      int *budget)
{
    if (*budget <= 0 || json_equal((json_t *)want, (json_t *)got))
        return;
    if (json_is_object(want) && json_is_object(got)) {
        const char *k;
        json_t *v;
        char sub[PATH_LEN];
        json_object_foreach((json_t *)want, k, v)
        {
            snprintf(sub, sizeof(sub), "%s/%s", path, k);
            json_t *g = json_object_get(got, k);
            if (g == NULL) {
                if ((*budget)-- > 0)
                    fprintf(report, "    %s: missing\n", sub);
            } else {
                diff_json(sub, v, g, report, budget);
            }
        }
        json_object_foreach((json_t *)got, k, v)
        {
            if (json_object_get(want, k) == NULL && (*budget)-- > 0)
                fprintf(report, "    %s/%s: unexpected\n", path, k);
        }
        return;
    }
    if (json_is_array(want) && json_is_array(got) &&
        json_array_size(want) == json_array_size(got)) {
        char sub[PATH_LEN];
        for (size_t i = 0; i < json_array_size(want); i++) {
            snprintf(sub, sizeof(sub), "%s/%zu", path, i);
            diff_json(sub, json_array_get(want, i), json_array_get(got, i), report, budget);
        }
        return;
    }
    char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
    char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(report, "    %s: expected %.300s, got %.300s\n", path[0] ? path : "/", w ? w : "?",
            g ? g : "?");
    jfree(w);
    jfree(g);
    (*budget)--;
}

/* --- test cases --------------------------------------------------------------------------- */

struct test_case {
    char dir[PATH_LEN / 2];
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
        snprintf(out, PATH_LEN, "%s", rel);
    else
        snprintf(out, PATH_LEN, "%s/%s", tc->dir, rel);
}

static json_t *case_json(struct test_case *tc, const char *rel)
{
    char path[PATH_LEN];
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
            diff_json("", want, got ? got : none, tc->report, &budget);
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
        if (apply_response(review, response, &got, &err) != CG_OK)
            case_fail(tc, "cannot apply the patch: %s", err.msg);
        else if (want != NULL && !json_equal(want, got)) {
            case_fail(tc, "the patched object differs from %s", json_string_value(v));
            int budget = 10;
            diff_json("", want, got, tc->report, &budget);
        }
        json_decref(want);
        json_decref(got);
    }
}

static void run_case(struct test_case *tc)
{
    char path[PATH_LEN];
    struct cg_err err;
    cg_err_clear(&err);
    snprintf(path, sizeof(path), "%s/case.yaml", tc->dir);
    tc->spec = yaml_load_json(path, &err);
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
    cg_buf_init(&out, RESPONSE_MAX);

    case_path(tc, spec_str(tc->spec, "policies", "policies"), path);
    if (load_policies(path, tc->report, &set) != CG_OK) {
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
    if (is_file(path)) {
        struct cg_err perr;
        cg_err_clear(&perr);
        if (cg_cli_pods_load(path, &pods, &perr) != CG_OK) {
            case_fail(tc, "%s", perr.msg);
            goto out;
        }
    }
    body = json_dumps(review, JSON_COMPACT);
    struct cg_review_outcome outcome;
    enum cg_status st = review_once(set, rpath, now, body, strlen(body), pods, &out, &outcome);
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
    jfree(body);
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

static int cmd_policy_test(const char *dir, FILE *out, FILE *err)
{
    char path[PATH_LEN];
    snprintf(path, sizeof(path), "%s/case.yaml", dir);
    if (is_file(path))
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
        if (!is_file(path))
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

/* --- commands ----------------------------------------------------------------------------- */

static int cmd_lint(int argc, char **argv, FILE *out, FILE *err)
{
    if (argc < 1) {
        fprintf(err, "usage: cellgate policy lint DIR|FILE...\n");
        return 2;
    }
    struct cg_policy_set *set = NULL;
    enum cg_status st =
        cg_policy_set_load_paths((const char *const *)argv, (size_t)argc, print_err, err, &set);
    if (st != CG_OK)
        return 1;
    fprintf(out, "%zu %s OK\n", set->n, set->n == 1 ? "policy" : "policies");
    cg_policy_set_unref(set);
    return 0;
}

static int cmd_review(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    const char *policies = NULL, *path_s = NULL, *now_s = NULL, *pods_file = NULL;
    bool apply = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--apply") == 0) {
            apply = true;
        } else if (i + 1 < argc && strcmp(argv[i], "--pods") == 0) {
            pods_file = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--policies") == 0) {
            policies = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--path") == 0) {
            path_s = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--now") == 0) {
            now_s = argv[++i];
        } else {
            fprintf(err, "cellgate review: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (policies == NULL) {
        fprintf(err, "cellgate review: --policies DIR is required\n");
        return 2;
    }
    enum cg_review_path path = apply ? CG_REVIEW_MUTATE : CG_REVIEW_VALIDATE;
    if (path_s != NULL) {
        if (strcmp(path_s, "/mutate") == 0) {
            path = CG_REVIEW_MUTATE;
        } else if (strcmp(path_s, "/validate") == 0) {
            path = CG_REVIEW_VALIDATE;
        } else {
            fprintf(err, "cellgate review: --path must be /mutate or /validate\n");
            return 2;
        }
    }
    long long now = (long long)time(NULL);
    if (now_s != NULL && !cg_cli_time_decode(now_s, &now)) {
        fprintf(err, "cellgate review: --now \"%s\" is not an RFC 3339 time\n", now_s);
        return 2;
    }

    int rc = 1;
    struct cg_policy_set *set = NULL;
    struct cg_cli_pods *pods = NULL;
    json_t *review = NULL, *response = NULL, *patched = NULL;
    struct cg_buf body, resp;
    cg_buf_init(&body, INPUT_MAX);
    cg_buf_init(&resp, RESPONSE_MAX);
    if (load_policies(policies, err, &set) != CG_OK)
        goto out;
    struct cg_err perr;
    cg_err_clear(&perr);
    if (pods_file != NULL && cg_cli_pods_load(pods_file, &pods, &perr) != CG_OK) {
        fprintf(err, "cellgate review: --pods %s\n", perr.msg);
        goto out;
    }
    if (read_stream(in, &body) != CG_OK) {
        fprintf(err, "cellgate review: cannot read the review from stdin\n");
        goto out;
    }
    struct cg_review_outcome outcome;
    enum cg_status st =
        review_once(set, path, now, body.data ? body.data : "", body.len, pods, &resp, &outcome);
    if (st != CG_OK || outcome.http_status != 200) {
        fprintf(err, "cellgate review: %s\n", resp.data ? resp.data : cg_status_str(st));
        goto out;
    }
    if (!apply) {
        fprintf(out, "%s\n", resp.data);
        rc = 0;
        goto out;
    }
    review = json_loadb(body.data, body.len, 0, NULL);
    response = json_loadb(resp.data, resp.len, 0, NULL);
    struct cg_err e;
    cg_err_clear(&e);
    if (review == NULL || response == NULL ||
        apply_response(review, response, &patched, &e) != CG_OK) {
        fprintf(err, "cellgate review: %s\n", e.msg[0] ? e.msg : "cannot apply the response");
        goto out;
    }
    if (strcmp(outcome.decision, "denied") == 0)
        fprintf(err, "cellgate review: denied: %s\n",
                json_string_value(json_object_get(
                    json_object_get(json_object_get(response, "response"), "status"), "message")));
    char *text = json_dumps(patched, JSON_INDENT(2));
    fprintf(out, "%s\n", text);
    jfree(text);
    rc = 0;
out:
    json_decref(patched);
    json_decref(response);
    json_decref(review);
    cg_buf_dispose(&body);
    cg_buf_dispose(&resp);
    cg_cli_pods_destroy(pods);
    cg_policy_set_unref(set);
    return rc;
}

static void print_plan(const struct cg_policy *p, const struct cg_plan *plan, FILE *out)
{
    char pause[64] = "manual approval after each group";
    if (p->gray.pause == CG_PAUSE_AFTER) {
        long long d = (long long)p->gray.pause_after_seconds;
        if (d % 3600 == 0)
            snprintf(pause, sizeof(pause), "%lldh after each group", d / 3600);
        else if (d % 60 == 0)
            snprintf(pause, sizeof(pause), "%lldm after each group", d / 60);
        else
            snprintf(pause, sizeof(pause), "%llds after each group", d);
    }
    fprintf(out, "policy %s: %lld replicas over %zu cells (%s), pause: %s\n", p->name,
            (long long)plan->replicas, plan->n_cells,
            p->cells.topology_key ? p->cells.topology_key : "topology.kubernetes.io/zone", pause);
    int w = 5;
    for (size_t c = 0; c < plan->n_cells; c++) {
        int len = (int)strlen(p->cells.items[c].name);
        if (len > w)
            w = len;
    }
    fprintf(out, "%-6s", "group");
    for (size_t c = 0; c < plan->n_cells; c++)
        fprintf(out, "  %*s", w, p->cells.items[c].name);
    fprintf(out, "  %*s  %*s\n", 5, "total", 10, "cumulative");
    uint64_t cum = 0;
    for (size_t g = 0; g < plan->n_groups; g++) {
        cum += plan->group_total[g];
        fprintf(out, "%-6zu", g);
        for (size_t c = 0; c < plan->n_cells; c++)
            fprintf(out, "  %*u", w, plan->pods[g][c]);
        fprintf(out, "  %*u  %*llu\n", 5, plan->group_total[g], 10, (unsigned long long)cum);
    }
    fprintf(out, "%-6s", "all");
    for (size_t c = 0; c < plan->n_cells; c++)
        fprintf(out, "  %*u", w, plan->cell_target[c]);
    fprintf(out, "  %*lld\n", 5, (long long)plan->replicas);
}

static int cmd_plan(int argc, char **argv, FILE *out, FILE *err)
{
    const char *replicas_s = NULL, *file = NULL, *name = NULL;
    for (int i = 0; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--replicas") == 0) {
            replicas_s = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--policy") == 0) {
            file = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--name") == 0) {
            name = argv[++i];
        } else {
            fprintf(err, "cellgate plan: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (replicas_s == NULL || file == NULL) {
        fprintf(err, "usage: cellgate plan --replicas N --policy FILE [--name POLICY]\n");
        return 2;
    }
    char *end;
    errno = 0;
    long long replicas = strtoll(replicas_s, &end, 10);
    if (*end != '\0' || end == replicas_s || errno != 0) {
        fprintf(err, "cellgate plan: --replicas \"%s\" is not a number\n", replicas_s);
        return 2;
    }
    struct cg_policy_set *set = NULL;
    if (load_policies(file, err, &set) != CG_OK)
        return 1;
    int rc = 0;
    size_t shown = 0, printed = 0;
    for (size_t i = 0; i < set->n; i++) {
        const struct cg_policy *p = &set->items[i];
        if (name != NULL && strcmp(name, p->name) != 0)
            continue;
        struct cg_plan plan;
        struct cg_err e;
        cg_err_clear(&e);
        shown++;
        if (cg_plan_compute(&p->cells, &p->gray, replicas, &plan, &e) != CG_OK) {
            fprintf(err, "cellgate plan: policy %s: %s\n", p->name, e.msg);
            rc = 1;
            continue;
        }
        if (printed++ > 0)
            fprintf(out, "\n");
        print_plan(p, &plan, out);
    }
    if (shown == 0) {
        fprintf(err, "cellgate plan: no policy named %s in %s\n", name ? name : "(any)", file);
        rc = 1;
    }
    cg_policy_set_unref(set);
    return rc;
}

int cg_cli_run(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    if (argc < 2) {
        fputs(usage_text, err);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, out);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        fprintf(out, "cellgate %s\n", CG_VERSION);
        return 0;
    }
    if (strcmp(cmd, "review") == 0)
        return cmd_review(argc - 2, argv + 2, in, out, err);
    if (strcmp(cmd, "plan") == 0)
        return cmd_plan(argc - 2, argv + 2, out, err);
    if (strcmp(cmd, "response") == 0 && argc == 3 && strcmp(argv[2], "show") == 0)
        return cg__cli_response_show(in, out, err);
    if (strcmp(cmd, "policy") == 0 && argc >= 3) {
        if (strcmp(argv[2], "lint") == 0)
            return cmd_lint(argc - 3, argv + 3, out, err);
        if (strcmp(argv[2], "test") == 0 && argc == 4)
            return cmd_policy_test(argv[3], out, err);
    }
    fprintf(err, "cellgate: unknown command; see cellgate --help\n");
    return 2;
}
