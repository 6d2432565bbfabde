/* manifests/ against a real Kubernetes API server (the lab's 1.26, or CELLGATE_E2E_KUBECONFIG):
 *
 *  1. `kubectl apply --dry-run=server -k manifests/`: every object valid for the server (its
 *     namespace created first when missing: a server-side dry run cannot create it for the
 *     objects after it; removed again only if this test created it).
 *  2. The RBAC and both webhook configurations really applied, into a scratch namespace
 *     (cluster-scoped names prefixed with it), read back with `kubectl get -o json` and
 *     compared: every field the manifests set comes back unchanged, and the invariants
 *     test_manifests asserts hold on what the server stored; the service accounts get exactly
 *     the access the manifests grant (`kubectl auth can-i`).
 *  3. Everything deleted, the webhook configurations first.
 *  4. `cellgate uninstall` on a stand-in installation in a second scratch namespace (webhook
 *     configurations that fail open and match configmaps there only, a controller Deployment
 *     of 0 replicas, a placed pod holding two drain finalizers and one of someone else's):
 *     it deletes in that order and leaves only the other finalizer.
 *
 * The registered webhook configurations can never block the cluster: their namespaceSelector
 * is replaced by one that matches the scratch namespace only (in which nothing is created),
 * and cleanup deletes them before anything else, also when a test fails half-way.
 * Skipped with the reason when there is no cluster or no kubectl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "test_support.h"

#define MANIFESTS CG_SOURCE_DIR "/manifests"
#define HOME_NS "cellgate-system"

static char skip_why[512];
static char kubectl[1200]; /* "kubectl --kubeconfig X" */
static char scratch[64];   /* the scratch namespace, also the prefix of cluster-scoped names */
static char work[600];     /* files of this run */
static json_t *applied;    /* the objects applied in step 2, as sent */
static bool webhooks_registered;

/* Runs a shell command; its exit status, and its output (stdout and stderr) in out. */
static int sh(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char scratch_buf[256];
    if (out == NULL) {
        out = scratch_buf;
        outlen = sizeof(scratch_buf);
    }
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    while (fread(scratch_buf, 1, sizeof(scratch_buf), p) > 0)
        ;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *v = json_load_file(path, 0, &e);
    if (v == NULL)
        fail_msg("%s: %s", path, e.text);
    return v;
}

/* Objects written one after another (kubectl create -o json of several), as an array. */
static json_t *load_stream(const char *path)
{
    size_t len;
    char *text = cg_test_read_file(path, &len);
    json_t *items = json_array();
    size_t off = 0;
    while (off < len) {
        while (off < len && (text[off] == ' ' || text[off] == '\n' || text[off] == '\t'))
            off++;
        if (off == len)
            break;
        json_error_t e;
        json_t *v = json_loadb(text + off, len - off, JSON_DISABLE_EOF_CHECK, &e);
        if (v == NULL)
            fail_msg("%s: %s", path, e.text);
        if (json_is_array(json_object_get(v, "items")))
            json_array_extend(items, json_object_get(v, "items"));
        else
            json_array_append(items, v);
        json_decref(v);
        off += (size_t)e.position;
    }
    free(text);
    return items;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static bool cluster_scoped(const char *kind)
{
    return strcmp(kind, "ClusterRole") == 0 || strcmp(kind, "ClusterRoleBinding") == 0 ||
           strcmp(kind, "MutatingWebhookConfiguration") == 0 ||
           strcmp(kind, "ValidatingWebhookConfiguration") == 0;
}

static bool is_webhooks(const char *kind)
{
    return strcmp(kind, "MutatingWebhookConfiguration") == 0 ||
           strcmp(kind, "ValidatingWebhookConfiguration") == 0;
}

static char uscratch[80]; /* the namespace of the uninstall test */

/* Deletes what step 2 created: webhook configurations first, then the rest. */
static void cleanup(void)
{
    char out[4096];
    if (scratch[0] == '\0')
        return;
    if (uscratch[0] != '\0') { /* the uninstall test's, if it failed half-way */
        sh(out, sizeof(out),
           "%s delete mutatingwebhookconfiguration,validatingwebhookconfiguration %s-hooks "
           "--ignore-not-found",
           kubectl, uscratch);
        sh(out, sizeof(out),
           "%s -n %s patch pod placed --type=merge -p '{\"metadata\":{\"finalizers\":null}}'",
           kubectl, uscratch);
        sh(out, sizeof(out), "%s delete namespace %s --ignore-not-found --wait=false", kubectl,
           uscratch);
    }
    static const char *const order[] = {"mutatingwebhookconfiguration",
                                        "validatingwebhookconfiguration", "clusterrolebinding",
                                        "clusterrole"};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        /* every object of that kind whose name carries the scratch prefix */
        sh(out, sizeof(out),
           "%s get %s -o name | grep '/%s-' | xargs -r %s delete --ignore-not-found --wait=true",
           kubectl, order[i], scratch, kubectl);
        if (i == 1)
            webhooks_registered = false;
    }
    sh(out, sizeof(out), "%s delete namespace %s --ignore-not-found --wait=false", kubectl,
       scratch);
}

