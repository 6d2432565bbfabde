/* Differential test: every real fixture and every file of the fuzz seed corpus is decoded by
 * cg_admission_decode and by jansson (strict: duplicate keys rejected). The verdicts must
 * agree (jansson rejects <=> CG_EPARSE; a reference of the typed view's rules built on the
 * jansson DOM says invalid <=> CG_EINVAL) and, when both accept, every field of the view
 * must equal what jansson finds at the same path.
 *
 * Known, documented differences: integers beyond 64 bits and reals beyond double range, and
 * NUL bytes in object keys, are valid JSON that jansson rejects; nesting between 129 and 2048
 * levels is our limit, not jansson's; and jansson passes over a NUL byte right after a
 * number or literal ("9\0", "[1,23\0]") where we reject the byte (both found by the
 * fuzzer). Such inputs are reported and skipped, and must stay rare in the corpus. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "admission/admission.h"
#include "test_support.h"

/* Frees what jansson allocated (json_dumps) with jansson's current allocator. */
static void jfree(void *p)
{
    json_free_t f;
    json_get_alloc_funcs(NULL, &f);
    f(p);
}

/* ---- reference: the view's typing rules on the jansson DOM ---- */

static bool ok_str(json_t *v)
{
    return v == NULL || json_is_null(v) || json_is_string(v);
}

static bool ok_bool(json_t *v)
{
    return v == NULL || json_is_null(v) || json_is_boolean(v);
}

static bool ok_int(json_t *v)
{
    return v == NULL || json_is_null(v) || json_is_integer(v);
}

static bool ok_obj(json_t *v)
{
    return v == NULL || json_is_null(v) || json_is_object(v);
}

static bool ok_intstr(json_t *v)
{
    return ok_int(v) || json_is_string(v);
}

static json_t *get(json_t *o, const char *k)
{
    return json_is_object(o) ? json_object_get(o, k) : NULL;
}

static bool ok_gv(json_t *v, const char *third)
{
    return ok_obj(v) && ok_str(get(v, "group")) && ok_str(get(v, "version")) &&
           ok_str(get(v, third));
}

static bool ok_strs(json_t *v)
{
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_array(v))
        return false;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (!json_is_string(e)) return false;
    return true;
}

static bool ok_kvs(json_t *v)
{
    if (!ok_obj(v))
        return false;
    const char *k;
    json_t *e;
    if (json_is_object(v))
        json_object_foreach(v, k, e) if (!ok_str(e)) return false;
    return true;
}

static bool ok_array_of_objects(json_t *v, bool (*each)(json_t *))
{
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_array(v))
        return false;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (!json_is_object(e) || !each(e)) return false;
    return true;
}

static bool ok_container(json_t *c)
{
    return ok_str(get(c, "name")) && ok_obj(get(c, "readinessProbe"));
}

static bool ok_gate(json_t *g)
{
    return ok_str(get(g, "conditionType"));
}

static bool ok_owner(json_t *o)
{
    return ok_str(get(o, "apiVersion")) && ok_str(get(o, "kind")) && ok_str(get(o, "name")) &&
           ok_str(get(o, "uid")) && ok_bool(get(o, "controller"));
}

static bool ok_podspec(json_t *s)
{
    json_t *aff = get(s, "affinity"), *na = get(aff, "nodeAffinity");
    return ok_obj(s) && ok_array_of_objects(get(s, "containers"), ok_container) &&
           ok_array_of_objects(get(s, "initContainers"), ok_container) &&
           ok_array_of_objects(get(s, "readinessGates"), ok_gate) && ok_obj(aff) && ok_obj(na) &&
           ok_obj(get(na, "requiredDuringSchedulingIgnoredDuringExecution")) &&
           ok_str(get(s, "nodeName"));
}

