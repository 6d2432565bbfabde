/* Applies release actions through the API client (see apply.h). */
#include "controller/apply.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/names.h"

#define NAME_MAX_LEN 254 /* a DNS subdomain name and its NUL */

static json_t *jstrn(struct cg_str s)
{
    return json_stringn(s.p ? s.p : "", s.n);
}

static void cstr(char *dst, size_t cap, struct cg_str s)
{
    snprintf(dst, cap, "%.*s", (int)s.n, s.p ? s.p : "");
}

/* Appends body's compact text (written straight into the buffer: jansson's allocator is
 * never mixed with free()). */
static enum cg_status dump(json_t *body, struct cg_buf *out)
{
    const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
    size_t n = json_dumpb(body, NULL, 0, flags);
    enum cg_status st = cg_buf_reserve(out, n + 1);
    if (st != CG_OK)
        return st;
    json_dumpb(body, out->data + out->len, n, flags);
    out->len += n;
    out->data[out->len] = '\0';
    return CG_OK;
}

static const struct cg_release_pod *find_pod(const struct cg_release_snapshot *snap,
                                             struct cg_str name)
{
    for (size_t i = 0; i < snap->n_pods; i++)
        if (cg_str_eq(snap->pods[i].state.name, name))
            return &snap->pods[i];
    return NULL;
}

