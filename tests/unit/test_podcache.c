/* The pod cache: counts kept incrementally over ADDED / MODIFIED / DELETED and relists,
 * reservations (release by the pod, TTL, re-sent requests, limits), copied-out queries, drain
 * notes, standalone mode, and placement by 16 threads at once ending exactly balanced. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/podcache.h"
#include "test_support.h"

#define S(lit) CG_STR_LIT(lit)

/* A pod as the informer would hand it over (compact, fields in the apiserver's order). */
struct podspec {
    const char *ns, *name, *uid, *owner, *cell, *phase;
    bool terminating;
    const char *drain_requested; /* annotation value, NULL: none */
    const char *policy;          /* annotation cellgate.io/policy, NULL: none */
};

static void apply(struct cg_podcache *pc, enum cg_podcache_event type, struct podspec p)
{
    char json[2048], owner[256] = "", labels[256] = "", ann[256] = "", del[128] = "";
    if (p.owner != NULL)
        snprintf(owner, sizeof(owner),
                 ",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
                 "\"name\":\"rs\",\"uid\":\"%s\",\"controller\":true,\"blockOwnerDeletion\":true}]",
                 p.owner);
    if (p.cell != NULL)
        snprintf(labels, sizeof(labels),
                 ",\"labels\":{\"app\":\"web\",\"cellgate.io/cell\":\"%s\"}", p.cell);
    if (p.drain_requested != NULL || p.policy != NULL)
        snprintf(ann, sizeof(ann),
                 ",\"annotations\":{\"cellgate.io/drain-requested\":\"%s\","
                 "\"cellgate.io/policy\":\"%s\"}",
                 p.drain_requested ? p.drain_requested : "", p.policy ? p.policy : "");
    if (p.terminating)
        snprintf(del, sizeof(del), ",\"deletionTimestamp\":\"2026-11-26T08:41:40Z\"");
    int n = snprintf(json, sizeof(json),
                     "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s\","
                     "\"namespace\":\"%s\",\"uid\":\"%s\"%s%s%s%s},\"spec\":{\"containers\":[{"
                     "\"name\":\"c\",\"image\":\"pause\"}]},\"status\":{\"phase\":\"%s\"}}",
                     p.name, p.ns ? p.ns : "ns", p.uid ? p.uid : p.name, del, labels, ann, owner,
                     p.phase ? p.phase : "Running");
    assert_true(n > 0 && (size_t)n < sizeof(json));
    cg_podcache_apply(pc, type, json, (size_t)n);
}

/* The count of cell in owner's view at now (0 when the cell is not listed). */
static uint32_t count(struct cg_podcache *pc, const char *owner, const char *cell, int64_t now)
{
    struct cg_podcache_view v;
    cg_podcache_view(pc, CG_STR_NULL, cg_str_from(owner), now, &v);
    for (size_t i = 0; i < v.n_cells; i++)
        if (cg_str_eq_c(v.cells[i].cell, cell))
            return v.cells[i].pods;
    return 0;
}

static size_t n_cells(struct cg_podcache *pc, const char *owner, int64_t now)
{
    struct cg_podcache_view v;
    cg_podcache_view(pc, CG_STR_NULL, cg_str_from(owner), now, &v);
    return v.n_cells;
}

static void test_create_destroy(void **state)
{
    cg_podcache_destroy(NULL);
    struct cg_podcache *pc = cg_podcache_create(NULL);
    assert_false(cg_podcache_is_synced(pc));
    cg_podcache_set_synced(pc, true);
    assert_true(cg_podcache_is_synced(pc));
    cg_podcache_set_synced(pc, false);
    assert_false(cg_podcache_is_synced(pc));
    struct cg_podcache_view v;
    cg_podcache_view(pc, S("r"), S("o"), 0, &v);
    assert_false(v.synced);
    assert_int_equal(v.n_cells, 0);
    assert_int_equal(v.reserved_cell.n, 0);
    cg_podcache_destroy(pc);
}

