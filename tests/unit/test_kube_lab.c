/* The API client against a real kube-apiserver (../shared/lab, or CELLGATE_E2E_KUBECONFIG):
 * paginated LIST, a WATCH that sees ADDED, MODIFIED and DELETED, the three patch types, a
 * status subresource patch, an Event, and failures the caller can act on (404, 409, 422).
 * Everything happens in a namespace of its own, deleted at the end. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "kube/kube.h"
#include "test_support.h"

static struct cg_kube_config *cfg;
static struct cg_kube_client *client;
static char ns[64];

static enum cg_status req(enum cg_kube_method m, const char *path, const char *body,
                          struct cg_kube_response *resp)
{
    struct cg_err err;
    cg_err_clear(&err);
    return cg_kube_request(client, m, path, body, body ? strlen(body) : 0, resp, &err);
}

static int setup(void **state)
{
    const char *kc = getenv("CELLGATE_E2E_KUBECONFIG");
    if (kc == NULL || *kc == '\0')
        kc = "/var/tmp/cellgate-lab/admin.kubeconfig";
    struct cg_err err;
    cg_err_clear(&err);
    if (access(kc, R_OK) != 0 || cg_kube_config_load(kc, NULL, 0, &cfg, &err) != CG_OK ||
        cg_kube_client_create(cfg, NULL, &client, &err) != CG_OK)
        return 0; /* the tests skip */
    snprintf(ns, sizeof(ns), "cg-kube-lab-%d", (int)getpid());
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    char body[256];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
             "{\"name\":\"%s\"}}",
             ns);
    if (req(CG_KUBE_POST, "/api/v1/namespaces", body, &resp) != CG_OK) {
        cg_kube_client_destroy(client); /* no cluster answers: skip */
        client = NULL;
    }
    cg_kube_response_dispose(&resp);
    return 0;
}

static int teardown(void **state)
{
    if (client != NULL) {
        struct cg_kube_response resp;
        cg_kube_response_init(&resp);
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
        req(CG_KUBE_DELETE, path, NULL, &resp);
        cg_kube_response_dispose(&resp);
    }
    cg_kube_client_destroy(client);
    cg_kube_config_destroy(cfg);
    return 0;
}

#define NEED_CLUSTER()                                                                             \
    do {                                                                                           \
        if (client == NULL)                                                                        \
            CG_TEST_SKIP("no cluster: set CELLGATE_E2E_KUBECONFIG or start "                       \
                         "../shared/lab/cluster up");                                              \
    } while (0)

static void create_configmap(const char *name, const char *value)
{
    char path[128], body[512];
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
             "\"labels\":{\"suite\":\"kube-lab\"}},\"data\":{\"v\":\"%s\"}}",
             name, value);
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    assert_int_equal(req(CG_KUBE_POST, path, body, &resp), CG_OK);
    cg_kube_response_dispose(&resp);
}

static bool count_item(void *ud, const char *json, size_t len)
{
    json_t *v = json_loadb(json, len, 0, NULL);
    assert_non_null(v);
    json_decref(v);
    (*(int *)ud)++;
    return true;
}

/* 7 objects listed 2 per page: 4 pages, every item once. */
static void list_pages(void **state)
{
    NEED_CLUSTER();
    for (int i = 0; i < 7; i++) {
        char name[32];
        snprintf(name, sizeof(name), "cm-%d", i);
        create_configmap(name, "x");
    }
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
    struct cg_kube_list_options lo = {.label_selector = "suite=kube-lab", .limit = 2};
    struct cg_kube_list_result res;
    struct cg_err err;
    int n = 0;
    assert_int_equal(cg_kube_list(client, path, &lo, count_item, &n, &res, NULL, &err), CG_OK);
    assert_int_equal(n, 7);
    assert_int_equal(res.pages, 4);
    assert_true(res.resource_version[0] != '\0');
}

struct seen {
    int added, modified, deleted;
};

static bool on_event(void *ud, enum cg_kube_watch_type type, const char *json, size_t len)
{
    struct seen *s = ud;
    if (strstr(json, "\"watched\"") == NULL)
        return true; /* another object of the namespace */
    s->added += type == CG_KUBE_ADDED;
    s->modified += type == CG_KUBE_MODIFIED;
    s->deleted += type == CG_KUBE_DELETED;
    return s->deleted == 0; /* end the watch once the delete arrived */
}

struct watcher {
    char rv[CG_KUBE_RV_MAX];
    struct seen seen;
    enum cg_status st;
};

static void *watch_main(void *arg)
{
    struct watcher *w = arg;
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
    struct cg_kube_watch_options wo = {.timeout_seconds = 20};
    struct cg_err err;
    w->st = cg_kube_watch(client, path, &wo, w->rv, on_event, &w->seen, NULL, NULL, &err);
    return NULL;
}

