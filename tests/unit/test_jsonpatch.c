/* JSON Patch: RFC 6901 escaping, the text builder (exact output, parents, caps, reuse) and the
 * RFC 6902 applier (every op, every error path). jansson allocates through cmocka, so a
 * reference the applier leaks fails the test that caused it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jsonpatch/jsonpatch.h"
#include "test_support.h"

#define S(lit) CG_STR_LIT(lit)
#define NSEGS(a) (sizeof(a) / sizeof((a)[0]))

static void assert_text(const struct cg_patch *p, const char *expected)
{
    struct cg_str t = cg_patch_text(p);
    if (!cg_str_eq_c(t, expected))
        fail_msg("patch text\n  got:  %.*s\n  want: %s", (int)t.n, t.p ? t.p : "", expected);
}

/* ---- RFC 6901 escaping ---- */

static void segment_escaping(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"cellgate.io/cell", "cellgate.io~1cell"},
        {"plain", "plain"},
        {"", ""},
        {"~", "~0"},
        {"/", "~1"},
        {"a~1b", "a~01b"}, /* "~1" in a key is not a slash: the tilde is escaped first */
        {"~/~/", "~0~1~0~1"},
        {"x/y~z/", "x~1y~0z~1"},
    };
    for (size_t i = 0; i < NSEGS(cases); i++) {
        struct cg_buf b;
        cg_buf_init(&b, 0);
        assert_int_equal(cg_pointer_append_segment(&b, cg_str_from(cases[i].in)), CG_OK);
        assert_int_equal(b.len, strlen(cases[i].out));
        if (b.len > 0)
            assert_string_equal(b.data, cases[i].out);
        cg_buf_dispose(&b);
    }
}

static void segments_make_a_pointer(void **state)
{
    (void)state;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    const struct cg_str segs[] = {S("metadata"), S("annotations"), S("cellgate.io/release")};
    assert_int_equal(cg_pointer_append_segments(&b, segs, 3), CG_OK);
    assert_string_equal(b.data, "/metadata/annotations/cellgate.io~1release");
    cg_buf_reset(&b);
    assert_int_equal(cg_pointer_append_segments(&b, segs, 0), CG_OK); /* the root: "" */
    assert_int_equal(b.len, 0);
    cg_buf_dispose(&b);
}

static void segment_escaping_respects_cap(void **state)
{
    (void)state;
    struct cg_buf b;
    cg_buf_init(&b, 4);
    assert_int_equal(cg_pointer_append_segment(&b, S("a/b")), CG_OK); /* "a~1b": 4 bytes */
    assert_string_equal(b.data, "a~1b");
    assert_int_equal(cg_pointer_append_segment(&b, S("c")), CG_ETOOBIG);
    cg_buf_reset(&b);
    assert_int_equal(cg_pointer_append_segment(&b, S("abc/")), CG_ETOOBIG); /* "abc~1": 5 */
    cg_buf_dispose(&b);
}

/* ---- builder ---- */

static void empty_patch_has_empty_text(void **state)
{
    (void)state;
    struct cg_patch p;
    cg_patch_init(&p, 1024);
    assert_int_equal(p.n_ops, 0);
    assert_int_equal(cg_patch_text(&p).n, 0);
    assert_non_null(cg_patch_text(&p).p);
    cg_patch_dispose(&p);
}

static void builds_each_op(void **state)
{
    (void)state;
    struct cg_patch p;
    cg_patch_init(&p, 0);
    const struct cg_str label[] = {S("metadata"), S("labels"), S("cellgate.io/cell")};
    assert_int_equal(cg_patch_add_string(&p, label, 3, 3, S("zone-a")), CG_OK);
    assert_text(&p, "[{\"op\":\"add\",\"path\":\"/metadata/labels/cellgate.io~1cell\","
                    "\"value\":\"zone-a\"}]");
    assert_int_equal(p.n_ops, 1);

    const struct cg_str surge[] = {S("spec"), S("strategy"), S("rollingUpdate"), S("maxSurge")};
    assert_int_equal(cg_patch_replace(&p, surge, 4, S("2")), CG_OK);
    const struct cg_str old[] = {S("metadata"), S("annotations"), S("cellgate.io/drained")};
    assert_int_equal(cg_patch_remove(&p, old, 3), CG_OK);
    const struct cg_str gate[] = {S("spec"), S("readinessGates"), S("-")};
    assert_int_equal(
        cg_patch_add(&p, gate, 3, 2, S("{\"conditionType\":\"cellgate.io/traffic-ready\"}")),
        CG_OK);
    assert_text(&p, "[{\"op\":\"add\",\"path\":\"/metadata/labels/cellgate.io~1cell\","
                    "\"value\":\"zone-a\"},"
                    "{\"op\":\"replace\",\"path\":\"/spec/strategy/rollingUpdate/maxSurge\","
                    "\"value\":2},"
                    "{\"op\":\"remove\",\"path\":\"/metadata/annotations/cellgate.io~1drained\"},"
                    "{\"op\":\"add\",\"path\":\"/spec/readinessGates/-\","
                    "\"value\":{\"conditionType\":\"cellgate.io/traffic-ready\"}}]");
    assert_int_equal(p.n_ops, 4);
    cg_patch_dispose(&p);
}

