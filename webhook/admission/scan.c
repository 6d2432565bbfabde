#include "admission/scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "admission/admission.h"

/* The first SMALL_OBJECT_KEYS keys of an object are checked for duplicates as they come:
 * a 64-bit filter of their tags (key_tag, one bit each) sends a key to the linear compare only
 * when its bit is already set. An object with more keys is sorted by key hash when it closes,
 * so a huge object costs n log n and not n^2. */
#define SMALL_OBJECT_KEYS 32

/* plain[c]: byte c can appear in a string with no special handling (printable ASCII other than
 * the quote and the backslash). */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xa0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xb0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xc0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xd0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xe0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xf0 */
};

void cg__scan_init(struct cg__scan *sc, const char *body, size_t len, struct cg_err *err)
{
    sc->s = (const unsigned char *)body;
    sc->n = len;
    sc->i = 0;
    sc->ws_skipped = 0;
    sc->depth = 0;
    sc->failed = false;
    sc->err = err;
    sc->keys = sc->keys_local;
    sc->nkeys = 0;
    sc->capkeys = CG__SCAN_LOCAL_KEYS;
    sc->scratch = sc->scratch_local;
    sc->scratch_cap = CG__SCAN_LOCAL_SCRATCH;
}

void cg__scan_dispose(struct cg__scan *sc)
{
    if (sc->keys != sc->keys_local)
        free(sc->keys);
    if (sc->scratch != sc->scratch_local)
        free(sc->scratch);
    sc->keys = sc->keys_local;
    sc->scratch = sc->scratch_local;
}

bool cg__scan_fail(struct cg__scan *sc, size_t off, const char *fmt, ...)
{
    if (sc->failed)
        return false;
    sc->failed = true;
    if (sc->err == NULL)
        return false;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    cg_err_set(sc->err, CG_EPARSE, "invalid JSON at byte %zu: %s", off, what);
    return false;
}

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t load32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t hmix(uint64_t x)
{
    x ^= x >> 32;
    x *= 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    return x;
}

static inline uint64_t key_hash(const char *text, size_t n)
{
    /* A few overlapping loads per key instead of a multiply per byte: keys are hashed only to
     * find candidates; equal hashes are always confirmed by comparing the keys. */
    const unsigned char *p = (const unsigned char *)text;
    uint64_t h = (uint64_t)n * 0xff51afd7ed558ccdull;
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 < n; i += 8)
            h = hmix(h ^ load64(p + i));
        return hmix(h ^ load64(p + n - 8));
    }
    uint64_t w = 0;
    if (n >= 4)
        w = (uint64_t)load32(p) << 32 | load32(p + n - 4);
    else if (n > 0)
        w = (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1];
    return hmix(h ^ w);
}

