/* The WATCH stream framer and the LIST page decoder, as pure functions of bytes: events split
 * at every byte boundary, bookmarks, ERROR events (410 and others), every malformed shape,
 * over-size events, memory bounded by the largest event over a long stream; list pages with
 * their items' exact bytes, resourceVersion and continue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/kube.h"
#include "kube/kube_internal.h"
#include "test_support.h"

struct seen {
    int n;
    enum cg_kube_watch_type types[16];
    char objs[16][256];
    int stop_after; /* 0: never */
};

static bool on_event(void *ud, enum cg_kube_watch_type type, const char *json, size_t len)
{
    struct seen *s = ud;
    assert_true(s->n < 16);
    s->types[s->n] = type;
    assert_true(len < sizeof(s->objs[0]));
    memcpy(s->objs[s->n], json, len);
    s->objs[s->n][len] = '\0';
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

#define OBJ1 "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"}}"
#define OBJ2                                                                                       \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"12\"},\"x\":[1,2]}"
#define OBJ3 "{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"14\",\"name\":\"a\"}}"
#define STREAM                                                                                     \
    "{\"type\":\"ADDED\",\"object\":" OBJ1 "}\n"                                                   \
    "{\"object\":" OBJ2 ",\"type\":\"MODIFIED\"}\n"                                                \
    "\n"                                                                                           \
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":"       \
    "\"13\"}}}\n"                                                                                  \
    "{\"type\":\"DELETED\", \"object\": " OBJ3 "}\n"

static void check_stream(const struct seen *s, const char *rv)
{
    assert_int_equal(s->n, 3);
    assert_int_equal(s->types[0], CG_KUBE_ADDED);
    assert_int_equal(s->types[1], CG_KUBE_MODIFIED);
    assert_int_equal(s->types[2], CG_KUBE_DELETED);
    assert_string_equal(s->objs[0], OBJ1);
    assert_string_equal(s->objs[1], OBJ2);
    assert_string_equal(s->objs[2], OBJ3);
    assert_string_equal(rv, "14");
}

static void test_split_everywhere(void **state)
{
    (void)state;
    const char *text = STREAM;
    size_t n = strlen(text);
    for (size_t cut = 0; cut <= n; cut++) {
        struct seen s = {0};
        char rv[CG_KUBE_RV_MAX] = "10";
        struct cg__kube_wstream w;
        cg__kube_wstream_init(&w, 1024, rv, on_event, &s);
        assert_true(cg__kube_wstream_feed(&w, text, cut));
        assert_true(cg__kube_wstream_feed(&w, text + cut, n - cut));
        assert_int_equal(cg__kube_wstream_finish(&w), CG_OK);
        check_stream(&s, rv);
        assert_int_equal(w.counts.events, 3);
        assert_int_equal(w.counts.bookmarks, 1);
        cg__kube_wstream_dispose(&w);
    }
    /* One byte at a time. */
    struct seen s = {0};
    char rv[CG_KUBE_RV_MAX] = "";
    struct cg__kube_wstream w;
    cg__kube_wstream_init(&w, 1024, rv, on_event, &s);
    for (size_t i = 0; i < n; i++)
        assert_true(cg__kube_wstream_feed(&w, text + i, 1));
    assert_int_equal(cg__kube_wstream_finish(&w), CG_OK);
    check_stream(&s, rv);
    cg__kube_wstream_dispose(&w);
}

static void test_stop_by_consumer(void **state)
{
    (void)state;
    struct seen s = {.stop_after = 2};
    char rv[CG_KUBE_RV_MAX] = "";
    struct cg__kube_wstream w;
    cg__kube_wstream_init(&w, 1024, rv, on_event, &s);
    assert_false(cg__kube_wstream_feed(&w, STREAM, strlen(STREAM)));
    assert_true(w.done);
    assert_int_equal(w.status, CG_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(rv, "12");
    cg__kube_wstream_dispose(&w);
}

struct bad {
    const char *name, *text;
    enum cg_status status;
    enum cg_kube_reason reason;
    const char *msg;
};

static const struct bad bads[] = {
    {"410 Gone as an ERROR event",
     "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
     "\"status\":\"Failure\",\"message\":\"too old resource version: 5 (190)\",\"reason\":"
     "\"Expired\",\"code\":410}}\n",
     CG_EINVAL, CG_KUBE_GONE, "too old resource version"},
    {"500 as an ERROR event",
     "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,\"message\":\"etcd\"}}\n",
     CG_EIO, CG_KUBE_RETRYABLE, "code 500: etcd"},
    {"bad JSON", "{\"type\":\"ADDED\",\"object\":{\"a\":tru}}\n", CG_EPARSE, CG_KUBE_MALFORMED,
     "invalid JSON"},
    {"type of the wrong type", "{\"type\":5,\"object\":{}}\n", CG_EPARSE, CG_KUBE_MALFORMED,
     "type: expected a string"},
    {"unknown type", "{\"type\":\"ADDD\",\"object\":{}}\n", CG_EPARSE, CG_KUBE_MALFORMED,
     "unknown event type"},
    {"object of the wrong type", "{\"type\":\"ADDED\",\"object\":\"pod\"}\n", CG_EPARSE,
     CG_KUBE_MALFORMED, "object: expected an object"},
    {"no object", "{\"type\":\"ADDED\"}\n", CG_EPARSE, CG_KUBE_MALFORMED, "without an object"},
    {"resourceVersion of the wrong type",
     "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":12}}}\n", CG_EPARSE,
     CG_KUBE_MALFORMED, "resourceVersion: expected a string"},
    {"duplicate key", "{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}\n", CG_EPARSE,
     CG_KUBE_MALFORMED, "invalid JSON"},
    {"two objects on a line", "{\"type\":\"ADDED\",\"object\":{}}{}\n", CG_EPARSE,
     CG_KUBE_MALFORMED, "text after the event"},
    {"an array", "[1]\n", CG_EPARSE, CG_KUBE_MALFORMED, "expected an event object"},
    {"over the cap",
     "{\"type\":\"ADDED\",\"object\":{\"data\":\"" //
     "0123456789012345678901234567890123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789012345678901234567890123456789\"}}\n",
     CG_ETOOBIG, CG_KUBE_TOO_BIG, "an event of"},
};

