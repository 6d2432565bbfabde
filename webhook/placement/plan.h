/* The group plan of a release: how many pods of the new revision each group adds per cell.
 *
 * replicas are spread over the cells by weight as evenly as they allow (largest remainder;
 * 11 over 2 equal cells: 6 and 5), then each group takes from each cell's target: perCell N
 * takes N, percent P takes ceil(P% of the cell's target), rest takes what is left; no group
 * takes more than what is left in the cell. */
#ifndef CG_PLACEMENT_PLAN_H
#define CG_PLACEMENT_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "policy/policy.h"

#define CG_PLAN_MAX_GROUPS 16
#define CG_PLAN_MAX_CELLS 16

struct cg_plan {
    int64_t replicas;
    size_t n_groups, n_cells;
    uint32_t cell_target[CG_PLAN_MAX_CELLS];              /* pods per cell in all */
    uint32_t pods[CG_PLAN_MAX_GROUPS][CG_PLAN_MAX_CELLS]; /* pods group g adds in cell c */
    uint32_t group_total[CG_PLAN_MAX_GROUPS];
};

/* CG_EINVAL with a reason a person can act on when the plan is impossible: replicas < 1,
 * fewer replicas than cells, or a group that would add no pod (more groups than pods). */
enum cg_status cg_plan_compute(const struct cg_cells *cells, const struct cg_gray *gray,
                               int64_t replicas, struct cg_plan *out, struct cg_err *err);

#endif
