#include "kube/objstore.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "admission/scan.h"
#include "base/mem.h"

/* ---- metadata, in one pass of the scanner ---- */

static bool take_plain(struct cg__scan *sc, struct cg_str *out)
{
    size_t off, len;
    bool esc;
    if (cg__scan_peek(sc) != '"')
        return cg__scan_skip(sc); /* a wrong type: left empty, the caller refuses it */
    if (!cg__scan_string(sc, &off, &len, &esc))
        return false;
    /* Names and uids are plain ASCII; the apiserver never escapes them. */
    if (!esc)
        *out = (struct cg_str){(const char *)sc->s + off, len};
    return true;
}

static bool read_owner(struct cg__scan *sc, struct cg_objstore_meta *m)
{
    struct cg__scan_arr a;
    if (cg__scan_peek(sc) != '[')
        return cg__scan_skip(sc);
    if (!cg__scan_arr_open(sc, &a))
        return false;
    int r;
    while ((r = cg__scan_arr_next(sc, &a)) == 1) {
        if (cg__scan_peek(sc) != '{') {
            if (!cg__scan_skip(sc))
                return false;
            continue;
        }
        struct cg__scan_obj o;
        struct cg__scan_keyref k;
        struct cg_str uid = CG_STR_NULL;
        bool controller = false;
        if (!cg__scan_obj_open(sc, &o))
            return false;
        while ((r = cg__scan_obj_next(sc, &o, &k)) == 1) {
            bool ok;
            if (cg_str_eq_c(k.text, "uid")) {
                ok = take_plain(sc, &uid);
            } else if (cg_str_eq_c(k.text, "controller") && cg__scan_peek(sc) == 't') {
                char kind;
                ok = cg__scan_literal(sc, &kind);
                controller = true;
            } else {
                ok = cg__scan_skip(sc);
            }
            if (!ok)
                return false;
        }
        if (r < 0)
            return false;
        if (controller)
            m->owner_uid = uid;
    }
    return r == 0;
}

static bool read_metadata(struct cg__scan *sc, struct cg_objstore_meta *m)
{
    struct cg__scan_obj o;
    struct cg__scan_keyref k;
    if (cg__scan_peek(sc) != '{')
        return cg__scan_skip(sc);
    if (!cg__scan_obj_open(sc, &o))
        return false;
    int r;
    while ((r = cg__scan_obj_next(sc, &o, &k)) == 1) {
        bool ok;
        if (cg_str_eq_c(k.text, "name")) {
            ok = take_plain(sc, &m->name);
        } else if (cg_str_eq_c(k.text, "namespace")) {
            ok = take_plain(sc, &m->ns);
        } else if (cg_str_eq_c(k.text, "uid")) {
            ok = take_plain(sc, &m->uid);
        } else if (cg_str_eq_c(k.text, "ownerReferences")) {
            ok = read_owner(sc, m);
        } else if (cg_str_eq_c(k.text, "managedFields")) {
            size_t start = k.off - 1; /* the key's opening quote */
            ok = cg__scan_skip(sc);
            size_t end = sc->i;
            /* Take one comma with the member, the one after it or else the one before. */
            size_t j = end;
            while (j < sc->n &&
                   (sc->s[j] == ' ' || sc->s[j] == '\n' || sc->s[j] == '\r' || sc->s[j] == '\t'))
                j++;
            if (j < sc->n && sc->s[j] == ',') {
                end = j + 1;
            } else {
                size_t b = start;
                while (b > 0 && (sc->s[b - 1] == ' ' || sc->s[b - 1] == '\n' ||
                                 sc->s[b - 1] == '\r' || sc->s[b - 1] == '\t'))
                    b--;
                if (b > 0 && sc->s[b - 1] == ',')
                    start = b - 1;
            }
            m->cut_off = start;
            m->cut_end = end;
        } else {
            ok = cg__scan_skip(sc);
        }
        if (!ok)
            return false;
    }
    return r == 0;
}

