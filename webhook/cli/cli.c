#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli/cli_internal.h"
#include "policy/policy.h"

#ifndef CG_VERSION
#define CG_VERSION "0.1.0"
#endif

static const char usage_text[] =
    "usage: cellgate <command> [options]\n"
    "\n"
    "  policy lint DIR|FILE...     check policy files; prints file:line:col: message per error\n"
    "  policy test DIR             run the test cases under DIR (a directory per case)\n"
    "  review --policies DIR [--path /mutate|/validate] [--now RFC3339] [--apply]\n"
    "         [--pods FILE]          (--pods: existing pods, `kubectl get pods -o json`, that\n"
    "                              the Pod rules count per cell and look evictions up in)\n"
    "                              review the AdmissionReview on stdin as the server would and\n"
    "                              print its response (--apply: the patched object instead;\n"
    "                              the path defaults to /validate, or /mutate with --apply)\n"
    "  plan --replicas N --policy FILE [--name POLICY]\n"
    "                              print each policy's group plan per cell\n"
    "  response show               print the AdmissionReview response on stdin readably\n"
    "                              (decision, status, warnings, audit, decoded patch)\n"
    "  version                     print the version\n"
    "  --help                      print this help\n"
    "\n"
    "Exit status: 0 ok (a denial included), 1 failed, 2 usage error.\n";

/* Frees what jansson allocated (json_dumps), with whatever allocator jansson was given. */
void cg__cli_jfree(void *p)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    f(p);
}

/* --- small helpers ------------------------------------------------------------------------ */

enum cg_status cg__cli_read_stream(FILE *in, struct cg_buf *out)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0) {
        enum cg_status st = cg_buf_append(out, chunk, n);
        if (st != CG_OK)
            return st;
    }
    return ferror(in) ? CG_EIO : CG_OK;
}

void cg__cli_print_err(const struct cg_err *e, void *ud)
{
    char line[CG_ERR_MSG_MAX + CG_ERR_FILE_MAX + 32];
    cg_err_format(e, line, sizeof(line));
    fprintf((FILE *)ud, "%s\n", line);
}

enum cg_status cg__cli_load_policies(const char *path, FILE *err, struct cg_policy_set **out)
{
    const char *paths[] = {path};
    return cg_policy_set_load_paths(paths, 1, cg__cli_print_err, err, out);
}

bool cg__cli_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmd_lint(int argc, char **argv, FILE *out, FILE *err)
{
    if (argc < 1) {
        fprintf(err, "usage: cellgate policy lint DIR|FILE...\n");
        return 2;
    }
    struct cg_policy_set *set = NULL;
    enum cg_status st = cg_policy_set_load_paths((const char *const *)argv, (size_t)argc,
                                                 cg__cli_print_err, err, &set);
    if (st != CG_OK)
        return 1;
    fprintf(out, "%zu %s OK\n", set->n, set->n == 1 ? "policy" : "policies");
    cg_policy_set_unref(set);
    return 0;
}

int cg_cli_run(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    if (argc < 2) {
        fputs(usage_text, err);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, out);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        fprintf(out, "cellgate %s\n", CG_VERSION);
        return 0;
    }
    if (strcmp(cmd, "review") == 0)
        return cg__cli_review(argc - 2, argv + 2, in, out, err);
    if (strcmp(cmd, "plan") == 0)
        return cg__cli_plan(argc - 2, argv + 2, out, err);
    if (strcmp(cmd, "response") == 0 && argc == 3 && strcmp(argv[2], "show") == 0)
        return cg__cli_response_show(in, out, err);
    if (strcmp(cmd, "policy") == 0 && argc >= 3) {
        if (strcmp(argv[2], "lint") == 0)
            return cmd_lint(argc - 3, argv + 3, out, err);
        if (strcmp(argv[2], "test") == 0 && argc == 4)
            return cg__cli_policy_test(argv[3], out, err);
    }
    fprintf(err, "cellgate: unknown command; see cellgate --help\n");
    return 2;
}
