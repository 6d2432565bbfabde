/* cellgate-controller: parses the configuration, owns the signals, and drives the controller's
 * life cycle (webhook/controller/controller.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "controller/checks.h"
#include "controller/controller.h"
#include "controller/driver.h"
#include "controller/relmetrics.h"

extern char **environ;

/* How often the policy files are checked for changes. */
#define POLL_SECONDS 2

/* A check result arrived: reconcile its Deployment again. The controller is set before any
 * check can run (checks are asked for by reconciles). */
static void on_check_result(void *ud, struct cg_str ns, struct cg_str name)
{
    struct cg_controller **ctrl = ud;
    if (*ctrl != NULL)
        cg_controller_enqueue(*ctrl, ns, name);
}

int main(int argc, char **argv)
{
    int rc = 1;
    struct cg_controller_config cfg;
    struct cg_controller *ctrl = NULL;
    struct cg_checks *checks = NULL;
    struct cg_relmetrics *metrics = NULL;
    struct cg_driver *driver = NULL;
    struct cg_err err;
    cg_err_clear(&err);

    signal(SIGPIPE, SIG_IGN);
    cg_mem_install_jansson();
    cg_controller_config_init(&cfg);
    if (cg_controller_config_parse(&cfg, argc, argv, environ, &err) != CG_OK) {
        fprintf(stderr, "cellgate-controller: %s\n", err.msg);
        rc = 2;
        goto out;
    }
    if (cfg.help) {
        struct cg_buf b;
        cg_buf_init(&b, 0);
        cg_controller_config_usage("cellgate-controller", &b);
        fwrite(b.data, 1, b.len, stdout);
        cg_buf_dispose(&b);
        rc = 0;
        goto out;
    }
    cg_log_setup((enum cg_log_level)cfg.log_level, 2);

    /* Signals are taken synchronously here; the threads inherit the blocked mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct cg_checks_config cc = {.prometheus_url = cfg.prometheus_url,
                                  .timeout_ms = cfg.check_timeout_seconds * 1000,
                                  .on_result = on_check_result,
                                  .ud = &ctrl};
    checks = cg_checks_create(&cc);
    metrics = cg_relmetrics_create();
    struct cg_driver_config dc = {.checks = checks, .metrics = metrics};
    driver = cg_driver_create(&dc);
    struct cg_controller_driver hooks = {cg_driver_reconcile, cg_driver_metrics, driver};
    if (cg_controller_create(&cfg, &hooks, &ctrl, &err) != CG_OK ||
        cg_controller_start(ctrl, &err) != CG_OK) {
        cg_log(CG_LOG_ERROR, "cannot start", "error", err.msg, NULL);
        goto out;
    }
    for (;;) {
        struct timespec wait = {POLL_SECONDS, 0};
        int sig = sigtimedwait(&sigs, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP) {
            cg_log(CG_LOG_INFO, "SIGHUP: reloading policies", NULL);
            cg_controller_poll(ctrl, true);
        } else if (sig < 0 && errno == EAGAIN) {
            cg_controller_poll(ctrl, false);
        }
    }
    cg_controller_stop(ctrl);
    cg_log(CG_LOG_INFO, "stopped", NULL);
    rc = 0;
out:
    /* The worker (which uses the driver, which uses the runner) stops first, then the runner
     * (whose callback uses the controller), then the rest. */
    cg_controller_stop(ctrl);
    cg_checks_destroy(checks);
    cg_controller_destroy(ctrl);
    cg_driver_destroy(driver);
    cg_relmetrics_destroy(metrics);
    cg_controller_config_dispose(&cfg);
    return rc;
}
