/* The operator's commands on covered Deployments, through the project's API client as the
 * user's own kubeconfig identity (so the webhook's identity checks apply to them as to
 * kubectl):
 *
 *   cellgate status [-n NS | -A] [DEPLOYMENT]     the release of one, or of every covered one
 *   cellgate approve [-n NS] DEPLOYMENT          cellgate.io/approve: "<current group>"
 *   cellgate pause|resume|rollback [-n NS] DEPLOYMENT   cellgate.io/emergency: <action>
 *
 * A refusal (the webhook's denial, RBAC, a missing object) is printed in the API server's
 * words and exits 1. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/names.h"
#include "cli/cli_internal.h"
#include "kube/kube.h"

struct ops_opts {
    struct cg__cli_cluster_opts cluster;
    const char *namespace_, *output, *group;
    bool all_namespaces;
};

#define OPT(f) offsetof(struct ops_opts, f)
/* The flags every one of these commands takes (first in each table). */
// clang-format off
#define CLUSTER_FLAGS                                                                              \
    {"kubeconfig", 0, CG_CLI_VALUE, OPT(cluster.kubeconfig), "FILE",                               \
     "the cluster's kubeconfig (default $KUBECONFIG, then ~/.kube/config)", false, "file"},        \
    {"context", 0, CG_CLI_VALUE, OPT(cluster.context), "NAME",                                     \
     "a context of it (default: its current context)", false, NULL},                               \
    {"namespace", 'n', CG_CLI_VALUE, OPT(namespace_), "NS",                                        \
     "the Deployment's namespace (default: the context's, then default)", false, NULL},            \
    {"output", 'o', CG_CLI_VALUE, OPT(output), "FORMAT", "table (default) or json", false,         \
     "table json"},                                                                                \
    {"as", 0, CG_CLI_VALUE, OPT(cluster.as_user), "USER",                                          \
     "act as this user (impersonation, as kubectl --as)", false, NULL},                            \
    {"as-group", 0, CG_CLI_LIST, OPT(cluster.as_groups), "GROUP",                                  \
     "act as a member of this group too (repeatable; needs --as)", false, NULL}
// clang-format on

static const struct cg__cli_flag status_flags[] = {
    CLUSTER_FLAGS,
    {"all-namespaces", 'A', CG_CLI_SWITCH, OPT(all_namespaces), NULL,
     "every namespace (without a DEPLOYMENT)", false, NULL},
};
static const struct cg__cli_flag approve_flags[] = {
    CLUSTER_FLAGS,
    {"group", 0, CG_CLI_VALUE, OPT(group), "N",
     "approve only if N is the current group (what you looked at with status)", false, NULL},
};
static const struct cg__cli_flag emergency_flags[] = {CLUSTER_FLAGS};
#undef OPT
#define N_FLAGS(t) (sizeof(t) / sizeof((t)[0]))

const struct cg__cli_command cg__cli_status_command = {
    "status",
    "[-n NS | -A] [DEPLOYMENT] [-o json]",
    "Shows the release of a covered Deployment (one with a cellgate.io/release record): the\n"
    "plan per cell, the current group, its state, checks, who approved and what it waits for.\n"
    "Without DEPLOYMENT: one line for each covered Deployment of the namespace (-A: of all).\n"
    "Exit status: 0 shown, 1 the API server refused or the Deployment is not there, 2 a usage\n"
    "error.",
    status_flags,
    N_FLAGS(status_flags),
    "DEPLOYMENT",
    0,
    1,
    NULL,
};

const struct cg__cli_command cg__cli_approve_command = {
    "approve",
    "[-n NS] DEPLOYMENT [--group N]",
    "Approves the current group of the Deployment's release: sets cellgate.io/approve to the\n"
    "group's number (from the cellgate.io/release record), as you, so the webhook checks that\n"
    "you are one of the policy's approvers. Same as\n"
    "  kubectl annotate deploy/DEPLOYMENT cellgate.io/approve=<group> --overwrite\n"
    "Exit status: 0 approved (or already), 1 refused (the webhook's message is printed), 2 a\n"
    "usage error.",
    approve_flags,
    N_FLAGS(approve_flags),
    "DEPLOYMENT",
    1,
    1,
    NULL,
};

