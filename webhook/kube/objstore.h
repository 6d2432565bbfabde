/* A watch cache of one resource for the controller (Deployments, ReplicaSets, pods,
 * EndpointSlices): each object kept as its JSON text, minus metadata.managedFields (a third of
 * a pod's bytes, read by nobody here), keyed by namespace/name and tagged with its uid and its
 * controlling owner's uid. The controller parses the few objects one reconcile needs; the store
 * itself never builds a DOM (the admission module's scanner finds the fields and the cut).
 *
 * The informer feeds it from its thread (replace_begin / apply / replace_end / set_synced);
 * any thread reads it. Readers get the text through a callback that runs under the store's
 * lock: copy or parse what you need there, do not call the store back.
 *
 * on_change (optional) runs on the feeding thread after every change, outside the lock, with
 * the object's namespace, name and owner uid: the controller maps it to the Deployment to
 * reconcile. */
#ifndef CG_KUBE_OBJSTORE_H
#define CG_KUBE_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "base/str.h"
#include "kube/kube.h"

struct cg_objstore;

typedef void (*cg_objstore_change_fn)(void *ud, enum cg_kube_watch_type type, struct cg_str ns,
                                      struct cg_str name, struct cg_str owner_uid);

struct cg_objstore_config {
    const char *resource; /* for messages: "pods" */
    cg_objstore_change_fn on_change;
    void *ud;
};

struct cg_objstore_stats {
    size_t objects;
    size_t bytes;      /* heap bytes held (texts, keys, table) */
    uint64_t applied;  /* apply calls */
    uint64_t rejected; /* objects that did not decode (ignored) */
    uint64_t stripped; /* bytes of managedFields cut away */
};

struct cg_objstore *cg_objstore_create(const struct cg_objstore_config *config);
/* Frees everything. Accepts NULL. */
void cg_objstore_destroy(struct cg_objstore *s);

/* ---- the informer's side ---- */
void cg_objstore_replace_begin(struct cg_objstore *s);
/* ADDED and MODIFIED insert or replace, DELETED removes; an object that is not a JSON object
 * with metadata.name is ignored (counted). */
void cg_objstore_apply(struct cg_objstore *s, enum cg_kube_watch_type type, const char *json,
                       size_t len);
void cg_objstore_replace_end(struct cg_objstore *s);
void cg_objstore_set_synced(struct cg_objstore *s, bool synced);
bool cg_objstore_synced(struct cg_objstore *s);

/* ---- readers ---- */

/* Called under the lock with one object's text (borrowed) and its uid. Return false to stop. */
typedef bool (*cg_objstore_visit_fn)(void *ud, const char *json, size_t len, struct cg_str uid);

/* The object namespace/name: calls fn once and returns true, or returns false. */
bool cg_objstore_get(struct cg_objstore *s, struct cg_str ns, struct cg_str name,
                     cg_objstore_visit_fn fn, void *ud);
/* Every object of namespace ns (empty: all) whose controlling owner is owner_uid (empty: any).
 * Returns how many were visited. */
size_t cg_objstore_each(struct cg_objstore *s, struct cg_str ns, struct cg_str owner_uid,
                        cg_objstore_visit_fn fn, void *ud);
void cg_objstore_stats(struct cg_objstore *s, struct cg_objstore_stats *out);

/* The metadata the store keys on, found by the scanner in one pass: namespace, name, uid, the
 * controlling owner's uid, and where metadata.managedFields sits (cut_off..cut_end: the member
 * with its key and one adjacent comma; both 0 when there is none). Strings point into json.
 * CG_EPARSE / CG_EINVAL when it is not a JSON object with a metadata.name. For tests. */
struct cg_objstore_meta {
    struct cg_str ns, name, uid, owner_uid;
    size_t cut_off, cut_end;
};
enum cg_status cg_objstore_meta_decode(const char *json, size_t len, struct cg_objstore_meta *out,
                                       struct cg_err *err);

#endif
