/* Releases steered by cellgate-controller on a real control plane (../shared/lab, or
 * CELLGATE_E2E_KUBECONFIG): cellgate-webhook and two cellgate-controller processes run with
 * --kubeconfig as ServiceAccounts bound to the shipped RBAC (manifests/base/rbac.yaml,
 * controller-rbac.yaml, renamed into the test's namespace), one leads through a Lease.
 *
 * A 10-replica Deployment over zone-a / zone-b (groups perCell 1, perCell 2, rest; pause
 * manual; approvers release-managers; exec readiness probes, which the lab's fake runtime
 * passes; minReadySeconds 5) is released with approvals to the end; an approval from outside
 * release-managers is refused; a release is paused and resumed, its leader controller killed
 * with SIGKILL mid-group and started again, then rolled back mid-release; the standby
 * controller is checked to do nothing; a node is drained with kubectl drain.
 *
 * An invariant watcher runs all along: kubectl --watch streams of the pods, EndpointSlices
 * and the Deployment, merged into one history in resourceVersion order (etcd's revision,
 * global to the cluster), and after every event of that history:
 *   - Ready pods (live, condition Ready True) never below spec.replicas (while armed);
 *   - no pod gets deleted while an EndpointSlice lists it as serving;
 *   - new pods with traffic per cell never above the plan of the record's current group, and
 *     exactly the plan when the record says the group waits for approval;
 *   - a group advances only by one, only after its approval was seen, never goes back.
 * Held deletes (FailedDelete Events on the ReplicaSets, and the webhook's denied Pod DELETEs)
 * are printed per release. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "test_e2e.h"
#include "test_support.h"

extern char **environ;

#define CONTROLLER_BIN CG_BINARY_DIR "/cellgate-controller"
#define WEBHOOK_RBAC CG_SOURCE_DIR "/manifests/base/rbac.yaml"
#define CONTROLLER_RBAC CG_SOURCE_DIR "/manifests/base/controller-rbac.yaml"
#define GEN_CERTS CG_SOURCE_DIR "/certs/gen-dev-certs"
#define IMAGE "registry.example/web"
#define REPLICAS 10
#define APPROVER "--as alice --as-group release-managers"
#define OUTSIDER "--as bob --as-group developers"
#define WAIT_GROUP_S 60 /* one group: surge pods, gate, drain, old pods gone */

#define MAX_CELLS 2
#define MAX_GROUPS 16

/* ------------------------------------------------------------------ the release record */

struct record {
    bool present;
    char revision[40];
    char state[40];
    int group, n_groups, n_cells;
    char cells[MAX_CELLS][64];
    int cum[MAX_GROUPS][MAX_CELLS]; /* pods the plan serves per cell by the end of group g */
    bool rolled_back;               /* rolledBackFrom is set */
};

static const char *or_else(const char *s, const char *dflt)
{
    return s != NULL ? s : dflt;
}

static const char *or_dash(const char *s)
{
    return or_else(s, "-");
}

static void record_parse(const char *text, struct record *r)
{
    memset(r, 0, sizeof(*r));
    if (text == NULL)
        return;
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (j == NULL)
        return;
    r->present = true;
    snprintf(r->revision, sizeof(r->revision), "%s",
             or_else(json_string_value(json_object_get(j, "revision")), ""));
    snprintf(r->state, sizeof(r->state), "%s",
             or_else(json_string_value(json_object_get(j, "state")), ""));
    r->group = (int)json_integer_value(json_object_get(j, "group"));
    r->rolled_back = json_object_get(j, "rolledBackFrom") != NULL;
    json_t *cells = json_object_get(j, "cells");
    for (size_t c = 0; c < json_array_size(cells) && c < MAX_CELLS; c++) {
        json_t *cell = json_array_get(cells, c);
        const char *name = json_is_string(cell) ? json_string_value(cell)
                                                : json_string_value(json_object_get(cell, "name"));
        snprintf(r->cells[c], sizeof(r->cells[c]), "%s", name ? name : "");
        r->n_cells = (int)c + 1;
    }
    json_t *groups = json_object_get(j, "groups");
    for (size_t g = 0; g < json_array_size(groups) && g < MAX_GROUPS; g++) {
        for (int c = 0; c < r->n_cells; c++) {
            int add = (int)json_integer_value(json_array_get(json_array_get(groups, g), c));
            r->cum[g][c] = (g > 0 ? r->cum[g - 1][c] : 0) + add;
        }
        r->n_groups = (int)g + 1;
    }
    json_decref(j);
}

static const char *annotation_of(const json_t *obj, const char *key)
{
    return CG_E2E_STR(obj, "metadata", "annotations", key);
}

static const char *template_image(const json_t *deploy)
{
    json_t *c = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(deploy, "spec"), "template"), "spec"),
            "containers"),
        0);
    return json_string_value(json_object_get(c, "image"));
}

static const char *pod_image(const json_t *pod)
{
    json_t *c = json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
    return json_string_value(json_object_get(c, "image"));
}

static const char *pod_condition(const json_t *pod, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t != NULL && strcmp(t, type) == 0)
            return json_string_value(json_object_get(c, "status"));
    }
    return NULL;
}

static bool cond_true(const json_t *pod, const char *type)
{
    const char *s = pod_condition(pod, type);
    return s != NULL && strcmp(s, "True") == 0;
}

static bool terminating(const json_t *obj)
{
    return json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp") != NULL;
}

/* ------------------------------------------------------------------ the invariant watcher */

enum { WK_POD, WK_SLICE, WK_DEPLOY, WK_N };

struct wev {
    long long rv;
    unsigned long seq;
    int kind;
    bool deleted;
    double at;
    json_t *obj;
};

#define MAX_VIOLATIONS 32

struct watcher {
    pthread_mutex_t lock;
    char ns[64], deploy_name[64], errlog[600];
    pid_t kpid[WK_N];
    FILE *kf[WK_N];
    pthread_t reader[WK_N], checker;
    bool stop, ended[WK_N];
    unsigned long seq;
    struct wev *q;
    size_t nq, capq;

    /* the merged history, as of the last event applied */
    json_t *pods, *slices, *deploy;
    long long applied_rv;
    unsigned long applied;
    struct record rec;
    unsigned approved;  /* groups whose approval was seen, for rec.revision */
    char first_rev[40]; /* the Deployment's first template: its rollout is no release */

    bool arm_capacity, below;
    int min_ready; /* while armed */
    bool over[MAX_CELLS];
    int deletions, deleted_serving, deleted_drained;
    json_t *deleted; /* pod name -> {drained, serving} at the moment it was deleted */
    char violations[MAX_VIOLATIONS][600];
    size_t n_violations;
};

static void violation(struct watcher *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void violation(struct watcher *w, const char *fmt, ...)
{
    if (w->n_violations < MAX_VIOLATIONS) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->violations[w->n_violations], sizeof(w->violations[0]), fmt, ap);
        va_end(ap);
    }
    w->n_violations++;
}

