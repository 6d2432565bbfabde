/* The operator's commands without a cluster: `status`'s view of real Deployment objects
 * (tests/fixtures/cli, read from the lab's API server) as a table, in detail and as JSON,
 * what a release waits for in every state, the API server's message on a refusal, and the
 * arguments of status / approve / pause / resume / rollback with every usage and connection
 * error. The commands against a real API server and the webhook: tests/e2e/test_e2e_cli.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli/cli.h"
#include "cli/cli_internal.h"
#include "test_support.h"

#define FIX "cli/"

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

/* Runs the program named argv0 with the NULL-terminated arguments. */
static void run_as(struct cli *r, const char *argv0, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)argv0;
    va_list ap;
    va_start(ap, argv0);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    FILE *in = tmpfile(), *out = tmpfile(), *err = tmpfile();
    r->rc = cg_cli_run(argc, argv, in, out, err);
    fclose(in);
    slurp(out, r->out, sizeof(r->out));
    slurp(err, r->err, sizeof(r->err));
}
#define CLI(r, ...) run_as((r), "cellgate", __VA_ARGS__, NULL)

static void assert_contains(const char *text, const char *want)
{
    if (strstr(text, want) == NULL)
        fail_msg("\"%s\" not in:\n%s", want, text);
}

static json_t *load_fixture(const char *rel)
{
    size_t len;
    char *text = cg_test_read_fixture(rel, &len);
    json_t *v = json_loadb(text, len, 0, NULL);
    free(text);
    assert_non_null(v);
    return v;
}

/* The covered Deployments of the list fixture, as status collects them. */
static size_t views_of_list(struct cg__cli_release_view *v, size_t cap)
{
    json_t *list = load_fixture(FIX "deployments.json");
    size_t i, n = 0;
    json_t *item;
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        assert_true(n < cap);
        assert_int_equal(cg__cli_release_view_decode(item, &v[n], NULL), CG_OK);
        if (v[n].has_record)
            n++;
    }
    json_decref(list);
    return n;
}

/* What f received, compared with the expected file byte for byte (CG_TEST_REGEN=1 writes
 * it there instead, to review with git diff). */
static void assert_output(FILE *f, const char *expected_rel)
{
    char got[16384];
    slurp(f, got, sizeof(got));
    if (getenv("CG_TEST_REGEN") != NULL)
        cg_test_write_file(cg_test_fixture_path(expected_rel), got);
    char *want = cg_test_read_fixture(expected_rel, NULL);
    if (strcmp(got, want) != 0)
        fail_msg("%s differs; got:\n%s\nwant:\n%s", expected_rel, got, want);
    free(want);
}

static void view_decode(void **state)
{
    json_t *doc = load_fixture(FIX "deployment-web.json");
    struct cg__cli_release_view v;
    struct cg_err e;
    assert_int_equal(cg__cli_release_view_decode(doc, &v, &e), CG_OK);
    assert_string_equal(v.namespace_, "h-cli-dev");
    assert_string_equal(v.name, "web");
    assert_true(v.resource_version[0] != '\0');
    assert_true(v.has_record && v.record_ok);
    assert_false(v.has_approve || v.has_emergency || v.paused);
    assert_int_equal(v.replicas, 10);
    assert_int_equal(v.rec.group, 1);
    assert_int_equal(v.rec.n_groups, 3);
    assert_int_equal(v.rec.state, CG_RELEASE_WAITING_APPROVAL);
    assert_int_equal(v.rec.n_approvals, 1);
    assert_string_equal(v.rec.approvals[0].by, "alice");
    json_decref(doc);

    struct cg__cli_release_view all[8];
    size_t n = views_of_list(all, 8);
    assert_int_equal(n, 4); /* batch carries no record */
    assert_string_equal(all[0].name, "api");
    assert_true(all[0].paused && all[0].rec.cellgate_paused);
    assert_string_equal(all[1].name, "broken");
    assert_false(all[1].record_ok);
    assert_contains(all[1].record_err, "release record");
    assert_string_equal(all[3].name, "web");
    assert_string_equal(all[3].approve, "1");
    assert_string_equal(all[3].emergency, "rollback");

    /* Not a named object; a record that is not a string. */
    json_t *bad = json_pack("{s:{}}", "metadata");
    assert_int_equal(cg__cli_release_view_decode(bad, &v, &e), CG_EINVAL);
    json_decref(bad);
    bad = json_pack("[]");
    assert_int_equal(cg__cli_release_view_decode(bad, &v, &e), CG_EINVAL);
    json_decref(bad);
    bad = json_pack("{s:{s:s, s:{s:i}}}", "metadata", "name", "x", "annotations",
                    "cellgate.io/release", 1);
    assert_int_equal(cg__cli_release_view_decode(bad, &v, &e), CG_OK);
    assert_true(v.has_record);
    assert_false(v.record_ok);
    assert_contains(v.record_err, "not a string");
    assert_int_equal(v.replicas, 1); /* the API's default */
    json_decref(bad);
}

