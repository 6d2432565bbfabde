/* The external check runner (see checks.h). */
#include "controller/checks.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/log.h"
#include "base/mem.h"

#define MAX_BODY (256 * 1024)
#define MESSAGE_MAX 256

/* What a run needs of a policy check, owned (the policy set may be swapped meanwhile). */
struct job {
    char *key; /* "namespace/name" */
    size_t ns_len;
    enum cg_check_kind kind;
    char *name, *url, *query, *op;
    int expect_status;
    double threshold;
    bool running;
};

struct result {
    char *key, *check;
    bool ok;
    int64_t at;
    char message[MESSAGE_MAX];
};

struct counter {
    char *check;
    uint64_t pass, fail;
};

struct cg_checks {
    char *prometheus_url;
    long timeout_ms;
    void (*on_result)(void *ud, struct cg_str ns, struct cg_str name);
    void *ud;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct job *jobs;
    size_t n_jobs, cap_jobs;
    struct result *results;
    size_t n_results, cap_results;
    struct counter *counters;
    size_t n_counters, cap_counters;
    bool stopping;
    atomic_bool abort_runs;
    pthread_t thread;
};

static char *key_of(struct cg_str ns, struct cg_str name, size_t *ns_len)
{
    char *k = cg_xmalloc(ns.n + name.n + 2);
    memcpy(k, ns.p, ns.n);
    k[ns.n] = '/';
    memcpy(k + ns.n + 1, name.p, name.n);
    k[ns.n + 1 + name.n] = '\0';
    if (ns_len != NULL)
        *ns_len = ns.n;
    return k;
}

static bool key_is(const char *key, struct cg_str ns, struct cg_str name)
{
    return strlen(key) == ns.n + 1 + name.n && memcmp(key, ns.p, ns.n) == 0 && key[ns.n] == '/' &&
           memcmp(key + ns.n + 1, name.p, name.n) == 0;
}

static char *dup_or_null(const char *s)
{
    return s ? cg_xstrdup(s) : NULL;
}

static void job_free(struct job *j)
{
    free(j->key);
    free(j->name);
    free(j->url);
    free(j->query);
    free(j->op);
}

/* ---- running one check ---- */

struct body {
    char *data;
    size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct body *b = ud;
    size_t add = size * n;
    if (b->len + add > MAX_BODY)
        return 0; /* too big: the transfer fails */
    b->data = cg_xrealloc(b->data, b->len + add + 1);
    memcpy(b->data + b->len, p, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    const struct cg_checks *k = ud;
    return atomic_load(&((struct cg_checks *)k)->abort_runs) ? 1 : 0;
}

/* GET url: the status in *code and the body; false with a message on a transport failure. */
static bool fetch(const struct cg_checks *k, const char *url, long *code, struct body *b,
                  char *message, size_t cap)
{
    CURL *h = curl_easy_init();
    if (h == NULL) {
        snprintf(message, cap, "libcurl: no handle");
        return false;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, k->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, k->timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)k);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "cellgate-controller/0.1");
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
    else
        snprintf(message, cap, "GET %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    curl_easy_cleanup(h);
    return rc == CURLE_OK;
}

static bool compare(double v, const char *op, double t)
{
    if (strcmp(op, "<") == 0)
        return v < t;
    if (strcmp(op, "<=") == 0)
        return v <= t;
    if (strcmp(op, ">") == 0)
        return v > t;
    if (strcmp(op, ">=") == 0)
        return v >= t;
    return v == t; /* "==" */
}

/* The value of the first sample of a Prometheus instant query answer. */
static bool prom_value(const char *text, size_t len, double *out, char *message, size_t cap)
{
    json_error_t je;
    json_t *doc = json_loadb(text, len, 0, &je);
    bool ok = false;
    json_t *data = json_object_get(doc, "data");
    const char *type = json_string_value(json_object_get(data, "resultType"));
    json_t *res = json_object_get(data, "result"), *pair = NULL;
    if (doc == NULL || type == NULL) {
        snprintf(message, cap, "not a Prometheus query answer");
        goto out;
    }
    if (strcmp(type, "scalar") == 0)
        pair = res;
    else if (strcmp(type, "vector") == 0)
        pair = json_object_get(json_array_get(res, 0), "value");
    if (pair == NULL) {
        snprintf(message, cap, "the query returned no sample (%s)", type);
        goto out;
    }
    const char *v = json_string_value(json_array_get(pair, 1));
    char *end = NULL;
    if (v != NULL)
        *out = strtod(v, &end);
    if (v == NULL || end == v || *end != '\0') {
        snprintf(message, cap, "the sample is not a number");
        goto out;
    }
    ok = true;
out:
    json_decref(doc);
    return ok;
}

