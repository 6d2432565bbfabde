/* Leases and the informer against a REAL API server (the lab's Kubernetes 1.26, or the
 * cluster of $CELLGATE_E2E_KUBECONFIG, found by cg_test_cluster_kubeconfig), in a namespace of
 * its own, created here and deleted at the end: a Lease created, taken over at the
 * resourceVersion read, and a renewal from a stale read refused with 409; an informer on the
 * namespace's pods that syncs and sees a pod created after it, whose status subresource is
 * patched and which gets an Event. (test_kube_lab.c covers LIST pages, WATCH and the patch
 * types.) Without a cluster every test skips, saying how to get one. */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "kube/kube.h"
#include "test_support.h"

struct lab {
    struct cg_kube_client *c;
    char ns[64];
    struct cg_kube_response resp;
};

static void must(enum cg_status st, const struct cg_err *err, const char *what)
{
    if (st != CG_OK)
        fail_msg("%s: %s", what, err->msg);
}

static void request(struct lab *l, enum cg_kube_method m, const char *path, const char *body,
                    const char *what)
{
    struct cg_err err;
    must(cg_kube_request(l->c, m, path, body, body ? strlen(body) : 0, &l->resp, &err), &err, what);
}

static int setup(void **state)
{
    const char *kc = cg_test_cluster_kubeconfig();
    if (kc == NULL) {
        *state = NULL;
        return 0;
    }
    struct lab *l = calloc(1, sizeof(*l));
    struct cg_kube_config *cfg = NULL;
    struct cg_err err;
    cg_kube_response_init(&l->resp);
    must(cg_kube_config_load(kc, NULL, 0, &cfg, &err), &err, "kubeconfig");
    must(cg_kube_client_create(cfg, NULL, &l->c, &err), &err, "client");
    cg_kube_config_destroy(cfg);
    snprintf(l->ns, sizeof(l->ns), "cg-kube-lease-%ld-%d", (long)time(NULL) % 100000,
             (int)getpid());
    char body[256];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
             l->ns);
    request(l, CG_KUBE_POST, "/api/v1/namespaces", body, "create the namespace");
    *state = l;
    return 0;
}

static int teardown(void **state)
{
    struct lab *l = *state;
    if (l == NULL)
        return 0;
    char path[128];
    struct cg_err err;
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s", l->ns);
    if (cg_kube_request(l->c, CG_KUBE_DELETE, path, NULL, 0, &l->resp, &err) != CG_OK)
        print_message("could not delete namespace %s: %s\n", l->ns, err.msg);
    cg_kube_response_dispose(&l->resp);
    cg_kube_client_destroy(l->c);
    free(l);
    return 0;
}

#define NEED_CLUSTER(l)                                                                            \
    do {                                                                                           \
        if ((l) == NULL) {                                                                         \
            CG_TEST_SKIP(CG_TEST_KUBE_SKIP_MSG);                                                   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void path_of(struct lab *l, char *out, size_t cap, const char *api, const char *resource,
                    const char *name, const char *sub)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_kube_path(&b, api, l->ns, resource, name, sub), CG_OK);
    snprintf(out, cap, "%s", b.data);
    cg_buf_dispose(&b);
}

/* A string at a JSON path of the last response body ("metadata", "uid"), or "" (static). */
static const char *body_str(struct lab *l, const char *a, const char *b)
{
    static char out[256];
    json_error_t jerr;
    json_t *doc = json_loadb(l->resp.body.data, l->resp.body.len, 0, &jerr);
    const char *v = json_string_value(json_object_get(json_object_get(doc, a), b));
    snprintf(out, sizeof(out), "%s", v ? v : "");
    json_decref(doc);
    return out;
}

static bool collect(void *ud, const char *json, size_t len)
{
    (void)json;
    (void)len;
    (*(size_t *)ud)++;
    return true;
}

struct cmap_count {
    pthread_mutex_t lock;
    int objects, begins, ends;
    bool saw_pod;
};

static void i_begin(void *ud)
{
    struct cmap_count *m = ud;
    pthread_mutex_lock(&m->lock);
    m->begins++;
    pthread_mutex_unlock(&m->lock);
}

static void i_object(void *ud, enum cg_kube_watch_type type, const char *json, size_t len)
{
    struct cmap_count *m = ud;
    pthread_mutex_lock(&m->lock);
    m->objects++;
    if (type != CG_KUBE_DELETED && memmem(json, len, "\"name\":\"web-0\"", 14) != NULL)
        m->saw_pod = true;
    pthread_mutex_unlock(&m->lock);
}

static void i_end(void *ud)
{
    struct cmap_count *m = ud;
    pthread_mutex_lock(&m->lock);
    m->ends++;
    pthread_mutex_unlock(&m->lock);
}

