#include "server/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/mem.h"

enum opt_type { OPT_STR, OPT_LONG, OPT_BYTES, OPT_BOOL, OPT_LEVEL };

struct opt {
    const char *name; /* flag without the leading "--" */
    const char *env;
    const char *defval; /* NULL: required (strings) */
    const char *metavar;
    enum opt_type type;
    size_t offset;
    long min, max; /* numbers */
    const char *help;
};

#define OFF(field) offsetof(struct cg_server_config, field)

static const struct opt opts[] = {
    {"listen", "CELLGATE_LISTEN", "127.0.0.1:8443", "ADDR", OPT_STR, OFF(listen), 0, 0,
     "TLS address for the admission routes (host:port, [v6]:port, :port for all)"},
    {"cert", "CELLGATE_CERT", NULL, "FILE", OPT_STR, OFF(cert), 0, 0,
     "certificate chain (PEM), re-read when it changes"},
    {"key", "CELLGATE_KEY", NULL, "FILE", OPT_STR, OFF(key), 0, 0,
     "private key (PEM) of the certificate"},
    {"policies", "CELLGATE_POLICIES", NULL, "DIR", OPT_STR, OFF(policies), 0, 0,
     "policy directory (*.yaml, recursive), re-read when it changes"},
    {"metrics-listen", "CELLGATE_METRICS_LISTEN", "127.0.0.1:9090", "ADDR", OPT_STR,
     OFF(metrics_listen), 0, 0, "plain HTTP address for /metrics, /healthz, /readyz; off: none"},
    {"threads", "CELLGATE_THREADS", "0", "N", OPT_LONG, OFF(threads), 0, 256,
     "event-loop threads; 0: one per CPU the process may run on"},
    {"http2", "CELLGATE_HTTP2", "false", NULL, OPT_BOOL, OFF(http2), 0, 0,
     "offer HTTP/2 through ALPN (off: HTTP/1.1 only)"},
    {"max-body", "CELLGATE_MAX_BODY", "3Mi", "BYTES", OPT_BYTES, OFF(max_body), 1024, 1L << 30,
     "request body cap (suffixes K, M, Ki, Mi); larger bodies get 413"},
    {"max-connections", "CELLGATE_MAX_CONNECTIONS", "4096", "N", OPT_LONG, OFF(max_connections), 1,
     1000000, "concurrent TLS connections; more wait in the listen backlog"},
    {"idle-timeout", "CELLGATE_IDLE_TIMEOUT", "120", "SECONDS", OPT_LONG, OFF(idle_timeout), 1,
     86400, "keep-alive idle time before a connection is closed (above the apiserver's 90 s)"},
    {"read-timeout", "CELLGATE_READ_TIMEOUT", "5", "SECONDS", OPT_LONG, OFF(read_timeout), 1, 3600,
     "time to receive a request once its first bytes arrived"},
    {"shutdown-timeout", "CELLGATE_SHUTDOWN_TIMEOUT", "10", "SECONDS", OPT_LONG,
     OFF(shutdown_timeout), 1, 3600, "on SIGTERM, longest wait for in-flight requests"},
    {"log-level", "CELLGATE_LOG_LEVEL", "info", "LEVEL", OPT_LEVEL, OFF(log_level), 0, 0,
     "debug, info, warn or error"},
    {"kubeconfig", "CELLGATE_KUBECONFIG", "", "FILE", OPT_STR, OFF(kubeconfig), 0, 0,
     "kubeconfig for the pod watch and drain requests; empty: in-cluster credentials when "
     "KUBERNETES_SERVICE_HOST is set, else standalone (no cluster: cell counts come from "
     "this process's own placements)"},
    {"trusted-users", "CELLGATE_TRUSTED_USERS",
     "system:serviceaccount:cellgate-system:cellgate-controller,"
     "system:serviceaccount:cellgate-system:cellgate-webhook",
     "USERS", OPT_STR, OFF(trusted_users), 0, 0,
     "comma-separated users that are cellgate's own components: they alone may write "
     "cellgate.io/drained, draining, drain-requested and the cell label on pods"},
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static enum cg_status parse_long(const char *s, long *out)
{
    if (*s == '\0')
        return CG_EINVAL;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return CG_EINVAL;
    *out = v;
    return CG_OK;
}

static enum cg_status parse_bytes(const char *s, long *out)
{
    if (*s < '0' || *s > '9')
        return CG_EINVAL;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return CG_EINVAL;
    static const struct {
        const char *suffix;
        unsigned long long mult;
    } suffixes[] = {{"", 1},         {"K", 1000},     {"M", 1000000},    {"G", 1000000000},
                    {"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1ULL << 30}};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (strcmp(end, suffixes[i].suffix) == 0) {
            if (v > (unsigned long long)LONG_MAX / suffixes[i].mult)
                return CG_EINVAL;
            *out = (long)(v * suffixes[i].mult);
            return CG_OK;
        }
    }
    return CG_EINVAL;
}

static enum cg_status parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off", ""};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, CG_OK;
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, CG_OK;
    return CG_EINVAL;
}