static void test_bad_events(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        const struct bad *b = &bads[i];
        struct seen s = {0};
        char rv[CG_KUBE_RV_MAX] = "7";
        struct cg__kube_wstream w;
        cg__kube_wstream_init(&w, 200, rv, on_event, &s);
        /* A good event first: it is delivered, the bad one ends the stream. */
        const char *good = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":"
                           "\"8\"}}}\n";
        assert_true(cg__kube_wstream_feed(&w, good, strlen(good)));
        bool go = cg__kube_wstream_feed(&w, b->text, strlen(b->text));
        if (go)
            fail_msg("%s: accepted", b->name);
        assert_true(w.done);
        if (w.status != b->status || w.reason != b->reason)
            fail_msg("%s: %s / %s (%s)", b->name, cg_status_str(w.status),
                     cg_kube_reason_str(w.reason), w.err.msg);
        if (strstr(w.err.msg, b->msg) == NULL)
            fail_msg("%s: message \"%s\" lacks \"%s\"", b->name, w.err.msg, b->msg);
        assert_int_equal(s.n, 1);
        assert_string_equal(rv, "8");
        /* Nothing more is taken after the end. */
        assert_false(cg__kube_wstream_feed(&w, good, strlen(good)));
        assert_int_equal(s.n, 1);
        cg__kube_wstream_dispose(&w);
    }
}

static void test_cut_and_unterminated(void **state)
{
    (void)state;
    struct seen s = {0};
    char rv[CG_KUBE_RV_MAX] = "";
    struct cg__kube_wstream w;
    const char *cut = "{\"type\":\"ADDED\",\"object\":" OBJ1 "}\n{\"type\":\"MODIF";
    cg__kube_wstream_init(&w, 1024, rv, on_event, &s);
    assert_true(cg__kube_wstream_feed(&w, cut, strlen(cut)));
    assert_int_equal(cg__kube_wstream_finish(&w), CG_EIO);
    assert_int_equal(w.reason, CG_KUBE_TRANSPORT);
    assert_non_null(strstr(w.err.msg, "ended inside an event"));
    assert_int_equal(s.n, 1);
    cg__kube_wstream_dispose(&w);

    /* A whole last event without its newline still counts. */
    struct seen s2 = {0};
    const char *whole = "{\"type\":\"ADDED\",\"object\":" OBJ1 "}";
    cg__kube_wstream_init(&w, 1024, rv, on_event, &s2);
    assert_true(cg__kube_wstream_feed(&w, whole, strlen(whole)));
    assert_int_equal(cg__kube_wstream_finish(&w), CG_OK);
    assert_int_equal(s2.n, 1);
    assert_string_equal(rv, "11");
    cg__kube_wstream_dispose(&w);
}

static bool count_only(void *ud, enum cg_kube_watch_type type, const char *json, size_t len)
{
    (void)type;
    (void)json;
    (void)len;
    (*(size_t *)ud)++;
    return true;
}

