/* The AdmissionReview the API server would send for a plain object: what `cellgate review -f`
 * and test cases with a resource build, so that a user holding only manifests can try them. */
#include <ctype.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli_internal.h"

/* Kinds the API server keeps outside namespaces (the common ones). */
static bool cluster_scoped(const char *kind)
{
    static const char *const kinds[] = {"Namespace",
                                        "Node",
                                        "PersistentVolume",
                                        "ClusterRole",
                                        "ClusterRoleBinding",
                                        "CustomResourceDefinition",
                                        "StorageClass",
                                        "PriorityClass",
                                        "MutatingWebhookConfiguration",
                                        "ValidatingWebhookConfiguration",
                                        "APIService",
                                        "IngressClass",
                                        "RuntimeClass",
                                        NULL};
    for (const char *const *k = kinds; *k; k++)
        if (strcmp(kind, *k) == 0)
            return true;
    return false;
}

/* "Deployment" -> "deployments", "Ingress" -> "ingresses", "NetworkPolicy" -> "networkpolicies" */
static void plural_of(const char *kind, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = kind; *p && n + 4 < cap; p++)
        out[n++] = (char)tolower((unsigned char)*p);
    out[n] = '\0';
    if (n == 0)
        return;
    char last = out[n - 1], before = n > 1 ? out[n - 2] : '\0';
    if (last == 'y' && strchr("aeiou", before) == NULL)
        snprintf(out + n - 1, cap - n + 1, "ies");
    else if (last == 's' || last == 'x' || (last == 'h' && (before == 'c' || before == 's')))
        snprintf(out + n, cap - n, "es");
    else
        snprintf(out + n, cap - n, "s");
}

static const char *str_at(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

void cg__cli_object_label(const json_t *obj, char *out, size_t cap)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const char *kind = str_at(obj, "kind"), *ns = str_at(meta, "namespace");
    const char *name = str_at(meta, "name");
    if (name == NULL)
        name = str_at(meta, "generateName");
    snprintf(out, cap, "%s %s%s%s", kind ? kind : "(no kind)", ns && *ns ? ns : "",
             ns && *ns ? "/" : "", name ? name : "(no name)");
}

json_t *cg__cli_review_build(const json_t *obj, const json_t *old,
                             const struct cg__cli_requester *who, struct cg_err *err)
{
    if (!json_is_object(obj)) {
        cg_err_set(err, CG_EINVAL, "not an object (a mapping with apiVersion, kind, metadata)");
        return NULL;
    }
    const char *api = str_at(obj, "apiVersion"), *kind = str_at(obj, "kind");
    if (api == NULL || *api == '\0' || kind == NULL || *kind == '\0') {
        cg_err_set(err, CG_EINVAL, "not a Kubernetes object: apiVersion and kind are required");
        return NULL;
    }
    const json_t *meta = json_object_get(obj, "metadata");
    const char *name = str_at(meta, "name");
    if ((name == NULL || *name == '\0') && str_at(meta, "generateName") == NULL) {
        cg_err_set(err, CG_EINVAL, "%s without metadata.name", kind);
        return NULL;
    }
    const char *ns = str_at(meta, "namespace");
    if (cluster_scoped(kind)) {
        ns = "";
    } else if (ns == NULL || *ns == '\0') {
        ns = who->namespace_ ? who->namespace_ : "default";
    } else if (who->namespace_ != NULL && strcmp(ns, who->namespace_) != 0) {
        cg_err_set(err, CG_EINVAL,
                   "the object's namespace \"%s\" does not match --namespace \"%s\"", ns,
                   who->namespace_);
        return NULL;
    }

    const char *slash = strchr(api, '/');
    json_t *group = slash ? json_stringn(api, (size_t)(slash - api)) : json_string("");
    json_t *version = json_string(slash ? slash + 1 : api);
    char plural[128];
    const char *sub = "";
    bool eviction = strcmp(kind, "Eviction") == 0;
    if (eviction) { /* an eviction is the pods/eviction subresource */
        snprintf(plural, sizeof(plural), "pods");
        sub = "eviction";
    } else {
        plural_of(kind, plural, sizeof(plural));
    }
    /* The API server fills in the namespace before admission. */
    json_t *object = json_deep_copy(obj);
    json_t *m = json_object_get(object, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(object, "metadata", m);
    }
    if (*ns)
        json_object_set_new(m, "namespace", json_string(ns));
    json_t *groups = json_array();
    for (size_t i = 0; i < who->n_groups; i++)
        json_array_append_new(groups, json_string(who->groups[i]));
    json_array_append_new(groups, json_string("system:authenticated"));

    json_t *rgroup = eviction ? json_string("") : json_incref(group);
    json_t *request = json_pack(
        "{s:s, s:{s:O, s:O, s:s}, s:{s:o, s:O, s:s}, s:s, s:s, s:s, s:{s:s, s:o}, s:o, s:O, s:b}",
        "uid", who->uid ? who->uid : "cellgate-review", "kind", "group", group, "version", version,
        "kind", kind, "resource", "group", rgroup, "version", version, "resource", plural, "name",
        name ? name : "", "namespace", ns, "operation", old ? "UPDATE" : "CREATE", "userInfo",
        "username", who->user ? who->user : "cellgate-review", "groups", groups, "object", object,
        "oldObject", old ? (json_t *)old : json_null(), "dryRun", who->dry_run);
    json_decref(group);
    json_decref(version);
    if (*sub)
        json_object_set_new(request, "subResource", json_string(sub));
    return json_pack("{s:s, s:s, s:o}", "apiVersion", "admission.k8s.io/v1", "kind",
                     "AdmissionReview", "request", request);
}

bool cg__cli_is_review(const json_t *doc)
{
    const char *kind = str_at(doc, "kind");
    return kind != NULL && strcmp(kind, "AdmissionReview") == 0;
}

bool cg__cli_same_object(const json_t *a, const json_t *b)
{
    const char *ka = str_at(a, "kind"), *kb = str_at(b, "kind");
    const json_t *ma = json_object_get(a, "metadata"), *mb = json_object_get(b, "metadata");
    const char *na = str_at(ma, "name"), *nb = str_at(mb, "name");
    const char *sa = str_at(ma, "namespace"), *sb = str_at(mb, "namespace");
    return ka && kb && na && nb && strcmp(ka, kb) == 0 && strcmp(na, nb) == 0 &&
           (sa == NULL || sb == NULL || strcmp(sa, sb) == 0);
}
