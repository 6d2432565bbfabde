#include "policy/yaml_tree.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

struct parser {
    yaml_parser_t p;
    const char *file;
    const char *data; /* the input, to say what is at an error's position */
    size_t len;
    struct cg_arena *arena;
    struct cg_err *err;
};

static enum cg_status fail_at(struct parser *ps, yaml_mark_t m, const char *what, const char *why)
{
    return cg_err_set_at(ps->err, CG_EPARSE, ps->file, (int)m.line + 1, (int)m.column + 1, "%s%s",
                         what, why ? why : "");
}

/* Fetches the next event; a libyaml syntax error becomes file:line:col: problem. */
static enum cg_status next_event(struct parser *ps, yaml_event_t *ev)
{
    if (yaml_parser_parse(&ps->p, ev))
        return CG_OK;
    yaml_mark_t m = ps->p.problem_mark;
    if (ps->p.error == YAML_READER_ERROR) {
        /* reader errors carry a byte offset only */
        m.line = 0;
        m.column = ps->p.problem_offset;
    }
    const char *problem = ps->p.problem ? ps->p.problem : "syntax error";
    /* libyaml's words for the usual slips, said as what to change */
    size_t at = ps->p.problem_mark.index;
    const char *hint = NULL;
    if ((at < ps->len && ps->data[at] == '\t') || strstr(problem, "tab") != NULL)
        hint = "a tab character: YAML indents with spaces only; replace the tab with spaces";
    else if (strcmp(problem, "mapping values are not allowed in this context") == 0)
        hint = "unexpected ':': a key indented deeper than the keys around it, or a value "
               "holding \": \" that needs quotes";
    else if (strcmp(problem, "did not find expected key") == 0)
        hint = "this line is not indented like the keys before it: the keys of one mapping "
               "start in the same column";
    else if (strcmp(problem, "did not find expected '-' indicator") == 0)
        hint = "this line is not indented like the list items before it: the items of one "
               "list start with '-' in the same column";
    if (hint != NULL)
        return cg_err_set_at(ps->err, CG_EPARSE, ps->file, (int)m.line + 1, (int)m.column + 1,
                             "YAML: %s", hint);
    if (ps->p.context)
        return cg_err_set_at(ps->err, CG_EPARSE, ps->file, (int)m.line + 1, (int)m.column + 1,
                             "YAML: %s %s", problem, ps->p.context);
    return cg_err_set_at(ps->err, CG_EPARSE, ps->file, (int)m.line + 1, (int)m.column + 1,
                         "YAML: %s", problem);
}

static struct cg_ynode *node_at(struct parser *ps, enum cg_ynode_kind kind, yaml_mark_t m)
{
    struct cg_ynode *n = cg_arena_alloc(ps->arena, sizeof(*n));
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->line = (int)m.line + 1;
    n->col = (int)m.column + 1;
    return n;
}

/* Anchors, aliases and tags are refused: a policy means what it shows. */
static enum cg_status check_plain_node(struct parser *ps, const yaml_event_t *ev,
                                       const yaml_char_t *anchor, const yaml_char_t *tag)
{
    if (anchor)
        return fail_at(ps, ev->start_mark, "YAML anchors are not supported in policies", NULL);
    if (tag)
        return fail_at(ps, ev->start_mark, "explicit YAML tags are not supported in policies",
                       NULL);
    return CG_OK;
}

struct vec {
    struct cg_ynode **items;
    size_t n, cap;
};

static void vec_push(struct vec *v, struct cg_ynode *node)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->items = cg_xrealloc(v->items, v->cap * sizeof(*v->items));
    }
    v->items[v->n++] = node;
}

