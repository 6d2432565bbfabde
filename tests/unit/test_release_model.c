/* A small model of what a release meets in a cluster, to drive cg_release_eval against:
 * the Deployment controller's rolling update (maxSurge / maxUnavailable arithmetic of
 * Kubernetes 1.26 rolling.go, scale-up before scale-down, unhealthy old replicas first), the
 * ReplicaSet controller (creates, and deletes in the order of ActivePodsWithRanks: not ready
 * first, then lower pod-deletion-cost, then shorter ready time, more restarts, newer), the
 * webhook (places new pods in the cell furthest below plan, denies the delete of a pod with
 * traffic or draining and not drained, and asks for its drain), the kubelet (Ready =
 * containers ready AND the traffic gate True) and the EndpointSlice controller (one step
 * behind). One step is one second.
 *
 * Included by test_release.c and test_release_sim.c (CG_RELEASE_MODEL_NO_MAIN); built alone it
 * checks the model's own arithmetic. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/names.h"
#include "policy/policy.h"
#include "release/record.h"
#include "release/release.h"
#include "test_support.h"

/* Each including test uses a part of the model. */
#pragma GCC diagnostic ignored "-Wunused-function"

#define M_MAX_PODS 96
#define M_MAX_RS 8
#define M_START 1800000000 /* 2027-01-15T08:00:00Z */

struct m_pod {
    char name[24], uid[24];
    int rs, cell;
    bool terminating;
    int64_t created, gone_at; /* gone_at: step the terminating pod disappears (0: not yet) */
    bool containers_ready;
    int64_t cr_since;
    bool traffic, ready;
    int64_t ready_since;
    bool draining, drained, marked, fin;
    int64_t drain_requested, draining_since;
    int64_t restarts;
    enum cg_release_endpoint ep, ep_next;
};

struct m_rs {
    char name[24], uid[24], hash[16], tmpl[32];
    int64_t replicas, revision;
    uint64_t digest;
    /* status.availableReplicas as the ReplicaSet controller last wrote it, and what that sync
     * saw (m_rs_status) */
    int64_t available, seen_ready, seen_pods, seen_spec;
};

struct m_world {
    const struct cg_policy *p;
    int64_t now, replicas, max_surge, max_unavailable, min_ready;
    bool paused;
    uint64_t digest; /* the Deployment's template */
    char record[4096];
    bool has_record;
    int approve; /* -1: none */
    char approver[32];
    char emergency[16];
    bool break_glass;
    struct m_rs rs[M_MAX_RS];
    int n_rs;
    struct m_pod pods[M_MAX_PODS];
    int n_pods, next_id;
    /* what the driver's checks return, by group: fail_at_group (-1 none) */
    int fail_check_group;
    struct cg_release_check_result results[4];
    size_t n_results;
    char result_names[4][32];
    /* a pod that never leaves its EndpointSlice */
    char stuck[24];
    /* counters */
    int held_deletes, deletes, served_deletes_bad;
    int patch_before_finalizers; /* evaluations that both patched the Deployment and let
                                    terminating pods go (the patch must come first) */
    int advance_patch_first;     /* evaluations that moved to the next group along with pod
                                    actions (the patch must come first) */
    int start_delay;             /* steps until a new pod's containers are ready */
    struct cg_buf log;
};

static const struct cg_str m_fin_service[] = {CG_STR_LIT("cellgate.io/drain-service")};

/* --- policies ------------------------------------------------------------------------------ */

static struct cg_policy_set *m_policy(const char *yaml)
{
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    cg_err_clear(&err);
    if (cg_policy_set_decode("test.yaml", yaml, strlen(yaml), &set, &err) != CG_OK)
        fail_msg("policy: %s (line %d)", err.msg, err.line);
    return set;
}

/* --- the world ----------------------------------------------------------------------------- */

static void m_webhook_release(struct m_world *w, bool rollback);
static void m_rs_status(struct m_world *w);

static struct m_rs *m_rs_for(struct m_world *w, uint64_t digest)
{
    for (int i = 0; i < w->n_rs; i++)
        if (w->rs[i].digest == digest)
            return &w->rs[i];
    return NULL;
}

static int m_cur(struct m_world *w)
{
    struct m_rs *r = m_rs_for(w, w->digest);
    return r ? (int)(r - w->rs) : -1;
}

static struct m_rs *m_new_rs(struct m_world *w, uint64_t digest, int64_t replicas)
{
    assert_true(w->n_rs < M_MAX_RS);
    struct m_rs *r = &w->rs[w->n_rs];
    memset(r, 0, sizeof(*r));
    snprintf(r->hash, sizeof(r->hash), "h%" PRIx64, digest & 0xffff);
    snprintf(r->name, sizeof(r->name), "web-h%" PRIx64, digest & 0xffff);
    snprintf(r->uid, sizeof(r->uid), "rs-uid-%d", w->n_rs);
    snprintf(r->tmpl, sizeof(r->tmpl), "{\"template\":%d}", w->n_rs);
    r->digest = digest;
    r->replicas = replicas;
    int64_t rev = 0;
    for (int i = 0; i < w->n_rs; i++)
        if (w->rs[i].revision > rev)
            rev = w->rs[i].revision;
    r->revision = rev + 1;
    w->n_rs++;
    return r;
}

