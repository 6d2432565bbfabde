/* Every cellgate.io name that crosses a process boundary: annotations, labels, conditions and
 * finalizers that the webhook, the controller and the CLI read and write. One place, so the
 * programs can never disagree on a spelling. */
#ifndef CG_BASE_NAMES_H
#define CG_BASE_NAMES_H

/* Deployment annotations. */
#define CG_ANN_RELEASE "cellgate.io/release"     /* the release record (JSON) */
#define CG_ANN_APPROVE "cellgate.io/approve"     /* "<group>": approves that group */
#define CG_ANN_EMERGENCY "cellgate.io/emergency" /* pause | resume | rollback */
/* Who set cellgate.io/approve: written by the webhook's mutation in that same request. */
#define CG_ANN_APPROVED_BY "cellgate.io/approved-by"
#define CG_ANN_BREAK_GLASS_DEFAULT "cellgate.io/break-glass"

/* Pod label and annotations. */
#define CG_LABEL_CELL "cellgate.io/cell"                     /* the cell the webhook placed it in */
#define CG_ANN_POLICY "cellgate.io/policy"                   /* the policy that placed it */
#define CG_ANN_DRAINING "cellgate.io/draining"               /* the controller is draining it */
#define CG_ANN_DRAINED "cellgate.io/drained"                 /* no traffic reaches it any more */
#define CG_ANN_DRAIN_REQUESTED "cellgate.io/drain-requested" /* RFC 3339 time of the request */

/* The pod readiness gate and condition type that holds traffic. */
#define CG_COND_TRAFFIC_READY "cellgate.io/traffic-ready"

/* Drain finalizers are this prefix + a traffic component ("cellgate.io/drain-service"). */
#define CG_FINALIZER_DRAIN_PREFIX "cellgate.io/drain-"

/* Kubernetes' own names cellgate relies on. */
#define CG_ANN_POD_DELETION_COST "controller.kubernetes.io/pod-deletion-cost"
#define CG_ANN_CONFIG_MIRROR "kubernetes.io/config.mirror"

#endif
