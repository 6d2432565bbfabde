#include "controller/leader.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"

static int64_t lease_ms(const struct cg_leader_timing *t)
{
    return t->lease_ms > 0 ? t->lease_ms : 15000;
}

static int64_t renew_deadline_ms(const struct cg_leader_timing *t)
{
    return t->renew_deadline_ms > 0 ? t->renew_deadline_ms : 10000;
}

static int64_t retry_ms(const struct cg_leader_timing *t)
{
    return t->retry_ms > 0 ? t->retry_ms : 2000;
}

enum cg_leader_action cg_leader_decide(struct cg_leader_state *st,
                                       const struct cg_kube_lease *lease, const char *identity,
                                       const struct cg_leader_timing *t, int64_t now_ms)
{
    if (lease == NULL)
        return CG_LEADER_CREATE;
    /* Expiry is judged by when *we* saw the lease last change, never by its timestamps. */
    if (strcmp(st->observed_holder, lease->holder) != 0 ||
        st->observed_renew_us != lease->renew_us) {
        memcpy(st->observed_holder, lease->holder, sizeof(st->observed_holder));
        st->observed_renew_us = lease->renew_us;
        st->observed_at_ms = now_ms;
    }
    if (strcmp(lease->holder, identity) == 0)
        return CG_LEADER_RENEW;
    if (lease->holder[0] == '\0')
        return CG_LEADER_TAKEOVER; /* given up by its last holder */
    int64_t duration =
        lease->duration_seconds > 0 ? (int64_t)lease->duration_seconds * 1000 : lease_ms(t);
    if (now_ms - st->observed_at_ms >= duration)
        return CG_LEADER_TAKEOVER;
    return CG_LEADER_WAIT;
}

bool cg_leader_must_step_down(const struct cg_leader_state *st, const struct cg_leader_timing *t,
                              int64_t now_ms)
{
    return st->leading && now_ms - st->last_renew_ms > renew_deadline_ms(t);
}

/* ---- the elector's thread ---- */

struct cg_leader {
    struct cg_leader_config cfg;
    char *namespace_, *name, *identity;
    struct cg_leader_state st;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    _Atomic bool leading;
};

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void set_leading(struct cg_leader *l, bool leading)
{
    if (l->st.leading == leading)
        return;
    l->st.leading = leading;
    atomic_store(&l->leading, leading);
    cg_log(CG_LOG_INFO, leading ? "became the leader" : "stopped leading", "lease", l->name,
           "identity", l->identity, NULL);
    if (leading && l->cfg.on_start != NULL)
        l->cfg.on_start(l->cfg.ud);
    if (!leading && l->cfg.on_stop != NULL)
        l->cfg.on_stop(l->cfg.ud);
}

/* One try: read the lease, decide, write. */
static void try_once(struct cg_leader *l)
{
    struct cg_kube_lease lease, out;
    struct cg_kube_response resp;
    struct cg_err err;
    cg_err_clear(&err);
    cg_kube_response_init(&resp);
    int64_t now = cg_mono_ms();
    enum cg_status st =
        cg_kube_lease_get(l->cfg.client, l->namespace_, l->name, &lease, &resp, &err);
    bool wrote = false;
    if (st == CG_OK || st == CG_ENOTFOUND) {
        enum cg_leader_action a =
            cg_leader_decide(&l->st, st == CG_OK ? &lease : NULL, l->identity, &l->cfg.timing, now);
        struct cg_kube_lease want = st == CG_OK ? lease : (struct cg_kube_lease){0};
        int64_t t = wall_us();
        want.duration_seconds = (int32_t)(lease_ms(&l->cfg.timing) / 1000);
        want.renew_us = t;
        switch (a) {
        case CG_LEADER_CREATE:
            snprintf(want.holder, sizeof(want.holder), "%s", l->identity);
            want.acquire_us = t;
            st = cg_kube_lease_create(l->cfg.client, l->namespace_, l->name, &want, &out, &resp,
                                      &err);
            wrote = st == CG_OK;
            break;
        case CG_LEADER_TAKEOVER:
        case CG_LEADER_RENEW:
            if (a == CG_LEADER_TAKEOVER) {
                snprintf(want.holder, sizeof(want.holder), "%s", l->identity);
                want.acquire_us = t;
                want.transitions++;
            }
            /* Against the version read: of two racing candidates one gets a conflict. */
            st = cg_kube_lease_update(l->cfg.client, l->namespace_, l->name, &want, &out, &resp,
                                      &err);
            wrote = st == CG_OK;
            break;
        case CG_LEADER_WAIT:
            set_leading(l, false); /* someone else holds it now */
            break;
        }
        if (wrote) {
            l->st.last_renew_ms = now;
            set_leading(l, true);
        }
    }
    if (!wrote && st != CG_OK && resp.reason != CG_KUBE_CONFLICT)
        cg_log(CG_LOG_WARN, "lease not renewed", "lease", l->name, "error", err.msg, NULL);
    if (!wrote && cg_leader_must_step_down(&l->st, &l->cfg.timing, cg_mono_ms()))
        set_leading(l, false);
    cg_kube_response_dispose(&resp);
}

