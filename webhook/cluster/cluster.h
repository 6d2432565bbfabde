/* Cluster state as plain data: what the pure layers (review, release) may know of the
 * cluster, and the one decoder that turns a Pod's JSON into it. No sockets, no threads:
 * kube/ fills these from its watch caches, the CLI from a file (`kubectl get pods -o json`).
 *
 * Ownership: every cg_str in these structs is borrowed (from the JSON text, or from the
 * arena the decoder was given). */
#ifndef CG_CLUSTER_H
#define CG_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "base/status.h"
#include "base/str.h"

/* What the webhook's Pod rules and the pod cache need of one Pod. */
struct cg_pod_state {
    struct cg_str namespace_, name, uid;
    struct cg_str owner_uid; /* the controlling owner's uid (controller: true); empty: none */
    struct cg_str cell;      /* label cellgate.io/cell; empty: none */
    struct cg_str phase;     /* status.phase */
    struct cg_str policy;    /* annotation cellgate.io/policy: the policy that placed it */
    bool terminating;        /* metadata.deletionTimestamp is set */
    bool traffic_ready;      /* condition cellgate.io/traffic-ready has status "True" */
    bool draining;           /* annotation cellgate.io/draining is present */
    bool drained;            /* annotation cellgate.io/drained is present */
    int64_t drain_requested; /* unix seconds of cellgate.io/drain-requested; 0: absent,
                                -1: present but not an RFC 3339 time */
};

/* Decodes one Pod object (JSON text, need not be NUL-terminated) into *out. Strings point into
 * json, or into arena when they had to be unescaped. CG_EPARSE when json is not JSON,
 * CG_EINVAL when it is not an object or a field has the wrong type; err says where. */
enum cg_status cg_pod_state_decode(const char *json, size_t len, struct cg_arena *arena,
                                   struct cg_pod_state *out, struct cg_err *err);

/* Is the pod counted as a live pod of its owner (placement): not terminating and not in a
 * final phase (Succeeded, Failed). */
bool cg_pod_state_is_live(const struct cg_pod_state *p);

/* Live pods (plus reservations not yet seen in the watch) of one owner in one cell. */
struct cg_cell_count {
    struct cg_str cell;
    uint32_t pods;      /* live pods + this process's reservations */
    uint32_t in_flight; /* of which reservations not yet seen in the watch */
};

/* The read-only cluster state handed to the review engine for one request. */
struct cg_cluster_view {
    bool known; /* counts below are meaningful (a synced cache, a --pods file, or standalone
                   with its own reservations); false: no state at all */
    /* Pod CREATE: the owner's live pods per cell label, any order. */
    const struct cg_cell_count *cells;
    size_t n_cells;
    struct cg_str reserved_cell; /* this request uid already reserved a cell (a re-sent
                                    review): answer the same cell */
    /* pods/eviction CREATE: the pod the eviction names, when the cache has it. */
    const struct cg_pod_state *pod;
    /* The users that are cellgate's own components (the controller's and the webhook's
     * service accounts): they alone may write what cellgate manages on pods. */
    const struct cg_str *trusted_users;
    size_t n_trusted_users;
};

#endif
