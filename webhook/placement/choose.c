#include "placement/choose.h"

#include <assert.h>

size_t cg_placement_choose(const struct cg_cells *cells, const uint32_t *counts)
{
    assert(cells->n >= 1);
    size_t best = 0;
    for (size_t i = 1; i < cells->n; i++) {
        /* counts[i] / w[i] < counts[best] / w[best], without division (weights are >= 1,
         * counts and weights fit 32 bits, so the products fit 64). */
        uint64_t lhs = (uint64_t)counts[i] * cells->items[best].weight;
        uint64_t rhs = (uint64_t)counts[best] * cells->items[i].weight;
        if (lhs < rhs)
            best = i;
    }
    return best;
}