static bool m_live(const struct m_pod *p)
{
    return !p->terminating;
}

/* The webhook's cell choice: where this ReplicaSet's live pods are furthest below the cell
 * target (equal weights: fewest pods, ties to the first cell). */
static int m_place(struct m_world *w, int rs)
{
    int n[CG_PLAN_MAX_CELLS] = {0};
    for (int i = 0; i < w->n_pods; i++)
        if (w->pods[i].rs == rs && m_live(&w->pods[i]))
            n[w->pods[i].cell]++;
    int best = 0;
    for (size_t c = 1; c < w->p->cells.n; c++)
        if (n[c] < n[best])
            best = (int)c;
    return best;
}

static struct m_pod *m_add_pod(struct m_world *w, int rs, bool serving)
{
    assert_true(w->n_pods < M_MAX_PODS);
    struct m_pod *p = &w->pods[w->n_pods];
    memset(p, 0, sizeof(*p));
    p->rs = rs;
    p->cell = m_place(w, rs);
    char hash[16];
    memcpy(hash, w->rs[rs].hash, sizeof(hash));
    snprintf(p->name, sizeof(p->name), "%s-%d", hash, w->next_id);
    snprintf(p->uid, sizeof(p->uid), "pod-uid-%d", w->next_id++);
    p->created = w->now;
    p->fin = true;
    if (serving) {
        p->containers_ready = p->traffic = p->ready = true;
        p->cr_since = p->ready_since = w->now - 3600;
        p->created = w->now - 3600;
        p->ep = p->ep_next = CG_EP_SERVING;
    }
    w->n_pods++;
    return p;
}

/* A Deployment of `replicas` fully rolled out at revision digest 0x1111 (record complete). */
static void m_world_init(struct m_world *w, const struct cg_policy *p, int64_t replicas)
{
    memset(w, 0, sizeof(*w));
    w->p = p;
    w->now = M_START;
    w->replicas = replicas;
    w->max_surge = 1;
    w->approve = -1;
    w->fail_check_group = -1;
    w->start_delay = 2;
    w->digest = 0x1111111111111111ull;
    struct m_rs *r = m_new_rs(w, w->digest, replicas);
    (void)r;
    for (int64_t i = 0; i < replicas; i++)
        m_add_pod(w, 0, true);
    m_rs_status(w);
    cg_buf_init(&w->log, 0);
}

static void m_world_dispose(struct m_world *w)
{
    cg_buf_dispose(&w->log);
}

/* The webhook's Deployment mutation on a template change, as the engine does it once it uses
 * the codec: maxUnavailable 0, maxSurge = group 0, the record for the new template (a record
 * the controller already wrote for this template is kept), a stale approval removed. */
static void m_webhook_release(struct m_world *w, bool rollback)
{
    struct cg_release_record rec;
    struct cg_err err;
    if (w->has_record &&
        cg_release_record_decode(w->record, strlen(w->record), &rec, &err) == CG_OK &&
        rec.revision == w->digest) {
        w->max_surge = cg_release_record_group_total(&rec, 0);
        w->max_unavailable = 0;
        return;
    }
    struct cg_plan plan;
    assert_int_equal(cg_plan_compute(&w->p->cells, &w->p->gray, w->replicas, &plan, NULL), CG_OK);
    if (rollback && w->p->emergency.rollback == CG_ROLLBACK_FAST) {
        plan.n_groups = 1;
        plan.group_total[0] = 0;
        for (size_t k = 0; k < plan.n_cells; k++) {
            plan.pods[0][k] = plan.cell_target[k];
            plan.group_total[0] += plan.cell_target[k];
        }
    }
    assert_int_equal(
        cg_release_record_init(&rec, w->digest, &w->p->cells, &plan,
                               rollback ? CG_RELEASE_ROLLBACK : CG_RELEASE_PROGRESSING),
        CG_OK);
    struct cg_buf b;
    cg_buf_init(&b, sizeof(w->record) - 1);
    assert_int_equal(cg_release_record_encode(&rec, &b), CG_OK);
    memcpy(w->record, b.data, b.len + 1);
    cg_buf_dispose(&b);
    w->has_record = true;
    w->max_surge = plan.group_total[0];
    w->max_unavailable = 0;
    w->approve = -1;
}

/* kubectl set image: a new template. */
static void m_new_template(struct m_world *w, uint64_t digest)
{
    w->digest = digest;
    m_webhook_release(w, false);
}

/* --- the Deployment and ReplicaSet controllers --------------------------------------------- */

static bool m_available(const struct m_world *w, const struct m_pod *p)
{
    return m_live(p) && p->ready && p->ready_since + w->min_ready <= w->now;
}

