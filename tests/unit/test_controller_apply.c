/* Applying release actions: the request bodies (read as JSON), then against the real API
 * server of the lab (or CELLGATE_E2E_KUBECONFIG; skipped with 77 without one): pod marks,
 * the traffic condition through pods/status, a finalizer removed by test-then-remove, an
 * Event, the Deployment's merge patch and a rollback's JSON patch; and the failures: a pod
 * re-created under the same name (uid precondition), a finalizer list changed meanwhile, a
 * missing pod, each stopping the list at that action. Everything in a namespace of its own,
 * deleted at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/names.h"
#include "controller/apply.h"
#include "controller/snapshot.h"
#include "test_support.h"

/* ---- bodies ---- */

static const struct cg_str one_pod_finalizers[] = {CG_STR_LIT("example.com/x"),
                                                   CG_STR_LIT("cellgate.io/drain-service")};
static const struct cg_release_pod one_pod = {
    .state = {.name = CG_STR_LIT("p1"), .uid = CG_STR_LIT("U1")},
    .finalizers = one_pod_finalizers,
    .n_finalizers = 2,
};

static const struct cg_release_snapshot body_snap = {
    .namespace_ = CG_STR_LIT("ns"),
    .name = CG_STR_LIT("web"),
    .uid = CG_STR_LIT("D1"),
    .has_emergency = true,
    .pods = &one_pod,
    .n_pods = 1,
};

static const struct cg_ctl_deploy_base rv42 = {CG_STR_LIT("42"), CG_STR_NULL, CG_STR_NULL};
static const struct cg_ctl_deploy_base rv1 = {CG_STR_LIT("1"), CG_STR_NULL, CG_STR_NULL};

static json_t *body_of(struct cg_release_actions *a, struct cg_release_action *x,
                       enum cg_kube_method want_method)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    struct cg_err err;
    cg_err_clear(&err);
    enum cg_kube_method m;
    assert_int_equal(cg_ctl_apply_body(&body_snap, NULL, a, x, 1796480400, &m, &b, &err), CG_OK);
    assert_int_equal(m, want_method);
    json_t *v = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(v);
    cg_buf_dispose(&b);
    return v;
}

static void expect_json(json_t *got, const char *want)
{
    json_t *w = json_loads(want, 0, NULL);
    assert_non_null(w);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("got %s\nwant %s", g, want);
    }
    json_decref(w);
    json_decref(got);
}

