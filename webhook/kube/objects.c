/* Conveniences over cg_kube_request: core/v1 Events and coordination.k8s.io/v1 Leases. These
 * are small documents off the hot path, so jansson builds and reads them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <jansson.h>

#include "kube/kube.h"
#include "kube/kube_internal.h"

/* Text from json_dumps goes back through jansson's allocator (tests route it elsewhere). */
static void json_free_text(char *text)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    if (text != NULL)
        f(text);
}

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* RFC 3339 with microseconds, as metav1.MicroTime writes it. */
static void format_micro(int64_t us, char out[40])
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
}

static void format_seconds(int64_t us, char out[40])
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Reads "2026-12-05T09:37:21[.123456]Z" (UTC only, as the apiserver writes) into unix
 * microseconds; false on anything else. */
static bool parse_time(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return false;
    long frac = 0;
    const char *p = s + n;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 6)
                frac = frac * 10 + (*p - '0');
        for (; digits < 6; digits++)
            frac *= 10;
    }
    if (strcmp(p, "Z") != 0)
        return false;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    *out = (int64_t)timegm(&tm) * 1000000 + frac;
    return true;
}

enum cg_status cg_kube_event_create(struct cg_kube_client *c, const struct cg_kube_event_spec *ev,
                                    struct cg_kube_response *resp, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_buf path;
    char *text = NULL;
    char ts[40], gen[300];
    json_t *doc = NULL;
    cg_buf_init(&path, 0);
    const struct cg_kube_object_ref *o = &ev->object;
    if (o->kind == NULL || o->name == NULL || o->api_version == NULL || ev->reason == NULL) {
        st = cg_err_set(err, CG_EINVAL,
                        "event: the object's apiVersion, kind and name and "
                        "the reason are required");
        goto out;
    }
    const char *ns = o->namespace_ && o->namespace_[0] ? o->namespace_ : "default";
    int64_t t = ev->now_us ? ev->now_us : now_us();
    format_seconds(t, ts);
    snprintf(gen, sizeof(gen), "%.240s.", o->name);
    const char *component = ev->component ? ev->component : "cellgate";
    doc = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:{s:s},"
                    " s:s, s:s, s:i, s:s, s:s}",
                    "apiVersion", "v1", "kind", "Event", "metadata", "generateName", gen,
                    "namespace", ns, "involvedObject", "apiVersion", o->api_version, "kind",
                    o->kind, "namespace", ns, "name", o->name, "reason", ev->reason, "message",
                    ev->message ? ev->message : "", "type", ev->type ? ev->type : "Normal",
                    "source", "component", component, "firstTimestamp", ts, "lastTimestamp", ts,
                    "count", 1, "reportingComponent", component, "reportingInstance", component);
    if (doc == NULL) {
        st = cg_err_set(err, CG_EINVAL, "event: a field is not valid UTF-8");
        goto out;
    }
    if (o->namespace_ == NULL || o->namespace_[0] == '\0')
        json_object_del(json_object_get(doc, "involvedObject"), "namespace");
    if (o->uid != NULL)
        json_object_set_new(json_object_get(doc, "involvedObject"), "uid", json_string(o->uid));
    text = json_dumps(doc, JSON_COMPACT);
    cg_kube_path(&path, "v1", ns, "events", NULL, NULL);
    st = cg_kube_request(c, CG_KUBE_POST, path.data, text, strlen(text), resp, err);
out:
    json_free_text(text);
    json_decref(doc);
    cg_buf_dispose(&path);
    return st;
}

static enum cg_status lease_decode(const struct cg_buf *body, struct cg_kube_lease *out,
                                   struct cg_err *err)
{
    enum cg_status st = CG_OK;
    json_error_t jerr;
    json_t *doc = json_loadb(body->data ? body->data : "", body->len, 0, &jerr);
    json_t *spec = json_object_get(doc, "spec");
    const char *rv =
        json_string_value(json_object_get(json_object_get(doc, "metadata"), "resourceVersion"));
    if (doc == NULL || rv == NULL || strlen(rv) >= CG_KUBE_RV_MAX ||
        (spec != NULL && !json_is_object(spec))) {
        st = cg_err_set(err, CG_EPARSE, "lease: malformed response (%s)",
                        doc == NULL ? jerr.text : "no metadata.resourceVersion or spec");
        goto out;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->resource_version, sizeof(out->resource_version), "%s", rv);
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    if (holder != NULL)
        snprintf(out->holder, sizeof(out->holder), "%s", holder);
    out->duration_seconds =
        (int32_t)json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
    out->transitions = (int32_t)json_integer_value(json_object_get(spec, "leaseTransitions"));
    const char *t = json_string_value(json_object_get(spec, "acquireTime"));
    if (t != NULL && !parse_time(t, &out->acquire_us))
        out->acquire_us = 0;
    t = json_string_value(json_object_get(spec, "renewTime"));
    if (t != NULL && !parse_time(t, &out->renew_us))
        out->renew_us = 0;
out:
    json_decref(doc);
    return st;
}

