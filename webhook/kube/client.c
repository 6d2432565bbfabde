/* The client: credentials turned into libcurl options, a pool of idle transfer slots (each an
 * easy handle inside its own multi handle, so its kept-alive connection survives between
 * requests and a transfer can be woken from another thread), the bearer token under a lock,
 * and the classification of every outcome into a cg_status + reason + message. */
#include <assert.h>
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/file.h"
#include "base/mem.h"
#include "kube/kube.h"
#include "kube/kube_internal.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_BODY (16u << 20)
#define DEFAULT_MAX_PAGE (256u << 20)
#define DEFAULT_MAX_EVENT (16u << 20)
#define MAX_IDLE_SLOTS 8
/* The body of a failed request is only read for its Status message. */
#define MAX_ERROR_BODY (64u << 10)
#define MAX_TOKEN (64u << 10)

static const char *const reason_text[] = {
#define CG__KUBE_REASON_TEXT(name, text) text,
    CG_KUBE_REASON_MAP(CG__KUBE_REASON_TEXT)
#undef CG__KUBE_REASON_TEXT
};

const char *cg_kube_reason_str(enum cg_kube_reason reason)
{
    if ((unsigned)reason >= sizeof(reason_text) / sizeof(reason_text[0]))
        return "unknown";
    return reason_text[reason];
}

bool cg_kube_reason_retryable(enum cg_kube_reason reason)
{
    return reason == CG_KUBE_TRANSPORT || reason == CG_KUBE_RETRYABLE;
}

/* ---- cancellation ---- */

/* A transfer registers its multi handle while it runs, so fire() can wake its poll. */
struct waiter {
    CURLM *multi;
    struct waiter *next;
};

struct cg_kube_cancel {
    atomic_bool fired;
    pthread_mutex_t lock;
    struct waiter *waiters;
};

struct cg_kube_cancel *cg_kube_cancel_create(void)
{
    struct cg_kube_cancel *c = cg_xcalloc(1, sizeof(*c));
    atomic_init(&c->fired, false);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void cg_kube_cancel_destroy(struct cg_kube_cancel *cancel)
{
    if (cancel == NULL)
        return;
    assert(cancel->waiters == NULL);
    pthread_mutex_destroy(&cancel->lock);
    free(cancel);
}

void cg_kube_cancel_fire(struct cg_kube_cancel *cancel)
{
    atomic_store(&cancel->fired, true);
    pthread_mutex_lock(&cancel->lock);
    for (struct waiter *w = cancel->waiters; w != NULL; w = w->next)
        curl_multi_wakeup(w->multi);
    pthread_mutex_unlock(&cancel->lock);
}

bool cg_kube_cancel_fired(struct cg_kube_cancel *cancel)
{
    return cancel != NULL && atomic_load(&cancel->fired);
}

static void cancel_register(struct cg_kube_cancel *cancel, struct waiter *w)
{
    pthread_mutex_lock(&cancel->lock);
    w->next = cancel->waiters;
    cancel->waiters = w;
    pthread_mutex_unlock(&cancel->lock);
}

static void cancel_unregister(struct cg_kube_cancel *cancel, struct waiter *w)
{
    pthread_mutex_lock(&cancel->lock);
    for (struct waiter **p = &cancel->waiters; *p != NULL; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&cancel->lock);
}

/* ---- the client ---- */

struct slot {
    CURL *easy;
    CURLM *multi;
    struct slot *next;
};

struct cg_kube_client {
    char *server;
    char *namespace_;
    struct cg_buf ca_pem, cert_pem, key_pem;
    bool insecure;
    char *token_file;
    char *user_agent;
    char **impersonate; /* "Impersonate-User: u", "Impersonate-Group: g"...; NULL-terminated */
    long connect_timeout_ms, timeout_ms;
    size_t max_body, max_page, max_event;

