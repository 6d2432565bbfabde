/* AdmissionReview response encode: written by hand into the caller's buffer (no DOM), in
 * the field order kube-apiserver's own responses use. */
#include <assert.h>
#include <stdio.h>

#include "admission/admission.h"
#include "base/base64.h"

#define APPEND_LIT(b, lit) cg_buf_append((b), (lit), sizeof(lit) - 1)

static enum cg_status append_str(struct cg_buf *b, struct cg_str s)
{
    return cg_buf_append_json_string(b, s.p != NULL ? s.p : "", s.n);
}

static enum cg_status encode_status(const struct cg_admission_response *resp, struct cg_buf *out)
{
    enum cg_status st;
    char code[32];
    int n = snprintf(code, sizeof(code), "%d", resp->status_code);
    if ((st = APPEND_LIT(out, ",\"status\":{\"code\":")) != CG_OK)
        return st;
    if ((st = cg_buf_append(out, code, (size_t)n)) != CG_OK)
        return st;
    if ((st = APPEND_LIT(out, ",\"message\":")) != CG_OK)
        return st;
    if ((st = append_str(out, resp->status_message)) != CG_OK)
        return st;
    if (resp->status_reason.n > 0) {
        if ((st = APPEND_LIT(out, ",\"reason\":")) != CG_OK)
            return st;
        if ((st = append_str(out, resp->status_reason)) != CG_OK)
            return st;
    }
    return cg_buf_append_char(out, '}');
}

static enum cg_status encode_warnings(const struct cg_admission_response *resp, struct cg_buf *out)
{
    enum cg_status st = APPEND_LIT(out, ",\"warnings\":[");
    for (size_t i = 0; st == CG_OK && i < resp->n_warnings; i++) {
        if (i > 0)
            st = cg_buf_append_char(out, ',');
        if (st == CG_OK)
            st = append_str(out, resp->warnings[i]);
    }
    return st == CG_OK ? cg_buf_append_char(out, ']') : st;
}

static enum cg_status encode_audit(const struct cg_admission_response *resp, struct cg_buf *out)
{
    enum cg_status st = APPEND_LIT(out, ",\"auditAnnotations\":{");
    for (size_t i = 0; st == CG_OK && i < resp->n_audit; i++) {
        if (i > 0)
            st = cg_buf_append_char(out, ',');
        if (st == CG_OK)
            st = append_str(out, resp->audit[i].key);
        if (st == CG_OK)
            st = cg_buf_append_char(out, ':');
        if (st == CG_OK)
            st = append_str(out, resp->audit[i].value);
    }
    return st == CG_OK ? cg_buf_append_char(out, '}') : st;
}

enum cg_status cg_admission_encode(const struct cg_admission_response *resp, struct cg_buf *out)
{
    assert(resp != NULL && out != NULL);
    assert(resp->n_warnings <= CG_ADMISSION_MAX_WARNINGS &&
           resp->n_audit <= CG_ADMISSION_MAX_AUDIT);
    size_t mark = out->len;
    struct cg_str api =
        resp->api_version.n > 0 ? resp->api_version : CG_STR_LIT("admission.k8s.io/v1");
    enum cg_status st = APPEND_LIT(out, "{\"apiVersion\":");
    if (st == CG_OK)
        st = append_str(out, api);
    if (st == CG_OK)
        st = APPEND_LIT(out, ",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":");
    if (st == CG_OK)
        st = append_str(out, resp->uid);
    if (st == CG_OK)
        st = resp->allowed ? APPEND_LIT(out, ",\"allowed\":true")
                           : APPEND_LIT(out, ",\"allowed\":false");
    if (st == CG_OK && resp->status_code != 0)
        st = encode_status(resp, out);
    if (st == CG_OK && resp->n_warnings > 0)
        st = encode_warnings(resp, out);
    if (st == CG_OK && resp->n_audit > 0)
        st = encode_audit(resp, out);
    if (st == CG_OK && resp->patch.n > 0) {
        st = APPEND_LIT(out, ",\"patchType\":\"JSONPatch\",\"patch\":\"");
        if (st == CG_OK)
            st = cg_base64_encode(resp->patch.p, resp->patch.n, out);
        if (st == CG_OK)
            st = cg_buf_append_char(out, '"');
    }
    if (st == CG_OK)
        st = APPEND_LIT(out, "}}");
    if (st != CG_OK) {
        /* Leave no half-written document behind. */
        out->len = mark;
        if (out->data != NULL)
            out->data[mark] = '\0';
    }
    return st;
}
