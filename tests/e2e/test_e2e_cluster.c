/* The webhook against a real Kubernetes API server (../shared/lab, or CELLGATE_E2E_KUBECONFIG):
 * registered with a url: client config and the development CA, it places the pods of a real
 * Deployment's ReplicaSet, the real scheduler puts each in its zone, the kubelet keeps them
 * not Ready behind the traffic gate, and deletes and evictions of serving pods are held until
 * the pod is drained. kubectl is the client, as a platform engineer would use it.
 *
 * Everything lives in a namespace of its own; the webhook configurations are scoped to it and
 * are deleted first on the way out, so nothing else in the cluster ever depends on them. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "test_e2e.h"
#include "test_support.h"

extern char **environ;

#define RBAC_YAML CG_SOURCE_DIR "/manifests/base/rbac.yaml"
#define CONTROLLER "system:serviceaccount:cellgate-system:cellgate-controller"
#define GEN_CERTS CG_SOURCE_DIR "/certs/gen-dev-certs"
#define WAIT_S 60

struct world {
    bool skip;
    char kubeconfig[512];    /* the admin's, for kubectl */
    char sa_kubeconfig[600]; /* the webhook's own ServiceAccount, as in a cluster */
    char sa_user[160];
    char ns[64];
    char hook[64]; /* name of both webhook configurations */
    struct cg_test_dir *dir;
    struct cg_e2e_webhook webhook;
};

static struct world W;

static void write_policy(void)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "apiVersion: cellgate.io/v1\n"
             "kind: ReleasePolicy\n"
             "metadata: {name: e2e}\n"
             "spec:\n"
             "  match: {namespaces: [%s], kinds: [Deployment, Pod]}\n"
             "  cells: {names: [zone-a, zone-b]}\n"
             "  gray:\n"
             "    groups: [{perCell: 1}, rest]\n"
             "    pause: manual\n"
             "  monitor: {requireReadinessProbe: true}\n"
             "  emergency: {breakGlass: {groups: [sre-oncall]}}\n"
             "  traffic: {components: [service]}\n",
             W.ns);
    mkdir(cg_test_path(W.dir, "policies"), 0755);
    cg_test_write_file(cg_test_path(W.dir, "policies/e2e.yaml"), yaml);
}

/* The webhook runs as a ServiceAccount of the test namespace bound to the shipped
 * manifests/base/rbac.yaml rules (renamed so tests never collide): what it may do in a real
 * cluster, no more. Its kubeconfig carries a token for that account. */
static void service_account(void)
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
}

static void webhook_start(void)
{
    char trusted[400], certs[600], pol[600], log[600];
    snprintf(trusted, sizeof(trusted), "%s,%s", CONTROLLER, W.sa_user);
    snprintf(certs, sizeof(certs), "%s", cg_test_path(W.dir, "certs"));
    snprintf(pol, sizeof(pol), "%s", cg_test_path(W.dir, "policies"));
    snprintf(log, sizeof(log), "%s", cg_test_path(W.dir, "webhook.log"));
    cg_e2e_webhook_start(&W.webhook, certs, pol, W.sa_kubeconfig, trusted, false, log);
}

/* Both webhook configurations, scoped to the test's namespace only. */
static void register_webhooks(void)
{
    char certs[600];
    snprintf(certs, sizeof(certs), "%s", cg_test_path(W.dir, "certs"));
    cg_e2e_webhooks_register(W.hook, W.webhook.port, W.ns, certs,
                             cg_test_path(W.dir, "webhooks.yaml"));
}

static int group_setup(void **state)
{
    memset(&W, 0, sizeof(W));
    if (!cg_e2e_find_cluster(W.kubeconfig, sizeof(W.kubeconfig))) {
        W.skip = true;
        return 0;
    }
    W.dir = cg_test_dir_create("cg-e2e-cluster");
    snprintf(W.ns, sizeof(W.ns), "cg-e2e-%d", (int)getpid());
    snprintf(W.hook, sizeof(W.hook), "cellgate-e2e-%d", (int)getpid());
    const char *argv[] = {GEN_CERTS, "-q", "-o", cg_test_path(W.dir, "certs"), NULL};
    assert_int_equal(cg_test_spawn(argv), 0);
    write_policy();
    cg_e2e_sh_ok("create the namespace", "kubectl create namespace %s", W.ns);
    service_account();
    webhook_start();
    register_webhooks();
    return 0;
}