static void rfc3339(int64_t t, char *out, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (gmtime_r(&tt, &tm) == NULL)
        tm = (struct tm){0};
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- bodies ---- */

static enum cg_status deploy_merge(const struct cg_release_snapshot *snap, struct cg_str rv,
                                   const struct cg_release_actions *a,
                                   const struct cg_release_deploy_patch *d, struct cg_buf *out)
{
    json_auto_t *body = json_object();
    json_t *meta = json_object(), *anns = json_object(), *spec = json_object();
    json_object_set_new(meta, "uid", jstrn(snap->uid));
    if (rv.n > 0)
        json_object_set_new(meta, "resourceVersion", jstrn(rv));
    if (d->set_record)
        json_object_set_new(anns, CG_ANN_RELEASE, json_stringn(a->record.data, a->record.len));
    if (d->remove_emergency)
        json_object_set_new(anns, CG_ANN_EMERGENCY, json_null());
    if (json_object_size(anns) > 0)
        json_object_set_new(meta, "annotations", anns);
    else
        json_decref(anns);
    json_object_set_new(body, "metadata", meta);
    if (d->set_paused)
        json_object_set_new(spec, "paused", json_boolean(d->paused));
    if (d->set_max_surge || d->set_max_unavailable_zero) {
        json_t *ru = json_object();
        if (d->set_max_surge)
            json_object_set_new(ru, "maxSurge", json_integer(d->max_surge));
        if (d->set_max_unavailable_zero)
            json_object_set_new(ru, "maxUnavailable", json_integer(0));
        json_object_set_new(spec, "strategy", json_pack("{s:o}", "rollingUpdate", ru));
    }
    if (json_object_size(spec) > 0)
        json_object_set_new(body, "spec", spec);
    else
        json_decref(spec);
    return dump(body, out);
}

static json_t *op(const char *o, const char *path, json_t *value)
{
    json_t *x = json_pack("{s:s,s:s}", "op", o, "path", path);
    if (value != NULL)
        json_object_set_new(x, "value", value);
    return x;
}

/* The JSON patch form: a rollback (spec.template replaced whole: a merge patch cannot drop
 * what the new template added), or any Deployment patch conditioned on the annotations and
 * spec the snapshot saw (test ops; a status write by the Deployment controller meanwhile does
 * not conflict, a change by anyone to what cellgate decided on does). Without those texts it
 * tests the resourceVersion when given. */
static enum cg_status deploy_json(const struct cg_release_snapshot *snap,
                                  const struct cg_ctl_deploy_base *base,
                                  const struct cg_release_actions *a,
                                  const struct cg_release_deploy_patch *d, struct cg_buf *out,
                                  struct cg_err *err)
{
    json_error_t je;
    json_auto_t *ops = json_array();
    json_auto_t *anns = NULL, *spec = NULL;
    if (base != NULL && base->annotations.n > 0 && base->spec.n > 0) {
        anns = json_loadb(base->annotations.p, base->annotations.n, 0, &je);
        spec = json_loadb(base->spec.p, base->spec.n, 0, &je);
        if (!json_is_object(anns) || !json_is_object(spec))
            return cg_err_set(err, CG_EINVAL, "the Deployment's annotations or spec do not decode");
    }
    json_t *tmpl = NULL;
    if (d->template_json.n > 0) {
        tmpl = json_loadb(d->template_json.p, d->template_json.n, 0, &je);
        if (!json_is_object(tmpl)) {
            json_decref(tmpl);
            return cg_err_set(err, CG_EINVAL, "the rollback template is not a JSON object");
        }
    }
    json_array_append_new(ops, op("test", "/metadata/uid", jstrn(snap->uid)));
    if (anns != NULL) {
        json_array_append_new(ops, op("test", "/metadata/annotations", json_incref(anns)));
        json_array_append_new(ops, op("test", "/spec", json_incref(spec)));
    } else if (base != NULL && base->resource_version.n > 0) {
        json_array_append_new(
            ops, op("test", "/metadata/resourceVersion", jstrn(base->resource_version)));
    }
    if (tmpl != NULL)
        json_array_append_new(ops, op("replace", "/spec/template", tmpl));
    if (d->set_record)
        json_array_append_new(ops, op("add", "/metadata/annotations/cellgate.io~1release",
                                      json_stringn(a->record.data, a->record.len)));
    bool emergency =
        anns != NULL ? json_object_get(anns, CG_ANN_EMERGENCY) != NULL : snap->has_emergency;
    if (d->remove_emergency && emergency)
        json_array_append_new(ops,
                              op("remove", "/metadata/annotations/cellgate.io~1emergency", NULL));
    if (d->set_paused)
        json_array_append_new(ops, op("add", "/spec/paused", json_boolean(d->paused)));
    if (d->set_max_surge || d->set_max_unavailable_zero) {
        /* Leaves under rollingUpdate when it is there (or when the spec is unknown: the
         * webhook's mutation put it there); else the object, or the whole strategy. */
        json_t *strategy = spec != NULL ? json_object_get(spec, "strategy") : NULL;
        if (spec == NULL || json_is_object(json_object_get(strategy, "rollingUpdate"))) {
            if (d->set_max_surge)
                json_array_append_new(ops, op("add", "/spec/strategy/rollingUpdate/maxSurge",
                                              json_integer(d->max_surge)));
            if (d->set_max_unavailable_zero)
                json_array_append_new(
                    ops, op("add", "/spec/strategy/rollingUpdate/maxUnavailable", json_integer(0)));
        } else {
            json_t *ru = json_object();
            if (d->set_max_surge)
                json_object_set_new(ru, "maxSurge", json_integer(d->max_surge));
            if (d->set_max_unavailable_zero)
                json_object_set_new(ru, "maxUnavailable", json_integer(0));
            if (json_is_object(strategy))
                json_array_append_new(ops, op("add", "/spec/strategy/rollingUpdate", ru));
            else
                json_array_append_new(
                    ops, op("add", "/spec/strategy",
                            json_pack("{s:s,s:o}", "type", "RollingUpdate", "rollingUpdate", ru)));
        }
    }
    return dump(ops, out);
}

static enum cg_status pod_merge(const struct cg_release_action *x, struct cg_buf *out)
{
    const struct cg_release_pod_patch *p = &x->pod_patch;
    json_auto_t *body = json_object();
    json_t *anns = json_object();
    if (p->set_deletion_cost) {
        char cost[24];
        snprintf(cost, sizeof(cost), "%" PRId32, (int32_t)CG_RELEASE_VICTIM_COST);
        json_object_set_new(anns, CG_ANN_POD_DELETION_COST, json_string(cost));
    }
    if (p->set_draining)
        json_object_set_new(anns, CG_ANN_DRAINING, json_string(p->value));
    if (p->set_drained)
        json_object_set_new(anns, CG_ANN_DRAINED, json_string(p->value));
    if (p->undrain) {
        json_object_set_new(anns, CG_ANN_POD_DELETION_COST, json_null());
        json_object_set_new(anns, CG_ANN_DRAINING, json_null());
        json_object_set_new(anns, CG_ANN_DRAINED, json_null());
    }
    json_object_set_new(body, "metadata",
                        json_pack("{s:o,s:o}", "uid", jstrn(x->pod_uid), "annotations", anns));
    return dump(body, out);
}

static enum cg_status traffic(const struct cg_release_action *x, int64_t now, struct cg_buf *out)
{
    char t[32];
    rfc3339(now, t, sizeof(t));
    json_auto_t *body = json_pack(
        "{s:{s:o},s:{s:[{s:s,s:s,s:s,s:s}]}}", "metadata", "uid", jstrn(x->pod_uid), "status",
        "conditions", "type", CG_COND_TRAFFIC_READY, "status", x->traffic ? "True" : "False",
        "lastTransitionTime", t, "reason", x->traffic ? "TrafficAllowed" : "Draining");
    return dump(body, out);
}

static enum cg_status finalizer(const struct cg_release_snapshot *snap,
                                const struct cg_release_action *x, struct cg_buf *out,
                                struct cg_err *err)
{
    const struct cg_release_pod *pod = find_pod(snap, x->pod);
    if (pod == NULL)
        return cg_err_set(err, CG_ENOTFOUND, "pod %.*s is not in the snapshot", (int)x->pod.n,
                          x->pod.p);
    size_t i = 0;
    while (i < pod->n_finalizers && !cg_str_eq_c(pod->finalizers[i], x->finalizer))
        i++;
    if (i == pod->n_finalizers)
        return cg_err_set(err, CG_EINVAL, "pod %.*s does not hold finalizer %s", (int)x->pod.n,
                          x->pod.p, x->finalizer);
    char path[64];
    snprintf(path, sizeof(path), "/metadata/finalizers/%zu", i);
    json_auto_t *ops = json_array();
    json_array_append_new(ops, op("test", "/metadata/uid", jstrn(x->pod_uid)));
    json_array_append_new(ops, op("test", path, json_string(x->finalizer)));
    json_array_append_new(ops, op("remove", path, NULL));
    return dump(ops, out);
}

enum cg_status
cg_ctl_apply_body(const struct cg_release_snapshot *snap, const struct cg_ctl_deploy_base *base,
                  const struct cg_release_actions *a, const struct cg_release_action *x,
                  int64_t now, enum cg_kube_method *method, struct cg_buf *out, struct cg_err *err)
{
    switch (x->kind) {
    case CG_ACT_PATCH_DEPLOYMENT:
        if (x->deploy.template_json.n > 0 ||
            (base != NULL && base->annotations.n > 0 && base->spec.n > 0)) {
            *method = CG_KUBE_PATCH_JSON;
            return deploy_json(snap, base, a, &x->deploy, out, err);
        }
        *method = CG_KUBE_PATCH_MERGE;
        return deploy_merge(snap, base != NULL ? base->resource_version : CG_STR_NULL, a,
                            &x->deploy, out);
    case CG_ACT_PATCH_POD:
        *method = CG_KUBE_PATCH_MERGE;
        return pod_merge(x, out);
    case CG_ACT_SET_TRAFFIC:
        *method = CG_KUBE_PATCH_STRATEGIC;
        return traffic(x, now, out);
    case CG_ACT_REMOVE_FINALIZER:
        *method = CG_KUBE_PATCH_JSON;
        return finalizer(snap, x, out, err);
    case CG_ACT_EVENT:
    case CG_ACT_RUN_CHECK:
        break;
    }
    return cg_err_set(err, CG_EINVAL, "action kind %d has no request body", (int)x->kind);
}

/* ---- applying ---- */

static const char *kind_str(enum cg_release_action_kind k)
{
    switch (k) {
    case CG_ACT_PATCH_DEPLOYMENT:
        return "patch-deployment";
    case CG_ACT_PATCH_POD:
        return "patch-pod";
    case CG_ACT_SET_TRAFFIC:
        return "set-traffic";
    case CG_ACT_REMOVE_FINALIZER:
        return "remove-finalizer";
    case CG_ACT_EVENT:
        return "event";
    case CG_ACT_RUN_CHECK:
        return "run-check";
    }
    return "?";
}

/* took_us: the API call's round trip, what an operator reads first when a release is slow. */
static void log_action(const struct cg_release_snapshot *snap, const struct cg_release_actions *a,
                       const struct cg_release_action *x, enum cg_status st,
                       const struct cg_kube_response *resp, const struct cg_err *err,
                       int64_t took_us)
{
    struct cg_log_line l;
    cg_log_begin(&l, st == CG_OK ? CG_LOG_INFO : CG_LOG_WARN,
                 st == CG_OK ? "action applied" : "action failed");
    cg_log_str(&l, "action", kind_str(x->kind));
    cg_log_strn(&l, "namespace", snap->namespace_.p, snap->namespace_.n);
    cg_log_strn(&l, "deployment", snap->name.p, snap->name.n);
    if (x->pod.n > 0)
        cg_log_strn(&l, "pod", x->pod.p, x->pod.n);
    switch (x->kind) {
    case CG_ACT_PATCH_DEPLOYMENT:
        if (x->deploy.set_max_surge)
            cg_log_int(&l, "maxSurge", x->deploy.max_surge);
        if (x->deploy.set_paused)
            cg_log_bool(&l, "paused", x->deploy.paused);
        if (x->deploy.template_json.n > 0)
            cg_log_bool(&l, "rollback", 1);
        if (x->deploy.remove_emergency)
            cg_log_bool(&l, "removeEmergency", 1);
        if (x->deploy.set_record)
            cg_log_strn(&l, "record", a->record.data, a->record.len);
        break;
    case CG_ACT_PATCH_POD:
        if (x->pod_patch.set_deletion_cost)
            cg_log_bool(&l, "victim", 1);
        if (x->pod_patch.set_draining)
            cg_log_str(&l, "draining", x->pod_patch.value);
        if (x->pod_patch.set_drained)
            cg_log_str(&l, "drained", x->pod_patch.value);
        if (x->pod_patch.undrain)
            cg_log_bool(&l, "undrain", 1);
        break;
    case CG_ACT_SET_TRAFFIC:
        cg_log_str(&l, "traffic", x->traffic ? "True" : "False");
        break;
    case CG_ACT_REMOVE_FINALIZER:
        cg_log_str(&l, "finalizer", x->finalizer);
        break;
    case CG_ACT_EVENT:
        cg_log_str(&l, "type", x->warning ? "Warning" : "Normal");
        cg_log_str(&l, "reason", x->reason);
        cg_log_str(&l, "message", x->message);
        break;
    case CG_ACT_RUN_CHECK:
        cg_log_str(&l, "check", x->check ? x->check->name : "");
        break;
    }
    cg_log_int(&l, "took_us", took_us);
    if (st != CG_OK) {
        cg_log_str(&l, "error", err->msg);
        if (resp != NULL && resp->code != 0)
            cg_log_int(&l, "code", resp->code);
    }
    cg_log_end(&l);
}

static enum cg_status event(struct cg_kube_client *client, const struct cg_release_snapshot *snap,
                            const struct cg_release_action *x, struct cg_kube_response *resp,
                            struct cg_err *err)
{
    char ns[NAME_MAX_LEN], name[NAME_MAX_LEN], uid[64];
    cstr(ns, sizeof(ns), snap->namespace_);
    cstr(name, sizeof(name), snap->name);
    cstr(uid, sizeof(uid), snap->uid);
    struct cg_kube_event_spec ev = {
        .object = {"apps/v1", "Deployment", ns, name, uid},
        .type = x->warning ? "Warning" : "Normal",
        .reason = x->reason,
        .message = x->message,
        .component = "cellgate-controller",
    };
    return cg_kube_event_create(client, &ev, resp, err);
}

static enum cg_status request(struct cg_kube_client *client, const struct cg_release_snapshot *snap,
                              const struct cg_ctl_deploy_base *base,
                              const struct cg_release_actions *a, const struct cg_release_action *x,
                              int64_t now, struct cg_kube_response *resp, struct cg_err *err)
{
    enum cg_kube_method method;
    struct cg_buf body, path;
    cg_buf_init(&body, 0);
    cg_buf_init(&path, 0);
    enum cg_status st = cg_ctl_apply_body(snap, base, a, x, now, &method, &body, err);
    if (st != CG_OK)
        goto out;
    char ns[NAME_MAX_LEN], name[NAME_MAX_LEN];
    cstr(ns, sizeof(ns), snap->namespace_);
    if (x->kind == CG_ACT_PATCH_DEPLOYMENT) {
        cstr(name, sizeof(name), snap->name);
        st = cg_kube_path(&path, "apps/v1", ns, "deployments", name, NULL);
    } else {
        cstr(name, sizeof(name), x->pod);
        st = cg_kube_path(&path, "v1", ns, "pods", name,
                          x->kind == CG_ACT_SET_TRAFFIC ? "status" : NULL);
    }
    if (st == CG_OK)
        st = cg_kube_request(client, method, path.data, body.data, body.len, resp, err);
out:
    cg_buf_dispose(&path);
    cg_buf_dispose(&body);
    return st;
}

enum cg_status cg_ctl_apply(struct cg_kube_client *client, const struct cg_release_snapshot *snap,
                            const struct cg_ctl_deploy_base *base,
                            const struct cg_release_actions *a, int64_t now,
                            cg_ctl_check_fn run_check, void *ud, struct cg_ctl_apply_result *res,
                            struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    *res = (struct cg_ctl_apply_result){0, a->n, CG_KUBE_NONE, 0};
    for (size_t i = 0; i < a->n; i++) {
        const struct cg_release_action *x = &a->items[i];
        resp.code = 0;
        resp.reason = CG_KUBE_NONE;
        if (x->kind == CG_ACT_RUN_CHECK) {
            if (run_check != NULL && x->check != NULL)
                run_check(ud, snap, x->check);
            res->applied++;
            continue;
        }
        int64_t t0 = cg_mono_us();
        if (x->kind == CG_ACT_EVENT)
            st = event(client, snap, x, &resp, err);
        else
            st = request(client, snap, base, a, x, now, &resp, err);
        log_action(snap, a, x, st, &resp, err, cg_mono_us() - t0);
        if (st != CG_OK) {
            *res = (struct cg_ctl_apply_result){res->applied, i, resp.reason, resp.code};
            break;
        }
        res->applied++;
    }
    cg_kube_response_dispose(&resp);
    return st;
}
