/* The external check runner: runs a policy's `http` and `prometheus` checks for a Deployment
 * off the reconcile worker, on a thread of its own (libcurl, a bounded time per run), keeps
 * the latest result per Deployment and check in memory, and reports each new result so the
 * Deployment is reconciled again. Nothing is persisted: a restarted controller has no results
 * and the release logic asks for fresh runs (RUN_CHECK), which is what it would do anyway
 * once a result is older than CG_RELEASE_CHECK_INTERVAL.
 *
 *   http        GET url; passes when the status is expectStatus (redirects not followed)
 *   prometheus  GET <prometheus-url>/api/v1/query?query=<query>; passes when the first
 *               sample's value satisfies `op threshold`; no sample, no --prometheus-url, or
 *               an answer that is not a Prometheus vector fails with the reason
 *
 * Thread safety: every function may be called from any thread. on_result runs on the
 * runner's thread, outside its lock. */
#ifndef CG_CONTROLLER_CHECKS_H
#define CG_CONTROLLER_CHECKS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/str.h"
#include "policy/policy.h"

struct cg_checks_config {
    const char *prometheus_url; /* NULL or "": prometheus checks fail, saying so */
    long timeout_ms;            /* one run, connect included; 0: 10 s */
    /* A result for namespace/name arrived (requeue it). May be NULL. */
    void (*on_result)(void *ud, struct cg_str ns, struct cg_str name);
    void *ud;
};

struct cg_checks;

/* Copies the config and starts the thread. */
struct cg_checks *cg_checks_create(const struct cg_checks_config *cfg);
/* Stops the thread (a run in progress is aborted) and frees everything. NULL ok. */
void cg_checks_destroy(struct cg_checks *c);

/* Queues a run of check for Deployment namespace/name unless one for the same Deployment and
 * check is queued or running. What the run needs of the check is copied. */
void cg_checks_submit(struct cg_checks *c, struct cg_str ns, struct cg_str name,
                      const struct cg_check *check);

/* The latest result of each check of namespace/name: calls fn for each (under the lock: copy
 * what you keep). Returns how many. */
typedef void (*cg_checks_result_fn)(void *ud, const char *check, bool ok, int64_t at,
                                    const char *message);
size_t cg_checks_results(struct cg_checks *c, struct cg_str ns, struct cg_str name,
                         cg_checks_result_fn fn, void *ud);

/* Forgets the results of namespace/name (the Deployment is gone or no longer covered). */
void cg_checks_forget(struct cg_checks *c, struct cg_str ns, struct cg_str name);

/* Appends cellgate_checks_total{check,result} in the Prometheus text format. */
void cg_checks_metrics(struct cg_checks *c, struct cg_buf *out);

/* Runs one check now on the calling thread (what the runner does per job): for tests. *ok,
 * and a message (at most cap bytes) saying what was seen. */
void cg_checks_run_one(const struct cg_checks *c, const struct cg_check *check, bool *ok,
                       char *message, size_t cap);

#endif
