/* libFuzzer target for the WATCH stream framer and the LIST page decoder.
 *
 * The input is fed to the framer in two pieces (the first byte chooses the split), and decoded
 * as a LIST page. Contracts beyond "no crash, no sanitizer report": every object the framer
 * hands out is a JSON object jansson accepts; every item span of an accepted page lies in the
 * body and is a JSON object jansson accepts, or refuses only for a limit of jansson's own (a
 * number beyond its range, "\u0000" in a key, its nesting depth): the framer checks JSON's
 * grammar, which has none of these; the consumers that use jansson refuse that object alone.
 * The framer never holds more than the cap plus one piece. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kube/kube_internal.h"

#define MAX_EVENT 4096

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "contract violated: %s\n", what);
        abort();
    }
}

static void check_object(const char *json, size_t len, const char *what)
{
    json_error_t jerr;
    json_t *v = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    enum json_error_code why = json_error_code(&jerr);
    check(v != NULL ? json_is_object(v)
                    : why == json_error_numeric_overflow || why == json_error_null_byte_in_key ||
                          why == json_error_stack_overflow,
          what);
    json_decref(v);
}

static bool on_event(void *ud, enum cg_kube_watch_type type, const char *json, size_t len)
{
    (void)ud;
    check(type == CG_KUBE_ADDED || type == CG_KUBE_MODIFIED || type == CG_KUBE_DELETED,
          "event type");
    check_object(json, len, "an event object jansson refuses");
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    size_t cut = n ? data[0] % (n + 1) : 0;
    char rv[CG_KUBE_RV_MAX] = "";
    struct cg__kube_wstream w;
    cg__kube_wstream_init(&w, MAX_EVENT, rv, on_event, NULL);
    if (cg__kube_wstream_feed(&w, body, cut)) {
        check(w.buf.len <= MAX_EVENT + cut, "framer over its cap");
        cg__kube_wstream_feed(&w, body + cut, n - cut);
    }
    check(w.buf.len <= MAX_EVENT + n, "framer over its cap");
    cg__kube_wstream_finish(&w);
    check(strlen(rv) < CG_KUBE_RV_MAX, "resourceVersion");
    cg__kube_wstream_dispose(&w);

    struct cg__kube_list_page page;
    struct cg_err err;
    cg__kube_list_page_init(&page);
    if (cg__kube_list_page_decode(body, n, &page, &err) == CG_OK) {
        for (size_t i = 0; i < page.n_items; i++) {
            check(page.items[i].off + page.items[i].len <= n, "an item outside the body");
            check_object(body + page.items[i].off, page.items[i].len, "an item jansson refuses");
        }
    } else {
        check(page.n_items == 0 && err.msg[0] != '\0', "a refused page with items or no message");
    }
    cg__kube_list_page_dispose(&page);
    return 0;
}