#define EMERGENCY_SUMMARY(what, value)                                                             \
    what " Sets cellgate.io/emergency: " value " as you, so the webhook checks\n"                  \
         "that you are one of the policy's emergency actors. Same as\n"                            \
         "  kubectl annotate deploy/DEPLOYMENT cellgate.io/emergency=" value " --overwrite\n"      \
         "Exit status: 0 set (or already), 1 refused (the webhook's message is printed), 2 a\n"    \
         "usage error."

const struct cg__cli_command cg__cli_pause_command = {
    "pause",
    "[-n NS] DEPLOYMENT",
    EMERGENCY_SUMMARY("Holds the release at its current group (no new traffic shift, no next\n"
                      "group) until resumed.",
                      "pause"),
    emergency_flags,
    N_FLAGS(emergency_flags),
    "DEPLOYMENT",
    1,
    1,
    NULL,
};

const struct cg__cli_command cg__cli_resume_command = {
    "resume",
    "[-n NS] DEPLOYMENT",
    EMERGENCY_SUMMARY("Lets a paused release go on (an emergency pause, or a pause after a\n"
                      "failed check).",
                      "resume"),
    emergency_flags,
    N_FLAGS(emergency_flags),
    "DEPLOYMENT",
    1,
    1,
    NULL,
};

const struct cg__cli_command cg__cli_rollback_command = {
    "rollback",
    "[-n NS] DEPLOYMENT",
    EMERGENCY_SUMMARY("Rolls the release back: the controller restores the previous\n"
                      "ReplicaSet's template (as kubectl rollout undo) and releases it as the\n"
                      "policy says (fast: one group, or gradual).",
                      "rollback"),
    emergency_flags,
    N_FLAGS(emergency_flags),
    "DEPLOYMENT",
    1,
    1,
    NULL,
};

/* One command's run: options, the connection, where it writes. */
struct ops {
    const char *cmd;
    struct ops_opts o;
    struct cg__cli_list pos;
    bool json;
    const char *ns;
    struct cg_kube_config *cfg;
    struct cg_kube_client *client;
    FILE *out, *err;
};

/* Parses and connects. Returns -1 to go on, else the exit code. */
static int ops_begin(struct ops *x, const struct cg__cli_command *cmd, int argc, char **argv,
                     FILE *out, FILE *err)
{
    memset(x, 0, sizeof(*x));
    x->cmd = cmd->name;
    x->out = out;
    x->err = err;
    int rc = cg__cli_args_parse(cmd, argc, argv, &x->o, &x->pos, out, err);
    if (rc >= 0)
        return rc;
    if (x->o.output != NULL && strcmp(x->o.output, "json") != 0 &&
        strcmp(x->o.output, "table") != 0) {
        fprintf(err, "cellgate %s: -o \"%s\": want table or json\n", x->cmd, x->o.output);
        return 2;
    }
    x->json = x->o.output != NULL && strcmp(x->o.output, "json") == 0;
    if (x->o.all_namespaces && (x->pos.n > 0 || x->o.namespace_ != NULL)) {
        fprintf(err, "cellgate %s: -A lists every namespace: give no DEPLOYMENT and no -n\n",
                x->cmd);
        return 2;
    }
    rc = cg__cli_connect(x->cmd, &x->o.cluster, err, &x->cfg, &x->client);
    if (rc != 0)
        return rc;
    x->ns = x->o.namespace_                             ? x->o.namespace_
            : x->cfg->namespace_ && *x->cfg->namespace_ ? x->cfg->namespace_
                                                        : "default";
    return -1;
}

static void ops_end(struct ops *x)
{
    cg_kube_client_destroy(x->client);
    cg_kube_config_destroy(x->cfg);
}

/* A failed call, in the API server's words. */
static void report(const struct ops *x, const char *what, const struct cg_kube_response *resp,
                   const struct cg_err *e)
{
    char msg[2048];
    cg__cli_kube_message(resp, e, msg, sizeof(msg));
    fprintf(x->err, "cellgate %s: %s: %s\n", x->cmd, what, msg);
}

