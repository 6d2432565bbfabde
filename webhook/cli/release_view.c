/* What `cellgate status` shows of a covered Deployment: the release record decoded with the
 * project's codec (release/record.h), the operator's annotations, and the Deployment's own
 * counts; printed as a table, as a detailed view, or as JSON. Pure: a Deployment object in,
 * text out. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "base/names.h"
#include "cli/cli_internal.h"

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static long long count_at(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

enum cg_status cg__cli_release_view_decode(const json_t *deployment, struct cg__cli_release_view *v,
                                           struct cg_err *err)
{
    memset(v, 0, sizeof(*v));
    const json_t *meta = json_object_get(deployment, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    if (!json_is_object(deployment) || name == NULL)
        return cg_err_set(err, CG_EINVAL, "not a Kubernetes object with a name");
    copy_str(v->namespace_, sizeof(v->namespace_),
             json_string_value(json_object_get(meta, "namespace")));
    copy_str(v->name, sizeof(v->name), name);
    copy_str(v->resource_version, sizeof(v->resource_version),
             json_string_value(json_object_get(meta, "resourceVersion")));
    const json_t *ann = json_object_get(meta, "annotations");
    const char *s = json_string_value(json_object_get(ann, CG_ANN_APPROVE));
    v->has_approve = s != NULL;
    copy_str(v->approve, sizeof(v->approve), s);
    s = json_string_value(json_object_get(ann, CG_ANN_EMERGENCY));
    v->has_emergency = s != NULL;
    copy_str(v->emergency, sizeof(v->emergency), s);
    const json_t *spec = json_object_get(deployment, "spec");
    const json_t *status = json_object_get(deployment, "status");
    v->paused = json_is_true(json_object_get(spec, "paused"));
    const json_t *replicas = json_object_get(spec, "replicas");
    v->replicas = json_is_integer(replicas) ? (long long)json_integer_value(replicas) : 1;
    v->updated = count_at(status, "updatedReplicas");
    v->ready = count_at(status, "readyReplicas");
    v->available = count_at(status, "availableReplicas");
    const json_t *record = json_object_get(ann, CG_ANN_RELEASE);
    v->has_record = record != NULL;
    if (!v->has_record)
        return CG_OK;
    struct cg_err rerr;
    cg_err_clear(&rerr);
    const char *text = json_string_value(record);
    if (text == NULL)
        cg_err_set(&rerr, CG_EINVAL, "the annotation is not a string");
    else if (cg_release_record_decode(text, json_string_length(record), &v->rec, &rerr) == CG_OK)
        v->record_ok = true;
    if (!v->record_ok)
        copy_str(v->record_err, sizeof(v->record_err), rerr.msg);
    return CG_OK;
}

/* "2026-12-05T14:16:53Z", or "-" for 0. */
static const char *time_str(int64_t t, char *buf, size_t cap)
{
    if (t == 0)
        return "-";
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static bool approved_current(const struct cg__cli_release_view *v)
{
    char want[16];
    snprintf(want, sizeof(want), "%" PRIu32, v->rec.group);
    return v->has_approve && strcmp(v->approve, want) == 0;
}

void cg__cli_release_waits(const struct cg__cli_release_view *v, const char *prog, char *out,
                           size_t cap)
{
    const struct cg_release_record *r = &v->rec;
    const char *ns = v->namespace_;
    if (!v->has_record) {
        snprintf(out, cap, "nothing: no release recorded (not covered, or never released)");
        return;
    }
    if (!v->record_ok) {
        snprintf(out, cap, "nothing: the release record does not decode (%s)", v->record_err);
        return;
    }
    if (v->has_emergency && strcmp(v->emergency, "pause") == 0 && r->state != CG_RELEASE_PAUSED) {
        snprintf(out, cap, "the controller to carry out the emergency pause");
        return;
    }
    if (v->has_emergency && strcmp(v->emergency, "rollback") == 0 &&
        r->state != CG_RELEASE_ROLLBACK) {
        snprintf(out, cap, "the controller to begin the rollback");
        return;
    }
    if (v->has_emergency && strcmp(v->emergency, "resume") == 0 && r->state == CG_RELEASE_PAUSED) {
        snprintf(out, cap, "the controller to resume the release");
        return;
    }
    switch (r->state) {
    case CG_RELEASE_PROGRESSING:
    case CG_RELEASE_ROLLBACK:
        if (r->reason[0])
            snprintf(out, cap, "group %" PRIu32 ": %s", r->group, r->reason);
        else
            snprintf(out, cap, "group %" PRIu32 "'s new pods: ready and checks passing", r->group);
        break;
    case CG_RELEASE_WAITING_APPROVAL:
        if (approved_current(v))
            snprintf(out, cap, "the controller to act on the approval of group %" PRIu32, r->group);
        else
            snprintf(out, cap, "approval of group %" PRIu32 ": %s approve -n %s %s", r->group, prog,
                     ns, v->name);
        break;
    case CG_RELEASE_SOAKING:
        snprintf(out, cap, "group %" PRIu32 " to soak with checks passing%s%s", r->group,
                 r->reason[0] ? ": " : "", r->reason);
        break;
    case CG_RELEASE_PAUSED:
        switch (r->pause_cause) {
        case CG_PAUSE_CAUSE_CHECK:
            snprintf(out, cap, "an operator: check %s failed; %s resume -n %s %s (or rollback)",
                     r->failed_check[0] ? r->failed_check : "(unnamed)", prog, ns, v->name);
            break;
        case CG_PAUSE_CAUSE_FREEZE:
            snprintf(out, cap, "the freeze window to end, or break-glass%s%s",
                     r->reason[0] ? ": " : "", r->reason);
            break;
        case CG_PAUSE_CAUSE_USER:
            snprintf(out, cap, "kubectl rollout resume -n %s deployment/%s (a user paused it)", ns,
                     v->name);
            break;
        default:
            snprintf(out, cap, "an operator: %s resume -n %s %s (or rollback)", prog, ns, v->name);
            break;
        }
        break;
    case CG_RELEASE_COMPLETE:
        snprintf(out, cap, "nothing: the release is complete");
        break;
    case CG_RELEASE_FAILED:
        snprintf(out, cap, "an operator: the release failed%s%s", r->reason[0] ? ": " : "",
                 r->reason);
        break;
    }
}

/* "zone-a 1/1, zone-b 0/1": new pods serving over the plan so far, per cell. */
static void cells_str(const struct cg__cli_release_view *v, char *out, size_t cap)
{
    const struct cg_release_record *r = &v->rec;
    size_t len = 0;
    out[0] = '\0';
    for (size_t c = 0; c < r->n_cells && len < cap; c++) {
        char serving[16] = "-";
        if (r->has_counts)
            snprintf(serving, sizeof(serving), "%" PRIu32, r->new_serving[c]);
        int n = snprintf(out + len, cap - len, "%s%s %s/%" PRIu32, c ? ", " : "", r->cells[c],
                         serving, cg_release_record_cum(r, r->group, c));
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

static void group_str(const struct cg__cli_release_view *v, char *out, size_t cap)
{
    if (v->record_ok)
        snprintf(out, cap, "%" PRIu32 " of %zu", v->rec.group, v->rec.n_groups);
    else
        snprintf(out, cap, "-");
}

static const char *state_str(const struct cg__cli_release_view *v)
{
    if (!v->has_record)
        return "-";
    return v->record_ok ? cg_release_state_str(v->rec.state) : "invalid-record";
}

#define ROW_CELLS 256
#define ROW_WAITS 512

void cg__cli_release_print_list(const struct cg__cli_release_view *v, size_t n, const char *prog,
                                bool namespaces, FILE *out)
{
    /* Columns as wide as their widest entry. */
    int wns = 9, wname = 4, wgroup = 5, wstate = 5, wcells = 17;
    char buf[ROW_WAITS];
    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen(v[i].namespace_);
        wns = l > wns ? l : wns;
        l = (int)strlen(v[i].name);
        wname = l > wname ? l : wname;
        group_str(&v[i], buf, sizeof(buf));
        l = (int)strlen(buf);
        wgroup = l > wgroup ? l : wgroup;
        l = (int)strlen(state_str(&v[i]));
        wstate = l > wstate ? l : wstate;
        cells_str(&v[i], buf, ROW_CELLS);
        l = (int)strlen(buf);
        wcells = l > wcells ? l : wcells;
    }
    if (namespaces)
        fprintf(out, "%-*s  ", wns, "NAMESPACE");
    fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", wname, "NAME", wgroup, "GROUP", wstate, "STATE",
            wcells, "SERVING (NEW/PLAN)", "WAITS FOR");
    for (size_t i = 0; i < n; i++) {
        char group[32], cells[ROW_CELLS], waits[ROW_WAITS];
        group_str(&v[i], group, sizeof(group));
        cells_str(&v[i], cells, sizeof(cells));
        cg__cli_release_waits(&v[i], prog, waits, sizeof(waits));
        if (namespaces)
            fprintf(out, "%-*s  ", wns, v[i].namespace_);
        fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", wname, v[i].name, wgroup, group, wstate,
                state_str(&v[i]), wcells, cells, waits);
    }
}

