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

/* Validates the string whose '"' is at s[open] (s and n are the scanner's); *close gets the
 * offset of its closing quote. Inlined into the key and skip loops so that everything stays in
 * registers. */
static inline __attribute__((always_inline)) bool string_body(struct cg__scan *sc,
                                                              const unsigned char *s, size_t n,
                                                              size_t open, size_t *close, bool *esc)
{
    size_t i = open + 1;
    bool e = false;
    for (;;) {
#if defined(__SSE2__) && defined(FIRST_FLAGGED_BYTE)
        /* 16 bytes at a time: '"', '\\', and (as signed bytes below 0x20) control characters
         * and non-ASCII bytes. */
        while (i + 16 <= n) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i sp = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                                   _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                                      _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
            unsigned m = (unsigned)_mm_movemask_epi8(sp);
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
            return cg__scan_fail(sc, open, "unterminated string");
#ifdef FIRST_FLAGGED_BYTE
    special:;
#endif
        unsigned char c = s[i];
        if (c == '"')
            break;
        if (c == '\\') {
            size_t k = check_escape(sc, i);
            if (k == 0)
                return false;
            e = true;
            i += k;
        } else if (c < 0x20) {
            return cg__scan_fail(sc, i, "control character 0x%02x in string (must be escaped)", c);
        } else {
            size_t k = utf8_seq(s + i, n - i);
            if (k == 0)
                return cg__scan_fail(sc, i, "invalid UTF-8 in string");
            i += k;
        }
    }
    *close = i;
    *esc = e;
    return true;
}

static inline __attribute__((always_inline)) bool string_at(struct cg__scan *sc, size_t *off,
                                                            size_t *len, bool *esc)
{
    size_t open = sc->i, close = 0;
    if (!string_body(sc, sc->s, sc->n, open, &close, esc))
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

static bool key_equal(struct cg__scan *sc, const struct cg__scan_key *a,
                      const struct cg__scan_key *b)
{
    if (!a->esc && !b->esc)
        return a->len == b->len && memcmp(sc->s + a->off, sc->s + b->off, a->len) == 0;
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

/* The tag of a key's unescaped text, kept on the key stack while its object is open: equal
 * texts have equal tags, and it costs far less than key_hash on long keys. A big object's
 * keys get their hashes when it closes (check_keys), so the duplicate reported there does
 * not depend on the tag. */
static inline uint64_t key_tag(const unsigned char *p, size_t n)
{
    uint64_t h = n;
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 < n; i += 8)
            h = (h << 23 | h >> 41) ^ load64(p + i);
        return (h << 23 | h >> 41) ^ load64(p + n - 8);
    }
    if (n >= 4)
        return h ^ ((uint64_t)load32(p) << 32 | load32(p + n - 4)) << 3;
    if (n > 0)
        return h ^ ((uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1]) << 3;
    return h;
}

