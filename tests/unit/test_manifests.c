/* Invariants of the Kubernetes manifests in manifests/ (kustomize), checked on the real files.
 *
 * Every YAML document under manifests/ is parsed with libyaml; each check_* function walks the
 * parsed set and records every broken invariant in a report instead of stopping at the first.
 * The tests assert that the shipped tree has an empty report, and, for each invariant, that a
 * copy of the tree with one edit that breaks it (made in memory, the files are not touched)
 * gets a report naming it: so no check can pass silently. */
#include <ctype.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <yaml.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/status.h"
#include "policy/policy.h"
#include "server/config.h"
#include "test_support.h"

#define CG_MANIFESTS_DIR CG_SOURCE_DIR "/manifests"
#define CG_EXAMPLES_DIR CG_SOURCE_DIR "/policies/examples"

#define CG_NS "cellgate-system"
#define CG_SERVICE "cellgate-webhook"

/* ------------------------------------------------------------------------------------------ */
/* The parsed tree */

struct mfile {
    char *path; /* absolute */
    char *text; /* as read, or as edited by a mutation */
    size_t len;
    char *parse_error; /* NULL when every document parsed */
};

struct mdoc {
    struct mfile *file;
    yaml_document_t y;
};

struct manifests {
    struct mfile *files;
    size_t n_files;
    struct mdoc *docs;
    size_t n_docs;
};

/* One in-memory edit applied to the file whose path ends with `file` before parsing. */
enum mutation_kind {
    MUT_REPLACE_FIRST, /* first occurrence of old -> new_ */
    MUT_REPLACE_ALL,   /* every occurrence */
    MUT_STRIP_COMMENT, /* drop the comment lines right above the first line containing old */
};

struct mutation {
    const char *file; /* path suffix, e.g. "base/webhooks.yaml" */
    enum mutation_kind kind;
    const char *old;
    const char *new_;
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static char *replace(const char *text, const char *old, const char *new_, bool all)
{
    struct cg_buf b;
    cg_buf_init(&b, 0);
    const char *p = text;
    const char *hit;
    int n = 0;
    while ((hit = strstr(p, old)) != NULL && (all || n == 0)) {
        assert_int_equal(cg_buf_append(&b, p, (size_t)(hit - p)), CG_OK);
        assert_int_equal(cg_buf_append_str(&b, new_), CG_OK);
        p = hit + strlen(old);
        n++;
    }
    if (n == 0)
        fail_msg("mutation: \"%s\" not found", old);
    assert_int_equal(cg_buf_append_str(&b, p), CG_OK);
    return cg_buf_take(&b, NULL);
}

static bool is_comment_line(const char *line, const char *end)
{
    while (line < end && (*line == ' ' || *line == '\t'))
        line++;
    return line < end && *line == '#';
}

static char *strip_comment_above(const char *text, const char *needle)
{
    const char *hit = strstr(text, needle);
    if (hit == NULL)
        fail_msg("mutation: \"%s\" not found", needle);
    const char *line = hit;
    while (line > text && line[-1] != '\n')
        line--;
    /* Walk up over the contiguous comment lines. */
    const char *cut = line;
    while (cut > text) {
        const char *prev = cut - 1; /* the '\n' ending the previous line */
        while (prev > text && prev[-1] != '\n')
            prev--;
        if (!is_comment_line(prev, cut - 1))
            break;
        cut = prev;
    }
    if (cut == line)
        fail_msg("mutation: no comment above \"%s\"", needle);
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_buf_append(&b, text, (size_t)(cut - text)), CG_OK);
    assert_int_equal(cg_buf_append_str(&b, line), CG_OK);
    return cg_buf_take(&b, NULL);
}

static void mutate(struct mfile *f, const struct mutation *m)
{
    char *edited = NULL;
    switch (m->kind) {
    case MUT_REPLACE_FIRST:
        edited = replace(f->text, m->old, m->new_, false);
        break;
    case MUT_REPLACE_ALL:
        edited = replace(f->text, m->old, m->new_, true);
        break;
    case MUT_STRIP_COMMENT:
        edited = strip_comment_above(f->text, m->old);
        break;
    }
    free(f->text);
    f->text = edited;
    f->len = strlen(edited);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends every *.yaml / *.yml under dir (recursively, dot entries skipped) to *paths. */
static void collect_yaml(const char *dir, char ***paths, size_t *n)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        fail_msg("cannot open directory %s", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = cg_xmalloc(len);
        snprintf(path, len, "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            collect_yaml(path, paths, n);
            free(path);
        } else if (ends_with(e->d_name, ".yaml") || ends_with(e->d_name, ".yml")) {
            *paths = cg_xrealloc(*paths, (*n + 1) * sizeof(**paths));
            (*paths)[(*n)++] = path;
        } else {
            free(path);
        }
    }
    closedir(d);
}

static void parse_file(struct manifests *m, struct mfile *f)
{
    yaml_parser_t p;
    assert_true(yaml_parser_initialize(&p));
    yaml_parser_set_input_string(&p, (const unsigned char *)f->text, f->len);
    for (;;) {
        yaml_document_t y;
        if (!yaml_parser_load(&p, &y)) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s:%zu:%zu: %s", f->path, p.problem_mark.line + 1,
                     p.problem_mark.column + 1, p.problem != NULL ? p.problem : "YAML error");
            f->parse_error = cg_xstrdup(msg);
            break;
        }
        if (yaml_document_get_root_node(&y) == NULL) { /* end of stream */
            yaml_document_delete(&y);
            break;
        }
        m->docs = cg_xrealloc(m->docs, (m->n_docs + 1) * sizeof(*m->docs));
        m->docs[m->n_docs].file = f;
        m->docs[m->n_docs].y = y;
        m->n_docs++;
    }
    yaml_parser_delete(&p);
}

/* Loads the tree under CG_MANIFESTS_DIR, applying the mutations (may be NULL / 0). */
static void manifests_load(struct manifests *m, const struct mutation *muts, size_t n_muts)
{
    memset(m, 0, sizeof(*m));
    char **paths = NULL;
    size_t n = 0;
    collect_yaml(CG_MANIFESTS_DIR, &paths, &n);
    qsort(paths, n, sizeof(*paths), cmp_str);
    m->files = cg_xcalloc(n, sizeof(*m->files));
    m->n_files = n;
    for (size_t i = 0; i < n; i++) {
        struct mfile *f = &m->files[i];
        f->path = paths[i];
        f->text = cg_test_read_file(f->path, &f->len);
    }
    free(paths);
    for (size_t k = 0; k < n_muts; k++) {
        bool applied = false;
        for (size_t i = 0; i < m->n_files; i++) {
            if (ends_with(m->files[i].path, muts[k].file)) {
                mutate(&m->files[i], &muts[k]);
                applied = true;
            }
        }
        if (!applied)
            fail_msg("mutation: no file %s", muts[k].file);
    }
    /* Parse after every edit is made, each file once. */
    for (size_t i = 0; i < m->n_files; i++)
        parse_file(m, &m->files[i]);
}

static void manifests_dispose(struct manifests *m)
{
    for (size_t i = 0; i < m->n_docs; i++)
        yaml_document_delete(&m->docs[i].y);
    free(m->docs);
    for (size_t i = 0; i < m->n_files; i++) {
        free(m->files[i].path);
        free(m->files[i].text);
        free(m->files[i].parse_error);
    }
    free(m->files);
    memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------------------------------------ */
/* Node helpers (borrowed pointers into a document; NULL when absent or of another type) */

static yaml_node_t *root(struct mdoc *d)
{
    return yaml_document_get_root_node(&d->y);
}

static const char *scalar(struct mdoc *d, yaml_node_t *n)
{
    (void)d;
    return n != NULL && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool scalar_is(struct mdoc *d, yaml_node_t *n, const char *want)
{
    const char *s = scalar(d, n);
    return s != NULL && strcmp(s, want) == 0;
}

static yaml_node_pair_t *pair_of(struct mdoc *d, yaml_node_t *map, const char *key)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        if (scalar_is(d, yaml_document_get_node(&d->y, p->key), key))
            return p;
    }
    return NULL;
}

static yaml_node_t *get1(struct mdoc *d, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *p = pair_of(d, map, key);
    return p != NULL ? yaml_document_get_node(&d->y, p->value) : NULL;
}

/* get(d, node, "spec", "template", NULL) */
static yaml_node_t *get(struct mdoc *d, yaml_node_t *n, ...)
{
    va_list ap;
    va_start(ap, n);
    const char *key;
    while (n != NULL && (key = va_arg(ap, const char *)) != NULL)
        n = get1(d, n, key);
    va_end(ap);
    return n;
}

