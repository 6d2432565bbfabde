/* Metrics: per-thread counting, the scrape-time sum over threads, histogram buckets at
 * their bounds, label normalisation (bounded cardinality), the error-reason table and the
 * Prometheus text format line by line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/metrics.h"
#include "test_support.h"

static struct cg_review_outcome outcome(const char *kind, const char *op, const char *decision)
{
    struct cg_review_outcome o;
    memset(&o, 0, sizeof(o));
    o.http_status = strcmp(decision, "error") == 0 ? 400 : 200;
    o.kind = cg_str_from(kind);
    o.operation = cg_str_from(op);
    o.decision = decision;
    return o;
}

/* The value of the sample line that starts with `series ` (exact series), or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

/* A counter's value as an integer (-1 when absent): cmocka compares integers, and a negative
 * double converted to its unsigned type would be undefined. */
static long long count(const char *text, const char *series)
{
    return (long long)sample(text, series);
}

static char *render(struct cg_metrics **m, size_t n, const struct cg_metrics_global *g)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_metrics_render(m, n, g, &b), CG_OK);
    size_t len;
    return cg_buf_take(&b, &len);
}

static void test_sum_over_threads(void **state)
{
    struct cg_metrics *m[2];
    for (int i = 0; i < 2; i++) {
        m[i] = malloc(sizeof(**m));
        cg_metrics_init(m[i]);
    }
    struct cg_review_outcome pod = outcome("Pod", "CREATE", "patched");
    struct cg_review_outcome dep = outcome("Deployment", "UPDATE", "denied");
    cg_metrics_observe_review(m[0], CG_REVIEW_MUTATE, &pod, 40000);            /* 40 us */
    cg_metrics_observe_review(m[1], CG_REVIEW_MUTATE, &pod, 50000);            /* exactly 50 us */
    cg_metrics_observe_review(m[1], CG_REVIEW_MUTATE, &pod, 50001);            /* just above */
    cg_metrics_observe_review(m[0], CG_REVIEW_VALIDATE, &dep, 20000000000ull); /* 20 s */
    struct cg_metrics_global g = {.policy_reloads_ok = 2,
                                  .policy_reloads_error = 1,
                                  .tls_reloads_ok = 3,
                                  .tls_reloads_error = 4,
                                  .policies_loaded = 5};
    cg_metrics_set_connections(m[0], 7);
    cg_metrics_set_connections(m[1], 1);
    char *t = render(m, 2, &g);

    assert_int_equal(count(t, "cellgate_admission_reviews_total{path=\"/mutate\",kind=\"Pod\","
                              "operation=\"CREATE\",decision=\"patched\"}"),
                     3);
    assert_int_equal(count(t, "cellgate_admission_reviews_total{path=\"/validate\","
                              "kind=\"Deployment\",operation=\"UPDATE\",decision=\"denied\"}"),
                     1);
    /* Series that never counted are not exported. */
    assert_null(strstr(t, "decision=\"allowed\""));

    assert_int_equal(
        count(t, "cellgate_admission_duration_seconds_bucket{path=\"/mutate\",le=\"5e-05\"}"), 2);
    assert_int_equal(
        count(t, "cellgate_admission_duration_seconds_bucket{path=\"/mutate\",le=\"0.0001\"}"), 3);
    assert_int_equal(
        count(t, "cellgate_admission_duration_seconds_bucket{path=\"/mutate\",le=\"10\"}"), 3);
    assert_int_equal(
        count(t, "cellgate_admission_duration_seconds_bucket{path=\"/mutate\",le=\"+Inf\"}"), 3);
    assert_int_equal(count(t, "cellgate_admission_duration_seconds_count{path=\"/mutate\"}"), 3);
    double sum = sample(t, "cellgate_admission_duration_seconds_sum{path=\"/mutate\"}");
    assert_true(sum > 0.000140000 && sum < 0.000140002);
    /* 20 s is past the last bucket: only +Inf and count hold it. */
    assert_int_equal(
        count(t, "cellgate_admission_duration_seconds_bucket{path=\"/validate\",le=\"10\"}"), 0);
    assert_int_equal(
        count(t, "cellgate_admission_duration_seconds_bucket{path=\"/validate\",le=\"+Inf\"}"), 1);
    assert_int_equal(count(t, "cellgate_policy_reloads_total{result=\"ok\"}"), 2);
    assert_int_equal(count(t, "cellgate_policy_reloads_total{result=\"error\"}"), 1);
    assert_int_equal(count(t, "cellgate_policies_loaded"), 5);
    assert_int_equal(count(t, "cellgate_tls_reloads_total{result=\"ok\"}"), 3);
    assert_int_equal(count(t, "cellgate_tls_reloads_total{result=\"error\"}"), 4);
    assert_int_equal(count(t, "cellgate_open_connections"), 8);
    free(t);
    free(m[0]);
    free(m[1]);
}

