/* Kubeconfig and in-cluster credentials on a table of real-looking configs: the data and the
 * file forms, tokens and token files, client certificates, context choice, and the bad ones
 * with the error each must give (status, words of the message, line). Certificates come from
 * certs/gen-dev-certs, run into a scratch directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base64.h"
#include "kube/kube.h"
#include "test_support.h"

struct fx {
    struct cg_test_dir *dir;
    char *ca_b64, *cert_b64, *key_b64, *cakey_b64;
};

static char *b64_of_file(const char *path)
{
    size_t n = 0;
    char *raw = cg_test_read_file(path, &n);
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_base64_encode(raw, n, &b), CG_OK);
    free(raw);
    size_t len = 0;
    return cg_buf_take(&b, &len);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = cg_test_dir_create("cg-kubeconfig");
    const char *argv[] = {
        CG_SOURCE_DIR "/certs/gen-dev-certs", "-o", f->dir->dir, "-q", "-f", NULL};
    assert_int_equal(cg_test_spawn(argv), 0);
    f->ca_b64 = b64_of_file(cg_test_path(f->dir, "ca.crt"));
    f->cert_b64 = b64_of_file(cg_test_path(f->dir, "tls.crt"));
    f->key_b64 = b64_of_file(cg_test_path(f->dir, "tls.key"));
    f->cakey_b64 = b64_of_file(cg_test_path(f->dir, "ca.key"));
    cg_test_write_file(cg_test_path(f->dir, "token"), "  tok-from-file\n");
    cg_test_write_file(cg_test_path(f->dir, "garbage.pem"), "not a certificate\n");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    cg_test_dir_destroy(f->dir);
    free(f->ca_b64);
    free(f->cert_b64);
    free(f->key_b64);
    free(f->cakey_b64);
    free(f);
    return 0;
}

/* Replaces @CA@, @CERT@, @KEY@, @CAKEY@ (base64 blobs) in a template. */
static char *expand(struct fx *f, const char *tmpl)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    for (const char *p = tmpl; *p;) {
        const char *v = NULL;
        size_t skip = 0;
        if (strncmp(p, "@CA@", 4) == 0)
            v = f->ca_b64, skip = 4;
        else if (strncmp(p, "@CERT@", 6) == 0)
            v = f->cert_b64, skip = 6;
        else if (strncmp(p, "@KEY@", 5) == 0)
            v = f->key_b64, skip = 5;
        else if (strncmp(p, "@CAKEY@", 7) == 0)
            v = f->cakey_b64, skip = 7;
        if (v != NULL) {
            cg_buf_append_str(&b, v);
            p += skip;
        } else {
            cg_buf_append_char(&b, *p++);
        }
    }
    size_t n = 0;
    return cg_buf_take(&b, &n);
}

struct kcase {
    const char *name;
    const char *yaml;
    const char *context;
    unsigned flags;
    enum cg_status status;
    const char *msg; /* words the error must hold; for CG_OK: the expected server */
    int line;        /* of the error; 0: not checked */
    /* CG_OK only: */
    const char *ns;
    const char *token;
    bool token_file, client_cert, ca;
};

#define HEAD "apiVersion: v1\nkind: Config\n"
#define BAD NULL, NULL, false, false, false

