/* What the files of webhook/cli/ share; not an API. One file per concern:
 *
 *   cli.c        dispatch, the command table, --help, version, completion, `policy lint`,
 *                the helpers below
 *   args.c       flag tables (parsing, --help), argument values (RFC 3339 times, counts)
 *   review.c     `cellgate review`: inputs, the passes through the pipeline, the outputs
 *   request.c    the AdmissionReview the API server would send for a plain object
 *   cases.c      `cellgate policy test`: case.yaml checked, the case runner, reports
 *   plan_cmd.c   `cellgate plan`
 *   uninstall.c  `cellgate uninstall`, through kube/
 *   output.c     `cellgate response show`, the decision table, patches, the JSON diff
 *   yaml.c       YAML/JSON documents in (with positions and readable errors), YAML out
 *   pods.c       the --pods cluster source
 *   connect.c    the operator's commands: kubeconfig, context, --as; the API server's words
 *   release_view.c  a covered Deployment's release as `status` shows it (table, detail, JSON)
 *   release_cmd.c   `cellgate status`, `approve`, `pause`, `resume`, `rollback`
 *
 * Ownership follows jansson: json_t results are new references the caller releases. */
#ifndef CG_CLI_INTERNAL_H
#define CG_CLI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/status.h"
#include "cli/cli.h"
#include "kube/kube.h"
#include "policy/policy.h"
#include "release/record.h"
#include "review/review.h"

#define CG_CLI_INPUT_MAX (64u * 1024 * 1024)
#define CG_CLI_RESPONSE_MAX (16u * 1024 * 1024)
#define CG_CLI_PATH_LEN 4096

struct cg_cli_pods;

/* --- argument parsing (args.c) --- */

#define CG_CLI_LIST_MAX 64

struct cg__cli_list {
    const char *items[CG_CLI_LIST_MAX];
    size_t n;
};

enum cg__cli_flag_kind {
    CG_CLI_SWITCH, /* bool */
    CG_CLI_VALUE,  /* const char *, given at most once */
    CG_CLI_LIST,   /* struct cg__cli_list, repeatable */
};

/* One flag, stored at offset of the command's options struct. Long form --name, --name=value
 * or --name value; short form -x value. */
struct cg__cli_flag {
    const char *name; /* without "--" */
    char short_name;  /* 0: none */
    enum cg__cli_flag_kind kind;
    size_t offset;
    const char *metavar; /* NULL for a switch */
    const char *help;    /* may hold newlines */
    bool required;
    const char *complete; /* what the value completes to: "file", "dir" or words; NULL: none */
};

/* One command's flag table, its synopsis and what it does: drives parsing, --help and the
 * shell completion alike. */
struct cg__cli_command {
    const char *name;     /* "review", "policy lint" */
    const char *synopsis; /* what follows the name in a usage line */
    const char *summary;  /* a paragraph */
    const struct cg__cli_flag *flags;
    size_t n_flags;
    const char *positional; /* its name in messages ("DIR"), NULL: none */
    size_t min_pos, max_pos;
    const char *complete; /* what positionals complete to: "file", "dir" or a word list */
};

/* Parses argv (the arguments after the command's name) into opts and pos.
 * Returns -1 to go on, 0 when it printed --help to out, 2 after a usage error on err. */
int cg__cli_args_parse(const struct cg__cli_command *cmd, int argc, char **argv, void *opts,
                       struct cg__cli_list *pos, FILE *out, FILE *err);
void cg__cli_command_usage(const struct cg__cli_command *cmd, FILE *out);
/* A decimal integer within [min, max], nothing else. */
bool cg__cli_count_decode(const char *s, long long min, long long max, long long *out);

/* Frees what jansson allocated (json_dumps), with whatever allocator jansson was given. */
void cg__cli_jfree(void *p);
/* Appends everything in to out (capped by out's cap). */
enum cg_status cg__cli_read_stream(FILE *in, struct cg_buf *out);
/* A cg_err_cb that prints file:line:col: message to the FILE * ud. */
void cg__cli_print_err(const struct cg_err *e, void *ud);
enum cg_status cg__cli_load_policies(const char *path, FILE *err, struct cg_policy_set **out);
bool cg__cli_is_file(const char *path);

