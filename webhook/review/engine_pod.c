/* The Pod half of the rules (engine.h says what they decide): the traffic gate, the drain
 * finalizers and the cell of a new pod, and holding the delete or eviction of a pod that
 * still carries traffic until the controller has drained it. */
#include "review/engine_pod.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/names.h"
#include "placement/choose.h"
#include "policy/policy_internal.h"

static const struct cg_str SEG_SPEC = CG_STR_LIT("spec");
static const struct cg_str SEG_METADATA = CG_STR_LIT("metadata");

static bool is_pod(const struct cg_admission_request *req)
{
    return cg_str_eq_c(req->kind.kind, "Pod") && req->kind.group.n == 0;
}

static bool is_eviction(const struct cg_admission_request *req)
{
    return cg_str_eq_c(req->resource.resource, "pods") && req->resource.group.n == 0 &&
           cg_str_eq_c(req->sub_resource, "eviction");
}

bool cg__engine_pod_applies(const struct cg_admission_request *req)
{
    if (is_eviction(req))
        return req->operation == CG_OP_CREATE;
    return is_pod(req) && req->sub_resource.n == 0 &&
           (req->operation == CG_OP_CREATE || req->operation == CG_OP_UPDATE ||
            req->operation == CG_OP_DELETE);
}

static struct cg_str kvs_get(const struct cg_kvs *kvs, const char *key, bool *found)
{
    for (size_t i = 0; i < kvs->n; i++) {
        if (cg_str_eq_c(kvs->items[i].key, key)) {
            if (found != NULL)
                *found = true;
            return kvs->items[i].value;
        }
    }
    if (found != NULL)
        *found = false;
    return CG_STR_NULL;
}

static bool strs_has(const struct cg_strs *v, struct cg_str s)
{
    for (size_t i = 0; i < v->n; i++)
        if (cg_str_eq(v->items[i], s))
            return true;
    return false;
}

static bool user_in(const struct cg_admission_request *req, const struct cg_strv *groups)
{
    for (size_t i = 0; i < req->groups.n; i++)
        for (size_t j = 0; j < groups->n; j++)
            if (cg_str_eq_c(req->groups.items[i], groups->items[j]))
                return true;
    return false;
}

/* Index of the policy cell named s, or -1. */
static int cell_index(const struct cg_policy *p, struct cg_str s)
{
    for (size_t i = 0; i < p->cells.n; i++)
        if (cg_str_eq_c(s, p->cells.items[i].name))
            return (int)i;
    return -1;
}

size_t cg__engine_match(const struct cg_policy_set *set, unsigned kind_bit, struct cg_str ns,
                        const struct cg_kvs *labels, const struct cg_policy **local,
                        const struct cg_policy ***out)
{
    size_t n = cg_policy_set_match(set, kind_bit, ns, labels, local, CG_ENGINE_MAX_POLICIES);
    *out = local;
    if (n > CG_ENGINE_MAX_POLICIES) {
        /* Rare: more policies cover the object than the table holds. Each one counts (a
         * skipped freeze would be a hole), at the cost of one allocation. */
        *out = cg_xmalloc(n * sizeof(**out));
        size_t again = cg_policy_set_match(set, kind_bit, ns, labels, *out, n);
        assert(again == n);
        (void)again;
    }
    return n;
}

void cg__engine_match_free(const struct cg_policy **matched, const struct cg_policy **local)
{
    if (matched != local)
        free(matched);
}

/* The first matching policy in enforce mode (it alone mutates and holds); *other gets the
 * first warn or audit one when no policy enforces. */
static const struct cg_policy *governing(const struct cg_policy_set *set, struct cg_str ns,
                                         const struct cg_kvs *labels, size_t *n_matched,
                                         const struct cg_policy **other)
{
    const struct cg_policy *local[CG_ENGINE_MAX_POLICIES], **matched = NULL;
    const struct cg_policy *p = NULL;
    size_t n = cg__engine_match(set, CG_KIND_POD, ns, labels, local, &matched);
    *n_matched = n;
    *other = n > 0 ? matched[0] : NULL;
    for (size_t i = 0; i < n && p == NULL; i++)
        if (matched[i]->enforcement == CG_ENFORCE_ENFORCE)
            p = matched[i];
    if (p != NULL)
        *other = NULL;
    cg__engine_match_free(matched, local);
    return p;
}

