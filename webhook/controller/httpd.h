/* The controller's plain-HTTP endpoints: GET /healthz, /readyz and /metrics, served by
 * libmicrohttpd on its own thread (the controller links no h2o: it answers a probe every few
 * seconds and a scrape every few more, which a small embedded server does well).
 *
 * The answers come from callbacks that append the body; they run on the server's thread and
 * must be safe against the controller's other threads. */
#ifndef CG_CONTROLLER_HTTPD_H
#define CG_CONTROLLER_HTTPD_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/status.h"

struct cg_httpd_handlers {
    /* /readyz: append a few lines saying why; return whether ready (200) or not (503). */
    bool (*ready)(void *ud, struct cg_buf *out);
    /* /metrics: append the Prometheus text exposition. */
    void (*metrics)(void *ud, struct cg_buf *out);
    void *ud;
};

struct cg_httpd;

/* Listens on addr ("host:port"; a port 0 picks a free one, see cg_httpd_port). */
enum cg_status cg_httpd_start(const char *addr, const struct cg_httpd_handlers *h,
                              struct cg_httpd **out, struct cg_err *err);
int cg_httpd_port(const struct cg_httpd *d);
/* Stops and frees; NULL ok. */
void cg_httpd_stop(struct cg_httpd *d);

#endif
