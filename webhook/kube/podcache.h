/* The webhook's watch cache of the pods it placed (label cellgate.io/cell), and the cells it
 * has promised to pods not yet seen in the watch (reservations).
 *
 * Two sides, one mutex:
 *  - the informer feeds it from its own thread: replace_begin, apply (one Pod's JSON per
 *    event), replace_end, set_synced. Decoding happens before the lock is taken.
 *  - the webhook's request path reads it: per-cell counts of an owner, the state of one pod,
 *    "note drain requested". Every query copies into caller storage (the cache may change the
 *    moment the lock is released) and allocates nothing.
 * Placement must be atomic ("read counts -> decide -> reserve" with nobody in between, or 16
 * concurrent CREATEs would all see the same counts and pick the same cell): cg_podcache_place
 * runs a caller's decision inside one critical section; cg_podcache_lock / _unlock with the
 * *_locked functions do the same by hand.
 *
 * Records are compact: namespace, cell, owner uid, phase and policy are interned (shared by all
 * pods that name them, freed with the last one); a pod is one allocation holding its name and uid.
 * Each owner keeps its per-cell live and reserved counts, updated on every event in O(1)
 * (a scan of the owner's few cells), never by scanning pods.
 *
 * Standalone mode (no cluster): create with standalone = true; nothing feeds the cache, it
 * reports synced, and counts come from reservations only.
 *
 * Time: every function that can expire reservations takes now (unix seconds, the caller's
 * clock), so tests control time. */
#ifndef CG_KUBE_PODCACHE_H
#define CG_KUBE_PODCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "base/str.h"
#include "cluster/cluster.h"

/* Limits of what a record can hold (Kubernetes' own: a label value and a namespace are at
 * most 63 bytes, a pod name 253). A pod beyond them is ignored as bad. */
#define CG_PODCACHE_CELL_MAX 63
#define CG_PODCACHE_NS_MAX 63
#define CG_PODCACHE_NAME_MAX 253
#define CG_PODCACHE_UID_MAX 128
#define CG_PODCACHE_PHASE_MAX 32
#define CG_PODCACHE_POLICY_MAX 253 /* a policy name is a DNS-1123 subdomain */
/* Cells reported per owner; more are counted but reported as truncated. */
#define CG_PODCACHE_MAX_CELLS 32

struct cg_podcache;

struct cg_podcache_config {
    int64_t reservation_ttl; /* seconds a reservation counts; 0: 30 */
    size_t max_reservations; /* reserve fails with CG_ETOOBIG beyond this; 0: 100,000 */
    bool standalone;         /* never fed: synced from the start */
};

/* The informer's event types. */
enum cg_podcache_event { CG_PODCACHE_ADDED, CG_PODCACHE_MODIFIED, CG_PODCACHE_DELETED };

/* What one owner looks like to a Pod CREATE, copied out of the cache. */
struct cg_podcache_view {
    bool synced;
    /* Live pods + live reservations per cell (any order); cells[i].cell points into names. */
    struct cg_cell_count cells[CG_PODCACHE_MAX_CELLS];
    size_t n_cells;
    bool truncated; /* the owner has more cells than fit */
    /* The cell this request uid reserved earlier (empty: none), into reserved_buf. */
    struct cg_str reserved_cell;
    char names[CG_PODCACHE_MAX_CELLS][CG_PODCACHE_CELL_MAX + 1];
    char reserved_buf[CG_PODCACHE_CELL_MAX + 1];
};

/* One pod's state, copied out: state's strings point into buf. */
struct cg_podcache_pod {
    struct cg_pod_state state;
    char buf[CG_PODCACHE_NS_MAX + CG_PODCACHE_NAME_MAX + 2 * CG_PODCACHE_UID_MAX +
             CG_PODCACHE_CELL_MAX + CG_PODCACHE_PHASE_MAX + CG_PODCACHE_POLICY_MAX + 7];
};

struct cg_podcache_stats {
    size_t pods;                 /* records (pods with the cell label) */
    size_t live_pods;            /* of which counted for placement */
    size_t owners;               /* distinct owners with records or reservations */
    size_t reservations;         /* held (counted or released but kept for their request uid) */
    size_t bytes;                /* heap bytes the cache asked for (records, strings, tables) */
    uint64_t events;             /* apply calls */
    uint64_t ignored_unlabelled; /* pods without the cell label */
    uint64_t ignored_bad;        /* undecodable, or without namespace/name, or too long */
    uint64_t relist_dropped;     /* records a relist did not contain */
    uint64_t released;           /* reservations released by their pod appearing */
    uint64_t expired;            /* reservations that ran out their TTL */
};

