/* `cellgate uninstall`: removes cellgate from a cluster in the only safe order, through the
 * project's API client (webhook/kube/), and says what it did:
 *
 *   1. the Mutating- and ValidatingWebhookConfigurations: left behind with nothing answering,
 *      a failurePolicy: Fail hook blocks every write it matches;
 *   2. the cellgate-controller Deployment, so nothing acts on releases any more;
 *   3. the cellgate.io/drain-* finalizers on the pods cellgate placed (label cellgate.io/cell):
 *      without a controller to clear them, every such pod, and so its namespace, would hang
 *      in deletion forever.
 *
 * What is left (the webhook Deployment, Service, RBAC, the namespace) goes with
 * `kubectl delete -k manifests/`, which the command prints. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli_internal.h"
#include "kube/kube.h"

struct uninstall_opts {
    struct cg__cli_cluster_opts cluster;
    const char *namespace_, *webhook_config, *controller, *pods_namespace;
    bool dry_run;
};

#define OPT(f) offsetof(struct uninstall_opts, f)
static const struct cg__cli_flag uninstall_flags[] = {
    {"kubeconfig", 0, CG_CLI_VALUE, OPT(cluster.kubeconfig), "FILE",
     "the cluster's kubeconfig (default $KUBECONFIG, then ~/.kube/config)", false, "file"},
    {"context", 0, CG_CLI_VALUE, OPT(cluster.context), "NAME", "a context of it (default: current)",
     false, NULL},
    {"namespace", 'n', CG_CLI_VALUE, OPT(namespace_), "NS",
     "where cellgate runs (default cellgate-system)", false, NULL},
    {"webhook-configuration", 0, CG_CLI_VALUE, OPT(webhook_config), "NAME",
     "the name of both webhook configurations (default cellgate-webhook)", false, NULL},
    {"controller", 0, CG_CLI_VALUE, OPT(controller), "NAME",
     "the controller's Deployment (default cellgate-controller)", false, NULL},
    {"pods-namespace", 0, CG_CLI_VALUE, OPT(pods_namespace), "NS",
     "clear finalizers only in this namespace (default: all)", false, NULL},
    {"dry-run", 0, CG_CLI_SWITCH, OPT(dry_run), NULL, "say what it would do, change nothing", false,
     NULL},
};
#undef OPT

const struct cg__cli_command cg__cli_uninstall_command = {
    "uninstall",
    "[--kubeconfig FILE] [options]",
    "Removes cellgate from a cluster in the safe order: the webhook configurations first, then\n"
    "the controller, then the cellgate.io/drain-* finalizers left on pods. Prints each step.\n"
    "Exit status: 0 done, 1 a step failed (the steps before it stay done), 2 a usage error.",
    uninstall_flags,
    sizeof(uninstall_flags) / sizeof(uninstall_flags[0]),
    NULL,
    0,
    0,
    NULL,
};

struct run {
    struct uninstall_opts o;
    struct cg_kube_client *client;
    FILE *out, *err;
    size_t pods_seen, pods_cleared, finalizers_cleared;
    int failures;
};

/* DELETE of one object; a 404 is "not there". */
static void delete_one(struct run *r, const char *api, const char *ns, const char *resource,
                       const char *name, const char *what)
{
    if (r->o.dry_run) {
        fprintf(r->out, "would delete %s %s%s%s\n", what, ns ? ns : "", ns ? "/" : "", name);
        return;
    }
    struct cg_buf path;
    cg_buf_init(&path, 0);
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    struct cg_err e;
    cg_err_clear(&e);
    enum cg_status st = cg_kube_path(&path, api, ns, resource, name, NULL);
    if (st == CG_OK) {
        static const char body[] = "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
                                   "\"propagationPolicy\":\"Foreground\"}";
        st = cg_kube_request(r->client, CG_KUBE_DELETE, path.data, body, sizeof(body) - 1, &resp,
                             &e);
    }
    if (st == CG_OK && resp.code / 100 == 2)
        fprintf(r->out, "deleted %s %s%s%s\n", what, ns ? ns : "", ns ? "/" : "", name);
    else if (resp.reason == CG_KUBE_NOT_FOUND)
        fprintf(r->out, "%s %s%s%s: not there\n", what, ns ? ns : "", ns ? "/" : "", name);
    else {
        fprintf(r->err, "cellgate uninstall: delete %s %s: %s (HTTP %ld)\n", what, name,
                e.msg[0] ? e.msg : cg_kube_reason_str(resp.reason), resp.code);
        r->failures++;
    }
    cg_kube_response_dispose(&resp);
    cg_buf_dispose(&path);
}

