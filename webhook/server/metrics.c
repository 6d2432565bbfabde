#include "server/metrics.h"

#include <stdio.h>
#include <string.h>

static const char *const path_names[CG_METRICS_PATHS] = {"/mutate", "/validate"};
static const char *const kind_names[CG_METRICS_KINDS] = {"Pod", "Deployment", "Eviction", "other",
                                                         "unknown"};
static const char *const op_names[CG_METRICS_OPS] = {"CREATE", "UPDATE", "DELETE", "CONNECT",
                                                     "unknown"};
static const char *const decision_names[CG_METRICS_DECISIONS] = {
    "allowed", "patched", "denied", "warned", "audited", "error", "other"};
/* Upper bounds in nanoseconds: 50 us to 10 s. */
static const uint64_t bucket_ns[CG_METRICS_BUCKETS] = {
    50000,     100000,     250000,     500000,     1000000,    2500000,
    5000000,   10000000,   25000000,   50000000,   100000000,  250000000,
    500000000, 1000000000, 2500000000, 5000000000, 10000000000};
static const char *const bucket_le[CG_METRICS_BUCKETS] = {
    "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",  "0.1",    "0.25",    "0.5",    "1",     "2.5",    "5",     "10"};

/* Single writer: a relaxed load and store, no locked instruction. */
static inline void bump(_Atomic uint64_t *c, uint64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

static inline uint64_t get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static size_t lookup(const char *const *names, size_t n, struct cg_str s, size_t missing,
                     size_t other)
{
    if (s.n == 0)
        return missing;
    for (size_t i = 0; i < n; i++)
        if (cg_str_eq_c(s, names[i]))
            return i;
    return other;
}

void cg_metrics_init(struct cg_metrics *m)
{
    memset(m, 0, sizeof(*m));
}

void cg_metrics_observe_review(struct cg_metrics *m, enum cg_review_path path,
                               const struct cg_review_outcome *o, uint64_t duration_ns)
{
    size_t p = path == CG_REVIEW_VALIDATE ? 1 : 0;
    size_t k = lookup(kind_names, 3, o->kind, 4, 3);
    size_t op = lookup(op_names, 4, o->operation, 4, 4);
    size_t d = lookup(decision_names, 6, cg_str_from(o->decision), 6, 6);
    bump(&m->reviews[p][k][op][d], 1);
    size_t b = 0;
    while (b < CG_METRICS_BUCKETS && duration_ns > bucket_ns[b])
        b++;
    if (b < CG_METRICS_BUCKETS)
        bump(&m->buckets[p][b], 1);
    bump(&m->count[p], 1);
    bump(&m->sum_ns[p], duration_ns);
}

void cg_metrics_count_error(struct cg_metrics *m, const char *reason, uint64_t n)
{
    if (reason == NULL || *reason == '\0')
        reason = "other";
    size_t used = atomic_load_explicit(&m->n_errors, memory_order_relaxed);
    for (size_t i = 0; i < used; i++) {
        if (strncmp(m->errors[i].name, reason, CG_METRICS_REASON_MAX - 1) == 0) {
            bump(&m->errors[i].n, n);
            return;
        }
    }
    if (used == CG_METRICS_REASONS) {
        if (strcmp(reason, "other") != 0)
            cg_metrics_count_error(m, "other", n);
        else
            bump(&m->errors[used - 1].n, n); /* table full of names: last slot absorbs */
        return;
    }
    /* The last free slot is kept for "other". */
    if (used == CG_METRICS_REASONS - 1 && strcmp(reason, "other") != 0)
        reason = "other";
    snprintf(m->errors[used].name, CG_METRICS_REASON_MAX, "%s", reason);
    atomic_store_explicit(&m->errors[used].n, n, memory_order_relaxed);
    atomic_store_explicit(&m->n_errors, used + 1, memory_order_release);
}

void cg_metrics_set_connections(struct cg_metrics *m, uint64_t n)
{
    atomic_store_explicit(&m->connections, n, memory_order_relaxed);
}

static enum cg_status label_value(struct cg_buf *out, const char *s)
{
    enum cg_status st = CG_OK;
    for (; st == CG_OK && *s; s++) {
        if (*s == '\\' || *s == '"')
            st = cg_buf_append_char(out, '\\');
        if (st == CG_OK)
            st = *s == '\n' ? cg_buf_append(out, "\\n", 2) : cg_buf_append_char(out, *s);
    }
    return st;
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        st = (expr);                                                                               \
        if (st != CG_OK)                                                                           \
            goto out;                                                                              \
    } while (0)

static enum cg_status render_errors(struct cg_metrics *const *threads, size_t n, struct cg_buf *out)
{
    enum cg_status st = CG_OK;
    /* Merge by name; every thread has at most CG_METRICS_REASONS names. */
    const char *names[CG_METRICS_REASONS * 4];
    uint64_t counts[CG_METRICS_REASONS * 4];
    size_t used = 0;
    for (size_t t = 0; t < n; t++) {
        struct cg_metrics *m = threads[t];
        size_t k = atomic_load_explicit(&m->n_errors, memory_order_acquire);
        for (size_t i = 0; i < k; i++) {
            size_t j = 0;
            while (j < used && strcmp(names[j], m->errors[i].name) != 0)
                j++;
            if (j == used) {
                if (used == sizeof(names) / sizeof(names[0]))
                    continue;
                names[used] = m->errors[i].name;
                counts[used++] = 0;
            }
            counts[j] += get(&m->errors[i].n);
        }
    }
    TRY(cg_buf_append_str(out, "# HELP cellgate_admission_errors_total Requests to the admission "
                               "routes answered with an HTTP error, by reason.\n"
                               "# TYPE cellgate_admission_errors_total counter\n"));
    for (size_t j = 0; j < used; j++) {
        TRY(cg_buf_append_str(out, "cellgate_admission_errors_total{reason=\""));
        TRY(label_value(out, names[j]));
        TRY(cg_buf_appendf(out, "\"} %llu\n", (unsigned long long)counts[j]));
    }
out:
    return st;
}

enum cg_status cg_metrics_render(struct cg_metrics *const *threads, size_t n,
                                 const struct cg_metrics_global *g, struct cg_buf *out)
{
    enum cg_status st = CG_OK;

    TRY(cg_buf_append_str(out, "# HELP cellgate_admission_reviews_total AdmissionReviews "
                               "answered, by route, object kind, operation and decision.\n"
                               "# TYPE cellgate_admission_reviews_total counter\n"));
    for (size_t p = 0; p < CG_METRICS_PATHS; p++)
        for (size_t k = 0; k < CG_METRICS_KINDS; k++)
            for (size_t o = 0; o < CG_METRICS_OPS; o++)
                for (size_t d = 0; d < CG_METRICS_DECISIONS; d++) {
                    uint64_t v = 0;
                    for (size_t t = 0; t < n; t++)
                        v += get(&threads[t]->reviews[p][k][o][d]);
                    if (v == 0)
                        continue;
                    TRY(cg_buf_appendf(out,
                                       "cellgate_admission_reviews_total{path=\"%s\",kind=\"%s\","
                                       "operation=\"%s\",decision=\"%s\"} %llu\n",
                                       path_names[p], kind_names[k], op_names[o], decision_names[d],
                                       (unsigned long long)v));
                }

    TRY(cg_buf_append_str(out, "# HELP cellgate_admission_duration_seconds Time to answer an "
                               "AdmissionReview, from the complete request to the response.\n"
                               "# TYPE cellgate_admission_duration_seconds histogram\n"));
    for (size_t p = 0; p < CG_METRICS_PATHS; p++) {
        uint64_t cum = 0, count = 0, sum = 0;
        for (size_t t = 0; t < n; t++) {
            count += get(&threads[t]->count[p]);
            sum += get(&threads[t]->sum_ns[p]);
        }
        for (size_t b = 0; b < CG_METRICS_BUCKETS; b++) {
            for (size_t t = 0; t < n; t++)
                cum += get(&threads[t]->buckets[p][b]);
            TRY(cg_buf_appendf(out,
                               "cellgate_admission_duration_seconds_bucket{path=\"%s\",le=\"%s\"} "
                               "%llu\n",
                               path_names[p], bucket_le[b], (unsigned long long)cum));
        }
        /* Counters are read one by one: keep +Inf >= every bucket. */
        if (count < cum)
            count = cum;
        TRY(cg_buf_appendf(out,
                           "cellgate_admission_duration_seconds_bucket{path=\"%s\",le=\"+Inf\"} "
                           "%llu\n"
                           "cellgate_admission_duration_seconds_sum{path=\"%s\"} %.9f\n"
                           "cellgate_admission_duration_seconds_count{path=\"%s\"} %llu\n",
                           path_names[p], (unsigned long long)count, path_names[p],
                           (double)sum / 1e9, path_names[p], (unsigned long long)count));
    }

    TRY(render_errors(threads, n, out));

    uint64_t conns = 0;
    for (size_t t = 0; t < n; t++)
        conns += get(&threads[t]->connections);
    TRY(cg_buf_appendf(
        out,
        "# HELP cellgate_policy_reloads_total Policy directory loads, by result.\n"
        "# TYPE cellgate_policy_reloads_total counter\n"
        "cellgate_policy_reloads_total{result=\"ok\"} %llu\n"
        "cellgate_policy_reloads_total{result=\"error\"} %llu\n"
        "# HELP cellgate_policies_loaded Policies in the set in use.\n"
        "# TYPE cellgate_policies_loaded gauge\n"
        "cellgate_policies_loaded %zu\n"
        "# HELP cellgate_tls_reloads_total Certificate and key loads, by result.\n"
        "# TYPE cellgate_tls_reloads_total counter\n"
        "cellgate_tls_reloads_total{result=\"ok\"} %llu\n"
        "cellgate_tls_reloads_total{result=\"error\"} %llu\n"
        "# HELP cellgate_open_connections TLS connections open on the admission port.\n"
        "# TYPE cellgate_open_connections gauge\n"
        "cellgate_open_connections %llu\n",
        g->policy_reloads_ok, g->policy_reloads_error, g->policies_loaded, g->tls_reloads_ok,
        g->tls_reloads_error, (unsigned long long)conns));
out:
    return st;
}
