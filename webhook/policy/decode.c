/* The strict model builder: one YAML document (a node tree with positions) -> struct
 * cg_policy. Every unknown key, wrong type, missing field or impossible value is an error at
 * the position of the node it is about. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"
#include "policy/tz.h"

#define PATH_MAX_LEN 160

struct ctx {
    const char *file;
    struct cg_arena *mem; /* the set's memory */
    struct cg_err *err;
    const char *tz_dir;
};

/* ---- error helpers ---- */

static enum cg_status fail(struct ctx *c, const struct cg_ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum cg_status fail(struct ctx *c, const struct cg_ynode *at, const char *fmt, ...)
{
    char msg[CG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cg_err_set_at(c->err, CG_EINVAL, c->file, at ? at->line : 1, at ? at->col : 1, "%s",
                         msg);
}

static enum cg_status wrong_type(struct ctx *c, const struct cg_ynode *n, const char *path,
                                 const char *want)
{
    return fail(c, n, "%s: expected %s, got %s", path, want, cg__ynode_describe(n));
}

static void subpath(char *out, const char *path, const char *key)
{
    snprintf(out, PATH_MAX_LEN, "%s%s%s", path, path[0] ? "." : "", key);
}

static void subindex(char *out, const char *path, size_t i)
{
    snprintf(out, PATH_MAX_LEN, "%s[%zu]", path, i);
}

static char *mem_strdup(struct ctx *c, const char *s)
{
    size_t n = strlen(s);
    char *p = cg_arena_alloc(c->mem, n + 1);
    memcpy(p, s, n + 1);
    return p;
}

/* ---- mapping access ---- */

static enum cg_status expect_map(struct ctx *c, const struct cg_ynode *n, const char *path)
{
    if (n == NULL || n->kind != CG_YNODE_MAP)
        return wrong_type(c, n, path, "a mapping");
    return CG_OK;
}

/* Appends ", item" (or "item" to an empty list), cut at the buffer's end. */
static void join(char *list, size_t cap, const char *item)
{
    size_t used = strlen(list);
    if (used + 1 < cap)
        snprintf(list + used, cap - used, "%s%s", used ? ", " : "", item);
}

/* Every key of map must be in allowed (NULL-terminated). */
static enum cg_status check_keys(struct ctx *c, const struct cg_ynode *map, const char *path,
                                 const char *const *allowed)
{
    for (size_t i = 0; i < map->n; i += 2) {
        const struct cg_ynode *k = map->items[i];
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(k->value, *a) == 0;
        if (ok)
            continue;
        char list[256] = "";
        for (const char *const *a = allowed; *a; a++)
            join(list, sizeof(list), *a);
        return fail(c, k, "unknown key \"%s\" in %s (allowed: %s)", k->value,
                    path[0] ? path : "the document", list);
    }
    return CG_OK;
}

/* Lookups answer NULL on anything but a mapping, so a section read before its own type check
 * (spec.traffic written as a list) is reported by that check instead of crashing here. */
static const struct cg_ynode *get(const struct cg_ynode *map, const char *key)
{
    if (map->kind != CG_YNODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i += 2)
        if (strcmp(map->items[i]->value, key) == 0)
            return map->items[i + 1];
    return NULL;
}

static const struct cg_ynode *get_key(const struct cg_ynode *map, const char *key)
{
    if (map->kind != CG_YNODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i += 2)
        if (strcmp(map->items[i]->value, key) == 0)
            return map->items[i];
    return NULL;
}

static enum cg_status missing(struct ctx *c, const struct cg_ynode *map, const char *path,
                              const char *key)
{
    return fail(c, map, "%s: missing required key \"%s\"", path[0] ? path : "the document", key);
}

/* ---- scalars ---- */

static enum cg_status get_string(struct ctx *c, const struct cg_ynode *n, const char *path,
                                 const char **out)
{
    if (n == NULL || n->kind != CG_YNODE_SCALAR || cg__ynode_is_null(n))
        return wrong_type(c, n, path, "a string");
    if (n->plain && (cg__ynode_is_bool(n, NULL) || cg__ynode_is_float(n, NULL)))
        return fail(c, n, "%s: expected a string, got %s (quote it: \"%s\")", path,
                    cg__ynode_describe(n), n->value);
    if (n->len == 0)
        return fail(c, n, "%s: must not be empty", path);
    if (strlen(n->value) != n->len)
        return fail(c, n, "%s: must not contain NUL characters", path);
    *out = n->value;
    return CG_OK;
}

static enum cg_status get_int(struct ctx *c, const struct cg_ynode *n, const char *path,
                              long long lo, long long hi, long long *out)
{
    long long v;
    if (n == NULL || !cg__ynode_is_int(n, &v))
        return wrong_type(c, n, path, "an integer");
    if (v < lo || v > hi)
        return fail(c, n, "%s: %lld is out of range (%lld..%lld)", path, v, lo, hi);
    *out = v;
    return CG_OK;
}

static enum cg_status get_bool(struct ctx *c, const struct cg_ynode *n, const char *path, bool *out)
{
    if (n == NULL || !cg__ynode_is_bool(n, out))
        return wrong_type(c, n, path, "a boolean (true or false)");
    return CG_OK;
}

static enum cg_status get_enum(struct ctx *c, const struct cg_ynode *n, const char *path,
                               const char *const *names, int *out)
{
    const char *s;
    enum cg_status st = get_string(c, n, path, &s);
    if (st)
        return st;
    for (int i = 0; names[i]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return CG_OK;
        }
    }
    char list[200] = "";
    for (int i = 0; names[i]; i++)
        join(list, sizeof(list), names[i]);
    return fail(c, n, "%s: \"%s\" is not one of %s", path, s, list);
}

/* Go-style durations made of hours, minutes and seconds: "30s", "5m", "1h30m". */
bool cg__duration_parse(const char *s, int64_t *out)
{
    int64_t total = 0;
    int last_rank = 4;
    if (*s == '\0')
        return false;
    while (*s) {
        if (!(*s >= '0' && *s <= '9'))
            return false;
        int64_t v = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (*s++ - '0');
            if (v > 100000000)
                return false;
        }
        int rank, mult;
        if (*s == 'h')
            rank = 3, mult = 3600;
        else if (*s == 'm')
            rank = 2, mult = 60;
        else if (*s == 's')
            rank = 1, mult = 1;
        else
            return false;
        if (rank >= last_rank)
            return false; /* units in order, once each */
        last_rank = rank;
        s++;
        total += v * mult;
        if (total > (int64_t)10 * 366 * 86400)
            return false;
    }
    *out = total;
    return true;
}

