/* Loading a policy set: which files, in which order, all or nothing; and the set's life. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "policy/policy_internal.h"
#include "policy/tz.h"

#define POLICY_FILE_MAX (4u * 1024 * 1024)
#define DIR_DEPTH_MAX 32
#define PATH_LEN_MAX 4096

struct file_id {
    dev_t dev;
    ino_t ino;
};

struct name_pos {
    int line, col;
};

struct loader {
    struct cg_arena mem;  /* the set's memory, moved into it on success */
    struct cg_arena tree; /* one file's YAML tree, reset per file */
    struct cg_policy *items;
    struct name_pos *pos;
    size_t n, cap;
    struct file_id *seen; /* files and directories already visited */
    size_t n_seen, cap_seen;
    size_t n_files;
    void (*on_error)(const struct cg_err *err, void *ud);
    void *ud;
    enum cg_status first;
};

static void report(struct loader *L, const struct cg_err *e)
{
    if (L->first == CG_OK)
        L->first = e->status != CG_OK ? e->status : CG_EINVAL;
    if (L->on_error)
        L->on_error(e, L->ud);
}

static void report_msg(struct loader *L, enum cg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report_msg(struct loader *L, enum cg_status st, const char *fmt, ...)
{
    struct cg_err e;
    char msg[CG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cg_err_clear(&e);
    cg_err_set(&e, st, "%s", msg);
    report(L, &e);
}

/* Marks a file or directory as visited; false when it was already. */
static bool visit(struct loader *L, const struct stat *sb)
{
    for (size_t i = 0; i < L->n_seen; i++)
        if (L->seen[i].dev == sb->st_dev && L->seen[i].ino == sb->st_ino)
            return false;
    if (L->n_seen == L->cap_seen) {
        L->cap_seen = L->cap_seen ? 2 * L->cap_seen : 16;
        L->seen = cg_xrealloc(L->seen, L->cap_seen * sizeof(*L->seen));
    }
    L->seen[L->n_seen++] = (struct file_id){sb->st_dev, sb->st_ino};
    return true;
}

void cg__policy_dispose(struct cg_policy *p)
{
    for (size_t i = 0; i < p->emergency.n_freezes; i++) {
        cg_tz_destroy(p->emergency.freezes[i].tz);
        p->emergency.freezes[i].tz = NULL;
    }
}

static void report_cb(const struct cg_err *e, void *ud)
{
    report(ud, e);
}

static void load_text(struct loader *L, const char *file, const char *data, size_t len)
{
    struct cg_err e;
    struct cg_ynode **docs = NULL;
    size_t n_docs = 0;
    cg_err_clear(&e);
    cg_arena_reset(&L->tree);
    if (cg__yaml_parse(file, data, len, &L->tree, &docs, &n_docs, &e)) {
        report(L, &e);
        return;
    }
    for (size_t i = 0; i < n_docs; i++) {
        if (docs[i] == NULL)
            continue; /* an empty document, e.g. after a trailing --- */
        struct cg_policy p;
        struct name_pos np = {0, 0};
        enum cg_status st = cg__policy_decode_doc_each(file, docs[i], &L->mem, NULL, &p, &np.line,
                                                       &np.col, report_cb, L, &e);
        if (st != CG_OK) { /* every error went to report_cb */
            cg__policy_dispose(&p);
            continue; /* the next document is a policy of its own: check it too */
        }
        if (L->n == L->cap) {
            L->cap = L->cap ? 2 * L->cap : 16;
            L->items = cg_xrealloc(L->items, L->cap * sizeof(*L->items));
            L->pos = cg_xrealloc(L->pos, L->cap * sizeof(*L->pos));
        }
        L->items[L->n] = p;
        L->pos[L->n] = np;
        L->n++;
    }
}

static void load_file(struct loader *L, const char *path)
{
    struct cg_buf buf;
    struct cg_err e;
    cg_err_clear(&e);
    cg_buf_init(&buf, POLICY_FILE_MAX);
    L->n_files++;
    if (cg_file_read(path, POLICY_FILE_MAX, &buf, &e))
        report(L, &e);
    else
        load_text(L, path, buf.data, buf.len);
    cg_buf_dispose(&buf);
}

static bool has_policy_ext(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Depth first, names sorted, dot-named entries skipped, symlinks followed; a directory or
 * file reached twice (a link loop, a second link) is visited once. */
static void walk(struct loader *L, const char *dir, int depth)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = NULL;
    if (depth > DIR_DEPTH_MAX) {
        report_msg(L, CG_EINVAL, "%s: directories nested too deep", dir);
        goto out;
    }
    d = opendir(dir);
    if (d == NULL) {
        report_msg(L, CG_EIO, "%s: %s", dir, strerror(errno));
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue; /* ".", "..", "..data", "..2026_01_01_...", hidden files */
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            names = cg_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = cg_xstrdup(de->d_name);
    }
    closedir(d);
    d = NULL;
    if (n)
        qsort(names, n, sizeof(*names), name_cmp);
    size_t dlen = strlen(dir);
    bool slash = dlen > 0 && dir[dlen - 1] == '/';
    for (size_t i = 0; i < n; i++) {
        char path[PATH_LEN_MAX];
        struct stat sb;
        if ((size_t)snprintf(path, sizeof(path), "%s%s%s", dir, slash ? "" : "/", names[i]) >=
            sizeof(path)) {
            report_msg(L, CG_EINVAL, "%s/%s: path too long", dir, names[i]);
            continue;
        }
        if (stat(path, &sb) != 0) {
            if (has_policy_ext(names[i]))
                report_msg(L, CG_EIO, "%s: %s", path, strerror(errno));
            continue; /* a dangling link that is not a policy file is no business of ours */
        }
        if (S_ISDIR(sb.st_mode)) {
            if (visit(L, &sb))
                walk(L, path, depth + 1);
        } else if (S_ISREG(sb.st_mode) && has_policy_ext(names[i])) {
            if (visit(L, &sb))
                load_file(L, path);
        }
    }
out:
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void load_path(struct loader *L, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        report_msg(L, CG_EIO, "%s: %s", path, strerror(errno));
        return;
    }
    if (S_ISDIR(sb.st_mode)) {
        size_t before = L->n_files;
        visit(L, &sb);
        walk(L, path, 0);
        if (L->n_files == before)
            report_msg(L, CG_ENOTFOUND, "%s: no policy file (*.yaml or *.yml) in this directory",
                       path);
        return;
    }
    if (visit(L, &sb))
        load_file(L, path); /* named explicitly: whatever its extension */
}

struct name_ref {
    const char *name;
    size_t i;
};

static int name_ref_cmp(const void *a, const void *b)
{
    const struct name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return (x->i > y->i) - (x->i < y->i);
}

/* Names are unique across the whole set: the name is how a decision names its policy. */
static void check_unique_names(struct loader *L)
{
    if (L->n < 2)
        return;
    struct name_ref *refs = cg_xmalloc(L->n * sizeof(*refs));
    for (size_t i = 0; i < L->n; i++)
        refs[i] = (struct name_ref){L->items[i].name, i};
    qsort(refs, L->n, sizeof(*refs), name_ref_cmp);
    for (size_t k = 1; k < L->n; k++) {
        if (strcmp(refs[k - 1].name, refs[k].name) != 0)
            continue;
        const struct cg_policy *first = &L->items[refs[k - 1].i];
        size_t i = refs[k].i;
        struct cg_err e;
        cg_err_clear(&e);
        cg_err_set_at(&e, CG_EINVAL, L->items[i].file, L->pos[i].line, L->pos[i].col,
                      "metadata.name: policy \"%s\" is already defined in %s:%d:%d",
                      L->items[i].name, first->file, L->pos[refs[k - 1].i].line,
                      L->pos[refs[k - 1].i].col);
        report(L, &e);
    }
    free(refs);
}

static void loader_init(struct loader *L, void (*on_error)(const struct cg_err *, void *), void *ud)
{
    memset(L, 0, sizeof(*L));
    cg_arena_init(&L->mem, 16 * 1024);
    cg_arena_init(&L->tree, 64 * 1024);
    L->on_error = on_error;
    L->ud = ud;
}

/* Finishes loading: on success (and when out is wanted) the loader's policies and memory
 * move into a new set; otherwise everything is released. */
static enum cg_status loader_finish(struct loader *L, const char *what, struct cg_policy_set **out)
{
    check_unique_names(L); /* lint lists these too, after the files' own errors */
    if (L->first == CG_OK) {
        if (L->n == 0)
            report_msg(L, CG_ENOTFOUND, "%s: no ReleasePolicy document found", what);
    }
    enum cg_status st = L->first;
    if (st == CG_OK && out) {
        struct cg_policy_set *set = cg_xcalloc(1, sizeof(*set));
        set->items = L->items;
        set->n = L->n;
        set->mem = L->mem;
        atomic_init(&set->refcount, 1);
        set->index = cg__policy_index_create(set->items, set->n);
        L->items = NULL;
        L->n = 0;
        cg_arena_init(&L->mem, 0);
        *out = set;
    }
    for (size_t i = 0; i < L->n; i++)
        cg__policy_dispose(&L->items[i]);
    free(L->items);
    free(L->pos);
    free(L->seen);
    cg_arena_dispose(&L->mem);
    cg_arena_dispose(&L->tree);
    return st;
}

enum cg_status cg_policy_set_load_paths(const char *const *paths, size_t n,
                                        void (*on_error)(const struct cg_err *err, void *ud),
                                        void *ud, struct cg_policy_set **out)
{
    struct loader L;
    if (out)
        *out = NULL;
    loader_init(&L, on_error, ud);
    for (size_t i = 0; i < n; i++)
        load_path(&L, paths[i]);
    return loader_finish(&L, n == 1 ? paths[0] : "the given paths", out);
}

static void keep_first(const struct cg_err *e, void *ud)
{
    struct cg_err *err = ud;
    if (err && err->status == CG_OK)
        *err = *e;
}

enum cg_status cg_policy_set_load_dir(const char *dir, struct cg_policy_set **out,
                                      struct cg_err *err)
{
    struct stat sb;
    *out = NULL;
    cg_err_clear(err);
    if (stat(dir, &sb) != 0)
        return cg_err_set(err, CG_EIO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return cg_err_set(err, CG_EINVAL, "%s: not a directory", dir);
    return cg_policy_set_load_paths(&dir, 1, keep_first, err, out);
}

enum cg_status cg_policy_set_decode(const char *file, const char *yaml, size_t len,
                                    struct cg_policy_set **out, struct cg_err *err)
{
    struct loader L;
    *out = NULL;
    cg_err_clear(err);
    loader_init(&L, keep_first, err);
    load_text(&L, file, yaml, len);
    return loader_finish(&L, file, out);
}

struct cg_policy_set *cg_policy_set_ref(struct cg_policy_set *set)
{
    if (set)
        atomic_fetch_add_explicit(&set->refcount, 1, memory_order_relaxed);
    return set;
}

void cg_policy_set_unref(struct cg_policy_set *set)
{
    if (set == NULL)
        return;
    /* release so our reads happen before the free; acquire by the thread that frees */
    if (atomic_fetch_sub_explicit(&set->refcount, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < set->n; i++)
        cg__policy_dispose(&set->items[i]);
    cg__policy_index_destroy(set->index);
    free(set->items);
    cg_arena_dispose(&set->mem);
    free(set);
}

const struct cg_policy *cg_policy_set_get(const struct cg_policy_set *set, const char *name)
{
    for (size_t i = 0; set && i < set->n; i++)
        if (strcmp(set->items[i].name, name) == 0)
            return &set->items[i];
    return NULL;
}
