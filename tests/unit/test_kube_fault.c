/* The client and the informer against a FAULT SERVER: real HTTP/1.1 over TLS on 127.0.0.1
 * (OpenSSL, a thread per connection, an ephemeral port, certificates from
 * certs/gen-dev-certs), serving a small collection of pods with a real event log, and, on
 * demand, what a healthy cluster never does when you want it to: a watch cut inside an event,
 * 410 Gone (HTTP and as an ERROR event after compaction), 500s, slow answers, bad JSON, wrong
 * types, an event over the cap, an expired token. After every fault the informer's consumer
 * (a map here) must end equal to the server's state.
 *
 * Server threads never call cmocka (its asserts longjmp): they abort() on their own bugs. */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "kube/kube.h"
#include "kube/podcache.h"
#include "test_support.h"

#define COLLECTION "/api/v1/namespaces/t/pods"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        abort();
    return p;
}

/* ------------------------------------------------------------------ the fault server */

enum fault {
    F_NONE,
    /* on the next LIST request */
    F_LIST_500,
    F_LIST_SLOW,        /* answers after 1.5 s: over the client's 1 s timeout */
    F_LIST_BAD_JSON,    /* a page cut short */
    F_LIST_WRONG_TYPES, /* "items": {} */
    F_LIST_GONE_CONT,   /* 410 on the next request that carries a continue token */
    /* on the next WATCH request */
    F_WATCH_410_HTTP,
    F_WATCH_500_HTTP,
    F_WATCH_CUT,         /* the next event is cut in the middle, then the connection closes */
    F_WATCH_BAD_JSON,    /* a line that is not JSON */
    F_WATCH_WRONG_TYPES, /* {"type":5,...} */
    F_WATCH_HUGE,        /* an event over the client's max_event */
    F_WATCH_ERROR_500,   /* an ERROR event with code 500 */
    F_WATCH_GONE_EVENT,  /* an ERROR event with code 410, as after an etcd compaction */
};

static bool is_list_fault(enum fault f)
{
    return f >= F_LIST_500 && f <= F_LIST_GONE_CONT;
}

struct sobj {
    char name[64];
    char *json;
    size_t len;
};

struct sevent {
    uint64_t rv;
    const char *type;
    char *json;
    size_t len;
};

struct srv {
    SSL_CTX *ctx;
    int lfd, port;
    pthread_t accept_thread;
    atomic_bool stop;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct sobj *objs; /* sorted by name */
    size_t n, cap;
    struct sevent *log;
    size_t nlog, caplog;
    uint64_t rv, compacted;
    unsigned kick; /* ends every open watch cleanly when it changes */
    enum fault faults[64];
    size_t nfaults;
    char token[128]; /* "" : no check */
    int conns;       /* open connection threads */
    int fds[256];    /* their sockets, to shut them down at stop */
    /* counters */
    int lists, watches, n401, requests, accepted;
};

static void srv_add_fd(struct srv *s, int fd)
{
    for (int i = 0; i < 256; i++)
        if (s->fds[i] < 0) {
            s->fds[i] = fd;
            return;
        }
}

static void srv_del_fd(struct srv *s, int fd)
{
    for (int i = 0; i < 256; i++)
        if (s->fds[i] == fd)
            s->fds[i] = -1;
}

/* Takes the first queued fault that fits (LIST or WATCH), or F_NONE. */
static enum fault take_fault(struct srv *s, bool list, bool has_continue)
{
    for (size_t i = 0; i < s->nfaults; i++) {
        enum fault f = s->faults[i];
        if (is_list_fault(f) != list)
            continue;
        if (f == F_LIST_GONE_CONT && !has_continue)
            continue;
        memmove(&s->faults[i], &s->faults[i + 1], (s->nfaults - i - 1) * sizeof(s->faults[0]));
        s->nfaults--;
        return f;
    }
    return F_NONE;
}

static char *pod_json(const char *name, uint64_t rv, int v, size_t *len)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
                     "\"namespace\":\"t\",\"resourceVersion\":\"%llu\"},\"spec\":{\"v\":%d}}",
                     name, (unsigned long long)rv, v);
    *len = (size_t)n;
    char *p = xmalloc((size_t)n + 1);
    memcpy(p, buf, (size_t)n + 1);
    return p;
}

static void log_event(struct srv *s, const char *type, const char *json, size_t len)
{
    if (s->nlog == s->caplog) {
        s->caplog = s->caplog ? s->caplog * 2 : 64;
        s->log = realloc(s->log, s->caplog * sizeof(*s->log));
    }
    char *copy = xmalloc(len + 1);
    memcpy(copy, json, len + 1);
    s->log[s->nlog++] = (struct sevent){s->rv, type, copy, len};
}

