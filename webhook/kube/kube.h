/* The Kubernetes API client: credentials (a kubeconfig file or the in-cluster service
 * account), requests over libcurl, LIST with pagination, WATCH as a stream of events, and an
 * informer thread (LIST, then WATCH from the list's resourceVersion, re-LIST on 410 Gone).
 * This is the only code in cellgate that knows libcurl.
 *
 * Ownership, once for the whole API: what a create/load function returns is freed by the
 * matching destroy, which accepts NULL; struct cg_kube_response is caller storage
 * (init/dispose); JSON handed to a callback is borrowed for the duration of the call.
 *
 * Errors: every function returns enum cg_status and fills a struct cg_err (file and what is
 * wrong). A call that talks to the API server also says *why* in its response's
 * enum cg_kube_reason, because callers act on it differently: a 409 means re-read and retry,
 * a 410 means re-list, a 503 means back off, a 403 means fix RBAC. The cg_status mapping is
 * coarse on purpose: transport, cancellation, 429 and 5xx are CG_EIO; TLS failures CG_ETLS;
 * 404 CG_ENOTFOUND; every other refusal (401, 403, 409, 410, 4xx) CG_EINVAL; a response that
 * does not parse CG_EPARSE; one over its cap CG_ETOOBIG.
 *
 * Threads: a client is immutable after create apart from its token and its pool of idle
 * connections (each under a lock), so any number of threads may use one client at once.
 * Transfers run with CURLOPT_NOSIGNAL (signals and threads do not mix), so the process must
 * ignore SIGPIPE, as cellgate's programs do: a server that hangs up must not kill it. */
#ifndef CG_KUBE_KUBE_H
#define CG_KUBE_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

/* Longest resourceVersion kept (they are opaque; etcd's are decimal numbers), with its NUL. */
#define CG_KUBE_RV_MAX 128

/* ---- why a call to the API server failed ---- */

#define CG_KUBE_REASON_MAP(X)                                                                      \
    X(NONE, "ok")                                                                                  \
    X(TRANSPORT, "transport error (connect, reset, timeout, cut stream)")                          \
    X(TLS, "TLS error")                                                                            \
    X(UNAUTHORIZED, "unauthorized (401)")                                                          \
    X(FORBIDDEN, "forbidden (403)")                                                                \
    X(NOT_FOUND, "not found (404)")                                                                \
    X(CONFLICT, "conflict (409)")                                                                  \
    X(GONE, "gone (410): re-list")                                                                 \
    X(RETRYABLE, "retryable (429 or 5xx)")                                                         \
    X(REJECTED, "rejected (4xx)")                                                                  \
    X(MALFORMED, "malformed response")                                                             \
    X(TOO_BIG, "response too large")                                                               \
    X(CANCELLED, "cancelled")

enum cg_kube_reason {
#define CG__KUBE_REASON_ENUM(name, text) CG_KUBE_##name,
    CG_KUBE_REASON_MAP(CG__KUBE_REASON_ENUM)
#undef CG__KUBE_REASON_ENUM
};

/* A short constant description ("conflict (409)"). Never NULL. */
const char *cg_kube_reason_str(enum cg_kube_reason reason);
/* Worth retrying the same request later, unchanged: transport, 429 and 5xx. */
bool cg_kube_reason_retryable(enum cg_kube_reason reason);

/* ---- credentials ---- */

/* Flags of the config loaders. */
#define CG_KUBE_ALLOW_INSECURE 1u /* accept insecure-skip-tls-verify (and http:// servers) */

/* Where and how to reach one API server, as loaded. Read-only to callers. */
struct cg_kube_config {
    char *server;           /* "https://host:port[/prefix]", no trailing '/' */
    char *namespace_;       /* the context's or the service account's namespace; NULL: none */
    char *context;          /* the kubeconfig context used; NULL in-cluster */
    char *source;           /* the kubeconfig path or the service-account directory, for messages */
    struct cg_buf ca_pem;   /* trusted CAs (PEM); empty: the system's */
    struct cg_buf cert_pem; /* client certificate (PEM); empty: none */
    struct cg_buf key_pem;  /* its private key (PEM); set exactly when cert_pem is */
    char *token;            /* a fixed bearer token, or NULL */
    char *token_file;       /* a bearer token re-read as it rotates, or NULL */
    bool insecure;          /* TLS verification off (only with CG_KUBE_ALLOW_INSECURE) */
};