static size_t seq_len(yaml_node_t *n)
{
    if (n == NULL || n->type != YAML_SEQUENCE_NODE)
        return 0;
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_at(struct mdoc *d, yaml_node_t *n, size_t i)
{
    if (i >= seq_len(n))
        return NULL;
    return yaml_document_get_node(&d->y, n->data.sequence.items.start[i]);
}

static bool seq_has(struct mdoc *d, yaml_node_t *n, const char *want)
{
    for (size_t i = 0; i < seq_len(n); i++) {
        if (scalar_is(d, seq_at(d, n, i), want))
            return true;
    }
    return false;
}

static const char *kind_of(struct mdoc *d)
{
    return scalar(d, get(d, root(d), "kind", NULL));
}

static const char *name_of(struct mdoc *d)
{
    return scalar(d, get(d, root(d), "metadata", "name", NULL));
}

/* The one document of that kind (and name, if not NULL); NULL if none. */
static struct mdoc *find(struct manifests *m, const char *kind, const char *name)
{
    for (size_t i = 0; i < m->n_docs; i++) {
        struct mdoc *d = &m->docs[i];
        const char *k = kind_of(d), *nm = name_of(d);
        if (k != NULL && strcmp(k, kind) == 0 &&
            (name == NULL || (nm != NULL && strcmp(nm, name) == 0)))
            return d;
    }
    return NULL;
}

static bool parse_int(const char *s, long *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0')
        return false;
    *out = v;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Report */

struct report {
    int n;
    struct cg_buf text;
};

static void report_init(struct report *r)
{
    r->n = 0;
    cg_buf_init(&r->text, 0);
}

static void report_dispose(struct report *r)
{
    cg_buf_dispose(&r->text);
}

static void bad(struct report *r, struct mdoc *d, yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void bad(struct report *r, struct mdoc *d, yaml_node_t *at, const char *fmt, ...)
{
    r->n++;
    if (d != NULL) {
        const char *rel = d->file->path + strlen(CG_SOURCE_DIR "/");
        size_t line = at != NULL ? at->start_mark.line + 1 : 0;
        assert_int_equal(cg_buf_appendf(&r->text, "%s:%zu: ", rel, line), CG_OK);
    }
    va_list ap;
    va_start(ap, fmt);
    assert_int_equal(cg_buf_vappendf(&r->text, fmt, ap), CG_OK);
    va_end(ap);
    assert_int_equal(cg_buf_append_char(&r->text, '\n'), CG_OK);
}

static const char *report_text(const struct report *r)
{
    return r->text.data != NULL ? r->text.data : "";
}

/* ------------------------------------------------------------------------------------------ */
/* Checks */

static void check_documents(struct manifests *m, struct report *r)
{
    for (size_t i = 0; i < m->n_files; i++) {
        if (m->files[i].parse_error != NULL)
            bad(r, NULL, NULL, "%s", m->files[i].parse_error);
    }
    for (size_t i = 0; i < m->n_docs; i++) {
        struct mdoc *d = &m->docs[i];
        yaml_node_t *top = root(d);
        if (top->type != YAML_MAPPING_NODE) {
            bad(r, d, top, "document is not a mapping");
            continue;
        }
        const char *kind = kind_of(d);
        if (scalar(d, get(d, top, "apiVersion", NULL)) == NULL || kind == NULL) {
            bad(r, d, top, "document without apiVersion and kind");
            continue;
        }
        bool is_kustomize = strcmp(kind, "Kustomization") == 0 || strcmp(kind, "Component") == 0;
        if (!is_kustomize && name_of(d) == NULL)
            bad(r, d, top, "%s without metadata.name", kind);
    }
}

/* The comment lines right above line `line0` (0-based) of the file, and a trailing comment
 * on that line, joined into one string; caller frees. */
static char *comment_near(const struct mfile *f, size_t line0)
{
    const char *text = f->text;
    const char *line = text;
    for (size_t i = 0; i < line0 && line != NULL; i++) {
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    struct cg_buf b;
    cg_buf_init(&b, 0);
    assert_int_equal(cg_buf_append_str(&b, ""), CG_OK);
    if (line == NULL)
        return cg_buf_take(&b, NULL);
    const char *eol = strchr(line, '\n');
    if (eol == NULL)
        eol = line + strlen(line);
    const char *hash = memchr(line, '#', (size_t)(eol - line));
    if (hash != NULL)
        assert_int_equal(cg_buf_append(&b, hash, (size_t)(eol - hash)), CG_OK);
    const char *cur = line;
    while (cur > text) {
        const char *prev = cur - 1;
        while (prev > text && prev[-1] != '\n')
            prev--;
        if (!is_comment_line(prev, cur - 1))
            break;
        assert_int_equal(cg_buf_append_char(&b, ' '), CG_OK);
        assert_int_equal(cg_buf_append(&b, prev, (size_t)(cur - 1 - prev)), CG_OK);
        cur = prev;
    }
    return cg_buf_take(&b, NULL);
}

/* Does a rule of this hook cover (group, resource, operation)? */
static bool hook_covers(struct mdoc *d, yaml_node_t *hook, const char *group, const char *resource,
                        const char *op)
{
    yaml_node_t *rules = get(d, hook, "rules", NULL);
    for (size_t i = 0; i < seq_len(rules); i++) {
        yaml_node_t *rule = seq_at(d, rules, i);
        if (seq_has(d, get(d, rule, "apiGroups", NULL), group) &&
            seq_has(d, get(d, rule, "resources", NULL), resource) &&
            seq_has(d, get(d, rule, "operations", NULL), op))
            return true;
    }
    return false;
}

static void check_hook(struct mdoc *d, yaml_node_t *hook, const char *want_path, struct report *r)
{
    const char *name = scalar(d, get(d, hook, "name", NULL));
    if (name == NULL || strchr(name, '.') == NULL || strchr(strchr(name, '.') + 1, '.') == NULL) {
        bad(r, d, hook, "webhook name must be fully qualified (a.b.c)");
        name = "?";
    }

    yaml_node_t *arv = get(d, hook, "admissionReviewVersions", NULL);
    if (seq_len(arv) != 1 || !scalar_is(d, seq_at(d, arv, 0), "v1"))
        bad(r, d, hook, "%s: admissionReviewVersions must be exactly [\"v1\"]", name);

    if (!scalar_is(d, get(d, hook, "sideEffects", NULL), "NoneOnDryRun"))
        bad(r, d, hook, "%s: sideEffects must be NoneOnDryRun", name);

    long timeout = 0;
    if (!parse_int(scalar(d, get(d, hook, "timeoutSeconds", NULL)), &timeout) || timeout < 1 ||
        timeout > 10)
        bad(r, d, hook, "%s: timeoutSeconds must be set, 1..10", name);

    if (!scalar_is(d, get(d, hook, "matchPolicy", NULL), "Equivalent"))
        bad(r, d, hook, "%s: matchPolicy must be Equivalent", name);

    yaml_node_pair_t *fp = pair_of(d, hook, "failurePolicy");
    const char *policy = fp != NULL ? scalar(d, yaml_document_get_node(&d->y, fp->value)) : NULL;
    if (policy == NULL || (strcmp(policy, "Fail") != 0 && strcmp(policy, "Ignore") != 0)) {
        bad(r, d, hook, "%s: failurePolicy must be set explicitly to Fail or Ignore", name);
    } else {
        yaml_node_t *key = yaml_document_get_node(&d->y, fp->key);
        char *comment = comment_near(d->file, key->start_mark.line);
        /* The reason must be there and be about the value chosen, written "<value>: why", so
         * flipping the policy without rewriting the reason fails. */
        char tag[16];
        snprintf(tag, sizeof(tag), "%s:", policy);
        if (strlen(comment) < 60 || strstr(comment, tag) == NULL)
            bad(r, d, key, "%s: failurePolicy %s needs a comment right above it, \"%s why...\"",
                name, policy, tag);
        free(comment);
    }

    yaml_node_t *exprs = get(d, hook, "namespaceSelector", "matchExpressions", NULL);
    bool excluded = false;
    for (size_t i = 0; i < seq_len(exprs); i++) {
        yaml_node_t *e = seq_at(d, exprs, i);
        yaml_node_t *values = get(d, e, "values", NULL);
        if (scalar_is(d, get(d, e, "key", NULL), "kubernetes.io/metadata.name") &&
            scalar_is(d, get(d, e, "operator", NULL), "NotIn") && seq_has(d, values, CG_NS) &&
            seq_has(d, values, "kube-system"))
            excluded = true;
    }
    if (!excluded)
        bad(r, d, hook,
            "%s: namespaceSelector must exclude " CG_NS " and kube-system "
            "(kubernetes.io/metadata.name NotIn)",
            name);

    yaml_node_t *cc = get(d, hook, "clientConfig", NULL);
    yaml_node_t *svc = get(d, cc, "service", NULL);
    if (get(d, cc, "url", NULL) != NULL || !scalar_is(d, get(d, svc, "name", NULL), CG_SERVICE) ||
        !scalar_is(d, get(d, svc, "namespace", NULL), CG_NS))
        bad(r, d, hook, "%s: clientConfig must name service " CG_NS "/" CG_SERVICE, name);
    if (!scalar_is(d, get(d, svc, "path", NULL), want_path))
        bad(r, d, hook, "%s: clientConfig.service.path must be %s", name, want_path);
    const char *port = scalar(d, get(d, svc, "port", NULL));
    if (port != NULL && strcmp(port, "443") != 0)
        bad(r, d, hook, "%s: clientConfig.service.port must be 443 (the Service's port)", name);
    /* Re-applying an empty caBundle would wipe the injected CA and, with failurePolicy
     * Fail, stop admission until cert-manager puts it back. */
    if (get(d, cc, "caBundle", NULL) != NULL)
        bad(r, d, hook, "%s: clientConfig.caBundle must be left out (injected)", name);

    yaml_node_t *rules = get(d, hook, "rules", NULL);
    if (seq_len(rules) == 0)
        bad(r, d, hook, "%s: no rules", name);
    for (size_t i = 0; i < seq_len(rules); i++) {
        yaml_node_t *rule = seq_at(d, rules, i);
        if (seq_has(d, get(d, rule, "resources", NULL), "*") ||
            seq_has(d, get(d, rule, "operations", NULL), "*") ||
            seq_has(d, get(d, rule, "apiGroups", NULL), "*"))
            bad(r, d, rule, "%s: a rule with \"*\" would send unrelated objects", name);
    }
}

static void check_configuration(struct manifests *m, const char *kind, bool mutating,
                                struct report *r)
{
    struct mdoc *d = find(m, kind, NULL);
    if (d == NULL) {
        bad(r, NULL, NULL, "no %s", kind);
        return;
    }
    const char *inject = scalar(
        d, get(d, root(d), "metadata", "annotations", "cert-manager.io/inject-ca-from", NULL));
    if (inject == NULL || strncmp(inject, CG_NS "/", strlen(CG_NS "/")) != 0)
        bad(r, d, root(d), "%s: annotation cert-manager.io/inject-ca-from " CG_NS "/<name> missing",
            kind);

    yaml_node_t *hooks = get(d, root(d), "webhooks", NULL);
    if (seq_len(hooks) == 0)
        bad(r, d, root(d), "%s: no webhooks", kind);
    const char *path = mutating ? "/mutate" : "/validate";
    bool dep_create = false, dep_update = false, pod_create = false, pod_delete = false,
         eviction = false;
    for (size_t i = 0; i < seq_len(hooks); i++) {
        yaml_node_t *hook = seq_at(d, hooks, i);
        check_hook(d, hook, path, r);
        dep_create |= hook_covers(d, hook, "apps", "deployments", "CREATE");
        dep_update |= hook_covers(d, hook, "apps", "deployments", "UPDATE");
        bool pc = hook_covers(d, hook, "", "pods", "CREATE");
        pod_create |= pc;
        pod_delete |= hook_covers(d, hook, "", "pods", "DELETE");
        eviction |= hook_covers(d, hook, "", "pods/eviction", "CREATE");
        const char *reinvoke = scalar(d, get(d, hook, "reinvocationPolicy", NULL));
        if (!mutating && reinvoke != NULL)
            bad(r, d, hook, "reinvocationPolicy is not a field of validating webhooks");
        if (mutating && pc && (reinvoke == NULL || strcmp(reinvoke, "IfNeeded") != 0))
            bad(r, d, hook, "the Pod mutation hook needs reinvocationPolicy IfNeeded");
    }
    if (!dep_create || !dep_update)
        bad(r, d, root(d), "%s: Deployments CREATE and UPDATE must be covered", kind);
    if (mutating && !pod_create)
        bad(r, d, root(d), "%s: Pods CREATE must be covered", kind);
    if (!mutating && (!pod_delete || !eviction))
        bad(r, d, root(d), "%s: Pods DELETE and pods/eviction CREATE must be covered", kind);
}

static void check_webhooks(struct manifests *m, struct report *r)
{
    check_configuration(m, "MutatingWebhookConfiguration", true, r);
    check_configuration(m, "ValidatingWebhookConfiguration", false, r);
}

/* args as a flat list: is `flag` followed by `value` (or given as flag=value)? */
static bool has_arg(struct mdoc *d, yaml_node_t *args, const char *flag, const char *value)
{
    char joined[512];
    snprintf(joined, sizeof(joined), "%s=%s", flag, value);
    for (size_t i = 0; i < seq_len(args); i++) {
        if (scalar_is(d, seq_at(d, args, i), joined))
            return true;
        if (scalar_is(d, seq_at(d, args, i), flag) && scalar_is(d, seq_at(d, args, i + 1), value))
            return true;
    }
    return false;
}

/* The containerPort a probe or Service port (name or number) refers to; -1 if none. */
static long resolve_port(struct mdoc *d, yaml_node_t *container, const char *port)
{
    yaml_node_t *ports = get(d, container, "ports", NULL);
    long num;
    for (size_t i = 0; port != NULL && i < seq_len(ports); i++) {
        yaml_node_t *p = seq_at(d, ports, i);
        long cp;
        if (!parse_int(scalar(d, get(d, p, "containerPort", NULL)), &cp))
            continue;
        if (scalar_is(d, get(d, p, "name", NULL), port) || (parse_int(port, &num) && num == cp))
            return cp;
    }
    return -1;
}

static yaml_node_t *webhook_container(struct mdoc *dep)
{
    yaml_node_t *containers = get(dep, root(dep), "spec", "template", "spec", "containers", NULL);
    return seq_len(containers) == 1 ? seq_at(dep, containers, 0) : NULL;
}

/* The volume mounted at mount_path, NULL if none. */
static yaml_node_t *volume_at(struct mdoc *d, yaml_node_t *container, const char *mount_path)
{
    yaml_node_t *mounts = get(d, container, "volumeMounts", NULL);
    yaml_node_t *volumes = get(d, root(d), "spec", "template", "spec", "volumes", NULL);
    for (size_t i = 0; i < seq_len(mounts); i++) {
        yaml_node_t *vm = seq_at(d, mounts, i);
        if (!scalar_is(d, get(d, vm, "mountPath", NULL), mount_path))
            continue;
        if (get(d, vm, "subPath", NULL) != NULL)
            return NULL; /* a subPath mount never sees the kubelet's updates */
        const char *vname = scalar(d, get(d, vm, "name", NULL));
        for (size_t j = 0; vname != NULL && j < seq_len(volumes); j++) {
            yaml_node_t *v = seq_at(d, volumes, j);
            if (scalar_is(d, get(d, v, "name", NULL), vname))
                return v;
        }
    }
    return NULL;
}

/* The name of the policies ConfigMap generator in the base kustomization, or NULL. */
static const char *policies_configmap(struct manifests *m)
{
    for (size_t i = 0; i < m->n_docs; i++) {
        struct mdoc *d = &m->docs[i];
        const char *k = kind_of(d);
        if (k == NULL || strcmp(k, "Kustomization") != 0)
            continue;
        yaml_node_t *gens = get(d, root(d), "configMapGenerator", NULL);
        for (size_t j = 0; j < seq_len(gens); j++) {
            const char *name = scalar(d, get(d, seq_at(d, gens, j), "name", NULL));
            if (name != NULL)
                return name;
        }
    }
    return NULL;
}

static bool security_true(struct mdoc *d, yaml_node_t *pod_sc, yaml_node_t *c_sc, const char *key)
{
    const char *c = scalar(d, get(d, c_sc, key, NULL));
    if (c != NULL)
        return strcmp(c, "true") == 0; /* the container's setting wins */
    return scalar_is(d, get(d, pod_sc, key, NULL), "true");
}

/* What every cellgate container runs with: non-root, read-only root file system, no
 * privilege escalation, no capabilities, the runtime's seccomp profile, sized resources. */
static void check_container_hardening(struct mdoc *d, yaml_node_t *pod, yaml_node_t *c,
                                      struct report *r)
{
    yaml_node_t *pod_sc = get(d, pod, "securityContext", NULL);
    yaml_node_t *c_sc = get(d, c, "securityContext", NULL);
    if (!security_true(d, pod_sc, c_sc, "runAsNonRoot"))
        bad(r, d, c, "runAsNonRoot must be true");
    if (!scalar_is(d, get(d, c_sc, "readOnlyRootFilesystem", NULL), "true"))
        bad(r, d, c, "readOnlyRootFilesystem must be true");
    if (!scalar_is(d, get(d, c_sc, "allowPrivilegeEscalation", NULL), "false"))
        bad(r, d, c, "allowPrivilegeEscalation must be false");
    if (!seq_has(d, get(d, c_sc, "capabilities", "drop", NULL), "ALL"))
        bad(r, d, c, "capabilities must drop ALL");
    const char *seccomp = scalar(d, get(d, c_sc, "seccompProfile", "type", NULL));
    if (seccomp == NULL)
        seccomp = scalar(d, get(d, pod_sc, "seccompProfile", "type", NULL));
    if (seccomp == NULL || strcmp(seccomp, "RuntimeDefault") != 0)
        bad(r, d, c, "seccompProfile must be RuntimeDefault");

    yaml_node_t *res = get(d, c, "resources", NULL);
    if (get(d, res, "requests", "cpu", NULL) == NULL ||
        get(d, res, "requests", "memory", NULL) == NULL)
        bad(r, d, c, "resources.requests must set cpu and memory");
    if (get(d, res, "limits", "memory", NULL) == NULL)
        bad(r, d, c, "resources.limits must set memory");
}

static void check_deployment(struct manifests *m, struct report *r)
{
    struct mdoc *d = find(m, "Deployment", CG_SERVICE);
    if (d == NULL) {
        bad(r, NULL, NULL, "no Deployment " CG_SERVICE);
        return;
    }
    yaml_node_t *spec = get(d, root(d), "spec", NULL);
    yaml_node_t *pod = get(d, spec, "template", "spec", NULL);
    yaml_node_t *c = webhook_container(d);
    if (c == NULL) {
        bad(r, d, pod, "the webhook pod must have exactly one container");
        return;
    }

    if (!scalar_is(d, get(d, spec, "replicas", NULL), "2"))
        bad(r, d, spec, "replicas must be 2");
    if (!scalar_is(d, get(d, c, "readinessProbe", "httpGet", "path", NULL), "/readyz"))
        bad(r, d, c, "readinessProbe must GET /readyz");
    if (!scalar_is(d, get(d, c, "livenessProbe", "httpGet", "path", NULL), "/healthz"))
        bad(r, d, c, "livenessProbe must GET /healthz");
    const char *probes[] = {"readinessProbe", "livenessProbe"};
    for (size_t i = 0; i < 2; i++) {
        long port = resolve_port(d, c, scalar(d, get(d, c, probes[i], "httpGet", "port", NULL)));
        if (port != 9090 && port != 8443)
            bad(r, d, c, "%s must use container port 9090 (metrics) or 8443", probes[i]);
    }
    if (resolve_port(d, c, "https") != 8443 || resolve_port(d, c, "metrics") != 9090)
        bad(r, d, c, "container ports must be https 8443 and metrics 9090");

    check_container_hardening(d, pod, c, r);

    long grace = 0;
    if (get(d, c, "lifecycle", "preStop", NULL) == NULL ||
        !parse_int(scalar(d, get(d, pod, "terminationGracePeriodSeconds", NULL)), &grace) ||
        grace < 10)
        bad(r, d, c, "a preStop hook and terminationGracePeriodSeconds >= 10 drain endpoints");

    yaml_node_t *args = get(d, c, "args", NULL);
    static const char *const want[][2] = {
        {"--listen", "0.0.0.0:8443"},           {"--cert", "/etc/cellgate/tls/tls.crt"},
        {"--key", "/etc/cellgate/tls/tls.key"}, {"--policies", "/etc/cellgate/policies"},
        {"--metrics-listen", "0.0.0.0:9090"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!has_arg(d, args, want[i][0], want[i][1]))
            bad(r, d, c, "args must include %s %s", want[i][0], want[i][1]);
    }

    yaml_node_t *pv = volume_at(d, c, "/etc/cellgate/policies");
    const char *cm = policies_configmap(m);
    if (pv == NULL || cm == NULL || !scalar_is(d, get(d, pv, "configMap", "name", NULL), cm))
        bad(r, d, c,
            "/etc/cellgate/policies must mount the generated policies ConfigMap (no subPath)");
    yaml_node_t *tv = volume_at(d, c, "/etc/cellgate/tls");
    if (tv == NULL || scalar(d, get(d, tv, "secret", "secretName", NULL)) == NULL)
        bad(r, d, c, "/etc/cellgate/tls must mount the TLS Secret (no subPath)");
    /* The webhook refuses a key readable by others, or by a group that is not its own
     * (server/tls.c): the Secret's files must be 0400/0600, or 0440 with the pod's fsGroup.
     * (Kubernetes' default, 0644, would keep it from starting.) */
    const char *dm = scalar(d, get(d, tv, "secret", "defaultMode", NULL));
    long mode = -1;
    if (dm != NULL) {
        char *endp = NULL;
        bool yaml12 = strncmp(dm, "0o", 2) == 0;
        mode = strtol(yaml12 ? dm + 2 : dm, &endp, yaml12 ? 8 : 0);
        if (endp == NULL || *endp != '\0')
            mode = -1;
    }
    if (mode < 0 || (mode & 07) != 0 ||
        ((mode & 070) != 0 && get(d, pod, "securityContext", "fsGroup", NULL) == NULL))
        bad(r, d, tv,
            "the TLS Secret's defaultMode must be 0400/0600, or 0440 with the pod's fsGroup "
            "(the webhook refuses a key others can read)");

    /* Spread over zones, by topology spread or by anti-affinity. */
    bool zones = false;
    yaml_node_t *tsc = get(d, pod, "topologySpreadConstraints", NULL);
    for (size_t i = 0; i < seq_len(tsc); i++)
        zones |= scalar_is(d, get(d, seq_at(d, tsc, i), "topologyKey", NULL),
                           "topology.kubernetes.io/zone");
    yaml_node_t *anti = get(d, pod, "affinity", "podAntiAffinity", NULL);
    yaml_node_t *pref = get(d, anti, "preferredDuringSchedulingIgnoredDuringExecution", NULL);
    for (size_t i = 0; i < seq_len(pref); i++)
        zones |= scalar_is(d, get(d, seq_at(d, pref, i), "podAffinityTerm", "topologyKey", NULL),
                           "topology.kubernetes.io/zone");
    yaml_node_t *req = get(d, anti, "requiredDuringSchedulingIgnoredDuringExecution", NULL);
    for (size_t i = 0; i < seq_len(req); i++)
        zones |= scalar_is(d, get(d, seq_at(d, req, i), "topologyKey", NULL),
                           "topology.kubernetes.io/zone");
    if (!zones)
        bad(r, d, pod, "replicas must be spread over topology.kubernetes.io/zone");

    /* The pod watch and the drain requests use the ServiceAccount's token (rbac.yaml). */
    const char *sa = scalar(d, get(d, pod, "serviceAccountName", NULL));
    if (sa == NULL || find(m, "ServiceAccount", sa) == NULL)
        bad(r, d, pod, "serviceAccountName must name a ServiceAccount of the manifests");
    if (!scalar_is(d, get(d, pod, "automountServiceAccountToken", NULL), "true"))
        bad(r, d, pod, "automountServiceAccountToken must be true (the pod watch needs the token)");
}

/* The verbs a role grants, as "group/resource:verb" entries sorted into one string, to compare
 * with what a component uses. */
static void role_grants(struct mdoc *d, char *out, size_t n)
{
    char items[64][96];
    size_t k = 0;
    yaml_node_t *rules = get(d, root(d), "rules", NULL);
    for (size_t i = 0; i < seq_len(rules); i++) {
        yaml_node_t *rule = seq_at(d, rules, i);
        yaml_node_t *groups = get(d, rule, "apiGroups", NULL),
                    *resources = get(d, rule, "resources", NULL),
                    *verbs = get(d, rule, "verbs", NULL);
        for (size_t g = 0; g < seq_len(groups); g++)
            for (size_t s = 0; s < seq_len(resources); s++)
                for (size_t v = 0; v < seq_len(verbs) && k < 64; v++)
                    snprintf(items[k++], sizeof(items[0]), "%s/%s:%s",
                             scalar(d, seq_at(d, groups, g)), scalar(d, seq_at(d, resources, s)),
                             scalar(d, seq_at(d, verbs, v)));
    }
    qsort(items, k, sizeof(items[0]), (int (*)(const void *, const void *))strcmp);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < k && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? " " : "", items[i]);
}

/* cellgate-controller: two replicas electing a leader, probes on its metrics port, hardened
 * like the webhook, the pod's name as its Lease identity, and exactly the access it uses. */
static void check_controller(struct manifests *m, struct report *r)
{
    struct mdoc *d = find(m, "Deployment", "cellgate-controller");
    if (d == NULL) {
        bad(r, NULL, NULL, "no Deployment cellgate-controller");
        return;
    }
    yaml_node_t *spec = get(d, root(d), "spec", NULL);
    yaml_node_t *pod = get(d, spec, "template", "spec", NULL);
    yaml_node_t *containers = get(d, pod, "containers", NULL);
    yaml_node_t *c = seq_len(containers) == 1 ? seq_at(d, containers, 0) : NULL;
    if (c == NULL) {
        bad(r, d, pod, "the controller pod must have exactly one container");
        return;
    }
    if (!scalar_is(d, get(d, spec, "replicas", NULL), "2"))
        bad(r, d, spec, "controller replicas must be 2 (one leads, one stands by)");
    if (!scalar_is(d, get(d, c, "readinessProbe", "httpGet", "path", NULL), "/readyz") ||
        !scalar_is(d, get(d, c, "livenessProbe", "httpGet", "path", NULL), "/healthz"))
        bad(r, d, c, "controller probes must GET /readyz and /healthz");
    if (resolve_port(d, c, "metrics") != 9091 ||
        !has_arg(d, get(d, c, "args", NULL), "--metrics-listen", "0.0.0.0:9091"))
        bad(r, d, c, "the controller serves metrics and probes on 9091");
    if (!has_arg(d, get(d, c, "args", NULL), "--policies", "/etc/cellgate/policies"))
        bad(r, d, c, "controller args must include --policies /etc/cellgate/policies");
    bool identity = false;
    yaml_node_t *env = get(d, c, "env", NULL);
    for (size_t i = 0; i < seq_len(env); i++)
        identity |=
            scalar_is(d, get(d, seq_at(d, env, i), "name", NULL), "CELLGATE_IDENTITY") &&
            scalar_is(d, get(d, seq_at(d, env, i), "valueFrom", "fieldRef", "fieldPath", NULL),
                      "metadata.name");
    if (!identity)
        bad(r, d, c, "CELLGATE_IDENTITY must come from metadata.name (who holds the Lease)");
    check_container_hardening(d, pod, c, r);
    const char *sa = scalar(d, get(d, pod, "serviceAccountName", NULL));
    if (sa == NULL || strcmp(sa, "cellgate-controller") != 0 ||
        find(m, "ServiceAccount", "cellgate-controller") == NULL)
        bad(r, d, pod, "the controller runs as ServiceAccount cellgate-controller");

    static const char want_cluster[] =
        "/events:create /pods/status:patch /pods:list /pods:patch /pods:watch "
        "apps/deployments:list apps/deployments:patch apps/deployments:watch "
        "apps/replicasets:list apps/replicasets:watch discovery.k8s.io/endpointslices:list "
        "discovery.k8s.io/endpointslices:watch";
    static const char want_leader[] =
        "coordination.k8s.io/leases:create coordination.k8s.io/leases:get "
        "coordination.k8s.io/leases:update";
    char have[4096];
    struct mdoc *cr = find(m, "ClusterRole", "cellgate-controller");
    struct mdoc *lr = find(m, "Role", "cellgate-controller-leader");
    if (cr == NULL || lr == NULL) {
        bad(r, NULL, NULL,
            "the controller needs ClusterRole cellgate-controller and Role "
            "cellgate-controller-leader");
        return;
    }
    role_grants(cr, have, sizeof(have));
    if (strcmp(have, want_cluster) != 0)
        bad(r, cr, root(cr), "ClusterRole cellgate-controller grants \"%s\", it uses \"%s\"", have,
            want_cluster);
    role_grants(lr, have, sizeof(have));
    if (strcmp(have, want_leader) != 0)
        bad(r, lr, root(lr), "Role cellgate-controller-leader grants \"%s\", it uses \"%s\"", have,
            want_leader);
    if (!scalar_is(lr, get(lr, root(lr), "metadata", "namespace", NULL), CG_NS))
        bad(r, lr, root(lr), "the leader Role lives in " CG_NS " only");
    static const char *const bindings[][2] = {{"ClusterRoleBinding", "cellgate-controller"},
                                              {"RoleBinding", "cellgate-controller-leader"}};
    for (size_t i = 0; i < 2; i++) {
        struct mdoc *b = find(m, bindings[i][0], bindings[i][1]);
        yaml_node_t *s0 = b ? seq_at(b, get(b, root(b), "subjects", NULL), 0) : NULL;
        if (b == NULL || !scalar_is(b, get(b, root(b), "roleRef", "name", NULL), bindings[i][1]) ||
            seq_len(get(b, root(b), "subjects", NULL)) != 1 ||
            !scalar_is(b, get(b, s0, "name", NULL), "cellgate-controller") ||
            !scalar_is(b, get(b, s0, "namespace", NULL), CG_NS))
            bad(r, b, b ? root(b) : NULL,
                "%s %s must bind its role to ServiceAccount " CG_NS "/cellgate-controller only",
                bindings[i][0], bindings[i][1]);
    }
}

/* Is word in text, not as part of a longer word? */
static bool has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p != NULL; p = strstr(p + 1, word)) {
        bool start = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '-');
        bool end = !(isalnum((unsigned char)p[n]) || p[n] == '-');
        if (start && end)
            return true;
    }
    return false;
}

