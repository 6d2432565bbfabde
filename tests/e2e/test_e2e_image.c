/* The container image of scripts/image: built from this checkout, started with podman with
 * development certificates and the shipped policies mounted (read-only root, its own user),
 * it answers /healthz with 200 and an AdmissionReview with a decision, runs as 65532, holds
 * no shell, and stays under 40 MiB (its size is printed).
 *
 * Skipped, saying why, where podman is missing or cannot run containers. Containers in a
 * sandbox often cannot raise resource limits or use crun on a cgroup v1/v2 hybrid: the test
 * tries podman's defaults first, then runc with limits below the current ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_support.h"

#define TAG "cellgate:e2e-test"
#define NAME "cellgate-e2e-image"
#define SIZE_MAX_BYTES (40ll * 1024 * 1024)

static char run_opts[256]; /* what makes `podman run` work here */
static char dir[256];      /* certificates and policies to mount */
static int port, metrics_port;
static char skip_why[9000]; /* why there is no container; each test skips with it */

/* Runs a shell command; its exit status, and its output (stdout and stderr) in out. */
static int sh(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char scratch[256];
    if (out == NULL) {
        out = scratch;
        outlen = sizeof(scratch);
    }
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    while (fread(scratch, 1, sizeof(scratch), p) > 0)
        ;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int free_port(void)
{
    /* a port the kernel hands out, released again: good enough for one test */
    char out[64];
    if (sh(out, sizeof(out),
           "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); "
           "print(s.getsockname()[1])'") != 0)
        return 18000 + (int)(getpid() % 1000);
    return atoi(out);
}

static int group_setup(void **state)
{
    (void)state;
    char out[8192];
    if (sh(out, sizeof(out), "command -v podman") != 0) {
        snprintf(skip_why, sizeof(skip_why),
                 "podman is not installed (Debian: apt-get install podman); the image test "
                 "needs it");
        return 0;
    }
    /* Build the image from this checkout (its own build directory). */
    if (sh(out, sizeof(out), "CELLGATE_BUILD_DIR=%s/image-build %s/scripts/image --tag %s",
           CG_BINARY_DIR, CG_SOURCE_DIR, TAG) != 0) {
        fprintf(stderr, "scripts/image failed:\n%s\n", out);
        return -1;
    }
    fprintf(stderr, "%s", out);
    /* Find options under which podman can run a container here. */
    static const char *const tries[] = {
        "",
        "--ulimit nofile=4096:4096 --ulimit nproc=4096:4096",
        "--runtime runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096",
    };
    char why[8192] = "";
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        const char *runtime = strstr(tries[i], "--runtime ") ? "--runtime runc" : "";
        const char *limits = tries[i] + (*runtime ? strlen(runtime) + 1 : 0);
        if (*runtime && sh(NULL, 0, "command -v runc") != 0)
            continue;
        if (sh(out, sizeof(out), "podman %s run --rm %s --entrypoint /usr/bin/cellgate %s version",
               runtime, limits, TAG) == 0 &&
            strstr(out, "cellgate ") != NULL) {
            snprintf(run_opts, sizeof(run_opts), "%s run %s", runtime, limits);
            break;
        }
        snprintf(why + strlen(why), sizeof(why) - strlen(why), "  podman %s run %s: %.300s\n",
                 runtime, limits, out);
    }
    if (run_opts[0] == '\0') {
        snprintf(skip_why, sizeof(skip_why),
                 "podman cannot run containers on this machine (image %s was built):\n%s", TAG,
                 why);
        return 0;
    }
    /* Certificates owned by the image's user, the key 0600, and the shipped policies. */
    snprintf(dir, sizeof(dir), "%s/e2e-image", CG_BINARY_DIR);
    if (sh(out, sizeof(out),
           "rm -rf %s && mkdir -p %s && %s/certs/gen-dev-certs --out %s/certs >/dev/null && "
           "cp -r %s/policies %s/policies && chown -R 65532:65532 %s/certs && "
           "chmod 600 %s/certs/tls.key",
           dir, dir, CG_SOURCE_DIR, dir, CG_SOURCE_DIR, dir, dir, dir) != 0) {
        fprintf(stderr, "cannot prepare %s:\n%s\n", dir, out);
        return -1;
    }
    port = free_port();
    metrics_port = free_port();
    sh(NULL, 0, "podman rm -f %s", NAME);
    if (sh(out, sizeof(out),
           "podman %s -d --name %s --read-only --network host -v %s/certs:/certs:ro "
           "-v %s/policies:/policies:ro %s --listen 127.0.0.1:%d --metrics-listen 127.0.0.1:%d "
           "--cert /certs/tls.crt --key /certs/tls.key --policies /policies",
           run_opts, NAME, dir, dir, TAG, port, metrics_port) != 0) {
        fprintf(stderr, "podman run failed:\n%s\n", out);
        return -1;
    }
    for (int i = 0; i < 100; i++) {
        if (sh(NULL, 0, "curl -sf --cacert %s/certs/ca.crt https://127.0.0.1:%d/readyz", dir,
               port) == 0)
            return 0;
        usleep(100 * 1000);
    }
    sh(out, sizeof(out), "podman logs %s", NAME);
    fprintf(stderr, "the webhook in the container did not become ready:\n%s\n", out);
    return -1;
}