static size_t find_pos(struct srv *s, const char *name, bool *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->objs[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Creates or updates pod name with spec.v = v: one ADDED or MODIFIED event. */
static void srv_put(struct srv *s, const char *name, int v)
{
    pthread_mutex_lock(&s->lock);
    bool found;
    size_t i = find_pos(s, name, &found);
    s->rv++;
    size_t len;
    char *json = pod_json(name, s->rv, v, &len);
    if (!found) {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 64;
            s->objs = realloc(s->objs, s->cap * sizeof(*s->objs));
        }
        memmove(&s->objs[i + 1], &s->objs[i], (s->n - i) * sizeof(*s->objs));
        s->n++;
        snprintf(s->objs[i].name, sizeof(s->objs[i].name), "%s", name);
    } else {
        free(s->objs[i].json);
    }
    s->objs[i].json = json;
    s->objs[i].len = len;
    log_event(s, found ? "MODIFIED" : "ADDED", json, len);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void srv_del(struct srv *s, const char *name)
{
    pthread_mutex_lock(&s->lock);
    bool found;
    size_t i = find_pos(s, name, &found);
    if (found) {
        s->rv++;
        size_t len;
        char *json = pod_json(name, s->rv, -1, &len);
        log_event(s, "DELETED", json, len);
        free(json);
        free(s->objs[i].json);
        memmove(&s->objs[i], &s->objs[i + 1], (s->n - i - 1) * sizeof(*s->objs));
        s->n--;
        pthread_cond_broadcast(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
}

static void srv_fault(struct srv *s, enum fault f)
{
    pthread_mutex_lock(&s->lock);
    s->faults[s->nfaults++] = f;
    pthread_mutex_unlock(&s->lock);
}

static size_t srv_faults_left(struct srv *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->nfaults;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Ends every open watch (as its timeout would). */
static void srv_kick(struct srv *s)
{
    pthread_mutex_lock(&s->lock);
    s->kick++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Forgets the event log: a watch from an older resourceVersion gets an ERROR 410. */
static void srv_compact(struct srv *s)
{
    pthread_mutex_lock(&s->lock);
    s->compacted = s->rv;
    pthread_mutex_unlock(&s->lock);
}

static void srv_token(struct srv *s, const char *token)
{
    pthread_mutex_lock(&s->lock);
    snprintf(s->token, sizeof(s->token), "%s", token);
    pthread_mutex_unlock(&s->lock);
}

/* ---- one connection ---- */

struct conn {
    struct srv *s;
    SSL *ssl;
    int fd;
    char buf[65536];
    size_t len;
};

struct req {
    char method[16];
    char path[1024];
    char query[4096];
    char auth[512];
    char ctype[128];
    char impersonate[512]; /* "user|group,group" from the Impersonate-* headers */
    char *body;
    size_t body_len;
};

static bool conn_write(struct conn *c, const void *p, size_t n)
{
    while (n > 0) {
        int w = SSL_write(c->ssl, p, n > (1u << 30) ? (1 << 30) : (int)n);
        if (w <= 0)
            return false;
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    return true;
}

static bool conn_fill(struct conn *c)
{
    if (c->len == sizeof(c->buf))
        return false;
    int r = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
    if (r <= 0)
        return false;
    c->len += (size_t)r;
    return true;
}

static void header_value(const char *head, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t m = (size_t)(e - v) < cap - 1 ? (size_t)(e - v) : cap - 1;
            memcpy(out, v, m);
            out[m] = '\0';
            return;
        }
    }
}

/* "user|g1,g2": Impersonate-User, then every Impersonate-Group in order. */
static void impersonation_of(const char *head, char *out, size_t cap)
{
    header_value(head, "Impersonate-User", out, cap);
    size_t len = strlen(out);
    bool first = true;
    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, "Impersonate-Group: ", 19) != 0)
            continue;
        const char *v = p + 21;
        int n =
            snprintf(out + len, cap - len, "%s%.*s", first ? "|" : ",", (int)strcspn(v, "\r"), v);
        if (n > 0 && (size_t)n < cap - len)
            len += (size_t)n;
        first = false;
    }
}

static bool read_req(struct conn *c, struct req *r)
{
    char *end = NULL;
    memset(r, 0, sizeof(*r));
    for (;;) {
        if (c->len > 0) {
            c->buf[c->len < sizeof(c->buf) ? c->len : sizeof(c->buf) - 1] = '\0';
            end = strstr(c->buf, "\r\n\r\n");
            if (end != NULL)
                break;
        }
        if (!conn_fill(c))
            return false;
    }
    size_t head_len = (size_t)(end - c->buf) + 4;
    char head[8192];
    if (head_len >= sizeof(head))
        return false;
    memcpy(head, c->buf, head_len);
    head[head_len] = '\0';
    char target[5120];
    if (sscanf(head, "%15s %5119s", r->method, target) != 2)
        return false;
    char *q = strchr(target, '?');
    if (q != NULL) {
        *q = '\0';
        snprintf(r->query, sizeof(r->query), "%s", q + 1);
    }
    snprintf(r->path, sizeof(r->path), "%s", target);
    header_value(head, "Authorization", r->auth, sizeof(r->auth));
    header_value(head, "Content-Type", r->ctype, sizeof(r->ctype));
    impersonation_of(head, r->impersonate, sizeof(r->impersonate));
    char cl[32];
    header_value(head, "Content-Length", cl, sizeof(cl));
    r->body_len = cl[0] ? (size_t)strtoul(cl, NULL, 10) : 0;
    memmove(c->buf, c->buf + head_len, c->len - head_len);
    c->len -= head_len;
    r->body = xmalloc(r->body_len + 1);
    while (c->len < r->body_len)
        if (!conn_fill(c))
            return false;
    memcpy(r->body, c->buf, r->body_len);
    r->body[r->body_len] = '\0';
    memmove(c->buf, c->buf + r->body_len, c->len - r->body_len);
    c->len -= r->body_len;
    return true;
}

static bool query_get(const char *query, const char *key, char *out, size_t cap)
{
    size_t n = strlen(key);
    for (const char *p = query; p && *p;) {
        if (strncmp(p, key, n) == 0 && p[n] == '=') {
            const char *v = p + n + 1;
            size_t m = strcspn(v, "&");
            if (m >= cap)
                m = cap - 1;
            memcpy(out, v, m);
            out[m] = '\0';
            return true;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    out[0] = '\0';
    return false;
}

static bool respond(struct conn *c, int code, const char *ctype, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", code,
                     ctype, len);
    return conn_write(c, head, (size_t)n) && conn_write(c, body, len);
}

static bool respond_status(struct conn *c, int code, const char *reason, const char *message)
{
    char body[512];
    int n = snprintf(body, sizeof(body),
                     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                     "\"Failure\",\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}",
                     message, reason, code);
    return respond(c, code, "application/json", body, (size_t)n);
}

static bool send_chunk(struct conn *c, const char *p, size_t n)
{
    char head[32];
    int h = snprintf(head, sizeof(head), "%zx\r\n", n);
    return conn_write(c, head, (size_t)h) && conn_write(c, p, n) && conn_write(c, "\r\n", 2);
}

static bool handle_list(struct conn *c, struct req *r)
{
    struct srv *s = c->s;
    char limit_s[32], cont[256];
    query_get(r->query, "limit", limit_s, sizeof(limit_s));
    bool has_cont = query_get(r->query, "continue", cont, sizeof(cont));
    size_t limit = limit_s[0] ? strtoul(limit_s, NULL, 10) : 0;
    pthread_mutex_lock(&s->lock);
    s->lists++;
    enum fault f = take_fault(s, true, has_cont);
    pthread_mutex_unlock(&s->lock);
    switch (f) {
    case F_LIST_500:
        return respond_status(c, 500, "InternalError", "etcd is having a bad day");
    case F_LIST_GONE_CONT:
        return respond_status(c, 410, "Expired", "the provided continue parameter is too old");
    case F_LIST_SLOW:
        sleep_ms(1500);
        break;
    case F_LIST_WRONG_TYPES:
        return respond(c, 200, "application/json",
                       "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"1\"},"
                       "\"items\":{}}",
                       61);
    default:
        break;
    }
    /* The page: items after the continue token's name (like etcd's key ranges, so deletes
     * between pages skip nothing), and the list's resourceVersion from the first page. */
    char cont_name[128] = "";
    unsigned long long list_rv = 0;
    if (has_cont && sscanf(cont, "%llu-%127s", &list_rv, cont_name) != 2)
        return respond_status(c, 400, "BadRequest", "bad continue");
    pthread_mutex_lock(&s->lock);
    if (!has_cont)
        list_rv = s->rv;
    bool found;
    size_t i = has_cont ? find_pos(s, cont_name, &found) : 0;
    if (has_cont && found)
        i++;
    size_t end = limit && i + limit < s->n ? i + limit : s->n;
    size_t total = 256;
    for (size_t k = i; k < end; k++)
        total += s->objs[k].len + 1;
    char *body = xmalloc(total);
    size_t n = (size_t)snprintf(body, total,
                                "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{"
                                "\"resourceVersion\":\"%llu\"",
                                list_rv);
    if (end < s->n)
        n += (size_t)snprintf(body + n, total - n, ",\"continue\":\"%llu-%s\"", list_rv,
                              s->objs[end - 1].name);
    n += (size_t)snprintf(body + n, total - n, "},\"items\":[");
    for (size_t k = i; k < end; k++) {
        if (k > i)
            body[n++] = ',';
        memcpy(body + n, s->objs[k].json, s->objs[k].len);
        n += s->objs[k].len;
    }
    body[n++] = ']';
    body[n++] = '}';
    pthread_mutex_unlock(&s->lock);
    if (f == F_LIST_BAD_JSON)
        n = n / 2;
    bool ok = respond(c, 200, "application/json", body, n);
    free(body);
    return ok;
}

/* Sends one event line (or a fault in its place). false: the connection is over. */
static bool send_event(struct conn *c, const char *type, const char *json, size_t len,
                       enum fault *f)
{
    size_t cap = len + 64;
    char *line = xmalloc(cap);
    int n = snprintf(line, cap, "{\"type\":\"%s\",\"object\":%.*s}\n", type, (int)len, json);
    bool ok;
    if (*f == F_WATCH_CUT) {
        /* Half an event, then the connection drops. */
        *f = F_NONE;
        ok = send_chunk(c, line, (size_t)n / 2);
        free(line);
        return false;
    }
    ok = send_chunk(c, line, (size_t)n);
    free(line);
    return ok;
}

static bool handle_watch(struct conn *c, struct req *r)
{
    struct srv *s = c->s;
    char rv_s[64], to_s[32];
    query_get(r->query, "resourceVersion", rv_s, sizeof(rv_s));
    query_get(r->query, "timeoutSeconds", to_s, sizeof(to_s));
    uint64_t rv = strtoull(rv_s, NULL, 10);
    int64_t deadline = now_ms() + (to_s[0] ? atol(to_s) : 300) * 1000;
    pthread_mutex_lock(&s->lock);
    s->watches++;
    enum fault f = take_fault(s, false, false);
    unsigned kick = s->kick;
    bool gone = rv < s->compacted;
    pthread_mutex_unlock(&s->lock);
    if (f == F_WATCH_410_HTTP)
        return respond_status(c, 410, "Expired", "too old resource version");
    if (f == F_WATCH_500_HTTP)
        return respond_status(c, 500, "InternalError", "watch cache not ready");
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n";
    if (!conn_write(c, head, strlen(head)))
        return false;
    if (gone || f == F_WATCH_GONE_EVENT) {
        char ev[512];
        int n = snprintf(ev, sizeof(ev),
                         "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
                         "\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old "
                         "resource version: %llu (%llu)\",\"reason\":\"Expired\",\"code\":410}}"
                         "\n",
                         (unsigned long long)rv, (unsigned long long)s->compacted);
        return send_chunk(c, ev, (size_t)n) && conn_write(c, "0\r\n\r\n", 5);
    }
    switch (f) {
    case F_WATCH_BAD_JSON:
        return send_chunk(c, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{nope}}}\n", 46) &&
               conn_write(c, "0\r\n\r\n", 5);
    case F_WATCH_WRONG_TYPES:
        return send_chunk(c, "{\"type\":5,\"object\":[]}\n", 23) && conn_write(c, "0\r\n\r\n", 5);
    case F_WATCH_ERROR_500: {
        const char *ev = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,"
                         "\"message\":\"etcd leader changed\"}}\n";
        return send_chunk(c, ev, strlen(ev)) && conn_write(c, "0\r\n\r\n", 5);
    }
    case F_WATCH_HUGE: {
        size_t big = 200 * 1024;
        char *ev = xmalloc(big + 64);
        int n = snprintf(ev, 64, "{\"type\":\"ADDED\",\"object\":{\"x\":\"");
        memset(ev + n, 'a', big);
        memcpy(ev + n + big, "\"}}\n", 4);
        /* In pieces, as a real stream would arrive. */
        bool ok = true;
        for (size_t off = 0; ok && off < (size_t)n + big + 4; off += 16384) {
            size_t k = (size_t)n + big + 4 - off < 16384 ? (size_t)n + big + 4 - off : 16384;
            ok = send_chunk(c, ev + off, k);
        }
        free(ev);
        return ok && conn_write(c, "0\r\n\r\n", 5);
    }
    default:
        break;
    }
    int64_t last_send = now_ms();
    for (;;) {
        struct sevent batch[64];
        size_t nb = 0;
        uint64_t bookmark = 0;
        bool end = false;
        pthread_mutex_lock(&s->lock);
        for (;;) {
            if (atomic_load(&s->stop) || s->kick != kick || now_ms() >= deadline) {
                end = true;
                break;
            }
            for (size_t i = 0; i < s->nlog && nb < 64; i++)
                if (s->log[i].rv > rv)
                    batch[nb++] = s->log[i];
            if (nb > 0)
                break;
            if (now_ms() - last_send >= 200 && s->rv > rv) {
                bookmark = s->rv;
                break;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cond, &s->lock, &ts);
        }
        pthread_mutex_unlock(&s->lock);
        if (end)
            return conn_write(c, "0\r\n\r\n", 5);
        for (size_t i = 0; i < nb; i++) {
            if (!send_event(c, batch[i].type, batch[i].json, batch[i].len, &f))
                return false;
            rv = batch[i].rv;
        }
        if (bookmark != 0) {
            char ev[256];
            int n = snprintf(ev, sizeof(ev),
                             "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":"
                             "\"v1\",\"metadata\":{\"resourceVersion\":\"%llu\"}}}\n",
                             (unsigned long long)bookmark);
            if (!send_chunk(c, ev, (size_t)n))
                return false;
            rv = bookmark;
        }
        last_send = now_ms();
    }
}

/* Plain requests: /status/<code>, /slow/<ms>, /big/<bytes>, /echo (method, type, body). */
static bool handle_misc(struct conn *c, struct req *r)
{
    if (strncmp(r->path, "/status/", 8) == 0) {
        int code = atoi(r->path + 8);
        return respond_status(c, code, "Test", "scripted failure");
    }
    if (strncmp(r->path, "/slow/", 6) == 0) {
        sleep_ms(atol(r->path + 6));
        return respond(c, 200, "application/json", "{}", 2);
    }
    if (strncmp(r->path, "/big/", 5) == 0) {
        size_t n = strtoul(r->path + 5, NULL, 10);
        char *b = xmalloc(n);
        memset(b, ' ', n);
        b[0] = '{';
        b[n - 1] = '}';
        bool ok = respond(c, 200, "application/json", b, n);
        free(b);
        return ok;
    }
    if (strcmp(r->path, "/whoami") == 0)
        return respond(c, 200, "text/plain", r->impersonate, strlen(r->impersonate));
    if (strcmp(r->path, "/echo") == 0) {
        size_t cap = r->body_len + 512;
        char *b = xmalloc(cap);
        int n = snprintf(b, cap, "%s|%s|%s", r->method, r->ctype, r->body);
        bool ok = respond(c, 200, "text/plain", b, (size_t)n);
        free(b);
        return ok;
    }
    return respond_status(c, 404, "NotFound", "no such path");
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct srv *s = c->s;
    struct req r = {0};
    if (SSL_accept(c->ssl) != 1)
        goto out;
    for (;;) {
        free(r.body);
        r.body = NULL;
        if (!read_req(c, &r))
            break;
        pthread_mutex_lock(&s->lock);
        s->requests++;
        bool auth_ok = s->token[0] == '\0' ||
                       (strncmp(r.auth, "Bearer ", 7) == 0 && strcmp(r.auth + 7, s->token) == 0);
        if (!auth_ok)
            s->n401++;
        pthread_mutex_unlock(&s->lock);
        bool ok;
        if (!auth_ok)
            ok = respond_status(c, 401, "Unauthorized", "Unauthorized");
        else if (strcmp(r.path, COLLECTION) == 0 && strstr(r.query, "watch=true") != NULL)
            ok = handle_watch(c, &r);
        else if (strcmp(r.path, COLLECTION) == 0)
            ok = handle_list(c, &r);
        else
            ok = handle_misc(c, &r);
        if (!ok)
            break;
    }
out:
    free(r.body);
    SSL_free(c->ssl);
    pthread_mutex_lock(&s->lock);
    srv_del_fd(s, c->fd);
    close(c->fd);
    s->conns--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    free(c);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct srv *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        /* Without it, a response's head and body meet Nagle and delayed ACKs (40 ms). */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = calloc(1, sizeof(*c));
        c->s = s;
        c->fd = fd;
        c->ssl = SSL_new(s->ctx);
        SSL_set_fd(c->ssl, fd);
        pthread_mutex_lock(&s->lock);
        s->conns++;
        s->accepted++;
        srv_add_fd(s, fd);
        pthread_mutex_unlock(&s->lock);
        pthread_t t;
        if (pthread_create(&t, NULL, conn_main, c) != 0)
            abort();
        pthread_detach(t);
    }
    return NULL;
}

static struct srv *srv_start(const char *cert, const char *key)
{
    struct srv *s = calloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    for (int i = 0; i < 256; i++)
        s->fds[i] = -1;
    s->ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(s->ctx);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(s->ctx, cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(s->ctx, key, SSL_FILETYPE_PEM), 1);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->lfd, 64), 0);
    socklen_t al = sizeof(a);
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->accept_thread, NULL, accept_main, s), 0);
    return s;
}

