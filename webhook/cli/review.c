/* `cellgate review`: manifests (YAML or JSON, several documents, kind: List) or
 * AdmissionReviews through the pipeline the server runs, printed as a table, as the
 * responses, or as the objects admitted. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/mem.h"
#include "cli/cli_internal.h"
#include "cli/pods.h"
#include "jsonpatch/jsonpatch.h"

enum cg_status cg__cli_review_once(const struct cg_policy_set *set, enum cg_review_path path,
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
enum cg_status cg__cli_apply_response(const json_t *review, const json_t *response,
                                      json_t **patched, struct cg_err *err)
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

/* --- the command -------------------------------------------------------------------------- */

struct review_opts {
    struct cg__cli_list files, groups;
    const char *policies, *path, *now, *pods, *old, *as, *namespace_, *output;
    bool dry_run, apply;
};

#define OPT(f) offsetof(struct review_opts, f)
static const struct cg__cli_flag review_flags[] = {
    {"filename", 'f', CG_CLI_LIST, OPT(files), "FILE",
     "objects or AdmissionReviews, YAML or JSON, several documents\n(---) and kind: List too; - "
     "is stdin (the default); repeatable",
     false, "file"},
    {"policies", 0, CG_CLI_VALUE, OPT(policies), "DIR", "the policies: a directory or a file", true,
     "dir"},
    {"old", 0, CG_CLI_VALUE, OPT(old), "FILE",
     "the objects as they are in the cluster: an object of the\nsame kind, namespace and name is "
     "reviewed as an UPDATE",
     false, "file"},
    {"as", 0, CG_CLI_VALUE, OPT(as), "USER", "the requesting user (default cellgate-review)", false,
     NULL},
    {"as-group", 0, CG_CLI_LIST, OPT(groups), "GROUP", "a group of that user; repeatable", false,
     NULL},
    {"namespace", 'n', CG_CLI_VALUE, OPT(namespace_), "NS",
     "the namespace of objects that name none (default: default)", false, NULL},
    {"dry-run", 0, CG_CLI_SWITCH, OPT(dry_run), NULL, "review as a dry run (request.dryRun)", false,
     NULL},
    {"path", 0, CG_CLI_VALUE, OPT(path), "PATH",
     "/mutate or /validate only; default for objects: both, as the\nAPI server calls them "
     "(/validate sees the mutated object); for\nAdmissionReviews /validate (/mutate with --apply "
     "or -o yaml)",
     false, "/mutate /validate"},
    {"now", 0, CG_CLI_VALUE, OPT(now), "TIME",
     "the time freezes are judged at, RFC 3339 (default: now)", false, NULL},
    {"pods", 0, CG_CLI_VALUE, OPT(pods), "FILE",
     "the cluster's pods (kubectl get pods -o json) that the Pod\nrules count per cell and look "
     "evictions up in",
     false, "file"},
    {"output", 'o', CG_CLI_VALUE, OPT(output), "FORMAT",
     "table: per object what was decided (default for objects);\njson: the AdmissionReview "
     "responses, one a line (default for\nAdmissionReviews); yaml: the objects as admitted",
     false, "table json yaml"},
    {"apply", 0, CG_CLI_SWITCH, OPT(apply), NULL,
     "print the objects as admitted (the patch applied), in the\ninput's format", false, NULL},
};
#undef OPT

const struct cg__cli_command cg__cli_review_command = {
    "review",
    "-f FILE|- --policies DIR [options]",
    "Reviews objects (manifests, as kubectl apply takes them) or AdmissionReviews with the\n"
    "policies, exactly as cellgate-webhook would, and prints what it decided. Without -f the\n"
    "input is stdin. An object is a CREATE, or an UPDATE of its --old version.\n"
    "Exit status: 0 every input got an answer (a denial included), 1 an input could not be\n"
    "reviewed, 2 a usage error.",
    review_flags,
    sizeof(review_flags) / sizeof(review_flags[0]),
    NULL,
    0,
    0,
    NULL,
};

enum output { OUT_AUTO, OUT_TABLE, OUT_JSON, OUT_YAML };

struct stage {
    const char *path; /* "/mutate", "/validate" */
    char *text;       /* the response as the pipeline wrote it */
    json_t *response;
    char decision[16];
    char policy[160];
};