static int group_teardown(void **state)
{
    (void)state;
    if (run_opts[0] != '\0')
        sh(NULL, 0, "podman rm -f %s", NAME);
    return 0;
}

#define NEED_CONTAINER()                                                                           \
    do {                                                                                           \
        if (run_opts[0] == '\0')                                                                   \
            CG_TEST_SKIP(skip_why);                                                                \
    } while (0)

static void healthz_and_review(void **state)
{
    (void)state;
    NEED_CONTAINER();
    char out[8192];
    assert_int_equal(sh(out, sizeof(out),
                        "curl -s -o /dev/null -w '%%{http_code}' --cacert %s/certs/ca.crt "
                        "https://127.0.0.1:%d/healthz",
                        dir, port),
                     0);
    assert_string_equal(out, "200");
    assert_int_equal(sh(out, sizeof(out),
                        "curl -s --cacert %s/certs/ca.crt -H 'Content-Type: application/json' "
                        "--data-binary @%s/tests/golden/cases/payments-recreate-denied/review.json "
                        "https://127.0.0.1:%d/validate",
                        dir, CG_SOURCE_DIR, port),
                     0);
    if (strstr(out, "\"kind\":\"AdmissionReview\"") == NULL ||
        strstr(out, "\"allowed\":false") == NULL || strstr(out, "rule gray.strategy") == NULL)
        fail_msg("unexpected answer: %s", out);
    assert_int_equal(sh(out, sizeof(out), "curl -s http://127.0.0.1:%d/metrics", metrics_port), 0);
    assert_non_null(strstr(out, "cellgate_admission_reviews_total{path=\"/validate\""));
}

static void runs_as_nonroot_without_shell(void **state)
{
    (void)state;
    NEED_CONTAINER();
    char out[8192];
    assert_int_equal(
        sh(out, sizeof(out), "podman image inspect --format '{{.Config.User}}' %s", TAG), 0);
    assert_string_equal(out, "65532:65532\n");
    /* the process itself, seen from the host */
    assert_int_equal(sh(out, sizeof(out),
                        "grep -E '^(Uid|Gid):' /proc/$(podman inspect --format "
                        "'{{.State.Pid}}' %s)/status",
                        NAME),
                     0);
    if (strstr(out, "Uid:\t65532\t65532\t65532\t65532") == NULL)
        fail_msg("the webhook does not run as 65532:\n%s", out);
    /* no shell, no package manager */
    int rc = sh(out, sizeof(out), "podman %s --rm --entrypoint /bin/sh %s -c true", run_opts, TAG);
    if (rc == 0)
        fail_msg("the image has a shell");
    rc = sh(out, sizeof(out), "podman %s --rm --entrypoint /usr/bin/apt-get %s --version", run_opts,
            TAG);
    if (rc == 0)
        fail_msg("the image has apt-get");
}

static void size(void **state)
{
    (void)state;
    NEED_CONTAINER();
    char out[256];
    assert_int_equal(sh(out, sizeof(out), "podman image inspect --format '{{.Size}}' %s", TAG), 0);
    long long bytes = atoll(out);
    fprintf(stderr, "image %s: %lld bytes (%.1f MiB)\n", TAG, bytes,
            (double)bytes / (1024.0 * 1024.0));
    assert_true(bytes > 0);
    if (bytes > SIZE_MAX_BYTES)
        fail_msg("the image is %lld bytes, over 40 MiB", bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(healthz_and_review),
        cmocka_unit_test(runs_as_nonroot_without_shell),
        cmocka_unit_test(size),
    };
    return cg_test_run("e2e image", tests, sizeof(tests) / sizeof(tests[0]), group_setup,
                       group_teardown);
}
