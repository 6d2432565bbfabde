/* cg_release_eval: the release state machine, derived afresh from the snapshot each time.
 *
 * Per group g of the record (cumulative plan want[c] = new pods serving in cell c by the end
 * of g):
 *   gate   enough new pods with containers ready in every cell -> checks pass -> mark the old
 *          pods that go (low pod-deletion-cost) -> traffic True for the group's new pods;
 *   drain  while serving capacity stays >= replicas: draining + traffic False on a victim,
 *          then drained once no EndpointSlice lists it as serving (the webhook then lets the
 *          ReplicaSet controller's retried delete pass);
 *   done   the group serves: its new pods Ready, its victims drained (their deletes are the
 *          Deployment controller's, minReadySeconds later) -> approval / soak -> next maxSurge
 *          and paused=false in one patch; spec.paused (cellgate's) while a wait outlasts the
 *          old pods; the last group completes the release.
 * Every step is a function of what the cluster shows, so nothing is done twice and nothing is
 * skipped when the controller restarts between any two API calls. */
#include "release/release.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mem.h"
#include "base/names.h"

/* A drain that takes longer than this is reported (Event, record reason). */
#define DRAIN_SLOW_SECONDS 30

enum pod_class { POD_OTHER, POD_NEW, POD_OLD };

struct ctx {
    const struct cg_release_snapshot *s;
    const struct cg_policy *p;
    int64_t now;
    struct cg_release_actions *out;
    const struct cg_release_rs *cur;
    bool have_old;                /* the snapshot's record decoded */
    struct cg_release_record old; /* as decoded */
    struct cg_release_record rec; /* as this evaluation leaves it */
    bool steering;
    bool record_live;   /* rec is the record to write back */
    bool rolled_back;   /* this evaluation ordered a rollback: nothing else is done */
    bool advanced;      /* this evaluation moved the release to its next group */
    uint32_t n_victims; /* old pods the current group sends away */
    /* per pod */
    enum pod_class *cls;
    int *cell; /* index into rec.cells, -1: none */
    bool *gate, *mark, *drain;
    /* the Deployment patch, applied after the pod actions (but finalizer removals) */
    struct cg_release_deploy_patch dp;
    /* Events, appended after the Deployment patch */
    struct cg_release_action *ev;
    size_t n_ev, cap_ev;
    int64_t requeue;
};

/* --- small helpers ------------------------------------------------------------------------- */

static void requeue_in(struct ctx *c, int64_t seconds)
{
    if (seconds < 1)
        seconds = 1;
    if (c->requeue == 0 || seconds < c->requeue)
        c->requeue = seconds;
}

static struct cg_release_action *push(struct cg_release_action **items, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *items = cg_xrealloc(*items, *cap * sizeof(**items));
    }
    struct cg_release_action *a = &(*items)[(*n)++];
    memset(a, 0, sizeof(*a));
    return a;
}

static struct cg_release_action *act(struct ctx *c, enum cg_release_action_kind kind,
                                     const struct cg_release_pod *pod)
{
    struct cg_release_action *a = push(&c->out->items, &c->out->n, &c->out->cap);
    a->kind = kind;
    if (pod != NULL) {
        a->pod = pod->state.name;
        a->pod_uid = pod->state.uid;
    }
    return a;
}