enum cg_status cg_objstore_meta_decode(const char *json, size_t len, struct cg_objstore_meta *out,
                                       struct cg_err *err)
{
    memset(out, 0, sizeof(*out));
    cg_err_clear(err);
    struct cg__scan sc;
    cg__scan_init(&sc, json, len, err);
    enum cg_status st = CG_OK;
    struct cg__scan_obj o;
    struct cg__scan_keyref k;
    if (cg__scan_peek(&sc) != '{') {
        st = cg_err_set(err, CG_EINVAL, "not a JSON object");
        goto out;
    }
    if (!cg__scan_obj_open(&sc, &o)) {
        st = CG_EPARSE;
        goto out;
    }
    int r;
    while ((r = cg__scan_obj_next(&sc, &o, &k)) == 1) {
        bool ok = cg_str_eq_c(k.text, "metadata") ? read_metadata(&sc, out) : cg__scan_skip(&sc);
        if (!ok) {
            r = -1;
            break;
        }
    }
    if (r == 0 && cg__scan_peek(&sc) != -1)
        r = cg__scan_fail(&sc, sc.i, "text after the object") ? 0 : -1;
    if (r < 0 || sc.failed) {
        st = CG_EPARSE;
        goto out;
    }
    if (out->name.n == 0)
        st = cg_err_set(err, CG_EINVAL, "no metadata.name (or an escaped one)");
out:
    cg__scan_dispose(&sc);
    if (st != CG_OK) {
        if (st == CG_EPARSE && err != NULL && err->status == CG_OK)
            cg_err_set(err, CG_EPARSE, "not JSON");
        memset(out, 0, sizeof(*out));
    }
    return st;
}

/* ---- the store ---- */

struct entry {
    struct entry *next;
    uint64_t hash;
    uint32_t gen;   /* the list generation that saw it last */
    size_t key_len; /* "namespace/name" */
    size_t ns_len;
    size_t uid_off, uid_len, owner_off, owner_len; /* into text */
    size_t text_len;
    char *text; /* the object minus managedFields */
    char key[];
};

struct cg_objstore {
    struct cg_objstore_config cfg;
    char *resource;
    pthread_mutex_t lock;
    struct entry **buckets;
    size_t nbuckets, n;
    size_t bytes;
    uint32_t gen;
    bool replacing, synced;
    uint64_t applied, rejected, stripped;
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

struct cg_objstore *cg_objstore_create(const struct cg_objstore_config *config)
{
    struct cg_objstore *s = cg_xcalloc(1, sizeof(*s));
    if (config != NULL)
        s->cfg = *config;
    s->resource = cg_xstrdup(s->cfg.resource ? s->cfg.resource : "objects");
    s->cfg.resource = s->resource;
    pthread_mutex_init(&s->lock, NULL);
    s->nbuckets = 64;
    s->buckets = cg_xcalloc(s->nbuckets, sizeof(*s->buckets));
    return s;
}

static void entry_free(struct cg_objstore *s, struct entry *e)
{
    s->bytes -= sizeof(*e) + e->key_len + 1 + e->text_len;
    free(e->text);
    free(e);
}

void cg_objstore_destroy(struct cg_objstore *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct entry *e = s->buckets[i];
        while (e != NULL) {
            struct entry *next = e->next;
            entry_free(s, e);
            e = next;
        }
    }
    free(s->buckets);
    pthread_mutex_destroy(&s->lock);
    free(s->resource);
    free(s);
}

static struct entry **slot_of(struct cg_objstore *s, const char *key, size_t len, uint64_t h)
{
    struct entry **p = &s->buckets[h & (s->nbuckets - 1)];
    while (*p != NULL &&
           !((*p)->hash == h && (*p)->key_len == len && memcmp((*p)->key, key, len) == 0))
        p = &(*p)->next;
    return p;
}