static const struct kcase cases[] = {
    {"data form (kind/kubeadm style)",
     HEAD "clusters:\n- cluster:\n    certificate-authority-data: @CA@\n"
          "    server: https://127.0.0.1:6443/\n  name: kind-dev\n"
          "contexts:\n- context:\n    cluster: kind-dev\n    user: kind-dev\n"
          "    namespace: team-a\n  name: kind-dev\ncurrent-context: kind-dev\n"
          "preferences: {}\nusers:\n- name: kind-dev\n  user:\n"
          "    client-certificate-data: @CERT@\n    client-key-data: @KEY@\n",
     NULL, 0, CG_OK, "https://127.0.0.1:6443", 0, "team-a", NULL, false, true, true},
    {"flow style, as the lab writes it",
     HEAD "clusters:\n- name: lab\n  cluster: {server: \"https://127.0.0.1:6443\", "
          "certificate-authority-data: @CA@}\nusers:\n- name: \"admin\"\n  user: "
          "{client-certificate-data: @CERT@, client-key-data: @KEY@}\ncontexts:\n- name: lab\n"
          "  context: {cluster: lab, user: \"admin\"}\ncurrent-context: lab\n",
     NULL, 0, CG_OK, "https://127.0.0.1:6443", 0, NULL, NULL, false, true, true},
    {"file form, relative to the kubeconfig",
     HEAD "clusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1\n"
          "    certificate-authority: ca.crt\nusers:\n- name: u\n  user:\n"
          "    client-certificate: ./tls.crt\n    client-key: tls.key\n"
          "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
     NULL, 0, CG_OK, "https://10.0.0.1", 0, NULL, NULL, false, true, true},
    {"token (EKS/GKE service account style), no CA: system CAs",
     HEAD "clusters:\n- name: c\n  cluster: {server: \"https://api.example.com:443\"}\n"
          "users:\n- name: u\n  user: {token: \"eyJhbGciOiJSUzI1NiJ9.abc.def\"}\n"
          "contexts:\n- name: x\n  context: {cluster: c, user: u, namespace: prod}\n"
          "current-context: x\n",
     NULL, 0, CG_OK, "https://api.example.com:443", 0, "prod", "eyJhbGciOiJSUzI1NiJ9.abc.def",
     false, false, false},
    {"tokenFile",
     HEAD "clusters:\n- name: c\n  cluster: {server: \"https://h:6443\", "
          "certificate-authority-data: @CA@}\nusers:\n- name: u\n  user: {tokenFile: token}\n"
          "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
     NULL, 0, CG_OK, "https://h:6443", 0, NULL, NULL, true, false, true},
    {"a context given overrides current-context",
     HEAD "clusters:\n- name: a\n  cluster: {server: \"https://a\"}\n"
          "- name: b\n  cluster: {server: \"https://b\"}\n"
          "users:\n- name: u\n  user: {token: t}\n"
          "contexts:\n- name: ca\n  context: {cluster: a, user: u}\n"
          "- name: cb\n  context: {cluster: b, user: u}\ncurrent-context: ca\n",
     "cb", 0, CG_OK, "https://b", 0, NULL, "t", false, false, false},
    {"anonymous (no user)",
     HEAD "clusters:\n- name: c\n  cluster: {server: \"https://h\"}\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_OK, "https://h", 0, NULL, NULL, false, false, false},
    {"insecure allowed when asked",
     HEAD "clusters:\n- name: c\n  cluster: {server: \"https://h\", insecure-skip-tls-verify: "
          "true}\ncontexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, CG_KUBE_ALLOW_INSECURE, CG_OK, "https://h", 0, NULL, NULL, false, false, false},

    /* ---- bad ones ---- */
    {"empty file", "", NULL, 0, CG_EINVAL, "empty kubeconfig", 0, BAD},
    {"not YAML", HEAD "clusters: [\n  - name: c\n", NULL, 0, CG_EPARSE, "invalid YAML", 0, BAD},
    {"a list at the top", "- a\n- b\n", NULL, 0, CG_EINVAL, "expected a mapping at the top", 1,
     BAD},
    {"no current-context", HEAD "clusters: []\n", NULL, 0, CG_EINVAL, "no current-context", 0, BAD},
    {"unknown context", HEAD "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: y\n",
     NULL, 0, CG_ENOTFOUND, "contexts: no entry named \"y\"", 4, BAD},
    {"unknown cluster",
     HEAD "clusters:\n- name: other\n  cluster: {server: \"https://h\"}\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_ENOTFOUND, "clusters: no entry named \"c\"", 4, BAD},
    {"clusters is a mapping",
     HEAD "clusters: {c: {server: x}}\ncontexts:\n- name: x\n  context: {cluster: c}\n"
          "current-context: x\n",
     NULL, 0, CG_EINVAL, "clusters: expected a list, found a mapping", 3, BAD},
    {"cluster without server",
     HEAD "clusters:\n- name: c\n  cluster: {certificate-authority-data: @CA@}\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "clusters[\"c\"].cluster: no server", 5, BAD},
    {"server of the wrong type",
     HEAD "clusters:\n- name: c\n  cluster:\n    server: [a, b]\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "server: expected a string, found a list", 6, BAD},
    {"plain http refused",
     HEAD "clusters:\n- name: c\n  cluster:\n    server: http://h:8080\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "expected an https:// URL", 6, BAD},
    {"a server without a host (found by fuzz_kubeconfig)",
     HEAD "clusters:\n- name: c\n  cluster:\n    server: \"https://\"\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "no host in the URL", 6, BAD},
    {"insecure-skip-tls-verify refused",
     HEAD "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
          "    insecure-skip-tls-verify: true\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "insecure-skip-tls-verify is refused", 7, BAD},
    {"CA data not base64",
     HEAD "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
          "    certificate-authority-data: \"***\"\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "certificate-authority-data: not valid base64", 7, BAD},
    {"CA data base64 of no certificate",
     HEAD "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
          "    certificate-authority-data: aGVsbG8gd29ybGQK\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "certificate-authority-data: no PEM certificate", 7, BAD},
    {"CA file missing",
     HEAD "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
          "    certificate-authority: nope/ca.crt\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_EIO, "nope/ca.crt: No such file", 7, BAD},
    {"CA file not a certificate",
     HEAD "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
          "    certificate-authority: garbage.pem\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "holds no PEM certificate", 7, BAD},
    {"client certificate without key",
     HEAD "clusters:\n- name: c\n  cluster: {server: \"https://h\"}\n"
          "users:\n- name: u\n  user:\n    client-certificate-data: @CERT@\n"
          "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "a client certificate without its key", 9, BAD},
    {"client key of another certificate",
     HEAD "clusters:\n- name: c\n  cluster: {server: \"https://h\"}\n"
          "users:\n- name: u\n  user:\n    client-certificate-data: @CERT@\n"
          "    client-key-data: @CAKEY@\n"
          "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "does not match the certificate", 9, BAD},
    {"exec plugin unsupported",
     HEAD "clusters:\n- name: c\n  cluster: {server: \"https://h\"}\n"
          "users:\n- name: u\n  user:\n    exec:\n      command: aws\n"
          "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
     NULL, 0, CG_EUNSUPPORTED, "users[\"u\"].user.exec: not supported", 10, BAD},
    {"a key given twice",
     HEAD "clusters:\n- name: c\n  cluster:\n    server: https://a\n    server: https://b\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "server given twice", 7, BAD},
    {"two clusters of one name",
     HEAD "clusters:\n- name: c\n  cluster: {server: \"https://a\"}\n"
          "- name: c\n  cluster: {server: \"https://b\"}\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "two entries named \"c\"", 6, BAD},
    {"an entry that is not a mapping",
     HEAD "clusters:\n- just-a-string\n"
          "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
     NULL, 0, CG_EINVAL, "clusters[0]: expected a mapping", 4, BAD},
    {"a context without its body", HEAD "contexts:\n- name: x\ncurrent-context: x\n", NULL, 0,
     CG_EINVAL, "contexts[\"x\"].context: expected a mapping, found nothing", 4, BAD},
};

static void test_table(void **state)
{
    struct fx *f = *state;
    const char *path = cg_test_path(f->dir, "config");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct kcase *c = &cases[i];
        char *yaml = expand(f, c->yaml);
        cg_test_write_file(path, yaml);
        struct cg_kube_config *cfg = NULL;
        struct cg_err err;
        cg_err_clear(&err);
        enum cg_status st = cg_kube_config_load(path, c->context, c->flags, &cfg, &err);
        char what[700];
        cg_err_format(&err, what, sizeof(what));
        if (st != c->status)
            fail_msg("%s: status %s, want %s (%s)", c->name, cg_status_str(st),
                     cg_status_str(c->status), what);
        if (st == CG_OK) {
            assert_non_null(cfg);
            assert_string_equal(cfg->server, c->msg);
            if (c->ns)
                assert_string_equal(cfg->namespace_, c->ns);
            else
                assert_null(cfg->namespace_);
            if (c->token)
                assert_string_equal(cfg->token, c->token);
            else
                assert_null(cfg->token);
            assert_int_equal(cfg->token_file != NULL, c->token_file);
            if (c->token_file)
                assert_string_equal(cfg->token_file, cg_test_path(f->dir, "token"));
            assert_int_equal(cfg->cert_pem.len > 0, c->client_cert);
            assert_int_equal(cfg->key_pem.len > 0, c->client_cert);
            assert_int_equal(cfg->ca_pem.len > 0, c->ca);
            assert_int_equal(cfg->insecure, (c->flags & CG_KUBE_ALLOW_INSECURE) != 0);
        } else {
            assert_null(cfg);
            if (strstr(err.msg, c->msg) == NULL)
                fail_msg("%s: message \"%s\" lacks \"%s\"", c->name, what, c->msg);
            assert_string_equal(err.file, path);
            if (c->line != 0 && err.line != c->line)
                fail_msg("%s: line %d, want %d (%s)", c->name, err.line, c->line, what);
        }
        cg_kube_config_destroy(cfg);
        free(yaml);
    }
}

/* Every prefix of a good kubeconfig, and every single-byte change of it, is an answer (a
 * config or an error), never a crash; ASan and UBSan watch. */
static void test_truncations_and_mutations(void **state)
{
    struct fx *f = *state;
    char *yaml = expand(f, cases[0].yaml);
    size_t n = strlen(yaml);
    size_t ok = 0;
    for (size_t cut = 0; cut <= n; cut += 3) {
        struct cg_kube_config *cfg = NULL;
        struct cg_err err;
        if (cg_kube_config_decode(yaml, cut, "cut.yaml", NULL, 0, &cfg, &err) == CG_OK)
            ok++;
        else
            assert_true(err.msg[0] != '\0');
        cg_kube_config_destroy(cfg);
    }
    static const char bytes[] = {':', '-', '[', '{', '"', '\'', '&', '*', '!', '\n', ' ', 'x'};
    for (size_t i = 0; i < n; i += 7) {
        char saved = yaml[i];
        yaml[i] = bytes[i % sizeof(bytes)];
        struct cg_kube_config *cfg = NULL;
        struct cg_err err;
        if (cg_kube_config_decode(yaml, n, "mut.yaml", NULL, 0, &cfg, &err) != CG_OK)
            assert_true(err.msg[0] != '\0');
        cg_kube_config_destroy(cfg);
        yaml[i] = saved;
    }
    assert_true(ok >= 1); /* the whole file loads */
    free(yaml);
}

static void test_in_cluster(void **state)
{
    struct fx *f = *state;
    struct cg_test_dir *sa = cg_test_dir_create("cg-sa");
    struct cg_kube_config *cfg = NULL;
    struct cg_err err;
    char *ca = cg_test_read_file(cg_test_path(f->dir, "ca.crt"), NULL);

    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    assert_int_equal(cg_kube_config_in_cluster(sa->dir, &cfg, &err), CG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "KUBERNETES_SERVICE_HOST"));

    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(cg_kube_config_in_cluster(sa->dir, &cfg, &err), CG_EIO);
    assert_non_null(strstr(err.msg, "/token"));

    cg_test_write_file(cg_test_path(sa, "token"), "sa-token-1\n");
    assert_int_equal(cg_kube_config_in_cluster(sa->dir, &cfg, &err), CG_EIO);
    assert_non_null(strstr(err.msg, "ca.crt"));

    cg_test_write_file(cg_test_path(sa, "ca.crt"), "junk");
    assert_int_equal(cg_kube_config_in_cluster(sa->dir, &cfg, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "no PEM certificate"));

    cg_test_write_file(cg_test_path(sa, "ca.crt"), ca);
    assert_int_equal(cg_kube_config_in_cluster(sa->dir, &cfg, &err), CG_OK);
    assert_string_equal(cfg->server, "https://10.96.0.1:443");
    assert_string_equal(cfg->token_file, cg_test_path(sa, "token"));
    assert_null(cfg->namespace_); /* optional */
    assert_true(cfg->ca_pem.len > 0);
    cg_kube_config_destroy(cfg);
    cfg = NULL;

    cg_test_write_file(cg_test_path(sa, "namespace"), "cellgate-system\n");
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    assert_int_equal(cg_kube_config_in_cluster(sa->dir, &cfg, &err), CG_OK);
    assert_string_equal(cfg->server, "https://[fd00::1]:443");
    assert_string_equal(cfg->namespace_, "cellgate-system");

    /* A client over it reads the token (and fails with the file's name when it cannot). */
    struct cg_kube_client *c = NULL;
    assert_int_equal(cg_kube_client_create(cfg, NULL, &c, &err), CG_OK);
    assert_string_equal(cg_kube_client_namespace(c), "cellgate-system");
    cg_kube_client_destroy(c);
    c = NULL;
    cg_test_write_file(cg_test_path(sa, "token"), " \n");
    assert_int_equal(cg_kube_client_create(cfg, NULL, &c, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "empty token"));
    assert_null(c);

    cg_kube_config_destroy(cfg);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    free(ca);
    cg_test_dir_destroy(sa);
}

static void test_paths(void **state)
{
    (void)state;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_kube_path(&b, "v1", "ns", "pods", "p-1", "status"), CG_OK);
    assert_string_equal(b.data, "/api/v1/namespaces/ns/pods/p-1/status");
    cg_buf_reset(&b);
    assert_int_equal(cg_kube_path(&b, "coordination.k8s.io/v1", NULL, "leases", NULL, NULL), CG_OK);
    assert_string_equal(b.data, "/apis/coordination.k8s.io/v1/leases");
    cg_buf_reset(&b);
    assert_int_equal(cg_kube_path(&b, "v1", "a b", "pods", "x/y", NULL), CG_OK);
    assert_string_equal(b.data, "/api/v1/namespaces/a%20b/pods/x%2Fy");
    assert_int_equal(cg_kube_path(&b, "", NULL, "pods", NULL, NULL), CG_EINVAL);
    cg_buf_dispose(&b);
    assert_string_equal(cg_kube_reason_str(CG_KUBE_CONFLICT), "conflict (409)");
    assert_true(cg_kube_reason_retryable(CG_KUBE_RETRYABLE));
    assert_false(cg_kube_reason_retryable(CG_KUBE_GONE));
}

/* The lab's own admin kubeconfig, when this machine has one. */
static void test_lab_kubeconfig(void **state)
{
    (void)state;
    const char *path = "/var/tmp/cellgate-lab/admin.kubeconfig";
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        skip();
        return;
    }
    fclose(fp);
    struct cg_kube_config *cfg = NULL;
    struct cg_err err;
    assert_int_equal(cg_kube_config_load(path, NULL, 0, &cfg, &err), CG_OK);
    assert_string_equal(cfg->server, "https://127.0.0.1:6443");
    assert_true(cfg->cert_pem.len > 0 && cfg->key_pem.len > 0 && cfg->ca_pem.len > 0);
    cg_kube_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),          cmocka_unit_test(test_truncations_and_mutations),
        cmocka_unit_test(test_in_cluster),     cmocka_unit_test(test_paths),
        cmocka_unit_test(test_lab_kubeconfig),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