static int64_t m_rs_available(const struct m_world *w, int rs)
{
    return w->rs[rs].available;
}

/* The ReplicaSet controller's status writes: status.availableReplicas is counted afresh when a
 * sync runs, and a sync runs on a change of its pods or its spec, or minReadySeconds after its
 * pods became Ready, but that last one only while all its replicas are Ready
 * (replica_set.go: AddAfter when readyReplicas == spec.replicas). Pod changes that leave the
 * ready and live counts alone are taken as no change: stricter than the real controller. */
static void m_rs_status(struct m_world *w)
{
    for (int r = 0; r < w->n_rs; r++) {
        struct m_rs *rs = &w->rs[r];
        int64_t ready = 0, pods = 0, avail = 0;
        for (int i = 0; i < w->n_pods; i++) {
            if (w->pods[i].rs != r || !m_live(&w->pods[i]))
                continue;
            pods++;
            ready += w->pods[i].ready;
            avail += m_available(w, &w->pods[i]);
        }
        if (ready != rs->seen_ready || pods != rs->seen_pods || rs->replicas != rs->seen_spec ||
            ready == rs->replicas) {
            rs->available = avail;
            rs->seen_ready = ready;
            rs->seen_pods = pods;
            rs->seen_spec = rs->replicas;
        }
    }
}

/* rolling.go, one sync: scale the new ReplicaSet up if it can; otherwise scale old ones down. */
static void m_deployment_controller(struct m_world *w)
{
    if (w->paused)
        return;
    int cur = m_cur(w);
    if (cur < 0) {
        int64_t total = 0;
        for (int i = 0; i < w->n_rs; i++)
            total += w->rs[i].replicas;
        int64_t max_total = w->replicas + w->max_surge;
        int64_t start = max_total - total;
        if (start < 0)
            start = 0;
        if (start > w->replicas)
            start = w->replicas;
        cur = (int)(m_new_rs(w, w->digest, start) - w->rs);
        return;
    }
    struct m_rs *nrs = &w->rs[cur];
    int64_t all = 0, old = 0, avail = 0;
    for (int i = 0; i < w->n_rs; i++) {
        all += w->rs[i].replicas;
        if (i != cur)
            old += w->rs[i].replicas;
        avail += m_rs_available(w, i);
    }
    if (nrs->replicas > w->replicas) {
        nrs->replicas = w->replicas;
        return;
    }
    if (nrs->replicas < w->replicas) {
        int64_t max_total = w->replicas + w->max_surge;
        if (all < max_total) {
            int64_t up = max_total - all;
            if (up > w->replicas - nrs->replicas)
                up = w->replicas - nrs->replicas;
            nrs->replicas += up;
            return;
        }
    }
    if (old == 0)
        return;
    int64_t min_avail = w->replicas - w->max_unavailable;
    int64_t new_unavail = nrs->replicas - m_rs_available(w, cur);
    int64_t max_down = all - min_avail - new_unavail;
    if (max_down <= 0)
        return;
    /* unhealthy old replicas first (oldest ReplicaSet first: index order is creation order) */
    int64_t cleaned = 0;
    for (int i = 0; i < w->n_rs && cleaned < max_down; i++) {
        if (i == cur || w->rs[i].replicas == 0)
            continue;
        int64_t unhealthy = w->rs[i].replicas - m_rs_available(w, i);
        if (unhealthy <= 0)
            continue;
        int64_t d = unhealthy < max_down - cleaned ? unhealthy : max_down - cleaned;
        w->rs[i].replicas -= d;
        cleaned += d;
    }
    if (avail <= min_avail)
        return;
    int64_t budget = avail - min_avail;
    for (int i = 0; i < w->n_rs && budget > 0; i++) {
        if (i == cur || w->rs[i].replicas == 0)
            continue;
        int64_t d = w->rs[i].replicas < budget ? w->rs[i].replicas : budget;
        w->rs[i].replicas -= d;
        budget -= d;
    }
}

/* ActivePodsWithRanks.Less for the model's pods (all scheduled and running). */
static bool m_delete_first(const struct m_world *w, const struct m_pod *a, const struct m_pod *b)
{
    if (a->ready != b->ready)
        return !a->ready;
    int64_t ca = a->marked ? CG_RELEASE_VICTIM_COST : 0,
            cb = b->marked ? CG_RELEASE_VICTIM_COST : 0;
    if (ca != cb)
        return ca < cb;
    if (a->ready && a->ready_since != b->ready_since)
        return a->ready_since > b->ready_since;
    if (a->restarts != b->restarts)
        return a->restarts > b->restarts;
    return a->created > b->created;
}

/* The webhook's delete rule: a pod with traffic or being drained and not drained is held. */
static bool m_webhook_allows_delete(struct m_world *w, struct m_pod *p)
{
    if (p->terminating)
        return true;
    if ((p->traffic || p->draining) && !p->drained) {
        w->held_deletes++;
        if (p->drain_requested == 0)
            p->drain_requested = w->now;
        return false;
    }
    return true;
}

