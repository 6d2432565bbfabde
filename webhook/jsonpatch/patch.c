/* The patch builder: ops are written as JSON text straight into one capped buffer. */
#include <string.h>

#include "jsonpatch/jsonpatch.h"

void cg_patch_init(struct cg_patch *p, size_t max_bytes)
{
    cg_buf_init(&p->text, max_bytes);
    p->n_ops = 0;
}

void cg_patch_dispose(struct cg_patch *p)
{
    cg_buf_dispose(&p->text);
    p->n_ops = 0;
}

void cg_patch_reset(struct cg_patch *p)
{
    cg_buf_reset(&p->text);
    p->n_ops = 0;
}

struct cg_str cg_patch_text(const struct cg_patch *p)
{
    if (p->n_ops == 0)
        return CG_STR_LIT("");
    return (struct cg_str){p->text.data, p->text.len};
}

/* The escape of a byte that RFC 6901 reserves, or NULL. */
static const char *pointer_escape(char c)
{
    if (c == '~')
        return "~0";
    if (c == '/')
        return "~1";
    return NULL;
}

enum cg_status cg_pointer_append_segment(struct cg_buf *out, struct cg_str seg)
{
    if (seg.n == 0)
        return CG_OK; /* seg.p may be NULL */
    size_t run = 0;   /* start of the pending run of bytes that need no escaping */
    for (size_t i = 0; i < seg.n; i++) {
        const char *esc = pointer_escape(seg.p[i]);
        if (esc == NULL)
            continue;
        enum cg_status st = cg_buf_append(out, seg.p + run, i - run);
        if (st == CG_OK)
            st = cg_buf_append(out, esc, 2);
        if (st != CG_OK)
            return st;
        run = i + 1;
    }
    return cg_buf_append(out, seg.p + run, seg.n - run);
}

enum cg_status cg_pointer_append_segments(struct cg_buf *out, const struct cg_str *segs,
                                          size_t nsegs)
{
    for (size_t i = 0; i < nsegs; i++) {
        enum cg_status st = cg_buf_append_char(out, '/');
        if (st == CG_OK)
            st = cg_pointer_append_segment(out, segs[i]);
        if (st != CG_OK)
            return st;
    }
    return CG_OK;
}

/* A pointer inside a JSON string: RFC 6901 escaping first, then JSON escaping of what is
 * left ("~" and "/" need none), in one pass so no scratch copy is needed. */
static enum cg_status append_json_pointer(struct cg_buf *out, const struct cg_str *segs,
                                          size_t nsegs)
{
    for (size_t s = 0; s < nsegs; s++) {
        struct cg_str seg = segs[s];
        enum cg_status st = cg_buf_append_char(out, '/');
        if (st != CG_OK)
            return st;
        if (seg.n == 0)
            continue; /* seg.p may be NULL */
        size_t run = 0;
        for (size_t i = 0; i < seg.n; i++) {
            const char *esc = pointer_escape(seg.p[i]);
            if (esc == NULL)
                continue;
            st = cg_buf_append_json_escaped(out, seg.p + run, i - run);
            if (st == CG_OK)
                st = cg_buf_append(out, esc, 2);
            if (st != CG_OK)
                return st;
            run = i + 1;
        }
        st = cg_buf_append_json_escaped(out, seg.p + run, seg.n - run);
        if (st != CG_OK)
            return st;
    }
    return CG_OK;
}

enum value_kind {
    VALUE_NONE,   /* remove */
    VALUE_JSON,   /* the caller's JSON text, verbatim */
    VALUE_STRING, /* raw bytes, written as a JSON string */
};

