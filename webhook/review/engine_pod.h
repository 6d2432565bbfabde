/* Internal to the engine: the Pod rules (engine_pod.c). engine.h has the contract. */
#ifndef CG_REVIEW_ENGINE_POD_H
#define CG_REVIEW_ENGINE_POD_H

#include "review/engine.h"

/* Every policy of set covering an object (kind bit, namespace, labels): *out is local (room
 * for CG_ENGINE_MAX_POLICIES) or, when more match, an array on the heap, so no covering
 * policy is ever skipped. Returns how many; release with cg__engine_match_free. */
size_t cg__engine_match(const struct cg_policy_set *set, unsigned kind_bit, struct cg_str ns,
                        const struct cg_kvs *labels, const struct cg_policy **local,
                        const struct cg_policy ***out);
void cg__engine_match_free(const struct cg_policy **matched, const struct cg_policy **local);

/* Does req belong to the Pod rules (Pod CREATE or DELETE, pods/eviction CREATE)? */
bool cg__engine_pod_applies(const struct cg_admission_request *req);

/* Decides a request cg__engine_pod_applies to into out, which the caller has reset to
 * "allowed". Returns CG_ETOOBIG when patch or text is full. */
enum cg_status cg__engine_pod_eval(const struct cg_policy_set *set, enum cg_review_path path,
                                   int64_t now, const struct cg_admission_request *req,
                                   const struct cg_cluster_view *view, struct cg_patch *patch,
                                   struct cg_buf *text, struct cg_engine_result *out);

#endif