static void srv_stop(struct srv *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->accept_thread, NULL);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < 256; i++)
        if (s->fds[i] >= 0)
            shutdown(s->fds[i], SHUT_RDWR);
    pthread_cond_broadcast(&s->cond);
    while (s->conns > 0)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    close(s->lfd);
    SSL_CTX_free(s->ctx);
    for (size_t i = 0; i < s->n; i++)
        free(s->objs[i].json);
    for (size_t i = 0; i < s->nlog; i++)
        free(s->log[i].json);
    free(s->objs);
    free(s->log);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}

/* ------------------------------------------------------------------ the consumer */

struct centry {
    char *name, *json;
    bool seen;
};

struct cmap {
    pthread_mutex_t lock;
    struct centry *e;
    size_t n, cap;
    int begins, ends, synced;
};

static void name_of(const char *json, size_t len, char *out, size_t cap)
{
    out[0] = '\0';
    const char *p = memmem(json, len, "\"name\":\"", 8);
    if (p == NULL)
        return;
    p += 8;
    const char *e = memchr(p, '"', len - (size_t)(p - json));
    if (e == NULL || (size_t)(e - p) >= cap)
        return;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
}

static struct centry *cmap_find(struct cmap *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->e[i].name, name) == 0)
            return &m->e[i];
    return NULL;
}

