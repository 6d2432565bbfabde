/* AdmissionReview decode: one pass of the validating scanner (scan.c) driven by the shape
 * of the review. Fields the rules read are stored as they pass by; everything else is
 * validated and skipped. A field of the wrong type is recorded (the first one wins) and
 * skipped so that the rest of the document is still checked: a syntax error anywhere makes
 * the result CG_EPARSE, and only a well-formed document can be CG_EINVAL. */
#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "admission/admission.h"
#include "admission/scan.h"

#define PATH_MAX_SEGS 16

struct dec {
    struct cg__scan sc;
    struct cg_arena *arena;
    /* The field being read, as a path (built into a message only on error). */
    const char *seg[PATH_MAX_SEGS];
    long idx[PATH_MAX_SEGS];
    int np;
    bool sem_failed;
    struct cg_err sem;
    /* spec.template.spec of object / oldObject, chosen over spec for non-Pod kinds. */
    struct cg_pod_spec tmpl_pod;
};

/* A growable array in the arena. */
struct vec {
    char *p;
    size_t n, cap;
};

static void *vec_push(struct dec *d, struct vec *v, size_t elem)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        v->p = cg_arena_grow(d->arena, v->p, v->cap * elem, cap * elem);
        v->cap = cap;
    }
    void *e = v->p + elem * v->n++;
    memset(e, 0, elem);
    return e;
}

static inline void enter(struct dec *d, const char *name)
{
    if (d->np < PATH_MAX_SEGS) {
        d->seg[d->np] = name;
        d->idx[d->np] = -1;
    }
    d->np++;
}

static inline void enter_idx(struct dec *d, size_t i)
{
    if (d->np < PATH_MAX_SEGS) {
        d->seg[d->np] = NULL;
        d->idx[d->np] = (long)i;
    }
    d->np++;
}

static inline void leave(struct dec *d)
{
    d->np--;
}

