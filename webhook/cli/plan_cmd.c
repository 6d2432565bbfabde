/* `cellgate plan`: the group plan of each policy per cell. */
#include <stddef.h>
#include <stdint.h>
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
    /* Columns as wide as their widest entry, so large counts stay aligned. */
    char num[32];
    int tw = snprintf(num, sizeof(num), "%lld", (long long)plan->replicas);
    int w = tw;
    for (size_t c = 0; c < plan->n_cells; c++) {
        int len = (int)strlen(p->cells.items[c].name);
        if (len > w)
            w = len;
    }
    if (tw < 5)
        tw = 5;
    int cw = tw > 10 ? tw : 10;
    fprintf(out, "%-6s", "group");
    for (size_t c = 0; c < plan->n_cells; c++)
        fprintf(out, "  %*s", w, p->cells.items[c].name);
    fprintf(out, "  %*s  %*s\n", tw, "total", cw, "cumulative");
    uint64_t cum = 0;
    for (size_t g = 0; g < plan->n_groups; g++) {
        cum += plan->group_total[g];
        fprintf(out, "%-6zu", g);
        for (size_t c = 0; c < plan->n_cells; c++)
            fprintf(out, "  %*u", w, plan->pods[g][c]);
        fprintf(out, "  %*u  %*llu\n", tw, plan->group_total[g], cw, (unsigned long long)cum);
    }
    fprintf(out, "%-6s", "all");
    for (size_t c = 0; c < plan->n_cells; c++)
        fprintf(out, "  %*u", w, plan->cell_target[c]);
    fprintf(out, "  %*lld\n", tw, (long long)plan->replicas);
}

struct plan_opts {
    const char *replicas, *policy, *name;
};

#define OPT(f) offsetof(struct plan_opts, f)
static const struct cg__cli_flag plan_flags[] = {
    {"replicas", 0, CG_CLI_VALUE, OPT(replicas), "N", "the Deployment's replicas (1 or more)", true,
     NULL},
    {"policy", 0, CG_CLI_VALUE, OPT(policy), "FILE", "a policy file or a directory of them", true,
     "file"},
    {"name", 0, CG_CLI_VALUE, OPT(name), "POLICY", "only the policy of this name", false, NULL},
};
#undef OPT

const struct cg__cli_command cg__cli_plan_command = {
    "plan",
    "--replicas N --policy FILE [--name POLICY]",
    "Prints each policy's group plan for a Deployment of N replicas: the new pods each group\n"
    "adds per cell, and the smallest replica count the policy accepts.\n"
    "Exit status: 0 every plan printed, 1 a policy has no plan for N or does not load, 2 a\n"
    "usage error.",
    plan_flags,
    sizeof(plan_flags) / sizeof(plan_flags[0]),
    NULL,
    0,
    0,
    NULL,
};

/* The smallest replica count the policy has a plan for (0: none up to the bound). */
static long long min_replicas(const struct cg_policy *p)
{
    struct cg_plan plan;
    for (long long r = 1; r <= 100000; r++)
        if (cg_plan_compute(&p->cells, &p->gray, r, &plan, NULL) == CG_OK)
            return r;
    return 0;
}

int cg__cli_plan(int argc, char **argv, FILE *out, FILE *err)
{
    struct plan_opts o = {NULL, NULL, NULL};
    struct cg__cli_list pos;
    int rc = cg__cli_args_parse(&cg__cli_plan_command, argc, argv, &o, &pos, out, err);
    if (rc >= 0)
        return rc;
    long long replicas;
    if (!cg__cli_count_decode(o.replicas, 1, UINT32_MAX, &replicas)) {
        fprintf(err, "cellgate plan: --replicas \"%s\": want a whole number from 1 to %u\n",
                o.replicas, UINT32_MAX);
        return 2;
    }
    struct cg_policy_set *set = NULL;
    if (cg__cli_load_policies(o.policy, err, &set) != CG_OK)
        return 1;
    rc = 0;
    size_t shown = 0, printed = 0;
    for (size_t i = 0; i < set->n; i++) {
        const struct cg_policy *p = &set->items[i];
        if (o.name != NULL && strcmp(o.name, p->name) != 0)
            continue;
        struct cg_plan plan;
        struct cg_err e;
        cg_err_clear(&e);
        shown++;
        long long min = min_replicas(p);
        if (cg_plan_compute(&p->cells, &p->gray, replicas, &plan, &e) != CG_OK) {
            fprintf(err, "cellgate plan: policy %s: %s", p->name, e.msg);
            if (min > 0)
                fprintf(err, " (the smallest replica count it accepts is %lld)", min);
            fputc('\n', err);
            rc = 1;
            continue;
        }
        if (printed++ > 0)
            fprintf(out, "\n");
        print_plan(p, &plan, out);
        char note[512];
        if (cg_plan_dropped_note(&p->gray, &plan, note, sizeof(note)))
            fprintf(out, "%s\n", note);
        if (min > 0)
            fprintf(out, "smallest replica count this policy accepts: %lld\n", min);
    }
    if (shown == 0) {
        fprintf(err, "cellgate plan: no policy named \"%s\" in %s; there are:", o.name, o.policy);
        for (size_t i = 0; i < set->n; i++)
            fprintf(err, " %s", set->items[i].name);
        fputc('\n', err);
        rc = 1;
    }
    cg_policy_set_unref(set);
    return rc;
}
