#include "placement/plan.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Largest remainder: floor shares first, then one more pod each to the cells with the
 * largest fractional part (ties go to the cell listed first), so 11 over 2 gives 6 and 5. */
static void spread(const struct cg_cells *cells, uint64_t total_weight, int64_t replicas,
                   uint32_t *target)
{
    uint64_t rem[CG_PLAN_MAX_CELLS];
    int64_t given = 0;
    for (size_t c = 0; c < cells->n; c++) {
        uint64_t share = (uint64_t)replicas * cells->items[c].weight;
        target[c] = (uint32_t)(share / total_weight);
        rem[c] = share % total_weight;
        given += target[c];
    }
    while (given < replicas) {
        size_t best = 0;
        for (size_t c = 1; c < cells->n; c++)
            if (rem[c] > rem[best])
                best = c;
        target[best]++;
        rem[best] = 0;
        given++;
    }
}

static uint32_t group_take(const struct cg_group *g, uint32_t target, uint32_t left)
{
    uint64_t want;
    switch (g->kind) {
    case CG_GROUP_PER_CELL:
        want = g->value;
        break;
    case CG_GROUP_PERCENT:
        want = ((uint64_t)g->value * target + 99) / 100;
        break;
    default:
        want = left;
        break;
    }
    return want < left ? (uint32_t)want : left;
}

static void describe_group(const struct cg_group *g, char *out, size_t n)
{
    switch (g->kind) {
    case CG_GROUP_PER_CELL:
        snprintf(out, n, "perCell: %u", g->value);
        break;
    case CG_GROUP_PERCENT:
        snprintf(out, n, "percent: %u", g->value);
        break;
    default:
        snprintf(out, n, "rest");
        break;
    }
}

enum cg_status cg_plan_compute(const struct cg_cells *cells, const struct cg_gray *gray,
                               int64_t replicas, struct cg_plan *out, struct cg_err *err)
{
    memset(out, 0, sizeof(*out));
    out->replicas = replicas;
    if (cells == NULL || cells->n == 0)
        return cg_err_set(err, CG_EINVAL, "the policy names no cell: list at least one cell");
    if (cells->n > CG_PLAN_MAX_CELLS)
        return cg_err_set(err, CG_EINVAL, "%zu cells is more than the %d a plan supports", cells->n,
                          CG_PLAN_MAX_CELLS);
    if (gray == NULL || gray->n_groups == 0)
        return cg_err_set(err, CG_EINVAL, "the policy has no group: list at least one group");
    uint64_t total_weight = 0;
    size_t weighted = 0;
    for (size_t c = 0; c < cells->n; c++) {
        total_weight += cells->items[c].weight;
        weighted += cells->items[c].weight > 0;
    }
    if (total_weight == 0)
        return cg_err_set(err, CG_EINVAL, "every cell has weight 0: give a cell a weight > 0");
    if (replicas < 1)
        return cg_err_set(err, CG_EINVAL, "replicas %lld leaves nothing to release: set >= 1",
                          (long long)replicas);
    if ((uint64_t)replicas < weighted)
        return cg_err_set(err, CG_EINVAL,
                          "replicas %lld is fewer than the %zu cells: set replicas >= %zu so "
                          "every cell runs a pod",
                          (long long)replicas, weighted, weighted);
    if (replicas > UINT32_MAX)
        return cg_err_set(err, CG_EINVAL, "replicas %lld is too large", (long long)replicas);
    out->n_cells = cells->n;
    spread(cells, total_weight, replicas, out->cell_target);
    for (size_t c = 0; c < cells->n; c++)
        if (cells->items[c].weight > 0 && out->cell_target[c] == 0)
            return cg_err_set(err, CG_EINVAL,
                              "cell %s gets no pod of %lld replicas by weight: raise replicas "
                              "or its weight",
                              cells->items[c].name, (long long)replicas);

    uint32_t left[CG_PLAN_MAX_CELLS];
    memcpy(left, out->cell_target, sizeof(left));
    uint64_t remaining = (uint64_t)replicas;
    size_t g = 0; /* groups planned */
    for (size_t pg = 0; pg < gray->n_groups; pg++) {
        if (remaining == 0) { /* nothing left for this group: drop it */
            out->dropped[out->n_dropped++] = (uint8_t)pg;
            continue;
        }
        if (g >= CG_PLAN_MAX_GROUPS)
            return cg_err_set(err, CG_EINVAL, "more than %d groups", CG_PLAN_MAX_GROUPS);
        uint32_t total = 0;
        for (size_t c = 0; c < cells->n; c++) {
            uint32_t take = group_take(&gray->groups[pg], out->cell_target[c], left[c]);
            out->pods[g][c] = take;
            left[c] -= take;
            total += take;
        }
        /* perCell >= 1 and percent rounded up take a pod from every cell with one left, so
         * a group takes nothing only when nothing is left */
        assert(total > 0);
        out->group_total[g++] = total;
        remaining -= total;
    }
    /* Groups that leave pods over: what is left forms one more, last group (as `rest`). */
    if (remaining > 0) {
        if (g >= CG_PLAN_MAX_GROUPS)
            return cg_err_set(err, CG_EINVAL, "more than %d groups", CG_PLAN_MAX_GROUPS);
        for (size_t c = 0; c < cells->n; c++) {
            out->pods[g][c] = left[c];
            out->group_total[g] += left[c];
        }
        g++;
    }
    out->n_groups = g;
    return CG_OK;
}

bool cg_plan_dropped_note(const struct cg_gray *gray, const struct cg_plan *plan, char *out,
                          size_t cap)
{
    assert(cap > 0);
    out[0] = '\0';
    if (plan->n_dropped == 0)
        return false;
    size_t len = (size_t)snprintf(out, cap, "%s", plan->n_dropped == 1 ? "group" : "groups");
    for (size_t i = 0; i < plan->n_dropped && len < cap; i++) {
        char what[32];
        describe_group(&gray->groups[plan->dropped[i]], what, sizeof(what));
        const char *sep = i == 0 ? " " : i + 1 == plan->n_dropped ? " and " : ", ";
        len += (size_t)snprintf(out + len, cap - len, "%s%u (%s)", sep, plan->dropped[i], what);
    }
    if (len < cap)
        snprintf(out + len, cap - len, " %s dropped: the %lld replicas are used up by group %zu",
                 plan->n_dropped == 1 ? "is" : "are", (long long)plan->replicas,
                 plan->n_groups - 1);
    return true;
}