/* --- Pod CREATE ---------------------------------------------------------------------------- */

/* A term pins cell v when it requires the topology key In exactly [v]. */
static struct cg_str term_pin(const struct cg_node_term *t, const char *topology_key)
{
    for (size_t j = 0; j < t->n_match_expressions; j++) {
        const struct cg_node_requirement *r = &t->match_expressions[j];
        if (cg_str_eq_c(r->key, topology_key) && cg_str_eq_c(r->operator_, "In") &&
            r->values.n == 1)
            return r->values.items[0];
    }
    return CG_STR_NULL;
}

/* The policy cell the pod already pins itself to (a nodeSelector on the topology key, or a
 * required node affinity every term of which pins the same cell), or -1. */
static int pinned_cell(const struct cg_policy *p, const struct cg_pod_spec *ps)
{
    bool found;
    struct cg_str v = kvs_get(&ps->node_selector, p->cells.topology_key, &found);
    if (found && cell_index(p, v) >= 0)
        return cell_index(p, v);
    if (ps->node_terms.n == 0)
        return -1;
    struct cg_str first = term_pin(&ps->node_terms.items[0], p->cells.topology_key);
    for (size_t i = 1; i < ps->node_terms.n; i++)
        if (first.p == NULL ||
            !cg_str_eq(first, term_pin(&ps->node_terms.items[i], p->cells.topology_key)))
            return -1;
    return first.p == NULL ? -1 : cell_index(p, first);
}

/* The cell for a pod with no cell yet: the one this request already reserved (a re-sent
 * review), else the one furthest below its weight among the owner's live pods. */
static int choose_cell(const struct cg_policy *p, const struct cg_cluster_view *view)
{
    uint32_t counts[CG_POLICY_MAX_CELLS] = {0}, in_flight[CG_POLICY_MAX_CELLS] = {0};
    if (view != NULL) {
        int reserved = cell_index(p, view->reserved_cell);
        if (reserved >= 0)
            return reserved;
        for (size_t i = 0; i < view->n_cells; i++) {
            int k = cell_index(p, view->cells[i].cell);
            if (k >= 0) {
                counts[k] += view->cells[i].pods;
                in_flight[k] += view->cells[i].in_flight;
            }
        }
    }
    return (int)cg_placement_choose(&p->cells, counts, in_flight);
}

/* Adds key=value to metadata.<map> (labels or annotations) unless it is there already. */
static enum cg_status add_meta_entry(struct cg_patch *patch, struct cg_buf *text,
                                     const struct cg_object *o, const char *map,
                                     const struct cg_kvs *kvs, const char *key, const char *value)
{
    bool found;
    if (cg_str_eq_c(kvs_get(kvs, key, &found), value) && found)
        return CG_OK;
    if (kvs->n > 0) {
        const struct cg_str segs[] = {SEG_METADATA, cg_str_from(map), cg_str_from(key)};
        return cg_patch_add_string(patch, segs, 3, 2, cg_str_from(value));
    }
    /* Absent, null or empty: the whole map (an add into a null map would fail). */
    size_t start = text->len;
    enum cg_status st = cg_buf_append_char(text, '{');
    if (st == CG_OK)
        st = cg_buf_append_json_string(text, key, strlen(key));
    if (st == CG_OK)
        st = cg_buf_append_char(text, ':');
    if (st == CG_OK)
        st = cg_buf_append_json_string(text, value, strlen(value));
    if (st == CG_OK)
        st = cg_buf_append_char(text, '}');
    if (st != CG_OK)
        return st;
    const struct cg_str segs[] = {SEG_METADATA, cg_str_from(map)};
    return cg_patch_add(patch, segs, 2, o->has_metadata ? 1 : 0,
                        (struct cg_str){text->data + start, text->len - start});
}

