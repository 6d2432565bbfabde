#include "policy/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/mem.h"

#define TZ_FILE_MAX (512 * 1024)
#define TZ_NAME_MAX 128

/* One DST rule endpoint of a POSIX TZ string: Jn, n or Mm.w.d, at a local time of day. */
struct rule_date {
    char form; /* 'J' (1..365, no Feb 29), 'D' (0..365), 'M' (month.week.day) */
    int n, month, week, wday;
    int32_t time; /* seconds after local midnight; may be negative or past 24h */
};

struct posix_tz {
    bool present;
    int32_t std_off, dst_off; /* east positive */
    bool has_dst;
    struct rule_date start, end;
};

struct cg_tz {
    int64_t *times;   /* transition instants, ascending */
    uint8_t *type_of; /* local time type after each transition */
    size_t n_times;
    int32_t *offsets; /* per local time type */
    size_t n_types;
    struct posix_tz footer;
};

bool cg_tz_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
        return false;
    const char *comp = name;
    for (const char *p = name;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t len = (size_t)(p - comp);
            if (len == 0 || (len == 1 && comp[0] == '.') ||
                (len == 2 && comp[0] == '.' && comp[1] == '.'))
                return false;
            if (*p == '\0')
                return true;
            comp = p + 1;
            continue;
        }
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '+' || c == '.';
        if (!ok)
            return false;
    }
}

void cg_tz_destroy(struct cg_tz *tz)
{
    if (tz == NULL)
        return;
    free(tz->times);
    free(tz->type_of);
    free(tz->offsets);
    free(tz);
}

static struct cg_tz *utc_zone(void)
{
    struct cg_tz *tz = cg_xcalloc(1, sizeof(*tz));
    tz->offsets = cg_xcalloc(1, sizeof(*tz->offsets));
    tz->n_types = 1;
    return tz;
}

