/* SPDX-License-Identifier: ISC */
/* Unit tests for src/core/worker.c: threads, completions on the loop, cancel and shutdown. */
#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/worker.h"

static struct event_base *base;
static pthread_t loop_thread;

static void setup(void)
{
    ck_assert_int_eq(evthread_use_pthreads(), 0);
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    loop_thread = pthread_self();
}

static void teardown(void)
{
    event_base_free(base);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until *counter reaches want (or 10 s). */
static void run_until(const atomic_int *counter, int want)
{
    struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {0, 10000};
    event_add(t, &tv);
    double end = now_s() + 10;
    while (atomic_load(counter) < want && now_s() < end)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    ck_assert_int_ge(atomic_load(counter), want);
}

static void run_for(double seconds)
{
    atomic_int never = 0;
    struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {0, 10000};
    event_add(t, &tv);
    double end = now_s() + seconds;
    while (now_s() < end && atomic_load(&never) == 0)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
}

struct job {
    int id;
    atomic_bool worked;
    bool worked_off_loop;
    bool done;
    bool freed;
    atomic_int *order_pos;
    int work_order;
    int done_order;
    atomic_bool *gate; /* work waits until it is set, when non-NULL */
    atomic_bool started;
    struct st_worker_job *handle; /* for a done_cb that cancels another job */
};

static atomic_int done_count, freed_count, order;
static bool in_submit;

static void work(void *p)
{
    struct job *j = p;
    atomic_store(&j->started, true);
    while (j->gate != NULL && !atomic_load(j->gate))
        usleep(1000);
    j->worked_off_loop = !pthread_equal(pthread_self(), loop_thread);
    j->work_order = atomic_fetch_add(&order, 1);
    atomic_store(&j->worked, true);
}

static void done(void *p)
{
    struct job *j = p;
    ck_assert(!in_submit);
    ck_assert(pthread_equal(pthread_self(), loop_thread));
    ck_assert(atomic_load(&j->worked));
    ck_assert(!j->done);
    j->done = true;
    j->done_order = atomic_fetch_add(&done_count, 1);
}

static void freed(void *p)
{
    struct job *j = p;
    ck_assert(pthread_equal(pthread_self(), loop_thread));
    ck_assert(!j->freed);
    j->freed = true;
    atomic_fetch_add(&freed_count, 1);
}

static void reset_counters(void)
{
    atomic_store(&done_count, 0);
    atomic_store(&freed_count, 0);
    atomic_store(&order, 0);
}

START_TEST(test_work_off_loop_done_on_loop)
{
    reset_counters();
    struct st_worker_pool *pool = st_worker_pool_new(base, 4);
    struct job jobs[32] = {0};
    for (int i = 0; i < 32; i++) {
        jobs[i].id = i;
        in_submit = true;
        ck_assert_ptr_nonnull(st_worker_submit(pool, work, done, &jobs[i]));
        in_submit = false;
    }
    /* Nothing is delivered without the loop running. */
    usleep(50000);
    for (int i = 0; i < 32; i++)
        ck_assert(!jobs[i].done);
    run_until(&done_count, 32);
    for (int i = 0; i < 32; i++) {
        ck_assert(jobs[i].done);
        ck_assert(jobs[i].worked_off_loop);
    }
    st_worker_pool_free(&pool);
    ck_assert_ptr_null(pool);
}
END_TEST

START_TEST(test_one_thread_keeps_order)
{
    reset_counters();
    struct st_worker_pool *pool = st_worker_pool_new(base, 1);
    struct job jobs[10] = {0};
    for (int i = 0; i < 10; i++)
        st_worker_submit(pool, work, done, &jobs[i]);
    run_until(&done_count, 10);
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(jobs[i].work_order, i);
        ck_assert_int_eq(jobs[i].done_order, i);
    }
    st_worker_pool_free(&pool);
}
END_TEST

