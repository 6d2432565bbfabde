/* WATCH: the apiserver streams one JSON object per event, each ending in a newline. Bytes are
 * appended to a buffer as they arrive; every complete line is decoded by the admission
 * scanner in one pass (type, the object's extent, its metadata.resourceVersion, and a
 * Status' code for ERROR) and handed out; the buffer is then compacted, so memory follows the
 * largest event, never the stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission/scan.h"
#include "base/mem.h"
#include "kube/kube.h"
#include "kube/kube_internal.h"

#define DEFAULT_TIMEOUT_SECONDS 300
/* The transfer's own deadline beyond the server's timeoutSeconds: a stream that neither ends
 * nor speaks by then is dead. */
#define WATCH_SLACK_MS 30000

/* The object's metadata.resourceVersion, and for a Status its code and message. */
static bool decode_object(struct cg__scan *sc, struct cg__kube_wevent *ev)
{
    struct cg__scan_obj o, m;
    struct cg__scan_keyref key;
    int r;
    if (!cg__scan_obj_open(sc, &o))
        return false;
    while ((r = cg__scan_obj_next(sc, &o, &key)) == 1) {
        size_t at = sc->i, off, len;
        bool esc, is_int;
        int c = cg__scan_peek(sc);
        if (cg_str_eq_c(key.text, "metadata") && c == '{') {
            if (!cg__scan_obj_open(sc, &m))
                return false;
            while ((r = cg__scan_obj_next(sc, &m, &key)) == 1) {
                if (!cg_str_eq_c(key.text, "resourceVersion")) {
                    if (!cg__scan_skip(sc))
                        return false;
                    continue;
                }
                at = sc->i;
                if (cg__scan_peek(sc) != '"')
                    return cg__scan_fail(sc, at,
                                         "object.metadata.resourceVersion: expected a "
                                         "string");
                if (!cg__scan_string(sc, &off, &len, &esc))
                    return false;
                if (!cg__kube_copy_json_string((const char *)sc->s + off, len, esc,
                                               ev->resource_version, sizeof(ev->resource_version)))
                    return cg__scan_fail(sc, at, "object.metadata.resourceVersion: too long");
            }
            if (r != 0)
                return false;
        } else if (cg_str_eq_c(key.text, "code") && (c == '-' || (c >= '0' && c <= '9'))) {
            if (!cg__scan_number(sc, &off, &len, &is_int))
                return false;
            ev->code = is_int && len < 12 ? strtol((const char *)sc->s + off, NULL, 10) : 0;
        } else if (cg_str_eq_c(key.text, "message") && c == '"') {
            if (!cg__scan_string(sc, &off, &len, &esc))
                return false;
            if (len >= sizeof(ev->message))
                len = sizeof(ev->message) - 1; /* a message cut short is still a message */
            cg__kube_copy_json_string((const char *)sc->s + off, len, false, ev->message,
                                      sizeof(ev->message));
        } else if (!cg__scan_skip(sc)) {
            return false;
        }
    }
    return r == 0;
}

