/* snapshot -> eval -> apply -> requeue (see driver.h). */
#include "controller/driver.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "controller/apply.h"
#include "controller/snapshot.h"
#include "kube/objstore.h"

struct cg_driver {
    struct cg_driver_config cfg;
    struct cg_ctl_snapshot snap;
    struct cg_release_actions actions;
};

struct cg_driver *cg_driver_create(const struct cg_driver_config *cfg)
{
    struct cg_driver *d = cg_xcalloc(1, sizeof(*d));
    d->cfg = *cfg;
    cg_ctl_snapshot_init(&d->snap);
    cg_release_actions_init(&d->actions);
    return d;
}

void cg_driver_destroy(struct cg_driver *d)
{
    if (d == NULL)
        return;
    cg_release_actions_dispose(&d->actions);
    cg_ctl_snapshot_dispose(&d->snap);
    free(d);
}

static void add_result(void *ud, const char *check, bool ok, int64_t at, const char *message)
{
    cg_ctl_snapshot_add_check(ud, check, ok, at, message);
}

static void run_check(void *ud, const struct cg_release_snapshot *snap, const struct cg_check *ck)
{
    struct cg_driver *d = ud;
    if (d->cfg.checks != NULL)
        cg_checks_submit(d->cfg.checks, snap->namespace_, snap->name, ck);
}

/* The metrics that follow from what this evaluation changed and got applied. */
static void observe(struct cg_driver *d, const struct cg_ctl_apply_result *res, int64_t now)
{
    struct cg_relmetrics *m = d->cfg.metrics;
    const struct cg_release_snapshot *s = &d->snap.view;
    const struct cg_release_actions *a = &d->actions;
    if (m == NULL)
        return;
    for (size_t i = 0; i < a->n; i++) {
        const struct cg_release_action *x = &a->items[i];
        if (i < res->applied || i == res->failed)
            cg_relmetrics_count_action(m, x->kind, i < res->applied);
        if (i >= res->applied || x->kind != CG_ACT_PATCH_POD || !x->pod_patch.set_drained)
            continue;
        for (size_t k = 0; k < s->n_pods; k++)
            if (cg_str_eq(s->pods[k].state.name, x->pod) && s->pods[k].draining_since > 0)
                cg_relmetrics_observe_drain(m, (double)(now - s->pods[k].draining_since));
    }
    bool all = res->applied == a->n;
    if (all)
        cg_relmetrics_set_state(m, s->namespace_, s->name, a->state.revision != 0, a->state.state);
    /* a group ended: the record moved past it (or completed) in a patch that was applied */
    struct cg_release_record old;
    struct cg_err err;
    cg_err_clear(&err);
    if (!all || !s->has_record ||
        cg_release_record_decode(s->record.p, s->record.n, &old, &err) != CG_OK)
        return;
    bool moved = old.revision == a->state.revision &&
                 (a->state.group > old.group ||
                  (a->state.state == CG_RELEASE_COMPLETE && old.state != CG_RELEASE_COMPLETE));
    if (moved && old.group_since > 0 && now >= old.group_since)
        cg_relmetrics_observe_group(m, (double)(now - old.group_since));
}

/* Reads the Deployment from the API server into the cache (as a watch event would bring it).
 * False when the read fails: the watch will bring it then. */
static bool refresh_deployment(struct cg_kube_client *client,
                               const struct cg_controller_caches *caches, struct cg_str ns,
                               struct cg_str name)
{
    char ns_c[256], name_c[256];
    if (ns.n >= sizeof(ns_c) || name.n >= sizeof(name_c))
        return false;
    memcpy(ns_c, ns.p, ns.n);
    ns_c[ns.n] = '\0';
    memcpy(name_c, name.p, name.n);
    name_c[name.n] = '\0';
    struct cg_buf path;
    struct cg_kube_response resp;
    struct cg_err err;
    cg_err_clear(&err);
    cg_buf_init(&path, 0);
    cg_kube_response_init(&resp);
    bool ok = cg_kube_path(&path, "apps/v1", ns_c, "deployments", name_c, NULL) == CG_OK &&
              cg_kube_request(client, CG_KUBE_GET, path.data, NULL, 0, &resp, &err) == CG_OK &&
              resp.code == 200;
    if (ok)
        cg_objstore_apply(caches->deployments, CG_KUBE_MODIFIED, resp.body.data, resp.body.len);
    cg_buf_dispose(&path);
    cg_kube_response_dispose(&resp);
    return ok;
}

static enum cg_status reconcile_once(struct cg_driver *d, struct cg_kube_client *client,
                                     const struct cg_controller_caches *caches,
                                     const struct cg_policy_set *set, struct cg_str ns,
                                     struct cg_str name, bool by_version,
                                     struct cg_ctl_apply_result *res, bool *steered);

/* The Deployment patch failed for a stale base: 409 (resourceVersion) or 422 (a test op). */
static bool stale_base(const struct cg_driver *d, enum cg_status st,
                       const struct cg_ctl_apply_result *res)
{
    return st != CG_OK && (res->code == 409 || res->code == 422) && res->failed < d->actions.n &&
           d->actions.items[res->failed].kind == CG_ACT_PATCH_DEPLOYMENT;
}