/* Runs one review through the pipeline, with the pods' cluster source when pods is not NULL.
 * outcome's borrowed strings are cleared (they pointed into a scratch that is gone). */
enum cg_status cg__cli_review_once(const struct cg_policy_set *set, enum cg_review_path path,
                                   int64_t now, const char *body, size_t len,
                                   struct cg_cli_pods *pods, struct cg_buf *out,
                                   struct cg_review_outcome *outcome);
/* The response's patch applied to a copy of review's request.object (*patched: new
 * reference). err says why on failure. */
enum cg_status cg__cli_apply_response(const json_t *review, const json_t *response,
                                      json_t **patched, struct cg_err *err);

/* --- requests for plain objects (request.c) --- */

/* Who asks, and how, for a review built from a plain object. */
struct cg__cli_requester {
    const char *user;          /* NULL: "cellgate-review" */
    const char *const *groups; /* system:authenticated is added, as the API server does */
    size_t n_groups;
    bool dry_run;
    const char *namespace_; /* for objects that name none; NULL: "default" */
    const char *uid;        /* NULL: "cellgate-review" */
};

/* The AdmissionReview the API server would send for obj: CREATE, or UPDATE of old (may be
 * NULL); an Eviction is a CREATE of pods/eviction. New reference; NULL with err set when obj
 * is not a Kubernetes object or its namespace contradicts who->namespace_. */
json_t *cg__cli_review_build(const json_t *obj, const json_t *old,
                             const struct cg__cli_requester *who, struct cg_err *err);
bool cg__cli_is_review(const json_t *doc);
/* Same kind, name and (when both name one) namespace. */
bool cg__cli_same_object(const json_t *a, const json_t *b);
/* "Deployment payments/checkout" */
void cg__cli_object_label(const json_t *obj, char *out, size_t cap);

/* --- documents (yaml.c) --- */

struct cg__cli_doc {
    json_t *value;
    size_t index; /* 1-based, as a person counts the file's documents (empty ones included) */
    int line;     /* where it starts */
};

struct cg__cli_docs {
    struct cg__cli_doc *items;
    size_t n, cap;
    bool yaml; /* the input was YAML (not JSON) */
};

void cg__cli_docs_add(struct cg__cli_docs *d, json_t *v, size_t index, int line);
void cg__cli_docs_dispose(struct cg__cli_docs *d);
/* Decodes YAML (several documents, `---`) or JSON (one value or several in a row, told by the
 * first character) named name in errors: "NAME: document N: line L column C: what to change".
 * lines, when not NULL, gets the line of every node of the first document, keyed by JSON
 * pointer ("" the root, "/expect/decision" a key). */
enum cg_status cg__cli_docs_decode(const char *name, const char *data, size_t len,
                                   struct cg__cli_docs *out, json_t *lines, struct cg_err *err);
/* The same from a file, or from in when path is "-". */
enum cg_status cg__cli_docs_load(const char *path, FILE *in, struct cg__cli_docs *out,
                                 json_t *lines, struct cg_err *err);
/* The file at path as one YAML or JSON object (NULL with err set otherwise). */
json_t *cg__cli_yaml_load_json(const char *path, json_t *lines, struct cg_err *err);
/* v as block YAML, the way kubectl writes it. */
void cg__cli_yaml_emit(const json_t *v, FILE *out);

/* Prints up to *budget lines saying where got differs from want, below path. */
void cg__cli_diff_json(const char *path, const json_t *want, const json_t *got, FILE *report,
                       int *budget);

/* The response's base64 JSONPatch, one "op path value" line each, after indent. */
void cg__cli_print_patch(const char *b64, const char *indent, FILE *out);
/* One pass of an object through a path, for the table. */
struct cg__cli_stage_view {
    const char *path, *decision, *policy;
    const json_t *response; /* the AdmissionReview answered */
};
/* The decision on one object, its policy, rule, message, patch (decoded), warnings and audit
 * annotations, one per line. */
void cg__cli_print_decision(const char *label, const char *where,
                            const struct cg__cli_stage_view *s, size_t n, FILE *out);

/* "cellgate", or "kubectl cellgate" when run as the kubectl plugin (argv[0] names it), for
 * the commands it suggests. */
const char *cg__cli_prog(void);

/* --- the operator's commands: reaching the cluster (connect.c) --- */

