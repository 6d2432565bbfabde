/* The cellgate.io/release record codec: a hand-written encoder (no DOM, nothing allocated but
 * the output buffer) and a jansson decoder that takes the webhook's short form as well as
 * the controller's full record. */
#include "release/record.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "policy/policy_internal.h"

static const char *const state_names[] = {
    [CG_RELEASE_PROGRESSING] = "progressing", [CG_RELEASE_WAITING_APPROVAL] = "waiting-approval",
    [CG_RELEASE_SOAKING] = "soaking",         [CG_RELEASE_PAUSED] = "paused",
    [CG_RELEASE_ROLLBACK] = "rollback",       [CG_RELEASE_COMPLETE] = "complete",
    [CG_RELEASE_FAILED] = "failed",
};

static const char *const cause_names[] = {
    [CG_PAUSE_CAUSE_NONE] = "",       [CG_PAUSE_CAUSE_EMERGENCY] = "emergency",
    [CG_PAUSE_CAUSE_CHECK] = "check", [CG_PAUSE_CAUSE_FREEZE] = "freeze",
    [CG_PAUSE_CAUSE_USER] = "user",
};

#define N_STATES (sizeof(state_names) / sizeof(state_names[0]))
#define N_CAUSES (sizeof(cause_names) / sizeof(cause_names[0]))

const char *cg_release_state_str(enum cg_release_state s)
{
    return (size_t)s < N_STATES ? state_names[s] : "unknown";
}

const char *cg_pause_cause_str(enum cg_pause_cause c)
{
    return (size_t)c < N_CAUSES ? cause_names[c] : "unknown";
}

