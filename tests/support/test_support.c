#include "test_support.h"

#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <jansson.h>

extern char **environ;

char *cg_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    p[n] = '\0';
    fclose(f);
    if (len != NULL)
        *len = (size_t)n;
    return p;
}

const char *cg_test_fixture_path(const char *rel)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%s", CG_FIXTURES, rel);
    return path;
}

char *cg_test_read_fixture(const char *rel, size_t *len)
{
    return cg_test_read_file(cg_test_fixture_path(rel), len);
}

static void *cmocka_malloc(size_t n)
{
    return test_malloc(n);
}

static void cmocka_free(void *p)
{
    test_free(p);
}

void cg_test_jansson_use_cmocka(void)
{
    json_set_alloc_funcs(cmocka_malloc, cmocka_free);
}

struct cg_test_dir *cg_test_dir_create(const char *prefix)
{
    struct cg_test_dir *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    snprintf(d->dir, sizeof(d->dir), "/tmp/%s-XXXXXX", prefix);
    if (mkdtemp(d->dir) == NULL)
        fail_msg("mkdtemp %s failed", d->dir);
    return d;
}

void cg_test_dir_destroy(struct cg_test_dir *d)
{
    if (d == NULL)
        return;
    const char *argv[] = {"/bin/rm", "-rf", d->dir, NULL};
    assert_int_equal(cg_test_spawn(argv), 0);
    free(d);
}

const char *cg_test_path(struct cg_test_dir *d, const char *rel)
{
    /* Through a local: rel may be one of d's buffers. */
    char path[sizeof(d->buf[0])];
    snprintf(path, sizeof(path), "%s/%s", d->dir, rel);
    d->i = (d->i + 1) % 4;
    memcpy(d->buf[d->i], path, sizeof(path));
    return d->buf[d->i];
}

void cg_test_write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        fail_msg("cannot write %s", path);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

int cg_test_spawn(const char *const *argv)
{
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, argv[0], NULL, NULL, (char *const *)argv, environ), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