static const char *paused_str(const struct cg__cli_release_view *v)
{
    if (!v->paused)
        return "no";
    if (v->record_ok && v->rec.cellgate_paused)
        return "yes, by cellgate while the group waits (spec.paused)";
    return "yes, by a user (kubectl rollout pause): cellgate never clears it";
}

static void print_plan(const struct cg__cli_release_view *v, FILE *out)
{
    const struct cg_release_record *r = &v->rec;
    int w = 5;
    for (size_t c = 0; c < r->n_cells; c++) {
        int l = (int)strlen(r->cells[c]);
        w = l > w ? l : w;
    }
    fprintf(out, "Plan (new pods per group and cell):\n  %-5s", "GROUP");
    for (size_t c = 0; c < r->n_cells; c++)
        fprintf(out, "  %*s", w, r->cells[c]);
    fprintf(out, "  %5s\n", "TOTAL");
    for (uint32_t g = 0; g < r->n_groups; g++) {
        fprintf(out, "  %-5" PRIu32, g);
        for (size_t c = 0; c < r->n_cells; c++)
            fprintf(out, "  %*" PRIu32, w, r->pods[g][c]);
        fprintf(out, "  %5" PRIu32, cg_release_record_group_total(r, g));
        if (g < r->group || r->state == CG_RELEASE_COMPLETE)
            fprintf(out, "  done");
        else if (g == r->group)
            fprintf(out, "  <- %s", cg_release_state_str(r->state));
        fputc('\n', out);
    }
    if (!r->has_counts)
        return;
    fprintf(out, "Pods per cell (the controller's last count):\n");
    for (size_t c = 0; c < r->n_cells; c++)
        fprintf(out, "  %-*s  %" PRIu32 " new serving, %" PRIu32 " old running\n", w, r->cells[c],
                r->new_serving[c], r->old_live[c]);
}

