/* The cellgate.io/release record: round trips, the webhook's short form byte for byte,
 * tolerance of absent fields, and malformed records refused without a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "release/record.h"
#include "test_support.h"

static const char short_form[] = "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[\"zone-a\",\"zone-"
                                 "b\"],\"groups\":[[1,1],[2,2],[2,2]],\"group\":0,\"state\":"
                                 "\"progressing\"}";

static void plan_10(struct cg_release_record *rec)
{
    static char a[] = "zone-a", b[] = "zone-b";
    struct cg_cell items[] = {{a, 1}, {b, 1}};
    struct cg_cells cells = {NULL, items, 2};
    struct cg_plan plan = {.replicas = 10, .n_groups = 3, .n_cells = 2};
    uint32_t pods[3][2] = {{1, 1}, {2, 2}, {2, 2}};
    for (int g = 0; g < 3; g++)
        for (int c = 0; c < 2; c++)
            plan.pods[g][c] = pods[g][c];
    assert_int_equal(
        cg_release_record_init(rec, 0x00ab12cd34ef5678ull, &cells, &plan, CG_RELEASE_PROGRESSING),
        CG_OK);
}

static char *encode(const struct cg_release_record *rec, struct cg_buf *b)
{
    cg_buf_reset(b);
    assert_int_equal(cg_release_record_encode(rec, b), CG_OK);
    return b->data;
}

/* What the webhook writes today is what the encoder writes for a fresh record, and it decodes. */
static void webhook_short_form(void **state)
{
    (void)state;
    struct cg_release_record rec, back;
    struct cg_buf b;
    cg_buf_init(&b, 0);
    plan_10(&rec);
    assert_string_equal(encode(&rec, &b), short_form);
    struct cg_err err;
    assert_int_equal(cg_release_record_decode(short_form, strlen(short_form), &back, &err), CG_OK);
    assert_memory_equal(&rec, &back, sizeof(rec));
    assert_int_equal(cg_release_record_cum(&back, 1, 0), 3);
    assert_int_equal(cg_release_record_group_total(&back, 2), 4);
    /* the webhook's rollback form */
    const char rb[] = "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[\"a\"],\"groups\":[[5]],"
                      "\"group\":0,\"state\":\"rollback\"}";
    assert_int_equal(cg_release_record_decode(rb, strlen(rb), &back, &err), CG_OK);
    assert_int_equal(back.state, CG_RELEASE_ROLLBACK);
    const char rb2[] = "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[\"a\"],\"groups\":[[5]],"
                       "\"group\":0,\"state\":\"rolling-back\",\"future\":{\"x\":1}}";
    assert_int_equal(cg_release_record_decode(rb2, strlen(rb2), &back, &err), CG_OK);
    assert_int_equal(back.state, CG_RELEASE_ROLLBACK);
    cg_buf_dispose(&b);
}

/* Every field the controller keeps survives encode + decode, strings with quotes and UTF-8. */
static void full_round_trip(void **state)
{
    (void)state;
    struct cg_release_record rec, back;
    struct cg_buf b, b2;
    cg_buf_init(&b, 0);
    cg_buf_init(&b2, 0);
    plan_10(&rec);
    static const enum cg_release_state states[] = {
        CG_RELEASE_PROGRESSING, CG_RELEASE_WAITING_APPROVAL, CG_RELEASE_SOAKING, CG_RELEASE_PAUSED,
        CG_RELEASE_ROLLBACK,    CG_RELEASE_COMPLETE,         CG_RELEASE_FAILED};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        plan_10(&rec); /* zeroed, so whole structs compare */
        rec.state = states[i];
        rec.group = (uint32_t)(i % 3);
        snprintf(rec.reason, sizeof(rec.reason), "check \"health\" failed: 503 \xc3\xa9\n");
        rec.pause_cause = (enum cg_pause_cause)(i % 5);
        rec.cellgate_paused = i % 2;
        rec.rolled_back_from = i ? 0xfedcba9876543210ull : 0;
        snprintf(rec.failed_check, sizeof(rec.failed_check), "health");
        rec.since = 1800000000;
        rec.group_since = 1800000100;
        rec.group_done = i ? 1800000200 : 0;
        rec.updated = 1800000300;
        rec.has_counts = true;
        rec.new_serving[0] = 3;
        rec.old_live[1] = 2;
        rec.n_approvals = i % 3;
        for (size_t k = 0; k < rec.n_approvals; k++) {
            rec.approvals[k].group = (uint32_t)k;
            snprintf(rec.approvals[k].by, sizeof(rec.approvals[k].by), "alice@example.com");
            rec.approvals[k].at = 1800000000 + (int64_t)k;
        }
        char *text = encode(&rec, &b);
        struct cg_err err;
        cg_err_clear(&err);
        if (cg_release_record_decode(text, b.len, &back, &err) != CG_OK)
            fail_msg("%s: %s", text, err.msg);
        assert_memory_equal(&rec, &back, sizeof(rec));
        assert_string_equal(encode(&back, &b2), text);
        assert_string_equal(cg_release_state_str(back.state), cg_release_state_str(states[i]));
    }
    cg_buf_dispose(&b);
    cg_buf_dispose(&b2);
}