/* 5400 -> "1h30m", 60 -> "1m", 0 -> "0s": the form a duration is written in. */
static const char *fmt_duration(int64_t secs, char *buf, size_t len)
{
    size_t used = 0;
    int64_t h = secs / 3600, m = secs % 3600 / 60, s = secs % 60;
    buf[0] = '\0';
    if (h)
        used += (size_t)snprintf(buf + used, len - used, "%lldh", (long long)h);
    if (m && used < len)
        used += (size_t)snprintf(buf + used, len - used, "%lldm", (long long)m);
    if ((s || secs == 0) && used < len)
        snprintf(buf + used, len - used, "%llds", (long long)s);
    return buf;
}

static enum cg_status get_duration(struct ctx *c, const struct cg_ynode *n, const char *path,
                                   int64_t min, int64_t max, int64_t *out)
{
    const char *s;
    if (n && n->kind == CG_YNODE_SCALAR && cg__ynode_is_int(n, NULL))
        return fail(c, n, "%s: a duration needs a unit, as in \"%ss\"", path, n->value);
    enum cg_status st = get_string(c, n, path, &s);
    if (st)
        return st;
    int64_t v;
    if (!cg__duration_parse(s, &v))
        return fail(c, n, "%s: \"%s\" is not a duration (use e.g. 30s, 5m, 1h30m)", path, s);
    if (v < min || v > max) {
        char lo[32], hi[32];
        return fail(c, n, "%s: %s is out of range (%s..%s)", path, s,
                    fmt_duration(min, lo, sizeof(lo)), fmt_duration(max, hi, sizeof(hi)));
    }
    *out = v;
    return CG_OK;
}

/* ---- name rules ---- */

static bool is_alnum_lower(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* DNS-1123 subdomain: lowercase alphanumerics, '-' and '.', alphanumeric at both ends. */
bool cg__dns1123_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253 || !is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum_lower(s[i]) && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

/* DNS-1123 label: as a subdomain without dots, at most 63 characters. */
bool cg__dns1123_label(const char *s)
{
    return strlen(s) <= 63 && strchr(s, '.') == NULL && cg__dns1123_subdomain(s);
}

/* A Kubernetes label value: at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends. */
static bool label_value_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return n == 0 || (isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]));
}

/* A Kubernetes qualified name with an optional DNS subdomain prefix ("cellgate.io/x"). */
static bool qualified_name_ok(const char *s)
{
    const char *slash = strchr(s, '/');
    const char *name = s;
    if (slash) {
        size_t plen = (size_t)(slash - s);
        char prefix[254];
        if (plen == 0 || plen > 253)
            return false;
        memcpy(prefix, s, plen);
        prefix[plen] = '\0';
        if (!cg__dns1123_subdomain(prefix))
            return false;
        name = slash + 1;
    }
    return name[0] != '\0' && label_value_ok(name);
}

static bool is_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static bool namespace_pattern_ok(const char *s)
{
    if (!is_glob(s))
        return cg__dns1123_label(s);
    if (strlen(s) > 63)
        return false;
    for (const char *p = s; *p; p++)
        if (!is_alnum_lower(*p) && !strchr("-*?[]!", *p))
            return false;
    return true;
}

/* ---- lists ---- */

typedef bool (*name_check_fn)(const char *s);

/* A list of strings, each passing check (when given); duplicates are errors. */
static enum cg_status get_strv(struct ctx *c, const struct cg_ynode *n, const char *path,
                               name_check_fn check, const char *what, bool allow_empty,
                               struct cg_strv *out)
{
    char p[PATH_MAX_LEN];
    if (n == NULL || n->kind != CG_YNODE_SEQ)
        return wrong_type(c, n, path, "a list");
    if (n->n == 0 && !allow_empty)
        return fail(c, n, "%s: must not be empty", path);
    out->items = n->n ? cg_arena_alloc(c->mem, n->n * sizeof(*out->items)) : NULL;
    out->n = 0;
    for (size_t i = 0; i < n->n; i++) {
        const char *s;
        subindex(p, path, i);
        enum cg_status st = get_string(c, n->items[i], p, &s);
        if (st)
            return st;
        if (check && !check(s))
            return fail(c, n->items[i], "%s: \"%s\" is not %s", p, s, what);
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->items[j], s) == 0)
                return fail(c, n->items[i], "%s: \"%s\" is listed twice", p, s);
        out->items[out->n++] = mem_strdup(c, s);
    }
    return CG_OK;
}

static bool group_name_ok(const char *s)
{
    return s[0] != '\0' && strlen(s) <= 253;
}

/* {groups: [..]} */
static enum cg_status get_groups_block(struct ctx *c, const struct cg_ynode *n, const char *path,
                                       struct cg_strv *out)
{
    static const char *const keys[] = {"groups", NULL};
    char p[PATH_MAX_LEN];
    enum cg_status st = expect_map(c, n, path);
    if (st || (st = check_keys(c, n, path, keys)))
        return st;
    const struct cg_ynode *g = get(n, "groups");
    if (g == NULL)
        return missing(c, n, path, "groups");
    subpath(p, path, "groups");
    return get_strv(c, g, p, group_name_ok, "a group name", false, out);
}

/* ---- spec.match ---- */

static const char *const selector_ops[] = {"In", "NotIn", "Exists", "DoesNotExist", NULL};

