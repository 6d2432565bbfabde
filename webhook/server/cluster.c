#include "server/cluster.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/names.h"
#include "kube/drainreq.h"
#include "kube/kube.h"
#include "kube/podcache.h"

#define MAX_TRUSTED 16

enum mode { MODE_STANDALONE, MODE_KUBECONFIG, MODE_IN_CLUSTER };

struct cg_webhook_cluster {
    enum mode mode;
    struct cg_kube_config *kcfg;
    struct cg_kube_client *client;
    struct cg_podcache *cache;
    struct cg_kube_informer *informer;
    struct cg_drainreq *drains;
    char *trusted_text; /* the list, split in place */
    struct cg_str trusted[MAX_TRUSTED];
    size_t n_trusted;
};

/* ---- the informer feeds the cache ---- */

static void on_replace_begin(void *ud)
{
    struct cg_webhook_cluster *c = ud;
    cg_podcache_replace_begin(c->cache);
}

static void on_object(void *ud, enum cg_kube_watch_type type, const char *json, size_t len)
{
    struct cg_webhook_cluster *c = ud;
    enum cg_podcache_event ev = type == CG_KUBE_DELETED    ? CG_PODCACHE_DELETED
                                : type == CG_KUBE_MODIFIED ? CG_PODCACHE_MODIFIED
                                                           : CG_PODCACHE_ADDED;
    cg_podcache_apply(c->cache, ev, json, len);
}

static void on_replace_end(void *ud)
{
    struct cg_webhook_cluster *c = ud;
    cg_podcache_replace_end(c->cache);
}

static void on_synced(void *ud)
{
    struct cg_webhook_cluster *c = ud;
    cg_podcache_set_synced(c->cache, true);
    struct cg_podcache_stats st;
    cg_podcache_stats(c->cache, &st);
    struct cg_log_line l;
    cg_log_begin(&l, CG_LOG_INFO, "pod cache synced");
    cg_log_int(&l, "pods", (int64_t)st.pods);
    cg_log_end(&l);
}

/* ---- drain requests: a merge patch of one annotation ---- */

static enum cg_status send_drain_request(void *ud, const char *namespace_, const char *name,
                                         const char *rfc3339_time, struct cg_err *err)
{
    struct cg_webhook_cluster *c = ud;
    struct cg_buf path, body;
    struct cg_kube_response resp;
    cg_buf_init(&path, 0);
    cg_buf_init(&body, 0);
    cg_kube_response_init(&resp);
    enum cg_status st = cg_kube_path(&path, "v1", namespace_, "pods", name, NULL);
    if (st == CG_OK)
        st = cg_buf_append_str(&body,
                               "{\"metadata\":{\"annotations\":{\"" CG_ANN_DRAIN_REQUESTED "\":");
    if (st == CG_OK)
        st = cg_buf_append_json_string(&body, rfc3339_time, strlen(rfc3339_time));
    if (st == CG_OK)
        st = cg_buf_append_str(&body, "}}}");
    if (st == CG_OK)
        st = cg_buf_append_char(&path, '\0');
    if (st == CG_OK)
        st = cg_kube_request(c->client, CG_KUBE_PATCH_MERGE, path.data, body.data, body.len, &resp,
                             err);
    cg_kube_response_dispose(&resp);
    cg_buf_dispose(&body);
    cg_buf_dispose(&path);
    return st;
}

static void request_drain(void *ud, struct cg_str namespace_, struct cg_str name)
{
    struct cg_webhook_cluster *c = ud;
    cg_drainreq_request(c->drains, namespace_, name, (int64_t)time(NULL));
}

/* ---- life cycle ---- */

static void split_trusted(struct cg_webhook_cluster *c, const char *list)
{
    c->trusted_text = cg_xstrdup(list ? list : "");
    char *save = NULL;
    for (char *u = strtok_r(c->trusted_text, ",", &save); u != NULL && c->n_trusted < MAX_TRUSTED;
         u = strtok_r(NULL, ",", &save)) {
        while (*u == ' ')
            u++;
        if (*u != '\0')
            c->trusted[c->n_trusted++] = cg_str_from(u);
    }
}

enum cg_status cg_webhook_cluster_create(const char *kubeconfig, bool insecure,
                                         const char *trusted_users, struct cg_webhook_cluster **out,
                                         struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_webhook_cluster *c = cg_xcalloc(1, sizeof(*c));
    split_trusted(c, trusted_users);
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    if (kubeconfig != NULL && kubeconfig[0] != '\0') {
        c->mode = MODE_KUBECONFIG;
        st = cg_kube_config_load(kubeconfig, NULL, insecure ? CG_KUBE_ALLOW_INSECURE : 0, &c->kcfg,
                                 err);
    } else if (host != NULL && host[0] != '\0') {
        c->mode = MODE_IN_CLUSTER;
        st = cg_kube_config_in_cluster(NULL, &c->kcfg, err);
    } else {
        c->mode = MODE_STANDALONE;
    }
    if (st != CG_OK)
        goto out;
    struct cg_podcache_config pcfg = {.standalone = c->mode == MODE_STANDALONE};
    c->cache = cg_podcache_create(&pcfg);
    if (c->mode != MODE_STANDALONE)
        st = cg_kube_client_create(c->kcfg, NULL, &c->client, err);
out:
    if (st != CG_OK) {
        cg_webhook_cluster_destroy(c);
        c = NULL;
    }
    *out = c;
    return st;
}

