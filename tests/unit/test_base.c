/* base/: status strings and errors, the capped buffer and its JSON escaping, base64 against
 * RFC 4648's test vectors, the arena, JSON log lines, file reads and fingerprints. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/base64.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"

static void test_status_and_err(void **state)
{
    assert_string_equal(cg_status_str(CG_OK), "ok");
    assert_string_equal(cg_status_str(CG_EPARSE), "malformed input");
    assert_string_equal(cg_status_str((enum cg_status) - 999), "unknown status");

    struct cg_err err;
    cg_err_clear(&err);
    assert_int_equal(err.status, CG_OK);
    assert_int_equal(cg_err_set(&err, CG_EINVAL, "bad %s", "thing"), CG_EINVAL);
    char out[128];
    cg_err_format(&err, out, sizeof(out));
    assert_string_equal(out, "bad thing");
    cg_err_set_at(&err, CG_EPARSE, "p.yaml", 3, 7, "unknown key %s", "foo");
    cg_err_format(&err, out, sizeof(out));
    assert_string_equal(out, "p.yaml:3:7: unknown key foo");
    /* A NULL err is allowed everywhere and still returns the status. */
    assert_int_equal(cg_err_set(NULL, CG_EIO, "x"), CG_EIO);
    assert_int_equal(cg_err_set_at(NULL, CG_EIO, "f", 1, 1, "x"), CG_EIO);
    cg_err_clear(NULL);
}

static void test_buf_cap_and_appendf(void **state)
{
    struct cg_buf b;
    cg_buf_init(&b, 8);
    assert_int_equal(cg_buf_append_str(&b, "12345678"), CG_OK);
    assert_string_equal(b.data, "12345678");
    /* The cap is a hard limit: nothing of a failing append is written. */
    assert_int_equal(cg_buf_append_char(&b, '9'), CG_ETOOBIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    cg_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(cg_buf_appendf(&b, "%d-%s", 42, "ab"), CG_OK);
    assert_string_equal(b.data, "42-ab");
    assert_int_equal(cg_buf_appendf(&b, "%s", "too long"), CG_ETOOBIG);
    assert_string_equal(b.data, "42-ab");
    size_t len = 0;
    char *taken = cg_buf_take(&b, &len);
    assert_string_equal(taken, "42-ab");
    assert_int_equal(len, 5);
    assert_null(b.data);
    free(taken);
    /* take on an empty buffer still gives a string the caller frees. */
    taken = cg_buf_take(&b, NULL);
    assert_string_equal(taken, "");
    free(taken);
    cg_buf_dispose(&b);

    /* Decimal integers, and the cap holds for them too. */
    cg_buf_init(&b, 24);
    assert_int_equal(cg_buf_append_uint(&b, 0), CG_OK);
    assert_int_equal(cg_buf_append_char(&b, ','), CG_OK);
    assert_int_equal(cg_buf_append_uint(&b, UINT64_MAX), CG_OK);
    assert_string_equal(b.data, "0,18446744073709551615");
    assert_int_equal(cg_buf_append_uint(&b, 100), CG_ETOOBIG);
    assert_string_equal(b.data, "0,18446744073709551615");
    cg_buf_reset(&b);
    assert_int_equal(cg_buf_append_uint(&b, 4096), CG_OK);
    assert_string_equal(b.data, "4096");
    cg_buf_dispose(&b);

    /* Without a cap it grows. */
    cg_buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(cg_buf_append(&b, "abcdefgh", 8), CG_OK);
    assert_int_equal(b.len, 80000);
    cg_buf_dispose(&b);
    cg_buf_dispose(&b); /* twice is harmless */
}

/* Sizes that would wrap size_t are refused, capped buffer or not, and leave the buffer as it
 * was. */
static void test_buf_size_overflow(void **state)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_buf_append_str(&b, "abc"), CG_OK);
    assert_int_equal(cg_buf_reserve(&b, SIZE_MAX), CG_ETOOBIG);
    assert_int_equal(cg_buf_reserve(&b, SIZE_MAX - 3), CG_ETOOBIG);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    cg_buf_dispose(&b);
    cg_buf_init(&b, 16);
    assert_int_equal(cg_buf_append_str(&b, "abc"), CG_OK);
    assert_int_equal(cg_buf_reserve(&b, SIZE_MAX), CG_ETOOBIG);
    assert_int_equal(cg_buf_reserve(&b, 14), CG_ETOOBIG);
    assert_int_equal(cg_buf_reserve(&b, 13), CG_OK);
    cg_buf_dispose(&b);
}