static void test_buckets_cumulative(void **state)
{
    struct cg_metrics *m = malloc(sizeof(*m));
    cg_metrics_init(m);
    struct cg_review_outcome o = outcome("Pod", "CREATE", "allowed");
    /* One observation at every bucket bound: bucket i must read i + 1. */
    static const uint64_t bounds[] = {
        50000ull,     100000ull,     250000ull,     500000ull,     1000000ull,    2500000ull,
        5000000ull,   10000000ull,   25000000ull,   50000000ull,   100000000ull,  250000000ull,
        500000000ull, 1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull};
    for (size_t i = 0; i < 17; i++)
        cg_metrics_observe_review(m, CG_REVIEW_VALIDATE, &o, bounds[i]);
    struct cg_metrics_global g = {0};
    char *t = render(&m, 1, &g);
    uint64_t prev = 0;
    size_t buckets = 0;
    for (const char *p = strstr(t, "_bucket{path=\"/validate\""); p != NULL;
         p = strstr(p + 1, "_bucket{path=\"/validate\"")) {
        const char *sp = strchr(p, ' ');
        uint64_t v = strtoull(sp + 1, NULL, 10);
        assert_true(v >= prev);
        if (buckets < 17)
            assert_int_equal(v, buckets + 1);
        prev = v;
        buckets++;
    }
    assert_int_equal(buckets, 18); /* 17 bounds and +Inf */
    free(t);
    free(m);
}

static void test_labels_bounded(void **state)
{
    struct cg_metrics *m = malloc(sizeof(*m));
    cg_metrics_init(m);
    struct cg_review_outcome odd = outcome("ConfigMap", "PATCH", "weird");
    struct cg_review_outcome none = outcome("", "", "error");
    struct cg_review_outcome ev = outcome("Eviction", "CREATE", "denied");
    cg_metrics_observe_review(m, CG_REVIEW_VALIDATE, &odd, 1);
    cg_metrics_observe_review(m, CG_REVIEW_VALIDATE, &none, 1);
    cg_metrics_observe_review(m, CG_REVIEW_VALIDATE, &ev, 1);
    struct cg_metrics_global g = {0};
    char *t = render(&m, 1, &g);
    assert_int_equal(count(t, "cellgate_admission_reviews_total{path=\"/validate\","
                              "kind=\"other\",operation=\"unknown\",decision=\"other\"}"),
                     1);
    assert_int_equal(count(t, "cellgate_admission_reviews_total{path=\"/validate\","
                              "kind=\"unknown\",operation=\"unknown\",decision=\"error\"}"),
                     1);
    assert_int_equal(count(t, "cellgate_admission_reviews_total{path=\"/validate\","
                              "kind=\"Eviction\",operation=\"CREATE\",decision=\"denied\"}"),
                     1);
    assert_null(strstr(t, "ConfigMap"));
    free(t);
    free(m);
}

static void test_errors(void **state)
{
    struct cg_metrics *m[2];
    for (int i = 0; i < 2; i++) {
        m[i] = malloc(sizeof(**m));
        cg_metrics_init(m[i]);
    }
    cg_metrics_count_error(m[0], "malformed_json", 1);
    cg_metrics_count_error(m[0], "malformed_json", 2);
    cg_metrics_count_error(m[1], "malformed_json", 1);
    cg_metrics_count_error(m[1], "body_too_large", 5);
    cg_metrics_count_error(m[1], NULL, 1);
    cg_metrics_count_error(m[1], "quote\"back\\slash", 1);
    /* Fill thread 0's table: names past the capacity count as "other". */
    char name[32];
    for (int i = 0; i < CG_METRICS_REASONS + 5; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        cg_metrics_count_error(m[0], name, 1);
    }
    struct cg_metrics_global g = {0};
    char *t = render(m, 2, &g);
    assert_int_equal(count(t, "cellgate_admission_errors_total{reason=\"malformed_json\"}"), 4);
    assert_int_equal(count(t, "cellgate_admission_errors_total{reason=\"body_too_large\"}"), 5);
    assert_int_equal(count(t, "cellgate_admission_errors_total{reason=\"quote\\\"back\\\\slash\"}"),
                     1);
    /* Thread 0: malformed_json + r0..r29 named, "other" takes r30..r36 (7); thread 1: 1. */
    assert_int_equal(count(t, "cellgate_admission_errors_total{reason=\"r29\"}"), 1);
    assert_int_equal(count(t, "cellgate_admission_errors_total{reason=\"r30\"}"), -1);
    assert_int_equal(count(t, "cellgate_admission_errors_total{reason=\"other\"}"), 8);
    free(t);
    free(m[0]);
    free(m[1]);
}

/* Every line is a comment (# HELP / # TYPE) or `name{labels} value` / `name value`. */
static void test_format(void **state)
{
    struct cg_metrics *m = malloc(sizeof(*m));
    cg_metrics_init(m);
    struct cg_review_outcome o = outcome("Pod", "DELETE", "allowed");
    cg_metrics_observe_review(m, CG_REVIEW_VALIDATE, &o, 123456);
    cg_metrics_count_error(m, "empty_body", 1);
    struct cg_metrics_global g = {0};
    char *t = render(&m, 1, &g);
    size_t len = strlen(t);
    assert_true(len > 0 && t[len - 1] == '\n');
    int types = 0;
    for (char *line = strtok(t, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, "# TYPE ", 7) == 0) {
            types++;
            continue;
        }
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        assert_true(strncmp(line, "cellgate_", 9) == 0);
        char *sp = strrchr(line, ' ');
        assert_non_null(sp);
        char *end = NULL;
        strtod(sp + 1, &end);
        assert_true(end != sp + 1 && *end == '\0');
        char *brace = strchr(line, '{');
        if (brace != NULL && brace < sp)
            assert_true(sp[-1] == '}');
    }
    assert_int_equal(types, 7);
    free(t);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_over_threads), cmocka_unit_test(test_buckets_cumulative),
        cmocka_unit_test(test_labels_bounded),   cmocka_unit_test(test_errors),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