    pthread_mutex_t lock; /* token, token_fp, idle */
    char *token;
    unsigned long long token_fp;
    struct slot *idle;
    size_t n_idle;
};

static void copy_buf(struct cg_buf *dst, const struct cg_buf *src)
{
    cg_buf_init(dst, 0);
    if (src->len > 0)
        cg_buf_append(dst, src->data, src->len); /* no cap: cannot fail but on OOM (abort) */
}

/* Re-reads the token file when it changed (or when force), under c->lock. Keeps the token it
 * had when the file cannot be read: a rotation in progress is not an outage. */
static enum cg_status token_refresh_locked(struct cg_kube_client *c, bool force, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    if (c->token_file == NULL)
        goto out;
    unsigned long long fp = cg_file_fingerprint(c->token_file);
    if (!force && fp == c->token_fp && c->token != NULL)
        goto out;
    st = cg_file_read(c->token_file, MAX_TOKEN, &b, err);
    if (st != CG_OK) {
        if (c->token != NULL)
            st = CG_OK;
        goto out;
    }
    size_t s = 0, e = b.len;
    while (s < e && isspace((unsigned char)b.data[s]))
        s++;
    while (e > s && isspace((unsigned char)b.data[e - 1]))
        e--;
    if (e == s) {
        if (c->token == NULL)
            st = cg_err_set(err, CG_EINVAL, "%s: empty token", c->token_file);
        goto out;
    }
    free(c->token);
    c->token = cg_xstrndup(b.data + s, e - s);
    c->token_fp = fp;
out:
    cg_buf_dispose(&b);
    return st;
}

/* A header value from the command line: no control characters (no header injection). */
static bool header_value_ok(const char *v)
{
    if (v == NULL || *v == '\0')
        return false;
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f)
            return false;
    return true;
}

/* The impersonation header lines of options (NULL when none). */
static enum cg_status impersonation(const struct cg_kube_client_options *o, char ***out,
                                    struct cg_err *err)
{
    *out = NULL;
    if (o->impersonate_user == NULL && o->n_impersonate_groups == 0)
        return CG_OK;
    if (o->impersonate_user == NULL)
        return cg_err_set(err, CG_EINVAL, "impersonating a group needs a user to impersonate");
    if (!header_value_ok(o->impersonate_user))
        return cg_err_set(err, CG_EINVAL,
                          "the user to impersonate is empty or holds a control "
                          "character");
    for (size_t i = 0; i < o->n_impersonate_groups; i++)
        if (!header_value_ok(o->impersonate_groups[i]))
            return cg_err_set(err, CG_EINVAL,
                              "group %zu to impersonate is empty or holds a control character",
                              i + 1);
    char **h = cg_xcalloc(o->n_impersonate_groups + 2, sizeof(*h));
    struct cg_buf b;
    cg_buf_init(&b, 0);
    cg_buf_appendf(&b, "Impersonate-User: %s", o->impersonate_user);
    h[0] = cg_xstrdup(b.data);
    for (size_t i = 0; i < o->n_impersonate_groups; i++) {
        cg_buf_reset(&b);
        cg_buf_appendf(&b, "Impersonate-Group: %s", o->impersonate_groups[i]);
        h[i + 1] = cg_xstrdup(b.data);
    }
    cg_buf_dispose(&b);
    *out = h;
    return CG_OK;
}

enum cg_status cg_kube_client_create(const struct cg_kube_config *cfg,
                                     const struct cg_kube_client_options *options,
                                     struct cg_kube_client **out, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_kube_client *c = NULL;
    struct cg_kube_client_options none = {0};
    *out = NULL;
    if (options == NULL)
        options = &none;
    if (cfg == NULL || cfg->server == NULL) {
        st = cg_err_set(err, CG_EINVAL, "no API server in the config");
        goto out;
    }
    /* Thread-safe and reference-counted in this libcurl (CURL_VERSION_THREADSAFE). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        st = cg_err_set(err, CG_EINTERNAL, "libcurl failed to initialise");
        goto out;
    }
    c = cg_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->server = cg_xstrdup(cfg->server);
    c->namespace_ = cfg->namespace_ ? cg_xstrdup(cfg->namespace_) : NULL;
    copy_buf(&c->ca_pem, &cfg->ca_pem);
    copy_buf(&c->cert_pem, &cfg->cert_pem);
    copy_buf(&c->key_pem, &cfg->key_pem);
    c->insecure = cfg->insecure;
    c->token = cfg->token ? cg_xstrdup(cfg->token) : NULL;
    c->token_file = cfg->token_file ? cg_xstrdup(cfg->token_file) : NULL;
    c->user_agent = cg_xstrdup(options->user_agent ? options->user_agent : "cellgate/0.1");
    c->connect_timeout_ms =
        options->connect_timeout_ms > 0 ? options->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    c->timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->max_body = options->max_body ? options->max_body : DEFAULT_MAX_BODY;
    c->max_page = options->max_page ? options->max_page : DEFAULT_MAX_PAGE;
    c->max_event = options->max_event ? options->max_event : DEFAULT_MAX_EVENT;
    st = impersonation(options, &c->impersonate, err);
    if (st != CG_OK)
        goto out;
    /* A token file that cannot be read now fails here, with its name, not on every request. */
    st = token_refresh_locked(c, true, err);
    if (st != CG_OK)
        goto out;
    *out = c;
    c = NULL;
out:
    cg_kube_client_destroy(c);
    return st;
}