static void m_replicaset_controller(struct m_world *w)
{
    for (int r = 0; r < w->n_rs; r++) {
        int64_t active = 0;
        for (int i = 0; i < w->n_pods; i++)
            if (w->pods[i].rs == r && m_live(&w->pods[i]))
                active++;
        while (active < w->rs[r].replicas) {
            m_add_pod(w, r, false);
            active++;
        }
        int64_t diff = active - w->rs[r].replicas;
        bool tried[M_MAX_PODS] = {false};
        while (diff-- > 0) {
            int best = -1;
            for (int i = 0; i < w->n_pods; i++) {
                struct m_pod *p = &w->pods[i];
                if (p->rs != r || !m_live(p) || tried[i])
                    continue;
                if (best < 0 || m_delete_first(w, p, &w->pods[best]))
                    best = i;
            }
            if (best < 0)
                break;
            tried[best] = true;
            struct m_pod *p = &w->pods[best];
            if (!m_webhook_allows_delete(w, p))
                continue; /* 429: retried next step */
            if (p->ep == CG_EP_SERVING)
                w->served_deletes_bad++;
            w->deletes++;
            p->terminating = true;
        }
    }
}

static void m_kubelet_and_endpoints(struct m_world *w)
{
    for (int i = 0; i < w->n_pods; i++) {
        struct m_pod *p = &w->pods[i];
        if (!p->terminating && !p->containers_ready && w->now - p->created >= w->start_delay) {
            p->containers_ready = true;
            p->cr_since = w->now;
        }
        bool ready = !p->terminating && p->containers_ready && p->traffic;
        if (ready && !p->ready)
            p->ready_since = w->now;
        p->ready = ready;
        /* EndpointSlices show last step's readiness */
        p->ep = p->ep_next;
        if (strcmp(p->name, w->stuck) == 0 && p->ep == CG_EP_SERVING)
            continue;
        p->ep_next = p->terminating && !p->fin && p->ep != CG_EP_SERVING ? CG_EP_NOT_LISTED
                     : p->ready                                          ? CG_EP_SERVING
                                                                         : CG_EP_NOT_SERVING;
        if (p->terminating && !p->fin && p->gone_at == 0)
            p->gone_at = w->now + 1;
    }
    /* pods whose finalizers are gone leave the API */
    int j = 0;
    for (int i = 0; i < w->n_pods; i++)
        if (!(w->pods[i].gone_at != 0 && w->pods[i].gone_at <= w->now))
            w->pods[j++] = w->pods[i];
    w->n_pods = j;
}

/* --- the snapshot and the actions ---------------------------------------------------------- */

struct m_snap {
    struct cg_release_snapshot s;
    struct cg_release_rs rs[M_MAX_RS];
    struct cg_release_pod pods[M_MAX_PODS];
    char approve[16];
};

static void m_snapshot(struct m_world *w, struct m_snap *m)
{
    memset(m, 0, sizeof(*m));
    struct cg_release_snapshot *s = &m->s;
    s->namespace_ = CG_STR_LIT("payments");
    s->name = CG_STR_LIT("web");
    s->uid = CG_STR_LIT("deploy-uid");
    s->replicas = w->replicas;
    s->max_surge_set = s->max_unavailable_set = true;
    s->max_surge = w->max_surge;
    s->max_unavailable = w->max_unavailable;
    s->paused = w->paused;
    s->progress_deadline_seconds = 600;
    s->min_ready_seconds = w->min_ready;
    s->template_digest = w->digest;
    int cur = m_cur(w);
    if (cur >= 0)
        s->current_hash = cg_str_from(w->rs[cur].hash);
    s->has_record = w->has_record;
    s->record = cg_str_from(w->has_record ? w->record : NULL);
    if (w->approve >= 0) {
        snprintf(m->approve, sizeof(m->approve), "%d", w->approve);
        s->has_approve = true;
        s->approve = cg_str_from(m->approve);
        s->approver = cg_str_from(w->approver);
    }
    if (w->emergency[0]) {
        s->has_emergency = true;
        s->emergency = cg_str_from(w->emergency);
    }
    s->has_break_glass = w->break_glass;
    for (int i = 0; i < w->n_rs; i++) {
        struct cg_release_rs *r = &m->rs[i];
        r->name = cg_str_from(w->rs[i].name);
        r->uid = cg_str_from(w->rs[i].uid);
        r->hash = cg_str_from(w->rs[i].hash);
        r->revision = w->rs[i].revision;
        r->replicas = w->rs[i].replicas;
        r->available = m_rs_available(w, i);
        r->digest = w->rs[i].digest;
        r->template_json = cg_str_from(w->rs[i].tmpl);
    }
    s->rs = m->rs;
    s->n_rs = (size_t)w->n_rs;
    for (int i = 0; i < w->n_pods; i++) {
        const struct m_pod *p = &w->pods[i];
        struct cg_release_pod *q = &m->pods[i];
        q->state.namespace_ = s->namespace_;
        q->state.name = cg_str_from(p->name);
        q->state.uid = cg_str_from(p->uid);
        q->state.owner_uid = cg_str_from(w->rs[p->rs].uid);
        q->state.cell = cg_str_from(w->p->cells.items[p->cell].name);
        q->state.phase = CG_STR_LIT("Running");
        q->state.terminating = p->terminating;
        q->state.traffic_ready = p->traffic;
        q->state.draining = p->draining;
        q->state.drained = p->drained;
        q->state.drain_requested = p->drain_requested;
        q->containers_ready = p->containers_ready;
        q->ready = p->ready;
        q->containers_ready_since = p->containers_ready ? p->cr_since : 0;
        q->restarts = p->restarts;
        q->created = p->created;
        q->draining_since = p->draining_since;
        q->has_deletion_cost = p->marked;
        q->deletion_cost = p->marked ? CG_RELEASE_VICTIM_COST : 0;
        q->endpoint = p->ep;
        q->finalizers = p->fin ? m_fin_service : NULL;
        q->n_finalizers = p->fin ? 1 : 0;
    }
    s->pods = m->pods;
    s->n_pods = (size_t)w->n_pods;
    s->checks = w->results;
    s->n_checks = w->n_results;
}

