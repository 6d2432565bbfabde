/* Builds the release snapshot of one Deployment from object texts (see snapshot.h). The few
 * objects of one Deployment are parsed with jansson; the raw text of spec.template is found
 * with the admission scanner instead, because its digest must be that of the API server's
 * own serialization (the webhook digests the same bytes), which a re-encoding would change
 * (Go escapes <, > and & as \u003c...). */
#include "controller/snapshot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "admission/admission.h"
#include "admission/scan.h"
#include "base/names.h"
#include "cluster/cluster.h"

#define ARENA_BLOCK (64 * 1024)
#define HASH_LABEL "pod-template-hash"
#define REVISION_ANN "deployment.kubernetes.io/revision"

void cg_ctl_snapshot_init(struct cg_ctl_snapshot *s)
{
    memset(s, 0, sizeof(*s));
    cg_arena_init(&s->arena, ARENA_BLOCK);
}

void cg_ctl_snapshot_reset(struct cg_ctl_snapshot *s)
{
    memset(&s->view, 0, sizeof(s->view));
    s->policy = NULL;
    s->labels = (struct cg_kvs){0};
    s->annotations = (struct cg_kvs){0};
    s->revision = CG_STR_NULL;
    s->resource_version = CG_STR_NULL;
    s->annotations_json = CG_STR_NULL;
    s->spec_json = CG_STR_NULL;
    s->have_deployment = false;
    cg_arena_reset(&s->arena);
}

void cg_ctl_snapshot_dispose(struct cg_ctl_snapshot *s)
{
    if (s == NULL)
        return;
    free(s->rs);
    free(s->pods);
    free(s->checks);
    cg_arena_dispose(&s->arena);
    memset(s, 0, sizeof(*s));
}

/* ---- small helpers ---- */

static struct cg_str dup_n(struct cg_ctl_snapshot *s, const char *p, size_t n)
{
    if (p == NULL || n == 0)
        return (struct cg_str){"", 0};
    char *d = cg_arena_alloc(&s->arena, n + 1);
    memcpy(d, p, n);
    d[n] = '\0';
    return (struct cg_str){d, n};
}

static struct cg_str jstr(struct cg_ctl_snapshot *s, const json_t *v)
{
    if (!json_is_string(v))
        return (struct cg_str){"", 0};
    return dup_n(s, json_string_value(v), json_string_length(v));
}

/* v's compact JSON text, in the arena (empty for NULL). */
static struct cg_str jtext(struct cg_ctl_snapshot *s, const json_t *v)
{
    if (v == NULL)
        return CG_STR_NULL;
    const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
    size_t n = json_dumpb(v, NULL, 0, flags);
    char *p = cg_arena_alloc(&s->arena, n + 1);
    json_dumpb(v, p, n, flags);
    p[n] = '\0';
    return (struct cg_str){p, n};
}

static int64_t jint(const json_t *v, int64_t dflt)
{
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static json_t *at(json_t *v, const char *a, const char *b, const char *c)
{
    const char *keys[3] = {a, b, c};
    for (int i = 0; i < 3 && keys[i] != NULL && v != NULL; i++)
        v = json_object_get(v, keys[i]);
    return v;
}

/* "2026-12-05T14:20:00Z" (fraction and offsets allowed) to unix seconds; 0 when unreadable. */
static int64_t rfc3339(const char *t)
{
    if (t == NULL)
        return 0;
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return 0;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    int64_t v = (int64_t)timegm(&tm);
    const char *p = t + n;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    int oh, om;
    if (*p == 'Z' || *p == 'z')
        return v;
    if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2)
        return *p == '+' ? v - (oh * 3600 + om * 60) : v + (oh * 3600 + om * 60);
    return 0;
}

static int64_t jtime(const json_t *v)
{
    return rfc3339(json_string_value(v));
}

static const char *ann(json_t *obj, const char *key)
{
    return json_string_value(at(obj, "metadata", "annotations", key));
}

static const char *controller_owner_uid(json_t *obj)
{
    json_t *refs = at(obj, "metadata", "ownerReferences", NULL), *r;
    size_t i;
    json_array_foreach(refs, i, r)
    {
        if (json_is_true(json_object_get(r, "controller")))
            return json_string_value(json_object_get(r, "uid"));
    }
    return NULL;
}

