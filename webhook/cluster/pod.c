/* cg_pod_state_decode: one pass of the admission module's validating scanner (scan.h) over a
 * Pod, driven key by key like admission/decode.c. Only the dozen fields the pod cache and the
 * Pod rules read are stored; everything else (managedFields, spec, most of status) is
 * validated and skipped without building anything, which is what lets a LIST of 100,000 pods
 * be decoded within the cache's sync budget. A field of the wrong type is recorded (the first
 * one wins) and skipped, so a syntax error later in the text still makes the result
 * CG_EPARSE: only a well-formed document can be CG_EINVAL. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admission/scan.h"
#include "base/names.h"
#include "cluster/cluster.h"

#define PATH_MAX_SEGS 8

struct dec {
    struct cg__scan sc;
    struct cg_arena *arena;
    struct cg_pod_state *out;
    /* The field being read, as a path (formatted only on error). */
    const char *seg[PATH_MAX_SEGS];
    long idx[PATH_MAX_SEGS];
    int np;
    bool sem_failed;
    struct cg_err sem;
};

/* One element of ownerReferences or status.conditions while it is read. */
struct owner_ref {
    struct cg_str uid;
    bool controller;
};

struct condition {
    struct cg_str type, status;
};

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
    char path[160], what[200];
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

static inline int cur(struct dec *d)
{
    /* obj_next / arr_next guarantee a value byte at the current offset. */
    return d->sc.s[d->sc.i];
}

/* The value at the current offset has the wrong type: record it and skip it. */
static bool wrong_type(struct dec *d, const char *expected)
{
    sem(d, d->sc.i, "expected %s, got %s", expected, type_name(cur(d)));
    return cg__scan_skip(&d->sc);
}

static inline bool key_is(struct cg_str k, const char *lit)
{
    size_t n = strlen(lit);
    return k.n == n && memcmp(k.p, lit, n) == 0;
}

static bool skip_null(struct dec *d)
{
    char kind;
    return cg__scan_literal(&d->sc, &kind);
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
        char *p = cg_arena_alloc(d->arena, len ? len : 1);
        *out = (struct cg_str){p, cg__json_unescape(raw, len, p)};
    }
    return true;
}

/* A string or null (left as it is) named name. */
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

static int arr_begin(struct dec *d, struct cg__scan_arr *a)
{
    if (cur(d) == '[')
        return cg__scan_arr_open(&d->sc, a) ? 1 : -1;
    if (cur(d) == 'n')
        return skip_null(d) ? 0 : -1;
    return wrong_type(d, "an array") ? 0 : -1;
}

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

/* An object field read key by key by fn; null (or a wrong type, recorded) reads nothing. */
static bool rd_fields(struct dec *d, const char *name, key_fn fn, void *target)
{
    struct cg__scan_obj o;
    int r;
    enter(d, name);
    r = obj_begin(d, &o);
    if (r > 0)
        r = read_keys(d, &o, fn, target);
    leave(d);
    return r >= 0;
}

/* An array of objects, each element read by fn into a zeroed elem-byte scratch that done()
 * then looks at: the decoder keeps one owner and one condition, never a list. */
static bool rd_each(struct dec *d, const char *name, key_fn fn, void *elem, size_t elem_size,
                    void (*done)(struct dec *d, void *elem))
{
    struct cg__scan_arr a;
    int r;
    size_t idx = 0;
    enter(d, name);
    r = arr_begin(d, &a);
    if (r <= 0)
        goto out;
    while ((r = cg__scan_arr_next(&d->sc, &a)) == 1) {
        struct cg__scan_obj o;
        enter_idx(d, idx++);
        memset(elem, 0, elem_size);
        r = obj_begin(d, &o);
        if (r > 0) {
            r = read_keys(d, &o, fn, elem);
            if (r == 0)
                done(d, elem);
        }
        leave(d);
        if (r < 0)
            break;
    }
out:
    leave(d);
    return r >= 0;
}

/* ---- RFC 3339 ---- */