static struct m_pod *m_pod_named(struct m_world *w, struct cg_str name)
{
    for (int i = 0; i < w->n_pods; i++)
        if (cg_str_eq_c(name, w->pods[i].name))
            return &w->pods[i];
    return NULL;
}

/* The current record's group (-1: none readable). */
static int m_record_group(const struct m_world *w, struct cg_release_record *rec)
{
    struct cg_err err;
    if (!w->has_record || cg_release_record_decode(w->record, strlen(w->record), rec, &err))
        return -1;
    return (int)rec->group;
}

/* The driver's check runner: ok unless the scenario fails checks at the current group. */
static void m_run_check(struct m_world *w, const struct cg_check *ck)
{
    struct cg_release_record rec;
    int g = m_record_group(w, &rec);
    bool ok = !(w->fail_check_group >= 0 && g == w->fail_check_group &&
                rec.state != CG_RELEASE_ROLLBACK && rec.revision == w->digest);
    size_t i;
    for (i = 0; i < w->n_results; i++)
        if (cg_str_eq_c(w->results[i].name, ck->name))
            break;
    if (i == w->n_results) {
        assert_true(w->n_results < 4);
        snprintf(w->result_names[i], sizeof(w->result_names[i]), "%s", ck->name);
        w->results[i].name = cg_str_from(w->result_names[i]);
        w->n_results++;
    }
    w->results[i].ok = ok;
    w->results[i].at = w->now;
    w->results[i].message = ok ? CG_STR_LIT("200 OK") : CG_STR_LIT("error rate 7% > 1%");
}

/* Applies actions [0, upto) as the driver would (the API server's view of each). */
static void m_apply(struct m_world *w, const struct cg_release_actions *a, size_t upto)
{
    for (size_t i = 0; i < a->n && i < upto; i++) {
        const struct cg_release_action *x = &a->items[i];
        struct m_pod *p = x->pod.n ? m_pod_named(w, x->pod) : NULL;
        switch (x->kind) {
        case CG_ACT_PATCH_DEPLOYMENT: {
            const struct cg_release_deploy_patch *d = &x->deploy;
            if (d->set_max_surge)
                w->max_surge = d->max_surge;
            if (d->set_max_unavailable_zero)
                w->max_unavailable = 0;
            if (d->set_paused)
                w->paused = d->paused;
            if (d->set_record) {
                assert_true(a->record.len < sizeof(w->record));
                memcpy(w->record, a->record.data, a->record.len + 1);
                w->has_record = true;
            }
            if (d->remove_emergency)
                w->emergency[0] = '\0';
            if (d->template_json.n) {
                uint64_t digest = 0;
                for (int r = 0; r < w->n_rs; r++)
                    if (cg_str_eq_c(d->template_json, w->rs[r].tmpl))
                        digest = w->rs[r].digest;
                assert_true(digest != 0);
                w->digest = digest;
                m_webhook_release(w, strcmp(w->emergency, "rollback") == 0);
            }
            break;
        }
        case CG_ACT_PATCH_POD:
            assert_non_null(p);
            if (x->pod_patch.set_deletion_cost)
                p->marked = true;
            if (x->pod_patch.set_draining) {
                p->draining = true;
                p->draining_since = w->now;
            }
            if (x->pod_patch.set_drained)
                p->drained = true;
            if (x->pod_patch.undrain) {
                p->marked = p->draining = p->drained = false;
                p->draining_since = 0;
            }
            break;
        case CG_ACT_SET_TRAFFIC:
            assert_non_null(p);
            p->traffic = x->traffic;
            break;
        case CG_ACT_REMOVE_FINALIZER:
            assert_non_null(p);
            p->fin = false;
            break;
        case CG_ACT_EVENT:
            cg_buf_appendf(&w->log, "%s %s\n", x->reason, x->message);
            break;
        case CG_ACT_RUN_CHECK:
            m_run_check(w, x->check);
            break;
        }
    }
}

