#include "review/review.h"

#include <string.h>

#include "review/engine.h"

#define REVIEW_ARENA_BLOCK (64 * 1024)
#define REVIEW_PATCH_MAX (1024 * 1024)
#define REVIEW_TEXT_MAX (256 * 1024)

void cg_review_scratch_init(struct cg_review_scratch *s)
{
    cg_arena_init(&s->arena, REVIEW_ARENA_BLOCK);
    cg_patch_init(&s->patch, REVIEW_PATCH_MAX);
    cg_buf_init(&s->text, REVIEW_TEXT_MAX);
}

void cg_review_scratch_dispose(struct cg_review_scratch *s)
{
    cg_arena_dispose(&s->arena);
    cg_patch_dispose(&s->patch);
    cg_buf_dispose(&s->text);
}

static const char *operation_str(enum cg_operation op)
{
    switch (op) {
    case CG_OP_CREATE:
        return "CREATE";
    case CG_OP_UPDATE:
        return "UPDATE";
    case CG_OP_DELETE:
        return "DELETE";
    case CG_OP_CONNECT:
        return "CONNECT";
    default:
        return "UNKNOWN";
    }
}

enum cg_status cg_review_run(const struct cg_policy_set *set, enum cg_review_path path, int64_t now,
                             const char *body, size_t len, struct cg_review_scratch *scratch,
                             const struct cg_cluster_source *cluster, struct cg_buf *out,
                             struct cg_review_outcome *outcome)
{
    memset(outcome, 0, sizeof(*outcome));
    cg_arena_reset(&scratch->arena);
    cg_patch_reset(&scratch->patch);
    cg_buf_reset(&scratch->text);

    struct cg_admission_request req;
    struct cg_err err;
    cg_err_clear(&err);
    enum cg_status st = cg_admission_decode(body, len, &scratch->arena, &req, &err);
    if (st != CG_OK) {
        outcome->http_status = 400;
        outcome->decision = "error";
        outcome->error = st == CG_EPARSE ? "malformed_json" : "invalid_review";
        return cg_buf_append_str(out, err.msg[0] ? err.msg : cg_status_str(st));
    }
    outcome->uid = req.uid;
    outcome->kind = req.kind.kind;
    outcome->namespace_ = req.namespace_;
    outcome->name = req.name;
    outcome->operation = cg_str_from(operation_str(req.operation));
    outcome->user = req.username;
    outcome->dry_run = req.dry_run;

    struct cg_cluster_view view;
    memset(&view, 0, sizeof(view));
    if (cluster != NULL && cluster->lookup != NULL)
        cluster->lookup(cluster->ud, &req, &scratch->arena, &view);
    struct cg_engine_result res;
    st = cg_engine_eval(set, path, now, &req, &view, &scratch->patch, &scratch->text, &res);
    if (cluster != NULL && cluster->commit != NULL)
        cluster->commit(cluster->ud, &req, &res);
    if (st != CG_OK)
        outcome->error = "engine_limits"; /* res is a 500 denial saying so */

    struct cg_admission_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.api_version = req.api_version;
    resp.uid = req.uid;
    resp.allowed = res.allowed;
    resp.status_code = res.status_code;
    resp.status_message = res.message;
    if (res.status_code == 403)
        resp.status_reason = CG_STR_LIT("Forbidden");
    else if (res.status_code == 429)
        resp.status_reason = CG_STR_LIT("TooManyRequests");
    for (size_t i = 0; i < res.n_warnings; i++)
        resp.warnings[i] = res.warnings[i];
    resp.n_warnings = res.n_warnings;
    for (size_t i = 0; i < res.n_audit; i++)
        resp.audit[i] = res.audit[i];
    resp.n_audit = res.n_audit;
    /* Patches only ever leave through /mutate. */
    if (path == CG_REVIEW_MUTATE)
        resp.patch = res.patch;
    outcome->http_status = 200;
    outcome->decision = res.decision;
    outcome->policy = res.policy;
    return cg_admission_encode(&resp, out);
}
