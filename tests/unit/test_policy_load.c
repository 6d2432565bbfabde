/* The policy loader: shipped policies, every error path with its file:line:column, the file
 * rule (recursion, dot-named entries, symlinks, loops), all-or-none, lint's error list, and
 * reference counting. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
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

#include "placement/plan.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"
#include "test_support.h"

_Static_assert(CG_POLICY_MAX_CELLS == CG_PLAN_MAX_CELLS, "a loaded policy must fit a plan");
_Static_assert(CG_POLICY_MAX_GROUPS == CG_PLAN_MAX_GROUPS, "a loaded policy must fit a plan");

/* ---- temp directories ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *make_temp_dir(void)
{
    char *tmpl = strdup("/tmp/cg-policy-test-XXXXXX");
    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void make_dir(const char *dir, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

static void make_link(const char *dir, const char *rel, const char *target)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(symlink(target, path), 0);
}

static char *policy_text(const char *name, const char *ns)
{
    char *s = malloc(512);
    snprintf(s, 512,
             "apiVersion: cellgate.io/v1\nkind: ReleasePolicy\nmetadata:\n  name: %s\nspec:\n"
             "  match:\n    namespaces: [%s]\n  cells:\n    names: [zone-a, zone-b]\n"
             "  gray:\n    groups: [{perCell: 1}, rest]\n",
             name, ns);
    return s;
}

static void write_policy(const char *dir, const char *rel, const char *name, const char *ns)
{
    char *text = policy_text(name, ns);
    write_file(dir, rel, text);
    free(text);
}

/* ---- lint-style error collection ---- */

struct errs {
    char lines[16][1024];
    size_t n;
};

static void collect(const struct cg_err *e, void *ud)
{
    struct errs *es = ud;
    if (es->n < 16)
        cg_err_format(e, es->lines[es->n], sizeof(es->lines[0]));
    es->n++;
}

/* ---- shipped policies ---- */

static void test_shipped_policies_load(void **state)
{
    (void)state;
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    enum cg_status st = cg_policy_set_load_dir(CG_SOURCE_DIR "/policies", &set, &err);
    if (st) {
        char msg[1024];
        cg_err_format(&err, msg, sizeof(msg));
        fail_msg("shipped policies do not load: %s", msg);
    }
    assert_int_equal(set->n, 3);
    /* sorted file order: freeze-calendar, payments, warn-new-rule */
    assert_string_equal(set->items[0].name, "ledger-freeze-calendar");
    assert_string_equal(set->items[1].name, "payments");
    assert_string_equal(set->items[2].name, "storefront-required-labels");
    assert_int_equal(set->items[2].enforcement, CG_ENFORCE_WARN);
    assert_int_equal(set->items[2].monitor.required_labels.n, 2);
    const struct cg_policy *fc = cg_policy_set_get(set, "ledger-freeze-calendar");
    assert_int_equal(fc->emergency.n_freezes, 2);
    assert_int_equal(fc->emergency.freezes[0].kind, CG_FREEZE_ABSOLUTE);
    assert_int_equal(fc->emergency.freezes[1].kind, CG_FREEZE_WEEKLY);
    assert_int_equal(fc->emergency.break_glass_groups.n, 1);
    assert_string_equal(fc->emergency.break_glass_groups.items[0], "sre-oncall");
    cg_policy_set_unref(set);
}