static enum cg_status add_gate(struct cg_patch *patch, const struct cg_object *o)
{
    const struct cg_strs *gates = &o->pod.readiness_gates;
    if (strs_has(gates, CG_STR_LIT(CG_COND_TRAFFIC_READY)))
        return CG_OK;
    static const struct cg_str gate =
        CG_STR_LIT("{\"conditionType\":\"" CG_COND_TRAFFIC_READY "\"}");
    if (gates->n > 0) {
        const struct cg_str segs[] = {SEG_SPEC, CG_STR_LIT("readinessGates"), CG_STR_LIT("-")};
        return cg_patch_add(patch, segs, 3, 2, gate);
    }
    const struct cg_str segs[] = {SEG_SPEC, CG_STR_LIT("readinessGates")};
    return cg_patch_add(patch, segs, 2, o->pod.present ? 1 : 0,
                        CG_STR_LIT("[{\"conditionType\":\"" CG_COND_TRAFFIC_READY "\"}]"));
}

static enum cg_status add_finalizers(struct cg_patch *patch, struct cg_buf *text,
                                     const struct cg_policy *p, const struct cg_object *o)
{
    bool append = o->finalizers.n > 0; /* else the whole list, so a null list works */
    size_t start = text->len;
    enum cg_status st = append ? CG_OK : cg_buf_append_char(text, '[');
    size_t added = 0;
    for (size_t i = 0; st == CG_OK && i < p->traffic.components.n; i++) {
        char name[128];
        int n = snprintf(name, sizeof(name), CG_FINALIZER_DRAIN_PREFIX "%s",
                         p->traffic.components.items[i]);
        struct cg_str fin = {name, n < 0 ? 0 : (size_t)n};
        if (strs_has(&o->finalizers, fin))
            continue;
        if (append) {
            const struct cg_str segs[] = {SEG_METADATA, CG_STR_LIT("finalizers"), CG_STR_LIT("-")};
            st = cg_patch_add_string(patch, segs, 3, 2, fin);
        } else {
            if (added > 0)
                st = cg_buf_append_char(text, ',');
            if (st == CG_OK)
                st = cg_buf_append_json_string(text, fin.p, fin.n);
        }
        added++;
    }
    if (st != CG_OK || append || added == 0)
        return st;
    if ((st = cg_buf_append_char(text, ']')))
        return st;
    const struct cg_str segs[] = {SEG_METADATA, CG_STR_LIT("finalizers")};
    return cg_patch_add(patch, segs, 2, o->has_metadata ? 1 : 0,
                        (struct cg_str){text->data + start, text->len - start});
}

/* ANDs "<topologyKey> In [<cell>]" into every required nodeSelectorTerm (a term is made when
 * there is none); every other part of the affinity stays as it is. */
