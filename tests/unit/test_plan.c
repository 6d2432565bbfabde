/* Plan math: spreading replicas over cells and cutting them into groups. */
#include <setjmp.h>
#include <stdarg.h>
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

static void ten_over_two_cells(void **state)
{
    (void)state;
    struct cg_cell items[2];
    struct cg_cells cells = two_cells(items, 1, 1);
    struct cg_gray gray = gray_of(one_two_rest, 3);
    struct cg_plan p;
    struct cg_err err;
    assert_int_equal(cg_plan_compute(&cells, &gray, 10, &p, &err), CG_OK);
    assert_int_equal(p.n_groups, 3);
    assert_int_equal(p.n_cells, 2);
    assert_int_equal(p.cell_target[0], 5);
    assert_int_equal(p.cell_target[1], 5);
    assert_group(&p, 0, 1, 1);
    assert_group(&p, 1, 2, 2);
    assert_group(&p, 2, 2, 2);
}

static void eleven_over_two_cells(void **state)
{
    (void)state;
    struct cg_cell items[2];
    struct cg_cells cells = two_cells(items, 1, 1);
    struct cg_gray gray = gray_of(one_two_rest, 3);
    struct cg_plan p;
    struct cg_err err;
    assert_int_equal(cg_plan_compute(&cells, &gray, 11, &p, &err), CG_OK);
    assert_int_equal(p.cell_target[0], 6);
    assert_int_equal(p.cell_target[1], 5);
    assert_group(&p, 0, 1, 1);
    assert_group(&p, 1, 2, 2);
    assert_group(&p, 2, 3, 2);
}

static void weights_largest_remainder(void **state)
{
    (void)state;
    /* 10 by 2:1 -> 6.67 and 3.33 -> 7 and 3. */
    struct cg_cell items[2];
    struct cg_cells cells = two_cells(items, 2, 1);
    struct cg_gray gray = gray_of(one_two_rest, 3);
    struct cg_plan p;
    struct cg_err err;
    assert_int_equal(cg_plan_compute(&cells, &gray, 10, &p, &err), CG_OK);
    assert_int_equal(p.cell_target[0], 7);
    assert_int_equal(p.cell_target[1], 3);
    assert_group(&p, 0, 1, 1);
    assert_group(&p, 1, 2, 2);
    assert_group(&p, 2, 4, 0);

    /* Three cells 1:1:1, 10 replicas: remainders tie, the first listed cell gets the pod. */
    struct cg_cell three[3] = {{cell_a, 1}, {cell_b, 1}, {cell_c, 1}};
    struct cg_cells cells3 = {NULL, three, 3};
    assert_int_equal(cg_plan_compute(&cells3, &gray, 10, &p, &err), CG_OK);
    assert_int_equal(p.cell_target[0], 4);
    assert_int_equal(p.cell_target[1], 3);
    assert_int_equal(p.cell_target[2], 3);

    /* A weight-0 cell (being drained) gets nothing and does not count as a cell to fill. */
    struct cg_cells drained = two_cells(items, 1, 0);
    assert_int_equal(cg_plan_compute(&drained, &gray, 4, &p, &err), CG_OK);
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
    struct cg_err err;
    /* 20 over 2 -> 10 each: 10% = 1, 50% = 5, rest = 4. */
    assert_int_equal(cg_plan_compute(&cells, &gray, 20, &p, &err), CG_OK);
    assert_group(&p, 0, 1, 1);
    assert_group(&p, 1, 5, 5);
    assert_group(&p, 2, 4, 4);
    /* 7 over 2 -> 4 and 3: 10% rounds up to 1; 50% = 2 each; rest 1 and 0. */
    assert_int_equal(cg_plan_compute(&cells, &gray, 7, &p, &err), CG_OK);
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
    struct cg_err err;
    assert_int_equal(cg_plan_compute(&cells, &gray, 10, &p, &err), CG_OK);
    assert_int_equal(p.n_groups, 3);
    assert_group(&p, 2, 2, 2);
    /* Groups bigger than the cells: capped at what is left. */
    assert_int_equal(cg_plan_compute(&cells, &gray, 4, &p, &err), CG_OK);
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
    struct cg_plan p;
    struct cg_err err;

    cg_err_clear(&err);
    assert_int_equal(cg_plan_compute(&cells, &gray, 1, &p, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "replicas 1 is fewer than the 2 cells"));
    assert_non_null(strstr(err.msg, "set replicas >= 2"));

    assert_int_equal(cg_plan_compute(&cells, &gray, 0, &p, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "replicas 0"));

    /* 2 replicas over 2 cells with 3 groups: group 1 has nothing left. */
    assert_int_equal(cg_plan_compute(&cells, &gray, 2, &p, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "group 1 (perCell: 2) would add no pod"));

    struct cg_cells none = {NULL, NULL, 0};
    assert_int_equal(cg_plan_compute(&none, &gray, 10, &p, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "no cell"));

    struct cg_gray empty = gray_of(NULL, 0);
    assert_int_equal(cg_plan_compute(&cells, &empty, 10, &p, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "no group"));

    struct cg_cells zero = two_cells(items, 0, 0);
    assert_int_equal(cg_plan_compute(&zero, &gray, 10, &p, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "weight 0"));

    /* 3 replicas at 10:1 -> 2.73 and 0.27: zone-b would stay empty. */
    struct cg_cells skewed = two_cells(items, 10, 1);
    assert_int_equal(cg_plan_compute(&skewed, &gray, 3, &p, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "cell zone-b gets no pod"));

    /* A percent group that rounds to nothing cannot happen (it rounds up), but one after
     * the pods ran out can. */
    struct cg_group groups[] = {{CG_GROUP_PERCENT, 100}, {CG_GROUP_PERCENT, 1}};
    struct cg_gray pct = gray_of(groups, 2);
    cells = two_cells(items, 1, 1);
    assert_int_equal(cg_plan_compute(&cells, &pct, 4, &p, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "group 1 (percent: 1)"));

    struct cg_group many[CG_PLAN_MAX_GROUPS + 1];
    for (size_t i = 0; i < CG_PLAN_MAX_GROUPS + 1; i++)
        many[i] = (struct cg_group){CG_GROUP_PER_CELL, 1};
    struct cg_gray too_many = gray_of(many, CG_PLAN_MAX_GROUPS + 1);
    assert_int_equal(cg_plan_compute(&cells, &too_many, 100, &p, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "more than"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ten_over_two_cells),          cmocka_unit_test(eleven_over_two_cells),
        cmocka_unit_test(weights_largest_remainder),   cmocka_unit_test(percent_groups),
        cmocka_unit_test(leftover_becomes_last_group), cmocka_unit_test(impossible_plans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