static void run_job(const struct cg_checks *k, const struct job *j, bool *ok, char *message,
                    size_t cap)
{
    struct body b = {NULL, 0};
    long code = 0;
    *ok = false;
    if (j->kind == CG_CHECK_HTTP) {
        if (fetch(k, j->url, &code, &b, message, cap)) {
            int want = j->expect_status ? j->expect_status : 200;
            *ok = code == want;
            snprintf(message, cap, "GET %s: %ld (want %d)", j->url, code, want);
        }
    } else if (j->kind == CG_CHECK_PROMETHEUS) {
        if (k->prometheus_url == NULL || k->prometheus_url[0] == '\0') {
            snprintf(message, cap, "no --prometheus-url: cannot run prometheus check %s", j->name);
            goto out;
        }
        char *q = curl_easy_escape(NULL, j->query, 0);
        size_t n = strlen(k->prometheus_url) + strlen(q ? q : "") + 32;
        char *url = cg_xmalloc(n);
        snprintf(url, n, "%s/api/v1/query?query=%s", k->prometheus_url, q ? q : "");
        curl_free(q);
        if (fetch(k, url, &code, &b, message, cap)) {
            double v = 0;
            if (code != 200)
                snprintf(message, cap, "GET %s: %ld", url, code);
            else if (prom_value(b.data ? b.data : "", b.len, &v, message, cap)) {
                *ok = compare(v, j->op, j->threshold);
                snprintf(message, cap, "%s = %g, want %s %g", j->query, v, j->op, j->threshold);
            }
        }
        free(url);
    } else {
        snprintf(message, cap, "check %s is not an external check", j->name);
    }
out:
    free(b.data);
}

void cg_checks_run_one(const struct cg_checks *c, const struct cg_check *check, bool *ok,
                       char *message, size_t cap)
{
    struct job j = {.kind = check->kind,
                    .name = check->name,
                    .url = check->url,
                    .query = check->query,
                    .op = check->op,
                    .expect_status = check->expect_status,
                    .threshold = check->threshold};
    run_job(c, &j, ok, message, cap);
}

/* ---- the thread ---- */

static void store(struct cg_checks *c, const struct job *j, bool ok, const char *message)
{
    struct result *r = NULL;
    for (size_t i = 0; i < c->n_results && r == NULL; i++)
        if (strcmp(c->results[i].key, j->key) == 0 && strcmp(c->results[i].check, j->name) == 0)
            r = &c->results[i];
    if (r == NULL) {
        if (c->n_results == c->cap_results) {
            c->cap_results = c->cap_results ? c->cap_results * 2 : 16;
            c->results = cg_xrealloc(c->results, c->cap_results * sizeof(*c->results));
        }
        r = &c->results[c->n_results++];
        r->key = cg_xstrdup(j->key);
        r->check = cg_xstrdup(j->name);
    }
    r->ok = ok;
    r->at = (int64_t)time(NULL);
    snprintf(r->message, sizeof(r->message), "%s", message);
    struct counter *k = NULL;
    for (size_t i = 0; i < c->n_counters && k == NULL; i++)
        if (strcmp(c->counters[i].check, j->name) == 0)
            k = &c->counters[i];
    if (k == NULL) {
        if (c->n_counters == c->cap_counters) {
            c->cap_counters = c->cap_counters ? c->cap_counters * 2 : 8;
            c->counters = cg_xrealloc(c->counters, c->cap_counters * sizeof(*c->counters));
        }
        k = &c->counters[c->n_counters++];
        *k = (struct counter){cg_xstrdup(j->name), 0, 0};
    }
    if (ok)
        k->pass++;
    else
        k->fail++;
}