/* ---- civil calendar ---- */

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t year_of_days(int64_t days)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    return yoe + era * 400 + (m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* Local seconds (since the epoch, as if UTC) at which a rule date falls in year y. */
static int64_t rule_local(const struct rule_date *r, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    int64_t day;
    switch (r->form) {
    case 'J':
        day = jan1 + r->n - 1 + (is_leap(y) && r->n >= 60 ? 1 : 0);
        break;
    case 'D':
        day = jan1 + r->n;
        break;
    default: {
        int64_t first = days_from_civil(y, r->month, 1);
        int wday_first = (int)((first % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
        int dim = month_days[r->month - 1] + (r->month == 2 && is_leap(y) ? 1 : 0);
        int dom = 1 + (r->wday - wday_first + 7) % 7 + (r->week - 1) * 7;
        if (dom > dim)
            dom -= 7;
        day = first + dom - 1;
    }
    }
    return day * 86400 + r->time;
}

static int32_t footer_offset(const struct posix_tz *f, int64_t t)
{
    if (!f->has_dst)
        return f->std_off;
    int64_t y = year_of_days(floor_div(t + f->std_off, 86400));
    int64_t start = rule_local(&f->start, y) - f->std_off; /* given in standard time */
    int64_t end = rule_local(&f->end, y) - f->dst_off;     /* given in daylight time */
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? f->dst_off : f->std_off;
}

int32_t cg_tz_offset(const struct cg_tz *tz, int64_t t)
{
    if (tz->n_times == 0 || t >= tz->times[tz->n_times - 1]) {
        if (tz->footer.present)
            return footer_offset(&tz->footer, t);
        if (tz->n_times == 0)
            return tz->offsets[0];
        return tz->offsets[tz->type_of[tz->n_times - 1]];
    }
    if (t < tz->times[0])
        return tz->offsets[0];
    size_t lo = 0, hi = tz->n_times - 1; /* times[lo] <= t < times[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->times[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->offsets[tz->type_of[lo]];
}

/* ---- POSIX TZ strings ("GMT0BST,M3.5.0/1,M10.5.0") ---- */

static bool parse_name(const char **sp)
{
    const char *s = *sp;
    if (*s == '<') {
        const char *e = strchr(s, '>');
        if (e == NULL || e - s < 4)
            return false;
        *sp = e + 1;
        return true;
    }
    size_t n = 0;
    while ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z'))
        n++;
    if (n < 3)
        return false;
    *sp = s + n;
    return true;
}

static bool parse_num(const char **sp, int lo, int hi, int *out)
{
    const char *s = *sp;
    if (!(*s >= '0' && *s <= '9'))
        return false;
    int v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (v > hi)
            return false;
    }
    if (v < lo)
        return false;
    *sp = s;
    *out = v;
    return true;
}

/* [+-]hh[:mm[:ss]] into seconds. */
static bool parse_hms(const char **sp, int max_hours, int32_t *out)
{
    const char *s = *sp;
    int sign = 1, h = 0, m = 0, sec = 0;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (!parse_num(&s, 0, max_hours, &h))
        return false;
    if (*s == ':') {
        s++;
        if (!parse_num(&s, 0, 59, &m))
            return false;
        if (*s == ':') {
            s++;
            if (!parse_num(&s, 0, 59, &sec))
                return false;
        }
    }
    *sp = s;
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
}

static bool parse_rule_date(const char **sp, struct rule_date *r)
{
    const char *s = *sp;
    if (*s == 'J') {
        s++;
        r->form = 'J';
        if (!parse_num(&s, 1, 365, &r->n))
            return false;
    } else if (*s == 'M') {
        s++;
        r->form = 'M';
        if (!parse_num(&s, 1, 12, &r->month) || *s++ != '.' || !parse_num(&s, 1, 5, &r->week) ||
            *s++ != '.' || !parse_num(&s, 0, 6, &r->wday))
            return false;
    } else {
        r->form = 'D';
        if (!parse_num(&s, 0, 365, &r->n))
            return false;
    }
    r->time = 7200;
    if (*s == '/') {
        s++;
        if (!parse_hms(&s, 167, &r->time))
            return false;
    }
    *sp = s;
    return true;
}

static bool parse_posix(const char *s, struct posix_tz *out)
{
    memset(out, 0, sizeof(*out));
    if (*s == '\0')
        return true; /* empty footer: no rule */
    int32_t west;
    if (!parse_name(&s) || !parse_hms(&s, 24, &west))
        return false;
    out->present = true;
    out->std_off = -west;
    if (*s == '\0')
        return true;
    if (!parse_name(&s))
        return false;
    out->has_dst = true;
    out->dst_off = out->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if (!parse_hms(&s, 24, &west))
            return false;
        out->dst_off = -west;
    }
    if (*s == '\0') {
        /* no rule given: POSIX leaves it to the implementation; use the US rule */
        out->start = (struct rule_date){.form = 'M', .month = 3, .week = 2, .time = 7200};
        out->end = (struct rule_date){.form = 'M', .month = 11, .week = 1, .time = 7200};
        return true;
    }
    if (*s++ != ',' || !parse_rule_date(&s, &out->start) || *s++ != ',' ||
        !parse_rule_date(&s, &out->end))
        return false;
    return *s == '\0';
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_header {
    char version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static bool read_header(const unsigned char *p, size_t len, struct tzif_header *h)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    h->version = (char)p[4];
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    /* counts are bounded so the size arithmetic below cannot overflow */
    return h->typecnt >= 1 && h->typecnt <= 256 && h->timecnt <= 100000 && h->leapcnt <= 100000 &&
           h->charcnt <= 100000 && (h->isutcnt == 0 || h->isutcnt == h->typecnt) &&
           (h->isstdcnt == 0 || h->isstdcnt == h->typecnt);
}

static size_t block_size(const struct tzif_header *h, size_t time_size)
{
    return h->timecnt * time_size + h->timecnt + h->typecnt * 6 + h->charcnt +
           h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
}

enum cg_status cg_tz_decode(const unsigned char *data, size_t len, struct cg_tz **out,
                            struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_tz *tz = NULL;
    struct tzif_header h1, h2;
    *out = NULL;
    if (!read_header(data, len, &h1))
        return cg_err_set(err, CG_EPARSE, "not a TZif file");
    if (h1.version < '2')
        return cg_err_set(err, CG_EPARSE, "TZif version 1 is not supported (need 2 or later)");
    size_t off = 44 + block_size(&h1, 4);
    if (off > len || !read_header(data + off, len - off, &h2))
        return cg_err_set(err, CG_EPARSE, "truncated TZif file");
    if (h2.leapcnt != 0)
        return cg_err_set(err, CG_EPARSE, "leap-second (\"right/\") zones are not supported");
    off += 44;
    if (block_size(&h2, 8) > len - off)
        return cg_err_set(err, CG_EPARSE, "truncated TZif file");

    tz = cg_xcalloc(1, sizeof(*tz));
    const unsigned char *p = data + off;
    tz->n_times = h2.timecnt;
    tz->n_types = h2.typecnt;
    tz->times = cg_xmalloc((h2.timecnt ? h2.timecnt : 1) * sizeof(*tz->times));
    tz->type_of = cg_xmalloc(h2.timecnt ? h2.timecnt : 1);
    tz->offsets = cg_xmalloc(h2.typecnt * sizeof(*tz->offsets));
    for (size_t i = 0; i < h2.timecnt; i++) {
        tz->times[i] = be64(p + 8 * i);
        if (i > 0 && tz->times[i] <= tz->times[i - 1]) {
            st = cg_err_set(err, CG_EPARSE, "TZif transitions are not ascending");
            goto out;
        }
    }
    p += 8 * (size_t)h2.timecnt;
    for (size_t i = 0; i < h2.timecnt; i++) {
        if (p[i] >= h2.typecnt) {
            st = cg_err_set(err, CG_EPARSE, "TZif transition names an unknown type");
            goto out;
        }
        tz->type_of[i] = p[i];
    }
    p += h2.timecnt;
    for (size_t i = 0; i < h2.typecnt; i++) {
        int32_t utoff = (int32_t)be32(p + 6 * i);
        if (utoff < -25 * 3600 || utoff > 26 * 3600) {
            st = cg_err_set(err, CG_EPARSE, "TZif offset out of range");
            goto out;
        }
        tz->offsets[i] = utoff;
    }
    p = data + off + block_size(&h2, 8);

    /* footer: "\n" TZ-string "\n" */
    size_t rest = len - (size_t)(p - data);
    if (rest < 2 || p[0] != '\n') {
        st = cg_err_set(err, CG_EPARSE, "TZif footer missing");
        goto out;
    }
    const unsigned char *nl = memchr(p + 1, '\n', rest - 1);
    if (nl == NULL || nl - (p + 1) > 255) {
        st = cg_err_set(err, CG_EPARSE, "TZif footer malformed");
        goto out;
    }
    char rule[256];
    memcpy(rule, p + 1, (size_t)(nl - (p + 1)));
    rule[nl - (p + 1)] = '\0';
    if (!parse_posix(rule, &tz->footer)) {
        st = cg_err_set(err, CG_EPARSE, "TZif footer rule \"%s\" not understood", rule);
        goto out;
    }
    *out = tz;
    tz = NULL;
out:
    cg_tz_destroy(tz);
    return st;
}

enum cg_status cg_tz_load(const char *dir, const char *name, struct cg_tz **out, struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_buf buf;
    char path[512];
    *out = NULL;
    cg_buf_init(&buf, TZ_FILE_MAX);
    if (!cg_tz_name_valid(name)) {
        st = cg_err_set(err, CG_EINVAL, "\"%s\" is not a valid time zone name", name);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : CG_TZ_DEFAULT_DIR, name);
    st = cg_file_read(path, TZ_FILE_MAX, &buf, err);
    if (st) {
        if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
            *out = utc_zone();
            st = CG_OK;
            goto out;
        }
        st = cg_err_set(err, CG_ENOTFOUND, "unknown time zone \"%s\" (no %s)", name, path);
        goto out;
    }
    st = cg_tz_decode((const unsigned char *)buf.data, buf.len, out, err);
    if (st && err) {
        char why[CG_ERR_MSG_MAX];
        snprintf(why, sizeof(why), "%s", err->msg);
        cg_err_set(err, st, "time zone \"%s\": %s", name, why);
    }
out:
    cg_buf_dispose(&buf);
    return st;
}
