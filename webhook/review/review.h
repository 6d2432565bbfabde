/* The pure admission pipeline: body bytes -> decode -> engine -> encode -> response bytes and
 * an HTTP status. Knows nothing of sockets or HTTP beyond the status code to answer with. */
#ifndef CG_REVIEW_H
#define CG_REVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admission/admission.h"
#include "base/buf.h"
#include "base/mem.h"
#include "cluster/cluster.h"
#include "jsonpatch/jsonpatch.h"
#include "policy/policy.h"

enum cg_review_path { CG_REVIEW_MUTATE, CG_REVIEW_VALIDATE };

/* Per-thread scratch memory reused review after review, so the steady state allocates
 * nothing: the arena holds the decoded view, the buffers hold patch and messages. */
struct cg_review_scratch {
    struct cg_arena arena;
    struct cg_patch patch;
    struct cg_buf text; /* messages, warnings, audit values, release annotation */
};

void cg_review_scratch_init(struct cg_review_scratch *s);
void cg_review_scratch_dispose(struct cg_review_scratch *s);

/* What happened, for the log line and the metrics. Strings are borrowed from the body or
 * the scratch and valid until the next review on the same scratch. */
struct cg_review_outcome {
    int http_status;      /* 200 with an AdmissionReview; 400 with a plain-text reason */
    const char *decision; /* "allowed", "patched", "denied", "warned", "audited", "error" */
    const char *error;    /* metrics reason on http_status != 200 ("malformed_json", ...) */
    const char *policy;   /* name of the deciding policy, or NULL */
    struct cg_str uid, kind, namespace_, name, operation, user;
    bool dry_run;
};

struct cg_engine_result;

/* Where the pipeline gets cluster state from, and tells it what it decided. The server backs it
 * with its pod watch cache, the CLI with a file of pods; NULL means no cluster state at all.
 * lookup fills the view the engine reads for one decoded request (strings it writes must stay
 * valid until commit returns; arena is the review's); commit is called after the engine, once
 * for every lookup, with the decision (to reserve the placed cell, request a drain) so that a
 * source may hold a lock from lookup to commit. */
struct cg_cluster_source {
    void *ud;
    void (*lookup)(void *ud, const struct cg_admission_request *req, struct cg_arena *arena,
                   struct cg_cluster_view *view);
    void (*commit)(void *ud, const struct cg_admission_request *req,
                   const struct cg_engine_result *res);
};

/* Runs one review. Always produces a response in out (an AdmissionReview for 200, a
 * one-line reason for 400) and returns CG_OK, except when out cannot hold it (CG_ETOOBIG).
 * set may be NULL (no policies: everything is allowed untouched). now is unix seconds. */
enum cg_status cg_review_run(const struct cg_policy_set *set, enum cg_review_path path, int64_t now,
                             const char *body, size_t len, struct cg_review_scratch *scratch,
                             const struct cg_cluster_source *cluster, struct cg_buf *out,
                             struct cg_review_outcome *outcome);

#endif
