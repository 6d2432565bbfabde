/* Placement with several webhook replicas. Each replica counts the pods its watch has seen plus
 * its own reservations; pods another replica admitted stay invisible to it until its watch
 * delivers them. This simulation drives real pod caches the way the ReplicaSet controller and
 * the apiserver do (pods created in slow-start batches 1, 2, 4, 8, ..., each creation reviewed
 * by one replica in turn, the watch delivering a batch's pods to every replica after the batch)
 * and checks the bound the README states: one owner's pods differ between two equal cells by
 * at most the number of replicas, and a single replica balances exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kube/podcache.h"
#include "placement/choose.h"
#include "policy/policy.h"

#define NOW 1795687200LL
#define MAX_PODS 512

struct pod {
    char cell[16];
};

/* The cell a replica picks for the next pod of owner rs1 (counts from its own cache). */
static size_t pick(struct cg_podcache *pc, const struct cg_cells *cells, const char *request_uid)
{
    struct cg_podcache_view v;
    cg_podcache_view(pc, cg_str_from(request_uid), CG_STR_LIT("rs1"), NOW, &v);
    uint32_t counts[4] = {0}, in_flight[4] = {0};
    for (size_t i = 0; i < v.n_cells; i++)
        for (size_t k = 0; k < cells->n; k++)
            if (cg_str_eq_c(v.cells[i].cell, cells->items[k].name)) {
                counts[k] += v.cells[i].pods;
                in_flight[k] += v.cells[i].in_flight;
            }
    return cg_placement_choose(cells, counts, in_flight);
}

static void deliver(struct cg_podcache *pc, int i, const char *cell)
{
    char json[512];
    int n = snprintf(json, sizeof(json),
                     "{\"metadata\":{\"name\":\"web-%d\",\"namespace\":\"shop\",\"uid\":\"u-%d\","
                     "\"labels\":{\"cellgate.io/cell\":\"%s\"},\"ownerReferences\":[{\"uid\":"
                     "\"rs1\",\"controller\":true}]},\"status\":{\"phase\":\"Running\"}}",
                     i, i, cell);
    cg_podcache_apply(pc, CG_PODCACHE_ADDED, json, (size_t)n);
}

/* Creates `total` pods with `replicas` webhook replicas; returns |a - b| at the end. */
static int simulate(int replicas, int total, int *in_a)
{
    struct cg_cell items[2] = {{"zone-a", 1}, {"zone-b", 1}};
    struct cg_cells cells = {"topology.kubernetes.io/zone", items, 2};
    struct cg_podcache *pc[4];
    struct cg_podcache_config cfg = {.reservation_ttl = 3600};
    for (int r = 0; r < replicas; r++) {
        pc[r] = cg_podcache_create(&cfg);
        cg_podcache_set_synced(pc[r], true);
    }
    static struct pod pods[MAX_PODS];
    int made = 0, a = 0, b = 0, turn = 0;
    for (int batch = 1; made < total; batch *= 2) {
        int first = made;
        for (int k = 0; k < batch && made < total; k++, made++) {
            struct cg_podcache *mine = pc[turn++ % replicas];
            char uid[32];
            snprintf(uid, sizeof(uid), "review-%d", made);
            size_t c = pick(mine, &cells, uid);
            snprintf(pods[made].cell, sizeof(pods[made].cell), "%s", items[c].name);
            struct cg_err err;
            cg_err_clear(&err);
            assert_int_equal(cg_podcache_reserve(mine, cg_str_from(uid), CG_STR_LIT("rs1"),
                                                 cg_str_from(items[c].name), NOW, &err),
                             CG_OK);
            if (c == 0)
                a++;
            else
                b++;
        }
        /* The batch shows up in every replica's watch. */
        for (int i = first; i < made; i++)
            for (int r = 0; r < replicas; r++)
                deliver(pc[r], i, pods[i].cell);
    }
    /* Every reservation was released by its pod: the caches agree with the truth. */
    for (int r = 0; r < replicas; r++) {
        struct cg_podcache_view v;
        cg_podcache_view(pc[r], CG_STR_NULL, CG_STR_LIT("rs1"), NOW, &v);
        uint32_t sum = 0;
        for (size_t i = 0; i < v.n_cells; i++)
            sum += v.cells[i].pods;
        assert_int_equal(sum, (uint32_t)total);
        cg_podcache_destroy(pc[r]);
    }
    *in_a = a;
    return a > b ? a - b : b - a;
}

static void one_replica_balances_exactly(void **state)
{
    for (int total = 1; total <= 300; total += 7) {
        int a;
        int skew = simulate(1, total, &a);
        assert_true(skew <= 1);
        assert_int_equal(a, (total + 1) / 2); /* ties go to the first cell */
    }
}

static void replicas_bound_the_skew(void **state)
{
    for (int replicas = 2; replicas <= 4; replicas++) {
        int worst = 0;
        for (int total = 1; total <= 300; total++) {
            int a;
            int skew = simulate(replicas, total, &a);
            if (skew > worst)
                worst = skew;
            if (skew > replicas)
                fail_msg("%d replicas, %d pods: skew %d > %d", replicas, total, skew, replicas);
        }
        print_message("%d replicas: worst skew %d over 1..300 pods\n", replicas, worst);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_replica_balances_exactly),
        cmocka_unit_test(replicas_bound_the_skew),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
