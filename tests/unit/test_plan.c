/* Plan math: spreading replicas over cells and cutting them into groups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "placement/plan.h"

static char cell_a[] = "zone-a", cell_b[] = "zone-b", cell_c[] = "zone-c";

static struct cg_cells two_cells(struct cg_cell *items, unsigned wa, unsigned wb)
{
    items[0] = (struct cg_cell){cell_a, wa};
    items[1] = (struct cg_cell){cell_b, wb};
    return (struct cg_cells){NULL, items, 2};
}

static struct cg_gray gray_of(struct cg_group *groups, size_t n)
{
    return (struct cg_gray){groups, n, CG_PAUSE_MANUAL, 0};
}

static struct cg_group one_two_rest[] = {
    {CG_GROUP_PER_CELL, 1}, {CG_GROUP_PER_CELL, 2}, {CG_GROUP_REST, 0}};

static void assert_group(const struct cg_plan *p, size_t g, uint32_t a, uint32_t b)
{
    assert_int_equal(p->pods[g][0], a);
    assert_int_equal(p->pods[g][1], b);
    assert_int_equal(p->group_total[g], a + b);
}

/* Computes the plan, which must be possible, into p. */
static void plan_ok(const struct cg_cells *cells, const struct cg_gray *gray, int64_t replicas,
                    struct cg_plan *p)
{
    struct cg_err err;
    cg_err_clear(&err);
    enum cg_status st = cg_plan_compute(cells, gray, replicas, p, &err);
    if (st != CG_OK)
        fail_msg("plan for %lld replicas: %s", (long long)replicas, err.msg);
}

/* The plan must be impossible, with want in the reason. */
static void plan_impossible(const struct cg_cells *cells, const struct cg_gray *gray,
                            int64_t replicas, const char *want)
{
    struct cg_plan p;
    struct cg_err err;
    cg_err_clear(&err);
    assert_int_equal(cg_plan_compute(cells, gray, replicas, &p, &err), CG_EINVAL);
    if (strstr(err.msg, want) == NULL)
        fail_msg("reason \"%s\" lacks \"%s\"", err.msg, want);
}

