#include "test_e2e.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

#define WEBHOOK_BIN CG_BINARY_DIR "/cellgate-webhook"

double cg_e2e_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cg_e2e_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int vsh(char **out, const char *fmt, va_list ap)
{
    char cmd[8192];
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    char full[8300];
    snprintf(full, sizeof(full), "%s 2>&1", cmd);
    FILE *f = popen(full, "r");
    assert_non_null(f);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    int status = pclose(f);
    if (out != NULL)
        *out = buf;
    else
        free(buf);
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int cg_e2e_sh(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vsh(out, fmt, ap);
    va_end(ap);
    return rc;
}

void cg_e2e_sh_ok(const char *what, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char *out = NULL;
    int rc = cg_e2e_sh(&out, "%s", cmd);
    if (rc != 0)
        fail_msg("%s failed (exit %d): %s\n%s", what, rc, cmd, out);
    free(out);
}

json_t *cg_e2e_kget(const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    char *out = NULL;
    int rc = cg_e2e_sh(&out, "kubectl get %s -o json", args);
    json_t *doc = NULL;
    if (rc == 0) {
        json_error_t jerr;
        /* kubectl may print a version-skew warning before the JSON. */
        const char *brace = strchr(out, '{');
        doc = brace ? json_loads(brace, 0, &jerr) : NULL;
    }
    free(out);
    return doc;
}

const char *cg_e2e_str_at(const json_t *v, const char *const *keys)
{
    for (; *keys != NULL && v != NULL; keys++)
        v = json_object_get(v, *keys);
    return json_string_value(v);
}

bool cg_e2e_find_cluster(char *out, size_t n)
{
    const char *path = cg_test_cluster_kubeconfig();
    if (path == NULL)
        return false;
    snprintf(out, n, "%s", path);
    setenv("KUBECONFIG", out, 1);
    return cg_e2e_sh(NULL, "kubectl get --raw /readyz --request-timeout=5s") == 0;
}

int cg_e2e_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

void cg_e2e_service_account(const char *ns, const char *name, const char *rbac,
                            const char *const *from, const char *const *to, size_t n,
                            const char *kubeconfig_out, char *user, size_t user_len)
{
    cg_e2e_sh_ok("create a ServiceAccount", "kubectl create serviceaccount -n %s %s", ns, name);
    char sed[2048] = "sed";
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(sed);
        snprintf(sed + used, sizeof(sed) - used, " -e 's|%s|%s|g'", from[i], to[i]);
    }
    cg_e2e_sh_ok("apply the shipped RBAC", "%s %s | kubectl apply -f -", sed, rbac);
    char *token = NULL, *server = NULL, *ca = NULL;
    assert_int_equal(cg_e2e_sh(&token, "kubectl create token -n %s %s --duration=1h", ns, name), 0);
    token[strcspn(token, "\n")] = '\0';
    assert_int_equal(cg_e2e_sh(&server, "kubectl config view --raw --minify -o "
                                        "jsonpath='{.clusters[0].cluster.server}'"),
                     0);
    assert_int_equal(cg_e2e_sh(&ca, "kubectl config view --raw --minify -o "
                                    "jsonpath='{.clusters[0].cluster.certificate-authority-data}'"),
                     0);
    size_t cap = strlen(token) + strlen(ca) + strlen(server) + 1024;
    char *kc = malloc(cap);
    assert_non_null(kc);
    snprintf(kc, cap,
             "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n"
             "    server: %s\n    certificate-authority-data: %s\n"
             "users:\n- name: sa\n  user:\n    token: %s\n"
             "contexts:\n- name: sa\n  context: {cluster: lab, user: sa}\n"
             "current-context: sa\n",
             server, ca, token);
    cg_test_write_file(kubeconfig_out, kc);
    snprintf(user, user_len, "system:serviceaccount:%s:%s", ns, name);
    free(kc);
    free(ca);
    free(server);
    free(token);
}

pid_t cg_e2e_spawn_logged(const char *const *argv, const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot start %s: %s", argv[0], strerror(rc));
    return pid;
}

void cg_e2e_stop(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    int status;
    double end = cg_e2e_now() + 10;
    while (waitpid(*pid, &status, WNOHANG) == 0) {
        if (cg_e2e_now() > end) {
            kill(*pid, SIGKILL);
            waitpid(*pid, &status, 0);
            break;
        }
        cg_e2e_sleep_ms(50);
    }
    *pid = 0;
}

