/* libFuzzer target for the kubeconfig loader (cg_kube_config_decode).
 *
 * Beyond "no crash, no sanitizer report, no leak": an accepted config has an https:// server
 * (http:// only with insecure allowed), a client key exactly when it has a client certificate,
 * and insecure only when allowed; a refused one says why. The first byte chooses the flags.
 * Relative file names are resolved in a directory that does not exist, so inputs cannot make
 * the target read files of the machine by relative name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "contract violated: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = (data[0] & 1) ? CG_KUBE_ALLOW_INSECURE : 0;
    struct cg_kube_config *cfg = NULL;
    struct cg_err err;
    cg_err_clear(&err);
    enum cg_status st =
        cg_kube_config_decode((const char *)data + 1, size - 1, "/nonexistent-cg-fuzz/kubeconfig",
                              NULL, flags, &cfg, &err);
    if (st == CG_OK) {
        check(cfg != NULL && cfg->server != NULL, "accepted without a server");
        check(strncmp(cfg->server, "https://", 8) == 0 ||
                  ((flags & CG_KUBE_ALLOW_INSECURE) && strncmp(cfg->server, "http://", 7) == 0),
              "a server that is not https");
        check((cfg->cert_pem.len == 0) == (cfg->key_pem.len == 0), "certificate without key");
        check(!cfg->insecure || (flags & CG_KUBE_ALLOW_INSECURE), "insecure without consent");
    } else {
        check(cfg == NULL, "a config with an error");
        check(err.msg[0] != '\0', "an error without a message");
    }
    cg_kube_config_destroy(cfg);
    return 0;
}
