/* AdmissionReview (admission.k8s.io/v1) in and out.
 *
 * Decode reads the request body once, in a single pass, into a typed view of exactly what
 * the rules read (struct cg_admission_request). It does not build a DOM: strings in the view
 * point into the body when they need no unescaping, or into the caller's arena when they do.
 * So the body and the arena must outlive the view. The view owns nothing.
 *
 * Encode writes the AdmissionReview response for a struct cg_admission_response.
 *
 * Ownership rule for this module: every pointer in a view or a response is borrowed. */
#ifndef CG_ADMISSION_H
#define CG_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/kv.h"
#include "base/mem.h"
#include "base/status.h"
#include "base/str.h"

/* An IntOrString field (maxSurge, maxUnavailable). */
struct cg_intstr {
    bool present;
    bool is_string; /* "25%" */
    int64_t i;
    struct cg_str s;
};

struct cg_opt_int {
    bool present;
    int64_t v;
};

struct cg_gvk {
    struct cg_str group, version, kind;
};

struct cg_gvr {
    struct cg_str group, version, resource;
};

struct cg_container {
    struct cg_str name;
    bool has_readiness_probe;
};

struct cg_containers {
    const struct cg_container *items;
    size_t n;
};

struct cg_owner_ref {
    bool present; /* the controlling owner (controller: true), or else the first one */
    struct cg_str api_version, kind, name, uid;
    bool controller;
};

/* One requirement of a nodeSelectorTerm's matchExpressions. */
struct cg_node_requirement {
    struct cg_str key, operator_;
    struct cg_strs values;
};

/* A nodeSelectorTerm of spec.affinity.nodeAffinity.requiredDuring...: the pod may run on a node
 * that satisfies every requirement of at least one term. */
struct cg_node_term {
    const struct cg_node_requirement *match_expressions;
    size_t n_match_expressions;
    bool has_match_expressions; /* the key is there (an empty list counts) */
};

struct cg_node_terms {
    const struct cg_node_term *items;
    size_t n;
    bool present; /* nodeSelectorTerms is there */
};

/* One entry of a Pod's status.conditions. */
struct cg_condition {
    struct cg_str type, status;
};

struct cg_conditions {
    const struct cg_condition *items;
    size_t n;
};

/* The pod spec fields the rules read (of a Pod, or of a Deployment's spec.template.spec). */
struct cg_pod_spec {
    bool present;
    struct cg_containers containers;
    struct cg_containers init_containers;
    struct cg_strs readiness_gates; /* conditionType of each gate */
    bool has_affinity;              /* spec.affinity present */
    bool has_node_affinity;         /* spec.affinity.nodeAffinity present */
    bool has_required_node_affinity;
    struct cg_node_terms node_terms; /* of the required node affinity */
    struct cg_kvs node_selector;
    struct cg_str node_name;
};

/* What the rules read of `object` or `oldObject`. */
struct cg_object {
    bool present; /* false when absent or null (object on DELETE, oldObject on CREATE) */
    struct cg_str api_version, kind;
    /* metadata */
    struct cg_str name, generate_name, namespace_, uid;
    struct cg_kvs labels, annotations;
    struct cg_strs finalizers;
    bool deletion_timestamp_set;
    struct cg_owner_ref owner;
    bool has_metadata;
    /* Pod status (present only on Pods) */
    struct cg_str phase;
    struct cg_conditions conditions;
    /* Deployment spec (present only on Deployments) */
    bool has_spec;
    struct cg_opt_int replicas;
    struct cg_opt_int revision_history_limit;
    struct cg_opt_int progress_deadline_seconds;
    struct cg_opt_int min_ready_seconds;
    bool has_strategy;
    struct cg_str strategy_type;
    bool has_rolling_update;
    struct cg_intstr max_surge, max_unavailable;
    /* Deployment spec.template */
    bool has_template;
    uint64_t template_digest;    /* digest of spec.template's JSON tokens (whitespace ignored):
                                    a name for the revision, not a comparison */
    struct cg_str template_json; /* spec.template's text as sent, to compare revisions */
    bool template_compact;       /* no whitespace between its tokens */
    struct cg_kvs template_labels, template_annotations;
    /* Pod: spec; Deployment: spec.template.spec */
    struct cg_pod_spec pod;
};