uint64_t cg__scan_hash(const char *text, size_t n)
{
    return key_hash(text, n);
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The 4 hex digits at s[0..4) (bounds checked by the caller), or -1. */
static long hex4(const unsigned char *s)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int d = hexval(s[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Length of the valid UTF-8 sequence (RFC 3629: no overlongs, no surrogates, <= U+10FFFF)
 * starting at s[0] >= 0x80 with m bytes available, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t m)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (m < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xbf)
            return 0;
    return len;
}

/* The high bit of each byte of w that needs a closer look: '"', '\\', a control character or
 * a non-ASCII byte. Bytes above the first flagged one may be flagged wrongly (borrows), but
 * the lowest flag is exact, which is all the scanner uses. */
static inline uint64_t word_special(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"');
    uint64_t b = w ^ (ones * '\\');
    uint64_t t = ((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w) | w;
    return t & highs;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_FLAGGED_BYTE(m) ((size_t)__builtin_ctzll(m) >> 3)
#endif

/* Validates the escape at s[i] == '\\'; returns its length, or 0 after recording an error. */
static size_t check_escape(struct cg__scan *sc, size_t i)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n;
    if (i + 1 >= n) {
        cg__scan_fail(sc, i, "unterminated string");
        return 0;
    }
    switch (s[i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return 2;
    case 'u':
        break;
    default:
        if (s[i + 1] >= 0x20 && s[i + 1] < 0x7f)
            cg__scan_fail(sc, i, "invalid escape '\\%c' in string", s[i + 1]);
        else
            cg__scan_fail(sc, i, "invalid escape in string");
        return 0;
    }
    long cp = i + 6 <= n ? hex4(s + i + 2) : -1;
    if (cp < 0) {
        cg__scan_fail(sc, i, "invalid \\u escape (needs 4 hex digits)");
        return 0;
    }
    if (cp >= 0xdc00 && cp <= 0xdfff) {
        cg__scan_fail(sc, i, "lone low surrogate \\u%04lx", cp);
        return 0;
    }
    if (cp < 0xd800 || cp > 0xdbff)
        return 6;
    long lo = -1;
    if (i + 12 <= n && s[i + 6] == '\\' && s[i + 7] == 'u')
        lo = hex4(s + i + 8);
    if (lo < 0xdc00 || lo > 0xdfff) {
        cg__scan_fail(sc, i, "lone high surrogate \\u%04lx (no low surrogate follows)", cp);
        return 0;
    }
    return 12;
}

/* The escapes that need nothing but their second byte checked. */
static const unsigned char short_escape[256] = {
    ['"'] = 1, ['\\'] = 1, ['/'] = 1, ['b'] = 1, ['f'] = 1, ['n'] = 1, ['r'] = 1, ['t'] = 1,
};

#if defined(__SSE2__) && defined(__x86_64__) && defined(FIRST_FLAGGED_BYTE) &&                     \
    !defined(CG_SCAN_PORTABLE)
#define SCAN_SSE2 1

static inline __m128i load128(const unsigned char *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* Bit k is set when byte k of x is '"', '\\', a control character or a non-ASCII byte: x ^ 2
 * maps '"' to ' ' and keeps the controls below it, so one signed compare (non-ASCII bytes are
 * negative) catches three of the four. */
static inline unsigned special16(__m128i x)
{
    __m128i low = _mm_cmpgt_epi8(_mm_set1_epi8(0x21), _mm_xor_si128(x, _mm_set1_epi8(2)));
    __m128i bs = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(low, bs));
}
#endif

/* Validates the rest of the string whose '"' is at s[open], from s[i] on (the bytes before
 * s[i] are plain); returns the offset of its closing quote (*esc: it holds escapes), or 0 after
 * recording an error. Out of line: only strings with escapes or non-ASCII text, and those near
 * the end of the body, come here. */
static __attribute__((noinline)) size_t string_slow(struct cg__scan *sc, size_t open, size_t i,
                                                    bool *esc)
{
    const unsigned char *s = sc->s;
    const size_t n = sc->n;
    bool e = false;
    for (;;) {
#ifdef SCAN_SSE2
        while (i + 16 <= n) {
            unsigned m = special16(load128(s + i));
            if (m != 0) {
                i += (size_t)__builtin_ctz(m);
                goto special;
            }
            i += 16;
        }
#endif
        while (i + 8 <= n) {
            uint64_t m = word_special(load64(s + i));
            if (m != 0) {
#ifdef FIRST_FLAGGED_BYTE
                i += FIRST_FLAGGED_BYTE(m);
                goto special;
#else
                break;
#endif
            }
            i += 8;
        }
        while (i < n && plain[s[i]])
            i++;
        if (i >= n)
            return cg__scan_fail(sc, open, "unterminated string"), 0;
#ifdef FIRST_FLAGGED_BYTE
    special:;
#endif
        unsigned char c = s[i];
        if (c == '"')
            break;
        if (c == '\\') {
            e = true;
            if (i + 1 < n && short_escape[s[i + 1]]) {
                i += 2;
                continue;
            }
            size_t k = check_escape(sc, i);
            if (k == 0)
                return 0;
            i += k;
        } else if (c < 0x20) {
            return cg__scan_fail(sc, i, "control character 0x%02x in string (must be escaped)", c),
                   0;
        } else {
            size_t k = utf8_seq(s + i, n - i);
            if (k == 0)
                return cg__scan_fail(sc, i, "invalid UTF-8 in string"), 0;
            i += k;
        }
    }
    *esc = e;
    return i;
}

/* Validates the string whose '"' is at s[open] (s and n are the scanner's); returns the offset
 * of its closing quote, or 0 after recording an error. The plain ASCII run up to the quote,
 * what nearly every string is, is scanned inline; anything else goes to string_slow. */
static inline __attribute__((always_inline)) size_t
string_body(struct cg__scan *sc, const unsigned char *s, size_t n, size_t open, bool *esc)
{
    size_t i = open + 1;
#ifdef SCAN_SSE2
    while (i + 16 <= n) {
        unsigned m = special16(load128(s + i));
        if (m != 0) {
            i += (size_t)__builtin_ctz(m);
            if (s[i] != '"')
                break;
            *esc = false;
            return i;
        }
        i += 16;
    }
#else
    (void)s;
    (void)n;
#endif
    return string_slow(sc, open, i, esc);
}

static inline __attribute__((always_inline)) bool string_at(struct cg__scan *sc, size_t *off,
                                                            size_t *len, bool *esc)
{
    size_t open = sc->i, close = string_body(sc, sc->s, sc->n, open, esc);
    if (close == 0)
        return false;
    *off = open + 1;
    *len = close - open - 1;
    sc->i = close + 1;
    return true;
}

bool cg__scan_string(struct cg__scan *sc, size_t *off, size_t *len, bool *esc)
{
    return string_at(sc, off, len, esc);
}

static size_t put_utf8(char *d, unsigned long cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

size_t cg__json_unescape(const char *raw, size_t n, char *dst)
{
    const unsigned char *s = (const unsigned char *)raw;
    size_t i = 0, o = 0;
    for (;;) {
        /* Copy a word at a time up to the next backslash (o <= i, so dst[o..o+8) is in
         * bounds whenever s[i..i+8) is). */
#ifdef FIRST_FLAGGED_BYTE
        const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
        while (i + 8 <= n) {
            uint64_t w = load64(s + i), b = w ^ (ones * '\\');
            uint64_t m = (b - ones) & ~b & highs;
            memcpy(dst + o, &w, 8);
            if (m != 0) {
                size_t k = FIRST_FLAGGED_BYTE(m);
                i += k;
                o += k;
                goto escape;
            }
            i += 8;
            o += 8;
        }
#endif
        while (i < n && s[i] != '\\')
            dst[o++] = (char)s[i++];
        if (i >= n)
            break;
#ifdef FIRST_FLAGGED_BYTE
    escape:;
#endif
        unsigned char c = s[i + 1];
        i += 2;
        switch (c) {
        case 'b':
            dst[o++] = '\b';
            break;
        case 'f':
            dst[o++] = '\f';
            break;
        case 'n':
            dst[o++] = '\n';
            break;
        case 'r':
            dst[o++] = '\r';
            break;
        case 't':
            dst[o++] = '\t';
            break;
        case 'u': {
            unsigned long cp = (unsigned long)hex4(s + i);
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned long lo = (unsigned long)hex4(s + i + 2);
                i += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            o += put_utf8(dst + o, cp);
            break;
        }
        default: /* '"', '\\', '/' */
            dst[o++] = (char)c;
        }
    }
    return o;
}

bool cg__scan_number(struct cg__scan *sc, size_t *off, size_t *len, bool *is_int)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n, start = sc->i, i = sc->i;
    bool integer = true;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return cg__scan_fail(sc, start, "invalid number (expected a digit)");
    if (s[i] == '0') {
        i++;
        if (i < n && s[i] >= '0' && s[i] <= '9')
            return cg__scan_fail(sc, start, "invalid number (leading zero)");
    } else {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && s[i] == '.') {
        integer = false;
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return cg__scan_fail(sc, start, "invalid number (expected a digit after '.')");
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        integer = false;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return cg__scan_fail(sc, start, "invalid number (expected a digit in the exponent)");
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    *off = start;
    *len = i - start;
    *is_int = integer;
    sc->i = i;
    return true;
}

bool cg__scan_literal(struct cg__scan *sc, char *kind)
{
    static const char *const words[] = {"true", "false", "null"};
    const unsigned char *s = sc->s;
    size_t i = sc->i;
    const char *w = s[i] == 't' ? words[0] : s[i] == 'f' ? words[1] : words[2];
    size_t wl = strlen(w);
    if (sc->n - i < wl || memcmp(s + i, w, wl) != 0)
        return cg__scan_fail(sc, i, "invalid literal (expected %s)", w);
    *kind = (char)s[i];
    sc->i = i + wl;
    return true;
}

static bool depth_enter(struct cg__scan *sc)
{
    if (sc->depth >= CG_ADMISSION_MAX_DEPTH)
        return cg__scan_fail(sc, sc->i, "nesting deeper than %d levels", CG_ADMISSION_MAX_DEPTH);
    sc->depth++;
    sc->i++;
    return true;
}

bool cg__scan_obj_open(struct cg__scan *sc, struct cg__scan_obj *o)
{
    o->key_base = sc->nkeys;
    o->seen = 0;
    o->first = true;
    return depth_enter(sc);
}

bool cg__scan_arr_open(struct cg__scan *sc, struct cg__scan_arr *a)
{
    a->first = true;
    return depth_enter(sc);
}

static const char *scratch_unescape(struct cg__scan *sc, size_t off, size_t len, size_t *outlen)
{
    if (len > sc->scratch_cap) {
        if (sc->scratch != sc->scratch_local)
            free(sc->scratch);
        sc->scratch = cg_xmalloc(len);
        sc->scratch_cap = len;
    }
    *outlen = cg__json_unescape((const char *)sc->s + off, len, sc->scratch);
    return sc->scratch;
}

static bool raw_has_escape(struct cg__scan *sc, const struct cg__scan_key *k)
{
    return memchr(sc->s + k->off, '\\', k->len) != NULL;
}

static bool key_equal(struct cg__scan *sc, const struct cg__scan_key *a,
                      const struct cg__scan_key *b)
{
    if (a->len == b->len && memcmp(sc->s + a->off, sc->s + b->off, a->len) == 0)
        return true;
    if (!raw_has_escape(sc, a) && !raw_has_escape(sc, b))
        return false;
    /* Rare: compare the unescaped forms. */
    char *x = cg_xmalloc(a->len + 1), *y = cg_xmalloc(b->len + 1);
    size_t xl = cg__json_unescape((const char *)sc->s + a->off, a->len, x);
    size_t yl = cg__json_unescape((const char *)sc->s + b->off, b->len, y);
    bool eq = xl == yl && memcmp(x, y, xl) == 0;
    free(x);
    free(y);
    return eq;
}

static bool duplicate_found(struct cg__scan *sc, const struct cg__scan_key *a,
                            const struct cg__scan_key *b)
{
    const struct cg__scan_key *later = a->off > b->off ? a : b;
    const struct cg__scan_key *first = a->off > b->off ? b : a;
    int shown = later->len > 64 ? 64 : (int)later->len;
    return cg__scan_fail(sc, later->off - 1, "duplicate key \"%.*s\" (first at byte %zu)", shown,
                         (const char *)sc->s + later->off, first->off - 1);
}

static inline uint64_t rotl64(uint64_t x, int r)
{
    return x << r | x >> (64 - r);
}

/* The tag of a key's unescaped text, kept on the key stack while its object is open: equal
 * texts have equal tags, and it costs far less than key_hash. It folds the text's first 16
 * bytes (zero-padded) and, for longer keys, its last 16 into one word; the filter bit
 * multiplies it, so it need not be mixed here. A big object's keys get their hashes when it
 * closes (check_keys), so the duplicate reported there does not depend on the tag. */
static inline uint64_t tag_fold(uint64_t lo, uint64_t hi, size_t n)
{
    return lo ^ rotl64(hi, 32) ^ n;
}

static inline uint64_t key_tag(const unsigned char *p, size_t n)
{
    uint64_t lo, hi = 0;
    if (n >= 16) {
        lo = load64(p) ^ rotl64(load64(p + n - 16), 17);
        hi = load64(p + 8) ^ rotl64(load64(p + n - 8), 17);
    } else if (n >= 8) {
        /* The bytes from 8 on, at the bottom of hi (little-endian: the same word as the
         * zero-padded load tag16 makes). */
        lo = load64(p);
        if (n > 8)
            hi = load64(p + n - 8) >> (8 * (16 - n));
    } else if (n >= 4) {
        lo = load32(p) | (uint64_t)load32(p + n - 4) << (8 * (n - 4));
    } else if (n > 0) {
        lo = p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) | (uint64_t)p[n - 1] << (8 * (n - 1));
    } else {
        lo = 0;
    }
    return tag_fold(lo, hi, n);
}

#ifdef SCAN_SSE2
/* tag_mask[n]: n bytes of 0xff, then zeros. */
static const unsigned char tag_mask[16][16] __attribute__((aligned(16))) = {
#define TAG_MASK_ROW(n)                                                                            \
    {                                                                                              \
        0 < (n) ? 255 : 0, 1 < (n) ? 255 : 0, 2 < (n) ? 255 : 0, 3 < (n) ? 255 : 0,                \
            4 < (n) ? 255 : 0, 5 < (n) ? 255 : 0, 6 < (n) ? 255 : 0, 7 < (n) ? 255 : 0,            \
            8 < (n) ? 255 : 0, 9 < (n) ? 255 : 0, 10 < (n) ? 255 : 0, 11 < (n) ? 255 : 0,          \
            12 < (n) ? 255 : 0, 13 < (n) ? 255 : 0, 14 < (n) ? 255 : 0, 15 < (n) ? 255 : 0         \
    }
    TAG_MASK_ROW(0),  TAG_MASK_ROW(1),  TAG_MASK_ROW(2),  TAG_MASK_ROW(3),
    TAG_MASK_ROW(4),  TAG_MASK_ROW(5),  TAG_MASK_ROW(6),  TAG_MASK_ROW(7),
    TAG_MASK_ROW(8),  TAG_MASK_ROW(9),  TAG_MASK_ROW(10), TAG_MASK_ROW(11),
    TAG_MASK_ROW(12), TAG_MASK_ROW(13), TAG_MASK_ROW(14), TAG_MASK_ROW(15),
#undef TAG_MASK_ROW
};

/* key_tag of a key shorter than 16 bytes whose text starts x (the 16-byte load the scan made). */
static inline uint64_t tag16(__m128i x, size_t n)
{
    __m128i y = _mm_and_si128(x, _mm_load_si128((const __m128i *)(const void *)tag_mask[n]));
    uint64_t lo = (uint64_t)_mm_cvtsi128_si64(y);
    uint64_t hi = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(y, y));
    return tag_fold(lo, hi, n);
}
#endif

/* A key whose closing quote is among the 16 bytes after its '"' at s[open], with nothing to
 * unescape or check before it (most keys): *close and *tag from that one load, inline. false
 * for every other key (and always without SSE2): the caller takes the full path. */
static inline __attribute__((always_inline)) bool
short_plain_key(const unsigned char *s, size_t n, size_t open, size_t *close, uint64_t *tag)
{
#ifdef SCAN_SSE2
    if (open + 17 <= n) {
        __m128i x = load128(s + open + 1);
        unsigned m = special16(x);
        if (m != 0) {
            size_t k = (size_t)__builtin_ctz(m);
            if (s[open + 1 + k] == '"') {
                *close = open + 1 + k;
                *tag = tag16(x, k);
                return true;
            }
        }
    }
#else
    (void)s;
    (void)n;
    (void)open;
    (void)close;
    (void)tag;
#endif
    return false;
}

#ifdef SCAN_SSE2
/* Grows the scratch buffer to hold at least need bytes, keeping its first keep bytes. */
static __attribute__((noinline)) void scratch_grow(struct cg__scan *sc, size_t need, size_t keep)
{
    size_t cap = sc->scratch_cap * 2 > need ? sc->scratch_cap * 2 : need;
    char *p = cg_xmalloc(cap);
    memcpy(p, sc->scratch, keep);
    if (sc->scratch != sc->scratch_local)
        free(sc->scratch);
    sc->scratch = p;
    sc->scratch_cap = cap;
}

/* The byte a short escape stands for ('\\' followed by this byte). */
static const unsigned char short_escape_byte[256] = {
    ['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t',
};
#endif

/* The rest of a key that key_body could not finish: validates it from s[i] on (the bytes
 * before are plain) like string_slow and returns its closing quote, or 0 after recording an
 * error. *tag gets the tag of its unescaped text; when it holds escapes, *esc (if esc is not
 * NULL) is set and the unescaped text, *ulen bytes, is in the scratch buffer. With SSE2 the
 * text is unescaped as it is validated (one pass), else it is validated first. */
static __attribute__((noinline)) size_t key_slow(struct cg__scan *sc, size_t open, size_t i,
                                                 uint64_t *tag, bool *esc, size_t *ulen)
{
    const unsigned char *s = sc->s;
#ifdef SCAN_SSE2
    const size_t n = sc->n;
    /* Same checks in the same order as string_slow; o is the length of the text unescaped so
     * far. Plain runs are copied 16 bytes at a time, and one escape or UTF-8 sequence adds at
     * most 4 bytes after them, so the scratch buffer keeps 32 bytes of room after o. The
     * buffer is held in locals: stores through it could alias the scanner's fields. */
    size_t o = i - open - 1;
    bool e = false;
    char *out = sc->scratch;
    size_t cap = sc->scratch_cap;
#define RESERVE(need, keep)                                                                        \
    do {                                                                                           \
        if ((need) > cap) {                                                                        \
            scratch_grow(sc, need, keep);                                                          \
            out = sc->scratch;                                                                     \
            cap = sc->scratch_cap;                                                                 \
        }                                                                                          \
    } while (0)
    RESERVE(o + 32, 0);
    /* The plain start (o bytes); the last copy may take up to 15 more, within the body and
     * the buffer's room. */
    size_t c0 = 0;
    for (; c0 + 16 <= o; c0 += 16)
        _mm_storeu_si128((__m128i *)(void *)(out + c0), load128(s + open + 1 + c0));
    if (open + 1 + c0 + 16 <= n)
        _mm_storeu_si128((__m128i *)(void *)(out + c0), load128(s + open + 1 + c0));
    else
        memcpy(out + c0, s + open + 1 + c0, o - c0);
    for (;;) {
        while (i + 16 <= n) {
            __m128i x = load128(s + i);
            unsigned m = special16(x);
            RESERVE(o + 32, o);
            _mm_storeu_si128((__m128i *)(void *)(out + o), x);
            if (m != 0) {
                size_t k = (size_t)__builtin_ctz(m);
                i += k;
                o += k;
                goto special;
            }
            i += 16;
            o += 16;
        }
        RESERVE(o + 16 + (n - i), o);
        while (i < n && plain[s[i]])
            out[o++] = (char)s[i++];
        if (i >= n)
            return cg__scan_fail(sc, open, "unterminated string"), 0;
    special:;
        unsigned char c = s[i];
        if (c == '"')
            break;
        if (c == '\\') {
            e = true;
            unsigned char b = i + 1 < n ? short_escape_byte[s[i + 1]] : 0;
            if (b != 0) {
                out[o++] = (char)b;
                i += 2;
                continue;
            }
            size_t k = check_escape(sc, i);
            if (k == 0)
                return 0;
            unsigned long cp = (unsigned long)hex4(s + i + 2);
            if (k == 12)
                cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned long)hex4(s + i + 8) - 0xdc00);
            o += put_utf8(out + o, cp);
            i += k;
        } else if (c < 0x20) {
            return cg__scan_fail(sc, i, "control character 0x%02x in string (must be escaped)", c),
                   0;
        } else {
            size_t k = utf8_seq(s + i, n - i);
            if (k == 0)
                return cg__scan_fail(sc, i, "invalid UTF-8 in string"), 0;
            memcpy(out + o, s + i, k);
            i += k;
            o += k;
        }
    }
#undef RESERVE
    if (e) {
        *tag = key_tag((const unsigned char *)out, o);
        if (esc != NULL) {
            *esc = true;
            *ulen = o;
        }
    } else {
        *tag = key_tag(s + open + 1, i - open - 1);
    }
    return i;
#else
    bool e = false;
    size_t close = string_slow(sc, open, i, &e);
    if (close == 0)
        return 0;
    if (e) {
        size_t ul;
        const char *u = scratch_unescape(sc, open + 1, close - open - 1, &ul);
        *tag = key_tag((const unsigned char *)u, ul);
        if (esc != NULL) {
            *esc = true;
            *ulen = ul;
        }
    } else {
        *tag = key_tag(s + open + 1, close - open - 1);
    }
    return close;
#endif
}

/* Scans the key whose '"' is at s[open]: returns its closing quote (or 0 after recording an
 * error) and gives *tag the tag of its unescaped text. When esc is not NULL, *esc says whether
 * it holds escapes, and then its unescaped text, *ulen bytes, is in the scratch buffer. */
static inline __attribute__((always_inline)) size_t key_body(struct cg__scan *sc,
                                                             const unsigned char *s, size_t n,
                                                             size_t open, uint64_t *tag, bool *esc,
                                                             size_t *ulen)
{
    size_t i = open + 1;
#ifdef SCAN_SSE2
    if (i + 16 <= n) {
        /* Short keys: the quote is in the first 16 bytes, and so is the whole tag. */
        __m128i x = load128(s + i);
        unsigned m = special16(x);
        if (m != 0) {
            size_t k = (size_t)__builtin_ctz(m);
            if (s[i + k] == '"') {
                if (esc != NULL)
                    *esc = false;
                *tag = tag16(x, k);
                return i + k;
            }
            i += k;
            goto slow;
        }
        i += 16;
        while (i + 16 <= n) {
            m = special16(load128(s + i));
            if (m != 0) {
                i += (size_t)__builtin_ctz(m);
                if (s[i] != '"')
                    goto slow;
                if (esc != NULL)
                    *esc = false;
                *tag = key_tag(s + open + 1, i - open - 1);
                return i;
            }
            i += 16;
        }
    }
slow:
#else
    (void)s;
    (void)n;
#endif
    if (esc != NULL)
        *esc = false;
    return key_slow(sc, open, i, tag, esc, ulen);
}

/* key_body out of line, for skip_container's keys that are not short and plain. */
static __attribute__((noinline)) size_t key_other(struct cg__scan *sc, size_t open, uint64_t *tag)
{
    return key_body(sc, sc->s, sc->n, open, tag, NULL, NULL);
}

/* key_body out of line with the unescaped text, for obj_next's keys that are not short and
 * plain. */
static __attribute__((noinline)) size_t key_full(struct cg__scan *sc, size_t open, uint64_t *tag,
                                                 bool *esc, size_t *ulen)
{
    return key_body(sc, sc->s, sc->n, open, tag, esc, ulen);
}

/* Replaces the tags of the keys from base on by their hashes. */
static void rehash_keys(struct cg__scan *sc, size_t base)
{
    for (size_t b = base; b < sc->nkeys; b++) {
        struct cg__scan_key *k = &sc->keys[b];
        if (raw_has_escape(sc, k)) {
            size_t ul;
            const char *u = scratch_unescape(sc, k->off, k->len, &ul);
            k->hash = key_hash(u, ul);
        } else {
            k->hash = key_hash((const char *)sc->s + k->off, k->len);
        }
    }
}

static int cmp_key_hash(const void *pa, const void *pb)
{
    const struct cg__scan_key *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return a->off < b->off ? -1 : a->off > b->off;
}

/* Checks the keys of a big object (base: its first key) when it closes (small ones were
 * checked as they came) and pops them. */
static bool check_keys(struct cg__scan *sc, size_t base)
{
    struct cg__scan_key *k = sc->keys + base;
    size_t m = sc->nkeys - base;
    if (m <= SMALL_OBJECT_KEYS) {
        sc->nkeys = base;
        return true;
    }
    rehash_keys(sc, base);
    sc->nkeys = base;
    qsort(k, m, sizeof(*k), cmp_key_hash);
    for (size_t a = 1; a < m; a++) {
        if (k[a].hash != k[a - 1].hash)
            continue;
        /* Equal hashes form a run; compare within the run (almost always of two). */
        for (size_t b = a; b > 0 && k[b - 1].hash == k[a].hash; b--)
            if (key_equal(sc, &k[a], &k[b - 1]))
                return duplicate_found(sc, &k[a], &k[b - 1]);
    }
    return true;
}

/* The filter bit of a tag. */
static inline uint64_t tag_bit(uint64_t tag)
{
    return 1ull << ((tag * 0x9e3779b97f4a7c15ull) >> 58);
}

/* Checks k, the newest key of a small object whose keys start at first, against the earlier
 * ones (called only when k's filter bit was already set). */
static __attribute__((noinline)) bool
check_small(struct cg__scan *sc, const struct cg__scan_key *first, const struct cg__scan_key *k)
{
    for (const struct cg__scan_key *b = first; b < k; b++)
        if (b->hash == k->hash && key_equal(sc, k, b))
            return duplicate_found(sc, k, b);
    return true;
}

/* Grows the key stack (rare: more than CG__SCAN_LOCAL_KEYS keys open at once). */
static void grow_keys(struct cg__scan *sc)
{
    size_t cap = sc->capkeys * 2;
    struct cg__scan_key *nk = cg_xmalloc(cap * sizeof(*nk));
    memcpy(nk, sc->keys, sc->nkeys * sizeof(*nk));
    if (sc->keys != sc->keys_local)
        free(sc->keys);
    sc->keys = nk;
    sc->capkeys = cap;
}

static inline __attribute__((always_inline)) int
obj_next(struct cg__scan *sc, struct cg__scan_obj *o, struct cg__scan_keyref *key)
{
    int c;
    size_t i = sc->i;
    if (!o->first && i + 1 < sc->n && sc->s[i] == ',' && sc->s[i + 1] == '"') {
        sc->i = i + 1; /* compact ,"key": the usual case */
        c = '"';
    } else {
        c = cg__scan_peek(sc);
        if (c == '}') {
            /* Legal here: right after '{' or after a value; after ',' a key is required. */
            sc->i++;
            sc->depth--;
            if (sc->nkeys - o->key_base <= SMALL_OBJECT_KEYS) {
                sc->nkeys = o->key_base; /* checked as they came */
                return 0;
            }
            return check_keys(sc, o->key_base) ? 0 : -1;
        }
        if (!o->first) {
            if (c != ',') {
                if (c < 0)
                    cg__scan_fail(sc, sc->i, "unexpected end of input in an object");
                else
                    cg__scan_fail(sc, sc->i, "expected ',' or '}' in an object");
                return -1;
            }
            sc->i++;
            c = cg__scan_peek(sc);
        }
    }
    if (c != '"') {
        if (c < 0)
            cg__scan_fail(sc, sc->i, "unexpected end of input in an object");
        else
            cg__scan_fail(sc, sc->i, o->first ? "expected a key or '}'" : "expected a key");
        return -1;
    }
    o->first = false;
    /* The key, on locals (stores through key and k would make the scanner's fields reload). */
    const unsigned char *s = sc->s;
    const size_t n = sc->n;
    size_t open = sc->i, ul = 0, close;
    bool esc = false;
    uint64_t tag;
    if (short_plain_key(s, n, open, &close, &tag))
        goto tagged;
    close = key_full(sc, open, &tag, &esc, &ul);
    if (close == 0)
        return -1;
tagged:;
    size_t off = open + 1, len = close - open - 1;
    i = close + 1;
    sc->i = i;
    key->off = off;
    key->len = len;
    key->esc = esc;
    if (esc) {
        key->text = (struct cg_str){sc->scratch, ul};
    } else {
        key->text = (struct cg_str){(const char *)s + off, len};
    }
    size_t nk = sc->nkeys;
    if (__builtin_expect(nk == sc->capkeys, 0))
        grow_keys(sc);
    struct cg__scan_key *kp = sc->keys + nk;
    sc->nkeys = nk + 1;
    kp->hash = tag;
    kp->off = off;
    kp->len = len;
    size_t nobj = nk - o->key_base;
    if (nobj < SMALL_OBJECT_KEYS) {
        uint64_t bit = tag_bit(tag), seen = o->seen;
        if (__builtin_expect((seen & bit) != 0, 0) && !check_small(sc, kp - nobj, kp))
            return -1;
        o->seen = seen | bit;
    }
    if (i + 1 < n && s[i] == ':' && s[i + 1] > ' ') {
        sc->i = i + 1; /* compact "key":value */
        return 1;
    }
    c = cg__scan_peek(sc);
    if (c != ':') {
        if (c < 0)
            cg__scan_fail(sc, sc->i, "unexpected end of input after a key");
        else
            cg__scan_fail(sc, sc->i, "expected ':' after a key");
        return -1;
    }
    sc->i++;
    if (cg__scan_peek(sc) < 0) {
        cg__scan_fail(sc, sc->i, "unexpected end of input (expected a value)");
        return -1;
    }
    return 1;
}

int cg__scan_obj_next(struct cg__scan *sc, struct cg__scan_obj *o, struct cg__scan_keyref *key)
{
    return obj_next(sc, o, key);
}

int cg__scan_arr_next(struct cg__scan *sc, struct cg__scan_arr *a)
{
    size_t i = sc->i;
    if (!a->first && i + 1 < sc->n && sc->s[i] == ',' && sc->s[i + 1] > ' ' &&
        sc->s[i + 1] != ']') {
        sc->i = i + 1; /* compact ,value */
        return 1;
    }
    int c = cg__scan_peek(sc);
    if (c == ']' && a->first) {
        sc->i++;
        sc->depth--;
        return 0;
    }
    if (!a->first) {
        if (c == ']') {
            sc->i++;
            sc->depth--;
            return 0;
        }
        if (c != ',') {
            if (c < 0)
                cg__scan_fail(sc, sc->i, "unexpected end of input in an array");
            else
                cg__scan_fail(sc, sc->i, "expected ',' or ']' in an array");
            return -1;
        }
        sc->i++;
        c = cg__scan_peek(sc);
    }
    a->first = false;
    if (c < 0) {
        cg__scan_fail(sc, sc->i, "unexpected end of input in an array");
        return -1;
    }
    if (c == ']') {
        cg__scan_fail(sc, sc->i, "expected a value after ','");
        return -1;
    }
    return 1;
}

/* Skips a value that is not an object or an array (c is its first byte). */
static bool skip_scalar(struct cg__scan *sc, int c)
{
    size_t off, len;
    bool flag;
    char kind;
    switch (c) {
    case '"':
        return string_at(sc, &off, &len, &flag);
    case 't':
    case 'f':
    case 'n':
        return cg__scan_literal(sc, &kind);
    case -1:
        return cg__scan_fail(sc, sc->i, "unexpected end of input (expected a value)");
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return cg__scan_number(sc, &off, &len, &flag);
        if (c >= 0x20 && c < 0x7f)
            return cg__scan_fail(sc, sc->i, "unexpected character '%c' (expected a value)", c);
        return cg__scan_fail(sc, sc->i, "unexpected byte 0x%02x (expected a value)", c);
    }
}

/* The whitespace before a token at s[i] (cg__scan_ws on a local offset); returns the offset of
 * the token. */
static inline size_t ws_at(struct cg__scan *sc, const unsigned char *s, size_t n, size_t i)
{
    if (i < n && s[i] > ' ')
        return i;
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) {
        i++;
        sc->ws_skipped++;
    }
    return i;
}

