/* The rules: a decoded review and the matching policies in, a decision out. Pure: no
 * sockets, no clock (the time is a parameter), no allocation beyond the caller's patch and
 * text buffers, no jansson.
 *
 * What it decides (Deployment CREATE and UPDATE, Pod CREATE, UPDATE and DELETE, pods/eviction
 * CREATE;
 * everything else is allowed untouched, and so is an object no policy covers):
 *
 * A release is a CREATE, or an UPDATE whose pod template digest differs from oldObject's;
 * scaling or editing annotations is not a release.
 *
 * /validate, per matching policy (rule ids in brackets):
 *   gray      [gray.strategy] strategy Recreate; [gray.replicas] fewer replicas than cells
 *             (0 replicas is allowed: a scaled-down workload has nothing to spread);
 *             [gray.plan] any other impossible plan.
 *   monitor   [monitor.readinessProbe] a container (not init) without readinessProbe, when
 *             the policy requires it; [monitor.labels] a required label missing from the
 *             pod template's labels (spec.template.metadata.labels: they reach the pods the
 *             checks and dashboards select); [monitor.revisionHistoryLimit] < 1;
 *             [monitor.progressDeadline] progressDeadlineSeconds absent or 0, when required;
 *             [monitor.minReadySeconds] below the policy's minimum.
 *   The gray and monitor rules judge the object's shape. On CREATE and on a release they
 *   always apply; on any other UPDATE only when the update introduces the violation (the
 *   old object complied), so an emergency scale or an annotation never fails on an object
 *   admitted under an older policy.
 *   emergency [emergency.freeze] a release inside a freeze window, unless the break-glass
 *             annotation carries a non-empty reason and the user is in a break-glass group
 *             (then admitted with auditAnnotations break-glass-user/-reason/-window); a
 *             rollback ordered with cellgate.io/emergency=rollback is not held by a freeze;
 *             [emergency.approve] setting or changing cellgate.io/approve outside the
 *             approver groups; [emergency.action] setting or changing cellgate.io/emergency
 *             outside the emergency groups; [emergency.value] an emergency value other than
 *             pause, resume or rollback. Removing either annotation is not checked.
 *   release   [release.record] setting, changing or removing cellgate.io/release, unless the
 *             user is one of view->trusted_users (cellgate's controller) or the object carries
 *             exactly the record this webhook's mutation writes at the start of a release
 *             (checked once, under the first enforcing policy).
 *
 * /mutate: for a release of a covered RollingUpdate Deployment whose plan is possible, the
 * first matching policy in enforce mode sets spec.strategy.rollingUpdate.maxUnavailable 0,
 * maxSurge = group 0's size, and the annotation cellgate.io/release (compact JSON: revision,
 * cells, groups, group, state "progressing"). A release whose object carries
 * cellgate.io/emergency=rollback (the controller restoring the previous template) gets state
 * "rollback" and, when the policy's rollback style is fast, one group of all pods. Only ops
 * that change something are emitted, so running it again on its own output yields no patch.
 * Policies in warn or audit mode never mutate.
 *
 * Pods (the first matching policy in enforce mode governs; warn/audit policies only say what
 * it would do):
 *   /mutate, CREATE of a pod with a controlling owner (not a mirror pod): the readiness gate
 *             cellgate.io/traffic-ready, a finalizer cellgate.io/drain-<c> per traffic
 *             component, the label cellgate.io/cell, the annotation cellgate.io/policy, and
 *             "<topologyKey> In [<cell>]" ANDed into every required nodeSelectorTerm (one is
 *             made when there is none). The cell: the one the pod already pins (nodeSelector,
 *             or every required term pinning the same policy cell: no affinity is added
 *             then), else the one this request reserved before (view->reserved_cell), else
 *             the one with the fewest of the owner's live pods per weight in view->cells
 *             (ties: cell order). A pod already labelled with a policy cell keeps it, so a
 *             reinvocation adds nothing. result.placed_cell says a new placement (not on
 *             dryRun).
 *   /validate, DELETE of a pod (oldObject) or an eviction (the pod from view->pod, covered
 *             when its cellgate.io/policy names a loaded policy): a pod that is not
 *             terminating, not annotated cellgate.io/drained, and carries traffic (condition
 *             True) or is annotated cellgate.io/draining is denied with 429 ("retry")
 *             and result.drain_request set when no drain was requested yet (not on dryRun).
 *             Allowed with a warning and auditAnnotation drain-timeout once the drain was
 *             requested more than traffic.drainTimeout ago; allowed with break-glass audit
 *             annotations for a user in emergency.breakGlass.groups.
 *   /validate, UPDATE of a governed pod that sets, changes or removes cellgate.io/drained,
 *             draining, drain-requested, policy or the cell label: denied (403) unless the
 *             user is one of view->trusted_users (cellgate's own service accounts); a
 *             break-glass user is allowed, audited.
 *
 * Enforcement of a violation: enforce denies (403, one message per violation joined by
 * "; "), warn adds a short warning (what was found, <= 120 bytes), audit adds an auditAnnotation
 * audit-<rule> (the apiserver prefixes every key with the webhook's name, so keys carry no '/').
 * All matching policies are evaluated; a denial wins over warnings, warnings over audits. dryRun
 * changes nothing. */
