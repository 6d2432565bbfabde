/* The operator's commands against a scripted API server (TLS on 127.0.0.1, one exchange per
 * request, in order): what they send (paths, the merge patches, the resourceVersion
 * precondition, impersonation headers) and every outcome the lab cannot produce on demand:
 * a conflict and the re-read after it, a release that moved on meanwhile, conflicts without
 * end, a denial's message, answers that are not Deployments, a refused LIST. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli/cli.h"
#include "test_scripted_api.h"
#include "test_support.h"

#define GEN_CERTS CG_SOURCE_DIR "/certs/gen-dev-certs"
#define MAX_EXCHANGES CG_TEST_API_MAX_EXCHANGES

struct fx {
    struct cg_test_dir *dir;
    char kubeconfig[600];
    struct cg_test_api f;
};

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    x->dir = cg_test_dir_create("cg-cli-ops");
    const char *argv[] = {GEN_CERTS, "-q", "-o", x->dir->dir, NULL};
    assert_int_equal(cg_test_spawn(argv), 0);
    cg_test_api_start(&x->f, x->dir->dir, x->kubeconfig, sizeof(x->kubeconfig));
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    cg_test_api_stop(&x->f);
    cg_test_dir_destroy(x->dir);
    free(x);
    return 0;
}

struct cli {
    int rc;
    char out[16384];
    char err[8192];
};

static void slurp(FILE *f, char *buf, size_t len)
{
    rewind(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs cellgate with the arguments against the script (n exchanges), and checks that the
 * script was followed to its end. */
static void run(struct fx *x, struct cli *r, const struct cg_test_exchange *script, size_t n, ...)
{
    cg_test_api_script(&x->f, script, n);
    char *argv[32];
    int argc = 0;
    argv[argc++] = "cellgate";
    va_list ap;
    va_start(ap, n);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 29;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc++] = "--kubeconfig";
    argv[argc++] = x->kubeconfig;
    argv[argc] = NULL;
    FILE *in = tmpfile(), *out = tmpfile(), *err = tmpfile();
    r->rc = cg_cli_run(argc, argv, in, out, err);
    fclose(in);
    slurp(out, r->out, sizeof(r->out));
    slurp(err, r->err, sizeof(r->err));
    if (x->f.mismatch[0])
        fail_msg("%s (stderr: %s)", x->f.mismatch, r->err);
    if (x->f.next != n)
        fail_msg("%zu of the %zu exchanges happened (stderr: %s)", x->f.next, n, r->err);
}

static void assert_contains(const char *text, const char *want)
{
    if (strstr(text, want) == NULL)
        fail_msg("\"%s\" not in:\n%s", want, text);
}

/* Bodies made for one test, freed at its end. */
struct bodies {
    char *items[MAX_EXCHANGES];
    size_t n;
};

static const char *keep(struct bodies *b, char *s)
{
    assert_true(b->n < MAX_EXCHANGES);
    b->items[b->n++] = s;
    return s;
}

static void bodies_free(struct bodies *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->items[i]);
}

/* A Deployment default/web at resourceVersion rv whose release is at group (of 3) in state,
 * with an approve and an emergency annotation when not NULL. */
static const char *dep(struct bodies *b, const char *rv, int group, const char *state,
                       const char *approve, const char *emergency)
{
    char record[512];
    snprintf(record, sizeof(record),
             "{\"revision\":\"00000000000000ff\",\"cells\":[\"a\",\"b\"],"
             "\"groups\":[[1,1],[1,1],[1,1]],\"group\":%d,\"state\":\"%s\"}",
             group, state);
    json_t *ann = json_pack("{s:s}", "cellgate.io/release", record);
    if (approve)
        json_object_set_new(ann, "cellgate.io/approve", json_string(approve));
    if (emergency)
        json_object_set_new(ann, "cellgate.io/emergency", json_string(emergency));
    json_t *d = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:o}, s:{s:i}}", "apiVersion", "apps/v1",
                          "kind", "Deployment", "metadata", "name", "web", "namespace", "default",
                          "resourceVersion", rv, "annotations", ann, "spec", "replicas", 6);
    char *s = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    /* jansson allocated it with cmocka's allocator when the test routes it there: copy. */
    char *copy = strdup(s);
    json_free_t fr;
    json_malloc_t ma;
    json_get_alloc_funcs(&ma, &fr);
    fr(s);
    return keep(b, copy);
}

#define STATUS(code, msg)                                                                          \
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"" msg         \
    "\",\"code\":" #code "}"
#define DEP_PATH "/apis/apps/v1/namespaces/default/deployments/web"
#define N(s) (sizeof(s) / sizeof((s)[0]))