/* One controller evaluation: eval twice (the same snapshot must give the same actions), then
 * apply the first `upto` actions (SIZE_MAX: all). */
static void m_controller(struct m_world *w, size_t upto, struct cg_release_actions *out)
{
    struct m_snap *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m_snapshot(w, m);
    struct cg_release_actions again;
    cg_release_actions_init(&again);
    assert_int_equal(cg_release_eval(&m->s, w->p, w->now, out), CG_OK);
    assert_int_equal(cg_release_eval(&m->s, w->p, w->now, &again), CG_OK);
    struct cg_buf f1, f2;
    cg_buf_init(&f1, 0);
    cg_buf_init(&f2, 0);
    assert_int_equal(cg_release_actions_format(out, &f1), CG_OK);
    assert_int_equal(cg_release_actions_format(&again, &f2), CG_OK);
    if (f1.len != f2.len || (f1.len && memcmp(f1.data, f2.data, f1.len) != 0))
        fail_msg("eval is not idempotent:\n%s---\n%s", f1.data, f2.data);
    cg_buf_dispose(&f2);
    cg_release_actions_dispose(&again);
    /* The Deployment patch (the release's critical path) never waits behind finalizer
     * removals. */
    size_t patch = SIZE_MAX, first_fin = SIZE_MAX;
    for (size_t i = 0; i < out->n; i++) {
        if (out->items[i].kind == CG_ACT_PATCH_DEPLOYMENT)
            patch = i;
        if (out->items[i].kind == CG_ACT_REMOVE_FINALIZER && first_fin == SIZE_MAX)
            first_fin = i;
    }
    if (patch != SIZE_MAX && first_fin != SIZE_MAX) {
        if (first_fin < patch)
            fail_msg("a finalizer removal before the Deployment patch:\n%s", f1.data);
        w->patch_before_finalizers++;
    }
    /* The patch that starts the next group goes before everything else the evaluation does
     * (the pod actions of that evaluation need not land first). */
    struct cg_release_record before;
    if (patch != SIZE_MAX && m_record_group(w, &before) >= 0 &&
        out->state.revision == before.revision && out->state.group == before.group + 1 &&
        out->n > 1 && out->items[1].kind != CG_ACT_EVENT) {
        if (patch != 0)
            fail_msg("the patch that starts group %u is not the first action:\n%s",
                     out->state.group, f1.data);
        w->advance_patch_first++;
    }
    cg_buf_dispose(&f1);
    m_apply(w, out, upto);
    free(m);
}

/* Ready pods of the Deployment (the kubelet's view). */
static int64_t m_ready(const struct m_world *w)
{
    int64_t n = 0;
    for (int i = 0; i < w->n_pods; i++)
        if (m_live(&w->pods[i]) && w->pods[i].ready)
            n++;
    return n;
}

/* One step of the world: the controllers of Kubernetes, then ours. */
static void m_step(struct m_world *w, size_t upto, struct cg_release_actions *out)
{
    w->now++;
    m_deployment_controller(w);
    m_replicaset_controller(w);
    m_kubelet_and_endpoints(w);
    m_rs_status(w);
    m_controller(w, upto, out);
}

/* --- scenarios ----------------------------------------------------------------------------- */

struct m_scenario {
    const char *name;
    const char *policy;
    int64_t replicas;
    int approve_delay;    /* steps after waiting-approval until the operator approves; -1 never */
    int fail_check_group; /* the driver's checks fail at this group; -1 never */
    bool resume_after_failure;     /* the operator sets emergency=resume (and fixes the check) */
    int user_pause_group;          /* a user pauses the rollout when this group starts; -1 never */
    int emergency_pause_group;     /* emergency=pause when this group starts, resume later */
    int64_t freeze_at, freeze_for; /* a freeze window from M_START+at for `for` seconds */
    bool stuck_victim;             /* the first victim never leaves its EndpointSlice */
    int crash_every;               /* every n-th step only a prefix of the actions is applied */
    int64_t min_ready;
    int max_steps;
    /* expected */
    bool complete;     /* the release (or its rollback) completes */
    bool rolled_back;  /* ... back to the first template */
    const char *event; /* an Event reason that must have been emitted */
};

struct m_result {
    int steps, held_deletes, deletes, advances, patch_before_finalizers, advance_patch_first;
    char last_record[4096];
};

/* The policy text of a scenario with its freeze window's times filled in. */
static struct cg_policy_set *m_scenario_policy(const struct m_scenario *sc)
{
    char text[4096];
    if (sc->freeze_for > 0) {
        char a[32], b[32];
        time_t t0 = (time_t)(M_START + sc->freeze_at),
               t1 = (time_t)(M_START + sc->freeze_at + sc->freeze_for);
        struct tm tm;
        strftime(a, sizeof(a), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t0, &tm));
        strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t1, &tm));
        snprintf(text, sizeof(text), sc->policy, a, b);
    } else {
        snprintf(text, sizeof(text), "%s", sc->policy);
    }
    return m_policy(text);
}