static void test_counts_incremental(void **state)
{
    struct cg_podcache *pc = cg_podcache_create(NULL);
    struct cg_podcache_stats st;
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p1", .owner = "A", .cell = "a"});
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p2", .owner = "A", .cell = "a"});
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p3", .owner = "A", .cell = "b"});
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "q1", .owner = "B", .cell = "a"});
    assert_int_equal(count(pc, "A", "a", 0), 2);
    assert_int_equal(count(pc, "A", "b", 0), 1);
    assert_int_equal(count(pc, "B", "a", 0), 1);
    assert_int_equal(n_cells(pc, "C", 0), 0);

    /* The same event again changes nothing. */
    apply(pc, CG_PODCACHE_MODIFIED, (struct podspec){.name = "p1", .owner = "A", .cell = "a"});
    assert_int_equal(count(pc, "A", "a", 0), 2);
    /* A cell change moves the pod. */
    apply(pc, CG_PODCACHE_MODIFIED, (struct podspec){.name = "p2", .owner = "A", .cell = "b"});
    assert_int_equal(count(pc, "A", "a", 0), 1);
    assert_int_equal(count(pc, "A", "b", 0), 2);
    /* Terminating: no longer live, still a record. */
    apply(pc, CG_PODCACHE_MODIFIED,
          (struct podspec){.name = "p2", .owner = "A", .cell = "b", .terminating = true});
    assert_int_equal(count(pc, "A", "b", 0), 1);
    /* Failed and Succeeded: final phases. */
    apply(pc, CG_PODCACHE_MODIFIED,
          (struct podspec){.name = "p3", .owner = "A", .cell = "b", .phase = "Failed"});
    assert_int_equal(count(pc, "A", "b", 0), 0);
    assert_int_equal(n_cells(pc, "A", 0), 1); /* the empty cell is gone from the view */
    apply(pc, CG_PODCACHE_MODIFIED,
          (struct podspec){.name = "p1", .owner = "A", .cell = "a", .phase = "Succeeded"});
    assert_int_equal(n_cells(pc, "A", 0), 0);
    /* Back to Running (cannot happen in Kubernetes, but the counts must follow). */
    apply(pc, CG_PODCACHE_MODIFIED,
          (struct podspec){.name = "p1", .owner = "A", .cell = "a", .phase = "Pending"});
    assert_int_equal(count(pc, "A", "a", 0), 1);
    /* An owner change moves it between owners. */
    apply(pc, CG_PODCACHE_MODIFIED, (struct podspec){.name = "p1", .owner = "B", .cell = "a"});
    assert_int_equal(n_cells(pc, "A", 0), 0);
    assert_int_equal(count(pc, "B", "a", 0), 2);
    cg_podcache_stats(pc, &st);
    assert_int_equal(st.pods, 4);
    assert_int_equal(st.live_pods, 2);
    assert_int_equal(st.owners, 2); /* A still owns records, counted in no cell */

    /* DELETED, of a known and of an unknown pod. */
    apply(pc, CG_PODCACHE_DELETED, (struct podspec){.name = "q1", .owner = "B", .cell = "a"});
    apply(pc, CG_PODCACHE_DELETED, (struct podspec){.name = "zz", .owner = "B", .cell = "a"});
    apply(pc, CG_PODCACHE_DELETED, (struct podspec){.ns = "other", .name = "p1", .cell = "a"});
    assert_int_equal(count(pc, "B", "a", 0), 1);
    /* A pod without owner is kept (its state is asked for) but counted nowhere. */
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "bare", .cell = "a"});
    cg_podcache_stats(pc, &st);
    assert_int_equal(st.pods, 4);
    assert_int_equal(st.live_pods, 2);
    assert_int_equal(st.events, 15);
    cg_podcache_destroy(pc);
}