static void bodies(void **state)
{
    struct cg_release_actions a;
    cg_release_actions_init(&a);
    cg_buf_append_str(&a.record, "{\"revision\":\"00000000000000aa\"}");
    struct cg_release_action x = {.kind = CG_ACT_PATCH_DEPLOYMENT};
    x.deploy = (struct cg_release_deploy_patch){.set_max_surge = true,
                                                .max_surge = 4,
                                                .set_max_unavailable_zero = true,
                                                .set_paused = true,
                                                .paused = false,
                                                .set_record = true,
                                                .remove_emergency = true};
    expect_json(body_of(&a, &x, CG_KUBE_PATCH_MERGE),
                "{\"metadata\":{\"uid\":\"D1\",\"annotations\":{\"cellgate.io/release\":"
                "\"{\\\"revision\\\":\\\"00000000000000aa\\\"}\",\"cellgate.io/emergency\":null}},"
                "\"spec\":{\"paused\":false,\"strategy\":{\"rollingUpdate\":{\"maxSurge\":4,"
                "\"maxUnavailable\":0}}}}");
    /* with the resourceVersion the snapshot saw */
    {
        struct cg_buf b;
        cg_buf_init(&b, 0);
        struct cg_err err;
        cg_err_clear(&err);
        enum cg_kube_method m;
        assert_int_equal(cg_ctl_apply_body(&body_snap, &rv42, &a, &x, 0, &m, &b, &err), CG_OK);
        assert_non_null(strstr(b.data, "\"resourceVersion\":\"42\""));
        cg_buf_reset(&b);
        struct cg_release_action r = x;
        r.deploy = (struct cg_release_deploy_patch){.template_json = CG_STR_LIT("{}")};
        assert_int_equal(cg_ctl_apply_body(&body_snap, &rv42, &a, &r, 0, &m, &b, &err), CG_OK);
        assert_non_null(strstr(b.data, "{\"op\":\"test\",\"path\":\"/metadata/"
                                       "resourceVersion\",\"value\":\"42\"}"));
        cg_buf_dispose(&b);
    }
    /* only the uid when nothing else is asked */
    x.deploy = (struct cg_release_deploy_patch){0};
    expect_json(body_of(&a, &x, CG_KUBE_PATCH_MERGE), "{\"metadata\":{\"uid\":\"D1\"}}");
    /* a rollback: the template replaced whole */
    x.deploy = (struct cg_release_deploy_patch){.set_max_surge = true,
                                                .max_surge = 10,
                                                .set_record = true,
                                                .remove_emergency = true,
                                                .template_json = CG_STR_LIT("{\"spec\":{}}")};
    expect_json(
        body_of(&a, &x, CG_KUBE_PATCH_JSON),
        "[{\"op\":\"test\",\"path\":\"/metadata/uid\",\"value\":\"D1\"},"
        "{\"op\":\"replace\",\"path\":\"/spec/template\",\"value\":{\"spec\":{}}},"
        "{\"op\":\"add\",\"path\":\"/metadata/annotations/cellgate.io~1release\","
        "\"value\":\"{\\\"revision\\\":\\\"00000000000000aa\\\"}\"},"
        "{\"op\":\"remove\",\"path\":\"/metadata/annotations/cellgate.io~1emergency\"},"
        "{\"op\":\"add\",\"path\":\"/spec/strategy/rollingUpdate/maxSurge\",\"value\":10}]");

    struct cg_release_action p = {
        .kind = CG_ACT_PATCH_POD, .pod = CG_STR_LIT("p1"), .pod_uid = CG_STR_LIT("U1")};
    p.pod_patch = (struct cg_release_pod_patch){.set_deletion_cost = true, .set_draining = true};
    snprintf(p.pod_patch.value, sizeof(p.pod_patch.value), "2026-12-05T14:20:00Z");
    expect_json(body_of(&a, &p, CG_KUBE_PATCH_MERGE),
                "{\"metadata\":{\"uid\":\"U1\",\"annotations\":{"
                "\"controller.kubernetes.io/pod-deletion-cost\":\"-2147483648\","
                "\"cellgate.io/draining\":\"2026-12-05T14:20:00Z\"}}}");

    struct cg_release_action t = {.kind = CG_ACT_SET_TRAFFIC,
                                  .pod = CG_STR_LIT("p1"),
                                  .pod_uid = CG_STR_LIT("U1"),
                                  .traffic = true};
    expect_json(body_of(&a, &t, CG_KUBE_PATCH_STRATEGIC),
                "{\"metadata\":{\"uid\":\"U1\"},\"status\":{\"conditions\":[{\"type\":"
                "\"cellgate.io/traffic-ready\",\"status\":\"True\",\"lastTransitionTime\":"
                "\"2026-12-05T14:20:00Z\",\"reason\":\"TrafficAllowed\"}]}}");

    struct cg_release_action f = {
        .kind = CG_ACT_REMOVE_FINALIZER, .pod = CG_STR_LIT("p1"), .pod_uid = CG_STR_LIT("U1")};
    snprintf(f.finalizer, sizeof(f.finalizer), "cellgate.io/drain-service");
    expect_json(body_of(&a, &f, CG_KUBE_PATCH_JSON),
                "[{\"op\":\"test\",\"path\":\"/metadata/uid\",\"value\":\"U1\"},"
                "{\"op\":\"test\",\"path\":\"/metadata/finalizers/1\",\"value\":"
                "\"cellgate.io/drain-service\"},{\"op\":\"remove\",\"path\":"
                "\"/metadata/finalizers/1\"}]");

    /* refusals */
    struct cg_buf b;
    cg_buf_init(&b, 0);
    struct cg_err err;
    cg_err_clear(&err);
    enum cg_kube_method m;
    snprintf(f.finalizer, sizeof(f.finalizer), "cellgate.io/drain-lb");
    assert_int_equal(cg_ctl_apply_body(&body_snap, NULL, &a, &f, 0, &m, &b, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "drain-lb"));
    f.pod = CG_STR_LIT("p2");
    assert_int_equal(cg_ctl_apply_body(&body_snap, NULL, &a, &f, 0, &m, &b, &err), CG_ENOTFOUND);
    struct cg_release_action e = {.kind = CG_ACT_EVENT};
    assert_int_equal(cg_ctl_apply_body(&body_snap, NULL, &a, &e, 0, &m, &b, &err), CG_EINVAL);
    x.deploy.template_json = CG_STR_LIT("[1]");
    assert_int_equal(cg_ctl_apply_body(&body_snap, NULL, &a, &x, 0, &m, &b, &err), CG_EINVAL);
    x.deploy.template_json = CG_STR_LIT("{");
    assert_int_equal(cg_ctl_apply_body(&body_snap, NULL, &a, &x, 0, &m, &b, &err), CG_EINVAL);
    assert_int_equal(b.len, 0);
    cg_buf_dispose(&b);
    cg_release_actions_dispose(&a);
}