static int group_teardown(void **state)
{
    if (W.skip)
        return 0;
    /* The webhook configurations go first: nothing may depend on a webhook that is gone. */
    cg_e2e_webhooks_unregister(W.hook);
    /* Then the finalizers cellgate put on the pods, or the namespace would hang. */
    json_t *pods = cg_e2e_kget("pods -n %s", W.ns);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        cg_e2e_sh(
            NULL,
            "kubectl patch pod -n %s %s --type=merge -p '{\"metadata\":{\"finalizers\":null}}'",
            W.ns, CG_E2E_STR(p, "metadata", "name"));
    }
    json_decref(pods);
    cg_e2e_sh(NULL, "kubectl delete namespace %s --wait=false", W.ns);
    cg_e2e_sh(NULL, "kubectl delete clusterrole,clusterrolebinding %s --ignore-not-found", W.hook);
    cg_e2e_stop(&W.webhook.pid);
    cg_test_dir_destroy(W.dir);
    return 0;
}

#define NEED_CLUSTER()                                                                             \
    do {                                                                                           \
        if (W.skip)                                                                                \
            CG_TEST_SKIP("no cluster: set CELLGATE_E2E_KUBECONFIG or start "                       \
                         "../shared/lab/cluster up");                                              \
    } while (0)

/* The zone label of each node, looked up by node name. */
static const char *zone_of(const json_t *nodes, const char *node)
{
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(nodes, "items"), i, n)
    {
        if (node && strcmp(CG_E2E_STR(n, "metadata", "name"), node) == 0)
            return CG_E2E_STR(n, "metadata", "labels", "topology.kubernetes.io/zone");
    }
    return NULL;
}

static const char *condition(const json_t *pod, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
            return json_string_value(json_object_get(c, "status"));
    }
    return NULL;
}

static bool has_finalizer(const json_t *pod, const char *f)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(pod, "metadata"), "finalizers"), i, v)
    {
        if (strcmp(json_string_value(v), f) == 0)
            return true;
    }
    return false;
}

struct census {
    int pods, in_a, in_b, scheduled_in_cell, gated, finalized, ready;
};

/* Counts the live pods of app=web: per cell label, and how many are where they should be. */
static struct census count_pods(void)
{
    struct census c = {0};
    json_t *nodes = cg_e2e_kget("nodes");
    json_t *pods = cg_e2e_kget("pods -n %s -l app=web", W.ns);
    assert_non_null(nodes);
    assert_non_null(pods);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        if (json_object_get(json_object_get(p, "metadata"), "deletionTimestamp") != NULL)
            continue;
        c.pods++;
        const char *cell = CG_E2E_STR(p, "metadata", "labels", "cellgate.io/cell");
        if (cell && strcmp(cell, "zone-a") == 0)
            c.in_a++;
        if (cell && strcmp(cell, "zone-b") == 0)
            c.in_b++;
        const char *zone = zone_of(nodes, CG_E2E_STR(p, "spec", "nodeName"));
        if (cell && zone && strcmp(cell, zone) == 0)
            c.scheduled_in_cell++;
        const char *gate = CG_E2E_STR(
            json_array_get(json_object_get(json_object_get(p, "spec"), "readinessGates"), 0),
            "conditionType");
        if (gate && strcmp(gate, "cellgate.io/traffic-ready") == 0)
            c.gated++;
        if (has_finalizer(p, "cellgate.io/drain-service"))
            c.finalized++;
        const char *ready = condition(p, "Ready");
        if (ready && strcmp(ready, "True") == 0)
            c.ready++;
    }
    json_decref(pods);
    json_decref(nodes);
    return c;
}

/* Waits until the census has `pods` pods, each scheduled in its cell. */
static struct census wait_pods(int pods)
{
    double end = cg_e2e_now() + WAIT_S;
    struct census c = {0};
    while (cg_e2e_now() < end) {
        c = count_pods();
        if (c.pods == pods && c.scheduled_in_cell == pods)
            return c;
        cg_e2e_sleep_ms(250);
    }
    fail_msg("want %d pods scheduled in their cells; have %d pods, %d in cell (a %d, b %d)", pods,
             c.pods, c.scheduled_in_cell, c.in_a, c.in_b);
    return c;
}

static void set_traffic(const char *pod, const char *status)
{
    cg_e2e_sh_ok("set the traffic condition",
                 "kubectl patch pod -n %s %s --subresource=status --type=strategic -p "
                 "'{\"status\":{\"conditions\":[{\"type\":\"cellgate.io/traffic-ready\",\"status\":"
                 "\"%s\"}]}}'",
                 W.ns, pod, status);
}

