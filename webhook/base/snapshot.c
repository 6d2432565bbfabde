#include "base/snapshot.h"

#include <assert.h>

void cg_snapshot_init(struct cg_snapshot *s, void *(*retain)(void *), void (*release)(void *))
{
    pthread_mutex_init(&s->lock, NULL);
    s->current = NULL;
    atomic_init(&s->generation, 0);
    s->retain = retain;
    s->release = release;
}

void cg_snapshot_dispose(struct cg_snapshot *s)
{
    if (s->current != NULL)
        s->release(s->current);
    s->current = NULL;
    pthread_mutex_destroy(&s->lock);
}

void cg_snapshot_publish(struct cg_snapshot *s, void *obj)
{
    pthread_mutex_lock(&s->lock);
    void *old = s->current;
    s->current = obj;
    /* Release order: a reader that sees the new generation finds the new object. */
    atomic_fetch_add_explicit(&s->generation, 1, memory_order_release);
    pthread_mutex_unlock(&s->lock);
    if (old != NULL)
        s->release(old);
}

void *cg_snapshot_take(struct cg_snapshot *s)
{
    pthread_mutex_lock(&s->lock);
    void *obj = s->current != NULL ? s->retain(s->current) : NULL;
    pthread_mutex_unlock(&s->lock);
    return obj;
}

uint64_t cg_snapshot_generation(const struct cg_snapshot *s)
{
    return atomic_load_explicit(&s->generation, memory_order_acquire);
}

void cg_snapshot_reader_init(struct cg_snapshot_reader *r)
{
    r->obj = NULL;
    r->generation = 0;
}

void *cg_snapshot_reader_get(struct cg_snapshot_reader *r, struct cg_snapshot *s)
{
    uint64_t g = atomic_load_explicit(&s->generation, memory_order_acquire);
    if (g == r->generation)
        return r->obj;
    pthread_mutex_lock(&s->lock);
    void *obj = s->current != NULL ? s->retain(s->current) : NULL;
    g = atomic_load_explicit(&s->generation, memory_order_relaxed);
    pthread_mutex_unlock(&s->lock);
    if (r->obj != NULL)
        s->release(r->obj);
    r->obj = obj;
    r->generation = g;
    return obj;
}

void cg_snapshot_reader_dispose(struct cg_snapshot_reader *r, struct cg_snapshot *s)
{
    if (r->obj != NULL)
        s->release(r->obj);
    r->obj = NULL;
    r->generation = 0;
}