/* Is the pod listed as serving by an EndpointSlice of the merged history? (serving absent:
 * ready; both absent: serving, as consumers read it.) The slice's name goes to which. */
static bool listed_serving(struct watcher *w, const char *pod, const char **which)
{
    const char *name;
    json_t *s;
    json_object_foreach(w->slices, name, s)
    {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(s, "endpoints"), i, e)
        {
            const char *ref = CG_E2E_STR(e, "targetRef", "name");
            if (ref == NULL || strcmp(ref, pod) != 0)
                continue;
            json_t *cond = json_object_get(e, "conditions");
            json_t *serving = json_object_get(cond, "serving");
            if (serving == NULL)
                serving = json_object_get(cond, "ready");
            if (serving == NULL || json_is_true(serving)) {
                *which = name;
                return true;
            }
        }
    }
    return false;
}

/* New-template pods with traffic, per cell of the record. */
static void serving_new(struct watcher *w, int *per_cell)
{
    const char *image = template_image(w->deploy);
    for (int c = 0; c < MAX_CELLS; c++)
        per_cell[c] = 0;
    const char *name;
    json_t *p;
    json_object_foreach(w->pods, name, p)
    {
        const char *pi = pod_image(p);
        if (terminating(p) || image == NULL || pi == NULL || strcmp(pi, image) != 0 ||
            !cond_true(p, "cellgate.io/traffic-ready"))
            continue;
        const char *cell = CG_E2E_STR(p, "metadata", "labels", "cellgate.io/cell");
        for (int c = 0; c < w->rec.n_cells; c++)
            if (cell != NULL && strcmp(cell, w->rec.cells[c]) == 0)
                per_cell[c]++;
    }
}

static bool releasing(const struct record *r)
{
    return r->present && r->n_groups > 0 && strcmp(r->state, "complete") != 0 &&
           strcmp(r->state, "failed") != 0;
}

static void check_state(struct watcher *w, long long rv)
{
    if (w->deploy == NULL)
        return;
    /* capacity */
    int ready = 0;
    const char *name;
    json_t *p;
    json_object_foreach(w->pods, name, p)
    {
        if (!terminating(p) && cond_true(p, "Ready"))
            ready++;
    }
    int replicas =
        (int)json_integer_value(json_object_get(json_object_get(w->deploy, "spec"), "replicas"));
    if (w->arm_capacity) {
        if (ready < w->min_ready)
            w->min_ready = ready;
        if (ready < replicas && !w->below)
            violation(w, "rv %lld: %d Ready pods, below replicas %d", rv, ready, replicas);
        w->below = ready < replicas;
    }
    /* the plan per cell */
    if (releasing(&w->rec) && w->rec.group < w->rec.n_groups &&
        strcmp(w->rec.revision, w->first_rev) != 0) {
        int per_cell[MAX_CELLS];
        serving_new(w, per_cell);
        for (int c = 0; c < w->rec.n_cells; c++) {
            int plan = w->rec.cum[w->rec.group][c];
            bool over = per_cell[c] > plan;
            if (over && !w->over[c])
                violation(w, "rv %lld: %d new pods serve in %s, group %d plans %d", rv, per_cell[c],
                          w->rec.cells[c], w->rec.group, plan);
            w->over[c] = over;
        }
    }
}

static void apply_deploy(struct watcher *w, json_t *obj, long long rv)
{
    struct record r;
    record_parse(annotation_of(obj, "cellgate.io/release"), &r);
    if (w->deploy == NULL)
        snprintf(w->first_rev, sizeof(w->first_rev), "%s", r.revision);
    json_decref(w->deploy);
    w->deploy = json_incref(obj);
    struct record *prev = &w->rec;
    bool first = strcmp(r.revision, w->first_rev) == 0; /* the first rollout: no release */
    if (r.present && prev->present && strcmp(r.revision, prev->revision) == 0 && !first) {
        if (r.group > prev->group) {
            if (r.group != prev->group + 1)
                violation(w, "rv %lld: release %s went from group %d to %d", rv, r.revision,
                          prev->group, r.group);
            for (int g = prev->group; g < r.group; g++)
                if (!(w->approved & (1u << g)))
                    violation(w, "rv %lld: release %s advanced past group %d without its approval",
                              rv, r.revision, g);
        } else if (r.group < prev->group) {
            violation(w, "rv %lld: release %s went back from group %d to %d", rv, r.revision,
                      prev->group, r.group);
        }
    } else if (r.present) {
        w->approved = 0; /* a new release: approvals of the last one count for nothing */
    }
    bool newly_waiting = strcmp(r.state, "waiting-approval") == 0 &&
                         (strcmp(prev->state, "waiting-approval") != 0 || prev->group != r.group ||
                          strcmp(prev->revision, r.revision) != 0);
    w->rec = r;
    const char *approve = annotation_of(obj, "cellgate.io/approve");
    if (approve != NULL && r.present) {
        char *end;
        long g = strtol(approve, &end, 10);
        if (*end == '\0' && g >= 0 && g < MAX_GROUPS)
            w->approved |= 1u << g;
    }
    if (newly_waiting && r.group < r.n_groups && strcmp(r.revision, w->first_rev) != 0) {
        int per_cell[MAX_CELLS];
        serving_new(w, per_cell);
        for (int c = 0; c < r.n_cells; c++)
            if (per_cell[c] != r.cum[r.group][c])
                violation(w,
                          "rv %lld: group %d waits for approval with %d new pods serving in %s, "
                          "planned %d",
                          rv, r.group, per_cell[c], r.cells[c], r.cum[r.group][c]);
    }
}

static void apply_pod(struct watcher *w, json_t *obj, bool deleted, long long rv)
{
    const char *name = CG_E2E_STR(obj, "metadata", "name");
    if (name == NULL)
        return;
    json_t *prev = json_object_get(w->pods, name);
    bool was_live = prev != NULL && !terminating(prev);
    bool goes =
        deleted ? (prev == NULL || was_live) : (terminating(obj) && (prev == NULL || was_live));
    if (goes) {
        const char *slice = NULL;
        bool serving = listed_serving(w, name, &slice);
        bool drained = annotation_of(prev ? prev : obj, "cellgate.io/drained") != NULL ||
                       annotation_of(obj, "cellgate.io/drained") != NULL;
        w->deletions++;
        if (serving) {
            w->deleted_serving++;
            violation(w, "rv %lld: pod %s deleted while EndpointSlice %s lists it as serving", rv,
                      name, slice);
        }
        if (drained)
            w->deleted_drained++;
        json_object_set_new(w->deleted, name,
                            json_pack("{s:b,s:b}", "drained", drained, "serving", serving));
    }
    if (deleted)
        json_object_del(w->pods, name);
    else
        json_object_set(w->pods, name, obj);
}