/* The names of the live pods of app=web (caller frees the array and names). */
static char **pod_names(int *n)
{
    json_t *pods = cg_e2e_kget("pods -n %s -l app=web", W.ns);
    assert_non_null(pods);
    size_t i;
    json_t *p;
    char **names = calloc(json_array_size(json_object_get(pods, "items")) + 1, sizeof(char *));
    *n = 0;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        if (json_object_get(json_object_get(p, "metadata"), "deletionTimestamp") == NULL)
            names[(*n)++] = strdup(CG_E2E_STR(p, "metadata", "name"));
    }
    json_decref(pods);
    return names;
}

static void free_names(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

static const char deployment_yaml[] =
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata: {name: web, labels: {app: web}}\n"
    "spec:\n"
    "  replicas: 10\n"
    "  selector: {matchLabels: {app: web}}\n"
    "  template:\n"
    "    metadata: {labels: {app: web}}\n"
    "    spec:\n"
    "      terminationGracePeriodSeconds: 0\n"
    "      containers:\n"
    "        - name: app\n"
    "          image: registry.example/web:1\n"
    "          readinessProbe: {exec: {command: [\"true\"]}, periodSeconds: 1}\n";

/* 10 replicas: 5 per zone, each with gate and finalizer, each scheduled in its zone, not
 * Ready until the gate is True; then 11: 6 and 5. */
static void test_placement_and_gate(void **state)
{
    NEED_CLUSTER();
    const char *path = cg_test_path(W.dir, "deployment.yaml");
    cg_test_write_file(path, deployment_yaml);
    cg_e2e_sh_ok("create the Deployment", "kubectl apply -n %s -f %s", W.ns, path);
    struct census c = wait_pods(10);
    assert_int_equal(c.in_a, 5);
    assert_int_equal(c.in_b, 5);
    assert_int_equal(c.gated, 10);
    assert_int_equal(c.finalized, 10);
    /* Containers are ready (exec probes pass at once) but the gate holds every pod. */
    cg_e2e_sleep_ms(3000);
    c = count_pods();
    assert_int_equal(c.ready, 0);

    int n = 0;
    char **names = pod_names(&n);
    for (int i = 0; i < n; i++)
        set_traffic(names[i], "True");
    free_names(names);
    double end = cg_e2e_now() + WAIT_S;
    while (cg_e2e_now() < end && (c = count_pods()).ready < 10)
        cg_e2e_sleep_ms(250);
    assert_int_equal(c.ready, 10);

    cg_e2e_sh_ok("scale to 11", "kubectl scale -n %s deployment/web --replicas=11", W.ns);
    c = wait_pods(11);
    assert_int_equal(c.in_a, 6);
    assert_int_equal(c.in_b, 5);
}

/* One serving pod (Ready, traffic True). */
static char *serving_pod(void)
{
    json_t *pods = cg_e2e_kget("pods -n %s -l app=web", W.ns);
    size_t i;
    json_t *p;
    char *name = NULL;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        const char *t = condition(p, "cellgate.io/traffic-ready");
        if (name == NULL && t && strcmp(t, "True") == 0 &&
            json_object_get(json_object_get(p, "metadata"), "deletionTimestamp") == NULL)
            name = strdup(CG_E2E_STR(p, "metadata", "name"));
    }
    json_decref(pods);
    assert_non_null(name);
    return name;
}

static char *annotation(const char *pod, const char *key)
{
    json_t *p = cg_e2e_kget("pod -n %s %s", W.ns, pod);
    if (p == NULL)
        return NULL;
    const char *v = CG_E2E_STR(p, "metadata", "annotations", key);
    char *out = v ? strdup(v) : NULL;
    json_decref(p);
    return out;
}

static char *wait_annotation(const char *pod, const char *key)
{
    double end = cg_e2e_now() + WAIT_S;
    while (cg_e2e_now() < end) {
        char *v = annotation(pod, key);
        if (v != NULL)
            return v;
        cg_e2e_sleep_ms(200);
    }
    fail_msg("pod %s never got the annotation %s", pod, key);
    return NULL;
}

/* The controller's part, done by hand as the controller's identity: traffic off, drained.
 * (Impersonation: the admin may act as any user; system:masters lends the permissions.) */
