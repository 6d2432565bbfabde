/* The policy model: what a ReleasePolicy YAML document says, after strict validation.
 *
 * A struct cg_policy_set is immutable once loaded and reference-counted, so the server can
 * swap in a new set while worker threads keep using the one they hold. The set owns every
 * string and array below it; all pointers in the model are owned by the set. */
#ifndef CG_POLICY_H
#define CG_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kv.h"
#include "base/mem.h"
#include "base/status.h"
#include "base/str.h"

/* Limits the loader enforces on every policy; the plan math (placement/plan.h) sizes its tables
 * by the same numbers, so a loaded policy always fits a plan. */
#define CG_POLICY_MAX_CELLS 16
#define CG_POLICY_MAX_GROUPS 16

enum cg_enforcement { CG_ENFORCE_ENFORCE, CG_ENFORCE_WARN, CG_ENFORCE_AUDIT };

/* Kinds a policy can match (bit mask). */
enum cg_kind_bit { CG_KIND_DEPLOYMENT = 1u << 0, CG_KIND_POD = 1u << 1 };

struct cg_strv {
    char **items;
    size_t n;
};

enum cg_selector_op { CG_SEL_IN, CG_SEL_NOT_IN, CG_SEL_EXISTS, CG_SEL_DOES_NOT_EXIST };

struct cg_label_requirement {
    char *key;
    enum cg_selector_op op;
    struct cg_strv values;
};

/* matchLabels are stored as In requirements with one value. Empty selector: matches all. */
struct cg_label_selector {
    struct cg_label_requirement *reqs;
    size_t n;
};

struct cg_match {
    struct cg_strv namespaces; /* names or globs (fnmatch); empty: every namespace */
    struct cg_label_selector selector;
    unsigned kinds; /* CG_KIND_* mask; never 0 after loading */
};

struct cg_cell {
    char *name;
    unsigned weight; /* default 1 */
};

struct cg_cells {
    char *topology_key; /* default topology.kubernetes.io/zone */
    struct cg_cell *items;
    size_t n; /* >= 1 */
};

enum cg_group_kind { CG_GROUP_PER_CELL, CG_GROUP_PERCENT, CG_GROUP_REST };

struct cg_group {
    enum cg_group_kind kind;
    unsigned value; /* perCell: pods per cell; percent: 1..100; rest: 0 */
};

enum cg_pause_kind { CG_PAUSE_MANUAL, CG_PAUSE_AFTER };

struct cg_gray {
    struct cg_group *groups;
    size_t n_groups; /* >= 1; rest only last */
    enum cg_pause_kind pause;
    int64_t pause_after_seconds;
};

enum cg_check_kind { CG_CHECK_READY_FOR, CG_CHECK_RESTARTS, CG_CHECK_HTTP, CG_CHECK_PROMETHEUS };

struct cg_check {
    enum cg_check_kind kind;
    char *name;
    int64_t duration_seconds; /* readyFor */
    int64_t max_restarts;     /* restarts */
    char *url;                /* http: GET url */
    int expect_status;        /* http */
    char *query;              /* prometheus */
    char *op;                 /* prometheus: "<", "<=", ">", ">=", "==" */
    double threshold;         /* prometheus */
};

struct cg_monitor {
    bool require_readiness_probe;
    struct cg_strv required_labels;
    int64_t min_ready_seconds; /* 0: none required */
    bool require_progress_deadline;
    struct cg_check *checks;
    size_t n_checks;
};

enum cg_freeze_kind { CG_FREEZE_ABSOLUTE, CG_FREEZE_WEEKLY };

struct cg_tz; /* a loaded time zone (policy/tz.h) */

struct cg_freeze_window {
    char *name;
    enum cg_freeze_kind kind;
    int64_t start, end;   /* absolute: unix seconds, [start, end) */
    unsigned days;        /* weekly: bit 0 = Sunday .. bit 6 = Saturday */
    int start_minute;     /* weekly: local minute of day the window opens */
    int duration_minutes; /* weekly: may run past midnight */
    char *time_zone;      /* weekly: IANA name */
    struct cg_tz *tz;     /* weekly: owned */
};

enum cg_rollback_style { CG_ROLLBACK_FAST, CG_ROLLBACK_GRADUAL };
enum cg_on_failure { CG_ON_FAILURE_PAUSE, CG_ON_FAILURE_ROLLBACK };

struct cg_emergency {
    struct cg_freeze_window *freezes;
    size_t n_freezes;
    char *break_glass_annotation; /* default cellgate.io/break-glass */
    struct cg_strv break_glass_groups;
    struct cg_strv approver_groups;  /* may set cellgate.io/approve */
    struct cg_strv emergency_groups; /* may set cellgate.io/emergency */
    enum cg_rollback_style rollback;
    enum cg_on_failure on_check_failure;
};