static enum cg_status decode_selector(struct ctx *c, const struct cg_ynode *n, const char *path,
                                      struct cg_label_selector *out)
{
    static const char *const keys[] = {"matchLabels", "matchExpressions", NULL};
    static const char *const req_keys[] = {"key", "operator", "values", NULL};
    char p[PATH_MAX_LEN], q[PATH_MAX_LEN], r[PATH_MAX_LEN];
    enum cg_status st = expect_map(c, n, path);
    if (st || (st = check_keys(c, n, path, keys)))
        return st;
    const struct cg_ynode *ml = get(n, "matchLabels");
    const struct cg_ynode *me = get(n, "matchExpressions");
    subpath(p, path, "matchLabels");
    if (ml && (st = expect_map(c, ml, p)))
        return st;
    subpath(q, path, "matchExpressions");
    if (me && me->kind != CG_YNODE_SEQ)
        return wrong_type(c, me, q, "a list");
    size_t total = (ml ? ml->n / 2 : 0) + (me ? me->n : 0);
    out->reqs = total ? cg_arena_alloc(c->mem, total * sizeof(*out->reqs)) : NULL;
    out->n = 0;
    for (size_t i = 0; ml && i < ml->n; i += 2) {
        const struct cg_ynode *k = ml->items[i], *v = ml->items[i + 1];
        const char *val;
        subpath(r, p, k->value);
        if (!qualified_name_ok(k->value))
            return fail(c, k, "%s: \"%s\" is not a valid label key", p, k->value);
        if (v->kind == CG_YNODE_SCALAR && v->len == 0 && !v->plain)
            val = "";
        else if ((st = get_string(c, v, r, &val)))
            return st;
        if (!label_value_ok(val))
            return fail(c, v, "%s: \"%s\" is not a valid label value", r, val);
        struct cg_label_requirement *req = &out->reqs[out->n++];
        req->key = mem_strdup(c, k->value);
        req->op = CG_SEL_IN;
        req->values.items = cg_arena_alloc(c->mem, sizeof(char *));
        req->values.items[0] = mem_strdup(c, val);
        req->values.n = 1;
    }
    for (size_t i = 0; me && i < me->n; i++) {
        const struct cg_ynode *e = me->items[i];
        const char *key;
        int op;
        subindex(r, q, i);
        if ((st = expect_map(c, e, r)) || (st = check_keys(c, e, r, req_keys)))
            return st;
        const struct cg_ynode *kn = get(e, "key"), *on = get(e, "operator"), *vn = get(e, "values");
        char f[PATH_MAX_LEN];
        if (kn == NULL)
            return missing(c, e, r, "key");
        if (on == NULL)
            return missing(c, e, r, "operator");
        subpath(f, r, "key");
        if ((st = get_string(c, kn, f, &key)))
            return st;
        if (!qualified_name_ok(key))
            return fail(c, kn, "%s: \"%s\" is not a valid label key", f, key);
        subpath(f, r, "operator");
        if ((st = get_enum(c, on, f, selector_ops, &op)))
            return st;
        struct cg_label_requirement *req = &out->reqs[out->n++];
        req->key = mem_strdup(c, key);
        req->op = (enum cg_selector_op)op;
        req->values = (struct cg_strv){0};
        subpath(f, r, "values");
        bool needs_values = op == CG_SEL_IN || op == CG_SEL_NOT_IN;
        if (needs_values) {
            if (vn == NULL)
                return fail(c, e, "%s: operator %s needs a non-empty \"values\" list", r,
                            selector_ops[op]);
            if ((st = get_strv(c, vn, f, label_value_ok, "a valid label value", false,
                               &req->values)))
                return st;
        } else if (vn && !(vn->kind == CG_YNODE_SEQ && vn->n == 0)) {
            return fail(c, vn, "%s: operator %s takes no values", f, selector_ops[op]);
        }
    }
    return CG_OK;
}

static const char *const kind_names[] = {"Deployment", "Pod", NULL};

static enum cg_status decode_match(struct ctx *c, const struct cg_ynode *n, struct cg_match *out)
{
    static const char *const keys[] = {"namespaces", "selector", "kinds", NULL};
    enum cg_status st = expect_map(c, n, "spec.match");
    if (st || (st = check_keys(c, n, "spec.match", keys)))
        return st;
    const struct cg_ynode *ns = get(n, "namespaces"), *sel = get(n, "selector"),
                          *kinds = get(n, "kinds");
    if (ns && (st = get_strv(c, ns, "spec.match.namespaces", namespace_pattern_ok,
                             "a namespace name or glob", false, &out->namespaces)))
        return st;
    if (sel && (st = decode_selector(c, sel, "spec.match.selector", &out->selector)))
        return st;
    out->kinds = CG_KIND_DEPLOYMENT | CG_KIND_POD;
    if (kinds) {
        if (kinds->kind != CG_YNODE_SEQ)
            return wrong_type(c, kinds, "spec.match.kinds", "a list");
        if (kinds->n == 0)
            return fail(c, kinds, "spec.match.kinds: must not be empty (leave it out for all)");
        out->kinds = 0;
        for (size_t i = 0; i < kinds->n; i++) {
            char p[PATH_MAX_LEN];
            int k;
            subindex(p, "spec.match.kinds", i);
            if ((st = get_enum(c, kinds->items[i], p, kind_names, &k)))
                return st;
            if (out->kinds & (1u << k))
                return fail(c, kinds->items[i], "%s: \"%s\" is listed twice", p, kind_names[k]);
            out->kinds |= 1u << k;
        }
    }
    return CG_OK;
}

/* ---- spec.cells ---- */

static enum cg_status add_cell(struct ctx *c, const struct cg_ynode *at, const char *path,
                               const char *name, unsigned weight, struct cg_cells *out)
{
    if (!label_value_ok(name) || name[0] == '\0')
        return fail(c, at, "%s: \"%s\" is not a valid cell name (a node label value)", path, name);
    for (size_t i = 0; i < out->n; i++)
        if (strcmp(out->items[i].name, name) == 0)
            return fail(c, at, "%s: cell \"%s\" is listed twice", path, name);
    out->items[out->n].name = mem_strdup(c, name);
    out->items[out->n].weight = weight;
    out->n++;
    return CG_OK;
}

static enum cg_status decode_cells(struct ctx *c, const struct cg_ynode *n, struct cg_cells *out)
{
    static const char *const keys[] = {"topologyKey", "names", "cells", NULL};
    static const char *const cell_keys[] = {"name", "weight", NULL};
    char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
    enum cg_status st = expect_map(c, n, "spec.cells");
    if (st || (st = check_keys(c, n, "spec.cells", keys)))
        return st;
    const struct cg_ynode *tk = get(n, "topologyKey"), *names = get(n, "names"),
                          *cells = get(n, "cells");
    out->topology_key = "topology.kubernetes.io/zone";
    if (tk) {
        const char *s;
        if ((st = get_string(c, tk, "spec.cells.topologyKey", &s)))
            return st;
        if (!qualified_name_ok(s))
            return fail(c, tk, "spec.cells.topologyKey: \"%s\" is not a valid node label key", s);
        out->topology_key = mem_strdup(c, s);
    } else {
        out->topology_key = mem_strdup(c, out->topology_key);
    }
    if (names && cells)
        return fail(c, get_key(n, "cells"),
                    "spec.cells: give either \"names\" or \"cells\", not both");
    if (!names && !cells)
        return fail(c, n, "spec.cells: missing required key \"names\" (or \"cells\" with weights)");
    const struct cg_ynode *list = names ? names : cells;
    const char *lpath = names ? "spec.cells.names" : "spec.cells.cells";
    if (list->kind != CG_YNODE_SEQ)
        return wrong_type(c, list, lpath, "a list");
    if (list->n == 0)
        return fail(c, list, "%s: the cell list is empty (a release needs at least one cell)",
                    lpath);
    if (list->n > CG_POLICY_MAX_CELLS)
        return fail(c, list->items[CG_POLICY_MAX_CELLS], "%s: more than %d cells", lpath,
                    CG_POLICY_MAX_CELLS);
    out->items = cg_arena_alloc(c->mem, list->n * sizeof(*out->items));
    out->n = 0;
    for (size_t i = 0; i < list->n; i++) {
        const struct cg_ynode *e = list->items[i];
        const char *name;
        long long weight = 1;
        subindex(p, lpath, i);
        if (names) {
            if ((st = get_string(c, e, p, &name)))
                return st;
        } else {
            if ((st = expect_map(c, e, p)) || (st = check_keys(c, e, p, cell_keys)))
                return st;
            const struct cg_ynode *nn = get(e, "name"), *wn = get(e, "weight");
            if (nn == NULL)
                return missing(c, e, p, "name");
            subpath(q, p, "name");
            if ((st = get_string(c, nn, q, &name)))
                return st;
            subpath(q, p, "weight");
            if (wn && (st = get_int(c, wn, q, 1, 1000, &weight)))
                return st;
            e = nn;
        }
        if ((st = add_cell(c, e, p, name, (unsigned)weight, out)))
            return st;
    }
    return CG_OK;
}

