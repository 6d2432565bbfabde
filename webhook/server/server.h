/* The admission server: TLS listeners with one h2o event loop per worker thread, the
 * admission and probe routes, the plain-HTTP metrics listener, certificate and policy
 * reloads, and a bounded graceful stop. This directory is the only code that sees h2o.
 *
 * Life cycle (from main): create -> start -> poll (every ~2 s, and with force on SIGHUP)
 * -> stop (SIGTERM) -> destroy. Signals are main's business: block SIGTERM/SIGINT/SIGHUP
 * before start so the worker threads inherit the mask, and ignore SIGPIPE. */
#ifndef CG_SERVER_SERVER_H
#define CG_SERVER_SERVER_H

#include <stdbool.h>

#include "base/status.h"
#include "server/config.h"

struct cg_server;

/* Loads the certificate pair (an error if it does not load: no TLS, no server), tries the
 * policies (a failure leaves the server running but not ready: /readyz says why and the
 * review routes answer 503 until a load succeeds), and binds the listeners. cfg must
 * outlive the server. */
enum cg_status cg_server_create(const struct cg_server_config *cfg, struct cg_server **out,
                                struct cg_err *err);
/* Starts the worker threads and the metrics thread. */
enum cg_status cg_server_start(struct cg_server *s, struct cg_err *err);
/* Re-reads certificates and policies if their files changed, or unconditionally when force
 * (SIGHUP). Called from one thread only. */
void cg_server_poll(struct cg_server *s, bool force);
/* Graceful stop: stop accepting, let requests in progress finish, close idle keep-alive
 * connections at once, wait at most cfg->shutdown_timeout seconds, join the threads. */
void cg_server_stop(struct cg_server *s);
/* Stops if still running and frees everything; NULL ok. */
void cg_server_destroy(struct cg_server *s);

#endif
