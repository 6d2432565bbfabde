#include "server/route.h"

#include <string.h>
#include <strings.h>

enum cg_route cg_route_match(const char *path, size_t n)
{
    static const struct {
        const char *path;
        enum cg_route route;
    } routes[] = {{"/mutate", CG_ROUTE_MUTATE},
                  {"/validate", CG_ROUTE_VALIDATE},
                  {"/healthz", CG_ROUTE_HEALTHZ},
                  {"/readyz", CG_ROUTE_READYZ},
                  {"/metrics", CG_ROUTE_METRICS}};
    const char *q = memchr(path, '?', n);
    if (q != NULL)
        n = (size_t)(q - path);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strlen(routes[i].path) == n && memcmp(routes[i].path, path, n) == 0)
            return routes[i].route;
    return CG_ROUTE_NONE;
}

bool cg_route_is_json(const char *value, size_t n)
{
    static const char want[] = "application/json";
    const size_t wn = sizeof(want) - 1;
    while (n > 0 && (*value == ' ' || *value == '\t'))
        value++, n--;
    if (n < wn || strncasecmp(value, want, wn) != 0)
        return false;
    value += wn;
    n -= wn;
    while (n > 0 && (*value == ' ' || *value == '\t'))
        value++, n--;
    return n == 0 || *value == ';';
}
