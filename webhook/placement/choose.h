/* The cell a new pod of a release goes to: the one whose live pods are furthest below the
 * cells' weights. Pure arithmetic on counts the caller gathered. */
#ifndef CG_PLACEMENT_CHOOSE_H
#define CG_PLACEMENT_CHOOSE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

/* Index into cells->items of the cell with the fewest pods per weight (counts[i] pods in cell
 * i); ties go to the earlier cell. So pods created one by one end as the weights say: 10 over
 * two equal cells 5 and 5, 11 as 6 and 5, 12 over weights 2:1 as 8 and 4. cells->n >= 1 and
 * counts has cells->n entries.
 *
 * in_flight (NULL: none) counts the placements this process made that its watch has not
 * shown yet. Only cells where they are fewest per weight are candidates: so with several
 * webhook replicas, each of which sees the others' pods only through its watch, no replica
 * pours a burst into the one cell that looked short to all of them (which made three replicas
 * swing a 300-pod ReplicaSet 85 pods apart in simulation); each keeps its own in-flight share
 * balanced, and two equal cells end at most R pods apart with R replicas. */
size_t cg_placement_choose(const struct cg_cells *cells, const uint32_t *counts,
                           const uint32_t *in_flight);

#endif