static void test_buf_json_escaping(void **state)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    static const char raw[] = "q\"b\\n\n\r\t\b\f\x01\x1f caf\xc3\xa9 <&>";
    assert_int_equal(cg_buf_append_json_string(&b, raw, sizeof(raw) - 1), CG_OK);
    assert_string_equal(b.data, "\"q\\\"b\\\\n\\n\\r\\t\\b\\f\\u0001\\u001f caf\xc3\xa9 <&>\"");
    /* jansson reads back exactly the original bytes. */
    json_error_t jerr;
    json_t *s = json_loadb(b.data, b.len, JSON_DECODE_ANY, &jerr);
    assert_non_null(s);
    assert_int_equal(json_string_length(s), sizeof(raw) - 1);
    assert_memory_equal(json_string_value(s), raw, sizeof(raw) - 1);
    json_decref(s);
    cg_buf_dispose(&b);

    cg_buf_init(&b, 4);
    assert_int_equal(cg_buf_append_json_string(&b, "\n\n", 2), CG_ETOOBIG);
    cg_buf_dispose(&b);
}

static void b64_case(const char *plain, const char *encoded)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_base64_encode(plain, strlen(plain), &b), CG_OK);
    assert_string_equal(b.data ? b.data : "", encoded);
    cg_buf_reset(&b);
    assert_int_equal(cg_base64_decode(encoded, strlen(encoded), &b), CG_OK);
    assert_int_equal(b.len, strlen(plain));
    assert_memory_equal(b.data ? b.data : "", plain, b.len);
    cg_buf_dispose(&b);
}

static void test_base64(void **state)
{
    /* RFC 4648 section 10. */
    b64_case("", "");
    b64_case("f", "Zg==");
    b64_case("fo", "Zm8=");
    b64_case("foo", "Zm9v");
    b64_case("foob", "Zm9vYg==");
    b64_case("fooba", "Zm9vYmE=");
    b64_case("foobar", "Zm9vYmFy");

    /* Binary round trip, every byte value. */
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    struct cg_buf enc, dec;
    cg_buf_init(&enc, 0);
    cg_buf_init(&dec, 0);
    assert_int_equal(cg_base64_encode(all, sizeof(all), &enc), CG_OK);
    assert_int_equal(cg_base64_decode(enc.data, enc.len, &dec), CG_OK);
    assert_int_equal(dec.len, sizeof(all));
    assert_memory_equal(dec.data, all, sizeof(all));

    /* Refusals: bad length, characters outside the alphabet, whitespace, padding inside. */
    static const char *bad[] = {"Zg=", "Zm9v!A==", "Zm9v\nYg==", "Z===", "Zg==Zg==", "Zm 9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cg_buf_reset(&dec);
        if (cg_base64_decode(bad[i], strlen(bad[i]), &dec) != CG_EPARSE)
            fail_msg("accepted bad base64 \"%s\"", bad[i]);
    }
    /* A cap on the output buffer is honoured. */
    struct cg_buf small;
    cg_buf_init(&small, 4);
    assert_int_equal(cg_base64_encode("foobar", 6, &small), CG_ETOOBIG);
    cg_buf_dispose(&small);
    cg_buf_dispose(&enc);
    cg_buf_dispose(&dec);
}

static void test_arena(void **state)
{
    struct cg_arena a;
    cg_arena_init(&a, 1024);
    char *p = cg_arena_alloc(&a, 10);
    memcpy(p, "0123456789", 10);
    /* Every allocation is aligned for any type. */
    for (int i = 1; i < 50; i++) {
        void *q = cg_arena_alloc(&a, (size_t)i);
        assert_int_equal((uintptr_t)q % _Alignof(max_align_t), 0);
        memset(q, 0xab, (size_t)i);
    }
    /* Growing the newest allocation keeps its bytes. */
    char *g = cg_arena_alloc(&a, 4);
    memcpy(g, "abcd", 4);
    char *g2 = cg_arena_grow(&a, g, 4, 3000); /* past the block: moves to a new block */
    assert_memory_equal(g2, "abcd", 4);
    memset(g2 + 4, 'x', 2996);
    char *g3 = cg_arena_grow(&a, g2, 3000, 3010);
    assert_memory_equal(g3, "abcd", 4);
    /* A large allocation gets a block of its own; reset keeps one block and rewinds it. */
    char *big = cg_arena_alloc(&a, 100000);
    memset(big, 1, 100000);
    cg_arena_reset(&a);
    char *again = cg_arena_alloc(&a, 16);
    memset(again, 2, 16);
    cg_arena_dispose(&a);
    cg_arena_dispose(&a);
}

