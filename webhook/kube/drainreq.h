/* The drain requester: when the webhook holds the delete (or eviction) of a pod that still
 * serves, it asks for the pod to be annotated cellgate.io/drain-requested: <RFC 3339 time>,
 * so that the controller drains it. The API call must never run on the request path, so
 * requests go through a bounded queue to one background thread that calls send().
 *
 * At most once per pod: a pod queued or sent is remembered (namespace/name) for
 * remember_seconds, so the ReplicaSet controller's retried deletes do not patch it again. A
 * failed send forgets the pod, so the next denied delete asks again. A full queue drops the
 * request (counted): the next retried delete asks again anyway.
 *
 * Thread-safe: cg_drainreq_request may be called from any number of threads. */
#ifndef CG_KUBE_DRAINREQ_H
#define CG_KUBE_DRAINREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "base/str.h"

/* Annotates pod namespace_/name with drain-requested = rfc3339_time (all NUL-terminated). Runs
 * on the requester's thread; CG_OK or a failure with err filled. */
typedef enum cg_status (*cg_drainreq_send_fn)(void *ud, const char *namespace_, const char *name,
                                              const char *rfc3339_time, struct cg_err *err);

struct cg_drainreq_config {
    cg_drainreq_send_fn send; /* required */
    void *ud;
    size_t queue_cap;         /* 0: 1024 */
    int64_t remember_seconds; /* 0: 600 */
    size_t remember_max;      /* pods remembered at most (oldest forgotten first); 0: 65536 */
};

struct cg_drainreq_stats {
    uint64_t queued;     /* accepted into the queue */
    uint64_t duplicates; /* already queued or sent (remembered) */
    uint64_t dropped;    /* the queue was full */
    uint64_t sent;       /* send returned CG_OK */
    uint64_t failed;     /* send failed (logged) */
    uint64_t discarded;  /* still queued when stop() came */
    uint64_t invalid;    /* empty or over-long namespace / name */
};

struct cg_drainreq;

/* Starts the background thread. CG_EINVAL without a send function, CG_EINTERNAL when the
 * thread cannot start (err says why). */
enum cg_status cg_drainreq_create(const struct cg_drainreq_config *config, struct cg_drainreq **out,
                                  struct cg_err *err);
/* Queues a drain request for the pod, stamped with now (unix seconds). true when queued;
 * false when the pod is remembered, the queue is full, the requester is stopped, or the
 * names are empty or too long (each counted). Never blocks on send(). */
bool cg_drainreq_request(struct cg_drainreq *dr, struct cg_str namespace_, struct cg_str name,
                         int64_t now);
/* Stops promptly: no new requests are accepted, the send in progress (if any) completes, the
 * requests still queued are discarded (counted; at shutdown the API server connection may be
 * gone and every send would wait out its timeout), and the thread is joined. Idempotent. */
void cg_drainreq_stop(struct cg_drainreq *dr);
/* Stops (if not yet) and frees. Accepts NULL. */
void cg_drainreq_destroy(struct cg_drainreq *dr);
/* Waits until the queue is empty and no send is running (tests, orderly handover). */
void cg_drainreq_flush(struct cg_drainreq *dr);
void cg_drainreq_stats(struct cg_drainreq *dr, struct cg_drainreq_stats *out);

/* Formats t (unix seconds) as RFC 3339 UTC, "2026-11-26T08:41:40Z", into out (at least
 * CG_DRAINREQ_TIME_MAX bytes). */
#define CG_DRAINREQ_TIME_MAX 32
void cg_drainreq_format_time(int64_t t, char *out);

#endif
