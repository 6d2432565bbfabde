/* LIST with pagination. A page is read whole (it is bounded by limit), validated whole by the
 * admission module's scanner in one pass that records where each item is, and only then are
 * the items handed out: raw slices of the page, no DOM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission/scan.h"
#include "base/mem.h"
#include "kube/kube.h"
#include "kube/kube_internal.h"

#define DEFAULT_LIMIT 500
#define MAX_CONTINUE (64u << 10)

void cg__kube_list_page_init(struct cg__kube_list_page *p)
{
    memset(p, 0, sizeof(*p));
}

void cg__kube_list_page_dispose(struct cg__kube_list_page *p)
{
    free(p->items);
    free(p->cont);
    memset(p, 0, sizeof(*p));
}

bool cg__kube_copy_json_string(const char *raw, size_t n, bool esc, char *dst, size_t cap)
{
    if (n >= cap)
        return false;
    size_t m = esc ? cg__json_unescape(raw, n, dst) : (memcpy(dst, raw, n), n);
    dst[m] = '\0';
    return true;
}

/* metadata of the list: resourceVersion and continue. */
static bool decode_meta(struct cg__scan *sc, struct cg__kube_list_page *p)
{
    struct cg__scan_obj o;
    struct cg__scan_keyref key;
    int r;
    if (cg__scan_peek(sc) != '{')
        return cg__scan_fail(sc, sc->i, "metadata: expected an object");
    if (!cg__scan_obj_open(sc, &o))
        return false;
    while ((r = cg__scan_obj_next(sc, &o, &key)) == 1) {
        bool is_rv = cg_str_eq_c(key.text, "resourceVersion");
        bool is_cont = cg_str_eq_c(key.text, "continue");
        if (!is_rv && !is_cont) {
            if (!cg__scan_skip(sc))
                return false;
            continue;
        }
        size_t at = sc->i, off, len;
        bool esc;
        if (cg__scan_peek(sc) != '"')
            return cg__scan_fail(sc, at, "metadata.%s: expected a string",
                                 is_rv ? "resourceVersion" : "continue");
        if (!cg__scan_string(sc, &off, &len, &esc))
            return false;
        const char *raw = (const char *)sc->s + off;
        if (is_rv) {
            if (!cg__kube_copy_json_string(raw, len, esc, p->resource_version,
                                           sizeof(p->resource_version)))
                return cg__scan_fail(sc, at, "metadata.resourceVersion: longer than %d bytes",
                                     CG_KUBE_RV_MAX - 1);
        } else {
            if (len >= MAX_CONTINUE)
                return cg__scan_fail(sc, at, "metadata.continue: too long");
            free(p->cont);
            p->cont = cg_xmalloc(len + 1);
            cg__kube_copy_json_string(raw, len, esc, p->cont, len + 1);
        }
    }
    return r == 0;
}

static bool decode_items(struct cg__scan *sc, struct cg__kube_list_page *p)
{
    struct cg__scan_arr a;
    int r;
    if (cg__scan_peek(sc) == 'n') { /* "items": null is an empty list */
        char kind;
        return cg__scan_literal(sc, &kind) && kind == 'n';
    }
    if (cg__scan_peek(sc) != '[')
        return cg__scan_fail(sc, sc->i, "items: expected an array");
    if (!cg__scan_arr_open(sc, &a))
        return false;
    while ((r = cg__scan_arr_next(sc, &a)) == 1) {
        size_t off = sc->i;
        if (cg__scan_peek(sc) != '{')
            return cg__scan_fail(sc, off, "items[%zu]: expected an object", p->n_items);
        if (!cg__scan_skip(sc))
            return false;
        if (p->n_items == p->cap_items) {
            p->cap_items = p->cap_items ? p->cap_items * 2 : 64;
            p->items = cg_xrealloc(p->items, p->cap_items * sizeof(*p->items));
        }
        p->items[p->n_items++] = (struct cg__kube_span){off, sc->i - off};
    }
    return r == 0;
}

