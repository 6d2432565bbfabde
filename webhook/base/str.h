/* Borrowed byte strings: a pointer and a length, not NUL-terminated. The decoder's typed
 * view is made of these; they point into the request body or the request's arena. */
#ifndef CG_BASE_STR_H
#define CG_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct cg_str {
    const char *p;
    size_t n;
};

#define CG_STR_NULL ((struct cg_str){NULL, 0})
#define CG_STR_LIT(s) ((struct cg_str){(s), sizeof(s) - 1})

static inline struct cg_str cg_str_from(const char *s)
{
    return (struct cg_str){s, s ? strlen(s) : 0};
}

static inline bool cg_str_eq(struct cg_str a, struct cg_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static inline bool cg_str_eq_c(struct cg_str a, const char *b)
{
    size_t n = strlen(b);
    return a.n == n && (n == 0 || memcmp(a.p, b, n) == 0);
}

static inline bool cg_str_has_prefix(struct cg_str a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.n >= n && memcmp(a.p, prefix, n) == 0;
}

#endif
