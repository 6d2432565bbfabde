/* The release logic of cellgate-controller as a pure function: a snapshot of one covered
 * Deployment and what it owns, its policy and the time in; the API calls to make out. No
 * I/O, no clock, no memory between calls: every fact it needs to remember is written into the
 * cluster (the cellgate.io/release record, pod annotations and conditions), so evaluating
 * the same snapshot twice gives the same actions, and a controller restarted at any point
 * resumes where the release stood.
 *
 * The driver (webhook/controller/) builds the snapshot from its watch caches, calls
 * cg_release_eval, applies the actions IN ORDER through the API client (stopping at the
 * first failure: the next evaluation re-derives whatever is still due), and evaluates again
 * on the next watch event touching the Deployment or after requeue_after seconds.
 *
 * Ownership: the snapshot and everything it points to are the caller's and only read. The
 * actions borrow strings from the snapshot (pod names, templates) and from the policy
 * (checks): keep both alive while the actions are used. */
#ifndef CG_RELEASE_H
#define CG_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "base/str.h"
#include "cluster/cluster.h"
#include "policy/policy.h"
#include "release/record.h"

/* The pod-deletion-cost cellgate gives the old pods it chose to go (the ReplicaSet
 * controller deletes lower costs first among pods equally ready). */
#define CG_RELEASE_VICTIM_COST INT32_MIN
/* External checks (http, prometheus) are re-run when their last result is older than this. */
#define CG_RELEASE_CHECK_INTERVAL 30
/* How soon to look again while waiting for something that sends no watch event in time. */
#define CG_RELEASE_POLL 5

#define CG_RELEASE_REASON_MAX 64
#define CG_RELEASE_MESSAGE_MAX 512
#define CG_RELEASE_VALUE_MAX 64

/* One ReplicaSet of the Deployment. */
struct cg_release_rs {
    struct cg_str name, uid;
    struct cg_str hash;          /* label pod-template-hash */
    int64_t revision;            /* annotation deployment.kubernetes.io/revision */
    int64_t replicas;            /* spec.replicas */
    int64_t ready;               /* status.readyReplicas */
    int64_t available;           /* status.availableReplicas */
    uint64_t digest;             /* cg_admission_digest_json of template_json (0: unknown) */
    struct cg_str template_json; /* spec.template with the pod-template-hash label removed
                                    (what `kubectl rollout undo` writes back) */
};

/* Where the EndpointSlices list a pod's address. */
enum cg_release_endpoint {
    CG_EP_NOT_LISTED,  /* in no EndpointSlice */
    CG_EP_SERVING,     /* listed with conditions.serving true in at least one */
    CG_EP_NOT_SERVING, /* listed, but serving false everywhere (e.g. terminating) */
};

/* One pod of the Deployment (of any of its ReplicaSets). */
struct cg_release_pod {
    struct cg_pod_state state;      /* name, uid, owner_uid (its ReplicaSet), cell, phase,
                                       terminating, traffic_ready, draining, drained,
                                       drain_requested */
    bool containers_ready;          /* condition ContainersReady True */
    bool ready;                     /* condition Ready True (containers ready and every gate) */
    int64_t containers_ready_since; /* lastTransitionTime of ContainersReady True; 0: unknown */
    int64_t restarts;               /* sum of the containers' restartCount */
    int64_t created;                /* creationTimestamp, unix seconds */
    int64_t draining_since;         /* time in cellgate.io/draining; 0: absent or unreadable */
    struct cg_str node, ip;
    bool has_deletion_cost;
    int64_t deletion_cost; /* controller.kubernetes.io/pod-deletion-cost */
    enum cg_release_endpoint endpoint;
    const struct cg_str *finalizers;
    size_t n_finalizers;
};

/* The latest result of one external check (http, prometheus) the driver ran. */
struct cg_release_check_result {
    struct cg_str name; /* the policy's check name */
    bool ok;
    int64_t at; /* unix seconds the run finished */
    struct cg_str message;
};

