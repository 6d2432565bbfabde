/* Certificate loading and the reload store, on real files made by certs/gen-dev-certs and
 * laid out the way a Kubernetes Secret mount is (files are symlinks through ..data, which
 * is swapped atomically). TLS handshakes run over in-memory BIO pairs, so the test sees
 * which certificate a new or an existing connection presents without any socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "server/tls.h"
#include "test_support.h"

static int setup(void **state)
{
    *state = cg_test_dir_create("cg-certreload");
    return 0;
}

static int teardown(void **state)
{
    cg_test_dir_destroy(*state);
    return 0;
}

/* gen-dev-certs into dir/sub; with reuse_from, the CA of that directory signs. */
static void gen(struct cg_test_dir *f, const char *sub, const char *reuse_from)
{
    char out[512];
    snprintf(out, sizeof(out), "%s/%s", f->dir, sub);
    if (reuse_from != NULL) {
        mkdir(out, 0755);
        const char *cp[] = {"/bin/cp", cg_test_path(f, reuse_from), out, NULL};
        char ca[512], key[512];
        snprintf(ca, sizeof(ca), "%s/%s/ca.crt", f->dir, reuse_from);
        snprintf(key, sizeof(key), "%s/%s/ca.key", f->dir, reuse_from);
        cp[1] = ca;
        assert_int_equal(cg_test_spawn(cp), 0);
        cp[1] = key;
        assert_int_equal(cg_test_spawn(cp), 0);
        const char *argv[] = {
            CG_SOURCE_DIR "/certs/gen-dev-certs", "-q", "--force", "--reuse-ca", "-o", out, NULL};
        assert_int_equal(cg_test_spawn(argv), 0);
    } else {
        const char *argv[] = {CG_SOURCE_DIR "/certs/gen-dev-certs", "-q", "-o", out, NULL};
        assert_int_equal(cg_test_spawn(argv), 0);
    }
}

/* Points dir/..data at sub atomically (a new link renamed over the old one). */
static void swap_data(struct cg_test_dir *f, const char *sub)
{
    char tmp[512], data[512];
    snprintf(tmp, sizeof(tmp), "%s/..data_tmp", f->dir);
    snprintf(data, sizeof(data), "%s/..data", f->dir);
    unlink(tmp);
    assert_int_equal(symlink(sub, tmp), 0);
    assert_int_equal(rename(tmp, data), 0);
}

static void mount_layout(struct cg_test_dir *f)
{
    assert_int_equal(symlink("..data/tls.crt", cg_test_path(f, "tls.crt")), 0);
    assert_int_equal(symlink("..data/tls.key", cg_test_path(f, "tls.key")), 0);
}

/* Handshake client <-> server over a BIO pair; returns the serial the client saw (hex,
 * caller frees) after verifying it against ca_file. */
/* Handshakes a client (OpenSSL's defaults, at most TLS version max) with server; returns the
 * leaf's serial in hex, and the negotiated cipher's name in *cipher when cipher is not NULL. */
static char *handshake_max(SSL *server, const char *ca_file, int max, char **cipher)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(cctx, max);
    assert_int_equal(SSL_CTX_load_verify_locations(cctx, ca_file, NULL), 1);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    SSL *client = SSL_new(cctx);
    SSL_set1_host(client, "cellgate-webhook.cellgate-system.svc");
    BIO *cb = NULL, *sb = NULL;
    assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(client, cb, cb);
    SSL_set_bio(server, sb, sb);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    int cdone = 0, sdone = 0;
    for (int i = 0; i < 50 && !(cdone && sdone); i++) {
        if (!cdone)
            cdone = SSL_do_handshake(client) == 1;
        if (!sdone)
            sdone = SSL_do_handshake(server) == 1;
    }
    assert_true(cdone && sdone);
    assert_int_equal(SSL_get_verify_result(client), X509_V_OK);
    X509 *peer = SSL_get1_peer_certificate(client);
    assert_non_null(peer);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), NULL);
    char *hex = BN_bn2hex(bn);
    char *out = strdup(hex);
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(peer);
    if (cipher != NULL)
        *cipher = strdup(SSL_get_cipher_name(client));
    SSL_free(client);
    SSL_CTX_free(cctx);
    return out;
}

static char *handshake(SSL *server, const char *ca_file)
{
    return handshake_max(server, ca_file, 0, NULL);
}

