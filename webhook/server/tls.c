#include "server/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <h2o.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"

/* The oldest queued OpenSSL error, for messages. */
static const char *ssl_error_text(char *buf, size_t n)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0)
        return "unknown OpenSSL error";
    ERR_error_string_n(e, buf, n);
    return buf;
}

static void serial_hex(X509 *x, char *out, size_t n)
{
    out[0] = '\0';
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex != NULL)
        snprintf(out, n, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
}

/* Is gid the process's own group (its effective group or a supplementary one)? */
static bool own_group(gid_t gid)
{
    if (gid == getegid())
        return true;
    gid_t groups[256];
    int n = getgroups(256, groups);
    for (int i = 0; i < n; i++)
        if (groups[i] == gid)
            return true;
    return false;
}

/* The private key must be ours alone: never readable or writable by others, and readable by
 * a group only when that group is our own (a Kubernetes Secret volume mounted 0440 with the
 * pod's fsGroup, the way a non-root container reads it). Anything else is refused with what
 * to do about it; the file is checked where it resolves (a Secret mount's symlinks). */
static enum cg_status check_key_mode(const char *key_file, int fd, struct cg_err *err)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return cg_err_set(err, CG_ETLS, "key %s: %s", key_file, strerror(errno));
    unsigned mode = (unsigned)(sb.st_mode & 07777);
    if ((sb.st_mode & S_IRWXO) != 0)
        return cg_err_set(err, CG_ETLS,
                          "key %s is readable by others (mode %04o): refused; make it 0600 "
                          "(or 0440 with the pod's fsGroup)",
                          key_file, mode);
    if ((sb.st_mode & (S_IRGRP | S_IWGRP)) != 0 && !own_group(sb.st_gid))
        return cg_err_set(err, CG_ETLS,
                          "key %s is readable by group %u, not ours (mode %04o): refused; make "
                          "it 0600, or give it our group",
                          key_file, (unsigned)sb.st_gid, mode);
    return CG_OK;
}

enum cg_status cg_tls_ctx_load(const char *cert_file, const char *key_file, bool http2,
                               SSL_CTX **out, char *serial, size_t serial_len, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    char why[256];
    SSL_CTX *ctx = NULL;

    *out = NULL;
    ERR_clear_error();
    /* OpenSSL reports a missing file as "system lib": say which and why. */
    const char *files[2] = {cert_file, key_file};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        if (f == NULL) {
            st = cg_err_set(err, CG_ETLS, "%s %s: %s", i == 0 ? "certificate" : "key", files[i],
                            strerror(errno));
            goto out;
        }
        if (i == 1)
            st = check_key_mode(files[i], fileno(f), err);
        fclose(f);
        if (st != CG_OK)
            goto out;
    }
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        st = cg_err_set(err, CG_ETLS, "SSL_CTX_new: %s", ssl_error_text(why, sizeof(why)));
        goto out;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Tickets and the session cache are off: the apiserver keeps connections alive instead
     * of resuming, and a ticket key would be one more secret to rotate. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* AES-128-GCM first (the server's preference decides): with AES-NI it decrypts a 12 KB
     * review about a third faster than AES-256-GCM, OpenSSL's default first choice. */
    if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM+AES128:ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
        SSL_CTX_set_ciphersuites(ctx, CG_TLS13_CIPHERSUITES) != 1) {
        st = cg_err_set(err, CG_ETLS, "cipher list: %s", ssl_error_text(why, sizeof(why)));
        goto out;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        st = cg_err_set(err, CG_ETLS, "certificate %s: %s", cert_file,
                        ssl_error_text(why, sizeof(why)));
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            st = cg_err_set(err, CG_ETLS, "key %s does not match certificate %s", key_file,
                            cert_file);
        else
            st = cg_err_set(err, CG_ETLS, "key %s: %s", key_file, ssl_error_text(why, sizeof(why)));
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        st = cg_err_set(err, CG_ETLS, "key %s does not match certificate %s", key_file, cert_file);
        goto out;
    }
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    if (leaf == NULL) {
        st = cg_err_set(err, CG_ETLS, "certificate %s: no certificate", cert_file);
        goto out;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
        st = cg_err_set(err, CG_ETLS, "certificate %s has expired", cert_file);
        goto out;
    }
    if (http2)
        h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    if (serial != NULL && serial_len > 0)
        serial_hex(leaf, serial, serial_len);
    *out = ctx;
    ctx = NULL;
out:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return st;
}

static void *ctx_retain(void *p)
{
    SSL_CTX_up_ref(p);
    return p;
}

static void ctx_release(void *p)
{
    SSL_CTX_free(p);
}

void cg_tls_store_init(struct cg_tls_store *s, const char *cert_file, const char *key_file,
                       bool http2)
{
    memset(s, 0, sizeof(*s));
    cg_snapshot_init(&s->snap, ctx_retain, ctx_release);
    s->cert_file = cg_xstrdup(cert_file);
    s->key_file = cg_xstrdup(key_file);
    s->http2 = http2;
    pthread_mutex_init(&s->lock, NULL);
    snprintf(s->last_error, sizeof(s->last_error), "not loaded yet");
}

void cg_tls_store_dispose(struct cg_tls_store *s)
{
    cg_snapshot_dispose(&s->snap);
    pthread_mutex_destroy(&s->lock);
    free(s->cert_file);
    free(s->key_file);
    s->cert_file = s->key_file = NULL;
}

enum cg_reload_result cg_tls_store_reload(struct cg_tls_store *s, bool force, struct cg_err *err)
{
    /* Fingerprint before reading, so a swap during the read shows as a change next time. */
    unsigned long long fp =
        cg_file_fingerprint(s->cert_file) * 31 ^ cg_file_fingerprint(s->key_file);
    if (!force && s->attempted && fp == s->fingerprint)
        return CG_RELOAD_UNCHANGED;
    s->attempted = true;
    s->fingerprint = fp;

    struct cg_err local;
    if (err == NULL)
        err = &local;
    cg_err_clear(err);
    SSL_CTX *ctx = NULL;
    char serial[80];
    if (cg_tls_ctx_load(s->cert_file, s->key_file, s->http2, &ctx, serial, sizeof(serial), err) !=
        CG_OK) {
        pthread_mutex_lock(&s->lock);
        snprintf(s->last_error, sizeof(s->last_error), "%s", err->msg);
        pthread_mutex_unlock(&s->lock);
        atomic_fetch_add(&s->reloads_error, 1);
        /* At start there is no previous pair to keep: say so rather than promise one. */
        bool have_pair = cg_snapshot_generation(&s->snap) > 0;
        cg_log(CG_LOG_ERROR,
               have_pair ? "certificate reload failed; keeping the previous pair"
                         : "certificate pair does not load; no TLS without it",
               "error", err->msg, NULL);
        return CG_RELOAD_FAILED;
    }
    cg_snapshot_publish(&s->snap, ctx);
    pthread_mutex_lock(&s->lock);
    snprintf(s->serial, sizeof(s->serial), "%s", serial);
    s->last_error[0] = '\0';
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->reloads_ok, 1);
    cg_log(CG_LOG_INFO, "certificate loaded", "cert", s->cert_file, "serial", serial, NULL);
    return CG_RELOAD_DONE;
}

bool cg_tls_store_ready(struct cg_tls_store *s)
{
    return cg_snapshot_generation(&s->snap) != 0;
}

enum cg_status cg_tls_store_describe(struct cg_tls_store *s, struct cg_buf *out)
{
    bool ready = cg_tls_store_ready(s);
    pthread_mutex_lock(&s->lock);
    enum cg_status st;
    if (!ready)
        st = cg_buf_appendf(out, "certificates: not loaded: %s\n", s->last_error);
    else if (s->last_error[0] != '\0')
        st = cg_buf_appendf(out, "certificates: serial %s; last reload failed: %s\n", s->serial,
                            s->last_error);
    else
        st = cg_buf_appendf(out, "certificates: serial %s\n", s->serial);
    pthread_mutex_unlock(&s->lock);
    return st;
}