static void test_ignored(void **state)
{
    struct cg_podcache *pc = cg_podcache_create(NULL);
    struct cg_podcache_stats st;
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p1", .owner = "A", .cell = "a"});
    /* Losing the label removes the record. */
    apply(pc, CG_PODCACHE_MODIFIED, (struct podspec){.name = "p1", .owner = "A"});
    assert_int_equal(n_cells(pc, "A", 0), 0);
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p2", .owner = "A"});
    cg_podcache_apply(pc, CG_PODCACHE_ADDED, "{", 1);
    cg_podcache_apply(pc, CG_PODCACHE_ADDED, "{\"metadata\":[]}", 15);
    cg_podcache_apply(pc, CG_PODCACHE_ADDED, NULL, 0);
    /* No name, or no namespace: nothing to key it by. */
    static const char *const unnamed[] = {
        "{\"metadata\":{\"namespace\":\"ns\",\"labels\":{\"cellgate.io/cell\":\"a\"}}}",
        "{\"metadata\":{\"name\":\"n\",\"labels\":{\"cellgate.io/cell\":\"a\"}}}",
    };
    for (int i = 0; i < 2; i++)
        cg_podcache_apply(pc, CG_PODCACHE_ADDED, unnamed[i], strlen(unnamed[i]));
    /* Longer than Kubernetes allows. */
    char cell[80];
    memset(cell, 'c', 64);
    cell[64] = '\0';
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p3", .owner = "A", .cell = cell});
    cg_podcache_stats(pc, &st);
    assert_int_equal(st.pods, 0);
    assert_int_equal(st.ignored_unlabelled, 2);
    assert_int_equal(st.ignored_bad, 6);
    cg_podcache_destroy(pc);
}

static void test_relist(void **state)
{
    struct cg_podcache *pc = cg_podcache_create(NULL);
    struct cg_podcache_stats st;
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p1", .owner = "A", .cell = "a"});
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p2", .owner = "A", .cell = "a"});
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p3", .owner = "A", .cell = "b"});
    /* replace_end without replace_begin: nothing. */
    cg_podcache_replace_end(pc);
    assert_int_equal(count(pc, "A", "a", 0), 2);
    /* The relist sees p1 (moved to b) and a new p4; p2 and p3 are gone. */
    cg_podcache_replace_begin(pc);
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p1", .owner = "A", .cell = "b"});
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p4", .owner = "A", .cell = "c"});
    cg_podcache_replace_end(pc);
    assert_int_equal(count(pc, "A", "a", 0), 0);
    assert_int_equal(count(pc, "A", "b", 0), 1);
    assert_int_equal(count(pc, "A", "c", 0), 1);
    cg_podcache_stats(pc, &st);
    assert_int_equal(st.pods, 2);
    assert_int_equal(st.relist_dropped, 2);
    /* An empty relist drops everything. */
    cg_podcache_replace_begin(pc);
    cg_podcache_replace_end(pc);
    cg_podcache_stats(pc, &st);
    assert_int_equal(st.pods, 0);
    assert_int_equal(st.owners, 0);
    cg_podcache_destroy(pc);
}

