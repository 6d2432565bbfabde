/* The informer: one thread that LISTs, then WATCHes from the list's resourceVersion, resumes
 * the watch from the last resourceVersion it saw when the server ends it, re-LISTs on 410
 * Gone, and backs off (capped, exponential, jittered) after failures. Stopping fires a cancel
 * that wakes the transfer in progress, and a condition variable that cuts a back-off wait. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "kube/kube.h"
#include "kube/kube_internal.h"

#define DEFAULT_BACKOFF_MIN_MS 200
#define DEFAULT_BACKOFF_MAX_MS 30000
/* A watch that ends cleanly sooner than this with nothing in it counts as a failure, so a
 * server (or proxy) that closes every watch at once is not hammered in a tight loop. */
#define MIN_HEALTHY_WATCH_MS 1000

struct cg_kube_informer {
    struct cg_kube_client *client;
    char *path, *label_selector, *field_selector, *name;
    unsigned page_limit;
    int watch_timeout_seconds;
    long backoff_min_ms, backoff_max_ms;
    struct cg_kube_informer_handlers h;
    void *ud;

    struct cg_kube_cancel *cancel;
    pthread_t thread;
    bool started, joined;
    unsigned seed; /* rand_r state of the jitter: this thread's only */

    pthread_mutex_t lock; /* stop, synced, stats; the condition below */
    pthread_cond_t cond;
    bool stop;
    struct cg_kube_informer_stats stats;
};

static char *dup_or_null(const char *s)
{
    return s ? cg_xstrdup(s) : NULL;
}

static void bump(struct cg_kube_informer *inf, uint64_t *counter, uint64_t n)
{
    pthread_mutex_lock(&inf->lock);
    *counter += n;
    pthread_mutex_unlock(&inf->lock);
}

static bool stopping(struct cg_kube_informer *inf)
{
    return cg_kube_cancel_fired(inf->cancel);
}

/* Waits the back-off for the failures-th consecutive failure: min * 2^(failures-1), capped,
 * then a random point in its upper half (so a fleet of restarted clients spreads out, and
 * the wait never collapses to nothing). Returns false when stopped meanwhile. */
static bool backoff(struct cg_kube_informer *inf, unsigned failures)
{
    long d = inf->backoff_min_ms;
    for (unsigned i = 1; i < failures && d < inf->backoff_max_ms; i++)
        d *= 2;
    if (d > inf->backoff_max_ms)
        d = inf->backoff_max_ms;
    long wait = d / 2 + (long)(rand_r(&inf->seed) % (unsigned)(d / 2 + 1));
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait / 1000;
    until.tv_nsec += (wait % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&inf->lock);
    while (!inf->stop)
        if (pthread_cond_timedwait(&inf->cond, &inf->lock, &until) != 0)
            break;
    bool go = !inf->stop;
    pthread_mutex_unlock(&inf->lock);
    return go;
}

static void log_failure(struct cg_kube_informer *inf, const char *what, const struct cg_err *err,
                        enum cg_kube_reason reason, unsigned failures)
{
    struct cg_log_line l;
    cg_log_begin(&l, failures > 3 ? CG_LOG_WARN : CG_LOG_INFO, what);
    cg_log_str(&l, "informer", inf->name);
    cg_log_str(&l, "reason", cg_kube_reason_str(reason));
    cg_log_str(&l, "error", err->msg);
    cg_log_int(&l, "failures", failures);
    cg_log_end(&l);
}

static bool on_item(void *ud, const char *json, size_t len)
{
    struct cg_kube_informer *inf = ud;
    if (stopping(inf))
        return false;
    inf->h.object(inf->ud, CG_KUBE_ADDED, json, len);
    bump(inf, &inf->stats.items, 1);
    return true;
}

static bool on_event(void *ud, enum cg_kube_watch_type type, const char *json, size_t len)
{
    struct cg_kube_informer *inf = ud;
    if (stopping(inf))
        return false;
    inf->h.object(inf->ud, type, json, len);
    bump(inf, &inf->stats.events, 1);
    return true;
}

/* One LIST into the handlers. */
static enum cg_status do_list(struct cg_kube_informer *inf, char *rv, struct cg_kube_response *resp,
                              struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_kube_list_options lo = {.label_selector = inf->label_selector,
                                      .field_selector = inf->field_selector,
                                      .limit = inf->page_limit,
                                      .cancel = inf->cancel};
    struct cg_kube_list_result res;
    pthread_mutex_lock(&inf->lock);
    if (inf->stats.lists++ > 0)
        inf->stats.relists++;
    pthread_mutex_unlock(&inf->lock);
    inf->h.replace_begin(inf->ud);
    st = cg_kube_list(inf->client, inf->path, &lo, on_item, inf, &res, resp, err);
    if (st != CG_OK)
        return st;
    inf->h.replace_end(inf->ud);
    memcpy(rv, res.resource_version, CG_KUBE_RV_MAX);
    pthread_mutex_lock(&inf->lock);
    bool first = !inf->stats.synced;
    pthread_mutex_unlock(&inf->lock);
    /* The consumer hears first: whoever sees the informer synced sees its consumer synced. */
    if (first && inf->h.synced != NULL)
        inf->h.synced(inf->ud);
    pthread_mutex_lock(&inf->lock);
    inf->stats.synced = true;
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->lock);
    return CG_OK;
}