/* ---- spec.gray ---- */

static enum cg_status decode_group(struct ctx *c, const struct cg_ynode *e, const char *p,
                                   struct cg_group *g)
{
    static const char *const keys[] = {"perCell", "percent", "rest", NULL};
    char q[PATH_MAX_LEN];
    enum cg_status st;
    if (e->kind == CG_YNODE_SCALAR && strcmp(e->value, "rest") == 0) {
        *g = (struct cg_group){.kind = CG_GROUP_REST};
        return CG_OK;
    }
    if (e->kind != CG_YNODE_MAP)
        return fail(c, e, "%s: expected {perCell: N}, {percent: P} or rest, got %s", p,
                    cg__ynode_describe(e));
    if ((st = check_keys(c, e, p, keys)))
        return st;
    if (e->n != 2)
        return fail(c, e, "%s: a group is exactly one of perCell, percent or rest", p);
    const struct cg_ynode *k = e->items[0], *v = e->items[1];
    long long x = 0;
    subpath(q, p, k->value);
    if (strcmp(k->value, "perCell") == 0) {
        if ((st = get_int(c, v, q, 1, 100000, &x)))
            return st;
        *g = (struct cg_group){.kind = CG_GROUP_PER_CELL, .value = (unsigned)x};
    } else if (strcmp(k->value, "percent") == 0) {
        if ((st = get_int(c, v, q, 1, 100, &x)))
            return st;
        *g = (struct cg_group){.kind = CG_GROUP_PERCENT, .value = (unsigned)x};
    } else {
        bool b;
        if ((st = get_bool(c, v, q, &b)))
            return st;
        if (!b)
            return fail(c, v, "%s: only \"rest: true\" means something; drop the group", q);
        *g = (struct cg_group){.kind = CG_GROUP_REST};
    }
    return CG_OK;
}

static enum cg_status decode_gray(struct ctx *c, const struct cg_ynode *n, struct cg_gray *out)
{
    static const char *const keys[] = {"groups", "pause", NULL};
    static const char *const pause_keys[] = {"after", NULL};
    char p[PATH_MAX_LEN];
    enum cg_status st = expect_map(c, n, "spec.gray");
    if (st || (st = check_keys(c, n, "spec.gray", keys)))
        return st;
    const struct cg_ynode *groups = get(n, "groups"), *pause = get(n, "pause");
    if (groups == NULL)
        return missing(c, n, "spec.gray", "groups");
    if (groups->kind != CG_YNODE_SEQ)
        return wrong_type(c, groups, "spec.gray.groups", "a list");
    if (groups->n == 0)
        return fail(c, groups, "spec.gray.groups: must list at least one group");
    if (groups->n > CG_POLICY_MAX_GROUPS)
        return fail(c, groups->items[CG_POLICY_MAX_GROUPS], "spec.gray.groups: more than %d groups",
                    CG_POLICY_MAX_GROUPS);
    out->groups = cg_arena_alloc(c->mem, groups->n * sizeof(*out->groups));
    out->n_groups = groups->n;
    for (size_t i = 0; i < groups->n; i++) {
        subindex(p, "spec.gray.groups", i);
        if ((st = decode_group(c, groups->items[i], p, &out->groups[i])))
            return st;
        if (i > 0 && out->groups[i - 1].kind == CG_GROUP_REST)
            return fail(c, groups->items[i],
                        "%s: no group can follow \"rest\" (rest takes every pod left)", p);
    }
    out->pause = CG_PAUSE_MANUAL;
    out->pause_after_seconds = 0;
    if (pause) {
        if (pause->kind == CG_YNODE_SCALAR) {
            if (strcmp(pause->value, "manual") != 0)
                return fail(c, pause, "spec.gray.pause: expected manual or {after: DURATION}");
        } else {
            if ((st = expect_map(c, pause, "spec.gray.pause")) ||
                (st = check_keys(c, pause, "spec.gray.pause", pause_keys)))
                return st;
            const struct cg_ynode *after = get(pause, "after");
            if (after == NULL)
                return missing(c, pause, "spec.gray.pause", "after");
            /* 0s: the next group starts as soon as this one is done and its checks pass. */
            if ((st = get_duration(c, after, "spec.gray.pause.after", 0, 7 * 86400,
                                   &out->pause_after_seconds)))
                return st;
            out->pause = CG_PAUSE_AFTER;
        }
    }
    return CG_OK;
}

/* ---- spec.monitor ---- */

static const char *const prom_ops[] = {"<", "<=", ">", ">=", "==", "!=", NULL};

