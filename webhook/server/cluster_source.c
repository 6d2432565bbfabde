#include "server/cluster_source.h"

#include <string.h>
#include <time.h>

#include "base/log.h"
#include "review/engine.h"

void cg_cluster_slot_init(struct cg_cluster_slot *slot, struct cg_podcache *cache,
                          cg_drain_request_fn request_drain, void *drain_ud)
{
    memset(slot, 0, sizeof(*slot));
    slot->cache = cache;
    slot->request_drain = request_drain;
    slot->drain_ud = drain_ud;
}

static bool is_pod_create(const struct cg_admission_request *req)
{
    return req->operation == CG_OP_CREATE && req->sub_resource.n == 0 &&
           cg_str_eq_c(req->kind.kind, "Pod") && req->kind.group.n == 0 &&
           req->object.owner.present;
}

static bool is_eviction(const struct cg_admission_request *req)
{
    return req->operation == CG_OP_CREATE && cg_str_eq_c(req->sub_resource, "eviction") &&
           cg_str_eq_c(req->resource.resource, "pods");
}

static void lookup(void *ud, const struct cg_admission_request *req, struct cg_arena *arena,
                   struct cg_cluster_view *view)
{
    struct cg_cluster_slot *s = ud;
    view->trusted_users = s->trusted_users;
    view->n_trusted_users = s->n_trusted_users;
    if (is_pod_create(req)) {
        /* Held until commit: the engine's choice and the reservation are one step. */
        cg_podcache_lock(s->cache);
        s->locked = true;
        cg_podcache_view_locked(s->cache, req->uid, req->object.owner.uid, (int64_t)time(NULL),
                                &s->view);
        view->known = s->view.synced;
        view->cells = s->view.cells;
        view->n_cells = s->view.n_cells;
        view->reserved_cell = s->view.reserved_cell;
    } else if (is_eviction(req)) {
        view->known = cg_podcache_is_synced(s->cache);
        if (cg_podcache_get_pod(s->cache, req->namespace_, req->name, &s->pod) == CG_OK)
            view->pod = &s->pod.state;
    }
}

static void commit(void *ud, const struct cg_admission_request *req,
                   const struct cg_engine_result *res)
{
    struct cg_cluster_slot *s = ud;
    if (s->locked) {
        if (res->placed_cell.n > 0) {
            struct cg_err err;
            cg_err_clear(&err);
            if (cg_podcache_reserve_locked(s->cache, req->uid, req->object.owner.uid,
                                           res->placed_cell, (int64_t)time(NULL), &err) != CG_OK) {
                /* The answer stands (the pod is placed); only the count lags until the watch
                 * sees the pod. */
                struct cg_log_line l;
                cg_log_begin(&l, CG_LOG_WARN, "pod placement not reserved");
                cg_log_strn(&l, "uid", req->uid.p, req->uid.n);
                cg_log_str(&l, "error", err.msg);
                cg_log_end(&l);
            }
        }
        cg_podcache_unlock(s->cache);
        s->locked = false;
    }
    /* At most once per pod: the cache remembers the pods it asked for. */
    if (res->drain_request && s->request_drain != NULL &&
        cg_podcache_note_drain_requested(s->cache, req->namespace_, req->name))
        s->request_drain(s->drain_ud, req->namespace_, req->name);
}

struct cg_cluster_source cg_cluster_slot_source(struct cg_cluster_slot *slot)
{
    return (struct cg_cluster_source){slot, lookup, commit};
}