static enum cg_status add_affinity(struct cg_patch *patch, struct cg_buf *text,
                                   const struct cg_policy *p, const struct cg_object *o,
                                   const char *cell)
{
    size_t start = text->len;
    enum cg_status st = cg_buf_append_str(text, "{\"key\":");
    if (st == CG_OK)
        st = cg_buf_append_json_string(text, p->cells.topology_key, strlen(p->cells.topology_key));
    if (st == CG_OK)
        st = cg_buf_append_str(text, ",\"operator\":\"In\",\"values\":[");
    if (st == CG_OK)
        st = cg_buf_append_json_string(text, cell, strlen(cell));
    if (st == CG_OK)
        st = cg_buf_append_str(text, "]}");
    if (st != CG_OK)
        return st;
    size_t req_len = text->len - start;

    struct cg_str segs[8] = {SEG_SPEC,
                             CG_STR_LIT("affinity"),
                             CG_STR_LIT("nodeAffinity"),
                             CG_STR_LIT("requiredDuringSchedulingIgnoredDuringExecution"),
                             CG_STR_LIT("nodeSelectorTerms"),
                             CG_STR_NULL,
                             CG_STR_LIT("matchExpressions"),
                             CG_STR_LIT("-")};
    const struct cg_pod_spec *ps = &o->pod;
    if (ps->node_terms.n == 0) {
        /* No term to AND into: the required affinity gets one holding the requirement,
         * built at the deepest level that is missing. */
        size_t have = !ps->present ? 0 : !ps->has_affinity ? 1 : !ps->has_node_affinity ? 2 : 3;
        const char *head = ps->has_required_node_affinity ? "[{\"matchExpressions\":["
                                                          : "{\"nodeSelectorTerms\":[{"
                                                            "\"matchExpressions\":[";
        const char *tail = ps->has_required_node_affinity ? "]}]" : "]}]}";
        size_t vstart = text->len;
        st = cg_buf_append_str(text, head);
        if (st == CG_OK)
            st = cg_buf_reserve(text, req_len);
        if (st == CG_OK)
            st = cg_buf_append(text, text->data + start, req_len);
        if (st == CG_OK)
            st = cg_buf_append_str(text, tail);
        if (st != CG_OK)
            return st;
        size_t nsegs = ps->has_required_node_affinity ? 5 : 4;
        if (ps->has_required_node_affinity)
            have = 4;
        return cg_patch_add(patch, segs, nsegs, have,
                            (struct cg_str){text->data + vstart, text->len - vstart});
    }
    for (size_t i = 0; i < ps->node_terms.n; i++) {
        const struct cg_node_term *t = &ps->node_terms.items[i];
        if (cg_str_eq_c(term_pin(t, p->cells.topology_key), cell))
            continue;
        char idx[24];
        int n = snprintf(idx, sizeof(idx), "%zu", i);
        segs[5] = (struct cg_str){idx, (size_t)n};
        struct cg_str req = {text->data + start, req_len};
        if (t->n_match_expressions > 0) {
            st = cg_patch_add(patch, segs, 8, 7, req);
        } else {
            size_t vstart = text->len;
            st = cg_buf_reserve(text, req_len + 2);
            if (st == CG_OK) {
                req.p = text->data + start; /* the reserve may have moved the buffer */
                cg_buf_append_char(text, '[');
                cg_buf_append(text, req.p, req_len);
                cg_buf_append_char(text, ']');
                st = cg_patch_add(patch, segs, 7, 6,
                                  (struct cg_str){text->data + vstart, text->len - vstart});
            }
        }
        if (st != CG_OK)
            return st;
    }
    return CG_OK;
}

static enum cg_status pod_create(const struct cg_policy_set *set,
                                 const struct cg_admission_request *req,
                                 const struct cg_cluster_view *view, struct cg_patch *patch,
                                 struct cg_buf *text, struct cg_engine_result *out)
{
    const struct cg_object *o = &req->object;
    bool mirror;
    kvs_get(&o->annotations, CG_ANN_CONFIG_MIRROR, &mirror);
    /* Static and bare pods have no ReplicaSet to balance and nobody to recreate them. */
    if (!o->present || mirror || !o->owner.present)
        return CG_OK;
    struct cg_str ns = req->namespace_.n ? req->namespace_ : o->namespace_;
    const struct cg_policy *other, *p = governing(set, ns, &o->labels, &out->n_policies, &other);
    if (p == NULL)
        return CG_OK; /* uncovered, or only warn/audit policies: they never mutate */
    out->policy = p->name;

    bool labelled;
    int cell = cell_index(p, kvs_get(&o->labels, CG_LABEL_CELL, &labelled));
    int pinned = pinned_cell(p, &o->pod);
    bool placed_now = cell < 0;
    if (cell < 0)
        cell = pinned >= 0 ? pinned : choose_cell(p, view);
    const char *cell_name = p->cells.items[cell].name;

    enum cg_status st = add_gate(patch, o);
    if (st == CG_OK)
        st = add_finalizers(patch, text, p, o);
    if (st == CG_OK)
        st = add_meta_entry(patch, text, o, "labels", &o->labels, CG_LABEL_CELL, cell_name);
    if (st == CG_OK)
        st = add_meta_entry(patch, text, o, "annotations", &o->annotations, CG_ANN_POLICY, p->name);
    if (st == CG_OK && pinned < 0)
        st = add_affinity(patch, text, p, o, cell_name);
    if (st != CG_OK)
        return st;
    if (placed_now && !req->dry_run)
        out->placed_cell = cg_str_from(cell_name);
    out->patch = cg_patch_text(patch);
    if (out->patch.n > 0)
        out->decision = "patched";
    return CG_OK;
}