static enum cg_status load(const char *json, size_t len, json_t **out, struct cg_err *err)
{
    json_error_t je;
    *out = json_loadb(json, len, JSON_ALLOW_NUL, &je);
    if (*out == NULL)
        return cg_err_set(err, CG_EPARSE, "%s (line %d, column %d)", je.text, je.line, je.column);
    if (!json_is_object(*out) || !json_is_object(json_object_get(*out, "metadata"))) {
        json_decref(*out);
        *out = NULL;
        return cg_err_set(err, CG_EINVAL, "not an object with metadata");
    }
    return CG_OK;
}

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 16;                                                          \
            (arr) = cg_xrealloc((arr), (cap) * sizeof(*(arr)));                                    \
        }                                                                                          \
    } while (0)

/* ---- the raw text of a member, by the scanner ---- */

static bool find_in(struct cg__scan *sc, const char *const *path, size_t n_path, size_t *off,
                    size_t *vlen, size_t *member_off)
{
    struct cg__scan_obj o;
    struct cg__scan_keyref k;
    if (cg__scan_peek(sc) != '{' || !cg__scan_obj_open(sc, &o))
        return false;
    int r;
    while ((r = cg__scan_obj_next(sc, &o, &k)) == 1) {
        if (!cg_str_eq_c(k.text, path[0])) {
            if (!cg__scan_skip(sc))
                return false;
            continue;
        }
        if (n_path > 1)
            return find_in(sc, path + 1, n_path - 1, off, vlen, member_off);
        cg__scan_peek(sc);
        size_t start = sc->i;
        if (!cg__scan_skip(sc))
            return false;
        *off = start;
        *vlen = sc->i - start;
        if (member_off != NULL)
            *member_off = k.off - 1; /* the key's opening quote */
        return true;
    }
    return false;
}

static bool find_member(const char *json, size_t len, const char *const *path, size_t n_path,
                        size_t *off, size_t *vlen, size_t *member_off)
{
    struct cg__scan sc;
    struct cg_err err;
    cg_err_clear(&err);
    cg__scan_init(&sc, json, len, &err);
    bool ok = n_path > 0 && find_in(&sc, path, n_path, off, vlen, member_off);
    cg__scan_dispose(&sc);
    return ok;
}