/* Creates an empty cache (config may be NULL: defaults). Never fails but on OOM (abort). */
struct cg_podcache *cg_podcache_create(const struct cg_podcache_config *config);
/* Frees everything. Accepts NULL. No other thread may use the cache any more. */
void cg_podcache_destroy(struct cg_podcache *pc);

/* ---- the informer's side ---- */

/* A LIST starts: every record not applied before the matching replace_end is dropped then. */
void cg_podcache_replace_begin(struct cg_podcache *pc);
/* One watch event (or one item of a LIST, as ADDED). ADDED and MODIFIED insert or update;
 * DELETED removes. A pod that appears for the first time (a new record, or a new uid under a
 * known name) releases the oldest reservation of its owner in its cell. A pod without the
 * cell label is not kept (and removes a record of that name); an object that does not decode
 * or has no namespace/name is ignored. Both are counted, never errors: the informer has
 * nothing better to do with them. */
void cg_podcache_apply(struct cg_podcache *pc, enum cg_podcache_event type, const char *json,
                       size_t len);
/* The LIST ended: drops the records it did not contain. Without replace_begin: nothing. */
void cg_podcache_replace_end(struct cg_podcache *pc);
void cg_podcache_set_synced(struct cg_podcache *pc, bool synced);
bool cg_podcache_is_synced(struct cg_podcache *pc);

/* ---- the request path ---- */

/* The owner's counts and the request's earlier reservation, under the lock. owner_uid or
 * request_uid may be empty (then no counts / no reservation). */
void cg_podcache_view(struct cg_podcache *pc, struct cg_str request_uid, struct cg_str owner_uid,
                      int64_t now, struct cg_podcache_view *out);

/* Reserves cell for a pod of owner_uid admitted by request request_uid: counted in that cell
 * until the pod appears in the watch or ttl passes. A request uid that holds a reservation
 * already: CG_OK when it is for the same cell (a re-sent review), CG_EINVAL otherwise.
 * CG_EINVAL for an empty request uid, owner or cell, or longer than the limits above;
 * CG_ETOOBIG when max_reservations are held. */
enum cg_status cg_podcache_reserve(struct cg_podcache *pc, struct cg_str request_uid,
                                   struct cg_str owner_uid, struct cg_str cell, int64_t now,
                                   struct cg_err *err);

/* The decision inside cg_podcache_place: reads the view, sets *cell to the chosen cell (it is
 * copied before the lock is released) or leaves it empty to reserve nothing. A failure is
 * returned as is. It runs under the cache's lock: compute, do not block, do not call the
 * cache. */
typedef enum cg_status (*cg_podcache_decide_fn)(void *ud, const struct cg_podcache_view *view,
                                                struct cg_str *cell, struct cg_err *err);

/* Atomic placement: view -> decide -> reserve in one critical section. When request_uid has
 * a reservation already, decide is not called and that cell is the answer. The chosen cell
 * (empty: none) is copied to cell_out (CG_PODCACHE_CELL_MAX + 1 bytes) as a C string. view is
 * caller storage for the view handed to decide (it is big for a stack in a callback chain,
 * and the caller may want it afterwards). */
enum cg_status cg_podcache_place(struct cg_podcache *pc, struct cg_str request_uid,
                                 struct cg_str owner_uid, int64_t now, cg_podcache_decide_fn decide,
                                 void *ud, struct cg_podcache_view *view, char *cell_out,
                                 struct cg_err *err);

/* The same by hand: lock, *_locked calls, unlock. Keep what runs in between short. */
void cg_podcache_lock(struct cg_podcache *pc);
void cg_podcache_unlock(struct cg_podcache *pc);
void cg_podcache_view_locked(struct cg_podcache *pc, struct cg_str request_uid,
                             struct cg_str owner_uid, int64_t now, struct cg_podcache_view *out);
enum cg_status cg_podcache_reserve_locked(struct cg_podcache *pc, struct cg_str request_uid,
                                          struct cg_str owner_uid, struct cg_str cell, int64_t now,
                                          struct cg_err *err);

/* Copies the state of pod namespace_/name into *out: CG_OK, or CG_ENOTFOUND. */
enum cg_status cg_podcache_get_pod(struct cg_podcache *pc, struct cg_str namespace_,
                                   struct cg_str name, struct cg_podcache_pod *out);

/* The webhook denied deleting this pod and wants it drained: true only the first time for a
 * pod (until the pod is gone or replaced by a new uid), and never for a pod the cache does
 * not know or whose drain-requested annotation is already set: asking again adds nothing. */
bool cg_podcache_note_drain_requested(struct cg_podcache *pc, struct cg_str namespace_,
                                      struct cg_str name);

void cg_podcache_stats(struct cg_podcache *pc, struct cg_podcache_stats *out);

#endif