static int group_setup(void **state)
{
    (void)state;
    const char *kc = cg_test_cluster_kubeconfig();
    if (kc == NULL) {
        snprintf(skip_why, sizeof(skip_why), "%s", CG_TEST_KUBE_SKIP_MSG);
        return 0;
    }
    if (sh(NULL, 0, "command -v kubectl") != 0) {
        snprintf(skip_why, sizeof(skip_why),
                 "kubectl is not installed; the manifests test needs it");
        return 0;
    }
    snprintf(kubectl, sizeof(kubectl), "kubectl --kubeconfig '%s'", kc);
    snprintf(scratch, sizeof(scratch), "cg-e2e-manifests-%d", (int)getpid());
    snprintf(work, sizeof(work), "%s/e2e-manifests", CG_BINARY_DIR);
    char out[4096];
    if (sh(out, sizeof(out), "rm -rf %s && mkdir -p %s", work, work) != 0) {
        fprintf(stderr, "%s\n", out);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cleanup();
    json_decref(applied);
    applied = NULL;
    return 0;
}

#define NEED_CLUSTER()                                                                             \
    do {                                                                                           \
        if (skip_why[0] != '\0')                                                                   \
            CG_TEST_SKIP(skip_why);                                                                \
    } while (0)

/* 1. Every object of manifests/ is valid for the API server. */
static void server_dry_run(void **state)
{
    (void)state;
    NEED_CLUSTER();
    static char out[65536];
    bool created = false;
    if (sh(out, sizeof(out), "%s get namespace %s", kubectl, HOME_NS) != 0) {
        assert_int_equal(sh(out, sizeof(out), "%s create namespace %s", kubectl, HOME_NS), 0);
        created = true;
    }
    int rc = sh(out, sizeof(out), "%s apply --dry-run=server -k %s", kubectl, MANIFESTS);
    if (created)
        sh(NULL, 0, "%s delete namespace %s --wait=false", kubectl, HOME_NS);
    fprintf(stderr, "%s", out);
    if (rc != 0)
        fail_msg("kubectl apply --dry-run=server -k manifests/ failed (%d):\n%s", rc, out);
    /* one line per object, each through the server */
    static const char *const objects[] = {
        "namespace/cellgate-system",
        "serviceaccount/cellgate-webhook",
        "serviceaccount/cellgate-controller",
        "clusterrole.rbac.authorization.k8s.io/cellgate-webhook",
        "clusterrolebinding.rbac.authorization.k8s.io/cellgate-webhook",
        "configmap/cellgate-policies",
        "service/cellgate-webhook",
        "deployment.apps/cellgate-webhook",
        "deployment.apps/cellgate-controller",
        "poddisruptionbudget.policy/cellgate-webhook",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/cellgate-webhook",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/cellgate-webhook",
    };
    for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
        if (strstr(out, objects[i]) == NULL)
            fail_msg("%s is not in the dry run's output", objects[i]);
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n"))
        if (strncmp(line, "Warning:", 8) != 0 && strstr(line, "(server dry run)") == NULL)
            fail_msg("not a server dry run: %s", line);
}

/* The RBAC and webhook objects of manifests/, moved into the scratch namespace; the webhooks
 * scoped to it alone. */
static json_t *scratch_objects(void)
{
    char built[700], list[700];
    snprintf(built, sizeof(built), "%s/built.yaml", work);
    snprintf(list, sizeof(list), "%s/built.json", work);
    static char out[16384];
    if (sh(out, sizeof(out),
           "%s kustomize %s > %s && %s create --dry-run=client -o json -f %s > %s", kubectl,
           MANIFESTS, built, kubectl, built, list) != 0)
        fail_msg("cannot build manifests/: %s", out);
    json_t *all = load_stream(list);
    json_t *keep = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o)
    {
        const char *kind = str(o, "kind");
        static const char *const kinds[] = {"ServiceAccount",
                                            "Role",
                                            "RoleBinding",
                                            "ClusterRole",
                                            "ClusterRoleBinding",
                                            "MutatingWebhookConfiguration",
                                            "ValidatingWebhookConfiguration",
                                            NULL};
        const char *const *k = kinds;
        while (*k && strcmp(*k, kind) != 0)
            k++;
        if (*k == NULL)
            continue;
        json_t *c = json_deep_copy(o);
        json_t *meta = json_object_get(c, "metadata");
        char name[300];
        if (cluster_scoped(kind)) {
            snprintf(name, sizeof(name), "%s-%s", scratch, str(meta, "name"));
            json_object_set_new(meta, "name", json_string(name));
        } else {
            json_object_set_new(meta, "namespace", json_string(scratch));
        }
        json_t *annotations = json_object_get(meta, "annotations");
        json_object_del(annotations, "cert-manager.io/inject-ca-from");
        if (strcmp(kind, "ClusterRoleBinding") == 0) {
            json_t *ref = json_object_get(c, "roleRef");
            snprintf(name, sizeof(name), "%s-%s", scratch, str(ref, "name"));
            json_object_set_new(ref, "name", json_string(name));
        }
        if (strcmp(kind, "ClusterRoleBinding") == 0 || strcmp(kind, "RoleBinding") == 0) {
            size_t j;
            json_t *s;
            json_array_foreach(json_object_get(c, "subjects"), j, s)
            {
                if (json_object_get(s, "namespace") != NULL)
                    json_object_set_new(s, "namespace", json_string(scratch));
            }
        }
        if (is_webhooks(kind)) {
            size_t j;
            json_t *w;
            json_array_foreach(json_object_get(c, "webhooks"), j, w)
            {
                json_object_set_new(json_object_get(json_object_get(w, "clientConfig"), "service"),
                                    "namespace", json_string(scratch));
                json_object_set_new(
                    w, "namespaceSelector",
                    json_pack("{s:{s:s}}", "matchLabels", "kubernetes.io/metadata.name", scratch));
            }
        }
        json_array_append_new(keep, c);
    }
    json_decref(all);
    return keep;
}