/* A conflict: the Deployment is read again and the group it is at now approved. */
static void approve_after_conflict(void **state)
{
    struct fx *x = *state;
    struct bodies b = {0};
    const struct cg_test_exchange script[] = {
        {"GET", DEP_PATH, 200, dep(&b, "1", 0, "progressing", NULL, NULL)},
        {"PATCH", DEP_PATH, 409, STATUS(409, "the object has been modified")},
        {"GET", DEP_PATH, 200, dep(&b, "2", 1, "waiting-approval", NULL, NULL)},
        {"PATCH", DEP_PATH, 200, dep(&b, "3", 1, "waiting-approval", "1", NULL)},
    };
    struct cli r;
    run(x, &r, script, N(script), "approve", "web", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "approved group 1 of default/web: the controller releases the next "
                           "group");
    json_t *p1 = json_loads(x->f.seen[1].body, 0, NULL),
           *p2 = json_loads(x->f.seen[3].body, 0, NULL);
    json_t *want1 = json_pack("{s:{s:s, s:{s:s}}}", "metadata", "resourceVersion", "1",
                              "annotations", "cellgate.io/approve", "0");
    json_t *want2 = json_pack("{s:{s:s, s:{s:s}}}", "metadata", "resourceVersion", "2",
                              "annotations", "cellgate.io/approve", "1");
    assert_true(json_equal(p1, want1));
    assert_true(json_equal(p2, want2));
    json_decref(p1);
    json_decref(p2);
    json_decref(want1);
    json_decref(want2);
    assert_string_equal(x->f.seen[0].impersonate, "");

    /* Ahead of time, as someone else, JSON out: the patched Deployment's view. */
    const struct cg_test_exchange early[] = {
        {"GET", DEP_PATH, 200, dep(&b, "4", 0, "progressing", NULL, NULL)},
        {"PATCH", DEP_PATH, 200, dep(&b, "5", 0, "progressing", "0", NULL)},
    };
    run(x, &r, early, N(early), "approve", "web", "--as", "bob", "--as-group", "release-managers",
        "-o", "json", NULL);
    assert_int_equal(r.rc, 0);
    json_t *v = json_loads(r.out, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(v, "approve")), "0");
    json_decref(v);
    assert_string_equal(x->f.seen[1].impersonate,
                        "Impersonate-User: bob;Impersonate-Group: release-managers;");
    run(x, &r, early, N(early), "approve", "web", NULL);
    assert_contains(r.out, "ahead of time: it takes effect once the group is done");
    bodies_free(&b);
}

/* --group: the release moved on between the read and the write: nothing approved. */
static void approve_moved_on(void **state)
{
    struct fx *x = *state;
    struct bodies b = {0};
    const struct cg_test_exchange script[] = {
        {"GET", DEP_PATH, 200, dep(&b, "1", 0, "waiting-approval", NULL, NULL)},
        {"PATCH", DEP_PATH, 409, STATUS(409, "modified")},
        {"GET", DEP_PATH, 200, dep(&b, "2", 1, "progressing", "0", NULL)},
    };
    struct cli r;
    run(x, &r, script, N(script), "approve", "web", "--group", "0", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "default/web is at group 1 (progressing), not 0: nothing approved");
    bodies_free(&b);
}

/* Conflicts without end: it gives up after five attempts. */
static void approve_conflicts(void **state)
{
    struct fx *x = *state;
    struct bodies b = {0};
    const char *d = dep(&b, "1", 0, "waiting-approval", NULL, NULL);
    struct cg_test_exchange script[10];
    for (size_t i = 0; i < 10; i += 2) {
        script[i] = (struct cg_test_exchange){"GET", DEP_PATH, 200, d};
        script[i + 1] = (struct cg_test_exchange){"PATCH", DEP_PATH, 409, STATUS(409, "modified")};
    }
    struct cli r;
    run(x, &r, script, N(script), "approve", "web", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "default/web kept changing while it was approved: try again");
    bodies_free(&b);
}

/* Nothing to write: complete, the last group, already approved, already set. */
static void nothing_to_do(void **state)
{
    struct fx *x = *state;
    struct bodies b = {0};
    struct cli r;
    const struct cg_test_exchange complete[] = {
        {"GET", DEP_PATH, 200, dep(&b, "1", 2, "complete", NULL, NULL)}};
    run(x, &r, complete, 1, "approve", "web", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "the release of default/web is complete: nothing to approve");
    const struct cg_test_exchange last[] = {
        {"GET", DEP_PATH, 200, dep(&b, "1", 2, "progressing", NULL, NULL)}};
    run(x, &r, last, 1, "approve", "web", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "group 2 is the last group: it needs no approval");
    const struct cg_test_exchange approved[] = {
        {"GET", DEP_PATH, 200, dep(&b, "1", 1, "waiting-approval", "1", NULL)}};
    run(x, &r, approved, 1, "approve", "web", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "group 1 is already approved");
    const struct cg_test_exchange paused[] = {
        {"GET", DEP_PATH, 200, dep(&b, "1", 1, "paused", NULL, "pause")}};
    run(x, &r, paused, 1, "pause", "web", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "cellgate.io/emergency=pause is already set (paused, group 1)");
    bodies_free(&b);
}