static enum cg_status decode_check(struct ctx *c, const struct cg_ynode *e, const char *p,
                                   struct cg_check *out)
{
    static const char *const keys[] = {"name", "readyFor", "restarts", "http", "prometheus", NULL};
    static const char *const restart_keys[] = {"max", NULL};
    static const char *const http_keys[] = {"url", "expectStatus", NULL};
    static const char *const prom_keys[] = {"query", "op", "threshold", NULL};
    char q[PATH_MAX_LEN], r[PATH_MAX_LEN];
    enum cg_status st;
    const char *s;
    if ((st = expect_map(c, e, p)) || (st = check_keys(c, e, p, keys)))
        return st;
    const struct cg_ynode *name = get(e, "name");
    if (name == NULL)
        return missing(c, e, p, "name");
    subpath(q, p, "name");
    if ((st = get_string(c, name, q, &s)))
        return st;
    if (!cg__dns1123_label(s))
        return fail(c, name, "%s: \"%s\" is not a valid check name (lowercase, digits, '-')", q, s);
    memset(out, 0, sizeof(*out));
    out->name = mem_strdup(c, s);
    if (e->n != 4)
        return fail(c, e,
                    "%s: a check has a name and exactly one of readyFor, restarts, http, "
                    "prometheus",
                    p);
    const struct cg_ynode *kind_key =
        strcmp(e->items[0]->value, "name") ? e->items[0] : e->items[2];
    const struct cg_ynode *v = get(e, kind_key->value);
    subpath(q, p, kind_key->value);
    if (strcmp(kind_key->value, "readyFor") == 0) {
        out->kind = CG_CHECK_READY_FOR;
        return get_duration(c, v, q, 1, 86400, &out->duration_seconds);
    }
    if (strcmp(kind_key->value, "restarts") == 0) {
        long long max = 0;
        out->kind = CG_CHECK_RESTARTS;
        if ((st = expect_map(c, v, q)) || (st = check_keys(c, v, q, restart_keys)))
            return st;
        if (get(v, "max") == NULL)
            return missing(c, v, q, "max");
        subpath(r, q, "max");
        if ((st = get_int(c, get(v, "max"), r, 0, 1000000, &max)))
            return st;
        out->max_restarts = max;
        return CG_OK;
    }
    if (strcmp(kind_key->value, "http") == 0) {
        long long status = 200;
        out->kind = CG_CHECK_HTTP;
        if ((st = expect_map(c, v, q)) || (st = check_keys(c, v, q, http_keys)))
            return st;
        const struct cg_ynode *url = get(v, "url"), *es = get(v, "expectStatus");
        if (url == NULL)
            return missing(c, v, q, "url");
        subpath(r, q, "url");
        if ((st = get_string(c, url, r, &s)))
            return st;
        if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
            return fail(c, url, "%s: \"%s\" must start with http:// or https://", r, s);
        out->url = mem_strdup(c, s);
        subpath(r, q, "expectStatus");
        if (es && (st = get_int(c, es, r, 100, 599, &status)))
            return st;
        out->expect_status = (int)status;
        return CG_OK;
    }
    /* prometheus */
    int op;
    out->kind = CG_CHECK_PROMETHEUS;
    if ((st = expect_map(c, v, q)) || (st = check_keys(c, v, q, prom_keys)))
        return st;
    const struct cg_ynode *query = get(v, "query"), *opn = get(v, "op"), *th = get(v, "threshold");
    if (query == NULL)
        return missing(c, v, q, "query");
    if (opn == NULL)
        return missing(c, v, q, "op");
    if (th == NULL)
        return missing(c, v, q, "threshold");
    subpath(r, q, "query");
    if ((st = get_string(c, query, r, &s)))
        return st;
    out->query = mem_strdup(c, s);
    subpath(r, q, "op");
    if ((st = get_enum(c, opn, r, prom_ops, &op)))
        return st;
    out->op = mem_strdup(c, prom_ops[op]);
    subpath(r, q, "threshold");
    if (!cg__ynode_is_float(th, &out->threshold) || out->threshold != out->threshold)
        return wrong_type(c, th, r, "a number");
    return CG_OK;
}

static enum cg_status decode_monitor(struct ctx *c, const struct cg_ynode *n,
                                     struct cg_monitor *out)
{
    static const char *const keys[] = {
        "requireReadinessProbe",   "requiredLabels", "minReadySeconds",
        "requireProgressDeadline", "checks",         NULL};
    char p[PATH_MAX_LEN];
    enum cg_status st;
    out->require_readiness_probe = true;
    out->require_progress_deadline = true;
    if (n == NULL)
        return CG_OK;
    if ((st = expect_map(c, n, "spec.monitor")) || (st = check_keys(c, n, "spec.monitor", keys)))
        return st;
    const struct cg_ynode *v;
    if ((v = get(n, "requireReadinessProbe")) &&
        (st = get_bool(c, v, "spec.monitor.requireReadinessProbe", &out->require_readiness_probe)))
        return st;
    if ((v = get(n, "requireProgressDeadline")) &&
        (st = get_bool(c, v, "spec.monitor.requireProgressDeadline",
                       &out->require_progress_deadline)))
        return st;
    if ((v = get(n, "requiredLabels")) &&
        (st = get_strv(c, v, "spec.monitor.requiredLabels", qualified_name_ok, "a valid label key",
                       true, &out->required_labels)))
        return st;
    long long mrs = 0;
    if ((v = get(n, "minReadySeconds")) &&
        (st = get_int(c, v, "spec.monitor.minReadySeconds", 0, 86400, &mrs)))
        return st;
    out->min_ready_seconds = mrs;
    if ((v = get(n, "checks"))) {
        if (v->kind != CG_YNODE_SEQ)
            return wrong_type(c, v, "spec.monitor.checks", "a list");
        out->checks = v->n ? cg_arena_alloc(c->mem, v->n * sizeof(*out->checks)) : NULL;
        for (size_t i = 0; i < v->n; i++) {
            subindex(p, "spec.monitor.checks", i);
            if ((st = decode_check(c, v->items[i], p, &out->checks[i])))
                return st;
            for (size_t j = 0; j < i; j++)
                if (strcmp(out->checks[j].name, out->checks[i].name) == 0)
                    return fail(c, get(v->items[i], "name"),
                                "%s.name: check \"%s\" is listed twice", p, out->checks[i].name);
            out->n_checks = i + 1;
        }
    }
    return CG_OK;
}

/* ---- spec.emergency ---- */

/* RFC 3339 date-time with a mandatory offset: 2026-12-24T00:00:00+01:00, ...Z, with optional
 * fractional seconds (dropped). */
