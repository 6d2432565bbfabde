/* The pod cache (podcache.h). Layout, for 100,000 pods in a few MiB:
 *
 *   pods:    chained hash map keyed by (namespace, name); a record is one allocation with the
 *            name and uid inline and pointers to interned strings for the rest.
 *   strings: five intern tables (namespaces, cells, owner uids, phases, policies); an interned
 * string is reference-counted by records and reservations and freed with its last user. owners:  an
 * owner's interned uid also carries its per-cell counts (ocell: live pods, counted reservations,
 * and those reservations oldest first), so an event touches one small array and placement reads it
 * without looking at any pod. reservations: a FIFO of all (oldest first, for lazy expiry), a hash
 * map by request uid (re-sent reviews), and per owner+cell the counted ones (release takes the
 * oldest).
 *
 * A reservation whose pod appeared is "released": no longer counted (the pod is), but kept
 * until its TTL so that a re-sent review of the same request still finds its cell. */
#include "kube/podcache.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

#define DEFAULT_TTL 30
#define DEFAULT_MAX_RESERVATIONS 100000
#define MIN_BUCKETS 64

struct resv;

/* Per owner and cell: what placement counts. */
struct ocell {
    struct istr *cell;
    uint32_t live;              /* live pods of the owner in the cell */
    uint32_t reserved;          /* counted reservations */
    struct resv *rhead, *rtail; /* the counted reservations, oldest first */
};

/* An interned string. cells is used only in the owner table. */
struct istr {
    struct istr *next; /* bucket chain */
    uint32_t hash;
    uint32_t refs;
    uint32_t len;
    uint16_t n_cells, cap_cells;
    struct ocell *cells;
    char text[];
};

struct itab {
    struct istr **b;
    size_t nb, n;
};

struct pod {
    struct pod *next;                                /* bucket chain */
    struct istr *ns, *cell, *owner, *phase, *policy; /* NULL when empty (but ns, cell) */
    int64_t drain_requested;
    uint32_t hash;
    uint32_t gen; /* the relist generation it was last seen in */
    uint16_t name_len;
    uint8_t uid_len;
    bool live, terminating, traffic_ready, draining, drained;
    bool drain_noted; /* note_drain_requested said true once */
    char text[];      /* name, then uid */
};

struct resv {
    struct resv *unext;         /* request-uid chain */
    struct resv *gprev, *gnext; /* all reservations, oldest first */
    struct resv *oprev, *onext; /* the owner+cell's counted ones, oldest first */
    struct istr *owner, *cell;
    int64_t at;
    uint32_t hash;
    bool counted;
    uint8_t uid_len;
    char uid[];
};

struct cg_podcache {
    pthread_mutex_t mu;
    int64_t ttl;
    size_t max_resv;
    bool synced;
    bool replacing;
    uint32_t gen;
    int64_t now_hint; /* the latest now any caller passed: expiry on the feed side uses it */

    struct pod **pb; /* pod buckets */
    size_t pnb, npods, nlive;

    struct itab ns, cells, owners, phases, policies;

    struct resv **rb; /* request-uid buckets */
    size_t rnb, nresv;
    struct resv *ghead, *gtail;

    struct cg_podcache_stats st; /* the counters (the sizes are filled in by stats()) */
    size_t bytes;
};

/* ---- memory accounting ---- */

static void *xalloc(struct cg_podcache *pc, size_t n)
{
    pc->bytes += n;
    return cg_xmalloc(n);
}

static void *xcalloc(struct cg_podcache *pc, size_t count, size_t n)
{
    pc->bytes += count * n;
    return cg_xcalloc(count, n);
}

static void xfree(struct cg_podcache *pc, void *p, size_t n)
{
    if (p == NULL)
        return;
    pc->bytes -= n;
    free(p);
}

/* FNV-1a: the keys are short (names, uids), and a multiply per byte is noise next to the
 * decode of the 2-5 KB object they came from. */
