/* The digest of a JSON value's text with the whitespace outside strings removed. Valid JSON
 * needs no whitespace between tokens, so two texts of one value that differ only in layout
 * get the same digest; any change of a token changes it. The hash is a streaming,
 * word-at-a-time mix (the shape of MurmurHash3's 64-bit lane) so the pass costs about a
 * cycle per byte; it detects changes, it is not meant to resist crafted collisions. */
#include <stdint.h>
#include <string.h>

#include "admission/admission.h"
#include "admission/scan.h"

#define C1 0x87c37b91114253d5ull
#define C2 0x4cf5ad432745937full

struct digest {
    uint64_t h;
    uint64_t tail; /* pending bytes, little-endian */
    unsigned ntail;
    uint64_t total;
};

static inline uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline void mix(struct digest *d, uint64_t w)
{
    w *= C1;
    w = rotl(w, 31);
    w *= C2;
    d->h ^= w;
    d->h = rotl(d->h, 27) * 5 + 0x52dce729;
}

static inline uint64_t load_le(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

static void feed(struct digest *d, const unsigned char *p, size_t n)
{
    d->total += n;
    while (d->ntail != 0 && n > 0) {
        d->tail |= (uint64_t)*p++ << (8 * d->ntail);
        n--;
        if (++d->ntail == 8) {
            mix(d, d->tail);
            d->tail = 0;
            d->ntail = 0;
        }
    }
    while (n >= 8) {
        mix(d, load_le(p));
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        d->tail |= (uint64_t)*p++ << (8 * d->ntail++);
        n--;
    }
}

static uint64_t finish(struct digest *d)
{
    uint64_t h = d->h;
    if (d->ntail != 0) {
        uint64_t w = d->tail * C1;
        w = rotl(w, 31) * C2;
        h ^= w;
    }
    h ^= d->total;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

#define DIGEST_INIT                                                                                \
    {                                                                                              \
        0x9e3779b97f4a7c15ull, 0, 0, 0                                                             \
    }

uint64_t cg__digest_compact(const char *json, size_t len)
{
    struct digest d = DIGEST_INIT;
    feed(&d, (const unsigned char *)json, len);
    return finish(&d);
}

static inline int is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

uint64_t cg_admission_digest_json(const char *json, size_t len)
{
    const unsigned char *s = (const unsigned char *)json;
    struct digest d = DIGEST_INIT;
    size_t i = 0;
    while (i < len) {
        if (is_ws(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        if (s[i] == '"') {
            /* A string is one chunk, whitespace included: find its closing quote (one not
             * preceded by an odd number of backslashes). */
            j = i + 1;
            for (;;) {
                const unsigned char *q = memchr(s + j, '"', len - j);
                if (q == NULL) {
                    j = len;
                    break;
                }
                size_t k = (size_t)(q - s), bs = 0;
                while (k - bs > i + 1 && s[k - bs - 1] == '\\')
                    bs++;
                j = k + 1;
                if (bs % 2 == 0)
                    break;
            }
        } else {
            while (j < len && !is_ws(s[j]) && s[j] != '"')
                j++;
        }
        feed(&d, s + i, j - i);
        i = j;
    }
    return finish(&d);
}

/* The next byte of a JSON text that is not whitespace between tokens, or -1 at the end.
 * *in_str tracks whether the walk is inside a string (escapes included). */
static int next_token_byte(const char *s, size_t n, size_t *i, bool *in_str, bool *escaped)
{
    while (*i < n) {
        unsigned char c = (unsigned char)s[(*i)++];
        if (*in_str) {
            if (*escaped)
                *escaped = false;
            else if (c == '\\')
                *escaped = true;
            else if (c == '"')
                *in_str = false;
            return c;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        if (c == '"')
            *in_str = true;
        return c;
    }
    return -1;
}

bool cg_admission_same_template(const struct cg_object *a, const struct cg_object *b)
{
    if (a->has_template != b->has_template)
        return false;
    struct cg_str x = a->template_json, y = b->template_json;
    if (a->template_compact && b->template_compact)
        return cg_str_eq(x, y);
    size_t i = 0, j = 0;
    bool xs = false, xe = false, ys = false, ye = false;
    for (;;) {
        int cx = next_token_byte(x.p, x.n, &i, &xs, &xe);
        int cy = next_token_byte(y.p, y.n, &j, &ys, &ye);
        if (cx != cy)
            return false;
        if (cx < 0)
            return true;
    }
}