static bool type_of(struct cg_str s, enum cg__kube_wtype *t)
{
    static const struct {
        const char *name;
        enum cg__kube_wtype type;
    } types[] = {{"ADDED", CG__KUBE_W_ADDED},
                 {"MODIFIED", CG__KUBE_W_MODIFIED},
                 {"DELETED", CG__KUBE_W_DELETED},
                 {"BOOKMARK", CG__KUBE_W_BOOKMARK},
                 {"ERROR", CG__KUBE_W_ERROR}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (cg_str_eq_c(s, types[i].name)) {
            *t = types[i].type;
            return true;
        }
    return false;
}

enum cg_status cg__kube_wevent_decode(const char *line, size_t len, struct cg__kube_wevent *ev,
                                      struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg__scan sc;
    struct cg__scan_obj o;
    struct cg__scan_keyref key;
    bool have_type = false, have_obj = false, ok = false;
    int r;
    memset(ev, 0, sizeof(*ev));
    cg__scan_init(&sc, line, len, err);
    if (cg__scan_peek(&sc) != '{') {
        cg__scan_fail(&sc, sc.i, "expected an event object");
        goto out;
    }
    if (!cg__scan_obj_open(&sc, &o))
        goto out;
    while ((r = cg__scan_obj_next(&sc, &o, &key)) == 1) {
        size_t at = sc.i;
        if (cg_str_eq_c(key.text, "type")) {
            size_t off, n;
            bool esc;
            if (cg__scan_peek(&sc) != '"') {
                cg__scan_fail(&sc, at, "type: expected a string");
                goto out;
            }
            if (!cg__scan_string(&sc, &off, &n, &esc))
                goto out;
            if (esc || !type_of((struct cg_str){line + off, n}, &ev->type)) {
                cg__scan_fail(&sc, at, "type: unknown event type \"%.*s\"", (int)(n > 32 ? 32 : n),
                              line + off);
                goto out;
            }
            have_type = true;
        } else if (cg_str_eq_c(key.text, "object")) {
            if (cg__scan_peek(&sc) != '{') {
                cg__scan_fail(&sc, at, "object: expected an object");
                goto out;
            }
            ev->obj_off = sc.i;
            if (!decode_object(&sc, ev))
                goto out;
            ev->obj_len = sc.i - ev->obj_off;
            have_obj = true;
        } else if (!cg__scan_skip(&sc)) {
            goto out;
        }
    }
    if (r != 0)
        goto out;
    if (cg__scan_peek(&sc) != -1) {
        cg__scan_fail(&sc, sc.i, "text after the event");
        goto out;
    }
    if (!have_type || !have_obj) {
        cg__scan_fail(&sc, 0, "event without %s", have_type ? "an object" : "a type");
        goto out;
    }
    ok = true;
out:
    if (!ok) {
        st = CG_EPARSE;
        if (!sc.failed)
            cg_err_set(err, CG_EPARSE, "malformed watch event");
    }
    cg__scan_dispose(&sc);
    return st;
}

void cg__kube_wstream_init(struct cg__kube_wstream *w, size_t max_event, char *resource_version,
                           cg_kube_event_fn fn, void *ud)
{
    memset(w, 0, sizeof(*w));
    cg_buf_init(&w->buf, 0); /* the cap is checked per event, below */
    w->max_event = max_event;
    w->resource_version = resource_version;
    w->fn = fn;
    w->ud = ud;
    w->status = CG_OK;
    w->reason = CG_KUBE_NONE;
    cg_err_clear(&w->err);
}

void cg__kube_wstream_dispose(struct cg__kube_wstream *w)
{
    cg_buf_dispose(&w->buf);
}

static void end(struct cg__kube_wstream *w, enum cg_status st, enum cg_kube_reason reason)
{
    w->done = true;
    w->status = st;
    w->reason = reason;
}

/* One complete line: decode and dispatch. Returns false when the stream must end. */
static bool handle_line(struct cg__kube_wstream *w, const char *p, size_t n)
{
    struct cg__kube_wevent ev;
    size_t s = 0;
    while (s < n && (p[s] == ' ' || p[s] == '\t' || p[s] == '\r'))
        s++;
    if (s == n)
        return true; /* a blank line (keep-alive) */
    if (cg__kube_wevent_decode(p, n, &ev, &w->err) != CG_OK) {
        end(w, CG_EPARSE, CG_KUBE_MALFORMED);
        return false;
    }
    if (ev.type == CG__KUBE_W_ERROR) {
        /* The object is a Status: 410 is "your resourceVersion is too old: re-list"; others
         * (500 from an etcd hiccup) end this watch to be retried. */
        if (ev.code == 410) {
            cg_err_set(&w->err, CG_EINVAL, "watch: 410 Gone: %s", ev.message);
            end(w, CG_EINVAL, CG_KUBE_GONE);
        } else {
            cg_err_set(&w->err, CG_EIO, "watch: ERROR event, code %ld: %s", ev.code, ev.message);
            end(w, CG_EIO,
                ev.code == 429 || ev.code >= 500 || ev.code == 0 ? CG_KUBE_RETRYABLE
                                                                 : CG_KUBE_REJECTED);
        }
        return false;
    }
    if (ev.resource_version[0] != '\0')
        memcpy(w->resource_version, ev.resource_version, CG_KUBE_RV_MAX);
    if (ev.type == CG__KUBE_W_BOOKMARK) {
        w->counts.bookmarks++;
        return true;
    }
    w->counts.events++;
    enum cg_kube_watch_type t = ev.type == CG__KUBE_W_ADDED      ? CG_KUBE_ADDED
                                : ev.type == CG__KUBE_W_MODIFIED ? CG_KUBE_MODIFIED
                                                                 : CG_KUBE_DELETED;
    if (!w->fn(w->ud, t, p + ev.obj_off, ev.obj_len)) {
        end(w, CG_OK, CG_KUBE_NONE);
        return false;
    }
    return true;
}

bool cg__kube_wstream_feed(struct cg__kube_wstream *w, const char *data, size_t len)
{
    size_t start = 0;
    bool go = true;
    if (w->done)
        return false;
    w->counts.bytes += len;
    if (cg_buf_append(&w->buf, data, len) != CG_OK) {
        cg_err_set(&w->err, CG_ETOOBIG, "watch: out of buffer");
        end(w, CG_ETOOBIG, CG_KUBE_TOO_BIG);
        return false;
    }
    while (go) {
        char *nl = memchr(w->buf.data + w->scanned, '\n', w->buf.len - w->scanned);
        if (nl == NULL) {
            w->scanned = w->buf.len;
            break;
        }
        size_t line_len = (size_t)(nl - (w->buf.data + start));
        if (line_len > w->max_event) {
            cg_err_set(&w->err, CG_ETOOBIG, "watch: an event of %zu bytes, the cap is %zu",
                       line_len, w->max_event);
            end(w, CG_ETOOBIG, CG_KUBE_TOO_BIG);
            return false;
        }
        go = handle_line(w, w->buf.data + start, line_len);
        start += line_len + 1;
        w->scanned = start;
    }
    if (!go)
        return false;
    /* Compact: what is left is the start of the next event. */
    if (start > 0) {
        memmove(w->buf.data, w->buf.data + start, w->buf.len - start);
        w->buf.len -= start;
        w->scanned -= start;
        w->buf.data[w->buf.len] = '\0';
    }
    if (w->buf.len > w->max_event) {
        cg_err_set(&w->err, CG_ETOOBIG, "watch: an event larger than %zu bytes", w->max_event);
        end(w, CG_ETOOBIG, CG_KUBE_TOO_BIG);
        return false;
    }
    /* A buffer that once held a huge event gives its memory back. */
    if (w->buf.len == 0 && w->buf.cap > (1u << 20)) {
        cg_buf_dispose(&w->buf);
        cg_buf_init(&w->buf, 0);
        w->scanned = 0;
    }
    return true;
}

enum cg_status cg__kube_wstream_finish(struct cg__kube_wstream *w)
{
    if (w->done)
        return w->status;
    size_t s = 0;
    while (s < w->buf.len && (w->buf.data[s] == ' ' || w->buf.data[s] == '\r' ||
                              w->buf.data[s] == '\t' || w->buf.data[s] == '\n'))
        s++;
    if (s == w->buf.len)
        return CG_OK;
    /* A last event without its newline is still whole when it decodes. */
    struct cg__kube_wevent ev;
    struct cg_err tmp;
    if (cg__kube_wevent_decode(w->buf.data, w->buf.len, &ev, &tmp) == CG_OK) {
        handle_line(w, w->buf.data, w->buf.len);
        return w->done ? w->status : CG_OK;
    }
    cg_err_set(&w->err, CG_EIO, "watch: the stream ended inside an event (%zu bytes)",
               w->buf.len - s);
    end(w, CG_EIO, CG_KUBE_TRANSPORT);
    return w->status;
}

static bool watch_write(void *ud, const char *data, size_t len)
{
    return cg__kube_wstream_feed(ud, data, len);
}

enum cg_status cg_kube_watch(struct cg_kube_client *c, const char *path,
                             const struct cg_kube_watch_options *options, char *resource_version,
                             cg_kube_event_fn fn, void *ud, struct cg_kube_watch_result *result,
                             struct cg_kube_response *resp, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_kube_watch_options none = {0};
    struct cg_kube_response local_resp;
    struct cg__kube_wstream w;
    struct cg_buf url;
    char timeout[24];
    cg_kube_response_init(&local_resp);
    cg__kube_wstream_init(&w, cg__kube_client_max_event(c), resource_version, fn, ud);
    cg_buf_init(&url, 0);
    if (options == NULL)
        options = &none;
    if (resp == NULL)
        resp = &local_resp;
    int secs = options->timeout_seconds > 0 ? options->timeout_seconds : DEFAULT_TIMEOUT_SECONDS;
    snprintf(timeout, sizeof(timeout), "%d", secs);
    cg_buf_append_str(&url, path);
    cg__kube_query_add(&url, "watch", "true");
    cg__kube_query_add(&url, "allowWatchBookmarks", "true");
    cg__kube_query_add(&url, "timeoutSeconds", timeout);
    if (resource_version[0] != '\0')
        cg__kube_query_add(&url, "resourceVersion", resource_version);
    cg__kube_query_add(&url, "labelSelector", options->label_selector);
    cg__kube_query_add(&url, "fieldSelector", options->field_selector);
    struct cg__kube_xfer x = {.method = CG_KUBE_GET,
                              .path = url.data,
                              .sink = watch_write,
                              .sink_ud = &w,
                              .timeout_ms = (long)secs * 1000 + WATCH_SLACK_MS,
                              .cancel = options->cancel};
    st = cg__kube_perform(c, &x, resp, err);
    if (st == CG_EINTERNAL && w.done) {
        /* The stream decided to end: a stop asked by fn is a success. */
        st = w.status;
        resp->reason = w.reason;
        if (st != CG_OK) {
            char msg[CG_ERR_MSG_MAX];
            snprintf(msg, sizeof(msg), "%s", w.err.msg);
            cg_err_set(err, st, "WATCH %s: %s", path, msg);
        }
    } else if (st == CG_OK) {
        st = cg__kube_wstream_finish(&w);
        resp->reason = w.reason;
        if (st != CG_OK) {
            char msg[CG_ERR_MSG_MAX];
            snprintf(msg, sizeof(msg), "%s", w.err.msg);
            cg_err_set(err, st, "WATCH %s: %s", path, msg);
        }
    } else if (resp->reason == CG_KUBE_TRANSPORT && w.buf.len > 0) {
        char msg[CG_ERR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
        cg_err_set(err, st, "%s (cut inside an event of %zu bytes so far)", msg, w.buf.len);
    }
    if (result != NULL)
        *result = w.counts;
    cg_buf_dispose(&url);
    cg__kube_wstream_dispose(&w);
    cg_kube_response_dispose(&local_resp);
    return st;
}