/* The parent of an open container of skip_container (the innermost one lives in registers):
 * for an object, how many keys it has on the key stack so far and its duplicate filter. */
struct skip_frame {
    size_t nobj;
    uint64_t seen;
    bool obj;
};

/* Skips the object or array at the current offset with an explicit stack instead of recursion
 * through obj_next: the same checks in the same order (so the same first error), but offset,
 * depth and key stack stay in locals and no key struct is filled per member. The depth limit
 * bounds the stack: the depth is the entry depth plus the frames in use. The scanner's fields
 * are written back before any call that reads them. */
static bool skip_container(struct cg__scan *sc)
{
    struct skip_frame st[CG_ADMISSION_MAX_DEPTH];
    struct skip_frame *f = st; /* next free parent slot */
    const unsigned char *s = sc->s;
    const size_t n = sc->n;
    size_t i = sc->i;
    /* Containers that may open: frames below flim (none when room <= 0). */
    const int room = CG_ADMISSION_MAX_DEPTH - sc->depth;
    struct skip_frame *const flim = room > 0 ? st + room : st;
    struct cg__scan_key *kp = sc->keys + sc->nkeys; /* next free key slot */
    struct cg__scan_key *kend = sc->keys + sc->capkeys;
    size_t nobj = 0;   /* innermost object: its keys, the last ones below kp */
    uint64_t seen = 0; /* innermost object: duplicate filter */
    bool obj = false;  /* the innermost container is an object */
    bool ok = false;
    int c = s[i];

/* The depth is written back only at the end (what is called in between does not read it). */
#define SYNC() (sc->i = i, sc->nkeys = (size_t)(kp - sc->keys))
#define PEEK() (i = ws_at(sc, s, n, i), c = i < n ? s[i] : -1)
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        cg__scan_fail(sc, __VA_ARGS__);                                                            \
        goto out;                                                                                  \
    } while (0)