/* policies/examples/payments.yaml, field by field, as other checks rely on it. */
static void test_payments_exactly(void **state)
{
    (void)state;
    const char *path = CG_SOURCE_DIR "/policies/examples/payments.yaml";
    struct cg_policy_set *set = NULL;
    struct errs es = {0};
    assert_int_equal(cg_policy_set_load_paths(&path, 1, collect, &es, &set), CG_OK);
    assert_int_equal(es.n, 0);
    assert_int_equal(set->n, 1);
    const struct cg_policy *p = &set->items[0];
    assert_string_equal(p->name, "payments");
    assert_string_equal(p->file, path);
    assert_int_equal(p->match.namespaces.n, 1);
    assert_string_equal(p->match.namespaces.items[0], "payments");
    assert_int_equal(p->match.selector.n, 0);
    assert_int_equal(p->match.kinds, CG_KIND_DEPLOYMENT | CG_KIND_POD);
    assert_int_equal(p->enforcement, CG_ENFORCE_ENFORCE);
    assert_string_equal(p->cells.topology_key, "topology.kubernetes.io/zone");
    assert_int_equal(p->cells.n, 2);
    assert_string_equal(p->cells.items[0].name, "zone-a");
    assert_string_equal(p->cells.items[1].name, "zone-b");
    assert_int_equal(p->cells.items[0].weight, 1);
    assert_int_equal(p->cells.items[1].weight, 1);
    assert_int_equal(p->gray.n_groups, 3);
    assert_int_equal(p->gray.groups[0].kind, CG_GROUP_PER_CELL);
    assert_int_equal(p->gray.groups[0].value, 1);
    assert_int_equal(p->gray.groups[1].kind, CG_GROUP_PER_CELL);
    assert_int_equal(p->gray.groups[1].value, 2);
    assert_int_equal(p->gray.groups[2].kind, CG_GROUP_REST);
    assert_int_equal(p->gray.pause, CG_PAUSE_MANUAL);
    assert_true(p->monitor.require_readiness_probe);
    assert_true(p->monitor.require_progress_deadline);
    assert_int_equal(p->monitor.required_labels.n, 0);
    assert_int_equal(p->monitor.n_checks, 0);
    assert_int_equal(p->emergency.n_freezes, 0);
    assert_string_equal(p->emergency.break_glass_annotation, "cellgate.io/break-glass");
    assert_int_equal(p->emergency.break_glass_groups.n, 1);
    assert_string_equal(p->emergency.break_glass_groups.items[0], "sre-oncall");
    assert_int_equal(p->emergency.approver_groups.n, 1);
    assert_string_equal(p->emergency.approver_groups.items[0], "release-managers");
    assert_int_equal(p->emergency.emergency_groups.n, 1);
    assert_string_equal(p->emergency.emergency_groups.items[0], "release-managers");
    assert_int_equal(p->traffic.components.n, 1);
    assert_string_equal(p->traffic.components.items[0], "service");
    assert_int_equal(p->traffic.controller_clears.n, 1);
    assert_string_equal(p->traffic.controller_clears.items[0], "service");
    assert_int_equal(p->traffic.drain_timeout_seconds, 300); /* the default */
    cg_policy_set_unref(set);
}

/* Editors find the schema through each example's first line; the schema is valid JSON and
 * knows the same top-level spec keys as the loader. */
static void test_schema_and_modelines(void **state)
{
    (void)state;
    static const char *const examples[] = {"payments.yaml", "freeze-calendar.yaml",
                                           "warn-new-rule.yaml"};
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/policies/examples/%s", CG_SOURCE_DIR, examples[i]);
        char *text = cg_test_read_file(path, NULL);
        const char *modeline =
            "# yaml-language-server: $schema=../schema/release-policy.schema.json\n";
        if (strncmp(text, modeline, strlen(modeline)) != 0)
            fail_msg("%s does not start with the schema modeline", path);
        free(text);
    }
    json_error_t jerr;
    json_t *schema =
        json_load_file(CG_SOURCE_DIR "/policies/schema/release-policy.schema.json", 0, &jerr);
    if (schema == NULL)
        fail_msg("schema: %d:%d: %s", jerr.line, jerr.column, jerr.text);
    json_t *spec = json_object_get(json_object_get(schema, "properties"), "spec");
    json_t *props = json_object_get(spec, "properties");
    static const char *const keys[] = {"match",   "enforcement", "cells",  "gray",
                                       "monitor", "emergency",   "traffic"};
    assert_int_equal(json_object_size(props), 7);
    for (size_t i = 0; i < 7; i++)
        assert_non_null(json_object_get(props, keys[i]));
    assert_true(json_is_false(json_object_get(spec, "additionalProperties")));
    json_decref(schema);
}

/* ---- error fixtures: tests/fixtures/policy/errors/<case>/expected.txt ---- */

