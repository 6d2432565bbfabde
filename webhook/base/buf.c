#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

void cg_buf_init(struct cg_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void cg_buf_dispose(struct cg_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void cg_buf_reset(struct cg_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

enum cg_status cg_buf_reserve(struct cg_buf *b, size_t extra)
{
    if (b->max != 0 && (extra > b->max || b->len > b->max - extra))
        return CG_ETOOBIG;
    /* Uncapped buffers are bounded by size_t: a request that would wrap is too big. */
    if (extra > SIZE_MAX - 1 - b->len)
        return CG_ETOOBIG;
    size_t need = b->len + extra + 1; /* room for the terminating NUL */
    if (need <= b->cap)
        return CG_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->max != 0 && cap > b->max + 1)
        cap = b->max + 1;
    b->data = cg_xrealloc(b->data, cap);
    b->cap = cap;
    return CG_OK;
}

enum cg_status cg_buf_append(struct cg_buf *b, const void *p, size_t n)
{
    enum cg_status st = cg_buf_reserve(b, n);
    if (st != CG_OK)
        return st;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return CG_OK;
}

enum cg_status cg_buf_append_str(struct cg_buf *b, const char *s)
{
    return cg_buf_append(b, s, strlen(s));
}

enum cg_status cg_buf_append_char(struct cg_buf *b, char c)
{
    return cg_buf_append(b, &c, 1);
}

enum cg_status cg_buf_append_uint(struct cg_buf *b, uint64_t v)
{
    char num[20]; /* UINT64_MAX has 20 digits */
    char *p = num + sizeof(num);
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return cg_buf_append(b, p, (size_t)(num + sizeof(num) - p));
}

enum cg_status cg_buf_vappendf(struct cg_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return CG_EINVAL;
    enum cg_status st = cg_buf_reserve(b, (size_t)n);
    if (st != CG_OK)
        return st;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return CG_OK;
}

enum cg_status cg_buf_appendf(struct cg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum cg_status st = cg_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return st;
}

enum cg_status cg_buf_append_json_escaped(struct cg_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the pending run of bytes that need no escaping */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        enum cg_status st = cg_buf_append(b, s + run, i - run);
        if (st != CG_OK)
            return st;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            elen = 6;
        }
        st = cg_buf_append(b, esc, elen);
        if (st != CG_OK)
            return st;
        run = i + 1;
    }
    return cg_buf_append(b, s + run, n - run);
}

enum cg_status cg_buf_append_json_string(struct cg_buf *b, const char *s, size_t n)
{
    enum cg_status st = cg_buf_append_char(b, '"');
    if (st == CG_OK)
        st = cg_buf_append_json_escaped(b, s, n);
    if (st == CG_OK)
        st = cg_buf_append_char(b, '"');
    return st;
}

char *cg_buf_take(struct cg_buf *b, size_t *len)
{
    char *p = b->data;
    if (len != NULL)
        *len = b->len;
    if (p == NULL)
        p = cg_xstrdup("");
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
