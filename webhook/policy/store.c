#include "policy/store.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/mem.h"
#include "policy/policy.h"

#define TREE_MAX_DEPTH 8

static unsigned long long fnv(unsigned long long h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Sums per-entry hashes, so readdir order does not matter. */
static unsigned long long walk(const char *dir, int depth)
{
    unsigned long long sum = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        struct stat sb;
        unsigned long long h = fnv(1469598103934665603ULL, path, (size_t)n);
        if (stat(path, &sb) == 0) {
            unsigned long long parts[5] = {
                (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino,
                (unsigned long long)sb.st_size, (unsigned long long)sb.st_mtim.tv_sec,
                (unsigned long long)sb.st_mtim.tv_nsec};
            h = fnv(h, parts, sizeof(parts));
            if (S_ISDIR(sb.st_mode) && depth < TREE_MAX_DEPTH)
                h += walk(path, depth + 1);
        }
        sum += h;
    }
    closedir(d);
    return sum;
}

unsigned long long cg_tree_fingerprint(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return 0;
    unsigned long long h = walk(dir, 0) ^ 0x9e3779b97f4a7c15ULL;
    return h ? h : 1;
}

static void *set_retain(void *p)
{
    return cg_policy_set_ref(p);
}

static void set_release(void *p)
{
    cg_policy_set_unref(p);
}

void cg_policy_store_init(struct cg_policy_store *s, const char *dir)
{
    memset(s, 0, sizeof(*s));
    cg_snapshot_init(&s->snap, set_retain, set_release);
    s->dir = cg_xstrdup(dir);
    pthread_mutex_init(&s->lock, NULL);
    snprintf(s->last_error, sizeof(s->last_error), "not loaded yet");
}

void cg_policy_store_dispose(struct cg_policy_store *s)
{
    cg_snapshot_dispose(&s->snap);
    pthread_mutex_destroy(&s->lock);
    free(s->dir);
    s->dir = NULL;
}

enum cg_reload_result cg_policy_store_reload(struct cg_policy_store *s, bool force,
                                             struct cg_err *err)
{
    unsigned long long fp = cg_tree_fingerprint(s->dir);
    if (!force && s->attempted && fp == s->fingerprint)
        return CG_RELOAD_UNCHANGED;
    s->attempted = true;
    s->fingerprint = fp;

    struct cg_err local;
    if (err == NULL)
        err = &local;
    cg_err_clear(err);
    struct cg_policy_set *set = NULL;
    if (cg_policy_set_load_dir(s->dir, &set, err) != CG_OK) {
        char msg[sizeof(s->last_error)];
        cg_err_format(err, msg, sizeof(msg));
        pthread_mutex_lock(&s->lock);
        snprintf(s->last_error, sizeof(s->last_error), "%s", msg);
        pthread_mutex_unlock(&s->lock);
        atomic_fetch_add(&s->reloads_error, 1);
        cg_log(CG_LOG_ERROR,
               cg_policy_store_ready(s) ? "policy reload failed; keeping the last good set"
                                        : "policy load failed; not ready until one succeeds",
               "dir", s->dir, "error", msg, NULL);
        return CG_RELOAD_FAILED;
    }
    size_t n = set->n;
    cg_snapshot_publish(&s->snap, set);
    atomic_store(&s->loaded, n);
    pthread_mutex_lock(&s->lock);
    s->last_error[0] = '\0';
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->reloads_ok, 1);
    struct cg_log_line l;
    cg_log_begin(&l, CG_LOG_INFO, "policies loaded");
    cg_log_str(&l, "dir", s->dir);
    cg_log_int(&l, "policies", (int64_t)n);
    cg_log_end(&l);
    return CG_RELOAD_DONE;
}

bool cg_policy_store_ready(struct cg_policy_store *s)
{
    return cg_snapshot_generation(&s->snap) != 0;
}

enum cg_status cg_policy_store_describe(struct cg_policy_store *s, struct cg_buf *out)
{
    bool ready = cg_policy_store_ready(s);
    size_t n = atomic_load(&s->loaded);
    pthread_mutex_lock(&s->lock);
    enum cg_status st;
    if (!ready)
        st = cg_buf_appendf(out, "policies: not loaded: %s\n", s->last_error);
    else if (s->last_error[0] != '\0')
        st = cg_buf_appendf(out, "policies: %zu loaded from %s; last reload failed: %s\n", n,
                            s->dir, s->last_error);
    else
        st = cg_buf_appendf(out, "policies: %zu loaded from %s\n", n, s->dir);
    pthread_mutex_unlock(&s->lock);
    return st;
}