static void replace_all(char *s, size_t cap, const char *from, const char *to)
{
    char out[2048];
    size_t o = 0, fl = strlen(from), tl = strlen(to);
    for (const char *p = s; *p && o + tl + 1 < sizeof(out);) {
        if (strncmp(p, from, fl) == 0) {
            memcpy(out + o, to, tl);
            o += tl;
            p += fl;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    snprintf(s, cap, "%s", out);
}

static int dirent_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void test_error_fixtures(void **state)
{
    (void)state;
    const char *root = cg_test_fixture_path("policy/errors");
    char base[900];
    snprintf(base, sizeof(base), "%s", root);
    struct dirent **cases = NULL;
    int n = scandir(base, &cases, NULL, dirent_cmp);
    assert_true(n > 0);
    int checked = 0;
    for (int i = 0; i < n; i++) {
        if (cases[i]->d_name[0] == '.')
            continue;
        char dir[1200], exp_path[1300], got[2048];
        snprintf(dir, sizeof(dir), "%s/%s", base, cases[i]->d_name);
        snprintf(exp_path, sizeof(exp_path), "%s/expected.txt", dir);
        char *expected = cg_test_read_file(exp_path, NULL);
        expected[strcspn(expected, "\n")] = '\0';

        struct cg_policy_set *set = (struct cg_policy_set *)&set; /* must be reset to NULL */
        struct cg_err err;
        enum cg_status st = cg_policy_set_load_dir(dir, &set, &err);
        if (st == CG_OK)
            fail_msg("case %s: loaded, expected: %s", cases[i]->d_name, expected);
        assert_null(set);
        assert_int_equal(err.status, st);
        cg_err_format(&err, got, sizeof(got));
        char prefix[1300];
        snprintf(prefix, sizeof(prefix), "%s/", dir);
        if (strncmp(got, prefix, strlen(prefix)) == 0)
            memmove(got, got + strlen(prefix), strlen(got + strlen(prefix)) + 1);
        replace_all(got, sizeof(got), dir, "$DIR");
        if (strcmp(got, expected) != 0)
            fail_msg("case %s:\n  expected: %s\n  got:      %s", cases[i]->d_name, expected, got);

        /* lint sees the same first error */
        struct errs es = {0};
        const char *paths[] = {dir};
        assert_int_equal(cg_policy_set_load_paths(paths, 1, collect, &es, NULL), st);
        assert_true(es.n >= 1);
        char want[2048];
        cg_err_format(&err, want, sizeof(want));
        assert_string_equal(es.lines[0], want);
        free(expected);
        checked++;
    }
    for (int i = 0; i < n; i++)
        free(cases[i]);
    free(cases);
    assert_true(checked >= 110);
}

/* ---- valid fixtures ---- */

static void test_all_fields(void **state)
{
    (void)state;
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    assert_int_equal(cg_policy_set_load_dir(cg_test_fixture_path("policy/valid"), &set, &err),
                     CG_OK);
    assert_int_equal(set->n, 2);
    const struct cg_policy *p = cg_policy_set_get(set, "all-fields");
    assert_non_null(p);
    assert_int_equal(p->line, 2);
    assert_int_equal(p->match.namespaces.n, 2);
    assert_string_equal(p->match.namespaces.items[1], "team-*");
    assert_int_equal(p->match.selector.n, 5);
    assert_string_equal(p->match.selector.reqs[0].key, "tier");
    assert_int_equal(p->match.selector.reqs[0].op, CG_SEL_IN);
    assert_int_equal(p->match.selector.reqs[0].values.n, 1);
    assert_string_equal(p->match.selector.reqs[0].values.items[0], "backend");
    assert_int_equal(p->match.selector.reqs[1].values.n, 2);
    assert_int_equal(p->match.selector.reqs[2].op, CG_SEL_NOT_IN);
    assert_string_equal(p->match.selector.reqs[2].values.items[0], "false");
    assert_int_equal(p->match.selector.reqs[3].op, CG_SEL_EXISTS);
    assert_int_equal(p->match.selector.reqs[4].op, CG_SEL_DOES_NOT_EXIST);
    assert_int_equal(p->match.kinds, CG_KIND_POD);
    assert_int_equal(p->enforcement, CG_ENFORCE_AUDIT);
    assert_string_equal(cg_enforcement_str(p->enforcement), "audit");
    assert_string_equal(p->cells.topology_key, "example.com/room");
    assert_int_equal(p->cells.n, 2);
    assert_int_equal(p->cells.items[0].weight, 3);
    assert_int_equal(p->cells.items[1].weight, 1);
    assert_int_equal(p->gray.n_groups, 3);
    assert_int_equal(p->gray.groups[0].kind, CG_GROUP_PERCENT);
    assert_int_equal(p->gray.groups[0].value, 5);
    assert_int_equal(p->gray.groups[2].kind, CG_GROUP_REST);
    assert_int_equal(p->gray.pause, CG_PAUSE_AFTER);
    assert_int_equal(p->gray.pause_after_seconds, 5400);
    assert_false(p->monitor.require_readiness_probe);
    assert_false(p->monitor.require_progress_deadline);
    assert_int_equal(p->monitor.min_ready_seconds, 20);
    assert_int_equal(p->monitor.n_checks, 4);
    assert_int_equal(p->monitor.checks[0].kind, CG_CHECK_READY_FOR);
    assert_int_equal(p->monitor.checks[0].duration_seconds, 90);
    assert_int_equal(p->monitor.checks[1].kind, CG_CHECK_RESTARTS);
    assert_string_equal(p->monitor.checks[1].name, "restarts");
    assert_int_equal(p->monitor.checks[1].max_restarts, 2);
    assert_int_equal(p->monitor.checks[2].kind, CG_CHECK_HTTP);
    assert_int_equal(p->monitor.checks[2].expect_status, 200);
    assert_string_equal(p->monitor.checks[2].url, "https://example.com/health");
    assert_int_equal(p->monitor.checks[3].kind, CG_CHECK_PROMETHEUS);
    assert_string_equal(p->monitor.checks[3].op, "<=");
    assert_true(p->monitor.checks[3].threshold > 0.2499 && p->monitor.checks[3].threshold < 0.2501);
    assert_int_equal(p->emergency.n_freezes, 2);
    /* 2026-12-24T00:00:00+01:00 and 2026-12-27T00:00:00.5+01:00 (fraction dropped) */
    assert_int_equal(p->emergency.freezes[0].start, 1798066800);
    assert_int_equal(p->emergency.freezes[0].end, 1798066800 + 3 * 86400);
    const struct cg_freeze_window *w = &p->emergency.freezes[1];
    assert_int_equal(w->kind, CG_FREEZE_WEEKLY);
    assert_int_equal(w->days, 0x1f); /* Sun..Thu */
    assert_int_equal(w->start_minute, 22 * 60 + 30);
    assert_int_equal(w->duration_minutes, 8 * 60);
    assert_string_equal(w->time_zone, "America/New_York");
    assert_non_null(w->tz);
    assert_string_equal(p->emergency.break_glass_annotation, "example.com/emergency-reason");
    assert_int_equal(p->emergency.approver_groups.n, 2);
    assert_int_equal(p->emergency.rollback, CG_ROLLBACK_GRADUAL);
    assert_int_equal(p->emergency.on_check_failure, CG_ON_FAILURE_ROLLBACK);
    assert_int_equal(p->traffic.components.n, 3);
    assert_int_equal(p->traffic.controller_clears.n, 0);
    assert_int_equal(p->traffic.drain_timeout_seconds, 150);
    cg_policy_set_unref(set);
}

static void test_defaults(void **state)
{
    (void)state;
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    assert_int_equal(cg_policy_set_load_dir(cg_test_fixture_path("policy/valid"), &set, &err),
                     CG_OK);
    const struct cg_policy *p = cg_policy_set_get(set, "minimal");
    assert_non_null(p);
    assert_null(cg_policy_set_get(set, "absent"));
    assert_int_equal(p->match.namespaces.n, 0);
    assert_int_equal(p->match.kinds, CG_KIND_DEPLOYMENT | CG_KIND_POD);
    assert_int_equal(p->enforcement, CG_ENFORCE_ENFORCE);
    assert_string_equal(p->cells.topology_key, "topology.kubernetes.io/zone");
    assert_int_equal(p->gray.pause, CG_PAUSE_MANUAL);
    assert_true(p->monitor.require_readiness_probe);
    assert_true(p->monitor.require_progress_deadline);
    assert_int_equal(p->monitor.min_ready_seconds, 0);
    assert_string_equal(p->emergency.break_glass_annotation, "cellgate.io/break-glass");
    assert_int_equal(p->emergency.break_glass_groups.n, 0);
    assert_int_equal(p->emergency.rollback, CG_ROLLBACK_FAST);
    assert_int_equal(p->emergency.on_check_failure, CG_ON_FAILURE_PAUSE);
    assert_int_equal(p->traffic.components.n, 1);
    assert_string_equal(p->traffic.components.items[0], "service");
    assert_int_equal(p->traffic.controller_clears.n, 1);
    cg_policy_set_unref(set);
}

/* ---- the file rule ---- */

static void test_all_or_none(void **state)
{
    (void)state;
    char *dir = make_temp_dir();
    write_policy(dir, "a-good.yaml", "good", "demo");
    write_file(dir, "b-bad.yaml", "apiVersion: cellgate.io/v1\nkind: ReleasePolicy\n");
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    assert_int_equal(cg_policy_set_load_dir(dir, &set, &err), CG_EINVAL);
    assert_null(set);
    char want[1024];
    snprintf(want, sizeof(want), "%s/b-bad.yaml", dir);
    assert_string_equal(err.file, want);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 1);
    assert_string_equal(err.msg, "the document: missing required key \"metadata\"");
    rm_tree(dir);
    free(dir);
}

static void test_lint_reports_every_file(void **state)
{
    (void)state;
    char *dir = make_temp_dir();
    char other[1024];
    make_dir(dir, "sub");
    write_file(dir, "a.yaml", "spec: [\n");
    write_policy(dir, "b.yml", "fine", "demo");
    /* two errors in one file: only the first is reported, then the next file */
    write_file(dir, "c.yaml",
               "apiVersion: cellgate.io/v1\nkind: ReleasePolicy\nmetadata: {name: c}\n"
               "spec: {bogus: 1, other: 2}\n");
    write_policy(dir, "sub/d.yaml", "fine", "demo"); /* duplicate name */
    write_file(dir, "notes.txt", "not a policy: ignored\n");
    write_policy(dir, ".hidden.yaml", "hidden", "demo");
    snprintf(other, sizeof(other), "%s/sub/d.yaml", dir);
    struct errs es = {0};
    const char *paths[] = {dir};
    assert_int_equal(cg_policy_set_load_paths(paths, 1, collect, &es, NULL), CG_EPARSE);
    assert_int_equal(es.n, 3);
    char want[3][2048];
    snprintf(want[0], sizeof(want[0]),
             "%s/a.yaml:2:1: YAML: did not find expected node content while parsing a flow "
             "node",
             dir);
    snprintf(want[1], sizeof(want[1]),
             "%s/c.yaml:4:8: unknown key \"bogus\" in spec (allowed: match, enforcement, cells, "
             "gray, monitor, emergency, traffic)",
             dir);
    snprintf(want[2], sizeof(want[2]),
             "%s:4:9: metadata.name: policy \"fine\" is already defined in %s/b.yml:4:9", other,
             dir);
    for (int i = 0; i < 3; i++)
        assert_string_equal(es.lines[i], want[i]);

    /* a file named explicitly loads whatever its extension; a missing path is an error */
    char txt[1100];
    snprintf(txt, sizeof(txt), "%s/policy.txt", dir);
    write_policy(dir, "policy.txt", "from-txt", "demo");
    const char *files[] = {txt, "/nonexistent/cellgate/policy.yaml"};
    struct cg_policy_set *set = NULL;
    memset(&es, 0, sizeof(es));
    assert_int_equal(cg_policy_set_load_paths(files, 1, collect, &es, &set), CG_OK);
    assert_int_equal(set->n, 1);
    assert_string_equal(set->items[0].name, "from-txt");
    cg_policy_set_unref(set);
    assert_int_equal(cg_policy_set_load_paths(files, 2, collect, &es, &set), CG_EIO);
    assert_null(set);
    assert_int_equal(es.n, 1);
    assert_string_equal(es.lines[0],
                        "/nonexistent/cellgate/policy.yaml: No such file or directory");
    rm_tree(dir);
    free(dir);
}

/* The layout kubelet makes for a ConfigMap volume: the files live in a timestamped dot
 * directory, ..data links to it, and each key is a top-level link through ..data. */
/* pause: {after: 0s} is a policy: each group starts as soon as the last one is done. */
static void test_pause_after_zero(void **state)
{
    (void)state;
    char *dir = make_temp_dir();
    char *text = policy_text("soon", "soon");
    const char *tail = "    pause: {after: 0s}\n";
    text = realloc(text, strlen(text) + strlen(tail) + 1);
    strcat(text, tail);
    write_file(dir, "soon.yaml", text);
    free(text);
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    assert_int_equal(cg_policy_set_load_dir(dir, &set, &err), CG_OK);
    assert_int_equal(set->items[0].gray.pause, CG_PAUSE_AFTER);
    assert_int_equal(set->items[0].gray.pause_after_seconds, 0);
    cg_policy_set_unref(set);
    rm_tree(dir);
    free(dir);
}

static void test_configmap_layout(void **state)
{
    (void)state;
    char *dir = make_temp_dir();
    make_dir(dir, "..2026_11_26_10_00_00.000000001");
    write_policy(dir, "..2026_11_26_10_00_00.000000001/payments.yaml", "payments", "payments");
    write_policy(dir, "..2026_11_26_10_00_00.000000001/ledger.yaml", "ledger", "ledger");
    make_link(dir, "..data", "..2026_11_26_10_00_00.000000001");
    make_link(dir, "payments.yaml", "..data/payments.yaml");
    make_link(dir, "ledger.yaml", "..data/ledger.yaml");

    struct cg_policy_set *set = NULL;
    struct cg_err err;
    assert_int_equal(cg_policy_set_load_dir(dir, &set, &err), CG_OK);
    assert_int_equal(set->n, 2);
    assert_string_equal(set->items[0].name, "ledger");
    assert_string_equal(set->items[1].name, "payments");
    char want[1024];
    snprintf(want, sizeof(want), "%s/payments.yaml", dir);
    assert_string_equal(set->items[1].file, want);
    cg_policy_set_unref(set);

    /* an update: a new timestamped directory, ..data swapped by rename, old one removed */
    make_dir(dir, "..2026_11_26_11_00_00.000000002");
    write_policy(dir, "..2026_11_26_11_00_00.000000002/payments.yaml", "payments-v2", "payments");
    write_policy(dir, "..2026_11_26_11_00_00.000000002/ledger.yaml", "ledger", "ledger");
    make_link(dir, "..data_tmp", "..2026_11_26_11_00_00.000000002");
    char from[1100], to[1100], old[1100];
    snprintf(from, sizeof(from), "%s/..data_tmp", dir);
    snprintf(to, sizeof(to), "%s/..data", dir);
    assert_int_equal(rename(from, to), 0);
    snprintf(old, sizeof(old), "%s/..2026_11_26_10_00_00.000000001", dir);
    rm_tree(old);
    assert_int_equal(cg_policy_set_load_dir(dir, &set, &err), CG_OK);
    assert_int_equal(set->n, 2);
    assert_string_equal(set->items[1].name, "payments-v2");
    cg_policy_set_unref(set);
    rm_tree(dir);
    free(dir);
}

static void test_symlink_loops_and_links(void **state)
{
    (void)state;
    char *dir = make_temp_dir();
    char *outside = make_temp_dir();
    make_dir(dir, "team");
    write_policy(dir, "team/one.yaml", "one", "one");
    make_link(dir, "team/loop", "..");     /* back to the top */
    make_link(dir, "self", ".");           /* to itself */
    make_link(dir, "again", "team");       /* a second way into team/ */
    make_link(dir, "dangling", "missing"); /* not a policy name: ignored */
    write_policy(outside, "two.yaml", "two", "two");
    char target[1100];
    snprintf(target, sizeof(target), "%s/two.yaml", outside);
    make_link(dir, "linked.yaml", target); /* a link to a file elsewhere is followed */

    struct cg_policy_set *set = NULL;
    struct cg_err err;
    assert_int_equal(cg_policy_set_load_dir(dir, &set, &err), CG_OK);
    assert_int_equal(set->n, 2);
    assert_non_null(cg_policy_set_get(set, "one"));
    assert_non_null(cg_policy_set_get(set, "two"));
    cg_policy_set_unref(set);

    /* a dangling link with a policy name is an error: the policy it meant is missing */
    make_link(dir, "gone.yaml", "missing.yaml");
    assert_int_equal(cg_policy_set_load_dir(dir, &set, &err), CG_EIO);
    assert_null(set);
    assert_non_null(strstr(err.msg, "gone.yaml: No such file or directory"));
    rm_tree(dir);
    rm_tree(outside);
    free(dir);
    free(outside);
}

static void test_nesting_too_deep(void **state)
{
    (void)state;
    char *dir = make_temp_dir();
    char rel[256] = "";
    for (int i = 0; i < 40; i++) {
        strcat(rel, i ? "/d" : "d");
        make_dir(dir, rel);
        if (i == 5)
            write_policy(dir, "d/d/d/d/d/d/ok.yaml", "ok", "ok");
    }
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    assert_int_equal(cg_policy_set_load_dir(dir, &set, &err), CG_EINVAL);
    assert_null(set);
    assert_non_null(strstr(err.msg, ": directories nested too deep"));
    rm_tree(dir);
    free(dir);
}

static void test_empty_and_missing(void **state)
{
    (void)state;
    char *dir = make_temp_dir();
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    char want[1100];
    assert_int_equal(cg_policy_set_load_dir(dir, &set, &err), CG_ENOTFOUND);
    assert_null(set);
    snprintf(want, sizeof(want), "%s: no policy file (*.yaml or *.yml) in this directory", dir);
    assert_string_equal(err.msg, want);
    /* only dot-named content: still empty */
    make_dir(dir, "..data");
    write_policy(dir, "..data/p.yaml", "p", "p");
    assert_int_equal(cg_policy_set_load_dir(dir, &set, &err), CG_ENOTFOUND);
    assert_int_equal(cg_policy_set_load_dir("/nonexistent/cellgate", &set, &err), CG_EIO);
    assert_string_equal(err.msg, "/nonexistent/cellgate: No such file or directory");
    write_policy(dir, "file.yaml", "f", "f");
    snprintf(want, sizeof(want), "%s/file.yaml", dir);
    assert_int_equal(cg_policy_set_load_dir(want, &set, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "not a directory"));
    rm_tree(dir);
    free(dir);
}

/* ---- YAML hardening ---- */

static void test_billion_laughs(void **state)
{
    (void)state;
    const char *doc = "a: &a [x, x, x, x, x, x, x, x, x]\n"
                      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                      "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n";
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    assert_int_equal(cg_policy_set_decode("laughs.yaml", doc, strlen(doc), &set, &err), CG_EPARSE);
    assert_null(set);
    assert_string_equal(err.file, "laughs.yaml");
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 4);
    assert_string_equal(err.msg, "YAML anchors are not supported in policies");
}

