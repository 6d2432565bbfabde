/* The server's policy store on real policy files (the shipped examples), laid out as a
 * ConfigMap mount: change detection through the tree fingerprint (edits, new files, the
 * ..data swap, dot entries ignored), publishing, and a failing reload that keeps the last
 * good set and says why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/policy.h"
#include "policy/store.h"
#include "test_support.h"

static int setup(void **state)
{
    *state = cg_test_dir_create("cg-pstore");
    return 0;
}

static int teardown(void **state)
{
    cg_test_dir_destroy(*state);
    return 0;
}

static void copy(const char *from, const char *to)
{
    const char *argv[] = {"/bin/cp", from, to, NULL};
    assert_int_equal(cg_test_spawn(argv), 0);
}

#define EXAMPLE(name) CG_SOURCE_DIR "/policies/examples/" name

static void test_fingerprint(void **state)
{
    struct cg_test_dir *f = *state;
    assert_int_equal(cg_tree_fingerprint(cg_test_path(f, "missing")), 0);
    unsigned long long empty = cg_tree_fingerprint(f->dir);
    assert_true(empty != 0);
    copy(EXAMPLE("payments.yaml"), cg_test_path(f, "payments.yaml"));
    unsigned long long one = cg_tree_fingerprint(f->dir);
    assert_true(one != empty);
    assert_true(cg_tree_fingerprint(f->dir) == one); /* stable */

    /* Dot-named entries are invisible, as they are to the loader. */
    cg_test_write_file(cg_test_path(f, ".hidden.yaml"), "x: 1\n");
    mkdir(cg_test_path(f, "..2026_01_01"), 0755);
    assert_true(cg_tree_fingerprint(f->dir) == one);

    /* A file in a subdirectory, and an edit that keeps the size, are changes. */
    mkdir(cg_test_path(f, "team"), 0755);
    unsigned long long with_dir = cg_tree_fingerprint(f->dir);
    assert_true(with_dir != one);
    copy(EXAMPLE("warn-new-rule.yaml"), cg_test_path(f, "team/warn.yaml"));
    unsigned long long two = cg_tree_fingerprint(f->dir);
    assert_true(two != with_dir);
    struct stat sb;
    assert_int_equal(stat(cg_test_path(f, "team/warn.yaml"), &sb), 0);
    copy(EXAMPLE("warn-new-rule.yaml"), cg_test_path(f, "team/warn.tmp"));
    assert_int_equal(rename(cg_test_path(f, "team/warn.tmp"), cg_test_path(f, "team/warn.yaml")),
                     0);
    assert_true(cg_tree_fingerprint(f->dir) != two); /* new inode */
}

static char *describe(struct cg_policy_store *s)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_policy_store_describe(s, &b), CG_OK);
    size_t n;
    return cg_buf_take(&b, &n);
}

static void test_configmap_reloads(void **state)
{
    struct cg_test_dir *f = *state;
    /* ConfigMap layout: ..v1/ holds the files, ..data -> ..v1, p.yaml -> ..data/p.yaml. */
    mkdir(cg_test_path(f, "..v1"), 0755);
    copy(EXAMPLE("payments.yaml"), cg_test_path(f, "..v1/payments.yaml"));
    assert_int_equal(symlink("..v1", cg_test_path(f, "..data")), 0);
    assert_int_equal(symlink("..data/payments.yaml", cg_test_path(f, "payments.yaml")), 0);

    struct cg_policy_store s;
    cg_policy_store_init(&s, f->dir);
    assert_false(cg_policy_store_ready(&s));
    assert_int_equal(cg_policy_store_reload(&s, false, NULL), CG_RELOAD_DONE);
    assert_true(cg_policy_store_ready(&s));
    size_t n1 = atomic_load(&s.loaded);
    assert_true(n1 >= 1);
    assert_int_equal(cg_policy_store_reload(&s, false, NULL), CG_RELOAD_UNCHANGED);

    struct cg_snapshot_reader r;
    cg_snapshot_reader_init(&r);
    const struct cg_policy_set *held = cg_snapshot_reader_get(&r, &s.snap);
    assert_non_null(held);
    assert_int_equal(held->n, n1);

    /* The kubelet's update: ..v2 with a changed file, then ..data swapped. */
    mkdir(cg_test_path(f, "..v2"), 0755);
    copy(EXAMPLE("freeze-calendar.yaml"), cg_test_path(f, "..v2/payments.yaml"));
    assert_int_equal(symlink("..v2", cg_test_path(f, "..data_tmp")), 0);
    assert_int_equal(rename(cg_test_path(f, "..data_tmp"), cg_test_path(f, "..data")), 0);
    assert_int_equal(cg_policy_store_reload(&s, false, NULL), CG_RELOAD_DONE);
    const struct cg_policy_set *now = cg_snapshot_reader_get(&r, &s.snap);
    assert_ptr_not_equal(now, held);

    /* A broken file: refused, the last good set stays, the error names the file. */
    cg_test_write_file(cg_test_path(f, "broken.yaml"),
                       "apiVersion: cellgate.io/v1\nkind: ReleasePolicy\n"
                       "metadata:\n  name: broken\nspec:\n  bogusKey: 1\n");
    struct cg_err err;
    assert_int_equal(cg_policy_store_reload(&s, false, &err), CG_RELOAD_FAILED);
    assert_non_null(strstr(err.file[0] ? err.file : err.msg, "broken.yaml"));
    assert_ptr_equal(cg_snapshot_reader_get(&r, &s.snap), now);
    assert_true(cg_policy_store_ready(&s));
    assert_int_equal(atomic_load(&s.reloads_error), 1);
    char *d = describe(&s);
    assert_non_null(strstr(d, "last reload failed"));
    assert_non_null(strstr(d, "broken.yaml"));
    free(d);
    /* Unchanged: not retried until something changes or a forced reload (SIGHUP). */
    assert_int_equal(cg_policy_store_reload(&s, false, NULL), CG_RELOAD_UNCHANGED);
    assert_int_equal(cg_policy_store_reload(&s, true, NULL), CG_RELOAD_FAILED);
    assert_int_equal(atomic_load(&s.reloads_error), 2);

    assert_int_equal(unlink(cg_test_path(f, "broken.yaml")), 0);
    assert_int_equal(cg_policy_store_reload(&s, false, NULL), CG_RELOAD_DONE);
    d = describe(&s);
    assert_null(strstr(d, "failed"));
    assert_non_null(strstr(d, "loaded from"));
    free(d);
    assert_int_equal(atomic_load(&s.reloads_ok), 3);

    cg_snapshot_reader_dispose(&r, &s.snap);
    cg_policy_store_dispose(&s);
}

static void test_never_loaded(void **state)
{
    struct cg_test_dir *f = *state;
    struct cg_policy_store s;
    cg_policy_store_init(&s, f->dir); /* empty directory: the loader's error */
    assert_int_equal(cg_policy_store_reload(&s, false, NULL), CG_RELOAD_FAILED);
    assert_false(cg_policy_store_ready(&s));
    char *d = describe(&s);
    assert_non_null(strstr(d, "not loaded"));
    free(d);
    cg_policy_store_dispose(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_configmap_reloads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_loaded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
