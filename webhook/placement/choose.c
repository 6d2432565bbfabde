#include "placement/choose.h"

#include <assert.h>
#include <stdbool.h>

/* a[i] / w[i] < a[j] / w[j], without division (weights >= 1; counts and weights fit 32 bits,
 * so the products fit 64). */
static bool fewer_per_weight(const struct cg_cells *cells, const uint32_t *a, size_t i, size_t j)
{
    return (uint64_t)a[i] * cells->items[j].weight < (uint64_t)a[j] * cells->items[i].weight;
}

size_t cg_placement_choose(const struct cg_cells *cells, const uint32_t *counts,
                           const uint32_t *in_flight)
{
    assert(cells->n >= 1);
    size_t least_in_flight = 0;
    for (size_t i = 1; in_flight != NULL && i < cells->n; i++)
        if (fewer_per_weight(cells, in_flight, i, least_in_flight))
            least_in_flight = i;
    size_t best = cells->n;
    for (size_t i = 0; i < cells->n; i++) {
        if (in_flight != NULL && fewer_per_weight(cells, in_flight, least_in_flight, i))
            continue; /* this process has more on its way there than elsewhere */
        if (best == cells->n || fewer_per_weight(cells, counts, i, best))
            best = i;
    }
    return best;
}