/* Every key and value of want is in got (arrays element by element); path names the spot. */
static void assert_subset(const json_t *want, const json_t *got, const char *path)
{
    if (json_is_object(want)) {
        if (!json_is_object(got))
            fail_msg("%s: the server has no object here", path);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)want, k, v)
        {
            char sub[512];
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            json_t *g = json_object_get(got, k);
            if (g == NULL)
                fail_msg("%s: set in manifests/, missing on the server", sub);
            assert_subset(v, g, sub);
        }
        return;
    }
    if (json_is_array(want)) {
        if (!json_is_array(got) || json_array_size(got) != json_array_size(want))
            fail_msg("%s: the server holds %zu items, manifests/ %zu", path, json_array_size(got),
                     json_array_size(want));
        for (size_t i = 0; i < json_array_size(want); i++) {
            char sub[512];
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            assert_subset(json_array_get(want, i), json_array_get(got, i), sub);
        }
        return;
    }
    if (!json_equal((json_t *)want, (json_t *)got)) {
        char *w = json_dumps(want, JSON_ENCODE_ANY), *g = json_dumps(got, JSON_ENCODE_ANY);
        fail_msg("%s: manifests/ say %s, the server holds %s", path, w, g);
    }
}

/* What test_manifests asserts of each webhook, checked on what the server stored. */
static void assert_webhook_invariants(const char *kind, const json_t *w)
{
    const char *name = str(w, "name");
    json_t *versions = json_object_get(w, "admissionReviewVersions");
    if (json_array_size(versions) != 1 ||
        strcmp(json_string_value(json_array_get(versions, 0)), "v1"))
        fail_msg("%s: admissionReviewVersions is not [v1]", name);
    if (strcmp(str(w, "sideEffects"), "NoneOnDryRun") != 0)
        fail_msg("%s: sideEffects is %s", name, str(w, "sideEffects"));
    json_int_t timeout = json_integer_value(json_object_get(w, "timeoutSeconds"));
    if (timeout < 1 || timeout > 10)
        fail_msg("%s: timeoutSeconds %lld is not small", name, (long long)timeout);
    if (strcmp(str(w, "matchPolicy"), "Equivalent") != 0)
        fail_msg("%s: matchPolicy is %s", name, str(w, "matchPolicy"));
    const char *fp = str(w, "failurePolicy");
    bool pods_validate = strcmp(name, "pods.validate.cellgate.io") == 0;
    if (strcmp(fp, pods_validate ? "Ignore" : "Fail") != 0)
        fail_msg("%s: failurePolicy is %s", name, fp);
    if (strcmp(kind, "MutatingWebhookConfiguration") == 0 &&
        strcmp(str(w, "reinvocationPolicy"), "IfNeeded") != 0)
        fail_msg("%s: reinvocationPolicy is %s", name, str(w, "reinvocationPolicy"));
    /* registered here, it matches only the scratch namespace */
    const json_t *sel = json_object_get(json_object_get(w, "namespaceSelector"), "matchLabels");
    if (json_object_size(sel) != 1 || strcmp(str(sel, "kubernetes.io/metadata.name"), scratch) != 0)
        fail_msg("%s: the test's webhook is not scoped to %s", name, scratch);
}

