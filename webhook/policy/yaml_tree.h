/* A small YAML node tree with a 1-based line and column on every node, built on libyaml.
 *
 * Policy files only need mappings, sequences and scalars, so the tree refuses what would make
 * a document mean more than it shows: anchors, aliases (no billion-laughs), explicit tags and
 * duplicate mapping keys are errors at their position. Nesting is capped. The tree owns
 * nothing on its own: every node and string lives in the caller's arena. */
#ifndef CG_POLICY_YAML_TREE_H
#define CG_POLICY_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/mem.h"
#include "base/status.h"

#define CG_YAML_MAX_DEPTH 64

enum cg_ynode_kind { CG_YNODE_SCALAR, CG_YNODE_SEQ, CG_YNODE_MAP };

struct cg_ynode {
    enum cg_ynode_kind kind;
    int line, col; /* 1-based, where the node starts */
    /* scalar: NUL-terminated value and whether it was written plain (unquoted, not a block
     * scalar); only plain scalars can be numbers, booleans or null. */
    const char *value;
    size_t len;
    bool plain;
    /* seq: items[0..n); map: items[2i] is a key (a scalar), items[2i+1] its value. */
    struct cg_ynode **items;
    size_t n;
};

/* Parses every document of data (len bytes of the file named file, for messages) into
 * *docs / *n_docs, allocated in arena. Empty documents yield a NULL root in their slot so
 * callers can skip them. On error returns CG_EPARSE with file:line:col in err. */
enum cg_status cg__yaml_parse(const char *file, const char *data, size_t len,
                              struct cg_arena *arena, struct cg_ynode ***docs, size_t *n_docs,
                              struct cg_err *err);

/* "a mapping", "a list", "a string", "an integer", ... for messages about wrong types. */
const char *cg__ynode_describe(const struct cg_ynode *node);

/* Plain scalars that YAML's core schema reads as null, a boolean, an integer or a float. */
bool cg__ynode_is_null(const struct cg_ynode *node);
bool cg__ynode_is_bool(const struct cg_ynode *node, bool *out);
bool cg__ynode_is_int(const struct cg_ynode *node, long long *out);
bool cg__ynode_is_float(const struct cg_ynode *node, double *out);

#endif