static void test_reserve_release(void **state)
{
    struct cg_podcache *pc = cg_podcache_create(NULL);
    struct cg_podcache_stats st;
    struct cg_podcache_view v;
    struct cg_err err;
    assert_int_equal(cg_podcache_reserve(pc, S("r1"), S("A"), S("a"), 100, &err), CG_OK);
    assert_int_equal(cg_podcache_reserve(pc, S("r2"), S("A"), S("a"), 110, &err), CG_OK);
    assert_int_equal(cg_podcache_reserve(pc, S("r3"), S("A"), S("b"), 110, &err), CG_OK);
    assert_int_equal(count(pc, "A", "a", 110), 2);
    /* A re-sent review: same cell, no second reservation; another cell is a bug. */
    assert_int_equal(cg_podcache_reserve(pc, S("r1"), S("A"), S("a"), 111, &err), CG_OK);
    assert_int_equal(cg_podcache_reserve(pc, S("r1"), S("A"), S("b"), 111, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "already reserved cell a"));
    assert_int_equal(count(pc, "A", "a", 111), 2);
    cg_podcache_view(pc, S("r1"), S("A"), 111, &v);
    assert_true(cg_str_eq_c(v.reserved_cell, "a"));

    /* The pod appears: it replaces the oldest reservation (r1), the count stays. */
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p1", .owner = "A", .cell = "a"});
    assert_int_equal(count(pc, "A", "a", 111), 2);
    /* MODIFIED of a known pod releases nothing. */
    apply(pc, CG_PODCACHE_MODIFIED, (struct podspec){.name = "p1", .owner = "A", .cell = "a"});
    assert_int_equal(count(pc, "A", "a", 111), 2);
    cg_podcache_stats(pc, &st);
    assert_int_equal(st.released, 1);
    assert_int_equal(st.reservations, 3); /* r1 kept for its request uid */
    /* r1 is still answered after its release. */
    cg_podcache_view(pc, S("r1"), S("A"), 111, &v);
    assert_true(cg_str_eq_c(v.reserved_cell, "a"));
    /* r1 expires at 130 (nothing changes in the counts: it was no longer counted). */
    assert_int_equal(count(pc, "A", "a", 130), 2);
    cg_podcache_view(pc, S("r1"), S("A"), 130, &v);
    assert_int_equal(v.reserved_cell.n, 0);
    /* r2 and r3 expire at 140. */
    assert_int_equal(count(pc, "A", "a", 139), 2);
    assert_int_equal(count(pc, "A", "b", 139), 1);
    assert_int_equal(count(pc, "A", "a", 140), 1);
    assert_int_equal(count(pc, "A", "b", 140), 0);
    cg_podcache_stats(pc, &st);
    assert_int_equal(st.expired, 3);
    assert_int_equal(st.reservations, 0);

    /* A new uid under a known name is a new pod and releases. */
    assert_int_equal(cg_podcache_reserve(pc, S("r4"), S("A"), S("a"), 200, &err), CG_OK);
    apply(pc, CG_PODCACHE_MODIFIED,
          (struct podspec){.name = "p1", .uid = "p1-v2", .owner = "A", .cell = "a"});
    assert_int_equal(count(pc, "A", "a", 200), 1);
    /* A pod in another cell or of another owner releases nothing. */
    assert_int_equal(cg_podcache_reserve(pc, S("r5"), S("A"), S("b"), 200, &err), CG_OK);
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p2", .owner = "A", .cell = "c"});
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p3", .owner = "B", .cell = "b"});
    assert_int_equal(count(pc, "A", "b", 200), 1);
    cg_podcache_stats(pc, &st);
    assert_int_equal(st.released, 2);
    cg_podcache_destroy(pc);
}

/* An expired reservation is not the one a later pod releases: the live one is. */
static void test_release_skips_expired(void **state)
{
    struct cg_podcache_config cfg = {.reservation_ttl = 10};
    struct cg_podcache *pc = cg_podcache_create(&cfg);
    struct cg_err err;
    assert_int_equal(cg_podcache_reserve(pc, S("r1"), S("A"), S("a"), 100, &err), CG_OK);
    assert_int_equal(cg_podcache_reserve(pc, S("r2"), S("A"), S("a"), 108, &err), CG_OK);
    assert_int_equal(count(pc, "A", "a", 111), 1); /* r1 expired */
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p", .owner = "A", .cell = "a"});
    assert_int_equal(count(pc, "A", "a", 111), 1); /* the pod, not pod + r2 */
    /* Clocks of concurrent callers may step back a little: the FIFO stays sorted. */
    assert_int_equal(cg_podcache_reserve(pc, S("r3"), S("A"), S("b"), 120, &err), CG_OK);
    assert_int_equal(cg_podcache_reserve(pc, S("r4"), S("A"), S("b"), 119, &err), CG_OK);
    assert_int_equal(count(pc, "A", "b", 129), 2);
    assert_int_equal(count(pc, "A", "b", 130), 0);
    cg_podcache_destroy(pc);
}