static void creates_missing_parents(void **state)
{
    (void)state;
    struct cg_patch p;
    cg_patch_init(&p, 0);
    const struct cg_str label[] = {S("metadata"), S("labels"), S("cellgate.io/cell")};

    /* metadata exists, labels does not */
    assert_int_equal(cg_patch_add_string(&p, label, 3, 1, S("a")), CG_OK);
    assert_text(&p, "[{\"op\":\"add\",\"path\":\"/metadata/labels\",\"value\":{}},"
                    "{\"op\":\"add\",\"path\":\"/metadata/labels/cellgate.io~1cell\","
                    "\"value\":\"a\"}]");
    assert_int_equal(p.n_ops, 2);

    /* nothing exists: every intermediate, outermost first */
    cg_patch_reset(&p);
    assert_int_equal(cg_patch_add_string(&p, label, 3, 0, S("a")), CG_OK);
    assert_text(&p, "[{\"op\":\"add\",\"path\":\"/metadata\",\"value\":{}},"
                    "{\"op\":\"add\",\"path\":\"/metadata/labels\",\"value\":{}},"
                    "{\"op\":\"add\",\"path\":\"/metadata/labels/cellgate.io~1cell\","
                    "\"value\":\"a\"}]");
    assert_int_equal(p.n_ops, 3);

    /* the parent exists (the target may or may not): no extra op */
    cg_patch_reset(&p);
    assert_int_equal(cg_patch_add_string(&p, label, 3, 2, S("a")), CG_OK);
    assert_int_equal(p.n_ops, 1);
    cg_patch_dispose(&p);
}

static void appends_to_arrays(void **state)
{
    (void)state;
    struct cg_patch p;
    cg_patch_init(&p, 0);
    const struct cg_str fin[] = {S("metadata"), S("finalizers"), S("-")};

    /* finalizers absent: it is created as an array, then appended to */
    assert_int_equal(cg_patch_add_string(&p, fin, 3, 1, S("cellgate.io/drain-service")), CG_OK);
    /* now it exists */
    assert_int_equal(cg_patch_add_string(&p, fin, 3, 2, S("cellgate.io/drain-lb")), CG_OK);
    assert_text(&p, "[{\"op\":\"add\",\"path\":\"/metadata/finalizers\",\"value\":[]},"
                    "{\"op\":\"add\",\"path\":\"/metadata/finalizers/-\","
                    "\"value\":\"cellgate.io/drain-service\"},"
                    "{\"op\":\"add\",\"path\":\"/metadata/finalizers/-\","
                    "\"value\":\"cellgate.io/drain-lb\"}]");
    assert_int_equal(p.n_ops, 3);
    cg_patch_dispose(&p);
}

static void adds_at_root(void **state)
{
    (void)state;
    struct cg_patch p;
    cg_patch_init(&p, 0);
    assert_int_equal(cg_patch_add(&p, NULL, 0, 0, S("{\"a\":1}")), CG_OK);
    assert_text(&p, "[{\"op\":\"add\",\"path\":\"\",\"value\":{\"a\":1}}]");
    cg_patch_dispose(&p);
}

/* An empty segment is the member named "" (path "/a/"); an empty string value is "". Both may
 * come as CG_STR_NULL. */
static void empty_segments_and_values(void **state)
{
    (void)state;
    struct cg_patch p;
    cg_patch_init(&p, 0);
    const struct cg_str segs[] = {S("a"), CG_STR_NULL};
    assert_int_equal(cg_patch_add_string(&p, segs, 2, 2, CG_STR_NULL), CG_OK);
    assert_text(&p, "[{\"op\":\"add\",\"path\":\"/a/\",\"value\":\"\"}]");
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_pointer_append_segments(&b, segs, 2), CG_OK);
    assert_string_equal(b.data, "/a/");
    cg_buf_dispose(&b);
    cg_patch_dispose(&p);
}

/* Values and paths end up inside JSON strings: check by parsing the text back. */
static void escapes_strings_as_json(void **state)
{
    (void)state;
    struct cg_patch p;
    cg_patch_init(&p, 0);
    static const char nasty_key[] = "we\"ird\\key/with~all\n";
    static const char nasty_val[] =
        "quote\" back\\ nl\n tab\t bell\x07 \xc3\xa9t\xc3\xa9 {\"j\":1}";
    const struct cg_str segs[] = {
        S("metadata"), S("annotations"), {nasty_key, sizeof(nasty_key) - 1}};
    assert_int_equal(
        cg_patch_add_string(&p, segs, 3, 2, (struct cg_str){nasty_val, sizeof(nasty_val) - 1}),
        CG_OK);
    struct cg_str t = cg_patch_text(&p);
    json_error_t jerr;
    json_t *doc = json_loadb(t.p, t.n, 0, &jerr);
    if (doc == NULL)
        fail_msg("builder wrote invalid JSON: %s: %.*s", jerr.text, (int)t.n, t.p);
    json_t *op = json_array_get(doc, 0);
    assert_string_equal(json_string_value(json_object_get(op, "path")),
                        "/metadata/annotations/we\"ird\\key~1with~0all\n");
    assert_string_equal(json_string_value(json_object_get(op, "value")), nasty_val);
    json_decref(doc);
    cg_patch_dispose(&p);
}

