/* Helpers of the tests that run against a real cluster (../shared/lab or
 * CELLGATE_E2E_KUBECONFIG): shell and kubectl calls, service accounts bound to the shipped
 * RBAC, cellgate's programs as child processes, webhook configurations scoped to one
 * namespace. Everything here may fail the current test (cmocka), so call it from the test's
 * own thread only, never from a helper thread. */
#ifndef CG_TEST_E2E_H
#define CG_TEST_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "test_support.h"

/* Monotonic seconds. */
double cg_e2e_now(void);
void cg_e2e_sleep_ms(int ms);

/* Runs a shell command line, returns its exit code (-1: killed) and, when out is given, its
 * output (stdout and stderr together; caller frees). */
int cg_e2e_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs and fails the test with the command and its output when it does not exit 0. */
void cg_e2e_sh_ok(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `kubectl get <args> -o json`, parsed (new reference), or NULL when kubectl fails. */
json_t *cg_e2e_kget(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The string at a path of object keys, or NULL. */
const char *cg_e2e_str_at(const json_t *v, const char *const *keys);
#define CG_E2E_STR(v, ...) cg_e2e_str_at((v), (const char *const[]){__VA_ARGS__, NULL})

/* The cluster's kubeconfig (cg_test_cluster_kubeconfig) copied into out, exported as
 * KUBECONFIG for kubectl, and true when the API server says it is ready. */
bool cg_e2e_find_cluster(char *out, size_t n);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int cg_e2e_free_port(void);

/* Creates ServiceAccount ns/name, applies the RBAC file rbac with every `from[i]` replaced by
 * `to[i]` (sed expressions are built from the pairs; n pairs), and writes a kubeconfig with a
 * token of the account to kubeconfig_out (a path). The account's user name goes to user. */
void cg_e2e_service_account(const char *ns, const char *name, const char *rbac,
                            const char *const *from, const char *const *to, size_t n,
                            const char *kubeconfig_out, char *user, size_t user_len);

/* Starts argv[0] (a path) with stdout to /dev/null and stderr appended to log. */
pid_t cg_e2e_spawn_logged(const char *const *argv, const char *log);
/* SIGTERM, up to 10 s for it to exit, then SIGKILL; *pid becomes 0. Accepts 0. */
void cg_e2e_stop(pid_t *pid);
/* Polls url (curl -sf, -k) until it answers 2xx or timeout_s passes; fails the test with the
 * tail of log when it does not. */
void cg_e2e_wait_url(const char *url, double timeout_s, const char *what, const char *log);

/* cellgate-webhook as a process with --kubeconfig. */
struct cg_e2e_webhook {
    pid_t pid;
    int port;         /* TLS */
    int metrics_port; /* 0: --metrics-listen off */
    char log[600];
};

/* Starts it on free ports and waits for /readyz. certs: a directory made by
 * certs/gen-dev-certs; log: where its stderr goes; trusted: --trusted-users. */
void cg_e2e_webhook_start(struct cg_e2e_webhook *w, const char *certs, const char *policies,
                          const char *kubeconfig, const char *trusted, bool metrics,
                          const char *log);

/* Registers a Mutating- and a ValidatingWebhookConfiguration named name, calling 127.0.0.1:port
 * with certs/ca-bundle.b64, scoped to namespace ns alone (failurePolicy Fail). yaml_path is
 * where the manifest is written. */
void cg_e2e_webhooks_register(const char *name, int port, const char *ns, const char *certs,
                              const char *yaml_path);
/* Deletes both configurations (never fails the test): first thing in every cleanup. */
void cg_e2e_webhooks_unregister(const char *name);

/* Removes the finalizers of every pod of ns, then deletes ns without waiting. */
void cg_e2e_namespace_delete(const char *ns);

/* The value of a sample of a Prometheus text page (the line starting with `series` followed
 * by a space), or -1 when absent. */
double cg_e2e_metric(const char *page, const char *series);
/* GET http://127.0.0.1:port/metrics (caller frees), or NULL. */
char *cg_e2e_metrics_get(int port);

#endif
