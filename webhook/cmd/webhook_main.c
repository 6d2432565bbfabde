/* cellgate-webhook: parses the configuration, owns the signals, and drives the server's
 * life cycle (webhook/server/server.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "server/config.h"
#include "server/server.h"

extern char **environ;

#if defined(__SANITIZE_ADDRESS__)
#define CG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CG_ASAN 1
#endif
#endif
#ifdef CG_ASAN
/* Sanitizer builds only: h2o 2.2 keeps per-thread free lists (h2o_mem_alloc_recycle) and a
 * per-context queue that it never releases when a thread ends. Only allocations made inside
 * those two h2o functions are exempt; leaks of our own memory are still reported. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:h2o_mem_alloc_recycle\nleak:h2o_multithread_create_queue\n";
}
#endif

/* How often certificate and policy files are checked for changes. */
#define POLL_SECONDS 2

#ifndef CG_VERSION
#define CG_VERSION "0.0.0"
#endif
#ifndef CG_GIT_REVISION
#define CG_GIT_REVISION "unknown"
#endif

/* A certificate or key that is not there at start is said to be missing, with what to do. */
static bool files_present(const struct cg_server_config *cfg)
{
    const char *const files[][2] = {{"certificate", cfg->cert}, {"key", cfg->key}};
    bool ok = true;
    for (size_t i = 0; i < 2; i++) {
        if (files[i][1] == NULL || access(files[i][1], F_OK) == 0)
            continue;
        char what[128];
        snprintf(what, sizeof(what), "the %s file is missing", files[i][0]);
        cg_log(CG_LOG_ERROR, "cannot start", "error", what, "file", files[i][1], "hint",
               "make a development pair with certs/gen-dev-certs, or mount the Secret "
               "cert-manager writes (certs/README.md)",
               NULL);
        ok = false;
    }
    return ok;
}

int main(int argc, char **argv)
{
    int rc = 1;
    struct cg_server_config cfg;
    struct cg_server *server = NULL;
    struct cg_err err;
    cg_err_clear(&err);

    /* A peer that hangs up must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    cg_mem_install_jansson();
    cg_server_config_init(&cfg);

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("cellgate-webhook %s (git %s)\n", CG_VERSION, CG_GIT_REVISION);
            rc = 0;
            goto out;
        }
    }

    if (cg_server_config_parse(&cfg, argc, argv, environ, &err) != CG_OK) {
        fprintf(stderr, "cellgate-webhook: %s\n", err.msg);
        rc = 2;
        goto out;
    }
    if (cfg.help) {
        struct cg_buf b;
        cg_buf_init(&b, 0);
        cg_server_config_usage("cellgate-webhook", &b);
        fwrite(b.data, 1, b.len, stdout);
        cg_buf_dispose(&b);
        rc = 0;
        goto out;
    }
    cg_log_setup((enum cg_log_level)cfg.log_level, 2);

    /* Each connection is a descriptor: allow as many as the hard limit does. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    /* Signals are taken synchronously here; worker threads inherit the blocked mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    if (!files_present(&cfg))
        goto out;
    if (cg_server_create(&cfg, &server, &err) != CG_OK) {
        cg_log(CG_LOG_ERROR, "cannot start", "error", err.msg, NULL);
        goto out;
    }
    if (cg_server_start(server, &err) != CG_OK) {
        cg_log(CG_LOG_ERROR, "cannot start", "error", err.msg, NULL);
        goto out;
    }
    for (;;) {
        struct timespec wait = {POLL_SECONDS, 0};
        int sig = sigtimedwait(&sigs, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP) {
            cg_log(CG_LOG_INFO, "SIGHUP: reloading certificates and policies", NULL);
            cg_server_poll(server, true);
        } else if (sig < 0 && errno == EAGAIN) {
            cg_server_poll(server, false);
        }
    }
    cg_server_stop(server);
    cg_log(CG_LOG_INFO, "stopped", NULL);
    rc = 0;
out:
    cg_server_destroy(server);
    cg_server_config_dispose(&cfg);
    return rc;
}