static void test_reserve_errors(void **state)
{
    struct cg_podcache_config cfg = {.max_reservations = 2};
    struct cg_podcache *pc = cg_podcache_create(&cfg);
    struct cg_err err;
    char longer[200];
    memset(longer, 'x', sizeof(longer));
    struct cg_str too_long_uid = {longer, CG_PODCACHE_UID_MAX + 1};
    struct cg_str too_long_cell = {longer, CG_PODCACHE_CELL_MAX + 1};
    assert_int_equal(cg_podcache_reserve(pc, CG_STR_NULL, S("A"), S("a"), 1, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "request uid is empty"));
    assert_int_equal(cg_podcache_reserve(pc, S("r"), CG_STR_NULL, S("a"), 1, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "owner uid is empty"));
    assert_int_equal(cg_podcache_reserve(pc, S("r"), S("A"), CG_STR_NULL, 1, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "cell is empty"));
    assert_int_equal(cg_podcache_reserve(pc, too_long_uid, S("A"), S("a"), 1, &err), CG_EINVAL);
    assert_int_equal(cg_podcache_reserve(pc, S("r"), too_long_uid, S("a"), 1, &err), CG_EINVAL);
    assert_int_equal(cg_podcache_reserve(pc, S("r"), S("A"), too_long_cell, 1, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "longer than"));
    /* The limit, and room again once they expire. */
    assert_int_equal(cg_podcache_reserve(pc, S("r1"), S("A"), S("a"), 1, &err), CG_OK);
    assert_int_equal(cg_podcache_reserve(pc, S("r2"), S("A"), S("a"), 1, &err), CG_OK);
    assert_int_equal(cg_podcache_reserve(pc, S("r3"), S("A"), S("a"), 1, &err), CG_ETOOBIG);
    assert_int_equal(cg_podcache_reserve(pc, S("r3"), S("A"), S("a"), 31, &err), CG_OK);
    assert_int_equal(count(pc, "A", "a", 31), 1);
    cg_podcache_destroy(pc);
}

static void test_many_cells_and_reservations(void **state)
{
    struct cg_podcache_config cfg = {.standalone = true};
    struct cg_podcache *pc = cg_podcache_create(&cfg);
    struct cg_podcache_view v;
    struct cg_err err;
    char uid[32], cell[32];
    /* More cells than a view holds: reported as truncated. */
    for (int i = 0; i < CG_PODCACHE_MAX_CELLS + 3; i++) {
        snprintf(uid, sizeof(uid), "req-%d", i);
        snprintf(cell, sizeof(cell), "cell-%d", i);
        assert_int_equal(
            cg_podcache_reserve(pc, cg_str_from(uid), S("A"), cg_str_from(cell), 1, &err), CG_OK);
    }
    cg_podcache_view(pc, CG_STR_NULL, S("A"), 1, &v);
    assert_true(v.synced); /* standalone */
    assert_int_equal(v.n_cells, CG_PODCACHE_MAX_CELLS);
    assert_true(v.truncated);
    /* Enough reservations to grow the request-uid table several times. */
    for (int i = 0; i < 5000; i++) {
        snprintf(uid, sizeof(uid), "bulk-%d", i);
        assert_int_equal(
            cg_podcache_reserve(pc, cg_str_from(uid), S("B"), i % 2 ? S("x") : S("y"), 2, &err),
            CG_OK);
    }
    assert_int_equal(count(pc, "B", "x", 2), 2500);
    cg_podcache_view(pc, S("bulk-4999"), S("B"), 2, &v);
    assert_true(cg_str_eq_c(v.reserved_cell, "x"));
    cg_podcache_destroy(pc); /* with reservations held */
}

