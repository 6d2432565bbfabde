#include "controller/controller.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/names.h"
#include "base/options.h"
#include "controller/httpd.h"
#include "controller/leader.h"
#include "kube/kube.h"
#include "policy/store.h"

/* ---- flags ---- */

#define OFF(field) offsetof(struct cg_controller_config, field)

static const struct cg_option opts[] = {
    {"kubeconfig", "CELLGATE_KUBECONFIG", "", "FILE", CG_OPT_STR, OFF(kubeconfig), 0, 0,
     "kubeconfig to reach the API server; empty: the pod's service account (in-cluster)"},
    {"policies", "CELLGATE_POLICIES", NULL, "DIR", CG_OPT_STR, OFF(policies), 0, 0,
     "policy directory (*.yaml, recursive), re-read when it changes"},
    {"metrics-listen", "CELLGATE_METRICS_LISTEN", "127.0.0.1:9091", "ADDR", CG_OPT_STR,
     OFF(metrics_listen), 0, 0, "plain HTTP address for /metrics, /healthz, /readyz; off: none"},
    {"lease-namespace", "CELLGATE_LEASE_NAMESPACE", "cellgate-system", "NS", CG_OPT_STR,
     OFF(lease_namespace), 0, 0, "namespace of the leader-election Lease"},
    {"lease-name", "CELLGATE_LEASE_NAME", "cellgate-controller", "NAME", CG_OPT_STR,
     OFF(lease_name), 0, 0, "name of the leader-election Lease"},
    {"identity", "CELLGATE_IDENTITY", "", "NAME", CG_OPT_STR, OFF(identity), 0, 0,
     "this replica's name in the Lease; empty: the host name (the pod's name)"},
    {"lease-seconds", "CELLGATE_LEASE_SECONDS", "15", "SECONDS", CG_OPT_LONG, OFF(lease_seconds), 3,
     300, "lease duration: a standby takes over this long after the leader was last seen"},
    {"prometheus-url", "CELLGATE_PROMETHEUS_URL", "", "URL", CG_OPT_STR, OFF(prometheus_url), 0, 0,
     "Prometheus base URL for the policies' prometheus checks; empty: such checks fail"},
    {"check-timeout", "CELLGATE_CHECK_TIMEOUT", "10", "SECONDS", CG_OPT_LONG,
     OFF(check_timeout_seconds), 1, 300, "time bound of one http or prometheus check run"},
    {"log-level", "CELLGATE_LOG_LEVEL", "info", "LEVEL", CG_OPT_LEVEL, OFF(log_level), 0, 0,
     "debug, info, warn or error"},
};

static const struct cg_options table = {opts, sizeof(opts) / sizeof(opts[0])};

void cg_controller_config_init(struct cg_controller_config *c)
{
    memset(c, 0, sizeof(*c));
    cg_options_init(&table, c);
}

void cg_controller_config_dispose(struct cg_controller_config *c)
{
    cg_options_dispose(&table, c);
}

enum cg_status cg_controller_config_parse(struct cg_controller_config *c, int argc,
                                          char *const *argv, char *const *envp, struct cg_err *err)
{
    return cg_options_parse(&table, c, &c->help, argc, argv, envp, err);
}

enum cg_status cg_controller_config_usage(const char *prog, struct cg_buf *out)
{
    enum cg_status st = cg_buf_appendf(
        out,
        "Usage: %s --policies DIR [options]\n\n"
        "cellgate controller: advances each release of a covered Deployment group by group, only\n"
        "when the policy's checks pass, and drains traffic from a pod before it goes. One of its\n"
        "replicas leads (a coordination.k8s.io Lease); the others stand by.\n"
        "SIGHUP re-reads the policies; SIGTERM gives the lease up and exits.\n\n"
        "Options (each also read from the environment variable shown; flags win):\n",
        prog);
    if (st == CG_OK)
        st = cg_options_usage(&table, out);
    return st;
}

/* ---- the controller ---- */

/* A Deployment waiting to be reconciled: "namespace/name"; due (monotonic ms) for a timed
 * requeue. */
struct queued {
    char *key;
    size_t ns_len;
    int64_t due;
};