struct cg_traffic {
    struct cg_strv components;        /* finalizer cellgate.io/drain-<component> each */
    struct cg_strv controller_clears; /* subset the controller removes itself */
    int64_t drain_timeout_seconds;    /* a held delete passes this long after the drain was
                                         requested (default 300), so a stopped controller
                                         never blocks node drains forever */
    int64_t drain_window_seconds;     /* the least minReadySeconds a release runs with
                                         (default 5; 0: none): the old ReplicaSet shrinks
                                         this long after the new pods serve, time enough to
                                         drain the pods it deletes, so their deletes are not
                                         held */
};

struct cg_policy {
    char *name;
    char *file; /* where it was loaded from */
    int line;   /* of the document */
    enum cg_enforcement enforcement;
    struct cg_match match;
    struct cg_cells cells;
    struct cg_gray gray;
    struct cg_monitor monitor;
    struct cg_emergency emergency;
    struct cg_traffic traffic;
};

struct cg_policy_index; /* lookup by namespace and kind (policy/match.c) */

struct cg_policy_set {
    struct cg_policy *items;
    size_t n;
    struct cg_policy_index *index;
    atomic_int refcount; /* see cg_policy_set_ref */
    struct cg_arena mem; /* private: every string and array of the model lives here */
};

/* Loads every *.yaml / *.yml under dir, recursively, skipping entries whose names start with
 * '.', into one set. All or nothing: any error (first one, file:line:col in err) loads no set.
 * A directory with no policy file is an error. *out has refcount 1. */
enum cg_status cg_policy_set_load_dir(const char *dir, struct cg_policy_set **out,
                                      struct cg_err *err);
/* Same rules for a list of files and/or directories (the CLI's lint). Errors are reported
 * one per call of on_error (file:line:col: message) so lint can list them all; returns the
 * first failure's status. out may be NULL to validate only. */
enum cg_status cg_policy_set_load_paths(const char *const *paths, size_t n,
                                        void (*on_error)(const struct cg_err *err, void *ud),
                                        void *ud, struct cg_policy_set **out);

/* Decodes the policies of one in-memory YAML text (named file in messages) into a set, by the
 * same rules as a file: for tests and tools that hold the text already. *out has refcount 1. */
enum cg_status cg_policy_set_decode(const char *file, const char *yaml, size_t len,
                                    struct cg_policy_set **out, struct cg_err *err);

/* Reference counting (atomic, so any thread may ref/unref). unref frees at zero; NULL ok. */
struct cg_policy_set *cg_policy_set_ref(struct cg_policy_set *set);
void cg_policy_set_unref(struct cg_policy_set *set);

/* Policies covering an object: one kind bit, namespace and the object's labels (of the
 * Deployment, or the Pod). Writes up to max borrowed pointers into out in set order and
 * returns how many matched (may exceed max). Sub-linear in the set size: candidate
 * policies come from an index by exact namespace and kind, plus the glob/any list. */
size_t cg_policy_set_match(const struct cg_policy_set *set, unsigned kind_bit,
                           struct cg_str namespace_, const struct cg_kvs *labels,
                           const struct cg_policy **out, size_t max);

/* The policy that governs an object: the first matching policy, in set order, whose
 * enforcement is enforce (the review engine's rule: that policy alone plans and mutates a
 * release), or NULL when none enforces. Borrowed from the set. Allocates only when more
 * than 16 policies cover the object. */
const struct cg_policy *cg_policy_set_governing(const struct cg_policy_set *set, unsigned kind_bit,
                                                struct cg_str namespace_,
                                                const struct cg_kvs *labels);

/* The policy named name, or NULL. Borrowed. Linear: for tools and tests, not the hot path. */
const struct cg_policy *cg_policy_set_get(const struct cg_policy_set *set, const char *name);

/* Does a label set (NULL: no labels) satisfy a selector? Kubernetes semantics: every
 * requirement must hold; NotIn and DoesNotExist hold for an absent key. */
bool cg_label_selector_eval(const struct cg_label_selector *sel, const struct cg_kvs *labels);

/* Is unix time `now` inside a freeze window? Absolute: start <= now < end. Weekly: the window
 * opens at the local wall-clock time start_minute on each listed day (in time_zone) and closes
 * when the local wall clock has advanced by duration_minutes, so "Fri 18:00 for 60h" closes
 * Mon 06:00 local even across a DST change. */
bool cg_freeze_window_contains(const struct cg_freeze_window *w, int64_t now);

/* The first window of e containing now, or NULL. Borrowed. */
const struct cg_freeze_window *cg_emergency_active_freeze(const struct cg_emergency *e,
                                                          int64_t now);

const char *cg_enforcement_str(enum cg_enforcement e);

#endif
