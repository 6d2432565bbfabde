/* Helpers shared by the test binaries: fixture paths, whole-file reads, jansson's
 * allocator routed through cmocka's so a missed json_decref fails the test by name, scratch
 * directories and child processes. */
#ifndef CG_TEST_SUPPORT_H
#define CG_TEST_SUPPORT_H

#include <stddef.h>

/* Reads the file at path (aborts the test if it cannot). Caller frees. *len may be NULL. */
char *cg_test_read_file(const char *path, size_t *len);
/* Reads CG_FIXTURES "/" rel. */
char *cg_test_read_fixture(const char *rel, size_t *len);
/* "CG_FIXTURES/rel" in a static buffer (valid until the next call). */
const char *cg_test_fixture_path(const char *rel);
/* Makes jansson allocate with cmocka's test_malloc/test_free for the rest of the binary. */
void cg_test_jansson_use_cmocka(void);

/* A scratch directory under /tmp for one test. */
struct cg_test_dir {
    char dir[64];
    char buf[4][512]; /* results of cg_test_path, reused in turn */
    int i;
};

/* Creates /tmp/<prefix>-XXXXXX (aborts the test if it cannot). Fits a cmocka setup. */
struct cg_test_dir *cg_test_dir_create(const char *prefix);
/* Removes the directory with everything in it, and frees d. Accepts NULL. */
void cg_test_dir_destroy(struct cg_test_dir *d);
/* "dir/rel" in one of d's four buffers: valid until the fourth call after; rel may be an
 * earlier result. */
const char *cg_test_path(struct cg_test_dir *d, const char *rel);
/* Writes text to path, replacing the file (aborts the test if it cannot). */
void cg_test_write_file(const char *path, const char *text);

/* How much slower than native this test runs: CG_TEST_TIME_SCALE (scripts/valgrind-unit sets
 * 10), else 1. Tests with wall-clock bounds multiply them by it. */
int cg_test_time_scale(void);
/* Runs argv[0] (a path) with argv and returns its exit code, -1 if it did not exit. */
int cg_test_spawn(const char *const *argv);

/* The independent RFC 6902 implementation (fast-json-patch under node): applies patch to doc
 * and returns the result (new reference), or NULL when it refuses the patch (its message goes
 * to stderr). Fails the test when node or the package is missing. */
struct json_t;
struct json_t *cg_test_node_apply(const struct json_t *doc, const struct json_t *patch);
/* Fails the test with the install command when fast-json-patch is not installed. */
void cg_test_node_check_installed(void);

/* Skipping that ctest can see. cmocka counts a skipped test as passed, so a binary whose
 * tests all skip (no cluster on this machine) would look green. CG_TEST_SKIP(why) prints why
 * and skips; cg_test_run runs the group and returns CG_TEST_SKIPPED (ctest's
 * SKIP_RETURN_CODE) when every test of it skipped. */
#define CG_TEST_SKIPPED 77
void cg_test_note_skip(const char *why);
#define CG_TEST_SKIP(why)                                                                          \
    do {                                                                                           \
        cg_test_note_skip(why);                                                                    \
        skip();                                                                                    \
    } while (0)
/* The kubeconfig of a real cluster for tests that need one: $CELLGATE_E2E_KUBECONFIG when
 * set, else the lab's admin kubeconfig (/var/tmp/cellgate-lab/admin.kubeconfig) when it
 * exists and its API server (127.0.0.1:6443) accepts a connection within a second, else NULL:
 * the test then skips with CG_TEST_KUBE_SKIP_MSG. The string is static or the environment's. */
const char *cg_test_cluster_kubeconfig(void);
#define CG_TEST_KUBE_SKIP_MSG                                                                      \
    "no cluster: set CELLGATE_E2E_KUBECONFIG or start ../shared/lab/cluster up"

struct CMUnitTest;
int cg_test_run(const char *name, const struct CMUnitTest *tests, size_t n, int (*setup)(void **),
                int (*teardown)(void **));

#endif
