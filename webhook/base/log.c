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

static void put(struct cg_log_line *l, const char *s, size_t n)
{
    /* Keep 2 bytes for the closing "}\n". */
    size_t room = CG_LOG_LINE_MAX - 2 - l->len;
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_escaped(struct cg_log_line *l, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the bytes that go out as they are */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(l, s + run, i - run);
        if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
            put(l, e, 6);
        } else {
            char e[2] = {'\\', (char)c};
            put(l, e, 2);
        }
        run = i + 1;
    }
    put(l, s + run, n - run);
}

/* Writes the decimal digits of v, width wide with leading zeros, at p. */
static void put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static void put_key(struct cg_log_line *l, const char *key)
{
    put(l, ",\"", 2);
    put_escaped(l, key, strlen(key));
    put(l, "\":", 2);
}

void cg_log_begin(struct cg_log_line *l, enum cg_log_level level, const char *msg)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    l->len = 0;
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
    put_escaped(l, msg, strlen(msg));
    put(l, "\"", 1);
}

void cg_log_strn(struct cg_log_line *l, const char *key, const char *value, size_t n)
{
    if (!l->active)
        return;
    put_key(l, key);
    put(l, "\"", 1);
    put_escaped(l, value ? value : "", value ? n : 0);
    put(l, "\"", 1);
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
    put_key(l, key);
    put(l, p, (size_t)(num + sizeof(num) - p));
}

void cg_log_bool(struct cg_log_line *l, const char *key, int value)
{
    if (!l->active)
        return;
    put_key(l, key);
    put(l, value ? "true" : "false", value ? 4 : 5);
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
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
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