bool cg_ctl_json_find(const char *json, size_t len, const char *const *path, size_t n_path,
                      size_t *off, size_t *vlen)
{
    return find_member(json, len, path, n_path, off, vlen, NULL);
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* The template text t with the member metadata.labels.pod-template-hash cut out (with one
 * adjacent comma), written into the arena: what `kubectl rollout undo` writes back, and what
 * the Deployment's own template looks like (Go writes map keys sorted, so removing one key
 * leaves the rest as the Deployment's template serializes). */
static struct cg_str template_without_hash(struct cg_ctl_snapshot *s, struct cg_str t)
{
    static const char *const path[] = {"metadata", "labels", HASH_LABEL};
    size_t off, vlen, m0;
    if (!find_member(t.p, t.n, path, 3, &off, &vlen, &m0))
        return dup_n(s, t.p, t.n);
    size_t m1 = off + vlen, j = m1;
    while (j < t.n && is_ws(t.p[j]))
        j++;
    if (j < t.n && t.p[j] == ',') {
        m1 = j + 1;
    } else {
        size_t i = m0;
        while (i > 0 && is_ws(t.p[i - 1]))
            i--;
        if (i > 0 && t.p[i - 1] == ',')
            m0 = i - 1;
    }
    char *d = cg_arena_alloc(&s->arena, t.n - (m1 - m0) + 1);
    memcpy(d, t.p, m0);
    memcpy(d + m0, t.p + m1, t.n - m1);
    d[t.n - (m1 - m0)] = '\0';
    return (struct cg_str){d, t.n - (m1 - m0)};
}

static bool spec_template(const char *text, size_t len, struct cg_str *out)
{
    static const char *const path[] = {"spec", "template"};
    size_t off, vlen;
    if (!find_member(text, len, path, 2, &off, &vlen, NULL))
        return false;
    *out = (struct cg_str){text + off, vlen};
    return true;
}

/* ---- the Deployment ---- */

static struct cg_kvs read_map(struct cg_ctl_snapshot *s, json_t *labels)
{
    size_t n = json_object_size(labels), i = 0;
    struct cg_kv *kv = n ? cg_arena_alloc(&s->arena, n * sizeof(*kv)) : NULL;
    const char *key;
    json_t *v;
    json_object_foreach(labels, key, v)
    {
        kv[i].key = dup_n(s, key, strlen(key));
        kv[i].value = jstr(s, v);
        i++;
    }
    return (struct cg_kvs){kv, i, labels != NULL};
}

/* An IntOrString that is an integer: *set and *v; a percentage leaves *set false. */
static void int_or_string(json_t *v, bool *set, int64_t *out)
{
    *set = json_is_integer(v);
    *out = *set ? (int64_t)json_integer_value(v) : 0;
}

/* text lives in the arena */
static enum cg_status deployment_text(struct cg_ctl_snapshot *s, struct cg_str text,
                                      struct cg_err *err)
{
    json_t *d = NULL;
    enum cg_status st = load(text.p, text.n, &d, err);
    if (st != CG_OK)
        return st;
    struct cg_release_snapshot *v = &s->view;
    struct cg_str tmpl;
    if (!json_is_string(at(d, "metadata", "name", NULL)) ||
        !json_is_string(at(d, "metadata", "uid", NULL)) || !spec_template(text.p, text.n, &tmpl)) {
        st = cg_err_set(err, CG_EINVAL, "a Deployment needs metadata.name, uid and spec.template");
        goto out;
    }
    v->namespace_ = jstr(s, at(d, "metadata", "namespace", NULL));
    v->name = jstr(s, at(d, "metadata", "name", NULL));
    v->uid = jstr(s, at(d, "metadata", "uid", NULL));
    s->resource_version = jstr(s, at(d, "metadata", "resourceVersion", NULL));
    s->annotations_json = jtext(s, at(d, "metadata", "annotations", NULL));
    s->spec_json = jtext(s, json_object_get(d, "spec"));
    v->generation = jint(at(d, "metadata", "generation", NULL), 0);
    v->observed_generation = jint(at(d, "status", "observedGeneration", NULL), 0);
    v->replicas = jint(at(d, "spec", "replicas", NULL), 1);
    json_t *ru = at(d, "spec", "strategy", "rollingUpdate");
    int_or_string(json_object_get(ru, "maxSurge"), &v->max_surge_set, &v->max_surge);
    int_or_string(json_object_get(ru, "maxUnavailable"), &v->max_unavailable_set,
                  &v->max_unavailable);
    v->paused = json_is_true(at(d, "spec", "paused", NULL));
    v->progress_deadline_seconds = jint(at(d, "spec", "progressDeadlineSeconds", NULL), 0);
    v->min_ready_seconds = jint(at(d, "spec", "minReadySeconds", NULL), 0);
    v->template_digest = cg_admission_digest_json(tmpl.p, tmpl.n);
    json_t *anns = at(d, "metadata", "annotations", NULL);
    json_t *a;
    if ((a = json_object_get(anns, CG_ANN_RELEASE)) != NULL && json_is_string(a)) {
        v->has_record = true;
        v->record = jstr(s, a);
    }
    if ((a = json_object_get(anns, CG_ANN_APPROVE)) != NULL && json_is_string(a)) {
        v->has_approve = true;
        v->approve = jstr(s, a);
    }
    if ((a = json_object_get(anns, CG_ANN_APPROVED_BY)) != NULL && json_is_string(a))
        v->approver = jstr(s, a);
    if ((a = json_object_get(anns, CG_ANN_EMERGENCY)) != NULL && json_is_string(a)) {
        v->has_emergency = true;
        v->emergency = jstr(s, a);
    }
    s->revision = jstr(s, json_object_get(anns, REVISION_ANN));
    s->labels = read_map(s, at(d, "metadata", "labels", NULL));
    s->annotations = read_map(s, anns);
    s->have_deployment = true;
out:
    json_decref(d);
    return st;
}

enum cg_status cg_ctl_snapshot_set_deployment(struct cg_ctl_snapshot *s, const char *json,
                                              size_t len, struct cg_err *err)
{
    return deployment_text(s, dup_n(s, json, len), err);
}

/* ---- ReplicaSets ---- */

static enum cg_status replicaset_text(struct cg_ctl_snapshot *s, struct cg_str text, bool *kept,
                                      struct cg_err *err)
{
    *kept = false;
    if (!s->have_deployment)
        return cg_err_set(err, CG_EINVAL, "a ReplicaSet before its Deployment");
    json_t *o = NULL;
    enum cg_status st = load(text.p, text.n, &o, err);
    if (st != CG_OK)
        return st;
    const char *owner = controller_owner_uid(o);
    if (owner == NULL || !cg_str_eq_c(s->view.uid, owner))
        goto out;
    struct cg_str tmpl = CG_STR_NULL;
    GROW(s->rs, s->view.n_rs, s->cap_rs);
    struct cg_release_rs *rs = &s->rs[s->view.n_rs];
    memset(rs, 0, sizeof(*rs));
    rs->name = jstr(s, at(o, "metadata", "name", NULL));
    rs->uid = jstr(s, at(o, "metadata", "uid", NULL));
    rs->hash = jstr(s, at(o, "metadata", "labels", HASH_LABEL));
    const char *rev = ann(o, REVISION_ANN);
    rs->revision = rev ? strtoll(rev, NULL, 10) : 0;
    rs->replicas = jint(at(o, "spec", "replicas", NULL), 1);
    rs->ready = jint(at(o, "status", "readyReplicas", NULL), 0);
    rs->available = jint(at(o, "status", "availableReplicas", NULL), 0);
    if (spec_template(text.p, text.n, &tmpl)) {
        rs->template_json = template_without_hash(s, tmpl);
        rs->digest = cg_admission_digest_json(rs->template_json.p, rs->template_json.n);
    }
    s->view.n_rs++;
    s->view.rs = s->rs;
    *kept = true;
out:
    json_decref(o);
    return st;
}

enum cg_status cg_ctl_snapshot_add_replicaset(struct cg_ctl_snapshot *s, const char *json,
                                              size_t len, bool *kept, struct cg_err *err)
{
    return replicaset_text(s, dup_n(s, json, len), kept, err);
}

/* ---- pods ---- */

static const struct cg_release_rs *rs_by_uid(const struct cg_ctl_snapshot *s, struct cg_str uid)
{
    for (size_t i = 0; i < s->view.n_rs; i++)
        if (cg_str_eq(s->rs[i].uid, uid))
            return &s->rs[i];
    return NULL;
}

static void pod_conditions(struct cg_release_pod *p, json_t *conds)
{
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        bool is_true = json_is_string(json_object_get(c, "status")) &&
                       strcmp(json_string_value(json_object_get(c, "status")), "True") == 0;
        if (type == NULL)
            continue;
        if (strcmp(type, "ContainersReady") == 0) {
            p->containers_ready = is_true;
            p->containers_ready_since =
                is_true ? jtime(json_object_get(c, "lastTransitionTime")) : 0;
        } else if (strcmp(type, "Ready") == 0) {
            p->ready = is_true;
        }
    }
}