static void path_format(const struct dec *d, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    int np = d->np < PATH_MAX_SEGS ? d->np : PATH_MAX_SEGS;
    for (int k = 0; k < np && o < outlen; k++) {
        int w;
        if (d->seg[k] != NULL)
            w = snprintf(out + o, outlen - o, "%s%s", k ? "." : "", d->seg[k]);
        else
            w = snprintf(out + o, outlen - o, "[%ld]", d->idx[k]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* Records the first semantic error, prefixed with the current path. */
static void sem(struct dec *d, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sem(struct dec *d, size_t off, const char *fmt, ...)
{
    if (d->sem_failed)
        return;
    d->sem_failed = true;
    char path[200], what[200];
    path_format(d, path, sizeof(path));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    cg_err_set(&d->sem, CG_EINVAL, "%s: %s (at byte %zu)", path, what, off);
}

static const char *type_name(int c)
{
    switch (c) {
    case '{':
        return "an object";
    case '[':
        return "an array";
    case '"':
        return "a string";
    case 't':
    case 'f':
        return "a boolean";
    case 'n':
        return "null";
    default:
        return "a number";
    }
}

/* The value at the current offset has the wrong type: record it and skip it. */
static bool wrong_type(struct dec *d, const char *expected)
{
    int c = d->sc.s[d->sc.i];
    sem(d, d->sc.i, "expected %s, got %s", expected, type_name(c));
    return cg__scan_skip(&d->sc);
}

static inline int cur(struct dec *d)
{
    /* obj_next / arr_next guarantee a value byte at the current offset. */
    return d->sc.s[d->sc.i];
}

static inline bool key_is(struct cg_str k, const char *lit)
{
    size_t n = strlen(lit);
    return k.n == n && memcmp(k.p, lit, n) == 0;
}

/* The string at the current offset, unescaped into the arena when it has escapes. */
static bool take_string(struct dec *d, struct cg_str *out)
{
    size_t off, len;
    bool esc;
    if (!cg__scan_string(&d->sc, &off, &len, &esc))
        return false;
    const char *raw = (const char *)d->sc.s + off;
    if (!esc) {
        *out = (struct cg_str){raw, len};
    } else {
        char *p = cg_arena_alloc(d->arena, len);
        *out = (struct cg_str){p, cg__json_unescape(raw, len, p)};
    }
    return true;
}

static struct cg_str key_persist(struct dec *d, const struct cg__scan_keyref *k)
{
    if (!k->esc)
        return k->text;
    char *p = cg_arena_alloc(d->arena, k->text.n);
    memcpy(p, k->text.p, k->text.n);
    return (struct cg_str){p, k->text.n};
}

static bool skip_null(struct dec *d)
{
    char kind;
    return cg__scan_literal(&d->sc, &kind);
}

/* ---- leaves ---- */

static bool rd_str(struct dec *d, const char *name, struct cg_str *out)
{
    bool ok;
    enter(d, name);
    if (cur(d) == '"')
        ok = take_string(d, out);
    else if (cur(d) == 'n')
        ok = skip_null(d);
    else
        ok = wrong_type(d, "a string");
    leave(d);
    return ok;
}

static bool rd_bool(struct dec *d, const char *name, bool *out)
{
    bool ok;
    char kind;
    enter(d, name);
    if (cur(d) == 't' || cur(d) == 'f' || cur(d) == 'n') {
        ok = cg__scan_literal(&d->sc, &kind);
        if (ok)
            *out = kind == 't';
    } else {
        ok = wrong_type(d, "a boolean");
    }
    leave(d);
    return ok;
}

/* Parses an integer literal already validated by the scanner; false on overflow. */
static bool parse_int(const unsigned char *p, size_t n, int64_t *out)
{
    bool neg = n > 0 && p[0] == '-';
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (size_t k = neg; k < n; k++) {
        unsigned dgt = p[k] - '0';
        if (v > (lim - dgt) / 10)
            return false;
        v = v * 10 + dgt;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* An integer value at the current offset: 1 = stored, 0 = not an integer (recorded). */
static bool take_int(struct dec *d, int64_t *out, bool *stored)
{
    size_t start = d->sc.i, off, len;
    bool is_int;
    *stored = false;
    if (!cg__scan_number(&d->sc, &off, &len, &is_int))
        return false;
    if (!is_int || !parse_int(d->sc.s + off, len, out)) {
        sem(d, start, "expected an integer, got %.*s", len > 40 ? 40 : (int)len,
            (const char *)d->sc.s + off);
        return true;
    }
    *stored = true;
    return true;
}

static bool rd_int(struct dec *d, const char *name, struct cg_opt_int *out)
{
    bool ok;
    enter(d, name);
    int c = cur(d);
    if (c == '-' || (c >= '0' && c <= '9'))
        ok = take_int(d, &out->v, &out->present);
    else if (c == 'n')
        ok = skip_null(d);
    else
        ok = wrong_type(d, "an integer");
    leave(d);
    return ok;
}

static bool rd_intstr(struct dec *d, const char *name, struct cg_intstr *out)
{
    bool ok;
    enter(d, name);
    int c = cur(d);
    if (c == '-' || (c >= '0' && c <= '9')) {
        ok = take_int(d, &out->i, &out->present);
        out->is_string = false;
    } else if (c == '"') {
        ok = take_string(d, &out->s);
        out->present = out->is_string = true;
    } else if (c == 'n') {
        ok = skip_null(d);
    } else {
        ok = wrong_type(d, "an integer or a string");
    }
    leave(d);
    return ok;
}

/* A value that only matters by being there and not null (readinessProbe, ...). It must be an
 * object or null. */
static bool rd_present_obj(struct dec *d, const char *name, bool *out)
{
    bool ok;
    enter(d, name);
    if (cur(d) == '{') {
        *out = true;
        ok = cg__scan_skip(&d->sc);
    } else if (cur(d) == 'n') {
        *out = false;
        ok = skip_null(d);
    } else {
        ok = wrong_type(d, "an object");
    }
    leave(d);
    return ok;
}

/* The start of an object field: 1 = opened, 0 = null or wrong type (consumed, and recorded
 * if the type is wrong), -1 = syntax error. */
static int obj_begin(struct dec *d, struct cg__scan_obj *o)
{
    if (cur(d) == '{')
        return cg__scan_obj_open(&d->sc, o) ? 1 : -1;
    if (cur(d) == 'n')
        return skip_null(d) ? 0 : -1;
    return wrong_type(d, "an object") ? 0 : -1;
}

static int arr_begin(struct dec *d, struct cg__scan_arr *a, const char *expected)
{
    if (cur(d) == '[')
        return cg__scan_arr_open(&d->sc, a) ? 1 : -1;
    if (cur(d) == 'n')
        return skip_null(d) ? 0 : -1;
    return wrong_type(d, expected) ? 0 : -1;
}

static bool rd_strs(struct dec *d, const char *name, struct cg_strs *out)
{
    struct cg__scan_arr a;
    struct vec v = {0};
    int r;
    enter(d, name);
    out->present = true;
    r = arr_begin(d, &a, "an array of strings");
    if (r <= 0)
        goto out;
    while ((r = cg__scan_arr_next(&d->sc, &a)) == 1) {
        enter_idx(d, v.n);
        if (cur(d) == '"') {
            struct cg_str *s = vec_push(d, &v, sizeof(*s));
            if (!take_string(d, s))
                r = -1;
        } else if (!wrong_type(d, "a string")) {
            r = -1;
        }
        leave(d);
        if (r < 0)
            break;
    }
out:
    out->items = (const struct cg_str *)v.p;
    out->n = v.n;
    leave(d);
    return r >= 0;
}

static bool rd_kvs(struct dec *d, const char *name, struct cg_kvs *out)
{
    struct cg__scan_obj o;
    struct cg__scan_keyref k;
    struct vec v = {0};
    int r;
    enter(d, name);
    out->present = true;
    r = obj_begin(d, &o);
    if (r <= 0)
        goto out;
    while ((r = cg__scan_obj_next(&d->sc, &o, &k)) == 1) {
        struct cg_str key = key_persist(d, &k);
        if (cur(d) == '"' || cur(d) == 'n') {
            struct cg_kv *kv = vec_push(d, &v, sizeof(*kv));
            kv->key = key;
            if (cur(d) == '"' ? !take_string(d, &kv->value) : !skip_null(d))
                r = -1;
        } else {
            sem(d, d->sc.i, "expected an object of strings, but the value of \"%.*s\" is %s",
                key.n > 64 ? 64 : (int)key.n, key.p, type_name(cur(d)));
            if (!cg__scan_skip(&d->sc))
                r = -1;
        }
        if (r < 0)
            break;
    }
out:
    out->items = (const struct cg_kv *)v.p;
    out->n = v.n;
    leave(d);
    return r >= 0;
}

/* Reads the value of one key of an object into target, or skips it when the key is not one
 * the reader wants. false = syntax error. */
typedef bool (*key_fn)(struct dec *d, struct cg_str key, void *target);

/* The keys of an open object, each handed to fn: 0 = the object closed, -1 = syntax error. */
static int read_keys(struct dec *d, struct cg__scan_obj *o, key_fn fn, void *target)
{
    struct cg__scan_keyref k;
    int r;
    while ((r = cg__scan_obj_next(&d->sc, o, &k)) == 1) {
        if (!fn(d, k.text, target))
            return -1;
    }
    return r;
}

/* An object field read key by key by fn. Null (or a wrong type, recorded) leaves target as
 * it is; *present, when given, is set once the field opens as an object. */
static bool rd_fields(struct dec *d, const char *name, key_fn fn, void *target, bool *present)
{
    struct cg__scan_obj o;
    int r;
    enter(d, name);
    r = obj_begin(d, &o);
    if (r > 0) {
        if (present != NULL)
            *present = true;
        r = read_keys(d, &o, fn, target);
    }
    leave(d);
    return r >= 0;
}

/* An array field of objects: each element, which must be an object, is read by fn into a new
 * zeroed element of elem bytes pushed on v. */
static bool rd_objects(struct dec *d, const char *name, size_t elem, key_fn fn, struct vec *v)
{
    struct cg__scan_arr a;
    int r;
    enter(d, name);
    r = arr_begin(d, &a, "an array of objects");
    if (r <= 0)
        goto out;
    while ((r = cg__scan_arr_next(&d->sc, &a)) == 1) {
        struct cg__scan_obj o;
        enter_idx(d, v->n);
        if (cur(d) != '{') {
            r = wrong_type(d, "an object") ? 1 : -1;
        } else {
            void *e = vec_push(d, v, elem);
            r = cg__scan_obj_open(&d->sc, &o) ? read_keys(d, &o, fn, e) : -1;
        }
        leave(d);
        if (r < 0)
            break;
    }
out:
    leave(d);
    return r >= 0;
}

/* ---- request parts ---- */

static bool gvk_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_gvk *out = target;
    if (key_is(k, "group"))
        return rd_str(d, "group", &out->group);
    if (key_is(k, "version"))
        return rd_str(d, "version", &out->version);
    if (key_is(k, "kind"))
        return rd_str(d, "kind", &out->kind);
    return cg__scan_skip(&d->sc);
}

static bool gvr_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_gvr *out = target;
    if (key_is(k, "group"))
        return rd_str(d, "group", &out->group);
    if (key_is(k, "version"))
        return rd_str(d, "version", &out->version);
    if (key_is(k, "resource"))
        return rd_str(d, "resource", &out->resource);
    return cg__scan_skip(&d->sc);
}

static bool user_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_admission_request *req = target;
    if (key_is(k, "username"))
        return rd_str(d, "username", &req->username);
    if (key_is(k, "uid"))
        return rd_str(d, "uid", &req->user_uid);
    if (key_is(k, "groups"))
        return rd_strs(d, "groups", &req->groups);
    return cg__scan_skip(&d->sc);
}

static bool owner_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_owner_ref *t = target;
    if (key_is(k, "apiVersion"))
        return rd_str(d, "apiVersion", &t->api_version);
    if (key_is(k, "kind"))
        return rd_str(d, "kind", &t->kind);
    if (key_is(k, "name"))
        return rd_str(d, "name", &t->name);
    if (key_is(k, "uid"))
        return rd_str(d, "uid", &t->uid);
    if (key_is(k, "controller"))
        return rd_bool(d, "controller", &t->controller);
    return cg__scan_skip(&d->sc);
}

/* Only one owner is kept, so unlike rd_objects nothing is stored per element (and a null
 * element is let pass). */
static bool rd_owner_refs(struct dec *d, const char *name, struct cg_owner_ref *owner)
{
    struct cg__scan_arr a;
    int r;
    size_t idx = 0;
    enter(d, name);
    r = arr_begin(d, &a, "an array");
    if (r <= 0)
        goto out;
    while ((r = cg__scan_arr_next(&d->sc, &a)) == 1) {
        struct cg_owner_ref t = {.present = true};
        struct cg__scan_obj o;
        enter_idx(d, idx++);
        r = obj_begin(d, &o);
        if (r > 0) {
            r = read_keys(d, &o, owner_key, &t);
            /* The controlling owner wins; otherwise the first one. */
            if (r == 0 && (!owner->present || (!owner->controller && t.controller)))
                *owner = t;
        }
        leave(d);
        if (r < 0)
            break;
    }
out:
    leave(d);
    return r >= 0;
}

static bool metadata_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_object *obj = target;
    if (key_is(k, "name"))
        return rd_str(d, "name", &obj->name);
    if (key_is(k, "generateName"))
        return rd_str(d, "generateName", &obj->generate_name);
    if (key_is(k, "namespace"))
        return rd_str(d, "namespace", &obj->namespace_);
    if (key_is(k, "uid"))
        return rd_str(d, "uid", &obj->uid);
    if (key_is(k, "labels"))
        return rd_kvs(d, "labels", &obj->labels);
    if (key_is(k, "annotations"))
        return rd_kvs(d, "annotations", &obj->annotations);
    if (key_is(k, "finalizers"))
        return rd_strs(d, "finalizers", &obj->finalizers);
    if (key_is(k, "deletionTimestamp")) {
        struct cg_str ts = CG_STR_NULL;
        bool ok = rd_str(d, "deletionTimestamp", &ts);
        obj->deletion_timestamp_set = ts.p != NULL;
        return ok;
    }
    if (key_is(k, "ownerReferences"))
        return rd_owner_refs(d, "ownerReferences", &obj->owner);
    return cg__scan_skip(&d->sc);
}

static bool container_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_container *c = target;
    if (key_is(k, "name"))
        return rd_str(d, "name", &c->name);
    if (key_is(k, "readinessProbe"))
        return rd_present_obj(d, "readinessProbe", &c->has_readiness_probe);
    return cg__scan_skip(&d->sc);
}

