/* The snapshot of one covered Deployment that the release logic evaluates (release.h), built
 * from the controller's watch caches: the Deployment, its ReplicaSets (controlling owner =
 * the Deployment), their pods, where the EndpointSlices list those pods, the latest external
 * check results, and the policy that governs the Deployment (the review engine's rule:
 * cg_policy_set_governing).
 *
 * Ownership: a struct cg_ctl_snapshot is caller storage (init / dispose). Every string the
 * view points to lives in the snapshot's arena (object texts are copied in, values that
 * needed unescaping or cutting are written there), so the view and the actions evaluated
 * from it stay valid until the next reset or dispose, whatever the caches do meanwhile. The
 * policy is borrowed from the set given to finish: keep the set alive as long.
 *
 * The pieces can be added one by one (tests feed object texts directly) or all at once from
 * the caches (cg_ctl_snapshot_build). Order: the Deployment, then its ReplicaSets, then pods
 * and EndpointSlices, then finish. Objects that do not belong (another owner) are skipped. */
#ifndef CG_CONTROLLER_SNAPSHOT_H
#define CG_CONTROLLER_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kv.h"
#include "base/mem.h"
#include "base/status.h"
#include "controller/controller.h"
#include "policy/policy.h"
#include "release/release.h"

struct cg_ctl_snapshot {
    struct cg_release_snapshot view; /* what cg_release_eval reads */
    const struct cg_policy *policy;  /* the governing policy after finish; NULL: not covered */
    struct cg_kvs labels;            /* the Deployment's labels (policy matching) */
    struct cg_kvs annotations;       /* and its annotations */
    struct cg_str revision;          /* annotation deployment.kubernetes.io/revision */
    struct cg_str resource_version;  /* the Deployment's, as the cache holds it */
    struct cg_str annotations_json;  /* its metadata.annotations as JSON text (empty: none) */
    struct cg_str spec_json;         /* its spec as JSON text */
    /* private */
    bool have_deployment;
    struct cg_arena arena;
    struct cg_release_rs *rs;
    size_t cap_rs;
    struct cg_release_pod *pods;
    size_t cap_pods;
    struct cg_release_check_result *checks;
    size_t cap_checks;
};

void cg_ctl_snapshot_init(struct cg_ctl_snapshot *s);
/* Empties the snapshot for the next Deployment (keeps its memory). */
void cg_ctl_snapshot_reset(struct cg_ctl_snapshot *s);
void cg_ctl_snapshot_dispose(struct cg_ctl_snapshot *s);

/* The Deployment's text (copied). CG_EPARSE / CG_EINVAL for text that is not a Deployment
 * with metadata.name, uid and spec.template. */
enum cg_status cg_ctl_snapshot_set_deployment(struct cg_ctl_snapshot *s, const char *json,
                                              size_t len, struct cg_err *err);
/* One ReplicaSet; kept only when the Deployment is its controlling owner (*kept says). */
enum cg_status cg_ctl_snapshot_add_replicaset(struct cg_ctl_snapshot *s, const char *json,
                                              size_t len, bool *kept, struct cg_err *err);
/* One pod; kept only when one of the kept ReplicaSets is its controlling owner. */
enum cg_status cg_ctl_snapshot_add_pod(struct cg_ctl_snapshot *s, const char *json, size_t len,
                                       bool *kept, struct cg_err *err);
/* One EndpointSlice: each endpoint is matched to a kept pod by targetRef uid, else by
 * address; a pod listed serving (conditions.serving, else ready, else true) in any slice is
 * CG_EP_SERVING, listed otherwise CG_EP_NOT_SERVING. Call after the pods. */
enum cg_status cg_ctl_snapshot_add_endpointslice(struct cg_ctl_snapshot *s, const char *json,
                                                 size_t len, struct cg_err *err);
/* One external check result (strings copied). */
void cg_ctl_snapshot_add_check(struct cg_ctl_snapshot *s, const char *name, bool ok, int64_t at,
                               const char *message);
/* Finds the current ReplicaSet (the one whose template, minus pod-template-hash, has the
 * Deployment template's digest; else the one whose revision the Deployment's revision
 * annotation names) and the governing policy in set (may be NULL: not covered). */
void cg_ctl_snapshot_finish(struct cg_ctl_snapshot *s, const struct cg_policy_set *set);

/* All of the above from the caches for namespace/name (reset first). CG_ENOTFOUND when the
 * Deployment is not in the cache; an object that does not decode is skipped (and counted in
 * *skipped when given), so one bad object never stops a release. */
enum cg_status cg_ctl_snapshot_build(struct cg_ctl_snapshot *s,
                                     const struct cg_controller_caches *caches,
                                     const struct cg_policy_set *set, struct cg_str ns,
                                     struct cg_str name, size_t *skipped, struct cg_err *err);

/* The text of the member at a path of keys in a JSON object (for the raw spec.template):
 * *off and *len give the value's text. false when absent or when json does not scan. */
bool cg_ctl_json_find(const char *json, size_t len, const char *const *path, size_t n_path,
                      size_t *off, size_t *vlen);

#endif