/* Appends one op object, preceded by "[" or ","; the closing "]" is the caller's. */
static enum cg_status append_op(struct cg_patch *p, const char *op, const struct cg_str *segs,
                                size_t nsegs, enum value_kind kind, struct cg_str value)
{
    struct cg_buf *b = &p->text;
    enum cg_status st = cg_buf_append_str(b, p->n_ops == 0 ? "[{\"op\":\"" : ",{\"op\":\"");
    if (st == CG_OK)
        st = cg_buf_append_str(b, op);
    if (st == CG_OK)
        st = cg_buf_append_str(b, "\",\"path\":\"");
    if (st == CG_OK)
        st = append_json_pointer(b, segs, nsegs);
    if (st == CG_OK)
        st = cg_buf_append_char(b, '"');
    if (st == CG_OK && kind != VALUE_NONE)
        st = cg_buf_append_str(b, ",\"value\":");
    if (st == CG_OK && kind == VALUE_JSON)
        st = cg_buf_append(b, value.p, value.n);
    if (st == CG_OK && kind == VALUE_STRING)
        st = cg_buf_append_json_string(b, value.n > 0 ? value.p : "", value.n);
    if (st == CG_OK)
        st = cg_buf_append_char(b, '}');
    if (st == CG_OK)
        p->n_ops++;
    return st;
}

/* A group of ops is appended after dropping the closing "]" and ends by restoring it; on
 * failure the text and op count go back to what they were. */
struct mark {
    size_t len;
    size_t n_ops;
};

static struct mark open_group(struct cg_patch *p)
{
    struct mark m = {p->text.len, p->n_ops};
    if (p->n_ops > 0)
        p->text.len--; /* the "]"; the next op starts with "," */
    return m;
}

static enum cg_status close_group(struct cg_patch *p, struct mark m, enum cg_status st)
{
    if (st == CG_OK)
        st = cg_buf_append_char(&p->text, ']');
    if (st == CG_OK)
        return CG_OK;
    p->text.len = m.len;
    p->n_ops = m.n_ops;
    if (m.len > 0)
        p->text.data[m.len - 1] = ']';
    if (p->text.data != NULL)
        p->text.data[m.len] = '\0';
    return st;
}

static enum cg_status add_with_parents(struct cg_patch *p, const struct cg_str *segs, size_t nsegs,
                                       size_t n_existing, enum value_kind kind, struct cg_str value)
{
    if (n_existing > nsegs || (kind == VALUE_JSON && value.n == 0))
        return CG_EINVAL;
    struct mark m = open_group(p);
    enum cg_status st = CG_OK;
    /* Prefixes of n_existing+1 .. nsegs-1 segments are the missing intermediates. */
    for (size_t n = n_existing + 1; st == CG_OK && n < nsegs; n++) {
        struct cg_str empty = cg_str_eq_c(segs[n], "-") ? CG_STR_LIT("[]") : CG_STR_LIT("{}");
        st = append_op(p, "add", segs, n, VALUE_JSON, empty);
    }
    if (st == CG_OK)
        st = append_op(p, "add", segs, nsegs, kind, value);
    return close_group(p, m, st);
}

enum cg_status cg_patch_add(struct cg_patch *p, const struct cg_str *segs, size_t nsegs,
                            size_t n_existing, struct cg_str value_json)
{
    return add_with_parents(p, segs, nsegs, n_existing, VALUE_JSON, value_json);
}

enum cg_status cg_patch_add_string(struct cg_patch *p, const struct cg_str *segs, size_t nsegs,
                                   size_t n_existing, struct cg_str value)
{
    return add_with_parents(p, segs, nsegs, n_existing, VALUE_STRING, value);
}

enum cg_status cg_patch_replace(struct cg_patch *p, const struct cg_str *segs, size_t nsegs,
                                struct cg_str value_json)
{
    if (value_json.n == 0)
        return CG_EINVAL;
    struct mark m = open_group(p);
    return close_group(p, m, append_op(p, "replace", segs, nsegs, VALUE_JSON, value_json));
}

enum cg_status cg_patch_remove(struct cg_patch *p, const struct cg_str *segs, size_t nsegs)
{
    struct mark m = open_group(p);
    return close_group(p, m, append_op(p, "remove", segs, nsegs, VALUE_NONE, CG_STR_NULL));
}