/* Stores value into the field of o; `source` names the flag or variable for errors. */
static enum cg_status set_value(struct cg_server_config *c, const struct opt *o, const char *value,
                                const char *source, struct cg_err *err)
{
    char *field = (char *)c + o->offset;
    long n = 0;
    switch (o->type) {
    case OPT_STR: {
        char **p = (char **)(void *)field;
        bool optional = o->defval != NULL && o->defval[0] == '\0'; /* "" means unset */
        if (*value == '\0' && !optional)
            return cg_err_set(err, CG_EINVAL, "%s: empty value", source);
        free(*p);
        *p = cg_xstrdup(value);
        return CG_OK;
    }
    case OPT_BOOL:
        if (parse_bool(value, (bool *)(void *)field) != CG_OK)
            return cg_err_set(err, CG_EINVAL, "%s: '%s' is not a boolean (true/false)", source,
                              value);
        return CG_OK;
    case OPT_LEVEL: {
        int lv = cg_log_level_parse(value);
        if (lv < 0)
            return cg_err_set(err, CG_EINVAL, "%s: '%s' is not debug, info, warn or error", source,
                              value);
        *(int *)(void *)field = lv;
        return CG_OK;
    }
    case OPT_LONG:
    case OPT_BYTES:
        if ((o->type == OPT_LONG ? parse_long(value, &n) : parse_bytes(value, &n)) != CG_OK)
            return cg_err_set(err, CG_EINVAL, "%s: '%s' is not a %s", source, value,
                              o->type == OPT_LONG ? "number" : "byte count");
        if (n < o->min || n > o->max)
            return cg_err_set(err, CG_EINVAL, "%s: %ld is out of range [%ld, %ld]", source, n,
                              o->min, o->max);
        *(long *)(void *)field = n;
        return CG_OK;
    }
    return cg_err_set(err, CG_EINTERNAL, "%s: unknown option type", source);
}

void cg_server_config_init(struct cg_server_config *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < N_OPTS; i++) {
        if (opts[i].defval == NULL)
            continue;
        enum cg_status st = set_value(c, &opts[i], opts[i].defval, opts[i].name, NULL);
        assert(st == CG_OK); /* the table's defaults are valid */
        (void)st;
    }
}

void cg_server_config_dispose(struct cg_server_config *c)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        if (opts[i].type == OPT_STR) {
            char **p = (char **)(void *)((char *)c + opts[i].offset);
            free(*p);
            *p = NULL;
        }
    }
}

static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp != NULL && *envp != NULL; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

static const struct opt *find_opt(const char *name, size_t n)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(opts[i].name) == n && memcmp(opts[i].name, name, n) == 0)
            return &opts[i];
    return NULL;
}

enum cg_status cg_server_config_parse(struct cg_server_config *c, int argc, char *const *argv,
                                      char *const *envp, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    char source[128];

    for (size_t i = 0; i < N_OPTS; i++) {
        const char *v = env_get(envp, opts[i].env);
        if (v == NULL)
            continue;
        st = set_value(c, &opts[i], v, opts[i].env, err);
        if (st != CG_OK)
            goto out;
    }

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            c->help = true;
            st = CG_OK;
            goto out;
        }
        if (strncmp(arg, "--", 2) != 0) {
            st = cg_err_set(err, CG_EINVAL, "unexpected argument '%s' (see --help)", arg);
            goto out;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = find_opt(name, n);
        if (o == NULL) {
            st = cg_err_set(err, CG_EINVAL, "unknown option '--%.*s' (see --help)", (int)n, name);
            goto out;
        }
        snprintf(source, sizeof(source), "--%s", o->name);
        const char *value = NULL;
        if (o->type == OPT_BOOL) {
            value = eq ? eq + 1 : "true";
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            st = cg_err_set(err, CG_EINVAL, "%s needs a value", source);
            goto out;
        }
        st = set_value(c, o, value, source, err);
        if (st != CG_OK)
            goto out;
    }

    for (size_t i = 0; i < N_OPTS; i++) {
        if (opts[i].type != OPT_STR)
            continue;
        char **p = (char **)(void *)((char *)c + opts[i].offset);
        if (*p == NULL) {
            st = cg_err_set(err, CG_EINVAL, "--%s (or %s) is required", opts[i].name, opts[i].env);
            goto out;
        }
    }
    struct sockaddr_storage ss;
    socklen_t len;
    st = cg_server_addr_parse(c->listen, &ss, &len, err);
    if (st != CG_OK)
        goto out;
    if (strcmp(c->metrics_listen, "off") != 0) {
        st = cg_server_addr_parse(c->metrics_listen, &ss, &len, err);
        if (st != CG_OK)
            goto out;
    }
out:
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
    for (size_t i = 0; st == CG_OK && i < N_OPTS; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        st = cg_buf_appendf(out, "  %-26s %s\n  %-26s env %s, default: %s\n", flag, opts[i].help,
                            "", opts[i].env, opts[i].defval ? opts[i].defval : "(required)");
    }
    if (st == CG_OK)
        st = cg_buf_append_str(out, "  --help                     this text\n");
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
    if (parse_long(colon + 1, &port) != CG_OK || port < 1 || port > 65535)
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