void cg__cli_release_print_one(const struct cg__cli_release_view *v, const char *prog, FILE *out)
{
    const struct cg_release_record *r = &v->rec;
    char waits[ROW_WAITS], t1[32], t2[32], t3[32];
    cg__cli_release_waits(v, prog, waits, sizeof(waits));
    fprintf(out, "Deployment %s/%s\n", v->namespace_, v->name);
    fprintf(out, "  Replicas:   %lld wanted, %lld updated, %lld ready, %lld available\n",
            v->replicas, v->updated, v->ready, v->available);
    fprintf(out, "  Paused:     %s\n", paused_str(v));
    fprintf(out, "  Approve:    %s%s%s\n", v->has_approve ? "\"" : "none",
            v->has_approve ? v->approve : "", v->has_approve ? "\" (" CG_ANN_APPROVE ")" : "");
    fprintf(out, "  Emergency:  %s%s\n", v->has_emergency ? v->emergency : "none",
            v->has_emergency ? " (" CG_ANN_EMERGENCY ")" : "");
    if (!v->has_record || !v->record_ok) {
        fprintf(out, "  Waits for:  %s\n", waits);
        return;
    }
    fprintf(out, "  Revision:   %016" PRIx64, r->revision);
    if (r->rolled_back_from)
        fprintf(out, " (a rollback of %016" PRIx64 ")", r->rolled_back_from);
    fprintf(out, "\n  State:      %s, group %" PRIu32 " of %zu%s%s\n",
            cg_release_state_str(r->state), r->group, r->n_groups,
            r->pause_cause ? ", held by " : "", cg_pause_cause_str(r->pause_cause));
    fprintf(out, "  Waits for:  %s\n", waits);
    if (r->reason[0])
        fprintf(out, "  Reason:     %s\n", r->reason);
    if (r->failed_check[0])
        fprintf(out, "  Checks:     %s failed\n", r->failed_check);
    else
        fprintf(out, "  Checks:     no failure recorded\n");
    if (r->n_approvals == 0)
        fprintf(out, "  Approvals:  none yet\n");
    for (size_t i = 0; i < r->n_approvals; i++)
        fprintf(out, "  %s group %" PRIu32 " by %s at %s\n",
                i ? "           " : "Approvals: ", r->approvals[i].group,
                r->approvals[i].by[0] ? r->approvals[i].by : "(unknown)",
                time_str(r->approvals[i].at, t1, sizeof(t1)));
    if (r->since || r->group_since || r->updated)
        fprintf(out, "  Times:      release seen %s, group started %s, last change %s\n",
                time_str(r->since, t1, sizeof(t1)), time_str(r->group_since, t2, sizeof(t2)),
                time_str(r->updated, t3, sizeof(t3)));
    print_plan(v, out);
}