/* Loads the kubeconfig at path, using context (NULL: its current-context). Relative file
 * names in it are relative to the file's directory. Errors name the file, and the line and
 * column of the offending node when there is one. Unsupported authentication (exec plugins,
 * auth-provider, basic auth) is CG_EUNSUPPORTED; insecure-skip-tls-verify without
 * CG_KUBE_ALLOW_INSECURE is CG_EINVAL. */
enum cg_status cg_kube_config_load(const char *path, const char *context, unsigned flags,
                                   struct cg_kube_config **out, struct cg_err *err);
/* The same from bytes in memory; path names them in messages and anchors relative file names
 * (NULL: "kubeconfig", relative to the working directory). */
enum cg_status cg_kube_config_decode(const char *data, size_t len, const char *path,
                                     const char *context, unsigned flags,
                                     struct cg_kube_config **out, struct cg_err *err);
/* The in-cluster config: KUBERNETES_SERVICE_HOST / _PORT and the service account directory
 * dir (NULL: /var/run/secrets/kubernetes.io/serviceaccount) with token (re-read as it
 * rotates), ca.crt and namespace (optional). */
enum cg_status cg_kube_config_in_cluster(const char *dir, struct cg_kube_config **out,
                                         struct cg_err *err);
void cg_kube_config_destroy(struct cg_kube_config *cfg);

/* ---- cancellation ---- */

/* Aborts transfers from another thread at once (not at libcurl's next progress tick): a
 * transfer given a cancel polls with curl_multi_poll, which cg_kube_cancel_fire wakes. Once
 * fired, every transfer using it ends with CG_KUBE_CANCELLED. */
struct cg_kube_cancel;
struct cg_kube_cancel *cg_kube_cancel_create(void);
/* No transfer may be using it any more. Accepts NULL. */
void cg_kube_cancel_destroy(struct cg_kube_cancel *cancel);
void cg_kube_cancel_fire(struct cg_kube_cancel *cancel);
bool cg_kube_cancel_fired(struct cg_kube_cancel *cancel);

/* ---- the client ---- */

struct cg_kube_client_options {
    long connect_timeout_ms; /* 0: 10 s */
    long timeout_ms;         /* one request or one LIST page, not a watch; 0: 30 s */
    size_t max_body;         /* bytes of a response kept by cg_kube_request; 0: 16 MiB */
    size_t max_page;         /* bytes of one LIST page; 0: 256 MiB */
    size_t max_event;        /* bytes of one WATCH event; 0: 16 MiB */
    const char *user_agent;  /* NULL: "cellgate/0.1" */
    /* Act as another user (kubectl --as / --as-group): Impersonate-User and one
     * Impersonate-Group header per group on every request; the credentials' own identity
     * needs RBAC's impersonate verb. NULL / 0: none. Groups need a user; a value holding a
     * control character is CG_EINVAL. */
    const char *impersonate_user;
    const char *const *impersonate_groups;
    size_t n_impersonate_groups;
};

struct cg_kube_client;

/* Copies what it needs of cfg (which may be destroyed afterwards). options may be NULL. */
enum cg_status cg_kube_client_create(const struct cg_kube_config *cfg,
                                     const struct cg_kube_client_options *options,
                                     struct cg_kube_client **out, struct cg_err *err);
/* No request may be running. Accepts NULL. */
void cg_kube_client_destroy(struct cg_kube_client *c);
/* The config's namespace (borrowed), or NULL. */
const char *cg_kube_client_namespace(const struct cg_kube_client *c);

/* The outcome of one call: the HTTP status (0 when none arrived), the reason, and the body
 * (the object on success; the apiserver's Status on failure, when it sent one). */
struct cg_kube_response {
    long code;
    enum cg_kube_reason reason;
    struct cg_buf body;
};
void cg_kube_response_init(struct cg_kube_response *r);
void cg_kube_response_dispose(struct cg_kube_response *r);

enum cg_kube_method {
    CG_KUBE_GET,
    CG_KUBE_POST, /* create */
    CG_KUBE_PUT,  /* update (replace) */
    CG_KUBE_DELETE,
    CG_KUBE_PATCH_MERGE,     /* application/merge-patch+json */
    CG_KUBE_PATCH_JSON,      /* application/json-patch+json */
    CG_KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
};

/* Appends the API path of a resource to out: api is "v1" (core, /api/v1) or "group/version"
 * (/apis/group/version); namespace_, name and subresource may be NULL. Names are
 * percent-encoded. CG_EINVAL on an empty api or resource. */
enum cg_status cg_kube_path(struct cg_buf *out, const char *api, const char *namespace_,
                            const char *resource, const char *name, const char *subresource);

