/* The drain requester (drainreq.h): a ring of fixed-size slots (no allocation per queued
 * request beyond the remembered key), a remembered-pods set (hash map plus a FIFO for
 * forgetting by age and by count), one worker thread, one mutex and two condition
 * variables (work for the worker, idle for flush). */
#include "kube/drainreq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"

#define NS_MAX 63
#define NAME_MAX_ 253
#define DEFAULT_QUEUE 1024
#define DEFAULT_REMEMBER_SECONDS 600
#define DEFAULT_REMEMBER_MAX 65536

struct slot {
    char ns[NS_MAX + 1];
    char name[NAME_MAX_ + 1];
    char time[CG_DRAINREQ_TIME_MAX];
};

/* A remembered pod: key is "namespace/name" (a namespace holds no '/'). */
struct mem {
    struct mem *next;          /* bucket chain */
    struct mem *older, *newer; /* age order */
    int64_t at;
    uint32_t hash;
    uint16_t len;
    char key[];
};

struct cg_drainreq {
    cg_drainreq_send_fn send;
    void *ud;
    int64_t remember_seconds;
    size_t remember_max;

    pthread_mutex_t mu;
    pthread_cond_t work, idle;
    pthread_t thread;
    bool started, stopping, busy;

    struct slot *q;
    size_t cap, head, n;

    struct mem **b;
    size_t nb, nmem;
    struct mem *oldest, *newest;

    struct cg_drainreq_stats st;
};

void cg_drainreq_format_time(int64_t t, char *out)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(out, CG_DRAINREQ_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(out, "1970-01-01T00:00:00Z"); /* unreachable for any real clock */
}

