#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli/cli_internal.h"
#include "policy/policy.h"

#ifndef CG_VERSION
#define CG_VERSION "0.0.0"
#endif
#ifndef CG_GIT_REVISION
#define CG_GIT_REVISION "unknown"
#endif

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

/* --- the small commands ------------------------------------------------------------------- */

static const struct cg__cli_command lint_command = {
    "policy lint",
    "DIR|FILE...",
    "Checks policy files as the webhook loads them: prints file:line:col: message per error and\n"
    "\"N policies OK\" when all load.\n"
    "Exit status: 0 all load, 1 an error, 2 a usage error.",
    NULL,
    0,
    "DIR|FILE",
    1,
    CG_CLI_LIST_MAX,
    "file",
};

static int cmd_lint(int argc, char **argv, FILE *out, FILE *err)
{
    struct cg__cli_list pos;
    int rc = cg__cli_args_parse(&lint_command, argc, argv, NULL, &pos, out, err);
    if (rc >= 0)
        return rc;
    struct cg_policy_set *set = NULL;
    enum cg_status st = cg_policy_set_load_paths(pos.items, pos.n, cg__cli_print_err, err, &set);
    if (st != CG_OK)
        return 1;
    fprintf(out, "%zu %s OK\n", set->n, set->n == 1 ? "policy" : "policies");
    cg_policy_set_unref(set);
    return 0;
}

static const struct cg__cli_command response_show_command = {
    "response show",
    "< response.json",
    "Prints the AdmissionReview response on stdin readably: decision, status, warnings, audit\n"
    "annotations and the patch decoded.",
    NULL,
    0,
    NULL,
    0,
    0,
    NULL,
};

static int cmd_response_show(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    struct cg__cli_list pos;
    int rc = cg__cli_args_parse(&response_show_command, argc, argv, NULL, &pos, out, err);
    return rc >= 0 ? rc : cg__cli_response_show(in, out, err);
}

static const struct cg__cli_command version_command = {
    "version", "",   "Prints the version and the git revision it was built from.", NULL, 0, NULL, 0,
    0,         NULL,
};

static int cmd_version(int argc, char **argv, FILE *out, FILE *err)
{
    struct cg__cli_list pos;
    int rc = cg__cli_args_parse(&version_command, argc, argv, NULL, &pos, out, err);
    if (rc >= 0)
        return rc;
    fprintf(out, "cellgate %s (git %s)\n", CG_VERSION, CG_GIT_REVISION);
    return 0;
}

static const struct cg__cli_command completion_command = {
    "completion",
    "bash|zsh",
    "Prints a completion script for the shell. Load it with\n"
    "  source <(cellgate completion bash)            in ~/.bashrc\n"
    "  source <(cellgate completion zsh)             in ~/.zshrc (after compinit)",
    NULL,
    0,
    "SHELL",
    1,
    1,
    "bash zsh",
};

/* --- dispatch ----------------------------------------------------------------------------- */

struct entry {
    const struct cg__cli_command *cmd;
    int (*run)(int argc, char **argv, FILE *in, FILE *out, FILE *err);
    const char *brief;
};

static int run_review(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    return cg__cli_review(argc, argv, in, out, err);
}
static int run_plan(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    return cg__cli_plan(argc, argv, out, err);
}
static int run_lint(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    return cmd_lint(argc, argv, out, err);
}
static int run_test(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    return cg__cli_policy_test(argc, argv, out, err);
}
static int run_version(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    return cmd_version(argc, argv, out, err);
}
static int run_uninstall(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    return cg__cli_uninstall(argc, argv, out, err);
}
static int run_status(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    return cg__cli_status(argc, argv, out, err);
}
static int run_approve(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    return cg__cli_approve(argc, argv, out, err);
}
static int run_pause(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    return cg__cli_pause(argc, argv, out, err);
}
static int run_resume(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    return cg__cli_resume(argc, argv, out, err);
}
static int run_rollback(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    return cg__cli_rollback(argc, argv, out, err);
}
static int run_completion(int argc, char **argv, FILE *in, FILE *out, FILE *err);

