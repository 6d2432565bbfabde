#include "test_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <jansson.h>

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