static void print_list(void **state)
{
    struct cg__cli_release_view v[8];
    size_t n = views_of_list(v, 8);
    FILE *f = tmpfile();
    cg__cli_release_print_list(v, n, "cellgate", false, f);
    assert_output(f, FIX "status-list.txt");
    f = tmpfile();
    cg__cli_release_print_list(v, n, "kubectl cellgate", true, f);
    assert_output(f, FIX "status-list-all.txt");
}

static void print_one(void **state)
{
    json_t *doc = load_fixture(FIX "deployment-web.json");
    struct cg__cli_release_view v;
    assert_int_equal(cg__cli_release_view_decode(doc, &v, NULL), CG_OK);
    json_decref(doc);
    FILE *f = tmpfile();
    cg__cli_release_print_one(&v, "cellgate", f);
    assert_output(f, FIX "status-web.txt");

    struct cg__cli_release_view all[8];
    views_of_list(all, 8);
    f = tmpfile();
    for (size_t i = 0; i < 4; i++)
        cg__cli_release_print_one(&all[i], "cellgate", f);
    assert_output(f, FIX "status-each.txt");
}

static void view_json(void **state)
{
    json_t *doc = load_fixture(FIX "deployment-web.json");
    struct cg__cli_release_view v;
    assert_int_equal(cg__cli_release_view_decode(doc, &v, NULL), CG_OK);
    json_decref(doc);
    json_t *got = cg__cli_release_view_json(&v, "cellgate");
    if (getenv("CG_TEST_REGEN") != NULL)
        json_dump_file(got, cg_test_fixture_path(FIX "status-web.json"),
                       JSON_INDENT(2) | JSON_SORT_KEYS);
    json_t *want = load_fixture(FIX "status-web.json");
    if (!json_equal(got, want)) {
        char *s = json_dumps(got, JSON_INDENT(2) | JSON_SORT_KEYS);
        fail_msg("status-web.json differs; got:\n%s", s);
    }
    json_decref(want);
    json_decref(got);

    /* Without a usable record: release null, and why. */
    struct cg__cli_release_view all[8];
    views_of_list(all, 8);
    got = cg__cli_release_view_json(&all[1], "cellgate");
    assert_true(json_is_null(json_object_get(got, "release")));
    assert_non_null(strstr(json_string_value(json_object_get(got, "recordError")), "release"));
    json_decref(got);
    /* The rest of the list: every field a script reads. */
    got = cg__cli_release_view_json(&all[0], "cellgate");
    json_t *rel = json_object_get(got, "release");
    assert_string_equal(json_string_value(json_object_get(rel, "pauseCause")), "check");
    assert_string_equal(json_string_value(json_object_get(rel, "failedCheck")), "error-rate");
    assert_string_equal(json_string_value(json_object_get(got, "emergency")), "pause");
    assert_true(json_is_true(json_object_get(got, "paused")));
    json_decref(got);
    got = cg__cli_release_view_json(&all[2], "cellgate");
    rel = json_object_get(got, "release");
    assert_string_equal(json_string_value(json_object_get(rel, "rolledBackFrom")),
                        "00000000000000cc");
    json_decref(got);
}