/* ---- against the lab ---- */

static struct cg_kube_config *cfg;
static struct cg_kube_client *client;
static char ns[64];

static enum cg_status req(enum cg_kube_method m, const char *path, const char *body,
                          struct cg_kube_response *resp)
{
    struct cg_err err;
    cg_err_clear(&err);
    return cg_kube_request(client, m, path, body, body ? strlen(body) : 0, resp, &err);
}

static int setup(void **state)
{
    const char *kc = cg_test_cluster_kubeconfig();
    struct cg_err err;
    cg_err_clear(&err);
    if (kc == NULL || cg_kube_config_load(kc, NULL, 0, &cfg, &err) != CG_OK ||
        cg_kube_client_create(cfg, NULL, &client, &err) != CG_OK)
        return 0;
    snprintf(ns, sizeof(ns), "g-apply-%d", (int)getpid());
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    char body[256];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}", ns);
    if (req(CG_KUBE_POST, "/api/v1/namespaces", body, &resp) != CG_OK) {
        cg_kube_client_destroy(client);
        client = NULL;
    }
    cg_kube_response_dispose(&resp);
    return 0;
}

static int teardown(void **state)
{
    if (client != NULL) {
        struct cg_kube_response resp;
        cg_kube_response_init(&resp);
        char path[128];
        /* pods keep their finalizers: drop them so the namespace can go */
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/p%d", ns, i);
            req(CG_KUBE_PATCH_MERGE, path, "{\"metadata\":{\"finalizers\":null}}", &resp);
        }
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
        req(CG_KUBE_DELETE, path, NULL, &resp);
        cg_kube_response_dispose(&resp);
    }
    cg_kube_client_destroy(client);
    cg_kube_config_destroy(cfg);
    return 0;
}

#define NEED_CLUSTER()                                                                             \
    do {                                                                                           \
        if (client == NULL)                                                                        \
            CG_TEST_SKIP(CG_TEST_KUBE_SKIP_MSG);                                                   \
    } while (0)

static json_t *get(const char *path)
{
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    assert_int_equal(req(CG_KUBE_GET, path, NULL, &resp), CG_OK);
    json_t *v = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    assert_non_null(v);
    cg_kube_response_dispose(&resp);
    return v;
}

/* Creates pod p<i> (a readiness gate, two finalizers, on no node) and returns its uid. */
/* The body of x conditioned on base, as JSON. */
static json_t *body_on(const struct cg_ctl_deploy_base *base, struct cg_release_actions *a,
                       struct cg_release_action *x)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    struct cg_err err;
    cg_err_clear(&err);
    enum cg_kube_method m;
    assert_int_equal(cg_ctl_apply_body(&body_snap, base, a, x, 0, &m, &b, &err), CG_OK);
    assert_int_equal(m, CG_KUBE_PATCH_JSON);
    json_t *v = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(v);
    cg_buf_dispose(&b);
    return v;
}

/* Conditioned on the annotations and spec the snapshot saw: a JSON patch that tests both (no
 * resourceVersion: the Deployment controller's status writes must not conflict), removes the
 * emergency only when those annotations hold it, and adds maxSurge where the spec has room
 * for it. Text that does not decode is refused. */