struct cg__cli_cluster_opts {
    const char *kubeconfig;        /* NULL: $KUBECONFIG (one file), then ~/.kube/config */
    const char *context;           /* NULL: the kubeconfig's current context */
    const char *as_user;           /* --as: impersonate; NULL: the kubeconfig's own identity */
    struct cg__cli_list as_groups; /* --as-group, needs as_user */
};

/* Loads the kubeconfig and creates a client (both the caller's, destroyed with their
 * destroy functions). Returns 0, else the exit code (1 a config that does not load, 2 a usage
 * error) after a message naming cmd on err. */
int cg__cli_connect(const char *cmd, const struct cg__cli_cluster_opts *o, FILE *err,
                    struct cg_kube_config **cfg, struct cg_kube_client **client);
/* Why a call failed, in the API server's words: the Status message of the response body
 * (a webhook's denial arrives so), else e's message, else the reason. */
void cg__cli_kube_message(const struct cg_kube_response *resp, const struct cg_err *e, char *out,
                          size_t cap);

/* --- a covered Deployment's release (release_view.c) --- */

/* What status shows of one Deployment. Plain data, no pointers. */
struct cg__cli_release_view {
    char namespace_[256], name[256];
    char resource_version[CG_KUBE_RV_MAX];
    bool has_record; /* it carries cellgate.io/release */
    bool record_ok;  /* ... and the record decodes (else record_err says why) */
    char record_err[CG_ERR_MSG_MAX];
    struct cg_release_record rec;
    bool has_approve, has_emergency; /* cellgate.io/approve, cellgate.io/emergency */
    char approve[64], emergency[64];
    bool paused; /* spec.paused */
    long long replicas, updated, ready, available;
};

/* Fills *v from a Deployment object (a record that does not decode is not an error: v says
 * so). CG_EINVAL when deployment is not an object with a name. */
enum cg_status cg__cli_release_view_decode(const json_t *deployment, struct cg__cli_release_view *v,
                                           struct cg_err *err);
/* What the release waits for, for people ("approval of group 1: cellgate approve -n ns web").
 * prog is cg__cli_prog(). */
void cg__cli_release_waits(const struct cg__cli_release_view *v, const char *prog, char *out,
                           size_t cap);
/* One line per Deployment under a header; namespaces: a NAMESPACE column first. */
void cg__cli_release_print_list(const struct cg__cli_release_view *v, size_t n, const char *prog,
                                bool namespaces, FILE *out);
/* One Deployment in detail: replicas, annotations, state, checks, approvals, plan. */
void cg__cli_release_print_one(const struct cg__cli_release_view *v, const char *prog, FILE *out);
/* The same as JSON (new reference). */
json_t *cg__cli_release_view_json(const struct cg__cli_release_view *v, const char *prog);

extern const struct cg__cli_command cg__cli_status_command;
extern const struct cg__cli_command cg__cli_approve_command;
extern const struct cg__cli_command cg__cli_pause_command;
extern const struct cg__cli_command cg__cli_resume_command;
extern const struct cg__cli_command cg__cli_rollback_command;
int cg__cli_status(int argc, char **argv, FILE *out, FILE *err);
int cg__cli_approve(int argc, char **argv, FILE *out, FILE *err);
int cg__cli_pause(int argc, char **argv, FILE *out, FILE *err);
int cg__cli_resume(int argc, char **argv, FILE *out, FILE *err);
int cg__cli_rollback(int argc, char **argv, FILE *out, FILE *err);

extern const struct cg__cli_command cg__cli_review_command;
int cg__cli_review(int argc, char **argv, FILE *in, FILE *out, FILE *err);
extern const struct cg__cli_command cg__cli_uninstall_command;
int cg__cli_uninstall(int argc, char **argv, FILE *out, FILE *err);
extern const struct cg__cli_command cg__cli_plan_command;
int cg__cli_plan(int argc, char **argv, FILE *out, FILE *err);
extern const struct cg__cli_command cg__cli_policy_test_command;
int cg__cli_policy_test(int argc, char **argv, FILE *out, FILE *err);
/* `cellgate response show`: an AdmissionReview response on in, printed readably to out. */
int cg__cli_response_show(FILE *in, FILE *out, FILE *err);

#endif