static void rejects_bad_arguments(void **state)
{
    (void)state;
    struct cg_patch p;
    cg_patch_init(&p, 0);
    const struct cg_str segs[] = {S("a"), S("b")};
    assert_int_equal(cg_patch_add(&p, segs, 2, 3, S("1")), CG_EINVAL);
    assert_int_equal(cg_patch_add_string(&p, segs, 2, 3, S("x")), CG_EINVAL);
    assert_int_equal(cg_patch_add(&p, segs, 2, 2, S("")), CG_EINVAL);
    assert_int_equal(cg_patch_replace(&p, segs, 2, S("")), CG_EINVAL);
    assert_int_equal(p.n_ops, 0);
    assert_int_equal(cg_patch_text(&p).n, 0);
    cg_patch_dispose(&p);
}

/* One op's exact length as the cap: it fits; one byte less: it does not, and nothing of it
 * stays behind. */
static void cap_is_exact(void **state)
{
    (void)state;
    const char *one = "[{\"op\":\"add\",\"path\":\"/a\",\"value\":1}]";
    const struct cg_str a[] = {S("a")};
    struct cg_patch p;
    cg_patch_init(&p, strlen(one));
    assert_int_equal(cg_patch_add(&p, a, 1, 1, S("1")), CG_OK);
    assert_text(&p, one);
    /* the second op does not fit; the first is intact */
    assert_int_equal(cg_patch_add(&p, a, 1, 1, S("2")), CG_ETOOBIG);
    assert_text(&p, one);
    assert_int_equal(p.n_ops, 1);
    cg_patch_dispose(&p);

    cg_patch_init(&p, strlen(one) - 1);
    assert_int_equal(cg_patch_add(&p, a, 1, 1, S("1")), CG_ETOOBIG);
    assert_int_equal(p.n_ops, 0);
    assert_int_equal(cg_patch_text(&p).n, 0);
    assert_true(p.text.data == NULL || p.text.data[0] == '\0');
    cg_patch_dispose(&p);
}

/* An add that needs parents is all or nothing: if the final op does not fit, the parents it
 * wrote are taken back too. Then ops that fit still go in after it. */
static void cap_rolls_back_whole_group(void **state)
{
    (void)state;
    struct cg_patch p;
    cg_patch_init(&p, 160); /* 43 bytes now; +98 for the two parents; +89 for the final op */
    const struct cg_str r[] = {S("r")};
    assert_int_equal(cg_patch_replace(&p, r, 1, S("true")), CG_OK);
    const char *before = "[{\"op\":\"replace\",\"path\":\"/r\",\"value\":true}]";
    assert_text(&p, before);

    /* both parents fit, the final op with its long value does not */
    const struct cg_str deep[] = {S("metadata"), S("annotations"), S("k")};
    assert_int_equal(cg_patch_add_string(&p, deep, 3, 0, S("a value far too long to fit here")),
                     CG_ETOOBIG);
    assert_text(&p, before);
    assert_int_equal(p.n_ops, 1);

    assert_int_equal(cg_patch_remove(&p, r, 1), CG_OK);
    assert_text(&p, "[{\"op\":\"replace\",\"path\":\"/r\",\"value\":true},"
                    "{\"op\":\"remove\",\"path\":\"/r\"}]");
    assert_int_equal(p.n_ops, 2);

    /* failures of every op kind leave it as it was */
    const char *after = "[{\"op\":\"replace\",\"path\":\"/r\",\"value\":true},"
                        "{\"op\":\"remove\",\"path\":\"/r\"}]";
    const struct cg_str longpath[] = {S("a-very-long-segment-name-that-does-not-fit-at-all"),
                                      S("and-another-one-to-be-sure")};
    assert_int_equal(cg_patch_remove(&p, longpath, 2), CG_ETOOBIG);
    assert_int_equal(cg_patch_replace(&p, longpath, 2, S("1")), CG_ETOOBIG);
    assert_int_equal(cg_patch_add(&p, longpath, 2, 2, S("1")), CG_ETOOBIG);
    assert_text(&p, after);
    assert_int_equal(p.n_ops, 2);
    cg_patch_dispose(&p);
}