static void apply_event(struct watcher *w, struct wev *e)
{
    const char *name = CG_E2E_STR(e->obj, "metadata", "name");
    switch (e->kind) {
    case WK_DEPLOY:
        if (name != NULL && strcmp(name, w->deploy_name) == 0 && !e->deleted)
            apply_deploy(w, e->obj, e->rv);
        break;
    case WK_SLICE:
        if (name == NULL)
            break;
        if (e->deleted)
            json_object_del(w->slices, name);
        else
            json_object_set(w->slices, name, e->obj);
        break;
    default:
        apply_pod(w, e->obj, e->deleted, e->rv);
    }
    check_state(w, e->rv);
    if (e->rv > w->applied_rv)
        w->applied_rv = e->rv;
    w->applied++;
}

static int wev_cmp(const void *a, const void *b)
{
    const struct wev *x = a, *y = b;
    if (x->rv != y->rv)
        return x->rv < y->rv ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Applies, in resourceVersion order, every queued event up to the last one that arrived
 * before `before` (all of them with before < 0). Lock held. */
static void drain_queue(struct watcher *w, double before)
{
    if (w->nq == 0)
        return;
    qsort(w->q, w->nq, sizeof(*w->q), wev_cmp);
    size_t upto = 0;
    for (size_t i = 0; i < w->nq; i++)
        if (before < 0 || w->q[i].at < before)
            upto = i + 1;
    for (size_t i = 0; i < upto; i++) {
        apply_event(w, &w->q[i]);
        json_decref(w->q[i].obj);
    }
    memmove(w->q, w->q + upto, (w->nq - upto) * sizeof(*w->q));
    w->nq -= upto;
}

/* Events of separate streams are merged once every stream had a second to deliver what came
 * before them. */
#define MERGE_DELAY_S 1.0

static void *checker_main(void *arg)
{
    struct watcher *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        bool stop = w->stop;
        drain_queue(w, cg_e2e_now() - MERGE_DELAY_S);
        pthread_mutex_unlock(&w->lock);
        if (stop)
            return NULL;
        cg_e2e_sleep_ms(100);
    }
}

struct reader_arg {
    struct watcher *w;
    int kind;
};
static struct reader_arg reader_args[WK_N];

static void *reader_main(void *arg)
{
    struct reader_arg *ra = arg;
    struct watcher *w = ra->w;
    for (;;) {
        json_error_t jerr;
        json_t *ev = json_loadf(w->kf[ra->kind], JSON_DISABLE_EOF_CHECK, &jerr);
        if (ev == NULL)
            break;
        const char *type = json_string_value(json_object_get(ev, "type"));
        json_t *obj = json_object_get(ev, "object");
        const char *rv = CG_E2E_STR(obj, "metadata", "resourceVersion");
        if (type != NULL && rv != NULL &&
            (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0 ||
             strcmp(type, "DELETED") == 0)) {
            pthread_mutex_lock(&w->lock);
            if (w->nq == w->capq) {
                w->capq = w->capq ? w->capq * 2 : 256;
                w->q = realloc(w->q, w->capq * sizeof(*w->q));
                if (w->q == NULL)
                    abort();
            }
            w->q[w->nq++] =
                (struct wev){atoll(rv),    w->seq++,        ra->kind, strcmp(type, "DELETED") == 0,
                             cg_e2e_now(), json_incref(obj)};
            pthread_mutex_unlock(&w->lock);
        }
        json_decref(ev);
    }
    pthread_mutex_lock(&w->lock);
    w->ended[ra->kind] = true;
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static pid_t spawn_watch(struct watcher *w, const char *resource, FILE **out)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const char *argv[] = {"/usr/bin/kubectl",      "get", resource, "-n", w->ns, "--watch",
                          "--output-watch-events", "-o",  "json",   NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 2, w->errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0)
        fail_msg("cannot start kubectl: %s", strerror(rc));
    *out = fdopen(fds[0], "r");
    assert_non_null(*out);
    return pid;
}

static struct watcher *watcher_start(const char *ns, const char *deploy, const char *errlog)
{
    struct watcher *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    pthread_mutex_init(&w->lock, NULL);
    snprintf(w->ns, sizeof(w->ns), "%s", ns);
    snprintf(w->deploy_name, sizeof(w->deploy_name), "%s", deploy);
    snprintf(w->errlog, sizeof(w->errlog), "%s", errlog);
    w->pods = json_object();
    w->slices = json_object();
    w->deleted = json_object();
    w->min_ready = 1 << 30;
    static const char *const resources[WK_N] = {"pods", "endpointslices.discovery.k8s.io",
                                                "deployments.apps"};
    for (int k = 0; k < WK_N; k++) {
        w->kpid[k] = spawn_watch(w, resources[k], &w->kf[k]);
        reader_args[k] = (struct reader_arg){w, k};
        assert_int_equal(pthread_create(&w->reader[k], NULL, reader_main, &reader_args[k]), 0);
    }
    assert_int_equal(pthread_create(&w->checker, NULL, checker_main, w), 0);
    return w;
}

static void watcher_stop(struct watcher *w)
{
    if (w == NULL)
        return;
    for (int k = 0; k < WK_N; k++) {
        kill(w->kpid[k], SIGTERM);
        int status;
        waitpid(w->kpid[k], &status, 0);
        pthread_join(w->reader[k], NULL);
        fclose(w->kf[k]);
    }
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->checker, NULL);
    for (size_t i = 0; i < w->nq; i++)
        json_decref(w->q[i].obj);
    free(w->q);
    json_decref(w->pods);
    json_decref(w->slices);
    json_decref(w->deploy);
    json_decref(w->deleted);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* Applies everything that arrived up to now (waiting out the merge delay), then fails the
 * test with every violation seen so far, or when a watch stream ended. */
static void watcher_check(struct watcher *w, const char *phase)
{
    cg_e2e_sleep_ms((int)(MERGE_DELAY_S * 1000) + 300);
    pthread_mutex_lock(&w->lock);
    size_t n = w->n_violations;
    char text[MAX_VIOLATIONS * 620] = "";
    for (size_t i = 0; i < n && i < MAX_VIOLATIONS; i++) {
        strncat(text, "\n  ", sizeof(text) - strlen(text) - 1);
        strncat(text, w->violations[i], sizeof(text) - strlen(text) - 1);
    }
    bool ended = w->ended[0] || w->ended[1] || w->ended[2];
    unsigned long applied = w->applied;
    int min_ready = w->min_ready;
    pthread_mutex_unlock(&w->lock);
    print_message("watcher (%s): %lu events applied, min Ready %d, %zu violations\n", phase,
                  applied, min_ready == 1 << 30 ? -1 : min_ready, n);
    if (n > 0)
        fail_msg("invariants broken (%s), %zu violations:%s", phase, n, text);
    if (ended)
        fail_msg("a watch of the invariant watcher ended early; kubectl said: see %s", w->errlog);
}