static void test_nesting_limit(void **state)
{
    (void)state;
    char doc[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        doc[n++] = '[';
    for (int i = 0; i < 100; i++)
        doc[n++] = ']';
    doc[n++] = '\n';
    doc[n] = '\0';
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    assert_int_equal(cg_policy_set_decode("deep.yaml", doc, n, &set, &err), CG_EPARSE);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, CG_YAML_MAX_DEPTH + 2);
    assert_string_equal(err.msg, "nesting too deep");
}

static void test_binary_garbage(void **state)
{
    (void)state;
    const char doc[] = "apiVersion: cellgate.io/v1\nkind: \x01\x02\xff\xfe\n";
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    assert_int_equal(cg_policy_set_decode("bin.yaml", doc, sizeof(doc) - 1, &set, &err), CG_EPARSE);
    assert_null(set);
    assert_non_null(strstr(err.msg, "YAML:"));
    const char nul[] = "apiVersion: cellgate.io/v1\0\n";
    assert_int_equal(cg_policy_set_decode("nul.yaml", nul, sizeof(nul) - 1, &set, &err), CG_EPARSE);
}

/* ---- scalars ---- */

static void test_durations(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_true(cg__duration_parse("30s", &v));
    assert_int_equal(v, 30);
    assert_true(cg__duration_parse("5m", &v));
    assert_int_equal(v, 300);
    assert_true(cg__duration_parse("1h30m", &v));
    assert_int_equal(v, 5400);
    assert_true(cg__duration_parse("2h0m5s", &v));
    assert_int_equal(v, 7205);
    assert_true(cg__duration_parse("90m", &v));
    assert_int_equal(v, 5400);
    assert_false(cg__duration_parse("", &v));
    assert_false(cg__duration_parse("5", &v));
    assert_false(cg__duration_parse("1m1h", &v));
    assert_false(cg__duration_parse("1h1h", &v));
    assert_false(cg__duration_parse("1d", &v));
    assert_false(cg__duration_parse("-5m", &v));
    assert_false(cg__duration_parse("1.5h", &v));
    assert_false(cg__duration_parse("99999999999999h", &v));
}

