#include "base/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static void oom(size_t n)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory\",\"bytes\":%zu}\n", n);
    abort();
}

void *cg_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *cg_xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL)
        oom(count * n);
    return p;
}

void *cg_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *cg_xstrdup(const char *s)
{
    return cg_xstrndup(s, strlen(s));
}

char *cg_xstrndup(const char *s, size_t n)
{
    char *p = cg_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void jansson_free(void *p)
{
    free(p);
}

void cg_mem_install_jansson(void)
{
    json_set_alloc_funcs(cg_xmalloc, jansson_free);
}

struct cg_arena_block {
    struct cg_arena_block *next;
    size_t size;
    size_t used;
    _Alignas(max_align_t) unsigned char data[];
};

static struct cg_arena_block *block_create(size_t size)
{
    if (size > SIZE_MAX - sizeof(struct cg_arena_block))
        oom(size);
    struct cg_arena_block *b = cg_xmalloc(sizeof(*b) + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

void cg_arena_init(struct cg_arena *a, size_t block_size)
{
    a->head = NULL;
    a->block_size = block_size ? block_size : 16384;
}

void cg_arena_dispose(struct cg_arena *a)
{
    struct cg_arena_block *b = a->head;
    while (b != NULL) {
        struct cg_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

void cg_arena_reset(struct cg_arena *a)
{
    if (a->head == NULL)
        return;
    /* Keep the oldest block (the one of block_size); free the overflow blocks. */
    struct cg_arena_block *b = a->head;
    while (b->next != NULL) {
        struct cg_arena_block *next = b->next;
        free(b);
        b = next;
    }
    b->used = 0;
    a->head = b;
}

#define ALIGN_UP(n) (((n) + (_Alignof(max_align_t) - 1)) & ~(size_t)(_Alignof(max_align_t) - 1))

void *cg_arena_alloc(struct cg_arena *a, size_t n)
{
    /* A size whose rounding or block header would wrap cannot be had: as out of memory. */
    if (n > SIZE_MAX / 2)
        oom(n);
    n = ALIGN_UP(n ? n : 1);
    struct cg_arena_block *b = a->head;
    if (b == NULL || b->size - b->used < n) {
        size_t size = n > a->block_size ? n : a->block_size;
        struct cg_arena_block *nb = block_create(size);
        if (b == NULL) {
            a->head = nb;
        } else {
            /* Chain the new block in front of the current one; reset frees all but the last. */
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void *cg_arena_grow(struct cg_arena *a, void *p, size_t old_n, size_t new_n)
{
    if (new_n > SIZE_MAX / 2)
        oom(new_n); /* its rounding would wrap */
    struct cg_arena_block *b = a->head;
    size_t old_al = ALIGN_UP(old_n ? old_n : 1);
    if (p != NULL && b != NULL && (unsigned char *)p + old_al == b->data + b->used &&
        (size_t)((unsigned char *)p - b->data) + ALIGN_UP(new_n) <= b->size) {
        b->used = (size_t)((unsigned char *)p - b->data) + ALIGN_UP(new_n);
        return p;
    }
    void *q = cg_arena_alloc(a, new_n);
    if (p != NULL && old_n > 0)
        memcpy(q, p, old_n < new_n ? old_n : new_n);
    return q;
}