static void event(struct ctx *c, bool warning, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void event(struct ctx *c, bool warning, const char *reason, const char *fmt, ...)
{
    struct cg_release_action *a = push(&c->ev, &c->n_ev, &c->cap_ev);
    a->kind = CG_ACT_EVENT;
    a->warning = warning;
    snprintf(a->reason, sizeof(a->reason), "%s", reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->message, sizeof(a->message), fmt, ap);
    va_end(ap);
}

/* Sets the record's reason; a new reason is announced once by an Event (the record is the
 * memory that makes it once). */
static void set_reason(struct ctx *c, bool warning, const char *ev_reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_reason(struct ctx *c, bool warning, const char *ev_reason, const char *fmt, ...)
{
    char text[CG_RECORD_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (strcmp(text, c->rec.reason) == 0)
        return;
    snprintf(c->rec.reason, sizeof(c->rec.reason), "%s", text);
    if (!c->have_old || strcmp(c->old.reason, text) != 0)
        event(c, warning, ev_reason, "%s", text);
}

static void rfc3339(int64_t t, char *out, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (gmtime_r(&tt, &tm) == NULL)
        tm = (struct tm){0};
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool has_finalizer(const struct cg_release_pod *pod, const char *name)
{
    for (size_t i = 0; i < pod->n_finalizers; i++)
        if (cg_str_eq_c(pod->finalizers[i], name))
            return true;
    return false;
}

static bool live(const struct cg_release_pod *pod)
{
    return cg_pod_state_is_live(&pod->state);
}

static bool marked(const struct cg_release_pod *pod)
{
    return pod->has_deletion_cost && pod->deletion_cost == CG_RELEASE_VICTIM_COST;
}

/* Serving capacity: pods that are Ready (containers and traffic gate) and not being drained. */
static bool serving(const struct cg_release_pod *pod)
{
    return live(pod) && pod->ready && pod->state.traffic_ready && !pod->state.draining;
}

/* A drained pod: recorded so, or seen so by this evaluation, which records it (draining,
 * traffic condition False, not Ready, in no EndpointSlice as serving). */
static bool drained_out(const struct cg_release_pod *pod)
{
    return pod->state.drained || (pod->state.draining && !pod->state.traffic_ready && !pod->ready &&
                                  pod->endpoint != CG_EP_SERVING);
}

/* Deterministic order among candidates: oldest first, then by name. */
static bool before(const struct cg_release_pod *a, const struct cg_release_pod *b)
{
    if (a->created != b->created)
        return a->created < b->created;
    size_t n = a->state.name.n < b->state.name.n ? a->state.name.n : b->state.name.n;
    int r = n ? memcmp(a->state.name.p, b->state.name.p, n) : 0;
    return r != 0 ? r < 0 : a->state.name.n < b->state.name.n;
}

static const struct cg_release_check_result *check_result(const struct ctx *c, const char *name)
{
    for (size_t i = 0; i < c->s->n_checks; i++)
        if (cg_str_eq_c(c->s->checks[i].name, name))
            return &c->s->checks[i];
    return NULL;
}

/* --- checks -------------------------------------------------------------------------------- */

enum verdict { PASS, WAIT, FAIL };

/* The policy's checks over the pods flagged in sel. external: also the http / prometheus
 * checks, whose result must be newer than `since` and CG_RELEASE_CHECK_INTERVAL (else a run
 * is asked for). On FAIL, *failed names the check and why. */
static enum verdict run_checks(struct ctx *c, const bool *sel, bool external, int64_t since,
                               const struct cg_check **failed, char *why, size_t why_cap)
{
    enum verdict v = PASS;
    const struct cg_monitor *m = &c->p->monitor;
    for (size_t i = 0; i < m->n_checks; i++) {
        const struct cg_check *ck = &m->checks[i];
        switch (ck->kind) {
        case CG_CHECK_READY_FOR:
            for (size_t k = 0; k < c->s->n_pods; k++) {
                const struct cg_release_pod *pod = &c->s->pods[k];
                if (!sel[k])
                    continue;
                int64_t at = pod->containers_ready_since + ck->duration_seconds;
                if (!pod->containers_ready || pod->containers_ready_since <= 0) {
                    v = v == FAIL ? FAIL : WAIT;
                } else if (at > c->now) {
                    v = v == FAIL ? FAIL : WAIT;
                    requeue_in(c, at - c->now);
                }
            }
            break;
        case CG_CHECK_RESTARTS:
            for (size_t k = 0; k < c->s->n_pods; k++) {
                const struct cg_release_pod *pod = &c->s->pods[k];
                if (sel[k] && pod->restarts > ck->max_restarts && v != FAIL) {
                    v = FAIL;
                    *failed = ck;
                    snprintf(why, why_cap, "pod %.*s restarted %" PRId64 " times (max %" PRId64 ")",
                             (int)pod->state.name.n, pod->state.name.p, pod->restarts,
                             ck->max_restarts);
                }
            }
            break;
        case CG_CHECK_HTTP:
        case CG_CHECK_PROMETHEUS: {
            if (!external)
                break;
            const struct cg_release_check_result *r = check_result(c, ck->name);
            if (r == NULL || r->at < since || c->now - r->at > CG_RELEASE_CHECK_INTERVAL) {
                struct cg_release_action *a = act(c, CG_ACT_RUN_CHECK, NULL);
                a->check = ck;
                v = v == FAIL ? FAIL : WAIT;
                requeue_in(c, CG_RELEASE_POLL);
            } else if (!r->ok && v != FAIL) {
                v = FAIL;
                *failed = ck;
                snprintf(why, why_cap, "%.*s", (int)r->message.n, r->message.p);
            } else if (r->ok) {
                /* keep it fresh: the next result is due when this one goes stale */
                requeue_in(c, r->at + CG_RELEASE_CHECK_INTERVAL - c->now + 1);
            }
            break;
        }
        }
    }
    return v;
}

/* --- the Deployment patch ------------------------------------------------------------------ */

static void patch_surge(struct ctx *c, uint32_t g)
{
    int64_t surge = cg_release_record_group_total(&c->rec, g);
    /* A larger surge waits until the current ReplicaSet reports the previous groups' pods
     * available. Grown past its Ready pods, the ReplicaSet is no longer re-read by its
     * controller minReadySeconds after they became Ready (it only is while all its replicas
     * are Ready), so its availableReplicas would stay short and the Deployment controller would
     * never shrink the old ReplicaSet to make room for the rest of the group (seen on the lab:
     * a group stuck with half its pods). */
    if (g > 0 && c->cur != NULL) {
        int64_t before = cg_release_record_group_total(&c->rec, g - 1), done_pods = 0;
        for (size_t j = 0; j < c->rec.n_cells; j++)
            done_pods += cg_release_record_cum(&c->rec, g - 1, j);
        if (surge > before && c->cur->available < done_pods)
            surge = before;
    }
    if (surge < 1)
        surge = 1; /* maxSurge and maxUnavailable may not both be 0 */
    if (!c->s->max_surge_set || c->s->max_surge != surge) {
        c->dp.set_max_surge = true;
        c->dp.max_surge = surge;
    }
    if (!c->s->max_unavailable_set || c->s->max_unavailable != 0) {
        c->dp.set_max_unavailable_zero = true;
    }
}

/* Asks for spec.paused = paused (a later call in the same evaluation wins). */
static void set_paused(struct ctx *c, bool paused)
{
    c->dp.set_paused = c->s->paused != paused;
    c->dp.paused = paused;
    c->rec.cellgate_paused = paused;
}

/* The record with the plan for replicas: a rollback released fast is one group of everything. */
static bool plan_record(struct ctx *c, uint64_t revision, enum cg_release_state state,
                        struct cg_release_record *out)
{
    struct cg_plan plan;
    struct cg_err err;
    cg_err_clear(&err);
    if (c->s->replicas < 1 ||
        cg_plan_compute(&c->p->cells, &c->p->gray, c->s->replicas, &plan, &err) != CG_OK) {
        event(c, true, "PlanImpossible", "no release plan for %" PRId64 " replicas: %s",
              c->s->replicas, err.msg);
        return false;
    }
    if (state == CG_RELEASE_ROLLBACK && c->p->emergency.rollback == CG_ROLLBACK_FAST) {
        plan.n_groups = 1;
        plan.group_total[0] = 0;
        for (size_t k = 0; k < plan.n_cells; k++) {
            plan.pods[0][k] = plan.cell_target[k];
            plan.group_total[0] += plan.cell_target[k];
        }
    }
    if (cg_release_record_init(out, revision, &c->p->cells, &plan, state) != CG_OK) {
        event(c, true, "PlanImpossible", "a cell name of policy %s is too long", c->p->name);
        return false;
    }
    return true;
}

/* --- rollback ------------------------------------------------------------------------------ */

static const struct cg_release_rs *previous_rs(const struct ctx *c)
{
    const struct cg_release_rs *best = NULL;
    for (size_t i = 0; i < c->s->n_rs; i++) {
        const struct cg_release_rs *rs = &c->s->rs[i];
        if (rs == c->cur || rs->template_json.n == 0)
            continue;
        if (c->s->previous_hash.n > 0) {
            if (cg_str_eq(rs->hash, c->s->previous_hash))
                return rs;
            continue;
        }
        if (best == NULL || rs->revision > best->revision)
            best = rs;
    }
    return best;
}

/* Restores the previous ReplicaSet's template with a fresh rollback record, in one patch. */
static void rollback(struct ctx *c, const char *why)
{
    const struct cg_release_rs *prev = previous_rs(c);
    if (prev == NULL) {
        c->rec.state = CG_RELEASE_FAILED;
        set_reason(c, true, "RollbackImpossible",
                   "cannot roll back (%s): no previous ReplicaSet with a template", why);
        return;
    }
    struct cg_release_record r;
    if (!plan_record(c, prev->digest, CG_RELEASE_ROLLBACK, &r))
        return;
    r.rolled_back_from = c->rec.revision ? c->rec.revision : c->s->template_digest;
    memcpy(r.failed_check, c->rec.failed_check, sizeof(r.failed_check));
    r.since = r.group_since = r.updated = c->now;
    snprintf(r.reason, sizeof(r.reason), "rolling back to %.*s: %s", (int)prev->name.n,
             prev->name.p, why);
    /* A user's pause stays; cellgate's own goes (the rollback must move). */
    r.cellgate_paused = false;
    if (c->s->paused && c->rec.cellgate_paused)
        set_paused(c, false);
    c->rec = r;
    c->record_live = true;
    c->rolled_back = true;
    c->dp.template_json = prev->template_json;
    patch_surge(c, 0);
    event(c, true, "RollbackStarted", "%s", r.reason);
}

/* --- a release, group by group ------------------------------------------------------------- */

struct counts {
    uint32_t want[CG_PLAN_MAX_CELLS], target[CG_PLAN_MAX_CELLS];
    uint32_t new_serving[CG_PLAN_MAX_CELLS], old_live[CG_PLAN_MAX_CELLS];
    uint32_t new_ready[CG_PLAN_MAX_CELLS]; /* serving and Ready: the traffic reaches them */
    uint32_t old_total, old_unplaced, new_serving_total;
    uint32_t old_in_service; /* live old pods not yet drained out of every EndpointSlice */
    int64_t old_rs_replicas;
    uint32_t want_total;
};

static void count(struct ctx *c, struct counts *k)
{
    memset(k, 0, sizeof(*k));
    const struct cg_release_record *r = &c->rec;
    for (size_t i = 0; i < r->n_cells; i++) {
        k->want[i] = cg_release_record_cum(r, r->group, i);
        k->target[i] = cg_release_record_cum(r, (uint32_t)r->n_groups - 1, i);
        k->want_total += k->want[i];
    }
    for (size_t i = 0; i < c->s->n_pods; i++) {
        const struct cg_release_pod *pod = &c->s->pods[i];
        if (!live(pod))
            continue;
        if (c->cls[i] == POD_NEW && pod->state.traffic_ready && !pod->state.draining) {
            k->new_serving_total++;
            if (c->cell[i] >= 0) {
                k->new_serving[c->cell[i]]++;
                k->new_ready[c->cell[i]] += pod->ready;
            }
        } else if (c->cls[i] == POD_OLD) {
            k->old_total++;
            k->old_in_service += !drained_out(pod);
            if (c->cell[i] >= 0)
                k->old_live[c->cell[i]]++;
            else
                k->old_unplaced++;
        }
    }
    for (size_t i = 0; i < c->s->n_rs; i++)
        if (&c->s->rs[i] != c->cur)
            k->old_rs_replicas += c->s->rs[i].replicas;
}

/* Old pods that must go for the current group: what exceeds replicas - want_total. */
static uint32_t victims_needed(const struct ctx *c, const struct counts *k)
{
    int64_t keep = c->s->replicas - (int64_t)k->want_total;
    if (keep < 0)
        keep = 0;
    return (int64_t)k->old_total > keep ? (uint32_t)(k->old_total - keep) : 0;
}

static bool is_victim(const struct ctx *c, size_t i)
{
    const struct cg_release_pod *pod = &c->s->pods[i];
    return c->cls[i] == POD_OLD && live(pod) &&
           (marked(pod) || c->mark[i] || pod->state.draining || pod->state.drain_requested != 0);
}

/* Chooses the old pods to go, up to n in all: first those chosen before (marked, draining,
 * asked to drain), then per cell where old pods exceed what the group leaves there, the pods
 * the ReplicaSet would delete first anyway (not ready), then the oldest. */
static void choose_victims(struct ctx *c, const struct counts *k, uint32_t n)
{
    uint32_t have = 0;
    int64_t excess[CG_PLAN_MAX_CELLS];
    for (size_t j = 0; j < c->rec.n_cells; j++)
        excess[j] = (int64_t)k->old_live[j] - (int64_t)(k->target[j] - k->want[j]);
    for (size_t i = 0; i < c->s->n_pods; i++) {
        if (is_victim(c, i)) {
            have++;
            if (c->cell[i] >= 0)
                excess[c->cell[i]]--;
        }
    }
    while (have < n) {
        size_t best = SIZE_MAX;
        int best_rank = 0;
        for (size_t i = 0; i < c->s->n_pods; i++) {
            const struct cg_release_pod *pod = &c->s->pods[i];
            if (c->cls[i] != POD_OLD || !live(pod) || is_victim(c, i))
                continue;
            /* rank: 0 = in a cell with excess or no cell; 1 = elsewhere; not-ready first */
            int rank = (c->cell[i] < 0 || excess[c->cell[i]] > 0) ? 0 : 2;
            rank += pod->ready ? 1 : 0;
            if (best == SIZE_MAX || rank < best_rank ||
                (rank == best_rank && before(pod, &c->s->pods[best]))) {
                best = i;
                best_rank = rank;
            }
        }
        if (best == SIZE_MAX)
            break;
        c->mark[best] = true;
        if (c->cell[best] >= 0)
            excess[c->cell[best]]--;
        have++;
    }
}

/* Drains victims while the serving capacity stays at least replicas. */
static void plan_drains(struct ctx *c)
{
    int64_t cap = 0;
    for (size_t i = 0; i < c->s->n_pods; i++)
        if (serving(&c->s->pods[i]))
            cap++;
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: pods the webhook asked for (a delete waits on them); pass 1: the marked */
        for (size_t i = 0; i < c->s->n_pods; i++) {
            const struct cg_release_pod *pod = &c->s->pods[i];
            if (!is_victim(c, i) || pod->state.draining || pod->state.drained || c->drain[i])
                continue;
            if ((pass == 0) != (pod->state.drain_requested != 0))
                continue;
            bool counts_now = serving(pod);
            if (counts_now && cap - 1 < c->s->replicas)
                continue;
            c->drain[i] = true;
            if (counts_now)
                cap--;
        }
    }
}

/* Gates on up to need[cell] new candidates per cell; false (nothing flagged) when a cell has
 * too few. */
static bool choose_candidates(struct ctx *c, const struct counts *k, char *why, size_t why_cap)
{
    bool ok = true;
    for (size_t j = 0; j < c->rec.n_cells; j++) {
        uint32_t need = k->want[j] > k->new_serving[j] ? k->want[j] - k->new_serving[j] : 0;
        uint32_t got = 0;
        while (got < need) {
            size_t best = SIZE_MAX;
            for (size_t i = 0; i < c->s->n_pods; i++) {
                const struct cg_release_pod *pod = &c->s->pods[i];
                if (c->cls[i] != POD_NEW || c->cell[i] != (int)j || !live(pod) || c->gate[i] ||
                    pod->state.traffic_ready || pod->state.draining ||
                    pod->state.drain_requested != 0 || !pod->containers_ready)
                    continue;
                if (best == SIZE_MAX || before(pod, &c->s->pods[best]))
                    best = i;
            }
            if (best == SIZE_MAX)
                break;
            c->gate[best] = true;
            got++;
        }
        if (got < need && ok) {
            ok = false;
            snprintf(why, why_cap,
                     "group %" PRIu32 ": waiting for %" PRIu32
                     " new pod(s) in cell %s to run with containers ready",
                     c->rec.group, need - got, c->rec.cells[j]);
        }
    }
    if (!ok)
        memset(c->gate, 0, c->s->n_pods * sizeof(*c->gate));
    return ok;
}

/* The Deployment may be paused without stranding a scale: nothing waits to be deleted, no
 * scale-down is due, the new ReplicaSet has its pods. A drained (or draining) old pod waits for
 * the scale-down the Deployment controller makes minReadySeconds after the new pods became
 * available, which a paused Deployment would not make. */
static bool quiescent(const struct ctx *c, const struct counts *k)
{
    int64_t ready = 0;
    for (size_t i = 0; i < c->s->n_pods; i++) {
        const struct cg_release_pod *pod = &c->s->pods[i];
        if (!live(pod))
            continue;
        if (c->cls[i] == POD_OLD && (pod->state.draining || pod->state.drained))
            return false;
        ready += pod->ready;
    }
    return ready <= c->s->replicas && (int64_t)k->old_total <= k->old_rs_replicas &&
           (c->cur == NULL || c->cur->replicas >= (int64_t)k->want_total);
}

static void check_failed(struct ctx *c, const struct cg_check *ck, const char *why)
{
    snprintf(c->rec.failed_check, sizeof(c->rec.failed_check), "%s", ck->name);
    if (c->p->emergency.on_check_failure == CG_ON_FAILURE_ROLLBACK &&
        c->rec.state != CG_RELEASE_ROLLBACK) {
        char text[CG_RECORD_TEXT_MAX];
        snprintf(text, sizeof(text), "check %s failed at group %" PRIu32 ": %s", ck->name,
                 c->rec.group, why);
        rollback(c, text);
        return;
    }
    c->rec.state = CG_RELEASE_PAUSED;
    c->rec.pause_cause = CG_PAUSE_CAUSE_CHECK;
    set_reason(c, true, "CheckFailed",
               "check %s failed at group %" PRIu32
               ": %s; paused until cellgate.io/emergency=resume",
               ck->name, c->rec.group, why);
}

static bool approved(const struct ctx *c, uint32_t g)
{
    if (!c->s->has_approve)
        return false;
    char want[16];
    int n = snprintf(want, sizeof(want), "%" PRIu32, g);
    return cg_str_eq(c->s->approve, (struct cg_str){want, (size_t)n});
}

static void advance(struct ctx *c, const char *how)
{
    struct cg_release_record *r = &c->rec;
    uint32_t g = r->group;
    if (!c->steering)
        return;
    if (r->state != CG_RELEASE_ROLLBACK && c->p->gray.pause == CG_PAUSE_MANUAL &&
        r->n_approvals < CG_RECORD_MAX_APPROVALS) {
        struct cg_release_approval *a = &r->approvals[r->n_approvals++];
        a->group = g;
        snprintf(a->by, sizeof(a->by), "%.*s", (int)c->s->approver.n,
                 c->s->approver.p ? c->s->approver.p : "");
        a->at = c->now;
    }
    c->advanced = true;
    r->group = g + 1;
    if (r->state != CG_RELEASE_ROLLBACK)
        r->state = CG_RELEASE_PROGRESSING;
    r->pause_cause = CG_PAUSE_CAUSE_NONE;
    r->group_since = c->now;
    r->group_done = 0;
    r->reason[0] = '\0';
    patch_surge(c, g + 1);
    if (r->cellgate_paused)
        set_paused(c, false);
    event(c, false, "GroupStarted", "group %" PRIu32 " done (%s); group %" PRIu32 " of %zu starts",
          g, how, g + 1, r->n_groups);
}

/* The current group's step. Leaves c->n_victims for the drains that follow. */
static void steer(struct ctx *c)
{
    struct cg_release_record *r = &c->rec;
    const struct cg_release_snapshot *s = c->s;
    char why[CG_RECORD_TEXT_MAX] = "";
    struct counts k;
    count(c, &k);
    for (size_t j = 0; j < r->n_cells; j++) {
        r->new_serving[j] = k.new_serving[j];
        r->old_live[j] = k.old_live[j];
    }
    r->has_counts = true;

    bool rollback_release = r->state == CG_RELEASE_ROLLBACK;
    bool held = r->pause_cause == CG_PAUSE_CAUSE_EMERGENCY ||
                r->pause_cause == CG_PAUSE_CAUSE_CHECK || r->state == CG_RELEASE_FAILED;
    bool user_paused = s->paused && !r->cellgate_paused;
    if (r->pause_cause == CG_PAUSE_CAUSE_USER && !user_paused)
        r->pause_cause = CG_PAUSE_CAUSE_NONE;
    if (user_paused && !held) {
        r->pause_cause = CG_PAUSE_CAUSE_USER;
        r->reason[0] = '\0';
        set_reason(c, false, "UserPaused",
                   "held at group %" PRIu32 ": the Deployment was paused by a user (kubectl "
                   "rollout pause); cellgate leaves that pause to them",
                   r->group);
    }
    bool hold = held || user_paused;
    if (!held && !user_paused)
        r->reason[0] = '\0'; /* derived afresh; a hold keeps the reason that caused it */
    if (!hold)
        patch_surge(c, r->group);
    /* A held release waits with the Deployment paused (no progress deadline meanwhile). */
    if (held && !s->paused && quiescent(c, &k))
        set_paused(c, true);

    uint32_t n_victims = victims_needed(c, &k);
    c->n_victims = n_victims;
    bool gated = true;
    for (size_t j = 0; j < r->n_cells; j++)
        if (k.new_serving[j] < k.want[j])
            gated = false;

    /* gate: the group's new pods get traffic once checks pass (a top-up that moves no traffic
     * off old pods, e.g. a replaced pod, only needs the per-pod checks, and no hold stops it) */
    if (!gated) {
        bool shift = n_victims > 0;
        if (shift && hold) {
            /* nothing moves while held */
        } else if (!choose_candidates(c, &k, why, sizeof(why))) {
            if (!hold)
                set_reason(c, false, "WaitingForPods", "%s", why);
        } else {
            const struct cg_check *failed = NULL;
            int64_t since = 0;
            for (size_t i = 0; i < s->n_pods; i++)
                if (c->gate[i] && s->pods[i].containers_ready_since > since)
                    since = s->pods[i].containers_ready_since;
            enum verdict v = run_checks(c, c->gate, shift, since, &failed, why, sizeof(why));
            if (v == FAIL) {
                memset(c->gate, 0, s->n_pods * sizeof(*c->gate));
                check_failed(c, failed, why);
                return;
            }
            if (v == WAIT) {
                memset(c->gate, 0, s->n_pods * sizeof(*c->gate));
                if (!hold)
                    set_reason(c, false, "Checking", "group %" PRIu32 ": checks running", r->group);
                /* a long check must not trip progressDeadlineSeconds: pause meanwhile */
                int64_t deadline =
                    s->progress_deadline_seconds > 0 ? s->progress_deadline_seconds : 600;
                int64_t at = (r->group_since > 0 ? r->group_since : c->now) + deadline / 2;
                if (!s->paused && quiescent(c, &k) && at <= c->now)
                    set_paused(c, true);
                else if (!s->paused)
                    requeue_in(c, at - c->now);
            } else {
                if (shift) {
                    choose_victims(c, &k, n_victims);
                    if (s->paused && r->cellgate_paused)
                        set_paused(c, false); /* the old ReplicaSet must shrink */
                    size_t n_gate = 0;
                    for (size_t i = 0; i < s->n_pods; i++)
                        n_gate += c->gate[i];
                    event(c, false, "GroupTraffic",
                          "group %" PRIu32 ": %zu new pod(s) get traffic, %" PRIu32
                          " old pod(s) will be drained",
                          r->group, n_gate, n_victims);
                }
            }
        }
    }

    /* done: the group serves. Its new pods are Ready with traffic and the old pods it replaces
     * are drained out of the EndpointSlices (or gone); a victim that stays listed holds the
     * release here. Their deletes do not hold it: they are the Deployment controller's, once the
     * new pods have been available for minReadySeconds (the drain window), and the next group's
     * maxSurge only lets it create the next pods as the old ones go, behind their gate. So the
     * controller is not in the path from one group's end to the next group's pods. */
    int64_t keep = s->replicas - (int64_t)k.want_total;
    bool done = gated && (int64_t)k.old_in_service <= keep;
    for (size_t j = 0; j < r->n_cells && done; j++)
        done = k.new_ready[j] >= k.want[j];
    /* The group serves and its old pods must go: cellgate's pause must be off. The patch that
     * moved the traffic clears it too, but it may have failed after the pod actions landed;
     * this evaluation then finds the group gated and must not leave the old ReplicaSet stuck. */
    if (!done && gated && !hold && s->paused && r->cellgate_paused)
        set_paused(c, false);
    if (!done) {
        if (r->group_done != 0)
            r->group_done = 0;
        return;
    }
    if (r->group_done == 0)
        r->group_done = c->now;
    if (r->group + 1 >= r->n_groups)
        return; /* the last group: completion is seen when the old ReplicaSets are empty */

    /* Wait between groups with the Deployment paused (its progress clock stops), unless a
     * user paused it: that pause is theirs. */
    if (!user_paused && !s->paused && quiescent(c, &k))
        set_paused(c, true);
    if (hold) {
        if (r->pause_cause != CG_PAUSE_CAUSE_USER)
            r->state = r->state == CG_RELEASE_FAILED ? r->state : CG_RELEASE_PAUSED;
        return;
    }
    const struct cg_freeze_window *fw = cg_emergency_active_freeze(&c->p->emergency, c->now);
    if (fw != NULL && !s->has_break_glass && !rollback_release) {
        r->state = CG_RELEASE_PAUSED;
        r->pause_cause = CG_PAUSE_CAUSE_FREEZE;
        set_reason(c, false, "FreezeHold",
                   "group %" PRIu32 " done; held by freeze window %s until it ends or is "
                   "broken with %s",
                   r->group, fw->name, c->p->emergency.break_glass_annotation);
        return;
    }
    if (r->pause_cause == CG_PAUSE_CAUSE_FREEZE)
        r->pause_cause = CG_PAUSE_CAUSE_NONE;
    if (rollback_release) {
        advance(c, "rollback");
        return;
    }
    if (c->p->gray.pause == CG_PAUSE_MANUAL) {
        if (approved(c, r->group)) {
            advance(c, "approved");
            return;
        }
        r->state = CG_RELEASE_WAITING_APPROVAL;
        set_reason(c, false, "WaitingForApproval",
                   "group %" PRIu32 " serves traffic; approve the next with: kubectl annotate "
                   "deploy %.*s %s=%" PRIu32,
                   r->group, (int)s->name.n, s->name.p, CG_ANN_APPROVE, r->group);
        return;
    }
    /* pause: {after: D}, while the checks keep passing on the group's pods */
    bool *sel = c->gate; /* reused as the selection of the serving new pods */
    for (size_t i = 0; i < s->n_pods; i++)
        sel[i] = c->cls[i] == POD_NEW && live(&s->pods[i]) && s->pods[i].state.traffic_ready;
    const struct cg_check *failed = NULL;
    enum verdict v = run_checks(c, sel, true, r->group_done, &failed, why, sizeof(why));
    memset(c->gate, 0, s->n_pods * sizeof(*c->gate));
    if (v == FAIL) {
        check_failed(c, failed, why);
        return;
    }
    int64_t at = r->group_done + c->p->gray.pause_after_seconds;
    if (v == PASS && at <= c->now) {
        advance(c, "soaked");
        return;
    }
    if (at > c->now)
        requeue_in(c, at - c->now);
    r->state = CG_RELEASE_SOAKING;
    set_reason(c, false, "Soaking",
               "group %" PRIu32 " serves traffic; the next starts %" PRId64
               "s after it was done while checks pass",
               r->group, c->p->gray.pause_after_seconds);
}

/* The victims of the current group, drained as far as capacity allows; a drain that does not
 * finish is reported. Runs whatever else the step decided (a hold or a failed check stops new
 * traffic, never a drain a held delete waits for). */
static void drains(struct ctx *c)
{
    const struct cg_release_snapshot *s = c->s;
    struct cg_release_record *r = &c->rec;
    struct counts k;
    count(c, &k);
    if (c->n_victims > 0)
        choose_victims(c, &k, c->n_victims);
    plan_drains(c);
    for (size_t i = 0; i < s->n_pods; i++) {
        const struct cg_release_pod *pod = &s->pods[i];
        if (is_victim(c, i) && pod->state.draining && !pod->state.drained &&
            pod->endpoint == CG_EP_SERVING && pod->draining_since > 0) {
            int64_t slow = pod->draining_since + DRAIN_SLOW_SECONDS;
            if (slow <= c->now) {
                char t[32];
                rfc3339(pod->draining_since, t, sizeof(t));
                set_reason(c, true, "DrainStuck",
                           "group %" PRIu32 " holds: pod %.*s is draining since %s but an "
                           "EndpointSlice still lists it as serving",
                           r->group, (int)pod->state.name.n, pod->state.name.p, t);
            } else {
                requeue_in(c, slow - c->now);
            }
        }
    }
}

/* --- emergency requests -------------------------------------------------------------------- */

/* Returns true when the evaluation is over (a rollback was ordered). */
static bool emergency(struct ctx *c, bool match)
{
    const struct cg_release_snapshot *s = c->s;
    if (!s->has_emergency)
        return false;
    struct cg_release_record *r = &c->rec;
    if (cg_str_eq_c(s->emergency, "rollback")) {
        if (match && (r->state == CG_RELEASE_ROLLBACK || r->rolled_back_from != 0)) {
            /* begun: the request is carried out, so it goes (never a second rollback) */
            c->dp.remove_emergency = true;
            return false;
        }
        if (previous_rs(c) == NULL) {
            c->dp.remove_emergency = true;
            event(c, true, "RollbackImpossible",
                  "cellgate.io/emergency=rollback: no previous ReplicaSet to roll back to; "
                  "request removed");
            return false;
        }
        rollback(c, "cellgate.io/emergency=rollback requested");
        return true;
    }
    if (cg_str_eq_c(s->emergency, "resume")) {
        c->dp.remove_emergency = true;
        if (match && (r->pause_cause == CG_PAUSE_CAUSE_EMERGENCY ||
                      r->pause_cause == CG_PAUSE_CAUSE_CHECK || r->state == CG_RELEASE_FAILED)) {
            r->pause_cause = CG_PAUSE_CAUSE_NONE;
            r->failed_check[0] = '\0';
            r->reason[0] = '\0';
            if (r->state == CG_RELEASE_PAUSED || r->state == CG_RELEASE_FAILED)
                r->state = r->rolled_back_from ? CG_RELEASE_ROLLBACK : CG_RELEASE_PROGRESSING;
            event(c, false, "Resumed", "release resumed at group %" PRIu32, r->group);
        }
        return false;
    }
    if (cg_str_eq_c(s->emergency, "pause")) {
        if (match && c->steering) {
            if (r->pause_cause != CG_PAUSE_CAUSE_EMERGENCY &&
                r->pause_cause != CG_PAUSE_CAUSE_CHECK) {
                r->pause_cause = CG_PAUSE_CAUSE_EMERGENCY;
                r->state = CG_RELEASE_PAUSED;
            }
            if (r->pause_cause == CG_PAUSE_CAUSE_EMERGENCY)
                set_reason(c, true, "EmergencyPause",
                           "held at group %" PRIu32 " by cellgate.io/emergency=pause until "
                           "cellgate.io/emergency=resume",
                           r->group);
        }
        return false;
    }
    event(c, true, "EmergencyUnknown",
          "cellgate.io/emergency=%.*s is not pause, resume or rollback", (int)s->emergency.n,
          s->emergency.p);
    return false;
}

/* --- the pods' own life cycle -------------------------------------------------------------- */

/* Per pod, in one pass: the marks, drains, traffic and finalizers this evaluation decided,
 * plus what every pod needs whatever the release does. */
static void pod_actions(struct ctx *c)
{
    const struct cg_release_snapshot *s = c->s;
    char now[32];
    rfc3339(c->now, now, sizeof(now));
    int64_t cur_live = 0;
    for (size_t i = 0; i < s->n_pods; i++)
        cur_live += c->cls[i] == POD_NEW && live(&s->pods[i]);
    bool cur_excess = c->cur != NULL && cur_live > c->cur->replicas;
    for (size_t i = 0; i < s->n_pods; i++) {
        const struct cg_release_pod *pod = &s->pods[i];
        const struct cg_pod_state *st = &pod->state;
        if (c->cls[i] == POD_OTHER)
            continue;
        if (st->terminating) {
            /* Nothing holds a terminating pod; help it out of the Services and let it go. */
            if (st->traffic_ready)
                act(c, CG_ACT_SET_TRAFFIC, pod)->traffic = false;
            for (size_t j = 0; j < c->p->traffic.controller_clears.n; j++) {
                char fin[CG_RELEASE_VALUE_MAX];
                snprintf(fin, sizeof(fin), "%s%s", CG_FINALIZER_DRAIN_PREFIX,
                         c->p->traffic.controller_clears.items[j]);
                if (has_finalizer(pod, fin) && pod->endpoint != CG_EP_SERVING)
                    snprintf(act(c, CG_ACT_REMOVE_FINALIZER, pod)->finalizer,
                             sizeof(((struct cg_release_action *)0)->finalizer), "%s", fin);
            }
            continue;
        }
        if (!live(pod))
            continue;
        /* A pod of the current ReplicaSet drained or marked as an old one: a rollback made its
         * ReplicaSet current again before the pod went. Left so, it would never serve again and
         * its ReplicaSet, which counts it, would never replace it. Not while that ReplicaSet
         * has more pods than replicas: it deletes the excess, not-Ready ones first, and taking
         * them back would only get those deletes held. A drain the webhook asked for (a delete
         * or eviction waits on it) stays. */
        if (c->cls[i] == POD_NEW && st->drain_requested == 0 && !cur_excess &&
            (st->draining || st->drained || marked(pod))) {
            act(c, CG_ACT_PATCH_POD, pod)->pod_patch.undrain = true;
            continue;
        }
        /* A drain the webhook asked for outside a release's victims starts at once. */
        bool requested = st->drain_requested != 0 && !st->draining && !st->drained &&
                         !(c->steering && c->cls[i] == POD_OLD);
        if (c->mark[i] && !marked(pod)) {
            struct cg_release_action *a = act(c, CG_ACT_PATCH_POD, pod);
            a->pod_patch.set_deletion_cost = true;
        }
        if ((c->drain[i] || requested) && !st->draining) {
            struct cg_release_action *a = act(c, CG_ACT_PATCH_POD, pod);
            a->pod_patch.set_draining = true;
            snprintf(a->pod_patch.value, sizeof(a->pod_patch.value), "%s", now);
            if (st->traffic_ready)
                act(c, CG_ACT_SET_TRAFFIC, pod)->traffic = false;
            requeue_in(c, CG_RELEASE_POLL);
        } else if (st->draining && !st->drained) {
            if (st->traffic_ready) {
                act(c, CG_ACT_SET_TRAFFIC, pod)->traffic = false;
            } else if (!pod->ready && pod->endpoint != CG_EP_SERVING) {
                struct cg_release_action *a = act(c, CG_ACT_PATCH_POD, pod);
                a->pod_patch.set_drained = true;
                snprintf(a->pod_patch.value, sizeof(a->pod_patch.value), "%s", now);
            } else {
                requeue_in(c, CG_RELEASE_POLL);
            }
        }
        if (c->gate[i] && !st->traffic_ready)
            act(c, CG_ACT_SET_TRAFFIC, pod)->traffic = true;
    }
}

/* Outside a release (first rollout, scale-up, replaced pods) and for pods of the old
 * ReplicaSets that replace a lost one: traffic once containers are ready and the per-pod checks
 * pass. Nothing here waits for an approval. */
static void gate_free(struct ctx *c, bool old_too)
{
    const struct cg_release_snapshot *s = c->s;
    bool *single = cg_xcalloc(s->n_pods ? s->n_pods : 1, sizeof(*single));
    for (size_t i = 0; i < s->n_pods; i++) {
        const struct cg_release_pod *pod = &s->pods[i];
        bool mine = c->steering ? (c->cls[i] == POD_OLD && old_too && !marked(pod))
                                : c->cls[i] != POD_OTHER;
        if (!mine || !live(pod) || !pod->containers_ready || pod->state.traffic_ready ||
            pod->state.draining || pod->state.drained || pod->state.drain_requested != 0)
            continue;
        /* one pod at a time through the checks: each decides for itself */
        single[i] = true;
        const struct cg_check *failed = NULL;
        char why[CG_RECORD_TEXT_MAX];
        if (run_checks(c, single, false, 0, &failed, why, sizeof(why)) == PASS)
            c->gate[i] = true;
        single[i] = false;
    }
    free(single);
}

/* --- the evaluation ------------------------------------------------------------------------ */

/* Where an action goes in the order of application (the Events follow them all):
 * 0  the Deployment patch that starts the next group: the pod actions beside it (the last
 *    victims recorded drained) need not land first, since the next group's pods come only as
 *    the old ones go and stay behind their gate;
 * 1  pod marks, drains, traffic, check runs;
 * 2  any other Deployment patch: one that unpauses for a traffic shift must follow the traffic;
 * 3  finalizer removals: they only let terminating pods go (no ReplicaSet picks anything from
 *    them), while the Deployment patch is the release's critical path. */
static int action_rank(const struct cg_release_action *x, bool advanced)
{
    if (x->kind == CG_ACT_PATCH_DEPLOYMENT)
        return advanced ? 0 : 2;
    return x->kind == CG_ACT_REMOVE_FINALIZER ? 3 : 1;
}

/* Puts the actions in rank order, keeping the order within a rank. */
static void order_actions(struct cg_release_actions *out, bool advanced)
{
    if (out->n < 2)
        return;
    struct cg_release_action *sorted = cg_xmalloc(out->n * sizeof(*sorted));
    size_t k = 0;
    for (int rank = 0; rank <= 3; rank++)
        for (size_t i = 0; i < out->n; i++)
            if (action_rank(&out->items[i], advanced) == rank)
                sorted[k++] = out->items[i];
    memcpy(out->items, sorted, out->n * sizeof(*sorted));
    free(sorted);
}

void cg_release_actions_init(struct cg_release_actions *a)
{
    memset(a, 0, sizeof(*a));
    cg_buf_init(&a->record, 0);
}

void cg_release_actions_dispose(struct cg_release_actions *a)
{
    if (a == NULL)
        return;
    free(a->items);
    a->items = NULL;
    a->n = a->cap = 0;
    cg_buf_dispose(&a->record);
    a->requeue_after = 0;
}

static void classify(struct ctx *c)
{
    const struct cg_release_snapshot *s = c->s;
    for (size_t i = 0; i < s->n_pods; i++) {
        const struct cg_release_pod *pod = &s->pods[i];
        c->cls[i] = POD_OTHER;
        c->cell[i] = -1;
        for (size_t j = 0; j < s->n_rs; j++) {
            if (cg_str_eq(pod->state.owner_uid, s->rs[j].uid) && s->rs[j].uid.n > 0) {
                c->cls[i] = &s->rs[j] == c->cur ? POD_NEW : POD_OLD;
                break;
            }
        }
        for (size_t j = 0; j < c->rec.n_cells; j++)
            if (cg_str_eq_c(pod->state.cell, c->rec.cells[j]))
                c->cell[i] = (int)j;
    }
}

/* Keeps the plan in step with replicas (a scale during a release) and the policy's cells. */
static void replan(struct ctx *c)
{
    struct cg_release_record fresh;
    uint32_t total = 0;
    for (uint32_t g = 0; g < c->rec.n_groups; g++)
        total += cg_release_record_group_total(&c->rec, g);
    bool same_cells = c->rec.n_cells == c->p->cells.n;
    for (size_t j = 0; same_cells && j < c->p->cells.n; j++)
        same_cells = strcmp(c->rec.cells[j], c->p->cells.items[j].name) == 0;
    if (total == (uint64_t)c->s->replicas && same_cells)
        return;
    if (!plan_record(c, c->rec.revision, c->rec.state, &fresh))
        return;
    c->rec.n_cells = fresh.n_cells;
    c->rec.n_groups = fresh.n_groups;
    memcpy(c->rec.cells, fresh.cells, sizeof(fresh.cells));
    memcpy(c->rec.pods, fresh.pods, sizeof(fresh.pods));
    if (c->rec.group >= c->rec.n_groups)
        c->rec.group = (uint32_t)c->rec.n_groups - 1;
}

/* a and b differ at most in their per-cell counts (and `updated`, which follows them) */
static bool counts_only(const struct cg_release_record *a, const struct cg_release_record *b)
{
    struct cg_release_record x = *b;
    x.has_counts = a->has_counts;
    memcpy(x.new_serving, a->new_serving, sizeof(x.new_serving));
    memcpy(x.old_live, a->old_live, sizeof(x.old_live));
    x.updated = a->updated;
    return memcmp(&x, a, sizeof(x)) == 0;
}

enum cg_status cg_release_eval(const struct cg_release_snapshot *snap, const struct cg_policy *p,
                               int64_t now, struct cg_release_actions *out)
{
    enum cg_status st = CG_OK;
    struct ctx c = {0};
    c.s = snap;
    c.p = p;
    c.now = now;
    c.out = out;
    out->n = 0;
    out->requeue_after = 0;
    out->releasing = false;
    cg_buf_reset(&out->record);
    memset(&out->state, 0, sizeof(out->state));
    if ((snap->n_pods > 0 && snap->pods == NULL) || (snap->n_rs > 0 && snap->rs == NULL) ||
        (snap->n_checks > 0 && snap->checks == NULL)) {
        st = CG_EINVAL;
        goto out;
    }
    size_t n = snap->n_pods ? snap->n_pods : 1;
    c.cls = cg_xcalloc(n, sizeof(*c.cls));
    c.cell = cg_xcalloc(n, sizeof(*c.cell));
    c.gate = cg_xcalloc(n, sizeof(*c.gate));
    c.mark = cg_xcalloc(n, sizeof(*c.mark));
    c.drain = cg_xcalloc(n, sizeof(*c.drain));
    for (size_t i = 0; snap->current_hash.n > 0 && i < snap->n_rs; i++)
        if (cg_str_eq(snap->rs[i].hash, snap->current_hash))
            c.cur = &snap->rs[i];

    if (snap->has_record) {
        struct cg_err err;
        cg_err_clear(&err);
        c.have_old =
            cg_release_record_decode(snap->record.p, snap->record.n, &c.old, &err) == CG_OK;
        if (!c.have_old)
            event(&c, true, "RecordUnreadable", "%s: %s", CG_ANN_RELEASE, err.msg);
    }
    bool match = c.have_old && c.old.revision == snap->template_digest;
    if (match)
        c.rec = c.old;
    /* Old pods or old replicas mean a rollout is under way. */
    bool underway = false;
    classify(&c);
    for (size_t i = 0; i < snap->n_pods; i++)
        if (c.cls[i] == POD_OLD && live(&snap->pods[i]))
            underway = true;
    for (size_t i = 0; i < snap->n_rs; i++)
        if (&snap->rs[i] != c.cur && snap->rs[i].replicas > 0)
            underway = true;

    if (!match && underway && snap->replicas > 0) {
        /* A rollout the webhook did not record (or recorded for another template): plan it. */
        if (plan_record(&c, snap->template_digest, CG_RELEASE_PROGRESSING, &c.rec)) {
            match = true;
            c.rec.since = c.rec.group_since = now;
            event(&c, false, "ReleaseStarted",
                  "release of template %016" PRIx64 " begins with group 0 of %zu",
                  snap->template_digest, c.rec.n_groups);
        }
    } else if (match && c.rec.since == 0) {
        c.rec.since = c.rec.group_since = now; /* the webhook's short form, first seen */
        event(&c, false, "ReleaseStarted",
              "release of template %016" PRIx64 " begins with group 0 of %zu",
              snap->template_digest, c.rec.n_groups);
    }
    if (match)
        replan(&c);
    c.steering = match && underway && c.rec.state != CG_RELEASE_COMPLETE;
    classify(&c); /* the cells may have been replanned */

    c.record_live = match;
    if (emergency(&c, match))
        goto emit;
    if (c.steering) {
        steer(&c);
        if (c.rolled_back)
            goto emit;
        drains(&c);
        gate_free(&c, c.n_victims == 0);
    } else {
        if (match && !underway && c.rec.state != CG_RELEASE_COMPLETE) {
            c.rec.state = CG_RELEASE_COMPLETE;
            c.rec.group = (uint32_t)c.rec.n_groups - 1;
            c.rec.pause_cause = CG_PAUSE_CAUSE_NONE;
            c.rec.reason[0] = '\0';
            c.rec.group_done = now;
            if (c.rec.cellgate_paused)
                set_paused(&c, false);
            event(&c, false, "ReleaseComplete", "every pod runs template %016" PRIx64,
                  snap->template_digest);
        }
        if (match && c.rec.state == CG_RELEASE_COMPLETE) {
            struct counts k;
            count(&c, &k);
            for (size_t j = 0; j < c.rec.n_cells; j++) {
                c.rec.new_serving[j] = k.new_serving[j];
                c.rec.old_live[j] = k.old_live[j];
            }
            c.rec.has_counts = true;
        }
        gate_free(&c, false);
    }
    pod_actions(&c);

emit:
    if (c.record_live) {
        /* updated marks a change of where the release stands, not of counts */
        if (!c.have_old || c.old.revision != c.rec.revision || c.old.state != c.rec.state ||
            c.old.group != c.rec.group || c.old.pause_cause != c.rec.pause_cause ||
            strcmp(c.old.reason, c.rec.reason) != 0)
            c.rec.updated = now;
        st = cg_release_record_encode(&c.rec, &out->record);
        if (st != CG_OK)
            goto out;
        if (!snap->has_record ||
            !cg_str_eq(snap->record, (struct cg_str){out->record.data, out->record.len})) {
            c.dp.set_record = true;
        }
        /* A change of counts alone waits for the next write: the old pods of a group leave
         * one event at a time, and a write per pod would put an API call (50-130 ms on the
         * lab then) in front of the patch that ends the group. */
        if (c.dp.set_record && c.have_old && counts_only(&c.old, &c.rec))
            c.dp.set_record = false;
        out->state = c.rec;
    }
    out->releasing = c.steering;
    if (c.dp.set_max_surge || c.dp.set_max_unavailable_zero || c.dp.set_paused || c.dp.set_record ||
        c.dp.template_json.n > 0 || c.dp.remove_emergency)
        act(&c, CG_ACT_PATCH_DEPLOYMENT, NULL)->deploy = c.dp;
    order_actions(out, c.advanced);
    for (size_t i = 0; i < c.n_ev; i++)
        *push(&out->items, &out->n, &out->cap) = c.ev[i];
    out->requeue_after = c.requeue;

out:
    free(c.ev);
    free(c.drain);
    free(c.mark);
    free(c.gate);
    free(c.cell);
    free(c.cls);
    return st;
}

/* --- formatting ---------------------------------------------------------------------------- */

enum cg_status cg_release_actions_format(const struct cg_release_actions *a, struct cg_buf *out)
{
    enum cg_status st = CG_OK;
    for (size_t i = 0; st == CG_OK && i < a->n; i++) {
        const struct cg_release_action *x = &a->items[i];
        const struct cg_release_deploy_patch *d = &x->deploy;
        switch (x->kind) {
        case CG_ACT_PATCH_DEPLOYMENT:
            st = cg_buf_append_str(out, "deploy");
            if (st == CG_OK && d->set_max_surge)
                st = cg_buf_appendf(out, " maxSurge=%" PRId64, d->max_surge);
            if (st == CG_OK && d->set_max_unavailable_zero)
                st = cg_buf_append_str(out, " maxUnavailable=0");
            if (st == CG_OK && d->set_paused)
                st = cg_buf_appendf(out, " paused=%s", d->paused ? "true" : "false");
            if (st == CG_OK && d->template_json.n)
                st = cg_buf_append_str(out, " template=previous");
            if (st == CG_OK && d->remove_emergency)
                st = cg_buf_append_str(out, " -emergency");
            if (st == CG_OK && d->set_record)
                st = cg_buf_appendf(out, " record=%s", a->record.data);
            break;
        case CG_ACT_PATCH_POD:
            st = cg_buf_appendf(out, "pod %.*s%s%s%s%s", (int)x->pod.n, x->pod.p,
                                x->pod_patch.set_deletion_cost ? " deletion-cost=victim" : "",
                                x->pod_patch.set_draining ? " draining" : "",
                                x->pod_patch.set_drained ? " drained" : "",
                                x->pod_patch.undrain ? " undrain" : "");
            break;
        case CG_ACT_SET_TRAFFIC:
            st = cg_buf_appendf(out, "traffic %.*s %s", (int)x->pod.n, x->pod.p,
                                x->traffic ? "True" : "False");
            break;
        case CG_ACT_REMOVE_FINALIZER:
            st = cg_buf_appendf(out, "finalizer %.*s -%s", (int)x->pod.n, x->pod.p, x->finalizer);
            break;
        case CG_ACT_EVENT:
            st = cg_buf_appendf(out, "event %s %s: %s", x->warning ? "Warning" : "Normal",
                                x->reason, x->message);
            break;
        case CG_ACT_RUN_CHECK:
            st = cg_buf_appendf(out, "check %s", x->check->name);
            break;
        }
        if (st == CG_OK)
            st = cg_buf_append_char(out, '\n');
    }
    if (st == CG_OK && a->requeue_after)
        st = cg_buf_appendf(out, "requeue %" PRId64 "s\n", a->requeue_after);
    return st;
}