static void test_rfc3339(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_true(cg__rfc3339_parse("1970-01-01T00:00:00Z", &t));
    assert_int_equal(t, 0);
    assert_true(cg__rfc3339_parse("2026-03-29T01:00:00Z", &t));
    assert_int_equal(t, 1774746000);
    assert_true(cg__rfc3339_parse("2026-03-29T02:00:00+01:00", &t));
    assert_int_equal(t, 1774746000);
    assert_true(cg__rfc3339_parse("2026-03-28T20:00:00-05:00", &t));
    assert_int_equal(t, 1774746000);
    assert_true(cg__rfc3339_parse("2024-02-29t12:00:00.123456z", &t));
    assert_false(cg__rfc3339_parse("2026-03-29T01:00:00", &t));      /* no offset */
    assert_false(cg__rfc3339_parse("2026-03-29 01:00:00Z", &t));     /* space */
    assert_false(cg__rfc3339_parse("2025-02-29T00:00:00Z", &t));     /* not a leap year */
    assert_false(cg__rfc3339_parse("2026-13-01T00:00:00Z", &t));     /* month */
    assert_false(cg__rfc3339_parse("2026-01-01T24:00:00Z", &t));     /* hour */
    assert_false(cg__rfc3339_parse("2026-01-01T00:00:00+0100", &t)); /* offset form */
    assert_false(cg__rfc3339_parse("2026-01-01T00:00:00Zjunk", &t));
    assert_false(cg__rfc3339_parse("2026-01-01", &t));
}