static char *log_capture(void (*emit)(void))
{
    char path[] = "/tmp/cg-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    cg_log_setup(CG_LOG_INFO, fd);
    emit();
    cg_log_setup(CG_LOG_INFO, 2);
    lseek(fd, 0, SEEK_SET);
    char *buf = calloc(1, 65536);
    ssize_t n = read(fd, buf, 65535);
    assert_true(n >= 0);
    close(fd);
    unlink(path);
    return buf;
}

static void emit_lines(void)
{
    struct cg_log_line l;
    cg_log_begin(&l, CG_LOG_INFO, "review \"done\"");
    cg_log_str(&l, "uid", "u-1");
    cg_log_strn(&l, "name", "p1\nxyz", 3);
    cg_log_int(&l, "duration_us", -42);
    cg_log_int(&l, "zero", 0);
    cg_log_int(&l, "min", INT64_MIN);
    cg_log_int(&l, "max", INT64_MAX);
    cg_log_str(&l, "esc", "a\"b\\c\td\x01e/\xc3\xa9");
    cg_log_bool(&l, "dry_run", 1);
    cg_log_end(&l);
    cg_log(CG_LOG_DEBUG, "filtered out", "k", "v", NULL);
    cg_log(CG_LOG_WARN, "second", "path", "/x", NULL);
    /* An over-long line is cut, and still a line. */
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cg_log(CG_LOG_ERROR, "long", "v", big, NULL);
}

/* Lines cut at every length around the cap, in strings with escapes and multi-byte
 * characters, in keys and numbers: each is one valid JSON object no longer than the cap,
 * marked truncated exactly when something was left out, never with half a character. */
static size_t cut_pad;
static const char *cut_value;

static void emit_cut(void)
{
    char pad[CG_LOG_LINE_MAX];
    memset(pad, 'p', cut_pad);
    pad[cut_pad] = '\0';
    struct cg_log_line l;
    cg_log_begin(&l, CG_LOG_INFO, "cut");
    cg_log_str(&l, "pad", pad);
    cg_log_str(&l, "value", cut_value);
    cg_log_int(&l, "number", -1234567890123LL);
    cg_log_bool(&l, "flag", 1);
    cg_log_str(&l, "a-rather-long-key-name-at-the-end", "tail");
    cg_log_end(&l);
}

static void test_log_truncation(void **state)
{
    static const char *const values[] = {
        "plain ascii text that goes on for a while",
        "\xc3\xa9\xc3\xa9\xe2\x82\xac\xe2\x82\xac\xf0\x9f\x98\x80\xf0\x9f\x98\x80 multi-byte",
        "\"quotes\" and \\ backslashes \x01\x02\x1f control characters \t\n",
    };
    size_t cut = 0, whole = 0;
    for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
        cut_value = values[v];
        for (cut_pad = CG_LOG_LINE_MAX - 420; cut_pad < CG_LOG_LINE_MAX - 60; cut_pad++) {
            char *out = log_capture(emit_cut);
            size_t len = strlen(out);
            if (len == 0 || len > CG_LOG_LINE_MAX || out[len - 1] != '\n' ||
                strchr(out, '\n') != out + len - 1)
                fail_msg("pad %zu: not one line within the cap (%zu bytes)", cut_pad, len);
            json_error_t jerr;
            json_t *doc = json_loads(out, 0, &jerr);
            if (doc == NULL)
                fail_msg("pad %zu, value %zu: not JSON (%s): %s", cut_pad, v, jerr.text, out);
            bool truncated = json_is_true(json_object_get(doc, "truncated"));
            const char *last =
                json_string_value(json_object_get(doc, "a-rather-long-key-name-at-the-end"));
            bool complete = last != NULL && strcmp(last, "tail") == 0;
            /* Nothing is ever left out silently. (A line whose last closing quote fell into
             * the room kept for the mark says truncated with all its text: harmless.) */
            if (!truncated && !complete)
                fail_msg("pad %zu value %zu: lost its end without the mark", cut_pad, v);
            /* What a value kept is a prefix of what was logged, on a character boundary
             * (jansson refuses invalid UTF-8, so a split character would not parse). */
            const char *kept = json_string_value(json_object_get(doc, "value"));
            if (kept != NULL)
                assert_int_equal(strncmp(kept, values[v], strlen(kept)), 0);
            if (json_object_get(doc, "number") != NULL)
                assert_true(json_integer_value(json_object_get(doc, "number")) == -1234567890123LL);
            cut += truncated && !complete;
            whole += complete && !truncated;
            json_decref(doc);
            free(out);
        }
    }
    assert_true(cut > 100 && whole > 100); /* both sides of the cap were exercised */
}