static void test_get_pod(void **state)
{
    struct cg_podcache *pc = cg_podcache_create(NULL);
    struct cg_podcache_pod p;
    size_t len;
    char *json = cg_test_read_fixture("pods/cellgate-serving.json", &len);
    cg_podcache_apply(pc, CG_PODCACHE_ADDED, json, len);
    free(json);
    assert_int_equal(cg_podcache_get_pod(pc, S("smoke-27373"), S("nope"), &p), CG_ENOTFOUND);
    assert_int_equal(cg_podcache_get_pod(pc, S("nope"), S("web-5686749575-w5nfn"), &p),
                     CG_ENOTFOUND);
    assert_int_equal(cg_podcache_get_pod(pc, S("smoke-27373"), S("web-5686749575-w5nfn"), &p),
                     CG_OK);
    /* The copy outlives the record. */
    cg_podcache_replace_begin(pc);
    cg_podcache_replace_end(pc);
    assert_int_equal(cg_podcache_get_pod(pc, S("smoke-27373"), S("web-5686749575-w5nfn"), &p),
                     CG_ENOTFOUND);
    assert_int_equal(cg_podcache_get_pod(pc, S("smoke-27373"), S("web-5686749575-w5nfn"), &p),
                     CG_ENOTFOUND);
    json = cg_test_read_fixture("pods/cellgate-serving.json", &len);
    cg_podcache_apply(pc, CG_PODCACHE_ADDED, json, len);
    assert_int_equal(cg_podcache_get_pod(pc, S("smoke-27373"), S("web-5686749575-w5nfn"), &p),
                     CG_OK);
    cg_podcache_replace_begin(pc);
    cg_podcache_replace_end(pc);
    free(json);
    const struct cg_pod_state *s = &p.state;
    assert_true(cg_str_eq_c(s->namespace_, "smoke-27373"));
    assert_true(cg_str_eq_c(s->name, "web-5686749575-w5nfn"));
    assert_true(cg_str_eq_c(s->uid, "a3ededf1-ff44-4e7e-a2ab-58b142b9f92d"));
    assert_true(cg_str_eq_c(s->owner_uid, "8308a09e-0d92-40ca-90a5-6656aa3abb59"));
    assert_true(cg_str_eq_c(s->cell, "cell-b"));
    assert_true(cg_str_eq_c(s->phase, "Running"));
    assert_true(s->traffic_ready);
    assert_true(s->draining);
    assert_false(s->drained);
    assert_false(s->terminating);
    assert_int_equal(s->drain_requested, 1795682500);
    /* The policy that placed it, and a change of it. */
    apply(pc, CG_PODCACHE_ADDED,
          (struct podspec){.name = "pol", .owner = "A", .cell = "a", .policy = "payments"});
    assert_int_equal(cg_podcache_get_pod(pc, S("ns"), S("pol"), &p), CG_OK);
    assert_true(cg_str_eq_c(p.state.policy, "payments"));
    assert_int_equal(p.state.drain_requested, -1); /* "" is not a time */
    apply(pc, CG_PODCACHE_MODIFIED,
          (struct podspec){.name = "pol", .owner = "A", .cell = "a", .policy = "web"});
    assert_int_equal(cg_podcache_get_pod(pc, S("ns"), S("pol"), &p), CG_OK);
    assert_true(cg_str_eq_c(p.state.policy, "web"));
    /* A pod without owner and phase copies out empty strings. */
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "bare", .cell = "a", .phase = ""});
    assert_int_equal(cg_podcache_get_pod(pc, S("ns"), S("bare"), &p), CG_OK);
    assert_int_equal(p.state.owner_uid.n, 0);
    assert_int_equal(p.state.phase.n, 0);
    assert_int_equal(p.state.policy.n, 0);
    assert_true(cg_str_eq_c(p.state.cell, "a"));
    cg_podcache_destroy(pc);
}

static void test_note_drain_requested(void **state)
{
    struct cg_podcache *pc = cg_podcache_create(NULL);
    assert_false(cg_podcache_note_drain_requested(pc, S("ns"), S("p1"))); /* unknown */
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p1", .owner = "A", .cell = "a"});
    assert_true(cg_podcache_note_drain_requested(pc, S("ns"), S("p1")));
    assert_false(cg_podcache_note_drain_requested(pc, S("ns"), S("p1")));
    /* Updates of the same pod keep the note. */
    apply(pc, CG_PODCACHE_MODIFIED,
          (struct podspec){.name = "p1", .owner = "A", .cell = "a", .phase = "Running"});
    assert_false(cg_podcache_note_drain_requested(pc, S("ns"), S("p1")));
    /* Gone and back: asked again. */
    apply(pc, CG_PODCACHE_DELETED, (struct podspec){.name = "p1", .owner = "A", .cell = "a"});
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p1", .owner = "A", .cell = "a"});
    assert_true(cg_podcache_note_drain_requested(pc, S("ns"), S("p1")));
    /* Replaced by a new uid: a new pod. */
    apply(pc, CG_PODCACHE_MODIFIED,
          (struct podspec){.name = "p1", .uid = "u2", .owner = "A", .cell = "a"});
    assert_true(cg_podcache_note_drain_requested(pc, S("ns"), S("p1")));
    /* Already annotated (valid or not): nothing to ask. */
    apply(pc, CG_PODCACHE_ADDED,
          (struct podspec){
              .name = "p2", .owner = "A", .cell = "a", .drain_requested = "2026-11-26T08:41:40Z"});
    assert_false(cg_podcache_note_drain_requested(pc, S("ns"), S("p2")));
    apply(pc, CG_PODCACHE_ADDED,
          (struct podspec){.name = "p3", .owner = "A", .cell = "a", .drain_requested = "soon"});
    assert_false(cg_podcache_note_drain_requested(pc, S("ns"), S("p3")));
    cg_podcache_destroy(pc);
}

