#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cg_status_str(enum cg_status status)
{
    switch (status) {
#define CG__STATUS_CASE(name, value, text)                                                         \
    case CG_##name:                                                                                \
        return text;
        CG_STATUS_MAP(CG__STATUS_CASE)
#undef CG__STATUS_CASE
    }
    return "unknown status";
}

void cg_err_clear(struct cg_err *err)
{
    if (err == NULL)
        return;
    err->status = CG_OK;
    err->msg[0] = '\0';
    err->file[0] = '\0';
    err->line = 0;
    err->col = 0;
}

static void vset(struct cg_err *err, enum cg_status status, const char *fmt, va_list ap)
{
    err->status = status;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

enum cg_status cg_err_set(struct cg_err *err, enum cg_status status, const char *fmt, ...)
{
    if (err == NULL)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vset(err, status, fmt, ap);
    va_end(ap);
    err->file[0] = '\0';
    err->line = 0;
    err->col = 0;
    return status;
}

enum cg_status cg_err_set_at(struct cg_err *err, enum cg_status status, const char *file, int line,
                             int col, const char *fmt, ...)
{
    if (err == NULL)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vset(err, status, fmt, ap);
    va_end(ap);
    snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
    err->line = line;
    err->col = col;
    return status;
}

void cg_err_format(const struct cg_err *err, char *out, size_t outlen)
{
    if (err->file[0] != '\0')
        snprintf(out, outlen, "%s:%d:%d: %s", err->file, err->line, err->col, err->msg);
    else
        snprintf(out, outlen, "%s", err->msg);
}