static bool rd_containers(struct dec *d, const char *name, struct cg_containers *out)
{
    struct vec v = {0};
    bool ok = rd_objects(d, name, sizeof(struct cg_container), container_key, &v);
    out->items = (const struct cg_container *)v.p;
    out->n = v.n;
    return ok;
}

/* A readiness gate is kept as its conditionType. */
static bool gate_key(struct dec *d, struct cg_str k, void *target)
{
    if (key_is(k, "conditionType"))
        return rd_str(d, "conditionType", target);
    return cg__scan_skip(&d->sc);
}

static bool rd_gates(struct dec *d, const char *name, struct cg_strs *out)
{
    struct vec v = {0};
    out->present = true;
    bool ok = rd_objects(d, name, sizeof(struct cg_str), gate_key, &v);
    out->items = (const struct cg_str *)v.p;
    out->n = v.n;
    return ok;
}

static bool requirement_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_node_requirement *r = target;
    if (key_is(k, "key"))
        return rd_str(d, "key", &r->key);
    if (key_is(k, "operator"))
        return rd_str(d, "operator", &r->operator_);
    if (key_is(k, "values"))
        return rd_strs(d, "values", &r->values);
    return cg__scan_skip(&d->sc);
}

static bool node_term_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_node_term *t = target;
    if (key_is(k, "matchExpressions")) {
        struct vec v = {0};
        t->has_match_expressions = true;
        bool ok = rd_objects(d, "matchExpressions", sizeof(struct cg_node_requirement),
                             requirement_key, &v);
        t->match_expressions = (const struct cg_node_requirement *)v.p;
        t->n_match_expressions = v.n;
        return ok;
    }
    return cg__scan_skip(&d->sc);
}

