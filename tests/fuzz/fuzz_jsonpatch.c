/* libFuzzer target for the JSON Patch builder and RFC 6901 pointer escaping, checked against
 * the applier. The input is a small program of ops over paths made of awkward key segments
 * ("~", "/", "~1", quotes, backslashes, control and multi-byte characters, digits, "-"):
 * each op goes to the builder (cg_patch_add / add_string / replace / remove / an append at
 * "-") and to a model document that jansson edits directly with the raw keys.
 *
 * The contract checked:
 * - each segment's escaping reads back (unescaped by RFC 6901) as the segment itself;
 * - an op refused for its size (CG_ETOOBIG, under a cap the input picks) leaves the patch
 *   text exactly as it was, and is left out of the model;
 * - the builder's text is one JSON array of n_ops ops, and cg_jsonpatch_apply of it to the
 *   starting document gives exactly the model: the builder, its escaping and the applier
 *   agree on every key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonpatch/jsonpatch.h"

#define MAX_OPS 12
#define MAX_SEGS 4

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "contract violated: %s\n", what);
        abort();
    }
}

/* The pieces keys and values are made of: each a whole UTF-8 character or an RFC 6901
 * escape-looking sequence. */
static const char *const alphabet[] = {
    "~",
    "/",
    "0",
    "1",
    "a",
    "\"",
    "\\",
    "\n",
    "\x01",
    "-",
    "\xc3\xa9",
    "\xe2\x82\xac",
    "\xf0\x9f\x98\x80",
    " ",
    ".",
    "~1",
    "~0",
    "\x7f",
    "\t",
    "x",
};
#define N_ALPHA (sizeof(alphabet) / sizeof(alphabet[0]))

struct input {
    const uint8_t *p;
    size_t n;
};

static unsigned next(struct input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

/* A string of up to max alphabet pieces into buf (NUL-terminated). */
static size_t make_text(struct input *in, char *buf, size_t cap, unsigned max)
{
    unsigned n = next(in) % (max + 1);
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        const char *piece = alphabet[next(in) % N_ALPHA];
        size_t k = strlen(piece);
        if (len + k + 1 > cap)
            break;
        memcpy(buf + len, piece, k);
        len += k;
    }
    buf[len] = '\0';
    return len;
}

/* RFC 6901 unescaping of one escaped segment; -1 on a stray '~'. */
static long unescape(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '~') {
            out[k++] = s[i];
            continue;
        }
        if (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1'))
            return -1;
        out[k++] = s[i + 1] == '0' ? '~' : '/';
        i++;
    }
    return (long)k;
}

static void check_escaping(const char *seg, size_t n)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    check(cg_pointer_append_segment(&b, (struct cg_str){seg, n}) == CG_OK, "escape");
    char back[512];
    check(b.len < sizeof(back), "escaped length");
    long k = unescape(b.data ? b.data : "", b.len, back);
    check(k == (long)n && memcmp(back, seg, n) == 0, "an escaped segment unescapes to itself");
    check(b.len == 0 || memchr(b.data, '/', b.len) == NULL, "no '/' survives escaping");
    cg_buf_dispose(&b);
}

/* Walks the model along segs: how many leading segments exist (as object members), and the
 * node reached. */
