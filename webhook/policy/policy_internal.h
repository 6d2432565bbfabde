/* Declarations shared by the files of the policy module (not part of its API). */
#ifndef CG_POLICY_INTERNAL_H
#define CG_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/mem.h"
#include "base/status.h"
#include "policy/policy.h"
#include "policy/yaml_tree.h"

/* Builds one policy from a document tree; strings and arrays go into mem, weekly windows'
 * zones are loaded from tz_dir (NULL: the system's). On failure the policy may hold loaded
 * zones: release them with cg__policy_dispose. name_line/col locate metadata.name. */
enum cg_status cg__policy_decode_doc(const char *file, const struct cg_ynode *doc,
                                     struct cg_arena *mem, const char *tz_dir,
                                     struct cg_policy *out, int *name_line, int *name_col,
                                     struct cg_err *err);
/* The same, reporting every error it can find to on_error (one per section of spec: match,
 * cells, gray, monitor, emergency, traffic, after the document's head), not only the first.
 * Returns the first error's status; err holds the last one. */
enum cg_status cg__policy_decode_doc_each(const char *file, const struct cg_ynode *doc,
                                          struct cg_arena *mem, const char *tz_dir,
                                          struct cg_policy *out, int *name_line, int *name_col,
                                          void (*on_error)(const struct cg_err *err, void *ud),
                                          void *ud, struct cg_err *err);

/* Frees what a policy owns outside the set's memory (the zones of weekly windows). */
void cg__policy_dispose(struct cg_policy *p);

bool cg__duration_parse(const char *s, int64_t *out);
bool cg__rfc3339_parse(const char *s, int64_t *out);
bool cg__dns1123_subdomain(const char *s);
bool cg__dns1123_label(const char *s);

/* The match index over set->items (match.c). */
struct cg_policy_index *cg__policy_index_create(const struct cg_policy *items, size_t n);
void cg__policy_index_destroy(struct cg_policy_index *idx);
/* How many policies a match for (kind, namespace) examines: exact hits plus the glob/any
 * list. Lets tests check that the lookup does not scan the set. */
size_t cg__policy_index_candidates(const struct cg_policy_set *set, unsigned kind_bit,
                                   struct cg_str namespace_);

#endif