static void c_begin(void *ud)
{
    struct cmap *m = ud;
    pthread_mutex_lock(&m->lock);
    m->begins++;
    for (size_t i = 0; i < m->n; i++)
        m->e[i].seen = false;
    pthread_mutex_unlock(&m->lock);
}

static void c_object(void *ud, enum cg_kube_watch_type type, const char *json, size_t len)
{
    struct cmap *m = ud;
    char name[128];
    name_of(json, len, name, sizeof(name));
    if (name[0] == '\0')
        abort(); /* the client handed out something that is not one of our objects */
    pthread_mutex_lock(&m->lock);
    struct centry *e = cmap_find(m, name);
    if (type == CG_KUBE_DELETED) {
        if (e != NULL) {
            free(e->name);
            free(e->json);
            *e = m->e[--m->n];
        }
    } else {
        if (e == NULL) {
            if (m->n == m->cap) {
                m->cap = m->cap ? m->cap * 2 : 64;
                m->e = realloc(m->e, m->cap * sizeof(*m->e));
            }
            e = &m->e[m->n++];
            e->name = strdup(name);
            e->json = NULL;
        }
        free(e->json);
        e->json = strndup(json, len);
        e->seen = true;
    }
    pthread_mutex_unlock(&m->lock);
}

static void c_end(void *ud)
{
    struct cmap *m = ud;
    pthread_mutex_lock(&m->lock);
    m->ends++;
    for (size_t i = 0; i < m->n;) {
        if (!m->e[i].seen) {
            free(m->e[i].name);
            free(m->e[i].json);
            m->e[i] = m->e[--m->n];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&m->lock);
}

static void c_synced(void *ud)
{
    struct cmap *m = ud;
    pthread_mutex_lock(&m->lock);
    m->synced++;
    pthread_mutex_unlock(&m->lock);
}

static void cmap_dispose(struct cmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].name);
        free(m->e[i].json);
    }
    free(m->e);
    pthread_mutex_destroy(&m->lock);
}

/* The consumer holds exactly the server's objects, byte for byte. */
static bool equal_now(struct srv *s, struct cmap *m, char *why, size_t cap)
{
    bool eq = true;
    pthread_mutex_lock(&s->lock);
    pthread_mutex_lock(&m->lock);
    if (s->n != m->n) {
        snprintf(why, cap, "server has %zu objects, consumer %zu", s->n, m->n);
        eq = false;
    }
    for (size_t i = 0; eq && i < s->n; i++) {
        struct centry *e = cmap_find(m, s->objs[i].name);
        if (e == NULL || strlen(e->json) != s->objs[i].len ||
            memcmp(e->json, s->objs[i].json, s->objs[i].len) != 0) {
            snprintf(why, cap, "%s: server %s, consumer %s", s->objs[i].name, s->objs[i].json,
                     e ? e->json : "(none)");
            eq = false;
        }
    }
    pthread_mutex_unlock(&m->lock);
    pthread_mutex_unlock(&s->lock);
    return eq;
}

