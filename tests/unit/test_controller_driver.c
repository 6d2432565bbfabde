/* One reconcile of the driver over watch caches fed with the objects captured from the lab
 * (tests/fixtures/controller/), and an API server that cannot be reached: a Deployment that is
 * gone or not covered asks for nothing again and is forgotten by the metrics; a covered one
 * is evaluated, its first action fails (transport), the failure is counted and the driver
 * asks to look again after CG_DRIVER_RETRY. The release metrics' text: states, histograms,
 * counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller/driver.h"
#include "controller/relmetrics.h"
#include "kube/objstore.h"
#include "test_support.h"

static const char policy_yaml[] = "apiVersion: cellgate.io/v1\n"
                                  "kind: ReleasePolicy\n"
                                  "metadata: {name: web}\n"
                                  "spec:\n"
                                  "  match: {namespaces: [g-fix], kinds: [Deployment, Pod]}\n"
                                  "  cells: {names: [zone-a, zone-b]}\n"
                                  "  gray: {groups: [{perCell: 1}, rest], pause: manual}\n";

static const char *const files[][2] = {
    {"d", "controller/deployment.json"},
    {"r", "controller/rs-web-7568f6889c.json"},
    {"r", "controller/rs-web-7f494d5876.json"},
    {"p", "controller/pod-web-7568f6889c-nx68d.json"},
    {"p", "controller/pod-web-7568f6889c-rd6h6.json"},
    {"p", "controller/pod-web-7568f6889c-wsx96.json"},
    {"p", "controller/pod-web-7f494d5876-86zrd.json"},
    {"e", "controller/slice-web-b8xqz.json"},
};

static int64_t fixed_now(void *ud)
{
    return 1796480500;
}

/* A client of an API server nobody listens on. */
static struct cg_kube_client *dead_client(struct cg_kube_config **kc)
{
    static const char kubeconfig[] =
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "
        "\"https://127.0.0.1:1\"}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n"
        "  context: {cluster: c, user: u}\ncurrent-context: x\n";
    struct cg_err err;
    cg_err_clear(&err);
    struct cg_kube_client *client = NULL;
    assert_int_equal(cg_kube_config_decode(kubeconfig, strlen(kubeconfig), NULL, NULL, 0, kc, &err),
                     CG_OK);
    struct cg_kube_client_options ko = {.connect_timeout_ms = 500, .timeout_ms = 1000};
    assert_int_equal(cg_kube_client_create(*kc, &ko, &client, &err), CG_OK);
    return client;
}

