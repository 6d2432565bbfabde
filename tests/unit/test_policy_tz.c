/* Time zones (TZif reader and POSIX footer rules) and freeze windows, across DST changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"
#include "policy/policy_internal.h"
#include "policy/tz.h"
#include "test_support.h"

static int64_t at(const char *rfc3339)
{
    int64_t t = 0;
    if (!cg__rfc3339_parse(rfc3339, &t))
        fail_msg("bad time in test: %s", rfc3339);
    return t;
}

static struct cg_tz *zone(const char *name)
{
    struct cg_tz *tz = NULL;
    struct cg_err err;
    if (cg_tz_load(NULL, name, &tz, &err) != CG_OK)
        fail_msg("cannot load %s: %s", name, err.msg);
    return tz;
}

/* ---- offsets from the system's zoneinfo ---- */

static void test_london_offsets(void **state)
{
    (void)state;
    struct cg_tz *tz = zone("Europe/London");
    /* 2026: BST from 29 Mar 01:00Z to 25 Oct 01:00Z */
    assert_int_equal(cg_tz_offset(tz, at("2026-03-29T00:59:59Z")), 0);
    assert_int_equal(cg_tz_offset(tz, at("2026-03-29T01:00:00Z")), 3600);
    assert_int_equal(cg_tz_offset(tz, at("2026-10-25T00:59:59Z")), 3600);
    assert_int_equal(cg_tz_offset(tz, at("2026-10-25T01:00:00Z")), 0);
    /* 1970: British Standard Time, +1 all year */
    assert_int_equal(cg_tz_offset(tz, at("1970-01-01T00:00:00Z")), 3600);
    cg_tz_destroy(tz);
}

static void test_new_york_offsets(void **state)
{
    (void)state;
    struct cg_tz *tz = zone("America/New_York");
    /* 2026: EDT from 8 Mar 07:00Z to 1 Nov 06:00Z */
    assert_int_equal(cg_tz_offset(tz, at("2026-03-08T06:59:59Z")), -5 * 3600);
    assert_int_equal(cg_tz_offset(tz, at("2026-03-08T07:00:00Z")), -4 * 3600);
    assert_int_equal(cg_tz_offset(tz, at("2026-11-01T05:59:59Z")), -4 * 3600);
    assert_int_equal(cg_tz_offset(tz, at("2026-11-01T06:00:00Z")), -5 * 3600);
    cg_tz_destroy(tz);
}

/* 2100 is past the last transition of any zoneinfo file: the footer's rule decides. */
static void test_footer_rule_far_future(void **state)
{
    (void)state;
    struct cg_tz *tz = zone("Europe/London"); /* GMT0BST,M3.5.0/1,M10.5.0 */
    assert_int_equal(cg_tz_offset(tz, at("2100-03-28T00:59:59Z")), 0);
    assert_int_equal(cg_tz_offset(tz, at("2100-03-28T01:00:00Z")), 3600);
    assert_int_equal(cg_tz_offset(tz, at("2100-10-31T00:59:59Z")), 3600);
    assert_int_equal(cg_tz_offset(tz, at("2100-10-31T01:00:00Z")), 0);
    cg_tz_destroy(tz);
    tz = zone("America/New_York"); /* EST5EDT,M3.2.0,M11.1.0 */
    assert_int_equal(cg_tz_offset(tz, at("2100-03-14T06:59:59Z")), -5 * 3600);
    assert_int_equal(cg_tz_offset(tz, at("2100-03-14T07:00:00Z")), -4 * 3600);
    cg_tz_destroy(tz);
    tz = zone("Australia/Sydney"); /* AEST-10AEDT,M10.1.0,M4.1.0/3: DST spans the new year */
    assert_int_equal(cg_tz_offset(tz, at("2100-01-15T00:00:00Z")), 11 * 3600);
    assert_int_equal(cg_tz_offset(tz, at("2100-07-15T00:00:00Z")), 10 * 3600);
    assert_int_equal(cg_tz_offset(tz, at("2100-12-31T23:59:59Z")), 11 * 3600);
    cg_tz_destroy(tz);
    tz = zone("Asia/Kolkata"); /* IST-5:30, no DST */
    assert_int_equal(cg_tz_offset(tz, at("2100-06-01T00:00:00Z")), 5 * 3600 + 1800);
    cg_tz_destroy(tz);
}