static void *runner(void *arg)
{
    struct cg_checks *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        if (c->n_jobs == 0) {
            pthread_cond_wait(&c->wake, &c->lock);
            continue;
        }
        c->jobs[0].running = true;
        struct job j = c->jobs[0]; /* stays queued (dedup) while it runs */
        pthread_mutex_unlock(&c->lock);
        bool ok;
        char message[MESSAGE_MAX] = "";
        run_job(c, &j, &ok, message, sizeof(message));
        struct cg_log_line l;
        cg_log_begin(&l, ok ? CG_LOG_INFO : CG_LOG_WARN, "check run");
        cg_log_str(&l, "deployment", j.key);
        cg_log_str(&l, "check", j.name);
        cg_log_bool(&l, "ok", ok);
        cg_log_str(&l, "message", message);
        cg_log_end(&l);
        pthread_mutex_lock(&c->lock);
        if (c->stopping)
            break;
        store(c, &j, ok, message);
        /* the key outlives the job for the callback */
        char *key = c->jobs[0].key;
        size_t ns_len = c->jobs[0].ns_len;
        c->jobs[0].key = NULL;
        job_free(&c->jobs[0]);
        memmove(c->jobs, c->jobs + 1, (c->n_jobs - 1) * sizeof(*c->jobs));
        c->n_jobs--;
        pthread_mutex_unlock(&c->lock);
        if (c->on_result != NULL)
            c->on_result(c->ud, (struct cg_str){key, ns_len}, cg_str_from(key + ns_len + 1));
        free(key);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- life cycle and the public side ---- */

struct cg_checks *cg_checks_create(const struct cg_checks_config *cfg)
{
    struct cg_checks *c = cg_xcalloc(1, sizeof(*c));
    c->prometheus_url = dup_or_null(cfg->prometheus_url);
    /* a trailing '/' would double in the query path */
    size_t n = c->prometheus_url ? strlen(c->prometheus_url) : 0;
    while (n > 0 && c->prometheus_url[n - 1] == '/')
        c->prometheus_url[--n] = '\0';
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
    c->on_result = cfg->on_result;
    c->ud = cfg->ud;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    atomic_init(&c->abort_runs, false);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (pthread_create(&c->thread, NULL, runner, c) != 0)
        abort(); /* no thread: as out of memory */
    return c;
}

void cg_checks_destroy(struct cg_checks *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    atomic_store(&c->abort_runs, true);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    for (size_t i = 0; i < c->n_jobs; i++)
        job_free(&c->jobs[i]);
    free(c->jobs);
    for (size_t i = 0; i < c->n_results; i++) {
        free(c->results[i].key);
        free(c->results[i].check);
    }
    free(c->results);
    for (size_t i = 0; i < c->n_counters; i++)
        free(c->counters[i].check);
    free(c->counters);
    free(c->prometheus_url);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    curl_global_cleanup();
    free(c);
}

void cg_checks_submit(struct cg_checks *c, struct cg_str ns, struct cg_str name,
                      const struct cg_check *check)
{
    if (check->kind != CG_CHECK_HTTP && check->kind != CG_CHECK_PROMETHEUS)
        return;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n_jobs; i++) {
        if (key_is(c->jobs[i].key, ns, name) && strcmp(c->jobs[i].name, check->name) == 0) {
            pthread_mutex_unlock(&c->lock);
            return;
        }
    }
    if (c->n_jobs == c->cap_jobs) {
        c->cap_jobs = c->cap_jobs ? c->cap_jobs * 2 : 16;
        c->jobs = cg_xrealloc(c->jobs, c->cap_jobs * sizeof(*c->jobs));
    }
    struct job *j = &c->jobs[c->n_jobs++];
    *j = (struct job){.kind = check->kind,
                      .name = cg_xstrdup(check->name),
                      .url = dup_or_null(check->url),
                      .query = dup_or_null(check->query),
                      .op = dup_or_null(check->op),
                      .expect_status = check->expect_status,
                      .threshold = check->threshold};
    j->key = key_of(ns, name, &j->ns_len);
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

size_t cg_checks_results(struct cg_checks *c, struct cg_str ns, struct cg_str name,
                         cg_checks_result_fn fn, void *ud)
{
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n_results; i++) {
        const struct result *r = &c->results[i];
        if (key_is(r->key, ns, name)) {
            fn(ud, r->check, r->ok, r->at, r->message);
            n++;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

void cg_checks_forget(struct cg_checks *c, struct cg_str ns, struct cg_str name)
{
    pthread_mutex_lock(&c->lock);
    size_t k = 0;
    for (size_t i = 0; i < c->n_results; i++) {
        if (key_is(c->results[i].key, ns, name)) {
            free(c->results[i].key);
            free(c->results[i].check);
        } else {
            c->results[k++] = c->results[i];
        }
    }
    c->n_results = k;
    pthread_mutex_unlock(&c->lock);
}

void cg_checks_metrics(struct cg_checks *c, struct cg_buf *out)
{
    cg_buf_append_str(out, "# HELP cellgate_checks_total External check runs by check and "
                           "result.\n# TYPE cellgate_checks_total counter\n");
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n_counters; i++) {
        const struct counter *k = &c->counters[i];
        cg_buf_append_str(out, "cellgate_checks_total{check=");
        cg_buf_append_json_string(out, k->check, strlen(k->check));
        cg_buf_appendf(out, ",result=\"pass\"} %llu\n", (unsigned long long)k->pass);
        cg_buf_append_str(out, "cellgate_checks_total{check=");
        cg_buf_append_json_string(out, k->check, strlen(k->check));
        cg_buf_appendf(out, ",result=\"fail\"} %llu\n", (unsigned long long)k->fail);
    }
    pthread_mutex_unlock(&c->lock);
}