static bool ok_object(json_t *o)
{
    json_t *m = get(o, "metadata"), *s = get(o, "spec"), *st = get(s, "strategy"),
           *ru = get(st, "rollingUpdate"), *t = get(s, "template"), *tm = get(t, "metadata");
    return ok_obj(o) && ok_str(get(o, "kind")) && ok_str(get(o, "apiVersion")) && ok_obj(m) &&
           ok_str(get(m, "name")) && ok_str(get(m, "generateName")) &&
           ok_str(get(m, "namespace")) && ok_str(get(m, "uid")) && ok_kvs(get(m, "labels")) &&
           ok_kvs(get(m, "annotations")) && ok_strs(get(m, "finalizers")) &&
           ok_str(get(m, "deletionTimestamp")) &&
           ok_array_of_objects(get(m, "ownerReferences"), ok_owner) && ok_podspec(s) &&
           ok_int(get(s, "replicas")) && ok_int(get(s, "revisionHistoryLimit")) &&
           ok_int(get(s, "progressDeadlineSeconds")) && ok_int(get(s, "minReadySeconds")) &&
           ok_obj(st) && ok_str(get(st, "type")) && ok_obj(ru) && ok_intstr(get(ru, "maxSurge")) &&
           ok_intstr(get(ru, "maxUnavailable")) && ok_obj(t) && ok_obj(tm) &&
           ok_kvs(get(tm, "labels")) && ok_kvs(get(tm, "annotations")) &&
           ok_podspec(get(t, "spec"));
}

/* CG_OK or CG_EINVAL, by the rules the decoder documents. */
static enum cg_status ref_verdict(json_t *root)
{
    if (!json_is_object(root))
        return CG_EINVAL;
    json_t *r = get(root, "request"), *u = get(r, "userInfo");
    if (!json_is_string(get(root, "apiVersion")) ||
        strcmp(json_string_value(get(root, "apiVersion")), "admission.k8s.io/v1") != 0)
        return CG_EINVAL;
    if (!json_is_string(get(root, "kind")) ||
        strcmp(json_string_value(get(root, "kind")), "AdmissionReview") != 0)
        return CG_EINVAL;
    if (!json_is_object(r) || !json_is_string(get(r, "uid")) ||
        json_string_length(get(r, "uid")) == 0)
        return CG_EINVAL;
    bool ok = ok_gv(get(r, "kind"), "kind") && ok_gv(get(r, "resource"), "resource") &&
              ok_gv(get(r, "requestKind"), "kind") && ok_str(get(r, "subResource")) &&
              ok_str(get(r, "name")) && ok_str(get(r, "namespace")) &&
              ok_str(get(r, "operation")) && ok_obj(u) && ok_str(get(u, "username")) &&
              ok_str(get(u, "uid")) && ok_strs(get(u, "groups")) && ok_bool(get(r, "dryRun")) &&
              ok_object(get(r, "object")) && ok_object(get(r, "oldObject"));
    return ok ? CG_OK : CG_EINVAL;
}

/* ---- comparison of the view with the DOM ---- */

static const char *current_file;

static void cmp_str(struct cg_str got, json_t *v, const char *what)
{
    const char *want = json_is_string(v) ? json_string_value(v) : "";
    size_t wn = json_is_string(v) ? json_string_length(v) : 0;
    if (got.n != wn || (wn > 0 && memcmp(got.p, want, wn) != 0))
        fail_msg("%s: %s is \"%.*s\", jansson has \"%s\"", current_file, what, (int)got.n,
                 got.p ? got.p : "", want);
}

static void cmp_bool(bool got, json_t *v, const char *what)
{
    if (got != json_is_true(v))
        fail_msg("%s: %s is %d, jansson disagrees", current_file, what, got);
}

static void cmp_int(struct cg_opt_int got, json_t *v, const char *what)
{
    if (got.present != json_is_integer(v) ||
        (got.present && got.v != (int64_t)json_integer_value(v)))
        fail_msg("%s: %s differs", current_file, what);
}

static void cmp_intstr(struct cg_intstr got, json_t *v, const char *what)
{
    if (json_is_string(v)) {
        assert_true(got.present && got.is_string);
        cmp_str(got.s, v, what);
    } else if (json_is_integer(v)) {
        assert_true(got.present && !got.is_string);
        assert_true(got.i == (int64_t)json_integer_value(v));
    } else {
        if (got.present)
            fail_msg("%s: %s present but null/absent in jansson", current_file, what);
    }
}

static void cmp_strs(struct cg_strs got, json_t *v, const char *what)
{
    cmp_bool(got.present, v != NULL ? json_true() : json_false(), what);
    assert_int_equal(got.n, json_array_size(v));
    for (size_t i = 0; i < got.n; i++)
        cmp_str(got.items[i], json_array_get(v, i), what);
}

static void cmp_kvs_full(struct cg_kvs got, json_t *v, const char *what)
{
    if (got.present != (v != NULL))
        fail_msg("%s: %s presence differs", current_file, what);
    assert_int_equal(got.n, json_object_size(v));
    size_t i = 0;
    const char *k;
    json_t *e;
    if (!json_is_object(v))
        return;
    json_object_foreach(v, k, e)
    {
        size_t kn = strlen(k);
        if (got.items[i].key.n != kn || memcmp(got.items[i].key.p, k, kn) != 0)
            fail_msg("%s: %s key %zu is \"%.*s\", jansson has \"%s\"", current_file, what, i,
                     (int)got.items[i].key.n, got.items[i].key.p, k);
        cmp_str(got.items[i].value, e, what);
        i++;
    }
}