static void reconcile(void **state)
{
    struct cg_objstore_config oc = {"t", NULL, NULL};
    struct cg_objstore *st[4];
    for (int i = 0; i < 4; i++)
        st[i] = cg_objstore_create(&oc);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        size_t len;
        char *t = cg_test_read_fixture(files[i][1], &len);
        int k = strchr("drpe", files[i][0][0]) - "drpe";
        cg_objstore_apply(st[k], CG_KUBE_ADDED, t, len);
        free(t);
    }
    struct cg_controller_caches caches = {st[0], st[1], st[2], st[3]};
    struct cg_policy_set *set = NULL, *other = NULL;
    struct cg_err err;
    cg_err_clear(&err);
    assert_int_equal(cg_policy_set_decode("t.yaml", policy_yaml, strlen(policy_yaml), &set, &err),
                     CG_OK);
    const char *elsewhere = "apiVersion: cellgate.io/v1\nkind: ReleasePolicy\n"
                            "metadata: {name: o}\nspec:\n  match: {namespaces: [other]}\n"
                            "  cells: {names: [a]}\n  gray: {groups: [rest], pause: manual}\n";
    assert_int_equal(cg_policy_set_decode("o.yaml", elsewhere, strlen(elsewhere), &other, &err),
                     CG_OK);
    struct cg_kube_config *kc = NULL;
    struct cg_kube_client *client = dead_client(&kc);

    struct cg_relmetrics *m = cg_relmetrics_create();
    struct cg_driver_config dc = {.metrics = m, .now = fixed_now};
    struct cg_driver *d = cg_driver_create(&dc);

    /* covered: evaluated, the first action fails, retried soon */
    assert_int_equal(
        cg_driver_reconcile(d, client, &caches, set, CG_STR_LIT("g-fix"), CG_STR_LIT("web")),
        CG_DRIVER_RETRY);
    struct cg_buf text;
    cg_buf_init(&text, 0);
    cg_driver_metrics(d, &text);
    assert_non_null(strstr(text.data, "result=\"failed\"} 1\n"));
    /* nothing fully applied: no state yet */
    assert_non_null(strstr(text.data, "cellgate_releases{state=\"progressing\"} 0\n"));
    /* gone, and not covered: nothing to look at again */
    assert_int_equal(
        cg_driver_reconcile(d, client, &caches, set, CG_STR_LIT("g-fix"), CG_STR_LIT("nope")), 0);
    assert_int_equal(
        cg_driver_reconcile(d, client, &caches, other, CG_STR_LIT("g-fix"), CG_STR_LIT("web")), 0);
    cg_buf_dispose(&text);
    cg_driver_destroy(d);
    cg_driver_destroy(NULL);
    cg_relmetrics_destroy(m);
    cg_kube_client_destroy(client);
    cg_kube_config_destroy(kc);
    cg_policy_set_unref(other);
    cg_policy_set_unref(set);
    for (int i = 0; i < 4; i++)
        cg_objstore_destroy(st[i]);
}

static void count_result(void *ud, const char *check, bool ok, int64_t at, const char *message)
{
    (*(int *)ud)++;
}

/* emergency=resume drops the Deployment's check results, so the checks run afresh instead of
 * a remembered failure pausing the release again at once. */
static void resume_forgets_results(void **state)
{
    struct cg_objstore_config oc = {"t", NULL, NULL};
    struct cg_objstore *st[4];
    for (int i = 0; i < 4; i++)
        st[i] = cg_objstore_create(&oc);
    size_t len;
    char *t = cg_test_read_fixture("controller/deployment.json", &len);
    const char *at = strstr(t, "\"annotations\":{");
    assert_non_null(at);
    const char *add = "\"cellgate.io/emergency\":\"resume\",";
    size_t off = (size_t)(at - t) + 15;
    char *d = malloc(len + strlen(add) + 1);
    memcpy(d, t, off);
    memcpy(d + off, add, strlen(add));
    memcpy(d + off + strlen(add), t + off, len - off);
    cg_objstore_apply(st[0], CG_KUBE_ADDED, d, len + strlen(add));
    free(d);
    free(t);
    struct cg_controller_caches caches = {st[0], st[1], st[2], st[3]};
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    cg_err_clear(&err);
    assert_int_equal(cg_policy_set_decode("t.yaml", policy_yaml, strlen(policy_yaml), &set, &err),
                     CG_OK);
    struct cg_checks_config cc = {.timeout_ms = 500};
    struct cg_checks *checks = cg_checks_create(&cc);
    struct cg_check dead = {.kind = CG_CHECK_HTTP, .name = "h", .url = "http://127.0.0.1:1/"};
    cg_checks_submit(checks, CG_STR_LIT("g-fix"), CG_STR_LIT("web"), &dead);
    int n = 0;
    for (int i = 0; i < 100 && n == 0; i++) {
        usleep(20 * 1000);
        cg_checks_results(checks, CG_STR_LIT("g-fix"), CG_STR_LIT("web"), count_result, &n);
    }
    assert_int_equal(n, 1);
    struct cg_driver_config dc = {.checks = checks, .now = fixed_now};
    struct cg_driver *drv = cg_driver_create(&dc);
    /* no API server: nothing is applied, but the results are gone before the evaluation */
    struct cg_kube_config *kc = NULL;
    struct cg_kube_client *client = dead_client(&kc);
    cg_driver_reconcile(drv, client, &caches, set, CG_STR_LIT("g-fix"), CG_STR_LIT("web"));
    n = 0;
    cg_checks_results(checks, CG_STR_LIT("g-fix"), CG_STR_LIT("web"), count_result, &n);
    assert_int_equal(n, 0);
    cg_driver_destroy(drv);
    cg_kube_client_destroy(client);
    cg_kube_config_destroy(kc);
    cg_checks_destroy(checks);
    cg_policy_set_unref(set);
    for (int i = 0; i < 4; i++)
        cg_objstore_destroy(st[i]);
}