enum cg_status cg__kube_list_page_decode(const char *body, size_t len, struct cg__kube_list_page *p,
                                         struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg__scan sc;
    struct cg__scan_obj o;
    struct cg__scan_keyref key;
    bool ok = false;
    int r = -1;
    p->n_items = 0;
    p->resource_version[0] = '\0';
    free(p->cont);
    p->cont = NULL;
    cg__scan_init(&sc, body, len, err);
    if (cg__scan_peek(&sc) != '{') {
        cg__scan_fail(&sc, sc.i, "expected a list object");
        goto out;
    }
    if (!cg__scan_obj_open(&sc, &o))
        goto out;
    while ((r = cg__scan_obj_next(&sc, &o, &key)) == 1) {
        bool step;
        if (cg_str_eq_c(key.text, "items"))
            step = decode_items(&sc, p);
        else if (cg_str_eq_c(key.text, "metadata"))
            step = decode_meta(&sc, p);
        else
            step = cg__scan_skip(&sc);
        if (!step)
            goto out;
    }
    if (r != 0)
        goto out;
    if (cg__scan_peek(&sc) != -1) {
        cg__scan_fail(&sc, sc.i, "text after the list");
        goto out;
    }
    ok = true;
out:
    if (!ok) {
        st = CG_EPARSE;
        if (!sc.failed)
            cg_err_set(err, CG_EPARSE, "malformed list");
        p->n_items = 0;
    }
    cg__scan_dispose(&sc);
    return st;
}

/* The page's body, capped. */
struct page_sink {
    struct cg_buf body;
    bool too_big;
};

static bool page_write(void *ud, const char *data, size_t len)
{
    struct page_sink *s = ud;
    if (cg_buf_append(&s->body, data, len) != CG_OK) {
        s->too_big = true;
        return false;
    }
    return true;
}

enum cg_status cg_kube_list(struct cg_kube_client *c, const char *path,
                            const struct cg_kube_list_options *options, cg_kube_item_fn fn,
                            void *ud, struct cg_kube_list_result *result,
                            struct cg_kube_response *resp, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_kube_list_options none = {0};
    struct cg_kube_list_result local_result;
    struct cg_kube_response local_resp;
    struct cg__kube_list_page page;
    struct page_sink sink;
    struct cg_buf url;
    char limit[24];
    cg_kube_response_init(&local_resp);
    cg__kube_list_page_init(&page);
    cg_buf_init(&sink.body, cg__kube_client_max_page(c));
    cg_buf_init(&url, 0);
    if (options == NULL)
        options = &none;
    if (result == NULL)
        result = &local_result;
    if (resp == NULL)
        resp = &local_resp;
    memset(result, 0, sizeof(*result));
    snprintf(limit, sizeof(limit), "%u", options->limit ? options->limit : DEFAULT_LIMIT);

    for (;;) {
        cg_buf_reset(&url);
        cg_buf_reset(&sink.body);
        sink.too_big = false;
        cg_buf_append_str(&url, path);
        cg__kube_query_add(&url, "limit", limit);
        cg__kube_query_add(&url, "labelSelector", options->label_selector);
        cg__kube_query_add(&url, "fieldSelector", options->field_selector);
        if (page.cont != NULL && page.cont[0] != '\0')
            cg__kube_query_add(&url, "continue", page.cont);
        struct cg__kube_xfer x = {.method = CG_KUBE_GET,
                                  .path = url.data,
                                  .sink = page_write,
                                  .sink_ud = &sink,
                                  .cancel = options->cancel};
        st = cg__kube_perform(c, &x, resp, err);
        result->bytes += sink.body.len;
        if (st == CG_EINTERNAL && sink.too_big) {
            resp->reason = CG_KUBE_TOO_BIG;
            st = cg_err_set(err, CG_ETOOBIG, "LIST %s: a page is larger than %zu bytes", path,
                            cg__kube_client_max_page(c));
        }
        if (st != CG_OK)
            goto out;
        st = cg__kube_list_page_decode(sink.body.data, sink.body.len, &page, err);
        if (st != CG_OK) {
            resp->reason = CG_KUBE_MALFORMED;
            char why[CG_ERR_MSG_MAX];
            snprintf(why, sizeof(why), "%s", err ? err->msg : "");
            cg_err_set(err, st, "LIST %s (page %zu): %s", path, result->pages + 1, why);
            goto out;
        }
        if (result->pages == 0)
            memcpy(result->resource_version, page.resource_version, CG_KUBE_RV_MAX);
        result->pages++;
        for (size_t i = 0; i < page.n_items; i++) {
            result->items++;
            if (!fn(ud, sink.body.data + page.items[i].off, page.items[i].len)) {
                resp->reason = CG_KUBE_CANCELLED;
                st = cg_err_set(err, CG_EIO, "LIST %s: stopped by the consumer", path);
                goto out;
            }
        }
        if (page.cont == NULL || page.cont[0] == '\0')
            break;
    }
    if (result->resource_version[0] == '\0') {
        resp->reason = CG_KUBE_MALFORMED;
        st = cg_err_set(err, CG_EPARSE, "LIST %s: the list has no metadata.resourceVersion", path);
    }
out:
    cg_buf_dispose(&url);
    cg_buf_dispose(&sink.body);
    cg__kube_list_page_dispose(&page);
    cg_kube_response_dispose(&local_resp);
    return st;
}
