/* One reconcile of the driver over watch caches fed with the objects captured from the lab
 * (tests/fixtures/controller/), and an API server that cannot be reached: a Deployment that is
 * gone or not covered asks for nothing again and is forgotten by the metrics; a covered one
 * is evaluated, its first action fails (transport), the failure is counted and the driver
 * asks to look again after CG_DRIVER_RETRY. A Deployment patch refused with 409 (against a
 * scripted API server): the Deployment is read afresh and the patch made again at once, with
 * the new resourceVersion, a bounded number of times. The release metrics' text: states,
 * histograms, counters. */
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
#include "test_scripted_api.h"
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

/* The fixture Deployment with cellgate.io/emergency: resume (its evaluation's first action is
 * the Deployment patch that removes it), at resourceVersion rv. Caller frees. */
static char *resume_deployment(const char *rv, size_t *out_len)
{
    size_t len;
    char *t = cg_test_read_fixture("controller/deployment.json", &len);
    const char *at = strstr(t, "\"annotations\":{");
    assert_non_null(at);
    const char *add = "\"cellgate.io/emergency\":\"resume\",";
    size_t off = (size_t)(at - t) + 15;
    char *d = malloc(len + strlen(add) + 64);
    memcpy(d, t, off);
    memcpy(d + off, add, strlen(add));
    memcpy(d + off + strlen(add), t + off, len - off);
    d[len + strlen(add)] = '\0';
    free(t);
    char *v = strstr(d, "\"resourceVersion\":\"14884\"");
    assert_non_null(v);
    char repl[64];
    int n = snprintf(repl, sizeof(repl), "\"resourceVersion\":\"%s\"", rv);
    memmove(v + n, v + 25, strlen(v + 25) + 1);
    memcpy(v, repl, (size_t)n);
    *out_len = strlen(d);
    return d;
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
    char *d = resume_deployment("14884", &len);
    cg_objstore_apply(st[0], CG_KUBE_ADDED, d, len);
    free(d);
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

#define DEP_PATH "/apis/apps/v1/namespaces/g-fix/deployments/web"
#define CONFLICT "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Conflict\",\"code\":409}"

static void conflict_reads_afresh(void **state)
{
    struct cg_test_dir *dir = cg_test_dir_create("cg-driver");
    const char *argv[] = {CG_SOURCE_DIR "/certs/gen-dev-certs", "-q", "-o", dir->dir, NULL};
    assert_int_equal(cg_test_spawn(argv), 0);
    struct cg_test_api api;
    char kubeconfig[600];
    cg_test_api_start(&api, dir->dir, kubeconfig, sizeof(kubeconfig));
    size_t conf_len;
    char *conf = cg_test_read_file(kubeconfig, &conf_len);
    struct cg_err err;
    cg_err_clear(&err);
    struct cg_kube_config *kc = NULL;
    struct cg_kube_client *client = NULL;
    assert_int_equal(cg_kube_config_decode(conf, conf_len, kubeconfig, NULL, 0, &kc, &err), CG_OK);
    struct cg_kube_client_options ko = {.connect_timeout_ms = 2000, .timeout_ms = 5000};
    assert_int_equal(cg_kube_client_create(kc, &ko, &client, &err), CG_OK);
    struct cg_policy_set *set = NULL;
    assert_int_equal(cg_policy_set_decode("t.yaml", policy_yaml, strlen(policy_yaml), &set, &err),
                     CG_OK);
    struct cg_driver_config dc = {.now = fixed_now};
    struct cg_driver *drv = cg_driver_create(&dc);
    struct cg_objstore_config oc = {"t", NULL, NULL};
    struct cg_objstore *st[4];
    for (int i = 0; i < 4; i++)
        st[i] = cg_objstore_create(&oc);
    struct cg_controller_caches caches = {st[0], st[1], st[2], st[3]};
    size_t len;
    char *cached = resume_deployment("14884", &len), *fresh = resume_deployment("15000", &len);
    cg_objstore_apply(st[0], CG_KUBE_ADDED, cached, strlen(cached));
    /* the fresh copy has an annotation more (someone's since) */
    char *at = strstr(fresh, "\"annotations\":{");
    const char *extra = "\"someone\":\"x\",";
    char *grown = malloc(strlen(fresh) + strlen(extra) + 1);
    size_t off = (size_t)(at - fresh) + 15;
    memcpy(grown, fresh, off);
    strcpy(grown + off, extra);
    strcat(grown, fresh + off);
    free(fresh);
    fresh = grown;

    /* 409, the Deployment read afresh, the patch made again on it (conditioned on what was
     * read) and applied. The patch tests the annotations and spec, not the resourceVersion. */
    const struct cg_test_exchange once[] = {
        {"PATCH", DEP_PATH, 409, CONFLICT},
        {"GET", DEP_PATH, 200, fresh},
        {"PATCH", DEP_PATH, 200, "{}"},
    };
    cg_test_api_script(&api, once, 3);
    assert_int_equal(
        cg_driver_reconcile(drv, client, &caches, set, CG_STR_LIT("g-fix"), CG_STR_LIT("web")), 0);
    if (api.mismatch[0])
        fail_msg("%s", api.mismatch);
    assert_int_equal(api.next, 3);
    assert_non_null(
        strstr(api.seen[0].body, "{\"op\":\"test\",\"path\":\"/metadata/annotations\""));
    assert_non_null(strstr(api.seen[0].body, "{\"op\":\"test\",\"path\":\"/spec\""));
    assert_null(strstr(api.seen[0].body, "resourceVersion"));
    assert_null(strstr(api.seen[0].body, "someone"));
    assert_non_null(strstr(api.seen[2].body, "\"someone\":\"x\""));
    assert_non_null(
        strstr(api.seen[2].body,
               "{\"op\":\"remove\",\"path\":\"/metadata/annotations/cellgate.io~1emergency\"}"));

    /* 422 (a test op failed) twice, even on the Deployment just read: the last try is
     * conditioned on the resourceVersion alone (a merge patch then). */
    cg_objstore_apply(st[0], CG_KUBE_MODIFIED, cached, strlen(cached));
    const struct cg_test_exchange unmatched[] = {
        {"PATCH", DEP_PATH, 422, "{\"code\":422}"},
        {"GET", DEP_PATH, 200, fresh},
        {"PATCH", DEP_PATH, 422, "{\"code\":422}"},
        {"GET", DEP_PATH, 200, fresh},
        {"PATCH", DEP_PATH, 200, "{}"},
    };
    cg_test_api_script(&api, unmatched, 5);
    assert_int_equal(
        cg_driver_reconcile(drv, client, &caches, set, CG_STR_LIT("g-fix"), CG_STR_LIT("web")), 0);
    if (api.mismatch[0])
        fail_msg("%s", api.mismatch);
    assert_int_equal(api.next, 5);
    assert_non_null(strstr(api.seen[2].body, "\"path\":\"/metadata/annotations\""));
    assert_non_null(strstr(api.seen[4].body, "\"resourceVersion\":\"15000\""));
    assert_null(strstr(api.seen[4].body, "\"path\":\"/metadata/annotations\""));

    /* Conflicts without end: given up after CG_DRIVER_CONFLICT_RETRIES fresh reads, looked
     * at again after CG_DRIVER_RETRY. */
    cg_objstore_apply(st[0], CG_KUBE_MODIFIED, cached, strlen(cached));
    struct cg_test_exchange endless[2 * CG_DRIVER_CONFLICT_RETRIES + 1];
    for (int i = 0; i <= CG_DRIVER_CONFLICT_RETRIES; i++) {
        endless[2 * i] = (struct cg_test_exchange){"PATCH", DEP_PATH, 409, CONFLICT};
        if (i < CG_DRIVER_CONFLICT_RETRIES)
            endless[2 * i + 1] = (struct cg_test_exchange){"GET", DEP_PATH, 200, cached};
    }
    cg_test_api_script(&api, endless, 2 * CG_DRIVER_CONFLICT_RETRIES + 1);
    assert_int_equal(
        cg_driver_reconcile(drv, client, &caches, set, CG_STR_LIT("g-fix"), CG_STR_LIT("web")),
        CG_DRIVER_RETRY);
    if (api.mismatch[0])
        fail_msg("%s", api.mismatch);
    assert_int_equal(api.next, 2 * CG_DRIVER_CONFLICT_RETRIES + 1);

    /* The fresh read fails: no second patch; the watch will bring the Deployment. */
    const struct cg_test_exchange unread[] = {
        {"PATCH", DEP_PATH, 409, CONFLICT},
        {"GET", DEP_PATH, 500, "{}"},
    };
    cg_test_api_script(&api, unread, 2);
    assert_int_equal(
        cg_driver_reconcile(drv, client, &caches, set, CG_STR_LIT("g-fix"), CG_STR_LIT("web")),
        CG_DRIVER_RETRY);
    assert_int_equal(api.next, 2);

    /* Other failures are not conflicts: no fresh read. */
    const struct cg_test_exchange denied[] = {{"PATCH", DEP_PATH, 403, "{\"code\":403}"}};
    cg_test_api_script(&api, denied, 1);
    assert_int_equal(
        cg_driver_reconcile(drv, client, &caches, set, CG_STR_LIT("g-fix"), CG_STR_LIT("web")),
        CG_DRIVER_RETRY);
    assert_int_equal(api.next, 1);

    free(cached);
    free(fresh);
    free(conf);
    for (int i = 0; i < 4; i++)
        cg_objstore_destroy(st[i]);
    cg_driver_destroy(drv);
    cg_policy_set_unref(set);
    cg_kube_client_destroy(client);
    cg_kube_config_destroy(kc);
    cg_test_api_stop(&api);
    cg_test_dir_destroy(dir);
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
        cmocka_unit_test(conflict_reads_afresh),
        cmocka_unit_test(metrics_text),
    };
    return cmocka_run_group_tests_name("controller_driver", tests, NULL, NULL);
}
