/* Table-driven command-line options: one table names every option with its flag, environment
 * variable, default and help, and drives defaults, the environment fallback, flag parsing and
 * --help alike (cellgate-webhook and cellgate-controller each have one). Pure: no global state.
 *
 * A table entry stores into the field at offset of the caller's config struct: a char * (owned,
 * freed by cg_options_dispose), a long, a bool or an int log level. */
#ifndef CG_BASE_OPTIONS_H
#define CG_BASE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"

enum cg_option_type {
    CG_OPT_STR,   /* defval NULL: required; "": optional, empty means unset */
    CG_OPT_LONG,  /* within [min, max] */
    CG_OPT_BYTES, /* a byte count with K, M, G, Ki, Mi, Gi suffixes, within [min, max] */
    CG_OPT_BOOL,  /* a flag without a value; 1/0/true/false/yes/no/on/off in the environment */
    CG_OPT_LEVEL, /* a log level: debug, info, warn, error */
};

struct cg_option {
    const char *name; /* flag without the leading "--" */
    const char *env;
    const char *defval;
    const char *metavar;
    enum cg_option_type type;
    size_t offset;
    long min, max;
    const char *help;
};

struct cg_options {
    const struct cg_option *items;
    size_t n;
};

/* Zeroes nothing: sets every option that has a default in cfg. */
void cg_options_init(const struct cg_options *t, void *cfg);
/* Frees the strings the options own in cfg. */
void cg_options_dispose(const struct cg_options *t, void *cfg);

/* Applies the environment (envp: NULL-terminated "NAME=value" strings, may be NULL), then
 * argv[1..argc) (flags win), then checks that required strings are set. Flags take
 * "--name value" or "--name=value". On --help or -h sets *help and returns CG_OK without the
 * checks. Errors name the flag or the variable at fault. */
enum cg_status cg_options_parse(const struct cg_options *t, void *cfg, bool *help, int argc,
                                char *const *argv, char *const *envp, struct cg_err *err);

/* Appends one entry per option (flag, help, variable, default) and --help to out. */
enum cg_status cg_options_usage(const struct cg_options *t, struct cg_buf *out);

#endif