bool cg__rfc3339_parse(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return false;
    if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't'))
        return false;
    for (int i = 0; i < 19; i++)
        if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16 && !isdigit((unsigned char)s[i]))
            return false;
    if (s[13] != ':' || s[16] != ':')
        return false;
    h = (s[11] - '0') * 10 + (s[12] - '0');
    mi = (s[14] - '0') * 10 + (s[15] - '0');
    sec = (s[17] - '0') * 10 + (s[18] - '0');
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) || p[3] != ':' ||
            !isdigit((unsigned char)p[4]) || !isdigit((unsigned char)p[5]))
            return false;
        int oh = (p[1] - '0') * 10 + (p[2] - '0'), om = (p[4] - '0') * 10 + (p[5] - '0');
        if (oh > 23 || om > 59)
            return false;
        off = sign * (oh * 3600 + om * 60);
        p += 6;
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    static const int dim[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > dim[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 ||
        mi > 59 || sec > 60)
        return false;
    if (sec == 60)
        sec = 59; /* a leap second: the instant before is close enough for a window edge */
    /* days from civil */
    int64_t yy = y - (mo <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    *out = days * 86400 + h * 3600 + mi * 60 + sec - off;
    return true;
}

static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", NULL};

static enum cg_status decode_weekly(struct ctx *c, const struct cg_ynode *n, const char *path,
                                    struct cg_freeze_window *w)
{
    static const char *const keys[] = {"days", "start", "duration", "timeZone", NULL};
    char p[PATH_MAX_LEN];
    enum cg_status st;
    const char *s;
    if ((st = expect_map(c, n, path)) || (st = check_keys(c, n, path, keys)))
        return st;
    const struct cg_ynode *days = get(n, "days"), *start = get(n, "start"),
                          *dur = get(n, "duration"), *zone = get(n, "timeZone");
    if (!days)
        return missing(c, n, path, "days");
    if (!start)
        return missing(c, n, path, "start");
    if (!dur)
        return missing(c, n, path, "duration");
    if (!zone)
        return missing(c, n, path, "timeZone");
    subpath(p, path, "days");
    if (days->kind != CG_YNODE_SEQ)
        return wrong_type(c, days, p, "a list of days (Mon..Sun)");
    if (days->n == 0)
        return fail(c, days, "%s: must not be empty", p);
    w->days = 0;
    for (size_t i = 0; i < days->n; i++) {
        char q[PATH_MAX_LEN];
        int d;
        subindex(q, p, i);
        if ((st = get_enum(c, days->items[i], q, day_names, &d)))
            return st;
        if (w->days & (1u << d))
            return fail(c, days->items[i], "%s: \"%s\" is listed twice", q, day_names[d]);
        w->days |= 1u << d;
    }
    subpath(p, path, "start");
    if ((st = get_string(c, start, p, &s)))
        return st;
    if (strlen(s) != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
        s[2] != ':' || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]) ||
        (s[0] - '0') * 10 + (s[1] - '0') > 23 || (s[3] - '0') * 10 + (s[4] - '0') > 59)
        return fail(c, start, "%s: \"%s\" is not a time of day HH:MM (00:00..23:59)", p, s);
    w->start_minute = ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0');
    int64_t secs;
    subpath(p, path, "duration");
    if ((st = get_duration(c, dur, p, 60, 7 * 86400, &secs)))
        return st;
    if (secs % 60)
        return fail(c, dur, "%s: weekly windows are in whole minutes", p);
    w->duration_minutes = (int)(secs / 60);
    subpath(p, path, "timeZone");
    if ((st = get_string(c, zone, p, &s)))
        return st;
    if (!cg_tz_name_valid(s))
        return fail(c, zone, "%s: \"%s\" is not a valid IANA time zone name", p, s);
    struct cg_err tzerr;
    cg_err_clear(&tzerr);
    if ((st = cg_tz_load(c->tz_dir, s, &w->tz, &tzerr)))
        return fail(c, zone, "%s: %s", p, tzerr.msg);
    w->time_zone = mem_strdup(c, s);
    return CG_OK;
}

static enum cg_status decode_freeze(struct ctx *c, const struct cg_ynode *e, const char *p,
                                    struct cg_freeze_window *w)
{
    static const char *const keys[] = {"name", "start", "end", "weekly", NULL};
    char q[PATH_MAX_LEN];
    enum cg_status st;
    const char *s;
    memset(w, 0, sizeof(*w));
    if ((st = expect_map(c, e, p)) || (st = check_keys(c, e, p, keys)))
        return st;
    const struct cg_ynode *name = get(e, "name"), *start = get(e, "start"), *end = get(e, "end"),
                          *weekly = get(e, "weekly");
    if (!name)
        return missing(c, e, p, "name");
    subpath(q, p, "name");
    if ((st = get_string(c, name, q, &s)))
        return st;
    if (!cg__dns1123_label(s))
        return fail(c, name, "%s: \"%s\" is not a valid window name (lowercase, digits, '-')", q,
                    s);
    w->name = mem_strdup(c, s);
    if (weekly) {
        if (start || end)
            return fail(c, start ? get_key(e, "start") : get_key(e, "end"),
                        "%s: a window is either weekly or has start and end, not both", p);
        w->kind = CG_FREEZE_WEEKLY;
        subpath(q, p, "weekly");
        return decode_weekly(c, weekly, q, w);
    }
    if (!start)
        return fail(c, e, "%s: missing \"start\" and \"end\" (or \"weekly\")", p);
    if (!end)
        return missing(c, e, p, "end");
    w->kind = CG_FREEZE_ABSOLUTE;
    subpath(q, p, "start");
    if ((st = get_string(c, start, q, &s)))
        return st;
    if (!cg__rfc3339_parse(s, &w->start))
        return fail(c, start,
                    "%s: \"%s\" is not an RFC 3339 time with offset "
                    "(e.g. 2026-12-24T00:00:00+01:00)",
                    q, s);
    subpath(q, p, "end");
    if ((st = get_string(c, end, q, &s)))
        return st;
    if (!cg__rfc3339_parse(s, &w->end))
        return fail(c, end,
                    "%s: \"%s\" is not an RFC 3339 time with offset "
                    "(e.g. 2026-12-27T00:00:00+01:00)",
                    q, s);
    if (w->end <= w->start)
        return fail(c, end, "%s: the window must end after it starts", q);
    return CG_OK;
}

static const char *const rollback_names[] = {"fast", "gradual", NULL};
static const char *const on_failure_names[] = {"pause", "rollback", NULL};

