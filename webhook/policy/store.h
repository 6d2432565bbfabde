/* The current policy set of a long-running program (the webhook, the controller): loaded from the policy directory at start, re-loaded when
 * the directory tree changes (a ConfigMap mount swaps its ..data link) or on SIGHUP. A
 * failing load keeps the last good set, logs, counts and is shown by /readyz. */
#ifndef CG_POLICY_STORE_H
#define CG_POLICY_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"
#include "base/snapshot.h"

/* An order-independent fingerprint of a directory tree as the policy loader sees it: names,
 * and identity, size and mtime of every entry not starting with '.', symlinks followed,
 * depth bounded. 0 when dir cannot be read. */
unsigned long long cg_tree_fingerprint(const char *dir);

struct cg_policy_store {
    struct cg_snapshot snap; /* of struct cg_policy_set */
    char *dir;
    bool attempted;
    unsigned long long fingerprint;
    pthread_mutex_t lock; /* guards last_error */
    char last_error[CG_ERR_MSG_MAX + CG_ERR_FILE_MAX + 32];
    _Atomic size_t loaded; /* policies in the published set */
    _Atomic unsigned long long reloads_ok, reloads_error;
};

void cg_policy_store_init(struct cg_policy_store *s, const char *dir);
void cg_policy_store_dispose(struct cg_policy_store *s);
/* Loads the directory if its tree changed since the last attempt (or always when force). */
enum cg_reload_result cg_policy_store_reload(struct cg_policy_store *s, bool force,
                                             struct cg_err *err);
bool cg_policy_store_ready(struct cg_policy_store *s);
/* Appends a one-line state, with the last reload error if the last attempt failed. */
enum cg_status cg_policy_store_describe(struct cg_policy_store *s, struct cg_buf *out);

#endif
