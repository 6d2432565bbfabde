/* Golden cases (tests/golden/cases/<case>/): each runs through the library's case runner and
 * through the built `cellgate policy test`, and both must pass every case. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "test_support.h"

#define CASES CG_SOURCE_DIR "/tests/golden/cases"

struct names {
    char items[64][256];
    size_t n;
};

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void list_cases(struct names *out)
{
    DIR *d = opendir(CASES);
    assert_non_null(d);
    struct dirent *e;
    out->n = 0;
    while ((e = readdir(d)) != NULL) {
        char path[1024];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s/case.yaml", CASES, e->d_name);
        if (e->d_name[0] == '.' || stat(path, &st) != 0)
            continue;
        assert_true(out->n < 64);
        snprintf(out->items[out->n++], sizeof(out->items[0]), "%s", e->d_name);
    }
    closedir(d);
    qsort(out->items, out->n, sizeof(out->items[0]), cmp);
}

/* Every case the issue asks for is there. */
static void the_required_cases_exist(void **state)
{
    (void)state;
    static const char *const required[] = {
        "payments-release-mutate",
        "payments-recreate-denied",
        "no-readiness-probe-denied",
        "scaling-only-no-patch",
        "uncovered-namespace-untouched",
        "freeze-denied",
        "freeze-break-glass-audited",
        "approve-by-non-release-manager-denied",
        "warn-mode-warnings",
        "dry-run-same-decision",
    };
    struct names names;
    list_cases(&names);
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        bool found = false;
        for (size_t j = 0; j < names.n; j++)
            found |= strcmp(names.items[j], required[i]) == 0;
        if (!found)
            fail_msg("golden case %s is missing", required[i]);
    }
}

static void every_case_passes_in_the_library(void **state)
{
    (void)state;
    struct names names;
    list_cases(&names);
    assert_true(names.n >= 10);
    for (size_t i = 0; i < names.n; i++) {
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s/%s", CASES, names.items[i]);
        FILE *report = tmpfile();
        assert_non_null(report);
        bool ok = cg_cli_case_run(dir, report);
        char text[8192] = "";
        rewind(report);
        size_t n = fread(text, 1, sizeof(text) - 1, report);
        text[n] = '\0';
        fclose(report);
        if (!ok)
            fail_msg("%s", text);
        char want[300];
        snprintf(want, sizeof(want), "PASS %s\n", names.items[i]);
        assert_string_equal(text, want);
    }
}

/* Runs a shell command line; returns its exit status and its output in out. */
static int run_command(const char *cmd, char *out, size_t outlen)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void every_case_passes_in_the_binary(void **state)
{
    (void)state;
    struct names names;
    list_cases(&names);
    static char out[65536];
    int rc = run_command(CG_BINARY_DIR "/cellgate policy test " CASES " 2>&1", out, sizeof(out));
    if (rc != 0)
        fail_msg("cellgate policy test exited %d:\n%s", rc, out);
    for (size_t i = 0; i < names.n; i++) {
        char want[300];
        snprintf(want, sizeof(want), "PASS %s\n", names.items[i]);
        if (strstr(out, want) == NULL)
            fail_msg("no \"%s\" in:\n%s", want, out);
    }
    char summary[64];
    snprintf(summary, sizeof(summary), "%zu passed, 0 failed\n", names.n);
    assert_non_null(strstr(out, summary));
}

/* A case whose expectation is wrong fails, in the library and in the binary, and says why. */
static void a_wrong_expectation_fails(void **state)
{
    (void)state;
    char dir[1024], path[1200];
    snprintf(dir, sizeof(dir), "%s/golden-wrong-case", CG_BINARY_DIR);
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/case.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "path: /mutate\n"
            "now: \"2026-11-26T10:00:00Z\"\n"
            "policies: %s/policies/examples\n"
            "review: %s/payments-release-mutate/review.json\n"
            "expect:\n"
            "  decision: denied\n"
            "  noPatch: true\n",
            CG_SOURCE_DIR, CASES);
    fclose(f);

    FILE *report = tmpfile();
    assert_false(cg_cli_case_run(dir, report));
    char text[4096];
    rewind(report);
    size_t n = fread(text, 1, sizeof(text) - 1, report);
    text[n] = '\0';
    fclose(report);
    assert_non_null(strstr(text, "FAIL golden-wrong-case: decision: expected denied, got patched"));
    assert_non_null(strstr(text, "also: expected no patch, got one"));

    static char out[8192];
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "%s/cellgate policy test %s 2>&1", CG_BINARY_DIR, dir);
    assert_int_equal(run_command(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "FAIL golden-wrong-case"));
    remove(path);
    rmdir(dir);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_required_cases_exist),
        cmocka_unit_test(every_case_passes_in_the_library),
        cmocka_unit_test(every_case_passes_in_the_binary),
        cmocka_unit_test(a_wrong_expectation_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