/* Arms (after the merge delay, so that what happened before the call is not judged by it) or
 * disarms (at once) the capacity invariant. */
static void watcher_arm(struct watcher *w, bool capacity)
{
    if (capacity)
        cg_e2e_sleep_ms((int)(MERGE_DELAY_S * 1000) + 300);
    pthread_mutex_lock(&w->lock);
    w->arm_capacity = capacity;
    w->below = false;
    pthread_mutex_unlock(&w->lock);
}

/* ------------------------------------------------------------------ the world */

struct ctl {
    pid_t pid;
    int port;
    char id[32];
    char log[600];
};

struct world {
    bool skip;
    char kubeconfig[512];
    char ns[64];   /* i-e2e-<pid>: every namespaced object, the Lease too */
    char hook[64]; /* the webhook configurations, the webhook's ServiceAccount and roles */
    char ctl_sa[80];
    char run[32]; /* label i-run=<pid> on the pods: kubectl drain touches nothing else */
    struct cg_test_dir *dir;
    char certs[600], policies[600];
    char wh_kubeconfig[600], wh_user[160];
    char ctl_kubeconfig[600], ctl_user[160];
    struct cg_e2e_webhook webhook;
    struct ctl ctl[2];
    struct watcher *watch;
    char cordoned[64];
    int image; /* the tag the Deployment's template has */
    double t_start;
    bool sanitizer_report;
    /* held deletes at the start of the current release */
    long held_events0;
    double denied0;
};

static struct world W;

#define NEED_CLUSTER()                                                                             \
    do {                                                                                           \
        if (W.skip)                                                                                \
            CG_TEST_SKIP(CG_TEST_KUBE_SKIP_MSG);                                                   \
    } while (0)

static void write_policy(void)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "apiVersion: cellgate.io/v1\n"
             "kind: ReleasePolicy\n"
             "metadata: {name: %s}\n"
             "spec:\n"
             "  match: {namespaces: [%s], kinds: [Deployment, Pod]}\n"
             "  cells: {topologyKey: topology.kubernetes.io/zone, names: [zone-a, zone-b]}\n"
             "  gray:\n"
             "    groups: [{perCell: 1}, {perCell: 2}, rest]\n"
             "    pause: manual\n"
             "  monitor: {requireReadinessProbe: true}\n"
             "  emergency:\n"
             "    breakGlass: {groups: [sre-oncall]}\n"
             "    approvers: {groups: [release-managers]}\n"
             "    emergencyActors: {groups: [release-managers]}\n"
             "    rollback: fast\n"
             "  traffic: {components: [service]}\n",
             W.ns, W.ns);
    mkdir(W.policies, 0755);
    char path[700];
    snprintf(path, sizeof(path), "%s/release.yaml", W.policies);
    cg_test_write_file(path, yaml);
}

static void controller_start(struct ctl *c)
{
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", c->port);
    const char *argv[] = {CONTROLLER_BIN,
                          "--kubeconfig",
                          W.ctl_kubeconfig,
                          "--policies",
                          W.policies,
                          "--metrics-listen",
                          listen,
                          "--lease-namespace",
                          W.ns,
                          "--lease-name",
                          "i-controller",
                          "--identity",
                          c->id,
                          "--lease-seconds",
                          "4",
                          NULL};
    c->pid = cg_e2e_spawn_logged(argv, c->log);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", c->port);
    cg_e2e_wait_url(url, 60, "the controller's readiness (caches synced)", c->log);
}

/* The Lease's holder (static buffer), "" when none. */
static const char *lease_holder(void)
{
    static char holder[64];
    holder[0] = '\0';
    json_t *l = cg_e2e_kget("lease -n %s i-controller", W.ns);
    const char *h = CG_E2E_STR(l, "spec", "holderIdentity");
    snprintf(holder, sizeof(holder), "%s", h ? h : "");
    json_decref(l);
    return holder;
}

static struct ctl *wait_leader(double timeout_s)
{
    double end = cg_e2e_now() + timeout_s;
    while (cg_e2e_now() < end) {
        const char *h = lease_holder();
        for (int i = 0; i < 2; i++)
            if (W.ctl[i].pid > 0 && strcmp(h, W.ctl[i].id) == 0)
                return &W.ctl[i];
        cg_e2e_sleep_ms(200);
    }
    fail_msg("no running controller holds Lease %s/i-controller after %.0f s (holder \"%s\")", W.ns,
             timeout_s, lease_holder());
    return NULL;
}

static const char deployment_fmt[] =
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata: {name: web, labels: {app: web}}\n"
    "spec:\n"
    "  replicas: %d\n"
    "  minReadySeconds: 5\n"
    "  progressDeadlineSeconds: 600\n"
    "  selector: {matchLabels: {app: web, i-run: \"%s\"}}\n"
    "  template:\n"
    "    metadata: {labels: {app: web, i-run: \"%s\"}}\n"
    "    spec:\n"
    "      terminationGracePeriodSeconds: 0\n"
    "      containers:\n"
    "        - name: app\n"
    "          image: " IMAGE ":1\n"
    "          readinessProbe: {exec: {command: [\"true\"]}, periodSeconds: 1}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: web}\n"
    "spec:\n"
    "  selector: {app: web, i-run: \"%s\"}\n"
    "  ports: [{port: 80, targetPort: 8080}]\n"
    "---\n"
    "apiVersion: rbac.authorization.k8s.io/v1\n"
    "kind: Role\n"
    "metadata: {name: release}\n"
    "rules: [{apiGroups: [apps], resources: [deployments], verbs: [get, list, patch, update]}]\n"
    "---\n"
    "apiVersion: rbac.authorization.k8s.io/v1\n"
    "kind: RoleBinding\n"
    "metadata: {name: release}\n"
    "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: release}\n"
    "subjects:\n"
    "  - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: release-managers}\n"
    "  - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: developers}\n";

/* ------------------------------------------------------------------ observations */

static json_t *deployment(void)
{
    json_t *d = cg_e2e_kget("deployment -n %s web", W.ns);
    assert_non_null(d);
    return d;
}

static void record_now(struct record *r)
{
    json_t *d = deployment();
    record_parse(annotation_of(d, "cellgate.io/release"), r);
    json_decref(d);
}

/* What the Deployment and its pods look like now, for failure messages (a static buffer,
 * valid until the next call). */