static void slot_destroy(struct slot *s)
{
    if (s == NULL)
        return;
    if (s->multi != NULL)
        curl_multi_cleanup(s->multi);
    if (s->easy != NULL)
        curl_easy_cleanup(s->easy);
    free(s);
}

void cg_kube_client_destroy(struct cg_kube_client *c)
{
    if (c == NULL)
        return;
    while (c->idle != NULL) {
        struct slot *s = c->idle;
        c->idle = s->next;
        slot_destroy(s);
    }
    pthread_mutex_destroy(&c->lock);
    free(c->server);
    free(c->namespace_);
    cg_buf_dispose(&c->ca_pem);
    cg_buf_dispose(&c->cert_pem);
    if (c->key_pem.data != NULL)
        memset(c->key_pem.data, 0, c->key_pem.len);
    cg_buf_dispose(&c->key_pem);
    free(c->token);
    free(c->token_file);
    free(c->user_agent);
    for (char **h = c->impersonate; h != NULL && *h != NULL; h++)
        free(*h);
    free(c->impersonate);
    free(c);
    curl_global_cleanup();
}

const char *cg_kube_client_namespace(const struct cg_kube_client *c)
{
    return c->namespace_;
}

size_t cg__kube_client_max_page(const struct cg_kube_client *c)
{
    return c->max_page;
}

size_t cg__kube_client_max_event(const struct cg_kube_client *c)
{
    return c->max_event;
}

long cg__kube_client_timeout_ms(const struct cg_kube_client *c)
{
    return c->timeout_ms;
}

static struct slot *slot_take(struct cg_kube_client *c)
{
    struct slot *s = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->idle != NULL) {
        s = c->idle;
        c->idle = s->next;
        c->n_idle--;
    }
    pthread_mutex_unlock(&c->lock);
    if (s != NULL) {
        curl_easy_reset(s->easy); /* keeps the connection, which lives in the multi */
        return s;
    }
    s = cg_xcalloc(1, sizeof(*s));
    s->easy = curl_easy_init();
    s->multi = curl_multi_init();
    if (s->easy == NULL || s->multi == NULL) /* libcurl's only failure here is memory */
        abort();
    return s;
}

static void slot_give(struct cg_kube_client *c, struct slot *s, bool reusable)
{
    if (reusable) {
        pthread_mutex_lock(&c->lock);
        if (c->n_idle < MAX_IDLE_SLOTS) {
            s->next = c->idle;
            c->idle = s;
            c->n_idle++;
            s = NULL;
        }
        pthread_mutex_unlock(&c->lock);
    }
    slot_destroy(s);
}

/* ---- one transfer ---- */

struct run {
    const struct cg__kube_xfer *x;
    CURL *easy;
    struct cg_kube_response *resp;
    size_t max_body;
    bool checked, ok2xx;
    bool sink_aborted;
    bool body_too_big;
    uint64_t bytes;
};

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct run *r = ud;
    size_t n = size * nmemb;
    if (!r->checked) {
        long code = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        r->ok2xx = code >= 200 && code < 300;
        r->checked = true;
    }
    r->bytes += n;
    if (r->ok2xx && r->x->sink != NULL) {
        if (!r->x->sink(r->x->sink_ud, p, n)) {
            r->sink_aborted = true;
            return CURL_WRITEFUNC_ERROR;
        }
        return n;
    }
    /* A 2xx body we keep whole, or an error body kept for its Status message. */
    size_t cap = r->ok2xx ? r->max_body : MAX_ERROR_BODY;
    if (r->resp->body.len + n > cap) {
        if (r->ok2xx) {
            r->body_too_big = true;
            return CURL_WRITEFUNC_ERROR;
        }
        n = cap - r->resp->body.len; /* an error's message is at its start: keep that */
        if (n > 0)
            cg_buf_append(&r->resp->body, p, n);
        return size * nmemb;
    }
    cg_buf_append(&r->resp->body, p, n);
    return n;
}