static void metrics_text(void **state)
{
    struct cg_relmetrics *m = cg_relmetrics_create();
    cg_relmetrics_set_state(m, CG_STR_LIT("a"), CG_STR_LIT("x"), true, CG_RELEASE_PROGRESSING);
    cg_relmetrics_set_state(m, CG_STR_LIT("a"), CG_STR_LIT("y"), true, CG_RELEASE_PROGRESSING);
    cg_relmetrics_set_state(m, CG_STR_LIT("b"), CG_STR_LIT("x"), true, CG_RELEASE_COMPLETE);
    cg_relmetrics_set_state(m, CG_STR_LIT("a"), CG_STR_LIT("y"), true, CG_RELEASE_PAUSED);
    cg_relmetrics_set_state(m, CG_STR_LIT("b"), CG_STR_LIT("x"), false, CG_RELEASE_PROGRESSING);
    cg_relmetrics_set_state(m, CG_STR_LIT("c"), CG_STR_LIT("x"), false, CG_RELEASE_PROGRESSING);
    cg_relmetrics_observe_group(m, 7);
    cg_relmetrics_observe_group(m, 100000);
    cg_relmetrics_observe_drain(m, 0.3);
    cg_relmetrics_count_action(m, CG_ACT_SET_TRAFFIC, true);
    cg_relmetrics_count_action(m, CG_ACT_SET_TRAFFIC, true);
    cg_relmetrics_count_action(m, CG_ACT_EVENT, false);
    cg_relmetrics_count_action(m, (enum cg_release_action_kind)99, true);
    struct cg_buf b;
    cg_buf_init(&b, 0);
    cg_relmetrics_render(m, &b);
    static const char *const want[] = {
        "cellgate_releases{state=\"progressing\"} 1\n",
        "cellgate_releases{state=\"paused\"} 1\n",
        "cellgate_releases{state=\"complete\"} 0\n",
        "# TYPE cellgate_group_duration_seconds histogram\n",
        "cellgate_group_duration_seconds_bucket{le=\"5\"} 0\n",
        "cellgate_group_duration_seconds_bucket{le=\"10\"} 1\n",
        "cellgate_group_duration_seconds_bucket{le=\"86400\"} 1\n",
        "cellgate_group_duration_seconds_bucket{le=\"+Inf\"} 2\n",
        "cellgate_group_duration_seconds_sum 100007.000000\n",
        "cellgate_group_duration_seconds_count 2\n",
        "cellgate_drain_duration_seconds_bucket{le=\"0.25\"} 0\n",
        "cellgate_drain_duration_seconds_bucket{le=\"0.5\"} 1\n",
        "cellgate_controller_actions_total{action=\"set-traffic\",result=\"applied\"} 2\n",
        "cellgate_controller_actions_total{action=\"event\",result=\"failed\"} 1\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(b.data, want[i]) == NULL)
            fail_msg("missing %s in\n%s", want[i], b.data);
    cg_buf_dispose(&b);
    cg_relmetrics_destroy(m);
    cg_relmetrics_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reconcile),
        cmocka_unit_test(resume_forgets_results),
        cmocka_unit_test(metrics_text),
    };
    return cmocka_run_group_tests_name("controller_driver", tests, NULL, NULL);
}
