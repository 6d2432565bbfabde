/* Which policies cover an object. Policies that name exact namespaces are found by binary
 * search in an array sorted by (namespace, kind); the few with globs or no namespace list
 * are checked one by one. Both candidate lists are in set order and merged, so the result
 * is in set order too. */
#include <assert.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "policy/policy_internal.h"

struct exact_entry {
    const char *ns;
    size_t ns_len;
    unsigned kind;   /* one CG_KIND_* bit */
    uint32_t policy; /* index into the set */
};

struct cg_policy_index {
    struct exact_entry *exact;
    size_t n_exact;
    uint32_t *general; /* policies with globs or no namespace list, ascending */
    size_t n_general;
};

static bool has_glob(const struct cg_strv *v)
{
    for (size_t i = 0; i < v->n; i++)
        if (strpbrk(v->items[i], "*?[") != NULL)
            return true;
    return false;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct exact_entry *x = a, *y = b;
    int c = strcmp(x->ns, y->ns);
    if (c)
        return c;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return (x->policy > y->policy) - (x->policy < y->policy);
}

struct cg_policy_index *cg__policy_index_create(const struct cg_policy *items, size_t n)
{
    struct cg_policy_index *idx = cg_xcalloc(1, sizeof(*idx));
    size_t n_exact = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cg_match *m = &items[i].match;
        if (m->namespaces.n == 0 || has_glob(&m->namespaces)) {
            idx->n_general++;
            continue;
        }
        n_exact += m->namespaces.n * (size_t)__builtin_popcount(m->kinds);
    }
    idx->exact = cg_xmalloc((n_exact ? n_exact : 1) * sizeof(*idx->exact));
    idx->general = cg_xmalloc((idx->n_general ? idx->n_general : 1) * sizeof(*idx->general));
    idx->n_general = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cg_match *m = &items[i].match;
        if (m->namespaces.n == 0 || has_glob(&m->namespaces)) {
            idx->general[idx->n_general++] = (uint32_t)i;
            continue;
        }
        for (size_t j = 0; j < m->namespaces.n; j++)
            for (unsigned bit = 1; bit <= CG_KIND_POD; bit <<= 1)
                if (m->kinds & bit)
                    idx->exact[idx->n_exact++] = (struct exact_entry){
                        m->namespaces.items[j], strlen(m->namespaces.items[j]), bit, (uint32_t)i};
    }
    if (idx->n_exact > 1)
        qsort(idx->exact, idx->n_exact, sizeof(*idx->exact), entry_cmp);
    return idx;
}

void cg__policy_index_destroy(struct cg_policy_index *idx)
{
    if (idx == NULL)
        return;
    free(idx->exact);
    free(idx->general);
    free(idx);
}

/* Orders an entry against the key (ns, kind). */
static int key_cmp(const struct exact_entry *e, struct cg_str ns, unsigned kind)
{
    size_t elen = e->ns_len;
    size_t n = elen < ns.n ? elen : ns.n;
    int c = n ? memcmp(e->ns, ns.p, n) : 0;
    if (c)
        return c;
    if (elen != ns.n)
        return elen < ns.n ? -1 : 1;
    if (e->kind != kind)
        return e->kind < kind ? -1 : 1;
    return 0;
}