struct watch {
    const char *resource, *path, *label_selector;
    struct cg_objstore *store;
    struct cg_kube_informer *informer;
    struct cg_controller *ctrl;
};

enum { W_DEPLOYMENTS, W_REPLICASETS, W_PODS, W_ENDPOINTSLICES, N_WATCHES };

struct cg_controller {
    const struct cg_controller_config *cfg;
    struct cg_controller_driver driver;
    struct cg_kube_config *kcfg;
    struct cg_kube_client *client;
    struct cg_policy_store policies;
    struct watch watches[N_WATCHES];
    struct cg_controller_caches caches;
    struct cg_leader *leader;
    struct cg_httpd *httpd;
    char identity[CG_KUBE_HOLDER_MAX];

    pthread_mutex_t lock; /* the queue, stopping and able_changes */
    pthread_cond_t wake;
    uint64_t able_changes; /* bumped when leadership is won or a cache synced */
    struct queued *queue;
    size_t n_queue, cap_queue;
    struct queued *later; /* timed requeues, any order */
    size_t n_later, cap_later;
    bool stopping;
    pthread_t worker;
    bool worker_started;
    _Atomic unsigned long long reconciles;
};

static void queue_push(struct cg_controller *c, struct cg_str ns, struct cg_str name)
{
    char key[512];
    if (ns.n + 1 + name.n >= sizeof(key))
        return;
    int n = snprintf(key, sizeof(key), "%.*s/%.*s", (int)ns.n, ns.p, (int)name.n, name.p);
    pthread_mutex_lock(&c->lock);
    bool dup = false;
    for (size_t i = 0; i < c->n_queue && !dup; i++)
        dup = strcmp(c->queue[i].key, key) == 0;
    if (!dup) {
        if (c->n_queue == c->cap_queue) {
            c->cap_queue = c->cap_queue ? c->cap_queue * 2 : 64;
            c->queue = cg_xrealloc(c->queue, c->cap_queue * sizeof(*c->queue));
        }
        c->queue[c->n_queue++] = (struct queued){cg_xstrndup(key, (size_t)n), ns.n, 0};
        pthread_cond_signal(&c->wake);
    }
    pthread_mutex_unlock(&c->lock);
}

void cg_controller_enqueue(struct cg_controller *c, struct cg_str ns, struct cg_str name)
{
    queue_push(c, ns, name);
}

/* Under the lock: key again at due, unless it is due earlier already. Takes key. */
static void later_push(struct cg_controller *c, char *key, size_t ns_len, int64_t due)
{
    for (size_t i = 0; i < c->n_later; i++) {
        if (strcmp(c->later[i].key, key) == 0) {
            if (due < c->later[i].due)
                c->later[i].due = due;
            free(key);
            return;
        }
    }
    if (c->n_later == c->cap_later) {
        c->cap_later = c->cap_later ? c->cap_later * 2 : 64;
        c->later = cg_xrealloc(c->later, c->cap_later * sizeof(*c->later));
    }
    c->later[c->n_later++] = (struct queued){key, ns_len, due};
}

/* Under the lock: moves the timed requeues that are due into the queue; returns the earliest
 * due time left (INT64_MAX: none). */
static int64_t later_release(struct cg_controller *c, int64_t now)
{
    int64_t next = INT64_MAX;
    size_t k = 0;
    for (size_t i = 0; i < c->n_later; i++) {
        struct queued q = c->later[i];
        if (q.due > now) {
            next = q.due < next ? q.due : next;
            c->later[k++] = q;
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < c->n_queue && !dup; j++)
            dup = strcmp(c->queue[j].key, q.key) == 0;
        if (dup) {
            free(q.key);
            continue;
        }
        if (c->n_queue == c->cap_queue) {
            c->cap_queue = c->cap_queue ? c->cap_queue * 2 : 64;
            c->queue = cg_xrealloc(c->queue, c->cap_queue * sizeof(*c->queue));
        }
        c->queue[c->n_queue++] = (struct queued){q.key, q.ns_len, 0};
    }
    c->n_later = k;
    return next;
}

/* ---- from a changed object to the Deployment it belongs to ---- */

