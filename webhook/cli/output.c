/* `cellgate response show`: prints an AdmissionReview response (or the plain-text error the
 * server answers bad requests with) as a person reads it: decision, status, warnings,
 * audit annotations and the JSONPatch decoded from base64. */
#include <string.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/buf.h"
#include "cli/cli_internal.h"

#define SHOW_INPUT_MAX (16u * 1024 * 1024)

static void print_patch(const char *b64, FILE *out)
{
    struct cg_buf raw;
    cg_buf_init(&raw, SHOW_INPUT_MAX);
    if (cg_base64_decode(b64, strlen(b64), &raw) != CG_OK) {
        fprintf(out, "  patch: (not valid base64)\n");
        goto out;
    }
    json_error_t jerr;
    json_t *ops = json_loadb(raw.data ? raw.data : "", raw.len, 0, &jerr);
    if (!json_is_array(ops)) {
        fprintf(out, "  patch: (not a JSON array) %s\n", raw.data ? raw.data : "");
        json_decref(ops);
        goto out;
    }
    fprintf(out, "  patch (%zu ops):\n", json_array_size(ops));
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *name = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        char *value = NULL;
        json_t *v = json_object_get(op, "value");
        if (v != NULL)
            value = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        fprintf(out, "    %-7s %s%s%s\n", name ? name : "?", path ? path : "?", value ? " " : "",
                value ? value : "");
        free(value);
    }
    json_decref(ops);
out:
    cg_buf_dispose(&raw);
}

int cg__cli_response_show(FILE *in, FILE *out, FILE *err)
{
    int rc = 1;
    struct cg_buf body;
    cg_buf_init(&body, SHOW_INPUT_MAX);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0) {
        if (cg_buf_append(&body, chunk, n) != CG_OK) {
            fprintf(err, "cellgate response show: input larger than %u bytes\n", SHOW_INPUT_MAX);
            goto out;
        }
    }
    json_error_t jerr;
    json_t *review = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
    json_t *resp = json_object_get(review, "response");
    if (!json_is_object(resp)) {
        /* The server answers a request it cannot review with a one-line reason. */
        fprintf(out, "  not reviewed: %.*s\n", (int)strcspn(body.data ? body.data : "", "\n"),
                body.data ? body.data : "");
        json_decref(review);
        rc = 0;
        goto out;
    }
    const char *uid = json_string_value(json_object_get(resp, "uid"));
    int allowed = json_is_true(json_object_get(resp, "allowed"));
    fprintf(out, "  uid %s: %s\n", uid ? uid : "?", allowed ? "allowed" : "DENIED");
    json_t *status = json_object_get(resp, "status");
    if (json_is_object(status))
        fprintf(out, "  status %lld: %s\n",
                (long long)json_integer_value(json_object_get(status, "code")),
                json_string_value(json_object_get(status, "message"))
                    ? json_string_value(json_object_get(status, "message"))
                    : "");
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(resp, "warnings"), i, w)
    {
        fprintf(out, "  warning: %s\n", json_string_value(w) ? json_string_value(w) : "");
    }
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(resp, "auditAnnotations"), key, v)
    {
        fprintf(out, "  audit %s: %s\n", key, json_string_value(v) ? json_string_value(v) : "");
    }
    const char *patch = json_string_value(json_object_get(resp, "patch"));
    if (patch != NULL)
        print_patch(patch, out);
    json_decref(review);
    rc = 0;
out:
    cg_buf_dispose(&body);
    return rc;
}

/* --- JSON comparison with a readable diff ------------------------------------------------- */

void cg__cli_diff_json(const char *path, const json_t *want, const json_t *got, FILE *report,
                       int *budget)
{
    if (*budget <= 0 || json_equal((json_t *)want, (json_t *)got))
        return;
    if (json_is_object(want) && json_is_object(got)) {
        const char *k;
        json_t *v;
        char sub[CG_CLI_PATH_LEN];
        json_object_foreach((json_t *)want, k, v)
        {
            snprintf(sub, sizeof(sub), "%s/%s", path, k);
            json_t *g = json_object_get(got, k);
            if (g == NULL) {
                if ((*budget)-- > 0)
                    fprintf(report, "    %s: missing\n", sub);
            } else {
                cg__cli_diff_json(sub, v, g, report, budget);
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
        char sub[CG_CLI_PATH_LEN];
        for (size_t i = 0; i < json_array_size(want); i++) {
            snprintf(sub, sizeof(sub), "%s/%zu", path, i);
            cg__cli_diff_json(sub, json_array_get(want, i), json_array_get(got, i), report, budget);
        }
        return;
    }
    char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
    char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(report, "    %s: expected %.300s, got %.300s\n", path[0] ? path : "/", w ? w : "?",
            g ? g : "?");
    cg__cli_jfree(w);
    cg__cli_jfree(g);
    (*budget)--;
}
