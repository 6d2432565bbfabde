/* cellgate-controller's driver: its flags, the watches of covered Deployments, their
 * ReplicaSets, pods and EndpointSlices (one watch per resource, shared by every Deployment),
 * leader election, and a work queue of Deployments to reconcile. Only the leader reconciles.
 *
 * Life cycle (from main): config -> create -> start -> poll (policies, every ~2 s and on
 * SIGHUP) -> stop -> destroy. */
#ifndef CG_CONTROLLER_CONTROLLER_H
#define CG_CONTROLLER_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "kube/objstore.h"
#include "policy/policy.h"

struct cg_controller_config {
    char *kubeconfig;      /* "": in-cluster credentials */
    char *policies;        /* policy directory */
    char *metrics_listen;  /* host:port for /healthz, /readyz, /metrics; "off": none */
    char *lease_namespace; /* where the leader Lease lives */
    char *lease_name;
    char *identity; /* "": the host name (a pod's name) */
    long lease_seconds;
    char *prometheus_url;       /* base URL of the Prometheus that prometheus checks query */
    long check_timeout_seconds; /* one external check run */
    int log_level;
    bool help;
};

void cg_controller_config_init(struct cg_controller_config *c);
void cg_controller_config_dispose(struct cg_controller_config *c);
/* Environment, then flags; --help sets c->help. Errors name the flag or variable. */
enum cg_status cg_controller_config_parse(struct cg_controller_config *c, int argc,
                                          char *const *argv, char *const *envp, struct cg_err *err);
enum cg_status cg_controller_config_usage(const char *prog, struct cg_buf *out);

/* The caches a reconcile reads. Borrowed, valid while the controller runs. */
struct cg_controller_caches {
    struct cg_objstore *deployments, *replicasets, *pods, *endpointslices;
};

struct cg_kube_client;

/* Reconciles one Deployment (namespace/name) with the policy set of the moment through the
 * controller's API client; runs on the worker thread, only while this replica leads. Returns
 * the seconds after which to reconcile it again (a timed requeue, no polling), 0 for only on
 * the next watch event. */
typedef int64_t (*cg_controller_reconcile_fn)(void *ud, struct cg_kube_client *client,
                                              const struct cg_controller_caches *caches,
                                              const struct cg_policy_set *policies,
                                              struct cg_str ns, struct cg_str name);

/* What drives the controller. Any member may be NULL (reconcile NULL: watch only). */
struct cg_controller_driver {
    cg_controller_reconcile_fn reconcile;
    void (*metrics)(void *ud, struct cg_buf *out); /* appended to /metrics (HTTP thread) */
    void *ud;
};

struct cg_controller;

/* Loads credentials and policies (a policy directory that does not load is an error at start:
 * a controller must not act without them). driver may be NULL (watch only); it is copied. */
enum cg_status cg_controller_create(const struct cg_controller_config *cfg,
                                    const struct cg_controller_driver *driver,
                                    struct cg_controller **out, struct cg_err *err);
/* Starts the watches, leader election, the worker and the HTTP endpoints. */
enum cg_status cg_controller_start(struct cg_controller *c, struct cg_err *err);
/* Re-reads the policies if their files changed (or always, force); a change re-queues every
 * Deployment. */
void cg_controller_poll(struct cg_controller *c, bool force);
/* Queues a Deployment for reconciling (deduplicated). */
void cg_controller_enqueue(struct cg_controller *c, struct cg_str ns, struct cg_str name);
bool cg_controller_is_leading(struct cg_controller *c);
/* Stops everything; idempotent. */
void cg_controller_stop(struct cg_controller *c);
/* Stops and frees; NULL ok. */
void cg_controller_destroy(struct cg_controller *c);

#endif
