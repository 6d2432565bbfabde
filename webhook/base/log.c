#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum cg_log_level min_level = CG_LOG_INFO;
static int log_fd = 2;

void cg_log_setup(enum cg_log_level level, int fd)
{
    min_level = level;
    log_fd = fd >= 0 ? fd : 2;
}

int cg_log_enabled(enum cg_log_level level)
{
    return level >= min_level;
}

int cg_log_level_parse(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* What a cut line ends with: a quote to close an open string, the mark, the brace. */
#define TRUNCATED_TAIL "\",\"truncated\":true}\n"

/* Appends s[0..n), or as much of it as fits before the room kept for the tail; atomic units
 * (escapes, keys) pass whole or not at all, text is cut only at a UTF-8 character boundary.
 * After a cut nothing more is written. */
static void put_unit(struct cg_log_line *l, const char *s, size_t n, int atomic)
{
    if (l->truncated)
        return;
    size_t room = CG_LOG_LINE_MAX - (sizeof(TRUNCATED_TAIL) - 1) - l->len;
    if (n > room) {
        l->truncated = 1;
        if (atomic)
            return;
        n = room;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put(struct cg_log_line *l, const char *s, size_t n)
{
    put_unit(l, s, n, 1);
}

static void put_escaped(struct cg_log_line *l, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the bytes that go out as they are */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put_unit(l, s + run, i - run, 0);
        if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
            put(l, e, 6);
        } else {
            char e[2] = {'\\', (char)c};
            put(l, e, 2);
        }
        run = i + 1;
    }
    put_unit(l, s + run, n - run, 0);
}

/* Writes the decimal digits of v, width wide with leading zeros, at p. */
static void put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Writes ,"key": and returns where the field began. A field that cannot start whole is
 * taken back, so a cut never leaves half a key. */
static size_t put_key(struct cg_log_line *l, const char *key)
{
    size_t mark = l->len;
    put(l, ",\"", 2);
    put_escaped(l, key, strlen(key));
    put(l, "\":", 2);
    if (l->truncated)
        l->len = mark;
    return mark;
}

void cg_log_begin(struct cg_log_line *l, enum cg_log_level level, const char *msg)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    l->len = 0;
    l->truncated = 0;
    l->in_string = 0;
    l->active = cg_log_enabled(level);
    if (!l->active)
        return;
    /* Formatted by hand: snprintf cost ~3,000 instructions per line (callgrind). */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char head[64] = "{\"ts\":\"YYYY-MM-DDThh:mm:ss.mmmZ\",\"level\":\"";
    put_digits(head + 7, (unsigned)(tm.tm_year + 1900) % 10000, 4);
    put_digits(head + 12, (unsigned)tm.tm_mon + 1, 2);
    put_digits(head + 15, (unsigned)tm.tm_mday, 2);
    put_digits(head + 18, (unsigned)tm.tm_hour, 2);
    put_digits(head + 21, (unsigned)tm.tm_min, 2);
    put_digits(head + 24, (unsigned)tm.tm_sec, 2);
    put_digits(head + 27, (unsigned)(ts.tv_nsec / 1000000), 3);
    put(l, head, strlen(head));
    put(l, names[level], strlen(names[level]));
    put(l, "\",\"msg\":\"", 9);
    l->in_string = 1;
    put_escaped(l, msg, strlen(msg));
    put(l, "\"", 1);
    l->in_string = l->truncated;
}

void cg_log_strn(struct cg_log_line *l, const char *key, const char *value, size_t n)
{
    if (!l->active)
        return;
    size_t mark = put_key(l, key);
    put(l, "\"", 1);
    if (l->truncated) {
        l->len = mark; /* not even the opening quote fit */
        return;
    }
    l->in_string = 1;
    put_escaped(l, value ? value : "", value ? n : 0);
    put(l, "\"", 1);
    l->in_string = l->truncated;
}

void cg_log_str(struct cg_log_line *l, const char *key, const char *value)
{
    cg_log_strn(l, key, value, value ? strlen(value) : 0);
}

void cg_log_int(struct cg_log_line *l, const char *key, int64_t value)
{
    if (!l->active)
        return;
    char num[24];
    char *p = num + sizeof(num);
    /* In unsigned arithmetic, so that INT64_MIN negates. */
    uint64_t u = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (value < 0)
        *--p = '-';
    size_t mark = put_key(l, key);
    put(l, p, (size_t)(num + sizeof(num) - p));
    if (l->truncated)
        l->len = mark; /* a number is whole or absent */
}

void cg_log_bool(struct cg_log_line *l, const char *key, int value)
{
    if (!l->active)
        return;
    size_t mark = put_key(l, key);
    put(l, value ? "true" : "false", value ? 4 : 5);
    if (l->truncated)
        l->len = mark;
}

static void write_all(const char *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(log_fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* nowhere to report a failing log; drop the lines */
        off += (size_t)w;
    }
}

static void terminate(struct cg_log_line *l)
{
    if (!l->truncated) {
        l->buf[l->len++] = '}';
        l->buf[l->len++] = '\n';
        return;
    }
    const char *tail = &TRUNCATED_TAIL[l->in_string ? 0 : 1];
    size_t n = strlen(tail);
    memcpy(l->buf + l->len, tail, n);
    l->len += n;
}

void cg_log_end(struct cg_log_line *l)
{
    if (!l->active)
        return;
    terminate(l);
    write_all(l->buf, l->len);
    l->active = 0;
}

void cg_log_end_batched(struct cg_log_line *l, struct cg_log_batch *b)
{
    if (!l->active)
        return;
    terminate(l);
    _Static_assert(CG_LOG_LINE_MAX <= CG_LOG_BATCH_MAX, "a line always fits an empty batch");
    if (b->len + l->len > sizeof(b->buf))
        cg_log_batch_flush(b);
    memcpy(b->buf + b->len, l->buf, l->len);
    b->len += l->len;
    l->active = 0;
}

void cg_log_batch_flush(struct cg_log_batch *b)
{
    if (b->len == 0)
        return;
    write_all(b->buf, b->len);
    b->len = 0;
}

void cg_log(enum cg_log_level level, const char *msg, ...)
{
    struct cg_log_line l;
    cg_log_begin(&l, level, msg);
    va_list ap;
    va_start(ap, msg);
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        cg_log_str(&l, key, value);
    }
    va_end(ap);
    cg_log_end(&l);
}