static bool node_selector_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_node_terms *terms = target;
    if (key_is(k, "nodeSelectorTerms")) {
        struct vec v = {0};
        terms->present = true;
        bool ok =
            rd_objects(d, "nodeSelectorTerms", sizeof(struct cg_node_term), node_term_key, &v);
        terms->items = (const struct cg_node_term *)v.p;
        terms->n = v.n;
        return ok;
    }
    return cg__scan_skip(&d->sc);
}

static bool node_affinity_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_pod_spec *ps = target;
    if (key_is(k, "requiredDuringSchedulingIgnoredDuringExecution"))
        return rd_fields(d, "requiredDuringSchedulingIgnoredDuringExecution", node_selector_key,
                         &ps->node_terms, &ps->has_required_node_affinity);
    return cg__scan_skip(&d->sc);
}

static bool affinity_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_pod_spec *ps = target;
    if (key_is(k, "nodeAffinity"))
        return rd_fields(d, "nodeAffinity", node_affinity_key, ps, &ps->has_node_affinity);
    return cg__scan_skip(&d->sc);
}

static bool podspec_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_pod_spec *ps = target;
    if (key_is(k, "containers"))
        return rd_containers(d, "containers", &ps->containers);
    if (key_is(k, "initContainers"))
        return rd_containers(d, "initContainers", &ps->init_containers);
    if (key_is(k, "readinessGates"))
        return rd_gates(d, "readinessGates", &ps->readiness_gates);
    if (key_is(k, "affinity"))
        return rd_fields(d, "affinity", affinity_key, ps, &ps->has_affinity);
    if (key_is(k, "nodeName"))
        return rd_str(d, "nodeName", &ps->node_name);
    if (key_is(k, "nodeSelector"))
        return rd_kvs(d, "nodeSelector", &ps->node_selector);
    return cg__scan_skip(&d->sc);
}

