/* The `cellgate` CLI's commands on real files: exit codes and what they print. */
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

/* A scratch directory under the build tree with the given files (name, content pairs). */
static const char *scratch_dir(const char *name, ...)
{
    static char dir[1024];
    snprintf(dir, sizeof(dir), "%s/test_cli_%s", CG_BINARY_DIR, name);
    mkdir(dir, 0755);
    va_list ap;
    va_start(ap, name);
    for (const char *file; (file = va_arg(ap, const char *)) != NULL;) {
        const char *content = va_arg(ap, const char *);
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
    }
    va_end(ap);
    return dir;
}

static void help_and_version(void **state)
{
    (void)state;
    struct cli r;
    cli(&r, NULL, "--help", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "policy lint");
    assert_contains(r.out, "review");
    cli(&r, NULL, "version", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "cellgate 0.1.0 (git ");
    cli(&r, NULL, "--version", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "cellgate 0.1.0 (git ");
    assert_null(strstr(r.out, "(git unknown)"));
    cli(&r, NULL, NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "usage: cellgate");
    cli(&r, NULL, "frobnicate", NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "unknown command \"frobnicate\"");
    assert_contains(r.err, "policy lint, policy test, review, plan");
    cli(&r, NULL, "policy", "frob", NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "unknown command \"policy frob\"");
    cli(&r, NULL, "policy", "lint", NULL);
    assert_int_equal(r.rc, 2);
}

static void lint(void **state)
{
    (void)state;
    struct cli r;
    cli(&r, NULL, "policy", "lint", EXAMPLES, NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "policies OK\n");
    assert_string_equal(r.err, "");
    cli(&r, NULL, "policy", "lint", PAYMENTS, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "1 policy OK\n");

    /* Two broken files: one file:line:col: message line each. */
    const char *dir = scratch_dir("lint", "a.yaml",
                                  "apiVersion: cellgate.io/v1\n"
                                  "kind: ReleasePolicy\n"
                                  "metadata:\n"
                                  "  name: a\n"
                                  "spec:\n"
                                  "  enforcment: enforce\n",
                                  "b.yaml",
                                  "apiVersion: cellgate.io/v1\n"
                                  "kind: ReleasePolicy\n"
                                  "metadata: [\n",
                                  NULL);
    char a[1200], b[1200];
    snprintf(a, sizeof(a), "%s/a.yaml", dir);
    snprintf(b, sizeof(b), "%s/b.yaml", dir);
    cli(&r, NULL, "policy", "lint", a, b, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    char want[1300];
    snprintf(want, sizeof(want), "%s:6:3: ", a);
    assert_contains(r.err, want);
    assert_contains(r.err, "enforcment");
    snprintf(want, sizeof(want), "\n%s:", b);
    assert_contains(r.err, want);
    /* Exactly two lines. */
    size_t lines = 0;
    for (const char *p = r.err; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2);

    cli(&r, NULL, "policy", "lint", CG_BINARY_DIR "/no-such-dir", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "no-such-dir");
}

static void plan_table(void **state)
{
    (void)state;
    struct cli r;
    cli(&r, NULL, "plan", "--replicas", "10", "--policy", PAYMENTS, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "policy payments: 10 replicas over 2 cells (topology.kubernetes.io/zone), "
                        "pause: manual approval after each group\n"
                        "group   zone-a  zone-b  total  cumulative\n"
                        "0            1       1      2           2\n"
                        "1            2       2      4           6\n"
                        "2            2       2      4          10\n"
                        "all          5       5     10\n"
                        "smallest replica count this policy accepts: 2\n");
    cli(&r, NULL, "plan", "--replicas", "11", "--policy", PAYMENTS, NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "2            3       2      5          11\n");
    assert_contains(r.out, "all          6       5     11\n");

    cli(&r, NULL, "plan", "--replicas", "1", "--policy", PAYMENTS, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "policy payments: replicas 1 is fewer than the 2 cells");
    cli(&r, NULL, "plan", "--replicas", "ten", "--policy", PAYMENTS, NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "--replicas \"ten\": want a whole number from 1");
    cli(&r, NULL, "plan", "--replicas", "0", "--policy", PAYMENTS, NULL);
    assert_int_equal(r.rc, 2);
    cli(&r, NULL, "plan", "--replicas", "-3", "--policy", PAYMENTS, NULL);
    assert_int_equal(r.rc, 2);
    cli(&r, NULL, "plan", "--replicas", "99999999999", "--policy", PAYMENTS, NULL);
    assert_int_equal(r.rc, 2);
    cli(&r, NULL, "plan", "--policy", PAYMENTS, NULL);
    assert_int_equal(r.rc, 2);
    cli(&r, NULL, "plan", "--replicas", "10", "--policy", EXAMPLES, "--name", "nope", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "no policy named \"nope\"");
    assert_contains(r.err, "there are: ");
    assert_contains(r.err, " payments");
    cli(&r, NULL, "plan", "--replicas", "10", "--policy", EXAMPLES, "--name", "payments", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "policy payments: 10 replicas");
    /* Every policy of a directory, weights and percent groups included. */
    cli(&r, NULL, "plan", "--replicas", "12", "--policy", EXAMPLES, NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "policy ledger-freeze-calendar: 12 replicas over 2 cells "
                           "(topology.kubernetes.io/zone), pause: 15m after each group\n"
                           "group   zone-a  zone-b  total  cumulative\n"
                           "0            1       1      2           2\n"
                           "1            4       2      6           8\n"
                           "2            3       1      4          12\n"
                           "all          8       4     12\n");
    assert_contains(r.out, "policy payments: 12 replicas");
    assert_contains(r.out, "group   zone-a  zone-b  zone-c  total  cumulative\n");
    /* A small Deployment: the groups left empty are dropped, and the plan says so. */
    cli(&r, NULL, "plan", "--replicas", "2", "--policy", PAYMENTS, NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "0            1       1      2           2\n"
                           "all          1       1      2\n"
                           "groups 1 (perCell: 2) and 2 (rest) are dropped: the 2 replicas are "
                           "used up by group 0\n");
    /* Large counts stay aligned. */
    cli(&r, NULL, "plan", "--replicas", "4000000000", "--policy", PAYMENTS, NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "group       zone-a      zone-b       total  cumulative\n"
                           "0                1           1           2           2\n");
    assert_contains(r.out, "all     2000000000  2000000000  4000000000\n");
}

static json_t *response_of(const struct cli *r)
{
    json_t *doc = json_loads(r->out, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "kind")), "AdmissionReview");
    return doc;
}