static uint32_t hash_key(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

static struct mem **mem_slot(struct cg_drainreq *dr, const char *key, size_t n, uint32_t h)
{
    struct mem **pp = &dr->b[h & (dr->nb - 1)];
    for (; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->hash == h && (*pp)->len == n && memcmp((*pp)->key, key, n) == 0)
            return pp;
    return pp;
}

static void mem_remove(struct cg_drainreq *dr, struct mem **slot)
{
    struct mem *m = *slot;
    *slot = m->next;
    if (m->older != NULL)
        m->older->newer = m->newer;
    else
        dr->oldest = m->newer;
    if (m->newer != NULL)
        m->newer->older = m->older;
    else
        dr->newest = m->older;
    dr->nmem--;
    free(m);
}

/* Forgets pods remembered too long, and the oldest beyond the count limit. */
static void mem_trim(struct cg_drainreq *dr, int64_t now)
{
    while (dr->oldest != NULL &&
           (dr->oldest->at + dr->remember_seconds <= now || dr->nmem > dr->remember_max)) {
        struct mem *m = dr->oldest;
        mem_remove(dr, mem_slot(dr, m->key, m->len, m->hash));
    }
}

static void mem_add(struct cg_drainreq *dr, struct mem **slot, const char *key, size_t n,
                    uint32_t h, int64_t now)
{
    struct mem *m = cg_xmalloc(sizeof(*m) + n);
    m->next = NULL;
    m->hash = h;
    m->len = (uint16_t)n;
    /* Keep the age list sorted even when callers' clocks interleave. */
    m->at = dr->newest != NULL && dr->newest->at > now ? dr->newest->at : now;
    memcpy(m->key, key, n);
    *slot = m;
    m->older = dr->newest;
    m->newer = NULL;
    if (dr->newest != NULL)
        dr->newest->newer = m;
    else
        dr->oldest = m;
    dr->newest = m;
    dr->nmem++;
}

static size_t make_key(char *key, const char *ns, const char *name)
{
    size_t a = strlen(ns), b = strlen(name);
    memcpy(key, ns, a);
    key[a] = '/';
    memcpy(key + a + 1, name, b);
    return a + 1 + b;
}

static void *worker(void *arg)
{
    struct cg_drainreq *dr = arg;
    struct slot s;
    struct cg_err err;
    char key[NS_MAX + 1 + NAME_MAX_];
    pthread_mutex_lock(&dr->mu);
    for (;;) {
        while (dr->n == 0 && !dr->stopping)
            pthread_cond_wait(&dr->work, &dr->mu);
        if (dr->stopping)
            break;
        s = dr->q[dr->head];
        dr->head = (dr->head + 1) % dr->cap;
        dr->n--;
        dr->busy = true;
        pthread_mutex_unlock(&dr->mu);

        cg_err_clear(&err);
        enum cg_status st = dr->send(dr->ud, s.ns, s.name, s.time, &err);
        if (st != CG_OK) {
            /* The decision to give up on this request is made here, so it is logged here. */
            struct cg_log_line l;
            cg_log_begin(&l, CG_LOG_WARN, "drain request failed");
            cg_log_str(&l, "namespace", s.ns);
            cg_log_str(&l, "pod", s.name);
            cg_log_str(&l, "status", cg_status_str(st));
            cg_log_str(&l, "error", err.msg);
            cg_log_end(&l);
        }

        pthread_mutex_lock(&dr->mu);
        dr->busy = false;
        if (st == CG_OK) {
            dr->st.sent++;
        } else {
            dr->st.failed++;
            /* Forgotten, so that the next denied delete of this pod asks again. */
            size_t n = make_key(key, s.ns, s.name);
            struct mem **slot = mem_slot(dr, key, n, hash_key(key, n));
            if (*slot != NULL)
                mem_remove(dr, slot);
        }
        if (dr->n == 0)
            pthread_cond_broadcast(&dr->idle);
    }
    dr->st.discarded += dr->n;
    dr->n = 0;
    dr->busy = false;
    pthread_cond_broadcast(&dr->idle);
    pthread_mutex_unlock(&dr->mu);
    return NULL;
}

enum cg_status cg_drainreq_create(const struct cg_drainreq_config *config, struct cg_drainreq **out,
                                  struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_drainreq *dr = NULL;
    int rc;
    *out = NULL;
    if (config == NULL || config->send == NULL) {
        st = cg_err_set(err, CG_EINVAL, "drain requester: no send function");
        goto out;
    }
    dr = cg_xcalloc(1, sizeof(*dr));
    dr->send = config->send;
    dr->ud = config->ud;
    dr->cap = config->queue_cap ? config->queue_cap : DEFAULT_QUEUE;
    dr->remember_seconds =
        config->remember_seconds > 0 ? config->remember_seconds : DEFAULT_REMEMBER_SECONDS;
    dr->remember_max = config->remember_max ? config->remember_max : DEFAULT_REMEMBER_MAX;
    dr->q = cg_xcalloc(dr->cap, sizeof(*dr->q));
    /* Fixed buckets: the set is bounded by remember_max, so size for it once. */
    dr->nb = 64;
    while (dr->nb < dr->remember_max && dr->nb < (1u << 20))
        dr->nb *= 2;
    dr->b = cg_xcalloc(dr->nb, sizeof(*dr->b));
    pthread_mutex_init(&dr->mu, NULL);
    pthread_cond_init(&dr->work, NULL);
    pthread_cond_init(&dr->idle, NULL);
    rc = pthread_create(&dr->thread, NULL, worker, dr);
    if (rc != 0) {
        st = cg_err_set(err, CG_EINTERNAL, "drain requester: cannot start its thread: %s",
                        strerror(rc));
        goto out;
    }
    dr->started = true;
    *out = dr;
    dr = NULL;
out:
    cg_drainreq_destroy(dr);
    return st;
}

bool cg_drainreq_request(struct cg_drainreq *dr, struct cg_str namespace_, struct cg_str name,
                         int64_t now)
{
    bool queued = false;
    char key[NS_MAX + 1 + NAME_MAX_];
    pthread_mutex_lock(&dr->mu);
    if (namespace_.n == 0 || name.n == 0 || namespace_.n > NS_MAX || name.n > NAME_MAX_ ||
        memchr(namespace_.p, '/', namespace_.n) != NULL) {
        dr->st.invalid++;
        goto out;
    }
    if (dr->stopping)
        goto out;
    mem_trim(dr, now);
    memcpy(key, namespace_.p, namespace_.n);
    key[namespace_.n] = '/';
    memcpy(key + namespace_.n + 1, name.p, name.n);
    size_t n = namespace_.n + 1 + name.n;
    uint32_t h = hash_key(key, n);
    struct mem **slot = mem_slot(dr, key, n, h);
    if (*slot != NULL) {
        dr->st.duplicates++;
        goto out;
    }
    if (dr->n == dr->cap) {
        dr->st.dropped++;
        goto out;
    }
    struct slot *s = &dr->q[(dr->head + dr->n) % dr->cap];
    memcpy(s->ns, namespace_.p, namespace_.n);
    s->ns[namespace_.n] = '\0';
    memcpy(s->name, name.p, name.n);
    s->name[name.n] = '\0';
    cg_drainreq_format_time(now, s->time);
    dr->n++;
    mem_add(dr, slot, key, n, h, now);
    mem_trim(dr, now); /* the count limit */
    dr->st.queued++;
    queued = true;
    pthread_cond_signal(&dr->work);
out:
    pthread_mutex_unlock(&dr->mu);
    return queued;
}

void cg_drainreq_flush(struct cg_drainreq *dr)
{
    pthread_mutex_lock(&dr->mu);
    while ((dr->n > 0 || dr->busy) && !dr->stopping)
        pthread_cond_wait(&dr->idle, &dr->mu);
    pthread_mutex_unlock(&dr->mu);
}

void cg_drainreq_stop(struct cg_drainreq *dr)
{
    pthread_mutex_lock(&dr->mu);
    bool join = dr->started;
    dr->stopping = true;
    dr->started = false;
    pthread_cond_broadcast(&dr->work);
    pthread_cond_broadcast(&dr->idle);
    pthread_mutex_unlock(&dr->mu);
    if (join)
        pthread_join(dr->thread, NULL);
}

void cg_drainreq_stats(struct cg_drainreq *dr, struct cg_drainreq_stats *out)
{
    pthread_mutex_lock(&dr->mu);
    *out = dr->st;
    pthread_mutex_unlock(&dr->mu);
}

void cg_drainreq_destroy(struct cg_drainreq *dr)
{
    if (dr == NULL)
        return;
    cg_drainreq_stop(dr);
    while (dr->oldest != NULL) {
        struct mem *m = dr->oldest;
        mem_remove(dr, mem_slot(dr, m->key, m->len, m->hash));
    }
    pthread_cond_destroy(&dr->idle);
    pthread_cond_destroy(&dr->work);
    pthread_mutex_destroy(&dr->mu);
    free(dr->b);
    free(dr->q);
    free(dr);
}