/* The cipher a default client ends up with against ctx, at most TLS version max. */
static char *negotiated_cipher(SSL_CTX *ctx, const char *ca_file, int max)
{
    SSL *s = SSL_new(ctx);
    char *cipher = NULL;
    free(handshake_max(s, ca_file, max, &cipher));
    SSL_free(s);
    return cipher;
}

static char *handshake_ctx(SSL_CTX *ctx, const char *ca_file)
{
    SSL *s = SSL_new(ctx);
    char *serial = handshake(s, ca_file);
    SSL_free(s);
    return serial;
}

static void test_load_good_pair(void **state)
{
    struct cg_test_dir *f = *state;
    gen(f, "a", NULL);
    SSL_CTX *ctx = NULL;
    char serial[80] = "";
    struct cg_err err;
    assert_int_equal(cg_tls_ctx_load(cg_test_path(f, "a/tls.crt"), cg_test_path(f, "a/tls.key"),
                                     false, &ctx, serial, sizeof(serial), &err),
                     CG_OK);
    assert_non_null(ctx);
    assert_true(strlen(serial) > 0);
    assert_true(SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION);
    assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET);
    char *seen = handshake_ctx(ctx, cg_test_path(f, "a/ca.crt"));
    assert_string_equal(seen, serial);
    free(seen);
    /* The server's preference wins over a client that lists AES-256-GCM first. */
    char *cipher = negotiated_cipher(ctx, cg_test_path(f, "a/ca.crt"), 0);
    assert_string_equal(cipher, "TLS_AES_128_GCM_SHA256");
    free(cipher);
    cipher = negotiated_cipher(ctx, cg_test_path(f, "a/ca.crt"), TLS1_2_VERSION);
    assert_string_equal(cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
    free(cipher);
    SSL_CTX_free(ctx);
}

static void expect_load_error(const char *cert, const char *key, const char *needle)
{
    SSL_CTX *ctx = (SSL_CTX *)1;
    struct cg_err err;
    cg_err_clear(&err);
    assert_int_equal(cg_tls_ctx_load(cert, key, false, &ctx, NULL, 0, &err), CG_ETLS);
    assert_null(ctx);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}

static void test_load_bad_pairs(void **state)
{
    struct cg_test_dir *f = *state;
    gen(f, "a", NULL);
    gen(f, "b", NULL);
    cg_test_write_file(cg_test_path(f, "garbage.pem"), "not a certificate\n");
    cg_test_write_file(cg_test_path(f, "empty.pem"), "");
    expect_load_error(cg_test_path(f, "a/tls.crt"), cg_test_path(f, "b/tls.key"), "does not match");
    expect_load_error(cg_test_path(f, "missing.crt"), cg_test_path(f, "a/tls.key"), "missing.crt");
    expect_load_error(cg_test_path(f, "garbage.pem"), cg_test_path(f, "a/tls.key"), "garbage.pem");
    expect_load_error(cg_test_path(f, "a/tls.crt"), cg_test_path(f, "garbage.pem"), "key");
    expect_load_error(cg_test_path(f, "a/tls.crt"), cg_test_path(f, "empty.pem"), "empty.pem");
    /* A key file given as the certificate. */
    expect_load_error(cg_test_path(f, "a/tls.key"), cg_test_path(f, "a/tls.key"), "certificate");
}

static char *published_serial(struct cg_tls_store *s, const char *ca)
{
    SSL_CTX *ctx = cg_snapshot_take(&s->snap);
    assert_non_null(ctx);
    char *serial = handshake_ctx(ctx, ca);
    SSL_CTX_free(ctx);
    return serial;
}

static char *describe(struct cg_tls_store *s)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_tls_store_describe(s, &b), CG_OK);
    size_t n;
    return cg_buf_take(&b, &n);
}

