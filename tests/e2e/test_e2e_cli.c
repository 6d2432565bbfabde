/* The operator's commands against a real API server (../shared/lab, or
 * CELLGATE_E2E_KUBECONFIG): `cellgate status`, `approve`, `pause`, `resume`, `rollback` (and
 * the same program as `kubectl cellgate`) on Deployments that carry a cellgate.io/release
 * record, each change checked through the API with kubectl; then with cellgate-webhook
 * running and registered for the namespace, an approval or an emergency action by a user
 * outside the policy's groups is refused with the webhook's message, and one by a
 * release manager passes (users acted as through --as / --as-group).
 *
 * Everything lives in a namespace of its own (h-cli-<pid>); the webhook configurations are
 * scoped to it and are deleted first on the way out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "test_e2e.h"
#include "test_support.h"

#define CELLGATE CG_BINARY_DIR "/cellgate"
#define RBAC_YAML CG_SOURCE_DIR "/manifests/base/rbac.yaml"
#define GEN_CERTS CG_SOURCE_DIR "/certs/gen-dev-certs"
#define CONTROLLER "system:serviceaccount:cellgate-system:cellgate-controller"

struct world {
    bool skip;
    char kubeconfig[512];
    char sa_kubeconfig[600];
    char sa_user[160];
    char ns[64];
    char hook[64];
    struct cg_test_dir *dir;
    struct cg_e2e_webhook webhook;
};

static struct world W;

#define NEED_CLUSTER()                                                                             \
    do {                                                                                           \
        if (W.skip)                                                                                \
            CG_TEST_SKIP(CG_TEST_KUBE_SKIP_MSG);                                                   \
    } while (0)

/* A Deployment with a release record, as the webhook writes it when a release starts and the
 * controller keeps it (created before the webhook is registered: nobody else may write it). */
static void deployment(const char *name, const char *record)
{
    char ann[1024] = "{}", yaml[2048], file[128];
    if (record != NULL)
        snprintf(ann, sizeof(ann), "{cellgate.io/release: '%s'}", record);
    snprintf(yaml, sizeof(yaml),
             "apiVersion: apps/v1\nkind: Deployment\n"
             "metadata: {name: %s, namespace: %s, annotations: %s}\n"
             "spec:\n  replicas: 2\n  selector: {matchLabels: {app: %s}}\n"
             "  template:\n    metadata: {labels: {app: %s}}\n"
             "    spec: {containers: [{name: app, image: %s:1, "
             "readinessProbe: {exec: {command: [\"true\"]}}}]}\n",
             name, W.ns, ann, name, name, name);
    snprintf(file, sizeof(file), "deployment-%s.yaml", name);
    const char *path = cg_test_path(W.dir, file);
    cg_test_write_file(path, yaml);
    cg_e2e_sh_ok("create a Deployment", "kubectl apply -f %s", path);
}

#define RECORD(group, state)                                                                       \
    "{\"revision\":\"1a2b3c4d5e6f7081\",\"cells\":[\"zone-a\",\"zone-b\"],"                        \
    "\"groups\":[[1,1],[2,2],[2,2]],\"group\":" #group ",\"state\":\"" state "\"}"

/* The annotation's value on Deployment name, or "" when it has none (caller frees). */
static char *annotation(const char *name, const char *key)
{
    json_t *d = cg_e2e_kget("deployment -n %s %s", W.ns, name);
    assert_non_null(d);
    const char *v = CG_E2E_STR(d, "metadata", "annotations", key);
    char *copy = strdup(v ? v : "");
    json_decref(d);
    return copy;
}

static void assert_annotation(const char *name, const char *key, const char *want)
{
    char *got = annotation(name, key);
    if (strcmp(got, want) != 0)
        fail_msg("deployment %s: %s is \"%s\", want \"%s\"", name, key, got, want);
    free(got);
}

static void assert_contains(const char *text, const char *want)
{
    if (strstr(text, want) == NULL)
        fail_msg("\"%s\" not in:\n%s", want, text);
}

/* Runs `cellgate ARGS` (KUBECONFIG is the cluster's); returns its exit code, its output in
 * *out (stdout and stderr). */
static int cellgate(char **out, const char *args)
{
    return cg_e2e_sh(out, "%s %s", CELLGATE, args);
}

static void write_policy(void)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "apiVersion: cellgate.io/v1\nkind: ReleasePolicy\nmetadata: {name: h-cli}\n"
             "spec:\n"
             "  match: {namespaces: [%s], kinds: [Deployment, Pod]}\n"
             "  cells: {names: [zone-a, zone-b]}\n"
             "  gray: {groups: [{perCell: 1}, {perCell: 2}, rest], pause: manual}\n"
             "  monitor: {requireReadinessProbe: true}\n"
             "  emergency:\n"
             "    breakGlass: {groups: [sre-oncall]}\n"
             "    approvers: {groups: [release-managers]}\n"
             "    emergencyActors: {groups: [release-managers]}\n"
             "  traffic: {components: [service]}\n",
             W.ns);
    mkdir(cg_test_path(W.dir, "policies"), 0755);
    cg_test_write_file(cg_test_path(W.dir, "policies/h-cli.yaml"), yaml);
}

