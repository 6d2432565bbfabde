/* The group plan of a release: how many pods of the new revision each group adds per cell.
 *
 * replicas are spread over the cells by weight as evenly as they allow (largest remainder;
 * 11 over 2 equal cells: 6 and 5), then each group takes from each cell's target: perCell N
 * takes N, percent P takes ceil(P% of the cell's target), rest takes what is left; no group
 * takes more than what is left in the cell (a group larger than what is left takes what is
 * left). A group that finds nothing left is dropped: a small Deployment gets fewer groups than
 * the policy lists, and the plan says which (the webhook warns, the release record and
 * `cellgate plan` show it). Dropped groups are always the policy's last ones. */
#ifndef CG_PLACEMENT_PLAN_H
#define CG_PLACEMENT_PLAN_H

#include <stdbool.h>
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
    /* The policy groups dropped because the replicas were used up before them, by index in
     * the policy (ascending; always a suffix of the policy's groups). */
    size_t n_dropped;
    uint8_t dropped[CG_PLAN_MAX_GROUPS];
};

/* CG_EINVAL with a reason a person can act on when the plan is impossible: replicas < 1,
 * fewer replicas than cells, a cell its weight leaves without a pod, more than
 * CG_PLAN_MAX_GROUPS groups. More groups than pods is not impossible: the groups that find
 * nothing left are dropped (out->dropped). */
enum cg_status cg_plan_compute(const struct cg_cells *cells, const struct cg_gray *gray,
                               int64_t replicas, struct cg_plan *out, struct cg_err *err);

/* When plan dropped groups, writes what a person reads about it, e.g. "groups 1 (perCell: 2)
 * and 2 (rest) are dropped: the 2 replicas are used up by group 0", and returns true; else
 * writes "" and returns false. gray is the policy's the plan was computed from. */
bool cg_plan_dropped_note(const struct cg_gray *gray, const struct cg_plan *plan, char *out,
                          size_t cap);

#endif
