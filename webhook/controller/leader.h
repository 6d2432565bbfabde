/* Leader election through a coordination.k8s.io/v1 Lease, so that of several controller
 * replicas exactly one acts.
 *
 * The rules (those of Kubernetes' own controllers): the holder renews the lease every retry
 * period; a candidate takes the lease over only when it has not seen it change for a whole
 * lease duration, measured on the candidate's own clock from when it last saw the holder or the
 * renew time change (never by comparing its clock with the holder's renewTime, so clock skew
 * between machines cannot make two leaders); every write carries the resourceVersion it read,
 * so of two candidates racing for an expired lease one gets a conflict and stays a candidate.
 * A leader that has not renewed for the renew deadline (shorter than the lease duration) steps
 * down before anyone can take over.
 *
 * cg_leader_decide is the pure core (tested on tables); cg_leader runs it on a thread against
 * the API server. */
#ifndef CG_CONTROLLER_LEADER_H
#define CG_CONTROLLER_LEADER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "kube/kube.h"

struct cg_leader_timing {
    int64_t lease_ms;          /* leaseDurationSeconds, in ms; 0: 15 s */
    int64_t renew_deadline_ms; /* a leader steps down after this long without a renewal; 0: 10 s */
    int64_t retry_ms;          /* how often to try; 0: 2 s */
};

/* What an elector remembers between tries. Zero it to start. */
struct cg_leader_state {
    bool leading;
    int64_t last_renew_ms; /* our last successful write as leader (monotonic ms) */
    char observed_holder[CG_KUBE_HOLDER_MAX];
    int64_t observed_renew_us; /* the lease's renewTime when we last saw it change */
    int64_t observed_at_ms;    /* our clock (monotonic ms) when we saw that */
};

enum cg_leader_action {
    CG_LEADER_WAIT,     /* someone else holds a live lease: try again later */
    CG_LEADER_CREATE,   /* no lease: create it holding it */
    CG_LEADER_RENEW,    /* ours: write a new renewTime */
    CG_LEADER_TAKEOVER, /* expired: write ourselves as holder, transitions + 1 */
};

/* Decides the next step. lease is what the API server returned, or NULL when there is none.
 * now_ms is a monotonic clock. Updates the observation in st (not leading: the caller sets
 * that from the outcome of the write). */
enum cg_leader_action cg_leader_decide(struct cg_leader_state *st,
                                       const struct cg_kube_lease *lease, const char *identity,
                                       const struct cg_leader_timing *t, int64_t now_ms);
/* After a failed or skipped renewal: must a leader step down now? */
bool cg_leader_must_step_down(const struct cg_leader_state *st, const struct cg_leader_timing *t,
                              int64_t now_ms);

struct cg_leader_config {
    struct cg_kube_client *client; /* borrowed */
    const char *namespace_, *name; /* the Lease */
    const char *identity;          /* this replica, e.g. its pod name */
    struct cg_leader_timing timing;
    /* Called on the elector's thread when this replica starts or stops leading. */
    void (*on_start)(void *ud);
    void (*on_stop)(void *ud);
    void *ud;
};

struct cg_leader;

/* Copies the config's strings and starts the elector's thread. */
enum cg_status cg_leader_create(const struct cg_leader_config *config, struct cg_leader **out,
                                struct cg_err *err);
bool cg_leader_is_leading(struct cg_leader *l);
/* Stops trying. A leader gives the lease up (holder cleared) so a standby takes over at once,
 * and on_stop runs. Idempotent. */
void cg_leader_stop(struct cg_leader *l);
/* Stops (if not yet) and frees. Accepts NULL. */
void cg_leader_destroy(struct cg_leader *l);

#endif