static void reset_keeps_memory(void **state)
{
    (void)state;
    struct cg_patch p;
    cg_patch_init(&p, 4096);
    const struct cg_str a[] = {S("a")};
    assert_int_equal(cg_patch_add(&p, a, 1, 1, S("1")), CG_OK);
    assert_int_equal(cg_patch_add(&p, a, 1, 1, S("2")), CG_OK);
    const char *mem = p.text.data;
    size_t cap = p.text.cap;
    cg_patch_reset(&p);
    assert_int_equal(p.n_ops, 0);
    assert_int_equal(cg_patch_text(&p).n, 0);
    assert_ptr_equal(p.text.data, mem);
    assert_int_equal(p.text.cap, cap);
    /* a fresh document, not a continuation of the old one */
    assert_int_equal(cg_patch_remove(&p, a, 1), CG_OK);
    assert_text(&p, "[{\"op\":\"remove\",\"path\":\"/a\"}]");
    assert_ptr_equal(p.text.data, mem);
    cg_patch_dispose(&p);
    cg_patch_dispose(&p); /* disposing twice is harmless */
}

/* What the builder writes, our applier applies (the independent check is
 * test_jsonpatch_node.c). */
static void builder_output_applies(void **state)
{
    (void)state;
    struct cg_patch p;
    cg_patch_init(&p, 0);
    const struct cg_str label[] = {S("metadata"), S("labels"), S("cellgate.io/cell")};
    const struct cg_str gate[] = {S("spec"), S("readinessGates"), S("-")};
    const struct cg_str name[] = {S("metadata"), S("name")};
    const struct cg_str gen[] = {S("metadata"), S("generateName")};
    assert_int_equal(cg_patch_add_string(&p, label, 3, 1, S("b")), CG_OK);
    assert_int_equal(cg_patch_add(&p, gate, 3, 1, S("{\"conditionType\":\"g\"}")), CG_OK);
    assert_int_equal(cg_patch_replace(&p, name, 2, S("\"n2\"")), CG_OK);
    assert_int_equal(cg_patch_remove(&p, gen, 2), CG_OK);

    json_t *doc =
        json_loads("{\"metadata\":{\"name\":\"n\",\"generateName\":\"g-\"},\"spec\":{}}", 0, NULL);
    json_t *want = json_loads("{\"metadata\":{\"name\":\"n2\",\"labels\":{\"cellgate.io/cell\":"
                              "\"b\"}},\"spec\":{\"readinessGates\":[{\"conditionType\":\"g\"}]}}",
                              0, NULL);
    struct cg_str t = cg_patch_text(&p);
    json_t *patch = json_loadb(t.p, t.n, 0, NULL);
    assert_non_null(patch);
    struct cg_err err;
    assert_int_equal(cg_jsonpatch_apply(&doc, patch, &err), CG_OK);
    assert_true(json_equal(doc, want));
    json_decref(patch);
    json_decref(want);
    json_decref(doc);
    cg_patch_dispose(&p);
}

/* ---- applier ---- */

struct apply_case {
    const char *name;
    const char *doc;
    const char *patch;
    const char *want; /* the document after, when status is CG_OK */
    enum cg_status status;
    const char *msg; /* a substring of the error message otherwise */
};

