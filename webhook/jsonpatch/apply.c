/* The RFC 6902 applier on a jansson document (CLI --apply, policy tests, unit tests): here a
 * DOM is the right tool and speed does not matter. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jsonpatch/jsonpatch.h"

/* Per-apply state: where we are (for messages) and a scratch buffer for decoded tokens. */
struct ctx {
    size_t index;   /* op index in the patch */
    const char *op; /* op name, "?" until known */
    struct cg_buf tok;
    struct cg_err *err;
};

static enum cg_status fail(struct ctx *c, enum cg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum cg_status fail(struct ctx *c, enum cg_status st, const char *fmt, ...)
{
    char reason[CG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    return cg_err_set(c->err, st, "patch op %zu (%s): %s", c->index, c->op, reason);
}

/* A pointer as it appears in the patch: raw (escaped) bytes, not NUL-terminated. */
struct ptr {
    const char *p;
    size_t n;
};

/* RFC 6901 syntax: "" or "/"-separated tokens where "~" is only "~0" or "~1". */
static enum cg_status check_pointer(struct ctx *c, const char *member, struct ptr ptr)
{
    if (ptr.n > 0 && ptr.p[0] != '/')
        return fail(c, CG_EINVAL,
                    "%s \"%.*s\" is not a JSON pointer: it must be empty or start with \"/\"",
                    member, (int)(ptr.n > 200 ? 200 : ptr.n), ptr.p);
    for (size_t i = 0; i < ptr.n; i++) {
        if (ptr.p[i] == '~' && (i + 1 == ptr.n || (ptr.p[i + 1] != '0' && ptr.p[i + 1] != '1')))
            return fail(c, CG_EINVAL, "%s \"%.*s\": \"~\" must be followed by 0 or 1", member,
                        (int)(ptr.n > 200 ? 200 : ptr.n), ptr.p);
    }
    return CG_OK;
}

/* Decodes the raw token raw[0..n) into c->tok ("~1" -> "/", "~0" -> "~"); the syntax was
 * checked already. */
static void decode_token(struct ctx *c, const char *raw, size_t n)
{
    cg_buf_reset(&c->tok);
    cg_buf_reserve(&c->tok, n); /* uncapped: cannot fail */
    for (size_t i = 0; i < n; i++) {
        char ch = raw[i];
        if (ch == '~') {
            ch = raw[i + 1] == '1' ? '/' : '~';
            i++;
        }
        c->tok.data[c->tok.len++] = ch;
    }
    c->tok.data[c->tok.len] = '\0';
}

static bool token_is(const struct ctx *c, const char *s)
{
    return c->tok.len == strlen(s) && memcmp(c->tok.data, s, c->tok.len) == 0;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

/* The decoded token as an array index: "0" or [1-9][0-9]*, no sign, no overflow. "-" is
 * the caller's business. */
static enum cg_status parse_index(struct ctx *c, struct ptr where, size_t *out)
{
    const char *s = c->tok.data;
    size_t n = c->tok.len;
    bool ok = n > 0 && (n == 1 || s[0] != '0');
    size_t v = 0;
    for (size_t i = 0; ok && i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (SIZE_MAX - 9) / 10)
            ok = false;
        else
            v = v * 10 + (size_t)(s[i] - '0');
    }
    if (!ok)
        return fail(c, CG_EINVAL,
                    "\"%.*s\": array index \"%.*s\" is not a non-negative integer without "
                    "leading zeros",
                    (int)(where.n > 200 ? 200 : where.n), where.p, (int)(n > 40 ? 40 : n), s);
    *out = v;
    return CG_OK;
}

/* Walks the whole pointer from root; *out is borrowed. */
static enum cg_status resolve(struct ctx *c, json_t *root, struct ptr ptr, json_t **out)
{
    json_t *cur = root;
    size_t pos = 0;
    while (pos < ptr.n) {
        size_t start = pos + 1; /* skip the "/" */
        size_t end = start;
        while (end < ptr.n && ptr.p[end] != '/')
            end++;
        decode_token(c, ptr.p + start, end - start);
        struct ptr upto = {ptr.p, end};
        if (json_is_object(cur)) {
            json_t *next = json_object_getn(cur, c->tok.data, c->tok.len);
            if (next == NULL)
                return fail(c, CG_ENOTFOUND, "\"%.*s\" does not exist (no member \"%.*s\")",
                            (int)(upto.n > 200 ? 200 : upto.n), upto.p,
                            (int)(c->tok.len > 100 ? 100 : c->tok.len), c->tok.data);
            cur = next;
        } else if (json_is_array(cur)) {
            if (token_is(c, "-"))
                return fail(c, CG_ENOTFOUND,
                            "\"%.*s\" does not exist (\"-\" is the element after the last)",
                            (int)(upto.n > 200 ? 200 : upto.n), upto.p);
            size_t idx;
            enum cg_status st = parse_index(c, upto, &idx);
            if (st != CG_OK)
                return st;
            if (idx >= json_array_size(cur))
                return fail(c, CG_ENOTFOUND,
                            "\"%.*s\" does not exist (index %zu, array of %zu elements)",
                            (int)(upto.n > 200 ? 200 : upto.n), upto.p, idx, json_array_size(cur));
            cur = json_array_get(cur, idx);
        } else {
            return fail(c, CG_ENOTFOUND, "\"%.*s\" does not exist (%s has no members)",
                        (int)(upto.n > 200 ? 200 : upto.n), upto.p, type_name(cur));
        }
        pos = end;
    }
    *out = cur;
    return CG_OK;
}

/* Resolves the parent of a non-root pointer and leaves the last token decoded in c->tok. */
static enum cg_status resolve_parent(struct ctx *c, json_t *root, struct ptr ptr, json_t **parent)
{
    size_t last = ptr.n;
    while (last > 0 && ptr.p[last - 1] != '/')
        last--;
    /* ptr.p[last - 1] is the "/" before the last token. */
    struct ptr head = {ptr.p, last - 1};
    enum cg_status st = resolve(c, root, head, parent);
    if (st != CG_OK)
        return st;
    if (!json_is_object(*parent) && !json_is_array(*parent))
        return fail(c, CG_ENOTFOUND, "\"%.*s\": the parent is %s, not an object or array",
                    (int)(ptr.n > 200 ? 200 : ptr.n), ptr.p, type_name(*parent));
    decode_token(c, ptr.p + last, ptr.n - last);
    return CG_OK;
}

/* RFC 6902 "add" of value (a reference we own, consumed in all cases). */
static enum cg_status do_add(struct ctx *c, json_t **doc, struct ptr path, json_t *value)
{
    enum cg_status st = CG_OK;
    if (path.n == 0) {
        json_decref(*doc);
        *doc = value;
        return CG_OK;
    }
    json_t *parent = NULL;
    st = resolve_parent(c, *doc, path, &parent);
    if (st != CG_OK)
        goto out;
    if (json_is_object(parent)) {
        /* Jansson checks the key is UTF-8; it came from a JSON string, so it is. */
        if (json_object_setn_new(parent, c->tok.data, c->tok.len, value) != 0)
            return fail(c, CG_EINTERNAL, "cannot set member");
        return CG_OK;
    }
    size_t size = json_array_size(parent);
    if (token_is(c, "-")) {
        if (json_array_append_new(parent, value) != 0)
            return fail(c, CG_EINTERNAL, "cannot append");
        return CG_OK;
    }
    size_t idx;
    st = parse_index(c, path, &idx);
    if (st != CG_OK)
        goto out;
    if (idx > size) {
        st = fail(c, CG_ENOTFOUND, "\"%.*s\": index %zu is past the end (array of %zu elements)",
                  (int)(path.n > 200 ? 200 : path.n), path.p, idx, size);
        goto out;
    }
    if (json_array_insert_new(parent, idx, value) != 0)
        return fail(c, CG_EINTERNAL, "cannot insert");
    return CG_OK;
out:
    json_decref(value);
    return st;
}

/* The existing member or element the last token of path names: its parent and, for an array,
 * its index. Used by remove and replace, whose target must exist. */
static enum cg_status resolve_existing(struct ctx *c, json_t *doc, struct ptr path, json_t **parent,
                                       size_t *idx)
{
    enum cg_status st = resolve_parent(c, doc, path, parent);
    if (st != CG_OK)
        return st;
    int w = (int)(path.n > 200 ? 200 : path.n);
    if (json_is_object(*parent)) {
        if (json_object_getn(*parent, c->tok.data, c->tok.len) == NULL)
            return fail(c, CG_ENOTFOUND, "\"%.*s\" does not exist", w, path.p);
        return CG_OK;
    }
    if (token_is(c, "-"))
        return fail(c, CG_ENOTFOUND,
                    "\"%.*s\" does not exist (\"-\" is the element after the last)", w, path.p);
    st = parse_index(c, path, idx);
    if (st != CG_OK)
        return st;
    if (*idx >= json_array_size(*parent))
        return fail(c, CG_ENOTFOUND, "\"%.*s\" does not exist (index %zu, array of %zu elements)",
                    w, path.p, *idx, json_array_size(*parent));
    return CG_OK;
}

static enum cg_status do_remove(struct ctx *c, json_t *doc, struct ptr path)
{
    if (path.n == 0)
        return fail(c, CG_EINVAL, "cannot remove the whole document (path \"\")");
    json_t *parent = NULL;
    size_t idx = 0;
    enum cg_status st = resolve_existing(c, doc, path, &parent, &idx);
    if (st != CG_OK)
        return st;
    if (json_is_object(parent))
        json_object_deln(parent, c->tok.data, c->tok.len);
    else
        json_array_remove(parent, idx);
    return CG_OK;
}

/* value is consumed in all cases. */
static enum cg_status do_replace(struct ctx *c, json_t **doc, struct ptr path, json_t *value)
{
    if (path.n == 0) {
        json_decref(*doc);
        *doc = value;
        return CG_OK;
    }
    json_t *parent = NULL;
    size_t idx = 0;
    enum cg_status st = resolve_existing(c, *doc, path, &parent, &idx);
    if (st != CG_OK) {
        json_decref(value);
        return st;
    }
    int rc = json_is_object(parent) ? json_object_setn_new(parent, c->tok.data, c->tok.len, value)
                                    : json_array_set_new(parent, idx, value);
    if (rc != 0)
        return fail(c, CG_EINTERNAL, "cannot replace");
    return CG_OK;
}

/* RFC 6902 equality: numbers by value, objects regardless of member order. */
static bool values_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *key;
        size_t key_len;
        json_t *va;
        json_object_keylen_foreach((json_t *)a, key, key_len, va)
        {
            const json_t *vb = json_object_getn(b, key, key_len);
            if (vb == NULL || !values_equal(va, vb))
                return false;
        }
        return true;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++) {
            if (!values_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        }
        return true;
    }
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    default: /* true, false, null: the type is the value */
        return true;
    }
}