static int key_cmp(const void *a, const void *b)
{
    const struct cg_ynode *x = *(const struct cg_ynode *const *)a;
    const struct cg_ynode *y = *(const struct cg_ynode *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->value, y->value, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    /* equal keys: document order, so the later one is reported */
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return (x->col > y->col) - (x->col < y->col);
}

/* Sorting keeps this O(n log n) even for a hostile file with many keys. */
static enum cg_status check_duplicate_keys(struct parser *ps, struct cg_ynode *map)
{
    size_t nk = map->n / 2;
    if (nk < 2)
        return CG_OK;
    enum cg_status st = CG_OK;
    struct cg_ynode **keys = cg_xmalloc(nk * sizeof(*keys));
    for (size_t i = 0; i < nk; i++)
        keys[i] = map->items[2 * i];
    qsort(keys, nk, sizeof(*keys), key_cmp);
    for (size_t i = 1; i < nk; i++) {
        const struct cg_ynode *a = keys[i - 1], *b = keys[i];
        if (a->len == b->len && memcmp(a->value, b->value, a->len) == 0) {
            st = cg_err_set_at(ps->err, CG_EPARSE, ps->file, b->line, b->col,
                               "duplicate key \"%s\" (first at line %d)", b->value, a->line);
            goto out;
        }
    }
out:
    free(keys);
    return st;
}

static enum cg_status parse_node(struct parser *ps, yaml_event_t *ev, int depth,
                                 struct cg_ynode **out);

static enum cg_status parse_children(struct parser *ps, struct cg_ynode *node,
                                     yaml_event_type_t end, int depth)
{
    enum cg_status st = CG_OK;
    struct vec v = {0};
    yaml_event_t ev;
    for (;;) {
        st = next_event(ps, &ev);
        if (st)
            goto out;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            break;
        }
        struct cg_ynode *child = NULL;
        if (node->kind == CG_YNODE_MAP && (v.n % 2) == 0 && ev.type != YAML_SCALAR_EVENT &&
            ev.type != YAML_ALIAS_EVENT) {
            st = fail_at(ps, ev.start_mark, "mapping keys must be plain strings", NULL);
            yaml_event_delete(&ev);
            goto out;
        }
        st = parse_node(ps, &ev, depth + 1, &child);
        yaml_event_delete(&ev);
        if (st)
            goto out;
        vec_push(&v, child);
    }
    node->n = v.n;
    if (v.n) {
        node->items = cg_arena_alloc(ps->arena, v.n * sizeof(*node->items));
        memcpy(node->items, v.items, v.n * sizeof(*node->items));
    }
    if (node->kind == CG_YNODE_MAP)
        st = check_duplicate_keys(ps, node);
out:
    free(v.items);
    return st;
}

static enum cg_status parse_node(struct parser *ps, yaml_event_t *ev, int depth,
                                 struct cg_ynode **out)
{
    enum cg_status st = CG_OK;
    if (depth > CG_YAML_MAX_DEPTH)
        return fail_at(ps, ev->start_mark, "nesting too deep", NULL);
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return fail_at(ps, ev->start_mark, "YAML aliases are not supported in policies", NULL);
    case YAML_SCALAR_EVENT: {
        st = check_plain_node(ps, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
        if (st)
            return st;
        struct cg_ynode *n = node_at(ps, CG_YNODE_SCALAR, ev->start_mark);
        char *s = cg_arena_alloc(ps->arena, ev->data.scalar.length + 1);
        memcpy(s, ev->data.scalar.value, ev->data.scalar.length);
        s[ev->data.scalar.length] = '\0';
        n->value = s;
        n->len = ev->data.scalar.length;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        *out = n;
        return CG_OK;
    }
    case YAML_SEQUENCE_START_EVENT: {
        st = check_plain_node(ps, ev, ev->data.sequence_start.anchor, ev->data.sequence_start.tag);
        if (st)
            return st;
        struct cg_ynode *n = node_at(ps, CG_YNODE_SEQ, ev->start_mark);
        st = parse_children(ps, n, YAML_SEQUENCE_END_EVENT, depth);
        *out = n;
        return st;
    }
    case YAML_MAPPING_START_EVENT: {
        st = check_plain_node(ps, ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag);
        if (st)
            return st;
        struct cg_ynode *n = node_at(ps, CG_YNODE_MAP, ev->start_mark);
        st = parse_children(ps, n, YAML_MAPPING_END_EVENT, depth);
        *out = n;
        return st;
    }
    default:
        return fail_at(ps, ev->start_mark, "unexpected YAML event", NULL);
    }
}