static const char *method_name(enum cg_kube_method m)
{
    switch (m) {
    case CG_KUBE_GET:
        return "GET";
    case CG_KUBE_POST:
        return "POST";
    case CG_KUBE_PUT:
        return "PUT";
    case CG_KUBE_DELETE:
        return "DELETE";
    default:
        return "PATCH";
    }
}

static const char *content_type(enum cg_kube_method m)
{
    switch (m) {
    case CG_KUBE_PATCH_MERGE:
        return "Content-Type: application/merge-patch+json";
    case CG_KUBE_PATCH_JSON:
        return "Content-Type: application/json-patch+json";
    case CG_KUBE_PATCH_STRATEGIC:
        return "Content-Type: application/strategic-merge-patch+json";
    default:
        return "Content-Type: application/json";
    }
}

static struct curl_slist *add_header(struct curl_slist *h, const char *line)
{
    struct curl_slist *n = curl_slist_append(h, line);
    if (n == NULL)
        abort(); /* out of memory */
    return n;
}

static void set_blob(CURL *e, CURLoption opt, const struct cg_buf *b)
{
    struct curl_blob blob = {.data = b->data, .len = b->len, .flags = CURL_BLOB_NOCOPY};
    curl_easy_setopt(e, opt, &blob);
}

/* Drives the transfer in the slot's multi handle, so a cancel can wake the poll at once. */
static CURLcode drive(struct slot *s, struct cg_kube_cancel *cancel, bool *cancelled)
{
    CURLcode cc = CURLE_OK;
    struct waiter w = {.multi = s->multi, .next = NULL};
    int running = 1;
    *cancelled = false;
    if (cancel != NULL)
        cancel_register(cancel, &w);
    curl_multi_add_handle(s->multi, s->easy);
    while (running) {
        if (cg_kube_cancel_fired(cancel)) {
            *cancelled = true;
            cc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        CURLMcode mc = curl_multi_perform(s->multi, &running);
        if (mc != CURLM_OK) {
            cc = CURLE_RECV_ERROR;
            break;
        }
        if (!running)
            break;
        mc = curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK) {
            cc = CURLE_RECV_ERROR;
            break;
        }
    }
    if (!*cancelled && cc == CURLE_OK) {
        int left = 0;
        CURLMsg *m = NULL;
        while ((m = curl_multi_info_read(s->multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE && m->easy_handle == s->easy)
                cc = m->data.result;
    }
    curl_multi_remove_handle(s->multi, s->easy);
    if (cancel != NULL)
        cancel_unregister(cancel, &w);
    return cc;
}

/* The apiserver's Status message from an error body, when it is one. */
static void status_message(const struct cg_buf *body, char *out, size_t cap)
{
    out[0] = '\0';
    if (body->len == 0)
        return;
    json_error_t jerr;
    json_t *doc = json_loadb(body->data, body->len, 0, &jerr);
    const char *msg = json_string_value(json_object_get(doc, "message"));
    if (msg != NULL)
        snprintf(out, cap, "%s", msg);
    else {
        /* Not a Status (a proxy's HTML page): show its start. */
        size_t n = body->len < 120 ? body->len : 120;
        size_t j = 0;
        for (size_t i = 0; i < n && j + 1 < cap; i++)
            out[j++] = isprint((unsigned char)body->data[i]) ? body->data[i] : ' ';
        out[j] = '\0';
    }
    json_decref(doc);
}

static bool is_tls_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return true;
    default:
        return false;
    }
}

static enum cg_status classify_http(long code, const char *method, const char *path,
                                    struct cg_kube_response *resp, struct cg_err *err)
{
    enum cg_status st = CG_EINVAL;
    char msg[300];
    if (code >= 200 && code < 300) {
        resp->reason = CG_KUBE_NONE;
        return CG_OK;
    }
    status_message(&resp->body, msg, sizeof(msg));
    if (code == 401)
        resp->reason = CG_KUBE_UNAUTHORIZED;
    else if (code == 403)
        resp->reason = CG_KUBE_FORBIDDEN;
    else if (code == 404) {
        resp->reason = CG_KUBE_NOT_FOUND;
        st = CG_ENOTFOUND;
    } else if (code == 409)
        resp->reason = CG_KUBE_CONFLICT;
    else if (code == 410)
        resp->reason = CG_KUBE_GONE;
    else if (code == 429 || code >= 500) {
        resp->reason = CG_KUBE_RETRYABLE;
        st = CG_EIO;
    } else
        resp->reason = CG_KUBE_REJECTED;
    return cg_err_set(err, st, "%s %s: HTTP %ld, %s%s%s", method, path, code,
                      cg_kube_reason_str(resp->reason), msg[0] ? ": " : "", msg);
}