/* Copies s into a fixed field, cut on a UTF-8 boundary when it does not fit. */
static void copy_text(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

enum cg_status cg_release_record_init(struct cg_release_record *rec, uint64_t revision,
                                      const struct cg_cells *cells, const struct cg_plan *plan,
                                      enum cg_release_state state)
{
    memset(rec, 0, sizeof(*rec));
    if (cells->n > CG_PLAN_MAX_CELLS || plan->n_cells != cells->n ||
        plan->n_groups > CG_PLAN_MAX_GROUPS || plan->n_groups == 0)
        return CG_EINVAL;
    rec->revision = revision;
    rec->n_cells = cells->n;
    rec->n_groups = plan->n_groups;
    for (size_t c = 0; c < cells->n; c++) {
        size_t n = strlen(cells->items[c].name);
        if (n >= CG_RECORD_NAME_MAX)
            return CG_ETOOBIG;
        memcpy(rec->cells[c], cells->items[c].name, n + 1);
    }
    for (size_t g = 0; g < plan->n_groups; g++)
        for (size_t c = 0; c < plan->n_cells; c++)
            rec->pods[g][c] = plan->pods[g][c];
    rec->state = state;
    return CG_OK;
}

uint32_t cg_release_record_cum(const struct cg_release_record *rec, uint32_t g, size_t c)
{
    uint32_t sum = 0;
    for (uint32_t h = 0; h <= g && h < rec->n_groups; h++)
        sum += rec->pods[h][c];
    return sum;
}

uint32_t cg_release_record_group_total(const struct cg_release_record *rec, uint32_t g)
{
    uint32_t sum = 0;
    for (size_t c = 0; g < rec->n_groups && c < rec->n_cells; c++)
        sum += rec->pods[g][c];
    return sum;
}

/* --- encoding ------------------------------------------------------------------------------ */

struct enc {
    struct cg_buf *b;
    enum cg_status st; /* the first failure; later appends are skipped */
};

static void put(struct enc *e, const char *s)
{
    if (e->st == CG_OK)
        e->st = cg_buf_append_str(e->b, s);
}

static void put_uint(struct enc *e, uint64_t v)
{
    if (e->st == CG_OK)
        e->st = cg_buf_append_uint(e->b, v);
}

static void put_string(struct enc *e, const char *s)
{
    if (e->st == CG_OK)
        e->st = cg_buf_append_json_string(e->b, s, strlen(s));
}

static void put_hex(struct enc *e, uint64_t v)
{
    if (e->st == CG_OK)
        e->st = cg_buf_appendf(e->b, "\"%016" PRIx64 "\"", v);
}

/* RFC 3339 in UTC, as Kubernetes writes times. */
static void put_time(struct enc *e, int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (gmtime_r(&tt, &tm) == NULL) {
        put_uint(e, t < 0 ? 0 : (uint64_t)t);
        return;
    }
    if (e->st == CG_OK)
        e->st = cg_buf_appendf(e->b, "\"%04d-%02d-%02dT%02d:%02d:%02dZ\"", tm.tm_year + 1900,
                               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void put_counts(struct enc *e, const uint32_t *v, size_t n)
{
    put(e, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(e, ",");
        put_uint(e, v[i]);
    }
    put(e, "]");
}

enum cg_status cg_release_record_encode(const struct cg_release_record *rec, struct cg_buf *out)
{
    if (rec->n_cells == 0 || rec->n_cells > CG_PLAN_MAX_CELLS || rec->n_groups == 0 ||
        rec->n_groups > CG_PLAN_MAX_GROUPS || rec->group >= rec->n_groups ||
        rec->n_approvals > CG_RECORD_MAX_APPROVALS || (size_t)rec->state >= N_STATES ||
        (size_t)rec->pause_cause >= N_CAUSES)
        return CG_EINVAL;
    size_t start = out->len;
    struct enc e = {out, CG_OK};
    put(&e, "{\"revision\":");
    put_hex(&e, rec->revision);
    put(&e, ",\"cells\":[");
    for (size_t c = 0; c < rec->n_cells; c++) {
        if (c)
            put(&e, ",");
        put_string(&e, rec->cells[c]);
    }
    put(&e, "],\"groups\":[");
    for (size_t g = 0; g < rec->n_groups; g++) {
        if (g)
            put(&e, ",");
        put_counts(&e, rec->pods[g], rec->n_cells);
    }
    put(&e, "],\"group\":");
    put_uint(&e, rec->group);
    put(&e, ",\"state\":");
    put_string(&e, state_names[rec->state]);
    /* The controller's fields, each only when set: the webhook's short form stays short. */
    if (rec->reason[0]) {
        put(&e, ",\"reason\":");
        put_string(&e, rec->reason);
    }
    if (rec->pause_cause != CG_PAUSE_CAUSE_NONE) {
        put(&e, ",\"pauseCause\":");
        put_string(&e, cause_names[rec->pause_cause]);
    }
    if (rec->cellgate_paused)
        put(&e, ",\"cellgatePaused\":true");
    if (rec->rolled_back_from) {
        put(&e, ",\"rolledBackFrom\":");
        put_hex(&e, rec->rolled_back_from);
    }
    if (rec->failed_check[0]) {
        put(&e, ",\"failedCheck\":");
        put_string(&e, rec->failed_check);
    }
    static const struct {
        const char *key;
        size_t off;
    } times[] = {
        {",\"since\":", offsetof(struct cg_release_record, since)},
        {",\"groupSince\":", offsetof(struct cg_release_record, group_since)},
        {",\"groupDone\":", offsetof(struct cg_release_record, group_done)},
        {",\"updated\":", offsetof(struct cg_release_record, updated)},
    };
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        int64_t t;
        memcpy(&t, (const char *)rec + times[i].off, sizeof(t));
        if (t > 0) {
            put(&e, times[i].key);
            put_time(&e, t);
        }
    }
    if (rec->has_counts) {
        put(&e, ",\"counts\":{\"newServing\":");
        put_counts(&e, rec->new_serving, rec->n_cells);
        put(&e, ",\"oldLive\":");
        put_counts(&e, rec->old_live, rec->n_cells);
        put(&e, "}");
    }
    if (rec->n_approvals) {
        put(&e, ",\"approvals\":[");
        for (size_t i = 0; i < rec->n_approvals; i++) {
            const struct cg_release_approval *a = &rec->approvals[i];
            put(&e, i ? ",{\"group\":" : "{\"group\":");
            put_uint(&e, a->group);
            if (a->by[0]) {
                put(&e, ",\"by\":");
                put_string(&e, a->by);
            }
            if (a->at > 0) {
                put(&e, ",\"at\":");
                put_time(&e, a->at);
            }
            put(&e, "}");
        }
        put(&e, "]");
    }
    put(&e, "}");
    if (e.st != CG_OK) {
        out->len = start;
        if (out->data != NULL)
            out->data[start] = '\0';
    }
    return e.st;
}

/* --- decoding ------------------------------------------------------------------------------ */

static enum cg_status bad(struct cg_err *err, const char *field, const char *what)
{
    return cg_err_set(err, CG_EINVAL, "release record: %s %s", field, what);
}

static bool get_hex(const json_t *v, uint64_t *out)
{
    const char *s = json_string_value(v);
    if (s == NULL || json_string_length(v) != 16)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < 16; i++) {
        char ch = s[i];
        unsigned d = ch >= '0' && ch <= '9'   ? (unsigned)(ch - '0')
                     : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                     : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10)
                                              : 16u;
        if (d > 15)
            return false;
        x = x << 4 | d;
    }
    *out = x;
    return true;
}