/* 20,000 events of 1 KB in 3 KB pieces: the buffer never grows past about one event plus one
 * piece, so memory follows the largest event, not the 20 MB stream. */
static void test_memory_bounded(void **state)
{
    (void)state;
    char ev[1100];
    char pad[1001];
    memset(pad, 'x', 1000);
    pad[1000] = '\0';
    int n = snprintf(ev, sizeof(ev),
                     "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":"
                     "\"99\"},\"p\":\"%s\"}}\n",
                     pad);
    struct cg_buf stream;
    cg_buf_init(&stream, 0);
    for (int i = 0; i < 20000; i++)
        cg_buf_append(&stream, ev, (size_t)n);
    size_t got = 0, max_cap = 0;
    char rv[CG_KUBE_RV_MAX] = "";
    struct cg__kube_wstream w;
    cg__kube_wstream_init(&w, 4096, rv, count_only, &got);
    for (size_t off = 0; off < stream.len; off += 3000) {
        size_t k = stream.len - off < 3000 ? stream.len - off : 3000;
        assert_true(cg__kube_wstream_feed(&w, stream.data + off, k));
        if (w.buf.cap > max_cap)
            max_cap = w.buf.cap;
    }
    assert_int_equal(cg__kube_wstream_finish(&w), CG_OK);
    assert_int_equal(got, 20000);
    assert_true(max_cap <= 8192);
    print_message("watch: 20,000 events of %d bytes (%zu MB), buffer capacity at most %zu\n", n,
                  stream.len >> 20, max_cap);
    cg__kube_wstream_dispose(&w);
    cg_buf_dispose(&stream);
}

static void test_list_page(void **state)
{
    (void)state;
    const char *page =
        "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"123\","
        "\"continue\":\"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ\\u003d\\u003d\","
        "\"remainingItemCount\":5},\"items\":[" OBJ1 " , " OBJ2 "]}\n";
    struct cg__kube_list_page p;
    struct cg_err err;
    cg__kube_list_page_init(&p);
    assert_int_equal(cg__kube_list_page_decode(page, strlen(page), &p, &err), CG_OK);
    assert_int_equal(p.n_items, 2);
    assert_memory_equal(page + p.items[0].off, OBJ1, strlen(OBJ1));
    assert_int_equal(p.items[0].len, strlen(OBJ1));
    assert_memory_equal(page + p.items[1].off, OBJ2, strlen(OBJ2));
    assert_string_equal(p.resource_version, "123");
    assert_string_equal(p.cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ==");

    /* JSON has no range for numbers: a LIST page frames an item with one beyond int64 (a
     * fuzz finding: jansson refuses it; each consumer refuses that item alone) */
    const char *huge = "{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[{\"m\":"
                       "[44444444444444444444444444444444442,{}]}]}";
    assert_int_equal(cg__kube_list_page_decode(huge, strlen(huge), &p, &err), CG_OK);
    assert_int_equal(p.n_items, 1);
    assert_int_equal(p.items[0].len, strlen(huge) - p.items[0].off - 2);

    const char *last = "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":null}";
    assert_int_equal(cg__kube_list_page_decode(last, strlen(last), &p, &err), CG_OK);
    assert_int_equal(p.n_items, 0);
    assert_null(p.cont);

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"{\"items\":{}}", "items: expected an array"},
        {"{\"items\":[1]}", "items[0]: expected an object"},
        {"{\"items\":[{}, \"x\"]}", "items[1]: expected an object"},
        {"{\"metadata\":[]}", "metadata: expected an object"},
        {"{\"metadata\":{\"resourceVersion\":1}}", "resourceVersion: expected a string"},
        {"{\"metadata\":{\"continue\":{}}}", "continue: expected a string"},
        {"{\"items\":[{\"a\":1}", "invalid JSON"},
        {"{\"items\":[]} x", "text after the list"},
        {"[]", "expected a list object"},
        {"", "expected a list object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cg_err_clear(&err);
        assert_int_equal(cg__kube_list_page_decode(bad[i].text, strlen(bad[i].text), &p, &err),
                         CG_EPARSE);
        if (strstr(err.msg, bad[i].msg) == NULL)
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].text, err.msg, bad[i].msg);
        assert_int_equal(p.n_items, 0);
    }
    cg__kube_list_page_dispose(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_everywhere), cmocka_unit_test(test_stop_by_consumer),
        cmocka_unit_test(test_bad_events),       cmocka_unit_test(test_cut_and_unterminated),
        cmocka_unit_test(test_memory_bounded),   cmocka_unit_test(test_list_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