static bool template_meta_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_object *obj = target;
    if (key_is(k, "labels"))
        return rd_kvs(d, "labels", &obj->template_labels);
    if (key_is(k, "annotations"))
        return rd_kvs(d, "annotations", &obj->template_annotations);
    return cg__scan_skip(&d->sc);
}

static bool template_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_object *obj = target;
    if (key_is(k, "metadata"))
        return rd_fields(d, "metadata", template_meta_key, obj, NULL);
    if (key_is(k, "spec"))
        return rd_fields(d, "spec", podspec_key, &d->tmpl_pod, &d->tmpl_pod.present);
    return cg__scan_skip(&d->sc);
}

static bool rd_template(struct dec *d, const char *name, struct cg_object *obj)
{
    size_t start = d->sc.i, ws_before = d->sc.ws_skipped;
    if (!rd_fields(d, name, template_key, obj, &obj->has_template))
        return false;
    if (obj->has_template) {
        /* The apiserver sends compact JSON: then the text is hashed as it is, in one pass. */
        const char *t = (const char *)d->sc.s + start;
        obj->template_json = (struct cg_str){t, d->sc.i - start};
        obj->template_compact = d->sc.ws_skipped == ws_before;
        obj->template_digest = d->sc.ws_skipped == ws_before
                                   ? cg__digest_compact(t, d->sc.i - start)
                                   : cg_admission_digest_json(t, d->sc.i - start);
    }
    return true;
}

