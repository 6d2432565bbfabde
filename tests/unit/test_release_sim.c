/* The pure controller driven against the model of the Deployment and ReplicaSet controllers,
 * the webhook, the kubelet and the EndpointSlices (test_release_model.c), from the start of a
 * release to its end, with the invariants asserted at every step (m_run): ready pods never
 * below replicas, no pod deleted while an EndpointSlice lists it as serving, each group's new
 * pods per cell as planned, no group advanced without its approval. Prints how many deletes
 * the webhook held (each is a FailedDelete Event and a retry in a real cluster). */
#define CG_RELEASE_MODEL_NO_MAIN
#include "test_release_model.c"

static const char two_cells[] = "apiVersion: cellgate.io/v1\n"
                                "kind: ReleasePolicy\n"
                                "metadata: {name: payments}\n"
                                "spec:\n"
                                "  match: {namespaces: [payments]}\n"
                                "  cells: {names: [zone-a, zone-b]}\n"
                                "  gray: {groups: [{perCell: 1}, {perCell: 2}, rest]}\n"
                                "  monitor: {requireReadinessProbe: false}\n"
                                "  emergency: {rollback: gradual}\n";

static const char three_cells[] = "apiVersion: cellgate.io/v1\n"
                                  "kind: ReleasePolicy\n"
                                  "metadata: {name: payments}\n"
                                  "spec:\n"
                                  "  match: {namespaces: [payments]}\n"
                                  "  cells: {names: [zone-a, zone-b, zone-c]}\n"
                                  "  gray: {groups: [{perCell: 1}, {percent: 50}, rest]}\n"
                                  "  monitor: {requireReadinessProbe: false}\n";

/* The bench's policy: no wait between groups, so a group's end and the next group's start are
 * one evaluation. */
static const char no_soak[] = "apiVersion: cellgate.io/v1\n"
                              "kind: ReleasePolicy\n"
                              "metadata: {name: payments}\n"
                              "spec:\n"
                              "  match: {namespaces: [payments]}\n"
                              "  cells: {names: [zone-a, zone-b]}\n"
                              "  gray: {groups: [{perCell: 1}, {perCell: 1}, {perCell: 1}, "
                              "{perCell: 1}, rest], pause: {after: 0s}}\n"
                              "  monitor: {requireReadinessProbe: false}\n";

struct sim_case {
    const char *name, *policy;
    int64_t replicas, min_ready;
    int crash_every;
    int approve_delay; /* steps from waiting-approval to the approval */
};

static const struct sim_case sims[] = {
    {"10 pods, 2 cells, minReadySeconds 0", two_cells, 10, 0, 0, 3},
    {"10 pods, 2 cells, minReadySeconds 5", two_cells, 10, 5, 0, 3},
    {"11 pods, 2 cells, minReadySeconds 0", two_cells, 11, 0, 0, 3},
    {"12 pods, 3 cells, minReadySeconds 0", three_cells, 12, 0, 0, 3},
    {"10 pods, 2 cells, controller restarts mid-apply", two_cells, 10, 0, 1, 3},
    {"10 pods, 2 cells, restarts every 3rd step", two_cells, 10, 0, 3, 3},
    {"10 pods, 2 cells, five groups, no soak, minReadySeconds 5", no_soak, 10, 5, 0, 3},
    {"10 pods, 2 cells, five groups, no soak, minReadySeconds 0", no_soak, 10, 0, 0, 3},
    {"10 pods, 2 cells, approved at once, minReadySeconds 5", two_cells, 10, 5, 0, 0},
};

static void simulate(void **state)
{
    int total_held = 0, ordered = 0, advanced_first = 0;
    for (size_t i = 0; i < sizeof(sims) / sizeof(sims[0]); i++) {
        const struct sim_case *sc = &sims[i];
        struct m_scenario s = {.name = sc->name,
                               .policy = sc->policy,
                               .replicas = sc->replicas,
                               .approve_delay = sc->approve_delay,
                               .fail_check_group = -1,
                               .user_pause_group = -1,
                               .emergency_pause_group = -1,
                               .crash_every = sc->crash_every,
                               .min_ready = sc->min_ready,
                               .max_steps = 2000,
                               .complete = true};
        struct m_result r;
        m_run(&s, &r);
        print_message("sim: %-50s %4d steps %2d groups advanced %3d deletes, %3d held by the "
                      "webhook\n",
                      sc->name, r.steps, r.advances, r.deletes, r.held_deletes);
        total_held += r.held_deletes;
        ordered += r.patch_before_finalizers;
        advanced_first += r.advance_patch_first;
    }
    print_message("sim: held deletes in all: %d\n", total_held);
    /* the orders were checked on evaluations that had both */
    assert_true(ordered > 0);
    assert_true(advanced_first > 0);
    (void)state;
}

/* The emergency rollback in the middle of a release, released gradually: invariants hold and
 * the first template ends serving everywhere. */
static void rollback_mid_release(void **state)
{
    (void)state;
    struct cg_policy_set *set = m_policy(two_cells);
    struct m_world w;
    m_world_init(&w, &set->items[0], 10);
    m_new_template(&w, 0x2222);
    struct cg_release_actions a;
    cg_release_actions_init(&a);
    bool ordered = false;
    int step;
    for (step = 0; step < 2000; step++) {
        m_step(&w, SIZE_MAX, &a);
        assert_true(m_ready(&w) >= w.replicas);
        assert_int_equal(w.served_deletes_bad, 0);
        struct cg_release_record rec;
        int g = m_record_group(&w, &rec);
        if (!ordered && g == 1 && rec.revision == 0x2222) {
            snprintf(w.emergency, sizeof(w.emergency), "rollback");
            ordered = true;
        }
        if (rec.state == CG_RELEASE_WAITING_APPROVAL)
            w.approve = g;
        if (ordered && rec.state == CG_RELEASE_COMPLETE && w.n_pods == 10)
            break;
    }
    if (step >= 2000)
        fail_msg("record %s, %d pods\n%s", w.record, w.n_pods, w.log.data);
    assert_true(w.digest == 0x1111111111111111ull);
    assert_string_equal(w.emergency, "");
    print_message("sim: rollback at group 1: %d steps, %d deletes, %d held by the webhook\n", step,
                  w.deletes, w.held_deletes);
    cg_release_actions_dispose(&a);
    m_world_dispose(&w);
    cg_policy_set_unref(set);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simulate),
        cmocka_unit_test(rollback_mid_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
