/* The controller's release metrics (see relmetrics.h). */
#include "controller/relmetrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

#define N_STATES (CG_RELEASE_FAILED + 1)
#define N_KINDS (CG_ACT_RUN_CHECK + 1)

static const double group_bounds[] = {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400, 86400};
static const double drain_bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300};
#define N_GROUP (sizeof(group_bounds) / sizeof(group_bounds[0]))
#define N_DRAIN (sizeof(drain_bounds) / sizeof(drain_bounds[0]))

struct histogram {
    const double *bounds;
    size_t n;
    unsigned long long counts[16]; /* per bound (not cumulative), then +Inf */
    unsigned long long total;
    double sum;
};

struct entry {
    char *key; /* "namespace/name" */
    enum cg_release_state state;
};

struct cg_relmetrics {
    pthread_mutex_t lock;
    struct entry *items;
    size_t n, cap;
    struct histogram group, drain;
    unsigned long long actions[N_KINDS][2]; /* [kind][ok] */
};

static const char *const kind_names[N_KINDS] = {
    [CG_ACT_PATCH_DEPLOYMENT] = "patch-deployment",
    [CG_ACT_PATCH_POD] = "patch-pod",
    [CG_ACT_SET_TRAFFIC] = "set-traffic",
    [CG_ACT_REMOVE_FINALIZER] = "remove-finalizer",
    [CG_ACT_EVENT] = "event",
    [CG_ACT_RUN_CHECK] = "run-check",
};

struct cg_relmetrics *cg_relmetrics_create(void)
{
    struct cg_relmetrics *m = cg_xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->group = (struct histogram){.bounds = group_bounds, .n = N_GROUP};
    m->drain = (struct histogram){.bounds = drain_bounds, .n = N_DRAIN};
    return m;
}

void cg_relmetrics_destroy(struct cg_relmetrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->items[i].key);
    free(m->items);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static bool key_is(const char *key, struct cg_str ns, struct cg_str name)
{
    return strlen(key) == ns.n + 1 + name.n && memcmp(key, ns.p, ns.n) == 0 && key[ns.n] == '/' &&
           memcmp(key + ns.n + 1, name.p, name.n) == 0;
}

void cg_relmetrics_set_state(struct cg_relmetrics *m, struct cg_str ns, struct cg_str name,
                             bool has_state, enum cg_release_state state)
{
    pthread_mutex_lock(&m->lock);
    size_t i = 0;
    while (i < m->n && !key_is(m->items[i].key, ns, name))
        i++;
    if (!has_state) {
        if (i < m->n) {
            free(m->items[i].key);
            m->items[i] = m->items[--m->n];
        }
    } else {
        if (i == m->n) {
            if (m->n == m->cap) {
                m->cap = m->cap ? m->cap * 2 : 16;
                m->items = cg_xrealloc(m->items, m->cap * sizeof(*m->items));
            }
            char *k = cg_xmalloc(ns.n + name.n + 2);
            memcpy(k, ns.p, ns.n);
            k[ns.n] = '/';
            memcpy(k + ns.n + 1, name.p, name.n);
            k[ns.n + 1 + name.n] = '\0';
            m->items[m->n++].key = k;
        }
        m->items[i].state = state;
    }
    pthread_mutex_unlock(&m->lock);
}

static void observe(struct cg_relmetrics *m, struct histogram *h, double v)
{
    pthread_mutex_lock(&m->lock);
    size_t b = 0;
    while (b < h->n && v > h->bounds[b])
        b++;
    h->counts[b]++;
    h->total++;
    h->sum += v;
    pthread_mutex_unlock(&m->lock);
}

void cg_relmetrics_observe_group(struct cg_relmetrics *m, double seconds)
{
    observe(m, &m->group, seconds);
}

void cg_relmetrics_observe_drain(struct cg_relmetrics *m, double seconds)
{
    observe(m, &m->drain, seconds);
}

void cg_relmetrics_count_action(struct cg_relmetrics *m, enum cg_release_action_kind kind, bool ok)
{
    if ((unsigned)kind >= N_KINDS)
        return;
    pthread_mutex_lock(&m->lock);
    m->actions[kind][ok ? 1 : 0]++;
    pthread_mutex_unlock(&m->lock);
}

static void render_histogram(struct cg_buf *out, const char *name, const char *help,
                             const struct histogram *h)
{
    cg_buf_appendf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    unsigned long long cum = 0;
    for (size_t b = 0; b < h->n; b++) {
        cum += h->counts[b];
        cg_buf_appendf(out, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[b], cum);
    }
    cg_buf_appendf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, h->total,
                   name, h->sum, name, h->total);
}

void cg_relmetrics_render(struct cg_relmetrics *m, struct cg_buf *out)
{
    pthread_mutex_lock(&m->lock);
    size_t per_state[N_STATES] = {0};
    for (size_t i = 0; i < m->n; i++)
        if ((unsigned)m->items[i].state < N_STATES)
            per_state[m->items[i].state]++;
    cg_buf_append_str(out, "# HELP cellgate_releases Covered Deployments by the state of their "
                           "release record.\n# TYPE cellgate_releases gauge\n");
    for (int s = 0; s < N_STATES; s++)
        cg_buf_appendf(out, "cellgate_releases{state=\"%s\"} %zu\n",
                       cg_release_state_str((enum cg_release_state)s), per_state[s]);
    render_histogram(
        out, "cellgate_group_duration_seconds",
        "Time from a release group's start to its end (it serves, its old pods drained).",
        &m->group);
    render_histogram(out, "cellgate_drain_duration_seconds",
                     "Time from a pod's draining mark to its drained mark.", &m->drain);
    cg_buf_append_str(out, "# HELP cellgate_controller_actions_total Release actions by kind and "
                           "result.\n# TYPE cellgate_controller_actions_total counter\n");
    for (int k = 0; k < N_KINDS; k++)
        for (int ok = 1; ok >= 0; ok--)
            cg_buf_appendf(out,
                           "cellgate_controller_actions_total{action=\"%s\",result=\"%s\"} %llu\n",
                           kind_names[k], ok ? "applied" : "failed", m->actions[k][ok]);
    pthread_mutex_unlock(&m->lock);
}