/* RBAC: least privilege, each verb argued for. Every rule of every Role and ClusterRole names
 * each of its verbs in the comment right above it, and uses no wildcard; the webhook's role
 * grants exactly list, watch and patch on pods; a binding gives it to the webhook's
 * ServiceAccount and nothing else. */
static void check_rbac(struct manifests *m, struct report *r)
{
    for (size_t i = 0; i < m->n_docs; i++) {
        struct mdoc *d = &m->docs[i];
        const char *k = kind_of(d);
        if (k == NULL || (strcmp(k, "ClusterRole") != 0 && strcmp(k, "Role") != 0))
            continue;
        yaml_node_t *rules = get(d, root(d), "rules", NULL);
        for (size_t j = 0; j < seq_len(rules); j++) {
            yaml_node_t *rule = seq_at(d, rules, j);
            yaml_node_t *verbs = get(d, rule, "verbs", NULL);
            if (seq_has(d, verbs, "*") || seq_has(d, get(d, rule, "resources", NULL), "*") ||
                seq_has(d, get(d, rule, "apiGroups", NULL), "*"))
                bad(r, d, rule, "%s %s: a rule with \"*\" grants more than is used", k, name_of(d));
            char *comment = comment_near(d->file, rule->start_mark.line);
            for (size_t v = 0; v < seq_len(verbs); v++) {
                const char *verb = scalar(d, seq_at(d, verbs, v));
                if (verb != NULL && !has_word(comment, verb))
                    bad(r, d, rule, "%s %s: verb %s has no reason in the comment above its rule", k,
                        name_of(d), verb);
            }
            free(comment);
        }
    }
    struct mdoc *role = find(m, "ClusterRole", CG_SERVICE);
    if (role == NULL) {
        bad(r, NULL, NULL, "no ClusterRole " CG_SERVICE " (the pod watch needs list, watch)");
        return;
    }
    static const char *const want[] = {"list", "watch", "patch"};
    bool seen[3] = {false, false, false};
    yaml_node_t *rules = get(role, root(role), "rules", NULL);
    for (size_t j = 0; j < seq_len(rules); j++) {
        yaml_node_t *rule = seq_at(role, rules, j);
        yaml_node_t *res = get(role, rule, "resources", NULL),
                    *verbs = get(role, rule, "verbs", NULL);
        bool pods_only = seq_len(res) == 1 && seq_has(role, res, "pods") &&
                         seq_len(get(role, rule, "apiGroups", NULL)) == 1 &&
                         seq_has(role, get(role, rule, "apiGroups", NULL), "");
        for (size_t v = 0; v < seq_len(verbs); v++) {
            const char *verb = scalar(role, seq_at(role, verbs, v));
            size_t w = 0;
            while (w < 3 && (verb == NULL || strcmp(verb, want[w]) != 0))
                w++;
            if (w == 3 || !pods_only)
                bad(r, role, rule, "ClusterRole " CG_SERVICE " grants %s%s, which it does not use",
                    verb ? verb : "?", pods_only ? "" : " beyond core pods");
            else
                seen[w] = true;
        }
    }
    for (size_t w = 0; w < 3; w++)
        if (!seen[w])
            bad(r, role, root(role), "ClusterRole " CG_SERVICE " must grant %s on pods", want[w]);
    struct mdoc *b = find(m, "ClusterRoleBinding", CG_SERVICE);
    yaml_node_t *subjects = b ? get(b, root(b), "subjects", NULL) : NULL;
    yaml_node_t *s0 = seq_at(b, subjects, 0);
    if (b == NULL || !scalar_is(b, get(b, root(b), "roleRef", "name", NULL), CG_SERVICE) ||
        seq_len(subjects) != 1 || !scalar_is(b, get(b, s0, "kind", NULL), "ServiceAccount") ||
        !scalar_is(b, get(b, s0, "name", NULL), CG_SERVICE) ||
        !scalar_is(b, get(b, s0, "namespace", NULL), CG_NS))
        bad(r, b, b ? root(b) : NULL,
            "ClusterRoleBinding " CG_SERVICE " must bind the role to ServiceAccount " CG_NS
            "/" CG_SERVICE " only");
}

