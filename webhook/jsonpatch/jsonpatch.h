/* RFC 6902 JSON Patch: a builder that writes patch documents as text (the hot path: no DOM),
 * RFC 6901 pointer escaping, and an applier working on a jansson copy (CLI --apply, tests).
 *
 * Paths are given as arrays of unescaped segments; the builder escapes them ("~" -> "~0",
 * "/" -> "~1", so cellgate.io/cell becomes cellgate.io~1cell). Values are JSON text the
 * caller has already produced (a string helper is provided). */
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

void cg_patch_init(struct cg_patch *p, size_t max_bytes);
void cg_patch_dispose(struct cg_patch *p);
/* Forgets all ops, keeps the memory. */
void cg_patch_reset(struct cg_patch *p);

/* Appends the RFC 6901 escaping of one segment to out ("~" -> "~0", "/" -> "~1"). */
enum cg_status cg_pointer_append_segment(struct cg_buf *out, struct cg_str seg);

/* op "add" at segs[0..nsegs). n_existing says how many leading segments already exist in
 * the target document (from the decoded view): for each missing intermediate the builder
 * first adds an empty object, so /metadata/labels/x works when labels is absent. */
enum cg_status cg_patch_add(struct cg_patch *p, const struct cg_str *segs, size_t nsegs,
                            size_t n_existing, struct cg_str value_json);
enum cg_status cg_patch_add_string(struct cg_patch *p, const struct cg_str *segs, size_t nsegs,
                                   size_t n_existing, struct cg_str value);
enum cg_status cg_patch_replace(struct cg_patch *p, const struct cg_str *segs, size_t nsegs,
                                struct cg_str value_json);
enum cg_status cg_patch_remove(struct cg_patch *p, const struct cg_str *segs, size_t nsegs);

/* The patch document ("[...]") or an empty string when there are no ops. */
struct cg_str cg_patch_text(const struct cg_patch *p);

/* Applies an RFC 6902 patch (all six ops) to doc in place; doc should be a working copy
 * (json_deep_copy) since a failed apply may leave it half-patched. On failure err names the
 * op index and the reason. *doc may be replaced (a patch on the root path ""). */
enum cg_status cg_jsonpatch_apply(json_t **doc, const json_t *patch, struct cg_err *err);

#endif
