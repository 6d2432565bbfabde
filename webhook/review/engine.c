#include "review/engine.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/names.h"
#include "placement/plan.h"
#include "review/engine_pod.h"

#define ANN_APPROVE CG_ANN_APPROVE
#define ANN_APPROVED_BY CG_ANN_APPROVED_BY
#define ANN_EMERGENCY "cellgate.io/emergency"
#define ANN_RELEASE "cellgate.io/release"
#define ANN_BREAK_GLASS_DEFAULT "cellgate.io/break-glass"

/* Every rule with its auditAnnotation key (no '/': the apiserver adds "<webhook>/"). */
#define CG__RULES(X)                                                                               \
    X(GRAY_STRATEGY, "gray.strategy")                                                              \
    X(GRAY_REPLICAS, "gray.replicas")                                                              \
    X(GRAY_PLAN, "gray.plan")                                                                      \
    X(MON_PROBE, "monitor.readinessProbe")                                                         \
    X(MON_LABELS, "monitor.labels")                                                                \
    X(MON_HISTORY, "monitor.revisionHistoryLimit")                                                 \
    X(MON_DEADLINE, "monitor.progressDeadline")                                                    \
    X(MON_MIN_READY, "monitor.minReadySeconds")                                                    \
    X(EM_FREEZE, "emergency.freeze")                                                               \
    X(EM_APPROVE, "emergency.approve")                                                             \
    X(EM_ACTION, "emergency.action")                                                               \
    X(EM_VALUE, "emergency.value")                                                                 \
    X(RELEASE_RECORD, "release.record")                                                            \
    X(RELEASE_ESCAPE, "release.escape")

enum rule {
#define CG__RULE_ENUM(name, id) RULE_##name,
    CG__RULES(CG__RULE_ENUM)
#undef CG__RULE_ENUM
};

static const char *const rule_id[] = {
#define CG__RULE_ID(name, id) id,
    CG__RULES(CG__RULE_ID)
#undef CG__RULE_ID
};

static const char *const rule_audit_key[] = {
#define CG__RULE_KEY(name, id) "audit-" id,
    CG__RULES(CG__RULE_KEY)
#undef CG__RULE_KEY
};

/* Text lives in a growable buffer, so it is referred to by offset until the end. */
struct span {
    size_t off, len;
};

struct violation {
    const struct cg_policy *policy;
    enum rule rule;
    struct span msg;
    struct span warning; /* warn mode: what was found only, in CG_ENGINE_WARNING_MAX */
};

struct audit_note {
    const char *key;
    struct span value;
};

struct ctx {
    const struct cg_admission_request *req;
    const struct cg_cluster_view *view; /* may be NULL */
    const struct cg_object *obj, *old;  /* old is NULL unless an UPDATE carries it */
    struct cg_buf *text;
    struct cg_patch *patch;
    enum cg_status st; /* first buffer failure; later appends are skipped */
    bool release;
    struct violation v[CG_ENGINE_MAX_VIOLATIONS];
    size_t n_v, n_dropped;
    /* Past the table, violations are counted by enforcement: a dropped enforcing one still
     * denies (its policy named), so warn/audit findings can never turn a denial into an
     * allow. */
    size_t n_dropped_deny;
    const struct cg_policy *dropped_denier;
    struct audit_note notes[CG_ADMISSION_MAX_AUDIT];
    size_t n_notes;
    struct span plan_note; /* the mutation's plan dropped groups: a warning says which */
};

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

static bool user_in(const struct cg_admission_request *req, const struct cg_strv *groups)
{
    for (size_t i = 0; i < req->groups.n; i++)
        for (size_t j = 0; j < groups->n; j++)
            if (cg_str_eq_c(req->groups.items[i], groups->items[j]))
                return true;
    return false;
}

static struct cg_str trim(struct cg_str s)
{
    while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t' || s.p[0] == '\n' || s.p[0] == '\r')) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t' || s.p[s.n - 1] == '\n' ||
                       s.p[s.n - 1] == '\r'))
        s.n--;
    return s;
}

/* Cuts a formatted line to max bytes on a UTF-8 boundary, ending in "...", and turns line
 * breaks (from user-supplied values) into spaces: one line each. */
static size_t fit_line(char *line, int n, size_t max)
{
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > max) {
        len = max - 3;
        while (len > 0 && ((unsigned char)line[len] & 0xC0) == 0x80)
            len--;
        memcpy(line + len, "...", 3);
        len += 3;
    }
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    return len;
}

static struct span text_vappend(struct ctx *c, size_t max, const char *fmt, va_list ap)
{
    char line[CG_ENGINE_MESSAGE_MAX * 4];
    struct span s = {c->text->len, 0};
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    if (n >= (int)sizeof(line))
        n = (int)sizeof(line) - 1;
    size_t len = fit_line(line, n, max);
    if (c->st != CG_OK)
        return s;
    enum cg_status st = cg_buf_append(c->text, line, len);
    if (st != CG_OK) {
        c->st = st;
        return s;
    }
    s.len = len;
    return s;
}

