/* A scripted Kubernetes API server for unit tests: TLS on 127.0.0.1 (the dev certificates of
 * a test directory), one exchange per request, in order. For what the lab cluster cannot do
 * on demand: a conflict at a chosen moment, a denial, an answer that is not what was asked.
 * A request that is not the next exchange's method and target prefix is answered 500 and
 * remembered (mismatch). Requests are read on a thread of the server's own. */
#ifndef CG_TEST_SCRIPTED_API_H
#define CG_TEST_SCRIPTED_API_H

#include <pthread.h>
#include <stddef.h>

#include <openssl/ssl.h>

#define CG_TEST_API_MAX_EXCHANGES 16

/* One scripted exchange: the request expected (method, and a prefix of the target) and the
 * answer. */
struct cg_test_exchange {
    const char *method, *target;
    int code;
    const char *body;
};

/* What the server received for one exchange. */
struct cg_test_seen {
    char line[600]; /* "PATCH /apis/..." */
    char impersonate[128];
    char body[4096];
};

struct cg_test_api {
    int lfd, port;
    SSL_CTX *ctx;
    pthread_t thread;
    const struct cg_test_exchange *script;
    size_t n, next; /* next: requests received so far */
    struct cg_test_seen seen[CG_TEST_API_MAX_EXCHANGES];
    char mismatch[800]; /* the first request that was not the script's */
};

/* Starts the server with dir's tls.crt / tls.key (certs/gen-dev-certs) and writes dir/kubeconfig
 * (token auth, dir's ca.crt) for it; its path goes to kubeconfig (cap bytes). */
void cg_test_api_start(struct cg_test_api *api, const char *dir, char *kubeconfig, size_t cap);
/* The exchanges to expect from now on (borrowed until the next call); resets what was seen. */
void cg_test_api_script(struct cg_test_api *api, const struct cg_test_exchange *script, size_t n);
void cg_test_api_stop(struct cg_test_api *api);

#endif