/* Two cells, groups perCell 1, perCell 2, rest: what each cell gets and each group adds. */
static void two_cells_one_two_rest(void **state)
{
    (void)state;
    static const struct {
        unsigned wa, wb;
        int64_t replicas;
        uint32_t target[2];
        uint32_t pods[3][2];
    } cases[] = {
        {1, 1, 10, {5, 5}, {{1, 1}, {2, 2}, {2, 2}}},
        {1, 1, 11, {6, 5}, {{1, 1}, {2, 2}, {3, 2}}},
        /* 10 by 2:1 -> 6.67 and 3.33 -> 7 and 3. */
        {2, 1, 10, {7, 3}, {{1, 1}, {2, 2}, {4, 0}}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cg_cell items[2];
        struct cg_cells cells = two_cells(items, cases[i].wa, cases[i].wb);
        struct cg_gray gray = gray_of(one_two_rest, 3);
        struct cg_plan p;
        plan_ok(&cells, &gray, cases[i].replicas, &p);
        bool same = p.n_groups == 3 && p.n_cells == 2 &&
                    memcmp(p.cell_target, cases[i].target, sizeof(cases[i].target)) == 0;
        for (size_t g = 0; g < 3; g++)
            same = same && p.pods[g][0] == cases[i].pods[g][0] &&
                   p.pods[g][1] == cases[i].pods[g][1] &&
                   p.group_total[g] == cases[i].pods[g][0] + cases[i].pods[g][1];
        if (!same)
            fail_msg("case %zu: %zu groups over %zu cells, targets %u %u, groups [%u %u] [%u %u] "
                     "[%u %u]",
                     i, p.n_groups, p.n_cells, p.cell_target[0], p.cell_target[1], p.pods[0][0],
                     p.pods[0][1], p.pods[1][0], p.pods[1][1], p.pods[2][0], p.pods[2][1]);
    }
}

static void weights_largest_remainder(void **state)
{
    (void)state;
    struct cg_gray gray = gray_of(one_two_rest, 3);
    struct cg_plan p;

    /* Three cells 1:1:1, 10 replicas: remainders tie, the first listed cell gets the pod. */
    struct cg_cell three[3] = {{cell_a, 1}, {cell_b, 1}, {cell_c, 1}};
    struct cg_cells cells3 = {NULL, three, 3};
    plan_ok(&cells3, &gray, 10, &p);
    assert_int_equal(p.cell_target[0], 4);
    assert_int_equal(p.cell_target[1], 3);
    assert_int_equal(p.cell_target[2], 3);

    /* A weight-0 cell (being drained) gets nothing and does not count as a cell to fill. */
    struct cg_cell items[2];
    struct cg_cells drained = two_cells(items, 1, 0);
    plan_ok(&drained, &gray, 4, &p);
    assert_int_equal(p.cell_target[0], 4);
    assert_int_equal(p.cell_target[1], 0);
    assert_int_equal(p.n_groups, 3);
    assert_group(&p, 2, 1, 0);
}

static void percent_groups(void **state)
{
    (void)state;
    struct cg_cell items[2];
    struct cg_cells cells = two_cells(items, 1, 1);
    struct cg_group groups[] = {{CG_GROUP_PERCENT, 10}, {CG_GROUP_PERCENT, 50}, {CG_GROUP_REST, 0}};
    struct cg_gray gray = gray_of(groups, 3);
    struct cg_plan p;
    /* 20 over 2 -> 10 each: 10% = 1, 50% = 5, rest = 4. */
    plan_ok(&cells, &gray, 20, &p);
    assert_group(&p, 0, 1, 1);
    assert_group(&p, 1, 5, 5);
    assert_group(&p, 2, 4, 4);
    /* 7 over 2 -> 4 and 3: 10% rounds up to 1; 50% = 2 each; rest 1 and 0. */
    plan_ok(&cells, &gray, 7, &p);
    assert_group(&p, 0, 1, 1);
    assert_group(&p, 1, 2, 2);
    assert_group(&p, 2, 1, 0);
}

static void leftover_becomes_last_group(void **state)
{
    (void)state;
    struct cg_cell items[2];
    struct cg_cells cells = two_cells(items, 1, 1);
    struct cg_group groups[] = {{CG_GROUP_PER_CELL, 1}, {CG_GROUP_PER_CELL, 2}};
    struct cg_gray gray = gray_of(groups, 2);
    struct cg_plan p;
    plan_ok(&cells, &gray, 10, &p);
    assert_int_equal(p.n_groups, 3);
    assert_group(&p, 2, 2, 2);
    /* Groups bigger than the cells: capped at what is left. */
    plan_ok(&cells, &gray, 4, &p);
    assert_int_equal(p.n_groups, 2);
    assert_group(&p, 0, 1, 1);
    assert_group(&p, 1, 1, 1);
}

static void impossible_plans(void **state)
{
    (void)state;
    struct cg_cell items[2];
    struct cg_cells cells = two_cells(items, 1, 1);
    struct cg_gray gray = gray_of(one_two_rest, 3);

    plan_impossible(&cells, &gray, 1, "replicas 1 is fewer than the 2 cells");
    plan_impossible(&cells, &gray, 1, "set replicas >= 2");
    plan_impossible(&cells, &gray, 0, "replicas 0");

    struct cg_cells none = {NULL, NULL, 0};
    plan_impossible(&none, &gray, 10, "no cell");
    struct cg_gray empty = gray_of(NULL, 0);
    plan_impossible(&cells, &empty, 10, "no group");
    struct cg_cells zero = two_cells(items, 0, 0);
    plan_impossible(&zero, &gray, 10, "weight 0");

    /* 3 replicas at 10:1 -> 2.73 and 0.27: zone-b would stay empty. */
    struct cg_cells skewed = two_cells(items, 10, 1);
    plan_impossible(&skewed, &gray, 3, "cell zone-b gets no pod");

    cells = two_cells(items, 1, 1);
    struct cg_group many[CG_PLAN_MAX_GROUPS + 1];
    for (size_t i = 0; i < CG_PLAN_MAX_GROUPS + 1; i++)
        many[i] = (struct cg_group){CG_GROUP_PER_CELL, 1};
    struct cg_gray too_many = gray_of(many, CG_PLAN_MAX_GROUPS + 1);
    plan_impossible(&cells, &too_many, 100, "more than");
}

/* A small Deployment: a group larger than what is left takes what is left, and groups that
 * find nothing left are dropped, and the plan says which. */
static void small_deployments_drop_groups(void **state)
{
    (void)state;
    struct cg_cell items[2];
    struct cg_cells cells = two_cells(items, 1, 1);
    struct cg_gray gray = gray_of(one_two_rest, 3);
    struct cg_plan p;
    char note[256];

    /* every replica count from the number of cells on has a plan */
    for (int64_t r = 2; r <= 40; r++) {
        plan_ok(&cells, &gray, r, &p);
        uint64_t sum = 0;
        for (size_t g = 0; g < p.n_groups; g++) {
            assert_true(p.group_total[g] > 0);
            sum += p.group_total[g];
        }
        assert_int_equal(sum, (uint64_t)r);
        assert_int_equal(p.n_groups + p.n_dropped, 3);
        assert_int_equal(cg_plan_dropped_note(&gray, &p, note, sizeof(note)), p.n_dropped > 0);
    }
    /* 2: group 0 takes them all; groups 1 and 2 are dropped */
    plan_ok(&cells, &gray, 2, &p);
    assert_int_equal(p.n_groups, 1);
    assert_group(&p, 0, 1, 1);
    assert_int_equal(p.n_dropped, 2);
    assert_int_equal(p.dropped[0], 1);
    assert_int_equal(p.dropped[1], 2);
    assert_true(cg_plan_dropped_note(&gray, &p, note, sizeof(note)));
    assert_string_equal(note, "groups 1 (perCell: 2) and 2 (rest) are dropped: the 2 replicas are "
                              "used up by group 0");
    /* 4: perCell 2 finds 1 left per cell and takes it; rest is dropped */
    plan_ok(&cells, &gray, 4, &p);
    assert_int_equal(p.n_groups, 2);
    assert_group(&p, 1, 1, 1);
    assert_int_equal(p.n_dropped, 1);
    assert_true(cg_plan_dropped_note(&gray, &p, note, sizeof(note)));
    assert_string_equal(note, "group 2 (rest) is dropped: the 4 replicas are used up by group 1");
    /* 5: 3 and 2; group 1 takes 2 and what is left of zone-b, 1 */
    plan_ok(&cells, &gray, 5, &p);
    assert_int_equal(p.n_groups, 2);
    assert_group(&p, 1, 2, 1);
    /* 7: the first count that fills all three groups */
    plan_ok(&cells, &gray, 7, &p);
    assert_int_equal(p.n_groups, 3);
    assert_int_equal(p.n_dropped, 0);
    assert_false(cg_plan_dropped_note(&gray, &p, note, sizeof(note)));
    assert_string_equal(note, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_cells_one_two_rest), cmocka_unit_test(weights_largest_remainder),
        cmocka_unit_test(percent_groups),         cmocka_unit_test(leftover_becomes_last_group),
        cmocka_unit_test(impossible_plans),       cmocka_unit_test(small_deployments_drop_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