static const struct entry commands[] = {
    {&lint_command, run_lint, "check policy files (file:line:col: message per error)"},
    {&cg__cli_policy_test_command, run_test, "run test cases (a directory per case)"},
    {&cg__cli_review_command, run_review,
     "review manifests or AdmissionReviews as the webhook would"},
    {&cg__cli_plan_command, run_plan, "print a policy's group plan per cell for N replicas"},
    {&response_show_command, cmd_response_show, "print an AdmissionReview response readably"},
    {&cg__cli_status_command, run_status,
     "the release of covered Deployments: where it stands, what it waits for"},
    {&cg__cli_approve_command, run_approve, "approve the current group of a release"},
    {&cg__cli_pause_command, run_pause, "hold a release at its current group (emergency)"},
    {&cg__cli_resume_command, run_resume, "let a paused release go on"},
    {&cg__cli_rollback_command, run_rollback, "roll a release back (emergency)"},
    {&cg__cli_uninstall_command, run_uninstall,
     "remove cellgate from a cluster: webhooks, controller, drain finalizers"},
    {&completion_command, run_completion, "print a bash or zsh completion script"},
    {&version_command, run_version, "print the version and git revision"},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* --- the program's name ------------------------------------------------------------------ */

static const char *prog = "cellgate";

const char *cg__cli_prog(void)
{
    return prog;
}

/* Installed as kubectl-cellgate, kubectl runs it for `kubectl cellgate ...`. */
static void prog_set(const char *argv0)
{
    const char *base = argv0 ? strrchr(argv0, '/') : NULL;
    base = base ? base + 1 : argv0;
    prog = base && strcmp(base, "kubectl-cellgate") == 0 ? "kubectl cellgate" : "cellgate";
}

static void usage(FILE *out)
{
    fprintf(out, "usage: %s <command> [options]\n\ncommands:\n", prog);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-14s %s\n", commands[i].cmd->name, commands[i].brief);
    fprintf(out, "\n  review is also called apply. cellgate <command> --help says more.\n"
                 "\nExit status: 0 ok (a denial included), 1 failed, 2 usage error.\n");
}

/* --- completion --------------------------------------------------------------------------- */

/* The words a flag's value or a positional completes to, as a shell word list. */
static void print_words(const char *complete, FILE *out)
{
    if (complete == NULL || strcmp(complete, "file") == 0 || strcmp(complete, "dir") == 0)
        return;
    fputs(complete, out);
}

static void completion_bash(FILE *out)
{
    fputs(
        "# bash completion for cellgate: source <(cellgate completion bash)\n"
        "_cellgate() {\n"
        "    local cur prev cmd\n"
        "    cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
        "    prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
        "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
        "        COMPREPLY=($(compgen -W \"policy review apply plan response status approve pause "
        "resume rollback uninstall completion version --help --version\" -- \"$cur\"))\n"
        "        return\n"
        "    fi\n"
        "    cmd=\"${COMP_WORDS[1]}\"\n"
        "    case \"$cmd\" in policy|response) cmd=\"$cmd ${COMP_WORDS[2]}\";; apply) "
        "cmd=review;; esac\n"
        "    if [ \"$COMP_CWORD\" -eq 2 ]; then\n"
        "        case \"$cmd\" in\n"
        "        policy*) COMPREPLY=($(compgen -W \"lint test\" -- \"$cur\")); return;;\n"
        "        response*) COMPREPLY=($(compgen -W \"show\" -- \"$cur\")); return;;\n"
        "        esac\n"
        "    fi\n"
        "    case \"$cmd\" in\n",
        out);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const struct cg__cli_command *c = commands[i].cmd;
        fprintf(out, "    \"%s\")\n        case \"$prev\" in\n", c->name);
        for (size_t f = 0; f < c->n_flags; f++) {
            const struct cg__cli_flag *fl = &c->flags[f];
            if (fl->kind == CG_CLI_SWITCH)
                continue;
            fprintf(out, "        --%s", fl->name);
            if (fl->short_name)
                fprintf(out, "|-%c", fl->short_name);
            if (fl->complete && strcmp(fl->complete, "dir") == 0)
                fputs(") COMPREPLY=($(compgen -d -- \"$cur\")); return;;\n", out);
            else if (fl->complete && strcmp(fl->complete, "file") == 0)
                fputs(") COMPREPLY=($(compgen -f -- \"$cur\")); return;;\n", out);
            else if (fl->complete) {
                fputs(") COMPREPLY=($(compgen -W \"", out);
                print_words(fl->complete, out);
                fputs("\" -- \"$cur\")); return;;\n", out);
            } else
                fputs(") return;;\n", out);
        }
        fputs("        esac\n        if [[ \"$cur\" == -* ]]; then\n"
              "            COMPREPLY=($(compgen -W \"--help",
              out);
        for (size_t f = 0; f < c->n_flags; f++)
            fprintf(out, " --%s", c->flags[f].name);
        fputs("\" -- \"$cur\"))\n        else\n", out);
        if (c->complete && strcmp(c->complete, "dir") == 0)
            fputs("            COMPREPLY=($(compgen -d -- \"$cur\"))\n", out);
        else if (c->complete && strcmp(c->complete, "file") == 0)
            fputs("            COMPREPLY=($(compgen -f -- \"$cur\"))\n", out);
        else if (c->complete) {
            fputs("            COMPREPLY=($(compgen -W \"", out);
            print_words(c->complete, out);
            fputs("\" -- \"$cur\"))\n", out);
        } else
            fputs("            COMPREPLY=()\n", out);
        fputs("        fi;;\n", out);
    }
    fputs("    esac\n}\ncomplete -o default -F _cellgate cellgate kubectl-cellgate\n", out);
}