static bool ours(const char *finalizer)
{
    return strncmp(finalizer, "cellgate.io/drain-", 18) == 0;
}

/* Removes cellgate's finalizers from one pod: a JSON patch that tests the list it read, so a
 * finalizer someone added meanwhile is never dropped (a failed test is re-read and retried). */
static void clear_pod(struct run *r, const char *ns, const char *name, json_t *finalizers)
{
    json_incref(finalizers);
    for (int attempt = 0; attempt < 5; attempt++) {
        json_t *keep = json_array();
        size_t i, n = 0;
        json_t *f;
        json_array_foreach(finalizers, i, f)
        {
            if (json_is_string(f) && ours(json_string_value(f)))
                n++;
            else
                json_array_append(keep, f);
        }
        if (n == 0) {
            json_decref(keep);
            break;
        }
        if (r->o.dry_run) {
            fprintf(r->out, "would remove %zu drain finalizer%s from pod %s/%s\n", n,
                    n == 1 ? "" : "s", ns, name);
            r->pods_cleared++;
            r->finalizers_cleared += n;
            json_decref(keep);
            break;
        }
        json_t *patch = json_pack("[{s:s, s:s, s:O}, {s:s, s:s, s:o}]", "op", "test", "path",
                                  "/metadata/finalizers", "value", finalizers, "op", "replace",
                                  "path", "/metadata/finalizers", "value", keep);
        char *body = json_dumps(patch, JSON_COMPACT);
        json_decref(patch);
        struct cg_buf path;
        cg_buf_init(&path, 0);
        struct cg_kube_response resp;
        cg_kube_response_init(&resp);
        struct cg_err e;
        cg_err_clear(&e);
        enum cg_status st = cg_kube_path(&path, "v1", ns, "pods", name, NULL);
        if (st == CG_OK)
            st = cg_kube_request(r->client, CG_KUBE_PATCH_JSON, path.data, body, strlen(body),
                                 &resp, &e);
        cg__cli_jfree(body);
        bool done = st == CG_OK && resp.code / 100 == 2;
        bool gone = resp.reason == CG_KUBE_NOT_FOUND;
        bool retry = !done && !gone && (resp.code == 422 || resp.code == 409);
        if (retry) { /* the list changed: read it again */
            cg_kube_response_init(&resp);
            json_decref(finalizers);
            finalizers = NULL;
            if (cg_kube_get(r->client, "v1", ns, "pods", name, &resp, &e) == CG_OK &&
                resp.code == 200) {
                json_t *pod = json_loadb(resp.body.data, resp.body.len, 0, NULL);
                finalizers =
                    json_incref(json_object_get(json_object_get(pod, "metadata"), "finalizers"));
                json_decref(pod);
            }
        }
        if (done) {
            fprintf(r->out, "removed %zu drain finalizer%s from pod %s/%s\n", n, n == 1 ? "" : "s",
                    ns, name);
            r->pods_cleared++;
            r->finalizers_cleared += n;
        } else if (!retry && !gone) {
            fprintf(r->err, "cellgate uninstall: pod %s/%s: %s (HTTP %ld)\n", ns, name,
                    e.msg[0] ? e.msg : cg_kube_reason_str(resp.reason), resp.code);
            r->failures++;
        }
        cg_kube_response_dispose(&resp);
        cg_buf_dispose(&path);
        if (!retry || finalizers == NULL)
            break;
    }
    json_decref(finalizers);
}