static size_t walk(json_t *root, char segs[][256], size_t nsegs, json_t **at)
{
    json_t *node = root;
    size_t i = 0;
    for (; i < nsegs; i++) {
        json_t *child = json_is_object(node) ? json_object_get(node, segs[i]) : NULL;
        if (child == NULL)
            break;
        node = child;
    }
    *at = node;
    return i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    /* A cap from 0 (none) to a few hundred bytes, so refusals happen mid-program. */
    unsigned capb = next(&in);
    size_t cap = capb < 128 ? 0 : (size_t)(capb - 100) * 8;
    struct cg_patch patch;
    cg_patch_init(&patch, cap);
    json_t *model = json_object();
    json_t *start = json_object();
    if (next(&in) & 1) { /* a starting document with a member and an array */
        json_object_set_new(start, "a", json_pack("{s:i}", "b", 1));
        json_object_set_new(start, "~/", json_array());
    }
    json_decref(model);
    model = json_deep_copy(start);

    char segs[MAX_SEGS + 1][256];
    struct cg_str views[MAX_SEGS + 1];
    char text[256];
    for (unsigned op = 0; op < MAX_OPS && in.n > 0; op++) {
        unsigned kind = next(&in) % 5;
        size_t nsegs = 1 + next(&in) % MAX_SEGS;
        for (size_t i = 0; i < nsegs; i++) {
            size_t n = make_text(&in, segs[i], sizeof(segs[i]), 6);
            if (n == 1 && segs[i][0] == '-')
                memcpy(segs[i], "-x", 3), n = 2; /* "-" alone means "append" */
            check_escaping(segs[i], n);
            views[i] = (struct cg_str){segs[i], n};
        }
        size_t tlen = make_text(&in, text, sizeof(text), 10);
        struct cg_str before = cg_patch_text(&patch);
        char *saved = strndup(before.p ? before.p : "", before.n);
        size_t saved_ops = patch.n_ops;
        json_t *at = NULL;
        size_t have = walk(model, segs, nsegs, &at);
        enum cg_status st = CG_OK;
        json_t *parent = NULL;
        switch (kind) {
        case 0: /* add a string, creating missing parents */
        case 1: /* add a number */
            if (have < nsegs && !json_is_object(at))
                goto skip; /* a scalar or array in the way: not a valid target */
            if (kind == 0)
                st = cg_patch_add_string(&patch, views, nsegs, have, (struct cg_str){text, tlen});
            else
                st = cg_patch_add(&patch, views, nsegs, have, (struct cg_str){"42", 2});
            if (st == CG_OK) {
                json_t *node = at;
                for (size_t i = have; i + 1 < nsegs; i++) {
                    json_object_set_new(node, segs[i], json_object());
                    node = json_object_get(node, segs[i]);
                }
                if (have == nsegs) { /* the target exists: add replaces it */
                    walk(model, segs, nsegs - 1, &parent);
                    node = parent;
                }
                json_object_set_new(node, segs[nsegs - 1],
                                    kind == 0 ? json_stringn(text, tlen) : json_integer(42));
            }
            break;
        case 2: /* append to an array at segs, created when missing */
            if (have < nsegs && !json_is_object(at))
                goto skip;
            if (have == nsegs && !json_is_array(at))
                goto skip;
            views[nsegs] = (struct cg_str){"-", 1};
            st = cg_patch_add_string(&patch, views, nsegs + 1, have, (struct cg_str){text, tlen});
            if (st == CG_OK) {
                json_t *node = at;
                for (size_t i = have; i < nsegs; i++) {
                    json_object_set_new(node, segs[i],
                                        i + 1 < nsegs ? json_object() : json_array());
                    node = json_object_get(node, segs[i]);
                }
                json_array_append_new(node, json_stringn(text, tlen));
            }
            break;
        case 3: /* replace an existing member */
            if (have < nsegs)
                goto skip;
            st = cg_patch_replace(&patch, views, nsegs, (struct cg_str){"[true]", 6});
            if (st == CG_OK) {
                walk(model, segs, nsegs - 1, &parent);
                json_object_set_new(parent, segs[nsegs - 1], json_pack("[b]", 1));
            }
            break;
        case 4: /* remove an existing member */
            if (have < nsegs)
                goto skip;
            st = cg_patch_remove(&patch, views, nsegs);
            if (st == CG_OK) {
                walk(model, segs, nsegs - 1, &parent);
                json_object_del(parent, segs[nsegs - 1]);
            }
            break;
        }
        check(st == CG_OK || st == CG_ETOOBIG, "an op is built or refused for its size");
        check(st != CG_ETOOBIG || cap != 0, "only a capped patch refuses");
        if (st == CG_ETOOBIG) {
            struct cg_str after = cg_patch_text(&patch);
            check(after.n == strlen(saved) && memcmp(after.p ? after.p : "", saved, after.n) == 0,
                  "a refused op leaves the text as it was");
            check(patch.n_ops == saved_ops, "a refused op is not counted");
        }
    skip:
        free(saved);
    }

    struct cg_str t = cg_patch_text(&patch);
    json_t *result = json_deep_copy(start);
    if (t.n > 0) {
        json_error_t jerr;
        json_t *ops = json_loadb(t.p, t.n, JSON_REJECT_DUPLICATES, &jerr);
        if (ops == NULL)
            fprintf(stderr, "patch: %.*s\n%s\n", (int)t.n, t.p, jerr.text);
        check(ops != NULL, "the patch text is JSON");
        check(json_is_array(ops), "the patch text is an array");
        check(json_array_size(ops) >= patch.n_ops, "n_ops ops at least (parents added)");
        struct cg_err err;
        enum cg_status st = cg_jsonpatch_apply(&result, ops, &err);
        if (st != CG_OK)
            fprintf(stderr, "apply: %s\npatch: %.*s\n", err.msg, (int)t.n, t.p);
        check(st == CG_OK, "the built patch applies");
        json_decref(ops);
    } else {
        check(patch.n_ops == 0, "no text, no ops");
    }
    if (!json_equal(result, model)) {
        char *a = json_dumps(result, JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *b = json_dumps(model, JSON_SORT_KEYS | JSON_ENCODE_ANY);
        fprintf(stderr, "applied: %s\nmodel:   %s\npatch: %.*s\n", a, b, (int)t.n, t.p);
        free(a);
        free(b);
    }
    check(json_equal(result, model), "the applied patch gives the model");
    json_decref(result);
    json_decref(model);
    json_decref(start);
    cg_patch_dispose(&patch);
    return 0;
}