/* A capped buffer that cannot take the record is left as it was; an inconsistent record is
 * refused. */
static void encode_failures(void **state)
{
    (void)state;
    struct cg_release_record rec;
    plan_10(&rec);
    struct cg_buf b;
    cg_buf_init(&b, 40);
    assert_int_equal(cg_buf_append_str(&b, "keep"), CG_OK);
    assert_int_equal(cg_release_record_encode(&rec, &b), CG_ETOOBIG);
    assert_string_equal(b.data, "keep");
    rec.group = 3;
    assert_int_equal(cg_release_record_encode(&rec, &b), CG_EINVAL);
    cg_buf_dispose(&b);
}

/* Malformed records: refused with a reason, never a crash, the record left zeroed. */
static void malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "{",
        "null",
        "[]",
        "{\"revision\":\"00ab\"}",
        "{\"revision\":\"00ab12cd34ef567g\",\"cells\":[\"a\"],\"groups\":[[1]],\"group\":0,"
        "\"state\":\"progressing\"}",
        "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[],\"groups\":[[1]],\"group\":0,"
        "\"state\":\"progressing\"}",
        "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[\"a\"],\"groups\":[[1,2]],\"group\":0,"
        "\"state\":\"progressing\"}",
        "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[\"a\"],\"groups\":[[1]],\"group\":1,"
        "\"state\":\"progressing\"}",
        "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[\"a\"],\"groups\":[[1]],\"group\":0,"
        "\"state\":\"exploded\"}",
        "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[\"a\"],\"groups\":[[-1]],\"group\":0,"
        "\"state\":\"progressing\"}",
        "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[\"a\"],\"groups\":[[1]],\"group\":0,"
        "\"state\":\"progressing\",\"since\":\"yesterday\"}",
        "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[\"a\"],\"groups\":[[1]],\"group\":0,"
        "\"state\":\"progressing\",\"approvals\":[{\"group\":5}]}",
        "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[\"a\"],\"groups\":[[1]],\"group\":0,"
        "\"state\":\"progressing\",\"counts\":{\"newServing\":[1,2],\"oldLive\":[0]}}",
        "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[\"a\"],\"groups\":[[1]],\"group\":0,"
        "\"state\":\"progressing\",\"cellgatePaused\":\"yes\"}",
        "{\"revision\":\"00ab12cd34ef5678\",\"revision\":\"00ab12cd34ef5678\"}",
        "{\"revision\":\"00ab12cd34ef5678\",\"cells\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\","
        "\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"],\"groups\":[[1]],"
        "\"group\":0,\"state\":\"progressing\"}",
    };
    static const struct cg_release_record zero;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cg_release_record rec;
        struct cg_err err;
        cg_err_clear(&err);
        enum cg_status st = cg_release_record_decode(bad[i], strlen(bad[i]), &rec, &err);
        if (st != CG_EPARSE && st != CG_EINVAL)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err.msg[0] != '\0');
        assert_memory_equal(&rec, &zero, sizeof(rec));
    }
    /* every prefix of a valid record: no crash, no acceptance of a cut record */
    for (size_t n = 0; n < sizeof(short_form) - 1; n++) {
        struct cg_release_record rec;
        assert_int_not_equal(cg_release_record_decode(short_form, n, &rec, NULL), CG_OK);
    }
}

int main(void)
{
    cg_test_jansson_use_cmocka();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(webhook_short_form),
        cmocka_unit_test(full_round_trip),
        cmocka_unit_test(encode_failures),
        cmocka_unit_test(malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