/* One request: method on path (with its query, if any), with body (len bytes; NULL for none)
 * as JSON or the patch type of the method. resp is reset first. On a 401 with a rotating
 * token the token is re-read and the request sent once more. */
enum cg_status cg_kube_request(struct cg_kube_client *c, enum cg_kube_method method,
                               const char *path, const char *body, size_t len,
                               struct cg_kube_response *resp, struct cg_err *err);
/* GET of one object (see cg_kube_path). */
enum cg_status cg_kube_get(struct cg_kube_client *c, const char *api, const char *namespace_,
                           const char *resource, const char *name, struct cg_kube_response *resp,
                           struct cg_err *err);

/* ---- LIST ---- */

/* One item of a list, as its raw JSON text (an object). Return false to stop the list
 * (it then ends with CG_KUBE_CANCELLED). */
typedef bool (*cg_kube_item_fn)(void *ud, const char *json, size_t len);

struct cg_kube_list_options {
    const char *label_selector; /* NULL: none */
    const char *field_selector; /* NULL: none */
    unsigned limit;             /* items per page; 0: 500 */
    struct cg_kube_cancel *cancel;
};

struct cg_kube_list_result {
    char resource_version[CG_KUBE_RV_MAX]; /* of the list (its first page) */
    size_t pages, items;
    uint64_t bytes; /* response bytes read */
};

/* Lists path (a collection, "/api/v1/pods"), page by page. Each page is read whole (capped by
 * max_page), validated whole by the admission scanner, and only then are its items handed to
 * fn in order: a malformed page delivers nothing. No DOM is built. A 410 on a continue token
 * (it expired) is reported as CG_KUBE_GONE: list again from the start. options may be NULL;
 * resp and result may be NULL. */
enum cg_status cg_kube_list(struct cg_kube_client *c, const char *path,
                            const struct cg_kube_list_options *options, cg_kube_item_fn fn,
                            void *ud, struct cg_kube_list_result *result,
                            struct cg_kube_response *resp, struct cg_err *err);

/* ---- WATCH ---- */

enum cg_kube_watch_type { CG_KUBE_ADDED, CG_KUBE_MODIFIED, CG_KUBE_DELETED };

/* One event: its type and the raw JSON of its object. Return false to end the watch (it then
 * returns CG_OK). */
typedef bool (*cg_kube_event_fn)(void *ud, enum cg_kube_watch_type type, const char *json,
                                 size_t len);

struct cg_kube_watch_options {
    const char *label_selector;
    const char *field_selector;
    int timeout_seconds; /* the server ends the watch after this; 0: 300 */
    struct cg_kube_cancel *cancel;
};

struct cg_kube_watch_result {
    uint64_t events, bookmarks, bytes;
};

/* Watches path from resource_version (in/out, CG_KUBE_RV_MAX bytes; updated by every event
 * and bookmark, so a new watch resumes where this one ended), with bookmarks on. The stream
 * is parsed one newline-terminated event at a time; memory is bounded by the largest event
 * (max_event), never by the stream. Bookmarks only move resource_version. CG_OK when the
 * server ended the watch (timeout_seconds) or fn returned false; an ERROR event or HTTP 410
 * is CG_KUBE_GONE (re-list); a cut stream CG_KUBE_TRANSPORT; a bad event CG_KUBE_MALFORMED.
 * options, result and resp may be NULL. */
enum cg_status cg_kube_watch(struct cg_kube_client *c, const char *path,
                             const struct cg_kube_watch_options *options, char *resource_version,
                             cg_kube_event_fn fn, void *ud, struct cg_kube_watch_result *result,
                             struct cg_kube_response *resp, struct cg_err *err);

/* ---- conveniences ---- */

/* An object an Event is about. */
struct cg_kube_object_ref {
    const char *api_version, *kind, *namespace_, *name, *uid; /* uid may be NULL */
};

struct cg_kube_event_spec {
    struct cg_kube_object_ref object;
    const char *type;      /* "Normal" or "Warning"; NULL: Normal */
    const char *reason;    /* UpperCamelCase, e.g. "GroupStarted" */
    const char *message;   /* for people */
    const char *component; /* e.g. "cellgate-controller" */
    int64_t now_us;        /* unix microseconds; 0: the clock's */
};

/* Creates a core/v1 Event about ev->object in its namespace ("default" without one). */
enum cg_status cg_kube_event_create(struct cg_kube_client *c, const struct cg_kube_event_spec *ev,
                                    struct cg_kube_response *resp, struct cg_err *err);