static void test_pod_status_event_informer(void **state)
{
    struct lab *l = *state;
    NEED_CLUSTER(l);
    struct cg_err err;
    char path[256];

    /* An informer on the namespace's pods, started before the pod exists. */
    struct cmap_count m = {.lock = PTHREAD_MUTEX_INITIALIZER};
    path_of(l, path, sizeof(path), "v1", "pods", NULL, NULL);
    struct cg_kube_informer_config ic = {.client = l->c,
                                         .path = path,
                                         .watch_timeout_seconds = 10,
                                         .handlers = {i_begin, i_object, i_end, NULL},
                                         .ud = &m};
    struct cg_kube_informer *inf = NULL;
    must(cg_kube_informer_create(&ic, &inf, &err), &err, "informer");
    assert_true(cg_kube_informer_wait_synced(inf, 10000));

    request(l, CG_KUBE_POST, path,
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-0\"},"
            "\"spec\":{\"readinessGates\":[{\"conditionType\":\"cellgate.io/traffic-ready\"}],"
            "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\",\"readinessProbe\":{\"exec\":"
            "{\"command\":[\"true\"]}}}]}}",
            "create a pod");
    char uid[64];
    snprintf(uid, sizeof(uid), "%s", body_str(l, "metadata", "uid"));

    /* The status subresource: the traffic gate's condition, set by a strategic patch (conditions
     * merge by type, so the kubelet's own stay). */
    path_of(l, path, sizeof(path), "v1", "pods", "web-0", "status");
    request(l, CG_KUBE_PATCH_STRATEGIC, path,
            "{\"status\":{\"conditions\":[{\"type\":\"cellgate.io/traffic-ready\",\"status\":"
            "\"False\",\"reason\":\"Held\"}]}}",
            "status patch");
    assert_non_null(strstr(l->resp.body.data, "\"type\":\"cellgate.io/traffic-ready\""));

    /* An Event on the pod. */
    struct cg_kube_event_spec ev = {
        .object =
            {.api_version = "v1", .kind = "Pod", .namespace_ = l->ns, .name = "web-0", .uid = uid},
        .type = "Normal",
        .reason = "TrafficHeld",
        .message = "waiting for group 0",
        .component = "cellgate-controller",
    };
    must(cg_kube_event_create(l->c, &ev, &l->resp, &err), &err, "event");
    assert_int_equal(l->resp.code, 201);
    path_of(l, path, sizeof(path), "v1", "events", NULL, NULL);
    size_t n = 0;
    struct cg_kube_list_options lo = {.field_selector = "involvedObject.name=web-0,reason="
                                                        "TrafficHeld"};
    must(cg_kube_list(l->c, path, &lo, collect, &n, NULL, NULL, &err), &err, "list events");
    assert_int_equal(n, 1);

    /* The informer saw the pod. */
    bool saw = false;
    for (int i = 0; i < 500 && !saw; i++) {
        pthread_mutex_lock(&m.lock);
        saw = m.saw_pod;
        pthread_mutex_unlock(&m.lock);
        if (!saw)
            usleep(10000);
    }
    assert_true(saw);
    struct cg_kube_informer_stats st;
    cg_kube_informer_stats(inf, &st);
    assert_true(st.synced && st.lists == 1 && st.events >= 1);
    cg_kube_informer_destroy(inf);
}

static void test_lease(void **state)
{
    struct lab *l = *state;
    NEED_CLUSTER(l);
    struct cg_err err;
    struct cg_kube_lease a = {.duration_seconds = 15, .transitions = 0}, got, b, stale;
    snprintf(a.holder, sizeof(a.holder), "controller-a");
    a.acquire_us = a.renew_us = (int64_t)time(NULL) * 1000000 + 123456;

    assert_int_equal(cg_kube_lease_get(l->c, l->ns, "cellgate-leader", &got, &l->resp, &err),
                     CG_ENOTFOUND);
    must(cg_kube_lease_create(l->c, l->ns, "cellgate-leader", &a, &got, &l->resp, &err), &err,
         "create lease");
    assert_string_equal(got.holder, "controller-a");
    assert_int_equal(got.duration_seconds, 15);
    assert_true(got.renew_us == a.renew_us);
    stale = got;

    /* A second create: 409 AlreadyExists. */
    assert_int_equal(cg_kube_lease_create(l->c, l->ns, "cellgate-leader", &a, &b, &l->resp, &err),
                     CG_EINVAL);
    assert_int_equal(l->resp.reason, CG_KUBE_CONFLICT);

    /* b takes over at the resourceVersion it read. */
    b = got;
    snprintf(b.holder, sizeof(b.holder), "controller-b");
    b.transitions = 1;
    b.renew_us += 1000000;
    must(cg_kube_lease_update(l->c, l->ns, "cellgate-leader", &b, &b, &l->resp, &err), &err,
         "update lease");
    assert_string_equal(b.holder, "controller-b");
    assert_string_not_equal(b.resource_version, stale.resource_version);

    /* a renews from its stale read: conflict, and the lease stays b's. */
    stale.renew_us += 2000000;
    assert_int_equal(
        cg_kube_lease_update(l->c, l->ns, "cellgate-leader", &stale, &got, &l->resp, &err),
        CG_EINVAL);
    assert_int_equal(l->resp.reason, CG_KUBE_CONFLICT);
    assert_int_equal(l->resp.code, 409);
    print_message("stale renew: %s\n", err.msg);
    must(cg_kube_lease_get(l->c, l->ns, "cellgate-leader", &got, &l->resp, &err), &err,
         "get lease");
    assert_string_equal(got.holder, "controller-b");
    assert_int_equal(got.transitions, 1);
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod_status_event_informer),
        cmocka_unit_test(test_lease),
    };
    return cg_test_run("kube_lease", tests, sizeof(tests) / sizeof(tests[0]), setup, teardown);
}