static void cmp_containers(struct cg_containers got, json_t *v, const char *what)
{
    assert_int_equal(got.n, json_array_size(v));
    for (size_t i = 0; i < got.n; i++) {
        json_t *c = json_array_get(v, i);
        cmp_str(got.items[i].name, get(c, "name"), what);
        json_t *p = get(c, "readinessProbe");
        cmp_bool(got.items[i].has_readiness_probe,
                 p != NULL && !json_is_null(p) ? json_true() : json_false(), what);
    }
}

static void cmp_podspec(const struct cg_pod_spec *ps, json_t *s)
{
    bool present = json_is_object(s);
    cmp_bool(ps->present, present ? json_true() : json_false(), "pod.present");
    cmp_containers(ps->containers, get(s, "containers"), "containers");
    cmp_containers(ps->init_containers, get(s, "initContainers"), "initContainers");
    json_t *g = get(s, "readinessGates");
    if (ps->readiness_gates.present != (g != NULL))
        fail_msg("%s: readinessGates presence differs", current_file);
    assert_int_equal(ps->readiness_gates.n, json_array_size(g));
    for (size_t i = 0; i < ps->readiness_gates.n; i++)
        cmp_str(ps->readiness_gates.items[i], get(json_array_get(g, i), "conditionType"),
                "readinessGates");
    json_t *aff = get(s, "affinity"), *na = get(aff, "nodeAffinity"),
           *req = get(na, "requiredDuringSchedulingIgnoredDuringExecution");
    cmp_bool(ps->has_affinity, json_is_object(aff) ? json_true() : json_false(), "affinity");
    cmp_bool(ps->has_node_affinity, json_is_object(na) ? json_true() : json_false(),
             "nodeAffinity");
    cmp_bool(ps->has_required_node_affinity, json_is_object(req) ? json_true() : json_false(),
             "required node affinity");
    cmp_str(ps->node_name, get(s, "nodeName"), "nodeName");
}

static void cmp_owner(const struct cg_owner_ref *got, json_t *refs)
{
    json_t *pick = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(refs, i, e)
    {
        if (pick == NULL ||
            (!json_is_true(get(pick, "controller")) && json_is_true(get(e, "controller"))))
            pick = e;
    }
    cmp_bool(got->present, pick != NULL ? json_true() : json_false(), "owner.present");
    if (pick == NULL)
        return;
    cmp_str(got->api_version, get(pick, "apiVersion"), "owner.apiVersion");
    cmp_str(got->kind, get(pick, "kind"), "owner.kind");
    cmp_str(got->name, get(pick, "name"), "owner.name");
    cmp_str(got->uid, get(pick, "uid"), "owner.uid");
    cmp_bool(got->controller, get(pick, "controller"), "owner.controller");
}