static void grow(struct cg_objstore *s)
{
    size_t nb = s->nbuckets * 2;
    struct entry **b = cg_xcalloc(nb, sizeof(*b));
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct entry *e = s->buckets[i];
        while (e != NULL) {
            struct entry *next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    s->bytes += (nb - s->nbuckets) * sizeof(*b);
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

void cg_objstore_replace_begin(struct cg_objstore *s)
{
    pthread_mutex_lock(&s->lock);
    s->gen++;
    s->replacing = true;
    pthread_mutex_unlock(&s->lock);
}

/* Offset of a borrowed string inside the stored text (it moved left by the cut, if after it). */
static size_t moved(struct cg_str v, const char *json, const struct cg_objstore_meta *m)
{
    size_t off = (size_t)(v.p - json);
    return off >= m->cut_end ? off - (m->cut_end - m->cut_off) : off;
}

void cg_objstore_apply(struct cg_objstore *s, enum cg_kube_watch_type type, const char *json,
                       size_t len)
{
    struct cg_objstore_meta m;
    if (cg_objstore_meta_decode(json, len, &m, NULL) != CG_OK) {
        pthread_mutex_lock(&s->lock);
        s->rejected++;
        pthread_mutex_unlock(&s->lock);
        return;
    }
    char key[512];
    if (m.ns.n + 1 + m.name.n >= sizeof(key)) {
        pthread_mutex_lock(&s->lock);
        s->rejected++;
        pthread_mutex_unlock(&s->lock);
        return;
    }
    if (m.ns.n > 0) /* cluster-scoped objects have none (and memcpy wants a pointer) */
        memcpy(key, m.ns.p, m.ns.n);
    key[m.ns.n] = '/';
    memcpy(key + m.ns.n + 1, m.name.p, m.name.n);
    size_t key_len = m.ns.n + 1 + m.name.n;
    uint64_t h = hash_bytes(key, key_len);

    /* The new entry is built outside the lock. */
    struct entry *e = NULL;
    if (type != CG_KUBE_DELETED) {
        size_t cut = m.cut_end - m.cut_off;
        e = cg_xmalloc(sizeof(*e) + key_len + 1);
        memset(e, 0, sizeof(*e));
        memcpy(e->key, key, key_len);
        e->key[key_len] = '\0';
        e->key_len = key_len;
        e->ns_len = m.ns.n;
        e->hash = h;
        e->text_len = len - cut;
        e->text = cg_xmalloc(e->text_len + 1);
        memcpy(e->text, json, m.cut_off ? m.cut_off : len);
        if (cut > 0)
            memcpy(e->text + m.cut_off, json + m.cut_end, len - m.cut_end);
        e->text[e->text_len] = '\0';
        e->uid_off = m.uid.n ? moved(m.uid, json, &m) : 0;
        e->uid_len = m.uid.n;
        e->owner_off = m.owner_uid.n ? moved(m.owner_uid, json, &m) : 0;
        e->owner_len = m.owner_uid.n;
    }
    pthread_mutex_lock(&s->lock);
    s->applied++;
    s->stripped += m.cut_end - m.cut_off;
    struct entry **p = slot_of(s, key, key_len, h);
    if (*p != NULL) {
        struct entry *old = *p;
        *p = old->next;
        entry_free(s, old);
        s->n--;
    }
    if (e != NULL) {
        e->gen = s->gen;
        e->next = *p;
        *p = e;
        s->n++;
        s->bytes += sizeof(*e) + e->key_len + 1 + e->text_len;
        if (s->n > s->nbuckets)
            grow(s);
    }
    pthread_mutex_unlock(&s->lock);
    if (s->cfg.on_change != NULL)
        s->cfg.on_change(s->cfg.ud, type, m.ns, m.name, m.owner_uid);
}

void cg_objstore_replace_end(struct cg_objstore *s)
{
    /* What the list did not contain is gone; its removal is a change like any other. */
    struct gone {
        char *key;
        size_t ns_len;
        char *owner;
    } *gone = NULL;
    size_t n_gone = 0, cap = 0;
    pthread_mutex_lock(&s->lock);
    if (s->replacing) {
        for (size_t i = 0; i < s->nbuckets; i++) {
            struct entry **p = &s->buckets[i];
            while (*p != NULL) {
                struct entry *e = *p;
                if (e->gen == s->gen) {
                    p = &e->next;
                    continue;
                }
                *p = e->next;
                if (s->cfg.on_change != NULL) {
                    if (n_gone == cap) {
                        cap = cap ? cap * 2 : 16;
                        gone = cg_xrealloc(gone, cap * sizeof(*gone));
                    }
                    gone[n_gone].key = cg_xstrndup(e->key, e->key_len);
                    gone[n_gone].ns_len = e->ns_len;
                    gone[n_gone].owner = cg_xstrndup(e->text + e->owner_off, e->owner_len);
                    n_gone++;
                }
                entry_free(s, e);
                s->n--;
            }
        }
    }
    s->replacing = false;
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n_gone; i++) {
        struct cg_str ns = {gone[i].key, gone[i].ns_len};
        struct cg_str name = cg_str_from(gone[i].key + gone[i].ns_len + 1);
        s->cfg.on_change(s->cfg.ud, CG_KUBE_DELETED, ns, name, cg_str_from(gone[i].owner));
        free(gone[i].key);
        free(gone[i].owner);
    }
    free(gone);
}

void cg_objstore_set_synced(struct cg_objstore *s, bool synced)
{
    pthread_mutex_lock(&s->lock);
    s->synced = synced;
    pthread_mutex_unlock(&s->lock);
}

bool cg_objstore_synced(struct cg_objstore *s)
{
    pthread_mutex_lock(&s->lock);
    bool v = s->synced;
    pthread_mutex_unlock(&s->lock);
    return v;
}

static struct cg_str uid_of(const struct entry *e)
{
    return (struct cg_str){e->text + e->uid_off, e->uid_len};
}

bool cg_objstore_get(struct cg_objstore *s, struct cg_str ns, struct cg_str name,
                     cg_objstore_visit_fn fn, void *ud)
{
    char key[512];
    if (ns.n + 1 + name.n >= sizeof(key))
        return false;
    if (ns.n > 0)
        memcpy(key, ns.p, ns.n);
    key[ns.n] = '/';
    if (name.n > 0)
        memcpy(key + ns.n + 1, name.p, name.n);
    size_t len = ns.n + 1 + name.n;
    pthread_mutex_lock(&s->lock);
    struct entry *e = *slot_of(s, key, len, hash_bytes(key, len));
    if (e != NULL)
        fn(ud, e->text, e->text_len, uid_of(e));
    pthread_mutex_unlock(&s->lock);
    return e != NULL;
}

size_t cg_objstore_each(struct cg_objstore *s, struct cg_str ns, struct cg_str owner_uid,
                        cg_objstore_visit_fn fn, void *ud)
{
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nbuckets; i++) {
        for (struct entry *e = s->buckets[i]; e != NULL; e = e->next) {
            if (ns.n > 0 && !(e->ns_len == ns.n && memcmp(e->key, ns.p, ns.n) == 0))
                continue;
            if (owner_uid.n > 0 && !(e->owner_len == owner_uid.n &&
                                     memcmp(e->text + e->owner_off, owner_uid.p, owner_uid.n) == 0))
                continue;
            n++;
            if (!fn(ud, e->text, e->text_len, uid_of(e)))
                goto out;
        }
    }
out:
    pthread_mutex_unlock(&s->lock);
    return n;
}

void cg_objstore_stats(struct cg_objstore *s, struct cg_objstore_stats *out)
{
    pthread_mutex_lock(&s->lock);
    out->objects = s->n;
    out->bytes = s->bytes + s->nbuckets * sizeof(*s->buckets);
    out->applied = s->applied;
    out->rejected = s->rejected;
    out->stripped = s->stripped;
    pthread_mutex_unlock(&s->lock);
}
