/* snapshot -> eval -> apply -> requeue (see driver.h). */
#include "controller/driver.h"

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "controller/apply.h"
#include "controller/snapshot.h"

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

int64_t cg_driver_reconcile(void *ud, struct cg_kube_client *client,
                            const struct cg_controller_caches *caches,
                            const struct cg_policy_set *set, struct cg_str ns, struct cg_str name)
{
    struct cg_driver *d = ud;
    struct cg_err err;
    cg_err_clear(&err);
    int64_t now = d->cfg.now ? d->cfg.now(d->cfg.now_ud) : (int64_t)time(NULL);
    size_t skipped = 0;
    enum cg_status st = cg_ctl_snapshot_build(&d->snap, caches, set, ns, name, &skipped, &err);
    if (st != CG_OK || d->snap.policy == NULL) {
        /* gone, or not covered: nothing to steer, nothing to remember */
        if (d->cfg.checks != NULL)
            cg_checks_forget(d->cfg.checks, ns, name);
        if (d->cfg.metrics != NULL)
            cg_relmetrics_set_state(d->cfg.metrics, ns, name, false, CG_RELEASE_PROGRESSING);
        return 0;
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
        return CG_DRIVER_RETRY;
    }
    struct cg_ctl_apply_result res;
    st = cg_ctl_apply(client, &d->snap.view, d->snap.resource_version, &d->actions, now, run_check,
                      d, &res, &err);
    observe(d, &res, now);
    if (cg_log_enabled(CG_LOG_DEBUG)) {
        struct cg_log_line l;
        cg_log_begin(&l, CG_LOG_DEBUG, "reconciled");
        cg_log_strn(&l, "namespace", ns.p, ns.n);
        cg_log_strn(&l, "deployment", name.p, name.n);
        cg_log_int(&l, "pods", (int64_t)d->snap.view.n_pods);
        cg_log_int(&l, "actions", (int64_t)d->actions.n);
        cg_log_int(&l, "applied", (int64_t)res.applied);
        cg_log_int(&l, "requeue_after", d->actions.requeue_after);
        cg_log_end(&l);
    }
    if (st != CG_OK)
        return CG_DRIVER_RETRY;
    return d->actions.requeue_after > 0 ? d->actions.requeue_after : 0;
}

void cg_driver_metrics(void *ud, struct cg_buf *out)
{
    struct cg_driver *d = ud;
    if (d->cfg.metrics != NULL)
        cg_relmetrics_render(d->cfg.metrics, out);
    if (d->cfg.checks != NULL)
        cg_checks_metrics(d->cfg.checks, out);
}
