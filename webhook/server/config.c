#include "server/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/options.h"

#define OFF(field) offsetof(struct cg_server_config, field)

static const struct cg_option opts[] = {
    {"listen", "CELLGATE_LISTEN", "127.0.0.1:8443", "ADDR", CG_OPT_STR, OFF(listen), 0, 0,
     "TLS address for the admission routes (host:port, [v6]:port, :port for all)"},
    {"cert", "CELLGATE_CERT", NULL, "FILE", CG_OPT_STR, OFF(cert), 0, 0,
     "certificate chain (PEM), re-read when it changes"},
    {"key", "CELLGATE_KEY", NULL, "FILE", CG_OPT_STR, OFF(key), 0, 0,
     "private key (PEM) of the certificate"},
    {"policies", "CELLGATE_POLICIES", NULL, "DIR", CG_OPT_STR, OFF(policies), 0, 0,
     "policy directory (*.yaml, recursive), re-read when it changes"},
    {"metrics-listen", "CELLGATE_METRICS_LISTEN", "127.0.0.1:9090", "ADDR", CG_OPT_STR,
     OFF(metrics_listen), 0, 0, "plain HTTP address for /metrics, /healthz, /readyz; off: none"},
    {"threads", "CELLGATE_THREADS", "0", "N", CG_OPT_LONG, OFF(threads), 0, 256,
     "event-loop threads; 0: one per CPU the process may run on"},
    {"http2", "CELLGATE_HTTP2", "false", NULL, CG_OPT_BOOL, OFF(http2), 0, 0,
     "offer HTTP/2 through ALPN (off: HTTP/1.1 only)"},
    {"max-body", "CELLGATE_MAX_BODY", "3Mi", "BYTES", CG_OPT_BYTES, OFF(max_body), 1024, 1L << 30,
     "request body cap (suffixes K, M, Ki, Mi); larger bodies get 413"},
    {"max-connections", "CELLGATE_MAX_CONNECTIONS", "4096", "N", CG_OPT_LONG, OFF(max_connections),
     1, 1000000, "concurrent TLS connections; more wait in the listen backlog"},
    {"idle-timeout", "CELLGATE_IDLE_TIMEOUT", "120", "SECONDS", CG_OPT_LONG, OFF(idle_timeout), 1,
     86400, "keep-alive idle time before a connection is closed (above the apiserver's 90 s)"},
    {"read-timeout", "CELLGATE_READ_TIMEOUT", "5", "SECONDS", CG_OPT_LONG, OFF(read_timeout), 1,
     3600, "time to receive a request once its first bytes arrived"},
    {"shutdown-timeout", "CELLGATE_SHUTDOWN_TIMEOUT", "10", "SECONDS", CG_OPT_LONG,
     OFF(shutdown_timeout), 1, 3600, "on SIGTERM, longest wait for in-flight requests"},
    {"log-level", "CELLGATE_LOG_LEVEL", "info", "LEVEL", CG_OPT_LEVEL, OFF(log_level), 0, 0,
     "debug, info, warn or error"},
    {"kubeconfig", "CELLGATE_KUBECONFIG", "", "FILE", CG_OPT_STR, OFF(kubeconfig), 0, 0,
     "kubeconfig for the pod watch and drain requests; empty: in-cluster credentials when "
     "KUBERNETES_SERVICE_HOST is set, else standalone (no cluster: cell counts come from "
     "this process's own placements)"},
    {"kube-insecure", "CELLGATE_KUBE_INSECURE", "false", NULL, CG_OPT_BOOL, OFF(kube_insecure), 0,
     0,
     "accept a kubeconfig with insecure-skip-tls-verify (refused otherwise: the pod watch "
     "would trust any server)"},
    {"trusted-users", "CELLGATE_TRUSTED_USERS",
     "system:serviceaccount:cellgate-system:cellgate-controller,"
     "system:serviceaccount:cellgate-system:cellgate-webhook",
     "USERS", CG_OPT_STR, OFF(trusted_users), 0, 0,
     "comma-separated users that are cellgate's own components: they alone may write "
     "cellgate.io/drained, draining, drain-requested and the cell label on pods"},
};

static const struct cg_options table = {opts, sizeof(opts) / sizeof(opts[0])};

/* A port number 1..65535. */
static bool parse_port(const char *s, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || errno != 0 || *end != '\0' || v < 1 || v > 65535)
        return false;
    *out = v;
    return true;
}

void cg_server_config_init(struct cg_server_config *c)
{
    memset(c, 0, sizeof(*c));
    cg_options_init(&table, c);
}

void cg_server_config_dispose(struct cg_server_config *c)
{
    cg_options_dispose(&table, c);
}

enum cg_status cg_server_config_parse(struct cg_server_config *c, int argc, char *const *argv,
                                      char *const *envp, struct cg_err *err)
{
    enum cg_status st = cg_options_parse(&table, c, &c->help, argc, argv, envp, err);
    if (st != CG_OK || c->help)
        return st;
    struct sockaddr_storage ss;
    socklen_t len;
    st = cg_server_addr_parse(c->listen, &ss, &len, err);
    if (st == CG_OK && strcmp(c->metrics_listen, "off") != 0)
        st = cg_server_addr_parse(c->metrics_listen, &ss, &len, err);
    return st;
}

enum cg_status cg_server_config_usage(const char *prog, struct cg_buf *out)
{
    enum cg_status st = cg_buf_appendf(
        out,
        "Usage: %s --cert FILE --key FILE --policies DIR [options]\n\n"
        "cellgate admission webhook: serves POST /mutate and /validate (AdmissionReview v1),\n"
        "GET /healthz and /readyz over TLS; /metrics, /healthz and /readyz over plain HTTP.\n"
        "SIGHUP re-reads certificates and policies; SIGTERM drains and exits.\n\n"
        "Options (each also read from the environment variable shown; flags win):\n",
        prog);
    if (st == CG_OK)
        st = cg_options_usage(&table, out);
    if (st == CG_OK)
        st = cg_buf_append_str(out, "  --version                  the version and git revision\n");
    return st;
}

enum cg_status cg_server_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len,
                                    struct cg_err *err)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL)
        return cg_err_set(err, CG_EINVAL, "address '%s': want host:port", s);
    size_t hn = (size_t)(colon - s);
    const char *h = s;
    if (hn >= 2 && s[0] == '[' && s[hn - 1] == ']') {
        h = s + 1;
        hn -= 2;
    }
    if (hn >= sizeof(host))
        return cg_err_set(err, CG_EINVAL, "address '%s': host too long", s);
    memcpy(host, h, hn);
    host[hn] = '\0';
    long port = 0;
    if (!parse_port(colon + 1, &port))
        return cg_err_set(err, CG_EINVAL, "address '%s': bad port", s);

    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (hn == 0 || strcmp(host, "0.0.0.0") == 0) {
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (strcmp(host, "localhost") == 0) {
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
        return CG_OK;
    } else {
        return cg_err_set(err, CG_EINVAL, "address '%s': host must be a numeric IP or localhost",
                          s);
    }
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof(*v4);
    return CG_OK;
}
