/* libFuzzer target for the policy loader: YAML bytes in, cg_policy_set_decode out, and a
 * decoded set then drives the engine (a real Deployment CREATE and Pod CREATE review from
 * tests/fixtures/kube-apiserver-1.26 through cg_review_run).
 *
 * The contract checked beyond "no crash, no sanitizer report":
 * - the status is CG_OK or an error with a message and the file name, at a line >= 1;
 * - an accepted set holds at least one policy, each with a name;
 * - every review under any accepted set answers 200 with an AdmissionReview that jansson
 *   parses (a policy never makes the webhook answer garbage or fail). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/policy.h"
#include "review/review.h"

#ifndef CG_SOURCE_DIR
#error "CG_SOURCE_DIR must name the source tree (the review fixtures)"
#endif

#define NOW 1772445600 /* fixed, so runs repeat */

static const char *const review_files[] = {
    CG_SOURCE_DIR "/tests/fixtures/kube-apiserver-1.26/Deployment-CREATE.json",
    CG_SOURCE_DIR "/tests/fixtures/kube-apiserver-1.26/Deployment-UPDATE.json",
    CG_SOURCE_DIR "/tests/fixtures/kube-apiserver-1.26/Pod-CREATE-from-replicaset.json",
    CG_SOURCE_DIR "/tests/fixtures/kube-apiserver-1.26/Pod-DELETE.json",
};
#define N_REVIEWS (sizeof(review_files) / sizeof(review_files[0]))

static char *reviews[N_REVIEWS];
static size_t review_len[N_REVIEWS];
static struct cg_review_scratch scratch;

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "contract violated: %s\n", what);
        abort();
    }
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fuzz_policy_load: cannot open %s\n", path);
        abort();
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (size_t i = 0; i < N_REVIEWS; i++)
        reviews[i] = slurp(review_files[i], &review_len[i]);
    cg_review_scratch_init(&scratch);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    enum cg_status st = cg_policy_set_decode("fuzz.yaml", (const char *)data, size, &set, &err);
    if (st != CG_OK) {
        /* A positioned error names the file in err.file with line:col; an error about the
         * file as a whole ("no ReleasePolicy document") names it at the head of the message. */
        bool positioned = strcmp(err.file, "fuzz.yaml") == 0 && err.line >= 1 && err.col >= 1;
        bool whole = err.file[0] == '\0' && strncmp(err.msg, "fuzz.yaml: ", 11) == 0;
        if (!positioned && !whole)
            fprintf(stderr, "error: file '%s' line %d col %d: %s\n", err.file, err.line, err.col,
                    err.msg);
        check(set == NULL, "a failed decode yields no set");
        check(err.msg[0] != '\0', "a failure has a message");
        check(positioned || whole, "a failure names the file (and its position)");
        return 0;
    }
    check(set != NULL && set->n >= 1, "an accepted set holds a policy");
    for (size_t i = 0; i < set->n; i++)
        check(set->items[i].name != NULL && set->items[i].name[0] != '\0', "a policy has a name");
    for (size_t i = 0; i < N_REVIEWS; i++) {
        for (int p = 0; p < 2; p++) {
            struct cg_buf out;
            cg_buf_init(&out, 0);
            struct cg_review_outcome o;
            check(cg_review_run(set, p ? CG_REVIEW_VALIDATE : CG_REVIEW_MUTATE, NOW, reviews[i],
                                review_len[i], &scratch, NULL, &out, &o) == CG_OK,
                  "cg_review_run returns CG_OK");
            check(o.http_status == 200, "a valid review answers 200 under any accepted set");
            json_error_t jerr;
            json_t *doc =
                json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
            if (doc == NULL)
                fprintf(stderr, "response: %.*s\n%s\n", (int)out.len, out.data, jerr.text);
            check(doc != NULL, "the response is JSON");
            json_decref(doc);
            cg_buf_dispose(&out);
        }
    }
    cg_policy_set_unref(set);
    return 0;
}
