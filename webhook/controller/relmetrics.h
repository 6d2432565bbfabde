/* The release metrics of cellgate-controller, rendered on its /metrics:
 *   cellgate_releases{state}                   gauge: covered Deployments by record state
 *   cellgate_group_duration_seconds            histogram: a group's start to its end
 *   cellgate_drain_duration_seconds            histogram: draining annotated to drained
 *   cellgate_controller_actions_total{action,result}  counter: actions applied / failed
 * Written by the reconcile worker, read by the HTTP thread: every function takes the lock. */
#ifndef CG_CONTROLLER_RELMETRICS_H
#define CG_CONTROLLER_RELMETRICS_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/str.h"
#include "release/release.h"

struct cg_relmetrics;

struct cg_relmetrics *cg_relmetrics_create(void);
/* NULL ok. */
void cg_relmetrics_destroy(struct cg_relmetrics *m);

/* The state the record of namespace/name is in now; has_state false: it has none any more
 * (no release recorded, not covered, gone). */
void cg_relmetrics_set_state(struct cg_relmetrics *m, struct cg_str ns, struct cg_str name,
                             bool has_state, enum cg_release_state state);
void cg_relmetrics_observe_group(struct cg_relmetrics *m, double seconds);
void cg_relmetrics_observe_drain(struct cg_relmetrics *m, double seconds);
void cg_relmetrics_count_action(struct cg_relmetrics *m, enum cg_release_action_kind kind, bool ok);

/* Appends the four families in the Prometheus text format. */
void cg_relmetrics_render(struct cg_relmetrics *m, struct cg_buf *out);

#endif