/* Replaces the tags of the keys from base on by their hashes. */
static void rehash_keys(struct cg__scan *sc, size_t base)
{
    for (size_t b = base; b < sc->nkeys; b++) {
        struct cg__scan_key *k = &sc->keys[b];
        if (k->esc) {
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

/* Checks a big object's keys when it closes (small ones were checked as they came) and pops
 * them. */
static bool check_keys(struct cg__scan *sc, struct cg__scan_obj *o)
{
    struct cg__scan_key *k = sc->keys + o->key_base;
    size_t m = sc->nkeys - o->key_base;
    if (m <= SMALL_OBJECT_KEYS) {
        sc->nkeys = o->key_base;
        return true;
    }
    rehash_keys(sc, o->key_base);
    sc->nkeys = o->key_base;
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

/* Checks the key just pushed against the earlier keys of a small object. */
static inline bool check_new_key(struct cg__scan *sc, struct cg__scan_obj *o)
{
    size_t last = sc->nkeys - 1;
    if (last - o->key_base >= SMALL_OBJECT_KEYS)
        return true; /* checked by sorting at the close */
    const struct cg__scan_key *k = &sc->keys[last];
    uint64_t bit = 1ull << ((k->hash * 0x9e3779b97f4a7c15ull) >> 58);
    if ((o->seen & bit) != 0) {
        for (size_t b = o->key_base; b < last; b++)
            if (sc->keys[b].hash == k->hash && key_equal(sc, k, &sc->keys[b]))
                return duplicate_found(sc, k, &sc->keys[b]);
    }
    o->seen |= bit;
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

/* A new slot on the key stack (filled in place: no struct copies on the hot path). */
static inline struct cg__scan_key *push_key(struct cg__scan *sc)
{
    if (sc->nkeys == sc->capkeys)
        grow_keys(sc);
    return &sc->keys[sc->nkeys++];
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
            return check_keys(sc, o) ? 0 : -1;
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
    size_t off = 0, len = 0;
    bool esc = false;
    if (!string_at(sc, &off, &len, &esc))
        return -1;
    key->off = off;
    key->len = len;
    key->esc = esc;
    if (esc) {
        size_t ul;
        const char *u = scratch_unescape(sc, off, len, &ul);
        key->text = (struct cg_str){u, ul};
    } else {
        key->text = (struct cg_str){(const char *)sc->s + off, len};
    }
    struct cg__scan_key *k = push_key(sc);
    k->hash = key_tag((const unsigned char *)key->text.p, key->text.n);
    k->off = off;
    k->len = len;
    k->esc = esc;
    if (!check_new_key(sc, o))
        return -1;
    i = sc->i;
    if (i + 1 < sc->n && sc->s[i] == ':' && sc->s[i + 1] > ' ') {
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
 * for an object, where its keys start on the key stack and its duplicate filter. */
struct skip_frame {
    size_t key_base;
    uint64_t seen;
    bool obj;
};

/* Skips the object or array at the current offset with an explicit stack instead of recursion
 * through obj_next: the same checks in the same order (so the same first error), but offset,
 * depth and key stack stay in locals and no key struct is filled per member. The depth limit
 * bounds the stack. The scanner's fields are written back before any call that reads them. */
static bool skip_container(struct cg__scan *sc)
{
    struct skip_frame st[CG_ADMISSION_MAX_DEPTH];
    struct skip_frame *f = st; /* next free parent slot */
    const unsigned char *s = sc->s;
    const size_t n = sc->n;
    size_t i = sc->i;
    int depth = sc->depth;
    const int depth0 = depth;
    struct cg__scan_key *keys = sc->keys;
    size_t nk = sc->nkeys, cap = sc->capkeys;
    size_t base = 0;   /* innermost object: first key on the stack */
    uint64_t seen = 0; /* innermost object: duplicate filter */
    bool obj = false;  /* the innermost container is an object */
    bool ok = false;
    int c = s[i];

#define SYNC() (sc->i = i, sc->depth = depth, sc->nkeys = nk)
#define PEEK() (i = ws_at(sc, s, n, i), c = i < n ? s[i] : -1)
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        cg__scan_fail(sc, __VA_ARGS__);                                                            \
        goto out;                                                                                  \
    } while (0)

open: /* at '{' or '[' (c) */
    if (depth >= CG_ADMISSION_MAX_DEPTH)
        FAIL(i, "nesting deeper than %d levels", CG_ADMISSION_MAX_DEPTH);
    if (depth > depth0) {
        f->key_base = base;
        f->seen = seen;
        f->obj = obj;
        f++;
    }
    depth++;
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
    base = nk;
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
    size_t close = 0;
    bool esc = false;
    if (!string_body(sc, s, n, i, &close, &esc))
        goto out;
    if (nk == cap) {
        SYNC();
        grow_keys(sc);
        keys = sc->keys;
        cap = sc->capkeys;
    }
    struct cg__scan_key *k = &keys[nk++];
    k->off = i + 1;
    k->len = close - i - 1;
    k->esc = esc;
    uint64_t tag;
    if (esc) {
        size_t ul;
        const char *u = scratch_unescape(sc, k->off, k->len, &ul);
        tag = key_tag((const unsigned char *)u, ul);
    } else {
        tag = key_tag(s + k->off, k->len);
    }
    k->hash = tag;
    i = close + 1;
    /* check_new_key on locals. */
    if (nk - 1 - base < SMALL_OBJECT_KEYS) {
        uint64_t bit = 1ull << ((tag * 0x9e3779b97f4a7c15ull) >> 58);
        if ((seen & bit) != 0) {
            for (size_t b = base; b < nk - 1; b++)
                if (keys[b].hash == tag && key_equal(sc, k, &keys[b])) {
                    duplicate_found(sc, k, &keys[b]);
                    goto out;
                }
        }
        seen |= bit;
    }
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
        size_t close = 0;
        bool esc = false;
        if (!string_body(sc, s, n, i, &close, &esc))
            goto out;
        i = close + 1;
    } else if (c == '{' || c == '[') {
        /* Empty containers are most of the skipped values (managedFields' "f:x":{}). */
        if (i + 1 < n && s[i + 1] == c + 2 && depth < CG_ADMISSION_MAX_DEPTH)
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
    depth--;
    if (nk - base <= SMALL_OBJECT_KEYS) {
        nk = base; /* checked as they came */
    } else {
        struct cg__scan_obj o = {base, seen, false};
        SYNC();
        if (!check_keys(sc, &o)) {
            nk = sc->nkeys;
            goto out;
        }
        nk = sc->nkeys;
    }
    goto closed;
close_arr:
    i++;
    depth--;
closed:
    if (depth == depth0) {
        ok = true;
        goto out;
    }
    f--;
    base = f->key_base;
    seen = f->seen;
    obj = f->obj;
    goto next;

out:
    SYNC();
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