static json_t *counts_json(const uint32_t *counts, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(counts[i]));
    return a;
}

json_t *cg__cli_release_view_json(const struct cg__cli_release_view *v, const char *prog)
{
    char waits[ROW_WAITS];
    cg__cli_release_waits(v, prog, waits, sizeof(waits));
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:s?, s:s?, s:s}", "namespace",
                          v->namespace_, "name", v->name, "replicas", (json_int_t)v->replicas,
                          "updatedReplicas", (json_int_t)v->updated, "readyReplicas",
                          (json_int_t)v->ready, "availableReplicas", (json_int_t)v->available,
                          "paused", v->paused, "approve", v->has_approve ? v->approve : NULL,
                          "emergency", v->has_emergency ? v->emergency : NULL, "waitingFor", waits);
    if (!v->has_record || !v->record_ok) {
        json_object_set_new(o, "release", json_null());
        if (v->has_record)
            json_object_set_new(o, "recordError", json_string(v->record_err));
        return o;
    }
    const struct cg_release_record *r = &v->rec;
    char rev[17];
    snprintf(rev, sizeof(rev), "%016" PRIx64, r->revision);
    json_t *cells = json_array(), *plan = json_array(), *approvals = json_array();
    for (size_t c = 0; c < r->n_cells; c++)
        json_array_append_new(cells, json_string(r->cells[c]));
    for (uint32_t g = 0; g < r->n_groups; g++)
        json_array_append_new(plan, counts_json(r->pods[g], r->n_cells));
    char t[32];
    for (size_t i = 0; i < r->n_approvals; i++)
        json_array_append_new(
            approvals,
            json_pack("{s:I, s:s?, s:s?}", "group", (json_int_t)r->approvals[i].group, "by",
                      r->approvals[i].by[0] ? r->approvals[i].by : NULL, "at",
                      r->approvals[i].at ? time_str(r->approvals[i].at, t, sizeof(t)) : NULL));
    json_t *rel = json_pack("{s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:b}", "revision", rev, "group",
                            (json_int_t)r->group, "groups", (json_int_t)r->n_groups, "state",
                            cg_release_state_str(r->state), "cells", cells, "plan", plan,
                            "approvals", approvals, "cellgatePaused", r->cellgate_paused);
    if (r->pause_cause)
        json_object_set_new(rel, "pauseCause", json_string(cg_pause_cause_str(r->pause_cause)));
    if (r->reason[0])
        json_object_set_new(rel, "reason", json_string(r->reason));
    if (r->failed_check[0])
        json_object_set_new(rel, "failedCheck", json_string(r->failed_check));
    if (r->rolled_back_from) {
        snprintf(rev, sizeof(rev), "%016" PRIx64, r->rolled_back_from);
        json_object_set_new(rel, "rolledBackFrom", json_string(rev));
    }
    if (r->has_counts)
        json_object_set_new(rel, "counts",
                            json_pack("{s:o, s:o}", "newServing",
                                      counts_json(r->new_serving, r->n_cells), "oldLive",
                                      counts_json(r->old_live, r->n_cells)));
    json_object_set_new(o, "release", rel);
    return o;
}