static void *run(void *arg)
{
    struct cg_kube_informer *inf = arg;
    struct cg_kube_response resp;
    struct cg_err err;
    char rv[CG_KUBE_RV_MAX] = "";
    bool need_list = true;
    unsigned failures = 0;
    cg_kube_response_init(&resp);
    while (!stopping(inf)) {
        if (need_list) {
            enum cg_status st = do_list(inf, rv, &resp, &err);
            if (stopping(inf))
                break;
            if (st != CG_OK) {
                failures++;
                bump(inf, &inf->stats.failures, 1);
                log_failure(inf, "kube: list failed", &err, resp.reason, failures);
                /* An expired continue token: list again at once, but only once in a row. */
                if (resp.reason == CG_KUBE_GONE && failures == 1)
                    continue;
                if (!backoff(inf, failures))
                    break;
                continue;
            }
            need_list = false;
            failures = 0;
        }
        struct cg_kube_watch_options wo = {.label_selector = inf->label_selector,
                                           .field_selector = inf->field_selector,
                                           .timeout_seconds = inf->watch_timeout_seconds,
                                           .cancel = inf->cancel};
        struct cg_kube_watch_result wr;
        bump(inf, &inf->stats.watches, 1);
        int64_t t0 = cg_mono_ms();
        enum cg_status st =
            cg_kube_watch(inf->client, inf->path, &wo, rv, on_event, inf, &wr, &resp, &err);
        if (stopping(inf))
            break;
        if (st == CG_OK) {
            if (wr.events + wr.bookmarks > 0 || cg_mono_ms() - t0 >= MIN_HEALTHY_WATCH_MS) {
                failures = 0;
                continue; /* the server's timeoutSeconds: resume from rv */
            }
            cg_err_set(&err, CG_EIO, "the watch ended at once, empty");
        } else if (resp.reason == CG_KUBE_GONE) {
            /* rv is older than what the server keeps: only a new LIST can catch up. */
            need_list = true;
            rv[0] = '\0';
            continue;
        }
        failures++;
        pthread_mutex_lock(&inf->lock);
        inf->stats.failures++;
        inf->stats.reconnects++;
        pthread_mutex_unlock(&inf->lock);
        log_failure(inf, "kube: watch failed", &err, resp.reason, failures);
        if (rv[0] == '\0')
            need_list = true;
        if (!backoff(inf, failures))
            break;
    }
    cg_kube_response_dispose(&resp);
    return NULL;
}

enum cg_status cg_kube_informer_create(const struct cg_kube_informer_config *config,
                                       struct cg_kube_informer **out, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_kube_informer *inf = NULL;
    *out = NULL;
    if (config == NULL || config->client == NULL || config->path == NULL ||
        config->handlers.replace_begin == NULL || config->handlers.object == NULL ||
        config->handlers.replace_end == NULL) {
        st = cg_err_set(err, CG_EINVAL,
                        "informer: client, path and the replace_begin, object and replace_end "
                        "handlers are required");
        goto out;
    }
    inf = cg_xcalloc(1, sizeof(*inf));
    inf->client = config->client;
    inf->path = cg_xstrdup(config->path);
    inf->label_selector = dup_or_null(config->label_selector);
    inf->field_selector = dup_or_null(config->field_selector);
    inf->name = cg_xstrdup(config->name ? config->name : config->path);
    inf->page_limit = config->page_limit;
    inf->watch_timeout_seconds = config->watch_timeout_seconds;
    inf->backoff_min_ms =
        config->backoff_min_ms > 0 ? config->backoff_min_ms : DEFAULT_BACKOFF_MIN_MS;
    inf->backoff_max_ms =
        config->backoff_max_ms > 0 ? config->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    if (inf->backoff_max_ms < inf->backoff_min_ms)
        inf->backoff_max_ms = inf->backoff_min_ms;
    inf->h = config->handlers;
    inf->ud = config->ud;
    inf->seed = (unsigned)cg_mono_ms() ^ (unsigned)(uintptr_t)inf;
    inf->cancel = cg_kube_cancel_create();
    pthread_mutex_init(&inf->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&inf->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&inf->thread, NULL, run, inf) != 0) {
        st = cg_err_set(err, CG_EINTERNAL, "informer %s: cannot start its thread", inf->name);
        goto out;
    }
    inf->started = true;
    *out = inf;
    inf = NULL;
out:
    cg_kube_informer_destroy(inf);
    return st;
}

void cg_kube_informer_stop(struct cg_kube_informer *inf)
{
    if (inf == NULL || inf->joined)
        return;
    pthread_mutex_lock(&inf->lock);
    inf->stop = true;
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->lock);
    cg_kube_cancel_fire(inf->cancel);
    if (inf->started)
        pthread_join(inf->thread, NULL);
    inf->joined = true;
}

void cg_kube_informer_destroy(struct cg_kube_informer *inf)
{
    if (inf == NULL)
        return;
    cg_kube_informer_stop(inf);
    pthread_cond_destroy(&inf->cond);
    pthread_mutex_destroy(&inf->lock);
    cg_kube_cancel_destroy(inf->cancel);
    free(inf->path);
    free(inf->label_selector);
    free(inf->field_selector);
    free(inf->name);
    free(inf);
}

bool cg_kube_informer_synced(struct cg_kube_informer *inf)
{
    pthread_mutex_lock(&inf->lock);
    bool s = inf->stats.synced;
    pthread_mutex_unlock(&inf->lock);
    return s;
}

bool cg_kube_informer_wait_synced(struct cg_kube_informer *inf, long timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&inf->lock);
    while (!inf->stats.synced && !inf->stop)
        if (pthread_cond_timedwait(&inf->cond, &inf->lock, &until) != 0)
            break;
    bool s = inf->stats.synced;
    pthread_mutex_unlock(&inf->lock);
    return s;
}

void cg_kube_informer_stats(struct cg_kube_informer *inf, struct cg_kube_informer_stats *out)
{
    pthread_mutex_lock(&inf->lock);
    *out = inf->stats;
    pthread_mutex_unlock(&inf->lock);
}
