/* Reaching the API server as the user: which kubeconfig (--kubeconfig, else $KUBECONFIG,
 * else ~/.kube/config), which context, whom to act as (--as, --as-group), and the API
 * server's own words when it refuses a request. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli_internal.h"
#include "kube/kube.h"

int cg__cli_connect(const char *cmd, const struct cg__cli_cluster_opts *o, FILE *err,
                    struct cg_kube_config **cfg_out, struct cg_kube_client **client_out)
{
    *cfg_out = NULL;
    *client_out = NULL;
    char home_config[CG_CLI_PATH_LEN] = "";
    const char *kc = o->kubeconfig;
    if (kc == NULL) {
        kc = getenv("KUBECONFIG");
        if (kc != NULL && strchr(kc, ':') != NULL) {
            fprintf(err, "cellgate %s: KUBECONFIG lists several files: give --kubeconfig FILE\n",
                    cmd);
            return 2;
        }
    }
    if ((kc == NULL || *kc == '\0') && getenv("HOME") != NULL && *getenv("HOME") != '\0') {
        snprintf(home_config, sizeof(home_config), "%s/.kube/config", getenv("HOME"));
        kc = home_config;
    }
    if (kc == NULL || *kc == '\0') {
        fprintf(err, "cellgate %s: no kubeconfig: give --kubeconfig FILE or set KUBECONFIG\n", cmd);
        return 2;
    }
    if (o->as_groups.n > 0 && o->as_user == NULL) {
        fprintf(err, "cellgate %s: --as-group needs --as USER (as with kubectl)\n", cmd);
        return 2;
    }
    struct cg_kube_config *cfg = NULL;
    struct cg_kube_client *client = NULL;
    struct cg_kube_client_options opts = {
        .user_agent = "cellgate-cli/0.1",
        .impersonate_user = o->as_user,
        .impersonate_groups = o->as_groups.items,
        .n_impersonate_groups = o->as_groups.n,
    };
    struct cg_err e;
    cg_err_clear(&e);
    if (cg_kube_config_load(kc, o->context, 0, &cfg, &e) != CG_OK ||
        cg_kube_client_create(cfg, &opts, &client, &e) != CG_OK) {
        char line[CG_ERR_MSG_MAX + CG_ERR_FILE_MAX + 32];
        cg_err_format(&e, line, sizeof(line));
        fprintf(err, "cellgate %s: %s\n", cmd, line);
        cg_kube_config_destroy(cfg);
        return 1;
    }
    *cfg_out = cfg;
    *client_out = client;
    return 0;
}

void cg__cli_kube_message(const struct cg_kube_response *resp, const struct cg_err *e, char *out,
                          size_t cap)
{
    const char *msg = NULL;
    json_t *status = NULL;
    if (resp->body.len > 0) {
        status = json_loadb(resp->body.data, resp->body.len, 0, NULL);
        msg = json_string_value(json_object_get(status, "message"));
    }
    if (msg == NULL || *msg == '\0')
        msg = e->msg[0] ? e->msg : cg_kube_reason_str(resp->reason);
    snprintf(out, cap, "%s", msg);
    json_decref(status);
}
