/* cellgate-webhook's configuration: one table (config.c) names every option with its
 * command-line flag, environment variable, default and help, and drives parsing, the
 * environment fallback and --help alike. Pure: no sockets, no global state. */
#ifndef CG_SERVER_CONFIG_H
#define CG_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/status.h"

struct cg_server_config {
    char *listen;         /* TLS address, host:port */
    char *cert;           /* PEM chain */
    char *key;            /* PEM key */
    char *policies;       /* policy directory */
    char *metrics_listen; /* plain HTTP address, or "off" */
    long threads;         /* 0: one per core the process may run on */
    bool http2;
    long max_body;        /* bytes */
    long max_connections; /* whole process */
    long idle_timeout;    /* seconds */
    long read_timeout;    /* seconds */
    long shutdown_timeout;
    int log_level;       /* enum cg_log_level */
    char *kubeconfig;    /* "" : in-cluster credentials if there, else standalone */
    bool kube_insecure;  /* accept insecure-skip-tls-verify in the kubeconfig */
    char *trusted_users; /* comma-separated */
    bool help;           /* --help was given: print usage, nothing else was validated */
};

/* Fills c with the defaults (strings owned by c). */
void cg_server_config_init(struct cg_server_config *c);
/* Frees what c owns; c may be reused after cg_server_config_init. */
void cg_server_config_dispose(struct cg_server_config *c);

/* Applies the environment (envp: NULL-terminated "NAME=value" strings, may be NULL), then
 * argv[1..argc) (flags win over the environment), then checks that the required options are
 * set and every value is in range. Flags take "--name value" or "--name=value"; booleans
 * take no value on the command line and 1/0/true/false/yes/no in the environment. On
 * --help, sets c->help and returns CG_OK without checking. Errors name the flag or the
 * variable at fault. */
enum cg_status cg_server_config_parse(struct cg_server_config *c, int argc, char *const *argv,
                                      char *const *envp, struct cg_err *err);

/* Appends the --help text (every option, its variable and default) to out. */
enum cg_status cg_server_config_usage(const char *prog, struct cg_buf *out);

/* Parses "host:port", "[v6]:port" or ":port" (all interfaces) with a numeric host or
 * "localhost" into *ss / *len. */
enum cg_status cg_server_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len,
                                    struct cg_err *err);

#endif
