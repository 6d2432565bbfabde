#include "base/options.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/mem.h"

static enum cg_status parse_long(const char *s, long *out)
{
    if (*s == '\0')
        return CG_EINVAL;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return CG_EINVAL;
    *out = v;
    return CG_OK;
}

static enum cg_status parse_bytes(const char *s, long *out)
{
    if (*s < '0' || *s > '9')
        return CG_EINVAL;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return CG_EINVAL;
    static const struct {
        const char *suffix;
        unsigned long long mult;
    } suffixes[] = {{"", 1},         {"K", 1000},     {"M", 1000000},    {"G", 1000000000},
                    {"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1ULL << 30}};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (strcmp(end, suffixes[i].suffix) == 0) {
            if (v > (unsigned long long)LONG_MAX / suffixes[i].mult)
                return CG_EINVAL;
            *out = (long)(v * suffixes[i].mult);
            return CG_OK;
        }
    }
    return CG_EINVAL;
}

static enum cg_status parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off", ""};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, CG_OK;
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, CG_OK;
    return CG_EINVAL;
}

/* Stores value into the field of o; `source` names the flag or variable for errors. */
static enum cg_status set_value(void *cfg, const struct cg_option *o, const char *value,
                                const char *source, struct cg_err *err)
{
    char *field = (char *)cfg + o->offset;
    long n = 0;
    switch (o->type) {
    case CG_OPT_STR: {
        char **p = (char **)(void *)field;
        bool optional = o->defval != NULL && o->defval[0] == '\0'; /* "" means unset */
        if (*value == '\0' && !optional)
            return cg_err_set(err, CG_EINVAL, "%s: empty value", source);
        free(*p);
        *p = cg_xstrdup(value);
        return CG_OK;
    }
    case CG_OPT_BOOL:
        if (parse_bool(value, (bool *)(void *)field) != CG_OK)
            return cg_err_set(err, CG_EINVAL, "%s: '%s' is not a boolean (true/false)", source,
                              value);
        return CG_OK;
    case CG_OPT_LEVEL: {
        int lv = cg_log_level_parse(value);
        if (lv < 0)
            return cg_err_set(err, CG_EINVAL, "%s: '%s' is not debug, info, warn or error", source,
                              value);
        *(int *)(void *)field = lv;
        return CG_OK;
    }
    case CG_OPT_LONG:
    case CG_OPT_BYTES:
        if ((o->type == CG_OPT_LONG ? parse_long(value, &n) : parse_bytes(value, &n)) != CG_OK)
            return cg_err_set(err, CG_EINVAL, "%s: '%s' is not a %s", source, value,
                              o->type == CG_OPT_LONG ? "number" : "byte count");
        if (n < o->min || n > o->max)
            return cg_err_set(err, CG_EINVAL, "%s: %ld is out of range [%ld, %ld]", source, n,
                              o->min, o->max);
        *(long *)(void *)field = n;
        return CG_OK;
    }
    return cg_err_set(err, CG_EINTERNAL, "%s: unknown option type", source);
}

static char **str_field(void *cfg, const struct cg_option *o)
{
    return (char **)(void *)((char *)cfg + o->offset);
}

void cg_options_init(const struct cg_options *t, void *cfg)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i].defval == NULL)
            continue;
        enum cg_status st =
            set_value(cfg, &t->items[i], t->items[i].defval, t->items[i].name, NULL);
        assert(st == CG_OK); /* the table's defaults are valid */
        (void)st;
    }
}

void cg_options_dispose(const struct cg_options *t, void *cfg)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i].type == CG_OPT_STR) {
            char **p = str_field(cfg, &t->items[i]);
            free(*p);
            *p = NULL;
        }
    }
}

static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp != NULL && *envp != NULL; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

static const struct cg_option *find_opt(const struct cg_options *t, const char *name, size_t n)
{
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->items[i].name) == n && memcmp(t->items[i].name, name, n) == 0)
            return &t->items[i];
    return NULL;
}

enum cg_status cg_options_parse(const struct cg_options *t, void *cfg, bool *help, int argc,
                                char *const *argv, char *const *envp, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    char source[128];
    *help = false;

    for (size_t i = 0; i < t->n; i++) {
        const char *v = env_get(envp, t->items[i].env);
        if (v == NULL)
            continue;
        st = set_value(cfg, &t->items[i], v, t->items[i].env, err);
        if (st != CG_OK)
            goto out;
    }

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = true;
            st = CG_OK;
            goto out;
        }
        if (strncmp(arg, "--", 2) != 0) {
            st = cg_err_set(err, CG_EINVAL, "unexpected argument '%s' (see --help)", arg);
            goto out;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        const struct cg_option *o = find_opt(t, name, n);
        if (o == NULL) {
            st = cg_err_set(err, CG_EINVAL, "unknown option '--%.*s' (see --help)", (int)n, name);
            goto out;
        }
        snprintf(source, sizeof(source), "--%s", o->name);
        const char *value = NULL;
        if (o->type == CG_OPT_BOOL) {
            value = eq ? eq + 1 : "true";
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            st = cg_err_set(err, CG_EINVAL, "%s needs a value", source);
            goto out;
        }
        st = set_value(cfg, o, value, source, err);
        if (st != CG_OK)
            goto out;
    }

    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i].type != CG_OPT_STR)
            continue;
        if (*str_field(cfg, &t->items[i]) == NULL) {
            st = cg_err_set(err, CG_EINVAL, "--%s (or %s) is required", t->items[i].name,
                            t->items[i].env);
            goto out;
        }
    }
out:
    return st;
}

enum cg_status cg_options_usage(const struct cg_options *t, struct cg_buf *out)
{
    enum cg_status st = CG_OK;
    for (size_t i = 0; st == CG_OK && i < t->n; i++) {
        const struct cg_option *o = &t->items[i];
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        st = cg_buf_appendf(out, "  %-26s %s\n  %-26s env %s, default: %s\n", flag, o->help, "",
                            o->env,
                            o->defval == NULL ? "(required)"
                            : o->defval[0]    ? o->defval
                                              : "(none)");
    }
    if (st == CG_OK)
        st = cg_buf_append_str(out, "  --help                     this text\n");
    return st;
}
