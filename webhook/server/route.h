/* Pure request classification for the server's routes, kept apart from h2o so it can be
 * tested without sockets. */
#ifndef CG_SERVER_ROUTE_H
#define CG_SERVER_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

enum cg_route {
    CG_ROUTE_NONE,
    CG_ROUTE_MUTATE,
    CG_ROUTE_VALIDATE,
    CG_ROUTE_HEALTHZ,
    CG_ROUTE_READYZ,
    CG_ROUTE_METRICS,
};

/* The route of a request path; a query string ("?timeout=5s") is ignored. */
enum cg_route cg_route_match(const char *path, size_t n);
/* Is a Content-Type value application/json (any case, parameters such as charset allowed)? */
bool cg_route_is_json(const char *value, size_t n);

#endif
