/* One reconcile of one Deployment, the controller's loop body:
 *   snapshot (caches + check results) -> cg_release_eval -> apply -> requeue
 * The release logic decides; this module only gathers what it reads, carries out what it
 * returns, hands RUN_CHECK to the check runner, keeps the release metrics and tells the
 * controller when to look again (the evaluation's requeue_after, or a short back-off when an
 * action failed: the next evaluation re-derives what is still due). A Deployment patch
 * refused for a stale base (apply.h) is decided again at once on the Deployment read afresh.
 *
 * A driver is used by the controller's single worker thread; it owns a reusable snapshot and
 * action list. The check runner and the metrics are borrowed. */
#ifndef CG_CONTROLLER_DRIVER_H
#define CG_CONTROLLER_DRIVER_H

#include <stdint.h>

#include "controller/checks.h"
#include "controller/controller.h"
#include "controller/relmetrics.h"
#include "kube/kube.h"

/* After a failed action, look again this soon (seconds). */
#define CG_DRIVER_RETRY 2
/* A Deployment patch refused for a stale base (409, or 422 from a failed test op): the
 * Deployment is read afresh into the cache and the reconcile run again at once, at most this
 * many times. */
#define CG_DRIVER_CONFLICT_RETRIES 2

struct cg_driver_config {
    struct cg_checks *checks;      /* borrowed; NULL: external checks are never run */
    struct cg_relmetrics *metrics; /* borrowed; NULL: none kept */
    int64_t (*now)(void *ud);      /* unix seconds; NULL: time() */
    void *now_ud;
};

struct cg_driver;

struct cg_driver *cg_driver_create(const struct cg_driver_config *cfg);
/* NULL ok. */
void cg_driver_destroy(struct cg_driver *d);

/* A cg_controller_reconcile_fn (ud: the driver). Returns the seconds after which to
 * reconcile again, 0 for only on the next watch event. */
int64_t cg_driver_reconcile(void *ud, struct cg_kube_client *client,
                            const struct cg_controller_caches *caches,
                            const struct cg_policy_set *set, struct cg_str ns, struct cg_str name);

/* Appends the release metrics and the check counters (for cg_controller_driver.metrics; ud:
 * the driver). Safe on any thread. */
void cg_driver_metrics(void *ud, struct cg_buf *out);

#endif