enum cg_status cg_kube_lease_get(struct cg_kube_client *c, const char *namespace_, const char *name,
                                 struct cg_kube_lease *out, struct cg_kube_response *resp,
                                 struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_kube_response local;
    cg_kube_response_init(&local);
    if (resp == NULL)
        resp = &local;
    st = cg_kube_get(c, "coordination.k8s.io/v1", namespace_, "leases", name, resp, err);
    if (st == CG_OK)
        st = lease_decode(&resp->body, out, err);
    if (st == CG_EPARSE)
        resp->reason = CG_KUBE_MALFORMED;
    cg_kube_response_dispose(&local);
    return st;
}

/* POST (create) or PUT (update) of a lease built from in. */
static enum cg_status lease_write(struct cg_kube_client *c, const char *namespace_,
                                  const char *name, const struct cg_kube_lease *in, bool create,
                                  struct cg_kube_lease *out, struct cg_kube_response *resp,
                                  struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_kube_response local;
    struct cg_buf path;
    char acq[40], ren[40];
    char *text = NULL;
    json_t *doc = NULL, *spec = NULL;
    cg_kube_response_init(&local);
    cg_buf_init(&path, 0);
    if (resp == NULL)
        resp = &local;
    if (!create && in->resource_version[0] == '\0') {
        st = cg_err_set(err, CG_EINVAL,
                        "lease %s/%s: an update needs the resourceVersion it "
                        "was read at",
                        namespace_, name);
        goto out;
    }
    doc = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}}", "apiVersion", "coordination.k8s.io/v1",
                    "kind", "Lease", "metadata", "name", name, "namespace", namespace_, "spec");
    if (doc == NULL) {
        st = cg_err_set(err, CG_EINVAL, "lease: a name is not valid UTF-8");
        goto out;
    }
    spec = json_object_get(doc, "spec");
    if (!create)
        json_object_set_new(json_object_get(doc, "metadata"), "resourceVersion",
                            json_string(in->resource_version));
    if (in->holder[0] != '\0')
        json_object_set_new(spec, "holderIdentity", json_string(in->holder));
    if (in->duration_seconds > 0)
        json_object_set_new(spec, "leaseDurationSeconds", json_integer(in->duration_seconds));
    if (in->acquire_us > 0) {
        format_micro(in->acquire_us, acq);
        json_object_set_new(spec, "acquireTime", json_string(acq));
    }
    if (in->renew_us > 0) {
        format_micro(in->renew_us, ren);
        json_object_set_new(spec, "renewTime", json_string(ren));
    }
    json_object_set_new(spec, "leaseTransitions", json_integer(in->transitions));
    text = json_dumps(doc, JSON_COMPACT);
    cg_kube_path(&path, "coordination.k8s.io/v1", namespace_, "leases", create ? NULL : name, NULL);
    st = cg_kube_request(c, create ? CG_KUBE_POST : CG_KUBE_PUT, path.data, text, strlen(text),
                         resp, err);
    if (st != CG_OK)
        goto out;
    st = lease_decode(&resp->body, out, err);
    if (st == CG_EPARSE)
        resp->reason = CG_KUBE_MALFORMED;
out:
    json_free_text(text);
    json_decref(doc);
    cg_buf_dispose(&path);
    cg_kube_response_dispose(&local);
    return st;
}

enum cg_status cg_kube_lease_create(struct cg_kube_client *c, const char *namespace_,
                                    const char *name, const struct cg_kube_lease *in,
                                    struct cg_kube_lease *out, struct cg_kube_response *resp,
                                    struct cg_err *err)
{
    return lease_write(c, namespace_, name, in, true, out, resp, err);
}

enum cg_status cg_kube_lease_update(struct cg_kube_client *c, const char *namespace_,
                                    const char *name, const struct cg_kube_lease *in,
                                    struct cg_kube_lease *out, struct cg_kube_response *resp,
                                    struct cg_err *err)
{
    return lease_write(c, namespace_, name, in, false, out, resp, err);
}
