/* A published, reference-counted object (a policy set, a TLS context) that one thread
 * replaces and many threads read. Readers check a generation counter with one atomic load
 * per use and take the lock only when it moved, so the hot path never contends. */
#ifndef CG_BASE_SNAPSHOT_H
#define CG_BASE_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* What a reload did: nothing changed on disk, a new object was published, or loading failed
 * and the previous object stays. */
enum cg_reload_result { CG_RELOAD_UNCHANGED, CG_RELOAD_DONE, CG_RELOAD_FAILED };

struct cg_snapshot {
    pthread_mutex_t lock;
    void *current;               /* owned reference, NULL until the first publish */
    _Atomic uint64_t generation; /* bumped by every publish */
    void *(*retain)(void *obj);  /* adds a reference, returns obj */
    void (*release)(void *obj);  /* drops a reference; never called with NULL */
};

/* What one reader thread holds: its own reference and the generation it belongs to. */
struct cg_snapshot_reader {
    void *obj;
    uint64_t generation;
};

void cg_snapshot_init(struct cg_snapshot *s, void *(*retain)(void *), void (*release)(void *));
/* Drops the published reference. No reader may use s afterwards. */
void cg_snapshot_dispose(struct cg_snapshot *s);
/* Replaces the published object; the reference to obj moves into s (obj may be NULL).
 * Readers keep their old object until they next call cg_snapshot_reader_get. */
void cg_snapshot_publish(struct cg_snapshot *s, void *obj);
/* A new reference to the published object (or NULL); caller releases. */
void *cg_snapshot_take(struct cg_snapshot *s);
uint64_t cg_snapshot_generation(const struct cg_snapshot *s);

void cg_snapshot_reader_init(struct cg_snapshot_reader *r);
/* The reader's object, refreshed first if something was published since the last call:
 * one atomic load when nothing changed. Borrowed until the next call on r. */
void *cg_snapshot_reader_get(struct cg_snapshot_reader *r, struct cg_snapshot *s);
/* Drops the reader's reference (s supplies the release function). */
void cg_snapshot_reader_dispose(struct cg_snapshot_reader *r, struct cg_snapshot *s);

#endif