enum cg_status cg__yaml_parse(const char *file, const char *data, size_t len,
                              struct cg_arena *arena, struct cg_ynode ***docs, size_t *n_docs,
                              struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct parser ps = {.file = file, .data = data, .len = len, .arena = arena, .err = err};
    struct vec v = {0};
    yaml_event_t ev;
    bool ev_live = false;

    *docs = NULL;
    *n_docs = 0;
    if (!yaml_parser_initialize(&ps.p))
        abort(); /* only fails on OOM */
    yaml_parser_set_input_string(&ps.p, (const unsigned char *)data, len);
    for (;;) {
        st = next_event(&ps, &ev);
        if (st)
            goto out;
        ev_live = true;
        if (ev.type == YAML_STREAM_END_EVENT)
            break;
        if (ev.type == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            ev_live = false;
            st = next_event(&ps, &ev);
            if (st)
                goto out;
            ev_live = true;
            struct cg_ynode *root = NULL;
            st = parse_node(&ps, &ev, 0, &root);
            if (st)
                goto out;
            /* "---" followed by nothing, or a bare null: an empty document */
            if (root->kind == CG_YNODE_SCALAR && cg__ynode_is_null(root))
                root = NULL;
            vec_push(&v, root);
        }
        yaml_event_delete(&ev);
        ev_live = false;
    }
    if (v.n) {
        *docs = cg_arena_alloc(arena, v.n * sizeof(**docs));
        memcpy(*docs, v.items, v.n * sizeof(**docs));
        *n_docs = v.n;
    }
out:
    if (ev_live)
        yaml_event_delete(&ev);
    yaml_parser_delete(&ps.p);
    free(v.items);
    return st;
}

bool cg__ynode_is_null(const struct cg_ynode *node)
{
    if (node->kind != CG_YNODE_SCALAR || !node->plain)
        return false;
    const char *s = node->value;
    return node->len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

bool cg__ynode_is_bool(const struct cg_ynode *node, bool *out)
{
    if (node->kind != CG_YNODE_SCALAR || !node->plain)
        return false;
    const char *s = node->value;
    bool t = strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0;
    bool f = strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0;
    if (out)
        *out = t;
    return t || f;
}

bool cg__ynode_is_int(const struct cg_ynode *node, long long *out)
{
    if (node->kind != CG_YNODE_SCALAR || !node->plain || node->len == 0)
        return false;
    const char *s = node->value;
    int base = 10;
    const char *digits = s;
    if (*digits == '-' || *digits == '+')
        digits++;
    if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'o')) {
        if (digits != s)
            return false; /* the core schema has no signed hex or octal */
        base = digits[1] == 'x' ? 16 : 8;
        s += 2;
        digits = s;
    }
    if (*digits == '\0')
        return false;
    for (const char *p = digits; *p; p++) {
        bool ok = base == 16 ? (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                                   (*p >= 'A' && *p <= 'F')
                             : *p >= '0' && *p <= (base == 8 ? '7' : '9');
        if (!ok)
            return false;
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, base);
    if (errno == ERANGE || *end != '\0')
        return false;
    if (out)
        *out = v;
    return true;
}

bool cg__ynode_is_float(const struct cg_ynode *node, double *out)
{
    if (node->kind != CG_YNODE_SCALAR || !node->plain || node->len == 0)
        return false;
    long long i;
    if (cg__ynode_is_int(node, &i)) {
        if (out)
            *out = (double)i;
        return true;
    }
    const char *s = node->value;
    const char *u = (*s == '-' || *s == '+') ? s + 1 : s;
    if (strcmp(u, ".inf") == 0 || strcmp(u, ".Inf") == 0 || strcmp(u, ".INF") == 0) {
        if (out)
            *out = *s == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (u == s && (strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0)) {
        if (out)
            *out = NAN;
        return true;
    }
    /* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
    const char *p = u;
    size_t int_digits = 0, frac_digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, int_digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, frac_digits++;
    }
    if (int_digits + frac_digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p != '\0')
        return false;
    if (out)
        *out = strtod(s, NULL);
    return true;
}

const char *cg__ynode_describe(const struct cg_ynode *node)
{
    if (node == NULL)
        return "nothing";
    switch (node->kind) {
    case CG_YNODE_MAP:
        return "a mapping";
    case CG_YNODE_SEQ:
        return "a list";
    case CG_YNODE_SCALAR:
        break;
    }
    if (cg__ynode_is_null(node))
        return "null";
    if (cg__ynode_is_bool(node, NULL))
        return "a boolean";
    if (cg__ynode_is_int(node, NULL))
        return "an integer";
    if (cg__ynode_is_float(node, NULL))
        return "a number";
    return "a string";
}