static void drain_by_hand(const char *pod)
{
    set_traffic(pod, "False");
    cg_e2e_sh_ok("annotate drained as the controller",
                 "kubectl annotate pod -n %s %s cellgate.io/drained=true --as=" CONTROLLER
                 " --as-group=system:masters",
                 W.ns, pod);
}

static void wait_gone(const char *pod)
{
    double end = cg_e2e_now() + WAIT_S;
    while (cg_e2e_now() < end) {
        json_t *p = cg_e2e_kget("pod -n %s %s", W.ns, pod);
        if (p == NULL)
            return;
        json_decref(p);
        cg_e2e_sleep_ms(200);
    }
    fail_msg("pod %s is still there", pod);
}

static void remove_finalizers(const char *pod)
{
    cg_e2e_sh_ok(
        "remove the finalizers",
        "kubectl patch pod -n %s %s --type=merge -p '{\"metadata\":{\"finalizers\":null}}'", W.ns,
        pod);
}

/* kubectl delete pod of a serving pod: 429 with a message saying why; the webhook asks for
 * the drain; once drained the delete passes; a terminating pod is never blocked. */
static void test_delete_held_until_drained(void **state)
{
    NEED_CLUSTER();
    char *pod = serving_pod();
    char *out = NULL;
    int rc = cg_e2e_sh(&out, "kubectl delete pod -n %s %s --wait=false", W.ns, pod);
    if (rc == 0 || strstr(out, "(TooManyRequests)") == NULL ||
        strstr(out, "is serving traffic") == NULL || strstr(out, "retry") == NULL)
        fail_msg("delete of serving pod %s: exit %d, %s", pod, rc, out);
    free(out);
    char *requested = wait_annotation(pod, "cellgate.io/drain-requested");
    assert_true(strlen(requested) >= 20); /* an RFC 3339 time */
    free(requested);
    /* Nobody but cellgate fakes a drain: the admin's own annotation is refused. */
    rc = cg_e2e_sh(&out, "kubectl annotate pod -n %s %s cellgate.io/drained=true", W.ns, pod);
    if (rc == 0 || strstr(out, "may not change cellgate.io/drained") == NULL)
        fail_msg("the admin marked a serving pod drained: exit %d, %s", rc, out);
    free(out);

    drain_by_hand(pod);
    cg_e2e_sh_ok("delete once drained", "kubectl delete pod -n %s %s --wait=false", W.ns, pod);
    /* It is terminating now (the drain finalizer holds it): a second delete is never held. */
    cg_e2e_sh_ok("delete a terminating pod", "kubectl delete pod -n %s %s --wait=false", W.ns, pod);
    remove_finalizers(pod);
    wait_gone(pod);
    free(pod);
}

/* An eviction (kubectl drain's way) of a serving pod: likewise. */
static void test_eviction_held_until_drained(void **state)
{
    NEED_CLUSTER();
    wait_pods(11); /* the ReplicaSet replaced the pod deleted above */
    char *pod = serving_pod();
    char body[512];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"%s\"}}",
             pod, W.ns);
    const char *path = cg_test_path(W.dir, "eviction.json");
    cg_test_write_file(path, body);
    char *out = NULL;
    int rc = cg_e2e_sh(&out, "kubectl create --raw /api/v1/namespaces/%s/pods/%s/eviction -f %s",
                       W.ns, pod, path);
    if (rc == 0 || strstr(out, "(TooManyRequests)") == NULL ||
        strstr(out, "is serving traffic") == NULL)
        fail_msg("eviction of serving pod %s: exit %d, %s", pod, rc, out);
    free(out);
    free(wait_annotation(pod, "cellgate.io/drain-requested"));
    drain_by_hand(pod);
    /* The webhook's cache sees the drained annotation through its watch: retry briefly. */
    double end = cg_e2e_now() + 10;
    while (
        (rc = cg_e2e_sh(&out, "kubectl create --raw /api/v1/namespaces/%s/pods/%s/eviction -f %s",
                        W.ns, pod, path)) != 0 &&
        cg_e2e_now() < end) {
        free(out);
        cg_e2e_sleep_ms(200);
    }
    if (rc != 0)
        fail_msg("eviction of drained pod %s refused: %s", pod, out);
    free(out);
    remove_finalizers(pod);
    wait_gone(pod);
    free(pod);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placement_and_gate),
        cmocka_unit_test(test_delete_held_until_drained),
        cmocka_unit_test(test_eviction_held_until_drained),
    };
    return cg_test_run("e2e cluster", tests, sizeof(tests) / sizeof(tests[0]), group_setup,
                       group_teardown);
}