/* ---- hand-made TZif images ---- */

static size_t put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return 4;
}

static size_t header(unsigned char *p, char version, uint32_t timecnt, uint32_t typecnt)
{
    memset(p, 0, 44);
    memcpy(p, "TZif", 4);
    p[4] = (unsigned char)version;
    put32(p + 32, timecnt);
    put32(p + 36, typecnt);
    put32(p + 40, 4); /* charcnt */
    return 44;
}

/* A v2 image with the given transitions (times, type after each), types' offsets, footer. */
static size_t build_tzif(unsigned char *buf, char version, const int64_t *times,
                         const uint8_t *types, uint32_t timecnt, const int32_t *offsets,
                         uint32_t typecnt, const char *footer)
{
    size_t n = header(buf, version, timecnt, typecnt);
    for (uint32_t i = 0; i < timecnt; i++)
        n += put32(buf + n, (uint32_t)times[i]);
    for (uint32_t i = 0; i < timecnt; i++)
        buf[n++] = types[i];
    for (uint32_t i = 0; i < typecnt; i++) {
        n += put32(buf + n, (uint32_t)offsets[i]);
        buf[n++] = 0;
        buf[n++] = 0;
    }
    memcpy(buf + n, "ZZZ", 4);
    n += 4;
    if (version == 0)
        return n;
    n += header(buf + n, version, timecnt, typecnt);
    for (uint32_t i = 0; i < timecnt; i++) {
        n += put32(buf + n, (uint32_t)((uint64_t)times[i] >> 32));
        n += put32(buf + n, (uint32_t)times[i]);
    }
    for (uint32_t i = 0; i < timecnt; i++)
        buf[n++] = types[i];
    for (uint32_t i = 0; i < typecnt; i++) {
        n += put32(buf + n, (uint32_t)offsets[i]);
        buf[n++] = 0;
        buf[n++] = 0;
    }
    memcpy(buf + n, "ZZZ", 4);
    n += 4;
    n += (size_t)sprintf((char *)buf + n, "\n%s\n", footer);
    return n;
}

static enum cg_status cg_decode_ok(const unsigned char *buf, size_t n, struct cg_tz **tz)
{
    struct cg_err err;
    enum cg_status st = cg_tz_decode(buf, n, tz, &err);
    if (st)
        fail_msg("decode: %s", err.msg);
    return st;
}

