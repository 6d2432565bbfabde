/* `cellgate plan`: the group plan of each policy per cell. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_internal.h"
#include "placement/plan.h"

static void print_plan(const struct cg_policy *p, const struct cg_plan *plan, FILE *out)
{
    char pause[64] = "manual approval after each group";
    if (p->gray.pause == CG_PAUSE_AFTER) {
        long long d = (long long)p->gray.pause_after_seconds;
        if (d % 3600 == 0)
            snprintf(pause, sizeof(pause), "%lldh after each group", d / 3600);
        else if (d % 60 == 0)
            snprintf(pause, sizeof(pause), "%lldm after each group", d / 60);
        else
            snprintf(pause, sizeof(pause), "%llds after each group", d);
    }
    fprintf(out, "policy %s: %lld replicas over %zu cells (%s), pause: %s\n", p->name,
            (long long)plan->replicas, plan->n_cells,
            p->cells.topology_key ? p->cells.topology_key : "topology.kubernetes.io/zone", pause);
    int w = 5;
    for (size_t c = 0; c < plan->n_cells; c++) {
        int len = (int)strlen(p->cells.items[c].name);
        if (len > w)
            w = len;
    }
    fprintf(out, "%-6s", "group");
    for (size_t c = 0; c < plan->n_cells; c++)
        fprintf(out, "  %*s", w, p->cells.items[c].name);
    fprintf(out, "  %*s  %*s\n", 5, "total", 10, "cumulative");
    uint64_t cum = 0;
    for (size_t g = 0; g < plan->n_groups; g++) {
        cum += plan->group_total[g];
        fprintf(out, "%-6zu", g);
        for (size_t c = 0; c < plan->n_cells; c++)
            fprintf(out, "  %*u", w, plan->pods[g][c]);
        fprintf(out, "  %*u  %*llu\n", 5, plan->group_total[g], 10, (unsigned long long)cum);
    }
    fprintf(out, "%-6s", "all");
    for (size_t c = 0; c < plan->n_cells; c++)
        fprintf(out, "  %*u", w, plan->cell_target[c]);
    fprintf(out, "  %*lld\n", 5, (long long)plan->replicas);
}

int cg__cli_plan(int argc, char **argv, FILE *out, FILE *err)
{
    const char *replicas_s = NULL, *file = NULL, *name = NULL;
    for (int i = 0; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--replicas") == 0) {
            replicas_s = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--policy") == 0) {
            file = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--name") == 0) {
            name = argv[++i];
        } else {
            fprintf(err, "cellgate plan: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (replicas_s == NULL || file == NULL) {
        fprintf(err, "usage: cellgate plan --replicas N --policy FILE [--name POLICY]\n");
        return 2;
    }
    char *end;
    errno = 0;
    long long replicas = strtoll(replicas_s, &end, 10);
    if (*end != '\0' || end == replicas_s || errno != 0) {
        fprintf(err, "cellgate plan: --replicas \"%s\" is not a number\n", replicas_s);
        return 2;
    }
    struct cg_policy_set *set = NULL;
    if (cg__cli_load_policies(file, err, &set) != CG_OK)
        return 1;
    int rc = 0;
    size_t shown = 0, printed = 0;
    for (size_t i = 0; i < set->n; i++) {
        const struct cg_policy *p = &set->items[i];
        if (name != NULL && strcmp(name, p->name) != 0)
            continue;
        struct cg_plan plan;
        struct cg_err e;
        cg_err_clear(&e);
        shown++;
        if (cg_plan_compute(&p->cells, &p->gray, replicas, &plan, &e) != CG_OK) {
            fprintf(err, "cellgate plan: policy %s: %s\n", p->name, e.msg);
            rc = 1;
            continue;
        }
        if (printed++ > 0)
            fprintf(out, "\n");
        print_plan(p, &plan, out);
    }
    if (shown == 0) {
        fprintf(err, "cellgate plan: no policy named %s in %s\n", name ? name : "(any)", file);
        rc = 1;
    }
    cg_policy_set_unref(set);
    return rc;
}