/* --- Pod DELETE and pods/eviction ----------------------------------------------------------- */

static int64_t parse_time(struct cg_str s)
{
    char buf[64];
    int64_t t;
    if (s.n == 0 || s.n >= sizeof(buf))
        return -1;
    memcpy(buf, s.p, s.n);
    buf[s.n] = '\0';
    return cg__rfc3339_parse(buf, &t) ? t : -1;
}

/* The state a DELETE review carries of its pod (oldObject), in the cache's terms. */
static void state_of(const struct cg_object *o, struct cg_pod_state *st)
{
    memset(st, 0, sizeof(*st));
    st->namespace_ = o->namespace_;
    st->name = o->name;
    st->terminating = o->deletion_timestamp_set;
    st->phase = o->phase;
    bool found;
    st->cell = kvs_get(&o->labels, CG_LABEL_CELL, &found);
    st->policy = kvs_get(&o->annotations, CG_ANN_POLICY, &found);
    kvs_get(&o->annotations, CG_ANN_DRAINING, &st->draining);
    kvs_get(&o->annotations, CG_ANN_DRAINED, &st->drained);
    struct cg_str req = kvs_get(&o->annotations, CG_ANN_DRAIN_REQUESTED, &found);
    st->drain_requested = found ? parse_time(req) : 0;
    for (size_t i = 0; i < o->conditions.n; i++)
        if (cg_str_eq_c(o->conditions.items[i].type, CG_COND_TRAFFIC_READY))
            st->traffic_ready = cg_str_eq_c(o->conditions.items[i].status, "True");
}

/* A break-glass user acts: allowed, with who and what (text[start..]) in the audit. */
static void audit_break_glass(const struct cg_admission_request *req, const struct cg_buf *text,
                              size_t start, struct cg_engine_result *out)
{
    out->audit[out->n_audit++] = (struct cg_kv){CG_STR_LIT("break-glass-user"), req->username};
    out->audit[out->n_audit++] =
        (struct cg_kv){CG_STR_LIT("break-glass-reason"), {text->data + start, text->len - start}};
    out->decision = "audited";
}

static enum cg_status hold_if_serving(const struct cg_policy *p, const struct cg_policy *other,
                                      int64_t now, const struct cg_admission_request *req,
                                      const struct cg_pod_state *pod, struct cg_buf *text,
                                      struct cg_engine_result *out)
{
    /* Never hold what already goes, what never carried traffic, or what is drained. */
    if (pod->terminating || pod->drained || !(pod->traffic_ready || pod->draining))
        return CG_OK;
    const char *what = is_eviction(req) ? "eviction" : "delete";
    struct cg_str name = req->name.n ? req->name : pod->name;
    size_t start = text->len;
    enum cg_status st;
    if (p == NULL) {
        /* Only warn or audit policies cover it: say what enforce mode would do. */
        if (other == NULL)
            return CG_OK;
        st = cg_buf_appendf(text, "policy %s: the %s of serving pod %.*s would wait for its drain",
                            other->name, what, (int)name.n, name.p);
        if (st != CG_OK)
            return st;
        struct cg_str msg = {text->data + start, text->len - start};
        out->policy = other->name;
        if (other->enforcement == CG_ENFORCE_WARN) {
            out->warnings[out->n_warnings++] = msg;
            out->decision = "warned";
        } else {
            out->audit[out->n_audit++] = (struct cg_kv){CG_STR_LIT("audit-traffic.drain"), msg};
            out->decision = "audited";
        }
        return CG_OK;
    }
    out->policy = p->name;
    int64_t timeout = p->traffic.drain_timeout_seconds;
    if (pod->drain_requested > 0 && now - pod->drain_requested > timeout) {
        st = cg_buf_appendf(text,
                            "pod %.*s: its drain was requested %" PRId64
                            "s ago, longer than drainTimeout %" PRId64
                            "s; %s allowed without a confirmed drain",
                            (int)name.n, name.p, now - pod->drain_requested, timeout, what);
        if (st != CG_OK)
            return st;
        struct cg_str msg = {text->data + start, text->len - start};
        out->warnings[out->n_warnings++] = msg;
        out->audit[out->n_audit++] = (struct cg_kv){CG_STR_LIT("drain-timeout"), msg};
        out->decision = "warned";
        return CG_OK;
    }
    if (user_in(req, &p->emergency.break_glass_groups)) {
        st = cg_buf_appendf(text, "%s of serving pod %.*s without a drain", what, (int)name.n,
                            name.p);
        if (st == CG_OK)
            audit_break_glass(req, text, start, out);
        return st;
    }
    st = cg_buf_appendf(text,
                        "pod %.*s is serving traffic and is being drained by cellgate (policy "
                        "%s); retry the %s: it passes once the pod is drained (annotated %s), "
                        "or %" PRId64 "s after the drain was requested",
                        (int)name.n, name.p, p->name, what, CG_ANN_DRAINED, timeout);
    if (st != CG_OK)
        return st;
    out->allowed = false;
    out->status_code = 429;
    out->message = (struct cg_str){text->data + start, text->len - start};
    out->decision = "denied";
    out->drain_request = !req->dry_run && pod->drain_requested == 0;
    return CG_OK;
}