static void zsh_action(const char *complete, FILE *out)
{
    if (complete == NULL)
        fputs(" ", out);
    else if (strcmp(complete, "file") == 0)
        fputs("_files", out);
    else if (strcmp(complete, "dir") == 0)
        fputs("_files -/", out);
    else
        fprintf(out, "(%s)", complete);
}

static void completion_zsh(FILE *out)
{
    fputs("#compdef cellgate kubectl-cellgate\n"
          "# zsh completion for cellgate: source <(cellgate completion zsh)\n"
          "_cellgate() {\n"
          "    local -a cmds\n"
          "    cmds=(policy:'lint or test policies' review:'review manifests or "
          "AdmissionReviews' apply:'same as review' plan:'group plan per cell' "
          "response:'show an AdmissionReview response' status:'the release of covered Deployments' "
          "approve:'approve the current group' pause:'hold a release' resume:'let a release go "
          "on' rollback:'roll a release back' uninstall:'remove cellgate from a cluster' "
          "completion:'shell completion' "
          "version:'version and git revision')\n"
          "    if (( CURRENT == 2 )); then _describe command cmds; return; fi\n"
          "    local cmd=${words[2]}\n"
          "    case $cmd in\n"
          "    policy) if (( CURRENT == 3 )); then _values subcommand lint test; return; fi\n"
          "            cmd=\"policy ${words[3]}\"; shift 2 words; (( CURRENT -= 2 ));;\n"
          "    response) if (( CURRENT == 3 )); then _values subcommand show; return; fi\n"
          "            cmd=\"response show\"; shift 2 words; (( CURRENT -= 2 ));;\n"
          "    apply) cmd=review; shift words; (( CURRENT-- ));;\n"
          "    *) shift words; (( CURRENT-- ));;\n"
          "    esac\n"
          "    case $cmd in\n",
          out);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const struct cg__cli_command *c = commands[i].cmd;
        fprintf(out, "    \"%s\")\n        _arguments '(- *)'{-h,--help}'[print help]'", c->name);
        for (size_t f = 0; f < c->n_flags; f++) {
            const struct cg__cli_flag *fl = &c->flags[f];
            const char *nl = strchr(fl->help, '\n');
            int hl = nl ? (int)(nl - fl->help) : (int)strlen(fl->help);
            char help[160];
            snprintf(help, sizeof(help), "%.*s", hl, fl->help);
            for (char *h = help; *h; h++)
                if (*h == '\'' || *h == '[' || *h == ']' || *h == ':')
                    *h = ' ';
            const char *rep = fl->kind == CG_CLI_LIST ? "*" : "";
            if (fl->short_name)
                fprintf(out, " \\\n            '%s'{-%c,--%s}'[%s]", rep, fl->short_name, fl->name,
                        help);
            else
                fprintf(out, " \\\n            '%s--%s[%s]", rep, fl->name, help);
            if (fl->kind != CG_CLI_SWITCH) {
                fprintf(out, ":%s:", fl->metavar);
                zsh_action(fl->complete, out);
            }
            fputs("'", out);
        }
        if (c->max_pos > 0) {
            fprintf(out, " \\\n            '%s:%s:", c->max_pos > 1 ? "*" : "1",
                    c->positional ? c->positional : "arg");
            zsh_action(c->complete, out);
            fputs("'", out);
        }
        fputs(";;\n", out);
    }
    fputs("    esac\n}\ncompdef _cellgate cellgate kubectl-cellgate\n", out);
}

