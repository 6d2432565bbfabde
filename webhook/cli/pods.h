/* `cellgate review --pods FILE`: the cluster state the Pod rules read, from a file of existing
 * pods (`kubectl get pods -o json`: a List, or one Pod) instead of a watch cache, so placement
 * and held deletes can be tried offline and covered by golden cases.
 *
 * For a Pod CREATE the view counts the file's live pods of the same controlling owner per
 * cellgate.io/cell label; for an eviction it holds the file's pod of that namespace and name.
 * Nothing is reserved: each review is judged against the file as it is. */
#ifndef CG_CLI_PODS_H
#define CG_CLI_PODS_H

#include "base/status.h"
#include "review/review.h"

struct cg_cli_pods;

/* Reads and decodes path. Errors name the file and the item at fault. */
enum cg_status cg_cli_pods_load(const char *path, struct cg_cli_pods **out, struct cg_err *err);
void cg_cli_pods_destroy(struct cg_cli_pods *p);
/* The source to hand cg_review_run (ud is p; valid while p lives). */
struct cg_cluster_source cg_cli_pods_source(struct cg_cli_pods *p);

#endif