/* 2 and 3. */
static void apply_compare_delete(void **state)
{
    (void)state;
    NEED_CLUSTER();
    static char out[65536];
    applied = scratch_objects();
    char path[700];
    snprintf(path, sizeof(path), "%s/apply.json", work);
    json_t *list =
        json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "List", "items", applied);
    assert_int_equal(json_dump_file(list, path, JSON_INDENT(1)), 0);
    json_decref(list);

    assert_int_equal(sh(out, sizeof(out), "%s create namespace %s", kubectl, scratch), 0);
    webhooks_registered = true; /* from here cleanup deletes them whatever happens */
    int rc = sh(out, sizeof(out), "%s apply -f %s", kubectl, path);
    fprintf(stderr, "%s", out);
    if (rc != 0)
        fail_msg("kubectl apply of the RBAC and webhook configurations failed:\n%s", out);

    size_t i;
    json_t *o;
    size_t webhooks = 0, roles = 0;
    json_array_foreach(applied, i, o)
    {
        const char *kind = str(o, "kind");
        const json_t *meta = json_object_get(o, "metadata");
        char file[700];
        snprintf(file, sizeof(file), "%s/got-%zu.json", work, i);
        if (cluster_scoped(kind))
            rc = sh(out, sizeof(out), "%s get %s %s -o json > %s", kubectl, kind, str(meta, "name"),
                    file);
        else
            rc = sh(out, sizeof(out), "%s -n %s get %s %s -o json > %s", kubectl, scratch, kind,
                    str(meta, "name"), file);
        if (rc != 0)
            fail_msg("kubectl get %s %s: %s", kind, str(meta, "name"), out);
        json_t *got = load_json(file);
        char where[300];
        snprintf(where, sizeof(where), "%s/%s", kind, str(meta, "name"));
        /* metadata: the server adds uid, resourceVersion, ...; labels and annotations stay */
        assert_subset(json_object_get(meta, "labels"),
                      json_object_get(json_object_get(got, "metadata"), "labels"), where);
        if (is_webhooks(kind)) {
            assert_subset(json_object_get(o, "webhooks"), json_object_get(got, "webhooks"), where);
            size_t j;
            json_t *w;
            json_array_foreach(json_object_get(got, "webhooks"), j, w)
            {
                assert_webhook_invariants(kind, w);
                webhooks++;
            }
        } else if (strstr(kind, "Role") != NULL) {
            if (strstr(kind, "Binding") != NULL) {
                assert_subset(json_object_get(o, "roleRef"), json_object_get(got, "roleRef"),
                              where);
                assert_subset(json_object_get(o, "subjects"), json_object_get(got, "subjects"),
                              where);
            } else {
                assert_subset(json_object_get(o, "rules"), json_object_get(got, "rules"), where);
                roles++;
            }
        }
        json_decref(got);
    }
    assert_int_equal(webhooks, 4);
    assert_true(roles >= 2);

    /* The access the bindings grant, as the API server's authorizer sees it. */
    static const struct {
        const char *sa, *verb, *resource;
        bool allowed;
    } access[] = {
        {"cellgate-webhook", "watch", "pods", true},
        {"cellgate-webhook", "patch", "pods", true},
        {"cellgate-webhook", "delete", "pods", false},
        {"cellgate-webhook", "get", "secrets", false},
        {"cellgate-controller", "watch", "deployments.apps", true},
        {"cellgate-controller", "create", "secrets", false},
        {"cellgate-controller", "delete", "deployments.apps", false},
    };
    for (size_t k = 0; k < sizeof(access) / sizeof(access[0]); k++) {
        sh(out, sizeof(out),
           "%s auth can-i %s %s --all-namespaces --as system:serviceaccount:%s:%s", kubectl,
           access[k].verb, access[k].resource, scratch, access[k].sa);
        bool yes = strncmp(out, "yes", 3) == 0;
        if (yes != access[k].allowed)
            fail_msg("%s may %s%s %s: kubectl auth can-i says %s", access[k].sa,
                     access[k].allowed ? "" : "not ", access[k].verb, access[k].resource, out);
    }

    /* 3. Deleted again, the webhook configurations first; nothing of ours is left. */
    cleanup();
    assert_false(webhooks_registered);
    sh(out, sizeof(out),
       "%s get mutatingwebhookconfigurations,validatingwebhookconfigurations,clusterroles,"
       "clusterrolebindings -o name | grep '/%s-' || true",
       kubectl, scratch);
    if (out[0] != '\0')
        fail_msg("left behind: %s", out);
}