static uint32_t m_serving_new(const struct m_world *w, int cell)
{
    uint32_t n = 0;
    int cur = m_cur((struct m_world *)w);
    for (int i = 0; i < w->n_pods; i++)
        if (w->pods[i].rs == cur && m_live(&w->pods[i]) && w->pods[i].traffic &&
            !w->pods[i].draining && w->pods[i].cell == cell)
            n++;
    return n;
}

/* Runs a release from 0x1111 to 0x2222 under a scenario, asserting at every step: ready pods
 * never below replicas, no delete of a pod an EndpointSlice lists as serving, new pods per cell
 * never past the plan of the current group and exactly the plan when a group ends, no group
 * advanced without its approval (manual) or before its soak, no advance inside a freeze. */
static void m_run(const struct m_scenario *sc, struct m_result *res)
{
    struct cg_policy_set *set = m_scenario_policy(sc);
    const struct cg_policy *p = &set->items[0];
    struct m_world w;
    m_world_init(&w, p, sc->replicas);
    w.min_ready = sc->min_ready;
    w.fail_check_group = sc->fail_check_group;
    snprintf(w.approver, sizeof(w.approver), "alice");
    struct cg_release_actions a;
    cg_release_actions_init(&a);
    memset(res, 0, sizeof(*res));
    m_new_template(&w, 0x2222);
    int waiting_since = -1, prev_group = 0, user_pause_left = -1, em_pause_left = -1;
    uint64_t prev_rev = w.digest;
    bool user_paused_once = false, em_paused_once = false;
    int step;
    for (step = 0; step < sc->max_steps; step++) {
        size_t upto = SIZE_MAX;
        if (sc->crash_every > 0 && step % sc->crash_every == 0)
            upto = (size_t)(step / sc->crash_every) % 3; /* 0, 1 or 2 actions, then a restart */
        bool user_pause_now = user_pause_left > 0;
        m_step(&w, upto, &a);
        if (user_pause_now && !w.paused)
            fail_msg("step %d: a user's pause was cleared", step);
        /* invariants */
        if (m_ready(&w) < w.replicas)
            fail_msg("step %d: %" PRId64 " ready pods, fewer than %" PRId64, step, m_ready(&w),
                     w.replicas);
        assert_int_equal(w.served_deletes_bad, 0);
        struct cg_release_record rec;
        int g = m_record_group(&w, &rec);
        if (g < 0)
            continue;
        /* a paused Deployment deletes nothing: cellgate pauses only once no drained old pod
         * waits for its delete */
        if (w.paused && rec.cellgate_paused)
            for (int i = 0; i < w.n_pods; i++)
                if (w.pods[i].rs != m_cur(&w) && m_live(&w.pods[i]) && w.pods[i].drained)
                    fail_msg("step %d: paused by cellgate while drained pod %s waits", step,
                             w.pods[i].name);
        if (rec.revision == w.digest && rec.state != CG_RELEASE_COMPLETE)
            for (size_t c = 0; c < rec.n_cells; c++)
                if (m_serving_new(&w, (int)c) > cg_release_record_cum(&rec, rec.group, c))
                    fail_msg("step %d: cell %zu serves %u new pods, group %u plans %u", step, c,
                             m_serving_new(&w, (int)c), rec.group,
                             cg_release_record_cum(&rec, rec.group, c));
        if (rec.revision == prev_rev && g == prev_group + 1) {
            res->advances++;
            for (size_t c = 0; c < rec.n_cells; c++)
                assert_int_equal(m_serving_new(&w, (int)c),
                                 cg_release_record_cum(&rec, (uint32_t)prev_group, c));
            if (rec.state != CG_RELEASE_ROLLBACK && p->gray.pause == CG_PAUSE_MANUAL &&
                w.approve != prev_group)
                fail_msg("step %d: group %d advanced without its approval", step, prev_group);
            if (rec.state != CG_RELEASE_ROLLBACK && p->gray.pause == CG_PAUSE_AFTER)
                assert_true(rec.n_approvals == 0);
            if (cg_emergency_active_freeze(&p->emergency, w.now) != NULL && !w.break_glass &&
                rec.state != CG_RELEASE_ROLLBACK)
                fail_msg("step %d: group %d advanced inside a freeze", step, prev_group);
        } else if (rec.revision == prev_rev && g != prev_group) {
            fail_msg("step %d: group went from %d to %d", step, prev_group, g);
        }
        prev_group = g;
        prev_rev = rec.revision;
        /* the operator */
        if (rec.state == CG_RELEASE_WAITING_APPROVAL && sc->approve_delay >= 0) {
            if (waiting_since < 0)
                waiting_since = step;
            if (step - waiting_since >= sc->approve_delay)
                w.approve = g;
        } else {
            waiting_since = -1;
        }
        if (sc->resume_after_failure && rec.state == CG_RELEASE_PAUSED &&
            rec.pause_cause == CG_PAUSE_CAUSE_CHECK) {
            w.fail_check_group = -1;
            w.n_results = 0;
            snprintf(w.emergency, sizeof(w.emergency), "resume");
        }
        if (g == sc->user_pause_group && !user_paused_once && rec.state == CG_RELEASE_PROGRESSING) {
            user_paused_once = true;
            w.paused = true;
            user_pause_left = 60;
        } else if (user_pause_left > 0 && --user_pause_left == 0) {
            w.paused = false;
        }
        if (g == sc->emergency_pause_group && !em_paused_once) {
            em_paused_once = true;
            snprintf(w.emergency, sizeof(w.emergency), "pause");
            em_pause_left = 60;
        } else if (em_pause_left > 0 && --em_pause_left == 0) {
            snprintf(w.emergency, sizeof(w.emergency), "resume");
        }
        if (em_pause_left > 0 && rec.state != CG_RELEASE_PAUSED && step > 2 && em_pause_left < 58)
            fail_msg("step %d: emergency pause not reflected (state %s)", step,
                     cg_release_state_str(rec.state));
        if (sc->stuck_victim && w.stuck[0] == '\0')
            for (int i = 0; i < w.n_pods; i++)
                if (w.pods[i].draining && w.pods[i].rs != m_cur(&w))
                    snprintf(w.stuck, sizeof(w.stuck), "%s", w.pods[i].name);
        if (rec.state == CG_RELEASE_COMPLETE && rec.revision == w.digest && user_pause_left <= 0 &&
            w.n_rs > 0) {
            bool clean = true;
            for (int i = 0; i < w.n_pods; i++)
                if (w.pods[i].rs != m_cur(&w) || !w.pods[i].traffic)
                    clean = false;
            if (clean)
                break;
        }
    }
    res->steps = step;
    res->held_deletes = w.held_deletes;
    res->deletes = w.deletes;
    res->patch_before_finalizers = w.patch_before_finalizers;
    res->advance_patch_first = w.advance_patch_first;
    snprintf(res->last_record, sizeof(res->last_record), "%s", w.record);
    struct cg_release_record rec;
    int g = m_record_group(&w, &rec);
    if (sc->complete) {
        if (step >= sc->max_steps)
            fail_msg("%s: not complete after %d steps: %s\nevents:\n%s", sc->name, step, w.record,
                     w.log.data ? w.log.data : "");
        assert_true(g >= 0);
        assert_int_equal(rec.state, CG_RELEASE_COMPLETE);
        assert_true(w.digest == (sc->rolled_back ? 0x1111111111111111ull : 0x2222));
        assert_int_equal(w.paused, false);
    } else if (step < sc->max_steps) {
        fail_msg("%s: ended after %d steps: %s", sc->name, step, w.record);
    }
    if (sc->event != NULL && (w.log.data == NULL || strstr(w.log.data, sc->event) == NULL))
        fail_msg("%s: no %s event in:\n%s", sc->name, sc->event, w.log.data ? w.log.data : "");
    cg_release_actions_dispose(&a);
    m_world_dispose(&w);
    cg_policy_set_unref(set);
}

