/* The release record: the JSON text of the Deployment annotation cellgate.io/release, the one
 * place a release's state lives (the controller keeps no memory of its own, so whatever it
 * must remember across a restart is in here).
 *
 * One codec for both programs. The encoder writes into a struct cg_buf and allocates nothing
 * else (the webhook's admission path uses it); it leaves out every field at its default, so
 * a record holding only the plan encodes to the webhook's short form:
 *   {"revision":"<16 hex>","cells":[...],"groups":[[...]...],"group":0,"state":"progressing"}
 * The decoder uses jansson and is tolerant: absent fields take their defaults, unknown fields
 * are ignored, and a record it cannot use is CG_EPARSE / CG_EINVAL, never a crash.
 *
 * A struct cg_release_record is plain data with fixed-size storage (no pointers): copy it by
 * assignment, no init or dispose. */
#ifndef CG_RELEASE_RECORD_H
#define CG_RELEASE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "placement/plan.h"

#define CG_RECORD_NAME_MAX 64  /* a cell name is a label value: at most 63 bytes */
#define CG_RECORD_TEXT_MAX 256 /* reason, approver, check name; longer text is cut */
#define CG_RECORD_MAX_APPROVALS CG_PLAN_MAX_GROUPS

/* Where a release stands. The JSON spelling is in parentheses. */
enum cg_release_state {
    CG_RELEASE_PROGRESSING,      /* ("progressing") the current group is being released */
    CG_RELEASE_WAITING_APPROVAL, /* ("waiting-approval") group done, pause: manual */
    CG_RELEASE_SOAKING,          /* ("soaking") group done, pause: {after: D} running */
    CG_RELEASE_PAUSED,           /* ("paused") held: see pause_cause and reason */
    CG_RELEASE_ROLLBACK,         /* ("rollback") releasing the previous template back */
    CG_RELEASE_COMPLETE,         /* ("complete") every pod is of this revision */
    CG_RELEASE_FAILED,           /* ("failed") cannot go on by itself (e.g. nothing to roll
                                    back to); an operator must act */
};

/* Why a release is held (state paused, or a hold noted in reason). */
enum cg_pause_cause {
    CG_PAUSE_CAUSE_NONE,      /* ("") */
    CG_PAUSE_CAUSE_EMERGENCY, /* ("emergency") cellgate.io/emergency: pause */
    CG_PAUSE_CAUSE_CHECK,     /* ("check") a check failed and onCheckFailure is pause */
    CG_PAUSE_CAUSE_FREEZE,    /* ("freeze") a freeze window began mid-release */
    CG_PAUSE_CAUSE_USER,      /* ("user") spec.paused set by someone else (kubectl rollout pause) */
};

struct cg_release_approval {
    uint32_t group;              /* the group whose end was approved */
    char by[CG_RECORD_TEXT_MAX]; /* who, when the driver knows; "" otherwise */
    int64_t at;                  /* unix seconds the controller acted on it */
};

struct cg_release_record {
    uint64_t revision; /* the webhook's digest of spec.template (16 hex digits in JSON) */
    size_t n_cells, n_groups;
    char cells[CG_PLAN_MAX_CELLS][CG_RECORD_NAME_MAX];
    uint32_t pods[CG_PLAN_MAX_GROUPS][CG_PLAN_MAX_CELLS]; /* new pods group g adds in cell c */
    uint32_t group;                                       /* the current group, < n_groups */
    enum cg_release_state state;
    /* Fields below are the controller's; all default to zero / empty and are then omitted. */
    char reason[CG_RECORD_TEXT_MAX]; /* what it waits for, or why it stopped */
    enum cg_pause_cause pause_cause;
    bool cellgate_paused;      /* spec.paused is true because cellgate set it (a user's pause is
                                  never cleared) */
    uint64_t rolled_back_from; /* a rollback: the revision it undoes; nonzero means the
                                  rollback has begun, so it is never begun twice */
    char failed_check[CG_RECORD_TEXT_MAX]; /* the check whose failure paused or rolled back */
    int64_t since;       /* unix seconds the release was first seen by the controller */
    int64_t group_since; /* unix seconds the current group started */
    int64_t group_done;  /* unix seconds the current group was done (serves, victims drained) */
    int64_t updated;     /* unix seconds of the last state change */
    bool has_counts;
    uint32_t new_serving[CG_PLAN_MAX_CELLS]; /* new pods with traffic, per cell */
    uint32_t old_live[CG_PLAN_MAX_CELLS];    /* old pods still running, per cell */
    size_t n_approvals;
    struct cg_release_approval approvals[CG_RECORD_MAX_APPROVALS];
};

/* The JSON spelling of a state / pause cause ("progressing", "check"). Never NULL. */
const char *cg_release_state_str(enum cg_release_state s);
const char *cg_pause_cause_str(enum cg_pause_cause c);

/* Fills *rec with a fresh record for a release of `revision` planned by *plan over `cells`
 * (group 0, the given state, everything else empty). This is what the webhook writes when a
 * release begins. CG_ETOOBIG when a cell name does not fit CG_RECORD_NAME_MAX. Allocates
 * nothing. */
enum cg_status cg_release_record_init(struct cg_release_record *rec, uint64_t revision,
                                      const struct cg_cells *cells, const struct cg_plan *plan,
                                      enum cg_release_state state);

/* Appends the record's JSON text to out (nothing else is allocated). Fields at their default
 * are left out, so a record from cg_release_record_init encodes to the webhook's short form.
 * Strings are JSON-escaped. On failure (CG_ETOOBIG from a capped buffer, CG_EINVAL for an
 * inconsistent record: more cells or groups than the plan allows, group past the last) out
 * is left as it was. */
enum cg_status cg_release_record_encode(const struct cg_release_record *rec, struct cg_buf *out);

/* Decodes the annotation's text (need not be NUL-terminated) into *rec. Required: revision
 * (16 hex digits), cells, groups (one count per cell each), group and state; everything else
 * is optional. "rolling-back" is read as rollback. CG_EPARSE for text that is not JSON,
 * CG_EINVAL for JSON that is not a usable record (wrong types, sizes past the plan's limits,
 * an unknown state); err says which field. *rec is zeroed first and is meaningful only on
 * CG_OK. */
enum cg_status cg_release_record_decode(const char *json, size_t len, struct cg_release_record *rec,
                                        struct cg_err *err);

/* Pods the plan of rec has released by the end of group g (inclusive) in cell c. */
uint32_t cg_release_record_cum(const struct cg_release_record *rec, uint32_t g, size_t c);

/* Total pods group g adds over all cells. */
uint32_t cg_release_record_group_total(const struct cg_release_record *rec, uint32_t g);

#endif
