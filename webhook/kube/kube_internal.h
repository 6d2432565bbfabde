/* Internal to the kube module (and visible to its tests and fuzz targets): the LIST page and
 * WATCH stream parsers, which are pure functions of bytes, and the transfer engine the public
 * calls share. */
#ifndef CG_KUBE_KUBE_INTERNAL_H
#define CG_KUBE_KUBE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "kube/kube.h"

/* ---- LIST pages ---- */

struct cg__kube_span {
    size_t off, len;
};

/* One page, decoded: the items' byte ranges in the body, and the list's metadata. */
struct cg__kube_list_page {
    struct cg__kube_span *items; /* heap, grown as needed, kept across pages */
    size_t n_items, cap_items;
    char resource_version[CG_KUBE_RV_MAX];
    char *cont; /* metadata.continue (heap), NULL or "" when this is the last page */
};

void cg__kube_list_page_init(struct cg__kube_list_page *p);
void cg__kube_list_page_dispose(struct cg__kube_list_page *p);
/* Validates body whole (RFC 8259, the admission scanner's rules) and records where each item
 * of "items" is. CG_EPARSE for bad JSON or a wrong type (items not an array of objects,
 * metadata not an object, a resourceVersion that is not a string or is too long). */
enum cg_status cg__kube_list_page_decode(const char *body, size_t len, struct cg__kube_list_page *p,
                                         struct cg_err *err);

/* ---- WATCH streams ---- */

enum cg__kube_wtype {
    CG__KUBE_W_ADDED,
    CG__KUBE_W_MODIFIED,
    CG__KUBE_W_DELETED,
    CG__KUBE_W_BOOKMARK,
    CG__KUBE_W_ERROR,
};

/* One event line, decoded: where its object is, the object's metadata.resourceVersion, and
 * for ERROR the Status' code and message. */
struct cg__kube_wevent {
    enum cg__kube_wtype type;
    size_t obj_off, obj_len;
    char resource_version[CG_KUBE_RV_MAX]; /* empty when the object has none */
    long code;                             /* Status.code of an ERROR; 0 otherwise */
    char message[256];                     /* Status.message of an ERROR */
};

/* Decodes one event ({"type":..., "object":{...}}). CG_EPARSE on bad JSON, a missing or
 * unknown type, a missing object or one that is not an object. */
enum cg_status cg__kube_wevent_decode(const char *line, size_t len, struct cg__kube_wevent *ev,
                                      struct cg_err *err);

/* The stream framer: bytes in as they arrive, events out one at a time. */
struct cg__kube_wstream {
    struct cg_buf buf; /* bytes of the events not yet complete */
    size_t scanned;    /* bytes of buf known to hold no newline */
    size_t max_event;
    cg_kube_event_fn fn;
    void *ud;
    char *resource_version; /* caller's, CG_KUBE_RV_MAX bytes */
    struct cg_kube_watch_result counts;
    /* Set when the stream must end: */
    bool done;
    enum cg_status status;
    enum cg_kube_reason reason;
    struct cg_err err;
};

void cg__kube_wstream_init(struct cg__kube_wstream *w, size_t max_event, char *resource_version,
                           cg_kube_event_fn fn, void *ud);
void cg__kube_wstream_dispose(struct cg__kube_wstream *w);
/* Feeds bytes; every complete event is handled before it returns. Returns false when the
 * stream must end (w->done: fn asked to stop, an ERROR event, a bad or over-size event). */
bool cg__kube_wstream_feed(struct cg__kube_wstream *w, const char *data, size_t len);
/* The stream ended: an unterminated event left over is a cut stream (CG_KUBE_TRANSPORT), unless
 * it is a whole event without its newline. Returns w->status. */
enum cg_status cg__kube_wstream_finish(struct cg__kube_wstream *w);

/* ---- transfers ---- */

/* Receives a 2xx response's body as it arrives; returns false to abort the transfer (after
 * recording why in its own state). */
typedef bool (*cg__kube_sink_fn)(void *ud, const char *data, size_t len);

struct cg__kube_xfer {
    enum cg_kube_method method;
    const char *path; /* with query */
    const char *body;
    size_t len;
    cg__kube_sink_fn sink; /* NULL: keep the body in resp->body (max_body) */
    void *sink_ud;
    long timeout_ms; /* 0: the client's; -1: none */
    struct cg_kube_cancel *cancel;
};

/* Runs one transfer (with the 401 retry) and classifies its outcome into resp and err. When
 * the sink aborted, the caller's sink state says why: it returns CG_EINTERNAL with
 * resp->reason CG_KUBE_NONE for the caller to fill in. */
enum cg_status cg__kube_perform(struct cg_kube_client *c, const struct cg__kube_xfer *x,
                                struct cg_kube_response *resp, struct cg_err *err);

/* Appends s percent-encoded (RFC 3986 unreserved characters pass). */
enum cg_status cg__kube_escape(struct cg_buf *out, const char *s);
/* "path?a=b&c=d" for list and watch requests. */
enum cg_status cg__kube_query_add(struct cg_buf *out, const char *key, const char *value);
/* Copies a JSON string's raw text (unescaping it) into dst of cap bytes as a C string; false
 * when it does not fit. */
bool cg__kube_copy_json_string(const char *raw, size_t n, bool esc, char *dst, size_t cap);
/* Client options after defaults. */
size_t cg__kube_client_max_page(const struct cg_kube_client *c);
size_t cg__kube_client_max_event(const struct cg_kube_client *c);
long cg__kube_client_timeout_ms(const struct cg_kube_client *c);

#endif