static void wait_equal(struct srv *s, struct cmap *m, const char *phase)
{
    char why[1024] = "";
    int64_t until = now_ms() + 15000;
    while (now_ms() < until) {
        if (equal_now(s, m, why, sizeof(why)))
            return;
        sleep_ms(10);
    }
    fail_msg("%s: the consumer never matched the server: %s", phase, why);
}

/* ------------------------------------------------------------------ fixtures */

struct fx {
    struct cg_test_dir *dir;
    char *ca_pem;
    size_t ca_len;
};

static int group_setup(void **state)
{
    signal(SIGPIPE, SIG_IGN); /* a peer that hangs up must not kill the test */
    cg_test_jansson_use_cmocka();
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = cg_test_dir_create("cg-kube-fault");
    const char *argv[] = {
        CG_SOURCE_DIR "/certs/gen-dev-certs", "-o", f->dir->dir, "-q", "-f", NULL};
    assert_int_equal(cg_test_spawn(argv), 0);
    f->ca_pem = cg_test_read_file(cg_test_path(f->dir, "ca.crt"), &f->ca_len);
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    cg_test_dir_destroy(f->dir);
    free(f->ca_pem);
    free(f);
    return 0;
}

static struct srv *start(struct fx *f)
{
    char cert[512], key[512];
    snprintf(cert, sizeof(cert), "%s", cg_test_path(f->dir, "tls.crt"));
    snprintf(key, sizeof(key), "%s", cg_test_path(f->dir, "tls.key"));
    return srv_start(cert, key);
}

/* A client of the server, authenticated by token_file (NULL: none). */
static struct cg_kube_client *client_for(struct fx *f, struct srv *s, const char *token_file,
                                         const struct cg_kube_client_options *opt)
{
    struct cg_kube_config cfg = {0};
    char server[64];
    snprintf(server, sizeof(server), "https://127.0.0.1:%d", s->port);
    cfg.server = server;
    cg_buf_init(&cfg.ca_pem, 0);
    cg_buf_init(&cfg.cert_pem, 0);
    cg_buf_init(&cfg.key_pem, 0);
    cg_buf_append(&cfg.ca_pem, f->ca_pem, f->ca_len);
    cfg.token_file = (char *)token_file;
    struct cg_kube_client *c = NULL;
    struct cg_err err;
    enum cg_status st = cg_kube_client_create(&cfg, opt, &c, &err);
    if (st != CG_OK)
        fail_msg("client: %s", err.msg);
    cg_buf_dispose(&cfg.ca_pem);
    return c;
}

/* ------------------------------------------------------------------ tests */

static void test_request_outcomes(void **state)
{
    struct fx *f = *state;
    struct srv *s = start(f);
    const int scale = cg_test_time_scale(); /* under valgrind a handshake alone takes ~1 s */
    struct cg_kube_client_options opt = {.timeout_ms = 1000 * scale, .max_body = 64 * 1024};
    struct cg_kube_client *c = client_for(f, s, NULL, &opt);
    struct cg_kube_response resp;
    struct cg_err err;
    cg_kube_response_init(&resp);

    static const struct {
        int code;
        enum cg_status status;
        enum cg_kube_reason reason;
    } codes[] = {
        {400, CG_EINVAL, CG_KUBE_REJECTED},  {401, CG_EINVAL, CG_KUBE_UNAUTHORIZED},
        {403, CG_EINVAL, CG_KUBE_FORBIDDEN}, {404, CG_ENOTFOUND, CG_KUBE_NOT_FOUND},
        {409, CG_EINVAL, CG_KUBE_CONFLICT},  {410, CG_EINVAL, CG_KUBE_GONE},
        {422, CG_EINVAL, CG_KUBE_REJECTED},  {429, CG_EIO, CG_KUBE_RETRYABLE},
        {500, CG_EIO, CG_KUBE_RETRYABLE},    {503, CG_EIO, CG_KUBE_RETRYABLE},
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        char path[32];
        snprintf(path, sizeof(path), "/status/%d", codes[i].code);
        enum cg_status st = cg_kube_request(c, CG_KUBE_GET, path, NULL, 0, &resp, &err);
        assert_int_equal(st, codes[i].status);
        assert_int_equal(resp.reason, codes[i].reason);
        assert_int_equal(resp.code, codes[i].code);
        assert_non_null(strstr(err.msg, "scripted failure")); /* the Status' message */
        assert_non_null(strstr(err.msg, path));
    }

    /* Methods and content types. */
    static const struct {
        enum cg_kube_method m;
        const char *expect;
    } methods[] = {
        {CG_KUBE_POST, "POST|application/json|{\"a\":1}"},
        {CG_KUBE_PUT, "PUT|application/json|{\"a\":1}"},
        {CG_KUBE_PATCH_MERGE, "PATCH|application/merge-patch+json|{\"a\":1}"},
        {CG_KUBE_PATCH_JSON, "PATCH|application/json-patch+json|{\"a\":1}"},
        {CG_KUBE_PATCH_STRATEGIC, "PATCH|application/strategic-merge-patch+json|{\"a\":1}"},
    };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        assert_int_equal(cg_kube_request(c, methods[i].m, "/echo", "{\"a\":1}", 7, &resp, &err),
                         CG_OK);
        assert_string_equal(resp.body.data, methods[i].expect);
    }
    assert_int_equal(cg_kube_request(c, CG_KUBE_DELETE, "/echo", NULL, 0, &resp, &err), CG_OK);
    assert_true(strncmp(resp.body.data, "DELETE|", 7) == 0);

    /* A body over the cap, a response over the timeout. */
    assert_int_equal(cg_kube_request(c, CG_KUBE_GET, "/big/100000", NULL, 0, &resp, &err),
                     CG_ETOOBIG);
    assert_int_equal(resp.reason, CG_KUBE_TOO_BIG);
    assert_int_equal(cg_kube_request(c, CG_KUBE_GET, "/big/60000", NULL, 0, &resp, &err), CG_OK);
    assert_int_equal(resp.body.len, 60000);
    int64_t t0 = now_ms();
    char slow[32];
    snprintf(slow, sizeof(slow), "/slow/%d", 3000 * scale);
    assert_int_equal(cg_kube_request(c, CG_KUBE_GET, slow, NULL, 0, &resp, &err), CG_EIO);
    assert_int_equal(resp.reason, CG_KUBE_TRANSPORT);
    assert_non_null(strstr(err.msg, "imeout"));
    assert_true(now_ms() - t0 < 2500 * scale);

    /* A server that does not chain to the trusted CA: the system CAs do not know it. */
    struct cg_kube_config cfg = {0};
    char server[64];
    snprintf(server, sizeof(server), "https://127.0.0.1:%d", s->port);
    cfg.server = server;
    struct cg_kube_client *untrusting = NULL;
    assert_int_equal(cg_kube_client_create(&cfg, NULL, &untrusting, &err), CG_OK);
    assert_int_equal(cg_kube_request(untrusting, CG_KUBE_GET, "/echo", NULL, 0, &resp, &err),
                     CG_ETLS);
    assert_int_equal(resp.reason, CG_KUBE_TLS);
    cg_kube_client_destroy(untrusting);

    /* Nobody listening. */
    cg_kube_client_destroy(c);
    int port = s->port;
    srv_stop(s);
    struct cg_kube_config cfg2 = {0};
    snprintf(server, sizeof(server), "https://127.0.0.1:%d", port);
    cfg2.server = server;
    assert_int_equal(cg_kube_client_create(&cfg2, NULL, &c, &err), CG_OK);
    assert_int_equal(cg_kube_request(c, CG_KUBE_GET, "/echo", NULL, 0, &resp, &err), CG_EIO);
    assert_int_equal(resp.reason, CG_KUBE_TRANSPORT);
    assert_int_equal(resp.code, 0);
    cg_kube_client_destroy(c);
    cg_kube_response_dispose(&resp);
}