static void cmp_object(const struct cg_object *o, json_t *j, json_t *req_kind)
{
    cmp_bool(o->present, json_is_object(j) ? json_true() : json_false(), "object.present");
    if (!json_is_object(j))
        return;
    json_t *m = get(j, "metadata"), *s = get(j, "spec"), *st = get(s, "strategy"),
           *ru = get(st, "rollingUpdate"), *t = get(s, "template"), *tm = get(t, "metadata");
    cmp_str(o->kind, get(j, "kind"), "kind");
    cmp_str(o->api_version, get(j, "apiVersion"), "apiVersion");
    cmp_bool(o->has_metadata, json_is_object(m) ? json_true() : json_false(), "has_metadata");
    cmp_str(o->name, get(m, "name"), "metadata.name");
    cmp_str(o->generate_name, get(m, "generateName"), "metadata.generateName");
    cmp_str(o->namespace_, get(m, "namespace"), "metadata.namespace");
    cmp_str(o->uid, get(m, "uid"), "metadata.uid");
    cmp_kvs_full(o->labels, get(m, "labels"), "labels");
    cmp_kvs_full(o->annotations, get(m, "annotations"), "annotations");
    cmp_strs(o->finalizers, get(m, "finalizers"), "finalizers");
    cmp_bool(o->deletion_timestamp_set,
             json_is_string(get(m, "deletionTimestamp")) ? json_true() : json_false(),
             "deletionTimestamp");
    cmp_owner(&o->owner, get(m, "ownerReferences"));
    const char *kind = json_is_string(get(j, "kind")) && json_string_length(get(j, "kind"))
                           ? json_string_value(get(j, "kind"))
                       : json_is_string(req_kind) ? json_string_value(req_kind)
                                                  : "";
    if (strcmp(kind, "Pod") == 0) {
        cmp_podspec(&o->pod, s);
        assert_false(o->has_spec || o->has_template || o->replicas.present);
        return;
    }
    cmp_bool(o->has_spec, json_is_object(s) ? json_true() : json_false(), "has_spec");
    cmp_int(o->replicas, get(s, "replicas"), "replicas");
    cmp_int(o->revision_history_limit, get(s, "revisionHistoryLimit"), "revisionHistoryLimit");
    cmp_int(o->progress_deadline_seconds, get(s, "progressDeadlineSeconds"),
            "progressDeadlineSeconds");
    cmp_int(o->min_ready_seconds, get(s, "minReadySeconds"), "minReadySeconds");
    cmp_bool(o->has_strategy, json_is_object(st) ? json_true() : json_false(), "has_strategy");
    cmp_str(o->strategy_type, get(st, "type"), "strategy.type");
    cmp_bool(o->has_rolling_update, json_is_object(ru) ? json_true() : json_false(),
             "has_rolling_update");
    cmp_intstr(o->max_surge, get(ru, "maxSurge"), "maxSurge");
    cmp_intstr(o->max_unavailable, get(ru, "maxUnavailable"), "maxUnavailable");
    cmp_bool(o->has_template, json_is_object(t) ? json_true() : json_false(), "has_template");
    cmp_kvs_full(o->template_labels, get(tm, "labels"), "template.labels");
    cmp_kvs_full(o->template_annotations, get(tm, "annotations"), "template.annotations");
    cmp_podspec(&o->pod, get(t, "spec"));
}

/* The template digest agrees with the digest of jansson's compact re-encoding whenever the
 * body holds the template in that very form (compact, no escapes jansson would rewrite). */