/* A view of a record given as JSON text, with the operator's annotations. */
static void view_of(struct cg__cli_release_view *v, const char *record, const char *approve,
                    const char *emergency)
{
    json_t *ann = json_pack("{s:s}", "cellgate.io/release", record);
    if (approve)
        json_object_set_new(ann, "cellgate.io/approve", json_string(approve));
    if (emergency)
        json_object_set_new(ann, "cellgate.io/emergency", json_string(emergency));
    json_t *doc = json_pack("{s:{s:s, s:s, s:o}}", "metadata", "name", "web", "namespace", "ns",
                            "annotations", ann);
    assert_int_equal(cg__cli_release_view_decode(doc, v, NULL), CG_OK);
    json_decref(doc);
}

#define REC(state, extra)                                                                          \
    "{\"revision\":\"0000000000000001\",\"cells\":[\"a\",\"b\"],\"groups\":[[1,1],[1,1]],"         \
    "\"group\":0,\"state\":\"" state "\"" extra "}"

/* What it waits for, in every state and with every operator annotation. */
static void waits(void **state)
{
    static const struct {
        const char *record, *approve, *emergency, *want;
    } cases[] = {
        {REC("progressing", ""), NULL, NULL, "group 0's new pods: ready and checks passing"},
        {REC("progressing", ",\"reason\":\"2 of 2 pods ready\""), NULL, NULL,
         "group 0: 2 of 2 pods ready"},
        {REC("waiting-approval", ""), NULL, NULL,
         "approval of group 0: kubectl cellgate approve -n ns web"},
        {REC("waiting-approval", ""), "1", NULL,
         "approval of group 0: kubectl cellgate approve -n ns web"},
        {REC("waiting-approval", ""), "0", NULL,
         "the controller to act on the approval of group 0"},
        {REC("soaking", ",\"reason\":\"10m left\""), NULL, NULL,
         "group 0 to soak with checks passing: 10m left"},
        {REC("soaking", ""), NULL, NULL, "group 0 to soak with checks passing"},
        {REC("paused", ",\"pauseCause\":\"emergency\""), NULL, "pause",
         "an operator: kubectl cellgate resume -n ns web (or rollback)"},
        {REC("paused", ",\"pauseCause\":\"check\",\"failedCheck\":\"http\""), NULL, NULL,
         "an operator: check http failed; kubectl cellgate resume -n ns web (or rollback)"},
        {REC("paused", ",\"pauseCause\":\"check\""), NULL, NULL,
         "an operator: check (unnamed) failed"},
        {REC("paused", ",\"pauseCause\":\"freeze\",\"reason\":\"year-end\""), NULL, NULL,
         "the freeze window to end, or break-glass: year-end"},
        {REC("paused", ",\"pauseCause\":\"user\""), NULL, NULL,
         "kubectl rollout resume -n ns deployment/web (a user paused it)"},
        {REC("paused", ""), NULL, "resume", "the controller to resume the release"},
        {REC("progressing", ""), NULL, "pause", "the controller to carry out the emergency pause"},
        {REC("progressing", ""), NULL, "rollback", "the controller to begin the rollback"},
        {REC("rollback", ""), NULL, "rollback", "group 0's new pods: ready and checks passing"},
        {REC("complete", ""), NULL, NULL, "nothing: the release is complete"},
        {REC("failed", ",\"reason\":\"nothing to roll back to\""), NULL, NULL,
         "an operator: the release failed: nothing to roll back to"},
        {REC("failed", ""), NULL, NULL, "an operator: the release failed"},
        {"{\"revision\":1}", NULL, NULL, "nothing: the release record does not decode"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cg__cli_release_view v;
        view_of(&v, cases[i].record, cases[i].approve, cases[i].emergency);
        char out[512];
        cg__cli_release_waits(&v, "kubectl cellgate", out, sizeof(out));
        if (strncmp(out, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: \"%s\", want \"%s\"", i, out, cases[i].want);
    }
    struct cg__cli_release_view v;
    memset(&v, 0, sizeof(v));
    char out[512];
    cg__cli_release_waits(&v, "cellgate", out, sizeof(out));
    assert_contains(out, "no release recorded");

    /* A paused Deployment not paused by cellgate is the user's. */
    view_of(&v, REC("paused", ",\"pauseCause\":\"user\""), NULL, NULL);
    v.paused = true;
    FILE *f = tmpfile();
    cg__cli_release_print_one(&v, "cellgate", f);
    char text[4096];
    slurp(f, text, sizeof(text));
    assert_contains(text, "yes, by a user (kubectl rollout pause): cellgate never clears it");
    assert_contains(text, "held by user");
    /* No record at all: only what the Deployment says. */
    memset(&v, 0, sizeof(v));
    snprintf(v.namespace_, sizeof(v.namespace_), "ns");
    snprintf(v.name, sizeof(v.name), "plain");
    f = tmpfile();
    cg__cli_release_print_one(&v, "cellgate", f);
    slurp(f, text, sizeof(text));
    assert_contains(text, "Waits for:  nothing: no release recorded");
    assert_null(strstr(text, "Plan"));
}

/* The API server's words for a refusal: the Status message, else the client's, else why. */
static void kube_message(void **state)
{
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    struct cg_err e;
    cg_err_clear(&e);
    char out[256];
    const char *denial = "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"admission "
                         "webhook \\\"deployments.cellgate.io\\\" denied the request: user "
                         "alice may not set cellgate.io/approve\",\"code\":403}";
    cg_buf_append_str(&resp.body, denial);
    resp.code = 403;
    resp.reason = CG_KUBE_FORBIDDEN;
    cg_err_set(&e, CG_EINVAL, "PATCH /apis/...: HTTP 403");
    cg__cli_kube_message(&resp, &e, out, sizeof(out));
    assert_string_equal(out, "admission webhook \"deployments.cellgate.io\" denied the request: "
                             "user alice may not set cellgate.io/approve");
    cg_buf_reset(&resp.body);
    cg_buf_append_str(&resp.body, "<html>bad gateway</html>");
    cg__cli_kube_message(&resp, &e, out, sizeof(out));
    assert_string_equal(out, "PATCH /apis/...: HTTP 403");
    cg_buf_reset(&resp.body);
    cg_err_clear(&e);
    resp.reason = CG_KUBE_TRANSPORT;
    cg__cli_kube_message(&resp, &e, out, sizeof(out));
    assert_string_equal(out, cg_kube_reason_str(CG_KUBE_TRANSPORT));
    cg_kube_response_dispose(&resp);
}

/* A kubeconfig for a server where nothing listens. */
static const char *dead_kubeconfig(struct cg_test_dir *d)
{
    const char *path = cg_test_path(d, "dead.kubeconfig");
    cg_test_write_file(path, "apiVersion: v1\nkind: Config\n"
                             "clusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\"}\n"
                             "users:\n- name: u\n  user: {token: t}\n"
                             "contexts:\n- name: x\n  context: {cluster: c, user: u, namespace: "
                             "team}\ncurrent-context: x\n");
    return path;
}

static void arguments(void **state)
{
    struct cli r;
    static const char *const cmds[] = {"status", "approve", "pause", "resume", "rollback"};
    for (size_t i = 0; i < 5; i++) {
        CLI(&r, cmds[i], "--help");
        assert_int_equal(r.rc, 0);
        assert_contains(r.out, "--kubeconfig FILE");
        assert_contains(r.out, "--as-group GROUP");
        assert_contains(r.out, "-o, --output FORMAT");
    }
    CLI(&r, "approve", "--help");
    assert_contains(r.out, "kubectl annotate deploy/DEPLOYMENT cellgate.io/approve=<group>");
    CLI(&r, "rollback", "--help");
    assert_contains(r.out, "cellgate.io/emergency=rollback");

    /* Usage errors, before any connection. */
    CLI(&r, "approve");
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "DEPLOYMENT is missing");
    CLI(&r, "pause", "a", "b");
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "unexpected argument \"b\"");
    CLI(&r, "status", "-o", "yaml");
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "-o \"yaml\": want table or json");
    CLI(&r, "status", "-A", "web");
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "-A lists every namespace");
    CLI(&r, "status", "-A", "-n", "x");
    assert_int_equal(r.rc, 2);
    CLI(&r, "approve", "-A", "web");
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "unknown flag \"-A\"");
    CLI(&r, "status", "--as-group", "g");
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "--as-group needs --as USER");
    CLI(&r, "pause", "--group", "1", "web");
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "unknown flag \"--group\"");

    /* Where the kubeconfig comes from. */
    struct cg_test_dir *d = cg_test_dir_create("cg-cli-status");
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    char *kubeconfig = getenv("KUBECONFIG") ? strdup(getenv("KUBECONFIG")) : NULL;
    setenv("KUBECONFIG", "/a:/b", 1);
    CLI(&r, "status");
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "KUBECONFIG lists several files");
    unsetenv("KUBECONFIG");
    unsetenv("HOME");
    CLI(&r, "status");
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "no kubeconfig");
    setenv("HOME", d->dir, 1); /* ~/.kube/config does not exist */
    CLI(&r, "status");
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, ".kube/config");
    CLI(&r, "status", "--kubeconfig", cg_test_path(d, "none"));
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "none");
    const char *dead = dead_kubeconfig(d);
    CLI(&r, "status", "--kubeconfig", dead, "--context", "other");
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "other");
    CLI(&r, "status", "--kubeconfig", dead, "--as", "bad\nuser");
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "control character");

    /* Nobody answers: each command says so and fails; the context's namespace is used. */
    setenv("KUBECONFIG", dead, 1);
    CLI(&r, "status");
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "cellgate status: list deployments in team: ");
    CLI(&r, "status", "-A");
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "cellgate status: list deployments: ");
    CLI(&r, "status", "web", "-n", "prod");
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "cellgate status: deployment prod/web: ");
    CLI(&r, "approve", "web");
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "cellgate approve: deployment team/web: ");
    CLI(&r, "approve", "web", "--group", "x");
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "--group \"x\": want a group number");
    for (size_t i = 2; i < 5; i++) {
        CLI(&r, cmds[i], "web", "--as", "alice", "--as-group", "sre");
        assert_int_equal(r.rc, 1);
        assert_contains(r.err, "deployment team/web: ");
    }

    if (home)
        setenv("HOME", home, 1);
    if (kubeconfig)
        setenv("KUBECONFIG", kubeconfig, 1);
    else
        unsetenv("KUBECONFIG");
    free(home);
    free(kubeconfig);
    cg_test_dir_destroy(d);
}