struct result {
    char label[300]; /* Deployment payments/checkout */
    char where[300]; /* deploy.yaml: document 2 */
    bool object;     /* a plain object (else an AdmissionReview) */
    bool yaml;       /* it came from YAML */
    struct stage stages[2];
    size_t n_stages;
    json_t *patched; /* the object as admitted (--apply, -o yaml), or NULL */
    char patched_err[256];
};

struct run {
    struct review_opts o;
    enum output output;
    struct cg_policy_set *set;
    struct cg_cli_pods *pods;
    long long now;
    struct cg__cli_docs old;
    bool *old_used;
    struct result *results;
    size_t n, cap;
    FILE *out, *err;
    int failures;
};

static void result_dispose(struct result *r)
{
    for (size_t i = 0; i < r->n_stages; i++) {
        free(r->stages[i].text);
        json_decref(r->stages[i].response);
    }
    json_decref(r->patched);
}

static void fail(struct run *run, const char *where, const char *msg)
{
    fprintf(run->err, "cellgate review: %s%s%s\n", where ? where : "", where ? ": " : "", msg);
    run->failures++;
}

/* One pass through the pipeline; body is the review's text. */
static bool stage_run(struct run *run, const struct result *r, struct stage *s,
                      enum cg_review_path path, const char *body, size_t len)
{
    struct cg_buf resp;
    cg_buf_init(&resp, CG_CLI_RESPONSE_MAX);
    struct cg_review_outcome outcome;
    memset(&outcome, 0, sizeof(outcome));
    enum cg_status st =
        cg__cli_review_once(run->set, path, run->now, body, len, run->pods, &resp, &outcome);
    bool ok = st == CG_OK && outcome.http_status == 200;
    if (!ok) {
        fail(run, r->object ? r->where : NULL, resp.data ? resp.data : cg_status_str(st));
    } else {
        s->path = path == CG_REVIEW_MUTATE ? "/mutate" : "/validate";
        s->text = cg_xstrdup(resp.data);
        s->response = json_loadb(resp.data, resp.len, 0, NULL);
        snprintf(s->decision, sizeof(s->decision), "%s", outcome.decision);
        snprintf(s->policy, sizeof(s->policy), "%s", outcome.policy ? outcome.policy : "");
    }
    cg_buf_dispose(&resp);
    return ok;
}

static bool stage_json(struct run *run, struct result *r, enum cg_review_path path,
                       const json_t *review)
{
    char *body = json_dumps(review, JSON_COMPACT);
    bool ok = stage_run(run, r, &r->stages[r->n_stages], path, body, strlen(body));
    cg__cli_jfree(body);
    r->n_stages += ok;
    return ok;
}

static struct result *result_add(struct run *run, const char *where, bool yaml)
{
    if (run->n == run->cap) {
        run->cap = run->cap ? run->cap * 2 : 16;
        run->results = cg_xrealloc(run->results, run->cap * sizeof(*run->results));
    }
    struct result *r = &run->results[run->n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->where, sizeof(r->where), "%s", where);
    r->yaml = yaml;
    return r;
}

static void set_patched(struct result *r, const json_t *review, const struct stage *s)
{
    struct cg_err e;
    cg_err_clear(&e);
    if (s->response == NULL ||
        cg__cli_apply_response(review, s->response, &r->patched, &e) != CG_OK)
        snprintf(r->patched_err, sizeof(r->patched_err), "%s",
                 e.msg[0] ? e.msg : "cannot apply the response");
}

static bool want_patched(const struct run *run)
{
    return run->o.apply || run->output == OUT_YAML;
}