static bool rolling_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_object *obj = target;
    if (key_is(k, "maxSurge"))
        return rd_intstr(d, "maxSurge", &obj->max_surge);
    if (key_is(k, "maxUnavailable"))
        return rd_intstr(d, "maxUnavailable", &obj->max_unavailable);
    return cg__scan_skip(&d->sc);
}

static bool strategy_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_object *obj = target;
    if (key_is(k, "type"))
        return rd_str(d, "type", &obj->strategy_type);
    if (key_is(k, "rollingUpdate"))
        return rd_fields(d, "rollingUpdate", rolling_key, obj, &obj->has_rolling_update);
    return cg__scan_skip(&d->sc);
}

/* spec of any object: the Deployment fields and the pod spec fields are read side by side,
 * and finish_object keeps what the object's kind gives meaning to. */
static bool spec_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_object *obj = target;
    if (key_is(k, "replicas"))
        return rd_int(d, "replicas", &obj->replicas);
    if (key_is(k, "revisionHistoryLimit"))
        return rd_int(d, "revisionHistoryLimit", &obj->revision_history_limit);
    if (key_is(k, "progressDeadlineSeconds"))
        return rd_int(d, "progressDeadlineSeconds", &obj->progress_deadline_seconds);
    if (key_is(k, "minReadySeconds"))
        return rd_int(d, "minReadySeconds", &obj->min_ready_seconds);
    if (key_is(k, "strategy"))
        return rd_fields(d, "strategy", strategy_key, obj, &obj->has_strategy);
    if (key_is(k, "template"))
        return rd_template(d, "template", obj);
    return podspec_key(d, k, &obj->pod);
}

static bool rd_spec(struct dec *d, const char *name, struct cg_object *obj)
{
    bool ok = rd_fields(d, name, spec_key, obj, &obj->has_spec);
    obj->pod.present = obj->has_spec;
    return ok;
}

/* A Pod's own spec is its pod spec and it has no Deployment fields; any other kind takes
 * its pod spec from spec.template.spec. */
static void finish_object(struct cg_object *obj, const struct cg_pod_spec *tmpl_pod,
                          struct cg_str fallback_kind)
{
    struct cg_str kind = obj->kind.n ? obj->kind : fallback_kind;
    if (cg_str_eq_c(kind, "Pod")) {
        struct cg_object keep = *obj;
        memset(&obj->has_spec, 0, sizeof(*obj) - offsetof(struct cg_object, has_spec));
        obj->pod = keep.pod;
        return;
    }
    obj->pod = *tmpl_pod;
    obj->phase = CG_STR_NULL;
    memset(&obj->conditions, 0, sizeof(obj->conditions));
}

static bool condition_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_condition *c = target;
    if (key_is(k, "type"))
        return rd_str(d, "type", &c->type);
    if (key_is(k, "status"))
        return rd_str(d, "status", &c->status);
    return cg__scan_skip(&d->sc);
}