open: /* at '{' or '[' (c) */
    if (f >= flim)
        FAIL(i, "nesting deeper than %d levels", CG_ADMISSION_MAX_DEPTH);
    f->nobj = nobj;
    f->seen = seen;
    f->obj = obj;
    f++;
    i++;
    obj = c == '{';
    PEEK();
    if (!obj) {
        if (c == ']')
            goto close_arr;
        if (c < 0)
            FAIL(i, "unexpected end of input in an array");
        goto value;
    }
    nobj = 0;
    seen = 0;
    if (c == '}')
        goto close_obj;
    if (c != '"') {
        if (c < 0)
            FAIL(i, "unexpected end of input in an object");
        FAIL(i, "expected a key or '}'");
    }

key : /* at the '"' of a key */
{
    uint64_t tag;
    size_t close;
    /* Short plain keys inline, the rest out of line. */
    if (short_plain_key(s, n, i, &close, &tag))
        goto tagged;
    close = key_other(sc, i, &tag);
    if (close == 0)
        goto out;
tagged:
    if (__builtin_expect(kp == kend, 0)) {
        SYNC();
        grow_keys(sc);
        kp = sc->keys + sc->nkeys;
        kend = sc->keys + sc->capkeys;
    }
    kp->hash = tag;
    kp->off = i + 1;
    kp->len = close - i - 1;
    i = close + 1;
    if (nobj < SMALL_OBJECT_KEYS) {
        uint64_t bit = tag_bit(tag);
        if (__builtin_expect((seen & bit) != 0, 0) && !check_small(sc, kp - nobj, kp)) {
            kp++;
            goto out;
        }
        seen |= bit;
    }
    kp++;
    nobj++;
}
    if (i + 1 < n && s[i] == ':' && s[i + 1] > ' ') {
        i++; /* compact "key":value */
    } else {
        PEEK();
        if (c != ':') {
            if (c < 0)
                FAIL(i, "unexpected end of input after a key");
            FAIL(i, "expected ':' after a key");
        }
        i++;
        PEEK();
        if (c < 0)
            FAIL(i, "unexpected end of input (expected a value)");
    }