/* The loaded policy named by a pod's cellgate.io/policy annotation (the one that placed it),
 * or NULL. */
static const struct cg_policy *placed_by(const struct cg_policy_set *set, struct cg_str policy)
{
    char name[256];
    if (policy.n == 0 || policy.n >= sizeof(name))
        return NULL;
    memcpy(name, policy.p, policy.n);
    name[policy.n] = '\0';
    return cg_policy_set_get(set, name);
}

static enum cg_status pod_delete(const struct cg_policy_set *set, int64_t now,
                                 const struct cg_admission_request *req, struct cg_buf *text,
                                 struct cg_engine_result *out)
{
    const struct cg_object *o = &req->old_object;
    if (!o->present)
        return CG_OK;
    struct cg_str ns = req->namespace_.n ? req->namespace_ : o->namespace_;
    const struct cg_policy *other, *p = governing(set, ns, &o->labels, &out->n_policies, &other);
    struct cg_pod_state pod;
    state_of(o, &pod);
    /* A pod relabelled out of its policy's selector still carries the policy that placed it
     * (an annotation only cellgate writes): relabelling must not make a serving pod
     * deletable. */
    const struct cg_policy *placer = p == NULL ? placed_by(set, pod.policy) : NULL;
    if (placer != NULL) {
        if (placer->enforcement == CG_ENFORCE_ENFORCE) {
            p = placer;
            other = NULL;
        } else if (other == NULL) {
            other = placer;
        }
        if (out->n_policies == 0)
            out->n_policies = 1;
    }
    return hold_if_serving(p, other, now, req, &pod, text, out);
}

/* An eviction carries only the Eviction object: the pod comes from the cluster view. It is
 * covered when cellgate placed it (its policy annotation names a loaded policy). */
static enum cg_status pod_evict(const struct cg_policy_set *set, int64_t now,
                                const struct cg_admission_request *req,
                                const struct cg_cluster_view *view, struct cg_buf *text,
                                struct cg_engine_result *out)
{
    if (view == NULL || view->pod == NULL)
        return CG_OK;
    const struct cg_policy *p = placed_by(set, view->pod->policy);
    if (p == NULL)
        return CG_OK; /* the policy that placed it is gone: nothing covers it any more */
    out->n_policies = 1;
    const struct cg_policy *enforcing = p->enforcement == CG_ENFORCE_ENFORCE ? p : NULL;
    return hold_if_serving(enforcing, enforcing ? NULL : p, now, req, view->pod, text, out);
}

