/* decode_bench: nanoseconds per AdmissionReview decode, ours against a jansson DOM.
 *
 *   decode_bench [FILE...]     (default: the benchmark reviews and the real fixtures)
 *
 * For each file: cg_admission_decode (arena reset per decode, as the server does),
 * cg_admission_encode of an allowed response, and json_loadb + json_decref with
 * JSON_REJECT_DUPLICATES. Each figure is the median of RUNS timed batches of ~20 ms after a
 * warm-up; "(min)" is the fastest batch, the figure a busy neighbour on shared cores disturbs
 * least. Single-threaded, a few seconds in all. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "admission/admission.h"
#include "base/file.h"

#define RUNS 9

#ifndef CG_SOURCE_DIR
#define CG_SOURCE_DIR "."
#endif

static const char *const default_files[] = {
    CG_SOURCE_DIR "/tests/fixtures/bench/pod-create-12k.json",
    CG_SOURCE_DIR "/tests/fixtures/bench/deployment-update-25k.json",
    CG_SOURCE_DIR "/tests/fixtures/kube-apiserver-1.26/Pod-CREATE-from-replicaset.json",
    CG_SOURCE_DIR "/tests/fixtures/kube-apiserver-1.26/Pod-UPDATE.json",
    CG_SOURCE_DIR "/tests/fixtures/kube-apiserver-1.26/Deployment-UPDATE.json",
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum what { DECODE, ENCODE, JANSSON };

static volatile uint64_t sink;

/* ns per iteration of one batch. */
static double batch(enum what w, const char *body, size_t len, long iters, struct cg_arena *arena,
                    struct cg_buf *out)
{
    struct cg_admission_request req;
    struct cg_admission_response resp = {0};
    if (w == ENCODE) {
        if (cg_admission_decode(body, len, arena, &req, NULL) != CG_OK)
            return -1;
        resp.api_version = req.api_version;
        resp.uid = req.uid;
        resp.allowed = true;
    }
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        switch (w) {
        case DECODE:
            cg_arena_reset(arena);
            if (cg_admission_decode(body, len, arena, &req, NULL) != CG_OK)
                return -1;
            sink += req.uid.n + req.object.template_digest;
            break;
        case ENCODE:
            cg_buf_reset(out);
            if (cg_admission_encode(&resp, out) != CG_OK)
                return -1;
            sink += out->len;
            break;
        case JANSSON: {
            json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
            if (doc == NULL)
                return -1;
            sink += json_object_size(doc);
            json_decref(doc);
            break;
        }
        }
    }
    return (now_ns() - t0) / (double)iters;
}

/* Median of RUNS batches; *min_out gets the fastest batch (the figure least disturbed by
 * other processes on shared cores). */
static double median_ns(enum what w, const char *body, size_t len, struct cg_arena *arena,
                        struct cg_buf *out, double *min_out)
{
    /* size batches to ~20 ms from a first estimate */
    double est = batch(w, body, len, 50, arena, out);
    if (est < 0)
        return -1;
    long iters = (long)(20e6 / (est > 1 ? est : 1));
    if (iters < 20)
        iters = 20;
    double t[RUNS];
    for (int r = 0; r < RUNS; r++)
        t[r] = batch(w, body, len, iters, arena, out);
    qsort(t, RUNS, sizeof(t[0]), cmp_double);
    if (min_out != NULL)
        *min_out = t[0];
    return t[RUNS / 2];
}

int main(int argc, char **argv)
{
    const char *const *files = default_files;
    int nfiles = (int)(sizeof(default_files) / sizeof(default_files[0]));
    if (argc > 1) {
        files = (const char *const *)argv + 1;
        nfiles = argc - 1;
    }
    struct cg_arena arena;
    cg_arena_init(&arena, 64 * 1024);
    struct cg_buf out;
    cg_buf_init(&out, 0);
    printf("%-32s %6s %10s %10s %10s %11s %11s %8s %6s\n", "file", "bytes", "decode_ns", "(min)",
           "encode_ns", "jansson_ns", "(min)", "speedup", "MB/s");
    int rc = 0;
    for (int f = 0; f < nfiles; f++) {
        struct cg_buf file;
        struct cg_err err;
        cg_buf_init(&file, 0);
        if (cg_file_read(files[f], 64 << 20, &file, &err) != CG_OK) {
            fprintf(stderr, "%s: %s\n", files[f], err.msg);
            cg_buf_dispose(&file);
            rc = 1;
            continue;
        }
        const char *body = file.data;
        size_t len = file.len;
        double dmin = 0, jmin = 0;
        double d = median_ns(DECODE, body, len, &arena, &out, &dmin);
        double e = median_ns(ENCODE, body, len, &arena, &out, NULL);
        double j = median_ns(JANSSON, body, len, &arena, &out, &jmin);
        const char *base = strrchr(files[f], '/') ? strrchr(files[f], '/') + 1 : files[f];
        if (d < 0) {
            printf("%-32s %6zu does not decode\n", base, len);
            rc = 1;
        } else {
            printf("%-32s %6zu %10.0f %10.0f %10.0f %11.0f %11.0f %7.1fx %6.0f\n", base, len, d,
                   dmin, e, j, jmin, j / d, (double)len / d * 1e3);
        }
        cg_buf_dispose(&file);
    }
    cg_buf_dispose(&out);
    cg_arena_dispose(&arena);
    return rc;
}