/* status of any object: only a Pod's phase and conditions are read. */
static bool status_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_object *obj = target;
    if (key_is(k, "phase"))
        return rd_str(d, "phase", &obj->phase);
    if (key_is(k, "conditions")) {
        struct vec v = {0};
        bool ok = rd_objects(d, "conditions", sizeof(struct cg_condition), condition_key, &v);
        obj->conditions.items = (const struct cg_condition *)v.p;
        obj->conditions.n = v.n;
        return ok;
    }
    return cg__scan_skip(&d->sc);
}

static bool object_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_object *obj = target;
    if (key_is(k, "metadata"))
        return rd_fields(d, "metadata", metadata_key, obj, &obj->has_metadata);
    if (key_is(k, "status"))
        return rd_fields(d, "status", status_key, obj, NULL);
    if (key_is(k, "spec"))
        return rd_spec(d, "spec", obj);
    if (key_is(k, "kind"))
        return rd_str(d, "kind", &obj->kind);
    if (key_is(k, "apiVersion"))
        return rd_str(d, "apiVersion", &obj->api_version);
    return cg__scan_skip(&d->sc);
}

static bool rd_object(struct dec *d, const char *name, struct cg_object *obj,
                      struct cg_pod_spec *tmpl_pod)
{
    memset(&d->tmpl_pod, 0, sizeof(d->tmpl_pod));
    bool ok = rd_fields(d, name, object_key, obj, &obj->present);
    *tmpl_pod = d->tmpl_pod;
    return ok;
}

/* What the review gives besides the request's own fields. */
struct review {
    struct cg_admission_request *req;
    struct cg_str kind;
    bool has_request;
    /* spec.template.spec of object and oldObject. */
    struct cg_pod_spec tmpl[2];
};

static bool request_key(struct dec *d, struct cg_str k, void *target)
{
    struct review *rv = target;
    struct cg_admission_request *req = rv->req;
    if (key_is(k, "uid"))
        return rd_str(d, "uid", &req->uid);
    if (key_is(k, "kind"))
        return rd_fields(d, "kind", gvk_key, &req->kind, NULL);
    if (key_is(k, "resource"))
        return rd_fields(d, "resource", gvr_key, &req->resource, NULL);
    if (key_is(k, "subResource"))
        return rd_str(d, "subResource", &req->sub_resource);
    if (key_is(k, "requestKind"))
        return rd_fields(d, "requestKind", gvk_key, &req->request_kind, NULL);
    if (key_is(k, "name"))
        return rd_str(d, "name", &req->name);
    if (key_is(k, "namespace"))
        return rd_str(d, "namespace", &req->namespace_);
    if (key_is(k, "operation"))
        return rd_str(d, "operation", &req->operation_raw);
    if (key_is(k, "userInfo"))
        return rd_fields(d, "userInfo", user_key, req, NULL);
    if (key_is(k, "object"))
        return rd_object(d, "object", &req->object, &rv->tmpl[0]);
    if (key_is(k, "oldObject"))
        return rd_object(d, "oldObject", &req->old_object, &rv->tmpl[1]);
    if (key_is(k, "dryRun"))
        return rd_bool(d, "dryRun", &req->dry_run);
    return cg__scan_skip(&d->sc);
}

static bool rd_request(struct dec *d, const char *name, struct review *rv)
{
    if (cur(d) == 'n') {
        /* Unlike the objects inside it, the request must not be null. */
        bool ok;
        enter(d, name);
        sem(d, d->sc.i, "expected an object, got null");
        ok = skip_null(d);
        leave(d);
        return ok;
    }
    return rd_fields(d, name, request_key, rv, &rv->has_request);
}

static bool root_key(struct dec *d, struct cg_str k, void *target)
{
    struct review *rv = target;
    if (key_is(k, "apiVersion"))
        return rd_str(d, "apiVersion", &rv->req->api_version);
    if (key_is(k, "kind"))
        return rd_str(d, "kind", &rv->kind);
    if (key_is(k, "request"))
        return rd_request(d, "request", rv);
    return cg__scan_skip(&d->sc);
}