static int64_t restarts(json_t *statuses)
{
    int64_t sum = 0;
    size_t i;
    json_t *c;
    json_array_foreach(statuses, i, c) sum += jint(json_object_get(c, "restartCount"), 0);
    return sum;
}

static enum cg_status pod_text(struct cg_ctl_snapshot *s, struct cg_str text, bool *kept,
                               struct cg_err *err)
{
    *kept = false;
    struct cg_pod_state state;
    enum cg_status st = cg_pod_state_decode(text.p, text.n, &s->arena, &state, err);
    if (st != CG_OK)
        return st;
    if (state.owner_uid.n == 0 || rs_by_uid(s, state.owner_uid) == NULL)
        return CG_OK;
    json_t *o = NULL;
    if ((st = load(text.p, text.n, &o, err)) != CG_OK)
        return st;
    GROW(s->pods, s->view.n_pods, s->cap_pods);
    struct cg_release_pod *p = &s->pods[s->view.n_pods];
    memset(p, 0, sizeof(*p));
    p->state = state;
    pod_conditions(p, at(o, "status", "conditions", NULL));
    p->restarts = restarts(at(o, "status", "containerStatuses", NULL)) +
                  restarts(at(o, "status", "initContainerStatuses", NULL));
    p->created = jtime(at(o, "metadata", "creationTimestamp", NULL));
    p->draining_since = rfc3339(ann(o, CG_ANN_DRAINING));
    p->node = jstr(s, at(o, "spec", "nodeName", NULL));
    p->ip = jstr(s, at(o, "status", "podIP", NULL));
    const char *cost = ann(o, CG_ANN_POD_DELETION_COST);
    if (cost != NULL) {
        char *end;
        long long c = strtoll(cost, &end, 10);
        p->has_deletion_cost = *cost != '\0' && *end == '\0';
        p->deletion_cost = p->has_deletion_cost ? (int64_t)c : 0;
    }
    json_t *fins = at(o, "metadata", "finalizers", NULL), *f;
    size_t nf = json_array_size(fins), i;
    if (nf > 0) {
        struct cg_str *fs = cg_arena_alloc(&s->arena, nf * sizeof(*fs));
        json_array_foreach(fins, i, f) fs[i] = jstr(s, f);
        p->finalizers = fs;
        p->n_finalizers = nf;
    }
    p->endpoint = CG_EP_NOT_LISTED;
    s->view.n_pods++;
    s->view.pods = s->pods;
    *kept = true;
    json_decref(o);
    return CG_OK;
}

