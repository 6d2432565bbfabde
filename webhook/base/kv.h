/* Borrowed string maps and lists (labels, annotations, finalizers, groups) as the decoders
 * hand them out: views into a document, in document order. Shared by the admission view, the
 * policy matcher and the cluster-state records. */
#ifndef CG_BASE_KV_H
#define CG_BASE_KV_H

#include <stdbool.h>
#include <stddef.h>

#include "base/str.h"

struct cg_kv {
    struct cg_str key;
    struct cg_str value;
};

/* A map of string to string (labels, annotations), in document order. */
struct cg_kvs {
    const struct cg_kv *items;
    size_t n;
    bool present; /* the key existed in the document (even if empty or null) */
};

struct cg_strs {
    const struct cg_str *items;
    size_t n;
    bool present;
};

#endif