struct par {
    struct cg_kube_client *c;
    int ok;
};

static void *par_main(void *arg)
{
    struct par *p = arg;
    struct cg_kube_response resp;
    struct cg_err err;
    cg_kube_response_init(&resp);
    for (int i = 0; i < 50; i++) {
        char body[64];
        int n = snprintf(body, sizeof(body), "{\"i\":%d}", i);
        if (cg_kube_request(p->c, CG_KUBE_POST, "/echo", body, (size_t)n, &resp, &err) == CG_OK &&
            strstr(resp.body.data, body) != NULL)
            p->ok++;
    }
    cg_kube_response_dispose(&resp);
    return NULL;
}

/* One client, eight threads at once: every answer is the right one. */
static void test_threads(void **state)
{
    struct fx *f = *state;
    struct srv *s = start(f);
    struct cg_kube_client *c = client_for(f, s, NULL, NULL);
    pthread_t t[8];
    struct par p[8];
    for (int i = 0; i < 8; i++) {
        p[i] = (struct par){c, 0};
        assert_int_equal(pthread_create(&t[i], NULL, par_main, &p[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(p[i].ok, 50);
    }
    /* Connections were kept alive: far fewer than 400 TLS handshakes. */
    print_message("threads: %d requests over %d connections\n", s->requests, s->accepted);
    assert_int_equal(s->requests, 400);
    assert_true(s->accepted <= 16);
    cg_kube_client_destroy(c);
    srv_stop(s);
}

/* Rewrites a token file in place, keeping its size, inode and times, so its fingerprint
 * does not change: only a 401 can tell the client to read it again. */
static void rotate_silently(const char *path, const char *token)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    FILE *fp = fopen(path, "r+");
    assert_non_null(fp);
    fputs(token, fp);
    fclose(fp);
    struct timespec times[2] = {sb.st_atim, sb.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void test_token_rotation(void **state)
{
    struct fx *f = *state;
    struct srv *s = start(f);
    const char *tok = cg_test_path(f->dir, "token");
    cg_test_write_file(tok, "token-1\n");
    srv_token(s, "token-1");
    struct cg_kube_client *c = client_for(f, s, tok, NULL);
    struct cg_kube_response resp;
    struct cg_err err;
    cg_kube_response_init(&resp);
    assert_int_equal(cg_kube_request(c, CG_KUBE_GET, "/echo", NULL, 0, &resp, &err), CG_OK);

    /* The server moved on to token-2 and the file holds it, but looks unchanged: the request
     * gets a 401, reads the file again and succeeds with one retry. */
    rotate_silently(tok, "token-2\n");
    srv_token(s, "token-2");
    assert_int_equal(cg_kube_request(c, CG_KUBE_GET, "/echo", NULL, 0, &resp, &err), CG_OK);
    assert_int_equal(s->n401, 1);

    /* A normal rotation (new file content, new mtime): read before the request, no 401. */
    sleep_ms(20);
    cg_test_write_file(tok, "token-three\n");
    srv_token(s, "token-three");
    assert_int_equal(cg_kube_request(c, CG_KUBE_GET, "/echo", NULL, 0, &resp, &err), CG_OK);
    assert_int_equal(s->n401, 1);

    /* A token the server does not take at all: one retry, then 401 to the caller. */
    srv_token(s, "something-else");
    assert_int_equal(cg_kube_request(c, CG_KUBE_GET, "/echo", NULL, 0, &resp, &err), CG_EINVAL);
    assert_int_equal(resp.reason, CG_KUBE_UNAUTHORIZED);
    assert_int_equal(s->n401, 3);
    cg_kube_response_dispose(&resp);
    cg_kube_client_destroy(c);
    srv_stop(s);
}

/* --as / --as-group: the headers on every request; bad values refused at create. */
static void test_impersonation(void **state)
{
    struct fx *f = *state;
    struct srv *s = start(f);
    struct cg_kube_response resp;
    struct cg_err err;
    cg_kube_response_init(&resp);
    struct cg_kube_client *plain = client_for(f, s, NULL, NULL);
    assert_int_equal(cg_kube_request(plain, CG_KUBE_GET, "/whoami", NULL, 0, &resp, &err), CG_OK);
    assert_int_equal(resp.body.len, 0);
    cg_kube_client_destroy(plain);

    const char *groups[] = {"release-managers", "system:authenticated"};
    struct cg_kube_client_options opt = {
        .impersonate_user = "alice", .impersonate_groups = groups, .n_impersonate_groups = 2};
    struct cg_kube_client *c = client_for(f, s, NULL, &opt);
    for (int i = 0; i < 2; i++) { /* a reused connection sends them again */
        assert_int_equal(cg_kube_request(c, CG_KUBE_GET, "/whoami", NULL, 0, &resp, &err), CG_OK);
        cg_buf_append_char(&resp.body, '\0');
        assert_string_equal(resp.body.data, "alice|release-managers,system:authenticated");
    }
    cg_kube_client_destroy(c);

    struct cg_kube_config cfg = {.server = "https://127.0.0.1:1"};
    const char *bad_group[] = {"ok", "evil\r\nAuthorization: Bearer x"};
    const struct cg_kube_client_options bad[] = {
        {.impersonate_groups = groups, .n_impersonate_groups = 1}, /* groups without a user */
        {.impersonate_user = ""},
        {.impersonate_user = "bob\nX-Evil: 1"},
        {.impersonate_user = "bob", .impersonate_groups = bad_group, .n_impersonate_groups = 2},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = NULL;
        assert_int_equal(cg_kube_client_create(&cfg, &bad[i], &c, &err), CG_EINVAL);
        assert_null(c);
        assert_non_null(strstr(err.msg, "impersonat"));
    }
    cg_kube_response_dispose(&resp);
    srv_stop(s);
}

struct inf_fx {
    struct srv *s;
    struct cg_kube_client *c;
    struct cmap m;
    struct cg_kube_informer *inf;
};

static void inf_start(struct fx *f, struct inf_fx *x, const char *token_file)
{
    pthread_mutex_init(&x->m.lock, NULL);
    struct cg_kube_client_options opt = {.timeout_ms = 1000, .max_event = 64 * 1024};
    x->c = client_for(f, x->s, token_file, &opt);
    struct cg_kube_informer_config cfg = {
        .client = x->c,
        .path = COLLECTION,
        .page_limit = 3,
        .watch_timeout_seconds = 2,
        .backoff_min_ms = 10,
        .backoff_max_ms = 100,
        .name = "test-pods",
        .handlers = {c_begin, c_object, c_end, c_synced},
        .ud = &x->m,
    };
    struct cg_err err;
    assert_int_equal(cg_kube_informer_create(&cfg, &x->inf, &err), CG_OK);
}

static void inf_stop(struct inf_fx *x)
{
    cg_kube_informer_destroy(x->inf);
    cg_kube_client_destroy(x->c);
    srv_stop(x->s);
    cmap_dispose(&x->m);
}

static void mutate(struct srv *s, int round)
{
    char name[32];
    snprintf(name, sizeof(name), "new-%02d", round);
    srv_put(s, name, round);
    snprintf(name, sizeof(name), "pod-%02d", round % 12);
    srv_put(s, name, 100 + round);
    snprintf(name, sizeof(name), "pod-%02d", (round + 5) % 12);
    srv_del(s, name);
}

static void wait_faults_used(struct srv *s, const char *phase)
{
    int64_t until = now_ms() + 15000;
    while (srv_faults_left(s) > 0 && now_ms() < until)
        sleep_ms(5);
    if (srv_faults_left(s) > 0)
        fail_msg("%s: the client never met the fault", phase);
}

static void test_informer_faults(void **state)
{
    struct fx *f = *state;
    struct inf_fx x = {0};
    x.s = start(f);
    const char *tok = cg_test_path(f->dir, "inf-token");
    cg_test_write_file(tok, "tok-a\n");
    srv_token(x.s, "tok-a");
    for (int i = 0; i < 12; i++) {
        char name[32];
        snprintf(name, sizeof(name), "pod-%02d", i);
        srv_put(x.s, name, i);
    }
    inf_start(f, &x, tok);
    assert_true(cg_kube_informer_wait_synced(x.inf, 10000));
    wait_equal(x.s, &x.m, "initial list");
    assert_int_equal(x.m.synced, 1);
    mutate(x.s, 1);
    wait_equal(x.s, &x.m, "plain watch events");

    static const struct {
        const char *name;
        enum fault faults[4];
        bool kick, compact;
    } phases[] = {
        {"watch cut inside an event", {F_WATCH_CUT}, false, false},
        {"410 Gone over HTTP", {F_WATCH_410_HTTP}, true, false},
        /* A watch that is open sees every event, so a compaction alone never outdates it:
         * the fault sends the ERROR 410 a watch from a compacted resourceVersion gets. */
        {"410 Gone as an ERROR event after compaction", {F_WATCH_GONE_EVENT}, true, true},
        {"500 on the watch", {F_WATCH_500_HTTP}, true, false},
        {"an ERROR 500 event", {F_WATCH_ERROR_500}, true, false},
        {"bad JSON in the stream", {F_WATCH_BAD_JSON}, true, false},
        {"wrong types in the stream", {F_WATCH_WRONG_TYPES}, true, false},
        {"an event over the cap", {F_WATCH_HUGE}, true, false},
        {"re-list: 500, then a slow page, then bad JSON",
         {F_WATCH_GONE_EVENT, F_LIST_500, F_LIST_SLOW, F_LIST_BAD_JSON},
         true,
         true},
        {"re-list: wrong types, then the continue token expires",
         {F_WATCH_GONE_EVENT, F_LIST_WRONG_TYPES, F_LIST_GONE_CONT},
         true,
         true},
    };
    for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
        struct cg_kube_informer_stats before, after;
        cg_kube_informer_stats(x.inf, &before);
        /* A re-list is forced by a watch that is told its version is gone: an open watch
         * sees every event, so a compaction alone would race with it. */
        for (int k = 0; k < 4; k++)
            if (phases[i].faults[k] != F_NONE)
                srv_fault(x.s, phases[i].faults[k]);
        if (phases[i].compact) {
            mutate(x.s, 20 + (int)i); /* events the informer will not see: only a list can */
            srv_compact(x.s);
        }
        if (phases[i].kick)
            srv_kick(x.s);
        mutate(x.s, 40 + (int)i);
        wait_faults_used(x.s, phases[i].name);
        mutate(x.s, 60 + (int)i);
        wait_equal(x.s, &x.m, phases[i].name);
        cg_kube_informer_stats(x.inf, &after);
        print_message("%-52s relists +%llu, reconnects +%llu, events +%llu\n", phases[i].name,
                      (unsigned long long)(after.relists - before.relists),
                      (unsigned long long)(after.reconnects - before.reconnects),
                      (unsigned long long)(after.events - before.events));
        if (phases[i].compact || phases[i].faults[0] == F_WATCH_410_HTTP)
            assert_true(after.relists > before.relists);
        else
            assert_true(after.reconnects > before.reconnects);
    }

    /* The token expires and the kubelet has written the next one (same fingerprint): the next
     * watch gets a 401, re-reads, and goes on. */
    rotate_silently(tok, "tok-b\n");
    srv_token(x.s, "tok-b");
    srv_kick(x.s);
    mutate(x.s, 90);
    wait_equal(x.s, &x.m, "expired token");
    assert_true(x.s->n401 >= 1);

    struct cg_kube_informer_stats st;
    cg_kube_informer_stats(x.inf, &st);
    assert_true(st.synced);
    assert_int_equal(x.m.synced, 1); /* once, however many lists */
    /* Every list that ended was begun; at least the first one ended. */
    assert_true(x.m.ends >= 1);
    assert_true(x.m.begins >= x.m.ends);
    print_message("informer: lists %llu (relists %llu), watches %llu, reconnects %llu, "
                  "events %llu, items %llu, failures %llu, server 401s %d\n",
                  (unsigned long long)st.lists, (unsigned long long)st.relists,
                  (unsigned long long)st.watches, (unsigned long long)st.reconnects,
                  (unsigned long long)st.events, (unsigned long long)st.items,
                  (unsigned long long)st.failures, x.s->n401);

    /* Stops promptly in the middle of an idle watch. */
    sleep_ms(100);
    int64_t t0 = now_ms();
    cg_kube_informer_stop(x.inf);
    int64_t took = now_ms() - t0;
    print_message("informer: stopped in %lld ms during a watch\n", (long long)took);
    assert_true(took < 500);
    inf_stop(&x);
}

/* The informer retries a server that is not there yet, with back-off, and syncs once it
 * is; it also stops promptly while backing off. */
static void test_informer_backoff_and_stop(void **state)
{
    struct fx *f = *state;
    struct inf_fx x = {0};
    x.s = start(f);
    srv_put(x.s, "a", 1);
    for (int i = 0; i < 4; i++)
        srv_fault(x.s, F_LIST_500);
    inf_start(f, &x, NULL);
    assert_true(cg_kube_informer_wait_synced(x.inf, 10000));
    wait_equal(x.s, &x.m, "after four failed lists");
    struct cg_kube_informer_stats st;
    cg_kube_informer_stats(x.inf, &st);
    assert_int_equal(st.lists, 5);
    assert_int_equal(st.failures, 4);
    assert_int_equal(x.m.ends, 1);
    assert_int_equal(x.m.begins, 5);

    /* Now every watch fails: the informer backs off (capped at 100 ms here) and stops at once
     * when asked. */
    for (int i = 0; i < 60; i++)
        srv_fault(x.s, F_WATCH_500_HTTP);
    srv_kick(x.s);
    sleep_ms(400);
    cg_kube_informer_stats(x.inf, &st);
    assert_true(st.reconnects >= 3);
    assert_true(st.reconnects < 50); /* backed off, not spinning */
    int64_t t0 = now_ms();
    cg_kube_informer_stop(x.inf);
    assert_true(now_ms() - t0 < 300);
    inf_stop(&x);
}

static bool noop_item(void *ud, const char *json, size_t len)
{
    (void)json;
    *(size_t *)ud += len;
    return true;
}

static bool into_cache(void *ud, const char *json, size_t len)
{
    cg_podcache_apply(ud, CG_PODCACHE_ADDED, json, len);
    return true;
}

/* The measurement: a LIST of 100,000 small pods from the fault server through cg_kube_list
 * into a consumer that does nothing, then into the pod cache. Printed, not asserted. */
static void test_list_100k(void **state)
{
    struct fx *f = *state;
    struct srv *s = start(f);
    const size_t N = 100000;
    s->objs = calloc(N, sizeof(*s->objs));
    s->cap = N;
    for (size_t i = 0; i < N; i++) {
        char buf[1024];
        snprintf(s->objs[i].name, sizeof(s->objs[i].name), "web-7d9f8c6b5-%06zu", i);
        int n = snprintf(
            buf, sizeof(buf),
            "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s\","
            "\"namespace\":\"shop\",\"uid\":\"6f1c2a4e-0000-4000-8000-%012zu\","
            "\"resourceVersion\":\"%zu\",\"labels\":{\"app\":\"web\",\"cellgate.io/cell\":"
            "\"zone-%c\",\"pod-template-hash\":\"7d9f8c6b5\"},\"ownerReferences\":[{\"apiVersion\":"
            "\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-7d9f8c6b5\",\"uid\":"
            "\"0b7e5a1c-1111-4000-8000-000000000001\",\"controller\":true}]},\"spec\":{"
            "\"nodeName\":\"node-%zu\",\"containers\":[{\"name\":\"web\",\"image\":"
            "\"registry.example/web:1.4.2\"}]},\"status\":{\"phase\":\"Running\",\"podIP\":"
            "\"10.244.%zu.%zu\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
            s->objs[i].name, i, i + 1, 'a' + (int)(i % 3), i % 50, (i / 250) % 256, i % 250);
        s->objs[i].json = strndup(buf, (size_t)n);
        s->objs[i].len = (size_t)n;
    }
    s->n = N;
    s->rv = N;
    struct cg_kube_client_options opt = {.timeout_ms = 30000};
    struct cg_kube_client *c = client_for(f, s, NULL, &opt);
    /* Three runs of each: this machine has two cores, shared with the server threads and
     * whatever else runs, so one figure alone says little. */
    unsigned limits[] = {500, 500, 500, 5000, 5000, 5000};
    for (size_t k = 0; k < 6; k++) {
        struct cg_kube_list_options lo = {.limit = limits[k]};
        struct cg_kube_list_result res;
        struct cg_err err;
        size_t item_bytes = 0;
        int64_t t0 = now_ms();
        enum cg_status st =
            cg_kube_list(c, COLLECTION, &lo, noop_item, &item_bytes, &res, NULL, &err);
        int64_t took = now_ms() - t0;
        if (st != CG_OK)
            fail_msg("list: %s", err.msg);
        assert_int_equal(res.items, N);
        print_message("LIST 100,000 pods (limit %u): %lld ms, %zu pages, %.1f MB read, "
                      "%.0f items/s, %.0f MB/s (server included)\n",
                      limits[k], (long long)took, res.pages, res.bytes / 1e6,
                      N * 1000.0 / (double)(took ? took : 1),
                      res.bytes / 1e6 * 1000.0 / (double)(took ? took : 1));
    }
    /* The webhook's sync: the same LIST into the pod cache it answers from. */
    struct cg_podcache *pc = cg_podcache_create(NULL);
    struct cg_kube_list_options lo = {.limit = 500};
    struct cg_kube_list_result res;
    struct cg_err err;
    int64_t t0 = now_ms();
    cg_podcache_replace_begin(pc);
    enum cg_status st = cg_kube_list(c, COLLECTION, &lo, into_cache, pc, &res, NULL, &err);
    cg_podcache_replace_end(pc);
    int64_t took = now_ms() - t0;
    if (st != CG_OK)
        fail_msg("list: %s", err.msg);
    struct cg_podcache_stats ps;
    cg_podcache_stats(pc, &ps);
    assert_int_equal(ps.pods, N);
    print_message("LIST 100,000 pods into the pod cache (limit 500): %lld ms, %zu bytes per pod "
                  "held (%.1f MiB)\n",
                  (long long)took, ps.bytes / N, ps.bytes / 1048576.0);
    cg_podcache_destroy(pc);
    cg_kube_client_destroy(c);
    srv_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_outcomes), cmocka_unit_test(test_threads),
        cmocka_unit_test(test_token_rotation),   cmocka_unit_test(test_impersonation),
        cmocka_unit_test(test_informer_faults),  cmocka_unit_test(test_informer_backoff_and_stop),
        cmocka_unit_test(test_list_100k),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
