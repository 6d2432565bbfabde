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

#include "test_support.h"

extern char **environ;

#define WEBHOOK CG_BINARY_DIR "/cellgate-webhook"
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
    pid_t webhook;
    int port;
    char log[600];
};

static struct world W;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs a shell command line (kubectl mostly), returns its exit code and its output (stdout
 * and stderr together) in *out when out is given (caller frees). */
static int sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(char **out, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char full[8300];
    snprintf(full, sizeof(full), "%s 2>&1", cmd);
    FILE *f = popen(full, "r");
    assert_non_null(f);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[len] = '\0';
    int status = pclose(f);
    if (out != NULL)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs and fails the test with the output when it does not exit 0. */
static void sh_ok(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sh_ok(const char *what, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char *out = NULL;
    int rc = sh(&out, "%s", cmd);
    if (rc != 0)
        fail_msg("%s failed (exit %d): %s\n%s", what, rc, cmd, out);
    free(out);
}

/* kubectl get ... -o json, parsed (new reference), or NULL when kubectl fails. */
static json_t *kget(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *kget(const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    char *out = NULL;
    int rc = sh(&out, "kubectl get %s -o json", args);
    json_t *doc = NULL;
    if (rc == 0) {
        json_error_t jerr;
        /* kubectl may print a version-skew warning before the JSON. */
        const char *brace = strchr(out, '{');
        doc = brace ? json_loads(brace, 0, &jerr) : NULL;
    }
    free(out);
    return doc;
}

static const char *str_at(const json_t *v, const char *const *keys)
{
    for (; *keys != NULL && v != NULL; keys++)
        v = json_object_get(v, *keys);
    return json_string_value(v);
}
#define STR(v, ...) str_at((v), (const char *const[]){__VA_ARGS__, NULL})

/* The kubeconfig to test against: CELLGATE_E2E_KUBECONFIG, else the lab's when it answers. */
static bool find_cluster(char *out, size_t n)
{
    const char *env = getenv("CELLGATE_E2E_KUBECONFIG");
    const char *lab = "/var/tmp/cellgate-lab/admin.kubeconfig";
    const char *path = env && *env ? env : lab;
    if (access(path, R_OK) != 0)
        return false;
    snprintf(out, n, "%s", path);
    setenv("KUBECONFIG", out, 1);
    return sh(NULL, "kubectl get --raw /readyz --request-timeout=5s") == 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

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
    char name[64];
    snprintf(name, sizeof(name), "%s", W.hook);
    sh_ok("create the webhook's ServiceAccount", "kubectl create serviceaccount -n %s %s", W.ns,
          name);
    sh_ok("apply the shipped RBAC",
          "sed -e 's/name: cellgate-webhook/name: %s/' -e 's/namespace: cellgate-system/"
          "namespace: %s/' %s | kubectl apply -f -",
          name, W.ns, RBAC_YAML);
    char *token = NULL;
    assert_int_equal(sh(&token, "kubectl create token -n %s %s --duration=1h", W.ns, name), 0);
    token[strcspn(token, "\n")] = '\0';
    char *server = NULL, *ca = NULL;
    assert_int_equal(sh(&server, "kubectl config view --raw -o "
                                 "jsonpath='{.clusters[0].cluster.server}'"),
                     0);
    assert_int_equal(sh(&ca, "kubectl config view --raw -o "
                             "jsonpath='{.clusters[0].cluster.certificate-authority-data}'"),
                     0);
    size_t cap = strlen(token) + strlen(ca) + 1024;
    char *kc = malloc(cap);
    snprintf(kc, cap,
             "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n"
             "    server: %s\n    certificate-authority-data: %s\n"
             "users:\n- name: webhook\n  user:\n    token: %s\n"
             "contexts:\n- name: webhook\n  context: {cluster: lab, user: webhook}\n"
             "current-context: webhook\n",
             server, ca, token);
    snprintf(W.sa_kubeconfig, sizeof(W.sa_kubeconfig), "%s",
             cg_test_path(W.dir, "webhook.kubeconfig"));
    cg_test_write_file(W.sa_kubeconfig, kc);
    snprintf(W.sa_user, sizeof(W.sa_user), "system:serviceaccount:%s:%s", W.ns, name);
    free(kc);
    free(ca);
    free(server);
    free(token);
}

static void webhook_start(void)
{
    W.port = free_port();
    snprintf(W.log, sizeof(W.log), "%s", cg_test_path(W.dir, "webhook.log"));
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", W.port);
    char cert[600], key[600], pol[600];
    snprintf(cert, sizeof(cert), "%s", cg_test_path(W.dir, "certs/tls.crt"));
    snprintf(key, sizeof(key), "%s", cg_test_path(W.dir, "certs/tls.key"));
    snprintf(pol, sizeof(pol), "%s", cg_test_path(W.dir, "policies"));
    char trusted[400];
    snprintf(trusted, sizeof(trusted), "%s,%s", CONTROLLER, W.sa_user);
    const char *argv[] = {WEBHOOK,
                          "--listen",
                          listen,
                          "--metrics-listen",
                          "off",
                          "--cert",
                          cert,
                          "--key",
                          key,
                          "--policies",
                          pol,
                          "--kubeconfig",
                          W.sa_kubeconfig,
                          "--trusted-users",
                          trusted,
                          "--threads",
                          "2",
                          NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, W.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int rc = posix_spawn(&W.webhook, WEBHOOK, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(rc, 0);
    /* Ready once the certificates, the policies and the first LIST of pods are in. */
    double end = now_s() + WAIT_S;
    while (now_s() < end) {
        if (sh(NULL, "curl -sfk https://127.0.0.1:%d/readyz >/dev/null", W.port) == 0)
            return;
        sleep_ms(100);
    }
    char *log = cg_test_read_file(W.log, NULL);
    fail_msg("the webhook did not get ready; its log:\n%s", log);
}

/* Both webhook configurations, scoped to the test's namespace only. */
static void register_webhooks(void)
{
    char *ca = cg_test_read_file(cg_test_path(W.dir, "certs/ca-bundle.b64"), NULL);
    ca[strcspn(ca, "\n")] = '\0';
    char common[1024];
    snprintf(common, sizeof(common),
             "    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}\n"
             "    sideEffects: NoneOnDryRun\n"
             "    admissionReviewVersions: [v1]\n"
             "    timeoutSeconds: 5\n"
             "    failurePolicy: Fail\n",
             W.ns);
    size_t cap = 16384;
    char *yaml = malloc(cap);
    snprintf(yaml, cap,
             "apiVersion: admissionregistration.k8s.io/v1\n"
             "kind: MutatingWebhookConfiguration\n"
             "metadata: {name: %s}\n"
             "webhooks:\n"
             "  - name: pods.cellgate.io\n"
             "    clientConfig: {url: \"https://127.0.0.1:%d/mutate\", caBundle: %s}\n"
             "    rules: [{operations: [CREATE], apiGroups: [\"\"], apiVersions: [v1], "
             "resources: [pods]}]\n"
             "    reinvocationPolicy: IfNeeded\n%s"
             "  - name: deployments.cellgate.io\n"
             "    clientConfig: {url: \"https://127.0.0.1:%d/mutate\", caBundle: %s}\n"
             "    rules: [{operations: [CREATE, UPDATE], apiGroups: [apps], apiVersions: [v1], "
             "resources: [deployments]}]\n%s"
             "---\n"
             "apiVersion: admissionregistration.k8s.io/v1\n"
             "kind: ValidatingWebhookConfiguration\n"
             "metadata: {name: %s}\n"
             "webhooks:\n"
             "  - name: pods.cellgate.io\n"
             "    clientConfig: {url: \"https://127.0.0.1:%d/validate\", caBundle: %s}\n"
             "    rules: [{operations: [UPDATE, DELETE], apiGroups: [\"\"], apiVersions: [v1], "
             "resources: [pods]}, {operations: [CREATE], apiGroups: [\"\"], apiVersions: [v1], "
             "resources: [pods/eviction]}]\n%s"
             "  - name: deployments.cellgate.io\n"
             "    clientConfig: {url: \"https://127.0.0.1:%d/validate\", caBundle: %s}\n"
             "    rules: [{operations: [CREATE, UPDATE], apiGroups: [apps], apiVersions: [v1], "
             "resources: [deployments]}]\n%s",
             W.hook, W.port, ca, common, W.port, ca, common, W.hook, W.port, ca, common, W.port, ca,
             common);
    const char *path = cg_test_path(W.dir, "webhooks.yaml");
    cg_test_write_file(path, yaml);
    sh_ok("register the webhooks", "kubectl apply -f %s", path);
    free(yaml);
    free(ca);
}

static void unregister_webhooks(void)
{
    sh(NULL, "kubectl delete mutatingwebhookconfiguration %s --ignore-not-found", W.hook);
    sh(NULL, "kubectl delete validatingwebhookconfiguration %s --ignore-not-found", W.hook);
}

static int group_setup(void **state)
{
    memset(&W, 0, sizeof(W));
    if (!find_cluster(W.kubeconfig, sizeof(W.kubeconfig))) {
        W.skip = true;
        return 0;
    }
    W.dir = cg_test_dir_create("cg-e2e-cluster");
    snprintf(W.ns, sizeof(W.ns), "cg-e2e-%d", (int)getpid());
    snprintf(W.hook, sizeof(W.hook), "cellgate-e2e-%d", (int)getpid());
    const char *argv[] = {GEN_CERTS, "-q", "-o", cg_test_path(W.dir, "certs"), NULL};
    assert_int_equal(cg_test_spawn(argv), 0);
    write_policy();
    sh_ok("create the namespace", "kubectl create namespace %s", W.ns);
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
    unregister_webhooks();
    /* Then the finalizers cellgate put on the pods, or the namespace would hang. */
    json_t *pods = kget("pods -n %s", W.ns);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        sh(NULL,
           "kubectl patch pod -n %s %s --type=merge -p '{\"metadata\":{\"finalizers\":null}}'",
           W.ns, STR(p, "metadata", "name"));
    }
    json_decref(pods);
    sh(NULL, "kubectl delete namespace %s --wait=false", W.ns);
    sh(NULL, "kubectl delete clusterrole,clusterrolebinding %s --ignore-not-found", W.hook);
    if (W.webhook > 0) {
        kill(W.webhook, SIGTERM);
        int status;
        waitpid(W.webhook, &status, 0);
    }
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
        if (node && strcmp(STR(n, "metadata", "name"), node) == 0)
            return STR(n, "metadata", "labels", "topology.kubernetes.io/zone");
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
    json_t *nodes = kget("nodes");
    json_t *pods = kget("pods -n %s -l app=web", W.ns);
    assert_non_null(nodes);
    assert_non_null(pods);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        if (json_object_get(json_object_get(p, "metadata"), "deletionTimestamp") != NULL)
            continue;
        c.pods++;
        const char *cell = STR(p, "metadata", "labels", "cellgate.io/cell");
        if (cell && strcmp(cell, "zone-a") == 0)
            c.in_a++;
        if (cell && strcmp(cell, "zone-b") == 0)
            c.in_b++;
        const char *zone = zone_of(nodes, STR(p, "spec", "nodeName"));
        if (cell && zone && strcmp(cell, zone) == 0)
            c.scheduled_in_cell++;
        const char *gate =
            STR(json_array_get(json_object_get(json_object_get(p, "spec"), "readinessGates"), 0),
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
    double end = now_s() + WAIT_S;
    struct census c = {0};
    while (now_s() < end) {
        c = count_pods();
        if (c.pods == pods && c.scheduled_in_cell == pods)
            return c;
        sleep_ms(250);
    }
    fail_msg("want %d pods scheduled in their cells; have %d pods, %d in cell (a %d, b %d)", pods,
             c.pods, c.scheduled_in_cell, c.in_a, c.in_b);
    return c;
}

static void set_traffic(const char *pod, const char *status)
{
    sh_ok("set the traffic condition",
          "kubectl patch pod -n %s %s --subresource=status --type=strategic -p "
          "'{\"status\":{\"conditions\":[{\"type\":\"cellgate.io/traffic-ready\",\"status\":"
          "\"%s\"}]}}'",
          W.ns, pod, status);
}

/* The names of the live pods of app=web (caller frees the array and names). */
static char **pod_names(int *n)
{
    json_t *pods = kget("pods -n %s -l app=web", W.ns);
    assert_non_null(pods);
    size_t i;
    json_t *p;
    char **names = calloc(json_array_size(json_object_get(pods, "items")) + 1, sizeof(char *));
    *n = 0;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        if (json_object_get(json_object_get(p, "metadata"), "deletionTimestamp") == NULL)
            names[(*n)++] = strdup(STR(p, "metadata", "name"));
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
    sh_ok("create the Deployment", "kubectl apply -n %s -f %s", W.ns, path);
    struct census c = wait_pods(10);
    assert_int_equal(c.in_a, 5);
    assert_int_equal(c.in_b, 5);
    assert_int_equal(c.gated, 10);
    assert_int_equal(c.finalized, 10);
    /* Containers are ready (exec probes pass at once) but the gate holds every pod. */
    sleep_ms(3000);
    c = count_pods();
    assert_int_equal(c.ready, 0);

    int n = 0;
    char **names = pod_names(&n);
    for (int i = 0; i < n; i++)
        set_traffic(names[i], "True");
    free_names(names);
    double end = now_s() + WAIT_S;
    while (now_s() < end && (c = count_pods()).ready < 10)
        sleep_ms(250);
    assert_int_equal(c.ready, 10);

    sh_ok("scale to 11", "kubectl scale -n %s deployment/web --replicas=11", W.ns);
    c = wait_pods(11);
    assert_int_equal(c.in_a, 6);
    assert_int_equal(c.in_b, 5);
}

/* One serving pod (Ready, traffic True). */
static char *serving_pod(void)
{
    json_t *pods = kget("pods -n %s -l app=web", W.ns);
    size_t i;
    json_t *p;
    char *name = NULL;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        const char *t = condition(p, "cellgate.io/traffic-ready");
        if (name == NULL && t && strcmp(t, "True") == 0 &&
            json_object_get(json_object_get(p, "metadata"), "deletionTimestamp") == NULL)
            name = strdup(STR(p, "metadata", "name"));
    }
    json_decref(pods);
    assert_non_null(name);
    return name;
}

static char *annotation(const char *pod, const char *key)
{
    json_t *p = kget("pod -n %s %s", W.ns, pod);
    if (p == NULL)
        return NULL;
    const char *v = STR(p, "metadata", "annotations", key);
    char *out = v ? strdup(v) : NULL;
    json_decref(p);
    return out;
}

static char *wait_annotation(const char *pod, const char *key)
{
    double end = now_s() + WAIT_S;
    while (now_s() < end) {
        char *v = annotation(pod, key);
        if (v != NULL)
            return v;
        sleep_ms(200);
    }
    fail_msg("pod %s never got the annotation %s", pod, key);
    return NULL;
}

/* The controller's part, done by hand as the controller's identity: traffic off, drained.
 * (Impersonation: the admin may act as any user; system:masters lends the permissions.) */
static void drain_by_hand(const char *pod)
{
    set_traffic(pod, "False");
    sh_ok("annotate drained as the controller",
          "kubectl annotate pod -n %s %s cellgate.io/drained=true --as=" CONTROLLER
          " --as-group=system:masters",
          W.ns, pod);
}

static void wait_gone(const char *pod)
{
    double end = now_s() + WAIT_S;
    while (now_s() < end) {
        json_t *p = kget("pod -n %s %s", W.ns, pod);
        if (p == NULL)
            return;
        json_decref(p);
        sleep_ms(200);
    }
    fail_msg("pod %s is still there", pod);
}

static void remove_finalizers(const char *pod)
{
    sh_ok("remove the finalizers",
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
    int rc = sh(&out, "kubectl delete pod -n %s %s --wait=false", W.ns, pod);
    if (rc == 0 || strstr(out, "(TooManyRequests)") == NULL ||
        strstr(out, "is serving traffic") == NULL || strstr(out, "retry") == NULL)
        fail_msg("delete of serving pod %s: exit %d, %s", pod, rc, out);
    free(out);
    char *requested = wait_annotation(pod, "cellgate.io/drain-requested");
    assert_true(strlen(requested) >= 20); /* an RFC 3339 time */
    free(requested);
    /* Nobody but cellgate fakes a drain: the admin's own annotation is refused. */
    rc = sh(&out, "kubectl annotate pod -n %s %s cellgate.io/drained=true", W.ns, pod);
    if (rc == 0 || strstr(out, "may not change cellgate.io/drained") == NULL)
        fail_msg("the admin marked a serving pod drained: exit %d, %s", rc, out);
    free(out);

    drain_by_hand(pod);
    sh_ok("delete once drained", "kubectl delete pod -n %s %s --wait=false", W.ns, pod);
    /* It is terminating now (the drain finalizer holds it): a second delete is never held. */
    sh_ok("delete a terminating pod", "kubectl delete pod -n %s %s --wait=false", W.ns, pod);
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
    int rc = sh(&out, "kubectl create --raw /api/v1/namespaces/%s/pods/%s/eviction -f %s", W.ns,
                pod, path);
    if (rc == 0 || strstr(out, "(TooManyRequests)") == NULL ||
        strstr(out, "is serving traffic") == NULL)
        fail_msg("eviction of serving pod %s: exit %d, %s", pod, rc, out);
    free(out);
    free(wait_annotation(pod, "cellgate.io/drain-requested"));
    drain_by_hand(pod);
    /* The webhook's cache sees the drained annotation through its watch: retry briefly. */
    double end = now_s() + 10;
    while ((rc = sh(&out, "kubectl create --raw /api/v1/namespaces/%s/pods/%s/eviction -f %s", W.ns,
                    pod, path)) != 0 &&
           now_s() < end) {
        free(out);
        sleep_ms(200);
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