struct by_uid {
    struct cg_str uid;
    struct cg_objstore_meta meta; /* of the match; strings into copy */
    char copy[1024];
    bool found;
};

static bool match_uid(void *ud, const char *json, size_t len, struct cg_str uid)
{
    struct by_uid *b = ud;
    if (!cg_str_eq(uid, b->uid))
        return true;
    /* The text is only borrowed: copy the three strings the caller needs. */
    struct cg_objstore_meta m;
    if (cg_objstore_meta_decode(json, len, &m, NULL) == CG_OK &&
        m.ns.n + m.name.n + m.owner_uid.n + 3 <= sizeof(b->copy)) {
        char *p = b->copy;
        const struct cg_str parts[3] = {m.ns, m.name, m.owner_uid};
        struct cg_str *outs[3] = {&b->meta.ns, &b->meta.name, &b->meta.owner_uid};
        for (int i = 0; i < 3; i++) {
            if (parts[i].n > 0)
                memcpy(p, parts[i].p, parts[i].n);
            *outs[i] = (struct cg_str){p, parts[i].n};
            p += parts[i].n + 1;
        }
        b->found = true;
    }
    return false;
}

/* The Deployment whose uid is uid: enqueue it. */
static void enqueue_deployment_uid(struct cg_controller *c, struct cg_str ns, struct cg_str uid)
{
    struct by_uid b = {.uid = uid};
    cg_objstore_each(c->caches.deployments, ns, CG_STR_NULL, match_uid, &b);
    if (b.found)
        queue_push(c, b.meta.ns, b.meta.name);
}

struct ns_visit {
    struct cg_controller *c;
};

static bool enqueue_each(void *ud, const char *json, size_t len, struct cg_str uid)
{
    struct ns_visit *v = ud;
    struct cg_objstore_meta m;
    if (cg_objstore_meta_decode(json, len, &m, NULL) == CG_OK)
        queue_push(v->c, m.ns, m.name);
    return true;
}

static void on_change(void *ud, enum cg_kube_watch_type type, struct cg_str ns, struct cg_str name,
                      struct cg_str owner_uid)
{
    struct watch *w = ud;
    struct cg_controller *c = w->ctrl;
    if (w == &c->watches[W_DEPLOYMENTS]) {
        queue_push(c, ns, name);
    } else if (w == &c->watches[W_REPLICASETS]) {
        if (owner_uid.n > 0)
            enqueue_deployment_uid(c, ns, owner_uid);
    } else if (w == &c->watches[W_PODS]) {
        /* pod -> its ReplicaSet -> that ReplicaSet's Deployment */
        struct by_uid rs = {.uid = owner_uid};
        if (owner_uid.n > 0)
            cg_objstore_each(c->caches.replicasets, ns, CG_STR_NULL, match_uid, &rs);
        if (rs.found && rs.meta.owner_uid.n > 0)
            enqueue_deployment_uid(c, ns, rs.meta.owner_uid);
    } else {
        /* An EndpointSlice names pods, not owners: every Deployment of its namespace looks. */
        struct ns_visit v = {c};
        cg_objstore_each(c->caches.deployments, ns, CG_STR_NULL, enqueue_each, &v);
    }
}

/* ---- informer glue ---- */

static void on_replace_begin(void *ud)
{
    struct watch *w = ud;
    cg_objstore_replace_begin(w->store);
}

static void on_object(void *ud, enum cg_kube_watch_type type, const char *json, size_t len)
{
    struct watch *w = ud;
    cg_objstore_apply(w->store, type, json, len);
}

static void on_replace_end(void *ud)
{
    struct watch *w = ud;
    cg_objstore_replace_end(w->store);
}