enum cg_status cg_ctl_snapshot_add_pod(struct cg_ctl_snapshot *s, const char *json, size_t len,
                                       bool *kept, struct cg_err *err)
{
    return pod_text(s, dup_n(s, json, len), kept, err);
}

/* ---- EndpointSlices ---- */

static struct cg_release_pod *pod_for(struct cg_ctl_snapshot *s, json_t *ep)
{
    json_t *ref = json_object_get(ep, "targetRef");
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *uid = json_string_value(json_object_get(ref, "uid"));
    if (kind != NULL && strcmp(kind, "Pod") == 0 && uid != NULL) {
        for (size_t i = 0; i < s->view.n_pods; i++)
            if (cg_str_eq_c(s->pods[i].state.uid, uid))
                return &s->pods[i];
        return NULL;
    }
    size_t k;
    json_t *addr;
    json_array_foreach(json_object_get(ep, "addresses"), k, addr)
    {
        const char *a = json_string_value(addr);
        for (size_t i = 0; a != NULL && i < s->view.n_pods; i++)
            if (s->pods[i].ip.n > 0 && cg_str_eq_c(s->pods[i].ip, a) &&
                cg_pod_state_is_live(&s->pods[i].state))
                return &s->pods[i];
    }
    return NULL;
}

enum cg_status cg_ctl_snapshot_add_endpointslice(struct cg_ctl_snapshot *s, const char *json,
                                                 size_t len, struct cg_err *err)
{
    json_t *o = NULL;
    enum cg_status st = load(json, len, &o, err);
    if (st != CG_OK)
        return st;
    size_t i;
    json_t *ep;
    json_array_foreach(json_object_get(o, "endpoints"), i, ep)
    {
        struct cg_release_pod *p = pod_for(s, ep);
        if (p == NULL)
            continue;
        json_t *conds = json_object_get(ep, "conditions");
        json_t *serving = json_object_get(conds, "serving"),
               *ready = json_object_get(conds, "ready");
        /* discovery/v1: an unset serving reads as ready, an unset ready as true */
        bool is_serving = serving != NULL ? json_is_true(serving)
                          : ready != NULL ? json_is_true(ready)
                                          : true;
        if (is_serving)
            p->endpoint = CG_EP_SERVING;
        else if (p->endpoint == CG_EP_NOT_LISTED)
            p->endpoint = CG_EP_NOT_SERVING;
    }
    json_decref(o);
    return CG_OK;
}

/* ---- checks, finish ---- */

void cg_ctl_snapshot_add_check(struct cg_ctl_snapshot *s, const char *name, bool ok, int64_t when,
                               const char *message)
{
    GROW(s->checks, s->view.n_checks, s->cap_checks);
    struct cg_release_check_result *r = &s->checks[s->view.n_checks++];
    r->name = dup_n(s, name, strlen(name));
    r->ok = ok;
    r->at = when;
    r->message = dup_n(s, message ? message : "", message ? strlen(message) : 0);
    s->view.checks = s->checks;
}