static bool on_pod(void *ud, const char *text, size_t len)
{
    struct run *r = ud;
    json_t *pod = json_loadb(text, len, 0, NULL);
    json_t *meta = json_object_get(pod, "metadata");
    json_t *finalizers = json_object_get(meta, "finalizers");
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    r->pods_seen++;
    if (ns != NULL && name != NULL && json_is_array(finalizers))
        clear_pod(r, ns, name, finalizers);
    json_decref(pod);
    return true;
}

static void clear_finalizers(struct run *r)
{
    struct cg_buf path;
    cg_buf_init(&path, 0);
    struct cg_err e;
    cg_err_clear(&e);
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    struct cg_kube_list_options lo = {.label_selector = "cellgate.io/cell"};
    enum cg_status st = cg_kube_path(&path, "v1", r->o.pods_namespace, "pods", NULL, NULL);
    if (st == CG_OK)
        st = cg_kube_list(r->client, path.data, &lo, on_pod, r, NULL, &resp, &e);
    if (st != CG_OK) {
        fprintf(r->err, "cellgate uninstall: list pods: %s\n",
                e.msg[0] ? e.msg : cg_kube_reason_str(resp.reason));
        r->failures++;
    }
    fprintf(r->out, "drain finalizers: %zu %s from %zu of the %zu pods cellgate placed\n",
            r->finalizers_cleared, r->o.dry_run ? "would be removed" : "removed", r->pods_cleared,
            r->pods_seen);
    cg_kube_response_dispose(&resp);
    cg_buf_dispose(&path);
}

int cg__cli_uninstall(int argc, char **argv, FILE *out, FILE *err)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    r.out = out;
    r.err = err;
    struct cg__cli_list pos;
    int rc = cg__cli_args_parse(&cg__cli_uninstall_command, argc, argv, &r.o, &pos, out, err);
    if (rc >= 0)
        return rc;
    const char *ns = r.o.namespace_ ? r.o.namespace_ : "cellgate-system";
    const char *hooks = r.o.webhook_config ? r.o.webhook_config : "cellgate-webhook";
    const char *controller = r.o.controller ? r.o.controller : "cellgate-controller";
    struct cg_kube_config *cfg = NULL;
    rc = cg__cli_connect("uninstall", &r.o.cluster, err, &cfg, &r.client);
    if (rc != 0)
        goto out;
    rc = 1;
    fprintf(out, "cluster %s%s\n", cfg->server,
            r.o.dry_run ? " (dry run: nothing is changed)" : "");
    /* 1. nothing may call a webhook that is about to go away */
    delete_one(&r, "admissionregistration.k8s.io/v1", NULL, "mutatingwebhookconfigurations", hooks,
               "MutatingWebhookConfiguration");
    delete_one(&r, "admissionregistration.k8s.io/v1", NULL, "validatingwebhookconfigurations",
               hooks, "ValidatingWebhookConfiguration");
    if (r.failures) {
        fprintf(err, "cellgate uninstall: stopped: the webhook configurations must go first\n");
        goto out;
    }
    /* 2. nothing acts on releases any more */
    delete_one(&r, "apps/v1", ns, "deployments", controller, "Deployment");
    /* 3. nothing would ever clear these */
    clear_finalizers(&r);
    fprintf(out,
            "the rest (webhook Deployment, Service, RBAC, namespace %s): kubectl delete -k "
            "manifests/\n",
            ns);
    rc = r.failures ? 1 : 0;
out:
    cg_kube_client_destroy(r.client);
    cg_kube_config_destroy(cfg);
    return rc;
}