/* Leadership won or a cache synced: the worker may be able to reconcile now. */
static void able_changed(struct cg_controller *c)
{
    pthread_mutex_lock(&c->lock);
    c->able_changes++;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

static void on_synced(void *ud)
{
    struct watch *w = ud;
    cg_objstore_set_synced(w->store, true);
    able_changed(w->ctrl);
    struct cg_objstore_stats st;
    cg_objstore_stats(w->store, &st);
    struct cg_log_line l;
    cg_log_begin(&l, CG_LOG_INFO, "cache synced");
    cg_log_str(&l, "resource", w->resource);
    cg_log_int(&l, "objects", (int64_t)st.objects);
    cg_log_end(&l);
}

/* ---- the worker: reconciles while leading ---- */

static void requeue_all(struct cg_controller *c)
{
    struct ns_visit v = {c};
    cg_objstore_each(c->caches.deployments, CG_STR_NULL, CG_STR_NULL, enqueue_each, &v);
}

static void on_start_leading(void *ud)
{
    struct cg_controller *c = ud;
    requeue_all(c); /* a new leader looks at everything once: state lives in the cluster */
    able_changed(c);
}

static void on_stop_leading(void *ud)
{
    (void)ud; /* the worker checks cg_leader_is_leading before each reconcile */
}

static bool caches_synced(struct cg_controller *c)
{
    for (int i = 0; i < N_WATCHES; i++)
        if (!cg_objstore_synced(c->watches[i].store))
            return false;
    return true;
}

static void wait_until(struct cg_controller *c, int64_t due_ms)
{
    /* pthread_cond_timedwait takes CLOCK_REALTIME: convert the monotonic deadline */
    int64_t wait = due_ms - cg_mono_ms();
    if (wait < 1)
        wait = 1;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait / 1000;
    until.tv_nsec += (wait % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&c->wake, &c->lock, &until);
}

static void *worker_main(void *arg)
{
    struct cg_controller *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        int64_t next = later_release(c, cg_mono_ms());
        uint64_t changes = c->able_changes;
        /* The stores are read without the queue's lock: their change callbacks take it while
         * holding a store's lock (store -> queue is the one lock order). */
        pthread_mutex_unlock(&c->lock);
        bool able = c->leader != NULL && cg_leader_is_leading(c->leader) && caches_synced(c);
        pthread_mutex_lock(&c->lock);
        if (c->stopping)
            break;
        if (!able) {
            /* A standby sleeps until it wins the lease or a cache syncs (counted under the
             * lock, so a change made while `able` was read is not missed), or stop. */
            while (!c->stopping && c->able_changes == changes)
                pthread_cond_wait(&c->wake, &c->lock);
            continue;
        }
        if (c->n_queue == 0) {
            if (next == INT64_MAX)
                pthread_cond_wait(&c->wake, &c->lock); /* idle: no timer, no polling */
            else
                wait_until(c, next);
            continue;
        }
        struct queued q = c->queue[0];
        memmove(c->queue, c->queue + 1, (c->n_queue - 1) * sizeof(*c->queue));
        c->n_queue--;
        pthread_mutex_unlock(&c->lock);
        struct cg_policy_set *set = cg_snapshot_take(&c->policies.snap);
        int64_t again = 0;
        if (c->driver.reconcile != NULL && set != NULL) {
            struct cg_str ns = {q.key, q.ns_len};
            struct cg_str name = cg_str_from(q.key + q.ns_len + 1);
            again = c->driver.reconcile(c->driver.ud, c->client, &c->caches, set, ns, name);
        }
        atomic_fetch_add(&c->reconciles, 1);
        cg_policy_set_unref(set);
        pthread_mutex_lock(&c->lock);
        if (again > 0)
            later_push(c, q.key, q.ns_len, cg_mono_ms() + again * 1000);
        else
            free(q.key);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- probes and metrics ---- */

static bool ready(void *ud, struct cg_buf *out)
{
    struct cg_controller *c = ud;
    bool ok = cg_policy_store_ready(&c->policies);
    cg_policy_store_describe(&c->policies, out);
    for (int i = 0; i < N_WATCHES; i++) {
        struct cg_objstore_stats st;
        cg_objstore_stats(c->watches[i].store, &st);
        bool synced = cg_objstore_synced(c->watches[i].store);
        ok = ok && synced;
        cg_buf_appendf(out, "%s: %s, %zu cached\n", c->watches[i].resource,
                       synced ? "synced" : "not synced yet", st.objects);
    }
    cg_buf_appendf(out, "leader: %s (%s)\n",
                   c->leader && cg_leader_is_leading(c->leader) ? "this replica" : "standby",
                   c->identity);
    return ok;
}

static void metrics(void *ud, struct cg_buf *out)
{
    struct cg_controller *c = ud;
    cg_buf_appendf(out,
                   "# HELP cellgate_controller_leader 1 while this replica leads.\n"
                   "# TYPE cellgate_controller_leader gauge\n"
                   "cellgate_controller_leader %d\n",
                   c->leader && cg_leader_is_leading(c->leader) ? 1 : 0);
    pthread_mutex_lock(&c->lock);
    size_t depth = c->n_queue;
    pthread_mutex_unlock(&c->lock);
    cg_buf_appendf(out,
                   "# HELP cellgate_controller_queue_depth Deployments waiting to be reconciled.\n"
                   "# TYPE cellgate_controller_queue_depth gauge\n"
                   "cellgate_controller_queue_depth %zu\n"
                   "# HELP cellgate_controller_reconciles_total Reconciles run.\n"
                   "# TYPE cellgate_controller_reconciles_total counter\n"
                   "cellgate_controller_reconciles_total %llu\n",
                   depth, (unsigned long long)atomic_load(&c->reconciles));
    cg_buf_append_str(out, "# HELP cellgate_controller_cached_objects Objects in the watch "
                           "caches.\n# TYPE cellgate_controller_cached_objects gauge\n");
    for (int i = 0; i < N_WATCHES; i++) {
        struct cg_objstore_stats st;
        cg_objstore_stats(c->watches[i].store, &st);
        cg_buf_appendf(out, "cellgate_controller_cached_objects{resource=\"%s\"} %zu\n",
                       c->watches[i].resource, st.objects);
    }
    cg_buf_appendf(out,
                   "# HELP cellgate_policy_reloads_total Policy reloads by result.\n"
                   "# TYPE cellgate_policy_reloads_total counter\n"
                   "cellgate_policy_reloads_total{result=\"ok\"} %llu\n"
                   "cellgate_policy_reloads_total{result=\"error\"} %llu\n",
                   (unsigned long long)atomic_load(&c->policies.reloads_ok),
                   (unsigned long long)atomic_load(&c->policies.reloads_error));
    if (c->driver.metrics != NULL)
        c->driver.metrics(c->driver.ud, out);
}

/* ---- life cycle ---- */

enum cg_status cg_controller_create(const struct cg_controller_config *cfg,
                                    const struct cg_controller_driver *driver,
                                    struct cg_controller **out, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_controller *c = cg_xcalloc(1, sizeof(*c));
    c->cfg = cfg;
    if (driver != NULL)
        c->driver = *driver;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    cg_policy_store_init(&c->policies, cfg->policies);
    static const struct {
        const char *resource, *path, *selector;
    } what[N_WATCHES] = {
        {"deployments", "/apis/apps/v1/deployments", NULL},
        {"replicasets", "/apis/apps/v1/replicasets", NULL},
        {"pods", "/api/v1/pods", CG_LABEL_CELL}, /* only the pods cellgate placed */
        {"endpointslices", "/apis/discovery.k8s.io/v1/endpointslices", NULL},
    };
    for (int i = 0; i < N_WATCHES; i++) {
        struct watch *w = &c->watches[i];
        w->resource = what[i].resource;
        w->path = what[i].path;
        w->label_selector = what[i].selector;
        w->ctrl = c;
        struct cg_objstore_config oc = {w->resource, on_change, w};
        w->store = cg_objstore_create(&oc);
    }
    c->caches = (struct cg_controller_caches){
        c->watches[W_DEPLOYMENTS].store, c->watches[W_REPLICASETS].store, c->watches[W_PODS].store,
        c->watches[W_ENDPOINTSLICES].store};
    if (cfg->identity != NULL && cfg->identity[0] != '\0')
        snprintf(c->identity, sizeof(c->identity), "%s", cfg->identity);
    else if (gethostname(c->identity, sizeof(c->identity) - 1) != 0)
        snprintf(c->identity, sizeof(c->identity), "cellgate-controller-%d", (int)getpid());

    if (cg_policy_store_reload(&c->policies, true, err) == CG_RELOAD_FAILED) {
        st = CG_EINVAL;
        goto out;
    }
    if (cfg->kubeconfig != NULL && cfg->kubeconfig[0] != '\0')
        st = cg_kube_config_load(cfg->kubeconfig, NULL, 0, &c->kcfg, err);
    else
        st = cg_kube_config_in_cluster(NULL, &c->kcfg, err);
    if (st == CG_OK)
        st = cg_kube_client_create(c->kcfg, NULL, &c->client, err);
out:
    if (st != CG_OK) {
        cg_controller_destroy(c);
        c = NULL;
    }
    *out = c;
    return st;
}

enum cg_status cg_controller_start(struct cg_controller *c, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    for (int i = 0; i < N_WATCHES && st == CG_OK; i++) {
        struct watch *w = &c->watches[i];
        struct cg_kube_informer_config ic = {
            .client = c->client,
            .path = w->path,
            .label_selector = w->label_selector,
            .name = w->resource,
            .handlers = {on_replace_begin, on_object, on_replace_end, on_synced},
            .ud = w,
        };
        st = cg_kube_informer_create(&ic, &w->informer, err);
    }
    if (st != CG_OK)
        return st;
    int rc = pthread_create(&c->worker, NULL, worker_main, c);
    if (rc != 0)
        return cg_err_set(err, CG_EINTERNAL, "worker thread: %s", strerror(rc));
    c->worker_started = true;
    struct cg_leader_config lc = {
        .client = c->client,
        .namespace_ = c->cfg->lease_namespace,
        .name = c->cfg->lease_name,
        .identity = c->identity,
        .timing = {.lease_ms = c->cfg->lease_seconds * 1000,
                   .renew_deadline_ms = c->cfg->lease_seconds * 1000 * 2 / 3,
                   .retry_ms = c->cfg->lease_seconds * 1000 / 7},
        .on_start = on_start_leading,
        .on_stop = on_stop_leading,
        .ud = c,
    };
    st = cg_leader_create(&lc, &c->leader, err);
    if (st == CG_OK && strcmp(c->cfg->metrics_listen, "off") != 0) {
        struct cg_httpd_handlers h = {ready, metrics, c};
        st = cg_httpd_start(c->cfg->metrics_listen, &h, &c->httpd, err);
    }
    if (st == CG_OK)
        cg_log(CG_LOG_INFO, "controller started", "identity", c->identity, "server",
               c->kcfg->server, "metrics", c->cfg->metrics_listen, NULL);
    return st;
}

void cg_controller_poll(struct cg_controller *c, bool force)
{
    if (cg_policy_store_reload(&c->policies, force, NULL) == CG_RELOAD_DONE)
        requeue_all(c);
}

bool cg_controller_is_leading(struct cg_controller *c)
{
    return c->leader != NULL && cg_leader_is_leading(c->leader);
}

void cg_controller_stop(struct cg_controller *c)
{
    if (c == NULL)
        return;
    cg_httpd_stop(c->httpd);
    c->httpd = NULL;
    /* The lease goes first, so a standby takes over while the watches wind down. */
    cg_leader_stop(c->leader);
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->lock);
    if (c->worker_started) {
        pthread_join(c->worker, NULL);
        c->worker_started = false;
    }
    for (int i = 0; i < N_WATCHES; i++)
        cg_kube_informer_stop(c->watches[i].informer);
}

void cg_controller_destroy(struct cg_controller *c)
{
    if (c == NULL)
        return;
    cg_controller_stop(c);
    cg_leader_destroy(c->leader);
    for (int i = 0; i < N_WATCHES; i++) {
        cg_kube_informer_destroy(c->watches[i].informer);
        cg_objstore_destroy(c->watches[i].store);
    }
    for (size_t i = 0; i < c->n_queue; i++)
        free(c->queue[i].key);
    free(c->queue);
    for (size_t i = 0; i < c->n_later; i++)
        free(c->later[i].key);
    free(c->later);
    cg_kube_client_destroy(c->client);
    cg_kube_config_destroy(c->kcfg);
    cg_policy_store_dispose(&c->policies);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
