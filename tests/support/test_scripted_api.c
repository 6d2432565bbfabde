/* The scripted API server (see test_scripted_api.h). */
#include "test_scripted_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_support.h"

/* One request: its head (read byte by byte, so nothing of the next one is consumed) and its
 * body (Content-Length). method holds 16 bytes, target 600. */
static bool read_request(SSL *ssl, struct cg_test_seen *s, char *method, char *target)
{
    char head[8192];
    size_t len = 0;
    while (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0) {
        if (len + 1 >= sizeof(head) || SSL_read(ssl, head + len, 1) != 1)
            return false;
        len++;
    }
    head[len] = '\0';
    if (sscanf(head, "%15s %599s", method, target) != 2)
        return false;
    snprintf(s->line, sizeof(s->line), "%s %s", method, target);
    size_t body_len = 0;
    s->impersonate[0] = '\0';
    for (char *h = strstr(head, "\r\n"); h != NULL; h = strstr(h + 2, "\r\n")) {
        if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
            body_len = strtoul(h + 17, NULL, 10);
        if (strncasecmp(h + 2, "Impersonate-", 12) == 0) {
            size_t l = strlen(s->impersonate);
            snprintf(s->impersonate + l, sizeof(s->impersonate) - l, "%.*s;",
                     (int)strcspn(h + 2, "\r"), h + 2);
        }
    }
    if (body_len >= sizeof(s->body))
        return false;
    for (size_t got = 0; got < body_len;) {
        int r = SSL_read(ssl, s->body + got, (int)(body_len - got));
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    s->body[body_len] = '\0';
    return true;
}

static void respond(SSL *ssl, int code, const char *body)
{
    char head[256];
    int n =
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                 code, strlen(body));
    SSL_write(ssl, head, n);
    if (*body)
        SSL_write(ssl, body, (int)strlen(body));
}

static void *serve(void *arg)
{
    struct cg_test_api *f = arg;
    for (;;) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            return NULL; /* closed: the test is over */
        SSL *ssl = SSL_new(f->ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1) {
            char method[16], target[600];
            struct cg_test_seen s;
            while (read_request(ssl, &s, method, target)) {
                const struct cg_test_exchange *x = f->next < f->n ? &f->script[f->next] : NULL;
                if (f->next < CG_TEST_API_MAX_EXCHANGES)
                    f->seen[f->next] = s;
                f->next++;
                if (x == NULL || strcmp(x->method, method) != 0 ||
                    strncmp(x->target, target, strlen(x->target)) != 0) {
                    if (!f->mismatch[0])
                        snprintf(f->mismatch, sizeof(f->mismatch), "unexpected %s %s", method,
                                 target);
                    respond(ssl, 500, "{}");
                    continue;
                }
                respond(ssl, x->code, x->body);
            }
        }
        SSL_free(ssl);
        close(fd);
    }
}

void cg_test_api_start(struct cg_test_api *f, const char *dir, char *kubeconfig, size_t cap)
{
    char path[600];
    memset(f, 0, sizeof(*f));
    f->ctx = SSL_CTX_new(TLS_server_method());
    snprintf(path, sizeof(path), "%s/tls.crt", dir);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(f->ctx, path), 1);
    snprintf(path, sizeof(path), "%s/tls.key", dir);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(f->ctx, path, SSL_FILETYPE_PEM), 1);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(f->lfd, (struct sockaddr *)&a, &len);
    f->port = ntohs(a.sin_port);
    assert_int_equal(listen(f->lfd, 8), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n"
             "    server: https://127.0.0.1:%d\n    certificate-authority: %s/ca.crt\n"
             "users:\n- name: u\n  user: {token: t}\n"
             "contexts:\n- name: c\n  context: {cluster: fake, user: u}\n"
             "current-context: c\n",
             f->port, dir);
    snprintf(kubeconfig, cap, "%s/kubeconfig", dir);
    cg_test_write_file(kubeconfig, yaml);
}

void cg_test_api_script(struct cg_test_api *f, const struct cg_test_exchange *script, size_t n)
{
    f->script = script;
    f->n = n;
    f->next = 0;
    f->mismatch[0] = '\0';
}

void cg_test_api_stop(struct cg_test_api *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    close(f->lfd);
    pthread_join(f->thread, NULL);
    SSL_CTX_free(f->ctx);
}
