/* The drain requester: once per pod, forgetting by age and count, a full queue, a failing
 * send (counted, logged, asked again later), stop with requests queued and a send in
 * progress, and the time format. send() is a fake that records its calls and can be held. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "kube/drainreq.h"
#include "test_support.h"

#define S(lit) CG_STR_LIT(lit)

struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    bool hold;    /* send waits until hold is cleared */
    bool failing; /* send fails */
    char last[3][300];
};

static enum cg_status fake_send(void *ud, const char *ns, const char *name, const char *time_,
                                struct cg_err *err)
{
    struct fake *f = ud;
    enum cg_status st = CG_OK;
    pthread_mutex_lock(&f->mu);
    f->calls++;
    snprintf(f->last[0], sizeof(f->last[0]), "%s", ns);
    snprintf(f->last[1], sizeof(f->last[1]), "%s", name);
    snprintf(f->last[2], sizeof(f->last[2]), "%s", time_);
    pthread_cond_broadcast(&f->cv);
    while (f->hold)
        pthread_cond_wait(&f->cv, &f->mu);
    if (f->failing)
        st = cg_err_set(err, CG_EIO, "apiserver said 500");
    pthread_mutex_unlock(&f->mu);
    return st;
}

static void fake_wait_calls(struct fake *f, int n)
{
    pthread_mutex_lock(&f->mu);
    while (f->calls < n)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

static void fake_set(struct fake *f, bool *field, bool v)
{
    pthread_mutex_lock(&f->mu);
    *field = v;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static int setup(void **state)
{
    struct fake *f = calloc(1, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    /* The failure lines go nowhere: the test counts, it does not read logs. */
    cg_log_setup(CG_LOG_ERROR, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fake *f = *state;
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

static struct cg_drainreq *start(struct fake *f, size_t queue_cap)
{
    struct cg_drainreq_config cfg = {.send = fake_send, .ud = f, .queue_cap = queue_cap};
    struct cg_drainreq *dr = NULL;
    struct cg_err err;
    assert_int_equal(cg_drainreq_create(&cfg, &dr, &err), CG_OK);
    assert_non_null(dr);
    return dr;
}

static void test_format_time(void **state)
{
    char t[CG_DRAINREQ_TIME_MAX];
    cg_drainreq_format_time(1795682500, t);
    assert_string_equal(t, "2026-11-26T08:41:40Z");
    cg_drainreq_format_time(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00Z");
}

static void test_create_errors(void **state)
{
    struct cg_drainreq *dr = (struct cg_drainreq *)1;
    struct cg_err err;
    struct cg_drainreq_config cfg = {0};
    assert_int_equal(cg_drainreq_create(NULL, &dr, &err), CG_EINVAL);
    assert_null(dr);
    assert_int_equal(cg_drainreq_create(&cfg, &dr, &err), CG_EINVAL);
    assert_non_null(strstr(err.msg, "no send function"));
    cg_drainreq_destroy(NULL);
}

static void test_once_per_pod(void **state)
{
    struct fake *f = *state;
    struct cg_drainreq *dr = start(f, 0);
    struct cg_drainreq_stats st;
    assert_true(cg_drainreq_request(dr, S("ns"), S("p1"), 1795682500));
    assert_false(cg_drainreq_request(dr, S("ns"), S("p1"), 1795682501)); /* queued */
    cg_drainreq_flush(dr);
    assert_false(cg_drainreq_request(dr, S("ns"), S("p1"), 1795682502)); /* sent */
    /* Another pod, and the same name in another namespace, are other pods. */
    assert_true(cg_drainreq_request(dr, S("ns"), S("p2"), 1795682503));
    assert_true(cg_drainreq_request(dr, S("ns2"), S("p1"), 1795682504));
    cg_drainreq_flush(dr);
    assert_int_equal(f->calls, 3);
    assert_string_equal(f->last[0], "ns2");
    assert_string_equal(f->last[1], "p1");
    assert_string_equal(f->last[2], "2026-11-26T08:41:44Z");
    /* Remembered for 600 s: then it may be asked again. */
    assert_false(cg_drainreq_request(dr, S("ns"), S("p1"), 1795682500 + 599));
    assert_true(cg_drainreq_request(dr, S("ns"), S("p1"), 1795682500 + 600));
    cg_drainreq_flush(dr);
    cg_drainreq_stats(dr, &st);
    assert_int_equal(st.queued, 4);
    assert_int_equal(st.sent, 4);
    assert_int_equal(st.duplicates, 3);
    assert_int_equal(st.failed, 0);
    cg_drainreq_destroy(dr);
}

static void test_invalid_names(void **state)
{
    struct fake *f = *state;
    struct cg_drainreq *dr = start(f, 0);
    struct cg_drainreq_stats st;
    char longer[300];
    memset(longer, 'x', sizeof(longer));
    assert_false(cg_drainreq_request(dr, CG_STR_NULL, S("p"), 1));
    assert_false(cg_drainreq_request(dr, S("ns"), CG_STR_NULL, 1));
    assert_false(cg_drainreq_request(dr, (struct cg_str){longer, 64}, S("p"), 1));
    assert_false(cg_drainreq_request(dr, S("ns"), (struct cg_str){longer, 254}, 1));
    assert_false(cg_drainreq_request(dr, S("a/b"), S("p"), 1));
    /* The longest names fit. */
    assert_true(
        cg_drainreq_request(dr, (struct cg_str){longer, 63}, (struct cg_str){longer, 253}, 1));
    cg_drainreq_flush(dr);
    cg_drainreq_stats(dr, &st);
    assert_int_equal(st.invalid, 5);
    assert_int_equal(st.sent, 1);
    assert_int_equal(strlen(f->last[1]), 253);
    cg_drainreq_destroy(dr);
}

static void test_queue_full(void **state)
{
    struct fake *f = *state;
    struct cg_drainreq *dr = start(f, 2);
    struct cg_drainreq_stats st;
    f->hold = true;
    assert_true(cg_drainreq_request(dr, S("ns"), S("p0"), 1));
    fake_wait_calls(f, 1); /* p0 is in send, the queue is empty */
    assert_true(cg_drainreq_request(dr, S("ns"), S("p1"), 1));
    assert_true(cg_drainreq_request(dr, S("ns"), S("p2"), 1));
    assert_false(cg_drainreq_request(dr, S("ns"), S("p3"), 1));
    assert_false(cg_drainreq_request(dr, S("ns"), S("p4"), 1));
    fake_set(f, &f->hold, false);
    cg_drainreq_flush(dr);
    /* A dropped pod was not remembered: asked again, it goes. */
    assert_true(cg_drainreq_request(dr, S("ns"), S("p3"), 2));
    cg_drainreq_flush(dr);
    cg_drainreq_stats(dr, &st);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.sent, 4);
    assert_int_equal(f->calls, 4);
    cg_drainreq_destroy(dr);
}

static void test_send_failure(void **state)
{
    struct fake *f = *state;
    struct cg_drainreq *dr = start(f, 0);
    struct cg_drainreq_stats st;
    f->failing = true;
    assert_true(cg_drainreq_request(dr, S("ns"), S("p1"), 1));
    cg_drainreq_flush(dr);
    cg_drainreq_stats(dr, &st);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.sent, 0);
    /* Forgotten on failure: the next denied delete asks again, and this time it works. */
    fake_set(f, &f->failing, false);
    assert_true(cg_drainreq_request(dr, S("ns"), S("p1"), 2));
    cg_drainreq_flush(dr);
    assert_false(cg_drainreq_request(dr, S("ns"), S("p1"), 3));
    cg_drainreq_stats(dr, &st);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.sent, 1);
    assert_int_equal(f->calls, 2);
    cg_drainreq_destroy(dr);
}

static void test_remember_max(void **state)
{
    struct fake *f = *state;
    struct cg_drainreq_config cfg = {.send = fake_send, .ud = f, .remember_max = 3};
    struct cg_drainreq *dr = NULL;
    struct cg_err err;
    assert_int_equal(cg_drainreq_create(&cfg, &dr, &err), CG_OK);
    assert_true(cg_drainreq_request(dr, S("ns"), S("p1"), 1));
    assert_true(cg_drainreq_request(dr, S("ns"), S("p2"), 1));
    assert_true(cg_drainreq_request(dr, S("ns"), S("p3"), 1));
    assert_true(cg_drainreq_request(dr, S("ns"), S("p4"), 1)); /* p1 forgotten */
    assert_false(cg_drainreq_request(dr, S("ns"), S("p4"), 1));
    assert_true(cg_drainreq_request(dr, S("ns"), S("p1"), 1));
    /* A clock that steps back does not make an entry live longer than the newest. */
    assert_true(cg_drainreq_request(dr, S("ns"), S("p9"), 0));
    cg_drainreq_flush(dr);
    cg_drainreq_destroy(dr);
}

static void *open_later(void *arg)
{
    struct fake *f = arg;
    usleep(50 * 1000);
    fake_set(f, &f->hold, false);
    return NULL;
}

static void test_stop(void **state)
{
    struct fake *f = *state;
    struct cg_drainreq *dr = start(f, 8);
    struct cg_drainreq_stats st;
    pthread_t t;
    f->hold = true;
    assert_true(cg_drainreq_request(dr, S("ns"), S("p0"), 1));
    fake_wait_calls(f, 1);
    assert_true(cg_drainreq_request(dr, S("ns"), S("p1"), 1));
    assert_true(cg_drainreq_request(dr, S("ns"), S("p2"), 1));
    /* stop waits for the send in progress only, then discards the rest. */
    assert_int_equal(pthread_create(&t, NULL, open_later, f), 0);
    cg_drainreq_stop(dr);
    pthread_join(t, NULL);
    cg_drainreq_stats(dr, &st);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.discarded, 2);
    assert_int_equal(f->calls, 1);
    /* Stopped: nothing is accepted, flush returns at once, stop again is harmless. */
    assert_false(cg_drainreq_request(dr, S("ns"), S("p5"), 1));
    cg_drainreq_flush(dr);
    cg_drainreq_stop(dr);
    cg_drainreq_destroy(dr);
}

/* Many threads asking for overlapping pods: each pod is sent exactly once. */
struct asker {
    struct cg_drainreq *dr;
    int accepted;
};

static void *ask_many(void *arg)
{
    struct asker *a = arg;
    char name[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        if (cg_drainreq_request(a->dr, S("ns"), cg_str_from(name), 5))
            a->accepted++;
    }
    return NULL;
}

static void test_concurrent_once(void **state)
{
    struct fake *f = *state;
    struct cg_drainreq *dr = start(f, 4096);
    pthread_t t[8];
    struct asker a[8];
    int accepted = 0;
    for (int i = 0; i < 8; i++) {
        a[i] = (struct asker){.dr = dr};
        assert_int_equal(pthread_create(&t[i], NULL, ask_many, &a[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        accepted += a[i].accepted;
    }
    cg_drainreq_flush(dr);
    assert_int_equal(accepted, 200);
    assert_int_equal(f->calls, 200);
    cg_drainreq_destroy(dr); /* with pods remembered */
}

/* destroy with requests still queued and the worker holding one. */
static void test_destroy_busy(void **state)
{
    struct fake *f = *state;
    struct cg_drainreq *dr = start(f, 8);
    pthread_t t;
    f->hold = true;
    assert_true(cg_drainreq_request(dr, S("ns"), S("p0"), 1));
    fake_wait_calls(f, 1);
    assert_true(cg_drainreq_request(dr, S("ns"), S("p1"), 1));
    assert_int_equal(pthread_create(&t, NULL, open_later, f), 0);
    cg_drainreq_destroy(dr);
    pthread_join(t, NULL);
    assert_int_equal(f->calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test_setup_teardown(test_once_per_pod, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remember_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_busy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