struct cg_release_snapshot {
    struct cg_str namespace_, name, uid;
    int64_t generation, observed_generation;
    int64_t replicas;   /* spec.replicas */
    bool max_surge_set; /* spec.strategy.rollingUpdate.maxSurge is an integer */
    int64_t max_surge;
    bool max_unavailable_set; /* ... maxUnavailable is an integer */
    int64_t max_unavailable;
    bool paused;                       /* spec.paused */
    int64_t progress_deadline_seconds; /* 0: unset (Kubernetes defaults to 600) */
    int64_t min_ready_seconds;
    uint64_t template_digest;    /* cg_admission_digest_json of spec.template */
    struct cg_str current_hash;  /* pod-template-hash of the ReplicaSet of spec.template;
                                    empty: not created yet */
    struct cg_str previous_hash; /* of the ReplicaSet a rollback goes back to; empty: the old
                                    ReplicaSet with the highest revision */
    /* Annotations (present flag, value). */
    bool has_record;
    struct cg_str record; /* cellgate.io/release */
    bool has_approve;
    struct cg_str approve;  /* cellgate.io/approve */
    struct cg_str approver; /* who set it (cellgate.io/approved-by, the webhook's); may be empty */
    bool has_emergency;
    struct cg_str emergency; /* cellgate.io/emergency */
    bool has_break_glass;    /* the policy's break-glass annotation, with a reason */
    const struct cg_release_rs *rs;
    size_t n_rs;
    const struct cg_release_pod *pods;
    size_t n_pods;
    const struct cg_release_check_result *checks;
    size_t n_checks;
};

enum cg_release_action_kind {
    CG_ACT_PATCH_DEPLOYMENT, /* a merge patch of the Deployment: see deploy */
    CG_ACT_PATCH_POD,        /* pod annotations: see pod_patch */
    CG_ACT_SET_TRAFFIC,      /* pods/status: condition cellgate.io/traffic-ready = traffic */
    CG_ACT_REMOVE_FINALIZER, /* remove finalizer from the pod (JSON patch, test-then-remove) */
    CG_ACT_EVENT,            /* an Event on the Deployment */
    CG_ACT_RUN_CHECK,        /* run check and report its result in a later snapshot */
};

struct cg_release_deploy_patch {
    bool set_max_surge;
    int64_t max_surge;
    bool set_max_unavailable_zero;
    bool set_paused;
    bool paused;
    bool set_record;             /* annotation cellgate.io/release := actions.record */
    struct cg_str template_json; /* non-empty: spec.template := this (a rollback) */
    bool remove_emergency;       /* remove annotation cellgate.io/emergency */
};

struct cg_release_pod_patch {
    bool set_deletion_cost; /* pod-deletion-cost := CG_RELEASE_VICTIM_COST */
    bool set_draining;      /* cellgate.io/draining := value (RFC 3339 now) */
    bool set_drained;       /* cellgate.io/drained := value */
    bool undrain; /* draining, drained and pod-deletion-cost removed: a pod drained or marked as
                     an old one whose ReplicaSet a rollback made current again */
    char value[CG_RELEASE_VALUE_MAX];
};

struct cg_release_action {
    enum cg_release_action_kind kind;
    /* pod actions: the pod (namespace is the Deployment's); uid as a precondition */
    struct cg_str pod, pod_uid;
    struct cg_release_deploy_patch deploy;
    struct cg_release_pod_patch pod_patch;
    bool traffic;                         /* SET_TRAFFIC */
    char finalizer[CG_RELEASE_VALUE_MAX]; /* REMOVE_FINALIZER */
    bool warning;                         /* EVENT: type Warning (else Normal) */
    char reason[CG_RELEASE_REASON_MAX];   /* EVENT: CamelCase reason */
    char message[CG_RELEASE_MESSAGE_MAX]; /* EVENT */
    const struct cg_check *check;         /* RUN_CHECK: borrowed from the policy */
};

struct cg_release_actions {
    struct cg_release_action *items;
    size_t n, cap;
    struct cg_buf record;           /* the new record text when a deploy patch sets it */
    int64_t requeue_after;          /* seconds; 0: only on the next watch event */
    struct cg_release_record state; /* the record as this evaluation leaves it (metrics,
                                       cellgate status) */
    bool releasing; /* a release is being steered (false: traffic outside a release) */
};

/* Prepares an empty action list in caller's storage. */
void cg_release_actions_init(struct cg_release_actions *a);
/* Frees what the list holds; the list is empty and reusable afterwards. NULL ok. */
void cg_release_actions_dispose(struct cg_release_actions *a);

/* Evaluates one Deployment. `out` is reset first, then filled with the actions due now, in
 * the order they must be applied (pod marks before traffic, the Deployment patch before the
 * Events that announce it and before finalizer removals, which only let terminating pods go),
 * and requeue_after. Returns CG_OK, or CG_EINVAL for a snapshot
 * that breaks its own rules (assert-worthy, but driver data: no crash). A record that cannot
 * be decoded, a plan that is impossible for the replica count, a missing previous ReplicaSet
 * are not errors: they become Warning Events and the safe behaviour (traffic for the current
 * ReplicaSet's pods, no group advanced). */
enum cg_status cg_release_eval(const struct cg_release_snapshot *snap, const struct cg_policy *p,
                               int64_t now, struct cg_release_actions *out);

/* Appends the actions as one line each (for logs, tests and `cellgate status`). */
enum cg_status cg_release_actions_format(const struct cg_release_actions *a, struct cg_buf *out);

#endif