static struct span text_appendf_max(struct ctx *c, size_t max, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct span text_appendf_max(struct ctx *c, size_t max, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct span s = text_vappend(c, max, fmt, ap);
    va_end(ap);
    return s;
}

static struct span text_appendf(struct ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static struct span text_appendf(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct span s = text_vappend(c, CG_ENGINE_MESSAGE_MAX, fmt, ap);
    va_end(ap);
    return s;
}

static struct cg_str span_str(const struct ctx *c, struct span s)
{
    if (s.len == 0 || c->text->data == NULL)
        return CG_STR_NULL;
    return (struct cg_str){c->text->data + s.off, s.len};
}

/* Records a violation: "policy P rule R: <what was found>; <how to comply>". */
static void violate(struct ctx *c, const struct cg_policy *p, enum rule r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void violate(struct ctx *c, const struct cg_policy *p, enum rule r, const char *fmt, ...)
{
    if (c->n_v == CG_ENGINE_MAX_VIOLATIONS) {
        c->n_dropped++;
        if (p->enforcement == CG_ENFORCE_ENFORCE) {
            if (c->n_dropped_deny++ == 0)
                c->dropped_denier = p;
        }
        return;
    }
    char found[CG_ENGINE_MESSAGE_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(found, sizeof(found), fmt, ap);
    va_end(ap);
    struct violation *v = &c->v[c->n_v++];
    v->policy = p;
    v->rule = r;
    v->msg = text_appendf(c, "policy %s rule %s: %s", p->name, rule_id[r], found);
    /* The apiserver may cut long warnings: a warning says what was found, not how to fix it
     * (every finding's text has the form "<what was found>; <how to comply>"). */
    if (p->enforcement == CG_ENFORCE_WARN) {
        const char *how = strstr(found, "; ");
        int n = how ? (int)(how - found) : (int)strlen(found);
        v->warning = text_appendf_max(c, CG_ENGINE_WARNING_MAX, "policy %s rule %s: %.*s", p->name,
                                      rule_id[r], n, found);
    }
}

static void note(struct ctx *c, const char *key, struct span value)
{
    for (size_t i = 0; i < c->n_notes; i++)
        if (strcmp(c->notes[i].key, key) == 0)
            return; /* the first policy's note stands */
    if (c->n_notes < CG_ADMISSION_MAX_AUDIT)
        c->notes[c->n_notes++] = (struct audit_note){key, value};
}

static int64_t replicas_of(const struct cg_object *o)
{
    return o->replicas.present ? o->replicas.v : 1; /* the API's default */
}

static size_t weighted_cells(const struct cg_policy *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->cells.n; i++)
        n += p->cells.items[i].weight > 0;
    return n;
}

/* --- shape rules (gray, monitor) ---------------------------------------------------------- */

static bool is_recreate(const struct cg_object *o)
{
    return cg_str_eq_c(o->strategy_type, "Recreate");
}

static bool too_few_replicas(const struct cg_policy *p, const struct cg_object *o)
{
    int64_t r = replicas_of(o);
    return r > 0 && (uint64_t)r < weighted_cells(p);
}

static bool plan_fails(const struct cg_policy *p, const struct cg_object *o, struct cg_err *err)
{
    int64_t r = replicas_of(o);
    if (r <= 0 || too_few_replicas(p, o))
        return false; /* nothing to plan, or reported as gray.replicas */
    struct cg_plan plan;
    return cg_plan_compute(&p->cells, &p->gray, r, &plan, err) != CG_OK;
}

static const struct cg_container *first_without_probe(const struct cg_object *o)
{
    for (size_t i = 0; i < o->pod.containers.n; i++)
        if (!o->pod.containers.items[i].has_readiness_probe)
            return &o->pod.containers.items[i];
    return NULL;
}

static size_t missing_labels(const struct cg_policy *p, const struct cg_object *o)
{
    size_t n = 0;
    for (size_t i = 0; i < p->monitor.required_labels.n; i++) {
        bool found;
        kvs_get(&o->template_labels, p->monitor.required_labels.items[i], &found);
        n += !found;
    }
    return n;
}

static bool history_too_short(const struct cg_object *o)
{
    return o->revision_history_limit.present && o->revision_history_limit.v < 1;
}

static bool no_deadline(const struct cg_policy *p, const struct cg_object *o)
{
    return p->monitor.require_progress_deadline &&
           (!o->progress_deadline_seconds.present || o->progress_deadline_seconds.v <= 0);
}

static int64_t min_ready_of(const struct cg_object *o)
{
    return o->min_ready_seconds.present ? o->min_ready_seconds.v : 0;
}

static bool min_ready_short(const struct cg_policy *p, const struct cg_object *o)
{
    return p->monitor.min_ready_seconds > 0 && min_ready_of(o) < p->monitor.min_ready_seconds;
}

/* A shape rule applies to a CREATE or a release always, to another UPDATE only when the
 * old object complied (the update brings the violation in). */
static bool shape_applies(const struct ctx *c, bool old_violates)
{
    return c->release || c->old == NULL || !old_violates;
}

static void check_gray(struct ctx *c, const struct cg_policy *p)
{
    const struct cg_object *o = c->obj, *old = c->old;
    if (is_recreate(o) && shape_applies(c, old && is_recreate(old)))
        violate(c, p, RULE_GRAY_STRATEGY,
                "strategy type is Recreate, which replaces every pod at once; set "
                "spec.strategy.type to RollingUpdate");
    if (too_few_replicas(p, o) && shape_applies(c, old && too_few_replicas(p, old))) {
        size_t n = weighted_cells(p);
        violate(c, p, RULE_GRAY_REPLICAS,
                "replicas %lld is fewer than the %zu cells, so a cell would run no pod; set "
                "spec.replicas to at least %zu",
                (long long)replicas_of(o), n, n);
    }
    struct cg_err err;
    cg_err_clear(&err);
    if (plan_fails(p, o, &err)) {
        struct cg_err old_err;
        if (shape_applies(c, old && plan_fails(p, old, &old_err)))
            violate(c, p, RULE_GRAY_PLAN, "no group plan for %lld replicas: %s",
                    (long long)replicas_of(o), err.msg);
    }
}

static void check_monitor(struct ctx *c, const struct cg_policy *p)
{
    const struct cg_object *o = c->obj, *old = c->old;
    const struct cg_container *k;
    if (p->monitor.require_readiness_probe && (k = first_without_probe(o)) != NULL &&
        shape_applies(c, old && first_without_probe(old) != NULL))
        violate(c, p, RULE_MON_PROBE,
                "container %.*s has no readinessProbe; add one so a group is checked before it "
                "gets traffic",
                (int)k->name.n, k->name.p);
    if (missing_labels(p, o) > 0 && shape_applies(c, old && missing_labels(p, old) > 0)) {
        char list[CG_ENGINE_MESSAGE_MAX];
        size_t len = 0;
        list[0] = '\0';
        for (size_t i = 0; i < p->monitor.required_labels.n; i++) {
            const char *key = p->monitor.required_labels.items[i];
            bool found;
            kvs_get(&o->template_labels, key, &found);
            if (!found && len < sizeof(list)) {
                int n = snprintf(list + len, sizeof(list) - len, "%s%s", len ? "," : "", key);
                len += n < 0 ? 0 : (size_t)n;
            }
        }
        violate(c, p, RULE_MON_LABELS,
                "pod template lacks label(s) %s; add them under spec.template.metadata.labels",
                list);
    }
    if (history_too_short(o) && shape_applies(c, old && history_too_short(old)))
        violate(c, p, RULE_MON_HISTORY,
                "revisionHistoryLimit is %lld, which leaves nothing to roll back to; set it to 1 "
                "or more",
                (long long)o->revision_history_limit.v);
    if (no_deadline(p, o) && shape_applies(c, old && no_deadline(p, old)))
        violate(c, p, RULE_MON_DEADLINE,
                "progressDeadlineSeconds is not set; set spec.progressDeadlineSeconds so a stuck "
                "release is reported");
    if (min_ready_short(p, o) && shape_applies(c, old && min_ready_short(p, old)))
        violate(c, p, RULE_MON_MIN_READY, "minReadySeconds is %lld; set it to at least %lld",
                (long long)min_ready_of(o), (long long)p->monitor.min_ready_seconds);
}

/* --- emergency rules ---------------------------------------------------------------------- */

/* "a,b,c" into out, or "a,b and 3 more" when the list does not fit: never cut silently. */
static void append_groups(char *out, size_t n, const struct cg_strv *groups)
{
    size_t len = 0;
    out[0] = '\0';
    if (groups->n == 0) {
        snprintf(out, n, "(none)");
        return;
    }
    for (size_t i = 0; i < groups->n; i++) {
        char more[32];
        int m = snprintf(more, sizeof(more), "%sand %zu more", i ? " " : "", groups->n - i);
        size_t need = (i ? 1 : 0) + strlen(groups->items[i]);
        size_t tail = i + 1 < groups->n ? sizeof(more) : 0; /* room to say what follows */
        if (len + need + tail >= n) {
            if (len + (size_t)m < n)
                memcpy(out + len, more, (size_t)m + 1);
            return;
        }
        int w = snprintf(out + len, n - len, "%s%s", i ? "," : "", groups->items[i]);
        len += w < 0 ? 0 : (size_t)w;
    }
}

static void check_freeze(struct ctx *c, const struct cg_policy *p, int64_t now)
{
    const struct cg_emergency *e = &p->emergency;
    if (!c->release || e->n_freezes == 0)
        return;
    const struct cg_freeze_window *w = NULL;
    for (size_t i = 0; i < e->n_freezes && w == NULL; i++)
        if (cg_freeze_window_contains(&e->freezes[i], now))
            w = &e->freezes[i];
    if (w == NULL)
        return;
    /* A rollback ordered through the emergency annotation is what a freeze protects. */
    if (cg_str_eq_c(kvs_get(&c->obj->annotations, ANN_EMERGENCY, NULL), "rollback"))
        return;
    const char *ann =
        e->break_glass_annotation ? e->break_glass_annotation : ANN_BREAK_GLASS_DEFAULT;
    struct cg_str reason = trim(kvs_get(&c->obj->annotations, ann, NULL));
    bool member = user_in(c->req, &e->break_glass_groups);
    char groups[160];
    append_groups(groups, sizeof(groups), &e->break_glass_groups);
    const struct cg_str user = c->req->username;
    if (reason.n > 0 && member) {
        note(c, "break-glass-user", text_appendf(c, "%.*s", (int)user.n, user.p));
        note(c, "break-glass-reason", text_appendf(c, "%.*s", (int)reason.n, reason.p));
        note(c, "break-glass-window", text_appendf(c, "%s/%s", p->name, w->name));
        return;
    }
    if (reason.n == 0)
        violate(c, p, RULE_EM_FREEZE,
                "release during freeze window %s; wait for it to end, or break glass: annotate "
                "%s=<reason> as a member of %s",
                w->name, ann, groups);
    else
        violate(c, p, RULE_EM_FREEZE,
                "release during freeze window %s; user %.*s is not in a break-glass group (%s)",
                w->name, (int)user.n, user.p, groups);
}

/* Set (absent before, or a different value) by this request? Removal does not count. */
static bool annotation_set(const struct ctx *c, const char *key, struct cg_str *value)
{
    bool now_found, was_found = false;
    *value = kvs_get(&c->obj->annotations, key, &now_found);
    if (!now_found)
        return false;
    struct cg_str before = CG_STR_NULL;
    if (c->old != NULL)
        before = kvs_get(&c->old->annotations, key, &was_found);
    return !was_found || !cg_str_eq(before, *value);
}

static void check_annotations(struct ctx *c, const struct cg_policy *p)
{
    const struct cg_emergency *e = &p->emergency;
    const struct cg_str user = c->req->username;
    char groups[160];
    struct cg_str v;
    if (annotation_set(c, ANN_APPROVE, &v) && !user_in(c->req, &e->approver_groups)) {
        append_groups(groups, sizeof(groups), &e->approver_groups);
        violate(c, p, RULE_EM_APPROVE,
                "user %.*s may not set %s; ask a member of %s to approve the group", (int)user.n,
                user.p, ANN_APPROVE, groups);
    }
    if (annotation_set(c, ANN_EMERGENCY, &v)) {
        if (!cg_str_eq_c(v, "pause") && !cg_str_eq_c(v, "resume") && !cg_str_eq_c(v, "rollback"))
            violate(c, p, RULE_EM_VALUE, "%s is \"%.*s\"; use pause, resume or rollback",
                    ANN_EMERGENCY, (int)(v.n > 40 ? 40 : v.n), v.p);
        if (!user_in(c->req, &e->emergency_groups)) {
            append_groups(groups, sizeof(groups), &e->emergency_groups);
            violate(c, p, RULE_EM_ACTION,
                    "user %.*s may not set %s; ask a member of %s to pause, resume or roll back",
                    (int)user.n, user.p, ANN_EMERGENCY, groups);
        }
    }
}

/* --- mutation ----------------------------------------------------------------------------- */

static bool intstr_is(const struct cg_intstr *v, int64_t want)
{
    return v->present && !v->is_string && v->i == want;
}

/* The plan of a release of o under p, when there is one to make (not Recreate, replicas > 0,
 * possible). A rollback (the previous template, ordered through the emergency annotation) is
 * a release too; the policy's fast style brings it back in one group. */
static bool release_plan(const struct ctx *c, const struct cg_policy *p, struct cg_plan *plan,
                         bool *rollback)
{
    const struct cg_object *o = c->obj;
    if (is_recreate(o))
        return false; /* rollingUpdate is invalid next to Recreate; validation denies it */
    if (replicas_of(o) <= 0 || cg_plan_compute(&p->cells, &p->gray, replicas_of(o), plan, NULL))
        return false; /* nothing to plan, or impossible: validation says why */
    *rollback = cg_str_eq_c(kvs_get(&o->annotations, ANN_EMERGENCY, NULL), "rollback");
    if (*rollback && p->emergency.rollback == CG_ROLLBACK_FAST) {
        plan->n_groups = 1;
        plan->group_total[0] = 0;
        for (size_t k = 0; k < plan->n_cells; k++) {
            plan->pods[0][k] = plan->cell_target[k];
            plan->group_total[0] += plan->cell_target[k];
        }
    }
    return true;
}

/* Appends the release record (revision, cells, pods per group and cell, where it stands) to
 * the text buffer; *record is it. */
static enum cg_status release_record(struct ctx *c, const struct cg_policy *p,
                                     const struct cg_plan *plan, bool rollback,
                                     struct cg_str *record)
{
    size_t start = c->text->len;
    enum cg_status st = cg_buf_appendf(c->text, "{\"revision\":\"%016" PRIx64 "\",\"cells\":[",
                                       c->obj->template_digest);
    for (size_t i = 0; st == CG_OK && i < p->cells.n; i++) {
        if (i)
            st = cg_buf_append_char(c->text, ',');
        if (st == CG_OK)
            st = cg_buf_append_json_string(c->text, p->cells.items[i].name,
                                           strlen(p->cells.items[i].name));
    }
    if (st == CG_OK)
        st = cg_buf_append_str(c->text, "],\"groups\":[");
    for (size_t g = 0; st == CG_OK && g < plan->n_groups; g++) {
        st = cg_buf_append_str(c->text, g ? ",[" : "[");
        for (size_t k = 0; st == CG_OK && k < plan->n_cells; k++) {
            if (k)
                st = cg_buf_append_char(c->text, ',');
            if (st == CG_OK)
                st = cg_buf_append_uint(c->text, plan->pods[g][k]);
        }
        if (st == CG_OK)
            st = cg_buf_append_char(c->text, ']');
    }
    if (st == CG_OK)
        st = cg_buf_append_char(c->text, ']');
    /* Groups a small Deployment has no pods for (the policy's last ones), by their index. */
    if (st == CG_OK && plan->n_dropped > 0) {
        st = cg_buf_append_str(c->text, ",\"dropped\":[");
        for (size_t i = 0; st == CG_OK && i < plan->n_dropped; i++) {
            if (i)
                st = cg_buf_append_char(c->text, ',');
            if (st == CG_OK)
                st = cg_buf_append_uint(c->text, plan->dropped[i]);
        }
        if (st == CG_OK)
            st = cg_buf_append_char(c->text, ']');
    }
    if (st == CG_OK)
        st = cg_buf_append_str(c->text, rollback ? ",\"group\":0,\"state\":\"rollback\"}"
                                                 : ",\"group\":0,\"state\":\"progressing\"}");
    if (st == CG_OK)
        *record = (struct cg_str){c->text->data + start, c->text->len - start};
    return st;
}

static bool trusted_user(const struct ctx *c);

/* Does a record's text name the release of template digest (its revision, which the encoder
 * writes first)? */
static bool record_for(struct cg_str record, uint64_t digest)
{
    char prefix[40];
    int n = snprintf(prefix, sizeof(prefix), "{\"revision\":\"%016" PRIx64 "\"", digest);
    return n > 0 && record.n >= (size_t)n && memcmp(record.p, prefix, (size_t)n) == 0;
}

static enum cg_status mutate(struct ctx *c, const struct cg_policy *p, bool *changed)
{
    const struct cg_object *o = c->obj;
    *changed = false;
    struct cg_plan plan;
    bool rollback = false;
    if (!release_plan(c, p, &plan, &rollback))
        return CG_OK;
    enum cg_status st = CG_OK;
    size_t before = c->patch->n_ops;

    static const struct cg_str ru[] = {CG_STR_LIT("spec"), CG_STR_LIT("strategy"),
                                       CG_STR_LIT("rollingUpdate"), CG_STR_LIT("maxUnavailable")};
    struct cg_str surge[4] = {ru[0], ru[1], ru[2], CG_STR_LIT("maxSurge")};
    size_t have = !o->has_spec ? 0 : !o->has_strategy ? 1 : !o->has_rolling_update ? 2 : 3;
    if (!intstr_is(&o->max_unavailable, 0)) {
        st = cg_patch_add(c->patch, ru, 4, have, CG_STR_LIT("0"));
        if (st)
            return st;
        have = 3;
    }
    if (!intstr_is(&o->max_surge, plan.group_total[0])) {
        char num[24];
        int n = snprintf(num, sizeof(num), "%" PRIu32, plan.group_total[0]);
        st = cg_patch_add(c->patch, surge, 4, have, (struct cg_str){num, (size_t)n});
        if (st)
            return st;
    }

    /* The drain window: the old ReplicaSet shrinks minReadySeconds after the new pods serve,
     * by when the controller has drained the pods it will delete, so the webhook need not hold
     * their deletes. Only raised, and only when a release starts (a value written in the
     * manifest at least this high changes nothing, so GitOps tools see no drift). */
    if (p->traffic.drain_window_seconds > 0 && min_ready_of(o) < p->traffic.drain_window_seconds) {
        static const struct cg_str mrs[] = {CG_STR_LIT("spec"), CG_STR_LIT("minReadySeconds")};
        char num[24];
        int n = snprintf(num, sizeof(num), "%" PRId64, p->traffic.drain_window_seconds);
        st = cg_patch_add(c->patch, mrs, 2, o->has_spec ? 1 : 0, (struct cg_str){num, (size_t)n});
        if (st)
            return st;
    }

    struct cg_str record;
    if ((st = release_record(c, p, &plan, rollback, &record)))
        return st;
    struct cg_str have_record = kvs_get(&o->annotations, ANN_RELEASE, NULL);
    /* The controller's own update that changes the template (a rollback) carries the record
     * it wrote for that template (rolledBackFrom, the failed check, the reason): keep it, or
     * the release would forget that its rollback began. */
    bool controllers = trusted_user(c) && record_for(have_record, o->template_digest);
    if (!controllers && !cg_str_eq(have_record, record)) {
        const struct cg_str segs[] = {CG_STR_LIT("metadata"), CG_STR_LIT("annotations"),
                                      CG_STR_LIT(ANN_RELEASE)};
        size_t have_meta = !o->has_metadata ? 0 : !o->annotations.present ? 1 : 2;
        st = cg_patch_add_string(c->patch, segs, 3, have_meta, record);
        if (st)
            return st;
    }
    /* A small Deployment gets fewer groups than the policy lists: say which went. (After the
     * record is in the patch: new text may move the buffer the record points into.) */
    char note[CG_ENGINE_WARNING_MAX + 1];
    if (cg_plan_dropped_note(&p->gray, &plan, note, sizeof(note))) {
        c->plan_note = text_appendf_max(c, CG_ENGINE_WARNING_MAX, "policy %s: %s", p->name, note);
        if (c->st != CG_OK)
            return c->st;
    }
    /* An approval belongs to one release: one left from an earlier release must not let this
     * one skip its group 0. */
    static const char *const stale[] = {ANN_APPROVE, ANN_APPROVED_BY};
    for (size_t i = 0; i < 2; i++) {
        bool found;
        kvs_get(&o->annotations, stale[i], &found);
        if (!found)
            continue;
        const struct cg_str segs[] = {CG_STR_LIT("metadata"), CG_STR_LIT("annotations"),
                                      cg_str_from(stale[i])};
        if ((st = cg_patch_remove(c->patch, segs, 3)))
            return st;
    }
    *changed = c->patch->n_ops > before;
    return CG_OK;
}

/* Who approved: only the webhook sees the user who sets cellgate.io/approve (the controller
 * sees the annotation, not its author), so its mutation of that request writes the name
 * beside it, for the release record's approvals. release.record keeps anyone else from
 * writing it. */
static enum cg_status mutate_approval(struct ctx *c)
{
    struct cg_str v;
    if (!annotation_set(c, ANN_APPROVE, &v))
        return CG_OK;
    bool found;
    struct cg_str by = kvs_get(&c->obj->annotations, ANN_APPROVED_BY, &found);
    if (found && cg_str_eq(by, c->req->username))
        return CG_OK; /* reinvoked, or the same approver again */
    const struct cg_str segs[] = {CG_STR_LIT("metadata"), CG_STR_LIT("annotations"),
                                  CG_STR_LIT(ANN_APPROVED_BY)};
    return cg_patch_add_string(c->patch, segs, 3, 2, c->req->username);
}

/* --- the release record is cellgate's -------------------------------------------------------- */

static bool trusted_user(const struct ctx *c)
{
    for (size_t i = 0; c->view != NULL && i < c->view->n_trusted_users; i++)
        if (cg_str_eq(c->req->username, c->view->trusted_users[i]))
            return true;
    return false;
}

/* [release.record] Only cellgate writes cellgate.io/release: its controller (a trusted user),
 * or this webhook's own mutation when a release starts (then the object carries exactly the
 * record the mutation computes). Anyone else who sets, changes or removes it could fake a
 * finished group. */
static void check_record(struct ctx *c, const struct cg_policy *p)
{
    bool was = false, is = false;
    struct cg_str now = kvs_get(&c->obj->annotations, ANN_RELEASE, &is), before = CG_STR_NULL;
    if (c->old != NULL)
        before = kvs_get(&c->old->annotations, ANN_RELEASE, &was);
    if ((was == is && cg_str_eq(before, now)) || trusted_user(c))
        return;
    if (is && c->release) {
        struct cg_plan plan;
        bool rollback = false;
        struct cg_str want;
        size_t mark = c->text->len;
        if (release_plan(c, p, &plan, &rollback)) {
            enum cg_status st = release_record(c, p, &plan, rollback, &want);
            if (st != CG_OK) {
                c->st = st;
                return;
            }
            bool ours = cg_str_eq(want, now);
            c->text->len = mark; /* only compared: nothing refers to it */
            if (ours)
                return;
        }
    }
    const struct cg_str user = c->req->username;
    violate(c, p, RULE_RELEASE_RECORD,
            "user %.*s may not %s %s; cellgate keeps the release record (its controller, and the "
            "webhook when a release starts): approve, pause or roll back with cellgate.io/approve "
            "or cellgate.io/emergency instead",
            (int)user.n, user.p,
            !is   ? "remove"
            : was ? "change"
                  : "set",
            ANN_RELEASE);
}

/* [release.record] cellgate.io/approved-by is the webhook's too: it may change only to the
 * name of the user who sets cellgate.io/approve in the same request (what the mutation
 * writes), or go with the approval when a release starts. A user who wrote it by hand could
 * put someone else's name on an approval. */
static void check_approved_by(struct ctx *c, const struct cg_policy *p)
{
    bool was = false, is = false, approve_now;
    struct cg_str now = kvs_get(&c->obj->annotations, ANN_APPROVED_BY, &is), before = CG_STR_NULL;
    if (c->old != NULL)
        before = kvs_get(&c->old->annotations, ANN_APPROVED_BY, &was);
    if ((was == is && cg_str_eq(before, now)) || trusted_user(c))
        return;
    struct cg_str v;
    if (is && annotation_set(c, ANN_APPROVE, &v) && cg_str_eq(now, c->req->username))
        return;
    kvs_get(&c->obj->annotations, ANN_APPROVE, &approve_now);
    if (!is && !approve_now)
        return; /* gone with its approval (the mutation that starts a release drops both) */
    const struct cg_str user = c->req->username;
    violate(c, p, RULE_RELEASE_RECORD,
            "user %.*s may not %s %s; the webhook writes it, with the name of whoever sets "
            "cellgate.io/approve",
            (int)user.n, user.p,
            !is   ? "remove"
            : was ? "change"
                  : "set",
            ANN_APPROVED_BY);
}

/* [release.escape] A policy covers a Deployment by its labels, so an update that changes them
 * could take a release out of its policy: mid-release (its groups, approvals and freezes would
 * stop applying) or in the very update that starts a release. Such an update is checked against
 * the policies the old object matched too, and refused; alone, once the release is complete,
 * a relabel is fine. The record is cellgate's own compact JSON (release.record), so its state
 * can be read from the text. Break-glass users may. */
static bool str_contains(struct cg_str s, struct cg_str part)
{
    for (size_t i = 0; part.n <= s.n && i <= s.n - part.n; i++)
        if (memcmp(s.p + i, part.p, part.n) == 0)
            return true;
    return false;
}

static void check_escape(struct ctx *c, const struct cg_policy *p)
{
    bool has = false;
    struct cg_str rec = kvs_get(&c->old->annotations, ANN_RELEASE, &has);
    bool in_progress = has && !str_contains(rec, CG_STR_LIT("\"state\":\"complete\""));
    if ((!in_progress && !c->release) || user_in(c->req, &p->emergency.break_glass_groups))
        return;
    violate(c, p, RULE_RELEASE_ESCAPE,
            "this update changes the Deployment's labels so that policy %s no longer covers it, "
            "%s; finish or roll back the release first, then change the labels in an update of "
            "their own",
            p->name,
            in_progress ? "while its release is in progress"
                        : "in the update that starts a release");
}

/* --- the decision ------------------------------------------------------------------------- */

static bool is_deployment(const struct cg_admission_request *req)
{
    return cg_str_eq_c(req->kind.kind, "Deployment") && cg_str_eq_c(req->kind.group, "apps");
}

static void finish(struct ctx *c, struct cg_engine_result *out, const struct cg_policy *mutator)
{
    size_t n_deny = 0, n_warn = 0, n_audit = 0;
    const struct cg_policy *denier = NULL, *warner = NULL, *auditor = NULL;
    struct span deny = {c->text->len, 0};
    for (size_t i = 0; i < c->n_v; i++) {
        const struct violation *v = &c->v[i];
        switch (v->policy->enforcement) {
        case CG_ENFORCE_ENFORCE:
            if (denier == NULL)
                denier = v->policy;
            n_deny++;
            break;
        case CG_ENFORCE_WARN:
            if (warner == NULL)
                warner = v->policy;
            n_warn++;
            break;
        default:
            if (auditor == NULL)
                auditor = v->policy;
            n_audit++;
            note(c, rule_audit_key[v->rule], v->msg);
            break;
        }
    }
    /* The denial message: the violations' lines joined, in the order found. Built after
     * all other text, so it is one contiguous span. */
    for (size_t i = 0; i < c->n_v && c->st == CG_OK; i++) {
        const struct violation *v = &c->v[i];
        if (v->policy->enforcement != CG_ENFORCE_ENFORCE)
            continue;
        /* Reserve first: the copy's source lives in the same buffer. */
        c->st = cg_buf_reserve(c->text, v->msg.len + 2);
        if (c->st != CG_OK)
            break;
        struct cg_str m = span_str(c, v->msg);
        if (deny.len > 0)
            c->st = cg_buf_append_str(c->text, "; ");
        if (c->st == CG_OK)
            c->st = cg_buf_append(c->text, m.p, m.n);
        deny.len = c->text->len - deny.off;
    }
    if (c->n_dropped_deny > 0) {
        n_deny += c->n_dropped_deny;
        if (denier == NULL)
            denier = c->dropped_denier;
    }
    if (n_deny > 0 && c->n_dropped > 0 && c->st == CG_OK) {
        if (deny.len > 0)
            c->st = cg_buf_appendf(c->text, " (and %zu more violations not shown)", c->n_dropped);
        else
            c->st = cg_buf_appendf(c->text,
                                   "policy %s denies this request (%zu violations not "
                                   "shown: more than %d were found)",
                                   denier->name, c->n_dropped, CG_ENGINE_MAX_VIOLATIONS);
        deny.len = c->text->len - deny.off;
    }
    if (c->st != CG_OK)
        return;

    for (size_t i = 0; i < c->n_v; i++)
        if (c->v[i].policy->enforcement == CG_ENFORCE_WARN &&
            out->n_warnings < CG_ADMISSION_MAX_WARNINGS)
            out->warnings[out->n_warnings++] = span_str(c, c->v[i].warning);
    if (c->plan_note.len > 0 && out->n_warnings < CG_ADMISSION_MAX_WARNINGS)
        out->warnings[out->n_warnings++] = span_str(c, c->plan_note);
    for (size_t i = 0; i < c->n_notes; i++)
        out->audit[out->n_audit++] =
            (struct cg_kv){cg_str_from(c->notes[i].key), span_str(c, c->notes[i].value)};

    if (n_deny > 0) {
        out->allowed = false;
        out->status_code = 403;
        out->message = span_str(c, deny);
        out->decision = "denied";
        out->policy = denier->name;
        return;
    }
    out->allowed = true;
    out->patch = cg_patch_text(c->patch);
    if (n_warn > 0) {
        out->decision = "warned";
        out->policy = warner->name;
    } else if (n_audit > 0) {
        out->decision = "audited";
        out->policy = auditor->name;
    } else if (out->patch.n > 0) {
        out->decision = "patched";
        out->policy = mutator->name;
    }
}

/* A review whose answer does not fit the buffers is refused whole (500): never half a patch. */
static void fail_limits(struct cg_engine_result *out, struct cg_patch *patch)
{
    memset(out, 0, sizeof(*out));
    out->allowed = false;
    out->status_code = 500;
    out->message = CG_STR_LIT("cellgate: the review does not fit the response limits");
    out->decision = "error";
    cg_patch_reset(patch);
}

enum cg_status cg_engine_eval(const struct cg_policy_set *set, enum cg_review_path path,
                              int64_t now, const struct cg_admission_request *req,
                              const struct cg_cluster_view *view, struct cg_patch *patch,
                              struct cg_buf *text, struct cg_engine_result *out)
{
    memset(out, 0, sizeof(*out));
    out->allowed = true;
    out->decision = "allowed";
    cg_patch_reset(patch);
    cg_buf_reset(text);

    if (set != NULL && cg__engine_pod_applies(req)) {
        enum cg_status st = cg__engine_pod_eval(set, path, now, req, view, patch, text, out);
        if (st != CG_OK)
            fail_limits(out, patch);
        return st;
    }
    if (set == NULL || !is_deployment(req) || req->sub_resource.n > 0 ||
        (req->operation != CG_OP_CREATE && req->operation != CG_OP_UPDATE) || !req->object.present)
        return CG_OK;

    const struct cg_policy *local[CG_ENGINE_MAX_POLICIES], **matched = NULL;
    size_t n = cg__engine_match(set, CG_KIND_DEPLOYMENT, req->namespace_, &req->object.labels,
                                local, &matched);
    /* The policies the old object matched as well (release.escape). */
    const struct cg_policy *old_local[CG_ENGINE_MAX_POLICIES], **old_matched = NULL;
    size_t n_old = 0;
    if (path == CG_REVIEW_VALIDATE && req->operation == CG_OP_UPDATE && req->old_object.present)
        n_old = cg__engine_match(set, CG_KIND_DEPLOYMENT, req->namespace_, &req->old_object.labels,
                                 old_local, &old_matched);
    out->n_policies = n;
    if (n == 0 && n_old == 0)
        return CG_OK;
    out->policy = n > 0 ? matched[0]->name : old_matched[0]->name;

    struct ctx c;
    memset(&c, 0, sizeof(c));
    c.req = req;
    c.view = view;
    c.obj = &req->object;
    c.old = req->operation == CG_OP_UPDATE && req->old_object.present ? &req->old_object : NULL;
    c.text = text;
    c.patch = patch;
    c.release = c.old == NULL || !cg_admission_same_template(c.old, c.obj);
    out->release = c.release;

    const struct cg_policy *mutator = NULL;
    bool record_checked = false;
    for (size_t i = 0; i < n && c.st == CG_OK; i++) {
        const struct cg_policy *p = matched[i];
        if (path == CG_REVIEW_VALIDATE) {
            check_gray(&c, p);
            check_monitor(&c, p);
            check_freeze(&c, p, now);
            check_annotations(&c, p);
            /* Once, by the policy whose plan the record holds (the first enforcing one). */
            if (!record_checked && p->enforcement == CG_ENFORCE_ENFORCE) {
                check_record(&c, p);
                check_approved_by(&c, p);
                record_checked = true;
            }
        } else if (mutator == NULL && c.release && p->enforcement == CG_ENFORCE_ENFORCE) {
            bool changed = false;
            c.st = mutate(&c, p, &changed);
            mutator = p; /* the first enforcing policy owns the plan, even when it is met */
        } else if (mutator == NULL && p->enforcement == CG_ENFORCE_ENFORCE) {
            c.st = mutate_approval(&c);
            mutator = p;
        }
    }
    for (size_t i = 0; i < n_old && c.st == CG_OK; i++) {
        bool still = false;
        for (size_t j = 0; j < n && !still; j++)
            still = matched[j] == old_matched[i];
        if (!still)
            check_escape(&c, old_matched[i]);
    }
    if (c.st == CG_OK)
        finish(&c, out, mutator);
    cg__engine_match_free(matched, local);
    if (old_matched != NULL)
        cg__engine_match_free(old_matched, old_local);
    if (c.st != CG_OK)
        fail_limits(out, patch);
    return c.st;
}