/* GETs the Deployment named by the positional into *v. Returns 0, or 1 after saying why. */
static int read_deployment(struct ops *x, struct cg__cli_release_view *v)
{
    const char *name = x->pos.items[0];
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    struct cg_err e;
    cg_err_clear(&e);
    int rc = 1;
    json_t *doc = NULL;
    char what[600];
    snprintf(what, sizeof(what), "deployment %s/%s", x->ns, name);
    if (cg_kube_get(x->client, "apps/v1", x->ns, "deployments", name, &resp, &e) != CG_OK) {
        report(x, what, &resp, &e);
        goto out;
    }
    doc = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    if (doc == NULL || cg__cli_release_view_decode(doc, v, &e) != CG_OK) {
        fprintf(x->err, "cellgate %s: %s: the API server sent no Deployment\n", x->cmd, what);
        goto out;
    }
    rc = 0;
out:
    json_decref(doc);
    cg_kube_response_dispose(&resp);
    return rc;
}

static void print_json(json_t *v, FILE *out)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
    fprintf(out, "%s\n", s);
    cg__cli_jfree(s);
    json_decref(v);
}

/* --- status ------------------------------------------------------------------------------- */

struct collect {
    struct cg__cli_release_view *items;
    size_t n, cap;
};

static bool on_deployment(void *ud, const char *text, size_t len)
{
    struct collect *c = ud;
    json_t *doc = json_loadb(text, len, 0, NULL);
    struct cg__cli_release_view v;
    if (doc != NULL && cg__cli_release_view_decode(doc, &v, NULL) == CG_OK && v.has_record) {
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 8;
            c->items = cg_xrealloc(c->items, c->cap * sizeof(*c->items));
        }
        c->items[c->n++] = v;
    }
    json_decref(doc);
    return true;
}

static int status_all(struct ops *x)
{
    struct collect c = {0};
    struct cg_buf path;
    cg_buf_init(&path, 0);
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    struct cg_err e;
    cg_err_clear(&e);
    int rc = 1;
    const char *ns = x->o.all_namespaces ? NULL : x->ns;
    if (cg_kube_path(&path, "apps/v1", ns, "deployments", NULL, NULL) != CG_OK ||
        cg_kube_list(x->client, path.data, NULL, on_deployment, &c, NULL, &resp, &e) != CG_OK) {
        char what[300];
        snprintf(what, sizeof(what), "list deployments%s%s", ns ? " in " : "", ns ? ns : "");
        report(x, what, &resp, &e);
        goto out;
    }
    if (x->json) {
        json_t *items = json_array();
        for (size_t i = 0; i < c.n; i++)
            json_array_append_new(items, cg__cli_release_view_json(&c.items[i], cg__cli_prog()));
        print_json(json_pack("{s:o}", "items", items), x->out);
    } else if (c.n == 0) {
        fprintf(x->out, "no covered Deployments%s%s (none carries a %s record)\n",
                ns ? " in namespace " : "", ns ? ns : "", CG_ANN_RELEASE);
    } else {
        cg__cli_release_print_list(c.items, c.n, cg__cli_prog(), ns == NULL, x->out);
    }
    rc = 0;
out:
    free(c.items);
    cg_kube_response_dispose(&resp);
    cg_buf_dispose(&path);
    return rc;
}

static int status_one(struct ops *x)
{
    struct cg__cli_release_view *v = cg_xcalloc(1, sizeof(*v));
    int rc = read_deployment(x, v);
    if (rc == 0 && x->json)
        print_json(cg__cli_release_view_json(v, cg__cli_prog()), x->out);
    else if (rc == 0)
        cg__cli_release_print_one(v, cg__cli_prog(), x->out);
    free(v);
    return rc;
}

int cg__cli_status(int argc, char **argv, FILE *out, FILE *err)
{
    struct ops x;
    int rc = ops_begin(&x, &cg__cli_status_command, argc, argv, out, err);
    if (rc < 0)
        rc = x.pos.n == 1 ? status_one(&x) : status_all(&x);
    ops_end(&x);
    return rc;
}

/* --- approve and the emergency actions ---------------------------------------------------- */