static int group_setup(void **state)
{
    memset(&W, 0, sizeof(W));
    if (!cg_e2e_find_cluster(W.kubeconfig, sizeof(W.kubeconfig))) {
        W.skip = true;
        return 0;
    }
    W.dir = cg_test_dir_create("h-e2e-cli");
    snprintf(W.ns, sizeof(W.ns), "h-cli-%d", (int)getpid());
    snprintf(W.hook, sizeof(W.hook), "h-cli-%d", (int)getpid());
    cg_e2e_sh_ok("create the namespace", "kubectl create namespace %s", W.ns);
    /* alice and the release managers may edit the namespace's objects (RBAC): what stops
     * alice's approval is the webhook, not RBAC. mallory may do nothing. */
    cg_e2e_sh_ok("bind edit",
                 "kubectl create rolebinding -n %s editors --clusterrole=edit "
                 "--user=alice --group=release-managers",
                 W.ns);
    return 0;
}

static int group_teardown(void **state)
{
    if (W.skip)
        return 0;
    /* The webhook configurations go first: nothing may depend on a webhook that is gone. */
    cg_e2e_webhooks_unregister(W.hook);
    cg_e2e_namespace_delete(W.ns);
    cg_e2e_sh(NULL, "kubectl delete clusterrole,clusterrolebinding %s --ignore-not-found", W.hook);
    cg_e2e_stop(&W.webhook.pid);
    cg_test_dir_destroy(W.dir);
    return 0;
}

/* Without the webhook: every command, its output and what it changed. */
static void commands(void **state)
{
    NEED_CLUSTER();
    deployment("web", RECORD(1, "waiting-approval"));
    deployment("plain", NULL);
    char *out = NULL;
    char args[512];

    /* status: the namespace's covered Deployments (plain is not one), one in detail, JSON. */
    snprintf(args, sizeof(args), "status -n %s", W.ns);
    assert_int_equal(cellgate(&out, args), 0);
    assert_contains(out, "NAME  GROUP   STATE");
    assert_contains(out, "web   1 of 3  waiting-approval");
    assert_null(strstr(out, "plain"));
    free(out);
    assert_int_equal(cellgate(&out, "status -A"), 0);
    assert_contains(out, "NAMESPACE");
    assert_contains(out, W.ns);
    free(out);
    snprintf(args, sizeof(args), "status -n %s web", W.ns);
    assert_int_equal(cellgate(&out, args), 0);
    assert_contains(out, "State:      waiting-approval, group 1 of 3");
    char want[256];
    snprintf(want, sizeof(want), "Waits for:  approval of group 1: cellgate approve -n %s web",
             W.ns);
    assert_contains(out, want);
    free(out);
    snprintf(args, sizeof(args), "status -n %s web -o json", W.ns);
    assert_int_equal(cellgate(&out, args), 0);
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(CG_E2E_STR(doc, "release", "state"), "waiting-approval");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "release"), "group")),
                     1);
    json_decref(doc);
    free(out);

    /* The same program as a kubectl plugin, found on the PATH. */
    assert_int_equal(
        cg_e2e_sh(&out, "PATH=%s:$PATH kubectl cellgate status -n %s web", CG_BINARY_DIR, W.ns), 0);
    snprintf(want, sizeof(want), "approval of group 1: kubectl cellgate approve -n %s web", W.ns);
    assert_contains(out, want);
    free(out);

    /* approve: the current group, once; a stale --group is refused. */
    snprintf(args, sizeof(args), "approve -n %s web --group 0", W.ns);
    assert_int_equal(cellgate(&out, args), 1);
    assert_contains(out, "is at group 1 (waiting-approval), not 0: nothing approved");
    free(out);
    assert_annotation("web", "cellgate.io/approve", "");
    snprintf(args, sizeof(args), "approve -n %s web --group 1", W.ns);
    assert_int_equal(cellgate(&out, args), 0);
    snprintf(want, sizeof(want), "approved group 1 of %s/web", W.ns);
    assert_contains(out, want);
    free(out);
    assert_annotation("web", "cellgate.io/approve", "1");
    snprintf(args, sizeof(args), "approve -n %s web", W.ns);
    assert_int_equal(cellgate(&out, args), 0);
    assert_contains(out, "group 1 is already approved");
    free(out);

    /* pause, resume, rollback: the emergency annotation, each replacing the last. */
    static const char *const actions[] = {"pause", "resume", "rollback"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(args, sizeof(args), "%s -n %s web", actions[i], W.ns);
        assert_int_equal(cellgate(&out, args), 0);
        snprintf(want, sizeof(want), "set cellgate.io/emergency=%s on %s/web", actions[i], W.ns);
        assert_contains(out, want);
        free(out);
        assert_annotation("web", "cellgate.io/emergency", actions[i]);
    }
    snprintf(args, sizeof(args), "status -n %s web", W.ns);
    assert_int_equal(cellgate(&out, args), 0);
    assert_contains(out, "Waits for:  the controller to begin the rollback");
    assert_contains(out, "Emergency:  rollback (cellgate.io/emergency)");
    free(out);

    /* Refusals, in the API server's words: no such Deployment, no record, RBAC. */
    snprintf(args, sizeof(args), "status -n %s nothing", W.ns);
    assert_int_equal(cellgate(&out, args), 1);
    assert_contains(out, "deployments.apps \"nothing\" not found");
    free(out);
    snprintf(args, sizeof(args), "pause -n %s plain", W.ns);
    assert_int_equal(cellgate(&out, args), 1);
    assert_contains(out, "has no cellgate.io/release record");
    free(out);
    assert_annotation("plain", "cellgate.io/emergency", "");
    snprintf(args, sizeof(args), "approve -n %s web --as mallory", W.ns);
    assert_int_equal(cellgate(&out, args), 1);
    assert_contains(out, "User \"mallory\" cannot get resource \"deployments\"");
    free(out);
}