/* Run as the kubectl plugin, it names itself so; completion knows the new commands. */
static void plugin_and_completion(void **state)
{
    struct cli r;
    run_as(&r, "/usr/local/bin/kubectl-cellgate", "--help", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "usage: kubectl cellgate <command>");
    assert_contains(r.out, "  approve ");
    run_as(&r, "/usr/local/bin/cellgate", "--help", NULL);
    assert_contains(r.out, "usage: cellgate <command>");
    /* The build's kubectl-cellgate (CMake makes it) is the same program. */
    FILE *p = popen(CG_BINARY_DIR "/kubectl-cellgate --help", "r");
    assert_non_null(p);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof(line), p));
    assert_int_equal(pclose(p), 0);
    assert_string_equal(line, "usage: kubectl cellgate <command> [options]\n");

    struct cg__cli_release_view v;
    view_of(&v, REC("waiting-approval", ""), NULL, NULL);
    char out[512];
    run_as(&r, "kubectl-cellgate", "version", NULL);
    cg__cli_release_waits(&v, cg__cli_prog(), out, sizeof(out));
    assert_contains(out, "kubectl cellgate approve -n ns web");
    run_as(&r, "cellgate", "version", NULL);
    cg__cli_release_waits(&v, cg__cli_prog(), out, sizeof(out));
    assert_contains(out, ": cellgate approve -n ns web");

    CLI(&r, "completion", "bash");
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "status approve pause resume rollback");
    assert_contains(r.out, "    \"approve\")");
    assert_contains(r.out, "--output|-o) COMPREPLY=($(compgen -W \"table json\"");
    assert_contains(r.out, "--group");
    assert_contains(r.out, "complete -o default -F _cellgate cellgate kubectl-cellgate");
    CLI(&r, "completion", "zsh");
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "rollback:'roll a release back'");
    assert_contains(r.out, "    \"status\")");
    assert_contains(r.out, "compdef _cellgate cellgate kubectl-cellgate");
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(view_decode), cmocka_unit_test(print_list),
        cmocka_unit_test(print_one),   cmocka_unit_test(view_json),
        cmocka_unit_test(waits),       cmocka_unit_test(kube_message),
        cmocka_unit_test(arguments),   cmocka_unit_test(plugin_and_completion),
    };
    return cg_test_run("cli_status", tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
}