static const struct apply_case apply_ok[] = {
    {"add member", "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":[1,{\"c\":null}]}]",
     "{\"a\":1,\"b\":[1,{\"c\":null}]}", CG_OK, NULL},
    {"add replaces member", "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a\",\"value\":2}]",
     "{\"a\":2}", CG_OK, NULL},
    {"add inserts into array", "{\"a\":[1,3]}", "[{\"op\":\"add\",\"path\":\"/a/1\",\"value\":2}]",
     "{\"a\":[1,2,3]}", CG_OK, NULL},
    {"add at index 0", "[1]", "[{\"op\":\"add\",\"path\":\"/0\",\"value\":0}]", "[0,1]", CG_OK,
     NULL},
    {"add at index == size", "{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/1\",\"value\":2}]",
     "{\"a\":[1,2]}", CG_OK, NULL},
    {"add appends with -", "{\"a\":[]}",
     "[{\"op\":\"add\",\"path\":\"/a/-\",\"value\":1},{\"op\":\"add\",\"path\":\"/a/"
     "-\",\"value\":2}]",
     "{\"a\":[1,2]}", CG_OK, NULL},
    {"add - to an object is a member named -", "{}",
     "[{\"op\":\"add\",\"path\":\"/-\",\"value\":1}]", "{\"-\":1}", CG_OK, NULL},
    {"add with ~0 ~1", "{\"labels\":{}}",
     "[{\"op\":\"add\",\"path\":\"/labels/cellgate.io~1cell\",\"value\":\"a\"},"
     "{\"op\":\"add\",\"path\":\"/labels/t~0~1l~01\",\"value\":\"b\"}]",
     "{\"labels\":{\"cellgate.io/cell\":\"a\",\"t~/l~1\":\"b\"}}", CG_OK, NULL},
    {"add empty key", "{}", "[{\"op\":\"add\",\"path\":\"/\",\"value\":1}]", "{\"\":1}", CG_OK,
     NULL},
    {"add at root replaces the document", "{\"a\":1}",
     "[{\"op\":\"add\",\"path\":\"\",\"value\":[\"x\"]}]", "[\"x\"]", CG_OK, NULL},
    {"remove member", "{\"a\":1,\"b\":2}", "[{\"op\":\"remove\",\"path\":\"/a\"}]", "{\"b\":2}",
     CG_OK, NULL},
    {"remove element shifts", "{\"a\":[1,2,3]}", "[{\"op\":\"remove\",\"path\":\"/a/0\"}]",
     "{\"a\":[2,3]}", CG_OK, NULL},
    {"replace member", "{\"a\":{\"b\":1}}",
     "[{\"op\":\"replace\",\"path\":\"/a/b\",\"value\":\"x\"}]", "{\"a\":{\"b\":\"x\"}}", CG_OK,
     NULL},
    {"replace element", "[1,2]", "[{\"op\":\"replace\",\"path\":\"/1\",\"value\":9}]", "[1,9]",
     CG_OK, NULL},
    {"replace root", "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":3}]", "3", CG_OK,
     NULL},
    {"move member", "{\"a\":{\"x\":1},\"b\":{}}",
     "[{\"op\":\"move\",\"from\":\"/a/x\",\"path\":\"/b/y\"}]", "{\"a\":{},\"b\":{\"y\":1}}", CG_OK,
     NULL},
    {"move within array (remove, then add)", "[1,2,3,4]",
     "[{\"op\":\"move\",\"from\":\"/0\",\"path\":\"/2\"}]", "[2,3,1,4]", CG_OK, NULL},
    {"move onto itself", "{\"a\":[1]}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]",
     "{\"a\":[1]}", CG_OK, NULL},
    {"move to a sibling with a longer name", "{\"a\":1}",
     "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/ab\"}]", "{\"ab\":1}", CG_OK, NULL},
    {"move child to root", "{\"a\":{\"b\":[1]}}",
     "[{\"op\":\"move\",\"from\":\"/a/b\",\"path\":\"\"}]", "[1]", CG_OK, NULL},
    {"copy is deep", "{\"a\":{\"b\":1}}",
     "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"},"
     "{\"op\":\"add\",\"path\":\"/c/b\",\"value\":2}]",
     "{\"a\":{\"b\":1},\"c\":{\"b\":2}}", CG_OK, NULL},
    {"copy into array", "{\"a\":[1],\"s\":\"x\"}",
     "[{\"op\":\"copy\",\"from\":\"/s\",\"path\":\"/a/0\"}]", "{\"a\":[\"x\",1],\"s\":\"x\"}",
     CG_OK, NULL},
    {"test passes", "{\"n\":1,\"o\":{\"a\":1,\"b\":[true,null]},\"s\":\"x\"}",
     "[{\"op\":\"test\",\"path\":\"/n\",\"value\":1.0},"
     "{\"op\":\"test\",\"path\":\"/o\",\"value\":{\"b\":[true,null],\"a\":1}},"
     "{\"op\":\"test\",\"path\":\"/s\",\"value\":\"x\"},"
     "{\"op\":\"test\",\"path\":\"\",\"value\":{\"s\":\"x\",\"n\":1,\"o\":{\"a\":1.0,\"b\":[true,"
     "null]}}}]",
     "{\"n\":1,\"o\":{\"a\":1,\"b\":[true,null]},\"s\":\"x\"}", CG_OK, NULL},
    {"unknown members are ignored", "{}",
     "[{\"op\":\"add\",\"path\":\"/a\",\"value\":1,\"from\":\"/nowhere\",\"x\":2}]", "{\"a\":1}",
     CG_OK, NULL},
    {"empty patch", "{\"a\":1}", "[]", "{\"a\":1}", CG_OK, NULL},
};