#ifndef CG_RELEASE_MODEL_NO_MAIN
static const char model_policy[] = "apiVersion: cellgate.io/v1\n"
                                   "kind: ReleasePolicy\n"
                                   "metadata: {name: payments}\n"
                                   "spec:\n"
                                   "  match: {namespaces: [payments]}\n"
                                   "  cells: {names: [zone-a, zone-b]}\n"
                                   "  gray: {groups: [{perCell: 1}, {perCell: 2}, rest]}\n"
                                   "  monitor: {requireReadinessProbe: false}\n";

/* The model alone, without cellgate's gates: a plain rolling update with maxSurge 2 and
 * maxUnavailable 0 replaces 10 pods and never has fewer than 10 available. */
static void model_plain_rollout(void **state)
{
    (void)state;
    struct cg_policy_set *set = m_policy(model_policy);
    struct m_world w;
    m_world_init(&w, &set->items[0], 10);
    w.digest = 0x2222;
    w.max_surge = 2;
    for (int step = 0; step < 200; step++) {
        w.now++;
        m_deployment_controller(&w);
        m_replicaset_controller(&w);
        for (int i = 0; i < w.n_pods; i++)
            w.pods[i].traffic = true; /* no gate holder: everything passes */
        for (int i = 0; i < w.n_pods; i++)
            w.pods[i].drained = true;
        m_kubelet_and_endpoints(&w);
        m_rs_status(&w);
        for (int i = 0; i < w.n_pods; i++)
            w.pods[i].fin = false;
        if (step > 3)
            assert_true(m_ready(&w) >= 10 || w.now - M_START < 5);
    }
    assert_int_equal(w.rs[0].replicas, 0);
    assert_int_equal(w.rs[1].replicas, 10);
    m_world_dispose(&w);
    cg_policy_set_unref(set);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {cmocka_unit_test(model_plain_rollout)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