/* A time: RFC 3339 text, or unix seconds (absent: 0). */
static bool get_time(const json_t *v, int64_t *out)
{
    if (v == NULL) {
        *out = 0;
        return true;
    }
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return *out >= 0;
    }
    const char *s = json_string_value(v);
    return s != NULL && cg__rfc3339_parse(s, out);
}

static bool get_text(const json_t *v, char *dst, size_t cap)
{
    if (v == NULL) {
        dst[0] = '\0';
        return true;
    }
    if (!json_is_string(v))
        return false;
    copy_text(dst, cap, json_string_value(v), json_string_length(v));
    return true;
}

/* A JSON array of n counts (each 0..UINT32_MAX). */
static bool get_counts(const json_t *v, uint32_t *out, size_t n)
{
    if (!json_is_array(v) || json_array_size(v) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(v, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0 ||
            json_integer_value(x) > (json_int_t)UINT32_MAX)
            return false;
        out[i] = (uint32_t)json_integer_value(x);
    }
    return true;
}

static bool lookup(const char *const *names, size_t n, const char *s, int *out)
{
    for (size_t i = 0; s != NULL && i < n; i++) {
        if (strcmp(names[i], s) == 0) {
            *out = (int)i;
            return true;
        }
    }
    return false;
}

static enum cg_status decode_obj(const json_t *o, struct cg_release_record *rec, struct cg_err *err)
{
    if (!json_is_object(o))
        return bad(err, "(top)", "is not an object");
    if (!get_hex(json_object_get(o, "revision"), &rec->revision))
        return bad(err, "revision", "is not 16 hex digits");
    const json_t *cells = json_object_get(o, "cells");
    if (!json_is_array(cells) || json_array_size(cells) == 0 ||
        json_array_size(cells) > CG_PLAN_MAX_CELLS)
        return bad(err, "cells", "is not a list of 1..16 names");
    rec->n_cells = json_array_size(cells);
    for (size_t c = 0; c < rec->n_cells; c++) {
        const json_t *v = json_array_get(cells, c);
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) >= CG_RECORD_NAME_MAX)
            return bad(err, "cells", "holds a name that is not a non-empty string of <64 bytes");
        memcpy(rec->cells[c], json_string_value(v), json_string_length(v) + 1);
    }
    const json_t *groups = json_object_get(o, "groups");
    if (!json_is_array(groups) || json_array_size(groups) == 0 ||
        json_array_size(groups) > CG_PLAN_MAX_GROUPS)
        return bad(err, "groups", "is not a list of 1..16 groups");
    rec->n_groups = json_array_size(groups);
    for (size_t g = 0; g < rec->n_groups; g++)
        if (!get_counts(json_array_get(groups, g), rec->pods[g], rec->n_cells))
            return bad(err, "groups", "holds a group that is not one count per cell");
    const json_t *group = json_object_get(o, "group");
    if (!json_is_integer(group) || json_integer_value(group) < 0 ||
        json_integer_value(group) >= (json_int_t)rec->n_groups)
        return bad(err, "group", "is not the index of a group");
    rec->group = (uint32_t)json_integer_value(group);
    const char *state = json_string_value(json_object_get(o, "state"));
    int si = 0;
    if (state != NULL && strcmp(state, "rolling-back") == 0)
        si = CG_RELEASE_ROLLBACK;
    else if (!lookup(state_names, N_STATES, state, &si))
        return bad(err, "state", "is not a known state");
    rec->state = (enum cg_release_state)si;

    const json_t *v = json_object_get(o, "pauseCause");
    int ci = 0;
    if (v != NULL && !lookup(cause_names, N_CAUSES, json_string_value(v), &ci))
        return bad(err, "pauseCause", "is not a known cause");
    rec->pause_cause = (enum cg_pause_cause)ci;
    if (!get_text(json_object_get(o, "reason"), rec->reason, sizeof(rec->reason)))
        return bad(err, "reason", "is not a string");
    if (!get_text(json_object_get(o, "failedCheck"), rec->failed_check, sizeof(rec->failed_check)))
        return bad(err, "failedCheck", "is not a string");
    v = json_object_get(o, "cellgatePaused");
    if (v != NULL && !json_is_boolean(v))
        return bad(err, "cellgatePaused", "is not a boolean");
    rec->cellgate_paused = json_is_true(v);
    v = json_object_get(o, "rolledBackFrom");
    if (v != NULL && !get_hex(v, &rec->rolled_back_from))
        return bad(err, "rolledBackFrom", "is not 16 hex digits");
    if (!get_time(json_object_get(o, "since"), &rec->since) ||
        !get_time(json_object_get(o, "groupSince"), &rec->group_since) ||
        !get_time(json_object_get(o, "groupDone"), &rec->group_done) ||
        !get_time(json_object_get(o, "updated"), &rec->updated))
        return bad(err, "since/groupSince/groupDone/updated", "is not an RFC 3339 time");
    const json_t *counts = json_object_get(o, "counts");
    if (counts != NULL) {
        if (!json_is_object(counts) ||
            !get_counts(json_object_get(counts, "newServing"), rec->new_serving, rec->n_cells) ||
            !get_counts(json_object_get(counts, "oldLive"), rec->old_live, rec->n_cells))
            return bad(err, "counts", "is not {newServing, oldLive} with one count per cell");
        rec->has_counts = true;
    }
    const json_t *approvals = json_object_get(o, "approvals");
    if (approvals != NULL) {
        if (!json_is_array(approvals) || json_array_size(approvals) > CG_RECORD_MAX_APPROVALS)
            return bad(err, "approvals", "is not a list of at most 16 approvals");
        rec->n_approvals = json_array_size(approvals);
        for (size_t i = 0; i < rec->n_approvals; i++) {
            const json_t *a = json_array_get(approvals, i);
            const json_t *g = json_object_get(a, "group");
            struct cg_release_approval *ap = &rec->approvals[i];
            if (!json_is_integer(g) || json_integer_value(g) < 0 ||
                json_integer_value(g) >= (json_int_t)rec->n_groups ||
                !get_text(json_object_get(a, "by"), ap->by, sizeof(ap->by)) ||
                !get_time(json_object_get(a, "at"), &ap->at))
                return bad(err, "approvals", "holds an entry that is not {group, by, at}");
            ap->group = (uint32_t)json_integer_value(g);
        }
    }
    return CG_OK;
}

enum cg_status cg_release_record_decode(const char *json, size_t len, struct cg_release_record *rec,
                                        struct cg_err *err)
{
    memset(rec, 0, sizeof(*rec));
    json_error_t jerr;
    json_auto_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL)
        return cg_err_set(err, CG_EPARSE, "release record: %s at offset %d", jerr.text,
                          jerr.position);
    enum cg_status st = decode_obj(o, rec, err);
    if (st != CG_OK)
        memset(rec, 0, sizeof(*rec));
    return st;
}