/* The top level, known to start with '{'. */
static bool rd_root(struct dec *d, struct review *rv)
{
    struct cg__scan_obj o;
    return cg__scan_obj_open(&d->sc, &o) && read_keys(d, &o, root_key, rv) == 0;
}

static enum cg_operation operation_of(struct cg_str s)
{
    if (cg_str_eq_c(s, "CREATE"))
        return CG_OP_CREATE;
    if (cg_str_eq_c(s, "UPDATE"))
        return CG_OP_UPDATE;
    if (cg_str_eq_c(s, "DELETE"))
        return CG_OP_DELETE;
    if (cg_str_eq_c(s, "CONNECT"))
        return CG_OP_CONNECT;
    return CG_OP_UNKNOWN;
}

/* Quotes s for a message, cut to a readable length. */
static int shown_len(struct cg_str s)
{
    return s.n > 64 ? 64 : (int)s.n;
}

enum cg_status cg_admission_decode(const char *body, size_t len, struct cg_arena *arena,
                                   struct cg_admission_request *out, struct cg_err *err)
{
    assert(arena != NULL && out != NULL);
    enum cg_status st = CG_OK;
    struct dec dstore;
    struct dec *d = &dstore;
    struct review rv = {.req = out};
    bool is_object;

    memset(out, 0, sizeof(*out));
    cg_err_clear(err);
    d->arena = arena;
    d->np = 0;
    d->sem_failed = false;
    cg__scan_init(&d->sc, body != NULL ? body : "", body != NULL ? len : 0, err);

    int c = cg__scan_peek(&d->sc);
    if (c < 0) {
        st = cg_err_set(err, CG_EPARSE, "empty body (expected an AdmissionReview JSON object)");
        goto out;
    }
    is_object = c == '{';
    bool ok = is_object ? rd_root(d, &rv) : cg__scan_skip(&d->sc);
    if (ok && cg__scan_peek(&d->sc) >= 0)
        ok = cg__scan_fail(&d->sc, d->sc.i, "unexpected data after the JSON value");
    if (!ok) {
        st = CG_EPARSE;
        goto out;
    }
    if (!is_object) {
        st = cg_err_set(err, CG_EINVAL,
                        "the body is JSON but not an object (expected an "
                        "AdmissionReview)");
        goto out;
    }
    if (d->sem_failed) {
        if (err != NULL)
            *err = d->sem;
        st = CG_EINVAL;
        goto out;
    }
    if (!cg_str_eq_c(out->api_version, "admission.k8s.io/v1")) {
        st = out->api_version.n == 0
                 ? cg_err_set(err, CG_EINVAL,
                              "apiVersion: missing (expected \"admission.k8s.io/v1\")")
                 : cg_err_set(err, CG_EINVAL,
                              "apiVersion: expected \"admission.k8s.io/v1\", got \"%.*s\"",
                              shown_len(out->api_version), out->api_version.p);
        goto out;
    }
    if (!cg_str_eq_c(rv.kind, "AdmissionReview")) {
        st = rv.kind.n == 0
                 ? cg_err_set(err, CG_EINVAL, "kind: missing (expected \"AdmissionReview\")")
                 : cg_err_set(err, CG_EINVAL, "kind: expected \"AdmissionReview\", got \"%.*s\"",
                              shown_len(rv.kind), rv.kind.p);
        goto out;
    }
    if (!rv.has_request) {
        st = cg_err_set(err, CG_EINVAL,
                        "request: missing (an AdmissionReview request is "
                        "expected)");
        goto out;
    }
    if (out->uid.p == NULL) {
        st = cg_err_set(err, CG_EINVAL, "request.uid: missing");
        goto out;
    }
    if (out->uid.n == 0) {
        st = cg_err_set(err, CG_EINVAL, "request.uid: must not be empty");
        goto out;
    }
    out->operation = operation_of(out->operation_raw);
    finish_object(&out->object, &rv.tmpl[0], out->kind.kind);
    finish_object(&out->old_object, &rv.tmpl[1], out->kind.kind);
out:
    cg__scan_dispose(&d->sc);
    if (st != CG_OK && err != NULL)
        err->status = st;
    return st;
}