/* The last n bytes of a file (caller frees). */
static char *tail_of(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return strdup("(no log)");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    long from = len > (long)n ? len - (long)n : 0;
    fseek(f, from, SEEK_SET);
    char *buf = calloc(1, (size_t)(len - from) + 1);
    size_t got = fread(buf, 1, (size_t)(len - from), f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

void cg_e2e_wait_url(const char *url, double timeout_s, const char *what, const char *log)
{
    double end = cg_e2e_now() + timeout_s;
    while (cg_e2e_now() < end) {
        if (cg_e2e_sh(NULL, "curl -sfk --max-time 2 '%s' >/dev/null", url) == 0)
            return;
        cg_e2e_sleep_ms(100);
    }
    char *t = tail_of(log, 4000);
    fail_msg("%s: %s did not answer within %.0f s; the end of its log:\n%s", what, url, timeout_s,
             t);
    free(t);
}

void cg_e2e_webhook_start(struct cg_e2e_webhook *w, const char *certs, const char *policies,
                          const char *kubeconfig, const char *trusted, bool metrics,
                          const char *log)
{
    memset(w, 0, sizeof(*w));
    w->port = cg_e2e_free_port();
    w->metrics_port = metrics ? cg_e2e_free_port() : 0;
    snprintf(w->log, sizeof(w->log), "%s", log);
    char listen[64], mlisten[64], cert[600], key[600];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", w->port);
    if (metrics)
        snprintf(mlisten, sizeof(mlisten), "127.0.0.1:%d", w->metrics_port);
    else
        snprintf(mlisten, sizeof(mlisten), "off");
    snprintf(cert, sizeof(cert), "%s/tls.crt", certs);
    snprintf(key, sizeof(key), "%s/tls.key", certs);
    const char *argv[] = {
        WEBHOOK_BIN, "--listen",        listen,  "--metrics-listen", mlisten,  "--cert",
        cert,        "--key",           key,     "--policies",       policies, "--kubeconfig",
        kubeconfig,  "--trusted-users", trusted, "--threads",        "2",      NULL};
    w->pid = cg_e2e_spawn_logged(argv, w->log);
    /* Ready once the certificates, the policies and the first LIST of pods are in. */
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/readyz", w->port);
    cg_e2e_wait_url(url, 60, "the webhook's readiness", w->log);
}

void cg_e2e_webhooks_register(const char *name, int port, const char *ns, const char *certs,
                              const char *yaml_path)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/ca-bundle.b64", certs);
    char *ca = cg_test_read_file(path, NULL);
    ca[strcspn(ca, "\n")] = '\0';
    char common[1024];
    snprintf(common, sizeof(common),
             "    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}\n"
             "    sideEffects: NoneOnDryRun\n"
             "    admissionReviewVersions: [v1]\n"
             "    timeoutSeconds: 5\n"
             "    failurePolicy: Fail\n",
             ns);
    size_t cap = 16384;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    snprintf(yaml, cap,
             "apiVersion: admissionregistration.k8s.io/v1\n"
             "kind: MutatingWebhookConfiguration\n"
             "metadata: {name: %s}\n"
             "webhooks:\n"
             "  - name: pods.cellgate.io\n"
             "    clientConfig: {url: \"https://127.0.0.1:%d/mutate\", caBundle: %s}\n"
             "    rules: [{operations: [CREATE], apiGroups: [\"\"], apiVersions: [v1], "
             "resources: [pods]}]\n"
             "    reinvocationPolicy: IfNeeded\n%s"
             "  - name: deployments.cellgate.io\n"
             "    clientConfig: {url: \"https://127.0.0.1:%d/mutate\", caBundle: %s}\n"
             "    rules: [{operations: [CREATE, UPDATE], apiGroups: [apps], apiVersions: [v1], "
             "resources: [deployments]}]\n%s"
             "---\n"
             "apiVersion: admissionregistration.k8s.io/v1\n"
             "kind: ValidatingWebhookConfiguration\n"
             "metadata: {name: %s}\n"
             "webhooks:\n"
             "  - name: pods.cellgate.io\n"
             "    clientConfig: {url: \"https://127.0.0.1:%d/validate\", caBundle: %s}\n"
             "    rules: [{operations: [UPDATE, DELETE], apiGroups: [\"\"], apiVersions: [v1], "
             "resources: [pods]}, {operations: [CREATE], apiGroups: [\"\"], apiVersions: [v1], "
             "resources: [pods/eviction]}]\n%s"
             "  - name: deployments.cellgate.io\n"
             "    clientConfig: {url: \"https://127.0.0.1:%d/validate\", caBundle: %s}\n"
             "    rules: [{operations: [CREATE, UPDATE], apiGroups: [apps], apiVersions: [v1], "
             "resources: [deployments]}]\n%s",
             name, port, ca, common, port, ca, common, name, port, ca, common, port, ca, common);
    cg_test_write_file(yaml_path, yaml);
    cg_e2e_sh_ok("register the webhooks", "kubectl apply -f %s", yaml_path);
    free(yaml);
    free(ca);
}

void cg_e2e_webhooks_unregister(const char *name)
{
    cg_e2e_sh(NULL, "kubectl delete mutatingwebhookconfiguration %s --ignore-not-found", name);
    cg_e2e_sh(NULL, "kubectl delete validatingwebhookconfiguration %s --ignore-not-found", name);
}

void cg_e2e_namespace_delete(const char *ns)
{
    json_t *pods = cg_e2e_kget("pods -n %s", ns);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        if (json_array_size(json_object_get(json_object_get(p, "metadata"), "finalizers")) == 0)
            continue;
        cg_e2e_sh(NULL,
                  "kubectl patch pod -n %s %s --type=merge -p "
                  "'{\"metadata\":{\"finalizers\":null}}'",
                  ns, CG_E2E_STR(p, "metadata", "name"));
    }
    json_decref(pods);
    cg_e2e_sh(NULL, "kubectl delete namespace %s --wait=false", ns);
}

double cg_e2e_metric(const char *page, const char *series)
{
    size_t n = strlen(series);
    for (const char *l = page; l != NULL && *l != '\0';) {
        if (strncmp(l, series, n) == 0 && l[n] == ' ')
            return strtod(l + n + 1, NULL);
        l = strchr(l, '\n');
        if (l != NULL)
            l++;
    }
    return -1;
}

char *cg_e2e_metrics_get(int port)
{
    char *out = NULL;
    if (cg_e2e_sh(&out, "curl -sf --max-time 3 http://127.0.0.1:%d/metrics", port) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