/* ---- reference counting ---- */

struct ref_arg {
    struct cg_policy_set *set;
};

static void *ref_worker(void *p)
{
    struct ref_arg *a = p;
    for (int i = 0; i < 100000; i++) {
        struct cg_policy_set *s = cg_policy_set_ref(a->set);
        cg_policy_set_unref(s);
    }
    return NULL;
}

static void test_refcount(void **state)
{
    (void)state;
    char *text = policy_text("counted", "demo");
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    assert_int_equal(cg_policy_set_decode("mem.yaml", text, strlen(text), &set, &err), CG_OK);
    free(text);
    assert_int_equal(atomic_load(&set->refcount), 1);
    struct ref_arg arg = {set};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, ref_worker, &arg), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&set->refcount), 1);
    assert_ptr_equal(cg_policy_set_ref(set), set);
    assert_int_equal(atomic_load(&set->refcount), 2);
    cg_policy_set_unref(set);
    cg_policy_set_unref(set); /* frees; ASan reports a leak or double free */
    cg_policy_set_unref(NULL);
    assert_null(cg_policy_set_ref(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_policies_load),
        cmocka_unit_test(test_payments_exactly),
        cmocka_unit_test(test_schema_and_modelines),
        cmocka_unit_test(test_error_fixtures),
        cmocka_unit_test(test_all_fields),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_all_or_none),
        cmocka_unit_test(test_lint_reports_every_file),
        cmocka_unit_test(test_configmap_layout),
        cmocka_unit_test(test_symlink_loops_and_links),
        cmocka_unit_test(test_nesting_too_deep),
        cmocka_unit_test(test_empty_and_missing),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_binary_garbage),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_pause_after_zero),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_refcount),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