static int run_completion(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    struct cg__cli_list pos;
    int rc = cg__cli_args_parse(&completion_command, argc, argv, NULL, &pos, out, err);
    if (rc >= 0)
        return rc;
    if (strcmp(pos.items[0], "bash") == 0) {
        completion_bash(out);
    } else if (strcmp(pos.items[0], "zsh") == 0) {
        completion_zsh(out);
    } else {
        fprintf(err, "cellgate completion: \"%s\": want bash or zsh\n", pos.items[0]);
        return 2;
    }
    return 0;
}

int cg_cli_run(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    prog_set(argc > 0 ? argv[0] : NULL);
    if (argc < 2) {
        usage(err);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        if (strcmp(cmd, "help") == 0 && argc > 2) { /* cellgate help review */
            argv[1] = argv[2];
            argv[2] = "--help";
            return cg_cli_run(3, argv, in, out, err);
        }
        usage(out);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0)
        return cmd_version(0, argv, out, err);
    if (strcmp(cmd, "apply") == 0)
        cmd = "review";
    /* two-word commands: "policy lint", "response show" */
    char name[64];
    int skip = 2;
    if ((strcmp(cmd, "policy") == 0 || strcmp(cmd, "response") == 0)) {
        if (argc < 3 || argv[2][0] == '-') {
            const char *subs = strcmp(cmd, "policy") == 0 ? "lint, test" : "show";
            if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
                fprintf(out,
                        "usage: cellgate %s <%s> [options]; cellgate %s <sub> --help says "
                        "more\n",
                        cmd, subs, cmd);
                return 0;
            }
            fprintf(err, "cellgate %s: a subcommand is missing (%s)\n", cmd, subs);
            return 2;
        }
        snprintf(name, sizeof(name), "%s %s", cmd, argv[2]);
        skip = 3;
    } else {
        snprintf(name, sizeof(name), "%s", cmd);
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].cmd->name, name) == 0)
            return commands[i].run(argc - skip, argv + skip, in, out, err);
    fprintf(err, "cellgate: unknown command \"%s\"; the commands are:", name);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(err, "%s %s", i ? "," : "", commands[i].cmd->name);
    fprintf(err, " (cellgate --help)\n");
    return 2;
}
