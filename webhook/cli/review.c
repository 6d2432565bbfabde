/* `cellgate review`: AdmissionReviews through the pipeline the server runs. */
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/base64.h"
#include "cli/cli_internal.h"
#include "cli/pods.h"
#include "jsonpatch/jsonpatch.h"

/* Runs one review; fills *response with the parsed response document (NULL on a 400). */
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

int cg__cli_review(int argc, char **argv, FILE *in, FILE *out, FILE *err)
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
    cg_buf_init(&body, CG_CLI_INPUT_MAX);
    cg_buf_init(&resp, CG_CLI_RESPONSE_MAX);
    if (cg__cli_load_policies(policies, err, &set) != CG_OK)
        goto out;
    struct cg_err perr;
    cg_err_clear(&perr);
    if (pods_file != NULL && cg_cli_pods_load(pods_file, &pods, &perr) != CG_OK) {
        fprintf(err, "cellgate review: --pods %s\n", perr.msg);
        goto out;
    }
    if (cg__cli_read_stream(in, &body) != CG_OK) {
        fprintf(err, "cellgate review: cannot read the review from stdin\n");
        goto out;
    }
    struct cg_review_outcome outcome;
    enum cg_status st = cg__cli_review_once(set, path, now, body.data ? body.data : "", body.len,
                                            pods, &resp, &outcome);
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
        cg__cli_apply_response(review, response, &patched, &e) != CG_OK) {
        fprintf(err, "cellgate review: %s\n", e.msg[0] ? e.msg : "cannot apply the response");
        goto out;
    }
    if (strcmp(outcome.decision, "denied") == 0)
        fprintf(err, "cellgate review: denied: %s\n",
                json_string_value(json_object_get(
                    json_object_get(json_object_get(response, "response"), "status"), "message")));
    char *text = json_dumps(patched, JSON_INDENT(2));
    fprintf(out, "%s\n", text);
    cg__cli_jfree(text);
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