/* Every key=value of selector (a mapping) is a label of the pod template. */
static bool selects_pods(struct mdoc *sd, yaml_node_t *selector, struct mdoc *dep)
{
    yaml_node_t *labels = get(dep, root(dep), "spec", "template", "metadata", "labels", NULL);
    if (selector == NULL || selector->type != YAML_MAPPING_NODE ||
        selector->data.mapping.pairs.top == selector->data.mapping.pairs.start)
        return false;
    for (yaml_node_pair_t *p = selector->data.mapping.pairs.start;
         p < selector->data.mapping.pairs.top; p++) {
        const char *k = scalar(sd, yaml_document_get_node(&sd->y, p->key));
        const char *v = scalar(sd, yaml_document_get_node(&sd->y, p->value));
        if (k == NULL || v == NULL || !scalar_is(dep, get(dep, labels, k, NULL), v))
            return false;
    }
    return true;
}

static void check_service_pdb(struct manifests *m, struct report *r)
{
    struct mdoc *dep = find(m, "Deployment", CG_SERVICE);
    if (dep == NULL || webhook_container(dep) == NULL) {
        bad(r, NULL, NULL, "no webhook Deployment to check the Service and PDB against");
        return;
    }
    if (find(m, "Namespace", CG_NS) == NULL)
        bad(r, NULL, NULL, "no Namespace " CG_NS);

    struct mdoc *svc = find(m, "Service", CG_SERVICE);
    if (svc == NULL) {
        bad(r, NULL, NULL, "no Service " CG_SERVICE);
    } else {
        yaml_node_t *spec = get(svc, root(svc), "spec", NULL);
        if (!selects_pods(svc, get(svc, spec, "selector", NULL), dep))
            bad(r, svc, spec, "Service selector must select the webhook pods");
        bool ok = false;
        yaml_node_t *ports = get(svc, spec, "ports", NULL);
        for (size_t i = 0; i < seq_len(ports); i++) {
            yaml_node_t *p = seq_at(svc, ports, i);
            if (scalar_is(svc, get(svc, p, "port", NULL), "443") &&
                resolve_port(dep, webhook_container(dep),
                             scalar(svc, get(svc, p, "targetPort", NULL))) == 8443)
                ok = true;
        }
        if (!ok)
            bad(r, svc, spec, "Service must map port 443 to container port 8443");
    }

    struct mdoc *pdb = find(m, "PodDisruptionBudget", NULL);
    if (pdb == NULL) {
        bad(r, NULL, NULL, "no PodDisruptionBudget");
    } else {
        yaml_node_t *spec = get(pdb, root(pdb), "spec", NULL);
        if (!scalar_is(pdb, get(pdb, spec, "minAvailable", NULL), "1"))
            bad(r, pdb, spec, "PodDisruptionBudget minAvailable must be 1");
        if (!selects_pods(pdb, get(pdb, spec, "selector", "matchLabels", NULL), dep))
            bad(r, pdb, spec, "PodDisruptionBudget must select the webhook pods");
    }
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void dir_of(const char *path, char *out, size_t outlen)
{
    const char *slash = strrchr(path, '/');
    snprintf(out, outlen, "%.*s", (int)(slash - path), path);
}

/* Every file a Kustomization lists (resources, generator files, patches) exists. */
static void check_kustomization_refs(struct mdoc *d, struct report *r)
{
    char dir[4096], path[8192];
    dir_of(d->file->path, dir, sizeof(dir));
    yaml_node_t *top = root(d);

    yaml_node_t *res = get(d, top, "resources", NULL);
    for (size_t i = 0; i < seq_len(res); i++) {
        const char *ref = scalar(d, seq_at(d, res, i));
        if (ref == NULL)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, ref);
        if (is_dir(path)) {
            char k[8300];
            snprintf(k, sizeof(k), "%s/kustomization.yaml", path);
            if (!is_file(k))
                bad(r, d, seq_at(d, res, i), "resource %s: directory without kustomization.yaml",
                    ref);
        } else if (!is_file(path)) {
            bad(r, d, seq_at(d, res, i), "resource %s does not exist", ref);
        }
    }
    const char *gen_keys[] = {"configMapGenerator", "secretGenerator"};
    for (size_t g = 0; g < 2; g++) {
        yaml_node_t *gens = get(d, top, gen_keys[g], NULL);
        for (size_t i = 0; i < seq_len(gens); i++) {
            yaml_node_t *files = get(d, seq_at(d, gens, i), "files", NULL);
            for (size_t j = 0; j < seq_len(files); j++) {
                const char *ref = scalar(d, seq_at(d, files, j));
                const char *eq = ref != NULL ? strchr(ref, '=') : NULL;
                snprintf(path, sizeof(path), "%s/%s", dir, eq != NULL ? eq + 1 : ref);
                if (ref == NULL || !is_file(path))
                    bad(r, d, seq_at(d, files, j), "generator file %s does not exist",
                        ref != NULL ? ref : "?");
            }
        }
    }
    yaml_node_t *patches = get(d, top, "patches", NULL);
    for (size_t i = 0; i < seq_len(patches); i++) {
        const char *ref = scalar(d, get(d, seq_at(d, patches, i), "path", NULL));
        if (ref == NULL)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, ref);
        if (!is_file(path))
            bad(r, d, seq_at(d, patches, i), "patch %s does not exist", ref);
    }
}

