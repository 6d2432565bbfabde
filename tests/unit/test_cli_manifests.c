/* `cellgate review` on manifests (YAML and JSON, several documents, Lists, --old, --as), its
 * outputs and errors, --help everywhere and the completion scripts. */
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
    snprintf(dir, sizeof(dir), "%s/test_cli_manifests_%s", CG_BINARY_DIR, name);
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

static const char deploy_yaml[] =
    "# two Deployments and a ConfigMap, as a user keeps them\n"
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata:\n"
    "  name: checkout\n"
    "  namespace: payments\n"
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
    "          readinessProbe: {httpGet: {path: /ready, port: 8080}}\n"
    "---\n"
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata: {name: noprobe, namespace: payments}\n"
    "spec:\n"
    "  replicas: 10\n"
    "  progressDeadlineSeconds: 600\n"
    "  selector: {matchLabels: {app: noprobe}}\n"
    "  template:\n"
    "    metadata: {labels: {app: noprobe}}\n"
    "    spec:\n"
    "      containers: [{name: app, image: registry.example/noprobe:1.0}]\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: ConfigMap\n"
    "metadata: {name: settings}\n"
    "data: {ratio: \"1.5\", on: \"yes\"}\n";

static char files[8][1200];

static const char *manifests(void)
{
    const char *dir = scratch_dir(
        "in", "deploy.yaml", deploy_yaml, "tab.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: "
        "ConfigMap\nmetadata:\n\tname: b\n",
        "indent.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n namespace: b\n",
        "list.json",
        "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":"
        "\"ConfigMap\",\"metadata\":{\"name\":\"x\"}},{\"kind\":\"ConfigMap\"}]}",
        "notobject.yaml", "just: a mapping\n", NULL);
    static const char *const names[] = {"deploy.yaml", "tab.yaml", "indent.yaml", "list.json",
                                        "notobject.yaml"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        snprintf(files[i], sizeof(files[i]), "%s/%s", dir, names[i]);
    return dir;
}

/* YAML with several documents: a table per object, exit 0 with a denial among them. */
static void review_yaml_table(void **state)
{
    (void)state;
    struct cli r;
    manifests();
    cli(&r, NULL, "review", "-f", files[0], "--policies", EXAMPLES, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    assert_contains(r.out, "Deployment payments/checkout  (");
    assert_contains(r.out, "deploy.yaml: document 1)\n  decision  patched\n  policy    payments\n");
    assert_contains(r.out, "  patch     add     /spec/strategy ");
    assert_contains(r.out, "add     /spec/strategy/rollingUpdate/maxSurge 2\n");
    assert_contains(r.out, "deploy.yaml: document 2)\n  decision  denied (403) at /validate\n");
    assert_contains(r.out, "  rule      monitor.readinessProbe\n");
    assert_contains(r.out, "  message   policy payments rule monitor.readinessProbe: ");
    assert_contains(r.out, "ConfigMap default/settings");
    assert_contains(r.out, "  policy    - (no policy covers it");
    /* the same through stdin, with `apply` as the command's other name */
    cli(&r, files[0], "apply", "-f", "-", "--policies", EXAMPLES, NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "(stdin): document 2)\n  decision  denied");
}

/* -o json: the AdmissionReview responses, /mutate then /validate for each object. */
static void review_yaml_json(void **state)
{
    (void)state;
    struct cli r;
    manifests();
    cli(&r, NULL, "review", "-f", files[0], "--policies", EXAMPLES, "-o", "json", NULL);
    assert_int_equal(r.rc, 0);
    size_t lines = 0;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        json_t *doc = json_loads(line, 0, NULL);
        assert_non_null(doc);
        assert_string_equal(json_string_value(json_object_get(doc, "kind")), "AdmissionReview");
        json_t *resp = json_object_get(doc, "response");
        assert_non_null(resp);
        if (lines == 0) /* checkout's /mutate */
            assert_non_null(json_object_get(resp, "patch"));
        if (lines == 3) /* noprobe's /validate */
            assert_false(json_is_true(json_object_get(resp, "allowed")));
        json_decref(doc);
    }
    assert_int_equal(lines, 6);
    /* --path: only that one */
    cli(&r, NULL, "review", "-f", files[0], "--policies", EXAMPLES, "-o", "json", "--path",
        "/validate", NULL);
    assert_int_equal(r.rc, 0);
    lines = 0;
    for (char *p = r.out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    assert_int_equal(lines, 3);
}

/* -o yaml and --apply: the objects as admitted; YAML in, YAML out. */
static void review_yaml_objects(void **state)
{
    (void)state;
    struct cli r;
    manifests();
    cli(&r, NULL, "review", "-f", files[0], "--policies", EXAMPLES, "--apply", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out,
                    "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: checkout\n");
    assert_contains(r.out, "    rollingUpdate:\n      maxUnavailable: 0\n      maxSurge: 2\n");
    assert_contains(r.out, "    cellgate.io/release: \"{\\\"revision\\\":");
    assert_contains(r.out, "      containers:\n      - name: app\n");
    /* strings that would read as something else stay strings */
    assert_contains(r.out, "  ratio: \"1.5\"\n");
    assert_contains(r.out, "  \"on\": \"yes\"\n");
    assert_contains(r.err, "deploy.yaml: document 2: denied: policy payments rule");
    /* what it printed reads back as the same objects */
    const char *dir = scratch_dir("out", "admitted.yaml", r.out, NULL);
    char admitted[1200];
    snprintf(admitted, sizeof(admitted), "%s/admitted.yaml", dir);
    struct cli again;
    cli(&again, NULL, "review", "-f", admitted, "--policies", EXAMPLES, "-o", "yaml", NULL);
    assert_int_equal(again.rc, 0);
    assert_string_equal(again.out, r.out);
    /* JSON in: JSON out */
    cli(&r, NULL, "review", "-f", files[3], "--policies", EXAMPLES, "--apply", NULL);
    assert_int_equal(r.rc, 1); /* the List's second item has no apiVersion */
    assert_contains(r.out, "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"ConfigMap\",");
    assert_contains(r.err, "list.json: item 2: not a Kubernetes object: apiVersion and kind");
    cli(&r, NULL, "review", "-f", files[0], "--policies", EXAMPLES, "--apply", "-o", "json", NULL);
    assert_int_equal(r.rc, 2);
}

/* --old makes an UPDATE; --as, --as-group and --dry-run reach the request. */
static void review_update_and_user(void **state)
{
    (void)state;
    struct cli r;
    const char *dir = manifests();
    char changed[sizeof(deploy_yaml) + 16];
    snprintf(changed, sizeof(changed), "%s", deploy_yaml);
    char *img = strstr(changed, "checkout:1.0");
    memcpy(img, "checkout:2.0", 12);
    scratch_dir("in", "new.yaml", changed, NULL);
    char new_yaml[1200];
    snprintf(new_yaml, sizeof(new_yaml), "%s/new.yaml", dir);
    /* a release inside the freeze of the engine's freeze policy: denied, but break-glass by an
     * sre-oncall user with a reason is admitted and audited */
    cli(&r, NULL, "review", "-f", new_yaml, "--old", files[0], "--policies",
        ENGINE_POLICIES "/freeze.yaml", "--now", "2026-12-24T12:00:00+01:00", "--path", "/validate",
        NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "rule      emergency.freeze\n");
    /* the old version of an object nobody reviews is an error */
    cli(&r, NULL, "review", "-f", files[1], "--old", files[0], "--policies", EXAMPLES, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "--old ");
    assert_contains(r.err, "Deployment payments/checkout matches no object reviewed");

    /* the requester, as the engine sees it: an approval by a user outside release-managers */
    static const char approve[] =
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
    scratch_dir("in", "approve.yaml", approve, "old.yaml", approve, NULL);
    char approve_yaml[1200], old_yaml[1200];
    snprintf(approve_yaml, sizeof(approve_yaml), "%s/approve.yaml", dir);
    snprintf(old_yaml, sizeof(old_yaml), "%s/old.yaml", dir);
    /* old without the annotation */
    char old_text[sizeof(approve)];
    snprintf(old_text, sizeof(old_text), "%s", approve);
    char *ann = strstr(old_text, "  annotations: {cellgate.io/approve: \"1\"}\n");
    memmove(ann, ann + strlen("  annotations: {cellgate.io/approve: \"1\"}\n"),
            strlen(ann + strlen("  annotations: {cellgate.io/approve: \"1\"}\n")) + 1);
    scratch_dir("in", "old.yaml", old_text, NULL);
    cli(&r, NULL, "review", "-f", approve_yaml, "--old", old_yaml, "--policies", EXAMPLES, "--as",
        "mallory", "--path", "/validate", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "denied (403)");
    assert_contains(r.out, "mallory");
    cli(&r, NULL, "review", "-f", approve_yaml, "--old", old_yaml, "--policies", EXAMPLES, "--as",
        "rm", "--as-group", "release-managers", "--path", "/validate", "--dry-run", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "decision  allowed\n");
}

/* Errors name the file and the document, in words a person can act on. */
static void review_errors(void **state)
{
    (void)state;
    struct cli r;
    manifests();
    cli(&r, NULL, "review", "-f", files[1], "--policies", EXAMPLES, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "tab.yaml: document 2: line 8 column 1: a tab character: YAML "
                           "indents with spaces only");
    cli(&r, NULL, "review", "-f", files[2], "--policies", EXAMPLES, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "indent.yaml: document 1: line 5 column ");
    assert_contains(r.err, "indented");
    cli(&r, NULL, "review", "-f", files[4], "--policies", EXAMPLES, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "notobject.yaml: not a Kubernetes object");
    cli(&r, NULL, "review", "-f", CG_BINARY_DIR "/no-such.yaml", "--policies", EXAMPLES, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "no-such.yaml: No such file");
    /* an alias bomb stops at a bound instead of eating the machine */
    char bomb[4096] = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 9; i++) {
        size_t n = strlen(bomb);
        n += (size_t)snprintf(bomb + n, sizeof(bomb) - n, "a%d: &a%d [", i, i);
        for (int k = 0; k < 10; k++)
            n += (size_t)snprintf(bomb + n, sizeof(bomb) - n, "%s*a%d", k ? ", " : "", i - 1);
        snprintf(bomb + n, sizeof(bomb) - n, "]\n");
    }
    const char *bdir = scratch_dir("bomb", "bomb.yaml", bomb, NULL);
    char bfile[1200];
    snprintf(bfile, sizeof(bfile), "%s/bomb.yaml", bdir);
    cli(&r, NULL, "review", "-f", bfile, "--policies", EXAMPLES, NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "at most 1000000 values (aliases included)");
    /* --namespace fills in, and must not contradict */
    cli(&r, NULL, "review", "-f", files[0], "--policies", EXAMPLES, "-n", "shop", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "deploy.yaml: document 1: the object's namespace \"payments\" does not "
                           "match --namespace \"shop\"");
    assert_contains(r.out, "ConfigMap shop/settings");
    /* usage */
    cli(&r, NULL, "review", "-f", files[0], "--policies", EXAMPLES, "-o", "xml", NULL);
    assert_int_equal(r.rc, 2);
    cli(&r, NULL, "review", "-f", "-", "-f", "-", "--policies", EXAMPLES, NULL);
    assert_int_equal(r.rc, 2);
    cli(&r, NULL, "review", "-f", NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "-f needs a value");
}

/* --help on every command and subcommand, to stdout, exit 0, nothing run. */
static void help_everywhere(void **state)
{
    (void)state;
    static const char *const cmds[][3] = {
        {"policy", "lint", NULL},   {"policy", "test", NULL}, {"review", NULL, NULL},
        {"apply", NULL, NULL},      {"plan", NULL, NULL},     {"response", "show", NULL},
        {"completion", NULL, NULL}, {"version", NULL, NULL},
    };
    struct cli r;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (cmds[i][1] != NULL)
            cli(&r, NULL, cmds[i][0], cmds[i][1], "--help", NULL);
        else
            cli(&r, NULL, cmds[i][0], "--help", NULL);
        if (r.rc != 0 || strncmp(r.out, "usage: cellgate ", 16) != 0)
            fail_msg("%s %s --help: rc %d\n%s%s", cmds[i][0], cmds[i][1] ? cmds[i][1] : "", r.rc,
                     r.out, r.err);
        assert_contains(r.out, "-h, --help");
    }
    cli(&r, NULL, "plan", "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "--replicas N");
    cli(&r, NULL, "help", "review", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "usage: cellgate review");
    cli(&r, NULL, "policy", "--help", NULL);
    assert_int_equal(r.rc, 0);
    cli(&r, NULL, "policy", NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "a subcommand is missing (lint, test)");
}

/* The completion scripts are valid for their shells and know the commands and flags. */
static void completion(void **state)
{
    (void)state;
    struct cli r;
    cli(&r, NULL, "completion", "bash", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "complete -o default -F _cellgate cellgate kubectl-cellgate\n");
    assert_contains(r.out, "--as-group");
    const char *dir = scratch_dir("completion", "cellgate.bash", r.out, NULL);
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "bash -n %s/cellgate.bash", dir);
    assert_int_equal(system(cmd), 0);
    /* it completes: the words after `cellgate review -o` */
    snprintf(cmd, sizeof(cmd),
             "bash -c 'source %s/cellgate.bash; COMP_WORDS=(cellgate review -o \"\"); "
             "COMP_CWORD=3; _cellgate; echo \"${COMPREPLY[*]}\"' > %s/words.txt",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    char path[1300];
    snprintf(path, sizeof(path), "%s/words.txt", dir);
    char *words = cg_test_read_file(path, NULL);
    assert_string_equal(words, "table json yaml\n");
    free(words);
    cli(&r, NULL, "completion", "zsh", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "#compdef cellgate kubectl-cellgate\n");
    if (system("command -v zsh >/dev/null 2>&1") == 0) {
        scratch_dir("completion", "_cellgate", r.out, NULL);
        snprintf(cmd, sizeof(cmd), "zsh -n %s/_cellgate", dir);
        assert_int_equal(system(cmd), 0);
    }
    cli(&r, NULL, "completion", "fish", NULL);
    assert_int_equal(r.rc, 2);
    cli(&r, NULL, "completion", NULL);
    assert_int_equal(r.rc, 2);
}

/* lint names every error of a file, and says what is wrong with a manifest among policies. */
static void lint_every_error(void **state)
{
    (void)state;
    struct cli r;
    const char *dir =
        scratch_dir("lint", "shop.yaml",
                    "apiVersion: cellgate.io/v1\n"
                    "kind: ReleasePolicy\n"
                    "metadata: {name: shop}\n"
                    "spec:\n"
                    "  match: {namespaces: [shop], paws: 1}\n"
                    "  cells: {names: []}\n"
                    "  gray:\n"
                    "    groups: [rest, {perCell: 1}]\n"
                    "  traffic: {drainTimeout: forever}\n"
                    "---\n"
                    "apiVersion: cellgate.io/v1\n"
                    "kind: ReleasePolicy\n"
                    "metadata: {name: Bad_Name}\n"
                    "spec: {}\n",
                    "deploy.yaml", deploy_yaml, "tab.yaml",
                    "apiVersion: cellgate.io/v1\nkind: ReleasePolicy\nmetadata:\n  name: x\n"
                    "\tspec: {}\n",
                    NULL);
    cli(&r, NULL, "policy", "lint", dir, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_contains(r.err,
                    "deploy.yaml:3:7: kind: \"Deployment\" is not a ReleasePolicy: keep only "
                    "policies under ");
    assert_contains(r.err, "deploy.yaml:32:7: kind: \"ConfigMap\" is not a ReleasePolicy");
    assert_contains(r.err, "shop.yaml:5:31: unknown key \"paws\" in spec.match");
    assert_contains(r.err, "shop.yaml:6:18: spec.cells.names: the cell list is empty");
    assert_contains(r.err, "shop.yaml:8:20: spec.gray.groups[1]: no group can follow \"rest\"");
    assert_contains(r.err,
                    "shop.yaml:9:27: spec.traffic.drainTimeout: \"forever\" is not a duration");
    assert_contains(r.err, "shop.yaml:13:18: metadata.name: \"Bad_Name\" is not a DNS-1123 name");
    assert_contains(r.err, "tab.yaml:5:1: YAML: a tab character: YAML indents with spaces only");
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(review_yaml_table),   cmocka_unit_test(review_yaml_json),
        cmocka_unit_test(review_yaml_objects), cmocka_unit_test(review_update_and_user),
        cmocka_unit_test(review_errors),       cmocka_unit_test(help_everywhere),
        cmocka_unit_test(completion),          cmocka_unit_test(lint_every_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