/* A watch from the list's resourceVersion sees the object come, change (by each patch type)
 * and go; a patch of an object that is not there is 404, a create of one that is, 409. */
static void watch_and_patches(void **state)
{
    NEED_CLUSTER();
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
    struct watcher w;
    memset(&w, 0, sizeof(w));
    struct cg_kube_list_result res;
    struct cg_err err;
    int n = 0;
    assert_int_equal(cg_kube_list(client, path, NULL, count_item, &n, &res, NULL, &err), CG_OK);
    memcpy(w.rv, res.resource_version, sizeof(w.rv));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, watch_main, &w), 0);
    usleep(300000);
    create_configmap("watched", "1");
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/watched", ns);
    assert_int_equal(req(CG_KUBE_PATCH_MERGE, path, "{\"data\":{\"v\":\"2\"}}", &resp), CG_OK);
    assert_int_equal(req(CG_KUBE_PATCH_JSON, path,
                         "[{\"op\":\"replace\",\"path\":\"/data/v\",\"value\":\"3\"}]", &resp),
                     CG_OK);
    assert_int_equal(
        req(CG_KUBE_PATCH_STRATEGIC, path, "{\"metadata\":{\"labels\":{\"s\":\"4\"}}}", &resp),
        CG_OK);
    assert_non_null(strstr(resp.body.data, "\"v\":\"3\""));
    assert_int_equal(req(CG_KUBE_DELETE, path, NULL, &resp), CG_OK);
    pthread_join(t, NULL);
    assert_int_equal(w.st, CG_OK);
    assert_int_equal(w.seen.added, 1);
    assert_int_equal(w.seen.modified, 3);
    assert_int_equal(w.seen.deleted, 1);
    /* Failures say what to do about them. */
    assert_int_equal(req(CG_KUBE_PATCH_MERGE, path, "{\"data\":{}}", &resp), CG_ENOTFOUND);
    assert_int_equal(resp.reason, CG_KUBE_NOT_FOUND);
    create_configmap("twice", "1");
    char body[256];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"twice\"}}");
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
    assert_int_equal(req(CG_KUBE_POST, path, body, &resp), CG_EINVAL);
    assert_int_equal(resp.reason, CG_KUBE_CONFLICT);
    assert_int_equal(resp.code, 409);
    cg_kube_response_dispose(&resp);
}

/* A pod's status subresource takes a condition (as the controller's traffic gate does), and an
 * Event about it is created. */
static void status_and_event(void **state)
{
    NEED_CLUSTER();
    char path[160], body[1024];
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"gated\"},"
             "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}],\"readinessGates\":"
             "[{\"conditionType\":\"cellgate.io/traffic-ready\"}],"
             "\"nodeSelector\":{\"no-such-node\":\"x\"}}}");
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    assert_int_equal(req(CG_KUBE_POST, path, body, &resp), CG_OK);
    json_t *pod = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    char uid[64];
    snprintf(uid, sizeof(uid), "%s",
             json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid")));
    json_decref(pod);
    struct cg_buf p;
    cg_buf_init(&p, 0);
    assert_int_equal(cg_kube_path(&p, "v1", ns, "pods", "gated", "status"), CG_OK);
    cg_buf_append_char(&p, '\0');
    assert_int_equal(req(CG_KUBE_PATCH_STRATEGIC, p.data,
                         "{\"status\":{\"conditions\":[{\"type\":\"cellgate.io/traffic-ready\","
                         "\"status\":\"True\"}]}}",
                         &resp),
                     CG_OK);
    assert_non_null(strstr(resp.body.data, "cellgate.io/traffic-ready"));
    cg_buf_dispose(&p);

    struct cg_kube_event_spec ev = {
        .object = {"v1", "Pod", ns, "gated", uid},
        .type = "Normal",
        .reason = "TrafficOpened",
        .message = "the traffic gate of gated is open",
        .component = "cellgate-test",
    };
    struct cg_err err;
    assert_int_equal(cg_kube_event_create(client, &ev, &resp, &err), CG_OK);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
    assert_int_equal(req(CG_KUBE_GET, path, NULL, &resp), CG_OK);
    assert_non_null(strstr(resp.body.data, "TrafficOpened"));
    /* An invalid object is refused with the apiserver's reason (422). */
    assert_int_equal(req(CG_KUBE_POST, path, "{\"apiVersion\":\"v1\",\"kind\":\"Event\"}", &resp),
                     CG_EINVAL);
    assert_int_equal(resp.reason, CG_KUBE_REJECTED);
    cg_kube_response_dispose(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_pages),
        cmocka_unit_test(watch_and_patches),
        cmocka_unit_test(status_and_event),
    };
    return cg_test_run("kube lab", tests, sizeof(tests) / sizeof(tests[0]), setup, teardown);
}