/* Is the manifest file at path listed as a resource by the kustomization of its directory? */
static bool listed(struct manifests *m, const char *path)
{
    char dir[4096];
    dir_of(path, dir, sizeof(dir));
    const char *base = path + strlen(dir) + 1;
    for (size_t i = 0; i < m->n_docs; i++) {
        struct mdoc *d = &m->docs[i];
        const char *k = kind_of(d);
        char kdir[4096];
        if (k == NULL || strcmp(k, "Kustomization") != 0)
            continue;
        dir_of(d->file->path, kdir, sizeof(kdir));
        if (strcmp(kdir, dir) == 0 && seq_has(d, get(d, root(d), "resources", NULL), base))
            return true;
    }
    return false;
}

static void check_kustomize(struct manifests *m, struct report *r)
{
    if (!is_file(CG_MANIFESTS_DIR "/kustomization.yaml"))
        bad(r, NULL, NULL, "manifests/kustomization.yaml missing (kubectl apply -k manifests/)");
    size_t n = 0;
    for (size_t i = 0; i < m->n_docs; i++) {
        struct mdoc *d = &m->docs[i];
        const char *k = kind_of(d);
        if (k != NULL && strcmp(k, "Kustomization") == 0) {
            check_kustomization_refs(d, r);
            n++;
        }
    }
    if (n == 0)
        bad(r, NULL, NULL, "no Kustomization");
    /* Every Kubernetes object file is applied by some kustomization (no forgotten file). */
    for (size_t i = 0; i < m->n_files; i++) {
        const char *p = m->files[i].path;
        const char *rel = p + strlen(CG_MANIFESTS_DIR);
        if (ends_with(rel, "/kustomization.yaml") || strstr(rel, "/policies/") != NULL)
            continue;
        if (!listed(m, p))
            bad(r, NULL, NULL, "%s is not listed in its directory's kustomization.yaml",
                p + strlen(CG_SOURCE_DIR "/"));
    }
}