static void setup(struct cg_kube_client *c, struct slot *s, const struct cg__kube_xfer *x,
                  struct run *r, struct cg_buf *url, struct curl_slist *headers)
{
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_URL, url->data);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    long timeout = x->timeout_ms == 0 ? c->timeout_ms : x->timeout_ms;
    if (timeout > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, c->insecure ? "https,http" : "https");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* gzip when the server offers it */
    if (c->ca_pem.len > 0)
        set_blob(e, CURLOPT_CAINFO_BLOB, &c->ca_pem);
    if (c->cert_pem.len > 0) {
        set_blob(e, CURLOPT_SSLCERT_BLOB, &c->cert_pem);
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        set_blob(e, CURLOPT_SSLKEY_BLOB, &c->key_pem);
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (c->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method_name(x->method));
    if (x->method != CG_KUBE_GET && x->method != CG_KUBE_DELETE) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? x->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(x->body ? x->len : 0));
    } else if (x->body != NULL) { /* DELETE with DeleteOptions */
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->len);
    }
}

/* One attempt. *got_401 tells the caller a fresh token might help. */
static enum cg_status attempt(struct cg_kube_client *c, const struct cg__kube_xfer *x,
                              bool force_token, struct cg_kube_response *resp, bool *got_401,
                              struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct slot *s = NULL;
    struct curl_slist *headers = NULL;
    struct cg_buf url, auth;
    struct run r = {.x = x, .resp = resp, .max_body = c->max_body};
    bool cancelled = false, reusable = false;
    cg_buf_init(&url, 0);
    cg_buf_init(&auth, 0);
    *got_401 = false;
    cg_buf_reset(&resp->body);
    resp->code = 0;
    resp->reason = CG_KUBE_NONE;

    pthread_mutex_lock(&c->lock);
    st = token_refresh_locked(c, force_token, err);
    if (st == CG_OK && c->token != NULL)
        cg_buf_appendf(&auth, "Authorization: Bearer %s", c->token);
    pthread_mutex_unlock(&c->lock);
    if (st != CG_OK) {
        resp->reason = CG_KUBE_UNAUTHORIZED;
        goto out;
    }
    cg_buf_append_str(&url, c->server);
    cg_buf_append_str(&url, x->path);
    headers = add_header(headers, "Accept: application/json");
    headers = add_header(headers, content_type(x->method));
    headers = add_header(headers, "Expect:"); /* no 100-continue round trip for bodies */
    if (auth.len > 0)
        headers = add_header(headers, auth.data);
    for (char **h = c->impersonate; h != NULL && *h != NULL; h++)
        headers = add_header(headers, *h);

    s = slot_take(c);
    r.easy = s->easy;
    setup(c, s, x, &r, &url, headers);
    CURLcode cc = drive(s, x->cancel, &cancelled);
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &resp->code);
    const char *method = method_name(x->method);
    if (cancelled || cc == CURLE_ABORTED_BY_CALLBACK) {
        resp->reason = CG_KUBE_CANCELLED;
        st = cg_err_set(err, CG_EIO, "%s %s: cancelled", method, x->path);
    } else if (r.sink_aborted) {
        st = CG_EINTERNAL; /* the sink's owner says why */
    } else if (r.body_too_big) {
        resp->reason = CG_KUBE_TOO_BIG;
        st = cg_err_set(err, CG_ETOOBIG, "%s %s: response larger than %zu bytes", method, x->path,
                        c->max_body);
    } else if (cc != CURLE_OK && is_tls_error(cc)) {
        resp->reason = CG_KUBE_TLS;
        st = cg_err_set(err, CG_ETLS, "%s %s%s: %s", method, c->server, x->path,
                        curl_easy_strerror(cc));
    } else if (cc != CURLE_OK) {
        resp->reason = CG_KUBE_TRANSPORT;
        st = cg_err_set(err, CG_EIO, "%s %s%s: %s", method, c->server, x->path,
                        curl_easy_strerror(cc));
    } else {
        reusable = true;
        st = classify_http(resp->code, method, x->path, resp, err);
        *got_401 = resp->code == 401;
    }