/* First entry not ordered before the key. */
static size_t lower_bound(const struct cg_policy_index *idx, struct cg_str ns, unsigned kind)
{
    size_t lo = 0, hi = idx->n_exact;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(&idx->exact[mid], ns, kind) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool namespace_matches(const struct cg_strv *patterns, struct cg_str ns)
{
    char buf[256];
    if (patterns->n == 0)
        return true;
    bool terminated = ns.n < sizeof(buf);
    if (terminated) {
        if (ns.n)
            memcpy(buf, ns.p, ns.n);
        buf[ns.n] = '\0';
    }
    for (size_t i = 0; i < patterns->n; i++) {
        const char *pat = patterns->items[i];
        if (cg_str_eq_c(ns, pat))
            return true;
        if (terminated && strpbrk(pat, "*?[") && fnmatch(pat, buf, 0) == 0)
            return true;
    }
    return false;
}

static const struct cg_str *label_get(const struct cg_kvs *labels, const char *key)
{
    for (size_t i = 0; labels && i < labels->n; i++)
        if (cg_str_eq_c(labels->items[i].key, key))
            return &labels->items[i].value;
    return NULL;
}

static bool value_in(const struct cg_strv *values, struct cg_str v)
{
    for (size_t i = 0; i < values->n; i++)
        if (cg_str_eq_c(v, values->items[i]))
            return true;
    return false;
}

bool cg_label_selector_eval(const struct cg_label_selector *sel, const struct cg_kvs *labels)
{
    for (size_t i = 0; i < sel->n; i++) {
        const struct cg_label_requirement *r = &sel->reqs[i];
        const struct cg_str *v = label_get(labels, r->key);
        bool ok = false;
        switch (r->op) {
        case CG_SEL_IN:
            ok = v && value_in(&r->values, *v);
            break;
        case CG_SEL_NOT_IN:
            ok = !v || !value_in(&r->values, *v);
            break;
        case CG_SEL_EXISTS:
            ok = v != NULL;
            break;
        case CG_SEL_DOES_NOT_EXIST:
            ok = v == NULL;
            break;
        }
        if (!ok)
            return false;
    }
    return true;
}

size_t cg__policy_index_candidates(const struct cg_policy_set *set, unsigned kind_bit,
                                   struct cg_str namespace_)
{
    const struct cg_policy_index *idx = set->index;
    size_t n = 0;
    for (size_t i = lower_bound(idx, namespace_, kind_bit);
         i < idx->n_exact && key_cmp(&idx->exact[i], namespace_, kind_bit) == 0; i++)
        n++;
    return n + idx->n_general;
}

size_t cg_policy_set_match(const struct cg_policy_set *set, unsigned kind_bit,
                           struct cg_str namespace_, const struct cg_kvs *labels,
                           const struct cg_policy **out, size_t max)
{
    assert(kind_bit != 0 && (kind_bit & (kind_bit - 1)) == 0); /* one kind at a time */
    if (set == NULL || set->index == NULL)
        return 0;
    const struct cg_policy_index *idx = set->index;
    size_t i = lower_bound(idx, namespace_, kind_bit), j = 0, count = 0;
    for (;;) {
        bool exact_left = i < idx->n_exact && key_cmp(&idx->exact[i], namespace_, kind_bit) == 0;
        bool general_left = j < idx->n_general;
        if (!exact_left && !general_left)
            break;
        const struct cg_policy *p;
        if (exact_left && (!general_left || idx->exact[i].policy < idx->general[j])) {
            p = &set->items[idx->exact[i++].policy];
        } else {
            p = &set->items[idx->general[j++]];
            if (!(p->match.kinds & kind_bit) ||
                !namespace_matches(&p->match.namespaces, namespace_))
                continue;
        }
        if (!cg_label_selector_eval(&p->match.selector, labels))
            continue;
        if (count < max)
            out[count] = p;
        count++;
    }
    return count;
}

const struct cg_policy *cg_policy_set_governing(const struct cg_policy_set *set, unsigned kind_bit,
                                                struct cg_str namespace_,
                                                const struct cg_kvs *labels)
{
    /* Matches come in set order; the first 16 need no allocation, more (rare) take one. */
    enum { WINDOW = 16 };
    const struct cg_policy *win[WINDOW];
    size_t n = cg_policy_set_match(set, kind_bit, namespace_, labels, win, WINDOW);
    for (size_t i = 0; i < n && i < WINDOW; i++)
        if (win[i]->enforcement == CG_ENFORCE_ENFORCE)
            return win[i];
    if (n <= WINDOW)
        return NULL;
    const struct cg_policy **all = cg_xmalloc(n * sizeof(*all));
    const struct cg_policy *p = NULL;
    n = cg_policy_set_match(set, kind_bit, namespace_, labels, all, n);
    for (size_t i = WINDOW; i < n && p == NULL; i++)
        if (all[i]->enforcement == CG_ENFORCE_ENFORCE)
            p = all[i];
    free(all);
    return p;
}