static const char *describe_record(void)
{
    static char text[8192];
    json_t *d = deployment();
    const char *t = annotation_of(d, "cellgate.io/release");
    int n = snprintf(text, sizeof(text),
                     "record %s; approve %s; emergency %s; paused %s; pods:", t ? t : "(none)",
                     or_dash(annotation_of(d, "cellgate.io/approve")),
                     or_dash(annotation_of(d, "cellgate.io/emergency")),
                     json_is_true(json_object_get(json_object_get(d, "spec"), "paused")) ? "yes"
                                                                                         : "no");
    json_decref(d);
    json_t *pods = cg_e2e_kget("pods -n %s -l i-run=%s", W.ns, W.run);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        if (n < 0 || (size_t)n >= sizeof(text))
            break;
        n += snprintf(text + n, sizeof(text) - (size_t)n,
                      "\n  %s %s cell=%s node=%s %s containers=%s traffic=%s ready=%s%s%s",
                      CG_E2E_STR(p, "metadata", "name"), or_dash(pod_image(p)),
                      or_dash(CG_E2E_STR(p, "metadata", "labels", "cellgate.io/cell")),
                      or_dash(CG_E2E_STR(p, "spec", "nodeName")),
                      or_dash(CG_E2E_STR(p, "status", "phase")),
                      or_dash(pod_condition(p, "ContainersReady")),
                      or_dash(pod_condition(p, "cellgate.io/traffic-ready")),
                      or_dash(pod_condition(p, "Ready")), terminating(p) ? " terminating" : "",
                      annotation_of(p, "cellgate.io/drained") ? " drained" : "");
    }
    json_decref(pods);
    return text;
}

static void tail_logs(void)
{
    for (int i = 0; i < 2; i++)
        cg_e2e_sh(NULL, "echo '--- %s' >&2; tail -n 15 %s >&2", W.ctl[i].id, W.ctl[i].log);
}

/* Waits until the record of a release other than `not_rev` ("" for any) is at group g (-1:
 * any) in state (NULL: any). Fails saying what it waited for. */
static void wait_record(struct record *r, const char *not_rev, int g, const char *state,
                        double timeout_s, const char *what)
{
    double end = cg_e2e_now() + timeout_s;
    while (cg_e2e_now() < end) {
        record_now(r);
        if (r->present && strcmp(r->revision, not_rev) != 0 && (g < 0 || r->group == g) &&
            (state == NULL || strcmp(r->state, state) == 0))
            return;
        cg_e2e_sleep_ms(250);
    }
    tail_logs();
    fail_msg("waited %.0f s for %s (group %d, state %s); now: %s", timeout_s, what, g,
             state ? state : "any", describe_record());
}

struct census {
    int live, ready, image_ready, other_image, terminating;
};

static struct census census(int image)
{
    struct census c = {0};
    json_t *pods = cg_e2e_kget("pods -n %s -l i-run=%s", W.ns, W.run);
    assert_non_null(pods);
    char want[128];
    snprintf(want, sizeof(want), IMAGE ":%d", image);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        if (terminating(p)) {
            c.terminating++;
            continue;
        }
        c.live++;
        bool ready = cond_true(p, "Ready");
        c.ready += ready;
        const char *img = pod_image(p);
        bool same = img != NULL && strcmp(img, want) == 0;
        c.image_ready += same && ready;
        c.other_image += !same;
    }
    json_decref(pods);
    return c;
}

/* Waits until `replicas` pods of the image serve and no other pod is left. */
static void wait_all_serving(int image, double timeout_s)
{
    double end = cg_e2e_now() + timeout_s;
    struct census c = {0};
    while (cg_e2e_now() < end) {
        c = census(image);
        if (c.image_ready == REPLICAS && c.live == REPLICAS && c.other_image == 0 &&
            c.terminating == 0)
            return;
        cg_e2e_sleep_ms(250);
    }
    fail_msg("waited %.0f s for %d Ready pods of image :%d and no other: %d live, %d Ready of "
             "that image, %d of another image, %d terminating; %s",
             timeout_s, REPLICAS, image, c.live, c.image_ready, c.other_image, c.terminating,
             describe_record());
}

/* Held deletes so far: the ReplicaSet controller's FailedDelete Events (with their counts). */
static long held_events(void)
{
    json_t *ev = cg_e2e_kget("events -n %s --field-selector reason=FailedDelete", W.ns);
    long n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(ev, "items"), i, e)
    {
        json_int_t count = json_integer_value(json_object_get(e, "count"));
        n += count > 0 ? (long)count : 1;
    }
    json_decref(ev);
    return n;
}

/* The webhook's denied Pod DELETEs and evictions so far. */
static double webhook_denials(void)
{
    char *page = cg_e2e_metrics_get(W.webhook.metrics_port);
    if (page == NULL)
        return -1;
    double d = cg_e2e_metric(page, "cellgate_admission_reviews_total{path=\"/validate\",kind="
                                   "\"Pod\",operation=\"DELETE\",decision=\"denied\"}");
    double e = cg_e2e_metric(page, "cellgate_admission_reviews_total{path=\"/validate\",kind="
                                   "\"Eviction\",operation=\"CREATE\",decision=\"denied\"}");
    free(page);
    return (d > 0 ? d : 0) + (e > 0 ? e : 0);
}

static void held_begin(void)
{
    W.held_events0 = held_events();
    W.denied0 = webhook_denials();
}

static void held_report(const char *release)
{
    long held = held_events() - W.held_events0;
    double denied = webhook_denials() - W.denied0;
    print_message("held deletes, %s: %ld (FailedDelete Events), %.0f (webhook denials of Pod "
                  "DELETE and eviction)\n",
                  release, held, denied);
}

static void set_image(int tag)
{
    cg_e2e_sh_ok("change the image", "kubectl set image -n %s deployment/web app=" IMAGE ":%d",
                 W.ns, tag);
    W.image = tag;
}

static void annotate(const char *who, const char *key, const char *value)
{
    cg_e2e_sh_ok("annotate the Deployment",
                 "kubectl annotate -n %s deployment/web --overwrite %s=%s %s", W.ns, key, value,
                 who);
}

static void approve(int g)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", g);
    annotate(APPROVER, "cellgate.io/approve", v);
}

/* ------------------------------------------------------------------ set-up */