/* 4. */
static void uninstall_in_order(void **state)
{
    (void)state;
    NEED_CLUSTER();
    static char out[65536];
    snprintf(uscratch, sizeof(uscratch), "%s-u", scratch);
    char file[700];
    snprintf(file, sizeof(file), "%s/uninstall.yaml", work);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f,
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cellgate-controller, "
            "namespace: %s}\n"
            "spec:\n  replicas: 0\n  selector: {matchLabels: {app: c}}\n"
            "  template:\n    metadata: {labels: {app: c}}\n"
            "    spec: {containers: [{name: c, image: pause}]}\n"
            "---\n"
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: placed\n  namespace: %s\n"
            "  labels: {cellgate.io/cell: zone-a}\n"
            "  finalizers: [cellgate.io/drain-service, example.com/keep, cellgate.io/drain-lb]\n"
            "spec: {containers: [{name: c, image: pause}]}\n",
            uscratch, uscratch);
    for (int m = 0; m < 2; m++)
        fprintf(f,
                "---\n"
                "apiVersion: admissionregistration.k8s.io/v1\nkind: %s\n"
                "metadata: {name: %s-hooks}\n"
                "webhooks:\n"
                "  - name: configmaps.test.cellgate.io\n"
                "    admissionReviewVersions: [v1]\n    sideEffects: None\n"
                "    failurePolicy: Ignore\n    timeoutSeconds: 1\n"
                "    clientConfig: {service: {name: nobody, namespace: %s, path: /x}}\n"
                "    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}\n"
                "    rules: [{apiGroups: [\"\"], apiVersions: [v1], resources: [configmaps], "
                "operations: [CREATE]}]\n",
                m ? "ValidatingWebhookConfiguration" : "MutatingWebhookConfiguration", uscratch,
                uscratch, uscratch);
    fclose(f);
    assert_int_equal(sh(out, sizeof(out), "%s create namespace %s", kubectl, uscratch), 0);
    if (sh(out, sizeof(out), "%s apply -f %s", kubectl, file) != 0)
        fail_msg("cannot set up the stand-in installation:\n%s", out);

    const char *kc = cg_test_cluster_kubeconfig();
    int rc = sh(out, sizeof(out),
                "%s/cellgate uninstall --kubeconfig '%s' --namespace %s --webhook-configuration "
                "%s-hooks --pods-namespace %s",
                CG_BINARY_DIR, kc, uscratch, uscratch, uscratch);
    fprintf(stderr, "%s", out);
    if (rc != 0)
        fail_msg("cellgate uninstall exited %d", rc);
    char want[4][300];
    snprintf(want[0], sizeof(want[0]), "deleted MutatingWebhookConfiguration %s-hooks\n", uscratch);
    snprintf(want[1], sizeof(want[1]), "deleted ValidatingWebhookConfiguration %s-hooks\n",
             uscratch);
    snprintf(want[2], sizeof(want[2]), "deleted Deployment %s/cellgate-controller\n", uscratch);
    snprintf(want[3], sizeof(want[3]), "removed 2 drain finalizers from pod %s/placed\n", uscratch);
    const char *last = out;
    for (int i = 0; i < 4; i++) {
        const char *at = strstr(out, want[i]);
        if (at == NULL || at < last)
            fail_msg("\"%s\" missing or out of order in:\n%s", want[i], out);
        last = at;
    }
    /* what is left: the other finalizer only; no webhook configuration */
    assert_int_equal(sh(out, sizeof(out),
                        "%s -n %s get pod placed -o jsonpath='{.metadata.finalizers}'", kubectl,
                        uscratch),
                     0);
    assert_string_equal(out, "[\"example.com/keep\"]");
    assert_int_not_equal(
        sh(out, sizeof(out), "%s get mutatingwebhookconfiguration %s-hooks", kubectl, uscratch), 0);
    /* and a second run finds nothing to do */
    rc = sh(out, sizeof(out),
            "%s/cellgate uninstall --kubeconfig '%s' --namespace %s --webhook-configuration "
            "%s-hooks --pods-namespace %s",
            CG_BINARY_DIR, kc, uscratch, uscratch, uscratch);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "-hooks: not there\n"));
    assert_non_null(strstr(out, "0 removed from 0 of the 1 pods cellgate placed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_dry_run),
        cmocka_unit_test(apply_compare_delete),
        cmocka_unit_test(uninstall_in_order),
    };
    return cg_test_run("e2e manifests", tests, sizeof(tests) / sizeof(tests[0]), group_setup,
                       group_teardown);
}