/* Files of the policies ConfigMap generator(s), absolute; caller frees each and the array. */
static char **policy_files(struct manifests *m, size_t *n)
{
    char **out = NULL;
    *n = 0;
    for (size_t i = 0; i < m->n_docs; i++) {
        struct mdoc *d = &m->docs[i];
        const char *k = kind_of(d);
        if (k == NULL || strcmp(k, "Kustomization") != 0)
            continue;
        char dir[4096];
        dir_of(d->file->path, dir, sizeof(dir));
        yaml_node_t *gens = get(d, root(d), "configMapGenerator", NULL);
        for (size_t g = 0; g < seq_len(gens); g++) {
            yaml_node_t *files = get(d, seq_at(d, gens, g), "files", NULL);
            for (size_t j = 0; j < seq_len(files); j++) {
                const char *ref = scalar(d, seq_at(d, files, j));
                if (ref == NULL)
                    continue;
                const char *eq = strchr(ref, '=');
                size_t len = strlen(dir) + strlen(ref) + 2;
                out = cg_xrealloc(out, (*n + 1) * sizeof(*out));
                out[*n] = cg_xmalloc(len);
                snprintf(out[*n], len, "%s/%s", dir, eq != NULL ? eq + 1 : ref);
                (*n)++;
            }
        }
    }
    return out;
}

static void on_policy_error(const struct cg_err *err, void *ud)
{
    char line[1024];
    cg_err_format(err, line, sizeof(line));
    bad(ud, NULL, NULL, "policy: %s", line);
}

/* Loads the files with the policy loader the server uses. */
static void check_policy_paths(const char *const *paths, size_t n, struct report *r)
{
    if (n == 0) {
        bad(r, NULL, NULL, "no policy file in the ConfigMap");
        return;
    }
    struct cg_policy_set *set = NULL;
    int before = r->n;
    enum cg_status st = cg_policy_set_load_paths(paths, n, on_policy_error, r, &set);
    if (st != CG_OK && r->n == before)
        bad(r, NULL, NULL, "policy: loading failed: %s", cg_status_str(st));
    if (st == CG_OK && (set == NULL || set->n == 0))
        bad(r, NULL, NULL, "policy: the ConfigMap holds no policy");
    cg_policy_set_unref(set);
}

static void check_policies(struct manifests *m, struct report *r)
{
    size_t n = 0;
    char **paths = policy_files(m, &n);
    bool payments = false;
    for (size_t i = 0; i < n; i++) {
        /* A copy of a shipped example must stay that example, byte for byte. */
        const char *base = strrchr(paths[i], '/') + 1;
        char example[4096];
        snprintf(example, sizeof(example), "%s/%s", CG_EXAMPLES_DIR, base);
        payments |= strcmp(base, "payments.yaml") == 0;
        if (!is_file(example)) {
            if (strcmp(base, "payments.yaml") == 0)
                bad(r, NULL, NULL,
                    "policies/examples/payments.yaml is gone: the copy has no source");
            continue;
        }
        const struct mfile *f = NULL;
        for (size_t j = 0; j < m->n_files; j++) {
            if (strcmp(m->files[j].path, paths[i]) == 0)
                f = &m->files[j];
        }
        size_t elen = 0;
        char *etext = cg_test_read_file(example, &elen);
        if (f == NULL || f->len != elen || memcmp(f->text, etext, elen) != 0)
            bad(r, NULL, NULL, "%s differs from policies/examples/%s: copy it again", paths[i],
                base);
        free(etext);
    }
    if (!payments)
        bad(r, NULL, NULL, "the policies ConfigMap must ship payments.yaml");
    check_policy_paths((const char *const *)paths, n, r);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

static void check_cert_manager(struct manifests *m, struct report *r)
{
    struct mdoc *dep = find(m, "Deployment", CG_SERVICE);
    struct mdoc *hooks = find(m, "ValidatingWebhookConfiguration", NULL);
    if (dep == NULL || hooks == NULL || webhook_container(dep) == NULL) {
        bad(r, NULL, NULL, "no Deployment or webhook configuration to check certificates against");
        return;
    }
    const char *inject = scalar(hooks, get(hooks, root(hooks), "metadata", "annotations",
                                           "cert-manager.io/inject-ca-from", NULL));
    const char *slash = inject != NULL ? strchr(inject, '/') : NULL;
    struct mdoc *cert = slash != NULL ? find(m, "Certificate", slash + 1) : NULL;
    if (cert == NULL) {
        bad(r, NULL, NULL, "no Certificate named by cert-manager.io/inject-ca-from");
        return;
    }
    yaml_node_t *spec = get(cert, root(cert), "spec", NULL);
    yaml_node_t *tv = volume_at(dep, webhook_container(dep), "/etc/cellgate/tls");
    const char *secret = scalar(dep, get(dep, tv, "secret", "secretName", NULL));
    if (secret == NULL || !scalar_is(cert, get(cert, spec, "secretName", NULL), secret))
        bad(r, cert, spec, "Certificate secretName must be the Secret the Deployment mounts");
    if (!scalar_is(cert, get(cert, root(cert), "metadata", "namespace", NULL), CG_NS))
        bad(r, cert, spec, "Certificate must live in " CG_NS);
    yaml_node_t *dns = get(cert, spec, "dnsNames", NULL);
    if (!seq_has(cert, dns, CG_SERVICE "." CG_NS ".svc"))
        bad(r, cert, spec, "Certificate dnsNames must include " CG_SERVICE "." CG_NS ".svc");
    const char *issuer = scalar(cert, get(cert, spec, "issuerRef", "name", NULL));
    if (issuer == NULL || find(m, "Issuer", issuer) == NULL)
        bad(r, cert, spec, "Certificate issuerRef must name an Issuer of the manifests");
}

/* ------------------------------------------------------------------------------------------ */
/* Tests */

typedef void (*check_fn)(struct manifests *m, struct report *r);

static void run_clean(check_fn fn)
{
    struct manifests m;
    struct report r;
    manifests_load(&m, NULL, 0);
    report_init(&r);
    fn(&m, &r);
    if (r.n != 0)
        fail_msg("%d broken invariant(s):\n%s", r.n, report_text(&r));
    report_dispose(&r);
    manifests_dispose(&m);
}

/* Applies the mutations, runs the check, and expects a report containing want. */
static void run_broken(check_fn fn, const struct mutation *muts, size_t n, const char *want)
{
    struct manifests m;
    struct report r;
    manifests_load(&m, muts, n);
    report_init(&r);
    fn(&m, &r);
    if (r.n == 0 || strstr(report_text(&r), want) == NULL)
        fail_msg("expected a report with \"%s\", got %d:\n%s", want, r.n, report_text(&r));
    report_dispose(&r);
    manifests_dispose(&m);
}

#define CG_BROKEN(fn, want, ...)                                                                   \
    do {                                                                                           \
        const struct mutation muts_[] = {__VA_ARGS__};                                             \
        run_broken(fn, muts_, sizeof(muts_) / sizeof(muts_[0]), want);                             \
    } while (0)

#define CG_WEBHOOKS_YAML "base/webhooks.yaml"
#define CG_DEPLOYMENT_YAML "base/deployment.yaml"

static void test_tree_parses(void **state)
{
    struct manifests m;
    manifests_load(&m, NULL, 0);
    /* Namespace, SA, Deployment, Service, PDB, 2 webhook configs, 3 Kustomizations,
     * Issuers and Certificates: a vanished file shows here. */
    assert_true(m.n_files >= 10);
    assert_true(m.n_docs >= 14);
    manifests_dispose(&m);
    run_clean(check_documents);
}

static void test_tree_parse_error_reported(void **state)
{
    CG_BROKEN(check_documents, "webhooks.yaml:",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "webhooks:\n", "webhooks: [\n"});
    CG_BROKEN(check_documents, "without metadata.name",
              {"base/pdb.yaml", MUT_REPLACE_FIRST, "  name: cellgate-webhook\n", "  nom: x\n"});
}

