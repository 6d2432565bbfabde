/* `cellgate response show`: prints an AdmissionReview response (or the plain-text error the
 * server answers bad requests with) as a person reads it: decision, status, warnings,
 * audit annotations and the JSONPatch decoded from base64. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/buf.h"
#include "cli/cli_internal.h"

#define SHOW_INPUT_MAX (16u * 1024 * 1024)

/* The JSONPatch of a response, decoded: a JSON array, or NULL (*why says why). */
static json_t *patch_ops(const char *b64, const char **why)
{
    struct cg_buf raw;
    cg_buf_init(&raw, SHOW_INPUT_MAX);
    json_t *ops = NULL;
    *why = NULL;
    if (cg_base64_decode(b64, strlen(b64), &raw) != CG_OK) {
        *why = "(not valid base64)";
    } else {
        ops = json_loadb(raw.data ? raw.data : "", raw.len, 0, NULL);
        if (!json_is_array(ops)) {
            json_decref(ops);
            ops = NULL;
            *why = "(not a JSON array)";
        }
    }
    cg_buf_dispose(&raw);
    return ops;
}

/* "add     /path value", the value cut at max characters (0: whole). */
static void print_op(const json_t *op, const char *indent, size_t max, FILE *out)
{
    const char *name = json_string_value(json_object_get(op, "op"));
    const char *path = json_string_value(json_object_get(op, "path"));
    const char *from = json_string_value(json_object_get(op, "from"));
    char *value = NULL;
    json_t *v = json_object_get(op, "value");
    if (v != NULL)
        value = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(out, "%s%-7s %s", indent, name ? name : "?", path ? path : "?");
    if (from != NULL)
        fprintf(out, " from %s", from);
    if (value != NULL) {
        size_t n = strlen(value);
        if (max > 0 && n > max)
            fprintf(out, " %.*s...", (int)max, value);
        else
            fprintf(out, " %s", value);
    }
    fputc('\n', out);
    cg__cli_jfree(value);
}

void cg__cli_print_patch(const char *b64, const char *indent, FILE *out)
{
    const char *why;
    json_t *ops = patch_ops(b64, &why);
    if (ops == NULL) {
        fprintf(out, "%spatch: %s\n", indent, why);
        return;
    }
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        print_op(op, indent, 0, out);
    }
    json_decref(ops);
}

static void print_patch(const char *b64, FILE *out)
{
    const char *why;
    json_t *ops = patch_ops(b64, &why);
    if (ops == NULL) {
        fprintf(out, "  patch: %s\n", why);
        return;
    }
    fprintf(out, "  patch (%zu ops):\n", json_array_size(ops));
    json_decref(ops);
    cg__cli_print_patch(b64, "    ", out);
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

/* --- the decision of one object, as a short table ------------------------------------------ */

/* "policy P rule R: ...; policy Q rule S: ..." -> "R, S" (the engine's violation format) */
static bool rules_of(const char *msg, char *out, size_t cap)
{
    out[0] = '\0';
    for (const char *p = msg; p != NULL && *p;) {
        if (strncmp(p, "policy ", 7) == 0) {
            const char *r = strstr(p, " rule ");
            const char *colon = strchr(p, ':');
            if (r != NULL && (colon == NULL || r < colon)) {
                r += 6;
                size_t n = strcspn(r, ": ");
                size_t len = strlen(out);
                if (n > 0)
                    snprintf(out + len, cap - len, "%s%.*s", len ? ", " : "", (int)n, r);
            }
        }
        p = strstr(p, "; policy ");
        if (p != NULL)
            p += 2;
    }
    return out[0] != '\0';
}

/* The engine joins violations with "; policy ": one line each. */
static void print_message(const char *msg, FILE *out)
{
    const char *p = msg;
    bool first = true;
    while (p != NULL) {
        const char *next = strstr(p, "; policy ");
        int n = next ? (int)(next - p) : (int)strlen(p);
        fprintf(out, "  %-9s %.*s\n", first ? "message" : "", n, p);
        first = false;
        p = next ? next + 2 : NULL;
    }
}

void cg__cli_print_decision(const char *label, const char *where,
                            const struct cg__cli_stage_view *s, size_t n, FILE *out)
{
    const struct cg__cli_stage_view *denied = NULL;
    for (size_t i = 0; i < n && denied == NULL; i++)
        if (strcmp(s[i].decision, "denied") == 0)
            denied = &s[i];
    fprintf(out, "%s", label);
    if (where != NULL && *where)
        fprintf(out, "  (%s)", where);
    fputc('\n', out);

    char decision[96] = "";
    const char *policy = NULL;
    const char *message = NULL;
    if (denied != NULL) {
        const json_t *status =
            json_object_get(json_object_get(denied->response, "response"), "status");
        message = json_string_value(json_object_get(status, "message"));
        snprintf(decision, sizeof(decision), "denied (%lld) at %s",
                 (long long)json_integer_value(json_object_get(status, "code")), denied->path);
        policy = denied->policy;
    } else {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(s[i].decision, "allowed") == 0 || strstr(decision, s[i].decision))
                continue;
            size_t len = strlen(decision);
            snprintf(decision + len, sizeof(decision) - len, "%s%s", len ? ", " : "",
                     s[i].decision);
        }
        if (decision[0] == '\0')
            snprintf(decision, sizeof(decision), "allowed");
        for (size_t i = 0; i < n && (policy == NULL || *policy == '\0'); i++)
            policy = s[i].policy;
    }
    fprintf(out, "  %-9s %s\n", "decision", decision);
    fprintf(out, "  %-9s %s\n", "policy",
            policy && *policy ? policy : "- (no policy covers it: admitted untouched)");
    char rules[256];
    if (rules_of(message, rules, sizeof(rules)))
        fprintf(out, "  %-9s %s\n", strchr(rules, ',') ? "rules" : "rule", rules);
    if (message != NULL)
        print_message(message, out);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_object_get(s[i].response, "response");
        const char *b64 = json_string_value(json_object_get(r, "patch"));
        if (b64 != NULL) {
            const char *why;
            json_t *ops = patch_ops(b64, &why);
            if (ops == NULL) {
                fprintf(out, "  %-9s %s\n", "patch", why);
                continue;
            }
            size_t k;
            json_t *op;
            json_array_foreach(ops, k, op)
            {
                print_op(op, k == 0 ? "  patch     " : "            ", 72, out);
            }
            json_decref(ops);
        }
        size_t k;
        json_t *w;
        json_array_foreach(json_object_get(r, "warnings"), k, w)
        {
            fprintf(out, "  %-9s %s\n", "warning",
                    json_string_value(w) ? json_string_value(w) : "");
        }
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(r, "auditAnnotations"), key, v)
        {
            fprintf(out, "  %-9s %s: %s\n", "audit", key,
                    json_string_value(v) ? json_string_value(v) : "");
        }
    }
}