static int group_setup(void **state)
{
    memset(&W, 0, sizeof(W));
    if (!cg_e2e_find_cluster(W.kubeconfig, sizeof(W.kubeconfig))) {
        W.skip = true;
        return 0;
    }
    double t0 = cg_e2e_now();
    W.t_start = t0;
    W.dir = cg_test_dir_create("i-e2e-release");
    snprintf(W.run, sizeof(W.run), "%d", (int)getpid());
    snprintf(W.ns, sizeof(W.ns), "i-e2e-%d", (int)getpid());
    snprintf(W.hook, sizeof(W.hook), "i-e2e-%d", (int)getpid());
    snprintf(W.ctl_sa, sizeof(W.ctl_sa), "i-e2e-%d-ctl", (int)getpid());
    snprintf(W.certs, sizeof(W.certs), "%s", cg_test_path(W.dir, "certs"));
    snprintf(W.policies, sizeof(W.policies), "%s", cg_test_path(W.dir, "policies"));
    const char *argv[] = {GEN_CERTS, "-q", "-o", W.certs, NULL};
    assert_int_equal(cg_test_spawn(argv), 0);
    write_policy();
    cg_e2e_sh_ok("create the namespace", "kubectl create namespace %s", W.ns);

    /* The webhook and the controller, each as its ServiceAccount with the shipped rules. */
    char to0[128], to1[128];
    snprintf(to0, sizeof(to0), "name: %s", W.hook);
    snprintf(to1, sizeof(to1), "namespace: %s", W.ns);
    const char *wfrom[] = {"name: cellgate-webhook", "namespace: cellgate-system"};
    const char *wto[] = {to0, to1};
    snprintf(W.wh_kubeconfig, sizeof(W.wh_kubeconfig), "%s",
             cg_test_path(W.dir, "webhook.kubeconfig"));
    cg_e2e_service_account(W.ns, W.hook, WEBHOOK_RBAC, wfrom, wto, 2, W.wh_kubeconfig, W.wh_user,
                           sizeof(W.wh_user));
    snprintf(to0, sizeof(to0), "name: %s", W.ctl_sa);
    const char *cfrom[] = {"name: cellgate-controller", "namespace: cellgate-system"};
    const char *cto[] = {to0, to1};
    snprintf(W.ctl_kubeconfig, sizeof(W.ctl_kubeconfig), "%s",
             cg_test_path(W.dir, "controller.kubeconfig"));
    cg_e2e_service_account(W.ns, W.ctl_sa, CONTROLLER_RBAC, cfrom, cto, 2, W.ctl_kubeconfig,
                           W.ctl_user, sizeof(W.ctl_user));

    char trusted[400], log[600];
    snprintf(trusted, sizeof(trusted), "%s,%s", W.ctl_user, W.wh_user);
    snprintf(log, sizeof(log), "%s", cg_test_path(W.dir, "webhook.log"));
    cg_e2e_webhook_start(&W.webhook, W.certs, W.policies, W.wh_kubeconfig, trusted, true, log);
    cg_e2e_webhooks_register(W.hook, W.webhook.port, W.ns, W.certs,
                             cg_test_path(W.dir, "webhooks.yaml"));
    for (int i = 0; i < 2; i++) {
        struct ctl *c = &W.ctl[i];
        c->port = cg_e2e_free_port();
        snprintf(c->id, sizeof(c->id), "ctl-%c", 'a' + i);
        snprintf(c->log, sizeof(c->log), "%s", cg_test_path(W.dir, i ? "ctl-b.log" : "ctl-a.log"));
        controller_start(c);
    }
    wait_leader(15);

    W.watch = watcher_start(W.ns, "web", cg_test_path(W.dir, "watch.err"));
    char yaml[4096];
    snprintf(yaml, sizeof(yaml), deployment_fmt, REPLICAS, W.run, W.run, W.run);
    const char *path = cg_test_path(W.dir, "web.yaml");
    cg_test_write_file(path, yaml);
    cg_e2e_sh_ok("create the Deployment", "kubectl apply -n %s -f %s", W.ns, path);
    W.image = 1;
    /* First rollout: no release, the controller opens the gate once containers are ready. */
    wait_all_serving(1, 60);
    watcher_arm(W.watch, true);
    print_message("set-up: webhook, two controllers, 10 pods serving in %.1f s\n",
                  cg_e2e_now() - t0);
    return 0;
}

static void cleanup(void)
{
    if (W.skip || W.dir == NULL)
        return;
    /* The webhook configurations go first: nothing may depend on a webhook that is gone. */
    cg_e2e_webhooks_unregister(W.hook);
    if (W.cordoned[0] != '\0')
        cg_e2e_sh(NULL, "kubectl uncordon %s", W.cordoned);
    watcher_stop(W.watch);
    for (int i = 0; i < 2; i++)
        cg_e2e_stop(&W.ctl[i].pid);
    cg_e2e_stop(&W.webhook.pid);
    cg_e2e_namespace_delete(W.ns);
    cg_e2e_sh(NULL, "kubectl delete clusterrole,clusterrolebinding %s %s --ignore-not-found",
              W.hook, W.ctl_sa);
    /* A sanitizer report from one of our processes (an ASan build) fails the run. */
    const char *logs[] = {W.webhook.log, W.ctl[0].log, W.ctl[1].log};
    for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
        if (logs[i][0] != '\0' &&
            cg_e2e_sh(NULL, "grep -q -e 'Sanitizer' -e 'runtime error:' '%s'", logs[i]) == 0) {
            char *report = NULL;
            cg_e2e_sh(&report, "grep -A30 -e Sanitizer -e 'runtime error:' '%s'", logs[i]);
            print_error("sanitizer report in %s:\n%s\n", logs[i], report);
            free(report);
            W.sanitizer_report = true;
        }
    }
    print_message("e2e release: %.1f s from set-up to clean-up\n", cg_e2e_now() - W.t_start);
    if (getenv("CG_E2E_KEEP") != NULL || W.sanitizer_report) {
        print_message("kept %s\n", W.dir->dir);
        free(W.dir);
    } else {
        cg_test_dir_destroy(W.dir);
    }
    W.dir = NULL;
}

static int group_teardown(void **state)
{
    cleanup();
    return W.sanitizer_report ? -1 : 0;
}

/* ------------------------------------------------------------------ the scenarios */

/* The record names who approved each group: the webhook wrote the approver beside each
 * approval (cellgate.io/approved-by), the controller copied it when it acted. */
static void assert_approvals_by(const char *who, int n)
{
    json_t *d = deployment();
    json_t *rec = json_loads(or_else(annotation_of(d, "cellgate.io/release"), ""), 0, NULL);
    json_t *list = json_object_get(rec, "approvals");
    if ((int)json_array_size(list) != n)
        fail_msg("%zu approvals recorded, want %d: %s", json_array_size(list), n,
                 describe_record());
    for (int g = 0; g < n; g++) {
        json_t *a = json_array_get(list, (size_t)g);
        const char *by = json_string_value(json_object_get(a, "by"));
        if (json_integer_value(json_object_get(a, "group")) != g || by == NULL ||
            strcmp(by, who) != 0 || json_string_value(json_object_get(a, "at")) == NULL)
            fail_msg("approval %d is not group %d by %s: %s", g, g, who, describe_record());
    }
    json_decref(rec);
    json_decref(d);
}

