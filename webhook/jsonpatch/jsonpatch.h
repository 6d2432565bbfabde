/* RFC 6902 JSON Patch: a builder that writes patch documents as text (the hot path: no DOM),
 * RFC 6901 pointer escaping, and an applier working on a jansson copy (CLI --apply, tests).
 *
 * Paths are given as arrays of unescaped segments; the builder escapes them ("~" -> "~0",
 * "/" -> "~1", so cellgate.io/cell becomes cellgate.io~1cell). Values are JSON text the
 * caller has already produced (a string helper is provided).
 *
 * Builder contract, for every cg_patch_* that appends: the op (with any parents it creates)
 * is appended whole or not at all. On CG_ETOOBIG (the text would pass max_bytes) the patch is
 * left exactly as it was, so the caller can still send the ops that fit or deny cleanly.
 * The builder allocates only inside its buffer, which cg_patch_reset keeps for the next
 * request. It trusts the caller's value_json to be one well-formed JSON value. */
#ifndef CG_JSONPATCH_H
#define CG_JSONPATCH_H

#include <stddef.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/status.h"
#include "base/str.h"

struct cg_patch {
    struct cg_buf text; /* "[op,op,...]" once there is an op; empty otherwise */
    size_t n_ops;
};

/* Prepares an empty patch whose text may grow to max_bytes (0: no cap). Allocates nothing. */
void cg_patch_init(struct cg_patch *p, size_t max_bytes);
/* Frees the buffer; p may be reused after cg_patch_init. */
void cg_patch_dispose(struct cg_patch *p);
/* Forgets all ops, keeps the memory. */
void cg_patch_reset(struct cg_patch *p);

/* Appends the RFC 6901 escaping of one segment to out ("~" -> "~0", "/" -> "~1"), without a
 * leading "/" and without JSON escaping. CG_ETOOBIG if out's cap is reached (out may then hold
 * part of the segment). */
enum cg_status cg_pointer_append_segment(struct cg_buf *out, struct cg_str seg);
/* Appends the whole pointer "/seg0/seg1..." (nothing for nsegs == 0, the root), escaped as
 * cg_pointer_append_segment does. */
enum cg_status cg_pointer_append_segments(struct cg_buf *out, const struct cg_str *segs,
                                          size_t nsegs);

/* op "add" at segs[0..nsegs). n_existing says how many leading segments already exist in
 * the target document (from the decoded view): for each missing intermediate the builder
 * first adds an empty object, so /metadata/labels/x works when labels is absent. A missing
 * intermediate whose next segment is "-" is added as an empty array instead, so
 * /spec/readinessGates/- works when readinessGates is absent. The last segment "-" appends
 * to an array. nsegs == 0 is the root (the whole document is replaced).
 * CG_EINVAL if n_existing > nsegs or value_json is empty; CG_ETOOBIG past the cap. */
enum cg_status cg_patch_add(struct cg_patch *p, const struct cg_str *segs, size_t nsegs,
                            size_t n_existing, struct cg_str value_json);
/* As cg_patch_add with the JSON string holding value (escaped here: quotes, backslashes,
 * control characters; UTF-8 passes through). */
enum cg_status cg_patch_add_string(struct cg_patch *p, const struct cg_str *segs, size_t nsegs,
                                   size_t n_existing, struct cg_str value);
/* op "replace": the target must exist in the document. CG_EINVAL if value_json is empty. */
enum cg_status cg_patch_replace(struct cg_patch *p, const struct cg_str *segs, size_t nsegs,
                                struct cg_str value_json);
/* op "remove": the target must exist in the document. */
enum cg_status cg_patch_remove(struct cg_patch *p, const struct cg_str *segs, size_t nsegs);

/* The patch document ("[...]") or an empty string when there are no ops. Borrowed: valid
 * until the next change to p. */
struct cg_str cg_patch_text(const struct cg_patch *p);

/* Applies an RFC 6902 patch (all six ops) to doc in place; doc should be a working copy
 * (json_deep_copy) since a failed apply may leave it half-patched. On failure err names the
 * op index and the reason. *doc may be replaced (a patch on the root path "").
 *
 * Strict where RFC 6902/6901 are: array indexes are "0" or digits without a leading zero,
 * "-" only as the last segment of an "add" (append), "~" only as "~0" or "~1", unknown
 * members of an op are ignored, "test" compares numbers by value (1 equals 1.0).
 * Removing the root is refused. Values are copied from patch: doc never shares nodes with it.
 * Statuses: CG_EINVAL for a malformed patch or op (not an array or object, unknown or missing
 * "op", missing "path"/"from"/"value", bad pointer syntax, an index that is not a number, a
 * move into its own child) and for a failed "test"; CG_ENOTFOUND when a path or from does not
 * resolve (missing member, index out of range, a scalar where a container is needed). */
enum cg_status cg_jsonpatch_apply(json_t **doc, const json_t *patch, struct cg_err *err);

#endif
