/* Applies the actions of one release evaluation (release.h) through the API client, in order,
 * stopping at the first failure: the next evaluation re-derives whatever is still due, so a
 * half-applied list is never repaired here. Each action is logged as one JSON line.
 *
 *   PATCH_DEPLOYMENT  the Deployment's maxSurge, maxUnavailable 0, paused, the
 *                     cellgate.io/release record, cellgate.io/emergency removed: a JSON patch
 *                     with test ops when the base has annotations and spec, else a merge
 *                     patch; a rollback (template set) is always a JSON patch, since a merge
 *                     patch cannot drop what the new template added: it replaces
 *                     spec.template whole, as `kubectl rollout undo` does
 *   PATCH_POD         merge patch of the pod's annotations (deletion cost, draining, drained)
 *   SET_TRAFFIC       strategic merge patch of pods/status: the condition
 *                     cellgate.io/traffic-ready (conditions merge by type)
 *   REMOVE_FINALIZER  JSON patch: test the finalizer at its index, then remove that index, so
 *                     a concurrent change fails instead of removing the wrong entry
 *   EVENT             a core/v1 Event on the Deployment
 *   RUN_CHECK         handed to the check runner (no API call)
 * Every write carries the object's uid as a precondition (metadata.uid in a merge patch, a
 * test op in a JSON patch): a pod or Deployment deleted and re-created under the same name
 * is never written with another object's decisions. A Deployment patch is also conditioned
 * on what the snapshot saw (cg_ctl_deploy_base): with its annotations and spec, a JSON patch
 * whose test ops fail (422) when either changed, so a decision taken on a stale cache (the
 * watch not yet showing the controller's previous patch, a user's pause or emergency since)
 * never writes the release record back, while the Deployment controller's status writes in
 * the meantime do not conflict; with only the resourceVersion, a precondition that any write
 * breaks (409). Either way the decision is made again on the fresh object.
 *
 * The body builders are separate so tests can read what would be sent. */
#ifndef CG_CONTROLLER_APPLY_H
#define CG_CONTROLLER_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "kube/kube.h"
#include "release/release.h"

/* What a Deployment patch is conditioned on, as the snapshot saw the Deployment. Any may be
 * empty; annotations and spec are used only together. */
struct cg_ctl_deploy_base {
    struct cg_str resource_version;
    struct cg_str annotations; /* metadata.annotations, JSON text */
    struct cg_str spec;        /* spec, JSON text */
};

/* Runs (or queues) an external check for the Deployment of snap. */
typedef void (*cg_ctl_check_fn)(void *ud, const struct cg_release_snapshot *snap,
                                const struct cg_check *check);

struct cg_ctl_apply_result {
    size_t applied;             /* actions carried out */
    size_t failed;              /* index of the action that failed; == n when none did */
    enum cg_kube_reason reason; /* why it failed */
    long code;                  /* its HTTP status (0: none) */
};

/* Applies a->items[0..n) for the Deployment of snap (namespace, name and uid from it, pod
 * uids from the actions; base NULL: the uid is the only precondition). now (unix seconds)
 * stamps the traffic condition's lastTransitionTime. run_check may be NULL (RUN_CHECK actions are
 * then skipped). Returns CG_OK when every action was applied, else the failing call's status with
 * err and res->failed / reason / code saying which and why. */
enum cg_status cg_ctl_apply(struct cg_kube_client *client, const struct cg_release_snapshot *snap,
                            const struct cg_ctl_deploy_base *base,
                            const struct cg_release_actions *a, int64_t now,
                            cg_ctl_check_fn run_check, void *ud, struct cg_ctl_apply_result *res,
                            struct cg_err *err);

/* The request body of one action (its method in *method): for PATCH_DEPLOYMENT,
 * PATCH_POD, SET_TRAFFIC and REMOVE_FINALIZER. CG_EINVAL for other kinds, for a finalizer the
 * pod does not hold, or a rollback template that is not a JSON object; CG_ENOTFOUND for a
 * pod the snapshot does not hold (finalizers). */
enum cg_status
cg_ctl_apply_body(const struct cg_release_snapshot *snap, const struct cg_ctl_deploy_base *base,
                  const struct cg_release_actions *a, const struct cg_release_action *x,
                  int64_t now, enum cg_kube_method *method, struct cg_buf *out, struct cg_err *err);

#endif