void cg_ctl_snapshot_finish(struct cg_ctl_snapshot *s, const struct cg_policy_set *set)
{
    struct cg_release_snapshot *v = &s->view;
    const struct cg_release_rs *cur = NULL;
    for (size_t i = 0; i < v->n_rs && cur == NULL; i++)
        if (s->rs[i].digest != 0 && s->rs[i].digest == v->template_digest)
            cur = &s->rs[i];
    /* A serialization the digest does not see through: the Deployment controller's own
     * answer, once it has observed the current generation. */
    if (cur == NULL && s->revision.n > 0 && v->observed_generation >= v->generation) {
        int64_t want = strtoll(s->revision.p, NULL, 10);
        for (size_t i = 0; i < v->n_rs && cur == NULL; i++)
            if (s->rs[i].revision == want)
                cur = &s->rs[i];
    }
    v->current_hash = cur ? cur->hash : CG_STR_NULL;
    s->policy = set && s->have_deployment
                    ? cg_policy_set_governing(set, CG_KIND_DEPLOYMENT, v->namespace_, &s->labels)
                    : NULL;
    /* break-glass counts with a reason (a non-empty value), as the webhook requires */
    v->has_break_glass = false;
    const char *bg = s->policy ? s->policy->emergency.break_glass_annotation : NULL;
    if (bg == NULL)
        bg = CG_ANN_BREAK_GLASS_DEFAULT;
    for (size_t i = 0; s->policy != NULL && i < s->annotations.n; i++)
        if (cg_str_eq_c(s->annotations.items[i].key, bg) && s->annotations.items[i].value.n > 0)
            v->has_break_glass = true;
}

/* ---- from the caches ---- */

/* Object texts copied out of a store under its lock, parsed after it is released. */
struct texts {
    struct cg_ctl_snapshot *s;
    struct cg_str *items;
    size_t n, cap;
};

static bool collect(void *ud, const char *json, size_t len, struct cg_str uid)
{
    struct texts *t = ud;
    GROW(t->items, t->n, t->cap);
    t->items[t->n++] = dup_n(t->s, json, len);
    return true;
}

enum cg_status cg_ctl_snapshot_build(struct cg_ctl_snapshot *s,
                                     const struct cg_controller_caches *caches,
                                     const struct cg_policy_set *set, struct cg_str ns,
                                     struct cg_str name, size_t *skipped, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct texts t = {s, NULL, 0, 0};
    size_t bad = 0;
    cg_ctl_snapshot_reset(s);
    if (!cg_objstore_get(caches->deployments, ns, name, collect, &t)) {
        st = cg_err_set(err, CG_ENOTFOUND, "deployment %.*s/%.*s is not in the cache", (int)ns.n,
                        ns.p, (int)name.n, name.p);
        goto out;
    }
    if ((st = deployment_text(s, t.items[0], err)) != CG_OK)
        goto out;
    t.n = 0;
    cg_objstore_each(caches->replicasets, ns, s->view.uid, collect, &t);
    for (size_t i = 0; i < t.n; i++) {
        bool kept;
        struct cg_err e;
        cg_err_clear(&e);
        if (replicaset_text(s, t.items[i], &kept, &e) != CG_OK)
            bad++;
    }
    t.n = 0;
    for (size_t r = 0; r < s->view.n_rs; r++)
        cg_objstore_each(caches->pods, ns, s->rs[r].uid, collect, &t);
    for (size_t i = 0; i < t.n; i++) {
        bool kept;
        struct cg_err e;
        cg_err_clear(&e);
        if (pod_text(s, t.items[i], &kept, &e) != CG_OK)
            bad++;
    }
    t.n = 0;
    if (s->view.n_pods > 0)
        cg_objstore_each(caches->endpointslices, ns, CG_STR_NULL, collect, &t);
    for (size_t i = 0; i < t.n; i++) {
        struct cg_err e;
        cg_err_clear(&e);
        if (cg_ctl_snapshot_add_endpointslice(s, t.items[i].p, t.items[i].n, &e) != CG_OK)
            bad++;
    }
    cg_ctl_snapshot_finish(s, set);
out:
    free(t.items);
    if (skipped != NULL)
        *skipped = bad;
    return st;
}
