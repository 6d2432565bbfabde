#include "cli/pods.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/mem.h"
#include "cluster/cluster.h"

#define MAX_CELLS 64

struct cg_cli_pods {
    char **texts; /* each pod's compact JSON; the states point into them */
    struct cg_pod_state *pods;
    size_t n;
    struct cg_arena arena;                 /* unescaped strings */
    struct cg_cell_count cells[MAX_CELLS]; /* the last lookup's view */
};

/* Frees what jansson allocated (json_dumps), with whatever allocator it was given. */
static void jfree(void *p)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    f(p);
}

static enum cg_status add_pod(struct cg_cli_pods *p, const json_t *item, size_t index,
                              const char *path, struct cg_err *err)
{
    char *text = json_dumps(item, JSON_COMPACT);
    if (text == NULL)
        return cg_err_set(err, CG_EINVAL, "%s: item %zu is not a JSON object", path, index);
    struct cg_err e;
    cg_err_clear(&e);
    struct cg_pod_state st;
    if (cg_pod_state_decode(text, strlen(text), &p->arena, &st, &e) != CG_OK) {
        jfree(text);
        return cg_err_set(err, CG_EINVAL, "%s: item %zu: %s", path, index, e.msg);
    }
    p->texts[p->n] = text;
    p->pods[p->n++] = st;
    return CG_OK;
}

enum cg_status cg_cli_pods_load(const char *path, struct cg_cli_pods **out, struct cg_err *err)
{
    *out = NULL;
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (doc == NULL)
        return cg_err_set(err, CG_EPARSE, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    enum cg_status st = CG_OK;
    const json_t *items = json_object_get(doc, "items");
    size_t n = json_is_array(items) ? json_array_size(items) : 1;
    struct cg_cli_pods *p = cg_xcalloc(1, sizeof(*p));
    cg_arena_init(&p->arena, 16 * 1024);
    p->texts = cg_xcalloc(n ? n : 1, sizeof(*p->texts));
    p->pods = cg_xcalloc(n ? n : 1, sizeof(*p->pods));
    if (json_is_array(items)) {
        for (size_t i = 0; i < n && st == CG_OK; i++)
            st = add_pod(p, json_array_get(items, i), i, path, err);
    } else if (json_is_object(doc) && json_object_get(doc, "metadata") != NULL) {
        st = add_pod(p, doc, 0, path, err);
    } else {
        st = cg_err_set(err, CG_EINVAL, "%s: want `kubectl get pods -o json` (a List of pods)",
                        path);
    }
    json_decref(doc);
    if (st != CG_OK) {
        cg_cli_pods_destroy(p);
        return st;
    }
    *out = p;
    return CG_OK;
}

void cg_cli_pods_destroy(struct cg_cli_pods *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        jfree(p->texts[i]);
    free(p->texts);
    free(p->pods);
    cg_arena_dispose(&p->arena);
    free(p);
}

static void lookup(void *ud, const struct cg_admission_request *req, struct cg_arena *arena,
                   struct cg_cluster_view *view)
{
    struct cg_cli_pods *p = ud;
    view->known = true;
    if (cg_str_eq_c(req->sub_resource, "eviction")) {
        for (size_t i = 0; i < p->n; i++)
            if (cg_str_eq(p->pods[i].namespace_, req->namespace_) &&
                cg_str_eq(p->pods[i].name, req->name))
                view->pod = &p->pods[i];
        return;
    }
    struct cg_str owner = req->object.owner.uid;
    size_t n_cells = 0;
    for (size_t i = 0; owner.n > 0 && i < p->n; i++) {
        const struct cg_pod_state *s = &p->pods[i];
        if (!cg_str_eq(s->owner_uid, owner) || s->cell.n == 0 || !cg_pod_state_is_live(s))
            continue;
        size_t k = 0;
        while (k < n_cells && !cg_str_eq(p->cells[k].cell, s->cell))
            k++;
        if (k == n_cells) {
            if (n_cells == MAX_CELLS)
                continue;
            p->cells[n_cells++] = (struct cg_cell_count){s->cell, 0, 0};
        }
        p->cells[k].pods++;
    }
    view->cells = p->cells;
    view->n_cells = n_cells;
}

struct cg_cluster_source cg_cli_pods_source(struct cg_cli_pods *p)
{
    return (struct cg_cluster_source){p, lookup, NULL};
}