static void test_log_lines(void **state)
{
    char *out = log_capture(emit_lines);
    char *line2 = strchr(out, '\n');
    assert_non_null(line2);
    *line2++ = '\0';
    json_error_t jerr;
    json_t *l1 = json_loads(out, 0, &jerr);
    assert_non_null(l1);
    assert_string_equal(json_string_value(json_object_get(l1, "msg")), "review \"done\"");
    assert_string_equal(json_string_value(json_object_get(l1, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(l1, "uid")), "u-1");
    assert_string_equal(json_string_value(json_object_get(l1, "name")), "p1\n");
    assert_int_equal(json_integer_value(json_object_get(l1, "duration_us")), -42);
    assert_int_equal(json_integer_value(json_object_get(l1, "zero")), 0);
    assert_true(json_integer_value(json_object_get(l1, "min")) == INT64_MIN);
    assert_true(json_integer_value(json_object_get(l1, "max")) == INT64_MAX);
    assert_string_equal(json_string_value(json_object_get(l1, "esc")), "a\"b\\c\td\x01e/\xc3\xa9");
    assert_true(json_is_true(json_object_get(l1, "dry_run")));
    const char *ts = json_string_value(json_object_get(l1, "ts"));
    assert_non_null(ts);
    assert_int_equal(strlen(ts), strlen("2026-11-26T10:00:00.000Z"));
    /* The stamp is now, in UTC, to the millisecond. */
    struct tm tm = {0};
    int ms = -1;
    char z = 0;
    assert_int_equal(sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &z),
                     8);
    assert_true(ms >= 0 && ms <= 999 && z == 'Z');
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t stamped = timegm(&tm);
    assert_true(labs((long)(time(NULL) - stamped)) <= 2);
    json_decref(l1);
    assert_null(strstr(line2, "filtered out"));
    char *line3 = strchr(line2, '\n');
    assert_non_null(line3);
    *line3++ = '\0';
    json_t *l2 = json_loads(line2, 0, &jerr);
    assert_string_equal(json_string_value(json_object_get(l2, "level")), "warn");
    json_decref(l2);
    assert_true(strlen(line3) <= CG_LOG_LINE_MAX);
    assert_int_equal(line3[strlen(line3) - 1], '\n');
    json_t *l3 = json_loads(line3, 0, &jerr);
    if (l3 == NULL)
        fail_msg("a cut line is not JSON: %s", jerr.text);
    assert_true(json_is_true(json_object_get(l3, "truncated")));
    json_decref(l3);
    free(out);

    assert_int_equal(cg_log_level_parse("debug"), CG_LOG_DEBUG);
    assert_int_equal(cg_log_level_parse("error"), CG_LOG_ERROR);
    assert_int_equal(cg_log_level_parse("loud"), -1);
}

