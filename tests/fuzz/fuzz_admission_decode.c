/* libFuzzer target for cg_admission_decode.
 *
 * Beyond "no crash, no sanitizer report", each input checks the decoder's contract:
 * - the verdict agrees with jansson's strict parser (jansson rejects <=> CG_EPARSE), except
 *   for the known differences test_admission_diff.c documents;
 * - an accepted review has a non-empty uid, every view string lies in the body or is
 *   well-formed arena text, and the encoder answers it with a response jansson parses;
 * - the template digest of the body equals the digest of itself (determinism).
 * Any violation aborts, which libFuzzer reports as a crash with the input saved. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admission/admission.h"

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "contract violated: %s\n", what);
        abort();
    }
}

static void check_str(struct cg_str s)
{
    /* Touch every byte so ASan checks the view's memory. */
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < s.n; i++)
        sink ^= (unsigned char)s.p[i];
    (void)sink;
}

static void check_object(const struct cg_object *o)
{
    check_str(o->kind);
    check_str(o->name);
    check_str(o->namespace_);
    for (size_t i = 0; i < o->labels.n; i++) {
        check_str(o->labels.items[i].key);
        check_str(o->labels.items[i].value);
    }
    for (size_t i = 0; i < o->annotations.n; i++) {
        check_str(o->annotations.items[i].key);
        check_str(o->annotations.items[i].value);
    }
    for (size_t i = 0; i < o->finalizers.n; i++)
        check_str(o->finalizers.items[i]);
    for (size_t i = 0; i < o->pod.containers.n; i++)
        check_str(o->pod.containers.items[i].name);
    for (size_t i = 0; i < o->pod.readiness_gates.n; i++)
        check_str(o->pod.readiness_gates.items[i]);
    check(o->present || (o->labels.n == 0 && o->pod.containers.n == 0), "absent object is empty");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cg_arena arena;
    cg_arena_init(&arena, 4096);
    struct cg_admission_request req;
    struct cg_err err;
    enum cg_status st = cg_admission_decode((const char *)data, size, &arena, &req, &err);
    check(st == CG_OK || st == CG_EPARSE || st == CG_EINVAL, "status is OK, EPARSE or EINVAL");
    check(st == CG_OK || err.msg[0] != '\0', "a failure has a message");

    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (root == NULL) {
        int known = strstr(jerr.text, "too big") || strstr(jerr.text, "overflow") ||
                    strstr(jerr.text, "NUL byte in object key");
        if (st != CG_EPARSE && !known) {
            fprintf(stderr, "jansson: %s; decode: %d %s\n", jerr.text, st, err.msg);
            check(0, "jansson rejects => EPARSE");
        }
    } else {
        /* jansson passes over a NUL byte right after a number or literal ("9\0", "[1,2\0]"):
         * we reject it where it stands. */
        size_t at = 0;
        int nul_quirk =
            sscanf(err.msg, "invalid JSON at byte %zu", &at) == 1 && at < size && data[at] == 0;
        if (st == CG_EPARSE && strstr(err.msg, "nesting deeper") == NULL && !nul_quirk) {
            fprintf(stderr, "decode: %s\n", err.msg);
            check(0, "jansson accepts => not EPARSE");
        }
        json_decref(root);
    }

    if (st == CG_OK) {
        check(req.uid.n > 0, "uid non-empty");
        check_str(req.uid);
        check_str(req.username);
        for (size_t i = 0; i < req.groups.n; i++)
            check_str(req.groups.items[i]);
        check_object(&req.object);
        check_object(&req.old_object);
        struct cg_admission_response resp = {.api_version = req.api_version,
                                             .uid = req.uid,
                                             .allowed = false,
                                             .status_code = 403,
                                             .status_message = req.name};
        struct cg_buf out;
        cg_buf_init(&out, 0);
        check(cg_admission_encode(&resp, &out) == CG_OK, "encode");
        /* names may hold \u0000: the response escapes it, jansson needs JSON_ALLOW_NUL */
        json_t *doc = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        check(doc != NULL, "the response is JSON");
        json_t *msg =
            json_object_get(json_object_get(json_object_get(doc, "response"), "status"), "message");
        check(json_is_string(msg) && json_string_length(msg) == req.name.n &&
                  (req.name.n == 0 || memcmp(json_string_value(msg), req.name.p, req.name.n) == 0),
              "status.message round-trips");
        json_t *uid = json_object_get(json_object_get(doc, "response"), "uid");
        check(json_is_string(uid) && json_string_length(uid) == req.uid.n &&
                  memcmp(json_string_value(uid), req.uid.p, req.uid.n) == 0,
              "response.uid echoes request.uid");
        json_decref(doc);
        cg_buf_dispose(&out);
    }
    check(cg_admission_digest_json((const char *)data, size) ==
              cg_admission_digest_json((const char *)data, size),
          "digest is deterministic");
    cg_arena_dispose(&arena);
    return 0;
}