static void test_tzif_transitions_and_footer(void **state)
{
    (void)state;
    unsigned char buf[512];
    int64_t times[] = {1000, 2000};
    uint8_t types[] = {1, 0};
    int32_t offsets[] = {0, 3600};
    struct cg_tz *tz = NULL;
    struct cg_err err;

    /* empty footer: before the first transition type 0, after the last the last type */
    size_t n = build_tzif(buf, '2', times, types, 2, offsets, 2, "");
    assert_int_equal(cg_tz_decode(buf, n, &tz, &err), CG_OK);
    assert_int_equal(cg_tz_offset(tz, 500), 0);
    assert_int_equal(cg_tz_offset(tz, 1000), 3600);
    assert_int_equal(cg_tz_offset(tz, 1999), 3600);
    assert_int_equal(cg_tz_offset(tz, 2000), 0);
    assert_int_equal(cg_tz_offset(tz, 99999999), 0);
    cg_tz_destroy(tz);

    /* a footer decides from the last transition on */
    n = build_tzif(buf, '3', times, types, 2, offsets, 2, "<+0530>-5:30");
    assert_int_equal(cg_tz_decode(buf, n, &tz, &err), CG_OK);
    assert_int_equal(cg_tz_offset(tz, 1500), 3600);
    assert_int_equal(cg_tz_offset(tz, 2000), 5 * 3600 + 1800);
    cg_tz_destroy(tz);

    /* no transitions at all: the footer decides everything (a US rule here, year 2026) */
    n = build_tzif(buf, '2', NULL, NULL, 0, offsets, 1, "EST5EDT,M3.2.0,M11.1.0");
    assert_int_equal(cg_tz_decode(buf, n, &tz, &err), CG_OK);
    assert_int_equal(cg_tz_offset(tz, at("2026-03-08T06:59:59Z")), -5 * 3600);
    assert_int_equal(cg_tz_offset(tz, at("2026-03-08T07:00:00Z")), -4 * 3600);
    assert_int_equal(cg_tz_offset(tz, at("2026-11-01T05:59:59Z")), -4 * 3600);
    assert_int_equal(cg_tz_offset(tz, at("2026-11-01T06:00:00Z")), -5 * 3600);
    cg_tz_destroy(tz);

    /* zero-based day rules count 29 February; times with seconds */
    n = build_tzif(buf, '2', NULL, NULL, 0, offsets, 1, "AAA-1BBB,59/00:30:15,300/1:00:00");
    assert_int_equal(cg_decode_ok(buf, n, &tz), CG_OK);
    /* 2028 is a leap year: day 59 is 29 Feb; 00:30:15 local standard = 23:30:15Z the day before */
    assert_int_equal(cg_tz_offset(tz, at("2028-02-28T23:30:14Z")), 3600);
    assert_int_equal(cg_tz_offset(tz, at("2028-02-28T23:30:15Z")), 7200);
    cg_tz_destroy(tz);

    /* DST named without a rule: the US rule of POSIX implementations */
    n = build_tzif(buf, '2', NULL, NULL, 0, offsets, 1, "EST5EDT");
    assert_int_equal(cg_decode_ok(buf, n, &tz), CG_OK);
    assert_int_equal(cg_tz_offset(tz, at("2026-07-01T00:00:00Z")), -4 * 3600);
    assert_int_equal(cg_tz_offset(tz, at("2026-01-01T00:00:00Z")), -5 * 3600);
    cg_tz_destroy(tz);

    /* Julian day rules: J60 is 1 March even in a leap year; explicit DST offset */
    n = build_tzif(buf, '2', NULL, NULL, 0, offsets, 1, "AAA0BBB-2,J60/0,J300/0");
    assert_int_equal(cg_tz_decode(buf, n, &tz, &err), CG_OK);
    assert_int_equal(cg_tz_offset(tz, at("2028-02-29T23:59:59Z")), 0);
    assert_int_equal(cg_tz_offset(tz, at("2028-03-01T00:00:00Z")), 7200);
    cg_tz_destroy(tz);
}

static void test_tzif_rejects_bad_input(void **state)
{
    (void)state;
    unsigned char buf[512];
    int64_t times[] = {2000, 1000};
    uint8_t types[] = {0, 0};
    int32_t offsets[] = {0};
    struct cg_tz *tz = NULL;
    struct cg_err err;
    size_t n = build_tzif(buf, 0, NULL, NULL, 0, offsets, 1, "");
    assert_int_equal(cg_tz_decode(buf, n, &tz, &err), CG_EPARSE);
    assert_string_equal(err.msg, "TZif version 1 is not supported (need 2 or later)");
    assert_int_equal(cg_tz_decode((const unsigned char *)"TZx", 3, &tz, &err), CG_EPARSE);
    assert_string_equal(err.msg, "not a TZif file");
    n = build_tzif(buf, '2', NULL, NULL, 0, offsets, 1, "UTC0");
    for (size_t cut = 44; cut < n - 1; cut += 7) {
        assert_int_equal(cg_tz_decode(buf, cut, &tz, &err), CG_EPARSE);
        assert_null(tz);
    }
    n = build_tzif(buf, '2', times, types, 2, offsets, 1, "");
    assert_int_equal(cg_tz_decode(buf, n, &tz, &err), CG_EPARSE);
    assert_string_equal(err.msg, "TZif transitions are not ascending");
    types[0] = 5;
    times[0] = 500;
    n = build_tzif(buf, '2', times, types, 2, offsets, 1, "");
    assert_int_equal(cg_tz_decode(buf, n, &tz, &err), CG_EPARSE);
    assert_string_equal(err.msg, "TZif transition names an unknown type");
    n = build_tzif(buf, '2', NULL, NULL, 0, offsets, 1, "EST5EDT,M13.1.0,M11.1.0");
    assert_int_equal(cg_tz_decode(buf, n, &tz, &err), CG_EPARSE);
    assert_string_equal(err.msg, "TZif footer rule \"EST5EDT,M13.1.0,M11.1.0\" not understood");
    assert_null(tz);
    static const char *const bad_rules[] = {"E5",
                                            "EST",
                                            "EST5EDT,M3.2.0",
                                            "EST5EDT,M3.6.0,M11.1.0",
                                            "EST25",
                                            "<+05-5",
                                            "EST5EDT,J0,J5",
                                            "EST5EDT,M3.2.0/200,M11.1.0",
                                            "EST5EDT,M3.2.0,M11.1.0x"};
    for (size_t i = 0; i < sizeof(bad_rules) / sizeof(bad_rules[0]); i++) {
        n = build_tzif(buf, '2', NULL, NULL, 0, offsets, 1, bad_rules[i]);
        if (cg_tz_decode(buf, n, &tz, &err) != CG_EPARSE)
            fail_msg("footer %s was accepted", bad_rules[i]);
    }
    /* an offset no zone has */
    int32_t wild[] = {30 * 3600};
    n = build_tzif(buf, '2', NULL, NULL, 0, wild, 1, "");
    assert_int_equal(cg_tz_decode(buf, n, &tz, &err), CG_EPARSE);
    assert_string_equal(err.msg, "TZif offset out of range");
    /* no footer line at all */
    n = build_tzif(buf, '2', NULL, NULL, 0, offsets, 1, "");
    buf[n - 2] = 'x';
    assert_int_equal(cg_tz_decode(buf, n - 1, &tz, &err), CG_EPARSE);
    assert_string_equal(err.msg, "TZif footer missing");
    n = build_tzif(buf, '2', NULL, NULL, 0, offsets, 1, "UTC0");
    assert_int_equal(cg_tz_decode(buf, n - 1, &tz, &err), CG_EPARSE);
    assert_string_equal(err.msg, "TZif footer malformed");
}

