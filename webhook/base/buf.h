/* A growable byte buffer with a hard cap (curl's dynbuf idea): appends past max fail with
 * CG_ETOOBIG instead of growing without bound. Always NUL-terminated after a successful
 * append, so data can be used as a C string when it holds text. */
#ifndef CG_BASE_BUF_H
#define CG_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

struct cg_buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* 0: no cap */
};

void cg_buf_init(struct cg_buf *b, size_t max);
void cg_buf_dispose(struct cg_buf *b);
/* Empties the buffer but keeps its memory. */
void cg_buf_reset(struct cg_buf *b);
enum cg_status cg_buf_reserve(struct cg_buf *b, size_t extra);
enum cg_status cg_buf_append(struct cg_buf *b, const void *p, size_t n);
enum cg_status cg_buf_append_str(struct cg_buf *b, const char *s);
enum cg_status cg_buf_append_char(struct cg_buf *b, char c);
/* Appends v in decimal (the hot path's numbers, without printf). */
enum cg_status cg_buf_append_uint(struct cg_buf *b, uint64_t v);
enum cg_status cg_buf_appendf(struct cg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum cg_status cg_buf_vappendf(struct cg_buf *b, const char *fmt, va_list ap);
/* Appends s as the body of a JSON string (without the quotes): escapes ", \ and control
 * characters; bytes >= 0x80 pass through (the input is expected to be UTF-8). */
enum cg_status cg_buf_append_json_escaped(struct cg_buf *b, const char *s, size_t n);
/* Appends "s" with quotes, escaped. */
enum cg_status cg_buf_append_json_string(struct cg_buf *b, const char *s, size_t n);
/* Ownership of data moves to the caller (free()); the buffer is left empty. */
char *cg_buf_take(struct cg_buf *b, size_t *len);

#endif