static void review(void **state)
{
    (void)state;
    struct cli r;
    const char *create = CG_FIXTURES "/engine/payments-create.json";
    cli(&r, create, "review", "--policies", EXAMPLES, NULL);
    assert_int_equal(r.rc, 0);
    json_t *doc = response_of(&r);
    assert_true(json_is_true(json_object_get(json_object_get(doc, "response"), "allowed")));
    json_decref(doc);

    /* /mutate: the response carries the patch. */
    cli(&r, create, "review", "--policies", EXAMPLES, "--path", "/mutate", NULL);
    assert_int_equal(r.rc, 0);
    doc = response_of(&r);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(doc, "response"), "patchType")),
        "JSONPatch");
    json_decref(doc);

    /* --apply: the patched object. */
    cli(&r, create, "review", "--policies", EXAMPLES, "--apply", NULL);
    assert_int_equal(r.rc, 0);
    doc = json_loads(r.out, 0, NULL);
    assert_non_null(doc);
    json_t *ru =
        json_object_get(json_object_get(json_object_get(doc, "spec"), "strategy"), "rollingUpdate");
    assert_int_equal(json_integer_value(json_object_get(ru, "maxSurge")), 2);
    assert_int_equal(json_integer_value(json_object_get(ru, "maxUnavailable")), 0);
    json_decref(doc);

    /* A denial is a response too: exit 0. */
    cli(&r, CG_SOURCE_DIR "/tests/golden/cases/payments-recreate-denied/review.json", "review",
        "--policies", EXAMPLES, NULL);
    assert_int_equal(r.rc, 0);
    doc = response_of(&r);
    assert_false(json_is_true(json_object_get(json_object_get(doc, "response"), "allowed")));
    json_decref(doc);

    /* --now decides the freeze. */
    const char *release = CG_FIXTURES "/engine/payments-update-release.json";
    cli(&r, release, "review", "--policies", ENGINE_POLICIES "/freeze.yaml", "--now",
        "2026-12-24T12:00:00+01:00", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "emergency.freeze");
    cli(&r, release, "review", "--policies", ENGINE_POLICIES "/freeze.yaml", "--now",
        "2026-12-01T12:00:00Z", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "\"allowed\":true");

    /* No response possible: malformed input, missing policies. */
    const char *dir = scratch_dir("review", "bad.json", "{\"apiVersion\":", NULL);
    char bad[1200];
    snprintf(bad, sizeof(bad), "%s/bad.json", dir);
    cli(&r, bad, "review", "--policies", EXAMPLES, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_contains(r.err, "cellgate review: ");
    cli(&r, create, "review", "--policies", CG_BINARY_DIR "/no-such-dir", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");

    /* Usage errors. */
    cli(&r, create, "review", NULL);
    assert_int_equal(r.rc, 2);
    cli(&r, create, "review", "--policies", EXAMPLES, "--path", "/other", NULL);
    assert_int_equal(r.rc, 2);
    cli(&r, create, "review", "--policies", EXAMPLES, "--now", "yesterday", NULL);
    assert_int_equal(r.rc, 2);
    cli(&r, create, "review", "--policies", EXAMPLES, "--bogus", NULL);
    assert_int_equal(r.rc, 2);
}

/* --pods: the Pod rules count the file's pods; a bad file is an error that names it. */
static void review_with_pods(void **state)
{
    (void)state;
    struct cli r;
    const char *dir = CG_SOURCE_DIR "/tests/golden/cases/pod-placement-from-pods";
    char review_json[1024], pods[1024];
    snprintf(review_json, sizeof(review_json), "%s/review.json", dir);
    snprintf(pods, sizeof(pods), "%s/pods.json", dir);
    cli(&r, review_json, "review", "--policies", EXAMPLES, "--pods", pods, "--apply", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "\"cellgate.io/cell\": \"zone-b\"");
    /* Without the file the same pod has nothing to balance against: the first cell. */
    cli(&r, review_json, "review", "--policies", EXAMPLES, "--apply", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "\"cellgate.io/cell\": \"zone-a\"");
    const char *bad =
        scratch_dir("pods", "notjson.json", "{", "scalar.json", "[1]", "wrongtype.json",
                    "{\"items\":[{\"metadata\":{\"name\":7}}]}", NULL);
    static const char *const cases[][2] = {
        {"notjson.json", "notjson.json:"},
        {"scalar.json", "kubectl get pods -o json"},
        {"wrongtype.json", "item 0"},
        {"missing.json", "missing.json"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s", bad, cases[i][0]);
        cli(&r, review_json, "review", "--policies", EXAMPLES, "--pods", path, NULL);
        assert_int_equal(r.rc, 1);
        assert_contains(r.err, cases[i][1]);
    }
}

static void policy_test(void **state)
{
    (void)state;
    struct cli r;
    cli(&r, NULL, "policy", "test", CG_SOURCE_DIR "/tests/golden/cases", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "PASS payments-release-mutate\n");
    assert_contains(r.out, " passed, 0 failed\n");
    /* One case directory on its own. */
    cli(&r, NULL, "policy", "test", CG_SOURCE_DIR "/tests/golden/cases/freeze-denied", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "PASS freeze-denied\n");

    /* A directory without cases is an error, as is a broken case. */
    const char *dir = scratch_dir("empty", NULL);
    cli(&r, NULL, "policy", "test", dir, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "no test case");
    char cases[1200];
    snprintf(cases, sizeof(cases), "%s", scratch_dir("cases", NULL));
    char one[1300];
    snprintf(one, sizeof(one), "cases/bad");
    scratch_dir(one, "case.yaml",
                "path: /sideways\n"
                "expect: {decision: allowed}\n",
                NULL);
    snprintf(one, sizeof(one), "cases/nokey");
    scratch_dir(one, "case.yaml", "now: not-a-time\nexpect: {}\nwhat: 1\n", NULL);
    cli(&r, NULL, "policy", "test", cases, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.out,
                    "FAIL bad: case.yaml:1: path: \"/sideways\" is not /mutate or /validate");
    assert_contains(r.out, "FAIL nokey: case.yaml:3: unknown key \"what\" (allowed: ");
    assert_contains(r.out, "also: case.yaml:1: now: \"not-a-time\" is not an RFC 3339 time");
    assert_contains(r.out, "0 passed, 2 failed\n");
    cli(&r, NULL, "policy", "test", NULL);
    assert_int_equal(r.rc, 2);
}

static void time_decode(void **state)
{
    (void)state;
    long long t;
    assert_true(cg_cli_time_decode("2026-11-26T10:00:00Z", &t));
    assert_int_equal(t, 1795687200LL);
    assert_true(cg_cli_time_decode("2026-11-26T11:00:00+01:00", &t));
    assert_int_equal(t, 1795687200LL);
    assert_true(cg_cli_time_decode("2026-11-26T05:30:00.250-04:30", &t));
    assert_int_equal(t, 1795687200LL);
    assert_true(cg_cli_time_decode("1970-01-01T00:00:00z", &t));
    assert_int_equal(t, 0);
    static const char *const bad[] = {
        "",
        "2026-11-26",
        "2026-11-26T10:00:00",
        "2026-11-26 10:00:00Z",
        "2026-13-26T10:00:00Z",
        "2026-11-26T24:00:00Z",
        "2026-11-26T10:00:00+0100",
        "2026-11-26T10:00:00.Z",
        "2026-11-26T10:00:00Zjunk",
        "20x6-11-26T10:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (cg_cli_time_decode(bad[i], &t))
            fail_msg("accepted \"%s\"", bad[i]);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(help_and_version), cmocka_unit_test(lint),
        cmocka_unit_test(plan_table),       cmocka_unit_test(review),
        cmocka_unit_test(review_with_pods), cmocka_unit_test(policy_test),
        cmocka_unit_test(time_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