#define CG_KUBE_HOLDER_MAX 256

/* A coordination.k8s.io/v1 Lease's spec and resourceVersion. Times are unix microseconds
 * (0: unset). */
struct cg_kube_lease {
    char holder[CG_KUBE_HOLDER_MAX]; /* holderIdentity; empty: none */
    int32_t duration_seconds;
    int64_t acquire_us, renew_us;
    int32_t transitions;
    char resource_version[CG_KUBE_RV_MAX];
};

/* Reads lease namespace_/name into *out. CG_ENOTFOUND when there is none. */
enum cg_status cg_kube_lease_get(struct cg_kube_client *c, const char *namespace_, const char *name,
                                 struct cg_kube_lease *out, struct cg_kube_response *resp,
                                 struct cg_err *err);
/* Creates it from *in (its resource_version is ignored); *out gets what the server stored
 * (out may be in). A lease that exists already: CG_EINVAL with CG_KUBE_CONFLICT. */
enum cg_status cg_kube_lease_create(struct cg_kube_client *c, const char *namespace_,
                                    const char *name, const struct cg_kube_lease *in,
                                    struct cg_kube_lease *out, struct cg_kube_response *resp,
                                    struct cg_err *err);
/* Replaces it with *in, which must carry the resource_version it was read at: a stale one is
 * CG_EINVAL with CG_KUBE_CONFLICT (someone else renewed it first). */
enum cg_status cg_kube_lease_update(struct cg_kube_client *c, const char *namespace_,
                                    const char *name, const struct cg_kube_lease *in,
                                    struct cg_kube_lease *out, struct cg_kube_response *resp,
                                    struct cg_err *err);

/* ---- the informer ---- */

/* All called on the informer's thread, with the config's ud. */
struct cg_kube_informer_handlers {
    /* A LIST starts (the first, or a re-list after 410 Gone or a failed list): what the
     * consumer holds is replaced by what follows until replace_end. A replace_begin with no
     * replace_end before it means the previous list was abandoned half-way. */
    void (*replace_begin)(void *ud);
    /* One LIST item (CG_KUBE_ADDED) or one watch event. */
    void (*object)(void *ud, enum cg_kube_watch_type type, const char *json, size_t len);
    /* The LIST is complete: the consumer drops what it did not contain. */
    void (*replace_end)(void *ud);
    /* The first LIST completed (once per informer). May be NULL. */
    void (*synced)(void *ud);
};

struct cg_kube_informer_config {
    struct cg_kube_client *client; /* borrowed: must outlive the informer */
    const char *path;              /* the collection, e.g. "/api/v1/pods" */
    const char *label_selector, *field_selector;
    unsigned page_limit;       /* 0: 500 */
    int watch_timeout_seconds; /* 0: 300 */
    long backoff_min_ms;       /* first delay after a failure; 0: 200 */
    long backoff_max_ms;       /* cap; 0: 30 s */
    const char *name;          /* for log lines; NULL: path */
    struct cg_kube_informer_handlers handlers;
    void *ud;
};

struct cg_kube_informer_stats {
    bool synced;
    uint64_t lists;      /* LISTs started, the first included */
    uint64_t relists;    /* LISTs after the first (410 Gone, failed lists) */
    uint64_t reconnects; /* watches started again after a failure */
    uint64_t watches;    /* watches started */
    uint64_t events;     /* watch events delivered */
    uint64_t items;      /* LIST items delivered */
    uint64_t failures;   /* failed LISTs and watches */
};

struct cg_kube_informer;

/* Copies the config's strings and starts the thread. CG_EINVAL without client, path or the
 * replace_begin / object / replace_end handlers. */
enum cg_status cg_kube_informer_create(const struct cg_kube_informer_config *config,
                                       struct cg_kube_informer **out, struct cg_err *err);
/* Stops promptly (the transfer in progress is aborted, a back-off wait cut short) and joins
 * the thread; no handler runs after it returns. Idempotent. */
void cg_kube_informer_stop(struct cg_kube_informer *inf);
/* Stops (if not yet) and frees. Accepts NULL. */
void cg_kube_informer_destroy(struct cg_kube_informer *inf);
bool cg_kube_informer_synced(struct cg_kube_informer *inf);
/* Waits up to timeout_ms for the first LIST to complete; returns whether it has. */
bool cg_kube_informer_wait_synced(struct cg_kube_informer *inf, long timeout_ms);
void cg_kube_informer_stats(struct cg_kube_informer *inf, struct cg_kube_informer_stats *out);

#endif