/* 1. :1 -> :2 with manual approvals to the end. */
static void test_release_with_approvals(void **state)
{
    NEED_CLUSTER();
    double t0 = cg_e2e_now();
    struct record r;
    record_now(&r);
    char old_rev[40];
    snprintf(old_rev, sizeof(old_rev), "%s", r.revision);
    held_begin();
    set_image(2);
    wait_record(&r, old_rev, 0, NULL, 20, "the webhook's record of the new release");
    assert_int_equal(r.n_groups, 3);
    assert_int_equal(r.n_cells, 2);
    for (int g = 0; g < r.n_groups - 1; g++) {
        char what[64];
        snprintf(what, sizeof(what), "group %d to wait for its approval", g);
        wait_record(&r, old_rev, g, "waiting-approval", WAIT_GROUP_S, what);
        approve(g);
    }
    wait_record(&r, old_rev, r.n_groups - 1, "complete", WAIT_GROUP_S, "the release to complete");
    assert_approvals_by("alice", r.n_groups - 1);
    wait_all_serving(2, 30);
    held_report("release :1 -> :2");
    print_message("release :1 -> :2 with approvals: %.1f s\n", cg_e2e_now() - t0);
    watcher_check(W.watch, "release :1 -> :2");
}

/* 2. :2 -> :3 starts; bob, outside release-managers, may not approve. */
static void test_outsider_approval_refused(void **state)
{
    NEED_CLUSTER();
    struct record r;
    record_now(&r);
    char old_rev[40];
    snprintf(old_rev, sizeof(old_rev), "%s", r.revision);
    held_begin();
    set_image(3);
    wait_record(&r, old_rev, 0, "waiting-approval", WAIT_GROUP_S,
                "group 0 of :3 to wait for its approval");
    char *out = NULL;
    int rc = cg_e2e_sh(
        &out, "kubectl annotate -n %s deployment/web cellgate.io/approve=0 " OUTSIDER, W.ns);
    if (rc == 0 || strstr(out, "may not set cellgate.io/approve") == NULL ||
        strstr(out, "release-managers") == NULL)
        fail_msg("bob's approval: exit %d, %s", rc, out);
    free(out);
    cg_e2e_sleep_ms(3000);
    struct record now;
    record_now(&now);
    assert_string_equal(now.revision, r.revision);
    assert_int_equal(now.group, 0);
    assert_string_equal(now.state, "waiting-approval");
    watcher_check(W.watch, "outsider's approval");
}

/* 3. emergency pause holds an approved group; resume lets it go on. */
static void test_pause_resume(void **state)
{
    NEED_CLUSTER();
    struct record r;
    record_now(&r);
    assert_int_equal(r.group, 0);
    annotate(APPROVER, "cellgate.io/emergency", "pause");
    wait_record(&r, "", 0, "paused", 20, "the release to say paused");
    approve(0);
    cg_e2e_sleep_ms(5000);
    record_now(&r);
    if (r.group != 0 || strcmp(r.state, "paused") != 0) {
        fail_msg("a paused release moved on after its approval: %s", describe_record());
    }
    annotate(APPROVER, "cellgate.io/emergency", "resume");
    wait_record(&r, "", 1, NULL, 20, "the resumed release to start group 1");
    /* The controller removes the resume it carried out. */
    double end = cg_e2e_now() + 20;
    json_t *d = NULL;
    while (cg_e2e_now() < end) {
        json_decref(d);
        d = deployment();
        if (annotation_of(d, "cellgate.io/emergency") == NULL)
            break;
        cg_e2e_sleep_ms(250);
    }
    if (annotation_of(d, "cellgate.io/emergency") != NULL)
        fail_msg("cellgate.io/emergency is still \"%s\" 20 s after the resume was carried out",
                 annotation_of(d, "cellgate.io/emergency"));
    json_decref(d);
    watcher_check(W.watch, "pause / resume");
}

/* 4. The leader is killed with SIGKILL while group 1 is under way and started again. */
static void test_sigkill_mid_release(void **state)
{
    NEED_CLUSTER();
    double end = cg_e2e_now() + 30;
    struct census c = {0};
    while (cg_e2e_now() < end) {
        c = census(3);
        if (c.live - c.other_image > 2)
            break; /* group 1's surge pods exist */
        cg_e2e_sleep_ms(100);
    }
    struct ctl *leader = wait_leader(10);
    double t_kill = cg_e2e_now();
    kill(leader->pid, SIGKILL);
    int status;
    waitpid(leader->pid, &status, 0);
    leader->pid = 0;
    print_message("SIGKILL to the leader %s with %d pods of :3 live (%d Ready)\n", leader->id,
                  c.live - c.other_image, c.image_ready);
    /* The standby takes over once the lease (4 s) has not changed for a lease duration. */
    struct ctl *standby = leader == &W.ctl[0] ? &W.ctl[1] : &W.ctl[0];
    struct ctl *next = wait_leader(20);
    if (next != standby)
        fail_msg("the Lease names %s, which was killed", next->id);
    print_message("standby %s leads %.1f s after the SIGKILL\n", standby->id,
                  cg_e2e_now() - t_kill);
    controller_start(leader); /* started again: it stands by now */
    struct record r;
    wait_record(&r, "", 1, "waiting-approval", WAIT_GROUP_S,
                "group 1 to finish after the controller's restart");
    watcher_check(W.watch, "SIGKILL mid-release");
}

/* 5. Rolled back while group 1 of :3 waits: back to :2 in one group. */
static void test_rollback_mid_release(void **state)
{
    NEED_CLUSTER();
    struct record r;
    record_now(&r);
    char rev3[40];
    snprintf(rev3, sizeof(rev3), "%s", r.revision);
    annotate(APPROVER, "cellgate.io/emergency", "rollback");
    wait_record(&r, rev3, -1, NULL, 20, "the rollback's record");
    if (!r.rolled_back)
        fail_msg("the record after a rollback has no rolledBackFrom");
    json_t *d = deployment();
    const char *img = template_image(d);
    if (img == NULL || strcmp(img, IMAGE ":2") != 0)
        fail_msg("the template after the rollback is %s, not " IMAGE ":2", img ? img : "(none)");
    json_decref(d);
    W.image = 2;
    wait_record(&r, rev3, -1, "complete", WAIT_GROUP_S, "the rollback to complete");
    wait_all_serving(2, 30);
    d = deployment();
    if (annotation_of(d, "cellgate.io/emergency") != NULL)
        fail_msg("cellgate.io/emergency is still \"%s\" after the rollback",
                 annotation_of(d, "cellgate.io/emergency"));
    json_decref(d);
    held_report("release :2 -> :3 rolled back to :2");
    watcher_check(W.watch, "rollback");
}