static enum cg_status decode_emergency(struct ctx *c, const struct cg_ynode *n,
                                       struct cg_emergency *out)
{
    static const char *const keys[] = {"freezes",  "breakGlass",     "approvers", "emergencyActors",
                                       "rollback", "onCheckFailure", NULL};
    static const char *const bg_keys[] = {"annotation", "groups", NULL};
    char p[PATH_MAX_LEN];
    enum cg_status st;
    const struct cg_ynode *v;
    out->break_glass_annotation = mem_strdup(c, "cellgate.io/break-glass");
    out->rollback = CG_ROLLBACK_FAST;
    out->on_check_failure = CG_ON_FAILURE_PAUSE;
    if (n == NULL)
        return CG_OK;
    if ((st = expect_map(c, n, "spec.emergency")) ||
        (st = check_keys(c, n, "spec.emergency", keys)))
        return st;
    if ((v = get(n, "freezes"))) {
        if (v->kind != CG_YNODE_SEQ)
            return wrong_type(c, v, "spec.emergency.freezes", "a list");
        out->freezes = v->n ? cg_arena_alloc(c->mem, v->n * sizeof(*out->freezes)) : NULL;
        for (size_t i = 0; i < v->n; i++) {
            subindex(p, "spec.emergency.freezes", i);
            st = decode_freeze(c, v->items[i], p, &out->freezes[i]);
            out->n_freezes = i + 1; /* the set destroys the window's zone even on failure */
            if (st)
                return st;
            for (size_t j = 0; j < i; j++)
                if (strcmp(out->freezes[j].name, out->freezes[i].name) == 0)
                    return fail(c, get(v->items[i], "name"),
                                "%s.name: window \"%s\" is listed twice", p, out->freezes[i].name);
        }
    }
    if ((v = get(n, "breakGlass"))) {
        if ((st = expect_map(c, v, "spec.emergency.breakGlass")) ||
            (st = check_keys(c, v, "spec.emergency.breakGlass", bg_keys)))
            return st;
        const struct cg_ynode *a = get(v, "annotation"), *g = get(v, "groups");
        if (a) {
            const char *s;
            if ((st = get_string(c, a, "spec.emergency.breakGlass.annotation", &s)))
                return st;
            if (!qualified_name_ok(s))
                return fail(c, a,
                            "spec.emergency.breakGlass.annotation: \"%s\" is not a valid "
                            "annotation key",
                            s);
            out->break_glass_annotation = mem_strdup(c, s);
        }
        if (g == NULL)
            return missing(c, v, "spec.emergency.breakGlass", "groups");
        if ((st = get_strv(c, g, "spec.emergency.breakGlass.groups", group_name_ok, "a group name",
                           false, &out->break_glass_groups)))
            return st;
    }
    if ((v = get(n, "approvers")) &&
        (st = get_groups_block(c, v, "spec.emergency.approvers", &out->approver_groups)))
        return st;
    if ((v = get(n, "emergencyActors")) &&
        (st = get_groups_block(c, v, "spec.emergency.emergencyActors", &out->emergency_groups)))
        return st;
    int e;
    if ((v = get(n, "rollback"))) {
        if ((st = get_enum(c, v, "spec.emergency.rollback", rollback_names, &e)))
            return st;
        out->rollback = (enum cg_rollback_style)e;
    }
    if ((v = get(n, "onCheckFailure"))) {
        if ((st = get_enum(c, v, "spec.emergency.onCheckFailure", on_failure_names, &e)))
            return st;
        out->on_check_failure = (enum cg_on_failure)e;
    }
    return CG_OK;
}

/* ---- spec.traffic ---- */

static enum cg_status decode_traffic(struct ctx *c, const struct cg_ynode *n,
                                     struct cg_traffic *out)
{
    static const char *const keys[] = {"components", "controllerClears", "drainTimeout",
                                       "drainWindow", NULL};
    enum cg_status st;
    const struct cg_ynode *comp = n ? get(n, "components") : NULL;
    const struct cg_ynode *clears = n ? get(n, "controllerClears") : NULL;
    const struct cg_ynode *timeout = n ? get(n, "drainTimeout") : NULL;
    const struct cg_ynode *window = n ? get(n, "drainWindow") : NULL;
    if (n &&
        ((st = expect_map(c, n, "spec.traffic")) || (st = check_keys(c, n, "spec.traffic", keys))))
        return st;
    out->drain_timeout_seconds = 300;
    if (timeout && (st = get_duration(c, timeout, "spec.traffic.drainTimeout", 1, 86400,
                                      &out->drain_timeout_seconds)))
        return st;
    out->drain_window_seconds = 5;
    if (window && (st = get_duration(c, window, "spec.traffic.drainWindow", 0, 3600,
                                     &out->drain_window_seconds)))
        return st;
    if (comp) {
        if ((st = get_strv(c, comp, "spec.traffic.components", cg__dns1123_label,
                           "a component name (lowercase, digits, '-')", false, &out->components)))
            return st;
    } else {
        out->components.items = cg_arena_alloc(c->mem, sizeof(char *));
        out->components.items[0] = mem_strdup(c, "service");
        out->components.n = 1;
    }
    if (clears) {
        if ((st = get_strv(c, clears, "spec.traffic.controllerClears", NULL, NULL, true,
                           &out->controller_clears)))
            return st;
        for (size_t i = 0; i < out->controller_clears.n; i++) {
            bool listed = false;
            for (size_t j = 0; j < out->components.n && !listed; j++)
                listed = strcmp(out->components.items[j], out->controller_clears.items[i]) == 0;
            if (!listed)
                return fail(c, clears->items[i],
                            "spec.traffic.controllerClears[%zu]: \"%s\" is not one of "
                            "spec.traffic.components",
                            i, out->controller_clears.items[i]);
        }
    } else {
        /* the controller itself clears only what it can observe: the Service's endpoints */
        for (size_t j = 0; j < out->components.n; j++) {
            if (strcmp(out->components.items[j], "service") == 0) {
                out->controller_clears.items = cg_arena_alloc(c->mem, sizeof(char *));
                out->controller_clears.items[0] = out->components.items[j];
                out->controller_clears.n = 1;
            }
        }
    }
    return CG_OK;
}

/* ---- the document ---- */

static const char *const enforcement_names[] = {"enforce", "warn", "audit", NULL};

/* A Kubernetes object saved where policies live: say so, and where they belong. */
static enum cg_status not_a_policy(struct ctx *c, const struct cg_ynode *at, const char *kind)
{
    char dir[PATH_MAX_LEN];
    snprintf(dir, sizeof(dir), "%s", c->file);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    return fail(c, at, "kind: \"%s\" is not a ReleasePolicy: keep only policies under %s", kind,
                dir);
}

/* *in_sections: whether it got past the document's head (whose first error ends it). */
static enum cg_status decode_doc(const char *file, const struct cg_ynode *doc, struct cg_arena *mem,
                                 const char *tz_dir, struct cg_policy *out, int *name_line,
                                 int *name_col,
                                 void (*on_error)(const struct cg_err *err, void *ud), void *ud,
                                 struct cg_err *err, bool *in_sections)
{
    static const char *const keys[] = {"apiVersion", "kind", "metadata", "spec", NULL};
    static const char *const meta_keys[] = {"name", "labels", "annotations", NULL};
    static const char *const spec_keys[] = {"match",   "enforcement", "cells",   "gray",
                                            "monitor", "emergency",   "traffic", NULL};
    struct ctx cx = {.file = file, .mem = mem, .err = err, .tz_dir = tz_dir};
    struct ctx *c = &cx;
    enum cg_status st;
    const char *s;