/* A string member of the op, as a pointer; checks its syntax. */
static enum cg_status get_pointer(struct ctx *c, const json_t *op, const char *member,
                                  struct ptr *out)
{
    const json_t *v = json_object_get(op, member);
    if (v == NULL)
        return fail(c, CG_EINVAL, "missing \"%s\"", member);
    if (!json_is_string(v))
        return fail(c, CG_EINVAL, "\"%s\" is %s, not a string", member, type_name(v));
    out->p = json_string_value(v);
    out->n = json_string_length(v);
    return check_pointer(c, member, *out);
}

static bool ptr_eq(struct ptr a, struct ptr b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static enum cg_status apply_one(struct ctx *c, json_t **doc, const json_t *op)
{
    if (!json_is_object(op))
        return fail(c, CG_EINVAL, "the op is %s, not an object", type_name(op));
    const json_t *name = json_object_get(op, "op");
    if (name == NULL)
        return fail(c, CG_EINVAL, "missing \"op\"");
    if (!json_is_string(name))
        return fail(c, CG_EINVAL, "\"op\" is %s, not a string", type_name(name));
    const char *s = json_string_value(name);
    static const char *const known[] = {"add", "remove", "replace", "move", "copy", "test"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(s, known[i]) == 0 && strlen(known[i]) == json_string_length(name))
            c->op = known[i];
    }
    if (strcmp(c->op, "?") == 0)
        return fail(c, CG_EINVAL, "unknown op \"%.40s\"", s);

    struct ptr path;
    enum cg_status st = get_pointer(c, op, "path", &path);
    if (st != CG_OK)
        return st;

    if (strcmp(c->op, "remove") == 0)
        return do_remove(c, *doc, path);

    if (strcmp(c->op, "move") == 0 || strcmp(c->op, "copy") == 0) {
        struct ptr from;
        st = get_pointer(c, op, "from", &from);
        if (st != CG_OK)
            return st;
        bool move = strcmp(c->op, "move") == 0;
        if (move && from.n < path.n && memcmp(from.p, path.p, from.n) == 0 && path.p[from.n] == '/')
            return fail(c, CG_EINVAL, "cannot move \"%.*s\" into its own child \"%.*s\"",
                        (int)(from.n > 200 ? 200 : from.n), from.p,
                        (int)(path.n > 200 ? 200 : path.n), path.p);
        json_t *src = NULL;
        st = resolve(c, *doc, from, &src);
        if (st != CG_OK)
            return st;
        if (move && ptr_eq(from, path))
            return CG_OK; /* the target exists; moving it onto itself changes nothing */
        json_t *value = NULL;
        if (move) {
            value = json_incref(src);
            st = do_remove(c, *doc, from);
            if (st != CG_OK) { /* from resolved, so only the root can get here */
                json_decref(value);
                return st;
            }
        } else {
            value = json_deep_copy(src);
        }
        return do_add(c, doc, path, value);
    }

    const json_t *value = json_object_get(op, "value");
    if (value == NULL)
        return fail(c, CG_EINVAL, "missing \"value\"");

    if (strcmp(c->op, "test") == 0) {
        json_t *target = NULL;
        st = resolve(c, *doc, path, &target);
        if (st != CG_OK)
            return st;
        if (!values_equal(target, value))
            return fail(c, CG_EINVAL, "test failed: the value at \"%.*s\" differs",
                        (int)(path.n > 200 ? 200 : path.n), path.p);
        return CG_OK;
    }
    json_t *copy = json_deep_copy(value);
    if (strcmp(c->op, "add") == 0)
        return do_add(c, doc, path, copy);
    return do_replace(c, doc, path, copy);
}

enum cg_status cg_jsonpatch_apply(json_t **doc, const json_t *patch, struct cg_err *err)
{
    struct ctx c = {.index = 0, .op = "?", .err = err};
    enum cg_status st = CG_OK;
    cg_buf_init(&c.tok, 0);
    cg_err_clear(err);
    if (doc == NULL || *doc == NULL) {
        st = cg_err_set(err, CG_EINVAL, "no document to patch");
        goto out;
    }
    if (!json_is_array(patch)) {
        st = cg_err_set(err, CG_EINVAL, "the patch is %s, not an array of ops",
                        patch ? type_name(patch) : "missing");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(patch); i++) {
        c.index = i;
        c.op = "?";
        st = apply_one(&c, doc, json_array_get(patch, i));
        if (st != CG_OK)
            goto out;
    }
out:
    cg_buf_dispose(&c.tok);
    return st;
}