static void webhook_up(void)
{
    const char *from[] = {"name: cellgate-webhook", "namespace: cellgate-system"};
    char to0[128], to1[128];
    snprintf(to0, sizeof(to0), "name: %s", W.hook);
    snprintf(to1, sizeof(to1), "namespace: %s", W.ns);
    const char *to[] = {to0, to1};
    snprintf(W.sa_kubeconfig, sizeof(W.sa_kubeconfig), "%s",
             cg_test_path(W.dir, "webhook.kubeconfig"));
    cg_e2e_service_account(W.ns, W.hook, RBAC_YAML, from, to, 2, W.sa_kubeconfig, W.sa_user,
                           sizeof(W.sa_user));
    const char *argv[] = {GEN_CERTS, "-q", "-o", cg_test_path(W.dir, "certs"), NULL};
    assert_int_equal(cg_test_spawn(argv), 0);
    write_policy();
    char trusted[400], certs[600], pol[600], log[600];
    snprintf(trusted, sizeof(trusted), "%s,%s", CONTROLLER, W.sa_user);
    snprintf(certs, sizeof(certs), "%s", cg_test_path(W.dir, "certs"));
    snprintf(pol, sizeof(pol), "%s", cg_test_path(W.dir, "policies"));
    snprintf(log, sizeof(log), "%s", cg_test_path(W.dir, "webhook.log"));
    cg_e2e_webhook_start(&W.webhook, certs, pol, W.sa_kubeconfig, trusted, false, log);
    cg_e2e_webhooks_register(W.hook, W.webhook.port, W.ns, certs,
                             cg_test_path(W.dir, "webhooks.yaml"));
}

/* With the webhook: who may approve and act is the policy's to say. */
static void webhook_identity(void **state)
{
    NEED_CLUSTER();
    deployment("api", RECORD(0, "waiting-approval"));
    webhook_up();
    char *out = NULL;
    char args[512];

    /* alice may edit the Deployment (RBAC) but is no release manager: refused, with the
     * webhook's own message, and nothing changed. */
    snprintf(args, sizeof(args), "approve -n %s api --as alice", W.ns);
    assert_int_equal(cellgate(&out, args), 1);
    assert_contains(out, "cellgate approve: deployment ");
    assert_contains(out, "denied the request");
    assert_contains(out, "user alice may not set cellgate.io/approve; ask a member of "
                         "release-managers to approve the group");
    free(out);
    assert_annotation("api", "cellgate.io/approve", "");
    snprintf(args, sizeof(args), "pause -n %s api --as alice", W.ns);
    assert_int_equal(cellgate(&out, args), 1);
    assert_contains(out, "user alice may not set cellgate.io/emergency");
    free(out);
    assert_annotation("api", "cellgate.io/emergency", "");
    /* kubectl annotate is refused the same way. */
    assert_int_equal(cg_e2e_sh(&out,
                               "kubectl annotate deploy -n %s api cellgate.io/approve=0 "
                               "--as alice",
                               W.ns),
                     1);
    assert_contains(out, "user alice may not set cellgate.io/approve");
    free(out);

    /* A release manager may, through the kubectl plugin too. */
    snprintf(args, sizeof(args), "approve -n %s api --as bob --as-group release-managers", W.ns);
    assert_int_equal(cellgate(&out, args), 0);
    free(out);
    assert_annotation("api", "cellgate.io/approve", "0");
    assert_int_equal(cg_e2e_sh(&out,
                               "PATH=%s:$PATH kubectl cellgate pause -n %s api --as bob "
                               "--as-group release-managers",
                               CG_BINARY_DIR, W.ns),
                     0);
    free(out);
    assert_annotation("api", "cellgate.io/emergency", "pause");
    snprintf(args, sizeof(args), "resume -n %s api --as bob --as-group release-managers", W.ns);
    assert_int_equal(cellgate(&out, args), 0);
    free(out);
    assert_annotation("api", "cellgate.io/emergency", "resume");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commands),
        cmocka_unit_test(webhook_identity),
    };
    return cg_test_run("e2e_cli", tests, sizeof(tests) / sizeof(tests[0]), group_setup,
                       group_teardown);
}