enum cg_operation {
    CG_OP_UNKNOWN = 0,
    CG_OP_CREATE,
    CG_OP_UPDATE,
    CG_OP_DELETE,
    CG_OP_CONNECT,
};

/* The typed view of one AdmissionReview request. */
struct cg_admission_request {
    struct cg_str api_version; /* of the review: "admission.k8s.io/v1" */
    struct cg_str uid;
    struct cg_gvk kind;
    struct cg_gvr resource;
    struct cg_str sub_resource;
    struct cg_gvk request_kind;
    struct cg_str name, namespace_;
    enum cg_operation operation;
    struct cg_str operation_raw;
    struct cg_str username, user_uid;
    struct cg_strs groups;
    bool dry_run;
    struct cg_object object, old_object;
};

/* Limits the decoder enforces so that no input can make it use unbounded stack or time. */
#define CG_ADMISSION_MAX_DEPTH 128

/* Decodes body[0..len) (need not be NUL-terminated). On success fills *out. On failure
 * returns CG_EPARSE (not JSON, or duplicate keys) or CG_EINVAL (JSON, but not an
 * AdmissionReview v1 with a request.uid) with a message in err that says what is wrong
 * and where (byte offset). Arena memory is used for unescaped strings and arrays.
 *
 * The whole body is validated (RFC 8259, UTF-8 inside strings, at most
 * CG_ADMISSION_MAX_DEPTH nested containers, no duplicate key in any object, nothing but
 * whitespace after the value); a syntax error anywhere wins over a wrong type. Typing rules
 * of the view: null is the zero value of every field (empty string, false, absent integer,
 * empty list) except `request` (must be an object) and `request.uid` (a non-empty string);
 * any other type than the field's is CG_EINVAL ("request.uid: expected a string, got a
 * number (at byte 78)"); unknown fields are ignored. present flags of lists and maps mean
 * "the key was there", even with null. For a Pod, `pod` is its spec and the Deployment
 * fields (has_spec ... template_*) stay zero; for any other kind `pod` is
 * spec.template.spec and phase and conditions (a Pod's status) stay zero. The kind is the object's
 * own, or request.kind.kind when it has none. On failure *out holds nothing useful. err may be
 * NULL. */
enum cg_status cg_admission_decode(const char *body, size_t len, struct cg_arena *arena,
                                   struct cg_admission_request *out, struct cg_err *err);

/* The response half of the review. */
#define CG_ADMISSION_MAX_WARNINGS 8
#define CG_ADMISSION_MAX_AUDIT 8

struct cg_admission_response {
    struct cg_str api_version; /* echoed from the request; "admission.k8s.io/v1" if empty */
    struct cg_str uid;
    bool allowed;
    int status_code; /* on denial (e.g. 403, 429); 0 = omit status */
    struct cg_str status_message;
    struct cg_str status_reason; /* optional metav1.StatusReason */
    struct cg_str warnings[CG_ADMISSION_MAX_WARNINGS];
    size_t n_warnings;
    struct cg_kv audit[CG_ADMISSION_MAX_AUDIT];
    size_t n_audit;
    struct cg_str patch; /* JSONPatch document text ("[...]"); empty: no patch */
};

/* Appends the AdmissionReview JSON for resp to out. The patch is base64-encoded and sent
 * with patchType JSONPatch only when patch is non-empty (callers send patches only from
 * /mutate). status is written only when status_code != 0 (with reason only when set),
 * warnings and auditAnnotations only when there are some. Returns CG_ETOOBIG when out's
 * cap is reached, and then leaves out as it was. */
enum cg_status cg_admission_encode(const struct cg_admission_response *resp, struct cg_buf *out);

/* Do the pod templates of a and b hold the same JSON tokens (whitespace outside strings
 * ignored)? Compares the texts themselves, so no crafted input can make two templates look
 * the same. Objects without a template compare equal to each other only. */
bool cg_admission_same_template(const struct cg_object *a, const struct cg_object *b);

/* Digest helper shared with tests: the digest the decoder computes for a JSON value's text
 * (whitespace outside strings ignored). */
uint64_t cg_admission_digest_json(const char *json, size_t len);

#endif
