/* `cellgate response show`: prints an AdmissionReview response (or the plain-text error the
 * server answers bad requests with) as a person reads it: decision, status, warnings,
 * audit annotations and the JSONPatch decoded from base64. */
#include <string.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/buf.h"
#include "review/cli.h"

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
