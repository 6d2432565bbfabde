/* Allocation that aborts on out-of-memory (the house rule: OOM is not a handled error),
 * and a bump arena for per-request scratch memory. */
#ifndef CG_BASE_MEM_H
#define CG_BASE_MEM_H

#include <stddef.h>

void *cg_xmalloc(size_t n);
void *cg_xcalloc(size_t count, size_t n);
void *cg_xrealloc(void *p, size_t n);
char *cg_xstrdup(const char *s);
char *cg_xstrndup(const char *s, size_t n);

/* Makes jansson allocate through cg_xmalloc (abort on OOM). Call once at startup. */
void cg_mem_install_jansson(void);

/* A bump allocator: memory lives until cg_arena_reset or cg_arena_dispose. The first block
 * is allocated lazily and kept across resets, so a steady stream of requests that fit in it
 * allocates nothing. Larger demands chain extra blocks, freed at reset. */
struct cg_arena_block;
struct cg_arena {
    struct cg_arena_block *head; /* current block; older blocks follow ->next */
    size_t block_size;
};

void cg_arena_init(struct cg_arena *a, size_t block_size);
void cg_arena_dispose(struct cg_arena *a);
/* Frees all but the first block and rewinds it. */
void cg_arena_reset(struct cg_arena *a);
/* n bytes aligned for any type; never NULL (aborts on OOM). */
void *cg_arena_alloc(struct cg_arena *a, size_t n);
/* Grows the most recent allocation p (of old_n bytes) to new_n, moving it if needed. */
void *cg_arena_grow(struct cg_arena *a, void *p, size_t old_n, size_t new_n);

#endif