static uint32_t hash_more(uint32_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t hash_str(struct cg_str s)
{
    return hash_more(2166136261u, s.p, s.n);
}

/* ---- intern tables ---- */

static void itab_init(struct cg_podcache *pc, struct itab *t)
{
    t->nb = MIN_BUCKETS;
    t->n = 0;
    t->b = xcalloc(pc, t->nb, sizeof(*t->b));
}

static struct istr *itab_find(const struct itab *t, struct cg_str s, uint32_t h)
{
    for (struct istr *e = t->b[h & (t->nb - 1)]; e != NULL; e = e->next)
        if (e->hash == h && e->len == s.n && memcmp(e->text, s.p, s.n) == 0)
            return e;
    return NULL;
}

static void itab_grow(struct cg_podcache *pc, struct itab *t)
{
    size_t nb = t->nb * 2;
    struct istr **b = xcalloc(pc, nb, sizeof(*b));
    for (size_t i = 0; i < t->nb; i++) {
        struct istr *e = t->b[i], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    xfree(pc, t->b, t->nb * sizeof(*t->b));
    t->b = b;
    t->nb = nb;
}

/* The interned s with one more reference (created on first use); NULL for an empty s. */
static struct istr *istr_ref(struct cg_podcache *pc, struct itab *t, struct cg_str s)
{
    if (s.n == 0)
        return NULL;
    uint32_t h = hash_str(s);
    struct istr *e = itab_find(t, s, h);
    if (e == NULL) {
        if (t->n >= t->nb)
            itab_grow(pc, t);
        e = xalloc(pc, sizeof(*e) + s.n + 1);
        memset(e, 0, sizeof(*e));
        e->hash = h;
        e->len = (uint32_t)s.n;
        memcpy(e->text, s.p, s.n);
        e->text[s.n] = '\0';
        e->next = t->b[h & (t->nb - 1)];
        t->b[h & (t->nb - 1)] = e;
        t->n++;
    }
    e->refs++;
    return e;
}

static void istr_unref(struct cg_podcache *pc, struct itab *t, struct istr *e)
{
    if (e == NULL || --e->refs > 0)
        return;
    /* An owner's cells hold no references of their own: they exist only while a live pod or
     * a counted reservation (which both reference the owner) does. */
    assert(e->n_cells == 0);
    struct istr **pp = &t->b[e->hash & (t->nb - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    t->n--;
    xfree(pc, e->cells, (size_t)e->cap_cells * sizeof(*e->cells));
    xfree(pc, e, sizeof(*e) + e->len + 1);
}

static void itab_dispose(struct cg_podcache *pc, struct itab *t)
{
    for (size_t i = 0; i < t->nb; i++) {
        struct istr *e = t->b[i], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            xfree(pc, e->cells, (size_t)e->cap_cells * sizeof(*e->cells));
            xfree(pc, e, sizeof(*e) + e->len + 1);
        }
    }
    xfree(pc, t->b, t->nb * sizeof(*t->b));
    t->b = NULL;
}

static struct cg_str istr_str(const struct istr *e)
{
    return e != NULL ? (struct cg_str){e->text, e->len} : CG_STR_NULL;
}

/* ---- per-owner cell counts ---- */

static struct ocell *ocell_find(struct istr *owner, const struct istr *cell)
{
    for (uint16_t i = 0; i < owner->n_cells; i++)
        if (owner->cells[i].cell == cell)
            return &owner->cells[i];
    return NULL;
}

static struct ocell *ocell_get(struct cg_podcache *pc, struct istr *owner, struct istr *cell)
{
    struct ocell *oc = ocell_find(owner, cell);
    if (oc != NULL)
        return oc;
    if (owner->n_cells == owner->cap_cells) {
        /* An owner spans a handful of cells: grow by 4, not by doubling. */
        uint16_t cap = (uint16_t)(owner->cap_cells + 4);
        struct ocell *cells = xalloc(pc, (size_t)cap * sizeof(*cells));
        if (owner->n_cells)
            memcpy(cells, owner->cells, (size_t)owner->n_cells * sizeof(*cells));
        xfree(pc, owner->cells, (size_t)owner->cap_cells * sizeof(*owner->cells));
        owner->cells = cells;
        owner->cap_cells = cap;
    }
    oc = &owner->cells[owner->n_cells++];
    memset(oc, 0, sizeof(*oc));
    oc->cell = cell;
    return oc;
}

/* Removes oc when nothing counts in it any more (the last entry moves into its slot). */
static void ocell_trim(struct istr *owner, struct ocell *oc)
{
    if (oc->live != 0 || oc->reserved != 0)
        return;
    *oc = owner->cells[--owner->n_cells];
}

/* ---- reservations ---- */

static void resv_unlink_counted(struct istr *owner, struct resv *r)
{
    struct ocell *oc = ocell_find(owner, r->cell);
    assert(oc != NULL && r->counted);
    if (r->oprev != NULL)
        r->oprev->onext = r->onext;
    else
        oc->rhead = r->onext;
    if (r->onext != NULL)
        r->onext->oprev = r->oprev;
    else
        oc->rtail = r->oprev;
    r->oprev = r->onext = NULL;
    r->counted = false;
    oc->reserved--;
    ocell_trim(owner, oc);
}

static struct resv *resv_find(const struct cg_podcache *pc, struct cg_str uid, uint32_t h)
{
    for (struct resv *r = pc->rb[h & (pc->rnb - 1)]; r != NULL; r = r->unext)
        if (r->hash == h && r->uid_len == uid.n && memcmp(r->uid, uid.p, uid.n) == 0)
            return r;
    return NULL;
}

static void resv_free(struct cg_podcache *pc, struct resv *r)
{
    if (r->counted)
        resv_unlink_counted(r->owner, r);
    if (r->gprev != NULL)
        r->gprev->gnext = r->gnext;
    else
        pc->ghead = r->gnext;
    if (r->gnext != NULL)
        r->gnext->gprev = r->gprev;
    else
        pc->gtail = r->gprev;
    struct resv **pp = &pc->rb[r->hash & (pc->rnb - 1)];
    while (*pp != r)
        pp = &(*pp)->unext;
    *pp = r->unext;
    pc->nresv--;
    istr_unref(pc, &pc->owners, r->owner);
    istr_unref(pc, &pc->cells, r->cell);
    xfree(pc, r, sizeof(*r) + r->uid_len);
}

/* Drops the reservations whose TTL has passed. The FIFO is kept sorted by time (reserve
 * never inserts a time older than the tail's), so only its head needs looking at. */
static void expire(struct cg_podcache *pc, int64_t now)
{
    if (now > pc->now_hint)
        pc->now_hint = now;
    while (pc->ghead != NULL && pc->ghead->at + pc->ttl <= pc->now_hint) {
        resv_free(pc, pc->ghead);
        pc->st.expired++;
    }
}

static void resv_grow(struct cg_podcache *pc)
{
    size_t nb = pc->rnb * 2;
    struct resv **b = xcalloc(pc, nb, sizeof(*b));
    for (size_t i = 0; i < pc->rnb; i++) {
        struct resv *r = pc->rb[i], *next;
        for (; r != NULL; r = next) {
            next = r->unext;
            r->unext = b[r->hash & (nb - 1)];
            b[r->hash & (nb - 1)] = r;
        }
    }
    xfree(pc, pc->rb, pc->rnb * sizeof(*pc->rb));
    pc->rb = b;
    pc->rnb = nb;
}

/* A pod of owner appeared in cell: the oldest counted reservation there is now the pod. */
static void resv_release(struct cg_podcache *pc, struct istr *owner, struct istr *cell)
{
    expire(pc, pc->now_hint);
    struct ocell *oc = ocell_find(owner, cell);
    if (oc == NULL || oc->rhead == NULL)
        return;
    resv_unlink_counted(owner, oc->rhead);
    pc->st.released++;
}

/* ---- pods ---- */

static uint32_t pod_hash(const struct istr *ns, struct cg_str name)
{
    return hash_more(ns->hash, name.p, name.n);
}

static struct pod **pod_slot(struct cg_podcache *pc, struct cg_str ns, struct cg_str name)
{
    struct istr *nse = itab_find(&pc->ns, ns, hash_str(ns));
    if (nse == NULL)
        return NULL;
    uint32_t h = pod_hash(nse, name);
    struct pod **pp = &pc->pb[h & (pc->pnb - 1)];
    for (; *pp != NULL; pp = &(*pp)->next) {
        struct pod *p = *pp;
        if (p->hash == h && p->ns == nse && p->name_len == name.n &&
            memcmp(p->text, name.p, name.n) == 0)
            return pp;
    }
    return NULL;
}

static void pod_count(struct cg_podcache *pc, struct pod *p, int dir)
{
    if (!p->live)
        return;
    pc->nlive = dir > 0 ? pc->nlive + 1 : pc->nlive - 1;
    if (p->owner == NULL)
        return;
    if (dir > 0) {
        ocell_get(pc, p->owner, p->cell)->live++;
    } else {
        struct ocell *oc = ocell_find(p->owner, p->cell);
        assert(oc != NULL && oc->live > 0);
        oc->live--;
        ocell_trim(p->owner, oc);
    }
}

static size_t pod_size(const struct pod *p)
{
    return sizeof(*p) + p->name_len + p->uid_len;
}

static void pod_remove(struct cg_podcache *pc, struct pod **slot)
{
    struct pod *p = *slot;
    *slot = p->next;
    pc->npods--;
    pod_count(pc, p, -1);
    istr_unref(pc, &pc->ns, p->ns);
    istr_unref(pc, &pc->cells, p->cell);
    istr_unref(pc, &pc->owners, p->owner);
    istr_unref(pc, &pc->phases, p->phase);
    istr_unref(pc, &pc->policies, p->policy);
    xfree(pc, p, pod_size(p));
}

/* Sets the fields that may change over a pod's life. New references are taken before the
 * old ones are dropped, so an unchanged string is never freed and interned again. */
static void pod_set(struct cg_podcache *pc, struct pod *p, const struct cg_pod_state *s)
{
    struct istr *cell = istr_ref(pc, &pc->cells, s->cell);
    struct istr *owner = istr_ref(pc, &pc->owners, s->owner_uid);
    struct istr *phase = istr_ref(pc, &pc->phases, s->phase);
    struct istr *policy = istr_ref(pc, &pc->policies, s->policy);
    istr_unref(pc, &pc->cells, p->cell);
    istr_unref(pc, &pc->owners, p->owner);
    istr_unref(pc, &pc->phases, p->phase);
    istr_unref(pc, &pc->policies, p->policy);
    p->cell = cell;
    p->owner = owner;
    p->phase = phase;
    p->policy = policy;
    p->live = cg_pod_state_is_live(s);
    p->terminating = s->terminating;
    p->traffic_ready = s->traffic_ready;
    p->draining = s->draining;
    p->drained = s->drained;
    p->drain_requested = s->drain_requested;
    p->gen = pc->gen;
}

static void pods_grow(struct cg_podcache *pc)
{
    size_t nb = pc->pnb * 2;
    struct pod **b = xcalloc(pc, nb, sizeof(*b));
    for (size_t i = 0; i < pc->pnb; i++) {
        struct pod *p = pc->pb[i], *next;
        for (; p != NULL; p = next) {
            next = p->next;
            p->next = b[p->hash & (nb - 1)];
            b[p->hash & (nb - 1)] = p;
        }
    }
    xfree(pc, pc->pb, pc->pnb * sizeof(*pc->pb));
    pc->pb = b;
    pc->pnb = nb;
}

static void pod_insert(struct cg_podcache *pc, const struct cg_pod_state *s)
{
    if (pc->npods >= pc->pnb)
        pods_grow(pc);
    size_t size = sizeof(struct pod) + s->name.n + s->uid.n;
    struct pod *p = xalloc(pc, size);
    memset(p, 0, sizeof(*p));
    p->ns = istr_ref(pc, &pc->ns, s->namespace_);
    p->name_len = (uint16_t)s->name.n;
    p->uid_len = (uint8_t)s->uid.n;
    memcpy(p->text, s->name.p, s->name.n);
    if (s->uid.n)
        memcpy(p->text + s->name.n, s->uid.p, s->uid.n);
    p->hash = pod_hash(p->ns, s->name);
    pod_set(pc, p, s);
    p->next = pc->pb[p->hash & (pc->pnb - 1)];
    pc->pb[p->hash & (pc->pnb - 1)] = p;
    pc->npods++;
    pod_count(pc, p, +1);
    /* Counted as live first, then the reservation it stands for stops counting: the owner's
     * cell entry never drops to zero in between and is not freed and made again. */
    if (p->owner != NULL)
        resv_release(pc, p->owner, p->cell);
}

static bool fits(const struct cg_pod_state *s)
{
    return s->namespace_.n > 0 && s->name.n > 0 && s->namespace_.n <= CG_PODCACHE_NS_MAX &&
           s->name.n <= CG_PODCACHE_NAME_MAX && s->uid.n <= CG_PODCACHE_UID_MAX &&
           s->owner_uid.n <= CG_PODCACHE_UID_MAX && s->cell.n <= CG_PODCACHE_CELL_MAX &&
           s->phase.n <= CG_PODCACHE_PHASE_MAX && s->policy.n <= CG_PODCACHE_POLICY_MAX;
}

/* ---- lifecycle ---- */

struct cg_podcache *cg_podcache_create(const struct cg_podcache_config *config)
{
    struct cg_podcache *pc = cg_xcalloc(1, sizeof(*pc));
    pc->bytes = sizeof(*pc);
    pthread_mutex_init(&pc->mu, NULL);
    pc->ttl = config != NULL && config->reservation_ttl > 0 ? config->reservation_ttl : DEFAULT_TTL;
    pc->max_resv = config != NULL && config->max_reservations > 0 ? config->max_reservations
                                                                  : DEFAULT_MAX_RESERVATIONS;
    pc->synced = config != NULL && config->standalone;
    pc->pnb = MIN_BUCKETS;
    pc->pb = xcalloc(pc, pc->pnb, sizeof(*pc->pb));
    pc->rnb = MIN_BUCKETS;
    pc->rb = xcalloc(pc, pc->rnb, sizeof(*pc->rb));
    itab_init(pc, &pc->ns);
    itab_init(pc, &pc->cells);
    itab_init(pc, &pc->owners);
    itab_init(pc, &pc->phases);
    itab_init(pc, &pc->policies);
    return pc;
}

void cg_podcache_destroy(struct cg_podcache *pc)
{
    if (pc == NULL)
        return;
    /* Records and reservations first, through the normal paths, so that the intern tables
     * are empty when they go: any count left over would be a bookkeeping bug (asserted). */
    while (pc->ghead != NULL)
        resv_free(pc, pc->ghead);
    for (size_t i = 0; i < pc->pnb; i++)
        while (pc->pb[i] != NULL)
            pod_remove(pc, &pc->pb[i]);
    assert(pc->ns.n == 0 && pc->cells.n == 0 && pc->owners.n == 0 && pc->phases.n == 0 &&
           pc->policies.n == 0);
    itab_dispose(pc, &pc->ns);
    itab_dispose(pc, &pc->cells);
    itab_dispose(pc, &pc->owners);
    itab_dispose(pc, &pc->phases);
    itab_dispose(pc, &pc->policies);
    xfree(pc, pc->rb, pc->rnb * sizeof(*pc->rb));
    xfree(pc, pc->pb, pc->pnb * sizeof(*pc->pb));
    pthread_mutex_destroy(&pc->mu);
    free(pc);
}

void cg_podcache_lock(struct cg_podcache *pc)
{
    pthread_mutex_lock(&pc->mu);
}

void cg_podcache_unlock(struct cg_podcache *pc)
{
    pthread_mutex_unlock(&pc->mu);
}

/* ---- the informer's side ---- */

void cg_podcache_replace_begin(struct cg_podcache *pc)
{
    cg_podcache_lock(pc);
    pc->gen++;
    pc->replacing = true;
    cg_podcache_unlock(pc);
}

void cg_podcache_replace_end(struct cg_podcache *pc)
{
    cg_podcache_lock(pc);
    if (pc->replacing) {
        for (size_t i = 0; i < pc->pnb; i++) {
            struct pod **pp = &pc->pb[i];
            while (*pp != NULL) {
                if ((*pp)->gen != pc->gen) {
                    pod_remove(pc, pp);
                    pc->st.relist_dropped++;
                } else {
                    pp = &(*pp)->next;
                }
            }
        }
        pc->replacing = false;
    }
    cg_podcache_unlock(pc);
}

/* Under the lock: one decoded pod (st is the decode result). */
static void apply_locked(struct cg_podcache *pc, enum cg_podcache_event type, enum cg_status st,
                         const struct cg_pod_state *s)
{
    pc->st.events++;
    if (st != CG_OK || !fits(s)) {
        pc->st.ignored_bad++;
        return;
    }
    struct pod **slot = pod_slot(pc, s->namespace_, s->name);
    if (type == CG_PODCACHE_DELETED) {
        if (slot != NULL)
            pod_remove(pc, slot);
        return;
    }
    if (s->cell.n == 0) {
        /* The label cannot be removed from a pod we placed, but should one lose it the
         * record must not keep counting. */
        pc->st.ignored_unlabelled++;
        if (slot != NULL)
            pod_remove(pc, slot);
        return;
    }
    if (slot != NULL) {
        struct pod *p = *slot;
        bool same_uid = p->uid_len == s->uid.n &&
                        (s->uid.n == 0 || memcmp(p->text + p->name_len, s->uid.p, s->uid.n) == 0);
        if (same_uid) {
            pod_count(pc, p, -1);
            pod_set(pc, p, s);
            pod_count(pc, p, +1);
            return;
        }
        /* A new pod under an old name (a StatefulSet's): it is a different pod. */
        pod_remove(pc, slot);
    }
    pod_insert(pc, s);
}

void cg_podcache_apply(struct cg_podcache *pc, enum cg_podcache_event type, const char *json,
                       size_t len)
{
    struct cg_arena arena;
    struct cg_pod_state s;
    /* The arena allocates only when a string has escapes (rare in the fields read): its
     * first block is made lazily. Local, so that decoding needs no lock. */
    cg_arena_init(&arena, 1024);
    enum cg_status st = cg_pod_state_decode(json, len, &arena, &s, NULL);
    cg_podcache_lock(pc);
    apply_locked(pc, type, st, &s);
    cg_podcache_unlock(pc);
    cg_arena_dispose(&arena);
}

void cg_podcache_set_synced(struct cg_podcache *pc, bool synced)
{
    cg_podcache_lock(pc);
    pc->synced = synced;
    cg_podcache_unlock(pc);
}

bool cg_podcache_is_synced(struct cg_podcache *pc)
{
    cg_podcache_lock(pc);
    bool synced = pc->synced;
    cg_podcache_unlock(pc);
    return synced;
}

/* ---- the request path ---- */

static void copy_cstr(char *dst, size_t cap, struct cg_str s)
{
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
}

void cg_podcache_view_locked(struct cg_podcache *pc, struct cg_str request_uid,
                             struct cg_str owner_uid, int64_t now, struct cg_podcache_view *out)
{
    out->synced = pc->synced;
    out->n_cells = 0;
    out->truncated = false;
    out->reserved_cell = CG_STR_NULL;
    expire(pc, now);
    if (request_uid.n > 0) {
        struct resv *r = resv_find(pc, request_uid, hash_str(request_uid));
        if (r != NULL) {
            copy_cstr(out->reserved_buf, sizeof(out->reserved_buf), istr_str(r->cell));
            out->reserved_cell = (struct cg_str){out->reserved_buf, r->cell->len};
        }
    }
    struct istr *owner =
        owner_uid.n > 0 ? itab_find(&pc->owners, owner_uid, hash_str(owner_uid)) : NULL;
    if (owner == NULL)
        return;
    for (uint16_t i = 0; i < owner->n_cells; i++) {
        const struct ocell *oc = &owner->cells[i];
        if (out->n_cells == CG_PODCACHE_MAX_CELLS) {
            out->truncated = true;
            break;
        }
        char *name = out->names[out->n_cells];
        copy_cstr(name, sizeof(out->names[0]), istr_str(oc->cell));
        out->cells[out->n_cells++] =
            (struct cg_cell_count){{name, oc->cell->len}, oc->live + oc->reserved, oc->reserved};
    }
}

void cg_podcache_view(struct cg_podcache *pc, struct cg_str request_uid, struct cg_str owner_uid,
                      int64_t now, struct cg_podcache_view *out)
{
    cg_podcache_lock(pc);
    cg_podcache_view_locked(pc, request_uid, owner_uid, now, out);
    cg_podcache_unlock(pc);
}

enum cg_status cg_podcache_reserve_locked(struct cg_podcache *pc, struct cg_str request_uid,
                                          struct cg_str owner_uid, struct cg_str cell, int64_t now,
                                          struct cg_err *err)
{
    if (request_uid.n == 0 || owner_uid.n == 0 || cell.n == 0)
        return cg_err_set(err, CG_EINVAL, "reserve: %s is empty",
                          request_uid.n == 0 ? "the request uid"
                          : owner_uid.n == 0 ? "the owner uid"
                                             : "the cell");
    if (request_uid.n > CG_PODCACHE_UID_MAX || owner_uid.n > CG_PODCACHE_UID_MAX ||
        cell.n > CG_PODCACHE_CELL_MAX)
        return cg_err_set(err, CG_EINVAL,
                          "reserve: request uid or owner uid longer than %d bytes, or cell "
                          "longer than %d",
                          CG_PODCACHE_UID_MAX, CG_PODCACHE_CELL_MAX);
    expire(pc, now);
    uint32_t h = hash_str(request_uid);
    struct resv *r = resv_find(pc, request_uid, h);
    if (r != NULL) {
        if (cg_str_eq(istr_str(r->cell), cell))
            return CG_OK;
        return cg_err_set(err, CG_EINVAL,
                          "reserve: request %.*s already reserved cell %s, not %.*s",
                          (int)request_uid.n, request_uid.p, r->cell->text, (int)cell.n, cell.p);
    }
    if (pc->nresv >= pc->max_resv)
        return cg_err_set(err, CG_ETOOBIG, "reserve: %zu reservations held (the limit)", pc->nresv);
    if (pc->nresv >= pc->rnb)
        resv_grow(pc);
    r = xalloc(pc, sizeof(*r) + request_uid.n);
    memset(r, 0, sizeof(*r));
    r->owner = istr_ref(pc, &pc->owners, owner_uid);
    r->cell = istr_ref(pc, &pc->cells, cell);
    /* Concurrent callers' clocks may interleave by a second: keep the FIFO sorted. */
    r->at = pc->gtail != NULL && pc->gtail->at > now ? pc->gtail->at : now;
    r->hash = h;
    r->uid_len = (uint8_t)request_uid.n;
    memcpy(r->uid, request_uid.p, request_uid.n);
    r->counted = true;
    struct ocell *oc = ocell_get(pc, r->owner, r->cell);
    r->oprev = oc->rtail;
    if (oc->rtail != NULL)
        oc->rtail->onext = r;
    else
        oc->rhead = r;
    oc->rtail = r;
    oc->reserved++;
    r->gprev = pc->gtail;
    if (pc->gtail != NULL)
        pc->gtail->gnext = r;
    else
        pc->ghead = r;
    pc->gtail = r;
    r->unext = pc->rb[h & (pc->rnb - 1)];
    pc->rb[h & (pc->rnb - 1)] = r;
    pc->nresv++;
    return CG_OK;
}

enum cg_status cg_podcache_reserve(struct cg_podcache *pc, struct cg_str request_uid,
                                   struct cg_str owner_uid, struct cg_str cell, int64_t now,
                                   struct cg_err *err)
{
    cg_podcache_lock(pc);
    enum cg_status st = cg_podcache_reserve_locked(pc, request_uid, owner_uid, cell, now, err);
    cg_podcache_unlock(pc);
    return st;
}

enum cg_status cg_podcache_place(struct cg_podcache *pc, struct cg_str request_uid,
                                 struct cg_str owner_uid, int64_t now, cg_podcache_decide_fn decide,
                                 void *ud, struct cg_podcache_view *view, char *cell_out,
                                 struct cg_err *err)
{
    enum cg_status st = CG_OK;
    struct cg_str cell = CG_STR_NULL;
    cell_out[0] = '\0';
    cg_podcache_lock(pc);
    cg_podcache_view_locked(pc, request_uid, owner_uid, now, view);
    if (view->reserved_cell.n > 0) {
        cell = view->reserved_cell;
        goto out;
    }
    st = decide(ud, view, &cell, err);
    if (st != CG_OK || cell.n == 0)
        goto out;
    st = cg_podcache_reserve_locked(pc, request_uid, owner_uid, cell, now, err);
out:
    if (st == CG_OK)
        copy_cstr(cell_out, CG_PODCACHE_CELL_MAX + 1, cell);
    cg_podcache_unlock(pc);
    return st;
}

/* Appends s to the pod's buffer at *o and returns the copy. */
static struct cg_str put(struct cg_podcache_pod *out, size_t *o, struct cg_str s)
{
    if (s.p == NULL)
        return CG_STR_NULL;
    assert(*o + s.n <= sizeof(out->buf));
    char *d = out->buf + *o;
    if (s.n)
        memcpy(d, s.p, s.n);
    *o += s.n;
    return (struct cg_str){d, s.n};
}

enum cg_status cg_podcache_get_pod(struct cg_podcache *pc, struct cg_str namespace_,
                                   struct cg_str name, struct cg_podcache_pod *out)
{
    enum cg_status st = CG_OK;
    size_t o = 0;
    memset(&out->state, 0, sizeof(out->state));
    cg_podcache_lock(pc);
    struct pod **slot = pod_slot(pc, namespace_, name);
    if (slot == NULL) {
        st = CG_ENOTFOUND;
        goto out;
    }
    const struct pod *p = *slot;
    struct cg_pod_state *s = &out->state;
    s->namespace_ = put(out, &o, istr_str(p->ns));
    s->name = put(out, &o, (struct cg_str){p->text, p->name_len});
    s->uid = put(out, &o, (struct cg_str){p->text + p->name_len, p->uid_len});
    s->owner_uid = put(out, &o, istr_str(p->owner));
    s->cell = put(out, &o, istr_str(p->cell));
    s->phase = put(out, &o, istr_str(p->phase));
    s->policy = put(out, &o, istr_str(p->policy));
    s->terminating = p->terminating;
    s->traffic_ready = p->traffic_ready;
    s->draining = p->draining;
    s->drained = p->drained;
    s->drain_requested = p->drain_requested;
out:
    cg_podcache_unlock(pc);
    return st;
}

bool cg_podcache_note_drain_requested(struct cg_podcache *pc, struct cg_str namespace_,
                                      struct cg_str name)
{
    bool first = false;
    cg_podcache_lock(pc);
    struct pod **slot = pod_slot(pc, namespace_, name);
    if (slot != NULL && !(*slot)->drain_noted && (*slot)->drain_requested == 0) {
        (*slot)->drain_noted = true;
        first = true;
    }
    cg_podcache_unlock(pc);
    return first;
}

void cg_podcache_stats(struct cg_podcache *pc, struct cg_podcache_stats *out)
{
    cg_podcache_lock(pc);
    *out = pc->st;
    out->pods = pc->npods;
    out->live_pods = pc->nlive;
    out->owners = pc->owners.n;
    out->reservations = pc->nresv;
    out->bytes = pc->bytes;
    cg_podcache_unlock(pc);
}