/* ---- placement ---- */

#define N_CELLS 4
static const char *const cells[N_CELLS] = {"a", "b", "c", "d"};

/* The cell with the fewest pods (equal weights), first in order on ties. */
static enum cg_status decide_least(void *ud, const struct cg_podcache_view *view,
                                   struct cg_str *cell, struct cg_err *err)
{
    int *calls = ud;
    if (calls != NULL)
        (*calls)++;
    uint32_t best = UINT32_MAX;
    for (int c = 0; c < N_CELLS; c++) {
        uint32_t n = 0;
        for (size_t i = 0; i < view->n_cells; i++)
            if (cg_str_eq_c(view->cells[i].cell, cells[c]))
                n = view->cells[i].pods;
        if (n < best) {
            best = n;
            *cell = cg_str_from(cells[c]);
        }
    }
    return CG_OK;
}

static enum cg_status decide_fail(void *ud, const struct cg_podcache_view *view,
                                  struct cg_str *cell, struct cg_err *err)
{
    return cg_err_set(err, CG_EINVAL, "no cell fits");
}

static enum cg_status decide_none(void *ud, const struct cg_podcache_view *view,
                                  struct cg_str *cell, struct cg_err *err)
{
    return CG_OK;
}

static void test_place(void **state)
{
    struct cg_podcache *pc = cg_podcache_create(NULL);
    struct cg_podcache_view v;
    struct cg_err err;
    char cell[CG_PODCACHE_CELL_MAX + 1];
    int calls = 0;
    apply(pc, CG_PODCACHE_ADDED, (struct podspec){.name = "p1", .owner = "A", .cell = "a"});
    assert_int_equal(
        cg_podcache_place(pc, S("r1"), S("A"), 1, decide_least, &calls, &v, cell, &err), CG_OK);
    assert_string_equal(cell, "b");
    assert_int_equal(calls, 1);
    /* The same request again: the same cell, decide not asked, nothing reserved. */
    assert_int_equal(
        cg_podcache_place(pc, S("r1"), S("A"), 2, decide_least, &calls, &v, cell, &err), CG_OK);
    assert_string_equal(cell, "b");
    assert_int_equal(calls, 1);
    assert_int_equal(count(pc, "A", "b", 2), 1);
    /* decide's failure is returned; an empty choice reserves nothing. */
    assert_int_equal(cg_podcache_place(pc, S("r2"), S("A"), 2, decide_fail, NULL, &v, cell, &err),
                     CG_EINVAL);
    assert_string_equal(err.msg, "no cell fits");
    assert_string_equal(cell, "");
    assert_int_equal(cg_podcache_place(pc, S("r2"), S("A"), 2, decide_none, NULL, &v, cell, &err),
                     CG_OK);
    assert_string_equal(cell, "");
    /* A reserve failure (no request uid) is returned. */
    assert_int_equal(
        cg_podcache_place(pc, CG_STR_NULL, S("A"), 2, decide_least, NULL, &v, cell, &err),
        CG_EINVAL);
    assert_string_equal(cell, "");
    /* By hand. */
    cg_podcache_lock(pc);
    cg_podcache_view_locked(pc, S("r3"), S("A"), 3, &v);
    assert_int_equal(v.n_cells, 2);
    assert_int_equal(cg_podcache_reserve_locked(pc, S("r3"), S("A"), S("c"), 3, &err), CG_OK);
    cg_podcache_unlock(pc);
    assert_int_equal(count(pc, "A", "c", 3), 1);
    cg_podcache_destroy(pc);
}

#define THREADS 16
#define PER_THREAD 250

struct placer {
    struct cg_podcache *pc;
    int id;
    int failures;
};

static void *place_many(void *arg)
{
    struct placer *p = arg;
    struct cg_podcache_view *v = malloc(sizeof(*v));
    char uid[32], cell[CG_PODCACHE_CELL_MAX + 1];
    struct cg_err err;
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(uid, sizeof(uid), "t%d-%d", p->id, i);
        if (cg_podcache_place(p->pc, cg_str_from(uid), S("owner"), 1000, decide_least, NULL, v,
                              cell, &err) != CG_OK)
            p->failures++;
    }
    free(v);
    return NULL;
}

