#include "controller/httpd.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/mem.h"

#define BODY_MAX (4 * 1024 * 1024)

struct cg_httpd {
    struct MHD_Daemon *daemon;
    struct cg_httpd_handlers h;
    int port;
};

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *ctype,
                                 struct cg_buf *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        body->len, body->data ? body->data : (void *)"", MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct cg_httpd *d = cls;
    struct cg_buf b;
    cg_buf_init(&b, BODY_MAX);
    unsigned status = MHD_HTTP_OK;
    const char *ctype = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        cg_buf_append_str(&b, "method not allowed\n");
    } else if (strcmp(url, "/healthz") == 0) {
        cg_buf_append_str(&b, "ok\n");
    } else if (strcmp(url, "/readyz") == 0) {
        struct cg_buf detail;
        cg_buf_init(&detail, BODY_MAX);
        bool ready = d->h.ready == NULL || d->h.ready(d->h.ud, &detail);
        status = ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        cg_buf_append_str(&b, ready ? "ok\n" : "not ready\n");
        if (detail.len > 0)
            cg_buf_append(&b, detail.data, detail.len);
        cg_buf_dispose(&detail);
    } else if (strcmp(url, "/metrics") == 0) {
        ctype = "text/plain; version=0.0.4; charset=utf-8";
        if (d->h.metrics != NULL)
            d->h.metrics(d->h.ud, &b);
    } else {
        status = MHD_HTTP_NOT_FOUND;
        cg_buf_append_str(&b, "not found\n");
    }
    enum MHD_Result ret = send_text(conn, status, ctype, &b);
    cg_buf_dispose(&b);
    return ret;
}

enum cg_status cg_httpd_start(const char *addr, const struct cg_httpd_handlers *h,
                              struct cg_httpd **out, struct cg_err *err)
{
    *out = NULL;
    const char *colon = strrchr(addr, ':');
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char host[64];
    size_t hn = colon ? (size_t)(colon - addr) : 0;
    if (colon == NULL || hn >= sizeof(host))
        return cg_err_set(err, CG_EINVAL, "metrics address '%s': want host:port", addr);
    memcpy(host, addr, hn);
    host[hn] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return cg_err_set(err, CG_EINVAL, "metrics address '%s': bad port", addr);
    if (hn == 0 || strcmp(host, "0.0.0.0") == 0)
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return cg_err_set(err, CG_EINVAL, "metrics address '%s': want an IPv4 host", addr);
    sa.sin_port = htons((uint16_t)port);

    struct cg_httpd *d = cg_xcalloc(1, sizeof(*d));
    d->h = *h;
    d->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                         on_request, d, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (d->daemon == NULL) {
        free(d);
        return cg_err_set(err, CG_EIO, "metrics address %s: cannot listen (in use?)", addr);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->daemon, MHD_DAEMON_INFO_BIND_PORT);
    d->port = info ? info->port : (int)port;
    *out = d;
    return CG_OK;
}

int cg_httpd_port(const struct cg_httpd *d)
{
    return d->port;
}

void cg_httpd_stop(struct cg_httpd *d)
{
    if (d == NULL)
        return;
    MHD_stop_daemon(d->daemon);
    free(d);
}