/* The view is of a Deployment with a usable release record; else says why (exit 1). */
static bool usable(const struct ops *x, const struct cg__cli_release_view *v)
{
    if (!v->has_record) {
        fprintf(x->err,
                "cellgate %s: deployment %s/%s has no %s record: no cellgate policy covers it, "
                "or no release has started\n",
                x->cmd, v->namespace_, v->name, CG_ANN_RELEASE);
        return false;
    }
    if (!v->record_ok) {
        fprintf(x->err, "cellgate %s: deployment %s/%s: %s\n", x->cmd, v->namespace_, v->name,
                v->record_err);
        return false;
    }
    return true;
}

/* Sets annotation key=value on the Deployment with a merge patch; with rv, only if the
 * object is still at that resourceVersion (409 otherwise: *conflict). On success *v is the
 * patched Deployment. Returns 0, or 1 after printing the API server's message. */
static int set_annotation(struct ops *x, struct cg__cli_release_view *v, const char *key,
                          const char *value, const char *rv, bool *conflict)
{
    *conflict = false;
    json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", key, value);
    if (rv != NULL)
        json_object_set_new(json_object_get(patch, "metadata"), "resourceVersion", json_string(rv));
    char *body = json_dumps(patch, JSON_COMPACT);
    json_decref(patch);
    struct cg_buf path;
    cg_buf_init(&path, 0);
    struct cg_kube_response resp;
    cg_kube_response_init(&resp);
    struct cg_err e;
    cg_err_clear(&e);
    json_t *doc = NULL;
    int rc = 1;
    char what[700];
    snprintf(what, sizeof(what), "deployment %s/%s", v->namespace_, v->name);
    if (cg_kube_path(&path, "apps/v1", v->namespace_, "deployments", v->name, NULL) != CG_OK ||
        cg_kube_request(x->client, CG_KUBE_PATCH_MERGE, path.data, body, strlen(body), &resp, &e) !=
            CG_OK) {
        *conflict = resp.reason == CG_KUBE_CONFLICT;
        if (!*conflict)
            report(x, what, &resp, &e);
        goto out;
    }
    doc = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    if (doc == NULL || cg__cli_release_view_decode(doc, v, &e) != CG_OK) {
        fprintf(x->err, "cellgate %s: %s: the API server answered with no Deployment\n", x->cmd,
                what);
        goto out;
    }
    rc = 0;
out:
    json_decref(doc);
    cg_kube_response_dispose(&resp);
    cg_buf_dispose(&path);
    cg__cli_jfree(body);
    return rc;
}

/* What is printed after a change (or none needed): a line, or the view as JSON. */
static void done(struct ops *x, const struct cg__cli_release_view *v, const char *line)
{
    if (x->json)
        print_json(cg__cli_release_view_json(v, cg__cli_prog()), x->out);
    else
        fprintf(x->out, "%s\n", line);
}

#define APPROVE_ATTEMPTS 5

