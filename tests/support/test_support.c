#include "test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

#define NODE_DIR CG_SOURCE_DIR "/tests/jsonpatch-node"
#define INSTALL_HINT "npm --prefix " NODE_DIR " ci"

json_t *cg_test_node_apply(const json_t *doc, const json_t *patch)
{
    char in_path[] = "/tmp/cg-jsonpatch-node-XXXXXX";
    int fd = mkstemp(in_path);
    assert_true(fd >= 0);
    json_t *input = json_pack("{s:O,s:O}", "doc", (json_t *)doc, "patch", (json_t *)patch);
    assert_non_null(input);
    char *text = json_dumps(input, JSON_COMPACT);
    json_decref(input);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    json_malloc_t jmalloc;
    json_free_t jfree;
    json_get_alloc_funcs(&jmalloc, &jfree); /* json_dumps allocates with jansson's allocator */
    jfree(text);

    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "node '%s/apply.js' < '%s'", NODE_DIR, in_path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char *out = NULL;
    size_t out_len = 0, cap = 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (out_len + n + 1 > cap) {
            cap = (out_len + n + 1) * 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        memcpy(out + out_len, chunk, n);
        out_len += n;
    }
    int status = pclose(f);
    unlink(in_path);
    json_t *result = NULL;
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        json_error_t jerr;
        result = json_loadb(out, out_len, JSON_DECODE_ANY, &jerr);
        if (result == NULL)
            fail_msg("apply.js printed something that is not JSON: %s", jerr.text);
    } else if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        fail_msg("node is not on PATH (Debian package nodejs)");
    } else if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        fail_msg("fast-json-patch is not installed: run `" INSTALL_HINT "`");
    }
    free(out);
    return result;
}

void cg_test_node_check_installed(void)
{
    struct stat st;
    if (stat(NODE_DIR "/node_modules/fast-json-patch/package.json", &st) != 0)
        fail_msg("fast-json-patch is not installed for this test: run `" INSTALL_HINT
                 "` (the test set-up step; needs the npm registry)");
}

static size_t skipped;

void cg_test_note_skip(const char *why)
{
    skipped++;
    print_message("SKIPPED: %s\n", why);
}

int cg_test_run(const char *name, const struct CMUnitTest *tests, size_t n, int (*setup)(void **),
                int (*teardown)(void **))
{
    int failed = _cmocka_run_group_tests(name, tests, n, setup, teardown);
    if (failed == 0 && n > 0 && skipped == n)
        return CG_TEST_SKIPPED;
    return failed;
}

#define LAB_KUBECONFIG "/var/tmp/cellgate-lab/admin.kubeconfig"

/* A TCP connect to 127.0.0.1:port within timeout_ms: something listens there. */
static int port_answers(int port, int timeout_ms)
{
    int ok = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        ok = 1;
    } else {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (poll(&p, 1, timeout_ms) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
            ok = 1;
    }
    close(fd);
    return ok;
}

const char *cg_test_cluster_kubeconfig(void)
{
    const char *env = getenv("CELLGATE_E2E_KUBECONFIG");
    if (env != NULL && env[0] != '\0')
        return env;
    struct stat st;
    if (stat(LAB_KUBECONFIG, &st) == 0 && port_answers(6443, 1000))
        return LAB_KUBECONFIG;
    return NULL;
}

int cg_test_time_scale(void)
{
    const char *v = getenv("CG_TEST_TIME_SCALE");
    int n = v != NULL ? atoi(v) : 0;
    return n >= 1 && n <= 100 ? n : 1;
}