static void test_webhooks_clean(void **state)
{
    run_clean(check_webhooks);
}

static void test_webhooks_broken(void **state)
{
    CG_BROKEN(check_webhooks, "admissionReviewVersions must be exactly",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "admissionReviewVersions: [\"v1\"]",
               "admissionReviewVersions: [\"v1\", \"v1beta1\"]"});
    CG_BROKEN(
        check_webhooks, "sideEffects must be NoneOnDryRun",
        {CG_WEBHOOKS_YAML, MUT_REPLACE_ALL, "sideEffects: NoneOnDryRun", "sideEffects: None"});
    CG_BROKEN(check_webhooks, "timeoutSeconds must be set",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "timeoutSeconds: 5", "timeoutSeconds: 30"});
    CG_BROKEN(
        check_webhooks, "matchPolicy must be Equivalent",
        {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "matchPolicy: Equivalent", "matchPolicy: Exact"});
    CG_BROKEN(
        check_webhooks, "failurePolicy must be set",
        {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "failurePolicy: Fail", "# failurePolicy: Fail"});
    /* A flipped policy keeps a reason that argues for the other one. */
    CG_BROKEN(
        check_webhooks, "failurePolicy Fail needs a comment",
        {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "failurePolicy: Ignore", "failurePolicy: Fail"});
    CG_BROKEN(check_webhooks, "failurePolicy Ignore needs a comment",
              {CG_WEBHOOKS_YAML, MUT_STRIP_COMMENT, "failurePolicy: Ignore", NULL});
    CG_BROKEN(check_webhooks, "namespaceSelector must exclude",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "\"kube-system\"", "\"kube-public\""});
    CG_BROKEN(check_webhooks, "namespaceSelector must exclude",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "operator: NotIn", "operator: In"});
    CG_BROKEN(check_webhooks, "reinvocationPolicy IfNeeded",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_ALL, "reinvocationPolicy: IfNeeded",
               "reinvocationPolicy: Never"});
    CG_BROKEN(check_webhooks, "path must be /mutate",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "path: /mutate", "path: /validate"});
    CG_BROKEN(check_webhooks, "path must be /validate",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_ALL, "path: /validate", "path: /mutate"});
    CG_BROKEN(check_webhooks, "caBundle must be left out",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "    clientConfig:\n",
               "    clientConfig:\n      caBundle: \"\"\n"});
    CG_BROKEN(check_webhooks, "pods/eviction CREATE must be covered",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "[\"pods/eviction\"]", "[\"pods/status\"]"});
    CG_BROKEN(check_webhooks, "Pods CREATE must be covered",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "resources: [\"pods\"]",
               "resources: [\"services\"]"});
    CG_BROKEN(check_webhooks, "would send unrelated objects",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_FIRST, "operations: [\"CREATE\", \"UPDATE\"]",
               "operations: [\"*\"]"});
}

static void test_deployment_clean(void **state)
{
    run_clean(check_deployment);
}

static void test_deployment_broken(void **state)
{
    CG_BROKEN(check_deployment, "replicas must be 2",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_FIRST, "replicas: 2", "replicas: 1"});
    CG_BROKEN(check_deployment, "readinessProbe must GET /readyz",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_FIRST, "path: /readyz", "path: /healthz"});
    CG_BROKEN(check_deployment, "livenessProbe must GET /healthz",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_FIRST, "path: /healthz", "path: /readyz"});
    CG_BROKEN(check_deployment, "runAsNonRoot must be true",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_ALL, "runAsNonRoot: true", "runAsNonRoot: false"});
    CG_BROKEN(check_deployment, "readOnlyRootFilesystem must be true",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_FIRST, "readOnlyRootFilesystem: true",
               "readOnlyRootFilesystem: false"});
    CG_BROKEN(check_deployment, "capabilities must drop ALL",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_FIRST, "drop: [\"ALL\"]", "drop: [\"NET_RAW\"]"});
    CG_BROKEN(check_deployment, "resources.requests must set cpu and memory",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_FIRST, "requests:", "claims:"});
    CG_BROKEN(check_deployment, "args must include --policies /etc/cellgate/policies",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_FIRST, "- /etc/cellgate/policies", "- /policies"});
    CG_BROKEN(check_deployment, "/etc/cellgate/policies must mount",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_FIRST, "name: cellgate-policies", "name: other"});
    CG_BROKEN(check_deployment, "spread over topology.kubernetes.io/zone",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_ALL, "topologyKey: topology.kubernetes.io/zone",
               "topologyKey: kubernetes.io/hostname"});
    CG_BROKEN(check_deployment, "automountServiceAccountToken must be true",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_FIRST, "automountServiceAccountToken: true",
               "automountServiceAccountToken: false"});
    CG_BROKEN(check_deployment, "allowPrivilegeEscalation must be false",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_FIRST, "allowPrivilegeEscalation: false",
               "allowPrivilegeEscalation: true"});
    CG_BROKEN(check_deployment, "seccompProfile must be RuntimeDefault",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_ALL, "type: RuntimeDefault", "type: Unconfined"});
    CG_BROKEN(check_deployment, "the webhook refuses a key others can read",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_FIRST, "defaultMode: 0440", "defaultMode: 0644"});
    CG_BROKEN(check_deployment, "the webhook refuses a key others can read",
              {CG_DEPLOYMENT_YAML, MUT_REPLACE_FIRST, "fsGroup: 65532", "supplementalGroups: []"});
}

#define CG_RBAC_YAML "base/rbac.yaml"
#define CG_CONTROLLER_YAML "base/controller.yaml"
#define CG_CONTROLLER_RBAC_YAML "base/controller-rbac.yaml"

static void test_rbac_clean(void **state)
{
    run_clean(check_rbac);
    run_clean(check_controller);
}

static void test_controller_broken(void **state)
{
    CG_BROKEN(check_controller, "grants",
              {CG_CONTROLLER_RBAC_YAML, MUT_REPLACE_FIRST,
               "verbs: [\"list\", \"watch\", \"patch\"]",
               "verbs: [\"list\", \"watch\", \"patch\", \"delete\"]"});
    CG_BROKEN(check_rbac, "verb delete has no reason",
              {CG_CONTROLLER_RBAC_YAML, MUT_REPLACE_FIRST,
               "verbs: [\"list\", \"watch\", \"patch\"]",
               "verbs: [\"list\", \"watch\", \"patch\", \"delete\"]"});
    CG_BROKEN(check_controller, "Role cellgate-controller-leader grants",
              {CG_CONTROLLER_RBAC_YAML, MUT_REPLACE_FIRST,
               "verbs: [\"get\", \"create\", \"update\"]",
               "verbs: [\"get\", \"create\", \"update\", \"delete\"]"});
    CG_BROKEN(check_controller, "controller replicas must be 2",
              {CG_CONTROLLER_YAML, MUT_REPLACE_FIRST, "replicas: 2", "replicas: 1"});
    CG_BROKEN(check_controller, "CELLGATE_IDENTITY must come from metadata.name",
              {CG_CONTROLLER_YAML, MUT_REPLACE_FIRST, "fieldPath: metadata.name",
               "fieldPath: metadata.uid"});
    CG_BROKEN(check_controller, "readOnlyRootFilesystem must be true",
              {CG_CONTROLLER_YAML, MUT_REPLACE_FIRST, "readOnlyRootFilesystem: true",
               "readOnlyRootFilesystem: false"});
    CG_BROKEN(check_controller, "allowPrivilegeEscalation must be false",
              {CG_CONTROLLER_YAML, MUT_REPLACE_FIRST, "allowPrivilegeEscalation: false",
               "allowPrivilegeEscalation: true"});
}