static int approve(struct ops *x, struct cg__cli_release_view *v)
{
    long long want = -1;
    if (x->o.group != NULL && !cg__cli_count_decode(x->o.group, 0, CG_PLAN_MAX_GROUPS - 1, &want)) {
        fprintf(x->err, "cellgate approve: --group \"%s\": want a group number\n", x->o.group);
        return 2;
    }
    char line[1024];
    /* The approval names the group read; written only if the object is unchanged since, so a
     * release that moved on meanwhile is read again rather than approved blindly. */
    for (int attempt = 0; attempt < APPROVE_ATTEMPTS; attempt++) {
        if (read_deployment(x, v) != 0 || !usable(x, v))
            return 1;
        const struct cg_release_record *r = &v->rec;
        if (r->state == CG_RELEASE_COMPLETE) {
            fprintf(x->err,
                    "cellgate approve: the release of %s/%s is complete: nothing to "
                    "approve\n",
                    v->namespace_, v->name);
            return 1;
        }
        if (want >= 0 && (uint32_t)want != r->group) {
            fprintf(x->err,
                    "cellgate approve: %s/%s is at group %" PRIu32 " (%s), not %lld: nothing "
                    "approved; look again with %s status\n",
                    v->namespace_, v->name, r->group, cg_release_state_str(r->state), want,
                    cg__cli_prog());
            return 1;
        }
        char group[16];
        snprintf(group, sizeof(group), "%" PRIu32, r->group);
        if (r->group + 1 == r->n_groups) {
            snprintf(line, sizeof(line),
                     "%s/%s: group %s is the last group: it needs no approval (%s)", v->namespace_,
                     v->name, group, cg_release_state_str(r->state));
            done(x, v, line);
            return 0;
        }
        if (v->has_approve && strcmp(v->approve, group) == 0) {
            snprintf(line, sizeof(line), "%s/%s: group %s is already approved (%s)", v->namespace_,
                     v->name, group, cg_release_state_str(r->state));
            done(x, v, line);
            return 0;
        }
        enum cg_release_state before = r->state;
        bool conflict;
        char rv[sizeof(v->resource_version)];
        snprintf(rv, sizeof(rv), "%s", v->resource_version);
        if (set_annotation(x, v, CG_ANN_APPROVE, group, rv[0] ? rv : NULL, &conflict) == 0) {
            snprintf(line, sizeof(line), "approved group %s of %s/%s%s", group, v->namespace_,
                     v->name,
                     before == CG_RELEASE_WAITING_APPROVAL
                         ? ": the controller releases the next group"
                         : " ahead of time: it takes effect once the group is done");
            done(x, v, line);
            return 0;
        }
        if (!conflict)
            return 1;
    }
    fprintf(x->err, "cellgate approve: %s/%s kept changing while it was approved: try again\n",
            x->ns, x->pos.items[0]);
    return 1;
}

static int emergency(struct ops *x, struct cg__cli_release_view *v, const char *action)
{
    if (read_deployment(x, v) != 0 || !usable(x, v))
        return 1;
    char line[1024];
    if (v->has_emergency && strcmp(v->emergency, action) == 0) {
        snprintf(line, sizeof(line), "%s/%s: %s=%s is already set (%s, group %" PRIu32 ")",
                 v->namespace_, v->name, CG_ANN_EMERGENCY, action,
                 cg_release_state_str(v->rec.state), v->rec.group);
        done(x, v, line);
        return 0;
    }
    bool conflict;
    if (set_annotation(x, v, CG_ANN_EMERGENCY, action, NULL, &conflict) != 0) {
        if (conflict)
            fprintf(x->err, "cellgate %s: %s/%s: conflict: try again\n", x->cmd, x->ns,
                    x->pos.items[0]);
        return 1;
    }
    const char *what = strcmp(action, "pause") == 0 ? "the controller holds the release at group"
                       : strcmp(action, "resume") == 0
                           ? "the controller lets the release go on from group"
                           : "the controller rolls the release back from group";
    snprintf(line, sizeof(line), "set %s=%s on %s/%s: %s %" PRIu32, CG_ANN_EMERGENCY, action,
             v->namespace_, v->name, what, v->rec.group);
    done(x, v, line);
    return 0;
}

static int run_action(const struct cg__cli_command *cmd, int argc, char **argv, FILE *out,
                      FILE *err)
{
    struct ops x;
    int rc = ops_begin(&x, cmd, argc, argv, out, err);
    if (rc < 0) {
        struct cg__cli_release_view *v = cg_xcalloc(1, sizeof(*v));
        rc = cmd == &cg__cli_approve_command ? approve(&x, v) : emergency(&x, v, cmd->name);
        free(v);
    }
    ops_end(&x);
    return rc;
}

int cg__cli_approve(int argc, char **argv, FILE *out, FILE *err)
{
    return run_action(&cg__cli_approve_command, argc, argv, out, err);
}

int cg__cli_pause(int argc, char **argv, FILE *out, FILE *err)
{
    return run_action(&cg__cli_pause_command, argc, argv, out, err);
}

int cg__cli_resume(int argc, char **argv, FILE *out, FILE *err)
{
    return run_action(&cg__cli_resume_command, argc, argv, out, err);
}

int cg__cli_rollback(int argc, char **argv, FILE *out, FILE *err)
{
    return run_action(&cg__cli_rollback_command, argc, argv, out, err);
}