/* 6. Two controllers, one leader: only the Lease holder acts. */
static void test_one_leader(void **state)
{
    NEED_CLUSTER();
    struct ctl *leader = wait_leader(10);
    struct ctl *standby = leader == &W.ctl[0] ? &W.ctl[1] : &W.ctl[0];
    char *lp = cg_e2e_metrics_get(leader->port), *sp = cg_e2e_metrics_get(standby->port);
    assert_non_null(lp);
    assert_non_null(sp);
    assert_true(cg_e2e_metric(lp, "cellgate_controller_leader") == 1);
    assert_true(cg_e2e_metric(sp, "cellgate_controller_leader") == 0);
    double l0 = cg_e2e_metric(lp, "cellgate_controller_reconciles_total");
    double s0 = cg_e2e_metric(sp, "cellgate_controller_reconciles_total");
    free(lp);
    free(sp);
    /* Something for a controller to look at. */
    cg_e2e_sh_ok("touch the Deployment",
                 "kubectl annotate -n %s deployment/web --overwrite i-touch=%d", W.ns, rand());
    cg_e2e_sleep_ms(2000);
    lp = cg_e2e_metrics_get(leader->port);
    sp = cg_e2e_metrics_get(standby->port);
    assert_non_null(lp);
    assert_non_null(sp);
    double l1 = cg_e2e_metric(lp, "cellgate_controller_reconciles_total");
    double s1 = cg_e2e_metric(sp, "cellgate_controller_reconciles_total");
    print_message("leader %s reconciled %.0f times over the touch, standby %s %.0f (%.0f in all)\n",
                  leader->id, l1 - l0, standby->id, s1 - s0, s1);
    free(lp);
    free(sp);
    assert_true(l1 > l0);
    assert_true(s1 == s0);
    assert_string_equal(lease_holder(), leader->id);
}

/* 7. kubectl drain of a zone-a node: each of our pods there is drained before it goes. */
static void test_kubectl_drain(void **state)
{
    NEED_CLUSTER();
    json_t *pods = cg_e2e_kget("pods -n %s -l i-run=%s", W.ns, W.run);
    assert_non_null(pods);
    int on_a1 = 0, on_a2 = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        const char *node = CG_E2E_STR(p, "spec", "nodeName");
        on_a1 += node && strcmp(node, "hollow-a1") == 0;
        on_a2 += node && strcmp(node, "hollow-a2") == 0;
    }
    const char *node = on_a1 >= on_a2 ? "hollow-a1" : "hollow-a2";
    int moving = on_a1 >= on_a2 ? on_a1 : on_a2;
    char names[REPLICAS][128];
    int n = 0;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        const char *nn = CG_E2E_STR(p, "spec", "nodeName");
        if (nn && strcmp(nn, node) == 0 && n < REPLICAS)
            snprintf(names[n++], sizeof(names[0]), "%s", CG_E2E_STR(p, "metadata", "name"));
    }
    json_decref(pods);
    assert_true(moving > 0);
    /* A drain takes a pod's traffic before a replacement exists: capacity dips by design. */
    watcher_arm(W.watch, false);
    snprintf(W.cordoned, sizeof(W.cordoned), "%s", node);
    double t0 = cg_e2e_now();
    char *out = NULL;
    int rc = cg_e2e_sh(&out,
                       "kubectl drain %s --pod-selector i-run=%s --ignore-daemonsets "
                       "--delete-emptydir-data --timeout=90s",
                       node, W.run);
    double took = cg_e2e_now() - t0;
    cg_e2e_sh(NULL, "kubectl uncordon %s", node);
    W.cordoned[0] = '\0';
    if (rc != 0)
        fail_msg("kubectl drain %s: exit %d after %.1f s: %s", node, rc, took, out);
    free(out);
    print_message("kubectl drain %s: %d pods moved in %.1f s\n", node, moving, took);
    wait_all_serving(W.image, 60);
    watcher_arm(W.watch, true);
    pthread_mutex_lock(&W.watch->lock);
    char bad[1024] = "";
    for (int k = 0; k < n; k++) {
        json_t *d = json_object_get(W.watch->deleted, names[k]);
        if (d == NULL || !json_is_true(json_object_get(d, "drained")) ||
            json_is_true(json_object_get(d, "serving"))) {
            size_t used = strlen(bad);
            snprintf(bad + used, sizeof(bad) - used, " %s(%s)", names[k],
                     d == NULL ? "deletion not seen" : "deleted undrained");
        }
    }
    pthread_mutex_unlock(&W.watch->lock);
    if (bad[0] != '\0')
        fail_msg("pods of the drained node not drained before they went:%s", bad);
    watcher_check(W.watch, "kubectl drain");
}

/* 8. The watcher itself can fail: with the webhook configurations gone, nothing holds the
 * delete of a serving pod, and the watcher must say so (twice: the pod deleted while
 * serving, and Ready pods below replicas). Last: the webhook is not registered again. */
static void test_watcher_sees_violations(void **state)
{
    NEED_CLUSTER();
    watcher_check(W.watch, "before the self-test");
    cg_e2e_webhooks_unregister(W.hook);
    json_t *pods = cg_e2e_kget("pods -n %s -l i-run=%s", W.ns, W.run);
    char victim[128] = "";
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        if (victim[0] == '\0' && !terminating(p) && cond_true(p, "Ready"))
            snprintf(victim, sizeof(victim), "%s", CG_E2E_STR(p, "metadata", "name"));
    }
    json_decref(pods);
    assert_true(victim[0] != '\0');
    cg_e2e_sh_ok("delete a serving pod with no webhook to hold it",
                 "kubectl delete pod -n %s %s --wait=false", W.ns, victim);
    cg_e2e_sleep_ms((int)(MERGE_DELAY_S * 1000) + 1500);
    pthread_mutex_lock(&W.watch->lock);
    size_t n = W.watch->n_violations;
    bool serving = false, below = false;
    for (size_t k = 0; k < n && k < MAX_VIOLATIONS; k++) {
        serving = serving || (strstr(W.watch->violations[k], victim) != NULL &&
                              strstr(W.watch->violations[k], "as serving") != NULL);
        below = below || strstr(W.watch->violations[k], "below replicas") != NULL;
    }
    W.watch->n_violations = 0;
    pthread_mutex_unlock(&W.watch->lock);
    print_message("self-test: %zu violations reported for deleting serving pod %s\n", n, victim);
    if (!serving || !below)
        fail_msg("the watcher missed a broken invariant: deleted-while-serving %s, below-replicas "
                 "%s",
                 serving ? "seen" : "missed", below ? "seen" : "missed");
}

int main(void)
{
    if (getenv("CG_E2E_ONLY") != NULL)
        cmocka_set_test_filter(getenv("CG_E2E_ONLY"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_with_approvals),
        cmocka_unit_test(test_outsider_approval_refused),
        cmocka_unit_test(test_pause_resume),
        cmocka_unit_test(test_sigkill_mid_release),
        cmocka_unit_test(test_rollback_mid_release),
        cmocka_unit_test(test_one_leader),
        cmocka_unit_test(test_kubectl_drain),
        cmocka_unit_test(test_watcher_sees_violations),
    };
    int rc = cg_test_run("e2e release", tests, sizeof(tests) / sizeof(tests[0]), group_setup,
                         group_teardown);
    cleanup(); /* when the set-up failed half-way, cmocka runs no teardown */
    return W.sanitizer_report && rc == 0 ? 1 : rc;
}