static void test_file_read_and_fingerprint(void **state)
{
    char path[] = "/tmp/cg-file-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    close(fd);
    struct cg_buf b;
    cg_buf_init(&b, 0);
    struct cg_err err;
    assert_int_equal(cg_file_read(path, 0, &b, &err), CG_OK);
    assert_string_equal(b.data, "hello");
    cg_buf_reset(&b);
    assert_int_equal(cg_file_read(path, 4, &b, &err), CG_ETOOBIG);
    assert_non_null(strstr(err.msg, "larger than 4"));
    unsigned long long f1 = cg_file_fingerprint(path);
    assert_true(f1 != 0);
    /* A replaced file (new inode, as a Secret mount swap gives) changes the fingerprint. */
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "w");
    fputs("hello!", f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);
    assert_true(cg_file_fingerprint(path) != f1);
    unlink(path);
    assert_int_equal(cg_file_fingerprint(path), 0);
    cg_buf_reset(&b);
    assert_int_equal(cg_file_read(path, 0, &b, &err), CG_EIO);
    assert_non_null(strstr(err.msg, path));
    cg_buf_dispose(&b);
}

/* Receives one message of a SOCK_SEQPACKET pair (one write of the logger) or returns 0. */
static size_t recv_write(int fd, char *buf, size_t cap)
{
    ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
    if (n < 0)
        return 0;
    buf[n] = '\0';
    return (size_t)n;
}

/* Batched lines reach the fd only on a flush or when the batch is full, in one write of whole
 * lines of at most CG_LOG_BATCH_MAX bytes each; a filtered line adds nothing. */
static void test_log_batch(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    cg_log_setup(CG_LOG_INFO, sv[0]);
    struct cg_log_batch *b = calloc(1, sizeof(*b));
    char *msg = malloc(2 * CG_LOG_BATCH_MAX);
    struct cg_log_line l;
    for (int i = 0; i < 3; i++) {
        cg_log_begin(&l, CG_LOG_INFO, "review");
        cg_log_int(&l, "n", i);
        cg_log_end_batched(&l, b);
    }
    cg_log_begin(&l, CG_LOG_DEBUG, "filtered");
    cg_log_end_batched(&l, b);
    assert_int_equal(recv_write(sv[1], msg, 2 * CG_LOG_BATCH_MAX), 0);
    cg_log_batch_flush(b);
    size_t n = recv_write(sv[1], msg, 2 * CG_LOG_BATCH_MAX);
    assert_true(n > 0);
    int lines = 0;
    for (char *p = msg; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    assert_int_equal(lines, 3);
    assert_non_null(strstr(msg, "\"n\":2}\n"));
    assert_null(strstr(msg, "filtered"));
    cg_log_batch_flush(b); /* empty: no write */
    assert_int_equal(recv_write(sv[1], msg, 2 * CG_LOG_BATCH_MAX), 0);

    /* 40 lines of ~300 bytes: full batches go out by themselves, each whole lines. */
    char pad[256];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    for (int i = 0; i < 40; i++) {
        cg_log_begin(&l, CG_LOG_INFO, "review");
        cg_log_int(&l, "n", i);
        cg_log_str(&l, "pad", pad);
        cg_log_end_batched(&l, b);
    }
    int seen = 0, writes = 0;
    for (;;) {
        if (recv_write(sv[1], msg, 2 * CG_LOG_BATCH_MAX) == 0) {
            if (b->len == 0)
                break;
            cg_log_batch_flush(b);
            continue;
        }
        writes++;
        assert_true(strlen(msg) <= CG_LOG_BATCH_MAX);
        assert_int_equal(msg[strlen(msg) - 1], '\n');
        for (char *line = msg, *eol; (eol = strchr(line, '\n')) != NULL; line = eol + 1) {
            *eol = '\0';
            json_error_t jerr;
            json_t *j = json_loads(line, 0, &jerr);
            if (j == NULL)
                fail_msg("not a JSON line: %s", line);
            assert_int_equal(json_integer_value(json_object_get(j, "n")), seen);
            json_decref(j);
            seen++;
        }
    }
    assert_int_equal(seen, 40);
    assert_true(writes >= 3 && writes <= 5);
    cg_log_setup(CG_LOG_INFO, 2);
    free(msg);
    free(b);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_and_err),
        cmocka_unit_test(test_buf_cap_and_appendf),
        cmocka_unit_test(test_buf_json_escaping),
        cmocka_unit_test(test_buf_size_overflow),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_log_lines),
        cmocka_unit_test(test_log_truncation),
        cmocka_unit_test(test_log_batch),
        cmocka_unit_test(test_file_read_and_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