static void test_rbac_broken(void **state)
{
    CG_BROKEN(check_rbac, "verb watch has no reason",
              {CG_RBAC_YAML, MUT_REPLACE_FIRST, "# list, watch: the pod watch cache",
               "# list: the pod cache"});
    CG_BROKEN(check_rbac, "verb patch has no reason",
              {CG_RBAC_YAML, MUT_REPLACE_FIRST, "# patch:", "# update:"});
    CG_BROKEN(
        check_rbac, "grants delete, which it does not use",
        {CG_RBAC_YAML, MUT_REPLACE_FIRST, "verbs: [\"patch\"]", "verbs: [\"patch\", \"delete\"]"},
        {CG_RBAC_YAML, MUT_REPLACE_FIRST, "# patch:", "# patch, delete:"});
    CG_BROKEN(check_rbac, "grants more than is used",
              {CG_RBAC_YAML, MUT_REPLACE_FIRST, "resources: [\"pods\"]", "resources: [\"*\"]"});
    CG_BROKEN(
        check_rbac, "must grant watch on pods",
        {CG_RBAC_YAML, MUT_REPLACE_FIRST, "verbs: [\"list\", \"watch\"]", "verbs: [\"list\"]"});
    CG_BROKEN(check_rbac, "bind the role to ServiceAccount",
              {CG_RBAC_YAML, MUT_REPLACE_FIRST, "    name: cellgate-webhook\n    namespace",
               "    name: default\n    namespace"});
}

static void test_service_pdb_clean(void **state)
{
    run_clean(check_service_pdb);
}

static void test_service_pdb_broken(void **state)
{
    CG_BROKEN(check_service_pdb, "minAvailable must be 1",
              {"base/pdb.yaml", MUT_REPLACE_FIRST, "minAvailable: 1", "minAvailable: 0"});
    CG_BROKEN(check_service_pdb, "Service must map port 443",
              {"base/service.yaml", MUT_REPLACE_FIRST, "targetPort: https", "targetPort: metrics"});
    CG_BROKEN(check_service_pdb, "Service selector must select",
              {"base/service.yaml", MUT_REPLACE_FIRST, "component: webhook\n  ports",
               "component: web\n  ports"});
}

static void test_kustomize_clean(void **state)
{
    run_clean(check_kustomize);
}

static void test_kustomize_broken(void **state)
{
    CG_BROKEN(check_kustomize, "resource pdb-gone.yaml does not exist",
              {"base/kustomization.yaml", MUT_REPLACE_FIRST, "- pdb.yaml", "- pdb-gone.yaml"});
    CG_BROKEN(check_kustomize, "pdb.yaml is not listed",
              {"base/kustomization.yaml", MUT_REPLACE_FIRST, "- pdb.yaml", "- service.yaml"});
    CG_BROKEN(check_kustomize, "generator file policies/gone.yaml does not exist",
              {"base/kustomization.yaml", MUT_REPLACE_FIRST, "- policies/payments.yaml",
               "- policies/gone.yaml"});
    CG_BROKEN(check_kustomize, "directory without kustomization.yaml",
              {"manifests/kustomization.yaml", MUT_REPLACE_FIRST, "- base", "- base/policies"});
}

static void test_policies_clean(void **state)
{
    run_clean(check_policies);
}

static void test_policies_copy_drift(void **state)
{
    CG_BROKEN(check_policies, "differs from policies/examples/payments.yaml",
              {"base/policies/payments.yaml", MUT_REPLACE_FIRST, "\n", "\n# edited\n"});
}

/* The loader check fails on a policy the loader refuses (a real file on disk). */
static void test_policies_invalid_rejected(void **state)
{
    char dir[] = "/tmp/cg-test-manifests-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/bad.yaml", dir);
    size_t len = 0;
    char *text = cg_test_read_file(CG_MANIFESTS_DIR "/base/policies/payments.yaml", &len);
    char *broken = replace(text, "spec:\n", "spec:\n  noSuchKey: 1\n", false);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(broken, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);

    struct report r;
    report_init(&r);
    const char *paths[] = {path};
    check_policy_paths(paths, 1, &r);
    if (r.n == 0 || strstr(report_text(&r), "bad.yaml") == NULL)
        fail_msg("the loader accepted a policy with an unknown key: %s", report_text(&r));
    report_dispose(&r);

    report_init(&r);
    check_policy_paths(NULL, 0, &r);
    assert_int_equal(r.n, 1);
    report_dispose(&r);

    free(text);
    free(broken);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_cert_manager_clean(void **state)
{
    run_clean(check_cert_manager);
}

static void test_cert_manager_broken(void **state)
{
    CG_BROKEN(check_cert_manager, "secretName must be the Secret the Deployment mounts",
              {"cert-manager/certificate.yaml", MUT_REPLACE_FIRST,
               "secretName: cellgate-webhook-tls", "secretName: other-tls"});
    CG_BROKEN(check_cert_manager, "no Certificate named by",
              {CG_WEBHOOKS_YAML, MUT_REPLACE_ALL, "cellgate-system/cellgate-webhook",
               "cellgate-system/renamed"});
    CG_BROKEN(check_cert_manager, "dnsNames must include",
              {"cert-manager/certificate.yaml", MUT_REPLACE_FIRST,
               "- cellgate-webhook.cellgate-system.svc\n", "- cellgate.example\n"});
}

/* The Deployment's args are accepted by the server's own option parser, with the values the
 * mounts and the Service expect. */
static void test_deployment_args_parse(void **state)
{
    struct manifests m;
    manifests_load(&m, NULL, 0);
    struct mdoc *d = find(&m, "Deployment", CG_SERVICE);
    assert_non_null(d);
    yaml_node_t *c = webhook_container(d);
    assert_non_null(c);
    yaml_node_t *args = get(d, c, "args", NULL);
    size_t n = seq_len(args);
    assert_true(n > 0);
    char **argv = cg_xcalloc(n + 2, sizeof(*argv));
    argv[0] = "cellgate-webhook";
    for (size_t i = 0; i < n; i++) {
        argv[i + 1] = (char *)scalar(d, seq_at(d, args, i));
        assert_non_null(argv[i + 1]);
    }
    struct cg_server_config cfg;
    struct cg_err err;
    cg_err_clear(&err);
    cg_server_config_init(&cfg);
    char *const envp[] = {NULL};
    enum cg_status st = cg_server_config_parse(&cfg, (int)n + 1, argv, envp, &err);
    if (st != CG_OK)
        fail_msg("cellgate-webhook refuses the Deployment's args: %s", err.msg);
    assert_string_equal(cfg.listen, "0.0.0.0:8443");
    assert_string_equal(cfg.cert, "/etc/cellgate/tls/tls.crt");
    assert_string_equal(cfg.key, "/etc/cellgate/tls/tls.key");
    assert_string_equal(cfg.policies, "/etc/cellgate/policies");
    assert_string_equal(cfg.metrics_listen, "0.0.0.0:9090");
    /* Probes need the kubelet to reach the plain listener from outside the pod. */
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(cg_server_addr_parse(cfg.metrics_listen, &ss, &len, &err), CG_OK);
    assert_int_equal(cg_server_addr_parse(cfg.listen, &ss, &len, &err), CG_OK);
    cg_server_config_dispose(&cfg);
    free(argv);
    manifests_dispose(&m);
}

/* Runs `kubectl kustomize dir` (when kubectl is installed) and returns its output; NULL and
 * skips the test when there is no kubectl. Fails the test on a non-zero exit. */
static char *kustomize_build(const char *dir)
{
    if (system("command -v kubectl >/dev/null 2>&1") != 0) {
        CG_TEST_SKIP("no kubectl on PATH: the kustomize build is not checked");
        return NULL;
    }
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "timeout 120 kubectl kustomize '%s' 2>&1", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    struct cg_buf out;
    cg_buf_init(&out, 0);
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), p)) > 0)
        assert_int_equal(cg_buf_append(&out, chunk, got), CG_OK);
    int rc = pclose(p);
    char *text = cg_buf_take(&out, NULL);
    if (rc != 0)
        fail_msg("kubectl kustomize %s failed (%d):\n%s", dir, rc, text != NULL ? text : "");
    return text;
}

/* Both entry points build with the real kustomize (a layout mistake, such as an overlay
 * nested in the directory it builds on, only shows there). */
static void test_kustomize_build(void **state)
{
    char *base = kustomize_build(CG_MANIFESTS_DIR);
    assert_non_null(strstr(base, "kind: MutatingWebhookConfiguration"));
    assert_non_null(strstr(base, "kind: ValidatingWebhookConfiguration"));
    assert_non_null(strstr(base, "name: cellgate-policies"));
    /* the image scripts/image builds, named by the kustomize images entry */
    assert_non_null(strstr(base, "image: cellgate:0.1.0\n"));
    assert_null(strstr(base, "kind: Certificate"));
    free(base);
    char *cm = kustomize_build(CG_MANIFESTS_DIR "/cert-manager");
    assert_non_null(strstr(cm, "kind: Certificate"));
    assert_non_null(strstr(cm, "kind: MutatingWebhookConfiguration"));
    free(cm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_parses),
        cmocka_unit_test(test_tree_parse_error_reported),
        cmocka_unit_test(test_webhooks_clean),
        cmocka_unit_test(test_webhooks_broken),
        cmocka_unit_test(test_deployment_clean),
        cmocka_unit_test(test_deployment_broken),
        cmocka_unit_test(test_rbac_clean),
        cmocka_unit_test(test_rbac_broken),
        cmocka_unit_test(test_controller_broken),
        cmocka_unit_test(test_service_pdb_clean),
        cmocka_unit_test(test_service_pdb_broken),
        cmocka_unit_test(test_kustomize_clean),
        cmocka_unit_test(test_kustomize_broken),
        cmocka_unit_test(test_policies_clean),
        cmocka_unit_test(test_policies_copy_drift),
        cmocka_unit_test(test_policies_invalid_rejected),
        cmocka_unit_test(test_cert_manager_clean),
        cmocka_unit_test(test_cert_manager_broken),
        cmocka_unit_test(test_deployment_args_parse),
        cmocka_unit_test(test_kustomize_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
