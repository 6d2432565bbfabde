/* cg_admission_encode: the output parsed back with jansson, field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "admission/admission.h"
#include "base/base64.h"
#include "test_support.h"

/* Encodes resp and parses the output strictly; the caller json_decref()s. */
static json_t *encode_parse(const struct cg_admission_response *resp)
{
    struct cg_buf out;
    cg_buf_init(&out, 0);
    assert_int_equal(cg_admission_encode(resp, &out), CG_OK);
    json_error_t jerr;
    json_t *doc = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        fail_msg("encoder output is not JSON (%s): %s", jerr.text, out.data);
    cg_buf_dispose(&out);
    return doc;
}

static const char *get_s(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("%s is not a string", key);
    return json_string_value(v);
}

static void test_allowed_minimal(void **state)
{
    (void)state;
    struct cg_admission_response resp = {0};
    resp.uid = CG_STR_LIT("3b022bc8-c7d3-4c97-9daa-fdfb91170f52");
    resp.allowed = true;
    json_t *doc = encode_parse(&resp);
    assert_string_equal(get_s(doc, "apiVersion"), "admission.k8s.io/v1"); /* default */
    assert_string_equal(get_s(doc, "kind"), "AdmissionReview");
    assert_int_equal(json_object_size(doc), 3);
    json_t *r = json_object_get(doc, "response");
    assert_string_equal(get_s(r, "uid"), "3b022bc8-c7d3-4c97-9daa-fdfb91170f52");
    assert_true(json_is_true(json_object_get(r, "allowed")));
    /* no status, warnings, audit annotations or patch */
    assert_int_equal(json_object_size(r), 2);
    json_decref(doc);
}

static void test_denied_with_status(void **state)
{
    (void)state;
    struct cg_admission_response resp = {0};
    resp.api_version = CG_STR_LIT("admission.k8s.io/v1");
    resp.uid = CG_STR_LIT("u");
    resp.allowed = false;
    resp.status_code = 429;
    const char msg[] =
        "pod \"web-1\" still carries traffic:\n\tdrain first \\ retry; caf\xc3\xa9 \xe2\x9c\x93 "
        "\xf0\x9f\x98\x80 <&> \x01";
    resp.status_message = (struct cg_str){msg, sizeof(msg) - 1};
    resp.status_reason = CG_STR_LIT("TooManyRequests");
    json_t *doc = encode_parse(&resp);
    json_t *r = json_object_get(doc, "response");
    assert_true(json_is_false(json_object_get(r, "allowed")));
    json_t *status = json_object_get(r, "status");
    assert_int_equal(json_integer_value(json_object_get(status, "code")), 429);
    assert_string_equal(get_s(status, "message"), msg);
    assert_string_equal(get_s(status, "reason"), "TooManyRequests");
    assert_null(json_object_get(r, "patch"));
    json_decref(doc);
    /* reason is optional */
    resp.status_reason = CG_STR_NULL;
    resp.status_code = 403;
    resp.status_message = CG_STR_LIT("denied");
    doc = encode_parse(&resp);
    status = json_object_get(json_object_get(doc, "response"), "status");
    assert_int_equal(json_object_size(status), 2);
    assert_int_equal(json_integer_value(json_object_get(status, "code")), 403);
    json_decref(doc);
}

static void test_warnings_audit_patch(void **state)
{
    (void)state;
    struct cg_admission_response resp = {0};
    resp.api_version = CG_STR_LIT("admission.k8s.io/v1");
    resp.uid = CG_STR_LIT("u-\"quoted\"");
    resp.allowed = true;
    resp.warnings[0] = CG_STR_LIT("policy payments: no readiness probe on container \"app\"");
    resp.warnings[1] = CG_STR_LIT("second\nline");
    resp.n_warnings = 2;
    resp.audit[0] =
        (struct cg_kv){CG_STR_LIT("cellgate.io/break-glass"), CG_STR_LIT("INC-42 \"hotfix\"")};
    resp.audit[1] = (struct cg_kv){CG_STR_LIT("cellgate.io/user"), CG_STR_LIT("alice")};
    resp.n_audit = 2;
    const char patch[] =
        "[{\"op\":\"add\",\"path\":\"/metadata/labels/cellgate.io~1cell\",\"value\":"
        "\"zone-a\"}]";
    resp.patch = (struct cg_str){patch, sizeof(patch) - 1};
    json_t *doc = encode_parse(&resp);
    json_t *r = json_object_get(doc, "response");
    assert_string_equal(get_s(r, "uid"), "u-\"quoted\"");
    assert_null(json_object_get(r, "status"));
    json_t *w = json_object_get(r, "warnings");
    assert_int_equal(json_array_size(w), 2);
    assert_string_equal(json_string_value(json_array_get(w, 1)), "second\nline");
    json_t *a = json_object_get(r, "auditAnnotations");
    assert_int_equal(json_object_size(a), 2);
    assert_string_equal(get_s(a, "cellgate.io/break-glass"), "INC-42 \"hotfix\"");
    assert_string_equal(get_s(r, "patchType"), "JSONPatch");
    const char *b64 = get_s(r, "patch");
    struct cg_buf dec;
    cg_buf_init(&dec, 0);
    assert_int_equal(cg_base64_decode(b64, strlen(b64), &dec), CG_OK);
    assert_int_equal(dec.len, sizeof(patch) - 1);
    assert_memory_equal(dec.data, patch, dec.len);
    /* the patch is itself a JSON array */
    json_t *ops = json_loadb(dec.data, dec.len, 0, NULL);
    assert_true(json_is_array(ops));
    json_decref(ops);
    cg_buf_dispose(&dec);
    json_decref(doc);
}

/* The response round-trips through the decoder's view of a real request. */
static void test_echo_uid_from_fixture(void **state)
{
    (void)state;
    size_t n;
    char *body = cg_test_read_fixture("kube-apiserver-1.26/Pod-CREATE.json", &n);
    struct cg_arena arena;
    cg_arena_init(&arena, 4096);
    struct cg_admission_request req;
    assert_int_equal(cg_admission_decode(body, n, &arena, &req, NULL), CG_OK);
    struct cg_admission_response resp = {
        .api_version = req.api_version, .uid = req.uid, .allowed = true};
    json_t *doc = encode_parse(&resp);
    assert_string_equal(get_s(json_object_get(doc, "response"), "uid"),
                        "3b022bc8-c7d3-4c97-9daa-fdfb91170f52");
    json_decref(doc);
    cg_arena_dispose(&arena);
    free(body);
}

static void test_buffer_cap(void **state)
{
    (void)state;
    struct cg_admission_response resp = {0};
    resp.uid = CG_STR_LIT("u");
    resp.allowed = true;
    char big[4096];
    memset(big, 'x', sizeof(big));
    resp.patch = (struct cg_str){big, sizeof(big)};
    struct cg_buf out;
    cg_buf_init(&out, 1024);
    assert_int_equal(cg_buf_append_str(&out, "keep"), CG_OK);
    /* Over the cap: an error, and nothing half-written is left behind. */
    assert_int_equal(cg_admission_encode(&resp, &out), CG_ETOOBIG);
    assert_int_equal(out.len, 4);
    assert_string_equal(out.data, "keep");
    cg_buf_dispose(&out);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_minimal),      cmocka_unit_test(test_denied_with_status),
        cmocka_unit_test(test_warnings_audit_patch), cmocka_unit_test(test_echo_uid_from_fixture),
        cmocka_unit_test(test_buffer_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
