/* The webhook's cluster side: the pod cache the Pod rules read and, with credentials, the
 * watch that feeds it and the drain requests it sends (both through kube/). Credentials: the
 * --kubeconfig file, else in-cluster (KUBERNETES_SERVICE_HOST set), else none: standalone,
 * where counts come from this process's own placements and it is ready at once.
 *
 * Life cycle (from cg_server): create -> start -> (ready, describe, slots) -> stop -> destroy. */
#ifndef CG_SERVER_CLUSTER_H
#define CG_SERVER_CLUSTER_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/status.h"
#include "server/cluster_source.h"

struct cg_webhook_cluster;

/* Reads the credentials (kubeconfig may be NULL or ""); a kubeconfig that does not load is an
 * error (the webhook refuses to start rather than run standalone by mistake); one with
 * insecure-skip-tls-verify is refused unless insecure. trusted_users
 * is the comma-separated list of cellgate's own identities (copied). */
enum cg_status cg_webhook_cluster_create(const char *kubeconfig, bool insecure,
                                         const char *trusted_users, struct cg_webhook_cluster **out,
                                         struct cg_err *err);
/* Starts the pod watch and the drain requester (nothing standalone). */
enum cg_status cg_webhook_cluster_start(struct cg_webhook_cluster *c, struct cg_err *err);
/* Stops the threads; idempotent. */
void cg_webhook_cluster_stop(struct cg_webhook_cluster *c);
/* Stops and frees; NULL ok. */
void cg_webhook_cluster_destroy(struct cg_webhook_cluster *c);

/* Standalone, or the first LIST of pods is in. */
bool cg_webhook_cluster_ready(struct cg_webhook_cluster *c);
/* One line or two for /readyz: the mode and the watch's state. */
void cg_webhook_cluster_describe(struct cg_webhook_cluster *c, struct cg_buf *out);
/* Appends the pod cache's, the watch's and the drain requests' metrics (Prometheus text). */
void cg_webhook_cluster_metrics(struct cg_webhook_cluster *c, struct cg_buf *out);
/* A worker thread's slot over this cluster (cluster_source.h). */
void cg_webhook_cluster_slot_init(struct cg_webhook_cluster *c, struct cg_cluster_slot *slot);

#endif