int64_t cg_driver_reconcile(void *ud, struct cg_kube_client *client,
                            const struct cg_controller_caches *caches,
                            const struct cg_policy_set *set, struct cg_str ns, struct cg_str name)
{
    struct cg_driver *d = ud;
    struct cg_ctl_apply_result res;
    bool steered;
    enum cg_status st = reconcile_once(d, client, caches, set, ns, name, false, &res, &steered);
    /* A Deployment patch refused for a stale base: what it was conditioned on changed since
     * the cache's copy (most often the controller's own last patch, not yet back through the
     * watch). Read it afresh and decide again at once, rather than wait for the watch: on the
     * lab that wait was the tail of "group done -> next maxSurge". A test op that fails even
     * on the Deployment just read would fail forever: the last try is conditioned on its
     * resourceVersion alone. */
    for (int again = 0; again < CG_DRIVER_CONFLICT_RETRIES && steered && stale_base(d, st, &res);
         again++) {
        bool by_version = res.code == 422 && again > 0;
        if (!refresh_deployment(client, caches, ns, name))
            break;
        st = reconcile_once(d, client, caches, set, ns, name, by_version, &res, &steered);
    }
    if (!steered)
        return 0;
    if (st != CG_OK)
        return CG_DRIVER_RETRY;
    return d->actions.requeue_after > 0 ? d->actions.requeue_after : 0;
}

/* One snapshot -> eval -> apply. *steered is false when there is nothing to steer (the
 * Deployment is gone or no policy covers it). */
static enum cg_status reconcile_once(struct cg_driver *d, struct cg_kube_client *client,
                                     const struct cg_controller_caches *caches,
                                     const struct cg_policy_set *set, struct cg_str ns,
                                     struct cg_str name, bool by_version,
                                     struct cg_ctl_apply_result *res, bool *steered)
{
    struct cg_err err;
    cg_err_clear(&err);
    *res = (struct cg_ctl_apply_result){0, 0, CG_KUBE_NONE, 0};
    *steered = true;
    int64_t now = d->cfg.now ? d->cfg.now(d->cfg.now_ud) : (int64_t)time(NULL);
    int64_t t_begin = cg_mono_us();
    size_t skipped = 0;
    enum cg_status st = cg_ctl_snapshot_build(&d->snap, caches, set, ns, name, &skipped, &err);
    if (st != CG_OK || d->snap.policy == NULL) {
        /* gone, or not covered: nothing to steer, nothing to remember */
        if (d->cfg.checks != NULL)
            cg_checks_forget(d->cfg.checks, ns, name);
        if (d->cfg.metrics != NULL)
            cg_relmetrics_set_state(d->cfg.metrics, ns, name, false, CG_RELEASE_PROGRESSING);
        *steered = false;
        return CG_OK;
    }
    if (skipped > 0) {
        struct cg_log_line l;
        cg_log_begin(&l, CG_LOG_WARN, "objects skipped: they do not decode");
        cg_log_strn(&l, "namespace", ns.p, ns.n);
        cg_log_strn(&l, "deployment", name.p, name.n);
        cg_log_int(&l, "skipped", (int64_t)skipped);
        cg_log_end(&l);
    }
    if (d->cfg.checks != NULL) {
        /* A resume after a failed check asks for fresh runs: the failure it was told about is
         * what the operator fixed, and replaying it would pause the release again at once. */
        if (d->snap.view.has_emergency && cg_str_eq_c(d->snap.view.emergency, "resume"))
            cg_checks_forget(d->cfg.checks, ns, name);
        cg_checks_results(d->cfg.checks, ns, name, add_result, &d->snap);
    }
    st = cg_release_eval(&d->snap.view, d->snap.policy, now, &d->actions);
    if (st != CG_OK) {
        cg_log(CG_LOG_ERROR, "release evaluation refused the snapshot", "policy",
               d->snap.policy->name, NULL);
        d->actions.n = 0;
        return st;
    }
    struct cg_ctl_deploy_base base = {d->snap.resource_version, CG_STR_NULL, CG_STR_NULL};
    if (!by_version) {
        base.annotations = d->snap.annotations_json;
        base.spec = d->snap.spec_json;
    }
    int64_t t_decided = cg_mono_us();
    st = cg_ctl_apply(client, &d->snap.view, &base, &d->actions, now, run_check, d, res, &err);
    observe(d, res, now);
    if (cg_log_enabled(CG_LOG_DEBUG)) {
        struct cg_log_line l;
        cg_log_begin(&l, CG_LOG_DEBUG, "reconciled");
        cg_log_strn(&l, "namespace", ns.p, ns.n);
        cg_log_strn(&l, "deployment", name.p, name.n);
        cg_log_int(&l, "pods", (int64_t)d->snap.view.n_pods);
        cg_log_int(&l, "actions", (int64_t)d->actions.n);
        cg_log_int(&l, "applied", (int64_t)res->applied);
        cg_log_int(&l, "requeue_after", d->actions.requeue_after);
        cg_log_int(&l, "decide_us", t_decided - t_begin);
        cg_log_int(&l, "apply_us", cg_mono_us() - t_decided);
        cg_log_end(&l);
    }
    return st;
}

void cg_driver_metrics(void *ud, struct cg_buf *out)
{
    struct cg_driver *d = ud;
    if (d->cfg.metrics != NULL)
        cg_relmetrics_render(d->cfg.metrics, out);
    if (d->cfg.checks != NULL)
        cg_checks_metrics(d->cfg.checks, out);
}
