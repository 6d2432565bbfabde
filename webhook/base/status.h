/* Status codes and the caller-owned error detail shared by every module.
 *
 * Functions return enum cg_status (CG_OK = 0, failures negative) and, where the caller
 * passes one, fill a struct cg_err with a human-readable message and, for policy files,
 * the file:line:column it is about. Nothing here allocates. */
#ifndef CG_BASE_STATUS_H
#define CG_BASE_STATUS_H

#include <stddef.h>

#define CG_STATUS_MAP(X)                                                                           \
    X(OK, 0, "ok")                                                                                 \
    X(EINVAL, -1, "invalid input")                                                                 \
    X(EPARSE, -2, "malformed input")                                                               \
    X(EIO, -3, "input/output error")                                                               \
    X(ETOOBIG, -4, "too large")                                                                    \
    X(ENOTFOUND, -5, "not found")                                                                  \
    X(EUNSUPPORTED, -6, "unsupported")                                                             \
    X(ETLS, -7, "TLS error")                                                                       \
    X(EINTERNAL, -8, "internal error")

enum cg_status {
#define CG__STATUS_ENUM(name, value, text) CG_##name = value,
    CG_STATUS_MAP(CG__STATUS_ENUM)
#undef CG__STATUS_ENUM
};

/* A short constant description of a status ("malformed input"). Never NULL. */
const char *cg_status_str(enum cg_status status);

#define CG_ERR_MSG_MAX 512
#define CG_ERR_FILE_MAX 256

/* Detail about the last failure. file is empty and line/col are 0 unless the failure is
 * about a position in a file (policy YAML). */
struct cg_err {
    enum cg_status status;
    char msg[CG_ERR_MSG_MAX];
    char file[CG_ERR_FILE_MAX];
    int line;
    int col;
};

/* Clears err (status CG_OK, empty message). err may be NULL. */
void cg_err_clear(struct cg_err *err);

/* Sets status and a printf-style message; returns status so callers can
 * `return cg_err_set(err, CG_EINVAL, "...")`. err may be NULL. */
enum cg_status cg_err_set(struct cg_err *err, enum cg_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As cg_err_set, with a position in a file (1-based line and column). */
enum cg_status cg_err_set_at(struct cg_err *err, enum cg_status status, const char *file, int line,
                             int col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Writes "file:line:col: message" (or just the message without a file) into out. */
void cg_err_format(const struct cg_err *err, char *out, size_t outlen);

#endif