/* --- Pod UPDATE: what cellgate manages on a pod is written by cellgate ------------------------ */

static bool trusted(const struct cg_admission_request *req, const struct cg_cluster_view *view)
{
    for (size_t i = 0; view != NULL && i < view->n_trusted_users; i++)
        if (cg_str_eq(req->username, view->trusted_users[i]))
            return true;
    return false;
}

/* The first of cellgate's own pod annotations and labels that this update sets, changes or
 * removes, or NULL. A user who could write drained or drain-requested could let a serving
 * pod be deleted; one who could move the cell label could skew the placement counts. */
static const char *managed_key_changed(const struct cg_object *old, const struct cg_object *obj)
{
    static const char *const annotations[] = {CG_ANN_DRAINED, CG_ANN_DRAINING,
                                              CG_ANN_DRAIN_REQUESTED, CG_ANN_POLICY};
    for (size_t i = 0; i < sizeof(annotations) / sizeof(annotations[0]); i++) {
        bool was, is;
        struct cg_str a = kvs_get(&old->annotations, annotations[i], &was);
        struct cg_str b = kvs_get(&obj->annotations, annotations[i], &is);
        if (was != is || !cg_str_eq(a, b))
            return annotations[i];
    }
    bool was, is;
    struct cg_str a = kvs_get(&old->labels, CG_LABEL_CELL, &was);
    struct cg_str b = kvs_get(&obj->labels, CG_LABEL_CELL, &is);
    if (was != is || !cg_str_eq(a, b))
        return CG_LABEL_CELL;
    return NULL;
}

static enum cg_status pod_update(const struct cg_policy_set *set,
                                 const struct cg_admission_request *req,
                                 const struct cg_cluster_view *view, struct cg_buf *text,
                                 struct cg_engine_result *out)
{
    const struct cg_object *old = &req->old_object, *obj = &req->object;
    if (!old->present || !obj->present)
        return CG_OK;
    const char *key = managed_key_changed(old, obj);
    if (key == NULL || trusted(req, view))
        return CG_OK;
    struct cg_str ns = req->namespace_.n ? req->namespace_ : old->namespace_;
    const struct cg_policy *other, *p = governing(set, ns, &old->labels, &out->n_policies, &other);
    if (p == NULL)
        return CG_OK; /* not a pod cellgate governs */
    out->policy = p->name;
    struct cg_str name = req->name.n ? req->name : old->name, user = req->username;
    size_t start = text->len;
    enum cg_status st;
    if (user_in(req, &p->emergency.break_glass_groups)) {
        st = cg_buf_appendf(text, "changed %s on pod %.*s", key, (int)name.n, name.p);
        if (st == CG_OK)
            audit_break_glass(req, text, start, out);
        return st;
    }
    st = cg_buf_appendf(text,
                        "user %.*s may not change %s on pod %.*s (policy %s): cellgate's "
                        "controller and webhook manage it; a member of a break-glass group "
                        "may, in an emergency",
                        (int)user.n, user.p, key, (int)name.n, name.p, p->name);
    if (st != CG_OK)
        return st;
    out->allowed = false;
    out->status_code = 403;
    out->message = (struct cg_str){text->data + start, text->len - start};
    out->decision = "denied";
    return CG_OK;
}

enum cg_status cg__engine_pod_eval(const struct cg_policy_set *set, enum cg_review_path path,
                                   int64_t now, const struct cg_admission_request *req,
                                   const struct cg_cluster_view *view, struct cg_patch *patch,
                                   struct cg_buf *text, struct cg_engine_result *out)
{
    if (req->operation == CG_OP_CREATE && !is_eviction(req))
        return path == CG_REVIEW_MUTATE ? pod_create(set, req, view, patch, text, out) : CG_OK;
    if (path != CG_REVIEW_VALIDATE)
        return CG_OK;
    if (is_eviction(req))
        return pod_evict(set, now, req, view, text, out);
    if (req->operation == CG_OP_UPDATE)
        return pod_update(set, req, view, text, out);
    return pod_delete(set, now, req, text, out);
}