START_TEST(test_cancel_queued)
{
    reset_counters();
    struct st_worker_pool *pool = st_worker_pool_new(base, 1);
    atomic_bool gate = false;
    struct job blocker = {.gate = &gate}, queued = {0}, plain = {0};
    st_worker_submit(pool, work, done, &blocker);
    struct st_worker_job *h = st_worker_submit(pool, work, done, &queued);
    struct st_worker_job *h2 = st_worker_submit(pool, work, done, &plain);
    while (!atomic_load(&blocker.started))
        usleep(1000);
    /* Not started: freed inside the call, never run. */
    st_worker_cancel_free(h, freed);
    ck_assert(queued.freed);
    st_worker_cancel(h2);
    atomic_store(&gate, true);
    run_until(&done_count, 1);
    run_for(0.1);
    ck_assert(blocker.done);
    ck_assert(!atomic_load(&queued.worked));
    ck_assert(!queued.done);
    ck_assert(!atomic_load(&plain.worked));
    ck_assert(!plain.done);
    ck_assert_int_eq(atomic_load(&done_count), 1);
    st_worker_pool_free(&pool);
}
END_TEST

START_TEST(test_cancel_running)
{
    reset_counters();
    struct st_worker_pool *pool = st_worker_pool_new(base, 1);
    atomic_bool gate = false;
    struct job running = {.gate = &gate};
    struct st_worker_job *h = st_worker_submit(pool, work, done, &running);
    while (!atomic_load(&running.started))
        usleep(1000);
    st_worker_cancel_free(h, freed);
    /* The work still holds arg: it is released only once the work returns. */
    ck_assert(!running.freed);
    atomic_store(&gate, true);
    run_until(&freed_count, 1);
    ck_assert(running.freed);
    ck_assert(atomic_load(&running.worked));
    ck_assert(!running.done);
    st_worker_pool_free(&pool);
}
END_TEST

START_TEST(test_cancel_finished_undelivered)
{
    reset_counters();
    struct st_worker_pool *pool = st_worker_pool_new(base, 1);
    struct job j = {0};
    struct st_worker_job *h = st_worker_submit(pool, work, done, &j);
    while (!atomic_load(&j.worked))
        usleep(1000);
    usleep(10000);
    st_worker_cancel_free(h, freed);
    ck_assert(j.freed);
    run_for(0.1);
    ck_assert(!j.done);
    st_worker_pool_free(&pool);
}
END_TEST

/* A done_cb may cancel another job whose completion is waiting in the same batch. */
static struct job *victim;
static void done_then_cancel(void *p)
{
    done(p);
    if (victim != NULL) {
        st_worker_cancel_free(victim->handle, freed);
        victim = NULL;
    }
}

START_TEST(test_cancel_from_done_cb)
{
    reset_counters();
    struct st_worker_pool *pool = st_worker_pool_new(base, 1);
    struct job a = {0}, b = {0};
    st_worker_submit(pool, work, done_then_cancel, &a);
    b.handle = st_worker_submit(pool, work, done, &b);
    victim = &b;
    while (!atomic_load(&b.worked))
        usleep(1000);
    usleep(10000);
    run_until(&done_count, 1);
    run_for(0.1);
    ck_assert(a.done);
    ck_assert(!b.done);
    ck_assert(b.freed);
    st_worker_pool_free(&pool);
}
END_TEST

START_TEST(test_free_drops_queued_and_waits_running)
{
    reset_counters();
    struct st_worker_pool *pool = st_worker_pool_new(base, 1);
    atomic_bool gate = false;
    struct job running = {.gate = &gate}, queued = {0}, cancelled = {.gate = &gate};
    struct st_worker_job *h = st_worker_submit(pool, work, done, &cancelled);
    st_worker_submit(pool, work, done, &running);
    st_worker_submit(pool, work, done, &queued);
    while (!atomic_load(&cancelled.started))
        usleep(1000);
    st_worker_cancel_free(h, freed);
    atomic_store(&gate, true);
    /* Joins: the cancelled running job gets its free_fn, the rest is dropped undelivered. */
    st_worker_pool_free(&pool);
    ck_assert(cancelled.freed);
    ck_assert(!running.done);
    ck_assert(!queued.done);
    ck_assert_int_eq(atomic_load(&done_count), 0);
}
END_TEST

static Suite *worker_suite(void)
{
    Suite *s = suite_create("worker");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_work_off_loop_done_on_loop);
    tcase_add_test(tc, test_one_thread_keeps_order);
    tcase_add_test(tc, test_cancel_queued);
    tcase_add_test(tc, test_cancel_running);
    tcase_add_test(tc, test_cancel_finished_undelivered);
    tcase_add_test(tc, test_cancel_from_done_cb);
    tcase_add_test(tc, test_free_drops_queued_and_waits_running);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(worker_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