enum cg_status cg_webhook_cluster_start(struct cg_webhook_cluster *c, struct cg_err *err)
{
    if (c->mode == MODE_STANDALONE) {
        cg_log(CG_LOG_INFO,
               "standalone: no kubeconfig and not in a cluster; pod placement counts "
               "come from this process's own placements",
               NULL);
        return CG_OK;
    }
    struct cg_drainreq_config dcfg = {.send = send_drain_request, .ud = c};
    enum cg_status st = cg_drainreq_create(&dcfg, &c->drains, err);
    if (st != CG_OK)
        return st;
    struct cg_kube_informer_config icfg = {
        .client = c->client,
        .path = "/api/v1/pods",
        .label_selector = CG_LABEL_CELL,
        .name = "pods",
        .handlers = {on_replace_begin, on_object, on_replace_end, on_synced},
        .ud = c,
    };
    st = cg_kube_informer_create(&icfg, &c->informer, err);
    if (st == CG_OK)
        cg_log(CG_LOG_INFO, "watching pods", "server", c->kcfg->server, "credentials",
               c->kcfg->source ? c->kcfg->source : "", NULL);
    return st;
}

void cg_webhook_cluster_stop(struct cg_webhook_cluster *c)
{
    if (c == NULL)
        return;
    cg_kube_informer_stop(c->informer);
    if (c->drains != NULL)
        cg_drainreq_stop(c->drains);
}

void cg_webhook_cluster_destroy(struct cg_webhook_cluster *c)
{
    if (c == NULL)
        return;
    cg_webhook_cluster_stop(c);
    cg_kube_informer_destroy(c->informer);
    cg_drainreq_destroy(c->drains);
    cg_kube_client_destroy(c->client);
    cg_kube_config_destroy(c->kcfg);
    cg_podcache_destroy(c->cache);
    free(c->trusted_text);
    free(c);
}

bool cg_webhook_cluster_ready(struct cg_webhook_cluster *c)
{
    return cg_podcache_is_synced(c->cache);
}

void cg_webhook_cluster_describe(struct cg_webhook_cluster *c, struct cg_buf *out)
{
    struct cg_podcache_stats st;
    cg_podcache_stats(c->cache, &st);
    if (c->mode == MODE_STANDALONE) {
        cg_buf_appendf(out,
                       "pods: standalone (no kubeconfig, not in a cluster): placement counts "
                       "come from this process's %zu reservations\n",
                       st.reservations);
        return;
    }
    struct cg_kube_informer_stats is;
    memset(&is, 0, sizeof(is));
    if (c->informer != NULL)
        cg_kube_informer_stats(c->informer, &is);
    cg_buf_appendf(out,
                   "pods: %s via %s (%s): %zu pods cached, %zu reservations, %llu lists, "
                   "%llu watch events, %llu failures\n",
                   is.synced ? "synced" : "not synced yet (waiting for the first LIST)",
                   c->mode == MODE_IN_CLUSTER ? "in-cluster credentials" : "kubeconfig",
                   c->kcfg->source ? c->kcfg->source : "", st.pods, st.reservations,
                   (unsigned long long)is.lists, (unsigned long long)is.events,
                   (unsigned long long)is.failures);
}

/* One gauge or counter line with its HELP and TYPE. */
static void metric(struct cg_buf *out, const char *name, const char *type, const char *help,
                   const char *labels, unsigned long long v)
{
    cg_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n%s%s %llu\n", name, help, name, type, name,
                   labels, v);
}

void cg_webhook_cluster_metrics(struct cg_webhook_cluster *c, struct cg_buf *out)
{
    struct cg_podcache_stats st;
    cg_podcache_stats(c->cache, &st);
    metric(out, "cellgate_pod_cache_pods", "gauge", "Pods in the webhook's watch cache.", "",
           st.pods);
    metric(out, "cellgate_pod_cache_reservations", "gauge",
           "Placements not yet seen in the pod watch (or kept for their request uid).", "",
           st.reservations);
    metric(out, "cellgate_pod_cache_bytes", "gauge", "Heap bytes the pod cache holds.", "",
           st.bytes);
    metric(out, "cellgate_pod_cache_synced", "gauge",
           "1 once the first LIST of pods is in (standalone: 1).", "",
           cg_podcache_is_synced(c->cache));
    if (c->informer != NULL) {
        struct cg_kube_informer_stats is;
        cg_kube_informer_stats(c->informer, &is);
        metric(out, "cellgate_pod_watch_lists_total", "counter",
               "LISTs of pods (the first and every re-list).", "", is.lists);
        metric(out, "cellgate_pod_watch_events_total", "counter", "Pod watch events applied.", "",
               is.events);
        metric(out, "cellgate_pod_watch_failures_total", "counter",
               "Failed pod LISTs and watches (retried with back-off).", "", is.failures);
    }
    if (c->drains != NULL) {
        struct cg_drainreq_stats ds;
        cg_drainreq_stats(c->drains, &ds);
        cg_buf_appendf(out, "# HELP cellgate_drain_requests_total Drain requests for pods whose "
                            "delete was held, by result.\n"
                            "# TYPE cellgate_drain_requests_total counter\n");
        static const char *const results[] = {"sent", "failed", "dropped", "duplicate"};
        const uint64_t values[] = {ds.sent, ds.failed, ds.dropped, ds.duplicates};
        for (size_t i = 0; i < 4; i++)
            cg_buf_appendf(out, "cellgate_drain_requests_total{result=\"%s\"} %llu\n", results[i],
                           (unsigned long long)values[i]);
    }
}

void cg_webhook_cluster_slot_init(struct cg_webhook_cluster *c, struct cg_cluster_slot *slot)
{
    cg_cluster_slot_init(slot, c->cache, c->mode == MODE_STANDALONE ? NULL : request_drain, c);
    slot->trusted_users = c->trusted;
    slot->n_trusted_users = c->n_trusted;
}