value: /* at the first byte of a member or element value (which exists) */
    c = s[i];
    if (c == '"') {
        bool esc;
        size_t close = string_body(sc, s, n, i, &esc);
        if (close == 0)
            goto out;
        i = close + 1;
    } else if (c == '{' || c == '[') {
        /* Empty containers are most of the skipped values (managedFields' "f:x":{}). */
        if (i + 1 < n && s[i + 1] == c + 2 && f < flim)
            i += 2;
        else
            goto open;
    } else if (c >= '1' && c <= '9') {
        /* A plain integer here; cg__scan_number for fractions and exponents. */
        size_t j = i + 1;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++;
        if (j < n && (s[j] == '.' || s[j] == 'e' || s[j] == 'E'))
            goto scalar;
        i = j;
    } else if (c == 't' && n - i >= 4 && memcmp(s + i, "true", 4) == 0) {
        i += 4;
    } else if (c == 'f' && n - i >= 5 && memcmp(s + i, "false", 5) == 0) {
        i += 5;
    } else {
    scalar:
        SYNC();
        if (!skip_scalar(sc, c))
            goto out;
        i = sc->i;
    }

next: /* after a value inside the innermost container */
    if (obj) {
        if (i + 1 < n && s[i] == ',' && s[i + 1] == '"') {
            i++; /* compact ,"key": the usual case */
            goto key;
        }
        PEEK();
        if (c == '}')
            goto close_obj;
        if (c != ',') {
            if (c < 0)
                FAIL(i, "unexpected end of input in an object");
            FAIL(i, "expected ',' or '}' in an object");
        }
        i++;
        PEEK();
        if (c != '"') {
            if (c < 0)
                FAIL(i, "unexpected end of input in an object");
            FAIL(i, "expected a key");
        }
        goto key;
    }
    if (i + 1 < n && s[i] == ',' && s[i + 1] > ' ' && s[i + 1] != ']') {
        i++; /* compact ,value */
        goto value;
    }
    PEEK();
    if (c == ']')
        goto close_arr;
    if (c != ',') {
        if (c < 0)
            FAIL(i, "unexpected end of input in an array");
        FAIL(i, "expected ',' or ']' in an array");
    }
    i++;
    PEEK();
    if (c < 0)
        FAIL(i, "unexpected end of input in an array");
    if (c == ']')
        FAIL(i, "expected a value after ','");
    goto value;

close_obj:
    i++;
    f--;
    if (nobj > SMALL_OBJECT_KEYS) {
        SYNC();
        if (!check_keys(sc, sc->nkeys - nobj)) {
            kp = sc->keys + sc->nkeys;
            goto out;
        }
    }
    kp -= nobj; /* small objects were checked as their keys came */
    goto closed;
close_arr:
    i++;
    f--;
closed:
    if (f == st) {
        ok = true;
        goto out;
    }
    nobj = f->nobj;
    seen = f->seen;
    obj = f->obj;
    goto next;

out:
    SYNC();
    sc->depth += (int)(f - st);
    return ok;
#undef SYNC
#undef PEEK
#undef FAIL
}

bool cg__scan_skip(struct cg__scan *sc)
{
    int c = cg__scan_peek(sc);
    if (c == '{' || c == '[')
        return skip_container(sc);
    return skip_scalar(sc, c);
}

const char *cg__scan_variant(void)
{
#ifdef SCAN_SSE2
    return "sse2";
#else
    return "portable";
#endif
}