out:
    if (s != NULL)
        slot_give(c, s, reusable);
    curl_slist_free_all(headers);
    if (auth.data != NULL)
        memset(auth.data, 0, auth.len);
    cg_buf_dispose(&auth);
    cg_buf_dispose(&url);
    return st;
}

enum cg_status cg__kube_perform(struct cg_kube_client *c, const struct cg__kube_xfer *x,
                                struct cg_kube_response *resp, struct cg_err *err)
{
    bool got_401 = false;
    enum cg_status st = attempt(c, x, false, resp, &got_401, err);
    /* An expired projected token: the kubelet has already written the next one. */
    if (got_401 && c->token_file != NULL)
        st = attempt(c, x, true, resp, &got_401, err);
    return st;
}

/* ---- paths and plain requests ---- */

enum cg_status cg__kube_escape(struct cg_buf *out, const char *s)
{
    enum cg_status st = CG_OK;
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p && st == CG_OK; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            st = cg_buf_append_char(out, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            st = cg_buf_append(out, e, 3);
        }
    }
    return st;
}

enum cg_status cg__kube_query_add(struct cg_buf *out, const char *key, const char *value)
{
    enum cg_status st = CG_OK;
    if (value == NULL)
        return CG_OK;
    bool has_query = out->data != NULL && memchr(out->data, '?', out->len) != NULL;
    if ((st = cg_buf_append_char(out, has_query ? '&' : '?')) != CG_OK ||
        (st = cg__kube_escape(out, key)) != CG_OK || (st = cg_buf_append_char(out, '=')) != CG_OK)
        return st;
    return cg__kube_escape(out, value);
}

enum cg_status cg_kube_path(struct cg_buf *out, const char *api, const char *namespace_,
                            const char *resource, const char *name, const char *subresource)
{
    enum cg_status st = CG_OK;
    if (api == NULL || api[0] == '\0' || resource == NULL || resource[0] == '\0')
        return CG_EINVAL;
    st = cg_buf_append_str(out, strchr(api, '/') ? "/apis/" : "/api/");
    if (st == CG_OK)
        st = cg_buf_append_str(out, api);
    if (st == CG_OK && namespace_ != NULL && namespace_[0] != '\0') {
        st = cg_buf_append_str(out, "/namespaces/");
        if (st == CG_OK)
            st = cg__kube_escape(out, namespace_);
    }
    if (st == CG_OK)
        st = cg_buf_append_char(out, '/');
    if (st == CG_OK)
        st = cg__kube_escape(out, resource);
    if (st == CG_OK && name != NULL && name[0] != '\0') {
        st = cg_buf_append_char(out, '/');
        if (st == CG_OK)
            st = cg__kube_escape(out, name);
        if (st == CG_OK && subresource != NULL && subresource[0] != '\0') {
            st = cg_buf_append_char(out, '/');
            if (st == CG_OK)
                st = cg__kube_escape(out, subresource);
        }
    }
    return st;
}

void cg_kube_response_init(struct cg_kube_response *r)
{
    r->code = 0;
    r->reason = CG_KUBE_NONE;
    cg_buf_init(&r->body, 0);
}

void cg_kube_response_dispose(struct cg_kube_response *r)
{
    if (r != NULL)
        cg_buf_dispose(&r->body);
}

enum cg_status cg_kube_request(struct cg_kube_client *c, enum cg_kube_method method,
                               const char *path, const char *body, size_t len,
                               struct cg_kube_response *resp, struct cg_err *err)
{
    struct cg__kube_xfer x = {.method = method, .path = path, .body = body, .len = len};
    assert(resp != NULL);
    return cg__kube_perform(c, &x, resp, err);
}

enum cg_status cg_kube_get(struct cg_kube_client *c, const char *api, const char *namespace_,
                           const char *resource, const char *name, struct cg_kube_response *resp,
                           struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_buf path;
    cg_buf_init(&path, 0);
    st = cg_kube_path(&path, api, namespace_, resource, name, NULL);
    if (st != CG_OK) {
        cg_err_set(err, st, "GET: no api version or resource");
        goto out;
    }
    st = cg_kube_request(c, CG_KUBE_GET, path.data, NULL, 0, resp, err);
out:
    cg_buf_dispose(&path);
    return st;
}