/* Meanwhile the informer delivers pods of the same owner (which release reservations: the
 * sums must hold across that too). */
static void *feed_pods(void *arg)
{
    struct placer *p = arg;
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof(name), "other-%d", i);
        apply(p->pc, CG_PODCACHE_ADDED,
              (struct podspec){.name = name, .owner = "other", .cell = cells[i % N_CELLS]});
    }
    return NULL;
}

static void test_place_concurrent_balanced(void **state)
{
    struct cg_podcache_config cfg = {.reservation_ttl = 3600, .max_reservations = 1000000};
    struct cg_podcache *pc = cg_podcache_create(&cfg);
    pthread_t t[THREADS + 1];
    struct placer p[THREADS + 1];
    for (int i = 0; i <= THREADS; i++) {
        p[i] = (struct placer){.pc = pc, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, i < THREADS ? place_many : feed_pods, &p[i]),
                         0);
    }
    for (int i = 0; i <= THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(p[i].failures, 0);
    }
    /* 16 x 250 = 4000 over 4 cells: exactly 1000 each. */
    for (int c = 0; c < N_CELLS; c++)
        assert_int_equal(count(pc, "owner", cells[c], 1000), THREADS * PER_THREAD / N_CELLS);
    for (int c = 0; c < N_CELLS; c++)
        assert_int_equal(count(pc, "other", cells[c], 1000), 50);
    cg_podcache_destroy(pc);
}

/* Standalone: no informer; placement balances on reservations alone, and they run out. */
static void test_standalone(void **state)
{
    struct cg_podcache_config cfg = {.standalone = true};
    struct cg_podcache *pc = cg_podcache_create(&cfg);
    struct cg_podcache_view v;
    struct cg_err err;
    char cell[CG_PODCACHE_CELL_MAX + 1], uid[16];
    assert_true(cg_podcache_is_synced(pc));
    for (int i = 0; i < 8; i++) {
        snprintf(uid, sizeof(uid), "r%d", i);
        assert_int_equal(
            cg_podcache_place(pc, cg_str_from(uid), S("A"), 10, decide_least, NULL, &v, cell, &err),
            CG_OK);
        assert_string_equal(cell, cells[i % N_CELLS]);
    }
    assert_int_equal(count(pc, "A", "d", 39), 2);
    assert_int_equal(n_cells(pc, "A", 40), 0);
    cg_podcache_destroy(pc);
}

static void test_bytes_accounted(void **state)
{
    struct cg_podcache *pc = cg_podcache_create(NULL);
    struct cg_podcache_stats st0, st;
    cg_podcache_stats(pc, &st0);
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "pod-%d", i);
        apply(pc, CG_PODCACHE_ADDED,
              (struct podspec){.name = name, .owner = i % 2 ? "A" : "B", .cell = "a"});
    }
    cg_podcache_stats(pc, &st);
    assert_int_equal(st.pods, 1000);
    assert_true(st.bytes > st0.bytes);
    /* Records, interned strings and buckets only: well under 200 bytes a pod here. */
    assert_true((st.bytes - st0.bytes) / 1000 < 200);
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "pod-%d", i);
        apply(pc, CG_PODCACHE_DELETED, (struct podspec){.name = name, .cell = "a"});
    }
    cg_podcache_stats(pc, &st);
    assert_int_equal(st.pods, 0);
    assert_int_equal(st.owners, 0);
    cg_podcache_destroy(pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_destroy),  cmocka_unit_test(test_counts_incremental),
        cmocka_unit_test(test_ignored),         cmocka_unit_test(test_relist),
        cmocka_unit_test(test_reserve_release), cmocka_unit_test(test_release_skips_expired),
        cmocka_unit_test(test_reserve_errors),  cmocka_unit_test(test_many_cells_and_reservations),
        cmocka_unit_test(test_get_pod),         cmocka_unit_test(test_note_drain_requested),
        cmocka_unit_test(test_place),           cmocka_unit_test(test_place_concurrent_balanced),
        cmocka_unit_test(test_standalone),      cmocka_unit_test(test_bytes_accounted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
