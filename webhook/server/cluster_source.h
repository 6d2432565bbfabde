/* The review pipeline's cluster source (review.h) over the webhook's pod cache: what a Pod
 * CREATE needs (its owner's pods per cell, an earlier reservation of the same request), what
 * an eviction needs (the pod's state), and what the decision asks for afterwards (a
 * reservation for a newly placed pod, a drain request for a held delete).
 *
 * For a Pod CREATE the cache's lock is held from lookup to commit, so "read counts, decide,
 * reserve" is one critical section and concurrent creations balance exactly. Hold times are a
 * policy match and a few appends (microseconds).
 *
 * One slot per worker thread: it holds the copies the view points into, so the view stays
 * valid after the lock is released. */
#ifndef CG_SERVER_CLUSTER_SOURCE_H
#define CG_SERVER_CLUSTER_SOURCE_H

#include <stdbool.h>

#include "kube/podcache.h"
#include "review/review.h"

/* Asks for a pod's drain (annotation cellgate.io/drain-requested), off the request path. */
typedef void (*cg_drain_request_fn)(void *ud, struct cg_str namespace_, struct cg_str name);

struct cg_cluster_slot {
    struct cg_podcache *cache; /* borrowed */
    cg_drain_request_fn request_drain;
    void *drain_ud;
    const struct cg_str *trusted_users; /* cellgate's own identities (borrowed) */
    size_t n_trusted_users;
    /* per request */
    bool locked;
    struct cg_podcache_view view;
    struct cg_podcache_pod pod;
};

/* Prepares slot over cache; request_drain may be NULL (standalone: nobody to ask). */
void cg_cluster_slot_init(struct cg_cluster_slot *slot, struct cg_podcache *cache,
                          cg_drain_request_fn request_drain, void *drain_ud);

/* The source to hand cg_review_run; ud is the slot. */
struct cg_cluster_source cg_cluster_slot_source(struct cg_cluster_slot *slot);

#endif
