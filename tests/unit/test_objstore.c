/* The controller's object store: metadata found by the scanner, managedFields cut out (the
 * text left is the same object without it), keyed replace and delete, relists that drop what
 * is gone and say so, owner queries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kube/objstore.h"
#include "test_support.h"

/* The object with managedFields removed, as jansson sees it: the reference for the cut. */
static json_t *without_managed_fields(const char *json)
{
    json_t *v = json_loads(json, 0, NULL);
    assert_non_null(v);
    json_object_del(json_object_get(v, "metadata"), "managedFields");
    return v;
}

/* Copies the visited text out (caller frees). */
static bool visit(void *ud, const char *json, size_t len, struct cg_str uid)
{
    char **out = ud;
    *out = strndup(json, len);
    return true;
}

static void meta_and_cut(void **state)
{
    static const char *const objects[] = {
        /* managedFields in the middle, at the end, first, alone, absent; spacing varies */
        "{\"metadata\":{\"name\":\"a\",\"managedFields\":[{\"f\":1}],\"uid\":\"u1\"}}",
        "{\"metadata\":{\"name\":\"a\",\"uid\":\"u1\",\"managedFields\":[{\"f\":1}]}}",
        "{\"metadata\":{\"managedFields\":[{\"f\":{\"x\":[1,2]}}],\"name\":\"a\",\"uid\":\"u1\"}}",
        "{\"kind\":\"Pod\",\"metadata\":{ \"name\" : \"a\" ,\n \"managedFields\" : [] \n},\"x\":1}",
        "{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"uid\":\"u1\"},\"spec\":{}}",
    };
    for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
        struct cg_objstore *s = cg_objstore_create(NULL);
        cg_objstore_apply(s, CG_KUBE_ADDED, objects[i], strlen(objects[i]));
        struct cg_objstore_stats st;
        cg_objstore_stats(s, &st);
        assert_int_equal(st.objects, 1);
        char *got = NULL;
        struct cg_str ns = cg_str_from(strstr(objects[i], "\"ns\"") ? "ns" : "");
        assert_true(cg_objstore_get(s, ns, CG_STR_LIT("a"), visit, &got));
        json_t *want = without_managed_fields(objects[i]);
        json_t *have = json_loads(got, 0, NULL);
        if (have == NULL || !json_equal(want, have))
            fail_msg("object %zu: stored text %s", i, got);
        json_decref(want);
        json_decref(have);
        free(got);
        cg_objstore_destroy(s);
    }
    struct cg_objstore_meta m;
    const char *owned =
        "{\"metadata\":{\"name\":\"p\",\"namespace\":\"n\",\"uid\":\"u\","
        "\"ownerReferences\":[{\"uid\":\"x\"},{\"uid\":\"rs\",\"controller\":true}]}}";
    assert_int_equal(cg_objstore_meta_decode(owned, strlen(owned), &m, NULL), CG_OK);
    assert_true(cg_str_eq_c(m.owner_uid, "rs"));
    assert_true(cg_str_eq_c(m.ns, "n"));
    struct cg_err err;
    assert_int_equal(cg_objstore_meta_decode("[1]", 3, &m, &err), CG_EINVAL);
    assert_int_equal(cg_objstore_meta_decode("{\"metadata\":{}}", 15, &m, &err), CG_EINVAL);
    assert_int_equal(cg_objstore_meta_decode("{\"metadata\":", 12, &m, &err), CG_EPARSE);
    assert_int_equal(cg_objstore_meta_decode("{} x", 4, &m, &err), CG_EPARSE);
}

struct changes {
    int added, deleted;
    char last[64];
};

static void on_change(void *ud, enum cg_kube_watch_type type, struct cg_str ns, struct cg_str name,
                      struct cg_str owner)
{
    struct changes *c = ud;
    if (type == CG_KUBE_DELETED)
        c->deleted++;
    else
        c->added++;
    snprintf(c->last, sizeof(c->last), "%.*s/%.*s<%.*s", (int)ns.n, ns.p, (int)name.n, name.p,
             (int)owner.n, owner.p);
}

static bool count(void *ud, const char *json, size_t len, struct cg_str uid)
{
    (*(int *)ud)++;
    return true;
}

static void add(struct cg_objstore *s, enum cg_kube_watch_type t, const char *ns, const char *name,
                const char *owner)
{
    char json[256];
    int n = snprintf(json, sizeof(json),
                     "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"u-%s\","
                     "\"ownerReferences\":[{\"uid\":\"%s\",\"controller\":true}]}}",
                     name, ns, name, owner);
    cg_objstore_apply(s, t, json, (size_t)n);
}

static void store_lifecycle(void **state)
{
    struct changes ch = {0};
    struct cg_objstore_config cfg = {"pods", on_change, &ch};
    struct cg_objstore *s = cg_objstore_create(&cfg);
    for (int i = 0; i < 200; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        add(s, CG_KUBE_ADDED, i % 2 ? "a" : "b", name, i % 3 ? "rs1" : "rs2");
    }
    assert_int_equal(ch.added, 200);
    int n = 0;
    size_t visited = cg_objstore_each(s, CG_STR_LIT("a"), CG_STR_LIT("rs2"), count, &n);
    assert_int_equal(visited, n);
    int want = 0;
    for (int i = 0; i < 200; i++)
        want += (i % 2) && !(i % 3);
    assert_int_equal(n, want);
    add(s, CG_KUBE_MODIFIED, "a", "p1", "rs9"); /* replaced, same key */
    n = 0;
    cg_objstore_each(s, CG_STR_NULL, CG_STR_LIT("rs9"), count, &n);
    assert_int_equal(n, 1);
    add(s, CG_KUBE_DELETED, "a", "p1", "rs9");
    assert_string_equal(ch.last, "a/p1<rs9");
    struct cg_objstore_stats st;
    cg_objstore_stats(s, &st);
    assert_int_equal(st.objects, 199);
    /* A relist that holds only p0..p9: the rest is dropped, each drop reported. */
    ch.deleted = 0;
    cg_objstore_replace_begin(s);
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        if (i != 1)
            add(s, CG_KUBE_ADDED, i % 2 ? "a" : "b", name, "rs1");
    }
    cg_objstore_replace_end(s);
    cg_objstore_stats(s, &st);
    assert_int_equal(st.objects, 9);
    assert_int_equal(ch.deleted, 190);
    /* Garbage is counted, never stored. */
    cg_objstore_apply(s, CG_KUBE_ADDED, "nope", 4);
    cg_objstore_stats(s, &st);
    assert_int_equal(st.rejected, 1);
    assert_int_equal(st.objects, 9);
    cg_objstore_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(meta_and_cut),
        cmocka_unit_test(store_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