static bool digits(const char *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* A strict RFC 3339 date-time (2026-11-26T08:41:40Z, fractional seconds dropped, Z or a
 * ±hh:mm offset) in s[0..n) to unix seconds. The policy layer has its own (NUL-terminated,
 * for YAML); this one reads the annotation value where it lies in the JSON text. */
static bool rfc3339_parse(const char *s, size_t n, int64_t *out)
{
    int y, mo, d, h, mi, sec, off = 0;
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
        return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om, sign = s[i] == '-' ? -1 : 1;
        if (n - i < 6 || s[i + 3] != ':' || !digits(s + i + 1, 2, &oh) ||
            !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        off = sign * (oh * 3600 + om * 60);
        i += 6;
    } else {
        return false;
    }
    if (i != n)
        return false;
    static const int dim[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > dim[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 ||
        mi > 59 || sec > 60)
        return false;
    if (sec == 60)
        sec = 59; /* a leap second: the instant before is close enough for a request time */
    /* days from civil (Howard Hinnant's algorithm) */
    int64_t yy = y - (mo <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    *out = days * 86400 + h * 3600 + mi * 60 + sec - off;
    return true;
}

/* ---- the Pod ---- */

/* labels and annotations: objects of strings. Every value's type is checked; only the
 * cellgate.io ones are kept. */
typedef void (*kv_fn)(struct dec *d, struct cg_str key, struct cg_str value);

static bool rd_kvs(struct dec *d, const char *name, kv_fn fn)
{
    struct cg__scan_obj o;
    struct cg__scan_keyref k;
    int r;
    enter(d, name);
    r = obj_begin(d, &o);
    if (r <= 0)
        goto out;
    while ((r = cg__scan_obj_next(&d->sc, &o, &k)) == 1) {
        if (cur(d) == '"') {
            /* Keys are compared before the value is read: the key's text may live in the
             * scanner's scratch, which the next key overwrites, never the value. */
            bool wanted = cg_str_has_prefix(k.text, "cellgate.io/");
            struct cg_str key = k.text, value = CG_STR_NULL;
            if (wanted ? !take_string(d, &value) : !cg__scan_skip(&d->sc)) {
                r = -1;
                break;
            }
            if (wanted)
                fn(d, key, value);
        } else if (cur(d) == 'n') {
            if (!skip_null(d)) {
                r = -1;
                break;
            }
        } else {
            sem(d, d->sc.i, "expected an object of strings, but the value of \"%.*s\" is %s",
                k.text.n > 64 ? 64 : (int)k.text.n, k.text.p, type_name(cur(d)));
            if (!cg__scan_skip(&d->sc)) {
                r = -1;
                break;
            }
        }
    }
out:
    leave(d);
    return r >= 0;
}

static void label(struct dec *d, struct cg_str key, struct cg_str value)
{
    if (key_is(key, CG_LABEL_CELL))
        d->out->cell = value;
}

static void annotation(struct dec *d, struct cg_str key, struct cg_str value)
{
    struct cg_pod_state *p = d->out;
    if (key_is(key, CG_ANN_DRAINING)) {
        p->draining = true;
    } else if (key_is(key, CG_ANN_DRAINED)) {
        p->drained = true;
    } else if (key_is(key, CG_ANN_POLICY)) {
        p->policy = value;
    } else if (key_is(key, CG_ANN_DRAIN_REQUESTED)) {
        int64_t t;
        /* 0 means absent, so a time at or before the epoch is as unusable as garbage. */
        p->drain_requested = rfc3339_parse(value.p, value.n, &t) && t > 0 ? t : -1;
    }
}

static bool owner_key(struct dec *d, struct cg_str k, void *target)
{
    struct owner_ref *t = target;
    if (key_is(k, "uid"))
        return rd_str(d, "uid", &t->uid);
    if (key_is(k, "controller"))
        return rd_bool(d, "controller", &t->controller);
    return cg__scan_skip(&d->sc);
}

static void owner_done(struct dec *d, void *elem)
{
    const struct owner_ref *t = elem;
    /* Kubernetes allows one controller; should a second appear, the first stays. */
    if (t->controller && d->out->owner_uid.n == 0)
        d->out->owner_uid = t->uid;
}

static bool metadata_key(struct dec *d, struct cg_str k, void *target)
{
    struct cg_pod_state *p = d->out;
    if (key_is(k, "name"))
        return rd_str(d, "name", &p->name);
    if (key_is(k, "namespace"))
        return rd_str(d, "namespace", &p->namespace_);
    if (key_is(k, "uid"))
        return rd_str(d, "uid", &p->uid);
    if (key_is(k, "labels"))
        return rd_kvs(d, "labels", label);
    if (key_is(k, "annotations"))
        return rd_kvs(d, "annotations", annotation);
    if (key_is(k, "deletionTimestamp")) {
        struct cg_str ts = CG_STR_NULL;
        bool ok = rd_str(d, "deletionTimestamp", &ts);
        p->terminating = ts.p != NULL;
        return ok;
    }
    if (key_is(k, "ownerReferences")) {
        struct owner_ref t;
        return rd_each(d, "ownerReferences", owner_key, &t, sizeof(t), owner_done);
    }
    return cg__scan_skip(&d->sc);
}

static bool condition_key(struct dec *d, struct cg_str k, void *target)
{
    struct condition *c = target;
    if (key_is(k, "type"))
        return rd_str(d, "type", &c->type);
    if (key_is(k, "status"))
        return rd_str(d, "status", &c->status);
    return cg__scan_skip(&d->sc);
}

static void condition_done(struct dec *d, void *elem)
{
    const struct condition *c = elem;
    if (cg_str_eq_c(c->type, CG_COND_TRAFFIC_READY))
        d->out->traffic_ready = cg_str_eq_c(c->status, "True");
}

static bool status_key(struct dec *d, struct cg_str k, void *target)
{
    if (key_is(k, "phase"))
        return rd_str(d, "phase", &d->out->phase);
    if (key_is(k, "conditions")) {
        struct condition c;
        return rd_each(d, "conditions", condition_key, &c, sizeof(c), condition_done);
    }
    return cg__scan_skip(&d->sc);
}

static bool root_key(struct dec *d, struct cg_str k, void *target)
{
    if (key_is(k, "metadata"))
        return rd_fields(d, "metadata", metadata_key, target);
    if (key_is(k, "status"))
        return rd_fields(d, "status", status_key, target);
    return cg__scan_skip(&d->sc);
}

enum cg_status cg_pod_state_decode(const char *json, size_t len, struct cg_arena *arena,
                                   struct cg_pod_state *out, struct cg_err *err)
{
    assert(arena != NULL && out != NULL);
    enum cg_status st = CG_OK;
    struct dec dstore;
    struct dec *d = &dstore;
    struct cg__scan_obj o;
    bool ok, is_object;

    memset(out, 0, sizeof(*out));
    cg_err_clear(err);
    d->arena = arena;
    d->out = out;
    d->np = 0;
    d->sem_failed = false;
    cg__scan_init(&d->sc, json != NULL ? json : "", json != NULL ? len : 0, err);

    int c = cg__scan_peek(&d->sc);
    if (c < 0) {
        st = cg_err_set(err, CG_EPARSE, "empty input (expected a Pod JSON object)");
        goto out;
    }
    is_object = c == '{';
    if (is_object)
        ok = cg__scan_obj_open(&d->sc, &o) && read_keys(d, &o, root_key, NULL) == 0;
    else
        ok = cg__scan_skip(&d->sc);
    if (ok && cg__scan_peek(&d->sc) >= 0)
        ok = cg__scan_fail(&d->sc, d->sc.i, "unexpected data after the JSON value");
    if (!ok) {
        st = CG_EPARSE;
        goto out;
    }
    if (!is_object) {
        st = cg_err_set(err, CG_EINVAL, "expected a Pod object, got %s", type_name(c));
        goto out;
    }
    if (d->sem_failed) {
        if (err != NULL)
            *err = d->sem;
        st = CG_EINVAL;
        goto out;
    }
out:
    cg__scan_dispose(&d->sc);
    if (st != CG_OK) {
        memset(out, 0, sizeof(*out));
        if (err != NULL)
            err->status = st;
    }
    return st;
}

bool cg_pod_state_is_live(const struct cg_pod_state *p)
{
    return !p->terminating && !cg_str_eq_c(p->phase, "Succeeded") &&
           !cg_str_eq_c(p->phase, "Failed");
}
