/* libFuzzer target for the whole review pipeline: body bytes -> cg_review_run with the
 * shipped policies (policies/, loaded once) -> response bytes, on both paths, with no cluster
 * source (standalone).
 *
 * Beyond "no crash, no sanitizer report", each input checks the pipeline's contract:
 * - cg_review_run returns CG_OK (the response buffer is uncapped here) and answers 200 or 400;
 * - a 400 is one line of text; a 200 is an AdmissionReview v1 that jansson parses, whose
 *   response.uid is a non-empty string and whose allowed is a boolean;
 * - a response with a patch carries patchType JSONPatch and base64 that decodes to a JSON
 *   Patch which applies (cg_jsonpatch_apply) to the request's object as jansson reads it;
 * - the same input answers the same bytes twice (no state leaks from one review to the next).
 * Any violation aborts, which libFuzzer reports as a crash with the input saved. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/base64.h"
#include "jsonpatch/jsonpatch.h"
#include "policy/policy.h"
#include "review/review.h"

#ifndef CG_SOURCE_DIR
#error "CG_SOURCE_DIR must name the source tree (the shipped policies)"
#endif

/* 2026-03-02 10:00 UTC: a Monday, outside the shipped freezes; fixed so runs repeat. */
#define NOW 1772445600

static struct cg_policy_set *policies;
static struct cg_review_scratch scratch;

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "contract violated: %s\n", what);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct cg_err err;
    if (cg_policy_set_load_dir(CG_SOURCE_DIR "/policies", &policies, &err) != CG_OK) {
        fprintf(stderr, "fuzz_review: the shipped policies do not load: %s\n", err.msg);
        abort();
    }
    cg_review_scratch_init(&scratch);
    return 0;
}

/* The patch of a 200 response applies to the request's object. */
static void check_patch(const json_t *resp, const uint8_t *data, size_t size)
{
    const json_t *b64 = json_object_get(resp, "patch");
    if (b64 == NULL)
        return;
    check(json_is_string(b64), "patch is a string");
    check(json_is_string(json_object_get(resp, "patchType")), "patchType is set");
    check(strcmp(json_string_value(json_object_get(resp, "patchType")), "JSONPatch") == 0,
          "patchType is JSONPatch");
    struct cg_buf raw;
    cg_buf_init(&raw, 0);
    check(cg_base64_decode(json_string_value(b64), json_string_length(b64), &raw) == CG_OK,
          "patch is base64");
    json_error_t jerr;
    json_t *patch = json_loadb(raw.data ? raw.data : "", raw.len, JSON_REJECT_DUPLICATES, &jerr);
    if (patch == NULL)
        fprintf(stderr, "patch: %.*s\n%s\n", (int)raw.len, raw.data ? raw.data : "", jerr.text);
    check(patch != NULL, "the patch is JSON");
    check(json_is_array(patch) && json_array_size(patch) > 0, "the patch is a non-empty array");
    /* The body as jansson reads it; the decoder accepts a few documents jansson does not
     * (test_admission_diff.c lists them): then there is nothing to apply the patch to. */
    json_t *body =
        json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (body != NULL) {
        json_t *obj = json_object_get(json_object_get(body, "request"), "object");
        if (json_is_object(obj)) {
            json_t *doc = json_deep_copy(obj);
            struct cg_err err;
            enum cg_status st = cg_jsonpatch_apply(&doc, patch, &err);
            if (st != CG_OK)
                fprintf(stderr, "apply: %s\npatch: %.*s\n", err.msg, (int)raw.len, raw.data);
            check(st == CG_OK, "the patch applies to request.object");
            json_decref(doc);
        }
        json_decref(body);
    }
    json_decref(patch);
    cg_buf_dispose(&raw);
}

static void run_one(enum cg_review_path path, const uint8_t *data, size_t size)
{
    struct cg_buf out, again;
    cg_buf_init(&out, 0);
    cg_buf_init(&again, 0);
    struct cg_review_outcome o;
    enum cg_status st =
        cg_review_run(policies, path, NOW, (const char *)data, size, &scratch, NULL, &out, &o);
    check(st == CG_OK, "cg_review_run returns CG_OK with an uncapped buffer");
    check(o.http_status == 200 || o.http_status == 400, "answers 200 or 400");
    check(o.decision != NULL, "a decision is named");
    check(out.len > 0, "a response is written");
    if (o.http_status == 400) {
        check(o.error != NULL, "a 400 names its reason");
        check(memchr(out.data, '\n', out.len) == NULL, "a 400 reason is one line");
    } else {
        json_error_t jerr;
        json_t *doc = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        if (doc == NULL)
            fprintf(stderr, "response: %.*s\n%s\n", (int)out.len, out.data, jerr.text);
        check(doc != NULL, "a 200 response is JSON");
        check(strcmp(json_string_value(json_object_get(doc, "kind")), "AdmissionReview") == 0,
              "a 200 response is an AdmissionReview");
        json_t *resp = json_object_get(doc, "response");
        const json_t *uid = json_object_get(resp, "uid");
        check(json_is_string(uid) && json_string_length(uid) > 0, "response.uid is set");
        check(json_is_boolean(json_object_get(resp, "allowed")), "response.allowed is a bool");
        if (json_is_true(json_object_get(resp, "allowed")))
            check_patch(resp, data, size);
        else
            check(json_object_get(resp, "patch") == NULL, "a denial carries no patch");
        json_decref(doc);
    }
    /* Deterministic: the same review answers the same bytes. */
    struct cg_review_outcome o2;
    check(cg_review_run(policies, path, NOW, (const char *)data, size, &scratch, NULL, &again,
                        &o2) == CG_OK,
          "second run");
    check(again.len == out.len && memcmp(again.data, out.data, out.len) == 0,
          "the same review answers the same bytes");
    cg_buf_dispose(&again);
    cg_buf_dispose(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_one(CG_REVIEW_MUTATE, data, size);
    run_one(CG_REVIEW_VALIDATE, data, size);
    return 0;
}