static const struct apply_case apply_err[] = {
    {"patch not an array", "{}", "{\"op\":\"add\"}", NULL, CG_EINVAL, "not an array of ops"},
    {"op not an object", "{}", "[1]", NULL, CG_EINVAL, "op 0 (?): the op is a number"},
    {"missing op", "{}", "[{\"path\":\"/a\"}]", NULL, CG_EINVAL, "op 0 (?): missing \"op\""},
    {"op not a string", "{}", "[{\"op\":1,\"path\":\"/a\"}]", NULL, CG_EINVAL,
     "\"op\" is a number"},
    {"unknown op", "{}", "[{\"op\":\"merge\",\"path\":\"/a\"}]", NULL, CG_EINVAL,
     "unknown op \"merge\""},
    {"missing path", "{}", "[{\"op\":\"add\",\"value\":1}]", NULL, CG_EINVAL,
     "op 0 (add): missing \"path\""},
    {"path not a string", "{}", "[{\"op\":\"remove\",\"path\":[]}]", NULL, CG_EINVAL,
     "\"path\" is an array"},
    {"path without leading slash", "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"a\"}]", NULL,
     CG_EINVAL, "must be empty or start with"},
    {"bad escape", "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/a~2\"}]", NULL, CG_EINVAL,
     "\"~\" must be followed by 0 or 1"},
    {"trailing tilde", "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/a~\"}]", NULL, CG_EINVAL,
     "\"~\" must be followed by 0 or 1"},
    {"add without value", "{}", "[{\"op\":\"add\",\"path\":\"/a\"}]", NULL, CG_EINVAL,
     "op 0 (add): missing \"value\""},
    {"replace without value", "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/a\"}]", NULL,
     CG_EINVAL, "op 0 (replace): missing \"value\""},
    {"test without value", "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\"}]", NULL, CG_EINVAL,
     "op 0 (test): missing \"value\""},
    {"move without from", "{\"a\":1}", "[{\"op\":\"move\",\"path\":\"/b\"}]", NULL, CG_EINVAL,
     "op 0 (move): missing \"from\""},
    {"copy with bad from", "{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"a\",\"path\":\"/b\"}]", NULL,
     CG_EINVAL, "from \"a\" is not a JSON pointer"},
    {"copy with from not a string", "{\"a\":1}",
     "[{\"op\":\"copy\",\"from\":null,\"path\":\"/b\"}]", NULL, CG_EINVAL,
     "\"from\" is null, not a string"},
    {"add under missing parent", "{\"metadata\":{}}",
     "[{\"op\":\"add\",\"path\":\"/metadata/labels/x\",\"value\":\"a\"}]", NULL, CG_ENOTFOUND,
     "\"/metadata/labels\" does not exist (no member \"labels\")"},
    {"add under a scalar", "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a/b\",\"value\":2}]", NULL,
     CG_ENOTFOUND, "the parent is a number"},
    {"descend through a scalar", "{\"a\":\"s\"}",
     "[{\"op\":\"add\",\"path\":\"/a/b/c\",\"value\":2}]", NULL, CG_ENOTFOUND,
     "\"/a/b\" does not exist (a string has no members)"},
    {"add past the end", "{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/3\",\"value\":0}]", NULL,
     CG_ENOTFOUND, "index 3 is past the end (array of 2 elements)"},
    {"index with leading zero", "{\"a\":[1,2]}",
     "[{\"op\":\"add\",\"path\":\"/a/01\",\"value\":0}]", NULL, CG_EINVAL,
     "array index \"01\" is not"},
    {"index not a number", "{\"a\":[1,2]}", "[{\"op\":\"replace\",\"path\":\"/a/x\",\"value\":0}]",
     NULL, CG_EINVAL, "array index \"x\" is not"},
    {"negative index", "{\"a\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/a/-1\"}]", NULL, CG_EINVAL,
     "array index \"-1\" is not"},
    {"empty index", "{\"a\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/a/\"}]", NULL, CG_EINVAL,
     "array index \"\" is not"},
    {"index overflow", "{\"a\":[1]}",
     "[{\"op\":\"test\",\"path\":\"/a/99999999999999999999999/b\",\"value\":0}]", NULL, CG_EINVAL,
     "array index \"99999999999999999999999\" is not"},
    {"index with sign", "{\"a\":[1]}", "[{\"op\":\"test\",\"path\":\"/a/+0\",\"value\":1}]", NULL,
     CG_EINVAL, "array index \"+0\" is not"},
    {"- inside a path", "{\"a\":[{}]}", "[{\"op\":\"add\",\"path\":\"/a/-/b\",\"value\":1}]", NULL,
     CG_ENOTFOUND, "\"/a/-\" does not exist (\"-\" is the element after the last)"},
    {"remove missing member", "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/b\"}]", NULL,
     CG_ENOTFOUND, "op 0 (remove): \"/b\" does not exist"},
    {"remove index == size", "{\"a\":[1]}", "[{\"op\":\"remove\",\"path\":\"/a/1\"}]", NULL,
     CG_ENOTFOUND, "index 1, array of 1 elements"},
    {"remove -", "{\"a\":[1]}", "[{\"op\":\"remove\",\"path\":\"/a/-\"}]", NULL, CG_ENOTFOUND,
     "\"-\" is the element after the last"},
    {"remove root", "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"\"}]", NULL, CG_EINVAL,
     "cannot remove the whole document"},
    {"replace missing member", "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/b\",\"value\":1}]",
     NULL, CG_ENOTFOUND, "op 0 (replace): \"/b\" does not exist"},
    {"replace -", "{\"a\":[1]}", "[{\"op\":\"replace\",\"path\":\"/a/-\",\"value\":1}]", NULL,
     CG_ENOTFOUND, "\"-\" is the element after the last"},
    {"replace under missing parent", "{}", "[{\"op\":\"replace\",\"path\":\"/x/y\",\"value\":1}]",
     NULL, CG_ENOTFOUND, "\"/x\" does not exist"},
    {"move from missing", "{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/b\",\"path\":\"/c\"}]", NULL,
     CG_ENOTFOUND, "op 0 (move): \"/b\" does not exist"},
    {"move into own child", "{\"a\":{\"b\":{}}}",
     "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b/c\"}]", NULL, CG_EINVAL,
     "cannot move \"/a\" into its own child \"/a/b/c\""},
    {"move root into a child", "{\"a\":{}}", "[{\"op\":\"move\",\"from\":\"\",\"path\":\"/a/b\"}]",
     NULL, CG_EINVAL, "into its own child"},
    {"move to a place gone after removal", "{\"a\":[1]}",
     "[{\"op\":\"move\",\"from\":\"/a/0\",\"path\":\"/a/1\"}]", NULL, CG_ENOTFOUND,
     "index 1 is past the end (array of 0 elements)"},
    {"copy from missing", "{\"a\":[1]}", "[{\"op\":\"copy\",\"from\":\"/a/1\",\"path\":\"/b\"}]",
     NULL, CG_ENOTFOUND, "op 0 (copy): \"/a/1\" does not exist"},
    {"copy to missing parent", "{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/x/y\"}]",
     NULL, CG_ENOTFOUND, "\"/x\" does not exist"},
    {"test fails on value", "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]", NULL,
     CG_EINVAL, "op 0 (test): test failed: the value at \"/a\" differs"},
    {"test fails on type", "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":\"1\"}]", NULL,
     CG_EINVAL, "test failed"},
    {"test fails on int vs real", "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":1.5}]",
     NULL, CG_EINVAL, "test failed"},
    {"test fails on object keys", "{\"a\":{\"x\":1}}",
     "[{\"op\":\"test\",\"path\":\"/a\",\"value\":{\"y\":1}}]", NULL, CG_EINVAL, "test failed"},
    {"test fails on object size", "{\"a\":{\"x\":1}}",
     "[{\"op\":\"test\",\"path\":\"/a\",\"value\":{\"x\":1,\"y\":1}}]", NULL, CG_EINVAL,
     "test failed"},
    {"test fails on array length", "{\"a\":[1]}",
     "[{\"op\":\"test\",\"path\":\"/a\",\"value\":[1,1]}]", NULL, CG_EINVAL, "test failed"},
    {"test fails on array element", "{\"a\":[1,[2]]}",
     "[{\"op\":\"test\",\"path\":\"/a\",\"value\":[1,[3]]}]", NULL, CG_EINVAL, "test failed"},
    {"test fails on string", "{\"a\":\"ab\"}",
     "[{\"op\":\"test\",\"path\":\"/a\",\"value\":\"ac\"}]", NULL, CG_EINVAL, "test failed"},
    {"test fails on booleans", "{\"a\":true}",
     "[{\"op\":\"test\",\"path\":\"/a\",\"value\":false}]", NULL, CG_EINVAL, "test failed"},
    {"test on missing path", "{}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":null}]", NULL,
     CG_ENOTFOUND, "op 0 (test): \"/a\" does not exist"},
    {"error names the failing op's index", "{\"a\":1}",
     "[{\"op\":\"add\",\"path\":\"/b\",\"value\":1},{\"op\":\"test\",\"path\":\"/b\",\"value\":1},"
     "{\"op\":\"remove\",\"path\":\"/a\"},{\"op\":\"remove\",\"path\":\"/a\"}]",
     NULL, CG_ENOTFOUND, "patch op 3 (remove): \"/a\" does not exist"},
    {"values that are moved, copied or added are freed on failure", "{\"a\":{\"k\":[1,2]}}",
     "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/nope/x\"}]", NULL, CG_ENOTFOUND,
     "\"/nope\" does not exist"},
    {"added value freed on failure", "{\"a\":[]}",
     "[{\"op\":\"add\",\"path\":\"/a/7\",\"value\":{\"big\":[1,2,3]}}]", NULL, CG_ENOTFOUND,
     "past the end"},
    {"replaced value freed on failure", "{\"a\":[]}",
     "[{\"op\":\"replace\",\"path\":\"/a/0\",\"value\":{\"big\":[1,2,3]}}]", NULL, CG_ENOTFOUND,
     "does not exist"},
};