static void cmp_digest(uint64_t got, json_t *obj, const char *body, size_t len)
{
    json_t *t = get(get(obj, "spec"), "template");
    if (!json_is_object(t))
        return;
    char *dump = json_dumps(t, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t dn = strlen(dump);
    /* search the body (not NUL-terminated) for the compact text */
    bool found = false;
    for (size_t i = 0; !found && i + dn <= len; i++)
        found = body[i] == dump[0] && memcmp(body + i, dump, dn) == 0;
    if (found && got != cg_admission_digest_json(dump, dn))
        fail_msg("%s: template digest differs from the digest of the template's text",
                 current_file);
    jfree(dump);
}

static int checked_views, skipped_known;

static void diff_one(const char *name, const char *body, size_t len)
{
    current_file = name;
    struct cg_arena arena;
    cg_arena_init(&arena, 4096);
    struct cg_admission_request req;
    struct cg_err err;
    char *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    enum cg_status st = cg_admission_decode(copy, len, &arena, &req, &err);

    json_error_t jerr;
    json_t *root = json_loadb(
        body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_PRESERVE_ORDER,
        &jerr);
    if (root == NULL) {
        if (st != CG_EPARSE) {
            if (strstr(jerr.text, "too big") || strstr(jerr.text, "overflow") ||
                strstr(jerr.text, "NUL byte in object key")) {
                print_message("known difference in %s: jansson: %s\n", name, jerr.text);
                skipped_known++;
                goto out;
            }
            fail_msg("%s: jansson rejects (%s at %d) but decode gives %d (%s)", name, jerr.text,
                     jerr.position, st, err.msg);
        }
        goto out;
    }
    if (st == CG_EPARSE) {
        size_t at = 0;
        bool nul_quirk =
            sscanf(err.msg, "invalid JSON at byte %zu", &at) == 1 && at < len && body[at] == 0;
        if (strstr(err.msg, "nesting deeper than") || nul_quirk) {
            print_message("known difference in %s: %s\n", name, err.msg);
            skipped_known++;
            json_decref(root);
            goto out;
        }
        fail_msg("%s: jansson accepts but decode says %s", name, err.msg);
    }
    enum cg_status want = ref_verdict(root);
    if (st != want)
        fail_msg("%s: decode gives %d (%s), the reference %d", name, st, err.msg, want);
    if (st == CG_OK) {
        json_t *r = get(root, "request"), *u = get(r, "userInfo"), *k = get(r, "kind");
        cmp_str(req.api_version, get(root, "apiVersion"), "apiVersion");
        cmp_str(req.uid, get(r, "uid"), "uid");
        cmp_str(req.kind.group, get(k, "group"), "kind.group");
        cmp_str(req.kind.version, get(k, "version"), "kind.version");
        cmp_str(req.kind.kind, get(k, "kind"), "kind.kind");
        cmp_str(req.resource.group, get(get(r, "resource"), "group"), "resource.group");
        cmp_str(req.resource.version, get(get(r, "resource"), "version"), "resource.version");
        cmp_str(req.resource.resource, get(get(r, "resource"), "resource"), "resource.resource");
        cmp_str(req.sub_resource, get(r, "subResource"), "subResource");
        cmp_str(req.request_kind.kind, get(get(r, "requestKind"), "kind"), "requestKind.kind");
        cmp_str(req.name, get(r, "name"), "name");
        cmp_str(req.namespace_, get(r, "namespace"), "namespace");
        cmp_str(req.operation_raw, get(r, "operation"), "operation");
        cmp_str(req.username, get(u, "username"), "username");
        cmp_str(req.user_uid, get(u, "uid"), "userInfo.uid");
        cmp_strs(req.groups, get(u, "groups"), "groups");
        cmp_bool(req.dry_run, get(r, "dryRun"), "dryRun");
        cmp_object(&req.object, get(r, "object"), get(k, "kind"));
        cmp_object(&req.old_object, get(r, "oldObject"), get(k, "kind"));
        cmp_digest(req.object.template_digest, get(r, "object"), body, len);
        cmp_digest(req.old_object.template_digest, get(r, "oldObject"), body, len);
        /* same template text <=> same digest */
        json_t *t1 = get(get(get(r, "object"), "spec"), "template"),
               *t2 = get(get(get(r, "oldObject"), "spec"), "template");
        if (json_is_object(t1) && json_is_object(t2)) {
            char *a = json_dumps(t1, JSON_COMPACT | JSON_PRESERVE_ORDER);
            char *b = json_dumps(t2, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if ((strcmp(a, b) == 0) !=
                (req.object.template_digest == req.old_object.template_digest))
                fail_msg("%s: template digests disagree with the templates", name);
            jfree(a);
            jfree(b);
        }
        checked_views++;
    }
    json_decref(root);
out:
    free(copy);
    cg_arena_dispose(&arena);
}

static void diff_dir(const char *dir, int *count)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        fail_msg("cannot open %s", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        size_t n;
        char *body = cg_test_read_file(path, &n);
        diff_one(e->d_name, body, n);
        free(body);
        (*count)++;
    }
    closedir(d);
}

static void test_fixtures(void **state)
{
    (void)state;
    int n = 0;
    checked_views = 0;
    diff_dir(CG_FIXTURES "/kube-apiserver-1.26", &n);
    assert_true(n >= 10);
    assert_int_equal(checked_views, 9); /* all but http-request-meta.json are reviews */
}

static void test_corpus(void **state)
{
    (void)state;
    int n = 0;
    checked_views = 0;
    skipped_known = 0;
    diff_dir(CG_SOURCE_DIR "/tests/fuzz/corpus", &n);
    print_message("corpus: %d files, %d views compared field by field, %d known differences\n", n,
                  checked_views, skipped_known);
    assert_true(n >= 60);
    assert_true(checked_views >= 20);
    assert_true(skipped_known <= 4);
}

/* Mutations of a real review: every byte replaced by a few interesting bytes; the verdicts
 * must keep agreeing with jansson. */
static void test_mutations(void **state)
{
    (void)state;
    size_t n;
    char *body = cg_test_read_fixture("kube-apiserver-1.26/Pod-CREATE-from-replicaset.json", &n);
    static const char subst[] = {'"', '\\', '{', '}', '[', ']', ',', ':', '0', 'x', ' '};
    char *m = malloc(n);
    int cases = 0;
    for (size_t i = 0; i < n; i += 3) {
        for (size_t s = 0; s < sizeof(subst); s++) {
            memcpy(m, body, n);
            if (m[i] == subst[s])
                continue;
            m[i] = subst[s];
            char name[64];
            snprintf(name, sizeof(name), "mutation@%zu=%c", i, subst[s]);
            diff_one(name, m, n);
            cases++;
        }
    }
    print_message("mutations: %d cases\n", cases);
    free(m);
    free(body);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
