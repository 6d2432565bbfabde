/* Serving certificates: an OpenSSL server context built from a PEM chain and key, and the
 * store that re-reads them when the files change. New connections take the newest context;
 * a connection keeps the context it was accepted with (OpenSSL counts references), so a
 * rotation drops nothing. A pair that does not load is refused and the previous one kept. */
#ifndef CG_SERVER_TLS_H
#define CG_SERVER_TLS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <openssl/ssl.h>

#include "base/buf.h"
#include "base/snapshot.h"
#include "base/status.h"

/* TLS 1.3 suites in the server's order of preference (AES-128-GCM first). */
#define CG_TLS13_CIPHERSUITES                                                                      \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

/* Builds a server context: TLS 1.2 minimum, no session tickets or session cache, the chain
 * and key from the files (key must match, leaf must not be expired), ALPN "h2" offered only
 * when http2. serial (may be NULL) receives the leaf's serial number in hex. */
enum cg_status cg_tls_ctx_load(const char *cert_file, const char *key_file, bool http2,
                               SSL_CTX **out, char *serial, size_t serial_len, struct cg_err *err);

struct cg_tls_store {
    struct cg_snapshot snap; /* of SSL_CTX */
    char *cert_file, *key_file;
    bool http2;
    bool attempted;
    unsigned long long fingerprint; /* of the files at the last attempt */
    pthread_mutex_t lock;           /* guards the two strings below */
    char serial[80];                /* of the published certificate */
    char last_error[CG_ERR_MSG_MAX];
    _Atomic unsigned long long reloads_ok, reloads_error;
};

void cg_tls_store_init(struct cg_tls_store *s, const char *cert_file, const char *key_file,
                       bool http2);
void cg_tls_store_dispose(struct cg_tls_store *s);
/* Loads the pair if the files changed since the last attempt (or always when force); logs
 * and counts the outcome. The first successful call makes the store ready. */
enum cg_reload_result cg_tls_store_reload(struct cg_tls_store *s, bool force, struct cg_err *err);
/* Is a context published? */
bool cg_tls_store_ready(struct cg_tls_store *s);
/* Appends a one-line state ("certificates: serial ..." / "... not loaded: why"). */
enum cg_status cg_tls_store_describe(struct cg_tls_store *s, struct cg_buf *out);

#endif
