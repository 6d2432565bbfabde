/* Internal to the admission module: a single-pass, validating JSON scanner without a DOM.
 *
 * The scanner walks a body that need not be NUL-terminated and checks it strictly against
 * RFC 8259 as it goes (grammar, numbers, escapes, UTF-8 inside strings, nesting depth,
 * duplicate keys). Callers that know the shape they expect (decode.c) drive it object by
 * object and key by key, and call cg__scan_skip for every value they do not read.
 *
 * Errors: every function that can meet a syntax error returns false (or -1) after recording
 * CG_EPARSE with the byte offset in the scanner's error; nothing else is touched after that,
 * so callers just unwind. */
#ifndef CG_ADMISSION_SCAN_H
#define CG_ADMISSION_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "base/status.h"
#include "base/str.h"

/* One key of an open object, kept until the object closes to detect duplicates. */
struct cg__scan_key {
    uint64_t hash; /* of the unescaped key: its tag while the object is open, its hash once a
                    * big object closes (scan.c) */
    size_t off;    /* raw key text (after the opening quote) */
    size_t len;    /* raw length (escapes are looked for only when keys must be compared) */
};

#define CG__SCAN_LOCAL_KEYS 256
#define CG__SCAN_LOCAL_SCRATCH 256

struct cg__scan {
    const unsigned char *s;
    size_t n;
    size_t i;          /* current offset */
    size_t ws_skipped; /* whitespace bytes skipped between tokens so far */
    int depth;
    bool failed;
    struct cg_err *err;
    /* Keys of all objects open on the current path, innermost last. */
    struct cg__scan_key *keys;
    size_t nkeys, capkeys;
    /* Unescaped text of the last escaped key (valid until the next key). */
    char *scratch;
    size_t scratch_cap;
    struct cg__scan_key keys_local[CG__SCAN_LOCAL_KEYS];
    char scratch_local[CG__SCAN_LOCAL_SCRATCH];
};

/* An open object: its keys start at key_base in the key stack; seen has one bit per key
 * tag (of its first keys), a filter in front of the duplicate check. */
struct cg__scan_obj {
    size_t key_base;
    uint64_t seen;
    bool first;
};

struct cg__scan_arr {
    bool first;
};

/* The key just read by cg__scan_obj_next. text is the unescaped key: it points into the body,
 * or into the scanner's scratch (then it is valid only until the next key is read). */
struct cg__scan_keyref {
    struct cg_str text;
    size_t off, len; /* raw text in the body */
    bool esc;
};

void cg__scan_init(struct cg__scan *sc, const char *body, size_t len, struct cg_err *err);
void cg__scan_dispose(struct cg__scan *sc);

/* Records a syntax error at byte off (if none is recorded yet); returns false. */
bool cg__scan_fail(struct cg__scan *sc, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void cg__scan_ws(struct cg__scan *sc)
{
    /* Compact JSON (what the apiserver sends): the next byte is a token, never whitespace,
     * and every whitespace byte is <= ' '. */
    if (sc->i < sc->n && sc->s[sc->i] > ' ')
        return;
    while (sc->i < sc->n) {
        unsigned char c = sc->s[sc->i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            break;
        sc->i++;
        sc->ws_skipped++;
    }
}

/* The byte at the current offset (after whitespace), or -1 at the end of input. */
static inline int cg__scan_peek(struct cg__scan *sc)
{
    cg__scan_ws(sc);
    return sc->i < sc->n ? sc->s[sc->i] : -1;
}

/* At '{': enters the object (depth checked). */
bool cg__scan_obj_open(struct cg__scan *sc, struct cg__scan_obj *o);
/* Reads the next key and the ':' after it, leaving the offset at the value (which exists).
 * Returns 1 with *key filled, 0 when the object closed (after checking its keys for
 * duplicates), -1 on a syntax error. */
int cg__scan_obj_next(struct cg__scan *sc, struct cg__scan_obj *o, struct cg__scan_keyref *key);

/* At '[': enters the array. */
bool cg__scan_arr_open(struct cg__scan *sc, struct cg__scan_arr *a);
/* Returns 1 at the next element (which exists), 0 when the array closed, -1 on error. */
int cg__scan_arr_next(struct cg__scan *sc, struct cg__scan_arr *a);

/* At '"': validates the string and moves past it. off and len give the raw content, esc
 * whether it holds backslash escapes. */
bool cg__scan_string(struct cg__scan *sc, size_t *off, size_t *len, bool *esc);
/* At '-' or a digit: validates a number. *is_int: no fraction and no exponent. */
bool cg__scan_number(struct cg__scan *sc, size_t *off, size_t *len, bool *is_int);
/* At 't', 'f' or 'n': validates the literal; *kind is that first letter. */
bool cg__scan_literal(struct cg__scan *sc, char *kind);
/* Validates and skips any value (at its first byte, whitespace already skipped). */
bool cg__scan_skip(struct cg__scan *sc);

/* Writes the unescaped form of raw (already validated by cg__scan_string) to dst, which has
 * room for n bytes (unescaping never grows text) and does not overlap raw; returns the
 * length written. */
size_t cg__json_unescape(const char *raw, size_t n, char *dst);

/* The digest of cg_admission_digest_json for a text known to hold no whitespace outside
 * strings (the scanner skipped none in it): one pass over the bytes, same result. */
uint64_t cg__digest_compact(const char *json, size_t len);

/* Hash of a key's unescaped text (for the duplicate check). */
uint64_t cg__scan_hash(const char *p, size_t n);

/* Which string scanner this build has: "sse2" or "portable" (CG_SCAN_PORTABLE, or no SSE2).
 * For tests, which run the decoder's cases against both. */
const char *cg__scan_variant(void);

#endif