static json_t *load(const char *what, const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        fail_msg("bad %s in the test table: %s: %s", what, jerr.text, text);
    return v;
}

static void run_apply_case(const struct apply_case *tc)
{
    json_t *doc = load("doc", tc->doc);
    json_t *patch = load("patch", tc->patch);
    json_t *patch_before = json_deep_copy(patch);
    struct cg_err err;
    enum cg_status st = cg_jsonpatch_apply(&doc, patch, &err);
    if (st != tc->status)
        fail_msg("%s: status %s, want %s (%s)", tc->name, cg_status_str(st),
                 cg_status_str(tc->status), st == CG_OK ? "" : err.msg);
    assert_int_equal(err.status, tc->status);
    if (tc->status == CG_OK) {
        json_t *want = load("want", tc->want);
        if (!json_equal(doc, want)) {
            char *got = json_dumps(doc, JSON_ENCODE_ANY | JSON_SORT_KEYS);
            fail_msg("%s: got %s, want %s", tc->name, got, tc->want);
        }
        json_decref(want);
    } else if (strstr(err.msg, tc->msg) == NULL) {
        fail_msg("%s: message \"%s\" does not contain \"%s\"", tc->name, err.msg, tc->msg);
    }
    /* the patch is never touched */
    assert_true(json_equal(patch, patch_before));
    json_decref(patch_before);
    json_decref(patch);
    json_decref(doc);
}