    memset(out, 0, sizeof(*out));
    out->file = mem_strdup(c, file);
    out->line = doc->line;
    if ((st = expect_map(c, doc, "the document")))
        return st;
    const struct cg_ynode *api = get(doc, "apiVersion"), *kind = get(doc, "kind"),
                          *meta = get(doc, "metadata"), *spec = get(doc, "spec");
    /* another API's object (a Deployment saved into the policy folder) */
    if (kind != NULL && kind->kind == CG_YNODE_SCALAR && kind->value != NULL &&
        strcmp(kind->value, "ReleasePolicy") != 0 &&
        (api == NULL || api->kind != CG_YNODE_SCALAR || api->value == NULL ||
         strncmp(api->value, "cellgate.io/", 12) != 0))
        return not_a_policy(c, kind, kind->value);
    if ((st = check_keys(c, doc, "", keys)))
        return st;
    if (!api)
        return missing(c, doc, "", "apiVersion");
    if ((st = get_string(c, api, "apiVersion", &s)))
        return st;
    if (strcmp(s, "cellgate.io/v1") != 0)
        return fail(c, api, "apiVersion: \"%s\" is not supported (use cellgate.io/v1)", s);
    if (!kind)
        return missing(c, doc, "", "kind");
    if ((st = get_string(c, kind, "kind", &s)))
        return st;
    if (strcmp(s, "ReleasePolicy") != 0)
        return fail(c, kind, "kind: \"%s\" is not supported (use ReleasePolicy)", s);
    if (!meta)
        return missing(c, doc, "", "metadata");
    if ((st = expect_map(c, meta, "metadata")) || (st = check_keys(c, meta, "metadata", meta_keys)))
        return st;
    const struct cg_ynode *name = get(meta, "name");
    if (!name)
        return missing(c, meta, "metadata", "name");
    if ((st = get_string(c, name, "metadata.name", &s)))
        return st;
    if (!cg__dns1123_subdomain(s))
        return fail(c, name,
                    "metadata.name: \"%s\" is not a DNS-1123 name (lowercase letters, digits, "
                    "'-' and '.')",
                    s);
    out->name = mem_strdup(c, s);
    *name_line = name->line;
    *name_col = name->col;
    for (int i = 1; i <= 2; i++) {
        const char *key = meta_keys[i];
        const struct cg_ynode *m = get(meta, key);
        char p[PATH_MAX_LEN];
        subpath(p, "metadata", key);
        if (m == NULL)
            continue;
        if ((st = expect_map(c, m, p)))
            return st;
        for (size_t j = 1; j < m->n; j += 2) {
            const char *v;
            char q[PATH_MAX_LEN];
            subpath(q, p, m->items[j - 1]->value);
            if ((st = get_string(c, m->items[j], q, &v)))
                return st;
        }
    }
    if (!spec)
        return missing(c, doc, "", "spec");
    if ((st = expect_map(c, spec, "spec")) || (st = check_keys(c, spec, "spec", spec_keys)))
        return st;
    /* From here each section is checked even when one before it failed, so that one run
     * names every error (a section's own checks stop at its first). */
    *in_sections = true;
    enum cg_status first = CG_OK;
#define SECTION(expr)                                                                              \
    do {                                                                                           \
        enum cg_status s_ = (expr);                                                                \
        if (s_ != CG_OK) {                                                                         \
            if (first == CG_OK)                                                                    \
                first = s_;                                                                        \
            if (on_error != NULL)                                                                  \
                on_error(c->err, ud);                                                              \
        }                                                                                          \
    } while (0)
    const struct cg_ynode *v;
    SECTION((v = get(spec, "match")) ? decode_match(c, v, &out->match)
                                     : missing(c, spec, "spec", "match"));
    int e = CG_ENFORCE_ENFORCE;
    if ((v = get(spec, "enforcement")))
        SECTION(get_enum(c, v, "spec.enforcement", enforcement_names, &e));
    out->enforcement = (enum cg_enforcement)e;
    SECTION((v = get(spec, "cells")) ? decode_cells(c, v, &out->cells)
                                     : missing(c, spec, "spec", "cells"));
    SECTION((v = get(spec, "gray")) ? decode_gray(c, v, &out->gray)
                                    : missing(c, spec, "spec", "gray"));
    SECTION(decode_monitor(c, get(spec, "monitor"), &out->monitor));
    SECTION(decode_emergency(c, get(spec, "emergency"), &out->emergency));
    SECTION(decode_traffic(c, get(spec, "traffic"), &out->traffic));
#undef SECTION
    return first;
}

enum cg_status cg__policy_decode_doc_each(const char *file, const struct cg_ynode *doc,
                                          struct cg_arena *mem, const char *tz_dir,
                                          struct cg_policy *out, int *name_line, int *name_col,
                                          void (*on_error)(const struct cg_err *err, void *ud),
                                          void *ud, struct cg_err *err)
{
    bool in_sections = false;
    enum cg_status st = decode_doc(file, doc, mem, tz_dir, out, name_line, name_col, on_error, ud,
                                   err, &in_sections);
    if (st != CG_OK && !in_sections && on_error != NULL)
        on_error(err, ud);
    return st;
}

/* Keeps the first error only. */
static void keep_first(const struct cg_err *e, void *ud)
{
    struct cg_err *first = ud;
    if (first->status == CG_OK)
        *first = *e;
}

enum cg_status cg__policy_decode_doc(const char *file, const struct cg_ynode *doc,
                                     struct cg_arena *mem, const char *tz_dir,
                                     struct cg_policy *out, int *name_line, int *name_col,
                                     struct cg_err *err)
{
    struct cg_err first;
    cg_err_clear(&first);
    enum cg_status st = cg__policy_decode_doc_each(file, doc, mem, tz_dir, out, name_line, name_col,
                                                   keep_first, &first, err);
    if (st != CG_OK && first.status != CG_OK && err != NULL)
        *err = first;
    return st;
}

const char *cg_enforcement_str(enum cg_enforcement e)
{
    switch (e) {
    case CG_ENFORCE_ENFORCE:
        return "enforce";
    case CG_ENFORCE_WARN:
        return "warn";
    case CG_ENFORCE_AUDIT:
        return "audit";
    }
    return "unknown";
}