/* An AdmissionReview: one path, as today. raw (may be NULL) is its text as given. */
static void review_review(struct run *run, const json_t *doc, const char *raw, size_t raw_len,
                          const char *where, bool yaml)
{
    struct result *r = result_add(run, where, yaml);
    const json_t *req = json_object_get(doc, "request");
    cg__cli_object_label(json_object_get(req, "object"), r->label, sizeof(r->label));
    if (json_object_get(req, "object") == NULL || json_is_null(json_object_get(req, "object"))) {
        const char *op = json_string_value(json_object_get(req, "operation"));
        const char *name = json_string_value(json_object_get(req, "name"));
        snprintf(r->label, sizeof(r->label), "%s %s", op ? op : "review", name ? name : "");
    }
    enum cg_review_path path =
        run->o.path ? (strcmp(run->o.path, "/mutate") == 0 ? CG_REVIEW_MUTATE : CG_REVIEW_VALIDATE)
                    : (want_patched(run) ? CG_REVIEW_MUTATE : CG_REVIEW_VALIDATE);
    json_t *copy = NULL;
    if (run->o.as || run->o.groups.n || run->o.dry_run) {
        copy = json_deep_copy(doc);
        json_t *creq = json_object_get(copy, "request");
        if (json_is_object(creq)) {
            json_t *ui = json_object_get(creq, "userInfo");
            if (!json_is_object(ui)) {
                ui = json_object();
                json_object_set_new(creq, "userInfo", ui);
            }
            if (run->o.as)
                json_object_set_new(ui, "username", json_string(run->o.as));
            if (run->o.groups.n) {
                json_t *g = json_array();
                for (size_t i = 0; i < run->o.groups.n; i++)
                    json_array_append_new(g, json_string(run->o.groups.items[i]));
                json_array_append_new(g, json_string("system:authenticated"));
                json_object_set_new(ui, "groups", g);
            }
            if (run->o.dry_run)
                json_object_set_new(creq, "dryRun", json_true());
        }
    }
    bool ok;
    if (raw != NULL && copy == NULL) {
        ok = stage_run(run, r, &r->stages[0], path, raw, raw_len);
        r->n_stages += ok;
    } else {
        ok = stage_json(run, r, path, copy ? copy : doc);
    }
    if (ok && want_patched(run))
        set_patched(r, copy ? copy : doc, &r->stages[0]);
    json_decref(copy);
}

/* A plain object: /mutate, then /validate on the mutated object, as the API server does. */
static void review_object(struct run *run, const json_t *obj, const char *where, bool yaml)
{
    struct result *r = result_add(run, where, yaml);
    r->object = true;
    cg__cli_object_label(obj, r->label, sizeof(r->label));
    const json_t *old = NULL;
    for (size_t i = 0; i < run->old.n && old == NULL; i++) {
        if (cg__cli_same_object(obj, run->old.items[i].value)) {
            old = run->old.items[i].value;
            run->old_used[i] = true;
        }
    }
    char uid[64];
    snprintf(uid, sizeof(uid), "cellgate-review-%zu", run->n);
    struct cg__cli_requester who = {run->o.as,      run->o.groups.items, run->o.groups.n,
                                    run->o.dry_run, run->o.namespace_,   uid};
    struct cg_err e;
    cg_err_clear(&e);
    json_t *review = cg__cli_review_build(obj, old, &who, &e);
    if (review == NULL) {
        fail(run, where, e.msg);
        return;
    }
    /* the label as the API server sees the object (its namespace filled in) */
    cg__cli_object_label(json_object_get(json_object_get(review, "request"), "object"), r->label,
                         sizeof(r->label));
    bool mutate = run->o.path == NULL || strcmp(run->o.path, "/mutate") == 0;
    bool validate = run->o.path == NULL || strcmp(run->o.path, "/validate") == 0;
    if (mutate) {
        if (!stage_json(run, r, CG_REVIEW_MUTATE, review))
            goto out;
        set_patched(r, review, &r->stages[0]);
        if (strcmp(r->stages[0].decision, "denied") == 0)
            validate = false;
    }
    if (validate) {
        /* /validate sees the object as mutated */
        if (r->patched != NULL)
            json_object_set(json_object_get(review, "request"), "object", r->patched);
        stage_json(run, r, CG_REVIEW_VALIDATE, review);
        if (!mutate && want_patched(run)) {
            json_decref(r->patched);
            r->patched =
                json_deep_copy(json_object_get(json_object_get(review, "request"), "object"));
        }
    }
out:
    json_decref(review);
}

static void review_doc(struct run *run, const json_t *doc, const char *raw, size_t raw_len,
                       const char *where, bool yaml)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const json_t *items = json_object_get(doc, "items");
    size_t kl = kind ? strlen(kind) : 0;
    if (kl >= 4 && strcmp(kind + kl - 4, "List") == 0 && json_is_array(items)) {
        size_t i;
        const json_t *item;
        json_array_foreach(items, i, item)
        {
            char w[300];
            snprintf(w, sizeof(w), "%s: item %zu", where, i + 1);
            review_doc(run, item, NULL, 0, w, yaml);
        }
        return;
    }
    if (cg__cli_is_review(doc))
        review_review(run, doc, raw, raw_len, where, yaml);
    else
        review_object(run, doc, where, yaml);
}