/* Gives the lease up so a standby need not wait out its duration. */
static void release(struct cg_leader *l)
{
    struct cg_kube_lease lease, out;
    struct cg_kube_response resp;
    struct cg_err err;
    cg_kube_response_init(&resp);
    if (cg_kube_lease_get(l->cfg.client, l->namespace_, l->name, &lease, &resp, &err) == CG_OK &&
        strcmp(lease.holder, l->identity) == 0) {
        lease.holder[0] = '\0';
        lease.renew_us = wall_us();
        cg_kube_lease_update(l->cfg.client, l->namespace_, l->name, &lease, &out, &resp, &err);
    }
    cg_kube_response_dispose(&resp);
}

static void *elector_main(void *arg)
{
    struct cg_leader *l = arg;
    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        pthread_mutex_unlock(&l->lock);
        try_once(l);
        pthread_mutex_lock(&l->lock);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t ns = until.tv_nsec + retry_ms(&l->cfg.timing) % 1000 * 1000000;
        until.tv_sec += retry_ms(&l->cfg.timing) / 1000 + ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        while (!l->stopping && pthread_cond_timedwait(&l->wake, &l->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&l->lock);
    if (l->st.leading) {
        release(l);
        set_leading(l, false);
    }
    return NULL;
}

enum cg_status cg_leader_create(const struct cg_leader_config *config, struct cg_leader **out,
                                struct cg_err *err)
{
    *out = NULL;
    if (config->client == NULL || config->namespace_ == NULL || config->name == NULL ||
        config->identity == NULL || config->identity[0] == '\0' ||
        strlen(config->identity) >= CG_KUBE_HOLDER_MAX)
        return cg_err_set(err, CG_EINVAL,
                          "leader election needs a client, a lease namespace and name, and an "
                          "identity of 1 to %d bytes",
                          CG_KUBE_HOLDER_MAX - 1);
    struct cg_leader *l = cg_xcalloc(1, sizeof(*l));
    l->cfg = *config;
    l->namespace_ = cg_xstrdup(config->namespace_);
    l->name = cg_xstrdup(config->name);
    l->identity = cg_xstrdup(config->identity);
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->wake, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&l->thread, NULL, elector_main, l);
    if (rc != 0) {
        cg_leader_destroy(l);
        return cg_err_set(err, CG_EINTERNAL, "leader election thread: %s", strerror(rc));
    }
    l->started = true;
    *out = l;
    return CG_OK;
}

bool cg_leader_is_leading(struct cg_leader *l)
{
    return atomic_load(&l->leading);
}

void cg_leader_stop(struct cg_leader *l)
{
    if (l == NULL || !l->started)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    l->started = false;
}

void cg_leader_destroy(struct cg_leader *l)
{
    if (l == NULL)
        return;
    cg_leader_stop(l);
    pthread_cond_destroy(&l->wake);
    pthread_mutex_destroy(&l->lock);
    free(l->namespace_);
    free(l->name);
    free(l->identity);
    free(l);
}