/* Refusals and answers that are not Deployments. */
static void refusals(void **state)
{
    struct fx *x = *state;
    struct bodies b = {0};
    struct cli r;
    const char *d = dep(&b, "1", 0, "waiting-approval", NULL, NULL);
    const struct cg_test_exchange denied[] = {
        {"GET", DEP_PATH, 200, d},
        {"PATCH", DEP_PATH, 403,
         STATUS(403, "admission webhook \\\"deployments.validate.cellgate.io\\\" denied the "
                     "request: user alice may not set cellgate.io/approve")},
    };
    run(x, &r, denied, N(denied), "approve", "web", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "cellgate approve: deployment default/web: admission webhook "
                               "\"deployments.validate.cellgate.io\" denied the request: user "
                               "alice may not set cellgate.io/approve\n");
    const struct cg_test_exchange rollback[] = {
        {"GET", DEP_PATH, 200, d},
        {"PATCH", DEP_PATH, 400, STATUS(400, "cellgate.io/emergency is \\\"x\\\"")},
    };
    run(x, &r, rollback, N(rollback), "rollback", "web", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "cellgate rollback: deployment default/web: cellgate.io/emergency");
    const struct cg_test_exchange conflict[] = {
        {"GET", DEP_PATH, 200, d},
        {"PATCH", DEP_PATH, 409, STATUS(409, "modified")},
    };
    run(x, &r, conflict, N(conflict), "resume", "web", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "cellgate resume: default/web: conflict: try again");
    const struct cg_test_exchange garbage_get[] = {{"GET", DEP_PATH, 200, "not json"}};
    run(x, &r, garbage_get, 1, "status", "web", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "the API server sent no Deployment");
    const struct cg_test_exchange garbage_patch[] = {
        {"GET", DEP_PATH, 200, d},
        {"PATCH", DEP_PATH, 200, "[]"},
    };
    run(x, &r, garbage_patch, N(garbage_patch), "pause", "web", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "the API server answered with no Deployment");
    run(x, &r, garbage_patch, N(garbage_patch), "approve", "web", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "the API server answered with no Deployment");
    const struct cg_test_exchange bad_record[] = {
        {"GET", DEP_PATH, 200,
         "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"annotations\":"
         "{\"cellgate.io/release\":\"{}\"}}}"}};
    run(x, &r, bad_record, 1, "approve", "web", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "cellgate approve: deployment default/web: release record: revision");
    bodies_free(&b);
}

/* status without a name: a LIST of the namespace (the context names none: default), or of
 * all namespaces; uncovered Deployments left out; a refused LIST. */
static void status_list(void **state)
{
    struct fx *x = *state;
    struct bodies b = {0};
    char list[4096];
    snprintf(list, sizeof(list),
             "{\"kind\":\"DeploymentList\",\"apiVersion\":\"apps/v1\",\"metadata\":"
             "{\"resourceVersion\":\"9\"},\"items\":[%s,{\"metadata\":{\"name\":\"plain\","
             "\"namespace\":\"default\"}}]}",
             dep(&b, "1", 1, "soaking", NULL, NULL));
    const struct cg_test_exchange ns[] = {
        {"GET", "/apis/apps/v1/namespaces/default/deployments?", 200, list}};
    struct cli r;
    run(x, &r, ns, 1, "status", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "web   1 of 3  soaking  a -/2, b -/2");
    assert_null(strstr(r.out, "plain"));
    const struct cg_test_exchange all[] = {{"GET", "/apis/apps/v1/deployments?", 200, list}};
    run(x, &r, all, 1, "status", "-A", "-o", "json", NULL);
    assert_int_equal(r.rc, 0);
    json_t *v = json_loads(r.out, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(v, "items")), 1);
    json_decref(v);
    const struct cg_test_exchange none[] = {
        {"GET", "/apis/apps/v1/namespaces/team/deployments?", 200,
         "{\"kind\":\"DeploymentList\",\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[]}"}};
    run(x, &r, none, 1, "status", "-n", "team", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "no covered Deployments in namespace team");
    const struct cg_test_exchange forbidden[] = {
        {"GET", "/apis/apps/v1/deployments?", 403,
         STATUS(403, "deployments.apps is forbidden: User \\\"alice\\\" cannot list")}};
    run(x, &r, forbidden, 1, "status", "-A", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "cellgate status: list deployments: deployments.apps is forbidden: "
                           "User \"alice\" cannot list");
    bodies_free(&b);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(approve_after_conflict),
        cmocka_unit_test(approve_moved_on),
        cmocka_unit_test(approve_conflicts),
        cmocka_unit_test(nothing_to_do),
        cmocka_unit_test(refusals),
        cmocka_unit_test(status_list),
    };
    return cg_test_run("cli_ops", tests, N(tests), setup, teardown);
}