static void review_file(struct run *run, const char *file, FILE *in)
{
    const char *name = strcmp(file, "-") == 0 ? "(stdin)" : file;
    struct cg_buf data;
    cg_buf_init(&data, CG_CLI_INPUT_MAX);
    struct cg__cli_docs docs = {0};
    struct cg_err e;
    cg_err_clear(&e);
    FILE *f = strcmp(file, "-") == 0 ? in : fopen(file, "rb");
    if (f == NULL) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s: %s", file, strerror(errno));
        fail(run, NULL, msg);
        goto out;
    }
    enum cg_status st = cg__cli_read_stream(f, &data);
    if (f != in)
        fclose(f);
    if (st != CG_OK) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s: cannot read it (%s)", name, cg_status_str(st));
        fail(run, NULL, msg);
        goto out;
    }
    const char *text = data.data ? data.data : "";
    if (cg__cli_docs_decode(name, text, data.len, &docs, NULL, &e) != CG_OK) {
        fail(run, NULL, e.msg);
        goto out;
    }
    if (docs.n == 0) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s: no object in it", name);
        fail(run, NULL, msg);
        goto out;
    }
    for (size_t i = 0; i < docs.n; i++) {
        char where[300];
        if (docs.n == 1)
            snprintf(where, sizeof(where), "%s", name);
        else
            snprintf(where, sizeof(where), "%s: document %zu", name, docs.items[i].index);
        /* One JSON AdmissionReview goes to the pipeline byte for byte, as the server gets it. */
        bool raw = !docs.yaml && docs.n == 1;
        review_doc(run, docs.items[i].value, raw ? text : NULL, raw ? data.len : 0, where,
                   docs.yaml);
    }
out:
    cg__cli_docs_dispose(&docs);
    cg_buf_dispose(&data);
}

static enum output output_of(const struct run *run, const struct result *r)
{
    if (run->output != OUT_AUTO)
        return run->output;
    return r->object ? OUT_TABLE : OUT_JSON;
}

static void print_results(struct run *run)
{
    bool first_table = true;
    size_t yaml_docs = 0;
    for (size_t i = 0; i < run->n; i++)
        yaml_docs += run->results[i].patched != NULL;
    for (size_t i = 0; i < run->n; i++) {
        struct result *r = &run->results[i];
        if (r->n_stages == 0)
            continue;
        if (want_patched(run)) {
            for (size_t s = 0; s < r->n_stages; s++) {
                if (strcmp(r->stages[s].decision, "denied") != 0)
                    continue;
                const char *msg = json_string_value(json_object_get(
                    json_object_get(json_object_get(r->stages[s].response, "response"), "status"),
                    "message"));
                fprintf(run->err, "cellgate review: %s%sdenied: %s\n", r->object ? r->where : "",
                        r->object ? ": " : "", msg ? msg : "");
            }
            if (r->patched == NULL) {
                fail(run, r->where, r->patched_err[0] ? r->patched_err : "no object to print");
                continue;
            }
            if (run->output == OUT_YAML || (run->output == OUT_AUTO && r->yaml)) {
                if (yaml_docs > 1)
                    fputs("---\n", run->out);
                cg__cli_yaml_emit(r->patched, run->out);
            } else {
                char *text = json_dumps(r->patched, JSON_INDENT(2));
                fprintf(run->out, "%s\n", text ? text : "null");
                cg__cli_jfree(text);
            }
            continue;
        }
        if (output_of(run, r) == OUT_JSON) {
            for (size_t s = 0; s < r->n_stages; s++)
                fprintf(run->out, "%s\n", r->stages[s].text);
            continue;
        }
        if (!first_table)
            fputc('\n', run->out);
        first_table = false;
        struct cg__cli_stage_view views[2];
        for (size_t s = 0; s < r->n_stages; s++)
            views[s] = (struct cg__cli_stage_view){r->stages[s].path, r->stages[s].decision,
                                                   r->stages[s].policy, r->stages[s].response};
        cg__cli_print_decision(r->label, r->where, views, r->n_stages, run->out);
    }
}