static void applies_every_op(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSEGS(apply_ok); i++)
        run_apply_case(&apply_ok[i]);
}

static void reports_every_error(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSEGS(apply_err); i++)
        run_apply_case(&apply_err[i]);
}

/* The document gets its own copies of the patch's values. */
static void applied_values_are_copies(void **state)
{
    (void)state;
    json_t *doc = load("doc", "{}");
    json_t *patch = load("patch", "[{\"op\":\"add\",\"path\":\"/x\",\"value\":{\"k\":1}},"
                                  "{\"op\":\"add\",\"path\":\"/y\",\"value\":[1]}]");
    struct cg_err err;
    assert_int_equal(cg_jsonpatch_apply(&doc, patch, &err), CG_OK);
    json_object_set_new(json_object_get(doc, "x"), "k", json_integer(2));
    json_array_append_new(json_object_get(doc, "y"), json_integer(2));
    json_t *want = load("patch", "[{\"op\":\"add\",\"path\":\"/x\",\"value\":{\"k\":1}},"
                                 "{\"op\":\"add\",\"path\":\"/y\",\"value\":[1]}]");
    assert_true(json_equal(patch, want));
    json_decref(want);
    json_decref(patch);
    json_decref(doc);
}

/* A NULL err is allowed; the status still says what happened. */
static void works_without_err(void **state)
{
    (void)state;
    json_t *doc = load("doc", "{\"a\":1}");
    json_t *bad = load("patch", "[{\"op\":\"remove\",\"path\":\"/b\"}]");
    json_t *good = load("patch", "[{\"op\":\"remove\",\"path\":\"/a\"}]");
    assert_int_equal(cg_jsonpatch_apply(&doc, bad, NULL), CG_ENOTFOUND);
    assert_int_equal(cg_jsonpatch_apply(&doc, good, NULL), CG_OK);
    assert_int_equal(json_object_size(doc), 0);
    json_t *none = NULL;
    struct cg_err err;
    assert_int_equal(cg_jsonpatch_apply(&none, good, &err), CG_EINVAL);
    assert_string_equal(err.msg, "no document to patch");
    assert_int_equal(cg_jsonpatch_apply(NULL, good, NULL), CG_EINVAL);
    json_decref(good);
    json_decref(bad);
    json_decref(doc);
}

/* Keys with a NUL inside are distinct keys (jansson keeps their length). */
static void keys_with_nul(void **state)
{
    (void)state;
    json_t *doc = load("doc", "{\"a\":1}");
    assert_int_equal(json_object_setn_new(doc, "a\0b", 3, json_integer(2)), 0);
    json_error_t jerr;
    json_t *patch = json_loads("[{\"op\":\"remove\",\"path\":\"/a\\u0000b\"},"
                               "{\"op\":\"test\",\"path\":\"/a\",\"value\":1}]",
                               JSON_ALLOW_NUL, &jerr);
    assert_non_null(patch);
    struct cg_err err;
    assert_int_equal(cg_jsonpatch_apply(&doc, patch, &err), CG_OK);
    assert_int_equal(json_object_size(doc), 1);
    assert_non_null(json_object_get(doc, "a"));
    json_decref(patch);
    json_decref(doc);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(segment_escaping),
        cmocka_unit_test(segments_make_a_pointer),
        cmocka_unit_test(segment_escaping_respects_cap),
        cmocka_unit_test(empty_patch_has_empty_text),
        cmocka_unit_test(builds_each_op),
        cmocka_unit_test(creates_missing_parents),
        cmocka_unit_test(appends_to_arrays),
        cmocka_unit_test(adds_at_root),
        cmocka_unit_test(empty_segments_and_values),
        cmocka_unit_test(escapes_strings_as_json),
        cmocka_unit_test(rejects_bad_arguments),
        cmocka_unit_test(cap_is_exact),
        cmocka_unit_test(cap_rolls_back_whole_group),
        cmocka_unit_test(reset_keeps_memory),
        cmocka_unit_test(builder_output_applies),
        cmocka_unit_test(applies_every_op),
        cmocka_unit_test(reports_every_error),
        cmocka_unit_test(applied_values_are_copies),
        cmocka_unit_test(works_without_err),
        cmocka_unit_test(keys_with_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
