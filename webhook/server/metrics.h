/* Prometheus metrics of the admission server. Each worker thread owns one struct cg_metrics
 * and is its only writer (relaxed atomic loads and stores, no read-modify-write, no lock), so
 * counting costs the hot path a few plain stores; a scrape sums every thread's copy. */
#ifndef CG_SERVER_METRICS_H
#define CG_SERVER_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "review/review.h"

#define CG_METRICS_PATHS 2 /* enum cg_review_path */
#define CG_METRICS_KINDS 5
#define CG_METRICS_OPS 5
#define CG_METRICS_DECISIONS 7
#define CG_METRICS_BUCKETS 17
#define CG_METRICS_REASONS 32
#define CG_METRICS_REASON_MAX 40

struct cg_metrics {
    _Atomic uint64_t
        reviews[CG_METRICS_PATHS][CG_METRICS_KINDS][CG_METRICS_OPS][CG_METRICS_DECISIONS];
    _Atomic uint64_t buckets[CG_METRICS_PATHS][CG_METRICS_BUCKETS]; /* not cumulative */
    _Atomic uint64_t count[CG_METRICS_PATHS];
    _Atomic uint64_t sum_ns[CG_METRICS_PATHS];
    struct {
        char name[CG_METRICS_REASON_MAX];
        _Atomic uint64_t n;
    } errors[CG_METRICS_REASONS];
    _Atomic size_t n_errors;      /* entries published (release) */
    _Atomic uint64_t connections; /* open right now */
};

/* Process-wide values, read from the reload stores at scrape time. */
struct cg_metrics_global {
    unsigned long long policy_reloads_ok, policy_reloads_error;
    unsigned long long tls_reloads_ok, tls_reloads_error;
    size_t policies_loaded;
};

void cg_metrics_init(struct cg_metrics *m);
/* Counts one answered review (any HTTP status) and its duration. Owner thread only. */
void cg_metrics_observe_review(struct cg_metrics *m, enum cg_review_path path,
                               const struct cg_review_outcome *o, uint64_t duration_ns);
/* Adds n to cellgate_admission_errors_total{reason}; the name is copied (truncated to
 * CG_METRICS_REASON_MAX - 1); past CG_METRICS_REASONS distinct names, counts as "other".
 * Owner thread only. */
void cg_metrics_count_error(struct cg_metrics *m, const char *reason, uint64_t n);
void cg_metrics_set_connections(struct cg_metrics *m, uint64_t n);

/* Appends the Prometheus text exposition (format 0.0.4) of the sum of threads[0..n) and g.
 * Any thread may call it while the owners keep counting. */
enum cg_status cg_metrics_render(struct cg_metrics *const *threads, size_t n,
                                 const struct cg_metrics_global *g, struct cg_buf *out);

#endif