int cg__cli_review(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    struct run run;
    memset(&run, 0, sizeof(run));
    run.out = out;
    run.err = err;
    struct cg__cli_list pos;
    int rc = cg__cli_args_parse(&cg__cli_review_command, argc, argv, &run.o, &pos, out, err);
    if (rc >= 0)
        return rc;
    if (run.o.path != NULL && strcmp(run.o.path, "/mutate") != 0 &&
        strcmp(run.o.path, "/validate") != 0) {
        fprintf(err, "cellgate review: --path must be /mutate or /validate\n");
        return 2;
    }
    run.now = (long long)time(NULL);
    if (run.o.now != NULL && !cg_cli_time_decode(run.o.now, &run.now)) {
        fprintf(err, "cellgate review: --now \"%s\" is not an RFC 3339 time\n", run.o.now);
        return 2;
    }
    if (run.o.output == NULL)
        run.output = OUT_AUTO;
    else if (strcmp(run.o.output, "table") == 0)
        run.output = OUT_TABLE;
    else if (strcmp(run.o.output, "json") == 0)
        run.output = OUT_JSON;
    else if (strcmp(run.o.output, "yaml") == 0)
        run.output = OUT_YAML;
    else {
        fprintf(err, "cellgate review: -o \"%s\": want table, json or yaml\n", run.o.output);
        return 2;
    }
    if (run.o.apply && (run.output == OUT_TABLE || run.output == OUT_JSON)) {
        fprintf(err, "cellgate review: --apply prints objects: leave out -o %s\n", run.o.output);
        return 2;
    }
    size_t stdin_uses = 0;
    for (size_t i = 0; i < run.o.files.n; i++)
        stdin_uses += strcmp(run.o.files.items[i], "-") == 0;
    if (stdin_uses > 1 ||
        (run.o.old && strcmp(run.o.old, "-") == 0 && (stdin_uses || run.o.files.n == 0))) {
        fprintf(err, "cellgate review: stdin (-) can be read only once\n");
        return 2;
    }

    rc = 1;
    struct cg_err e;
    cg_err_clear(&e);
    if (cg__cli_load_policies(run.o.policies, err, &run.set) != CG_OK)
        goto out;
    if (run.o.pods != NULL && cg_cli_pods_load(run.o.pods, &run.pods, &e) != CG_OK) {
        fprintf(err, "cellgate review: --pods %s\n", e.msg);
        goto out;
    }
    if (run.o.old != NULL) {
        if (cg__cli_docs_load(run.o.old, in, &run.old, NULL, &e) != CG_OK) {
            fprintf(err, "cellgate review: --old %s\n", e.msg);
            goto out;
        }
        /* a List of old objects counts as its items */
        struct cg__cli_docs flat = {0};
        for (size_t i = 0; i < run.old.n; i++) {
            const json_t *items = json_object_get(run.old.items[i].value, "items");
            if (json_is_array(items)) {
                size_t k;
                json_t *item;
                json_array_foreach(items, k, item)
                {
                    cg__cli_docs_add(&flat, json_incref(item), run.old.items[i].index,
                                     run.old.items[i].line);
                }
            } else {
                cg__cli_docs_add(&flat, json_incref(run.old.items[i].value), run.old.items[i].index,
                                 run.old.items[i].line);
            }
        }
        cg__cli_docs_dispose(&run.old);
        run.old = flat;
        run.old_used = cg_xcalloc(run.old.n ? run.old.n : 1, sizeof(bool));
    }
    if (run.o.files.n == 0)
        review_file(&run, "-", in);
    for (size_t i = 0; i < run.o.files.n; i++)
        review_file(&run, run.o.files.items[i], in);
    for (size_t i = 0; i < run.old.n; i++) {
        if (run.old_used[i])
            continue;
        char label[300], msg[400];
        cg__cli_object_label(run.old.items[i].value, label, sizeof(label));
        snprintf(msg, sizeof(msg), "--old %s: document %zu: %s matches no object reviewed",
                 run.o.old, run.old.items[i].index, label);
        fail(&run, NULL, msg);
    }
    print_results(&run);
    rc = run.failures ? 1 : 0;
out:
    for (size_t i = 0; i < run.n; i++)
        result_dispose(&run.results[i]);
    free(run.results);
    free(run.old_used);
    cg__cli_docs_dispose(&run.old);
    cg_cli_pods_destroy(run.pods);
    cg_policy_set_unref(run.set);
    return rc;
}