static void test_zone_names(void **state)
{
    (void)state;
    assert_true(cg_tz_name_valid("Europe/London"));
    assert_true(cg_tz_name_valid("America/Argentina/Buenos_Aires"));
    assert_true(cg_tz_name_valid("Etc/GMT+5"));
    assert_true(cg_tz_name_valid("UTC"));
    assert_false(cg_tz_name_valid(""));
    assert_false(cg_tz_name_valid("/etc/passwd"));
    assert_false(cg_tz_name_valid("../etc/passwd"));
    assert_false(cg_tz_name_valid("Europe/../../etc/passwd"));
    assert_false(cg_tz_name_valid("Europe/./London"));
    assert_false(cg_tz_name_valid("Europe//London"));
    assert_false(cg_tz_name_valid("Europe/London/"));
    assert_false(cg_tz_name_valid("Europe/Lon don"));

    struct cg_tz *tz = NULL;
    struct cg_err err;
    assert_int_equal(cg_tz_load(NULL, "../etc/passwd", &tz, &err), CG_EINVAL);
    assert_int_equal(cg_tz_load(NULL, "Mars/Olympus_Mons", &tz, &err), CG_ENOTFOUND);
    assert_int_equal(cg_tz_load(NULL, "Europe", &tz, &err), CG_ENOTFOUND); /* a directory */
    assert_int_equal(cg_tz_load(NULL, "zone.tab", &tz, &err), CG_EPARSE);  /* not TZif */
    assert_null(tz);
    /* UTC works without tzdata (minimal images) */
    assert_int_equal(cg_tz_load("/nonexistent", "UTC", &tz, &err), CG_OK);
    assert_int_equal(cg_tz_offset(tz, at("2026-07-01T00:00:00Z")), 0);
    cg_tz_destroy(tz);
    assert_int_equal(cg_tz_load("/nonexistent", "Europe/London", &tz, &err), CG_ENOTFOUND);
    /* zones counting leap seconds use another time scale: refused, not misread */
    assert_int_equal(cg_tz_load(NULL, "right/Europe/London", &tz, &err), CG_EPARSE);
    assert_string_equal(err.msg, "time zone \"right/Europe/London\": leap-second (\"right/\") "
                                 "zones are not supported");
    cg_tz_destroy(NULL);
}

/* ---- freeze windows, through the policy loader ---- */

