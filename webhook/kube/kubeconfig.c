/* Credentials: a kubeconfig file (YAML, read with libyaml's document loader, which keeps every
 * node's position so an error can name line and column), or the in-cluster service account.
 *
 * Certificates and keys are read into memory and checked with OpenSSL here, at load, so a
 * wrong path or a truncated base64 blob is an error that names the kubeconfig, not a TLS
 * failure on the first request. Only the token file is read again later (it rotates). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <yaml.h>

#include "base/base64.h"
#include "base/file.h"
#include "base/mem.h"
#include "kube/kube.h"

#define DEFAULT_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* A kubeconfig, a certificate or a token bigger than this is not one. */
#define MAX_FILE (4u << 20)

struct kc {
    const char *path; /* for messages */
    char *dir;        /* anchor of relative file names ("" for the working directory) */
    yaml_document_t doc;
    struct cg_err *err;
};

static enum cg_status fail_at(struct kc *k, const yaml_node_t *node, enum cg_status st,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum cg_status fail_at(struct kc *k, const yaml_node_t *node, enum cg_status st,
                              const char *fmt, ...)
{
    char msg[CG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (node == NULL)
        return cg_err_set_at(k->err, st, k->path, 0, 0, "%s", msg);
    return cg_err_set_at(k->err, st, k->path, (int)node->start_mark.line + 1,
                         (int)node->start_mark.column + 1, "%s", msg);
}

static const char *describe(const yaml_node_t *n)
{
    if (n == NULL)
        return "nothing";
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

static bool scalar_eq(const yaml_node_t *n, const char *s)
{
    return n != NULL && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
           memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

/* The value of key in map, or NULL. A key given twice is an error (*st), not "the last one
 * wins": two users of one name in a hand-edited file is a mistake worth saying. */
static yaml_node_t *map_get(struct kc *k, yaml_node_t *map, const char *key, enum cg_status *st)
{
    yaml_node_t *found = NULL;
    if (map == NULL || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(&k->doc, p->key);
        if (!scalar_eq(kn, key))
            continue;
        if (found != NULL) {
            *st = fail_at(k, kn, CG_EINVAL, "%s given twice", key);
            return NULL;
        }
        found = yaml_document_get_node(&k->doc, p->value);
    }
    return found;
}

/* A scalar (or null) as a NUL-terminated string; NULL when absent, empty or null. */
static enum cg_status get_str(struct kc *k, yaml_node_t *map, const char *what, const char *key,
                              const char **out)
{
    enum cg_status st = CG_OK;
    *out = NULL;
    yaml_node_t *n = map_get(k, map, key, &st);
    if (st != CG_OK || n == NULL)
        return st;
    if (n->type != YAML_SCALAR_NODE)
        return fail_at(k, n, CG_EINVAL, "%s.%s: expected a string, found %s", what, key,
                       describe(n));
    const char *v = (const char *)n->data.scalar.value;
    bool is_null = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                   (strcmp(v, "null") == 0 || strcmp(v, "~") == 0);
    if (v[0] != '\0' && !is_null)
        *out = v;
    return CG_OK;
}

static enum cg_status get_bool(struct kc *k, yaml_node_t *map, const char *what, const char *key,
                               bool *out)
{
    enum cg_status st = CG_OK;
    *out = false;
    yaml_node_t *n = map_get(k, map, key, &st);
    if (st != CG_OK || n == NULL)
        return st;
    if (scalar_eq(n, "true") || scalar_eq(n, "True") || scalar_eq(n, "TRUE"))
        *out = true;
    else if (!scalar_eq(n, "false") && !scalar_eq(n, "False") && !scalar_eq(n, "FALSE"))
        return fail_at(k, n, CG_EINVAL, "%s.%s: expected true or false", what, key);
    return CG_OK;
}

/* In list key (clusters, users, contexts) of the root, the entry named name; *body is its
 * inner mapping (entry.<inner>). */
static enum cg_status find_named(struct kc *k, yaml_node_t *root, const char *key,
                                 const char *inner, const char *name, yaml_node_t **body)
{
    enum cg_status st = CG_OK;
    *body = NULL;
    yaml_node_t *list = map_get(k, root, key, &st);
    if (st != CG_OK)
        return st;
    if (list != NULL && list->type != YAML_SEQUENCE_NODE &&
        !(list->type == YAML_SCALAR_NODE && list->data.scalar.length == 0))
        return fail_at(k, list, CG_EINVAL, "%s: expected a list, found %s", key, describe(list));
    yaml_node_t *found = NULL;
    if (list != NULL && list->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = list->data.sequence.items.start;
             it < list->data.sequence.items.top; it++) {
            yaml_node_t *e = yaml_document_get_node(&k->doc, *it);
            if (e == NULL || e->type != YAML_MAPPING_NODE)
                return fail_at(k, e, CG_EINVAL, "%s[%ld]: expected a mapping, found %s", key,
                               (long)(it - list->data.sequence.items.start), describe(e));
            const char *n = NULL;
            st = get_str(k, e, key, "name", &n);
            if (st != CG_OK)
                return st;
            if (n == NULL || strcmp(n, name) != 0)
                continue;
            if (found != NULL)
                return fail_at(k, e, CG_EINVAL, "%s: two entries named \"%s\"", key, name);
            found = e;
        }
    }
    if (found == NULL)
        return fail_at(k, list, CG_ENOTFOUND, "%s: no entry named \"%s\"", key, name);
    yaml_node_t *b = map_get(k, found, inner, &st);
    if (st != CG_OK)
        return st;
    if (b == NULL || b->type != YAML_MAPPING_NODE)
        return fail_at(k, b != NULL ? b : found, CG_EINVAL,
                       "%s[\"%s\"].%s: expected a mapping, found %s", key, name, inner,
                       describe(b));
    *body = b;
    return CG_OK;
}

static char *join_path(const char *dir, const char *file)
{
    if (file[0] == '/' || dir[0] == '\0')
        return cg_xstrdup(file);
    size_t n = strlen(dir) + 1 + strlen(file) + 1;
    char *p = cg_xmalloc(n);
    snprintf(p, n, "%s/%s", dir, file);
    return p;
}

/* base64 with any whitespace removed first: a blob wrapped by an editor is still the blob. */
static enum cg_status decode_b64(const char *s, struct cg_buf *out)
{
    enum cg_status st = CG_OK;
    size_t n = strlen(s);
    char *clean = cg_xmalloc(n + 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            clean[m++] = s[i];
    st = cg_base64_decode(clean, m, out);
    free(clean);
    return st;
}

enum pem_kind { PEM_CERTS, PEM_KEY };

/* Checks that pem holds at least one certificate (or a private key), so a wrong file fails
 * here with its name rather than in the TLS handshake. */
static bool pem_ok(const struct cg_buf *pem, enum pem_kind kind)
{
    bool ok = false;
    BIO *bio = NULL;
    if (pem->len == 0 || pem->len > MAX_FILE)
        goto out;
    bio = BIO_new_mem_buf(pem->data, (int)pem->len);
    if (bio == NULL)
        goto out;
    if (kind == PEM_CERTS) {
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        ok = x != NULL;
        X509_free(x);
    } else {
        EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        ok = key != NULL;
        EVP_PKEY_free(key);
    }
out:
    BIO_free(bio);
    ERR_clear_error();
    return ok;
}

static bool cert_matches_key(const struct cg_buf *cert, const struct cg_buf *key)
{
    bool ok = false;
    BIO *cb = BIO_new_mem_buf(cert->data, (int)cert->len);
    BIO *kb = BIO_new_mem_buf(key->data, (int)key->len);
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    if (cb == NULL || kb == NULL)
        goto out;
    x = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    k = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    ok = x != NULL && k != NULL && X509_check_private_key(x, k) == 1;
out:
    EVP_PKEY_free(k);
    X509_free(x);
    BIO_free(kb);
    BIO_free(cb);
    ERR_clear_error();
    return ok;
}

/* Reads one of the credential pairs "<file_key>" / "<data_key>" of map into out. */
static enum cg_status load_blob(struct kc *k, yaml_node_t *map, const char *what,
                                const char *file_key, const char *data_key, enum pem_kind kind,
                                struct cg_buf *out)
{
    enum cg_status st = CG_OK;
    const char *file = NULL, *data = NULL;
    char *path = NULL;
    st = get_str(k, map, what, file_key, &file);
    if (st != CG_OK)
        goto out;
    st = get_str(k, map, what, data_key, &data);
    if (st != CG_OK)
        goto out;
    if (data != NULL) {
        /* kubectl's rule: the data form wins over the file form. */
        if (decode_b64(data, out) != CG_OK) {
            st = fail_at(k, map_get(k, map, data_key, &st), CG_EINVAL, "%s.%s: not valid base64",
                         what, data_key);
            goto out;
        }
        if (!pem_ok(out, kind)) {
            st = fail_at(k, map_get(k, map, data_key, &st), CG_EINVAL, "%s.%s: no PEM %s in it",
                         what, data_key, kind == PEM_KEY ? "private key" : "certificate");
            goto out;
        }
    } else if (file != NULL) {
        path = join_path(k->dir, file);
        struct cg_err ferr;
        cg_err_clear(&ferr);
        if (cg_file_read(path, MAX_FILE, out, &ferr) != CG_OK) {
            st = fail_at(k, map_get(k, map, file_key, &st), CG_EIO, "%s.%s: %s", what, file_key,
                         ferr.msg);
            goto out;
        }
        if (!pem_ok(out, kind)) {
            st = fail_at(k, map_get(k, map, file_key, &st), CG_EINVAL, "%s.%s: %s holds no PEM %s",
                         what, file_key, path, kind == PEM_KEY ? "private key" : "certificate");
            goto out;
        }
    }
out:
    free(path);
    return st;
}

static enum cg_status set_server(struct cg_kube_config *cfg, const char *server, unsigned flags,
                                 struct kc *k, yaml_node_t *node)
{
    bool https = strncmp(server, "https://", 8) == 0;
    bool http = strncmp(server, "http://", 7) == 0;
    if (!https && !(http && (flags & CG_KUBE_ALLOW_INSECURE)))
        return fail_at(k, node, CG_EINVAL, "server \"%s\": expected an https:// URL%s", server,
                       http ? " (plain http is refused unless insecure access is allowed)" : "");
    /* A host must follow the scheme ("https://" alone would become "https:"). */
    const char *host = server + (https ? 8 : 7);
    if (host[0] == '\0' || host[0] == '/' || host[0] == ':' || host[0] == '?' || host[0] == '#')
        return fail_at(k, node, CG_EINVAL, "server \"%s\": no host in the URL", server);
    size_t n = strlen(server);
    while (n > 0 && server[n - 1] == '/')
        n--;
    cfg->server = cg_xstrndup(server, n);
    return CG_OK;
}

static enum cg_status decode_doc(struct kc *k, const char *context, unsigned flags,
                                 struct cg_kube_config *cfg)
{
    enum cg_status st = CG_OK;
    yaml_node_t *root = yaml_document_get_root_node(&k->doc);
    yaml_node_t *ctx = NULL, *cluster = NULL, *user = NULL;
    const char *ctx_name = context, *cluster_name = NULL, *user_name = NULL, *ns = NULL;
    const char *server = NULL, *token = NULL, *token_file = NULL;
    char what[320];
    if (root == NULL) {
        st = fail_at(k, NULL, CG_EINVAL, "empty kubeconfig");
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        st = fail_at(k, root, CG_EINVAL, "expected a mapping at the top, found %s", describe(root));
        goto out;
    }
    if (ctx_name == NULL) {
        st = get_str(k, root, "kubeconfig", "current-context", &ctx_name);
        if (st != CG_OK)
            goto out;
        if (ctx_name == NULL) {
            st = fail_at(k, NULL, CG_EINVAL, "no current-context, and no context was given");
            goto out;
        }
    }
    cfg->context = cg_xstrdup(ctx_name);

    st = find_named(k, root, "contexts", "context", ctx_name, &ctx);
    if (st != CG_OK)
        goto out;
    snprintf(what, sizeof(what), "contexts[\"%s\"].context", ctx_name);
    if ((st = get_str(k, ctx, what, "cluster", &cluster_name)) != CG_OK ||
        (st = get_str(k, ctx, what, "user", &user_name)) != CG_OK ||
        (st = get_str(k, ctx, what, "namespace", &ns)) != CG_OK)
        goto out;
    if (cluster_name == NULL) {
        st = fail_at(k, ctx, CG_EINVAL, "%s: no cluster", what);
        goto out;
    }
    if (ns != NULL)
        cfg->namespace_ = cg_xstrdup(ns);

    st = find_named(k, root, "clusters", "cluster", cluster_name, &cluster);
    if (st != CG_OK)
        goto out;
    snprintf(what, sizeof(what), "clusters[\"%s\"].cluster", cluster_name);
    if ((st = get_str(k, cluster, what, "server", &server)) != CG_OK)
        goto out;
    if (server == NULL) {
        st = fail_at(k, cluster, CG_EINVAL, "%s: no server", what);
        goto out;
    }
    st = set_server(cfg, server, flags, k, map_get(k, cluster, "server", &st));
    if (st != CG_OK)
        goto out;
    if ((st = get_bool(k, cluster, what, "insecure-skip-tls-verify", &cfg->insecure)) != CG_OK)
        goto out;
    if (cfg->insecure && !(flags & CG_KUBE_ALLOW_INSECURE)) {
        st = fail_at(k, map_get(k, cluster, "insecure-skip-tls-verify", &st), CG_EINVAL,
                     "%s: insecure-skip-tls-verify is refused: anyone on the path could act as "
                     "the API server (give the cluster's CA, or allow insecure access "
                     "explicitly)",
                     what);
        goto out;
    }
    st = load_blob(k, cluster, what, "certificate-authority", "certificate-authority-data",
                   PEM_CERTS, &cfg->ca_pem);
    if (st != CG_OK)
        goto out;

    if (user_name == NULL)
        goto out; /* anonymous: allowed, the API server decides */
    st = find_named(k, root, "users", "user", user_name, &user);
    if (st != CG_OK)
        goto out;
    snprintf(what, sizeof(what), "users[\"%s\"].user", user_name);
    static const char *const unsupported[] = {"exec", "auth-provider", "username", "password"};
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
        yaml_node_t *n = map_get(k, user, unsupported[i], &st);
        if (st != CG_OK)
            goto out;
        if (n != NULL) {
            st = fail_at(k, n, CG_EUNSUPPORTED,
                         "%s.%s: not supported; use a token, a tokenFile or a client "
                         "certificate",
                         what, unsupported[i]);
            goto out;
        }
    }
    st = load_blob(k, user, what, "client-certificate", "client-certificate-data", PEM_CERTS,
                   &cfg->cert_pem);
    if (st != CG_OK)
        goto out;
    st = load_blob(k, user, what, "client-key", "client-key-data", PEM_KEY, &cfg->key_pem);
    if (st != CG_OK)
        goto out;
    if ((cfg->cert_pem.len == 0) != (cfg->key_pem.len == 0)) {
        st = fail_at(k, user, CG_EINVAL, "%s: a client %s without its %s", what,
                     cfg->cert_pem.len ? "certificate" : "key",
                     cfg->cert_pem.len ? "key" : "certificate");
        goto out;
    }
    if (cfg->cert_pem.len && !cert_matches_key(&cfg->cert_pem, &cfg->key_pem)) {
        st = fail_at(k, user, CG_EINVAL, "%s: the client key does not match the certificate", what);
        goto out;
    }
    if ((st = get_str(k, user, what, "token", &token)) != CG_OK ||
        (st = get_str(k, user, what, "tokenFile", &token_file)) != CG_OK)
        goto out;
    if (token != NULL)
        cfg->token = cg_xstrdup(token);
    else if (token_file != NULL)
        cfg->token_file = join_path(k->dir, token_file);
out:
    return st;
}

enum cg_status cg_kube_config_decode(const char *data, size_t len, const char *path,
                                     const char *context, unsigned flags,
                                     struct cg_kube_config **out, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_kube_config *cfg = NULL;
    yaml_parser_t parser;
    bool parser_ok = false, doc_ok = false;
    struct kc k = {.path = path ? path : "kubeconfig", .dir = NULL, .err = err};
    *out = NULL;
    const char *slash = path ? strrchr(path, '/') : NULL;
    k.dir = slash ? cg_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : cg_xstrdup("");
    if (!yaml_parser_initialize(&parser)) {
        st = cg_err_set(err, CG_EINTERNAL, "%s: cannot start the YAML parser", k.path);
        goto out;
    }
    parser_ok = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &k.doc)) {
        st = cg_err_set_at(err, CG_EPARSE, k.path, (int)parser.problem_mark.line + 1,
                           (int)parser.problem_mark.column + 1, "invalid YAML: %s",
                           parser.problem ? parser.problem : "unknown error");
        goto out;
    }
    doc_ok = true;
    cfg = cg_xcalloc(1, sizeof(*cfg));
    cg_buf_init(&cfg->ca_pem, MAX_FILE);
    cg_buf_init(&cfg->cert_pem, MAX_FILE);
    cg_buf_init(&cfg->key_pem, MAX_FILE);
    cfg->source = cg_xstrdup(k.path);
    st = decode_doc(&k, context, flags, cfg);
    if (st != CG_OK)
        goto out;
    *out = cfg;
    cfg = NULL;
out:
    cg_kube_config_destroy(cfg);
    if (doc_ok)
        yaml_document_delete(&k.doc);
    if (parser_ok)
        yaml_parser_delete(&parser);
    free(k.dir);
    return st;
}

enum cg_status cg_kube_config_load(const char *path, const char *context, unsigned flags,
                                   struct cg_kube_config **out, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    *out = NULL;
    st = cg_file_read(path, MAX_FILE, &b, err);
    if (st != CG_OK)
        goto out;
    st = cg_kube_config_decode(b.data, b.len, path, context, flags, out, err);
out:
    cg_buf_dispose(&b);
    return st;
}

/* The file's content without surrounding whitespace, or NULL when it is missing or empty. */
static char *read_trimmed(const char *path, struct cg_err *err, enum cg_status *st)
{
    struct cg_buf b;
    char *res = NULL;
    cg_buf_init(&b, 0);
    *st = cg_file_read(path, MAX_FILE, &b, err);
    if (*st != CG_OK)
        goto out;
    size_t s = 0, e = b.len;
    while (s < e && isspace((unsigned char)b.data[s]))
        s++;
    while (e > s && isspace((unsigned char)b.data[e - 1]))
        e--;
    if (e > s)
        res = cg_xstrndup(b.data + s, e - s);
out:
    cg_buf_dispose(&b);
    return res;
}

enum cg_status cg_kube_config_in_cluster(const char *dir, struct cg_kube_config **out,
                                         struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_kube_config *cfg = NULL;
    char path[4096];
    char *tok = NULL;
    *out = NULL;
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (dir == NULL)
        dir = DEFAULT_SA_DIR;
    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
        st = cg_err_set(err, CG_ENOTFOUND,
                        "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                        "are not set");
        goto out;
    }
    cfg = cg_xcalloc(1, sizeof(*cfg));
    cg_buf_init(&cfg->ca_pem, MAX_FILE);
    cg_buf_init(&cfg->cert_pem, MAX_FILE);
    cg_buf_init(&cfg->key_pem, MAX_FILE);
    cfg->source = cg_xstrdup(dir);
    size_t n = strlen(host) + strlen(port) + 16;
    cfg->server = cg_xmalloc(n);
    /* An IPv6 service address needs brackets in a URL. */
    snprintf(cfg->server, n, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);

    snprintf(path, sizeof(path), "%s/token", dir);
    tok = read_trimmed(path, err, &st);
    if (st != CG_OK)
        goto out;
    if (tok == NULL) {
        st = cg_err_set(err, CG_EINVAL, "%s: empty service account token", path);
        goto out;
    }
    cfg->token_file = cg_xstrdup(path);

    snprintf(path, sizeof(path), "%s/ca.crt", dir);
    st = cg_file_read(path, MAX_FILE, &cfg->ca_pem, err);
    if (st != CG_OK)
        goto out;
    if (!pem_ok(&cfg->ca_pem, PEM_CERTS)) {
        st = cg_err_set(err, CG_EINVAL, "%s: no PEM certificate in it", path);
        goto out;
    }

    snprintf(path, sizeof(path), "%s/namespace", dir);
    struct cg_err nerr;
    enum cg_status nst = CG_OK;
    cfg->namespace_ = read_trimmed(path, &nerr, &nst); /* optional: NULL when absent */
    *out = cfg;
    cfg = NULL;
out:
    free(tok);
    cg_kube_config_destroy(cfg);
    return st;
}

void cg_kube_config_destroy(struct cg_kube_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->server);
    free(cfg->namespace_);
    free(cfg->context);
    free(cfg->source);
    cg_buf_dispose(&cfg->ca_pem);
    cg_buf_dispose(&cfg->cert_pem);
    if (cfg->key_pem.data != NULL) /* a private key does not linger in freed memory */
        OPENSSL_cleanse(cfg->key_pem.data, cfg->key_pem.len);
    cg_buf_dispose(&cfg->key_pem);
    free(cfg->token);
    free(cfg->token_file);
    free(cfg);
}