static void conditioned_bodies(void **state)
{
    struct cg_release_actions a;
    cg_release_actions_init(&a);
    cg_buf_append_str(&a.record, "{\"group\":1}");
    struct cg_release_action x = {.kind = CG_ACT_PATCH_DEPLOYMENT};
    x.deploy = (struct cg_release_deploy_patch){.set_max_surge = true,
                                                .max_surge = 2,
                                                .set_paused = true,
                                                .paused = false,
                                                .set_record = true,
                                                .remove_emergency = true};
    struct cg_ctl_deploy_base base = {
        CG_STR_LIT("7"), CG_STR_LIT("{\"cellgate.io/release\":\"{\\\"group\\\":0}\"}"),
        CG_STR_LIT("{\"replicas\":4,\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
                   "{\"maxSurge\":1,\"maxUnavailable\":0}}}")};
    expect_json(
        body_on(&base, &a, &x),
        "[{\"op\":\"test\",\"path\":\"/metadata/uid\",\"value\":\"D1\"},"
        "{\"op\":\"test\",\"path\":\"/metadata/annotations\",\"value\":{\"cellgate.io/release\":"
        "\"{\\\"group\\\":0}\"}},"
        "{\"op\":\"test\",\"path\":\"/spec\",\"value\":{\"replicas\":4,\"strategy\":{\"type\":"
        "\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1,\"maxUnavailable\":0}}}},"
        "{\"op\":\"add\",\"path\":\"/metadata/annotations/cellgate.io~1release\","
        "\"value\":\"{\\\"group\\\":1}\"},"
        "{\"op\":\"add\",\"path\":\"/spec/paused\",\"value\":false},"
        "{\"op\":\"add\",\"path\":\"/spec/strategy/rollingUpdate/maxSurge\",\"value\":2}]");
    /* the emergency removed when the annotations hold one; rollingUpdate made when absent */
    base.annotations = CG_STR_LIT("{\"cellgate.io/emergency\":\"resume\"}");
    base.spec = CG_STR_LIT("{\"strategy\":{\"type\":\"RollingUpdate\"}}");
    x.deploy = (struct cg_release_deploy_patch){.set_max_surge = true,
                                                .max_surge = 3,
                                                .set_max_unavailable_zero = true,
                                                .remove_emergency = true};
    expect_json(body_on(&base, &a, &x),
                "[{\"op\":\"test\",\"path\":\"/metadata/uid\",\"value\":\"D1\"},"
                "{\"op\":\"test\",\"path\":\"/metadata/annotations\",\"value\":"
                "{\"cellgate.io/emergency\":\"resume\"}},"
                "{\"op\":\"test\",\"path\":\"/spec\",\"value\":{\"strategy\":{\"type\":"
                "\"RollingUpdate\"}}},"
                "{\"op\":\"remove\",\"path\":\"/metadata/annotations/cellgate.io~1emergency\"},"
                "{\"op\":\"add\",\"path\":\"/spec/strategy/rollingUpdate\",\"value\":"
                "{\"maxSurge\":3,\"maxUnavailable\":0}}]");
    /* no strategy at all: the whole of it */
    base.spec = CG_STR_LIT("{}");
    json_t *v = body_on(&base, &a, &x);
    json_t *last = json_array_get(v, json_array_size(v) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "path")), "/spec/strategy");
    assert_string_equal(json_string_value(json_object_get(json_object_get(last, "value"), "type")),
                        "RollingUpdate");
    json_decref(v);
    /* a base that does not decode */
    base.spec = CG_STR_LIT("{");
    struct cg_buf b;
    cg_buf_init(&b, 0);
    struct cg_err err;
    cg_err_clear(&err);
    enum cg_kube_method m;
    assert_int_equal(cg_ctl_apply_body(&body_snap, &base, &a, &x, 0, &m, &b, &err), CG_EINVAL);
    cg_buf_dispose(&b);
    cg_release_actions_dispose(&a);
}

static void create_pod(int i, char *uid, size_t cap)
{
    char path[128], body[1024];
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p%d\","
             "\"finalizers\":[\"example.com/keep\",\"cellgate.io/drain-service\"]},"
             "\"spec\":{\"nodeName\":\"nowhere\",\"readinessGates\":[{\"conditionType\":"
             "\"cellgate.io/traffic-ready\"}],\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
             i);
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    assert_int_equal(req(CG_KUBE_POST, path, body, &resp), CG_OK);
    json_t *v = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    snprintf(uid, cap, "%s",
             json_string_value(json_object_get(json_object_get(v, "metadata"), "uid")));
    json_decref(v);
    cg_kube_response_dispose(&resp);
}

static const char deployment[] =
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
    "\"annotations\":{\"cellgate.io/emergency\":\"rollback\"}},\"spec\":{\"replicas\":0,"
    "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":"
    "{\"app\":\"web\",\"added\":\"later\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
    "\"image\":\"web:2\"}]}}}}";