static struct cg_policy_set *with_freezes(const char *freezes_yaml)
{
    char doc[4096];
    snprintf(doc, sizeof(doc),
             "apiVersion: cellgate.io/v1\nkind: ReleasePolicy\nmetadata: {name: f}\nspec:\n"
             "  match: {namespaces: [f]}\n  cells: {names: [a]}\n  gray: {groups: [rest]}\n"
             "  emergency:\n    freezes:\n%s",
             freezes_yaml);
    struct cg_policy_set *set = NULL;
    struct cg_err err;
    if (cg_policy_set_decode("freeze.yaml", doc, strlen(doc), &set, &err) != CG_OK)
        fail_msg("%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    return set;
}

static const struct cg_freeze_window *window(const struct cg_policy_set *set, size_t i)
{
    return &set->items[0].emergency.freezes[i];
}

/* "Fri 18:00 for 60h" in London closes Mon 06:00 local, on both DST weekends. */
static void test_weekly_london_across_dst(void **state)
{
    (void)state;
    struct cg_policy_set *set =
        with_freezes("      - name: weekend\n        weekly: {days: [Fri], start: \"18:00\", "
                     "duration: 60h, timeZone: Europe/London}\n");
    const struct cg_freeze_window *w = window(set, 0);
    /* spring: opens Fri 27 Mar 18:00 GMT, closes Mon 30 Mar 06:00 BST (05:00Z), 59h later */
    assert_false(cg_freeze_window_contains(w, at("2026-03-27T17:59:59Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-03-27T18:00:00Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-03-29T01:30:00Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-03-30T04:59:59Z")));
    assert_false(cg_freeze_window_contains(w, at("2026-03-30T05:00:00Z")));
    /* autumn: opens Fri 23 Oct 18:00 BST (17:00Z), closes Mon 26 Oct 06:00 GMT, 61h later */
    assert_false(cg_freeze_window_contains(w, at("2026-10-23T16:59:59Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-10-23T17:00:00Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-10-25T01:30:00Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-10-26T05:59:59Z")));
    assert_false(cg_freeze_window_contains(w, at("2026-10-26T06:00:00Z")));
    /* midweek */
    assert_false(cg_freeze_window_contains(w, at("2026-10-28T12:00:00Z")));
    /* summer: 18:00 BST is 17:00Z */
    assert_false(cg_freeze_window_contains(w, at("2026-07-03T16:59:59Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-07-03T17:00:00Z")));
    cg_policy_set_unref(set);
}

static void test_weekly_new_york_across_dst(void **state)
{
    (void)state;
    struct cg_policy_set *set =
        with_freezes("      - name: nightly-batch\n        weekly: {days: [Sat], start: \"22:00\", "
                     "duration: 8h, timeZone: America/New_York}\n"
                     "      - name: weekdays\n        weekly: {days: [Mon, Tue, Wed, Thu, Fri], "
                     "start: \"00:00\", duration: 24h, timeZone: America/New_York}\n");
    const struct cg_freeze_window *w = window(set, 0);
    /* fall back: opens Sat 31 Oct 22:00 EDT (02:00Z), closes Sun 06:00 EST (11:00Z) */
    assert_false(cg_freeze_window_contains(w, at("2026-11-01T01:59:59Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-11-01T02:00:00Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-11-01T10:30:00Z")));
    assert_false(cg_freeze_window_contains(w, at("2026-11-01T11:00:00Z")));
    /* spring forward: opens Sat 7 Mar 22:00 EST (03:00Z), closes Sun 06:00 EDT (10:00Z) */
    assert_false(cg_freeze_window_contains(w, at("2026-03-08T02:59:59Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-03-08T03:00:00Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-03-08T09:59:59Z")));
    assert_false(cg_freeze_window_contains(w, at("2026-03-08T10:00:00Z")));

    const struct cg_freeze_window *wd = window(set, 1);
    /* Friday local ends at Sat 00:00 EST = 05:00Z; Monday starts Mon 00:00 EST */
    assert_true(cg_freeze_window_contains(wd, at("2026-11-07T04:59:59Z")));
    assert_false(cg_freeze_window_contains(wd, at("2026-11-07T05:00:00Z")));
    assert_false(cg_freeze_window_contains(wd, at("2026-11-09T04:59:59Z")));
    assert_true(cg_freeze_window_contains(wd, at("2026-11-09T05:00:00Z")));
    /* which window is active, in list order */
    assert_ptr_equal(
        cg_emergency_active_freeze(&set->items[0].emergency, at("2026-11-01T03:00:00Z")), w);
    assert_ptr_equal(
        cg_emergency_active_freeze(&set->items[0].emergency, at("2026-11-04T12:00:00Z")), wd);
    assert_null(cg_emergency_active_freeze(&set->items[0].emergency, at("2026-11-08T12:00:00Z")));
    cg_policy_set_unref(set);
}

/* A window over the week's end (Sat -> Mon) and one opening in the spring-forward gap. */
static void test_weekly_edges(void **state)
{
    (void)state;
    struct cg_policy_set *set =
        with_freezes("      - name: wrap\n        weekly: {days: [Sat], start: \"20:00\", "
                     "duration: 30h, timeZone: UTC}\n"
                     "      - name: gap\n        weekly: {days: [Sun], start: \"01:30\", "
                     "duration: 1h, timeZone: Europe/London}\n"
                     "      - name: all-week\n        weekly: {days: [Wed], start: \"12:00\", "
                     "duration: 168h, timeZone: UTC}\n");
    const struct cg_freeze_window *wrap = window(set, 0);
    assert_true(cg_freeze_window_contains(wrap, at("2026-11-29T12:00:00Z"))); /* Sun */
    assert_true(cg_freeze_window_contains(wrap, at("2026-11-30T01:59:59Z"))); /* Mon */
    assert_false(cg_freeze_window_contains(wrap, at("2026-11-30T02:00:00Z")));
    assert_false(cg_freeze_window_contains(wrap, at("2026-11-28T19:59:59Z"))); /* Sat */
    /* 01:30 does not exist on 29 Mar 2026 in London: the wall clock jumps 01:00 -> 02:00,
     * and the window (01:30-02:30 wall) holds from the jump to 02:30 BST */
    const struct cg_freeze_window *gap = window(set, 1);
    assert_false(cg_freeze_window_contains(gap, at("2026-03-29T00:59:59Z")));
    assert_true(cg_freeze_window_contains(gap, at("2026-03-29T01:00:00Z")));
    assert_true(cg_freeze_window_contains(gap, at("2026-03-29T01:29:59Z")));
    assert_false(cg_freeze_window_contains(gap, at("2026-03-29T01:30:00Z")));
    /* a full week from Wednesday noon covers every instant */
    const struct cg_freeze_window *all = window(set, 2);
    for (int64_t t = at("2026-11-02T00:00:00Z"); t < at("2026-11-16T00:00:00Z"); t += 3599)
        assert_true(cg_freeze_window_contains(all, t));
    cg_policy_set_unref(set);
}

static void test_absolute_windows_with_offsets(void **state)
{
    (void)state;
    struct cg_policy_set *set =
        with_freezes("      - name: year-end\n        start: \"2026-12-24T00:00:00+01:00\"\n"
                     "        end: \"2026-12-27T00:00:00-05:00\"\n");
    const struct cg_freeze_window *w = window(set, 0);
    assert_int_equal(w->kind, CG_FREEZE_ABSOLUTE);
    assert_false(cg_freeze_window_contains(w, at("2026-12-23T22:59:59Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-12-23T23:00:00Z")));
    assert_true(cg_freeze_window_contains(w, at("2026-12-27T04:59:59Z")));
    assert_false(cg_freeze_window_contains(w, at("2026-12-27T05:00:00Z")));
    cg_policy_set_unref(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_london_offsets),
        cmocka_unit_test(test_new_york_offsets),
        cmocka_unit_test(test_footer_rule_far_future),
        cmocka_unit_test(test_tzif_transitions_and_footer),
        cmocka_unit_test(test_tzif_rejects_bad_input),
        cmocka_unit_test(test_zone_names),
        cmocka_unit_test(test_weekly_london_across_dst),
        cmocka_unit_test(test_weekly_new_york_across_dst),
        cmocka_unit_test(test_weekly_edges),
        cmocka_unit_test(test_absolute_windows_with_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
