/* The YAML node tree under the policy loader: positions, scalar typing by YAML's core schema,
 * and what it refuses. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "policy/yaml_tree.h"
#include "test_support.h"

struct parsed {
    struct cg_arena arena;
    struct cg_ynode **docs;
    size_t n;
    struct cg_err err;
    enum cg_status st;
};

static void parse(struct parsed *p, const char *text)
{
    cg_arena_init(&p->arena, 0);
    cg_err_clear(&p->err);
    p->st = cg__yaml_parse("t.yaml", text, strlen(text), &p->arena, &p->docs, &p->n, &p->err);
}

static void dispose(struct parsed *p)
{
    cg_arena_dispose(&p->arena);
}

static void test_positions(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "# comment\nkey:\n  list:\n    - a\n    - \"b c\"\n  n: 7\n");
    assert_int_equal(p.st, CG_OK);
    assert_int_equal(p.n, 1);
    const struct cg_ynode *root = p.docs[0];
    assert_int_equal(root->kind, CG_YNODE_MAP);
    assert_int_equal(root->line, 2);
    assert_int_equal(root->col, 1);
    assert_int_equal(root->n, 2);
    assert_string_equal(root->items[0]->value, "key");
    const struct cg_ynode *inner = root->items[1];
    assert_int_equal(inner->kind, CG_YNODE_MAP);
    assert_int_equal(inner->line, 3);
    assert_int_equal(inner->col, 3);
    const struct cg_ynode *list = inner->items[1];
    assert_int_equal(list->kind, CG_YNODE_SEQ);
    assert_int_equal(list->n, 2);
    assert_int_equal(list->items[1]->line, 5);
    assert_int_equal(list->items[1]->col, 7);
    assert_string_equal(list->items[1]->value, "b c");
    assert_false(list->items[1]->plain);
    assert_true(list->items[0]->plain);
    assert_int_equal(inner->items[3]->line, 6);
    assert_int_equal(inner->items[3]->col, 6);
    dispose(&p);
}

static void test_documents(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "a: 1\n---\n---\nb: 2\n--- ~\n");
    assert_int_equal(p.st, CG_OK);
    assert_int_equal(p.n, 4);
    assert_non_null(p.docs[0]);
    assert_null(p.docs[1]); /* empty */
    assert_non_null(p.docs[2]);
    assert_int_equal(p.docs[2]->line, 4);
    assert_null(p.docs[3]); /* a bare null */
    dispose(&p);
    parse(&p, "# only a comment\n");
    assert_int_equal(p.st, CG_OK);
    assert_int_equal(p.n, 0);
    dispose(&p);
    parse(&p, "");
    assert_int_equal(p.st, CG_OK);
    assert_int_equal(p.n, 0);
    dispose(&p);
}

static void expect_error(const char *text, int line, int col, const char *msg)
{
    struct parsed p;
    parse(&p, text);
    assert_int_equal(p.st, CG_EPARSE);
    assert_string_equal(p.err.file, "t.yaml");
    if (p.err.line != line || p.err.col != col || strcmp(p.err.msg, msg) != 0)
        fail_msg("for %s\n  expected %d:%d: %s\n  got      %d:%d: %s", text, line, col, msg,
                 p.err.line, p.err.col, p.err.msg);
    dispose(&p);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_error("a: &x 1\n", 1, 4, "YAML anchors are not supported in policies");
    expect_error("a: [1, *x]\n", 1, 8, "YAML aliases are not supported in policies");
    expect_error("a: !!str 1\n", 1, 4, "explicit YAML tags are not supported in policies");
    expect_error("a: !custom {b: 1}\n", 1, 4, "explicit YAML tags are not supported in policies");
    expect_error("{[a]: 1}\n", 1, 2, "mapping keys must be plain strings");
    expect_error("? {a: 1}\n: 2\n", 1, 3, "mapping keys must be plain strings");
    expect_error("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key \"a\" (first at line 1)");
    expect_error("x:\n  k: 1\n  'k': 2\n", 3, 3, "duplicate key \"k\" (first at line 2)");
    expect_error("a: [1, 2\n", 2, 1,
                 "YAML: did not find expected ',' or ']' while parsing a flow sequence");
    expect_error("a: \"unterminated\n", 2, 1,
                 "YAML: found unexpected end of stream while scanning a quoted scalar");
}

/* The node for text as the one item of a block list (a bare null document would vanish). */
static const struct cg_ynode *scalar(struct parsed *p, const char *text)
{
    char doc[256];
    snprintf(doc, sizeof(doc), "- %s\n", text);
    parse(p, doc);
    assert_int_equal(p->st, CG_OK);
    assert_int_equal(p->n, 1);
    assert_int_equal(p->docs[0]->n, 1);
    return p->docs[0]->items[0];
}

static void test_scalar_typing(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *describe;
    } cases[] = {
        {"hello", "a string"},  {"\"123\"", "a string"}, {"'true'", "a string"},
        {"123", "an integer"},  {"-7", "an integer"},    {"+7", "an integer"},
        {"0x1F", "an integer"}, {"0o17", "an integer"},  {"-0x1F", "a string"},
        {"0o19", "a string"},   {"1.5", "a number"},     {".5", "a number"},
        {"1e3", "a number"},    {"-2.5E-3", "a number"}, {".inf", "a number"},
        {"-.Inf", "a number"},  {".nan", "a number"},    {"1e", "a string"},
        {"1.2.3", "a string"},  {"true", "a boolean"},   {"False", "a boolean"},
        {"TRUE", "a boolean"},  {"yes", "a string"},     {"on", "a string"},
        {"null", "null"},       {"~", "null"},           {"NULL", "null"},
        {"18:00", "a string"},  {"30s", "a string"},     {"99999999999999999999", "a number"},
        {"[1]", "a list"},      {"{a: 1}", "a mapping"}, {"|\n    block", "a string"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct parsed p;
        const struct cg_ynode *n = scalar(&p, cases[i].text);
        const char *got = cg__ynode_describe(n);
        if (strcmp(got, cases[i].describe) != 0)
            fail_msg("%s: expected %s, got %s", cases[i].text, cases[i].describe, got);
        dispose(&p);
    }
    struct parsed p;
    long long i = 0;
    double d = 0;
    bool b = false;
    assert_true(cg__ynode_is_int(scalar(&p, "0x1F"), &i));
    assert_int_equal(i, 31);
    dispose(&p);
    assert_true(cg__ynode_is_int(scalar(&p, "-9223372036854775808"), &i));
    assert_true(i < 0);
    dispose(&p);
    assert_true(cg__ynode_is_float(scalar(&p, "-.inf"), &d));
    assert_true(isinf(d) && d < 0);
    dispose(&p);
    assert_true(cg__ynode_is_float(scalar(&p, ".NaN"), &d));
    assert_true(isnan(d));
    dispose(&p);
    assert_true(cg__ynode_is_float(scalar(&p, "42"), &d));
    assert_true(d == 42.0);
    dispose(&p);
    assert_true(cg__ynode_is_bool(scalar(&p, "True"), &b));
    assert_true(b);
    dispose(&p);
    assert_true(cg__ynode_is_bool(scalar(&p, "false"), &b));
    assert_false(b);
    dispose(&p);
    assert_false(cg__ynode_is_bool(scalar(&p, "\"true\""), &b));
    dispose(&p);
    assert_string_equal(cg__ynode_describe(NULL), "nothing");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_scalar_typing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