#ifndef CG_REVIEW_ENGINE_H
#define CG_REVIEW_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admission/admission.h"
#include "base/buf.h"
#include "jsonpatch/jsonpatch.h"
#include "policy/policy.h"
#include "review/review.h"

/* Matching policies held on the stack per review; more are evaluated too, from the heap. */
#define CG_ENGINE_MAX_POLICIES 16
/* Violations kept per review; past this they are counted, not described (a dropped
 * violation of an enforcing policy still denies). */
#define CG_ENGINE_MAX_VIOLATIONS 32
/* A message is one line of at most this many bytes (longer values are cut with "..."). */
#define CG_ENGINE_MESSAGE_MAX 200
/* Warnings say only what was found, in at most this many bytes (the API asks for 120). */
#define CG_ENGINE_WARNING_MAX 120

/* The decision. Strings point into the text buffer, the patch buffer, the request or the
 * policy set, and stay valid until those change. */
struct cg_engine_result {
    bool allowed;
    int status_code;       /* 403 on denial, 500 when the engine failed; else 0 */
    struct cg_str message; /* denial reasons joined by "; " */
    struct cg_str warnings[CG_ADMISSION_MAX_WARNINGS];
    size_t n_warnings;
    struct cg_kv audit[CG_ADMISSION_MAX_AUDIT];
    size_t n_audit;
    struct cg_str patch;  /* JSONPatch text, empty when nothing changes */
    const char *decision; /* "allowed" "patched" "denied" "warned" "audited" */
    const char *policy;   /* the deciding policy (first denying, warning, auditing,
                             or mutating one), or NULL */
    bool release;         /* the request is a release of a covered Deployment */
    /* Pod CREATE placed in a cell by this review for the first time (the cluster source
     * reserves it until the pod shows up in its watch); empty otherwise. */
    struct cg_str placed_cell;
    /* A Pod DELETE or eviction was held for a drain that nobody asked for yet: the cluster
     * source should ask for it (annotate the pod cellgate.io/drain-requested). */
    bool drain_request;
    size_t n_policies; /* matching policies */
};

/* Evaluates req against set (NULL: nothing is covered) on path at unix time now. Resets
 * and fills patch and text (their caps bound the work), then fills *out. Returns CG_OK,
 * or CG_ETOOBIG when a buffer cap is reached (out then says allowed=false, 500). */
enum cg_status cg_engine_eval(const struct cg_policy_set *set, enum cg_review_path path,
                              int64_t now, const struct cg_admission_request *req,
                              const struct cg_cluster_view *view, struct cg_patch *patch,
                              struct cg_buf *text, struct cg_engine_result *out);

#endif