static void test_store_rotation(void **state)
{
    struct cg_test_dir *f = *state;
    gen(f, "v1", NULL);
    gen(f, "v2", "v1"); /* same CA, new serving pair */
    gen(f, "v3", "v1");
    gen(f, "v4", "v1");
    /* v3 becomes a bad pair: v3's certificate with v2's key. */
    const char *cp[] = {"/bin/cp", cg_test_path(f, "v2/tls.key"), cg_test_path(f, "v3/tls.key"),
                        NULL};
    assert_int_equal(cg_test_spawn(cp), 0);
    const char *ca = cg_test_path(f, "v1/ca.crt");
    swap_data(f, "v1");
    mount_layout(f);

    struct cg_tls_store s;
    cg_tls_store_init(&s, cg_test_path(f, "tls.crt"), cg_test_path(f, "tls.key"), false);
    assert_false(cg_tls_store_ready(&s));
    char *d = describe(&s);
    assert_non_null(strstr(d, "not loaded"));
    free(d);

    assert_int_equal(cg_tls_store_reload(&s, false, NULL), CG_RELOAD_DONE);
    assert_true(cg_tls_store_ready(&s));
    assert_int_equal(cg_tls_store_reload(&s, false, NULL), CG_RELOAD_UNCHANGED);
    char *serial1 = published_serial(&s, ca);
    d = describe(&s);
    assert_non_null(strstr(d, serial1));
    free(d);

    /* A worker's view, and a connection accepted before the rotation (handshake pending). */
    struct cg_snapshot_reader r;
    cg_snapshot_reader_init(&r);
    SSL_CTX *before = cg_snapshot_reader_get(&r, &s.snap);
    SSL *old_conn = SSL_new(before);

    swap_data(f, "v2");
    assert_int_equal(cg_tls_store_reload(&s, false, NULL), CG_RELOAD_DONE);
    assert_int_equal(cg_snapshot_generation(&s.snap), 2);
    SSL_CTX *after = cg_snapshot_reader_get(&r, &s.snap);
    assert_ptr_not_equal(before, after);
    char *serial2 = handshake_ctx(after, ca);
    assert_string_not_equal(serial1, serial2);
    /* The old connection still completes with the old certificate after the swap. */
    char *old_seen = handshake(old_conn, ca);
    assert_string_equal(old_seen, serial1);
    free(old_seen);
    SSL_free(old_conn);

    /* A mismatched pair is refused; the published context stays; counted once. */
    swap_data(f, "v3");
    assert_int_equal(cg_tls_store_reload(&s, false, NULL), CG_RELOAD_FAILED);
    assert_int_equal(cg_snapshot_generation(&s.snap), 2);
    assert_int_equal(cg_tls_store_reload(&s, false, NULL), CG_RELOAD_UNCHANGED);
    assert_int_equal(atomic_load(&s.reloads_error), 1);
    char *still = published_serial(&s, ca);
    assert_string_equal(still, serial2);
    free(still);
    d = describe(&s);
    assert_non_null(strstr(d, serial2));
    assert_non_null(strstr(d, "last reload failed"));
    assert_non_null(strstr(d, "does not match"));
    free(d);

    /* A good pair again clears the error. */
    swap_data(f, "v4");
    assert_int_equal(cg_tls_store_reload(&s, false, NULL), CG_RELOAD_DONE);
    char *serial4 = published_serial(&s, ca);
    assert_string_not_equal(serial4, serial2);
    d = describe(&s);
    assert_null(strstr(d, "failed"));
    free(d);

    /* SIGHUP: a forced reload of unchanged files publishes again. */
    assert_int_equal(cg_tls_store_reload(&s, true, NULL), CG_RELOAD_DONE);
    assert_int_equal(cg_snapshot_generation(&s.snap), 4);
    assert_int_equal(atomic_load(&s.reloads_ok), 4);

    cg_snapshot_reader_dispose(&r, &s.snap);
    cg_tls_store_dispose(&s);
    free(serial1);
    free(serial2);
    free(serial4);
}

static void test_store_missing_files(void **state)
{
    struct cg_test_dir *f = *state;
    struct cg_tls_store s;
    struct cg_err err;
    cg_tls_store_init(&s, cg_test_path(f, "nope.crt"), cg_test_path(f, "nope.key"), true);
    assert_int_equal(cg_tls_store_reload(&s, false, &err), CG_RELOAD_FAILED);
    assert_non_null(strstr(err.msg, "nope.crt"));
    assert_false(cg_tls_store_ready(&s));
    char *d = describe(&s);
    assert_non_null(strstr(d, "not loaded"));
    assert_non_null(strstr(d, "nope.crt"));
    free(d);
    /* The files appear (with HTTP/2 offered): loaded on the next poll. */
    gen(f, "late", NULL);
    assert_int_equal(rename(cg_test_path(f, "late/tls.crt"), cg_test_path(f, "nope.crt")), 0);
    assert_int_equal(rename(cg_test_path(f, "late/tls.key"), cg_test_path(f, "nope.key")), 0);
    assert_int_equal(cg_tls_store_reload(&s, false, &err), CG_RELOAD_DONE);
    assert_true(cg_tls_store_ready(&s));
    cg_tls_store_dispose(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_good_pair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_bad_pairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_missing_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