static void lab_apply(void **state)
{
    NEED_CLUSTER();
    char uid0[64], uid1[64], path[256];
    create_pod(0, uid0, sizeof(uid0));
    create_pod(1, uid1, sizeof(uid1));
    snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/deployments", ns);
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    assert_int_equal(req(CG_KUBE_POST, path, deployment, &resp), CG_OK);
    json_t *dj = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    char duid[64];
    snprintf(duid, sizeof(duid), "%s",
             json_string_value(json_object_get(json_object_get(dj, "metadata"), "uid")));
    json_decref(dj);
    cg_kube_response_dispose(&resp);

    struct cg_release_pod pods[2] = {
        {.state = {.name = CG_STR_LIT("p0"), .uid = cg_str_from(uid0)},
         .finalizers = (const struct cg_str[]){CG_STR_LIT("example.com/keep"),
                                               CG_STR_LIT("cellgate.io/drain-service")},
         .n_finalizers = 2},
        {.state = {.name = CG_STR_LIT("p1"), .uid = cg_str_from(uid1)},
         .finalizers = (const struct cg_str[]){CG_STR_LIT("example.com/keep"),
                                               CG_STR_LIT("cellgate.io/drain-service")},
         .n_finalizers = 2},
    };
    struct cg_release_snapshot snap = {.namespace_ = cg_str_from(ns),
                                       .name = CG_STR_LIT("web"),
                                       .uid = cg_str_from(duid),
                                       .has_emergency = true,
                                       .pods = pods,
                                       .n_pods = 2};
    struct cg_release_actions a;
    cg_release_actions_init(&a);
    cg_buf_append_str(&a.record, "{\"revision\":\"00000000000000aa\"}");
    struct cg_release_action items[6] = {
        {.kind = CG_ACT_PATCH_POD,
         .pod = CG_STR_LIT("p0"),
         .pod_uid = cg_str_from(uid0),
         .pod_patch = {.set_deletion_cost = true,
                       .set_draining = true,
                       .value = "2026-12-05T14:20:00Z"}},
        {.kind = CG_ACT_SET_TRAFFIC,
         .pod = CG_STR_LIT("p1"),
         .pod_uid = cg_str_from(uid1),
         .traffic = true},
        {.kind = CG_ACT_REMOVE_FINALIZER,
         .pod = CG_STR_LIT("p0"),
         .pod_uid = cg_str_from(uid0),
         .finalizer = "cellgate.io/drain-service"},
        {.kind = CG_ACT_PATCH_DEPLOYMENT,
         .deploy = {.set_max_surge = true,
                    .max_surge = 3,
                    .set_max_unavailable_zero = true,
                    .set_paused = true,
                    .paused = true,
                    .set_record = true,
                    .remove_emergency = true}},
        {.kind = CG_ACT_EVENT, .reason = "GroupStarted", .message = "group 1 of 3 begins"},
        {.kind = CG_ACT_RUN_CHECK},
    };
    a.items = items;
    a.n = 6;
    struct cg_ctl_apply_result res;
    struct cg_err err;
    cg_err_clear(&err);
    int64_t now = 1796480400;
    assert_int_equal(cg_ctl_apply(client, &snap, NULL, &a, now, NULL, NULL, &res, &err), CG_OK);
    assert_int_equal(res.applied, 6);
    assert_int_equal(res.failed, 6);

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/p0", ns);
    json_t *p0 = get(path);
    json_t *anns = json_object_get(json_object_get(p0, "metadata"), "annotations");
    assert_string_equal(json_string_value(json_object_get(anns, CG_ANN_POD_DELETION_COST)),
                        "-2147483648");
    assert_string_equal(json_string_value(json_object_get(anns, CG_ANN_DRAINING)),
                        "2026-12-05T14:20:00Z");
    json_t *fins = json_object_get(json_object_get(p0, "metadata"), "finalizers");
    assert_int_equal(json_array_size(fins), 1);
    assert_string_equal(json_string_value(json_array_get(fins, 0)), "example.com/keep");
    json_decref(p0);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/p1", ns);
    json_t *p1 = get(path), *c;
    size_t i;
    bool seen = false;
    json_array_foreach(json_object_get(json_object_get(p1, "status"), "conditions"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "type")), CG_COND_TRAFFIC_READY) == 0) {
            assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
            seen = true;
        }
    }
    assert_true(seen);
    json_decref(p1);
    snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/deployments/web", ns);
    json_t *d = get(path);
    json_t *dm = json_object_get(d, "metadata"), *ds = json_object_get(d, "spec");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(dm, "annotations"), CG_ANN_RELEASE)),
        "{\"revision\":\"00000000000000aa\"}");
    assert_null(json_object_get(json_object_get(dm, "annotations"), CG_ANN_EMERGENCY));
    assert_true(json_is_true(json_object_get(ds, "paused")));
    json_t *ru = json_object_get(json_object_get(ds, "strategy"), "rollingUpdate");
    assert_int_equal(json_integer_value(json_object_get(ru, "maxSurge")), 3);
    assert_int_equal(json_integer_value(json_object_get(ru, "maxUnavailable")), 0);
    json_decref(d);

    /* A rollback replaces the template whole: the label the newer template added goes. */
    struct cg_release_action rb = {
        .kind = CG_ACT_PATCH_DEPLOYMENT,
        .deploy = {.template_json = CG_STR_LIT(
                       "{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
                       "[{\"name\":\"c\",\"image\":\"web:1\"}]}}"),
                   .set_record = true,
                   .set_paused = true,
                   .paused = false,
                   .set_max_surge = true,
                   .max_surge = 2}};
    snap.has_emergency = false;
    a.items = &rb;
    a.n = 1;
    assert_int_equal(cg_ctl_apply(client, &snap, NULL, &a, now, NULL, NULL, &res, &err), CG_OK);
    d = get(path);
    json_t *labels = json_object_get(
        json_object_get(json_object_get(json_object_get(d, "spec"), "template"), "metadata"),
        "labels");
    assert_null(json_object_get(labels, "added"));
    assert_false(json_is_true(json_object_get(json_object_get(d, "spec"), "paused")));
    json_decref(d);

    /* Failures stop the list where they happen. A pod re-created under its name: */
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/p1", ns);
    cg_kube_response_init(&resp);
    assert_int_equal(req(CG_KUBE_PATCH_MERGE, path, "{\"metadata\":{\"finalizers\":null}}", &resp),
                     CG_OK);
    char now_path[300];
    snprintf(now_path, sizeof(now_path), "%s?gracePeriodSeconds=0", path);
    assert_int_equal(req(CG_KUBE_DELETE, now_path, NULL, &resp), CG_OK);
    cg_kube_response_dispose(&resp);
    char uid1b[64];
    for (int tries = 0; tries < 50; tries++) {
        cg_kube_response_init(&resp);
        enum cg_status gs = req(CG_KUBE_GET, path, NULL, &resp);
        cg_kube_response_dispose(&resp);
        if (gs == CG_ENOTFOUND)
            break;
        usleep(100 * 1000);
    }
    create_pod(1, uid1b, sizeof(uid1b));
    assert_string_not_equal(uid1, uid1b);
    struct cg_release_action fail_items[3] = {
        {.kind = CG_ACT_EVENT, .reason = "Test", .message = "before"},
        {.kind = CG_ACT_PATCH_POD,
         .pod = CG_STR_LIT("p1"),
         .pod_uid = cg_str_from(uid1),
         .pod_patch = {.set_drained = true, .value = "2026-12-05T14:20:00Z"}},
        {.kind = CG_ACT_EVENT, .reason = "Test", .message = "never"},
    };
    a.items = fail_items;
    a.n = 3;
    assert_int_not_equal(cg_ctl_apply(client, &snap, NULL, &a, now, NULL, NULL, &res, &err), CG_OK);
    assert_int_equal(res.applied, 1);
    assert_int_equal(res.failed, 1);
    assert_true(res.code == 409 || res.code == 422);
    json_t *p1b = get(path);
    assert_null(json_object_get(json_object_get(json_object_get(p1b, "metadata"), "annotations"),
                                CG_ANN_DRAINED));
    json_decref(p1b);

    /* The same uid for the traffic condition of the re-created pod fails too. */
    struct cg_release_action tr = {.kind = CG_ACT_SET_TRAFFIC,
                                   .pod = CG_STR_LIT("p1"),
                                   .pod_uid = cg_str_from(uid1),
                                   .traffic = true};
    a.items = &tr;
    a.n = 1;
    assert_int_not_equal(cg_ctl_apply(client, &snap, NULL, &a, now, NULL, NULL, &res, &err), CG_OK);
    assert_int_equal(res.failed, 0);

    /* A finalizer list changed since the snapshot: the test op refuses, nothing removed. */
    pods[1].state.uid = cg_str_from(uid1b);
    pods[1].finalizers = (const struct cg_str[]){CG_STR_LIT("cellgate.io/drain-service")};
    pods[1].n_finalizers = 1; /* the snapshot thinks it is at index 0; it is at 1 */
    struct cg_release_action fin = {.kind = CG_ACT_REMOVE_FINALIZER,
                                    .pod = CG_STR_LIT("p1"),
                                    .pod_uid = cg_str_from(uid1b),
                                    .finalizer = "cellgate.io/drain-service"};
    a.items = &fin;
    a.n = 1;
    assert_int_not_equal(cg_ctl_apply(client, &snap, NULL, &a, now, NULL, NULL, &res, &err), CG_OK);
    assert_int_equal(res.code, 422);
    p1b = get(path);
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(p1b, "metadata"), "finalizers")), 2);
    json_decref(p1b);

    /* A pod that is gone: 404. */
    struct cg_release_action gone = {.kind = CG_ACT_PATCH_POD,
                                     .pod = CG_STR_LIT("p9"),
                                     .pod_uid = CG_STR_LIT("x"),
                                     .pod_patch = {.set_drained = true, .value = "x"}};
    a.items = &gone;
    assert_int_equal(cg_ctl_apply(client, &snap, NULL, &a, now, NULL, NULL, &res, &err),
                     CG_ENOTFOUND);
    assert_int_equal(res.reason, CG_KUBE_NOT_FOUND);
    /* A Deployment patch decided on a stale object: 409, nothing written. */
    struct cg_release_action stale = {.kind = CG_ACT_PATCH_DEPLOYMENT,
                                      .deploy = {.set_paused = true, .paused = true}};
    a.items = &stale;
    assert_int_not_equal(cg_ctl_apply(client, &snap, &rv1, &a, now, NULL, NULL, &res, &err), CG_OK);
    assert_int_equal(res.code, 409);
    assert_int_equal(res.reason, CG_KUBE_CONFLICT);
    snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/deployments/web", ns);
    d = get(path);
    assert_false(json_is_true(json_object_get(json_object_get(d, "spec"), "paused")));
    /* Conditioned on the annotations and spec as they are: applied, whatever the
     * resourceVersion; on annotations that are not the object's any more: 422, nothing
     * written. */
    char spec_text[8192], anns_text[4096];
    json_t *now_anns = json_object_get(json_object_get(d, "metadata"), "annotations");
    assert_non_null(now_anns);
    size_t spec_n =
        json_dumpb(json_object_get(d, "spec"), spec_text, sizeof(spec_text), JSON_COMPACT);
    size_t anns_n = json_dumpb(now_anns, anns_text, sizeof(anns_text), JSON_COMPACT);
    assert_true(spec_n > 0 && spec_n < sizeof(spec_text) && anns_n > 0 &&
                anns_n < sizeof(anns_text));
    struct cg_ctl_deploy_base base_now = {
        CG_STR_LIT("1"), {anns_text, anns_n}, {spec_text, spec_n}};
    assert_int_equal(cg_ctl_apply(client, &snap, &base_now, &a, now, NULL, NULL, &res, &err),
                     CG_OK);
    json_decref(d);
    d = get(path);
    assert_true(json_is_true(json_object_get(json_object_get(d, "spec"), "paused")));
    json_decref(d);
    stale.deploy.paused = false;
    base_now.annotations = CG_STR_LIT("{\"someone\":\"else\"}");
    assert_int_not_equal(cg_ctl_apply(client, &snap, &base_now, &a, now, NULL, NULL, &res, &err),
                         CG_OK);
    assert_int_equal(res.code, 422);
    d = get(path);
    assert_true(json_is_true(json_object_get(json_object_get(d, "spec"), "paused")));
    json_decref(d);
    /* A Deployment uid that is not the object's. */
    struct cg_release_action dwrong = {.kind = CG_ACT_PATCH_DEPLOYMENT,
                                       .deploy = {.set_paused = true, .paused = true}};
    snap.uid = CG_STR_LIT("00000000-0000-0000-0000-000000000000");
    a.items = &dwrong;
    assert_int_not_equal(cg_ctl_apply(client, &snap, NULL, &a, now, NULL, NULL, &res, &err), CG_OK);
    a.items = NULL;
    a.n = 0;
    cg_release_actions_dispose(&a);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bodies),
        cmocka_unit_test(conditioned_bodies),
        cmocka_unit_test(lab_apply),
    };
    return cg_test_run("controller_apply", tests, 3, setup, teardown);
}
