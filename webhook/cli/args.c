/* Argument parsing for every command (one flag table drives parsing, --help and shell
 * completion) and the argument values the commands share: RFC 3339 times, replica counts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_internal.h"

/* --- time --------------------------------------------------------------------------------- */

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool cg_cli_time_decode(const char *s, long long *out)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        p += 6;
    } else {
        return false;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out = (long long)t - sign * (oh * 3600LL + om * 60LL);
    return true;
}

/* --- flags -------------------------------------------------------------------------------- */

static const struct cg__cli_flag *find_long(const struct cg__cli_command *cmd, const char *name,
                                            size_t len)
{
    for (size_t i = 0; i < cmd->n_flags; i++)
        if (strlen(cmd->flags[i].name) == len && strncmp(cmd->flags[i].name, name, len) == 0)
            return &cmd->flags[i];
    return NULL;
}

static const struct cg__cli_flag *find_short(const struct cg__cli_command *cmd, char c)
{
    for (size_t i = 0; i < cmd->n_flags; i++)
        if (cmd->flags[i].short_name == c)
            return &cmd->flags[i];
    return NULL;
}

static int usage_error(const struct cg__cli_command *cmd, FILE *err, const char *fmt,
                       const char *arg)
{
    fprintf(err, "cellgate %s: ", cmd->name);
    fprintf(err, fmt, arg);
    fprintf(err, "\nusage: cellgate %s %s (see cellgate %s --help)\n", cmd->name, cmd->synopsis,
            cmd->name);
    return 2;
}

static int store(const struct cg__cli_command *cmd, const struct cg__cli_flag *f, const char *value,
                 void *opts, FILE *err)
{
    char *at = (char *)opts + f->offset;
    switch (f->kind) {
    case CG_CLI_SWITCH:
        *(bool *)at = true;
        break;
    case CG_CLI_LIST: {
        struct cg__cli_list *l = (struct cg__cli_list *)at;
        if (l->n == CG_CLI_LIST_MAX)
            return usage_error(cmd, err, "--%s is given too often", f->name);
        l->items[l->n++] = value;
        break;
    }
    case CG_CLI_VALUE:
        if (*(const char **)at != NULL)
            return usage_error(cmd, err, "--%s is given twice", f->name);
        *(const char **)at = value;
        break;
    }
    return -1;
}

int cg__cli_args_parse(const struct cg__cli_command *cmd, int argc, char **argv, void *opts,
                       struct cg__cli_list *pos, FILE *out, FILE *err)
{
    pos->n = 0;
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
            if (pos->n == CG_CLI_LIST_MAX || pos->n >= cmd->max_pos)
                return usage_error(cmd, err, "unexpected argument \"%s\"", a);
            pos->items[pos->n++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cg__cli_command_usage(cmd, out);
            return 0;
        }
        const struct cg__cli_flag *f;
        const char *value = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            f = find_long(cmd, a + 2, len);
            if (f == NULL)
                return usage_error(cmd, err, "unknown flag \"%s\"", a);
            if (eq != NULL) {
                if (f->kind == CG_CLI_SWITCH)
                    return usage_error(cmd, err, "%s takes no value", a);
                value = eq + 1;
            }
        } else {
            f = a[2] == '\0' ? find_short(cmd, a[1]) : NULL;
            if (f == NULL)
                return usage_error(cmd, err, "unknown flag \"%s\"", a);
        }
        if (f->kind != CG_CLI_SWITCH && value == NULL) {
            if (i + 1 >= argc)
                return usage_error(cmd, err, "%s needs a value", a);
            value = argv[++i];
        }
        int rc = store(cmd, f, value, opts, err);
        if (rc >= 0)
            return rc;
    }
    if (pos->n < cmd->min_pos)
        return usage_error(cmd, err, "%s is missing", cmd->positional);
    for (size_t i = 0; i < cmd->n_flags; i++) {
        const struct cg__cli_flag *f = &cmd->flags[i];
        if (f->required && *(const char **)((char *)opts + f->offset) == NULL)
            return usage_error(cmd, err, "--%s is required", f->name);
    }
    return -1;
}

void cg__cli_command_usage(const struct cg__cli_command *cmd, FILE *out)
{
    fprintf(out, "usage: cellgate %s %s\n\n%s\n", cmd->name, cmd->synopsis, cmd->summary);
    if (cmd->n_flags == 0) {
        fprintf(out, "\noptions:\n  -h, --help  print this help\n");
        return;
    }
    fprintf(out, "\noptions:\n");
    for (size_t i = 0; i < cmd->n_flags; i++) {
        const struct cg__cli_flag *f = &cmd->flags[i];
        char left[64];
        if (f->short_name)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", f->short_name, f->name,
                     f->metavar ? " " : "", f->metavar ? f->metavar : "");
        else
            snprintf(left, sizeof(left), "    --%s%s%s", f->name, f->metavar ? " " : "",
                     f->metavar ? f->metavar : "");
        fprintf(out, "  %-26s", left);
        /* The help text may hold newlines: continue in the help column. */
        const char *h = f->help;
        if (strlen(left) > 26)
            fprintf(out, "\n  %-26s", "");
        while (*h) {
            size_t n = strcspn(h, "\n");
            fprintf(out, "%.*s\n", (int)n, h);
            h += n;
            if (*h == '\n' && *++h)
                fprintf(out, "  %-26s", "");
        }
    }
    fprintf(out, "  %-26s%s\n", "-h, --help", "print this help");
}

/* --- values ------------------------------------------------------------------------------- */

bool cg__cli_count_decode(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < min || v > max)
        return false;
    *out = v;
    return true;
}
