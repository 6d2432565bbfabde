/* `cellgate policy test`: every key of case.yaml checked (no false green), resources in YAML,
 * what a failing case prints, JUnit and JSON reports. */
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
#include <jansson.h>

#include "cli/cli.h"
#include "test_support.h"

#define PAYMENTS CG_SOURCE_DIR "/policies/examples/payments.yaml"
#define EXAMPLES CG_SOURCE_DIR "/policies/examples"
#define ENGINE_POLICIES CG_FIXTURES "/engine/policies"

struct cli {
    int rc;
    char out[65536];
    char err[8192];
};

static void slurp(FILE *f, char *buf, size_t len)
{
    rewind(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs cellgate with the NULL-terminated arguments; stdin from the file `input` (or empty). */
static void cli(struct cli *r, const char *input, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "cellgate";
    va_list ap;
    va_start(ap, input);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    FILE *in = input ? fopen(input, "rb") : tmpfile();
    assert_non_null(in);
    FILE *out = tmpfile(), *err = tmpfile();
    r->rc = cg_cli_run(argc, argv, in, out, err);
    fclose(in);
    slurp(out, r->out, sizeof(r->out));
    slurp(err, r->err, sizeof(r->err));
}

static void assert_contains(const char *text, const char *want)
{
    if (strstr(text, want) == NULL)
        fail_msg("\"%s\" not in:\n%s", want, text);
}

#define CASES CG_SOURCE_DIR "/tests/golden/cases"
#define RELEASE_REVIEW CASES "/payments-release-mutate/review.json"

/* A case directory under cases/<name> with case.yaml and optional extra files. */
static const char *make_case(const char *name, const char *case_yaml, ...)
{
    static char dir[1400];
    snprintf(dir, sizeof(dir), "%s/test_cli_cases_dir", CG_BINARY_DIR);
    mkdir(dir, 0755);
    char *end = dir + strlen(dir);
    for (const char *p = name;; p++) { /* each level of name */
        if (*p == '/' || *p == '\0') {
            snprintf(end, sizeof(dir) - (size_t)(end - dir), "/%.*s", (int)(p - name), name);
            mkdir(dir, 0755);
        }
        if (*p == '\0')
            break;
    }
    char path[1600];
    snprintf(path, sizeof(path), "%s/case.yaml", dir);
    cg_test_write_file(path, case_yaml);
    va_list ap;
    va_start(ap, case_yaml);
    for (const char *file; (file = va_arg(ap, const char *)) != NULL;) {
        const char *content = va_arg(ap, const char *);
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
    }
    va_end(ap);
    return dir;
}

/* THE FALSE GREEN: a misspelled expectation fails the case, naming the key and its line. */
static void misspelled_expectation_fails(void **state)
{
    (void)state;
    struct cli r;
    const char *dir = make_case("decison",
                                "path: /validate\n"
                                "policies: " EXAMPLES "\n"
                                "review: " CASES "/payments-recreate-denied/review.json\n"
                                "expect:\n"
                                "  decison: allowed\n",
                                NULL);
    cli(&r, NULL, "policy", "test", dir, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.out, "FAIL decison: case.yaml:5: unknown key \"decison\" in expect (allowed: "
                           "decision, allowed, code, message, warnings");
    assert_null(strstr(r.out, "PASS"));
    /* the same at every depth, and wrong types and values */
    dir = make_case("deep",
                    "policies: " EXAMPLES "\n"
                    "review: " CASES "/payments-recreate-denied/review.json\n"
                    "userInfo:\n"
                    "  username: alice\n"
                    "  gropus: [sre]\n"
                    "expect:\n"
                    "  decision: denied\n"
                    "  code: \"403\"\n"
                    "  warnings: [{a: b}]\n",
                    NULL);
    cli(&r, NULL, "policy", "test", dir, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.out, "FAIL deep: case.yaml:5: unknown key \"gropus\" in userInfo");
    assert_contains(r.out, "also: case.yaml:8: expect.code: want an integer");
    assert_contains(r.out, "also: case.yaml:9: expect.warnings: want a list");
    dir = make_case("baddecision",
                    "policies: " EXAMPLES "\n"
                    "review: " CASES "/payments-recreate-denied/review.json\n"
                    "expect: {decision: refused}\n",
                    NULL);
    cli(&r, NULL, "policy", "test", dir, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.out, "case.yaml:3: expect.decision: \"refused\" is none of allowed, patched");
    dir = make_case("empty",
                    "policies: " EXAMPLES "\n"
                    "review: " CASES "/payments-recreate-denied/review.json\n"
                    "expect: {}\n",
                    NULL);
    cli(&r, NULL, "policy", "test", dir, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.out, "expect: says nothing to check");
    /* a broken case.yaml: the line, and what to change */
    dir = make_case("tabbed", "policies: x\nexpect:\n\tdecision: allowed\n", NULL);
    cli(&r, NULL, "policy", "test", dir, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.out, "case.yaml: document 1: line 3 column 1: a tab character");
}

/* A failed expectation prints the patch the review got. */
static void failure_prints_the_patch(void **state)
{
    (void)state;
    struct cli r;
    const char *dir = make_case("wrongpatch",
                                "path: /mutate\n"
                                "now: \"2026-11-26T10:00:00Z\"\n"
                                "policies: " EXAMPLES "\n"
                                "review: " RELEASE_REVIEW "\n"
                                "expect: {decision: allowed}\n",
                                NULL);
    cli(&r, NULL, "policy", "test", dir, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.out, "FAIL wrongpatch: decision: expected allowed, got patched\n"
                           "    the patch it got:\n");
    assert_contains(r.out, "      add     /spec/strategy/rollingUpdate/maxSurge 2\n");
}

/* A policy that does not load: its reason comes before the FAIL line that refers to it. */
static void policy_error_before_fail(void **state)
{
    (void)state;
    struct cli r;
    const char *dir = make_case("badpolicy",
                                "review: " RELEASE_REVIEW "\n"
                                "expect: {decision: allowed}\n",
                                NULL);
    char pdir[1600];
    snprintf(pdir, sizeof(pdir), "%s/policies", dir);
    mkdir(pdir, 0755);
    char pfile[1700];
    snprintf(pfile, sizeof(pfile), "%s/p.yaml", pdir);
    FILE *f = fopen(pfile, "w");
    assert_non_null(f);
    fputs(
        "apiVersion: cellgate.io/v1\nkind: ReleasePolicy\nmetadata: {name: p}\nspec:\n  paws: 1\n",
        f);
    fclose(f);
    cli(&r, NULL, "policy", "test", dir, NULL);
    assert_int_equal(r.rc, 1);
    const char *reason = strstr(r.out, "p.yaml:5:3: ");
    const char *verdict = strstr(r.out, "FAIL badpolicy: the policies in ");
    assert_non_null(reason);
    assert_non_null(verdict);
    assert_true(reason < verdict);
}

static const char resource_yaml[] =
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata:\n"
    "  name: checkout\n"
    "  namespace: payments\n"
    "  annotations: {cellgate.io/approve: \"1\"}\n"
    "spec:\n"
    "  replicas: 10\n"
    "  progressDeadlineSeconds: 600\n"
    "  selector: {matchLabels: {app: checkout}}\n"
    "  template:\n"
    "    metadata: {labels: {app: checkout}}\n"
    "    spec:\n"
    "      containers:\n"
    "        - name: app\n"
    "          image: registry.example/checkout:1.0\n"
    "          readinessProbe: {httpGet: {path: /ready, port: 8080}}\n";

/* resource.yaml and old.yaml are found by name; user and groups come from case.yaml. */
static void yaml_resources(void **state)
{
    (void)state;
    struct cli r;
    char old[sizeof(resource_yaml)];
    snprintf(old, sizeof(old), "%s", resource_yaml);
    const char *line = "  annotations: {cellgate.io/approve: \"1\"}\n";
    char *at = strstr(old, line);
    memmove(at, at + strlen(line), strlen(at + strlen(line)) + 1);
    const char *dir = make_case("approve-by-outsider",
                                "policies: " EXAMPLES "\n"
                                "user: mallory\n"
                                "groups: [developers]\n"
                                "expect:\n"
                                "  decision: denied\n"
                                "  message: [mallory, release-managers]\n",
                                "resource.yaml", resource_yaml, "old.yaml", old, NULL);
    cli(&r, NULL, "policy", "test", dir, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "PASS approve-by-outsider\n");
    dir = make_case("approve-by-manager",
                    "policies: " EXAMPLES "\n"
                    "user: rm\n"
                    "groups: [release-managers]\n"
                    "expect: {decision: allowed}\n",
                    "resource.yaml", resource_yaml, "old.yaml", old, NULL);
    cli(&r, NULL, "policy", "test", dir, NULL);
    assert_int_equal(r.rc, 0);
    /* an expected object may be YAML too */
    dir = make_case("create-patched",
                    "path: /mutate\n"
                    "policies: " EXAMPLES "\n"
                    "expect: {decision: patched, patched: expected.yaml}\n",
                    "resource.yaml", resource_yaml, "expected.yaml", "kind: Deployment\n", NULL);
    cli(&r, NULL, "policy", "test", dir, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.out, "FAIL create-patched: the patched object differs from expected.yaml");
    assert_contains(r.out, "    /apiVersion: unexpected\n");
}

/* -o junit and -o json for CI. */
static void reports(void **state)
{
    (void)state;
    struct cli r;
    make_case("set/ok",
              "policies: " EXAMPLES "\n"
              "review: " CASES "/payments-recreate-denied/review.json\n"
              "expect: {decision: denied}\n",
              NULL);
    make_case("set/bad",
              "policies: " EXAMPLES "\n"
              "review: " CASES "/payments-recreate-denied/review.json\n"
              "expect: {decision: allowed}\n",
              NULL);
    char set[1200];
    snprintf(set, sizeof(set), "%s/test_cli_cases_dir/set", CG_BINARY_DIR);
    cli(&r, NULL, "policy", "test", set, "-o", "junit", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"2\" "
                           "failures=\"1\"");
    assert_contains(r.out, "<testcase classname=\"cellgate.policy.test\" name=\"ok\"");
    assert_contains(r.out, "<failure message=\"decision: expected allowed, got denied\">");
    cli(&r, NULL, "policy", "test", set, "--output=json", NULL);
    assert_int_equal(r.rc, 1);
    json_t *doc = json_loads(r.out, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "passed")), 1);
    assert_int_equal(json_integer_value(json_object_get(doc, "failed")), 1);
    json_t *bad = json_array_get(json_object_get(doc, "cases"), 0);
    assert_string_equal(json_string_value(json_object_get(bad, "name")), "bad");
    assert_string_equal(json_string_value(json_object_get(bad, "failure")),
                        "decision: expected allowed, got denied");
    json_decref(doc);
    cli(&r, NULL, "policy", "test", set, "-o", "tap", NULL);
    assert_int_equal(r.rc, 2);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(misspelled_expectation_fails),
        cmocka_unit_test(failure_prints_the_patch),
        cmocka_unit_test(policy_error_before_fail),
        cmocka_unit_test(yaml_resources),
        cmocka_unit_test(reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
